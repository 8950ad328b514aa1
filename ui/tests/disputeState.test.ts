import { describe, expect, it } from 'vitest'
import { byUrgency, inTab, levelAbove, levelsAtOrBelow, statusTab } from '../src/lib/disputeState'
import { DISPUTE_STATUSES, type DisputeView } from '../src/types'

const view = (status: DisputeView['state']['status'], waiting: boolean, deadline: number | null, reported = 0) =>
  ({ waiting, state: { status, deadline }, dispute: { reported_at: reported } }) as unknown as DisputeView

// The screens only group what the device's rule derived (sync-protocol closed_loop.rs).
describe('dispute lists', () => {
  it('put every status the rule knows under exactly one tab', () => {
    for (const s of DISPUTE_STATUSES) expect(['pending', 'in_progress', 'escalated', 'resolved']).toContain(statusTab(s))
    expect(statusTab('escalated')).toBe('escalated')
    expect(statusTab('fed_back')).toBe('in_progress')
    expect(statusTab('closed')).toBe('resolved')
  })

  it('list 待办 by what waits for me, the earliest time limit first', () => {
    const a = view('assigned', true, 5_000)
    const b = view('accepted', true, 1_000)
    const c = view('reported', false, null, 9)
    expect([a, b, c].filter((v) => inTab(v, 'waiting'))).toEqual([a, b])
    expect([a, b, c].sort(byUrgency)).toEqual([b, a, c])
  })

  it('offer the levels the rule accepts', () => {
    expect(levelsAtOrBelow('township')).toEqual(['grid', 'community', 'township'])
    expect(levelAbove('community')).toBe('township')
    expect(levelAbove('county')).toBeNull()
  })
})
