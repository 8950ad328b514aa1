// The records and answers of the device backend (field-core behind Tauri commands). They are
// generated from the Rust types (`generated/contract.ts`, from sync-protocol: never edit it
// by hand); this file only adds the UI's own names for a few of them and what is the UI's
// alone. Records are JSON with snake_case keys; timestamps are milliseconds since the epoch;
// dates are 'YYYY-MM-DD'.

import type {
  Action,
  ClearItem,
  DisputeView,
  ErrorBody,
  ErrorCode,
  IdentityView,
  NewParty,
  Quarantined,
  Visit as VisitRecord,
} from './generated/contract'

export * from './generated/contract'

export type Uuid = string

/** Every rejected command carries a stable code; `field` names the offending field if any. */
export type ApiError = ErrorBody

/** Who this device is, without its token. */
export type Identity = IdentityView

/** One step in handling a dispute. */
export type DisputeAction = Action

/** A dispute with where it stands (the `get_dispute` answer). */
export type DisputeDetail = DisputeView

/** An edit the server refused. */
export type QuarantinedEdit = Quarantined

export type FiveClearsItem = ClearItem

/** A visit as recorded (always with its time and visitor). */
export type Visit = VisitRecord

/** Fields of an update: only what changed; `null` clears a field. */
export type FieldChanges = Record<string, unknown>

/** What a dispute report starts with when opened from elsewhere (a household visit). */
export interface ReportPrefill {
  place?: string
  description?: string
  parties?: NewParty[]
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
  'pin_locked',
  'device_wiped',
  'upload_quota',
] as const satisfies readonly ErrorCode[]
