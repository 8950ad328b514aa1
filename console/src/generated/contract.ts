// Generated from the Rust contracts in sync-protocol (src/ts.rs). Do not edit:
// cargo run -p sync-protocol --features ts --bin contract-ts

export const SEXES = ['male', 'female'] as const
export type Sex = (typeof SEXES)[number]
export const POPULATION_CATEGORIES = ['registered', 'floating', 'overseas', 'left_behind_elderly', 'left_behind_women', 'left_behind_children', 'living_alone', 'disabled', 'low_income', 'key_person', 'veteran'] as const
export type PopulationCategory = (typeof POPULATION_CATEGORIES)[number]
export const RELATIONS = ['head', 'spouse', 'child', 'parent', 'grandchild', 'grandparent', 'sibling', 'tenant', 'other'] as const
export type Relation = (typeof RELATIONS)[number]
export const RESIDENT_ARCHIVE_REASONS = ['moved_away', 'deceased', 'duplicate', 'other'] as const
export type ResidentArchiveReason = (typeof RESIDENT_ARCHIVE_REASONS)[number]
export const HOUSE_ARCHIVE_REASONS = ['demolished', 'merged', 'duplicate', 'other'] as const
export type HouseArchiveReason = (typeof HOUSE_ARCHIVE_REASONS)[number]
export const STRUCTURES = ['brick_concrete', 'reinforced_concrete', 'brick_wood', 'earth_wood', 'steel', 'other'] as const
export type Structure = (typeof STRUCTURES)[number]
export const HOUSE_USES = ['residential', 'commercial', 'mixed', 'vacant', 'other'] as const
export type HouseUse = (typeof HOUSE_USES)[number]
export const CLEAR_STATUSES = ['fine', 'attention'] as const
export type ClearStatus = (typeof CLEAR_STATUSES)[number]
export const FIVE_CLEARS = ['household', 'population', 'hazards', 'needs', 'attitude'] as const
export type ClearKey = (typeof FIVE_CLEARS)[number]
export const DISPUTE_CLASSES = ['ordinary', 'coordination', 'emergency'] as const
export type DisputeClass = (typeof DISPUTE_CLASSES)[number]
export const DISPUTE_CATEGORIES = ['neighbour', 'family', 'marriage', 'land', 'property', 'labour', 'debt', 'traffic', 'environment', 'petition', 'safety', 'other'] as const
export type DisputeCategory = (typeof DISPUTE_CATEGORIES)[number]
export const ACTION_KINDS = ['report', 'accept', 'intervene', 'mediate', 'assign', 'feedback', 'verify', 'return', 'escalate', 'supervise', 'resolve', 'evaluate', 'archive'] as const
export type ActionKind = (typeof ACTION_KINDS)[number]
export const SATISFACTION = ['satisfied', 'basically_satisfied', 'dissatisfied'] as const
export type Satisfaction = (typeof SATISFACTION)[number]
export const LEVELS = ['grid', 'community', 'township', 'county'] as const satisfies readonly Level[]
export const DISPUTE_STATUSES = ['reported', 'escalated', 'accepted', 'in_progress', 'assigned', 'fed_back', 'returned', 'verified', 'resolved', 'evaluated', 'closed'] as const satisfies readonly DisputeStatus[]

/** Every stable error code (`sync_protocol::error::ErrorCode`); 'unrecognised' is one from a newer peer. */
export type ErrorCode = 'required' | 'too_long' | 'wrong_type' | 'unknown_field' | 'unknown_value' | 'id_number_length' | 'id_number_format' | 'id_number_birth_date' | 'id_number_check_digit' | 'birth_date_mismatch' | 'mobile' | 'date' | 'out_of_range' | 'record_exists' | 'record_missing' | 'append_only' | 'delete_not_allowed' | 'unsupported_operation' | 'foreign_document' | 'not_permitted' | 'actor_mismatch' | 'not_holder' | 'not_above' | 'not_assignee' | 'not_next_level' | 'wrong_stage' | 'reporter_evaluates' | 'dispute_settled' | 'app_too_old' | 'dependency_refused' | 'missing_dependency' | 'malformed_change' | 'foreign_actor' | 'out_of_scope' | 'compressed_change' | 'malformed_body' | 'malformed_query' | 'unsupported_protocol_version' | 'body_too_large' | 'missing_header' | 'bad_range' | 'duplicate_position' | 'too_many_positions' | 'unauthorized' | 'device_revoked' | 'forbidden' | 'not_found' | 'too_many_attempts' | 'busy' | 'internal' | 'unknown_collection' | 'unknown_node' | 'unknown_account' | 'role_node_mismatch' | 'invalid_record' | 'bad_blob_hash' | 'blob_too_large' | 'bad_chunk' | 'upload_quota' | 'unknown_format' | 'roster_rejected' | 'bad_encoding' | 'bad_workbook' | 'no_header' | 'duplicate_column' | 'too_many_rows' | 'empty_roster' | 'setup_rejected' | 'no_county' | 'empty_setup' | 'bad_setting' | 'bad_csrf_token' | 'weak_password' | 'login_taken' | 'second_factor_required' | 'second_factor_setup_required' | 'second_factor_conflict' | 'wrong_second_factor' | 'network' | 'stalled' | 'unavailable' | 'unexpected_response' | 'not_enrolled' | 'already_enrolled' | 'locked' | 'wrong_pin' | 'weak_pin' | 'pin_locked' | 'device_wiped' | 'bad_photo' | 'insecure_server_url' | 'bad_server_url' | 'bad_certificate' | 'untrusted_server' | 'local_storage' | 'document' | 'blob_mismatch' | 'upload_stalled' | 'unrecognised'
export const RETRYABLE_CODES: readonly ErrorCode[] = ['too_many_attempts', 'busy', 'internal', 'upload_quota', 'network', 'stalled', 'unavailable']

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;
export type Role = "grid_worker" | "grid_assistant" | "grid_leader" | "grid_instructor" | "party_helper" | "village_staff" | "township_staff" | "township_department_staff" | "county_staff" | "county_department_staff" | "county_admin";
export type Level = "grid" | "community" | "township" | "county";
export type NodeKind = "county" | "township" | "village" | "grid" | "department";
export type Node = { id: string, kind: NodeKind, name: string, parent?: string | null, township?: string | null, village?: string | null, };
export type Account = { id: string, name: string, role: Role, node: string, };
export type Device = { id: string, account: string, name: string, created_at: number, revoked_at?: number | null, };
export type GridInfo = { id: string, name: string, township: string, village: string, };
export type Collection = "residents" | "houses" | "visits" | "disputes";
export type DocKey = { grid: string, collection: Collection, month?: number | null, };
export type Edit = { doc: DocKey, record: string, creating: boolean, 
/**
 * Whole record when creating; otherwise the fields to set (`null` clears, sets are replaced,
 * entries are appended).
 */
fields: { [key in string]: JsonValue }, };
export type Conflict = { collection: Collection, record: string, 
/**
 * `phone`, or `categories.floating`, or `clears.needs.status`.
 */
field: string, values: Array<ConflictValue>, };
export type ConflictValue = { value: JsonValue, account?: string | null, device?: string | null, 
/**
 * Milliseconds since the epoch, as the writing device's clock had it.
 */
at: number, };
export type HistoryEntry = { at: number, account?: string | null, device?: string | null, 
/**
 * `created`, or the field path that was set or cleared.
 */
field: string, 
/**
 * The value written (`null` for a clear or a removal).
 */
value: JsonValue, 
/**
 * The account's name and role, where whoever answers knows them (the server does).
 */
by?: Account | null, };
export type Resident = { id: string, name: string, 
/**
 * `male` or `female`
 */
sex: Sex, 
/**
 * `YYYY-MM-DD`
 */
birth_date: string, 
/**
 * 18-character resident ID number; absent for people without one (overseas residents).
 */
id_number?: string | null, phone?: string | null, ethnicity?: string | null, 
/**
 * Population categories (人口类别), see [`crate::schema::POPULATION_CATEGORIES`].
 */
categories: Array<string>, 
/**
 * Relation to the household head (与户主关系).
 */
relation?: string | null, 
/**
 * The house they live in (人房关联).
 */
house_id?: string | null, notes?: string | null, 
/**
 * Set when the resident moved away or died: the record is archived, never erased.
 */
archived_reason?: string | null, archived_on?: string | null, };
export type ResidentSummary = { id: string, name: string, sex: Sex, 
/**
 * The year only: with the full date a masked ID number could be guessed back.
 */
birth_year: string, id_number?: string | null, phone?: string | null, categories: Array<string>, house_id?: string | null, archived: boolean, };
export type House = { id: string, township: string, village: string, street?: string | null, building?: string | null, unit?: string | null, floor?: string | null, door: string, structure?: string | null, 
/**
 * Floor area in m².
 */
area?: number | null, use?: string | null, owner?: string | null, 
/**
 * 出租房
 */
rented?: boolean | null, hazards?: string | null, lat?: number | null, lng?: number | null, archived_reason?: string | null, archived_on?: string | null, };
export type ClearItem = { 
/**
 * `fine` or `attention`
 */
status: ClearStatus, note?: string | null, };
export type FiveClears = { household: ClearItem, population: ClearItem, hazards: ClearItem, needs: ClearItem, attitude: ClearItem, };
export type Visit = { id: string, house_id: string, resident_id?: string | null, 
/**
 * Milliseconds since the epoch.
 */
at: number, 
/**
 * The account that made the visit.
 */
by: string, clears: FiveClears, needs?: string | null, hazards_found?: string | null, 
/**
 * A dispute reported from this visit.
 */
dispute_id?: string | null, };
export type Party = { id: string, resident_id?: string | null, name: string, };
export type Action = { id: string, 
/**
 * One of [`super::ActionKind`]; a string so that a newer app's kinds still read.
 */
kind: string, 
/**
 * The account that acted.
 */
actor: string, 
/**
 * The level the actor works at.
 */
level: Level, 
/**
 * Milliseconds since the epoch.
 */
at: number, 
/**
 * For escalate and assign: the level the dispute goes to.
 */
to_level?: Level | null, note?: string | null, 
/**
 * For assign: the village or community, or the department, that works it.
 */
to_node?: string | null, 
/**
 * For assign: the person who works it.
 */
to_account?: string | null, 
/**
 * For assign: when the assignee must report back; for supervise: the deadline.
 */
due_at?: number | null, 
/**
 * For evaluate: the parties' satisfaction (satisfied, basically_satisfied, dissatisfied).
 */
satisfaction?: string | null, 
/**
 * The last action the author had seen (none from apps before the closed loop): what makes
 * concurrent actions recognisable as such.
 */
after?: string | null, 
/**
 * The place the actor acts for (their department, village or township centre), as the
 * author's account holds it; none from apps before departments. What lets a department's
 * report-back be told from another's at the same level.
 */
node?: string | null, };
export type Dispute = { id: string, 
/**
 * ordinary (一般性), coordination (协调性), emergency (突发性)
 */
class: DisputeClass, category: string, parties: Array<Party>, place: string, description: string, 
/**
 * When the grid worker found it (第一时间发现).
 */
discovered_at: number, 
/**
 * When it was reported (第一时间报告); the gap is a measured figure.
 */
reported_at: number, reported_by: string, actions: Array<Action>, 
/**
 * Content hashes of photos, stored as blobs outside the document.
 */
photos: Array<string>, };
export type DisputeStatus = "reported" | "escalated" | "accepted" | "in_progress" | "assigned" | "fed_back" | "returned" | "verified" | "resolved" | "evaluated" | "closed";
export type Assignment = { action: string, by: string, at: number, 
/**
 * The level that works it.
 */
to_level: Level, 
/**
 * A village or community, or a department (派出所, 司法所 …).
 */
to_node?: string | null, 
/**
 * A named person; when set, only they report back.
 */
to_account?: string | null, due_at: number, };
export type Supervision = { action: string, by: string, level: Level, at: number, 
/**
 * Settle it by then.
 */
due_at: number, };
export type DeadlineKind = "accept" | "assignment" | "settle" | "supervision";
export type Contradiction = { action: string, 
/**
 * Why the rule would not take it now (the code a refusal would carry).
 */
code: ErrorCode, message: string, 
/**
 * The actions its author had not seen that took effect before it.
 */
concurrent: Array<string>, };
export type DisputeState = { status: DisputeStatus, 
/**
 * The level holding it (受理、指派、核查、办结 are its to do).
 */
level: Level, 
/**
 * Whether the holding level has accepted it since it arrived.
 */
accepted: boolean, 
/**
 * When it arrived at the holding level.
 */
arrived_at: number, 
/**
 * The level it came from, while an escalation waits to be accepted (a return sends it back).
 */
from_level?: Level | null, assignment?: Assignment | null, 
/**
 * Supervisions by higher levels, in force until it is settled.
 */
supervisions: Array<Supervision>, supervised: boolean, 
/**
 * The level at which it was settled (小事不出社区、大事不出镇).
 */
resolved_level?: Level | null, resolved_at?: number | null, satisfaction?: string | null, 
/**
 * The first action that dealt with it after the report (第一时间介入).
 */
first_intervention_at?: number | null, 
/**
 * The earliest time limit still running, and which one it is.
 */
deadline?: number | null, deadline_kind?: DeadlineKind | null, 
/**
 * The account whose action took effect last.
 */
last_action?: string | null, contradictions: Array<Contradiction>, };
export type TimeLimit = { class: DisputeClass, level: Level, 
/**
 * From arrival to acceptance.
 */
accept_minutes: number, 
/**
 * From arrival to resolution at this level.
 */
settle_minutes: number, };
export type TimeLimits = { limits: Array<TimeLimit>, };
export type CountySettings = { version: number, time_limits: TimeLimits, };
export type ErrorBody = { code: ErrorCode, message: string, field?: string | null, record?: string | null, report?: RosterReport | null, };
export type EnrolRequest = { code: string, device_name: string, };
export type EnrolResponse = { device_id: string, token: string, account: Account, grids: Array<GridInfo>, };
export type Me = { account: Account, device: Device, };
export type NewAccount = { name: string, role: Role, node: string, };
export type CodeRequest = { account: string, };
export type RevokeCodeRequest = { code: string, };
export type CodeResponse = { code: string, expires_at: number, };
export type BlobState = { grid: string, total: number, received: number, complete: boolean, };
export type ResidentQuery = { 
/**
 * Only this grid (staff; a device holds its own grid).
 */
grid?: string | null, 
/**
 * Only the residents of this house.
 */
house?: string | null, 
/**
 * A name or part of one, pinyin initials ("zs"), or the last digits of the ID number.
 */
q?: string | null, category?: string | null, include_archived?: boolean, limit?: number | null, };
export type DisputeQuery = { grid?: string | null, status?: string | null, level?: string | null, 
/**
 * ordinary, coordination or emergency.
 */
class?: DisputeClass | null, 
/**
 * Reported at or after this time (ms since the epoch): what is new today.
 */
reported_since?: number | null, open_only?: boolean, 
/**
 * One of the staff's lists, within their scope, most urgent first (the other filters
 * then narrow it).
 */
list?: DisputeList | null, };
export type DisputeList = "waiting" | "overdue" | "supervised" | "unaccepted_emergencies" | "assigned_out";
export type GridFilter = { grid?: string | null, };
export type DisputeView = { 
/**
 * The grid it belongs to (where it was found).
 */
grid: string, dispute: Dispute, state: DisputeState, 
/**
 * Minutes from discovery to report (第一时间报告).
 */
report_delay_minutes: number, 
/**
 * A time limit has passed.
 */
overdue: boolean, 
/**
 * It waits for this person or their level (待办).
 */
waiting: boolean, 
/**
 * The actions this person may take now.
 */
allowed: Array<ActionKind>, 
/**
 * The people its actions name (who acted, to whom it was assigned), for their names: the
 * server fills it for one dispute's page; empty in lists and on the device.
 */
people: Array<Account>, };
export type NewAction = { kind: ActionKind, to_level?: Level | null, to_node?: string | null, to_account?: string | null, due_at?: number | null, note?: string | null, satisfaction?: Satisfaction | null, };
export type DisputeEvent = { kind: string, dispute: string, grid: string, class: DisputeClass, status: DisputeStatus, 
/**
 * The level holding it now.
 */
level: Level, 
/**
 * Whom it waits for now (待办).
 */
waiting_level?: Level | null, deadline?: number | null, 
/**
 * When the action was taken, or the time limit passed.
 */
at: number, };
export type FiguresQuery = { 
/**
 * `yyyymm` (China Standard Time); this month when absent. With `months`, the last month.
 */
month?: number | null, 
/**
 * How many months, ending with `month` (1 to 24; 1 when absent): `by=month&months=12` is
 * the year's trend.
 */
months?: number | null, by?: FigureGroup | null, 
/**
 * Only this township, village or grid of the caller's scope: a chart drilled down.
 */
node?: string | null, };
export type FigureGroup = "worker" | "grid" | "village" | "township" | "county" | "month";
export type FigureRow = { 
/**
 * The account's or node's id (grouped by county: the caller's own node).
 */
id: string, name: string, disputes: number, 
/**
 * 第一时间报告: the median minutes from discovery to report.
 */
report_median_minutes?: number | null, 
/**
 * 第一时间介入: the median minutes from discovery to the first action that dealt with it,
 * over the disputes dealt with so far.
 */
intervention_median_minutes?: number | null, intervened: number, 
/**
 * Where they were settled (小事不出社区、大事不出镇、矛盾不上交), and how many are open.
 */
settled_grid: number, settled_community: number, settled_township: number, settled_county: number, open: number, };
export type DisputeFigures = { 
/**
 * The last month, and how many months ending with it.
 */
month: number, months: number, by: FigureGroup, rows: Array<FigureRow>, };
export type Overview = { grids: number, residents: number, houses: number, visits_this_month: number, by_category: Array<[string, number]>, open_disputes_by_level: Array<[string, number]>, resolved_by_level: Array<[string, number]>, open_conflicts: number, };
export type ReadKind = "snapshot" | "catch_up" | "resident_list" | "resident_record" | "reveal" | "house_list" | "dispute_list" | "conflicts" | "history" | "roster_export" | "photo" | "log_in";
export type MaskedField = "id_number" | "phone" | "birth_date";
export type RevealRequest = { field: MaskedField, };
export type Revealed = { field: MaskedField, value?: string | null, };
export type AuditEntry = { at: number, account: string, device: string, role: Role, kind: ReadKind, 
/**
 * The grid read, or the grid the record read belongs to; `None` for a county-wide list.
 */
grid?: string | null, 
/**
 * The record or photo read (a UUID or a SHA-256), if one.
 */
subject?: string | null, 
/**
 * What else says what was read: the search, the filter, the collections of a snapshot, or
 * how many rows a list returned.
 */
detail: string, client?: string | null, };
export type AuditQuery = { 
/**
 * From this time (ms since the epoch, inclusive).
 */
from?: number | null, 
/**
 * Before this time (ms since the epoch, exclusive).
 */
to?: number | null, account?: string | null, grid?: string | null, kind?: ReadKind | null, 
/**
 * At most this many (default and ceiling [`AuditQuery::MAX_LIMIT`]).
 */
limit?: number | null, };
export type ImportSummary = { rows: number, residents: number, 
/**
 * New houses (rows naming the grid's existing houses link to them instead).
 */
houses: number, 
/**
 * The grid's log position after the commit.
 */
seq: number, ignored_columns: Array<string>, };
export type RosterCode = "duplicate_in_file" | "already_in_grid" | "unknown_house" | "house_mismatch" | "id_number_as_number" | "cell_error" | "unknown_role" | "role_does_not_fit" | "missing_place" | "grid_code_taken" | "bad_boundary" | "not_a_grid";
export type Reason = RosterCode | ErrorCode;
export type Problem = { 
/**
 * The worksheet's name; empty for CSV.
 */
sheet: string, 
/**
 * The row as the file numbers it (the header row included; 1 is the first line).
 */
row: number, 
/**
 * The column's header as written in the file (the roster's header when it is missing).
 */
column: string, code: Reason, 
/**
 * 中文说明
 */
message: string, message_en: string, };
export type RosterReport = { 
/**
 * Data rows read (blank rows not counted).
 */
rows: number, rejected_rows: number, problems: Array<Problem>, 
/**
 * Headers the roster does not know; their cells were not read.
 */
ignored_columns: Array<string>, };
export type SettingsChanged = { 
/**
 * The settings now in force, devices get them at their next sync.
 */
settings: CountySettings, 
/**
 * Disputes whose deadlines were derived again under them.
 */
disputes: number, };
export type Place = { id: string, name: string, kind: NodeKind, 
/**
 * The level a dispute sent there is handled at.
 */
level: Level, };
export type LogIn = { login: string, password: string, 
/**
 * The six-digit code of the account's authenticator app, when it has a second factor
 * (the server asks with `second_factor_required`).
 */
code?: string, };
export type SessionView = { account: Account, 
/**
 * The name of the account's place (宜水县, 高庄镇, 高庄镇司法所 …).
 */
place: string, second_factor: SecondFactorState, csrf_token: string, 
/**
 * When the session ends at the latest (it ends earlier after [`SESSION_IDLE_MS`] unused).
 */
expires_at: number, };
export type BulkCodeRequest = { node: string, 
/**
 * Also people who already have an enrolled device (a second handheld); by default they are
 * left out.
 */
include_enrolled: boolean, };
export type IssuedCode = { account: string, name: string, role: Role, 
/**
 * Where the person works: 镇街 / 村社区 / 网格 (or 部门).
 */
place: string, code: string, expires_at: number, };
export type BulkCodes = { codes: Array<IssuedCode>, 
/**
 * Earlier unused codes of these people, revoked.
 */
replaced: number, 
/**
 * People left out because they already have an enrolled device.
 */
skipped_enrolled: number, 
/**
 * The printable sheet of these codes (HTML), when asked for with `?format=both`: the
 * console shows the codes and opens the sheet from one issue (issuing twice would replace
 * the first codes).
 */
sheet?: string | null, };
export type BulkRevoked = { revoked: number, };
export type AccountQuery = { node?: string | null, q?: string | null, limit?: number | null, };
export type AccountRow = { account: Account, 
/**
 * 镇街 / 村社区 / 网格 (or 部门), as on an enrolment sheet.
 */
place: string, login?: string | null, devices: number, open_sessions: number, 
/**
 * A second factor in force.
 */
second_factor: boolean, };
export type SessionsEnded = { ended: number, };
export type StructureNode = { id: string, kind: NodeKind, name: string, parent?: string | null, 
/**
 * The place's code from the setup file (a grid's 统一编码), if it has one.
 */
code?: string | null, has_boundary: boolean, };
export type MapGrid = { id: string, name: string, township?: string | null, village?: string | null, boundary?: string | null, residents: number, houses: number, 
/**
 * Visits recorded this month (China Standard Time).
 */
visits_this_month: number, open_disputes: number, 
/**
 * Open disputes past their deadline now.
 */
overdue: number, };
export type MapQuery = { node?: string | null, outlines?: boolean | null, };
export type AreaQuery = { node?: string | null, };
export type DisputeCounts = { 
/**
 * Reported since midnight, China Standard Time.
 */
new_today: number, waiting: number, overdue: number, supervised: number, unaccepted_emergencies: number, assigned_out: number, };
export type SecondFactorState = "off" | "on" | "setup_required";
export type SecondFactorSetup = { secret: string, uri: string, qr_svg: string, };
export type SecondFactorCode = { code: string, };
export type SecondFactorRoles = { roles: Array<Role>, };
export type SetPassword = { login: string, password: string, };
export type IdentityView = { device_id: string, server: string, account: Account, grids: Array<GridInfo>, 
/**
 * The role keeps its grids' residents and houses (`Role::edits_base_records`): the screens
 * for them are shown.
 */
keeps_records: boolean, 
/**
 * The role registers new disputes (`Role::reports_disputes`): the report button is shown.
 */
reports_disputes: boolean, };
export type LockState = { 
/**
 * A PIN-protected device database exists.
 */
enrolled: boolean, 
/**
 * No device is open (always true before enrolment).
 */
locked: boolean, 
/**
 * Enrolment succeeded in this run; the PIN is still to be set.
 */
awaiting_pin: boolean, };
export type EnrolHint = { server?: string | null, code?: string | null, };
export type NewDispute = { class: DisputeClass, category: DisputeCategory, parties: Array<NewParty>, place: string, description: string, 
/**
 * When it was found; defaults to now.
 */
discovered_at?: number | null, photos: Array<string>, note?: string | null, };
export type NewParty = { resident_id?: string | null, name: string, };
export type NewVisit = { house_id: string, resident_id?: string | null, at?: number | null, clears: FiveClears, needs?: string | null, hazards_found?: string | null, dispute_id?: string | null, };
export type Quarantined = { id: number, edit: Edit, code: ErrorCode, record?: string | null, field: string, message: string, at: number, };
export type InboxItem = { action: string, dispute: string, kind: ActionKind, actor: string, level: Level, at: number, note?: string | null, read: boolean, };
export type Workbench = { grid?: GridInfo | null, residents: number, houses: number, houses_not_visited_this_month: number, open_disputes: number, pending_changes: number, open_conflicts: number, quarantined: number, last_sync_at?: number | null, 
/**
 * Inbox entries not yet read.
 */
unread: number, };
export type SyncReport = { requests: number, bytes_up: number, bytes_down: number, acknowledged: number, refused: number, quarantined: number, reentered: number, documents_received: number, 
/**
 * Byte ranges fetched of documents too large for a sync answer (a first download on a
 * slow link).
 */
ranges: number, photos_uploaded: number, 
/**
 * Photo bytes sent in this sync (an interrupted upload resumes: only the rest is sent).
 */
photo_bytes_up: number, 
/**
 * Actions of others on this person's disputes that reached the inbox.
 */
inbox: number, };
export type SyncStatus = { running: boolean, last_success_at?: number | null, last_error?: ErrorBody | null, pending: number, next_attempt_at?: number | null, 
/**
 * A first download not yet complete (it continues where it stopped at the next sync).
 */
download?: DownloadProgress | null, };
export type DownloadProgress = { grids_done: number, grids_total: number, bytes_done: number, bytes_total: number, 
/**
 * Records (residents, houses, visits, disputes) on the device so far.
 */
records: number, };
