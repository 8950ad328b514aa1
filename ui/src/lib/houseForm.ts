// The house edit form: strings while typing, numbers and booleans when sent.

import type { FieldChanges, House } from '../types'
import type { Invalid } from './validate'

export interface HouseFormValues {
  township: string
  village: string
  street: string
  building: string
  unit: string
  floor: string
  door: string
  structure: string
  area: string
  use: string
  owner: string
  rented: boolean
  hazards: string
  lat: string
  lng: string
}
export type HouseFormField = keyof HouseFormValues

const TEXT = ['street', 'building', 'unit', 'floor', 'structure', 'use', 'owner', 'hazards'] as const
const NUM = ['area', 'lat', 'lng'] as const

export function fromHouse(h: Partial<House> = {}): HouseFormValues {
  const s = (x: unknown) => (x === null || x === undefined ? '' : String(x))
  return {
    township: s(h.township),
    village: s(h.village),
    street: s(h.street),
    building: s(h.building),
    unit: s(h.unit),
    floor: s(h.floor),
    door: s(h.door),
    structure: s(h.structure),
    area: s(h.area),
    use: s(h.use),
    owner: s(h.owner),
    rented: !!h.rented,
    hazards: s(h.hazards),
    lat: s(h.lat),
    lng: s(h.lng),
  }
}

export function toHouse(id: string, v: HouseFormValues): House {
  const h: House = { id, township: v.township.trim(), village: v.village.trim(), door: v.door.trim(), rented: v.rented }
  for (const k of TEXT) if (v[k].trim()) h[k] = v[k].trim()
  for (const k of NUM) if (v[k].trim()) h[k] = Number(v[k].trim())
  return h
}

export function changedHouseFields(orig: House, v: HouseFormValues): FieldChanges {
  const next = toHouse(orig.id, v)
  const out: FieldChanges = {}
  for (const k of ['township', 'village', 'door', 'rented', ...TEXT, ...NUM] as const) {
    const a = orig[k] ?? null
    const b = next[k] ?? null
    if (k === 'rented' && !a && !b) continue
    if (a !== b) out[k] = b
  }
  return out
}

export function validateHouseForm(v: HouseFormValues): Partial<Record<HouseFormField, Invalid>> {
  const e: Partial<Record<HouseFormField, Invalid>> = {}
  for (const k of ['township', 'village', 'door'] as const) if (!v[k].trim()) e[k] = { code: 'required' }
  const num = (k: (typeof NUM)[number], min: number, max: number) => {
    const t = v[k].trim()
    if (!t) return
    const n = Number(t)
    if (!Number.isFinite(n)) e[k] = { code: 'number' }
    else if (n < min || n > max) e[k] = { code: 'out_of_range', params: { min, max } }
  }
  num('area', 0, 100000)
  num('lat', -90, 90)
  num('lng', -180, 180)
  return e
}
