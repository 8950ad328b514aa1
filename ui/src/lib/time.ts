// Times are shown in China Standard Time (Asia/Shanghai) whatever the device's zone.
// China has kept UTC+08:00 without daylight saving since 1991, so a fixed offset is exact for
// every time the app handles and needs no time-zone database in the webview.

const OFFSET_MS = 8 * 3600 * 1000

const pad = (n: number) => String(n).padStart(2, '0')

function parts(ms: number) {
  const d = new Date(ms + OFFSET_MS)
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
  }
}

/** `YYYY-MM-DD HH:mm` in China time. */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return ''
  const p = parts(ms)
  return `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}`
}

/** `YYYY-MM-DD` in China time. */
export function formatDate(ms: number): string {
  const p = parts(ms)
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}`
}

export function todayInChina(now: number = Date.now()): string {
  return formatDate(now)
}

/** Parses `YYYY-MM-DD HH:mm` (China time) to ms, or null if it is not a real time. */
export function parseDateTime(text: string): number | null {
  const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})\s*$/.exec(text)
  if (!m) return null
  const [y, mo, d, h, mi] = m.slice(1).map(Number)
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return null
  const ms = Date.UTC(y, mo - 1, d, h, mi) - OFFSET_MS
  // Reject 02-30 and the like: the round trip must give back the same fields.
  const p = parts(ms)
  if (p.y !== y || p.mo !== mo || p.d !== d) return null
  return ms
}

/** The first millisecond of the current month in China time ("visited this month"). */
export function monthStartMs(now: number = Date.now()): number {
  const p = parts(now)
  return Date.UTC(p.y, p.mo - 1, 1) - OFFSET_MS
}
