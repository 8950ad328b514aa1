import { describe, expect, it } from 'vitest'
import { countByKind, indexNodes, matches, placeOptions, placePath, placeTree, type NamedNode } from '../src/lib/structure'

const nodes: NamedNode[] = [
  { id: 'g2', kind: 'grid', name: '第二网格', parent: 'v1', code: '371323001001002', has_boundary: false },
  { id: 'g1', kind: 'grid', name: '第一网格', parent: 'v1', code: '371323001001001', has_boundary: true },
  { id: 'v1', kind: 'village', name: '东关社区', parent: 't1' },
  { id: 'v2', kind: 'village', name: '西关社区', parent: 't1' },
  { id: 'p1', kind: 'department', name: '沂城派出所', parent: 't1' },
  { id: 't1', kind: 'township', name: '沂城街道', parent: 'c' },
  { id: 'd1', kind: 'department', name: '县司法局', parent: 'c' },
  { id: 'c', kind: 'county', name: '沂水县', parent: null },
]

describe("the county's places as trees", () => {
  it('nests places under their parents, townships before departments, grids by code', () => {
    const [county, ...others] = placeTree(nodes)
    expect(others).toEqual([])
    expect(county!.label).toBe('沂水县')
    expect(county!.children.map((c) => c.id)).toEqual(['t1', 'd1'])
    const town = county!.children[0]!
    expect(town.children.map((c) => c.id)).toEqual(['v1', 'v2', 'p1'])
    expect(town.children[0]!.children.map((c) => c.id)).toEqual(['g1', 'g2'])
  })

  it('builds cascader options of every place, or only the branches to a grid', () => {
    const all = placeOptions(nodes)
    expect(all).toHaveLength(1)
    expect(all[0]!.children!.map((o) => o.value)).toEqual(['t1', 'd1'])
    // Township → village → grid: no county level, no department, no village without grids.
    const grids = placeOptions(nodes, { pick: ['grid'], skipCounty: true })
    expect(grids.map((o) => o.value)).toEqual(['t1'])
    expect(grids[0]!.children!.map((o) => o.value)).toEqual(['v1'])
    expect(grids[0]!.children![0]!.children!.map((o) => [o.value, o.label, o.children])).toEqual([
      ['g1', '第一网格', undefined],
      ['g2', '第二网格', undefined],
    ])
  })

  it('keeps a place whose parent is missing as a root', () => {
    const roots = placeTree([{ id: 'x', kind: 'grid', name: '孤立网格', parent: 'gone' }])
    expect(roots.map((r) => r.id)).toEqual(['x'])
  })

  it('names a place by its path below the county', () => {
    const byId = indexNodes(nodes)
    expect(placePath('g1', byId)).toBe('沂城街道 / 东关社区 / 第一网格')
    expect(placePath('d1', byId)).toBe('县司法局')
    expect(placePath('c', byId)).toBe('沂水县')
    expect(placePath('unknown', byId)).toBe('')
  })

  it('counts places by kind and filters by name or code', () => {
    expect(countByKind(nodes)).toEqual({ county: 1, township: 1, village: 2, grid: 2, department: 2 })
    expect(matches(nodes[0]!, '第二')).toBe(true)
    expect(matches(nodes[0]!, '001002')).toBe(true)
    expect(matches(nodes[0]!, '派出所')).toBe(false)
    expect(matches(nodes[0]!, '  ')).toBe(true)
  })
})
