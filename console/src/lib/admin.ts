// Small pure pieces of the administrator's screen (管理): the audit's kinds of read, roster files,
// a rejected roster's rows in the reader's language, and the
// refusals the admin endpoints word.
import type { Problem, ReadKind } from '../generated/contract'
import { ElMessageBox } from 'element-plus'
import { ApiError } from '../api'
import { errorText } from './errors'

type T = (key: string, values?: Record<string, unknown>) => string

/** Every kind of audited read (`ReadKind`), in the order the filter lists them. */
export const READ_KINDS = [
  'log_in',
  'resident_list',
  'resident_record',
  'reveal',
  'house_list',
  'dispute_list',
  'history',
  'conflicts',
  'roster_export',
  'photo',
  'snapshot',
  'catch_up',
] as const satisfies readonly ReadKind[]

// A kind added to the contract and missing here fails the type check.
type Missing = Exclude<ReadKind, (typeof READ_KINDS)[number]>
const _allKinds: Missing extends never ? true : Missing = true
void _allKinds

/** The largest request body the server takes (county-server's MAX_BODY_BYTES). */
export const MAX_ROSTER_BYTES = 8 * 1024 * 1024

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** A roster file's format by its name: CSV or Excel (.xlsx); null for anything else. */
export function rosterFormat(fileName: string): 'csv' | 'xlsx' | null {
  const ext = fileName.toLowerCase().split('.').pop()
  return ext === 'csv' ? 'csv' : ext === 'xlsx' ? 'xlsx' : null
}

/** A rejected row's message in the reader's language (the server sends both). */
export function problemMessage(p: Pick<Problem, 'message' | 'message_en'>, locale: string): string {
  return locale === 'en' ? p.message_en || p.message : p.message || p.message_en
}

/** Bytes as a person reads them: 512 B, 3.4 KB, 1.2 MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

// Refusals of the admin endpoints that a person at the desk can act on, in their words.
const ADMIN_WORDED = new Set([
  'role_node_mismatch',
  'weak_password',
  'login_taken',
  'unknown_node',
  'unknown_account',
  'body_too_large',
  'unknown_format',
  'bad_encoding',
  'bad_workbook',
  'no_header',
  'duplicate_column',
  'too_many_rows',
  'empty_roster',
  'roster_rejected',
])

export function adminErrorText(t: T, e: unknown): string {
  if (e instanceof ApiError && ADMIN_WORDED.has(e.code)) return t(`admin.errors.${e.code}`)
  return errorText(t, e)
}

/**
 * Asks before an act that cannot be undone (revoking, issuing, ending sessions): the message,
 * and a confirm button named `action` (also the box's title). Whether the person confirmed.
 */
export async function confirmed(t: T, message: string, action: string): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, action, {
      type: 'warning',
      confirmButtonText: action,
      cancelButtonText: t('admin.cancel'),
    })
    return true
  } catch {
    return false
  }
}
