import { describe, expect, it } from 'vitest'
import zh from '../src/i18n/zh-CN'
import en from '../src/i18n/en'
import { ACTION_KINDS, DISPUTE_CATEGORIES, DISPUTE_CLASSES, DISPUTE_STATUSES, LEVELS, POPULATION_CATEGORIES } from '../src/generated/contract'

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`],
  )
}

describe('console texts', () => {
  it('English has every Chinese key and no other', () => {
    expect(keys(en).sort()).toEqual(keys(zh).sort())
  })

  it('every value of the contract has a name in both languages', () => {
    for (const msgs of [zh, en]) {
      for (const s of DISPUTE_STATUSES) expect(msgs.status[s], s).toBeTruthy()
      for (const l of LEVELS) expect(msgs.level[l], l).toBeTruthy()
      for (const c of DISPUTE_CLASSES) expect(msgs.disputeClass[c], c).toBeTruthy()
      for (const c of DISPUTE_CATEGORIES) expect(msgs.disputeCategory[c], c).toBeTruthy()
      for (const k of ACTION_KINDS) expect(msgs.actionKind[k], k).toBeTruthy()
      for (const c of POPULATION_CATEGORIES) expect(msgs.category[c], c).toBeTruthy()
    }
  })
})

describe('relations', () => {
  it('every relation to the household head has a name in both languages', async () => {
    const { RELATIONS } = await import('../src/generated/contract')
    for (const msgs of [zh, en]) for (const r of RELATIONS) expect(msgs.relation[r], r).toBeTruthy()
  })
})
