// Where a dispute stands, derived from its actions. A port of `derive_state` in
// sync-protocol/src/model/dispute.rs: lists come without the state (only get_dispute returns
// it), and the status tabs need it for every dispute. get_dispute stays the authority on the
// detail page.

import type { Dispute, DisputeAction, DisputeState, Level } from '../types'
import { LEVELS } from '../types'

const rank = (l: Level) => LEVELS.indexOf(l)
const parseLevel = (s: string | null | undefined): Level | null =>
  s && (LEVELS as readonly string[]).includes(s) ? (s as Level) : null
const up = (l: Level): Level => (l === 'grid' ? 'community' : l === 'community' ? 'township' : 'county')

export function deriveState(cls: string, actions: DisputeAction[]): DisputeState {
  const sorted = [...actions].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const st: DisputeState = { status: 'reported', level: 'grid', resolved_level: null, supervised: false }
  for (const a of sorted) {
    const actorLevel = parseLevel(a.level) ?? 'grid'
    const to = parseLevel(a.to_level)
    switch (a.kind) {
      case 'report':
        if (cls === 'emergency') {
          st.level = 'county'
          st.status = 'escalated'
        } else {
          st.level = actorLevel
          st.status = 'reported'
        }
        break
      case 'intervene':
      case 'mediate':
        st.status = 'in_progress'
        break
      case 'escalate': {
        const target = to ?? up(st.level)
        if (rank(target) > rank(st.level)) st.level = target
        st.status = 'escalated'
        st.resolved_level = null
        break
      }
      case 'assign':
        if (to) st.level = to
        st.status = 'assigned'
        st.resolved_level = null
        break
      case 'supervise':
        st.supervised = true
        break
      case 'resolve':
        st.status = 'resolved'
        st.resolved_level = st.level
        break
      case 'evaluate':
        if (st.status === 'resolved') st.status = 'closed'
        break
    }
  }
  return st
}

export const disputeState = (d: Dispute) => deriveState(d.class, d.actions)

/** The four tabs of the dispute list. */
export type StatusTab = 'pending' | 'in_progress' | 'escalated' | 'resolved'
export const STATUS_TABS: StatusTab[] = ['pending', 'in_progress', 'escalated', 'resolved']

export function statusTab(s: DisputeState['status']): StatusTab {
  switch (s) {
    case 'reported':
    case 'assigned':
      return 'pending'
    case 'in_progress':
      return 'in_progress'
    case 'escalated':
      return 'escalated'
    default:
      return 'resolved'
  }
}

export const isOpen = (s: DisputeState['status']) => s !== 'resolved' && s !== 'closed'

/** Levels a dispute at `level` may be escalated to (never down). */
export const levelsAbove = (level: Level): Level[] => LEVELS.filter((l) => rank(l) > rank(level))
