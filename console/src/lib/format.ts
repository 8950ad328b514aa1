// Times as the county reads them: China Standard Time whatever the desk's clock zone.
const TZ = 'Asia/Shanghai'

export function dateTime(ms: number | null | undefined, locale = 'zh-CN'): string {
  if (ms === null || ms === undefined) return '—'
  return new Intl.DateTimeFormat(locale, {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms))
}

/** Midnight of today in China Standard Time, as ms since the epoch. */
export function startOfTodayCst(now = Date.now()): number {
  const day = 86_400_000
  const offset = 8 * 3_600_000
  return Math.floor((now + offset) / day) * day - offset
}

/** `yyyymm` of the month `now` falls in, China Standard Time. */
export function monthCst(now = Date.now()): number {
  const d = new Date(now + 8 * 3_600_000)
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1
}

/** How long until (or since, negative) a time limit, in words a desk reads at a glance. */
export function remaining(deadline: number, now = Date.now()): { minutes: number; overdue: boolean } {
  const minutes = Math.round((deadline - now) / 60_000)
  return { minutes, overdue: minutes < 0 }
}

export function duration(minutes: number, locale = 'zh-CN'): string {
  const m = Math.abs(minutes)
  const zh = locale !== 'en'
  if (m < 60) return zh ? `${m} 分钟` : `${m} min`
  if (m < 48 * 60) return zh ? `${Math.round(m / 60)} 小时` : `${Math.round(m / 60)} h`
  return zh ? `${Math.round(m / 1440)} 天` : `${Math.round(m / 1440)} d`
}
