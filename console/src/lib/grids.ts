// The caller's grids (GET /v1/grids), fetched once per page load: names for the queue's rows and
// the grid filter.
import { ref } from 'vue'
import type { GridInfo } from '../generated/contract'
import { api } from '../api'

const grids = ref<GridInfo[]>([])
const byId = new Map<string, GridInfo>()
let loading: Promise<void> | null = null

export function useGrids() {
  if (!loading) {
    loading = api.grids().then(
      (list) => {
        grids.value = list
        for (const g of list) byId.set(g.id, g)
      },
      () => {
        loading = null
      },
    )
  }
  return { grids, gridName: (id: string) => byId.get(id) }
}
