// The router guard: enrolment → PIN → the app; locked → unlock and back to where the worker was.
import { beforeEach, describe, expect, it } from 'vitest'
import { makeRouter } from '../src/router'
import { afterEnrol, afterPinSet, afterUnlock, loadSession, lockNow, session } from '../src/session'
import { api } from '../src/api'
import { mockBackend } from '../src/mock'

describe('screens behind enrolment and the PIN', () => {
  beforeEach(() => {
    session.loaded = false
    session.needsPin = false
  })

  it('walks a new device from enrolment to the workbench, and locks', async () => {
    mockBackend.reset()
    const router = makeRouter()
    await router.push('/residents')
    expect(router.currentRoute.value.name).toBe('enrol')

    afterEnrol(await api.enrol('https://gk.example', 'ABCDEFGHJKLM', '测试机'))
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('set-pin')

    await api.setPin('123456')
    await afterPinSet()
    await router.push('/residents')
    expect(router.currentRoute.value.name).toBe('residents')
    await router.push('/enrol')
    expect(router.currentRoute.value.name).toBe('workbench')

    await lockNow()
    await router.push('/disputes')
    expect(router.currentRoute.value.name).toBe('unlock')
    expect(router.currentRoute.value.query.to).toBe('/disputes')
    await api.unlock('123456')
    await afterUnlock()
    await router.push('/disputes')
    expect(router.currentRoute.value.name).toBe('disputes')
  })

  it('starts at unlock on an enrolled, locked device', async () => {
    mockBackend.reset({ ready: true })
    await api.lock()
    await loadSession(true)
    const router = makeRouter()
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('unlock')
    expect(session.identity).toBeNull()
  })

  it('returns to set-PIN when enrolment was answered but the PIN not set', async () => {
    mockBackend.reset()
    await api.enrol('https://gk.example', 'ABCDEFGHJKLM', '测试机')
    await loadSession(true)
    const router = makeRouter()
    await router.push('/houses')
    expect(router.currentRoute.value.name).toBe('set-pin')
  })
})

describe('use the idle lock counts', () => {
  it('tells the backend of typing and tapping at most once a minute, and only while unlocked', async () => {
    mockBackend.reset()
    afterEnrol(await api.enrol('https://gk.example', 'ABCDEFGHJKLM', '测试机'))
    await api.setPin('123456')
    await afterPinSet()
    const calls: string[] = []
    const original = api.touch
    api.touch = () => {
      calls.push('touch')
      return original()
    }
    try {
      document.dispatchEvent(new KeyboardEvent('keydown', { key: '张' }))
      document.dispatchEvent(new Event('pointerdown'))
      expect(calls).toEqual(['touch'])
      await lockNow()
      document.dispatchEvent(new Event('pointerdown'))
      expect(calls).toEqual(['touch'])
    } finally {
      api.touch = original
    }
  })
})
