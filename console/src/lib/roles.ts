// Which roles an account may have at a place, and what a console password must be: the server's
// rules (sync-protocol's `Role::fits`, county-server's `check_password`) said again so the forms
// offer only what the server will take. The server checks them again.
import type { NodeKind, Role } from '../generated/contract'

/** A place as the rules need it: its kind and its parent (StructureNode has both). */
export interface PlaceNode {
  id: string
  kind: NodeKind
  parent?: string | null
}

/** Every role, in the order the forms list them (the grid's team first, as DOMAIN.md does). */
export const ROLES = [
  'grid_worker',
  'grid_assistant',
  'grid_leader',
  'grid_instructor',
  'party_helper',
  'village_staff',
  'township_staff',
  'township_department_staff',
  'county_staff',
  'county_department_staff',
  'county_admin',
] as const satisfies readonly Role[]

// A role added to the contract and missing here fails the type check.
type Missing = Exclude<Role, (typeof ROLES)[number]>
const _allRoles: Missing extends never ? true : Missing = true
void _allRoles

/** The kind of place a role's account is scoped to (`Role::node_kind`). */
export function roleNodeKind(role: Role): NodeKind {
  switch (role) {
    case 'grid_worker':
    case 'grid_assistant':
    case 'grid_leader':
    case 'grid_instructor':
    case 'party_helper':
      return 'grid'
    case 'village_staff':
      return 'village'
    case 'township_staff':
      return 'township'
    case 'township_department_staff':
    case 'county_department_staff':
      return 'department'
    case 'county_staff':
    case 'county_admin':
      return 'county'
  }
}

/** Whether a place lies under a township (a township's department: 派出所, 司法所 …). */
export function underTownship(node: PlaceNode, byId: ReadonlyMap<string, PlaceNode>): boolean {
  // Bounded: a malformed structure with a cycle cannot hang the page.
  let parent = node.parent
  for (let i = 0; parent && i < 16; i++) {
    const p = byId.get(parent)
    if (!p) return false
    if (p.kind === 'township') return true
    parent = p.parent
  }
  return false
}

/**
 * `Role::fits`: a place of the role's kind, and for department staff a department at their
 * level (a township's department for township staff, a county department for county staff).
 */
export function roleFits(role: Role, node: PlaceNode, byId: ReadonlyMap<string, PlaceNode>): boolean {
  if (node.kind !== roleNodeKind(role)) return false
  if (role === 'township_department_staff') return underTownship(node, byId)
  if (role === 'county_department_staff') return !underTownship(node, byId)
  return true
}

/** The roles an account at this place may have. */
export function rolesFor(node: PlaceNode | undefined, byId: ReadonlyMap<string, PlaceNode>): Role[] {
  return node ? ROLES.filter((r) => roleFits(r, node, byId)) : []
}

/** A grid's team works on handhelds; the server gives only staff a console log-in. */
export function hasConsoleLogIn(role: Role): boolean {
  return roleNodeKind(role) !== 'grid'
}

export const MIN_PASSWORD = 10

/**
 * What is wrong with a new console password, as `check_password` refuses it: fewer than 10
 * characters, or fewer than two kinds (letters, digits, others); null when it is fine.
 */
export function passwordProblem(password: string): 'short' | 'kinds' | null {
  if ([...password].length < MIN_PASSWORD) return 'short'
  const kinds = [/\p{Alphabetic}/u, /[0-9]/, /[^\p{Alphabetic}\p{N}]/u].filter((k) => k.test(password)).length
  return kinds < 2 ? 'kinds' : null
}
