// The five clears (五个清) as the form holds them and as `record_visit` takes them.

import { FIVE_CLEARS, type ClearKey, type ClearStatus, type FiveClears } from '../types'

export type ClearsDraft = Record<ClearKey, { status: ClearStatus; note: string }>

export function emptyClears(): ClearsDraft {
  return Object.fromEntries(FIVE_CLEARS.map((k) => [k, { status: 'fine', note: '' }])) as ClearsDraft
}

/** A note goes with "needs attention" only; "fine" carries none. */
export function normalizeClears(raw: ClearsDraft): FiveClears {
  return Object.fromEntries(
    FIVE_CLEARS.map((k) => {
      const it = raw[k]
      const note = it.note.trim()
      return [k, it.status === 'attention' && note ? { status: 'attention', note } : { status: it.status }]
    }),
  ) as FiveClears
}
