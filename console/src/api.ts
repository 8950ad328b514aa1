// The county server's HTTP API as the console calls it: same origin, the session in its
// HttpOnly cookie (sent by the browser), and the session's CSRF token on every request that
// changes something. Errors arrive as the contract's ErrorBody and are thrown as ApiError.
import type {
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
  MaskedField,
  Resident,
  ResidentQuery,
  ResidentSummary,
  Revealed,
  NewAction,
  Overview,
  Place,
  SessionView,
} from './generated/contract'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
  ) {
    super(message)
  }
}

let csrfToken: string | null = null
let onUnauthorized: (() => void) | null = null

/** The token every change must carry; set when a session opens or is read. */
export function setCsrfToken(token: string | null) {
  csrfToken = token
}

/** Called when the server says the session has ended (idle, logged out elsewhere, reset). */
export function whenUnauthorized(f: () => void) {
  onUnauthorized = f
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
  const headers: Record<string, string> = { accept: 'application/json' }
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
  if (r.ok) {
    if (r.status === 204 || r.headers.get('content-length') === '0') return undefined as T
    return (await r.json()) as T
  }
  let err: ErrorBody | null = null
  try {
    err = (await r.json()) as ErrorBody
  } catch {
    // Not JSON: a proxy's page.
  }
  // The session ended (idle, logged out elsewhere, a password reset): not for the log-in itself.
  if (r.status === 401 && !(method === 'POST' && path === '/v1/session') && onUnauthorized) onUnauthorized()
  throw new ApiError(r.status, err?.code ?? 'unrecognised', err?.message ?? r.statusText)
}

export const api = {
  logIn: (body: LogIn) => call<SessionView>('POST', '/v1/session', body),
  session: () => call<SessionView>('GET', '/v1/session'),
  logOut: () => call<void>('DELETE', '/v1/session'),
  grids: () => call<GridInfo[]>('GET', '/v1/grids'),
  places: () => call<Place[]>('GET', '/v1/places'),
  overview: () => call<Overview>('GET', '/v1/overview'),
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
}
