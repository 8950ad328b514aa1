// How the dispute screens group and label what the device's rule derived. The rule itself
// (states, who may do what, time limits) is the closed loop in
// sync-protocol/src/model/closed_loop.rs, run by the device: every dispute reaches the screens
// as a DisputeView with its state and the actions this person may take. Nothing here decides.

import type { DisputeStatus, DisputeView, Level } from '../types'
import { LEVELS } from '../types'

/** The tabs of the dispute list: what waits for me, then by status. */
export type StatusTab = 'waiting' | 'pending' | 'in_progress' | 'escalated' | 'resolved'
export const STATUS_TABS: StatusTab[] = ['waiting', 'pending', 'in_progress', 'escalated', 'resolved']

/** The status tab a dispute is listed under (besides 待办 when it waits for me). */
export function statusTab(s: DisputeStatus): Exclude<StatusTab, 'waiting'> {
  switch (s) {
    case 'reported':
    case 'accepted':
    case 'returned':
      return 'pending'
    case 'in_progress':
    case 'assigned':
    case 'fed_back':
    case 'verified':
      return 'in_progress'
    case 'escalated':
      return 'escalated'
    default:
      return 'resolved'
  }
}

export const inTab = (v: DisputeView, tab: StatusTab) => (tab === 'waiting' ? v.waiting : statusTab(v.state.status) === tab)

/** 待办 first by the earliest time limit (overdue ones first of all), the rest newest first. */
export function byUrgency(a: DisputeView, b: DisputeView): number {
  const da = a.state.deadline ?? Number.MAX_SAFE_INTEGER
  const db = b.state.deadline ?? Number.MAX_SAFE_INTEGER
  return da - db || b.dispute.reported_at - a.dispute.reported_at
}

export const isOpen = (s: DisputeStatus) => s !== 'resolved' && s !== 'evaluated' && s !== 'closed'

/** Levels a dispute held at `level` may be assigned to: that level (a department, a person)
 *  or one below it. */
export const levelsAtOrBelow = (level: Level): Level[] => LEVELS.filter((l) => LEVELS.indexOf(l) <= LEVELS.indexOf(level))

/** The level above (where an escalation goes), if any. */
export const levelAbove = (level: Level): Level | null => LEVELS[LEVELS.indexOf(level) + 1] ?? null

/** Time limits offered when assigning or supervising, in days. */
export const DUE_DAYS = [1, 3, 7, 15] as const
