// Small helpers over records shared by several screens.

import type { House } from '../types'

/** The address as people write it, like `House::address` in sync-protocol: 镇村 街 号楼 单元 门号. */
export function houseAddress(h: House): string {
  return `${h.township}${h.village}${houseShortAddress(h)}`
}

/** The address inside the grid's village: what tells two houses of one grid apart. */
export function houseShortAddress(h: House): string {
  let s = h.street ?? ''
  if (h.building) s += `${h.building}号楼`
  if (h.unit) s += `${h.unit}单元`
  s += `${h.door}号`
  return s
}

/**
 * A UUID v7 (time-ordered), as the backend uses for record keys made offline. The backend may
 * assign its own; the app sends one so a new record has a key before it is saved.
 */
export function uuidv7(now: number = Date.now()): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  let t = now
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256
    t = Math.floor(t / 256)
  }
  b[6] = (b[6] & 0x0f) | 0x70
  b[8] = (b[8] & 0x3f) | 0x80
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : '')

/** Trimmed text, or null when empty (the backend clears a field on null). */
export const textOrNull = (v: string | null | undefined) => {
  const t = (v ?? '').trim()
  return t === '' ? null : t
}
