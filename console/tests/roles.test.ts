import { describe, expect, it } from 'vitest'
import { ROLES, hasConsoleLogIn, passwordProblem, roleFits, rolesFor, type PlaceNode } from '../src/lib/roles'
import { indexNodes } from '../src/lib/structure'
import zh from '../src/i18n/zh-CN'
import en from '../src/i18n/en'

// 沂水县 → 沂城街道 (派出所) → 东关社区 → 网格一; 县公安局 at the county.
const places: PlaceNode[] = [
  { id: 'county', kind: 'county', parent: null },
  { id: 'town', kind: 'township', parent: 'county' },
  { id: 'police', kind: 'department', parent: 'town' },
  { id: 'village', kind: 'village', parent: 'town' },
  { id: 'grid', kind: 'grid', parent: 'village' },
  { id: 'bureau', kind: 'department', parent: 'county' },
]
const byId = indexNodes(places)
const at = (id: string) => rolesFor(byId.get(id), byId)

describe('which roles fit a place (Role::fits)', () => {
  it('offers the grid team at a grid, village staff at a village, township staff at a township', () => {
    expect(at('grid')).toEqual(['grid_worker', 'grid_assistant', 'grid_leader', 'grid_instructor', 'party_helper'])
    expect(at('village')).toEqual(['village_staff'])
    expect(at('town')).toEqual(['township_staff'])
    expect(at('county')).toEqual(['county_staff', 'county_admin'])
  })

  it("tells a township's department from a county's", () => {
    expect(at('police')).toEqual(['township_department_staff'])
    expect(at('bureau')).toEqual(['county_department_staff'])
    expect(roleFits('county_department_staff', byId.get('police')!, byId)).toBe(false)
    expect(roleFits('township_department_staff', byId.get('bureau')!, byId)).toBe(false)
  })

  it('offers nothing without a place, and survives a malformed structure', () => {
    expect(at('nowhere')).toEqual([])
    const loop = indexNodes<PlaceNode>([
      { id: 'a', kind: 'department', parent: 'b' },
      { id: 'b', kind: 'village', parent: 'a' },
    ])
    expect(rolesFor(loop.get('a'), loop)).toEqual(['county_department_staff'])
  })

  it('gives a console log-in to staff only', () => {
    expect(hasConsoleLogIn('grid_worker')).toBe(false)
    expect(hasConsoleLogIn('party_helper')).toBe(false)
    expect(hasConsoleLogIn('township_staff')).toBe(true)
    expect(hasConsoleLogIn('county_admin')).toBe(true)
  })

  it('names every role in both languages', () => {
    for (const msgs of [zh, en]) for (const r of ROLES) expect(msgs.roles[r], r).toBeTruthy()
  })
})

describe('console passwords (check_password)', () => {
  it('wants ten characters of two kinds', () => {
    expect(passwordProblem('abc12345')).toBe('short')
    expect(passwordProblem('abcdefghijk')).toBe('kinds')
    expect(passwordProblem('12345678901')).toBe('kinds')
    expect(passwordProblem('abcdefghi1')).toBeNull()
    expect(passwordProblem('网格通管理员密码很长了!')).toBeNull()
    // Characters, not bytes: nine Chinese characters are too short.
    expect(passwordProblem('网格通管理员密码1')).toBe('short')
  })
})
