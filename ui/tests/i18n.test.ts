import { describe, expect, it } from 'vitest'
import zhCN from '../src/i18n/zh-CN'
import en from '../src/i18n/en'
import {
  ACTION_KINDS,
  DISPUTE_CATEGORIES,
  DISPUTE_CLASSES,
  DISPUTE_STATUSES,
  FIVE_CLEARS,
  HOUSE_USES,
  LEVELS,
  POPULATION_CATEGORIES,
  RELATIONS,
  RESIDENT_ARCHIVE_REASONS,
  SATISFACTION,
  STRUCTURES,
  WORDED_ERRORS,
} from '../src/types'

type Tree = { [k: string]: string | Tree }

function leaves(t: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(t)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (typeof v === 'string') out.set(key, v)
    else for (const [kk, vv] of leaves(v, key)) out.set(kk, vv)
  }
  return out
}

const zh = leaves(zhCN as Tree)
const enL = leaves(en as Tree)
const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('message files', () => {
  it('have exactly the same keys in Chinese and English', () => {
    expect([...zh.keys()].filter((k) => !enL.has(k))).toEqual([])
    expect([...enL.keys()].filter((k) => !zh.has(k))).toEqual([])
  })

  it('have no empty message and the same {parameters} in both languages', () => {
    for (const [k, v] of zh) {
      expect(v.trim(), k).not.toBe('')
      expect(params(enL.get(k) ?? ''), k).toEqual(params(v))
    }
  })

  it('word every error code the screens word themselves, in both languages', () => {
    for (const code of WORDED_ERRORS) {
      expect(zh.get(`errors.${code}`), code).toBeTruthy()
      expect(enL.get(`errors.${code}`), code).toBeTruthy()
    }
  })

  it('name every value of every enumeration the backend uses', () => {
    const groups: [string, readonly string[]][] = [
      ['category', POPULATION_CATEGORIES],
      ['relation', RELATIONS],
      ['archiveReason', RESIDENT_ARCHIVE_REASONS],
      ['structure', STRUCTURES],
      ['houseUse', HOUSE_USES],
      ['clears', FIVE_CLEARS],
      ['disputeClass', DISPUTE_CLASSES],
      ['disputeCategory', DISPUTE_CATEGORIES],
      ['level', LEVELS],
      ['actionKind', ACTION_KINDS],
      ['status', DISPUTE_STATUSES],
      ['satisfaction', SATISFACTION],
      ['dispute', ACTION_KINDS.filter((k) => k !== 'report')],
    ]
    for (const [g, values] of groups) for (const v of values) expect(zh.has(`${g}.${v}`), `${g}.${v}`).toBe(true)
  })

  it('contain every key the source code asks for by name', () => {
    // Every source file as text, through Vite (no Node APIs needed).
    const sources = import.meta.glob(['../src/**/*.ts', '../src/**/*.vue', '!../src/i18n/**'], {
      query: '?raw',
      import: 'default',
      eager: true,
    }) as Record<string, string>
    const files = Object.keys(sources)
    const missing: string[] = []
    let checked = 0
    for (const f of files) {
      for (const m of sources[f].matchAll(/\bt\(\s*'([a-zA-Z_]+(?:\.[a-zA-Z_]+)+)'/g)) {
        checked++
        if (!zh.has(m[1])) missing.push(`${f}: ${m[1]}`)
      }
    }
    expect(files.length).toBeGreaterThan(10)
    expect(checked).toBeGreaterThan(150)
    expect(missing).toEqual([])
  })

  it('use the grid workers’ own terms in Chinese', () => {
    const all = [...zh.values()].join('\n')
    for (const term of ['网格员', '实有人口', '实有房屋', '人房关联', '入户走访', '五个清', '矛盾纠纷', '上报', '化解', '待同步', '隔离区']) {
      expect(all, term).toContain(term)
    }
  })
})
