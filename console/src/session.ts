// Who is logged in. The session itself is an HttpOnly cookie the page cannot read; the page keeps
// only what the server showed it (the account and the CSRF token), in memory.
import { reactive } from 'vue'
import type { Account, Level, Role, SessionView } from './generated/contract'
import { api, setCsrfToken } from './api'
import { forgetGrids } from './lib/grids'

export const session = reactive<{ view: SessionView | null; checked: boolean }>({ view: null, checked: false })

export function opened(view: SessionView) {
  session.view = view
  setCsrfToken(view.csrf_token)
}

export function ended() {
  session.view = null
  setCsrfToken(null)
  forgetGrids()
}

/** Reads the session a cookie may already hold (a reload); false when there is none. */
export async function restore(): Promise<boolean> {
  try {
    opened(await api.session())
  } catch {
    ended()
  }
  session.checked = true
  return session.view !== null
}

export function account(): Account | null {
  return session.view?.account ?? null
}

const LEVEL_OF_ROLE: Partial<Record<Role, Level>> = {
  village_staff: 'community',
  township_staff: 'township',
  township_department_staff: 'township',
  county_staff: 'county',
  county_department_staff: 'county',
  county_admin: 'county',
}

/** The level a staff role works at (the closed loop's). */
export function levelOf(role: Role): Level {
  return LEVEL_OF_ROLE[role] ?? 'grid'
}

/** Staff of a department (司法所, 派出所 …): they act on what is sent to them. */
export function isDepartment(role: Role): boolean {
  return role === 'township_department_staff' || role === 'county_department_staff'
}
