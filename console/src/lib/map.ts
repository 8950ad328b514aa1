// The map of the caller's grids: the grids' boundaries (GeoJSON from the county's setup file,
// no online tiles) as one FeatureCollection ECharts can draw, and the figures it is coloured by.
import type { MapGrid } from '../generated/contract'

export const MAP_FIGURES = ['open_disputes', 'overdue', 'visit_rate', 'residents'] as const
export type MapFigure = (typeof MAP_FIGURES)[number]

/** One grid's value of a figure; visits per 100 houses for the visit rate (none without houses). */
export function figureOf(g: MapGrid, figure: MapFigure): number | null {
  switch (figure) {
    case 'open_disputes':
      return g.open_disputes
    case 'overdue':
      return g.overdue
    case 'residents':
      return g.residents
    case 'visit_rate':
      return g.houses === 0 ? null : Math.round((g.visits_this_month * 100) / g.houses)
  }
}

type Geometry = { type: 'Polygon' | 'MultiPolygon'; coordinates: unknown }
export type GridFeature = {
  type: 'Feature'
  properties: { name: string }
  geometry: Geometry
}

/** A grid's boundary as the setup file gave it, if it is a polygon ECharts can draw. */
export function geometryOf(boundary: string | null | undefined): Geometry | null {
  if (!boundary) return null
  try {
    const g = JSON.parse(boundary) as Partial<Geometry>
    if ((g.type === 'Polygon' || g.type === 'MultiPolygon') && Array.isArray(g.coordinates)) return g as Geometry
  } catch {
    // A boundary the server accepted is valid GeoJSON; anything else is left off the map.
  }
  return null
}

/** The grids with a boundary as features named by the grid's id (ids are unique, names not). */
export function featureCollection(grids: MapGrid[]): {
  type: 'FeatureCollection'
  features: GridFeature[]
  missing: number
} {
  const features: GridFeature[] = []
  let missing = 0
  for (const g of grids) {
    const geometry = geometryOf(g.boundary)
    if (geometry) features.push({ type: 'Feature', properties: { name: g.id }, geometry })
    else missing++
  }
  return { type: 'FeatureCollection', features, missing }
}

/** The highest value of a figure, for the colour scale (at least 1, so an all-zero map is pale). */
export function scaleMax(grids: MapGrid[], figure: MapFigure): number {
  let max = 1
  for (const g of grids) {
    const v = figureOf(g, figure)
    if (v !== null && v > max) max = v
  }
  return max
}
