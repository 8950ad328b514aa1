// The county's places (GET /v1/admin/structure, a flat list with parents) as the trees the
// administrator's screen shows and picks from: el-tree and el-cascader options.
import type { NodeKind } from '../generated/contract'
import type { PlaceNode } from './roles'

/** A place with its name, code and boundary flag (StructureNode's fields the screens read). */
export interface NamedNode extends PlaceNode {
  name: string
  code?: string | null
  has_boundary?: boolean
}

export interface PlaceOption {
  value: string
  label: string
  kind: NodeKind
  children?: PlaceOption[]
}

/** A place and the places under it, for el-tree. */
export interface TreeNode<N extends NamedNode = NamedNode> {
  id: string
  label: string
  node: N
  children: TreeNode<N>[]
}

// Within a parent: its townships (or villages, grids) first, then its departments.
const KIND_ORDER: Record<NodeKind, number> = { county: 0, township: 1, village: 2, grid: 3, department: 4 }

function order(a: NamedNode, b: NamedNode): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.code ?? '').localeCompare(b.code ?? '') || a.name.localeCompare(b.name, 'zh-CN')
}

export function indexNodes<N extends PlaceNode>(nodes: readonly N[]): Map<string, N> {
  return new Map(nodes.map((n) => [n.id, n]))
}

/** The places as a tree: roots are those without a parent (or whose parent is unknown). */
export function placeTree<N extends NamedNode>(nodes: readonly N[]): TreeNode<N>[] {
  const byId = indexNodes(nodes)
  const children = new Map<string, N[]>()
  const roots: N[] = []
  for (const n of nodes) {
    if (n.parent && byId.has(n.parent) && n.parent !== n.id) {
      const list = children.get(n.parent) ?? []
      list.push(n)
      children.set(n.parent, list)
    } else {
      roots.push(n)
    }
  }
  // Depth-bounded: a cycle in a malformed structure is cut rather than followed for ever.
  const build = (n: N, depth: number): TreeNode<N> => ({
    id: n.id,
    label: n.name,
    node: n,
    children: depth > 16 ? [] : (children.get(n.id) ?? []).sort(order).map((c) => build(c, depth + 1)),
  })
  return roots.sort(order).map((r) => build(r, 0))
}

/**
 * Cascader options: every place, or with `pick` only the branches leading to a place of those
 * kinds (a roster's grid: township → village → grid, no department, no village without grids).
 * `skipCounty` starts at the county's children (a county is one root of no choice).
 */
export function placeOptions(
  nodes: readonly NamedNode[],
  opts: { pick?: readonly NodeKind[]; skipCounty?: boolean } = {},
): PlaceOption[] {
  const convert = (t: TreeNode): PlaceOption | null => {
    const children = t.children.map(convert).filter((c): c is PlaceOption => c !== null)
    const pickable = !opts.pick || opts.pick.includes(t.node.kind)
    if (!pickable && children.length === 0) return null
    return { value: t.id, label: t.label, kind: t.node.kind, children: children.length ? children : undefined }
  }
  let roots = placeTree(nodes)
  if (opts.skipCounty) roots = roots.flatMap((r) => (r.node.kind === 'county' ? r.children : [r]))
  return roots.map(convert).filter((c): c is PlaceOption => c !== null)
}

/** 镇街 / 村社区 / 网格: a place's names from below the county down to it. */
export function placePath(id: string, byId: ReadonlyMap<string, NamedNode>): string {
  const names: string[] = []
  let n = byId.get(id)
  for (let i = 0; n && i < 16; i++) {
    if (n.kind !== 'county' || names.length === 0) names.push(n.name)
    n = n.parent ? byId.get(n.parent) : undefined
  }
  return names.reverse().join(' / ')
}

/** How many places of each kind (the structure tab's summary). */
export function countByKind(nodes: readonly PlaceNode[]): Record<NodeKind, number> {
  const out: Record<NodeKind, number> = { county: 0, township: 0, village: 0, grid: 0, department: 0 }
  for (const n of nodes) out[n.kind]++
  return out
}

/** Whether a place's name or code contains the text (the tree's filter box; empty: all). */
export function matches(node: NamedNode, text: string): boolean {
  const q = text.trim().toLowerCase()
  return q === '' || node.name.toLowerCase().includes(q) || (node.code ?? '').toLowerCase().includes(q)
}
