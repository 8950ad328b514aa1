//! The JSON contracts of the county server's HTTP API, beside the sync endpoint's binary ones
//! ([`crate::wire`]): enrolment, blobs, the staff queries and rosters. The server answers with
//! these types and the device and the console read them, so neither side re-declares them.
//! Errors are [`crate::error::ErrorBody`] with an [`crate::error::ErrorCode`].
//!
//! One file of plain data types, in sections by route group (enrolment, ranges, blobs, staff
//! queries, disputes, the structure, rosters) so that a client's whole contract reads in one
//! place; the rules these types carry live beside the model (`closed_loop`, `org`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationCode;
use crate::model::{Action, ActionKind, Dispute, DisputeState, DisputeStatus, TimeLimits, closed_loop};
use crate::org::{Account, Device, GridInfo, Level, Role};

// ---- enrolment (`POST /v1/enrol`) --------------------------------------------------------

/// A device asks for a token with a one-time enrolment code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct EnrolRequest {
    pub code: String,
    pub device_name: String,
}

/// The device's token (shown once, stored hashed by the server), its account and the grids
/// its role holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct EnrolResponse {
    pub device_id: Uuid,
    pub token: String,
    pub account: Account,
    pub grids: Vec<GridInfo>,
}

/// `GET /v1/me`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Me {
    pub account: Account,
    pub device: Device,
}

// ---- administration -------------------------------------------------------------------

/// `POST /v1/admin/accounts`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewAccount {
    pub name: String,
    pub role: Role,
    pub node: Uuid,
}

/// `POST /v1/admin/enrolment-codes`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct CodeRequest {
    pub account: Uuid,
}

/// `POST /v1/admin/enrolment-codes/revoke`: an issued code, not yet used, that must not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct RevokeCodeRequest {
    pub code: String,
}

/// A one-time enrolment code, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct CodeResponse {
    pub code: String,
    pub expires_at: i64,
}

/// `POST /v1/admin/enrolment-codes/bulk`: a code for every person at or under a place (a
/// township, the county), for a printed sheet. Issuing replaces a person's earlier unused
/// codes, so the newest sheet is the one that works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct BulkCodeRequest {
    pub node: Uuid,
    /// Also people who already have an enrolled device (a second handheld); by default they are
    /// left out.
    #[serde(default)]
    pub include_enrolled: bool,
}

/// One person's code on a sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct IssuedCode {
    pub account: Uuid,
    pub name: String,
    pub role: crate::org::Role,
    /// Where the person works: 镇街 / 村社区 / 网格 (or 部门).
    pub place: String,
    pub code: String,
    pub expires_at: i64,
}

/// The codes issued in bulk, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct BulkCodes {
    pub codes: Vec<IssuedCode>,
    /// Earlier unused codes of these people, revoked.
    pub replaced: u64,
    /// People left out because they already have an enrolled device.
    pub skipped_enrolled: usize,
}

/// `POST /v1/admin/enrolment-codes/revoke-bulk`: every unused code of the people at or under a
/// place (a lost or superseded sheet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct BulkRevokeRequest {
    pub node: Uuid,
}

/// How many unused codes a bulk revocation revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct BulkRevoked {
    pub revoked: u64,
}

// ---- document ranges (a snapshot too large for one sync answer) -------------------------

/// A range of a stored document is `GET /v1/docs/{grid}/{collection}[/{month}]` (the document's
/// key, [`crate::doc::DocKey`]'s text) with `Range: bytes=FROM-` or `bytes=FROM-TO` (none: from
/// 0), always answered `206` with `Content-Range: bytes START-END/TOTAL` (`bytes */TOTAL` when
/// nothing is left to send; not standard HTTP, read only by the device). A range that resumes (FROM > 0) carries,
/// in this header, the SHA-256 (hex) of the FROM bytes the device already holds: if the stored
/// document no longer begins with them (the server saved it whole again meanwhile), the answer
/// starts again at 0, and START says so.
pub const DOC_PREFIX_HEADER: &str = "Gridkeeper-Prefix-Sha256";
/// On the answer that reaches a document's end: the SHA-256 (hex) of the whole document as it
/// stood then, which the bytes the device assembled must match before it loads them.
pub const DOC_SHA256_HEADER: &str = "Gridkeeper-Sha256";

/// The path of a document's ranges.
pub fn doc_path(key: &crate::doc::DocKey) -> String {
    format!("/v1/docs/{key}")
}

/// The one form of `Range` the document endpoint reads: a single range of bytes from an offset,
/// to an offset (inclusive) or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub from: u64,
    pub to: Option<u64>,
}

impl ByteRange {
    /// `bytes=FROM-` or `bytes=FROM-TO` (TO ≥ FROM); anything else (suffix ranges, several
    /// ranges, other units) is `None`.
    pub fn parse(header: &str) -> Option<ByteRange> {
        let (from, to) = header.trim().strip_prefix("bytes=")?.split_once('-')?;
        let from: u64 = from.trim().parse().ok()?;
        let to = match to.trim() {
            "" => None,
            t => Some(t.parse::<u64>().ok().filter(|t| *t >= from)?),
        };
        Some(ByteRange { from, to })
    }

    pub fn header(&self) -> String {
        match self.to {
            Some(to) => format!("bytes={}-{to}", self.from),
            None => format!("bytes={}-", self.from),
        }
    }
}

/// What a range answer holds: `Content-Range: bytes START-END/TOTAL`, or `bytes */TOTAL` when
/// nothing is sent (START = END = TOTAL: the device holds the whole document, or it is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    /// One past the last byte sent.
    pub end: u64,
    pub total: u64,
}

impl ContentRange {
    pub fn header(&self) -> String {
        if self.end == self.start {
            format!("bytes */{}", self.total)
        } else {
            format!("bytes {}-{}/{}", self.start, self.end - 1, self.total)
        }
    }

    pub fn parse(header: &str) -> Option<ContentRange> {
        let rest = header.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let total: u64 = total.trim().parse().ok()?;
        if range.trim() == "*" {
            return Some(ContentRange { start: total, end: total, total });
        }
        let (a, b) = range.split_once('-')?;
        let (start, last): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (start <= last && last < total).then_some(ContentRange { start, end: last + 1, total })
    }
}

// ---- blobs (photos) ---------------------------------------------------------------------

/// Headers of `PUT /v1/blobs/{hash}`: the grid the photo belongs to, its whole size, and where
/// this chunk starts.
pub const BLOB_GRID_HEADER: &str = "Gridkeeper-Grid";
pub const BLOB_TOTAL_HEADER: &str = "Gridkeeper-Total";
pub const BLOB_OFFSET_HEADER: &str = "Gridkeeper-Offset";

/// How far an upload has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct BlobState {
    pub grid: Uuid,
    pub total: u64,
    pub received: u64,
    pub complete: bool,
}

// ---- records ----------------------------------------------------------------------------

/// A search over residents: the worker's on the device, staff's on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ResidentQuery {
    /// Only this grid (staff; a device holds its own grid).
    pub grid: Option<Uuid>,
    /// Only the residents of this house.
    pub house: Option<Uuid>,
    /// A name or part of one, pinyin initials ("zs"), or the last digits of the ID number.
    pub q: Option<String>,
    pub category: Option<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub include_archived: bool,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeQuery {
    pub grid: Option<Uuid>,
    pub status: Option<String>,
    pub level: Option<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub open_only: bool,
    /// One of the staff's lists, within their scope, most urgent first (the other filters
    /// then narrow it).
    pub list: Option<DisputeList>,
}

/// The lists staff work from (`GET /v1/disputes?list=`), each as the closed loop's rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DisputeList {
    /// 待办: waiting for the caller's level (or for the caller by name).
    Waiting,
    /// A time limit has passed.
    Overdue,
    /// Supervised (督办) and not settled.
    Supervised,
    /// 突发性 reports the county has not accepted yet.
    UnacceptedEmergencies,
    /// Held by the caller's level and assigned out, waiting for the assignee.
    AssignedOut,
}

impl DisputeList {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeList::Waiting => "waiting",
            DisputeList::Overdue => "overdue",
            DisputeList::Supervised => "supervised",
            DisputeList::UnacceptedEmergencies => "unaccepted_emergencies",
            DisputeList::AssignedOut => "assigned_out",
        }
    }
}

/// `GET /v1/houses?grid=` and the like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct GridFilter {
    pub grid: Option<Uuid>,
}

/// A dispute as one person sees it: where it stands, how quickly it was reported, and what
/// this person may do with it now (the closed loop's rule, asked by whoever answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeView {
    pub dispute: Dispute,
    pub state: DisputeState,
    /// Minutes from discovery to report (第一时间报告).
    pub report_delay_minutes: i64,
    /// A time limit has passed.
    pub overdue: bool,
    /// It waits for this person or their level (待办).
    pub waiting: bool,
    /// The actions this person may take now.
    pub allowed: Vec<ActionKind>,
}

impl DisputeView {
    /// `dispute` as the account `actor`, of `role` at `node`, sees it at `now_ms`.
    pub fn for_viewer(
        dispute: Dispute,
        actor: Uuid,
        role: crate::org::Role,
        node: Option<Uuid>,
        now_ms: i64,
        limits: &TimeLimits,
    ) -> Self {
        let state = dispute.state(limits);
        let facts = (&dispute).into();
        let level = role.level();
        let mut allowed = closed_loop::allowed(&state, facts, actor, level, node, now_ms);
        allowed.retain(|k| role.takes_action(k.as_str()));
        DisputeView {
            overdue: state.overdue(now_ms),
            waiting: closed_loop::waits_for(&state, actor, role, node),
            allowed,
            report_delay_minutes: dispute.report_delay_minutes(),
            state,
            dispute,
        }
    }
}

/// An action on a dispute as a person asks for it: the body of
/// `POST /v1/disputes/{id}/actions` and the app's `add_dispute_action`. Who acts, at which
/// level, when and after what are added by whoever writes it (the device, or the server for
/// staff without a handheld); the closed loop's rule judges it the same way on both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewAction {
    #[cfg_attr(feature = "ts", ts(type = "ActionKind"))]
    pub kind: String,
    #[serde(default)]
    pub to_level: Option<Level>,
    #[serde(default)]
    pub to_node: Option<Uuid>,
    #[serde(default)]
    pub to_account: Option<Uuid>,
    #[serde(default)]
    pub due_at: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Satisfaction | null", optional))]
    pub satisfaction: Option<String>,
}

impl NewAction {
    pub fn new(kind: &str) -> Self {
        NewAction { kind: kind.into(), ..NewAction::default() }
    }

    pub fn note(mut self, note: &str) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn to(mut self, level: Level) -> Self {
        self.to_level = Some(level);
        self
    }

    pub fn due(mut self, at_ms: i64) -> Self {
        self.due_at = Some(at_ms);
        self
    }

    /// The action `actor` takes at `level` at `now_ms`, having seen `dispute` as it stands: it
    /// names the last action it saw, and comes after every one of them (a clock behind the
    /// others' is moved on by a millisecond past the latest, as the rule requires).
    pub fn by(&self, actor: Uuid, level: Level, node: Option<Uuid>, now_ms: i64, dispute: &Dispute) -> Action {
        let at = dispute.actions.iter().map(|a| a.at + 1).max().map_or(now_ms, |t| t.max(now_ms));
        let mut a = Action::new(Uuid::now_v7(), &self.kind, actor, level, at);
        a.to_level = self.to_level;
        a.to_node = self.to_node;
        a.to_account = self.to_account;
        a.due_at = self.due_at;
        a.note = self.note.clone().filter(|s| !s.trim().is_empty());
        a.satisfaction = self.satisfaction.clone();
        a.after = closed_loop::last_seen(&dispute.actions);
        a.node = node;
        a
    }
}

/// Something that happened to a dispute, as staff hear it live (`GET /v1/events`, server-sent
/// events named by `kind`): an action taken on a handheld or at the server (`report`,
/// `escalate`, `assign` … as the action's kind), or a time limit that just passed (`overdue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeEvent {
    pub kind: String,
    pub dispute: Uuid,
    pub grid: Uuid,
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass"))]
    pub class: String,
    pub status: DisputeStatus,
    /// The level holding it now.
    pub level: Level,
    /// Whom it waits for now (待办).
    pub waiting_level: Option<Level>,
    pub deadline: Option<i64>,
    /// When the action was taken, or the time limit passed.
    pub at: i64,
}

impl DisputeEvent {
    /// `kind` happened at `at` to `dispute` of `grid`, which now stands as the rule derives.
    pub fn new(kind: &str, grid: Uuid, dispute: &Dispute, at: i64, limits: &TimeLimits) -> Self {
        let state = dispute.state(limits);
        DisputeEvent {
            kind: kind.into(),
            dispute: dispute.id,
            grid,
            class: dispute.class.clone(),
            status: state.status,
            level: state.level,
            waiting_level: closed_loop::waiting_on(&state).map(|w| w.level),
            deadline: state.deadline,
            at,
        }
    }
}

/// `GET /v1/figures/disputes?month=yyyymm&by=…`: the three first-times and where disputes
/// were settled, for the disputes reported in a month, per worker or node within the caller's
/// scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct FiguresQuery {
    /// `yyyymm` (China Standard Time); this month when absent.
    pub month: Option<u32>,
    pub by: Option<FigureGroup>,
}

/// What figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum FigureGroup {
    /// The account that reported.
    Worker,
    #[default]
    Grid,
    Village,
    Township,
    /// The caller's whole scope, as one row.
    County,
}

/// One worker's or node's disputes reported in the month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct FigureRow {
    /// The account's or node's id (grouped by county: the caller's own node).
    pub id: Uuid,
    pub name: String,
    pub disputes: u64,
    /// 第一时间报告: the median minutes from discovery to report.
    pub report_median_minutes: Option<i64>,
    /// 第一时间介入: the median minutes from discovery to the first action that dealt with it,
    /// over the disputes dealt with so far.
    pub intervention_median_minutes: Option<i64>,
    pub intervened: u64,
    /// Where they were settled (小事不出社区、大事不出镇、矛盾不上交), and how many are open.
    pub settled_grid: u64,
    pub settled_community: u64,
    pub settled_township: u64,
    pub settled_county: u64,
    pub open: u64,
}

/// The figures of a month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeFigures {
    pub month: u32,
    pub by: FigureGroup,
    pub rows: Vec<FigureRow>,
}

/// County, township or grid overview figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Overview {
    pub grids: u64,
    pub residents: u64,
    pub houses: u64,
    pub visits_this_month: u64,
    pub by_category: Vec<(String, u64)>,
    pub open_disputes_by_level: Vec<(String, u64)>,
    pub resolved_by_level: Vec<(String, u64)>,
    pub open_conflicts: u64,
}

// ---- the audit of personal-data reads (`/v1/admin/audit`) -------------------------------

/// What was read: every way personal data leaves the server is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ReadKind {
    /// A grid's documents in full, to a device (its first sync of that grid).
    Snapshot,
    /// Changes to a grid sent to a device from a position before what it was already sent (or
    /// the first this server process sends it): records the device may not hold.
    CatchUp,
    /// A list of residents (masked).
    ResidentList,
    /// One resident's full record (unmasked).
    ResidentRecord,
    /// A list of houses.
    HouseList,
    /// A list of disputes with their parties.
    DisputeList,
    /// Fields with concurrent values (masked).
    Conflicts,
    /// A record's history (masked).
    History,
    /// A grid's roster file, in full or masked (`detail` says which).
    RosterExport,
    /// A photo or other attachment.
    Photo,
    /// A log-in to the staff console (`detail`: accepted, or why it was refused).
    LogIn,
}

impl ReadKind {
    pub const ALL: [ReadKind; 11] = [
        ReadKind::Snapshot,
        ReadKind::CatchUp,
        ReadKind::ResidentList,
        ReadKind::ResidentRecord,
        ReadKind::HouseList,
        ReadKind::DisputeList,
        ReadKind::Conflicts,
        ReadKind::History,
        ReadKind::RosterExport,
        ReadKind::Photo,
        ReadKind::LogIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReadKind::Snapshot => "snapshot",
            ReadKind::CatchUp => "catch_up",
            ReadKind::ResidentList => "resident_list",
            ReadKind::ResidentRecord => "resident_record",
            ReadKind::HouseList => "house_list",
            ReadKind::DisputeList => "dispute_list",
            ReadKind::Conflicts => "conflicts",
            ReadKind::History => "history",
            ReadKind::RosterExport => "roster_export",
            ReadKind::Photo => "photo",
            ReadKind::LogIn => "log_in",
        }
    }

    /// `None` for a string that names no kind.
    pub fn parse(s: &str) -> Option<ReadKind> {
        ReadKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One read of personal data: who (account, device, role), what (kind, the record, grid or
/// photo read, and a detail such as the search or the collections sent), when (ms since the
/// epoch) and from where (the client's address as the server saw it). Never the data itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct AuditEntry {
    pub at: i64,
    pub account: Uuid,
    pub device: Uuid,
    pub role: Role,
    pub kind: ReadKind,
    /// The grid read, or the grid the record read belongs to; `None` for a county-wide list.
    pub grid: Option<Uuid>,
    /// The record or photo read (a UUID or a SHA-256), if one.
    pub subject: Option<String>,
    /// What else says what was read: the search, the filter, the collections of a snapshot, or
    /// how many rows a list returned.
    pub detail: String,
    pub client: Option<String>,
}

/// `GET /v1/admin/audit` (and `/v1/admin/audit.csv`): the newest entries first, within a time
/// range, optionally of one account, one grid or one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct AuditQuery {
    /// From this time (ms since the epoch, inclusive).
    pub from: Option<i64>,
    /// Before this time (ms since the epoch, exclusive).
    pub to: Option<i64>,
    pub account: Option<Uuid>,
    pub grid: Option<Uuid>,
    pub kind: Option<ReadKind>,
    /// At most this many (default and ceiling [`AuditQuery::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub const MAX_LIMIT: u32 = 10_000;

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(Self::MAX_LIMIT).min(Self::MAX_LIMIT)
    }
}

// ---- the county's structure (县网格 setup file) -----------------------------------------

/// A place a dispute can be sent to (分流指派) by the person asking (`GET /v1/places`): under a
/// township centre its villages, grids and departments (司法所, 派出所 …); under the county its
/// townships and departments; under a village its grids. The handheld's assign form offers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Place {
    pub id: Uuid,
    pub name: String,
    pub kind: crate::org::NodeKind,
    /// The level a dispute sent there is handled at.
    pub level: Level,
}

impl From<&crate::org::Node> for Place {
    fn from(n: &crate::org::Node) -> Self {
        Place { id: n.id, name: n.name.clone(), kind: n.kind, level: n.level() }
    }
}

/// `POST /v1/session`: a staff member logs in to the console with the log-in name and password
/// the county administrator set for their account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogIn {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn").field("login", &self.login).field("password", &"…").finish()
    }
}

/// A console session as its browser sees it (the session's token travels only in an HttpOnly
/// cookie): who is logged in, and the token every request that changes something must carry in
/// its `X-CSRF-Token` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionView {
    pub account: Account,
    pub csrf_token: String,
    /// When the session ends at the latest (it ends earlier after [`SESSION_IDLE_MS`] unused).
    pub expires_at: i64,
}

/// A console session ends after this long unused …
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// … and this long after the log-in in any case.
pub const SESSION_LIFE_MS: i64 = 12 * 60 * 60 * 1000;

/// `PUT /v1/admin/accounts/{id}/password`: the county administrator sets (or resets) a staff
/// member's log-in name and password; their open sessions end.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SetPassword {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPassword").field("login", &self.login).field("password", &"…").finish()
    }
}

/// What a change of the county's time limits did (`PUT /v1/admin/settings/time-limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsChanged {
    /// The settings now in force, devices get them at their next sync.
    pub settings: crate::model::CountySettings,
    /// Disputes whose deadlines were derived again under them.
    pub disputes: u32,
}

/// What a setup file changed. Re-running the same file changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct SetupSummary {
    /// Data rows read.
    pub rows: usize,
    pub townships_created: usize,
    pub villages_created: usize,
    pub grids_created: usize,
    pub departments_created: usize,
    /// Places renamed, moved, or given a code or boundary.
    pub places_updated: usize,
    pub accounts_created: usize,
    /// Accounts whose role changed.
    pub accounts_updated: usize,
    /// Rows that changed nothing (already so).
    pub unchanged_rows: usize,
    /// Headers the setup file does not know; their cells were not read.
    pub ignored_columns: Vec<String>,
}

// ---- rosters (花名册) --------------------------------------------------------------------

/// What a roster import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ImportSummary {
    pub rows: usize,
    pub residents: usize,
    /// New houses (rows naming the grid's existing houses link to them instead).
    pub houses: usize,
    /// The grid's log position after the commit.
    pub seq: u64,
    pub ignored_columns: Vec<String>,
}

/// Why a roster row was rejected, beyond the validator's own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RosterCode {
    /// The same ID number on an earlier row of the file.
    DuplicateInFile,
    /// A resident with this ID number is already on the grid's records.
    AlreadyInGrid,
    /// The house code or address names no house in the file or the grid.
    UnknownHouse,
    /// Rows naming the same house (or the grid's existing house) disagree on a detail.
    HouseMismatch,
    /// An ID number stored as a number by Excel: its last digits are lost.
    IdNumberAsNumber,
    /// A cell holding an error value (#N/A, #VALUE! …).
    CellError,
    /// Setup file: the role is none the county knows.
    UnknownRole,
    /// Setup file: the role belongs at another kind of place (a 网格员 on a row naming no grid).
    RoleDoesNotFit,
    /// Setup file: a place is missing above the one named (a grid without its village), or a
    /// department is put under a village or grid.
    MissingPlace,
    /// Setup file: the grid code names another grid (in the file or already stored).
    GridCodeTaken,
    /// Setup file: the boundary is not a GeoJSON Polygon or MultiPolygon in longitude/latitude.
    BadBoundary,
    /// Setup file: a cell only a grid row may fill (code, boundary) on a row naming no grid.
    NotAGrid,
}

impl RosterCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RosterCode::DuplicateInFile => "duplicate_in_file",
            RosterCode::AlreadyInGrid => "already_in_grid",
            RosterCode::UnknownHouse => "unknown_house",
            RosterCode::HouseMismatch => "house_mismatch",
            RosterCode::IdNumberAsNumber => "id_number_as_number",
            RosterCode::CellError => "cell_error",
            RosterCode::UnknownRole => "unknown_role",
            RosterCode::RoleDoesNotFit => "role_does_not_fit",
            RosterCode::MissingPlace => "missing_place",
            RosterCode::GridCodeTaken => "grid_code_taken",
            RosterCode::BadBoundary => "bad_boundary",
            RosterCode::NotAGrid => "not_a_grid",
        }
    }
}

/// A stable reason code: the validator's ([`ValidationCode`]) or the roster's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reason {
    Roster(RosterCode),
    Field(#[cfg_attr(feature = "ts", ts(type = "ErrorCode"))] ValidationCode),
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Roster(c) => c.as_str(),
            Reason::Field(c) => c.as_str(),
        }
    }
}

/// One rejected cell (or row, when `column` names a missing one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Problem {
    /// The worksheet's name; empty for CSV.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sheet: String,
    /// The row as the file numbers it (the header row included; 1 is the first line).
    pub row: u32,
    /// The column's header as written in the file (the roster's header when it is missing).
    pub column: String,
    pub code: Reason,
    /// 中文说明
    pub message: String,
    pub message_en: String,
}

/// Every rejected row of a file. Nothing was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct RosterReport {
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    pub rejected_rows: usize,
    pub problems: Vec<Problem>,
    /// Headers the roster does not know; their cells were not read.
    pub ignored_columns: Vec<String>,
}

/// One rejected cell as a report line: sheet, row, column, code and both messages.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sheet = if self.sheet.is_empty() { String::new() } else { format!("{} ", self.sheet) };
        write!(
            f,
            "{sheet}第{}行 row {} [{}] {}: {} / {}",
            self.row,
            self.row,
            self.column,
            self.code.as_str(),
            self.message,
            self.message_en
        )
    }
}

impl std::fmt::Display for RosterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "花名册未导入：{} 行中有 {} 行未通过检查 / roster not imported: {} of {} rows rejected",
            self.rows, self.rejected_rows, self.rejected_rows, self.rows
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        if !self.ignored_columns.is_empty() {
            writeln!(f, "  未读取的列 ignored columns: {}", self.ignored_columns.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn ranges_read_only_their_one_form() {
        assert_eq!(ByteRange::parse("bytes=0-"), Some(ByteRange { from: 0, to: None }));
        assert_eq!(ByteRange::parse(" bytes=10-19 "), Some(ByteRange { from: 10, to: Some(19) }));
        for bad in [
            "bytes=-5",
            "bytes=5-4",
            "bytes=0-1,5-9",
            "items=0-",
            "bytes=a-",
            "bytes=0",
            "",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(ByteRange::parse(bad), None, "{bad}");
        }
        let r = ByteRange { from: 7, to: Some(9) };
        assert_eq!(ByteRange::parse(&r.header()), Some(r));
        let c = ContentRange { start: 10, end: 20, total: 30 };
        assert_eq!(c.header(), "bytes 10-19/30");
        assert_eq!(ContentRange::parse(&c.header()), Some(c));
        let empty = ContentRange { start: 0, end: 0, total: 0 };
        assert_eq!(ContentRange::parse(&empty.header()), Some(empty));
        for bad in ["bytes 5-4/10", "bytes 0-10/10", "bytes 0-1", "0-1/2", "bytes x-1/2"] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reasons_serialize_as_plain_codes() {
        let r = Reason::Roster(RosterCode::DuplicateInFile);
        assert_eq!(serde_json::to_value(r).unwrap(), Value::String("duplicate_in_file".into()));
        let f = Reason::Field(ValidationCode::IdNumberCheckDigit);
        assert_eq!(serde_json::to_value(f).unwrap(), Value::String("id_number_check_digit".into()));
        assert_eq!(serde_json::from_value::<Reason>(Value::String("id_number_check_digit".into())).unwrap(), f);
        assert_eq!(
            serde_json::from_value::<Reason>(Value::String("unknown_house".into())).unwrap(),
            Reason::Roster(RosterCode::UnknownHouse)
        );
    }
}
