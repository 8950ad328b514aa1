// The resident edit form: what it holds, how it is checked, and what it sends
// (a whole record to create_resident, only the changed fields to update_resident).

import type { FieldChanges, Resident, Sex } from '../types'
import { checkBirthDate, checkBirthDateMatches, checkIdNumber, checkMobile, type Invalid } from './validate'

export interface ResidentFormValues {
  name: string
  sex: Sex | ''
  birth_date: string
  id_number: string
  phone: string
  ethnicity: string
  categories: string[]
  relation: string
  notes: string
  house_id: string | null
}

export type ResidentFormField = keyof ResidentFormValues

export function fromResident(r: Partial<Resident> = {}): ResidentFormValues {
  return {
    name: r.name ?? '',
    sex: r.sex ?? '',
    birth_date: r.birth_date ?? '',
    id_number: r.id_number ?? '',
    phone: r.phone ?? '',
    ethnicity: r.ethnicity ?? '',
    categories: [...(r.categories ?? [])],
    relation: r.relation ?? '',
    notes: r.notes ?? '',
    house_id: r.house_id ?? null,
  }
}

const OPTIONAL_TEXT = ['id_number', 'phone', 'ethnicity', 'relation', 'notes'] as const

/** A whole record for create_resident; empty optional fields are left out. */
export function toResident(id: string, v: ResidentFormValues): Resident {
  const r: Resident = {
    id,
    name: v.name.trim(),
    sex: v.sex as Sex,
    birth_date: v.birth_date.trim(),
    categories: [...v.categories],
  }
  for (const k of OPTIONAL_TEXT) {
    const t = v[k].trim()
    if (t) r[k] = k === 'id_number' ? t.toUpperCase() : t
  }
  if (v.house_id) r.house_id = v.house_id
  return r
}

/** Only what changed against `orig`; a cleared optional field is sent as null. */
export function changedFields(orig: Resident, v: ResidentFormValues): FieldChanges {
  const next = toResident(orig.id, v)
  const out: FieldChanges = {}
  const keys = ['name', 'sex', 'birth_date', ...OPTIONAL_TEXT, 'house_id'] as const
  for (const k of keys) {
    const a = orig[k] ?? null
    const b = next[k] ?? null
    if (a !== b) out[k] = b
  }
  const sameCats =
    orig.categories.length === next.categories.length && orig.categories.every((c) => next.categories.includes(c))
  if (!sameCats) out.categories = next.categories
  return out
}

/** Every problem the form can see by itself, by field. */
export function validateResidentForm(v: ResidentFormValues, today?: string): Partial<Record<ResidentFormField, Invalid>> {
  const e: Partial<Record<ResidentFormField, Invalid>> = {}
  if (!v.name.trim()) e.name = { code: 'required' }
  else if ([...v.name.trim()].length > 40) e.name = { code: 'too_long', params: { max: 40 } }
  if (!v.sex) e.sex = { code: 'required' }
  const bd = checkBirthDate(v.birth_date, today)
  if (bd) e.birth_date = bd
  if (v.id_number.trim()) {
    const id = checkIdNumber(v.id_number, today)
    if (!id.ok) e.id_number = { code: id.code, params: id.params }
    else if (!bd) {
      const m = checkBirthDateMatches(v.id_number, v.birth_date, today)
      if (m) e.birth_date = m
    }
  }
  if (v.phone.trim()) {
    const m = checkMobile(v.phone)
    if (m) e.phone = m
  }
  if ([...v.notes].length > 2000) e.notes = { code: 'too_long', params: { max: 2000 } }
  return e
}

/** What a valid ID number says that the form does not yet agree with (to offer filling it in). */
export function idNumberSuggestion(v: ResidentFormValues, today?: string): { birth_date: string; sex: Sex } | null {
  if (!v.id_number.trim()) return null
  const id = checkIdNumber(v.id_number, today)
  if (!id.ok) return null
  if (id.birthDate === v.birth_date.trim() && id.sex === v.sex) return null
  return { birth_date: id.birthDate, sex: id.sex }
}
