//! The JSON contracts of the county server's HTTP API, beside the sync endpoint's binary ones
//! ([`crate::wire`]): enrolment, blobs, the staff queries and rosters. The server answers with
//! these types and the device and the console read them, so neither side re-declares them.
//! Errors are [`crate::error::ErrorBody`] with an [`crate::error::ErrorCode`].
//!
//! Plain data types in sections by route group (enrolment, ranges, blobs, staff queries, the
//! audit) here, and a file each for the disputes ([`disputes`]), the console's log-in
//! ([`console`]) and the setup and roster files ([`rosters`]), all re-exported here so a
//! client names them `api::…`; the rules these types carry live beside the model
//! (`closed_loop`, `org`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::org::{Account, Device, GridInfo, Role};

mod console;
mod disputes;
mod rosters;

pub use console::*;
pub use disputes::*;
pub use rosters::*;

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
    /// The printable sheet of these codes (HTML), when asked for with `?format=both`: the
    /// console shows the codes and opens the sheet from one issue (issuing twice would replace
    /// the first codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
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

/// A masked field of a resident's record (`POST /v1/residents/{id}/reveal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum MaskedField {
    IdNumber,
    Phone,
    /// Shown as its year only: with the full date the ID number's masked part is easy to guess.
    BirthDate,
}

impl MaskedField {
    pub fn as_str(self) -> &'static str {
        match self {
            MaskedField::IdNumber => "id_number",
            MaskedField::Phone => "phone",
            MaskedField::BirthDate => "birth_date",
        }
    }
}

/// `POST /v1/residents/{id}/reveal`: show one masked value in full, a deliberate and audited act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RevealRequest {
    pub field: MaskedField,
}

/// The value asked for (`None`: the record has none).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Revealed {
    pub field: MaskedField,
    pub value: Option<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed").field("field", &self.field).field("value", &"…").finish()
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
    /// `yyyymm` (China Standard Time); this month when absent. With `months`, the last month.
    pub month: Option<u32>,
    /// How many months, ending with `month` (1 to 24; 1 when absent): `by=month&months=12` is
    /// the year's trend.
    pub months: Option<u32>,
    pub by: Option<FigureGroup>,
    /// Only this township, village or grid of the caller's scope: a chart drilled down.
    pub node: Option<Uuid>,
}

/// `GET /v1/overview?node=` and similar figures of an area: the caller's scope, or one
/// township, village or grid within it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct AreaQuery {
    pub node: Option<Uuid>,
}

/// `GET /v1/disputes/counts`: how many disputes each of the workbench's lists holds for the
/// caller, counted, not listed (a list stops at its limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DisputeCounts {
    /// Reported since midnight, China Standard Time.
    pub new_today: u64,
    pub waiting: u64,
    pub overdue: u64,
    pub supervised: u64,
    pub unaccepted_emergencies: u64,
    pub assigned_out: u64,
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
    /// The caller's whole scope (or the node asked for), as one row.
    County,
    /// The whole scope, one row per month (`name`: `yyyymm`), months without disputes included.
    Month,
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
    /// The last month, and how many months ending with it.
    pub month: u32,
    pub months: u32,
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
    /// One resident's record (ID number and phone masked, birth year only).
    ResidentRecord,
    /// A masked value shown in full on a deliberate click (`detail`: which field).
    Reveal,
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
    pub const ALL: [ReadKind; 12] = [
        ReadKind::Snapshot,
        ReadKind::CatchUp,
        ReadKind::ResidentList,
        ReadKind::ResidentRecord,
        ReadKind::Reveal,
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
            ReadKind::Reveal => "reveal",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ValidationCode;
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
