import { describe, expect, it } from 'vitest'
import {
  checkBirthDate,
  checkBirthDateMatches,
  checkIdNumber,
  checkMobile,
  idCheckChar,
  isDate,
  withCheckChar,
} from '../src/lib/validate'
import {
  changedFields,
  fromResident,
  idNumberSuggestion,
  toResident,
  validateResidentForm,
} from '../src/lib/residentForm'
import { changedHouseFields, fromHouse, toHouse, validateHouseForm } from '../src/lib/houseForm'
import { formatDateTime, monthStartMs, parseDateTime, todayInChina } from '../src/lib/time'
import type { Resident } from '../src/types'

const TODAY = '2026-11-20'

describe('ID numbers (GB 11643)', () => {
  it('computes the check character with the standard weights', () => {
    // The standard's worked example.
    expect(idCheckChar('11010519491231002')).toBe('X')
    // Same case as the Rust validator's test: 37132319850312001 + check.
    expect(withCheckChar('37132319850312001')).toHaveLength(18)
    expect(idCheckChar('1234')).toBeNull()
    expect(idCheckChar('1101051949123100A')).toBeNull()
  })

  it('accepts a valid number, upper or lower x, and reads birth date and sex', () => {
    const r = checkIdNumber('11010519491231002X', TODAY)
    expect(r).toEqual({ ok: true, region: '110105', birthDate: '1949-12-31', sex: 'female' })
    expect(checkIdNumber('11010519491231002x', TODAY).ok).toBe(true)
    const male = checkIdNumber(withCheckChar('37132319850312001'), TODAY)
    expect(male.ok && male.sex).toBe('male')
    expect(male.ok && male.birthDate).toBe('1985-03-12')
  })

  it('refuses a wrong check character and says which one is expected', () => {
    const r = checkIdNumber('110105194912310021', TODAY)
    expect(r).toMatchObject({ ok: false, code: 'id_number_check_digit', params: { expected: 'X', actual: '1' } })
  })

  it('refuses bad length, non-digits and impossible birth dates', () => {
    expect(checkIdNumber('1234', TODAY)).toMatchObject({ ok: false, code: 'id_number_length', params: { n: 4 } })
    expect(checkIdNumber('3713231985031200AX', TODAY)).toMatchObject({ ok: false, code: 'id_number_format' })
    expect(checkIdNumber('37132319851332001X', TODAY)).toMatchObject({ ok: false, code: 'id_number_birth_date' })
    expect(checkIdNumber(withCheckChar('37132318990101001'), TODAY)).toMatchObject({ code: 'id_number_birth_date' })
    // Born tomorrow.
    expect(checkIdNumber(withCheckChar('37132320261121001'), TODAY)).toMatchObject({ code: 'id_number_birth_date' })
    expect(checkIdNumber(withCheckChar('37132320261120001'), TODAY).ok).toBe(true)
  })

  it('ignores surrounding spaces', () => {
    expect(checkIdNumber('  11010519491231002X ', TODAY).ok).toBe(true)
  })

  it('compares the birth date field with the ID number', () => {
    expect(checkBirthDateMatches('11010519491231002X', '1949-12-31', TODAY)).toBeNull()
    expect(checkBirthDateMatches('11010519491231002X', '1949-12-30', TODAY)).toEqual({
      code: 'birth_date_mismatch',
      params: { date: '1949-12-31' },
    })
    // Nothing to compare with an invalid or missing number.
    expect(checkBirthDateMatches('123', '1949-12-30', TODAY)).toBeNull()
    expect(checkBirthDateMatches('', '1949-12-30', TODAY)).toBeNull()
  })
})

describe('mobile numbers', () => {
  it.each(['13812345678', '19912345678', ' 15012345678 '])('accepts %s', (m) => expect(checkMobile(m)).toBeNull())
  it.each(['12812345678', '1381234567', '138123456789', '1381234567a', '23812345678', ''])('refuses %s', (m) =>
    expect(checkMobile(m)?.code).toBe('mobile'),
  )
})

describe('dates', () => {
  it('knows real dates', () => {
    expect(isDate('2024-02-29')).toBe(true)
    expect(isDate('2023-02-29')).toBe(false)
    expect(isDate('2023-2-1')).toBe(false)
    expect(checkBirthDate('', TODAY)?.code).toBe('required')
    expect(checkBirthDate('2026-11-21', TODAY)?.code).toBe('future_date')
    expect(checkBirthDate('1990-01-01', TODAY)).toBeNull()
  })

  it('shows and reads times in China time whatever the machine zone', () => {
    // 2023-02-27 00:30 in Beijing is 2023-02-26 16:30 UTC.
    const ms = Date.UTC(2023, 1, 26, 16, 30)
    expect(formatDateTime(ms)).toBe('2023-02-27 00:30')
    expect(todayInChina(ms)).toBe('2023-02-27')
    expect(parseDateTime('2023-02-27 00:30')).toBe(ms)
    expect(parseDateTime('2023-02-30 10:00')).toBeNull()
    expect(parseDateTime('yesterday')).toBeNull()
    expect(formatDateTime(null)).toBe('')
  })

  it('starts the month at midnight in China', () => {
    const ms = Date.UTC(2023, 1, 26, 16, 30) // 27 Feb in China
    expect(monthStartMs(ms)).toBe(Date.UTC(2023, 0, 31, 16, 0)) // 1 Feb 00:00 +08:00
    // 31 Jan 17:00 UTC is already 1 Feb in China.
    expect(monthStartMs(Date.UTC(2023, 0, 31, 17, 0))).toBe(Date.UTC(2023, 0, 31, 16, 0))
  })
})

describe('resident form', () => {
  const zs: Resident = {
    id: 'r1',
    name: '张三',
    sex: 'male',
    birth_date: '1985-03-12',
    id_number: withCheckChar('37132319850312001'),
    phone: '13812345678',
    categories: ['registered'],
    house_id: 'h1',
  }

  it('finds nothing wrong with a good record', () => {
    expect(validateResidentForm(fromResident(zs), TODAY)).toEqual({})
  })

  it('reports each problem on its field', () => {
    const v = fromResident({ ...zs, name: ' ', phone: '1381234', id_number: '110105194912310021' })
    const e = validateResidentForm(v, TODAY)
    expect(e.name?.code).toBe('required')
    expect(e.phone?.code).toBe('mobile')
    expect(e.id_number?.code).toBe('id_number_check_digit')
  })

  it('puts a birth date that disagrees with the ID number on the birth date', () => {
    const e = validateResidentForm(fromResident({ ...zs, birth_date: '1985-03-21' }), TODAY)
    expect(e.birth_date).toEqual({ code: 'birth_date_mismatch', params: { date: '1985-03-12' } })
  })

  it('offers birth date and sex from the ID number when they differ', () => {
    expect(idNumberSuggestion(fromResident(zs), TODAY)).toBeNull()
    const v = fromResident({ ...zs, birth_date: '', sex: undefined })
    expect(idNumberSuggestion(v, TODAY)).toEqual({ birth_date: '1985-03-12', sex: 'male' })
    expect(idNumberSuggestion(fromResident({ ...zs, id_number: '123' }), TODAY)).toBeNull()
  })

  it('sends only changed fields, null for a cleared one, and upper-cases x', () => {
    const v = fromResident(zs)
    v.phone = ''
    v.notes = '新登记'
    v.categories = ['registered', 'veteran']
    expect(changedFields(zs, v)).toEqual({ phone: null, notes: '新登记', categories: ['registered', 'veteran'] })
    expect(changedFields(zs, fromResident(zs))).toEqual({})
    const r = toResident('x1', fromResident({ ...zs, id_number: '11010519491231002x', phone: '' }))
    expect(r.id_number).toBe('11010519491231002X')
    expect('phone' in r).toBe(false)
  })
})

describe('house form', () => {
  it('converts numbers and checks ranges', () => {
    const v = fromHouse({ township: '许家湖镇', village: '东官庄村', door: '12', area: 126 })
    expect(validateHouseForm(v)).toEqual({})
    expect(toHouse('h1', v)).toMatchObject({ area: 126, door: '12', rented: false })
    v.area = '-3'
    v.lat = 'abc'
    v.door = ''
    const e = validateHouseForm(v)
    expect(e.area?.code).toBe('out_of_range')
    expect(e.lat?.code).toBe('number')
    expect(e.door?.code).toBe('required')
  })

  it('sends only changed fields', () => {
    const h = { id: 'h1', township: '许家湖镇', village: '东官庄村', door: '12', owner: '张三', rented: false }
    const v = fromHouse(h)
    v.rented = true
    v.owner = ''
    expect(changedHouseFields(h, v)).toEqual({ rented: true, owner: null })
  })
})
