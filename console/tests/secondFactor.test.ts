import { describe, expect, it } from 'vitest'
import type { Role, SecondFactorState, SessionView } from '../src/generated/contract'
import {
  ADMIN_SCREENS,
  SECOND_FACTOR_ROLES,
  groupSecret,
  isCode,
  nextPath,
  normaliseCode,
  routeFor,
  svgDataUrl,
} from '../src/lib/secondFactor'
import zh from '../src/i18n/zh-CN'
import en from '../src/i18n/en'

function view(role: Role, second_factor: SecondFactorState): SessionView {
  return {
    account: { id: 'a1', name: '王芳', role, node: 'n1' },
    place: '高庄镇',
    second_factor,
    csrf_token: 'csrf',
    expires_at: 0,
  }
}

describe('setting up a second factor', () => {
  it('shows the secret in groups of 4', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP')
    expect(groupSecret('abcdefghij')).toBe('ABCD EFGH IJ')
    expect(groupSecret('AB CD')).toBe('ABCD')
    expect(groupSecret('')).toBe('')
  })

  it("shows the server's QR code as an image, never as markup in the page", () => {
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    const url = svgDataUrl(svg)
    expect(url.startsWith('data:image/svg+xml;base64,')).toBe(true)
    expect(atob(url.slice('data:image/svg+xml;base64,'.length))).toBe(svg)
    // Not ASCII (a title in Chinese): its UTF-8 bytes.
    const named = '<svg><title>网格通</title></svg>'
    const bytes = Uint8Array.from(atob(svgDataUrl(named).split(',')[1]), (c) => c.charCodeAt(0))
    expect(new TextDecoder().decode(bytes)).toBe(named)
  })

  it('takes a code as people type it', () => {
    expect(normaliseCode(' 123 456 ')).toBe('123456')
    expect(normaliseCode('１２３４５６')).toBe('123456')
    expect(isCode('123456')).toBe(true)
    expect(isCode('123 456')).toBe(true)
    expect(isCode('12345')).toBe(false)
    expect(isCode('1234567')).toBe(false)
    expect(isCode('12a456')).toBe(false)
    expect(isCode('')).toBe(false)
  })

  it('offers only the roles with a console log-in', () => {
    expect(SECOND_FACTOR_ROLES).toEqual([
      'village_staff',
      'township_staff',
      'township_department_staff',
      'county_staff',
      'county_department_staff',
      'county_admin',
    ])
  })

  it('goes on only to an address of this app', () => {
    expect(nextPath('/disputes?list=waiting')).toBe('/disputes?list=waiting')
    expect(nextPath(undefined)).toBe('/')
    expect(nextPath(['/a'])).toBe('/')
    expect(nextPath('https://elsewhere.example/')).toBe('/')
    expect(nextPath('//elsewhere.example/')).toBe('/')
  })
})

describe('the router', () => {
  it('sends anyone without a session to the log-in', () => {
    expect(routeFor('disputes', '/disputes', null)).toEqual({ name: 'login', query: { next: '/disputes' } })
    expect(routeFor('second-factor', '/second-factor', null)).toEqual({ name: 'login', query: { next: '/second-factor' } })
    expect(routeFor('login', '/login', null)).toBeNull()
  })

  it('opens only the set-up while a second factor is required and missing', () => {
    const v = view('township_staff', 'setup_required')
    expect(routeFor('second-factor', '/second-factor', v)).toBeNull()
    expect(routeFor('disputes', '/disputes', v)).toEqual({ name: 'second-factor', query: { next: '/disputes' } })
    expect(routeFor('workbench', '/', v)).toEqual({ name: 'second-factor' })
    expect(routeFor('login', '/login', v)).toEqual({ name: 'second-factor' })
    // The administrator too: 管理 is refused by the server until it is set up.
    const admin = view('county_admin', 'setup_required')
    expect(routeFor('admin', '/admin', admin)).toEqual({ name: 'second-factor', query: { next: '/admin' } })
    expect(routeFor('second-factor', '/second-factor', admin)).toBeNull()
  })

  it('lets anyone logged in open the set-up, and keeps the other rules', () => {
    for (const state of ['off', 'on'] as const) {
      const staff = view('village_staff', state)
      expect(routeFor('second-factor', '/second-factor', staff)).toBeNull()
      expect(routeFor('disputes', '/disputes', staff)).toBeNull()
      expect(routeFor('login', '/login', staff)).toEqual({ name: 'workbench' })
      const admin = view('county_admin', state)
      expect(routeFor('second-factor', '/second-factor', admin)).toBeNull()
      expect(routeFor('map', '/map', admin)).toBeNull()
      expect(routeFor('admin', '/admin', admin)).toBeNull()
      expect(routeFor('disputes', '/disputes', admin)).toEqual({ name: 'admin' })
      expect(routeFor('login', '/login', admin)).toEqual({ name: 'admin' })
    }
    expect(ADMIN_SCREENS.has('second-factor')).toBe(true)
  })
})

describe('its texts', () => {
  it('words its refusals and names its roles in both languages', () => {
    for (const msgs of [zh, en]) {
      for (const code of ['second_factor_required', 'second_factor_setup_required', 'second_factor_conflict', 'wrong_second_factor'] as const) {
        expect(msgs.errors[code], code).toBeTruthy()
      }
      for (const r of SECOND_FACTOR_ROLES) expect(msgs.roles[r], r).toBeTruthy()
    }
    expect(zh.logIn.codeHint).toBe('打开验证器应用，输入6位验证码')
  })
})
