// The caller's grids (GET /v1/grids), fetched once per session: names for the queue's rows and
// the grid filter. Forgotten at log-out (another person may log in at the same desk).
import { computed, ref } from 'vue'
import type { GridInfo } from '../generated/contract'
import { api } from '../api'

const grids = ref<GridInfo[]>([])
const byId = computed(() => new Map(grids.value.map((g) => [g.id, g])))
let loading: Promise<void> | null = null

export function forgetGrids() {
  grids.value = []
  loading = null
}

export function useGrids() {
  if (!loading) {
    loading = api.grids().then(
      (list) => {
        grids.value = list
      },
      () => {
        loading = null
      },
    )
  }
  // Read through the computed map: a name shows as soon as the list arrives.
  return { grids, gridName: (id: string) => byId.value.get(id) }
}
