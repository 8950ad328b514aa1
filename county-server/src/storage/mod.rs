//! Storage behind traits that speak domain types, one per concept ([`Organisation`],
//! [`Enrolment`], [`Documents`], [`Queries`], [`Blobs`], [`Audit`]; together [`Storage`]). The SQLite
//! backend is the embedded default; the PostgreSQL backend is for production (several
//! stateless servers on one database). Each backend is a folder with one file per concept, and
//! both pass the same test suite (`tests/storage_suite.rs`). No driver type, row or transaction
//! crosses this boundary.

mod postgres;
mod sqlite;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
pub use sync_protocol::api::{
    AuditEntry, AuditQuery, BlobState, DisputeList, DisputeQuery, Overview, ReadKind, ResidentQuery,
};
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{CountySettings, Dispute, House, Resident, TimeLimits};
pub use sync_protocol::org::{Account, Device, GridInfo, Node};
use sync_protocol::org::{Level, NodeKind, Role};
pub use sync_protocol::pipeline::Rows;
use sync_protocol::schema::Collection;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another writer committed to the same document first: reload and retry.
    #[error("concurrent update of {0}")]
    Contention(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("database: {0}")]
    Database(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Who holds a device token (see [`Storage::device_by_token`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenHolder {
    pub device: Device,
    pub account: Account,
    pub node: Option<Node>,
}

/// Which grids an account may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Township(Uuid),
    Village(Uuid),
    Grid(Uuid),
}

/// A document as stored: its saved bytes and a version that moves on with every commit.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    pub key: DocKey,
    pub bytes: Vec<u8>,
    pub version: u64,
}

/// A change accepted by the server, to be logged.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub doc: DocKey,
    pub hash: [u8; 32],
    pub bytes: Vec<u8>,
    pub device: Uuid,
    pub account: Uuid,
}

/// A change read back from a grid's log.
#[derive(Debug, Clone)]
pub struct LogChange {
    pub seq: u64,
    pub doc: DocKey,
    pub bytes: Vec<u8>,
}

/// A document's new state in a commit, checked against the version it was read at.
#[derive(Debug, Clone)]
pub struct DocWrite {
    pub key: DocKey,
    /// The version the writer read; `None` for a document that did not exist.
    pub expected: Option<u64>,
    pub version: u64,
    pub bytes: Vec<u8>,
    /// `bytes` are to be appended to the stored bytes rather than replace them: Automerge loads
    /// a saved document followed by further changes, so a sync stores only its new changes
    /// instead of saving the whole document again (a full save now and then compacts it).
    pub append: bool,
}

impl DocWrite {
    /// The whole saved document.
    pub fn full(key: DocKey, expected: Option<u64>, bytes: Vec<u8>) -> Self {
        DocWrite { key, expected, version: expected.map_or(1, |v| v + 1), bytes, append: false }
    }

    /// Bytes to append to the stored document read at version `expected`.
    pub fn append(key: DocKey, expected: u64, bytes: Vec<u8>) -> Self {
        DocWrite { key, expected: Some(expected), version: expected + 1, bytes, append: true }
    }
}

/// One atomic write to a grid: new document states (checked against the versions they were
/// read at), the changes to append to the grid's log, and the query rows.
#[derive(Debug, Clone)]
pub struct GridCommit {
    pub grid: Uuid,
    pub docs: Vec<DocWrite>,
    pub changes: Vec<NewChange>,
    pub rows: Rows,
    /// The county settings the disputes' derived columns follow (their deadlines).
    pub settings: std::sync::Arc<CountySettings>,
}

/// What a device gets when it catches up on a grid.
#[derive(Debug, Clone)]
pub enum CatchUp {
    Snapshot { seq: u64, docs: Vec<StoredDoc> },
    Changes { seq: u64, changes: Vec<LogChange>, more: bool },
}

/// The version of the closed loop's rule that a dispute's query row was derived by. Rows of an
/// older rule are derived again from their documents when a server starts
/// ([`crate::service::County::upgrade_rows`]).
pub const DISPUTE_RULE: i64 = 3;

/// What a dispute's query row keeps beside its JSON, derived once by the closed loop's rule for
/// both backends: what lists filter and sort on.
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeColumns {
    pub status: &'static str,
    pub level: &'static str,
    pub resolved_level: Option<&'static str>,
    pub open: bool,
    pub accepted: bool,
    pub supervised: bool,
    /// The earliest time limit still running (overdue: before now).
    pub deadline: Option<i64>,
    /// Whom it waits for ([`sync_protocol::model::closed_loop::waiting_on`]).
    pub waiting_level: Option<&'static str>,
    /// The place it was sent to (a department, a village), when it waits for one.
    pub waiting_node: Option<Uuid>,
    pub waiting_account: Option<Uuid>,
    /// 第一时间介入: the first action that dealt with it.
    pub first_intervention_at: Option<i64>,
}

impl DisputeColumns {
    pub fn of(d: &Dispute, limits: &TimeLimits) -> Self {
        let s = d.state(limits);
        let waiting = sync_protocol::model::closed_loop::waiting_on(&s);
        DisputeColumns {
            status: s.status.as_str(),
            level: s.level.as_str(),
            resolved_level: s.resolved_level.map(|l| l.as_str()),
            open: s.status.is_open(),
            accepted: s.accepted,
            supervised: s.supervised,
            deadline: s.deadline,
            waiting_level: waiting.map(|w| w.level.as_str()),
            waiting_node: waiting.and_then(|w| w.node),
            waiting_account: waiting.and_then(|w| w.account),
            first_intervention_at: s.first_intervention_at,
        }
    }
}

/// The times and outcome of one dispute, for the month's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeTimes {
    pub grid: Uuid,
    /// Where the grid lies, and who reported (read with the row, not one lookup per row).
    pub village: Option<Uuid>,
    pub township: Option<Uuid>,
    pub reported_by: Uuid,
    pub reporter_name: Option<String>,
    pub discovered_at: i64,
    pub reported_at: i64,
    pub first_intervention_at: Option<i64>,
    pub resolved_level: Option<Level>,
}

/// Who asks for a staff list, and when: the lists are relative to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub account: Uuid,
    pub level: Level,
    /// Their place (`None`: any place at their level).
    pub node: Option<Uuid>,
    /// A department's staff: waiting for them is only what is sent to their department.
    pub department: bool,
    pub now_ms: i64,
}

impl Viewer {
    pub fn of(account: &Account, now_ms: i64) -> Viewer {
        Viewer {
            account: account.id,
            level: account.role.level(),
            node: Some(account.node),
            department: account.role.is_department(),
            now_ms,
        }
    }

    /// Anyone of a level's centre (the demo, benchmarks).
    pub fn at_level(level: Level, now_ms: i64) -> Viewer {
        Viewer { account: Uuid::nil(), level, node: None, department: false, now_ms }
    }
}

/// A stored node kind; an unknown one is a damaged row, never read as some default kind.
/// The column naming the places under a node of this kind ([`Organisation::places_under`]):
/// a closed list, never input.
fn places_column(kind: NodeKind) -> Option<&'static str> {
    match kind {
        NodeKind::County => Some("parent"),
        NodeKind::Township => Some("township"),
        NodeKind::Village => Some("village"),
        NodeKind::Grid | NodeKind::Department => None,
    }
}

/// The stored settings row, or the defaults (version 0) when there is none. A row that does not
/// read, or whose limits cannot be (written by hand, or by another version), is logged and
/// read as the defaults at its version, so the county keeps serving and the next change
/// overwrites it.
fn settings_row(row: Option<(i64, String)>) -> Result<CountySettings> {
    let Some((version, data)) = row else { return Ok(CountySettings::default()) };
    let problem = match serde_json::from_str::<CountySettings>(&data) {
        Ok(s) if s.version as i64 != version => format!("settings of version {} in a row of {version}", s.version),
        Ok(s) => match s.time_limits.problem() {
            None => return Ok(s),
            Some(p) => p,
        },
        Err(e) => e.to_string(),
    };
    tracing::error!(%problem, version, "the stored county settings cannot be; the defaults serve until they are set again");
    Ok(CountySettings { version: version.max(0) as u64, time_limits: TimeLimits::default() })
}

fn parse_kind(s: &str) -> std::result::Result<NodeKind, UnknownValue> {
    NodeKind::parse(s).ok_or_else(|| UnknownValue(format!("node kind {s:?}")))
}

/// A stored role; an unknown one is a damaged row, never read as some default role.
fn parse_role(s: &str) -> std::result::Result<Role, UnknownValue> {
    Role::parse(s).ok_or_else(|| UnknownValue(format!("role {s:?}")))
}

/// A stored kind of read; an unknown one is a damaged row.
fn parse_read_kind(s: &str) -> std::result::Result<ReadKind, UnknownValue> {
    ReadKind::parse(s).ok_or_else(|| UnknownValue(format!("kind of read {s:?}")))
}

/// A column holding a value this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {0} in the database")]
struct UnknownValue(String);

/// The county's structure: nodes and accounts.
#[async_trait]
pub trait Organisation: Send + Sync + 'static {
    async fn put_node(&self, node: &Node) -> Result<()>;
    async fn node(&self, id: Uuid) -> Result<Option<Node>>;
    async fn grids(&self, scope: &Scope) -> Result<Vec<GridInfo>>;
    async fn put_account(&self, account: &Account) -> Result<()>;
    async fn account(&self, id: Uuid) -> Result<Option<Account>>;
    async fn accounts_at(&self, node: Uuid) -> Result<Vec<Account>>;
    /// The whole structure: every node with its code (and its boundary if `boundaries`), and
    /// every account.
    async fn structure(&self, boundaries: bool) -> Result<Structure>;
    /// The places that have a boundary (without reading the boundaries).
    async fn bounded_nodes(&self) -> Result<Vec<Uuid>>;
    /// Writes nodes and accounts (new or changed, by id) in one transaction, all or none, if
    /// the county still has as many nodes and accounts as `expected` says (the structure the
    /// changes were planned on); `Contention` if not. One such write runs at a time, across
    /// servers and the command line.
    async fn apply_structure(&self, nodes: &[NodeSetup], accounts: &[Account], expected: (usize, usize)) -> Result<()>;
    /// The places under `node` a dispute may be sent to: a township's villages, grids and
    /// departments, the county's townships and departments, a village's grids; none under a
    /// grid or a department.
    async fn places_under(&self, node: &Node) -> Result<Vec<Node>>;
    /// The county's settings: version 0, the defaults, until they are first set.
    async fn settings(&self) -> Result<CountySettings>;
    /// Stores `settings` if the stored ones are still at version `previous` (0: none stored);
    /// `false` (nothing written) if another writer got there first.
    async fn put_settings(&self, settings: &CountySettings, previous: u64) -> Result<bool>;
}

/// A node as the county's setup file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSetup {
    pub node: Node,
    /// The county's code for it (网格编码), unique: what names a grid across renames.
    pub code: Option<String>,
    /// Its outline, a GeoJSON geometry (Polygon or MultiPolygon) as written.
    pub boundary: Option<String>,
}

/// Every node and account of the county.
#[derive(Debug, Clone, Default)]
pub struct Structure {
    pub nodes: Vec<NodeSetup>,
    pub accounts: Vec<Account>,
}

/// Enrolment and devices. Codes and tokens are stored hashed only.
#[async_trait]
pub trait Enrolment: Send + Sync + 'static {
    async fn put_enrolment_code(&self, code_hash: &str, account: Uuid, expires_at: i64) -> Result<()>;
    /// Uses up a code once and registers the device; `None` if the code is unknown, used or
    /// expired.
    async fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        now: i64,
        device: &Device,
        token_hash: &str,
    ) -> Result<Option<Account>>;
    /// The device holding a token, its account, and the node the account is scoped to (`None`
    /// if that node is missing): everything a request's authentication and scope need, in one
    /// read.
    async fn device_by_token(&self, token_hash: &str) -> Result<Option<TokenHolder>>;
    async fn revoke_device(&self, id: Uuid, at: i64) -> Result<bool>;
    async fn devices(&self, account: Option<Uuid>) -> Result<Vec<Device>>;
    /// Whether a code can still be redeemed (issued, unused, unrevoked, unexpired): a read, so
    /// an attempt with a wrong code costs no write.
    async fn enrolment_code_open(&self, code_hash: &str, now: i64) -> Result<bool>;
    /// Revokes an issued code that is not used yet (a printed sheet lost, a person who left);
    /// whether there was one.
    async fn revoke_enrolment_code(&self, code_hash: &str, at: i64) -> Result<bool>;
    /// Issues codes in bulk (hash, account, expiry) in one transaction, revoking the unused
    /// codes these accounts held before; how many were revoked.
    async fn replace_enrolment_codes(&self, codes: &[(String, Uuid, i64)], at: i64) -> Result<u64>;
    /// Revokes every unused code of these accounts; how many.
    async fn revoke_codes_of(&self, accounts: &[Uuid], at: i64) -> Result<u64>;
}

/// Documents and the change log.
#[async_trait]
pub trait Documents: Send + Sync + 'static {
    async fn load_docs(&self, keys: &[DocKey]) -> Result<Vec<StoredDoc>>;
    /// The stored versions of those of `keys` that exist, without their bytes.
    async fn doc_versions(&self, keys: &[DocKey]) -> Result<Vec<(DocKey, u64)>>;
    async fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>>;
    /// Commits atomically or not at all; `Contention` if a document moved on since it was read.
    async fn commit(&self, commit: GridCommit) -> Result<u64>;
    async fn grid_seq(&self, grid: Uuid) -> Result<u64>;
    /// Everything new in a grid's documents of `collections` after `after` (a snapshot when
    /// `after` is 0), leaving out the changes `device` sent itself, at most about `max_bytes`.
    /// Documents and changes of other collections are passed over without reading their bytes.
    async fn catch_up(
        &self,
        grid: Uuid,
        collections: &[Collection],
        after: u64,
        device: Uuid,
        max_bytes: usize,
    ) -> Result<CatchUp>;
}

/// Queries for staff, from the query tables.
#[async_trait]
pub trait Queries: Send + Sync + 'static {
    async fn residents(&self, scope: &Scope, q: &ResidentQuery) -> Result<Vec<Resident>>;
    async fn resident(&self, id: Uuid) -> Result<Option<(DocKey, Resident)>>;
    async fn houses(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<House>>;
    /// Disputes within the scope, newest first, each with its grid.
    async fn disputes(&self, scope: &Scope, q: &DisputeQuery) -> Result<Vec<(Uuid, Dispute)>>;
    /// One dispute and the document holding it.
    async fn dispute(&self, id: Uuid) -> Result<Option<(DocKey, Dispute)>>;
    /// One of the staff's lists, within the scope, most urgent first (earliest time limit), at
    /// most `limit`; the query's other filters narrow it.
    async fn dispute_list(
        &self,
        scope: &Scope,
        list: DisputeList,
        viewer: Viewer,
        q: &DisputeQuery,
        limit: u32,
    ) -> Result<Vec<(Uuid, Dispute)>>;
    /// How many disputes one of the staff's lists holds (`None`: every dispute `q` matches),
    /// counted without reading them.
    async fn dispute_count(
        &self,
        scope: &Scope,
        list: Option<DisputeList>,
        viewer: Viewer,
        q: &DisputeQuery,
    ) -> Result<u64>;
    /// Open disputes whose time limit passed in `[after, until)`, earliest first, with their
    /// grids, at most `limit` (the live stream's overdue events).
    async fn deadlines_passed(&self, after: i64, until: i64, limit: u32) -> Result<Vec<(Uuid, Dispute)>>;
    /// The times and outcome of the disputes reported in `[from, to)` within the scope, of rows
    /// the current rule derived ([`DISPUTE_RULE`]).
    async fn dispute_times(&self, scope: &Scope, from: i64, to: i64) -> Result<Vec<DisputeTimes>>;
    /// The disputes documents holding a row derived by a rule older than `rule`.
    async fn stale_dispute_docs(&self, rule: i64, settings: u64) -> Result<Vec<DocKey>>;
    async fn record_doc(&self, collection: sync_protocol::schema::Collection, id: Uuid) -> Result<Option<DocKey>>;
    async fn conflicts(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<Conflict>>;
    async fn overview(&self, scope: &Scope, month_start_ms: i64) -> Result<Overview>;
    /// The grids of `scope` for the map: each with its boundary and its figures from the
    /// per-grid counters (this month's visits: the month beginning at `month_start_ms`), and
    /// its open disputes past their deadline at `now_ms`.
    async fn map_grids(
        &self,
        scope: &Scope,
        month_start_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<sync_protocol::api::MapGrid>>;
    /// Counts of log entries and documents, for operators and tests.
    async fn stats(&self) -> Result<StorageStats>;
}

/// One chunk of an upload as it is stored: into which grid, by which device, the blob's whole
/// size, where the chunk starts, and when it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    pub grid: Uuid,
    pub device: Uuid,
    pub total: u64,
    pub offset: u64,
    pub at: i64,
}

/// What one device is uploading, and has started lately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceUploads {
    /// Uploads it started and has not finished.
    pub unfinished: u64,
    /// The declared sizes of the uploads it started since the time asked about.
    pub started_bytes: u64,
}

/// Photos and other attachments: content-addressed blobs, uploaded in chunks. A blob belongs to
/// its grid: the same bytes in two grids are two blobs, and a chunk for one grid never touches
/// another grid's upload.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Appends a chunk at `offset` (which must equal what was received so far) and returns the
    /// blob's state; the blob is complete, and its hash verified, when `total` bytes are in.
    /// The upload remembers the device that started it and when a chunk last came.
    async fn put_blob_chunk(&self, hash: &str, upload: Upload, bytes: &[u8]) -> Result<BlobState>;
    /// The state of the blob of that hash in every grid that holds one.
    async fn blob_states(&self, hash: &str) -> Result<Vec<BlobState>>;
    /// A complete blob's bytes, in its grid.
    async fn blob(&self, grid: Uuid, hash: &str) -> Result<Option<Vec<u8>>>;
    /// How many uploads `device` has unfinished, and the declared bytes of those it started at
    /// or after `since`.
    async fn device_uploads(&self, device: Uuid, since: i64) -> Result<DeviceUploads>;
    /// Deletes the unfinished uploads no chunk came to since `before`, with their chunks;
    /// how many.
    async fn prune_unfinished_uploads(&self, before: i64) -> Result<u64>;
}

/// The audit of personal-data reads: appended to, never changed; read by the county
/// administrator.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Appends entries durably (committed before this returns).
    async fn record_reads(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Entries matching the query, newest first.
    async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// A console session as stored: its token only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id: Uuid,
    pub account: Uuid,
    pub csrf: String,
    pub created_at: i64,
    pub seen_at: i64,
    pub ended_at: Option<i64>,
    pub client: Option<String>,
}

/// Staff log-ins to the console: a log-in name and an Argon2id password hash per account, and
/// sessions held by browsers (HttpOnly cookies; stored as SHA-256 hashes of their tokens).
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Sets an account's log-in name and password hash; `false` if another account has the name.
    async fn set_login(&self, account: Uuid, login: &str, hash: &str, at: i64) -> Result<bool>;
    /// The account and password hash of a log-in name.
    async fn login(&self, login: &str) -> Result<Option<(Uuid, String)>>;
    async fn start_session(&self, session: &StoredSession, token_hash: &str) -> Result<()>;
    async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>>;
    async fn touch_session(&self, id: Uuid, at: i64) -> Result<()>;
    async fn end_session(&self, id: Uuid, at: i64) -> Result<()>;
    /// Ends every open session of an account (a password reset); how many.
    async fn end_sessions_of(&self, account: Uuid, at: i64) -> Result<u64>;
    /// Ends every open session of an account but one; how many.
    async fn end_sessions_of_except(&self, account: Uuid, keep: Uuid, at: i64) -> Result<u64>;
    /// Every log-in name with its account, how many of its sessions were used after
    /// `seen_after` and begun after `begun_after` and have not ended (the open ones), and
    /// whether a second factor is in force.
    async fn logins(&self, seen_after: i64, begun_after: i64) -> Result<Vec<LoginRow>>;
    /// The log-in name of an account.
    async fn login_of(&self, account: Uuid) -> Result<Option<String>>;
    /// An account's second factor: its TOTP secret, whether it is in force, the last step taken.
    async fn second_factor(&self, account: Uuid) -> Result<Option<SecondFactor>>;
    /// Sets a pending secret, replacing a pending one but never one in force: `false` if a
    /// factor is in force (or the account has no log-in).
    async fn begin_second_factor(&self, account: Uuid, secret: &str) -> Result<bool>;
    /// Removes an account's factor, pending or in force.
    async fn remove_second_factor(&self, account: Uuid) -> Result<()>;
    /// Puts the pending factor in force if it is still `secret` (the one a code was checked
    /// against), the step of that code taken; `false` otherwise.
    async fn confirm_second_factor(&self, account: Uuid, secret: &str, step: i64) -> Result<bool>;
    /// Takes a step of the factor in force, once (RFC 6238 §5.2): `false` if it or a later
    /// one was taken already, or no factor is in force.
    async fn take_second_factor_step(&self, account: Uuid, step: i64) -> Result<bool>;
    /// The roles whose staff must log in with a second factor.
    async fn second_factor_roles(&self) -> Result<Vec<Role>>;
    async fn set_second_factor_roles(&self, roles: &[Role]) -> Result<()>;
}

/// One console log-in, for the administrator's list of accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRow {
    pub account: Uuid,
    pub login: String,
    pub open_sessions: u32,
    pub second_factor: bool,
}

/// An account's TOTP second factor as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactor {
    /// Base32, as authenticator apps take it.
    pub secret: String,
    pub confirmed: bool,
    pub last_step: i64,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor").field("confirmed", &self.confirmed).field("last_step", &self.last_step).finish()
    }
}

/// Roles as stored in one text column: their names, comma-separated.
pub(crate) fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

pub(crate) fn roles_of_text(text: &str) -> Vec<Role> {
    text.split(',').filter_map(Role::parse).collect()
}

/// Messages between the servers sharing one database (the staff's live events, so a client of
/// one server hears what a handheld synced through another): PostgreSQL's LISTEN/NOTIFY. A
/// SQLite file has one server, which relays nothing.
#[async_trait]
pub trait Relay: Send + Sync + 'static {
    /// Whether other servers may share this database, so what happens here is to be announced.
    fn relays(&self) -> bool {
        false
    }
    /// Announces one message (at most [`MAX_ANNOUNCEMENT`] bytes) to every server listening.
    async fn announce(&self, _message: &str) -> Result<()> {
        Ok(())
    }
    /// Every server's announcements (this one's too) as they come, from a listener that
    /// reconnects by itself; `None` where nothing is relayed.
    async fn announcements(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        Ok(None)
    }
}

/// The longest message [`Relay::announce`] takes (PostgreSQL's NOTIFY takes under 8,000 bytes).
pub const MAX_ANNOUNCEMENT: usize = 7_000;

/// A county's whole storage: every concept above, from one backend. Services hold an
/// `Arc<dyn Storage>`; a backend implements each concept's trait in a file of its own.
pub trait Storage: Organisation + Enrolment + Documents + Queries + Blobs + Audit + Relay + Sessions {}

impl<T: Organisation + Enrolment + Documents + Queries + Blobs + Audit + Relay + Sessions> Storage for T {}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    pub changes: u64,
    pub documents: u64,
    pub residents: u64,
    pub houses: u64,
    pub visits: u64,
    pub disputes: u64,
    pub devices: u64,
}
