import { describe, expect, it } from 'vitest'
import type { MapGrid } from '../src/generated/contract'
import { featureCollection, figureOf, geometryOf, scaleMax } from '../src/lib/map'

const square = '{"type":"Polygon","coordinates":[[[118.6,35.7],[118.61,35.7],[118.61,35.71],[118.6,35.71],[118.6,35.7]]]}'

function grid(over: Partial<MapGrid>): MapGrid {
  return {
    id: 'g1',
    name: '东坡村第1网格',
    township: null,
    village: null,
    boundary: square,
    residents: 812,
    houses: 300,
    visits_this_month: 45,
    open_disputes: 3,
    overdue: 1,
    ...over,
  }
}

describe('the map of grids', () => {
  it('draws the grids that have a boundary, named by id, and counts the rest', () => {
    const fc = featureCollection([
      grid({}),
      grid({ id: 'g2', boundary: null }),
      grid({ id: 'g3', boundary: '{"type":"Point","coordinates":[1,2]}' }),
      grid({ id: 'g4', boundary: 'not json' }),
    ])
    expect(fc.features.map((f) => f.properties.name)).toEqual(['g1'])
    expect(fc.missing).toBe(3)
    expect(geometryOf('{"type":"MultiPolygon","coordinates":[]}')?.type).toBe('MultiPolygon')
  })

  it('colours by the chosen figure; visits per 100 houses, none without houses', () => {
    expect(figureOf(grid({}), 'open_disputes')).toBe(3)
    expect(figureOf(grid({}), 'overdue')).toBe(1)
    expect(figureOf(grid({}), 'visit_rate')).toBe(15)
    expect(figureOf(grid({ houses: 0 }), 'visit_rate')).toBeNull()
    expect(scaleMax([grid({}), grid({ residents: 2000 })], 'residents')).toBe(2000)
    expect(scaleMax([grid({ open_disputes: 0 })], 'open_disputes')).toBe(1)
  })
})
