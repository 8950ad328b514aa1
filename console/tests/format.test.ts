import { describe, expect, it } from 'vitest'
import { dateTime, duration, monthCst, startOfTodayCst } from '../src/lib/format'

describe('times in China Standard Time', () => {
  it('today starts at midnight in Beijing, whatever the desk clock says', () => {
    // 2026-11-30 17:30 UTC is 2026-12-01 01:30 in Beijing: today began at 2026-11-30 16:00 UTC.
    const now = Date.UTC(2026, 10, 30, 17, 30)
    expect(startOfTodayCst(now)).toBe(Date.UTC(2026, 10, 30, 16, 0))
    expect(monthCst(now)).toBe(202612)
    expect(monthCst(Date.UTC(2026, 10, 30, 15, 59))).toBe(202611)
  })

  it('formats times and durations', () => {
    expect(dateTime(Date.UTC(2026, 10, 30, 16, 5))).toContain('2026')
    expect(dateTime(Date.UTC(2026, 10, 30, 16, 5))).toContain('00:05')
    expect(dateTime(null)).toBe('—')
    expect(duration(45)).toBe('45 分钟')
    expect(duration(-180, 'en')).toBe('3 h')
    expect(duration(4 * 1440)).toBe('4 天')
  })
})
