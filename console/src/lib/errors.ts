// An error as a person at the desk reads it, in their language.
import { ApiError } from '../api'

type T = (key: string, values?: Record<string, unknown>) => string

const WORDED = new Set([
  'network',
  'forbidden',
  'not_found',
  'bad_csrf_token',
  'busy',
  'second_factor_required',
  'second_factor_setup_required',
  'second_factor_conflict',
  'wrong_second_factor',
])

export function errorText(t: T, e: unknown): string {
  if (e instanceof ApiError) {
    if (WORDED.has(e.code)) return t(`errors.${e.code}`)
    return t('errors.generic', { message: e.message })
  }
  return t('errors.generic', { message: String(e) })
}
