// The records and answers of the device backend (field-core behind Tauri commands).
// Records are JSON with snake_case keys, exactly as the Rust structs serialize them.
// Timestamps are milliseconds since the epoch; dates are 'YYYY-MM-DD'.

export type Uuid = string

/** Every rejected command carries a stable code; `field` names the offending field if any. */
export interface ApiError {
  code: string
  message: string
  field?: string
  record?: string
}

export type Role =
  | 'grid_worker'
  | 'grid_assistant'
  | 'grid_leader'
  | 'village_staff'
  | 'township_staff'
  | 'county_staff'
  | 'county_admin'

export interface GridInfo {
  id: Uuid
  name: string
  township: string
  village: string
}

export interface Identity {
  device_id: Uuid
  server: string
  account: { id: Uuid; name: string; role: Role; node: Uuid }
  grids: GridInfo[]
}

export interface LockState {
  /** A PIN-protected device database exists. */
  enrolled: boolean
  /** No device is open (always true before enrolment). */
  locked: boolean
  /** Enrolment succeeded in this run, the PIN is still to be set. */
  awaiting_pin?: boolean
}

export interface Workbench {
  grid: GridInfo | null
  residents: number
  houses: number
  houses_not_visited_this_month: number
  open_disputes: number
  pending_changes: number
  open_conflicts: number
  quarantined: number
  last_sync_at: number | null
}

/** Error codes the screens word themselves (`errors.<code>`) rather than show the backend's text:
 * the device's own English messages for connection set-up, and the server's refusals. */
export const WORDED_ERRORS = [
  'network',
  'not_enrolled',
  'locked',
  'insecure_server_url',
  'bad_server_url',
  'bad_certificate',
  'untrusted_server',
  'too_many_attempts',
  'device_revoked',
] as const

export const POPULATION_CATEGORIES = [
  'registered',
  'floating',
  'overseas',
  'left_behind_elderly',
  'left_behind_women',
  'left_behind_children',
  'living_alone',
  'disabled',
  'low_income',
  'key_person',
  'veteran',
] as const
export type PopulationCategory = (typeof POPULATION_CATEGORIES)[number]

export const RELATIONS = [
  'head',
  'spouse',
  'child',
  'parent',
  'grandchild',
  'grandparent',
  'sibling',
  'tenant',
  'other',
] as const

export const RESIDENT_ARCHIVE_REASONS = ['moved_away', 'deceased', 'duplicate', 'other'] as const
export const STRUCTURES = [
  'brick_concrete',
  'reinforced_concrete',
  'brick_wood',
  'earth_wood',
  'steel',
  'other',
] as const
export const HOUSE_USES = ['residential', 'commercial', 'mixed', 'vacant', 'other'] as const

export type Sex = 'male' | 'female'

export interface ResidentQuery {
  q?: string
  category?: string
  house?: Uuid
  include_archived?: boolean
}

/** A resident as lists show it: ID number and phone already masked by the backend. */
export interface ResidentSummary {
  id: Uuid
  name: string
  sex: Sex
  birth_year: string
  id_number: string | null
  phone: string | null
  categories: string[]
  house_id: Uuid | null
  archived: boolean
}

export interface Resident {
  id: Uuid
  name: string
  sex: Sex
  birth_date: string
  id_number?: string | null
  phone?: string | null
  ethnicity?: string | null
  categories: string[]
  relation?: string | null
  house_id?: Uuid | null
  notes?: string | null
  archived_reason?: string | null
  archived_on?: string | null
}

export interface House {
  id: Uuid
  township: string
  village: string
  street?: string | null
  building?: string | null
  unit?: string | null
  floor?: string | null
  door: string
  structure?: string | null
  area?: number | null
  use?: string | null
  owner?: string | null
  rented?: boolean | null
  hazards?: string | null
  lat?: number | null
  lng?: number | null
  archived_reason?: string | null
  archived_on?: string | null
}

/** Fields of an update: only what changed; `null` clears a field. */
export type FieldChanges = Record<string, unknown>

export const FIVE_CLEARS = ['household', 'population', 'hazards', 'needs', 'attitude'] as const
export type ClearKey = (typeof FIVE_CLEARS)[number]
export type ClearStatus = 'fine' | 'attention'
export interface ClearItem {
  status: ClearStatus
  note?: string
}
export type FiveClears = Record<ClearKey, ClearItem>

export interface NewVisit {
  house_id: Uuid
  resident_id?: Uuid | null
  at?: number | null
  clears: FiveClears
  needs?: string | null
  hazards_found?: string | null
  dispute_id?: Uuid | null
}

export interface Visit extends NewVisit {
  id: Uuid
  at: number
  by: Uuid
}

export const DISPUTE_CLASSES = ['ordinary', 'coordination', 'emergency'] as const
export type DisputeClass = (typeof DISPUTE_CLASSES)[number]
export const DISPUTE_CATEGORIES = [
  'neighbour',
  'family',
  'marriage',
  'land',
  'property',
  'labour',
  'debt',
  'traffic',
  'environment',
  'petition',
  'safety',
  'other',
] as const
export type DisputeCategory = (typeof DISPUTE_CATEGORIES)[number]
export const LEVELS = ['grid', 'community', 'township', 'county'] as const
export type Level = (typeof LEVELS)[number]
export const ACTION_KINDS = [
  'report',
  'intervene',
  'mediate',
  'escalate',
  'assign',
  'supervise',
  'resolve',
  'evaluate',
] as const
export type ActionKind = (typeof ACTION_KINDS)[number]
export const DISPUTE_STATUSES = [
  'reported',
  'in_progress',
  'escalated',
  'assigned',
  'resolved',
  'closed',
] as const
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number]

export interface NewParty {
  resident_id?: Uuid | null
  name: string
}

export interface NewDispute {
  class: DisputeClass
  category: DisputeCategory
  parties: NewParty[]
  place: string
  description: string
  discovered_at?: number | null
  photos: string[]
  note?: string | null
}

/** What a dispute report starts with when opened from elsewhere (a household visit). */
export interface ReportPrefill {
  place?: string
  description?: string
  parties?: NewParty[]
}

export interface DisputeAction {
  id: Uuid
  kind: ActionKind | string
  actor: Uuid
  level: Level | string
  at: number
  to_level?: Level | null
  note?: string | null
}

export interface Dispute {
  id: Uuid
  class: DisputeClass
  category: DisputeCategory | string
  parties: { id: Uuid; resident_id?: Uuid | null; name: string }[]
  place: string
  description: string
  discovered_at: number
  reported_at: number
  reported_by: Uuid
  actions: DisputeAction[]
  photos: string[]
}

export interface DisputeState {
  status: DisputeStatus
  level: Level
  resolved_level?: Level | null
  supervised: boolean
}

export interface DisputeDetail {
  dispute: Dispute
  state: DisputeState
  report_delay_minutes: number
}

export interface SyncReport {
  requests: number
  bytes_up: number
  bytes_down: number
  acknowledged: number
  refused: number
  quarantined: number
  reentered: number
  documents_received: number
}

export interface SyncStatus {
  running: boolean
  last_success_at: number | null
  last_error: { code: string; message: string } | null
  pending: number
  next_attempt_at: number | null
}

export type Collection = 'residents' | 'houses' | 'visits' | 'disputes'

export interface ConflictValue {
  value: unknown
  account: Uuid | null
  device: Uuid | null
  at: number
}

export interface Conflict {
  collection: Collection
  record: Uuid
  /** `phone`, or `categories.floating`, or `clears.needs.status`. */
  field: string
  values: ConflictValue[]
}

export interface DocKey {
  grid: Uuid
  collection: Collection
  month?: number | null
}

export interface QuarantinedEdit {
  id: number
  edit: { doc: DocKey; record: Uuid; creating: boolean; fields: Record<string, unknown> }
  code: string
  record: Uuid | null
  field: string
  message: string
  at: number
}

export interface HistoryEntry {
  at: number
  account: Uuid | null
  device: Uuid | null
  field: string
  value: unknown
}
