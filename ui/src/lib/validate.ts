// Field checks the worker sees while typing. They mirror sync-protocol/src/validate.rs (the
// one validator the device and the server run before anything is stored) so that an edit the
// form accepts is not refused later; the backend still has the last word.
// Pure functions: no Vue, no i18n. Errors are codes plus parameters; the UI words them.

import { todayInChina } from './time'

export type ValidationCode =
  | 'required'
  | 'too_long'
  | 'date'
  | 'future_date'
  | 'id_number_length'
  | 'id_number_format'
  | 'id_number_birth_date'
  | 'id_number_check_digit'
  | 'birth_date_mismatch'
  | 'mobile'
  | 'number'
  | 'out_of_range'

export interface Invalid {
  code: ValidationCode
  params?: Record<string, string | number>
}

/** GB 11643-1999 weights for the first 17 characters of a resident ID number. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK_CHARS = '10X98765432'

/** The check character for the first 17 digits of an ID number, or null if they are not 17 digits. */
export function idCheckChar(first17: string): string | null {
  if (!/^\d{17}$/.test(first17)) return null
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]
  return CHECK_CHARS[sum % 11]
}

/** Whether `YYYY-MM-DD` is a real calendar date. */
export function isDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (!m) return false
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const dt = new Date(Date.UTC(y, mo - 1, d))
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d
}

export interface IdNumberInfo {
  region: string
  birthDate: string
  sex: 'male' | 'female'
}

export type IdNumberResult = ({ ok: true } & IdNumberInfo) | ({ ok: false } & Invalid)

/**
 * Checks an 18-character resident ID number: digits, a real and plausible birth date, and the
 * check character. `today` ('YYYY-MM-DD', China time) is a parameter so tests are stable.
 */
export function checkIdNumber(value: string, today: string = todayInChina()): IdNumberResult {
  const v = value.trim()
  const len = [...v].length
  if (len !== 18) return { ok: false, code: 'id_number_length', params: { n: len } }
  const first17 = v.slice(0, 17)
  if (!/^\d{17}$/.test(first17)) return { ok: false, code: 'id_number_format' }
  const ymd = first17.slice(6, 14)
  const birthDate = `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`
  if (!isDate(birthDate) || birthDate < '1900-01-01' || birthDate > today) {
    return { ok: false, code: 'id_number_birth_date', params: { date: ymd } }
  }
  const last = v[17].toUpperCase()
  const expected = idCheckChar(first17) as string
  if (last !== expected) {
    return { ok: false, code: 'id_number_check_digit', params: { expected, actual: last } }
  }
  const sex = Number(first17[16]) % 2 === 1 ? 'male' : 'female'
  return { ok: true, region: first17.slice(0, 6), birthDate, sex }
}

/** Mainland mobile numbers: 11 digits, starting with 1 and a network digit 3–9. */
export function checkMobile(value: string): Invalid | null {
  return /^1[3-9]\d{9}$/.test(value.trim()) ? null : { code: 'mobile', params: { value: value.trim() } }
}

/** A birth date: a real date, not in the future. */
export function checkBirthDate(value: string, today: string = todayInChina()): Invalid | null {
  if (!value.trim()) return { code: 'required' }
  if (!isDate(value.trim())) return { code: 'date' }
  if (value.trim() > today) return { code: 'future_date' }
  return null
}

/** The birth date field must equal the date in a valid ID number (the server refuses otherwise). */
export function checkBirthDateMatches(idNumber: string, birthDate: string, today?: string): Invalid | null {
  if (!idNumber.trim() || !birthDate.trim()) return null
  const id = checkIdNumber(idNumber, today)
  if (!id.ok || id.birthDate === birthDate.trim()) return null
  return { code: 'birth_date_mismatch', params: { date: id.birthDate } }
}

/** Builds a valid ID number from its first 17 digits (demo data and tests). */
export function withCheckChar(first17: string): string {
  const c = idCheckChar(first17)
  if (c === null) throw new Error('first17 must be 17 digits')
  return first17 + c
}
