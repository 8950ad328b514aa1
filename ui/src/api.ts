// The one door to the device backend. Inside the Tauri webview every call is `invoke` of a
// Tauri command (field-core behind it); in a plain browser (`npm run dev`) and in Vitest the
// calls go to the in-memory mock backend (src/mock.ts), which is loaded only then, so the
// real app never contains a path to it.
//
// Argument keys of the commands themselves are camelCase (Tauri maps them to the Rust
// snake_case parameters); records inside them are snake_case JSON, as the Rust structs are.

import { invoke } from '@tauri-apps/api/core'
import type { Commands } from './generated/commands'
import type {
  ApiError,
  Collection,
  Conflict,
  FieldChanges,
  House,
  JsonValue,
  NewAction,
  NewDispute,
  NewVisit,
  Resident,
  ResidentQuery,
  SyncStatus,
  Uuid,
} from './types'

/** A backend: the real commands inside Tauri, the mock elsewhere; both typed by the commands'
 * contract, generated from the app's Rust commands (src-tauri/src/contract.rs). */
export type Invoke = <K extends keyof Commands>(cmd: K, args: Commands[K]['args']) => Promise<Commands[K]['result']>

/** True inside the Tauri webview. */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && window.__TAURI_INTERNALS__ !== undefined
}

/**
 * The mock is part of dev servers and tests only. A production build leaves it out (the
 * bundler drops the dead branch), unless built with VITE_MOCK=1 for a browser demo.
 */
const MOCK_ALLOWED = import.meta.env.DEV || import.meta.env.VITE_MOCK === '1'

const noBackend: Invoke = () =>
  Promise.reject({ code: 'unrecognised', message: 'This build runs only inside the Gridkeeper app (Tauri).' })

let backend: Promise<Invoke> | null = null

function getBackend(): Promise<Invoke> {
  if (!backend) {
    backend = inTauri()
      ? Promise.resolve<Invoke>((cmd, args) => invoke(cmd, args))
      : !MOCK_ALLOWED
        ? Promise.resolve(noBackend)
        : import('./mock').then((m) => {
          if (import.meta.env.DEV && typeof window !== 'undefined') {
            // For trying offline, errors and the like by hand in the dev console.
            ;(window as unknown as { __gkMock: unknown }).__gkMock = m.mockBackend
          }
          const run: Invoke = (cmd, args) => m.mockBackend.handle(cmd, args)
          return run
        })
  }
  return backend
}

/** Whatever a command rejected with, as `{code, message, field?, record?}`. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'code' in e) {
    const o = e as Record<string, unknown>
    // The code is one of the contract's (a newer backend's unknown one is still shown by its text).
    const err: ApiError = { code: String(o.code) as ApiError['code'], message: String(o.message ?? o.code) }
    if (typeof o.field === 'string' && o.field) err.field = o.field
    if (typeof o.record === 'string' && o.record) err.record = o.record
    return err
  }
  if (typeof e === 'string') return { code: 'unrecognised', message: e }
  if (e instanceof Error) return { code: 'unrecognised', message: e.message }
  return { code: 'unrecognised', message: String(e) }
}

export function isApiError(e: unknown): e is ApiError {
  return !!e && typeof e === 'object' && 'code' in e && 'message' in e
}

let onLockedHandler: (() => void) | null = null

/**
 * Called when any command answers that the device is locked, and when the backend says it
 * locked itself (the `locked` event: idle too long, or revoked by the server and erased).
 */
export function onLocked(handler: () => void) {
  onLockedHandler = handler
  if (inTauri()) {
    void import('@tauri-apps/api/event').then(({ listen }) => listen('locked', () => handler()))
  }
}

async function call<K extends keyof Commands>(cmd: K, args: Commands[K]['args']): Promise<Commands[K]['result']> {
  const run = await getBackend()
  try {
    return await run(cmd, args)
  } catch (e) {
    const err = toApiError(e)
    if (err.code === 'locked' && onLockedHandler) onLockedHandler()
    throw err
  }
}

export const api = {
  // ---- device, enrolment, PIN ----
  identity: () => call('identity', {}),
  lockState: () => call('lock_state', {}),
  /** A server address and code handed to the app at launch (the demo script does this). */
  enrolHint: () => call('enrol_hint', {}),
  enrol: (server: string, code: string, deviceName: string) => call('enrol', { server, code, deviceName }),
  setPin: (pin: string) => call('set_pin', { pin }),
  unlock: (pin: string) => call('unlock', { pin }),
  lock: () => call('lock', {}),
  /** The worker is using the app: the backend's idle lock waits. */
  touch: () => call('touch', {}),

  workbench: () => call('workbench', {}),

  // ---- residents 实有人口 ----
  listResidents: (query: ResidentQuery = {}) => call('list_residents', { query }),
  getResident: (id: Uuid) => call('get_resident', { id }),
  createResident: (resident: Resident) => call('create_resident', { resident }),
  updateResident: (id: Uuid, fields: FieldChanges) => call('update_resident', { id, fields: fields as JsonFields }),
  archiveResident: (id: Uuid, reason: string, on: string) => call('archive_resident', { id, reason, on }),
  moveResident: (id: Uuid, house: Uuid | null) => call('move_resident', { id, house }),

  // ---- houses 实有房屋 ----
  listHouses: () => call('list_houses', {}),
  getHouse: (id: Uuid) => call('get_house', { id }),
  createHouse: (house: House) => call('create_house', { house }),
  updateHouse: (id: Uuid, fields: FieldChanges) => call('update_house', { id, fields: fields as JsonFields }),

  // ---- visits 入户走访 ----
  recordVisit: (visit: NewVisit) => call('record_visit', { visit }),
  listVisits: (sinceMs: number) => call('list_visits', { sinceMs }),

  // ---- disputes 矛盾纠纷 ----
  reportDispute: (dispute: NewDispute) => call('report_dispute', { dispute }),
  listDisputes: (openOnly = false) => call('list_disputes', { openOnly }),
  getDispute: (id: Uuid) => call('get_dispute', { id }),
  /** An action of the closed loop, as this person at their level (the device judges it). */
  addDisputeAction: (dispute: Uuid, action: NewAction) => call('add_dispute_action', { dispute, action }),
  /** Where this person may send a dispute (villages, grids, departments), as last fetched. */
  listPlaces: () => call('list_places', {}),
  /** What others did on this person's disputes (noted after each sync), unread first. */
  listInbox: () => call('list_inbox', {}),
  markInboxRead: (dispute: Uuid) => call('mark_inbox_read', { dispute }),

  // ---- sync, conflicts, quarantine ----
  syncNow: () => call('sync_now', {}),
  syncStatus: () => call('sync_status', {}),
  listConflicts: () => call('list_conflicts', {}),
  settleConflict: (conflict: Conflict, value: unknown) =>
    call('settle_conflict', { conflict, value: value as JsonValue }),
  listQuarantine: () => call('list_quarantine', {}),
  discardQuarantined: (id: number) => call('discard_quarantined', { id }),
  reenterQuarantined: (id: number, fields: FieldChanges) =>
    call('reenter_quarantined', { id, fields: fields as JsonFields }),
  history: (collection: Collection, id: Uuid) => call('history', { collection, id }),

  /** Stores a photo on the device; answers its content hash, which goes into `photos`. */
  addPhoto: (bytes: number[], mime: string) => call('add_photo', { bytes, mime }),
  /** A photo's bytes, from the device or fetched from the county server. */
  getPhoto: (hash: string) => call('get_photo', { hash }),
}

/** Changed fields as they cross to the backend: JSON values. */
type JsonFields = { [key in string]: JsonValue }

/** Subscribes to the backend's `sync-status` event; resolves to the unsubscribe function. */
export async function onSyncStatus(handler: (s: SyncStatus) => void): Promise<() => void> {
  if (inTauri()) {
    const { listen } = await import('@tauri-apps/api/event')
    return listen<SyncStatus>('sync-status', (e) => handler(e.payload))
  }
  if (!MOCK_ALLOWED) return () => {}
  const { mockBackend } = await import('./mock')
  return mockBackend.onSyncStatus(handler)
}
