// The county server's HTTP API as the console calls it: same origin, the session in its
// HttpOnly cookie (sent by the browser), and the session's CSRF token on every request that
// changes something. Errors arrive as the contract's ErrorBody and are thrown as ApiError.
import type {
  AreaQuery,
  DisputeCounts,
  DisputeFigures,
  DisputeList,
  DisputeQuery,
  DisputeView,
  ErrorBody,
  ErrorCode,
  FiguresQuery,
  GridInfo,
  HistoryEntry,
  House,
  LogIn,
  MapGrid,
  MapQuery,
  MaskedField,
  Resident,
  ResidentQuery,
  ResidentSummary,
  Revealed,
  NewAction,
  Role,
  SecondFactorCode,
  SecondFactorRoles,
  SecondFactorSetup,
  Overview,
  Place,
  SessionView,
} from './generated/contract'
import type {
  Account,
  AccountQuery,
  AccountRow,
  AuditEntry,
  AuditQuery,
  BulkCodeRequest,
  BulkCodes,
  BulkRevoked,
  Device,
  ImportSummary,
  NewAccount,
  SessionsEnded,
  SetPassword,
  StructureNode,
} from './generated/contract'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    /** The whole refusal: a rejected roster's report rides in it. */
    readonly body: ErrorBody | null = null,
  ) {
    super(message)
  }
}

let csrfToken: string | null = null
let onUnauthorized: (() => void) | null = null
let onSecondFactorSetupRequired: (() => void) | null = null

/** The token every change must carry; set when a session opens or is read. */
export function setCsrfToken(token: string | null) {
  csrfToken = token
}

/** Called when the server says the session has ended (idle, logged out elsewhere, reset). */
export function whenUnauthorized(f: () => void) {
  onUnauthorized = f
}

/**
 * Called when the server refuses a call because this person must set up a second factor first
 * (the administrator has just required one of their role).
 */
export function whenSecondFactorSetupRequired(f: () => void) {
  onSecondFactorSetupRequired = f
}

type Params = Record<string, string | number | boolean | null | undefined>

function query(params?: Params): string {
  if (!params) return ''
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

async function call<T>(method: string, path: string, body?: unknown, params?: Params): Promise<T> {
  const r = await send(method, path, body, params, 'application/json')
  if (r.status === 204 || r.headers.get('content-length') === '0') return undefined as T
  return (await r.json()) as T
}

/** A refused answer as an ApiError; a 401 also tells the page its session ended. */
function refusal(status: number, statusText: string, text: string, method: string, path: string): ApiError {
  let err: ErrorBody | null = null
  try {
    err = JSON.parse(text) as ErrorBody
  } catch {
    // Not JSON: a proxy's page.
  }
  // The session ended (idle, logged out elsewhere, a password reset): not for the log-in itself.
  if (status === 401 && !(method === 'POST' && path === '/v1/session') && onUnauthorized) onUnauthorized()
  if (status === 403 && err?.code === 'second_factor_setup_required' && onSecondFactorSetupRequired) onSecondFactorSetupRequired()
  return new ApiError(status, err?.code ?? 'unrecognised', err?.message ?? statusText, err)
}

/** A request with a JSON body (if any): the raw answer (JSON, a file, a page), refusals thrown. */
async function send(method: string, path: string, body: unknown, params: Params | undefined, accept: string) {
  const headers: Record<string, string> = { accept }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken
  let r: Response
  try {
    r = await fetch(path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    })
  } catch (e) {
    throw new ApiError(0, 'network', String(e))
  }
  if (!r.ok) throw refusal(r.status, r.statusText, await r.text().catch(() => ''), method, path)
  return r
}

/** Fetches a file (a roster, the audit as CSV) and hands it to the browser's downloads. */
async function download(path: string, params: Params | undefined, fallbackName: string): Promise<void> {
  const r = await send('GET', path, undefined, params, '*/*')
  const name = /filename="([^"]+)"/.exec(r.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName
  const url = URL.createObjectURL(await r.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

/**
 * Sends a file as the body with XMLHttpRequest, whose upload reports its progress (fetch's does
 * not): `progress(sent, total)` as it goes, then the server's JSON answer or the refusal.
 */
function upload<T>(path: string, params: Params, file: Blob, type: string, progress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path + query(params))
    xhr.setRequestHeader('content-type', type)
    xhr.setRequestHeader('accept', 'application/json')
    if (csrfToken) xhr.setRequestHeader('x-csrf-token', csrfToken)
    xhr.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : file.size)
    xhr.upload.onload = () => progress(file.size, file.size)
    xhr.onerror = () => reject(new ApiError(0, 'network', 'upload failed'))
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as T)
        } catch (e) {
          reject(new ApiError(xhr.status, 'unrecognised', String(e)))
        }
      } else {
        reject(refusal(xhr.status, xhr.statusText, xhr.responseText, 'POST', path))
      }
    }
    xhr.send(file)
  })
}

export const api = {
  logIn: (body: LogIn) => call<SessionView>('POST', '/v1/session', body),
  session: () => call<SessionView>('GET', '/v1/session'),
  logOut: () => call<void>('DELETE', '/v1/session'),
  /** A new secret for the caller's authenticator app, shown once (QR code and text). */
  beginSecondFactor: () => call<SecondFactorSetup>('POST', '/v1/session/second-factor'),
  /** Confirms the secret with a code from the app: from then on every log-in asks for one. */
  confirmSecondFactor: (code: string) =>
    call<void>('PUT', '/v1/session/second-factor', { code } satisfies SecondFactorCode),
  grids: () => call<GridInfo[]>('GET', '/v1/grids'),
  places: () => call<Place[]>('GET', '/v1/places'),
  overview: (q: AreaQuery = {}) => call<Overview>('GET', '/v1/overview', undefined, q as Params),
  /** How many disputes each of the workbench's lists holds, counted by the server. */
  disputeCounts: () => call<DisputeCounts>('GET', '/v1/disputes/counts'),
  disputes: (q: DisputeQuery & { list?: DisputeList | null }) =>
    call<DisputeView[]>('GET', '/v1/disputes', undefined, q as Params),
  dispute: (id: string) => call<DisputeView>('GET', `/v1/disputes/${encodeURIComponent(id)}`),
  act: (id: string, action: NewAction) =>
    call<DisputeView>('POST', `/v1/disputes/${encodeURIComponent(id)}/actions`, action),
  residents: (q: ResidentQuery) => call<ResidentSummary[]>('GET', '/v1/residents', undefined, q as Params),
  resident: (id: string) => call<Resident>('GET', `/v1/residents/${encodeURIComponent(id)}`),
  reveal: (id: string, field: MaskedField) =>
    call<Revealed>('POST', `/v1/residents/${encodeURIComponent(id)}/reveal`, { field }),
  houses: (grid: string) => call<House[]>('GET', '/v1/houses', undefined, { grid }),
  history: (collection: 'residents' | 'houses' | 'disputes', id: string) =>
    call<HistoryEntry[]>('GET', `/v1/history/${collection}/${encodeURIComponent(id)}`),
  figures: (q: FiguresQuery) => call<DisputeFigures>('GET', '/v1/figures/disputes', undefined, q as Params),
  map: (q: MapQuery = {}) => call<MapGrid[]>('GET', '/v1/map', undefined, q as Params),
  // 管理: the county administrator's (the server refuses anyone else).
  structure: () => call<StructureNode[]>('GET', '/v1/admin/structure'),
  accounts: (q: AccountQuery) => call<AccountRow[]>('GET', '/v1/admin/accounts', undefined, q as Params),
  createAccount: (body: NewAccount) => call<Account>('POST', '/v1/admin/accounts', body),
  setPassword: (id: string, body: SetPassword) =>
    call<void>('PUT', `/v1/admin/accounts/${encodeURIComponent(id)}/password`, body),
  /** The roles whose staff must log in with a second factor. */
  secondFactorRoles: () => call<SecondFactorRoles>('GET', '/v1/admin/second-factor'),
  setSecondFactorRoles: (roles: Role[]) =>
    call<void>('PUT', '/v1/admin/second-factor', { roles } satisfies SecondFactorRoles),
  /** Removes a person's second factor (a lost phone); their console sessions end. */
  removeSecondFactor: (id: string) =>
    call<void>('DELETE', `/v1/admin/accounts/${encodeURIComponent(id)}/second-factor`),
  endSessions: (id: string) => call<SessionsEnded>('DELETE', `/v1/admin/accounts/${encodeURIComponent(id)}/sessions`),
  devices: () => call<Device[]>('GET', '/v1/admin/devices'),
  revokeDevice: (id: string) => call<void>('POST', `/v1/admin/devices/${encodeURIComponent(id)}/revoke`),
  /** Issues codes for everyone at or under a place, with their printable sheet (HTML, QR codes). */
  issueCodes: (body: BulkCodeRequest, server: string) =>
    call<BulkCodes>('POST', '/v1/admin/enrolment-codes/bulk', body, { format: 'both', server }),
  revokeCodes: (node: string) => call<BulkRevoked>('POST', '/v1/admin/enrolment-codes/revoke-bulk', { node }),
  exportRoster: (grid: string, format: 'csv' | 'xlsx') =>
    download(`/v1/admin/grids/${encodeURIComponent(grid)}/roster`, { format }, `roster.${format}`),
  importRoster: (grid: string, format: 'csv' | 'xlsx', file: Blob, type: string, progress: (sent: number, total: number) => void) =>
    upload<ImportSummary>(`/v1/admin/grids/${encodeURIComponent(grid)}/roster`, { format }, file, type, progress),
  audit: (q: AuditQuery) => call<AuditEntry[]>('GET', '/v1/admin/audit', undefined, q as Params),
  auditCsv: (q: AuditQuery) => download('/v1/admin/audit.csv', q as Params, 'audit.csv'),
}
