// Small pure pieces of the second factor (a TOTP authenticator app) for console log-ins: the
// secret as a person types it, the server's QR code as an image, the code a person enters, the
// roles it may be required of, and which screen the router opens for a session.
import type { Role, SessionView } from '../generated/contract'
import { ROLES, hasConsoleLogIn } from './roles'

/** The secret (base32) in groups of 4 for typing it into an app by hand: `ABCD EFGH IJ`. */
export function groupSecret(secret: string): string {
  const plain = secret.replace(/\s+/g, '').toUpperCase()
  return (plain.match(/.{1,4}/g) ?? []).join(' ')
}

/**
 * The server's QR code (an SVG document) as an `<img>` source: a `data:` URL, which the browser
 * draws as a picture and never runs (no `v-html` of markup into the page).
 */
export function svgDataUrl(svg: string): string {
  const bytes = new TextEncoder().encode(svg)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return `data:image/svg+xml;base64,${btoa(binary)}`
}

/** A code as typed (`123 456`, full-width digits from a Chinese input method) as the server takes it. */
export function normaliseCode(input: string): string {
  return input
    .replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 0x30))
    .replace(/\s+/g, '')
}

/** Whether a typed code has the shape of an app's code: six digits. */
export function isCode(input: string): boolean {
  return /^[0-9]{6}$/.test(normaliseCode(input))
}

/**
 * The roles a second factor may be required of: those with a console log-in (a grid's team works
 * on handhelds; the server refuses their roles with `role_node_mismatch`).
 */
export const SECOND_FACTOR_ROLES: readonly Role[] = ROLES.filter(hasConsoleLogIn)

/** The screens of the county administrator, who handles no dispute and keeps the system. */
export const ADMIN_SCREENS: ReadonlySet<string> = new Set(['admin', 'map', 'second-factor'])

/** Where the router sends a navigation instead, or null to let it through. */
export interface Redirect {
  name: string
  query?: Record<string, string>
}

/**
 * The router's decision for a navigation to the screen `name` (at `fullPath`) with the session
 * `view` (null when none): the log-in without a session; only the set-up of a second factor
 * while the county requires one of this person and they have none; the administrator's screens
 * for the administrator.
 */
export function routeFor(name: string, fullPath: string, view: SessionView | null): Redirect | null {
  if (!view) return name === 'login' ? null : { name: 'login', query: { next: fullPath } }
  const admin = view.account.role === 'county_admin'
  if (view.second_factor === 'setup_required') {
    if (name === 'second-factor') return null
    // Where they were going: the set-up goes on there once done.
    return name === 'login' || fullPath === '/' ? { name: 'second-factor' } : { name: 'second-factor', query: { next: fullPath } }
  }
  if (name === 'login') return { name: admin ? 'admin' : 'workbench' }
  if (admin && !ADMIN_SCREENS.has(name)) return { name: 'admin' }
  return null
}

/** Where to go on after a log-in or a set-up: the `next` in the address when it is this app's. */
export function nextPath(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}
