import { describe, expect, it } from 'vitest'
import { deriveState, levelsAbove, statusTab } from '../src/lib/disputeState'
import type { DisputeAction, Level } from '../src/types'

let n = 0
const act = (kind: string, level: Level, at: number, to?: Level): DisputeAction => ({
  id: `0190-${String(++n).padStart(4, '0')}`,
  kind,
  actor: 'a',
  level,
  at,
  to_level: (to ?? null) as DisputeAction['to_level'],
})

// Mirrors the tests of derive_state in sync-protocol/src/model/dispute.rs.
describe('dispute state', () => {
  it('does not depend on the order actions arrived in', () => {
    const a = [act('report', 'grid', 1), act('mediate', 'grid', 2), act('escalate', 'grid', 3, 'township'), act('resolve', 'township', 4)]
    const s = deriveState('coordination', a)
    expect(deriveState('coordination', [...a].reverse())).toEqual(s)
    expect(s.status).toBe('resolved')
    expect(s.resolved_level).toBe('township')
  })

  it('sends emergencies to the county and never escalates down', () => {
    expect(deriveState('emergency', [act('report', 'grid', 1), act('escalate', 'grid', 2, 'community')]).level).toBe('county')
    const s = deriveState('ordinary', [act('report', 'grid', 1), act('escalate', 'grid', 2)])
    expect(s).toMatchObject({ status: 'escalated', level: 'community' })
  })

  it('closes only a resolved dispute on evaluation, and keeps supervision', () => {
    expect(deriveState('ordinary', [act('report', 'grid', 1), act('evaluate', 'county', 2)]).status).toBe('reported')
    const s = deriveState('ordinary', [act('report', 'grid', 1), act('supervise', 'township', 2), act('resolve', 'grid', 3), act('evaluate', 'county', 4)])
    expect(s).toMatchObject({ status: 'closed', supervised: true, resolved_level: 'grid' })
  })

  it('maps statuses to the four list tabs', () => {
    expect(statusTab('reported')).toBe('pending')
    expect(statusTab('assigned')).toBe('pending')
    expect(statusTab('in_progress')).toBe('in_progress')
    expect(statusTab('escalated')).toBe('escalated')
    expect(statusTab('closed')).toBe('resolved')
    expect(levelsAbove('community')).toEqual(['township', 'county'])
    expect(levelsAbove('county')).toEqual([])
  })
})
