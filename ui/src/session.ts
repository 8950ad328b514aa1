// Who is using the device and whether it is locked. The router consults this before every
// screen: not enrolled → enrolment; locked → unlock; otherwise the app.

import { reactive } from 'vue'
import { api, onLocked } from './api'
import type { Identity } from './types'

export const session = reactive({
  loaded: false,
  enrolled: false,
  locked: false,
  /** Enrolled in this run but no PIN set yet (the backend's `awaiting_pin`). */
  needsPin: false,
  identity: null as Identity | null,
})

let loading: Promise<void> | null = null

/** Reads enrolment and lock state from the backend (once; `force` to re-read). */
export function loadSession(force = false): Promise<void> {
  if (loading && !force) return loading
  loading = (async () => {
    const ls = await api.lockState()
    session.enrolled = ls.enrolled
    session.needsPin = !ls.enrolled && !!ls.awaiting_pin
    session.locked = ls.enrolled && ls.locked
    session.identity = ls.enrolled && !session.locked ? await api.identity() : null
    session.loaded = true
  })()
  loading.catch(() => {
    loading = null
  })
  return loading
}

/** Enrolment answered; the device database is created only when the PIN is set. */
export function afterEnrol(identity: Identity | null) {
  session.needsPin = true
  session.identity = identity
}

export async function afterPinSet() {
  session.needsPin = false
  session.enrolled = true
  session.locked = false
  session.identity = await api.identity()
}

export async function afterUnlock() {
  session.locked = false
  session.identity = await api.identity()
}

export async function lockNow() {
  await api.lock()
  session.locked = true
  session.identity = null
}

/** The grid the worker keeps: township · village · grid. */
export function gridLabel(): string {
  const g = session.identity?.grids[0]
  return g ? `${g.township} · ${g.village} · ${g.name}` : ''
}

// Typing into a form or scrolling a list is use, though no command runs: tell the backend's
// idle lock, at most once a minute.
let lastTouch = 0
function touched() {
  const now = Date.now()
  if (session.locked || !session.identity || now - lastTouch < 60_000) return
  lastTouch = now
  api.touch().catch(() => {})
}
if (typeof document !== 'undefined') {
  for (const ev of ['pointerdown', 'keydown', 'scroll']) {
    document.addEventListener(ev, touched, { passive: true, capture: true })
  }
}

// The backend locked itself (after being idle, or because the server revoked the device and
// it erased itself) or a command answered "locked": re-read whether it is still enrolled.
onLocked(() => {
  session.locked = true
  session.identity = null
  void loadSession(true)
})
