// The caller's grids (GET /v1/grids), fetched once per session: names for the queue's rows and
// the grid filter. Forgotten at log-out (another person may log in at the same desk).
import { computed, ref } from 'vue'
import type { GridInfo } from '../generated/contract'
import { api } from '../api'

const grids = ref<GridInfo[]>([])
const byId = computed(() => new Map(grids.value.map((g) => [g.id, g])))
let loading: Promise<void> | null = null
// A list asked for before a log-out is not the next person's.
let generation = 0

export function forgetGrids() {
  generation++
  grids.value = []
  loading = null
}

export function useGrids() {
  if (!loading) {
    const mine = generation
    loading = api.grids().then(
      (list) => {
        if (mine === generation) grids.value = list
      },
      () => {
        loading = null
      },
    )
  }
  // Read through the computed map: a name shows as soon as the list arrives.
  return { grids, gridName: (id: string) => byId.value.get(id) }
}
