// (Long on purpose: one handler per command of the app's contract, typed by it; a second
// backend split over files would be harder to keep whole than one that reads top to bottom.)
//
// An in-memory stand-in for the device backend, for `npm run dev` in a plain browser and for
// Vitest. Never used inside Tauri (see api.ts). It answers the same commands with the same
// shapes and error codes, masks lists the same way, and refuses what the real validator
// refuses (ID numbers, mobiles, birth dates), so screens behave as they will on a device.
//
// A realistic grid: 东官庄村 第3网格, about 300 houses and 800 residents (deterministic).
// Dev console: `__gkMock.offline = true` makes sync fail as with no signal.

import type {
  ApiError,
  ErrorCode,
  JsonValue,
  Conflict,
  ActionKind,
  Dispute,
  DisputeAction,
  DisputeState,
  DisputeStatus,
  DisputeView,
  Level,
  NewAction,
  HistoryEntry,
  House,
  Identity,
  NewDispute,
  NewVisit,
  QuarantinedEdit,
  Resident,
  ResidentQuery,
  ResidentSummary,
  SyncStatus,
  Visit,
} from './types'
import type { Commands } from './generated/commands'
import { ACTION_KINDS, DISPUTE_CATEGORIES, DISPUTE_CLASSES, FIVE_CLEARS, LEVELS, POPULATION_CATEGORIES, RELATIONS } from './types'
import { checkBirthDateMatches, checkIdNumber, checkMobile, isDate, withCheckChar } from './lib/validate'
import { monthStartMs } from './lib/time'
import { uuidv7 } from './lib/records'

const GRID = { id: '0190a1b2-0000-7000-8000-000000000003', name: '第3网格', township: '许家湖镇', village: '东官庄村' }
export const MOCK_ME = { id: '0190a1b2-0000-7000-8000-00000000a001', name: '王建国' }
const ASSISTANT = { id: '0190a1b2-0000-7000-8000-00000000a002', name: '刘桂兰' }

/** The grid worker's own actions in the mock, and the state they lead to. A stand-in for the
 *  device's closed-loop rule (sync-protocol closed_loop.rs), enough for the screens in a
 *  browser and for the UI's tests: the app itself always shows what the device derived. */
const MOCK_ACTIONS = ['intervene', 'mediate', 'escalate', 'resolve'] as const
function mockView(d: Dispute): DisputeView {
  let level: Level = d.class === 'emergency' ? 'county' : 'grid'
  let status: DisputeStatus = 'reported'
  let resolved: Level | null = null
  for (const a of [...d.actions].sort((x, y) => x.at - y.at)) {
    if (a.kind === 'escalate' && a.to_level) [level, status] = [a.to_level, 'escalated']
    else if (a.kind === 'intervene' || a.kind === 'mediate') status = status === 'escalated' ? status : 'in_progress'
    else if (a.kind === 'resolve') [status, resolved] = ['resolved', level]
  }
  const open = status !== 'resolved'
  const mine = level === 'grid'
  const arrived = Math.max(...d.actions.map((a) => a.at))
  const deadline = open ? arrived + 3 * 86_400_000 : null
  const state: DisputeState = {
    status, level, accepted: mine, arrived_at: arrived, from_level: null, assignment: null, supervisions: [], supervised: false,
    resolved_level: resolved, resolved_at: null, satisfaction: null, first_intervention_at: null, deadline,
    deadline_kind: open ? (mine ? 'settle' : 'accept') : null, last_action: null, contradictions: [],
  }
  const allowed: ActionKind[] = !open ? [] : mine ? [...MOCK_ACTIONS] : ['intervene', 'mediate']
  return {
    grid: GRID.id, dispute: d, state, overdue: deadline !== null && deadline < Date.now(), waiting: open && mine, allowed, people: [],
    report_delay_minutes: Math.floor((d.reported_at - d.discovered_at) / 60000),
  }
}
/** A village (community) staff member who acts on escalated disputes. */
const COMMUNITY = { id: '0190a1b2-0000-7000-8000-00000000b001', name: '赵明' }
const DEVICE_ME = '0190a1b2-0000-7000-8000-0000000dev01'
const DEVICE_ASSISTANT = '0190a1b2-0000-7000-8000-0000000dev02'

type MockResident = Resident & { initials: string }

type Handler<K extends keyof Commands> = (a: Commands[K]['args']) => Promise<Commands[K]['result']>
type Handlers = { [K in keyof Commands]: Handler<K> }

interface State {
  /** Enrolment answered, PIN not set yet (the real backend holds the identity in memory). */
  awaitingPin: boolean
  /** The PIN-protected device database exists. */
  enrolled: boolean
  locked: boolean
  pin: string | null
  /** Wrong PINs in a row and when the last was (as field-core counts them beside the database). */
  pinFailures: number
  lastPinFailure: number
  server: string
  deviceName: string
  residents: Map<string, MockResident>
  houses: Map<string, House>
  visits: Visit[]
  disputes: Map<string, Dispute>
  conflicts: Conflict[]
  quarantine: QuarantinedEdit[]
  history: Map<string, HistoryEntry[]>
  photos: Map<string, { mime: string; size: number; bytes?: Uint8Array }>
  pending: number
  lastSuccessAt: number | null
  lastError: ApiError | null
  running: boolean
  nextQuarantineId: number
}

function fail(code: ErrorCode, message: string, field?: string, record?: string): never {
  const e: ApiError = { code, message }
  if (field) e.field = field
  if (record) e.record = record
  throw e
}

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)))

// ---- deterministic demo data ----

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SURNAMES: [string, string][] = [
  ['张', 'z'], ['王', 'w'], ['李', 'l'], ['刘', 'l'], ['陈', 'c'], ['杨', 'y'], ['赵', 'z'], ['孙', 's'],
  ['徐', 'x'], ['马', 'm'], ['朱', 'z'], ['胡', 'h'], ['高', 'g'], ['郭', 'g'], ['宋', 's'], ['于', 'y'],
]
const MALE_GIVEN: [string, string][] = [
  ['建国', 'jg'], ['明', 'm'], ['伟', 'w'], ['军', 'j'], ['强', 'q'], ['磊', 'l'], ['勇', 'y'], ['涛', 't'],
  ['志刚', 'zg'], ['海', 'h'], ['平', 'p'], ['卫东', 'wd'], ['德福', 'df'], ['守成', 'sc'], ['子豪', 'zh'], ['浩然', 'hr'],
]
const FEMALE_GIVEN: [string, string][] = [
  ['秀英', 'xy'], ['桂兰', 'gl'], ['芳', 'f'], ['丽', 'l'], ['艳', 'y'], ['娟', 'j'], ['玉凤', 'yf'], ['红梅', 'hm'],
  ['淑珍', 'sz'], ['静', 'j'], ['雪', 'x'], ['欣怡', 'xy'], ['梓涵', 'zh'], ['金花', 'jh'], ['春燕', 'cy'], ['敏', 'm'],
]
const STREETS = ['中心街', '前街', '后街', '东胡同', '西胡同', '沂河路']
const HAZARDS = ['电动车楼道充电', '燃气软管老化', '院墙有裂缝', '私拉电线']

interface Seed {
  houses: House[]
  residents: MockResident[]
}

/** A valid ID number for a demo person: region, birth date, sequence with the sex parity. */
function idNumber(birth: string, male: boolean, seq: number, region = '371323'): string {
  const sexDigit = male ? 1 + 2 * (seq % 5) : 2 * (seq % 5)
  return withCheckChar(`${region}${birth.replace(/-/g, '')}${String(seq % 100).padStart(2, '0')}${sexDigit}`)
}

function seed(): Seed {
  const r = rng(20230227)
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]
  const date = (fromYear: number, toYear: number) => {
    const y = fromYear + Math.floor(r() * (toYear - fromYear + 1))
    const m = 1 + Math.floor(r() * 12)
    const d = 1 + Math.floor(r() * 28)
    return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
  }
  const phone = () => pick(['138', '139', '150', '152', '158', '186', '187', '135']) + String(Math.floor(r() * 1e8)).padStart(8, '0')
  const houses: House[] = []
  const residents: MockResident[] = []
  let seq = 0
  const person = (p: Omit<Resident, 'id'> & { initials: string }): MockResident => {
    const id = `0190a1b2-1000-7000-8000-${String(++seq).padStart(12, '0')}`
    return { id, ...p }
  }

  // Hand-written first households, used by the README and the tests.
  const h1: House = {
    id: '0190a1b2-2000-7000-8000-000000000001', township: GRID.township, village: GRID.village,
    street: '中心街', door: '12', structure: 'brick_concrete', area: 126, use: 'residential', owner: '张三', rented: false,
  }
  const h2: House = {
    id: '0190a1b2-2000-7000-8000-000000000002', township: GRID.township, village: GRID.village,
    street: '中心街', door: '14', structure: 'brick_concrete', area: 110, use: 'residential', owner: '李四', rented: true,
    hazards: '电动车楼道充电',
  }
  houses.push(h1, h2)
  residents.push(
    person({ name: '张三', initials: 'zs', sex: 'male', birth_date: '1985-03-12', id_number: withCheckChar('37132319850312001'),
      phone: '13812345678', ethnicity: '汉族', categories: ['registered'], relation: 'head', house_id: h1.id }),
    person({ name: '王秀英', initials: 'wxy', sex: 'female', birth_date: '1987-07-01', id_number: withCheckChar('37132319870701002'),
      phone: '13912345678', ethnicity: '汉族', categories: ['registered'], relation: 'spouse', house_id: h1.id }),
    person({ name: '张小明', initials: 'zxm', sex: 'male', birth_date: '2012-09-15', id_number: withCheckChar('37132320120915003'),
      categories: ['registered', 'left_behind_children'], relation: 'child', house_id: h1.id }),
    person({ name: '李四', initials: 'ls', sex: 'male', birth_date: '1979-11-30', id_number: withCheckChar('37132319791130005'),
      phone: '15012345678', ethnicity: '汉族', categories: ['registered'], relation: 'head', house_id: h2.id }),
    person({ name: '孙桂兰', initials: 'sgl', sex: 'female', birth_date: '1946-02-08', id_number: withCheckChar('37132319460208002'),
      categories: ['registered', 'living_alone', 'low_income'], relation: 'parent', house_id: h2.id }),
    person({ name: '陈浩', initials: 'ch', sex: 'male', birth_date: '1996-05-20', id_number: withCheckChar('34222119960520001'),
      phone: '18612345678', ethnicity: '汉族', categories: ['floating'], relation: 'tenant', house_id: h2.id,
      notes: '安徽宿州人，在镇上物流园务工' }),
  )

  // The rest of the grid.
  let door = 16
  while (residents.length < 800) {
    const street = STREETS[Math.floor((houses.length * STREETS.length) / 300) % STREETS.length]
    const rented = r() < 0.12
    const h: House = {
      id: `0190a1b2-2000-7000-8000-${String(houses.length + 1).padStart(12, '0')}`,
      township: GRID.township, village: GRID.village, street, door: String(door), structure: pick(['brick_concrete', 'brick_concrete', 'brick_wood', 'reinforced_concrete']),
      area: 60 + Math.floor(r() * 160), use: r() < 0.93 ? 'residential' : pick(['commercial', 'mixed', 'vacant']), rented,
      hazards: r() < 0.08 ? pick(HAZARDS) : null,
    }
    door += 2
    if (door > 120) door = 1
    houses.push(h)
    const [sur, surI] = pick(SURNAMES)
    const headBorn = date(1945, 1992)
    const [g, gi] = pick(MALE_GIVEN)
    h.owner = sur + g
    const headOld = headBorn < '1960'
    residents.push(person({ name: sur + g, initials: surI + gi, sex: 'male', birth_date: headBorn, id_number: idNumber(headBorn, true, seq),
      phone: phone(), ethnicity: '汉族', categories: ['registered', ...(headOld && r() < 0.3 ? ['left_behind_elderly'] : []), ...(r() < 0.04 ? ['veteran'] : []), ...(r() < 0.03 ? ['disabled'] : [])],
      relation: 'head', house_id: h.id }))
    if (r() < 0.85) {
      const [s2, s2i] = pick(SURNAMES)
      const [fg, fgi] = pick(FEMALE_GIVEN)
      const born = date(Number(headBorn.slice(0, 4)) - 3, Number(headBorn.slice(0, 4)) + 4)
      residents.push(person({ name: s2 + fg, initials: s2i + fgi, sex: 'female', birth_date: born, id_number: idNumber(born, false, seq),
        phone: r() < 0.8 ? phone() : null, ethnicity: '汉族', categories: ['registered', ...(r() < 0.1 ? ['left_behind_women'] : []), ...(r() < 0.04 ? ['low_income'] : [])],
        relation: 'spouse', house_id: h.id }))
    }
    const kids = headOld ? 0 : Math.floor(r() * 3)
    for (let k = 0; k < kids; k++) {
      const male = r() < 0.5
      const [cg, cgi] = pick(male ? MALE_GIVEN : FEMALE_GIVEN)
      const born = date(Math.max(Number(headBorn.slice(0, 4)) + 22, 1990), 2022)
      residents.push(person({ name: sur + cg, initials: surI + cgi, sex: male ? 'male' : 'female', birth_date: born, id_number: idNumber(born, male, seq),
        categories: ['registered', ...(born > '2008' && r() < 0.15 ? ['left_behind_children'] : [])], relation: 'child', house_id: h.id }))
    }
    if (rented) {
      const male = r() < 0.6
      const [s3, s3i] = pick(SURNAMES)
      const [tg, tgi] = pick(male ? MALE_GIVEN : FEMALE_GIVEN)
      const born = date(1975, 2002)
      residents.push(person({ name: s3 + tg, initials: s3i + tgi, sex: male ? 'male' : 'female', birth_date: born,
        id_number: idNumber(born, male, seq, '370302'),
        phone: phone(), ethnicity: '汉族', categories: ['floating'], relation: 'tenant', house_id: h.id }))
    }
  }
  return { houses, residents }
}

function mask(id: string | null | undefined): string | null {
  if (!id) return null
  return id.length < 8 ? '*'.repeat(id.length) : '*'.repeat(id.length - 4) + id.slice(-4)
}
function maskPhone(p: string | null | undefined): string | null {
  if (!p) return null
  return p.length < 7 ? '*'.repeat(p.length) : p.slice(0, 3) + '*'.repeat(p.length - 7) + p.slice(-4)
}

// ---- validation, with the backend's codes and wording ----

const RESIDENT_KEYS = ['name', 'sex', 'birth_date', 'id_number', 'phone', 'ethnicity', 'categories', 'relation', 'house_id', 'notes', 'archived_reason', 'archived_on']
const HOUSE_KEYS = ['township', 'village', 'street', 'building', 'unit', 'floor', 'door', 'structure', 'area', 'use', 'owner', 'rented', 'hazards', 'lat', 'lng', 'archived_reason', 'archived_on']

function validateResident(r: Resident) {
  for (const k of Object.keys(r)) {
    if (k !== 'id' && !RESIDENT_KEYS.includes(k)) fail('unknown_field', `未知字段 ${k}`, k, r.id)
  }
  if (!r.name || !r.name.trim()) fail('required', 'name 为必填项', 'name', r.id)
  if ([...r.name].length > 40) fail('too_long', '姓名不能超过40个字', 'name', r.id)
  if (r.sex !== 'male' && r.sex !== 'female') fail('unknown_value', `性别“${r.sex}”无效`, 'sex', r.id)
  if (!r.birth_date) fail('required', 'birth_date 为必填项', 'birth_date', r.id)
  if (!isDate(r.birth_date)) fail('date', `日期“${r.birth_date}”无效，应为YYYY-MM-DD`, 'birth_date', r.id)
  if (r.id_number) {
    const c = checkIdNumber(r.id_number)
    if (!c.ok) {
      const msg: Record<string, string> = {
        id_number_length: `身份证号码应为18位，实际为${c.params?.n}位`,
        id_number_format: '身份证号码前17位必须是数字',
        id_number_birth_date: `身份证号码中的出生日期${c.params?.date}无效`,
        id_number_check_digit: `身份证号码校验位应为${c.params?.expected}，实际为${c.params?.actual}`,
      }
      // checkIdNumber answers only the id_number_* codes, which are the backend's too.
      fail(c.code as ErrorCode, msg[c.code] ?? c.code, 'id_number', r.id)
    }
    const m = checkBirthDateMatches(r.id_number, r.birth_date)
    if (m) fail('birth_date_mismatch', `出生日期与身份证号码中的出生日期（${m.params?.date}）不一致`, 'birth_date', r.id)
  }
  if (r.phone && checkMobile(r.phone)) fail('mobile', `手机号码“${r.phone}”无效，应为1开头的11位数字`, 'phone', r.id)
  for (const c of r.categories ?? []) {
    if (!(POPULATION_CATEGORIES as readonly string[]).includes(c)) fail('unknown_value', `人口类别“${c}”无效`, 'categories', r.id)
  }
  if (r.relation && !(RELATIONS as readonly string[]).includes(r.relation)) fail('unknown_value', `与户主关系“${r.relation}”无效`, 'relation', r.id)
  if (r.notes && [...r.notes].length > 2000) fail('too_long', '备注不能超过2000字', 'notes', r.id)
}

function validateHouse(h: House) {
  for (const k of Object.keys(h)) {
    if (k !== 'id' && !HOUSE_KEYS.includes(k)) fail('unknown_field', `未知字段 ${k}`, k, h.id)
  }
  for (const k of ['township', 'village', 'door'] as const) {
    if (!h[k] || !String(h[k]).trim()) fail('required', `${k} 为必填项`, k, h.id)
  }
  if (h.area !== undefined && h.area !== null && (typeof h.area !== 'number' || h.area < 0 || h.area > 100000)) {
    fail('out_of_range', `面积${h.area}超出范围（0–100000平方米）`, 'area', h.id)
  }
  if (h.lat !== undefined && h.lat !== null && (h.lat < -90 || h.lat > 90)) fail('out_of_range', '纬度超出范围', 'lat', h.id)
  if (h.lng !== undefined && h.lng !== null && (h.lng < -180 || h.lng > 180)) fail('out_of_range', '经度超出范围', 'lng', h.id)
}

/** Applies changed fields; null clears. */
function merge<T extends object>(rec: T, fields: Record<string, unknown>): T {
  const out = { ...rec } as Record<string, unknown>
  for (const [k, v] of Object.entries(fields)) {
    if (v === null) delete out[k]
    else out[k] = v
  }
  return out as T
}

function initialsFor(name: string, existing?: string): string {
  if (existing) return existing
  const all = [...SURNAMES, ...MALE_GIVEN, ...FEMALE_GIVEN]
  let out = ''
  let rest = name
  while (rest) {
    const hit = all.filter(([c]) => rest.startsWith(c)).sort((a, b) => b[0].length - a[0].length)[0]
    if (hit) {
      out += hit[1]
      rest = rest.slice(hit[0].length)
    } else {
      rest = rest.slice(1)
    }
  }
  return out
}

export interface MockOptions {
  /** Start enrolled and unlocked (PIN 123456), with the demo grid loaded. */
  ready?: boolean
  /** Milliseconds every answer waits, to see loading states. */
  latencyMs?: number
}

export class MockBackend {
  state!: State
  offline = false
  latencyMs = 0
  private listeners = new Set<(s: SyncStatus) => void>()

  constructor(opts: MockOptions = {}) {
    this.reset(opts)
  }

  reset(opts: MockOptions = {}) {
    this.offline = false
    this.latencyMs = opts.latencyMs ?? 0
    this.state = {
      awaitingPin: false, enrolled: false, locked: false, pin: null, pinFailures: 0, lastPinFailure: 0, server: '', deviceName: '',
      residents: new Map(), houses: new Map(), visits: [], disputes: new Map(), conflicts: [], quarantine: [],
      history: new Map(), photos: new Map(), pending: 0, lastSuccessAt: null, lastError: null, running: false,
      nextQuarantineId: 1,
    }
    if (opts.ready) {
      this.state.enrolled = true
      this.state.pin = '123456'
      this.state.server = 'https://gk.yishui.example'
      this.state.deviceName = '王建国的手机'
      this.load()
    }
  }

  onSyncStatus(handler: (s: SyncStatus) => void): () => void {
    this.listeners.add(handler)
    return () => this.listeners.delete(handler)
  }

  private emit() {
    const s = this.syncStatus()
    for (const l of this.listeners) l(clone(s))
  }

  private syncStatus(): SyncStatus {
    const st = this.state
    return {
      running: st.running,
      last_success_at: st.lastSuccessAt,
      last_error: st.lastError,
      pending: st.pending,
      next_attempt_at: st.lastError ? Date.now() + 60_000 : null,
    }
  }

  /** Fills the demo grid, as the first sync after enrolment would. */
  private load() {
    const st = this.state
    const now = Date.now()
    const { houses, residents } = seed()
    for (const h of houses) st.houses.set(h.id, h)
    for (const r of residents) {
      st.residents.set(r.id, r)
      st.history.set(r.id, [{ at: now - 90 * 86400e3, account: ASSISTANT.id, device: DEVICE_ASSISTANT, field: 'created', value: null }])
    }
    st.lastSuccessAt = now - 3 * 3600e3
    const monthStart = monthStartMs(now)
    // Some houses already visited this month (between its start and now, even in its first
    // minutes: the month turns at midnight China time, 16:00 UTC).
    houses.slice(2, 70).forEach((h, i) => {
      const at = Math.max(monthStart, Math.min(now, monthStart + i * 3 * 3600e3))
      st.visits.push({
        id: uuidv7(at), house_id: h.id, at, by: MOCK_ME.id,
        clears: { household: { status: 'fine' }, population: { status: 'fine' }, hazards: { status: 'fine' }, needs: { status: 'fine' }, attitude: { status: 'fine' } },
      })
    })
    const [zs, , , ls, sgl] = residents
    const dispute = (d: Omit<Dispute, 'actions' | 'photos'>, more: Omit<DisputeAction, 'id'>[]): Dispute => ({
      ...d, photos: [],
      actions: [{ id: uuidv7(d.reported_at), kind: 'report', actor: d.reported_by, level: 'grid', at: d.reported_at }, ...more.map((a) => ({ id: uuidv7(a.at), ...a }))],
    })
    const day = 86400e3
    const list: Dispute[] = [
      dispute({ id: '0190a1b2-3000-7000-8000-000000000001', class: 'ordinary', category: 'neighbour',
        parties: [{ id: uuidv7(), resident_id: zs.id, name: zs.name }, { id: uuidv7(), resident_id: ls.id, name: ls.name }],
        place: '许家湖镇东官庄村中心街12号、14号之间', description: '两户因宅基地边界和院墙滴水发生争执，双方情绪激动。',
        discovered_at: now - 2 * 3600e3 - 15 * 60e3, reported_at: now - 2 * 3600e3, reported_by: MOCK_ME.id }, []),
      dispute({ id: '0190a1b2-3000-7000-8000-000000000002', class: 'ordinary', category: 'family',
        parties: [{ id: uuidv7(), resident_id: sgl.id, name: sgl.name }, { id: uuidv7(), name: '李四之妹 李红梅' }],
        place: '许家湖镇东官庄村中心街14号', description: '老人赡养费用分担有分歧，子女之间争吵。',
        discovered_at: now - 3 * day - 40 * 60e3, reported_at: now - 3 * day, reported_by: MOCK_ME.id },
        [{ kind: 'intervene', actor: MOCK_ME.id, level: 'grid', at: now - 3 * day + 600e3, note: '到场劝解，约定周末三方调解' }]),
      dispute({ id: '0190a1b2-3000-7000-8000-000000000003', class: 'coordination', category: 'land',
        parties: [{ id: uuidv7(), name: '东官庄村三组' }, { id: uuidv7(), name: '西官庄村一组' }],
        place: '东官庄村与西官庄村交界处承包地', description: '两村村民对一块承包地的界址有争议，涉及十余户。',
        discovered_at: now - 6 * day - 3600e3, reported_at: now - 6 * day, reported_by: MOCK_ME.id },
        [
          { kind: 'mediate', actor: MOCK_ME.id, level: 'grid', at: now - 6 * day + 7200e3, note: '网格调解未达成一致' },
          { kind: 'escalate', actor: MOCK_ME.id, level: 'grid', at: now - 5 * day, to_level: 'community', note: '涉及两村，需村委会协调' },
          { kind: 'supervise', actor: COMMUNITY.id, level: 'community', at: now - 4 * day, note: '已约两村负责人周五现场勘界' },
        ]),
      dispute({ id: '0190a1b2-3000-7000-8000-000000000004', class: 'ordinary', category: 'debt',
        parties: [{ id: uuidv7(), name: '赵卫东' }, { id: uuidv7(), name: '徐强' }],
        place: '东官庄村沂河路', description: '装修工程款八千元拖欠纠纷。',
        discovered_at: now - 12 * day - 20 * 60e3, reported_at: now - 12 * day, reported_by: MOCK_ME.id },
        [
          { kind: 'mediate', actor: MOCK_ME.id, level: 'grid', at: now - 11 * day, note: '双方同意分两期支付' },
          { kind: 'resolve', actor: MOCK_ME.id, level: 'grid', at: now - 10 * day, note: '已签调解协议' },
        ]),
    ]
    for (const d of list) st.disputes.set(d.id, d)
    // Two devices changed 张三's phone while apart: a conflict to settle.
    st.conflicts.push({
      collection: 'residents', record: zs.id, field: 'phone',
      values: [
        { value: '13812345678', account: MOCK_ME.id, device: DEVICE_ME, at: now - 26 * 3600e3 },
        { value: '13887654321', account: ASSISTANT.id, device: DEVICE_ASSISTANT, at: now - 25 * 3600e3 },
      ],
    })
    // An edit the server refused (made by an older app version with laxer checks).
    st.quarantine.push({
      id: st.nextQuarantineId++,
      edit: { doc: { grid: GRID.id, collection: 'residents', month: null }, record: ls.id, creating: false, fields: { birth_date: '1979-11-03', phone: '15012345678' } },
      code: 'birth_date_mismatch', record: ls.id, field: 'birth_date',
      message: '出生日期与身份证号码中的出生日期（1979-11-30）不一致', at: now - 20 * 3600e3,
    })
    st.quarantine.push({
      id: st.nextQuarantineId++,
      edit: { doc: { grid: GRID.id, collection: 'houses', month: null }, record: houses[1].id, creating: false, fields: { area: -110 } },
      code: 'out_of_range', record: houses[1].id, field: 'area', message: '面积-110超出范围（0–100000平方米）', at: now - 19 * 3600e3,
    })
    st.pending = 3
  }

  /** identity(): only while a device is open, as in src-tauri. */
  private identity(): Identity | null {
    const st = this.state
    return st.enrolled && !st.locked ? this.identityView() : null
  }

  private identityView(): Identity {
    const st = this.state
    return {
      device_id: DEVICE_ME, server: st.server,
      account: { id: MOCK_ME.id, name: MOCK_ME.name, role: 'grid_worker', node: GRID.id },
      grids: [GRID],
      keeps_records: true,
      reports_disputes: true,
    }
  }

  private changed(collection: string, id: string, fields: Record<string, unknown>) {
    const st = this.state
    st.pending++
    const h = st.history.get(id) ?? []
    const at = Date.now()
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'id') continue
      h.push({ at, account: MOCK_ME.id, device: DEVICE_ME, field, value: (value ?? null) as JsonValue })
    }
    st.history.set(id, h)
    void collection
    this.emit()
  }

  private resident(id: string): MockResident {
    return this.state.residents.get(id) ?? fail('not_found', `not found: resident ${id}`)
  }
  private house(id: string): House {
    return this.state.houses.get(id) ?? fail('not_found', `not found: house ${id}`)
  }

  async handle<K extends keyof Commands>(cmd: K, args: Commands[K]['args']): Promise<Commands[K]['result']> {
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs))
    return clone(await this.run(cmd, args))
  }

  private async run<K extends keyof Commands>(cmd: K, a: Commands[K]['args']): Promise<Commands[K]['result']> {
    const st = this.state
    const open: (keyof Commands)[] = ['identity', 'lock_state', 'enrol_hint', 'enrol', 'set_pin', 'unlock', 'lock']
    if (!open.includes(cmd)) {
      if (!st.enrolled) fail('not_enrolled', 'this device is not enrolled yet')
      if (st.locked) fail('locked', '设备已锁定，请输入PIN码解锁')
    }
    const handler = this.handlers()[cmd] as Handler<K> | undefined
    if (!handler) return fail('unrecognised', `command ${cmd} not found`)
    return handler(a)
  }

  /** One handler per command of the app's contract (`generated/commands.ts`), each typed by the
   * real command's arguments and answer: a handler that answers another shape does not compile. */
  private handlers(): Handlers {
    const st = this.state
    return {
      identity: async () => {
        return this.identity()
      },
      enrol_hint: async () => {
        return { server: null, code: null }
      },
      lock_state: async () => {
        // As src-tauri answers: locked means "no device open", so true before enrolment.
        return { enrolled: st.enrolled, locked: !st.enrolled || st.locked, awaiting_pin: st.awaitingPin }
      },
      enrol: async (a) => {
        if (st.enrolled) fail('already_enrolled', '本机已注册 (this device is already enrolled)')
        const server = String(a.server ?? '').trim()
        const code = String(a.code ?? '').replace(/[\s-]/g, '').toUpperCase()
        if (!/^https?:\/\/\S+$/.test(server)) fail('bad_server_url', '服务器地址无效，应以 http:// 或 https:// 开头', 'server')
        if (this.offline) fail('network', 'network: 无法连接服务器')
        if (code.length !== 12) fail('forbidden', 'enrolment code unknown, used or expired')
        st.awaitingPin = true
        st.server = server
        st.deviceName = String(a.deviceName ?? '')
        return this.identityView()
      },
      set_pin: async (a) => {
        const pin = String(a.pin ?? '')
        if (!st.awaitingPin) fail('not_enrolled', '请先用注册码注册 (enrol first)')
        if (!/^\d{6}$/.test(pin)) fail('weak_pin', 'PIN 须为至少6位数字 (the PIN must be at least 6 digits)')
        st.pin = pin
        st.awaitingPin = false
        st.enrolled = true
        st.locked = false
        // The first sync after enrolment brings the grid down.
        this.load()
        st.pending = 0
        st.lastSuccessAt = Date.now()
        this.emit()
        return null
      },
      unlock: async (a) => {
        if (!st.enrolled) fail('not_enrolled', 'this device is not enrolled yet')
        // As field-core: three wrong PINs are free, then each try waits (30 s, doubling, at most
        // an hour) before the PIN is even looked at; the tenth in a row wipes the device.
        if (st.pinFailures >= 3) {
          const wait = Math.min(30_000 * 2 ** (st.pinFailures - 3), 3_600_000) - (Date.now() - st.lastPinFailure)
          if (wait > 0) fail('pin_locked', `PIN 错误次数过多，请 ${Math.ceil(wait / 1000)} 秒后再试`)
        }
        if (String(a.pin ?? '') !== st.pin) {
          st.pinFailures++
          st.lastPinFailure = Date.now()
          if (st.pinFailures >= 10) {
            this.reset()
            fail('device_wiped', 'PIN 错误次数过多，本机数据已清除，请重新注册')
          }
          fail('wrong_pin', 'PIN码不正确，请重新输入')
        }
        st.pinFailures = 0
        st.locked = false
        return null
      },
      lock: async () => {
        st.locked = true
        return null
      },
      touch: async () => {
        if (st.locked) fail('locked', '请先输入PIN解锁')
        return null
      },
      workbench: async () => {
        const monthStart = monthStartMs()
        const visited = new Set(st.visits.filter((v) => v.at >= monthStart).map((v) => v.house_id))
        const houses = [...st.houses.values()].filter((h) => !h.archived_reason)
        return {
          grid: GRID,
          residents: [...st.residents.values()].filter((r) => !r.archived_reason).length,
          houses: houses.length,
          houses_not_visited_this_month: houses.filter((h) => !visited.has(h.id)).length,
          open_disputes: [...st.disputes.values()].filter((d) => mockView(d).state.status !== 'resolved').length,
          pending_changes: st.pending,
          open_conflicts: st.conflicts.length,
          quarantined: st.quarantine.length,
          last_sync_at: st.lastSuccessAt,
          unread: 0,
        }
      },
      list_residents: async (a) => {
        const q = (a.query ?? {}) as ResidentQuery
        const text = (q.q ?? '').trim().toLowerCase()
        const out: ResidentSummary[] = []
        for (const r of st.residents.values()) {
          if (!q.include_archived && r.archived_reason) continue
          if (q.category && !r.categories.includes(q.category)) continue
          if (q.house && r.house_id !== q.house) continue
          if (text) {
            const hit = r.name.includes(text) || r.initials.startsWith(text) || (/^[0-9x]+$/.test(text) && !!r.id_number && r.id_number.toLowerCase().endsWith(text))
            if (!hit) continue
          }
          out.push({
            id: r.id, name: r.name, sex: r.sex, birth_year: r.birth_date.slice(0, 4), id_number: mask(r.id_number), phone: maskPhone(r.phone),
            categories: [...r.categories], house_id: r.house_id ?? null, archived: !!r.archived_reason,
          })
        }
        return out.sort((x, y) => this.resident(x.id).initials.localeCompare(this.resident(y.id).initials) || x.name.localeCompare(y.name))
      },
      get_resident: async (a) => {
        const { initials: _, ...r } = this.resident(String(a.id))
        void _
        return r
      },
      create_resident: async (a) => {
        const r = { ...(a.resident as Resident) }
        r.id = r.id || uuidv7()
        if (st.residents.has(r.id)) fail('record_exists', '记录已存在', undefined, r.id)
        for (const k of Object.keys(r) as (keyof Resident)[]) if (r[k] === null || r[k] === undefined) delete r[k]
        r.categories = r.categories ?? []
        validateResident(r)
        if (r.house_id) this.house(r.house_id)
        st.residents.set(r.id, { ...r, initials: initialsFor(r.name) })
        this.changed('residents', r.id, { created: true })
        return null
      },
      update_resident: async (a) => {
        const cur = this.resident(String(a.id))
        const fields = (a.fields ?? {}) as Record<string, unknown>
        const next = merge(cur, fields)
        const { initials, ...plain } = next
        validateResident(plain)
        st.residents.set(cur.id, { ...plain, initials: fields.name ? initialsFor(plain.name) : initials })
        this.changed('residents', cur.id, fields)
        return null
      },
      archive_resident: async (a) => {
        const cur = this.resident(String(a.id))
        const reason = String(a.reason ?? '')
        const on = String(a.on ?? '')
        if (!['moved_away', 'deceased', 'duplicate', 'other'].includes(reason)) fail('unknown_value', `注销原因“${reason}”无效`, 'archived_reason', cur.id)
        if (!isDate(on)) fail('date', `日期“${on}”无效，应为YYYY-MM-DD`, 'archived_on', cur.id)
        st.residents.set(cur.id, { ...cur, archived_reason: reason, archived_on: on })
        this.changed('residents', cur.id, { archived_reason: reason, archived_on: on })
        return null
      },
      move_resident: async (a) => {
        const cur = this.resident(String(a.id))
        const house = a.house ? this.house(String(a.house)).id : null
        const next = { ...cur }
        if (house) next.house_id = house
        else delete next.house_id
        st.residents.set(cur.id, next)
        this.changed('residents', cur.id, { house_id: house })
        return null
      },
      list_houses: async () => {
        return [...st.houses.values()].filter((h) => !h.archived_reason)
      },
      get_house: async (a) => {
        return this.house(String(a.id))
      },
      create_house: async (a) => {
        const h = { ...(a.house as House) }
        h.id = h.id || uuidv7()
        for (const k of Object.keys(h) as (keyof House)[]) if (h[k] === null || h[k] === undefined) delete h[k]
        validateHouse(h)
        st.houses.set(h.id, h)
        this.changed('houses', h.id, { created: true })
        return null
      },
      update_house: async (a) => {
        const cur = this.house(String(a.id))
        const fields = (a.fields ?? {}) as Record<string, unknown>
        const next = merge(cur, fields)
        validateHouse(next)
        st.houses.set(cur.id, next)
        this.changed('houses', cur.id, fields)
        return null
      },
      record_visit: async (a) => {
        const v = a.visit as NewVisit
        this.house(v.house_id)
        if (v.resident_id) this.resident(v.resident_id)
        for (const k of FIVE_CLEARS) {
          const c = v.clears?.[k]
          if (!c) fail('required', `clears.${k} 为必填项`, `clears.${k}`)
          if (c.status !== 'fine' && c.status !== 'attention') fail('unknown_value', `状态“${c.status}”无效`, `clears.${k}.status`)
        }
        const visit: Visit = { ...v, id: uuidv7(), at: v.at ?? Date.now(), by: MOCK_ME.id }
        st.visits.push(visit)
        this.changed('visits', visit.id, { created: true })
        return visit.id
      },
      list_visits: async (a) => {
        const since = Number(a.sinceMs ?? 0)
        return st.visits.filter((v) => v.at >= since).sort((x, y) => y.at - x.at)
      },
      report_dispute: async (a) => {
        const d = a.dispute as NewDispute
        if (!(DISPUTE_CLASSES as readonly string[]).includes(d.class)) fail('unknown_value', `事件性质“${d.class}”无效`, 'class')
        if (!(DISPUTE_CATEGORIES as readonly string[]).includes(d.category)) fail('unknown_value', `事件类别“${d.category}”无效`, 'category')
        if (!d.place?.trim()) fail('required', 'place 为必填项', 'place')
        if (!d.description?.trim()) fail('required', 'description 为必填项', 'description')
        const now = Date.now()
        const discovered = d.discovered_at ?? now
        if (discovered > now + 60_000) fail('out_of_range', '发现时间不能晚于当前时间', 'discovered_at')
        const id = uuidv7(now)
        const dispute: Dispute = {
          id, class: d.class, category: d.category, place: d.place.trim(), description: d.description.trim(),
          parties: d.parties.map((p) => ({ id: uuidv7(), resident_id: p.resident_id ?? null, name: p.name })),
          discovered_at: discovered, reported_at: now, reported_by: MOCK_ME.id, photos: [...(d.photos ?? [])],
          actions: [{ id: uuidv7(now), kind: 'report', actor: MOCK_ME.id, level: 'grid', at: now, note: d.note ?? null }],
        }
        for (const p of dispute.photos) if (!st.photos.has(p)) fail('record_missing', `照片 ${p.slice(0, 8)} 不存在`, 'photos')
        st.disputes.set(id, dispute)
        this.changed('disputes', id, { created: true })
        return id
      },
      list_disputes: async (a) => {
        const all = [...st.disputes.values()].sort((x, y) => y.reported_at - x.reported_at)
        const views = all.map(mockView)
        return a.openOnly ? views.filter((v) => v.state.status !== 'resolved') : views
      },
      get_dispute: async (a) => {
        const d = st.disputes.get(String(a.id)) ?? fail('not_found', `not found: dispute ${a.id}`)
        return mockView(d)
      },
      add_dispute_action: async (a) => {
        const d = st.disputes.get(String(a.dispute)) ?? fail('not_found', `not found: dispute ${a.dispute}`)
        const action = a.action as NewAction
        const kind = String(action.kind)
        if (!(ACTION_KINDS as readonly string[]).includes(kind)) fail('unknown_value', `未知的处置类型“${kind}”`, 'kind')
        if (!mockView(d).allowed.includes(kind as ActionKind)) fail('not_holder', `当前不能“${kind}”`, 'actions')
        if (kind === 'escalate' && !action.note?.trim()) fail('required', '上报需要写明理由', 'actions')
        const toLevel = action.to_level ?? null
        if (toLevel && !(LEVELS as readonly string[]).includes(toLevel)) fail('unknown_value', `层级“${toLevel}”无效`, 'to_level')
        const now = Math.max(Date.now(), ...d.actions.map((x) => x.at + 1))
        d.actions.push({
          id: uuidv7(now), kind, actor: MOCK_ME.id, level: 'grid', at: now, to_level: toLevel, note: action.note ?? null,
          to_node: null, to_account: null, due_at: action.due_at ?? null, satisfaction: null, after: d.actions[d.actions.length - 1]?.id ?? null,
        })
        this.changed('disputes', d.id, { actions: kind })
        return null
      },
      // The mock's person is a grid worker: there is no place below to send a dispute to.
      list_places: async () => [],
      // The mock has no other people: nobody acts on the worker's disputes.
      list_inbox: async () => [],
      mark_inbox_read: async () => null,
      sync_now: async () => {
        st.running = true
        this.emit()
        await new Promise((r) => setTimeout(r, this.latencyMs ? 600 : 0))
        st.running = false
        if (this.offline) {
          st.lastError = { code: 'network', message: 'network: 无法连接服务器（error sending request）' }
          this.emit()
          fail(st.lastError.code, st.lastError.message)
        }
        const sent = st.pending
        st.pending = 0
        st.lastError = null
        st.lastSuccessAt = Date.now()
        this.emit()
        return {
          requests: 1, bytes_up: sent * 310, bytes_down: 180, acknowledged: sent, refused: 0, quarantined: 0, reentered: 0,
          documents_received: 0, ranges: 0, photos_uploaded: 0, photo_bytes_up: 0, inbox: 0,
        }
      },
      sync_status: async () => {
        return this.syncStatus()
      },
      list_conflicts: async () => {
        return st.conflicts
      },
      settle_conflict: async (a) => {
        const c = a.conflict as Conflict
        const i = st.conflicts.findIndex((x) => x.record === c.record && x.field === c.field)
        if (i < 0) fail('not_found', 'not found: no such open conflict')
        const [top, sub] = c.field.split('.')
        if (c.collection === 'residents') {
          const r = this.resident(c.record)
          const next = { ...r } as Record<string, unknown>
          if (sub) {
            if (top === 'categories') {
              const set = new Set(r.categories)
              if (a.value) set.add(sub)
              else set.delete(sub)
              next.categories = [...set]
            } else next[top] = { ...(next[top] as object), [sub]: a.value }
          } else next[top] = a.value
          st.residents.set(r.id, next as unknown as MockResident)
        }
        st.conflicts.splice(i, 1)
        this.changed(c.collection, c.record, { [c.field]: a.value })
        return null
      },
      list_quarantine: async () => {
        return st.quarantine
      },
      discard_quarantined: async (a) => {
        const i = st.quarantine.findIndex((q) => q.id === Number(a.id))
        if (i < 0) fail('not_found', `not found: quarantined edit ${a.id}`)
        st.quarantine.splice(i, 1)
        return null
      },
      reenter_quarantined: async (a) => {
        const q = st.quarantine.find((x) => x.id === Number(a.id)) ?? fail('not_found', `not found: quarantined edit ${a.id}`)
        const fields = a.fields ?? {}
        const coll = q.edit.doc.collection
        if (coll === 'residents') {
          if (q.edit.creating && !st.residents.has(q.edit.record)) await this.run('create_resident', { resident: { ...fields, id: q.edit.record } as unknown as Resident })
          else await this.run('update_resident', { id: q.edit.record, fields })
        } else if (coll === 'houses') {
          if (q.edit.creating && !st.houses.has(q.edit.record)) await this.run('create_house', { house: { ...fields, id: q.edit.record } as unknown as House })
          else await this.run('update_house', { id: q.edit.record, fields })
        } else {
          st.pending++
        }
        st.quarantine = st.quarantine.filter((x) => x.id !== q.id)
        return null
      },
      history: async (a) => {
        return st.history.get(String(a.id)) ?? []
      },
      add_photo: async (a) => {
        const bytes = a.bytes as number[]
        const mime = String(a.mime ?? '')
        if (!mime.startsWith('image/')) fail('bad_photo', '照片格式或大小不对 (not an image, or larger than 20 MB)')
        if (!Array.isArray(bytes) || bytes.length === 0) fail('required', '照片为空')
        if (bytes.length > 20 * 1024 * 1024) fail('bad_photo', '照片格式或大小不对 (not an image, or larger than 20 MB)')
        const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(bytes))
        const hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
        st.photos.set(hash, { mime, size: bytes.length, bytes: new Uint8Array(bytes) })
        return hash
      },
      get_photo: async (a) => {
        const p = st.photos.get(String(a.hash))
        if (!p || !p.bytes) fail('not_found', '照片尚未同步到本机')
        return p!.bytes!.slice().buffer as ArrayBuffer
      },
    }
  }
}

function initialOptions(): MockOptions {
  if (typeof location === 'undefined') return {}
  const p = new URLSearchParams(location.search)
  // `?mock=ready` starts enrolled and unlocked (PIN 123456); `&latency=300` slows every answer.
  return { ready: p.get('mock') === 'ready', latencyMs: Number(p.get('latency') ?? 0) || 0 }
}

export const mockBackend = new MockBackend(initialOptions())
