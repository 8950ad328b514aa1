// The api module against the in-memory mock backend (what `npm run dev` uses), and the
// argument names it sends to Tauri's invoke.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { api, inTauri, onSyncStatus, toApiError } from '../src/api'
import { mockBackend, MOCK_ME } from '../src/mock'
import { withCheckChar } from '../src/lib/validate'
import type { SyncStatus } from '../src/types'

const rejects = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (e) {
    return e as { code: string; message: string; field?: string; record?: string }
  }
  throw new Error('expected a rejection')
}

describe('enrolment and PIN', () => {
  beforeEach(() => mockBackend.reset())

  it('starts unenrolled, enrols, sets a PIN, locks and unlocks', async () => {
    expect(inTauri()).toBe(false)
    expect(await api.identity()).toBeNull()
    expect(await api.lockState()).toEqual({ enrolled: false, locked: true, awaiting_pin: false })
    expect((await rejects(api.workbench())).code).toBe('not_enrolled')
    expect((await rejects(api.setPin('123456'))).code).toBe('not_enrolled')

    const bad = await rejects(api.enrol('https://gk.example', 'SHORT', '测试机'))
    expect(bad).toMatchObject({ code: 'forbidden' })

    const enrolled = await api.enrol('https://gk.example', 'ABCD-EFGH-JKLM', '测试机')
    expect(enrolled?.account.name).toBe(MOCK_ME.name)
    expect(enrolled?.grids[0]).toMatchObject({ township: '许家湖镇', village: '东官庄村', name: '第3网格' })
    // As in src-tauri: the database exists only once the PIN is set.
    expect(await api.lockState()).toEqual({ enrolled: false, locked: true, awaiting_pin: true })
    expect(await api.identity()).toBeNull()

    expect((await rejects(api.setPin('12345'))).code).toBe('weak_pin')
    await api.setPin('246810')
    expect((await api.identity())?.account.id).toBe(MOCK_ME.id)
    await api.lock()
    expect(await api.lockState()).toEqual({ enrolled: true, locked: true, awaiting_pin: false })
    expect(await api.identity()).toBeNull()
    expect((await rejects(api.listHouses())).code).toBe('locked')

    const wrong = await rejects(api.unlock('000000'))
    expect(wrong.code).toBe('wrong_pin')
    expect(wrong.message).toMatch(/PIN/)
    await api.unlock('246810')
    expect((await api.lockState()).locked).toBe(false)
  })
})

describe('records', () => {
  beforeEach(() => mockBackend.reset({ ready: true }))

  it('has a realistic grid on the workbench', async () => {
    const wb = await api.workbench()
    expect(wb.residents).toBeGreaterThanOrEqual(800)
    expect(wb.houses).toBeGreaterThan(200)
    expect(wb.houses_not_visited_this_month).toBeLessThan(wb.houses)
    expect(wb.open_disputes).toBe(3)
    expect(wb.open_conflicts).toBe(1)
    expect(wb.quarantined).toBe(2)
  })

  it('lists residents masked and searches by name, pinyin initials and ID tail', async () => {
    const all = await api.listResidents()
    expect(all.length).toBeGreaterThanOrEqual(800)
    for (const r of all) {
      if (r.id_number) expect(r.id_number).toMatch(/^\*{14}[0-9X]{4}$/)
      if (r.phone) expect(r.phone).toMatch(/^\d{3}\*{4}\d{4}$/)
    }
    const zs = await api.listResidents({ q: 'zs' })
    expect(zs.map((r) => r.name)).toContain('张三')
    const byName = await api.listResidents({ q: '张三' })
    expect(byName[0].name).toBe('张三')
    const tail = withCheckChar('37132319850312001').slice(-4)
    expect((await api.listResidents({ q: tail })).map((r) => r.name)).toContain('张三')
    const floating = await api.listResidents({ category: 'floating' })
    expect(floating.length).toBeGreaterThan(0)
    expect(floating.every((r) => r.categories.includes('floating'))).toBe(true)
  })

  it('reads a full record unmasked and refuses invalid edits on the right field', async () => {
    const [zs] = await api.listResidents({ q: '张三' })
    const full = await api.getResident(zs.id)
    expect(full.id_number).toBe(withCheckChar('37132319850312001'))
    expect(full.phone).toBe('13812345678')

    expect(await rejects(api.updateResident(zs.id, { phone: '1381234' }))).toMatchObject({ code: 'mobile', field: 'phone', record: zs.id })
    expect(await rejects(api.updateResident(zs.id, { birth_date: '1985-03-21' }))).toMatchObject({
      code: 'birth_date_mismatch',
      field: 'birth_date',
    })
    expect(await rejects(api.updateResident(zs.id, { id_number: '110105194912310021' }))).toMatchObject({
      code: 'id_number_check_digit',
      field: 'id_number',
    })

    await api.updateResident(zs.id, { phone: '13900001111', notes: null })
    expect((await api.getResident(zs.id)).phone).toBe('13900001111')
    expect((await api.syncStatus()).pending).toBe(4)
  })

  it('links people and houses, and archives', async () => {
    const houses = await api.listHouses()
    const [zs] = await api.listResidents({ q: '张三' })
    const before = await api.listResidents({ house: zs.house_id as string })
    await api.moveResident(zs.id, houses[10].id)
    expect((await api.listResidents({ house: houses[10].id })).map((r) => r.id)).toContain(zs.id)
    expect((await api.listResidents({ house: zs.house_id as string })).length).toBe(before.length - 1)

    await api.archiveResident(zs.id, 'moved_away', '2026-01-05')
    expect((await api.listResidents({ q: '张三' })).find((r) => r.id === zs.id)).toBeUndefined()
    expect((await api.listResidents({ q: '张三', include_archived: true })).find((r) => r.id === zs.id)?.archived).toBe(true)
  })

  it('records a visit linked to a dispute and reports the discovery delay', async () => {
    const [house] = await api.listHouses()
    const discovered = Date.now() - 17 * 60_000
    const disputeId = await api.reportDispute({
      class: 'ordinary',
      category: 'neighbour',
      parties: [{ name: '张三' }],
      place: '中心街12号',
      description: '院墙滴水',
      discovered_at: discovered,
      photos: [],
    })
    const d = await api.getDispute(disputeId)
    expect(d.report_delay_minutes).toBe(17)
    expect(d.state).toMatchObject({ status: 'reported', level: 'grid' })
    expect(d.dispute.actions[0]).toMatchObject({ kind: 'report', actor: MOCK_ME.id })

    const visitId = await api.recordVisit({
      house_id: house.id,
      clears: {
        household: { status: 'fine' },
        population: { status: 'fine' },
        hazards: { status: 'attention', note: '院墙滴水引发争执' },
        needs: { status: 'fine' },
        attitude: { status: 'fine' },
      },
      dispute_id: disputeId,
    })
    const visits = await api.listVisits(Date.now() - 60_000)
    expect(visits.find((v) => v.id === visitId)?.dispute_id).toBe(disputeId)
  })

  it('offers and takes the actions the rule allows', async () => {
    const [{ dispute: d, allowed }] = (await api.listDisputes(true)).filter((x) => x.dispute.category === 'neighbour')
    expect(allowed).toContain('escalate')
    await api.addDisputeAction(d.id, { kind: 'mediate', note: '第一次调解' })
    expect((await rejects(api.addDisputeAction(d.id, { kind: 'escalate', to_level: 'community' }))).code).toBe('required')
    await api.addDisputeAction(d.id, { kind: 'escalate', to_level: 'community', note: '需村调委会协调' })
    const up = await api.getDispute(d.id)
    expect(up.state).toMatchObject({ status: 'escalated', level: 'community' })
    expect(up.waiting).toBe(false)
    expect((await rejects(api.addDisputeAction(d.id, { kind: 'resolve' }))).code).toBe('not_holder')
    expect((await api.listDisputes(true)).find((x) => x.dispute.id === d.id)).toBeDefined()
  })

  it('makes wrong PINs wait after three, as the device does', async () => {
    mockBackend.reset({ ready: true })
    await api.lock()
    for (let i = 0; i < 3; i++) expect((await rejects(api.unlock('000000'))).code).toBe('wrong_pin')
    // Even the right PIN waits now.
    expect((await rejects(api.unlock('123456'))).code).toBe('pin_locked')
    expect((await api.lockState()).locked).toBe(true)
  })

  it('stores photos and refuses what is not an image', async () => {
    const hash = await api.addPhoto([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3], 'image/jpeg')
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect((await rejects(api.addPhoto([1, 2], 'application/pdf'))).code).toBe('bad_photo')
    const id = await api.reportDispute({
      class: 'emergency', category: 'safety', parties: [], place: '沂河路', description: '电线落地', photos: [hash],
    })
    const d = await api.getDispute(id)
    expect(d.dispute.photos).toEqual([hash])
    expect(d.state.level).toBe('county')
  })
})

describe('sync, conflicts, quarantine', () => {
  beforeEach(() => mockBackend.reset({ ready: true }))

  it('syncs, reports state changes as events, and keeps the error when offline', async () => {
    const seen: SyncStatus[] = []
    const stop = await onSyncStatus((s) => seen.push(s))
    const report = await api.syncNow()
    expect(report.acknowledged).toBe(3)
    expect(seen.some((s) => s.running)).toBe(true)
    expect(seen.at(-1)).toMatchObject({ running: false, pending: 0, last_error: null })

    mockBackend.offline = true
    await api.updateResident((await api.listResidents({ q: '张三' }))[0].id, { notes: '离线修改' })
    expect((await rejects(api.syncNow())).code).toBe('network')
    const st = await api.syncStatus()
    expect(st).toMatchObject({ pending: 1, last_error: { code: 'network' } })
    expect(st.last_success_at).not.toBeNull()
    stop()
  })

  it('settles a conflict with the chosen value', async () => {
    const [c] = await api.listConflicts()
    expect(c).toMatchObject({ collection: 'residents', field: 'phone' })
    expect(c.values).toHaveLength(2)
    await api.settleConflict(c, c.values[1].value)
    expect(await api.listConflicts()).toEqual([])
    expect((await api.getResident(c.record)).phone).toBe(c.values[1].value)
  })

  it('re-enters a corrected quarantined edit, refuses a still-wrong one, and discards', async () => {
    const [q, house] = await api.listQuarantine()
    expect(q).toMatchObject({ code: 'birth_date_mismatch', field: 'birth_date' })
    expect(await rejects(api.reenterQuarantined(q.id, q.edit.fields))).toMatchObject({ code: 'birth_date_mismatch' })
    await api.reenterQuarantined(q.id, { ...q.edit.fields, birth_date: '1979-11-30' })
    expect((await api.listQuarantine()).map((x) => x.id)).toEqual([house.id])
    await api.discardQuarantined(house.id)
    expect(await api.listQuarantine()).toEqual([])
    expect((await rejects(api.discardQuarantined(house.id))).code).toBe('not_found')
  })

  it('keeps a history of field changes', async () => {
    const [zs] = await api.listResidents({ q: '张三' })
    await api.updateResident(zs.id, { phone: '13900001111' })
    const h = await api.history('residents', zs.id)
    expect(h[0].field).toBe('created')
    expect(h.at(-1)).toMatchObject({ field: 'phone', value: '13900001111', account: MOCK_ME.id })
  })
})

describe('errors', () => {
  it('normalizes whatever a command rejects with', () => {
    expect(toApiError({ code: 'mobile', message: 'x', field: 'phone' })).toEqual({ code: 'mobile', message: 'x', field: 'phone' })
    expect(toApiError('boom')).toEqual({ code: 'unrecognised', message: 'boom' })
    expect(toApiError(new Error('bad'))).toEqual({ code: 'unrecognised', message: 'bad' })
    expect(toApiError({ code: 'x' })).toEqual({ code: 'x', message: 'x' })
  })
})

describe('inside Tauri', () => {
  it('calls invoke with the command names and camelCase argument keys', async () => {
    vi.resetModules()
    const invoke = vi.fn(async () => null)
    vi.doMock('@tauri-apps/api/core', () => ({ invoke }))
    ;(window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {}
    try {
      const { api: tauriApi, inTauri: inT } = await import('../src/api')
      expect(inT()).toBe(true)
      await tauriApi.enrol('https://s', 'CODE', '机器')
      await tauriApi.listVisits(5)
      await tauriApi.listDisputes(true)
      await tauriApi.addDisputeAction('d1', { kind: 'escalate', to_level: 'township', note: '原因' })
      await tauriApi.listResidents({ q: 'zs', include_archived: true })
      await tauriApi.updateResident('r1', { phone: null })
      await tauriApi.addPhoto([1, 2], 'image/png')
      await tauriApi.reenterQuarantined(7, { a: 1 })
      expect(invoke.mock.calls).toEqual([
        ['enrol', { server: 'https://s', code: 'CODE', deviceName: '机器' }],
        ['list_visits', { sinceMs: 5 }],
        ['list_disputes', { openOnly: true }],
        ['add_dispute_action', { dispute: 'd1', action: { kind: 'escalate', to_level: 'township', note: '原因' } }],
        ['list_residents', { query: { q: 'zs', include_archived: true } }],
        ['update_resident', { id: 'r1', fields: { phone: null } }],
        ['add_photo', { bytes: [1, 2], mime: 'image/png' }],
        ['reenter_quarantined', { id: 7, fields: { a: 1 } }],
      ])
      invoke.mockRejectedValueOnce({ code: 'wrong_pin', message: 'PIN码不正确' } as never)
      expect(await rejects(tauriApi.unlock('000000'))).toEqual({ code: 'wrong_pin', message: 'PIN码不正确' })
    } finally {
      delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__
      vi.doUnmock('@tauri-apps/api/core')
      vi.resetModules()
    }
  })
})
