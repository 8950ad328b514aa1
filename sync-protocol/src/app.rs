//! The contract between the field app's screens and the device: what the app's commands take
//! and answer besides the records of [`crate::model`]. `field-core` implements it, the Tauri
//! commands pass it through, and the UI's TypeScript types are generated from it (feature
//! `ts`), so neither side re-declares it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::RecordId;
use crate::doc::Edit;
use crate::error::{ErrorBody, ErrorCode};
use crate::model::FiveClears;
use crate::org::{Account, GridInfo, Level};

/// Who this device is, as the app may see it: never the device's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct IdentityView {
    pub device_id: Uuid,
    pub server: String,
    pub account: Account,
    pub grids: Vec<GridInfo>,
    /// The role keeps its grids' residents and houses (`Role::edits_base_records`): the screens
    /// for them are shown.
    pub keeps_records: bool,
    /// The role registers new disputes (`Role::reports_disputes`): the report button is shown.
    pub reports_disputes: bool,
}

impl IdentityView {
    /// The app's view of an identity, the role's rights read from the one rule.
    pub fn new(device_id: Uuid, server: String, account: Account, grids: Vec<GridInfo>) -> Self {
        let (keeps_records, reports_disputes) = (account.role.edits_base_records(), account.role.reports_disputes());
        IdentityView { device_id, server, account, grids, keeps_records, reports_disputes }
    }
}

/// Whether the device database exists and is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct LockState {
    /// A PIN-protected device database exists.
    pub enrolled: bool,
    /// No device is open (always true before enrolment).
    pub locked: bool,
    /// Enrolment succeeded in this run; the PIN is still to be set.
    pub awaiting_pin: bool,
}

/// A server address and enrolment code handed to the app at launch (the demo script does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct EnrolHint {
    pub server: Option<String>,
    pub code: Option<String>,
}

/// A dispute as the worker reports it on the spot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewDispute {
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass"))]
    pub class: String,
    #[cfg_attr(feature = "ts", ts(type = "DisputeCategory"))]
    pub category: String,
    pub parties: Vec<NewParty>,
    pub place: String,
    pub description: String,
    /// When it was found; defaults to now.
    #[serde(default)]
    pub discovered_at: Option<i64>,
    #[serde(default)]
    pub photos: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewParty {
    #[serde(default)]
    pub resident_id: Option<RecordId>,
    pub name: String,
}

/// A household visit as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewVisit {
    pub house_id: RecordId,
    #[serde(default)]
    pub resident_id: Option<RecordId>,
    #[serde(default)]
    pub at: Option<i64>,
    pub clears: FiveClears,
    #[serde(default)]
    pub needs: Option<String>,
    #[serde(default)]
    pub hazards_found: Option<String>,
    #[serde(default)]
    pub dispute_id: Option<RecordId>,
}

/// An edit the server refused, kept for the worker to see and re-enter or discard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Quarantined {
    pub id: i64,
    pub edit: Edit,
    #[cfg_attr(feature = "ts", ts(type = "ErrorCode"))]
    pub code: ErrorCode,
    pub record: Option<RecordId>,
    pub field: String,
    pub message: String,
    pub at: i64,
}

/// An action someone else took on one of this person's disputes, noted after a sync (the
/// inbox: assigned, supervised, returned, resolved …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct InboxItem {
    pub action: Uuid,
    pub dispute: Uuid,
    #[cfg_attr(feature = "ts", ts(type = "ActionKind"))]
    pub kind: String,
    pub actor: Uuid,
    pub level: Level,
    pub at: i64,
    pub note: Option<String>,
    pub read: bool,
}

/// The workbench figures (工作台).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Workbench {
    pub grid: Option<GridInfo>,
    pub residents: u64,
    pub houses: u64,
    pub houses_not_visited_this_month: u64,
    pub open_disputes: u64,
    pub pending_changes: u64,
    pub open_conflicts: u64,
    pub quarantined: u64,
    pub last_sync_at: Option<i64>,
    /// Inbox entries not yet read.
    pub unread: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct SyncReport {
    pub requests: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub acknowledged: u32,
    pub refused: u32,
    pub quarantined: u32,
    pub reentered: u32,
    pub documents_received: u32,
    /// Byte ranges fetched of documents too large for a sync answer (a first download on a
    /// slow link).
    pub ranges: u32,
    pub photos_uploaded: u32,
    /// Photo bytes sent in this sync (an interrupted upload resumes: only the rest is sent).
    pub photo_bytes_up: u64,
    /// Actions of others on this person's disputes that reached the inbox.
    pub inbox: u32,
}

/// The background sync's state, which the app always shows (the `sync-status` event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct SyncStatus {
    pub running: bool,
    pub last_success_at: Option<i64>,
    pub last_error: Option<ErrorBody>,
    pub pending: u64,
    pub next_attempt_at: Option<i64>,
    /// A first download not yet complete (it continues where it stopped at the next sync).
    pub download: Option<DownloadProgress>,
}

/// How far a device's first download has come: the grids whose records are all in, and the
/// bytes held of the documents still being fetched. Shown while a long download runs and after
/// one was cut.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DownloadProgress {
    pub grids_done: u32,
    pub grids_total: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Records (residents, houses, visits, disputes) on the device so far.
    pub records: u64,
}
