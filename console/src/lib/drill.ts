// The workbench's drill-down: county → township → village → grid (→ the grid's workers). Which
// grouping the figures of an area use, where a place lies (from the caller's grids: their names
// from GET /v1/grids, the ids of their township and village from GET /v1/map, as 地图 reads
// them), the breadcrumb's path, and the visit coverage per child area. Pure functions.
import type { FigureGroup, GridInfo, MapGrid, Role } from '../generated/contract'

/** The kinds of area a chart can be drilled into. */
export type AreaKind = 'county' | 'township' | 'village' | 'grid'

/** A township, village or grid of the caller's scope. */
export interface Area {
  id: string
  kind: AreaKind
  name: string
  /** The township for a village or a grid. */
  township: string | null
  /** The village for a grid. */
  village: string | null
}

export type AreaIndex = ReadonlyMap<string, Area>

/** One crumb of the path: `id` undefined for the caller's own area (the top, no `?node=`). */
export interface Crumb {
  id: string | undefined
  kind: AreaKind
  /** Null when no list names it (the county: no list of the caller's names its county). */
  name: string | null
}

const DEPTH: Record<AreaKind, number> = { county: 0, township: 1, village: 2, grid: 3 }

/**
 * The area a role's figures cover when nothing is drilled into: a department works the disputes
 * of the area it serves (a township's department its township, a county department the county).
 */
export function topKind(role: Role): AreaKind {
  switch (role) {
    case 'village_staff':
      return 'village'
    case 'township_staff':
    case 'township_department_staff':
      return 'township'
    case 'county_staff':
    case 'county_department_staff':
    case 'county_admin':
      return 'county'
    default:
      // A grid's team (handhelds, not the console).
      return 'grid'
  }
}

/** What the figures of an area are grouped by: the level below it; a grid's, by worker. */
export function childGroup(kind: AreaKind): FigureGroup {
  switch (kind) {
    case 'county':
      return 'township'
    case 'township':
      return 'village'
    case 'village':
      return 'grid'
    case 'grid':
      return 'worker'
  }
}

/** The kind of area a grouping's rows are, when a row can be drilled into (not a worker). */
export function groupKind(group: FigureGroup): AreaKind | null {
  switch (group) {
    case 'township':
    case 'village':
    case 'grid':
      return group
    default:
      return null
  }
}

/**
 * The townships, villages and grids of the caller's scope, by id: a grid's name and the names
 * of its township and village from the grids list, the ids of its township and village from the
 * map's list (joined by the grid's id). A grid missing from either list is left out.
 */
export function areaIndex(grids: readonly GridInfo[], map: readonly MapGrid[]): Map<string, Area> {
  const info = new Map(grids.map((g) => [g.id, g]))
  const index = new Map<string, Area>()
  for (const m of map) {
    const g = info.get(m.id)
    if (!g) continue
    const township = m.township ?? null
    const village = m.village ?? null
    if (township && !index.has(township)) {
      index.set(township, { id: township, kind: 'township', name: g.township, township: null, village: null })
    }
    if (village && !index.has(village)) {
      index.set(village, { id: village, kind: 'village', name: g.village, township, village: null })
    }
    index.set(m.id, { id: m.id, kind: 'grid', name: m.name || g.name, township, village })
  }
  return index
}

/**
 * The caller's own area, the first crumb: its kind by role, its name from the index (the
 * county's from `countyName`, the session's place for county staff: no list names the county).
 */
export function topCrumb(role: Role, index: AreaIndex, countyName: string | null = null): Crumb {
  const kind = topKind(role)
  if (kind === 'county') return { id: undefined, kind, name: countyName || null }
  // Everything in the index lies in the caller's area: any area of its kind is that area.
  for (const a of index.values()) if (a.kind === kind) return { id: undefined, kind, name: a.name }
  return { id: undefined, kind, name: null }
}

/**
 * The path from the caller's own area down to `node`: the top crumb, then the township, village
 * and grid above and at `node` that lie below the top. Only the top for no node (or the caller's
 * own area asked for by id); null for a place the index does not know or that is not below the
 * top (not one this caller can drill into).
 */
export function crumbPath(top: Crumb, index: AreaIndex, node: string | null | undefined): Crumb[] | null {
  if (!node) return [top]
  const area = index.get(node)
  if (!area) return null
  if (area.kind === top.kind) return [top] // the caller's own area by its id
  if (DEPTH[area.kind] <= DEPTH[top.kind]) return null
  const path: Crumb[] = [top]
  for (const id of [area.township, area.village]) {
    const a = id ? index.get(id) : undefined
    if (a && DEPTH[a.kind] > DEPTH[top.kind]) path.push({ id: a.id, kind: a.kind, name: a.name })
  }
  path.push({ id: area.id, kind: area.kind, name: area.name })
  return path
}

/** The id of a drilled place from the route's `?node=` (one value, a UUID), else undefined. */
export function nodeParam(value: unknown): string | undefined | null {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') return null
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? v.toLowerCase() : null
}

/** A child area a figures row can be drilled into: one the index knows, of the grouping's kind. */
export function drillTarget(group: FigureGroup, id: string | null | undefined, index: AreaIndex): string | null {
  const kind = groupKind(group)
  if (!kind || !id) return null
  return index.get(id)?.kind === kind ? id : null
}

/** `yyyymm` (a month row's name) as `yyyy-mm`; anything else as given. */
export function monthLabel(name: string): string {
  return /^\d{6}$/.test(name) ? `${name.slice(0, 4)}-${name.slice(4)}` : name
}

/** One child area's visits this month against its houses. */
export interface CoverageRow {
  id: string
  name: string
  visits: number
  houses: number
  /** Visits per 100 houses, to one decimal; null without houses. */
  rate: number | null
}

/**
 * Visits this month per 100 houses of each child area (`by`: township, village or grid), summed
 * over its grids (sum of visits / sum of houses × 100), highest first; a grid whose area is
 * missing is left out. Names from the index, the grid's own name for a grid.
 */
export function coverage(grids: readonly MapGrid[], by: 'township' | 'village' | 'grid', index: AreaIndex): CoverageRow[] {
  const sums = new Map<string, { name: string; visits: number; houses: number }>()
  for (const g of grids) {
    const id = by === 'grid' ? g.id : by === 'village' ? g.village : g.township
    if (!id) continue
    const s = sums.get(id) ?? { name: by === 'grid' ? g.name : (index.get(id)?.name ?? id), visits: 0, houses: 0 }
    s.visits += g.visits_this_month
    s.houses += g.houses
    sums.set(id, s)
  }
  const rows = [...sums].map(([id, s]) => ({
    id,
    name: s.name,
    visits: s.visits,
    houses: s.houses,
    rate: s.houses === 0 ? null : Math.round((s.visits * 1000) / s.houses) / 10,
  }))
  return rows.sort((a, b) => (b.rate ?? -1) - (a.rate ?? -1) || a.name.localeCompare(b.name, 'zh-CN'))
}

/** Which grouping the coverage chart of an area uses: its children, or the grid itself at the end. */
export function coverageGroup(kind: AreaKind): 'township' | 'village' | 'grid' {
  const g = childGroup(kind)
  return g === 'township' || g === 'village' ? g : 'grid'
}
