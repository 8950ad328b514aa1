// Small helpers every screen uses to word errors, field names and values.

import { useI18n } from 'vue-i18n'
import type { Invalid } from './lib/validate'
import { WORDED_ERRORS, type ApiError } from './types'

/** Fields whose values are enumerations, with the message group that names them. */
const ENUM_GROUPS: Record<string, string> = {
  sex: 'sex',
  relation: 'relation',
  archived_reason: 'archiveReason',
  structure: 'structure',
  use: 'houseUse',
  class: 'disputeClass',
  category: 'disputeCategory',
  status: 'visit',
}

export function useMessages() {
  const { t, te } = useI18n()

  /** A form check's problem, in words. */
  const invalidText = (inv: Invalid | null | undefined, label = ''): string =>
    inv ? t(`validation.${inv.code}`, { label, ...(inv.params ?? {}) }) : ''

  /** A backend error in words: ours for the codes we word (in the screen's language), else the
   * backend's own message. */
  const errorText = (e: ApiError): string => {
    if ((WORDED_ERRORS as readonly string[]).includes(e.code)) return t(`errors.${e.code}`)
    return e.message || t('errors.generic', { message: e.code })
  }

  /** The top-level field a backend error names (`categories.floating` → `categories`). */
  const errorField = (e: ApiError): string | null => (e.field ? e.field.split('.')[0] : null)

  /** A field path as people read it: `categories.floating` → 人口类别·流动人口. */
  const fieldLabel = (path: string): string => {
    const [top, sub, leaf] = path.split('.')
    const base = te(`field.${top}`) ? t(`field.${top}`) : top
    if (!sub) return base
    if (top === 'categories' && te(`category.${sub}`)) return `${base}·${t(`category.${sub}`)}`
    if (top === 'clears' && te(`clears.${sub}`)) return `${t(`clears.${sub}`)}${leaf === 'note' ? '·' + t('visit.note') : ''}`
    return `${base}·${sub}`
  }

  /** A field's value as people read it. */
  const valueText = (path: string, v: unknown): string => {
    if (v === null || v === undefined || v === '') return t('app.none')
    if (typeof v === 'boolean') return v ? t('house.yes') : t('house.no')
    const leaf = path.split('.').pop() as string
    const group = ENUM_GROUPS[leaf]
    if (group && typeof v === 'string') {
      const key = group === 'visit' ? `visit.${v}` : `${group}.${v}`
      if (te(key)) return t(key)
    }
    if (Array.isArray(v) && path === 'categories') return v.map((c) => (te(`category.${c}`) ? t(`category.${c}`) : c)).join('、')
    return typeof v === 'object' ? JSON.stringify(v) : String(v)
  }

  return { t, te, invalidText, errorText, errorField, fieldLabel, valueText }
}
