import { describe, expect, it } from 'vitest'
import type { GridInfo, MapGrid } from '../src/generated/contract'
import {
  areaIndex,
  childGroup,
  coverage,
  coverageGroup,
  crumbPath,
  drillTarget,
  groupKind,
  monthLabel,
  nodeParam,
  topCrumb,
  topKind,
} from '../src/lib/drill'

// Two townships; 高庄镇 has two villages, 东坡村 two grids.
const T1 = '00000000-0000-4000-8000-000000000001'
const T2 = '00000000-0000-4000-8000-000000000002'
const V1 = '00000000-0000-4000-8000-000000000011'
const V2 = '00000000-0000-4000-8000-000000000012'
const V3 = '00000000-0000-4000-8000-000000000021'
const G1 = '00000000-0000-4000-8000-000000000111'
const G2 = '00000000-0000-4000-8000-000000000112'
const G3 = '00000000-0000-4000-8000-000000000121'
const G4 = '00000000-0000-4000-8000-000000000211'

function mapGrid(id: string, township: string | null, village: string | null, over: Partial<MapGrid> = {}): MapGrid {
  return {
    id,
    name: `grid ${id.slice(-3)}`,
    township,
    village,
    boundary: null,
    residents: 0,
    houses: 100,
    visits_this_month: 10,
    open_disputes: 0,
    overdue: 0,
    ...over,
  }
}

const INFO: GridInfo[] = [
  { id: G1, name: '东坡村第1网格', township: '高庄镇', village: '东坡村' },
  { id: G2, name: '东坡村第2网格', township: '高庄镇', village: '东坡村' },
  { id: G3, name: '西岭村第1网格', township: '高庄镇', village: '西岭村' },
  { id: G4, name: '南湖社区第1网格', township: '城关街道', village: '南湖社区' },
]
const MAP: MapGrid[] = [
  mapGrid(G1, T1, V1, { name: '东坡村第1网格', houses: 200, visits_this_month: 30 }),
  mapGrid(G2, T1, V1, { name: '东坡村第2网格', houses: 100, visits_this_month: 0 }),
  mapGrid(G3, T1, V2, { name: '西岭村第1网格', houses: 50, visits_this_month: 40 }),
  mapGrid(G4, T2, V3, { name: '南湖社区第1网格', houses: 0, visits_this_month: 3 }),
]
const INDEX = areaIndex(INFO, MAP)

describe('the drill-down of the workbench', () => {
  it('groups an area by the level below it, a grid by its workers (the end)', () => {
    expect(childGroup('county')).toBe('township')
    expect(childGroup('township')).toBe('village')
    expect(childGroup('village')).toBe('grid')
    expect(childGroup('grid')).toBe('worker')
    expect(groupKind('village')).toBe('village')
    expect(groupKind('worker')).toBeNull()
    expect(groupKind('month')).toBeNull()
    expect(coverageGroup('county')).toBe('township')
    expect(coverageGroup('township')).toBe('village')
    expect(coverageGroup('village')).toBe('grid')
    expect(coverageGroup('grid')).toBe('grid')
  })

  it('starts from the area the role serves; a department from its township or the county', () => {
    expect(topKind('county_staff')).toBe('county')
    expect(topKind('county_department_staff')).toBe('county')
    expect(topKind('township_staff')).toBe('township')
    expect(topKind('township_department_staff')).toBe('township')
    expect(topKind('village_staff')).toBe('village')
    expect(topKind('grid_worker')).toBe('grid')
  })

  it('knows where each place lies from the grids list and the map, joined by grid id', () => {
    expect(INDEX.get(T1)).toEqual({ id: T1, kind: 'township', name: '高庄镇', township: null, village: null })
    expect(INDEX.get(V2)).toEqual({ id: V2, kind: 'village', name: '西岭村', township: T1, village: null })
    expect(INDEX.get(G2)).toEqual({ id: G2, kind: 'grid', name: '东坡村第2网格', township: T1, village: V1 })
    expect(INDEX.size).toBe(9)
    // A grid only one of the lists has is left out.
    const partial = areaIndex(INFO.slice(0, 1), MAP)
    expect([...partial.keys()].sort()).toEqual([G1, T1, V1].sort())
  })

  it('names the top crumb from the index, the county by a word (no list names it)', () => {
    expect(topCrumb('county_staff', INDEX)).toEqual({ id: undefined, kind: 'county', name: null })
    expect(topCrumb('county_staff', INDEX, '宜水县').name).toBe('宜水县')
    const township = areaIndex(INFO.slice(0, 3), MAP.slice(0, 3))
    expect(topCrumb('township_staff', township)).toEqual({ id: undefined, kind: 'township', name: '高庄镇' })
    expect(topCrumb('township_department_staff', township).name).toBe('高庄镇')
    const village = areaIndex(INFO.slice(0, 2), MAP.slice(0, 2))
    expect(topCrumb('village_staff', village)).toEqual({ id: undefined, kind: 'village', name: '东坡村' })
    expect(topCrumb('village_staff', new Map()).name).toBeNull()
  })

  it('builds the path from the caller’s area down to the place drilled into', () => {
    const county = topCrumb('county_staff', INDEX)
    expect(crumbPath(county, INDEX, undefined)).toEqual([county])
    expect(crumbPath(county, INDEX, T1)?.map((c) => c.name)).toEqual([null, '高庄镇'])
    expect(crumbPath(county, INDEX, V1)?.map((c) => c.id)).toEqual([undefined, T1, V1])
    expect(crumbPath(county, INDEX, G2)?.map((c) => [c.kind, c.name])).toEqual([
      ['county', null],
      ['township', '高庄镇'],
      ['village', '东坡村'],
      ['grid', '东坡村第2网格'],
    ])

    // A township's staff: their township is the top, not a crumb of its own.
    const mine = areaIndex(INFO.slice(0, 3), MAP.slice(0, 3))
    const township = topCrumb('township_staff', mine)
    expect(crumbPath(township, mine, G1)?.map((c) => c.name)).toEqual(['高庄镇', '东坡村', '东坡村第1网格'])
    expect(crumbPath(township, mine, T1)).toEqual([township])

    // A place the index does not know (another township's, made up) is none to drill into.
    expect(crumbPath(township, mine, G4)).toBeNull()
    expect(crumbPath(township, mine, '00000000-0000-4000-8000-00000000ffff')).toBeNull()
    // Nor one above the caller's area.
    const village = topCrumb('village_staff', INDEX)
    expect(crumbPath(village, INDEX, T1)).toBeNull()
  })

  it('reads ?node= as one UUID, anything else as malformed', () => {
    expect(nodeParam(undefined)).toBeUndefined()
    expect(nodeParam('')).toBeUndefined()
    expect(nodeParam(G1)).toBe(G1)
    expect(nodeParam(G1.toUpperCase())).toBe(G1)
    expect(nodeParam([V1, G1])).toBe(V1)
    expect(nodeParam('../../v1/admin')).toBeNull()
    expect(nodeParam('1234')).toBeNull()
  })

  it('drills into a bar only of the grouping’s kind, never below a grid', () => {
    expect(drillTarget('township', T1, INDEX)).toBe(T1)
    expect(drillTarget('village', V2, INDEX)).toBe(V2)
    expect(drillTarget('grid', G3, INDEX)).toBe(G3)
    expect(drillTarget('village', T1, INDEX)).toBeNull()
    expect(drillTarget('worker', G1, INDEX)).toBeNull()
    expect(drillTarget('township', '00000000-0000-0000-0000-000000000000', INDEX)).toBeNull()
    expect(drillTarget('township', undefined, INDEX)).toBeNull()
  })

  it('labels a month row yyyy-mm', () => {
    expect(monthLabel('202611')).toBe('2026-11')
    expect(monthLabel('202601')).toBe('2026-01')
    expect(monthLabel('高庄镇')).toBe('高庄镇')
  })

  it('sums visits and houses per child area for the visit coverage, none without houses', () => {
    const townships = coverage(MAP, 'township', INDEX)
    // 高庄镇: 70 visits / 350 houses = 20 per 100; 城关街道: no houses.
    expect(townships).toEqual([
      { id: T1, name: '高庄镇', visits: 70, houses: 350, rate: 20 },
      { id: T2, name: '城关街道', visits: 3, houses: 0, rate: null },
    ])
    const villages = coverage(MAP.slice(0, 3), 'village', INDEX)
    // 西岭村 80 per 100 first, 东坡村 30 / 300 = 10.
    expect(villages.map((r) => [r.name, r.rate])).toEqual([
      ['西岭村', 80],
      ['东坡村', 10],
    ])
    const grids = coverage(MAP.slice(0, 2), 'grid', INDEX)
    expect(grids.map((r) => [r.name, r.rate])).toEqual([
      ['东坡村第1网格', 15],
      ['东坡村第2网格', 0],
    ])
    // One decimal.
    expect(coverage([mapGrid(G1, T1, V1, { houses: 3, visits_this_month: 1 })], 'grid', INDEX)[0].rate).toBe(33.3)
    // A grid without a village is left out of the villages.
    expect(coverage([mapGrid(G1, T1, null)], 'village', INDEX)).toEqual([])
    expect(coverage([], 'township', INDEX)).toEqual([])
  })
})
