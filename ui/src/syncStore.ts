// The sync state as the backend reports it (sync_status and the `sync-status` event), shared by
// the workbench card and the sync screen.

import { reactive } from 'vue'
import { api, onSyncStatus, toApiError } from './api'
import type { ApiError, SyncReport, SyncStatus } from './types'

export const syncState = reactive({
  status: null as SyncStatus | null,
  /** A sync_now started from this screen is running. */
  busy: false,
})

let unlisten: (() => void) | null = null

export async function startSyncWatch() {
  if (!unlisten) {
    unlisten = await onSyncStatus((s) => {
      syncState.status = s
    })
  }
  await refreshSyncStatus()
}

export function stopSyncWatch() {
  unlisten?.()
  unlisten = null
}

export async function refreshSyncStatus() {
  try {
    syncState.status = await api.syncStatus()
  } catch {
    // Locked or not enrolled: nothing to show yet.
  }
}

/** Runs one sync; resolves to the report, or rejects with the ApiError after refreshing state. */
export async function syncNow(): Promise<SyncReport> {
  syncState.busy = true
  try {
    return await api.syncNow()
  } catch (e) {
    throw toApiError(e) as ApiError
  } finally {
    syncState.busy = false
    await refreshSyncStatus()
  }
}
