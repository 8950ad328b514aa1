//! The embedded SQLite backend (WAL, synchronous=FULL so an acknowledged change survives a
//! power cut). One writer connection and a few read-only ones: in WAL mode readers work from
//! the last commit while the writer writes and syncs the next, so a sync storm's reads
//! (authentication, document versions, catch-ups) and the staff's overview queries do not wait
//! for the writer's fsync. rusqlite calls run on the blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{Dispute, House, Resident};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use sha2::Digest;

use super::*;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE nodes (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,
    township TEXT, village TEXT
);
CREATE INDEX nodes_township ON nodes(township, kind);
CREATE INDEX nodes_village ON nodes(village, kind);
CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, node TEXT NOT NULL);
CREATE INDEX accounts_node ON accounts(node);
CREATE TABLE enrolment_codes (
    code_hash TEXT PRIMARY KEY, account TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL, revoked_at INTEGER
);
CREATE TABLE grid_log (grid TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE documents (
    doc_key TEXT PRIMARY KEY, grid TEXT NOT NULL, bytes BLOB NOT NULL, version INTEGER NOT NULL
);
CREATE INDEX documents_grid ON documents(grid);
CREATE TABLE changes (
    hash BLOB PRIMARY KEY, grid TEXT NOT NULL, seq INTEGER NOT NULL, doc_key TEXT NOT NULL,
    bytes BLOB NOT NULL, device TEXT NOT NULL, account TEXT NOT NULL, received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX changes_grid_seq ON changes(grid, seq);
CREATE TABLE residents (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, doc_key TEXT NOT NULL, name TEXT NOT NULL,
    initials TEXT NOT NULL, id_tail TEXT NOT NULL, categories TEXT NOT NULL, house_id TEXT,
    archived INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX residents_grid ON residents(grid);
CREATE TABLE houses (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, doc_key TEXT NOT NULL, address TEXT NOT NULL,
    rented INTEGER NOT NULL, archived INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX houses_grid ON houses(grid);
CREATE TABLE visits (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, doc_key TEXT NOT NULL, house_id TEXT NOT NULL,
    at INTEGER NOT NULL, by_account TEXT NOT NULL, attention INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX visits_grid_at ON visits(grid, at);
CREATE TABLE disputes (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, doc_key TEXT NOT NULL, class TEXT NOT NULL,
    category TEXT NOT NULL, status TEXT NOT NULL, level TEXT NOT NULL, resolved_level TEXT,
    open INTEGER NOT NULL, discovered_at INTEGER NOT NULL, reported_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX disputes_grid ON disputes(grid, open);
CREATE TABLE conflicts (
    record TEXT NOT NULL, field TEXT NOT NULL, grid TEXT NOT NULL, doc_key TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (record, field)
);
CREATE INDEX conflicts_grid ON conflicts(grid);
"#,
    r#"
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY, grid TEXT NOT NULL, total INTEGER NOT NULL, received INTEGER NOT NULL,
    complete INTEGER NOT NULL, data BLOB
);
CREATE TABLE blob_chunks (hash TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (hash, offset));
"#,
    r#"
CREATE TABLE attempts (key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX attempts_key_at ON attempts(key, at);
"#,
    // A document's appended changes, one row per version after its last full save: rewriting
    // the saved bytes on every sync rewrote all their overflow pages.
    r#"
CREATE TABLE doc_tail (
    doc_key TEXT NOT NULL, version INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (doc_key, version)
) WITHOUT ROWID;
"#,
];

#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
    /// Commits waiting for the connection, written together (see `commit`).
    queue: Arc<Mutex<Vec<Queued>>>,
    /// Read-only connections to the same file; `None` for an in-memory database (which only
    /// its own connection can see), whose reads then share the writer.
    readers: Option<Arc<Readers>>,
    _checkpoints: Option<Arc<CheckpointGuard>>,
}

/// Default number of read-only connections (`GRIDKEEPER_DB_POOL` overrides it).
const DEFAULT_READERS: usize = 4;
/// Page caches (negative: KiB). SQLite's default of 2 MB had the writer reading index pages
/// back from the OS for most inserts into a county-sized database.
const WRITER_CACHE_KIB: i64 = -65_536;
const READER_CACHE_KIB: i64 = -16_384;
/// Prepared statements kept per connection (rusqlite's default of 16 is fewer than a sync uses).
const STATEMENT_CACHE: usize = 64;
/// How often the background thread copies committed WAL pages into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// The writer checkpoints by itself only if the WAL grows past this many pages (64 MB), i.e.
/// if the background checkpoints cannot keep up or are held back by long reads.
const WRITER_CHECKPOINT_PAGES: i64 = 16_384;

/// Stops the background checkpoint thread when the last clone of the storage is dropped.
struct CheckpointGuard {
    _stop: std::sync::mpsc::Sender<()>,
}

/// A fixed set of read-only connections: a permit from `free` guarantees an idle one.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    free: Arc<tokio::sync::Semaphore>,
}

fn db_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Database(e.to_string())
}

/// A column whose text names no known value.
fn unknown_col(at: usize, e: UnknownValue) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, Box::new(e))
}

fn uuid_col(s: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn json_col<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// SQL condition selecting the grids of a scope, on a column holding a grid id.
fn scope_sql(scope: &Scope, column: &str) -> (String, Option<String>) {
    match scope {
        Scope::All => ("1=1".into(), None),
        Scope::Township(t) => {
            (format!("{column} IN (SELECT id FROM nodes WHERE kind='grid' AND township=?1)"), Some(t.to_string()))
        }
        Scope::Village(v) => {
            (format!("{column} IN (SELECT id FROM nodes WHERE kind='grid' AND village=?1)"), Some(v.to_string()))
        }
        Scope::Grid(g) => (format!("{column} = ?1"), Some(g.to_string())),
    }
}

impl SqliteStorage {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(db_err)?;
        let mut storage = Self::init(conn)?;
        // Opened after the writer has switched the file to WAL and migrated it.
        let n = std::env::var("GRIDKEEPER_DB_POOL").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_READERS);
        let idle = (0..n.max(1)).map(|_| open_reader(path)).collect::<Result<Vec<_>>>()?;
        storage.readers =
            Some(Arc::new(Readers { free: Arc::new(tokio::sync::Semaphore::new(idle.len())), idle: Mutex::new(idle) }));
        // Checkpoints move off the writer: copying WAL pages into the database file and syncing
        // it took a third of the writer's time in a morning sync storm (measured with perf).
        storage
            .conn
            .lock()
            .map_err(|_| db_err("connection lock poisoned"))?
            .pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
            .map_err(db_err)?;
        storage._checkpoints = Some(Arc::new(start_checkpoints(path)?));
        Ok(storage)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(db_err)?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB).map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_err)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(db_err)?;
            tx.execute_batch(m).map_err(db_err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(db_err)?;
            tx.commit().map_err(db_err)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            queue: Arc::new(Mutex::new(Vec::new())),
            readers: None,
            _checkpoints: None,
        })
    }

    /// Runs a read on an idle read-only connection (or on the writer for an in-memory
    /// database). A read sees every commit that returned before it started.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let Some(readers) = self.readers.clone() else {
            return self.run(f).await;
        };
        let permit =
            readers.free.clone().acquire_owned().await.map_err(|_| StorageError::Database("readers closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = readers.idle.lock().map_err(|_| StorageError::Database("reader pool poisoned".into()))?.pop();
            let mut conn = taken.ok_or_else(|| StorageError::Database("no idle reader despite a permit".into()))?;
            let out = f(&mut conn);
            if let Ok(mut idle) = readers.idle.lock() {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(db_err)?
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StorageError::Database("connection lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(db_err)?
    }
}

/// A read-only connection for the reader pool.
fn open_reader(path: &Path) -> Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err)?;
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
    c.pragma_update(None, "query_only", true).map_err(db_err)?;
    c.pragma_update(None, "cache_size", READER_CACHE_KIB).map_err(db_err)?;
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(c)
}

/// Starts the background checkpoint thread on a connection of its own. A checkpoint from
/// another connection is safe at any moment; PASSIVE never blocks the writer or the readers.
fn start_checkpoints(path: &Path) -> Result<CheckpointGuard> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_err)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || checkpoint_loop(conn, stopped))
        .map_err(db_err)?;
    Ok(CheckpointGuard { _stop: stop })
}

/// Copies committed WAL pages into the database file every `CHECKPOINT_EVERY` until the
/// storage is dropped.
fn checkpoint_loop(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            tracing::warn!(error = %e, "background checkpoint failed; the writer checkpoints past 64 MB of WAL");
        }
    }
}

type Queued = (GridCommit, tokio::sync::oneshot::Sender<Result<u64>>);

/// Writes a batch of grid commits in one transaction, each in a savepoint.
fn commit_batch(c: &mut Connection, batch: Vec<Queued>) {
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = match c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for (_, done) in batch {
                let _ = done.send(Err(db_err(&e)));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (commit, done) in batch {
        let outcome = match tx.savepoint() {
            Ok(mut sp) => {
                sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                match commit_one(&sp, &commit, now) {
                    Ok(seq) => sp.commit().map(|_| seq).map_err(db_err),
                    Err(e) => Err(e), // dropped: rolled back to the savepoint
                }
            }
            Err(e) => Err(db_err(e)),
        };
        results.push((done, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (done, outcome) in results {
                let _ = done.send(outcome);
            }
        }
        Err(e) => {
            for (done, _) in results {
                let _ = done.send(Err(db_err(&e)));
            }
        }
    }
}

/// One grid commit inside a batch's transaction.
fn commit_one(tx: &Connection, commit: &GridCommit, now: i64) -> Result<u64> {
    let grid = commit.grid.to_string();
    for doc in &commit.docs {
        let key = doc.key.to_string();
        let current: Option<i64> = tx
            .prepare_cached("SELECT version FROM documents WHERE doc_key = ?1")
            .and_then(|mut st| st.query_row([&key], |r| r.get(0)).optional())
            .map_err(db_err)?;
        if current.map(|v| v as u64) != doc.expected || (doc.append && current.is_none()) {
            return Err(StorageError::Contention(key));
        }
        if doc.append {
            // The saved bytes stay as they are (an update of the same size is written in
            // place); the new changes go into a small row of their own.
            tx.prepare_cached("UPDATE documents SET version = ?2 WHERE doc_key = ?1")
                .and_then(|mut st| st.execute(params![key, doc.version as i64]))
                .map_err(db_err)?;
            tx.prepare_cached("INSERT INTO doc_tail (doc_key, version, bytes) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| st.execute(params![key, doc.version as i64, doc.bytes]))
                .map_err(db_err)?;
        } else {
            tx.prepare_cached(
                "INSERT INTO documents (doc_key, grid, bytes, version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (doc_key) DO UPDATE SET bytes = excluded.bytes, version = excluded.version",
            )
            .and_then(|mut st| st.execute(params![key, grid, doc.bytes, doc.version as i64]))
            .map_err(db_err)?;
            tx.prepare_cached("DELETE FROM doc_tail WHERE doc_key = ?1")
                .and_then(|mut st| st.execute([&key]))
                .map_err(db_err)?;
        }
    }
    let mut seq: i64 = tx
        .prepare_cached("SELECT seq FROM grid_log WHERE grid = ?1")
        .and_then(|mut st| st.query_row([&grid], |r| r.get(0)).optional())
        .map_err(db_err)?
        .unwrap_or(0);
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO changes (hash, grid, seq, doc_key, bytes, device, account, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db_err)?;
        for ch in &commit.changes {
            seq += 1;
            st.execute(params![
                &ch.hash[..],
                grid,
                seq,
                ch.doc.to_string(),
                ch.bytes,
                ch.device.to_string(),
                ch.account.to_string(),
                now
            ])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StorageError::Contention("change already stored".into())
                }
                e => db_err(e),
            })?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO grid_log (grid, seq) VALUES (?1, ?2) ON CONFLICT (grid) DO UPDATE SET seq = excluded.seq",
    )
    .and_then(|mut st| st.execute(params![grid, seq]))
    .map_err(db_err)?;
    write_rows(tx, &grid, &commit.rows).map_err(db_err)?;
    Ok(seq as u64)
}

/// Appends a document's tail (the changes stored since its last full save) to its saved bytes.
fn append_tail(c: &Connection, key: &str, bytes: &mut Vec<u8>) -> rusqlite::Result<()> {
    let mut st = c.prepare_cached("SELECT bytes FROM doc_tail WHERE doc_key = ?1 ORDER BY version")?;
    let mut rows = st.query([key])?;
    while let Some(r) = rows.next()? {
        bytes.extend_from_slice(r.get_ref(0)?.as_blob()?);
    }
    Ok(())
}

fn write_rows(tx: &Connection, grid: &str, rows: &Rows) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO residents (id, grid, doc_key, name, initials, id_tail, categories, house_id, archived, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, name = excluded.name, initials = excluded.initials, id_tail = excluded.id_tail, categories = excluded.categories, house_id = excluded.house_id, archived = excluded.archived, data = excluded.data
         WHERE residents.grid = excluded.grid",
    )?;
    for (key, r) in &rows.residents {
        let tail = sync_protocol::search::id_tail(r.id_number.as_deref());
        st.execute(params![
            r.id.to_string(),
            grid,
            key.to_string(),
            r.name,
            sync_protocol::pinyin::initials(&r.name),
            tail,
            format!(",{},", r.categories.join(",")),
            r.house_id.map(|h| h.to_string()),
            r.is_archived(),
            serde_json::to_string(r).unwrap_or_default(),
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO houses (id, grid, doc_key, address, rented, archived, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, address = excluded.address, rented = excluded.rented, archived = excluded.archived, data = excluded.data
         WHERE houses.grid = excluded.grid",
    )?;
    for (key, h) in &rows.houses {
        st.execute(params![
            h.id.to_string(),
            grid,
            key.to_string(),
            h.address(),
            h.rented.unwrap_or(false),
            h.archived_reason.is_some(),
            serde_json::to_string(h).unwrap_or_default()
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO visits (id, grid, doc_key, house_id, at, by_account, attention, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, house_id = excluded.house_id, at = excluded.at, by_account = excluded.by_account, attention = excluded.attention, data = excluded.data
         WHERE visits.grid = excluded.grid",
    )?;
    for (key, v) in &rows.visits {
        let c = &v.clears;
        let attention = [&c.household, &c.population, &c.hazards, &c.needs, &c.attitude]
            .iter()
            .filter(|i| i.status == "attention")
            .count();
        st.execute(params![
            v.id.to_string(),
            grid,
            key.to_string(),
            v.house_id.to_string(),
            v.at,
            v.by.to_string(),
            attention as i64,
            serde_json::to_string(v).unwrap_or_default()
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO disputes (id, grid, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, class = excluded.class, category = excluded.category, status = excluded.status, level = excluded.level, resolved_level = excluded.resolved_level, open = excluded.open, discovered_at = excluded.discovered_at, reported_at = excluded.reported_at, data = excluded.data
         WHERE disputes.grid = excluded.grid",
    )?;
    for (key, d) in &rows.disputes {
        let s = d.state();
        st.execute(params![
            d.id.to_string(),
            grid,
            key.to_string(),
            d.class,
            d.category,
            s.status.as_str(),
            s.level.as_str(),
            s.resolved_level.map(|l| l.as_str()),
            s.status.is_open(),
            d.discovered_at,
            d.reported_at,
            serde_json::to_string(d).unwrap_or_default()
        ])?;
    }
    let mut del = tx.prepare_cached("DELETE FROM conflicts WHERE record = ?1 AND grid = ?2")?;
    let mut ins =
        tx.prepare_cached("INSERT INTO conflicts (record, field, grid, doc_key, data) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (key, record, list) in &rows.conflicts {
        del.execute(params![record.to_string(), grid])?;
        for c in list {
            ins.execute(params![
                record.to_string(),
                c.field,
                grid,
                key.to_string(),
                serde_json::to_string(c).unwrap_or_default()
            ])?;
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn put_node(&self, node: &Node) -> Result<()> {
        let n = node.clone();
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO nodes (id, kind, name, parent, township, village) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    n.id.to_string(),
                    kind_str(n.kind),
                    n.name,
                    n.parent.map(|p| p.to_string()),
                    n.township.map(|p| p.to_string()),
                    n.village.map(|p| p.to_string())
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn node(&self, id: Uuid) -> Result<Option<Node>> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, kind, name, parent, township, village FROM nodes WHERE id = ?1",
                [id.to_string()],
                |r| node_at(r, 0),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn grids(&self, scope: &Scope) -> Result<Vec<GridInfo>> {
        let (cond, arg) = scope_sql(scope, "g.id");
        self.read(move |c| {
            let sql = format!(
                "SELECT g.id, g.name, COALESCE(t.name, ''), COALESCE(v.name, '') FROM nodes g
                 LEFT JOIN nodes t ON t.id = g.township LEFT JOIN nodes v ON v.id = g.village
                 WHERE g.kind = 'grid' AND {cond} ORDER BY t.name, v.name, g.name"
            );
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let map = |r: &rusqlite::Row<'_>| {
                Ok(GridInfo { id: uuid_col(r.get(0)?)?, name: r.get(1)?, township: r.get(2)?, village: r.get(3)? })
            };
            let rows = match arg {
                Some(a) => st.query_map([a], map).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>(),
                None => st.query_map([], map).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>(),
            };
            rows.map_err(db_err)
        })
        .await
    }

    async fn put_account(&self, account: &Account) -> Result<()> {
        let a = account.clone();
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO accounts (id, name, role, node) VALUES (?1, ?2, ?3, ?4)",
                params![a.id.to_string(), a.name, a.role.as_str(), a.node.to_string()],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        self.read(move |c| {
            c.query_row("SELECT id, name, role, node FROM accounts WHERE id = ?1", [id.to_string()], account_row)
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn accounts_at(&self, node: Uuid) -> Result<Vec<Account>> {
        self.read(move |c| {
            let mut st =
                c.prepare("SELECT id, name, role, node FROM accounts WHERE node = ?1 ORDER BY name").map_err(db_err)?;
            let rows =
                st.query_map([node.to_string()], account_row).map_err(db_err)?.collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn put_enrolment_code(&self, code_hash: &str, account: Uuid, expires_at: i64) -> Result<()> {
        let h = code_hash.to_string();
        self.run(move |c| {
            c.execute(
                "INSERT INTO enrolment_codes (code_hash, account, expires_at) VALUES (?1, ?2, ?3)",
                params![h, account.to_string(), expires_at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        now: i64,
        device: &Device,
        token_hash: &str,
    ) -> Result<Option<Account>> {
        let (h, d, t) = (code_hash.to_string(), device.clone(), token_hash.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let account: Option<String> = tx
                .query_row(
                    "UPDATE enrolment_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING account",
                    params![h, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            let Some(account) = account else { return Ok(None) };
            tx.execute(
                "INSERT INTO devices (id, account, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![d.id.to_string(), account, d.name, t, d.created_at],
            )
            .map_err(db_err)?;
            let acc = tx.query_row("SELECT id, name, role, node FROM accounts WHERE id = ?1", [&account], account_row).optional().map_err(db_err)?;
            tx.commit().map_err(db_err)?;
            Ok(acc)
        })
        .await
    }

    async fn device_by_token(&self, token_hash: &str) -> Result<Option<TokenHolder>> {
        let t = token_hash.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT d.id, d.account, d.name, d.created_at, d.revoked_at, a.id, a.name, a.role, a.node,
                        n.id, n.kind, n.name, n.parent, n.township, n.village
                 FROM devices d JOIN accounts a ON a.id = d.account LEFT JOIN nodes n ON n.id = a.node
                 WHERE d.token_hash = ?1",
                [t],
                |r| {
                    let account = Account {
                        id: uuid_col(r.get(5)?)?,
                        name: r.get(6)?,
                        role: parse_role(&r.get::<_, String>(7)?).map_err(|e| unknown_col(7, e))?,
                        node: uuid_col(r.get(8)?)?,
                    };
                    // A missing node leaves its columns NULL (the LEFT JOIN).
                    let node = match r.get::<_, Option<String>>(9)? {
                        Some(_) => Some(node_at(r, 9)?),
                        None => None,
                    };
                    Ok(TokenHolder {
                        device: Device {
                            id: uuid_col(r.get(0)?)?,
                            account: uuid_col(r.get(1)?)?,
                            name: r.get(2)?,
                            created_at: r.get(3)?,
                            revoked_at: r.get(4)?,
                        },
                        account,
                        node,
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_device(&self, id: Uuid, at: i64) -> Result<bool> {
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id.to_string(), at],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn devices(&self, account: Option<Uuid>) -> Result<Vec<Device>> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT id, account, name, created_at, revoked_at FROM devices WHERE ?1 IS NULL OR account = ?1 ORDER BY created_at")
                .map_err(db_err)?;
            let rows = st
                .query_map([account.map(|a| a.to_string())], |r| {
                    Ok(Device { id: uuid_col(r.get(0)?)?, account: uuid_col(r.get(1)?)?, name: r.get(2)?, created_at: r.get(3)?, revoked_at: r.get(4)? })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn load_docs(&self, keys: &[DocKey]) -> Result<Vec<StoredDoc>> {
        let keys = keys.to_vec();
        self.read(move |c| {
            // One read transaction: the saved bytes and their tail from the same commit.
            let tx = c.transaction().map_err(db_err)?;
            let mut st =
                tx.prepare_cached("SELECT bytes, version FROM documents WHERE doc_key = ?1").map_err(db_err)?;
            let mut out = Vec::new();
            for key in keys {
                let k = key.to_string();
                if let Some((mut bytes, version)) = st
                    .query_row([&k], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
                    .optional()
                    .map_err(db_err)?
                {
                    append_tail(&tx, &k, &mut bytes).map_err(db_err)?;
                    out.push(StoredDoc { key, bytes, version: version as u64 });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn doc_versions(&self, keys: &[DocKey]) -> Result<Vec<(DocKey, u64)>> {
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT version FROM documents WHERE doc_key = ?1").map_err(db_err)?;
            let mut out = Vec::new();
            for key in keys {
                if let Some(v) = st.query_row([key.to_string()], |r| r.get::<_, i64>(0)).optional().map_err(db_err)? {
                    out.push((key, v as u64));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>> {
        let hashes = hashes.to_vec();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT 1 FROM changes WHERE hash = ?1").map_err(db_err)?;
            hashes.iter().map(|h| st.exists([&h[..]]).map_err(db_err)).collect()
        })
        .await
    }

    async fn commit(&self, commit: GridCommit) -> Result<u64> {
        // Group commit: the request joins the queue; whoever holds the connection next writes
        // everything queued in one transaction (one fsync), each commit in its own savepoint so
        // one that loses (contention) takes nothing else with it. Answers go out only after
        // the transaction is durable.
        let (done, answer) = tokio::sync::oneshot::channel();
        self.queue.lock().map_err(|_| StorageError::Database("commit queue poisoned".into()))?.push((commit, done));
        let queue = self.queue.clone();
        self.run(move |c| {
            let batch =
                std::mem::take(&mut *queue.lock().map_err(|_| StorageError::Database("commit queue poisoned".into()))?);
            if !batch.is_empty() {
                commit_batch(c, batch);
            }
            Ok(())
        })
        .await?;
        answer.await.map_err(|_| StorageError::Database("commit abandoned".into()))?
    }

    async fn grid_seq(&self, grid: Uuid) -> Result<u64> {
        self.read(move |c| {
            let s: Option<i64> = c
                .query_row("SELECT seq FROM grid_log WHERE grid = ?1", [grid.to_string()], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            Ok(s.unwrap_or(0) as u64)
        })
        .await
    }

    async fn catch_up(&self, grid: Uuid, after: u64, device: Uuid, max_bytes: usize) -> Result<CatchUp> {
        self.read(move |c| {
            let g = grid.to_string();
            let tx = c.transaction().map_err(db_err)?;
            let seq: u64 = tx
                .query_row("SELECT seq FROM grid_log WHERE grid = ?1", [&g], |r| r.get::<_, i64>(0))
                .optional()
                .map_err(db_err)?
                .unwrap_or(0) as u64;
            if after == 0 {
                let mut st = tx
                    .prepare_cached("SELECT doc_key, bytes, version FROM documents WHERE grid = ?1 ORDER BY doc_key")
                    .map_err(db_err)?;
                let stored = st
                    .query_map([&g], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?)))
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_err)?;
                let mut docs = Vec::with_capacity(stored.len());
                for (k, mut bytes, v) in stored {
                    append_tail(&tx, &k, &mut bytes).map_err(db_err)?;
                    docs.push(StoredDoc { key: k.parse().map_err(db_err)?, bytes, version: v as u64 });
                }
                return Ok(CatchUp::Snapshot { seq, docs });
            }
            if after >= seq {
                return Ok(CatchUp::Changes { seq, changes: vec![], more: false });
            }
            let mut st = tx
                .prepare_cached(
                    "SELECT seq, doc_key, bytes, device FROM changes WHERE grid = ?1 AND seq > ?2 ORDER BY seq",
                )
                .map_err(db_err)?;
            let mut rows = st.query(params![g, after as i64]).map_err(db_err)?;
            let me = device.to_string();
            let (mut out, mut size, mut last) = (Vec::new(), 0usize, after);
            while let Some(r) = rows.next().map_err(db_err)? {
                let s = r.get::<_, i64>(0).map_err(db_err)? as u64;
                let from: String = r.get(3).map_err(db_err)?;
                if from != me {
                    if size >= max_bytes && !out.is_empty() {
                        return Ok(CatchUp::Changes { seq: last, changes: out, more: true });
                    }
                    let bytes: Vec<u8> = r.get(2).map_err(db_err)?;
                    let key: String = r.get(1).map_err(db_err)?;
                    size += bytes.len();
                    out.push(LogChange { seq: s, doc: key.parse().map_err(db_err)?, bytes });
                }
                last = s;
            }
            Ok(CatchUp::Changes { seq: last.max(after), changes: out, more: false })
        })
        .await
    }

    async fn residents(&self, scope: &Scope, q: &ResidentQuery) -> Result<Vec<Resident>> {
        let (cond, arg) = scope_sql(scope, "grid");
        let q = q.clone();
        self.read(move |c| {
            let mut sql = format!("SELECT data FROM residents WHERE {cond}");
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut push = |sql: &mut String, frag: &str, v: String| {
                args.push(v);
                sql.push_str(&frag.replace("?", &format!("?{}", args.len())));
            };
            if let Some(g) = q.grid {
                push(&mut sql, " AND grid = ?", g.to_string());
            }
            if !q.include_archived {
                sql.push_str(" AND archived = 0");
            }
            if let Some(cat) = q.category.as_deref().filter(|s| !s.is_empty()) {
                push(&mut sql, " AND categories LIKE ?", format!("%,{cat},%"));
            }
            if let Some(term) = q.q.as_deref().and_then(sync_protocol::search::SearchTerm::parse) {
                let (column, pattern) = term.column_and_pattern();
                push(&mut sql, &format!(" AND {column} LIKE ?"), pattern);
            }
            sql.push_str(&format!(" ORDER BY name LIMIT {}", q.limit.unwrap_or(1000).min(10_000)));
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<Resident>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn resident(&self, id: Uuid) -> Result<Option<(DocKey, Resident)>> {
        self.read(move |c| {
            c.query_row("SELECT doc_key, data FROM residents WHERE id = ?1", [id.to_string()], |r| {
                let key: String = r.get(0)?;
                Ok((
                    key.parse::<DocKey>().map_err(rusqlite::Error::InvalidParameterName)?,
                    json_col::<Resident>(r.get(1)?)?,
                ))
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn houses(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<House>> {
        let (cond, arg) = scope_sql(scope, "grid");
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT data FROM houses WHERE {cond}");
            if let Some(g) = grid {
                args.push(g.to_string());
                sql.push_str(&format!(" AND grid = ?{}", args.len()));
            }
            sql.push_str(" ORDER BY address LIMIT 5000");
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<House>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn disputes(&self, scope: &Scope, q: &DisputeQuery) -> Result<Vec<Dispute>> {
        let (cond, arg) = scope_sql(scope, "grid");
        let q = q.clone();
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT data FROM disputes WHERE {cond}");
            for (col, v) in
                [("grid", q.grid.map(|g| g.to_string())), ("status", q.status.clone()), ("level", q.level.clone())]
            {
                if let Some(v) = v {
                    args.push(v);
                    sql.push_str(&format!(" AND {col} = ?{}", args.len()));
                }
            }
            if q.open_only {
                sql.push_str(" AND open = 1");
            }
            sql.push_str(" ORDER BY reported_at DESC LIMIT 2000");
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<Dispute>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn record_doc(&self, collection: Collection, id: Uuid) -> Result<Option<DocKey>> {
        self.read(move |c| {
            let sql = format!("SELECT doc_key FROM {} WHERE id = ?1", collection.as_str());
            let key: Option<String> = c.query_row(&sql, [id.to_string()], |r| r.get(0)).optional().map_err(db_err)?;
            Ok(key.and_then(|k| k.parse().ok()))
        })
        .await
    }

    async fn conflicts(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<Conflict>> {
        let (cond, arg) = scope_sql(scope, "grid");
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT data FROM conflicts WHERE {cond}");
            if let Some(g) = grid {
                args.push(g.to_string());
                sql.push_str(&format!(" AND grid = ?{}", args.len()));
            }
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<Conflict>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn overview(&self, scope: &Scope, month_start_ms: i64) -> Result<Overview> {
        let (cond, arg) = scope_sql(scope, "grid");
        let (gcond, _) = scope_sql(scope, "id");
        self.read(move |c| {
            let args: Vec<String> = arg.into_iter().collect();
            let p = || rusqlite::params_from_iter(args.iter());
            let count = |sql: String| -> Result<u64> {
                c.query_row(&sql, p(), |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(db_err)
            };
            let mut o = Overview {
                grids: count(format!("SELECT COUNT(*) FROM nodes WHERE kind = 'grid' AND {gcond}"))?,
                residents: count(format!("SELECT COUNT(*) FROM residents WHERE archived = 0 AND {cond}"))?,
                houses: count(format!("SELECT COUNT(*) FROM houses WHERE archived = 0 AND {cond}"))?,
                visits_this_month: count(format!(
                    "SELECT COUNT(*) FROM visits WHERE at >= {month_start_ms} AND {cond}"
                ))?,
                open_conflicts: count(format!("SELECT COUNT(DISTINCT record || field) FROM conflicts WHERE {cond}"))?,
                ..Default::default()
            };
            // Every category in one pass over the residents (the names are the schema's own
            // constants, never input).
            let cats = sync_protocol::schema::POPULATION_CATEGORIES;
            let sums: Vec<String> =
                cats.iter().map(|c| format!("COALESCE(SUM(categories LIKE '%,{c},%'), 0)")).collect();
            let sql = format!("SELECT {} FROM residents WHERE archived = 0 AND {cond}", sums.join(", "));
            let counts = c
                .query_row(&sql, p(), |r| {
                    (0..cats.len()).map(|i| r.get::<_, i64>(i)).collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_err)?;
            for (cat, n) in cats.iter().zip(counts) {
                o.by_category.push((cat.to_string(), n as u64));
            }
            for level in sync_protocol::schema::LEVELS {
                o.open_disputes_by_level.push((
                    level.to_string(),
                    count(format!("SELECT COUNT(*) FROM disputes WHERE open = 1 AND level = '{level}' AND {cond}"))?,
                ));
                o.resolved_by_level.push((
                    level.to_string(),
                    count(format!("SELECT COUNT(*) FROM disputes WHERE resolved_level = '{level}' AND {cond}"))?,
                ));
            }
            Ok(o)
        })
        .await
    }

    async fn put_blob_chunk(&self, hash: &str, grid: Uuid, total: u64, offset: u64, bytes: &[u8]) -> Result<BlobState> {
        let (hash, bytes) = (hash.to_string(), bytes.to_vec());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let current: Option<(String, i64, i64, bool)> = tx
                .query_row("SELECT grid, total, received, complete FROM blobs WHERE hash = ?1", [&hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
                .map_err(db_err)?;
            let state = |g: &str, t: i64, rcv: i64, done: bool| BlobState {
                grid: Uuid::parse_str(g).unwrap_or(grid),
                total: t as u64,
                received: rcv as u64,
                complete: done,
            };
            match current {
                Some((g, t, rcv, done)) if done || rcv as u64 != offset || t as u64 != total => {
                    // Complete already, or not where this chunk starts: say where we are.
                    return Ok(state(&g, t, rcv, done));
                }
                None if offset != 0 => return Ok(BlobState { grid, total, received: 0, complete: false }),
                None => {
                    tx.execute(
                        "INSERT INTO blobs (hash, grid, total, received, complete, data) VALUES (?1, ?2, ?3, 0, 0, NULL)",
                        params![hash, grid.to_string(), total as i64],
                    )
                    .map_err(db_err)?;
                }
                Some(_) => {}
            }
            let received = offset + bytes.len() as u64;
            if received > total {
                return Err(StorageError::Database("chunk goes past the declared size".into()));
            }
            tx.execute("INSERT INTO blob_chunks (hash, offset, data) VALUES (?1, ?2, ?3)", params![hash, offset as i64, bytes])
                .map_err(db_err)?;
            tx.execute("UPDATE blobs SET received = ?2 WHERE hash = ?1", params![hash, received as i64]).map_err(db_err)?;
            let mut complete = false;
            if received == total {
                let mut data = Vec::with_capacity(total as usize);
                {
                    let mut st = tx.prepare("SELECT data FROM blob_chunks WHERE hash = ?1 ORDER BY offset").map_err(db_err)?;
                    let mut rows = st.query([&hash]).map_err(db_err)?;
                    while let Some(r) = rows.next().map_err(db_err)? {
                        data.extend_from_slice(&r.get::<_, Vec<u8>>(0).map_err(db_err)?);
                    }
                }
                tx.execute("DELETE FROM blob_chunks WHERE hash = ?1", [&hash]).map_err(db_err)?;
                let digest: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
                if digest == hash {
                    tx.execute("UPDATE blobs SET complete = 1, data = ?2 WHERE hash = ?1", params![hash, data]).map_err(db_err)?;
                    complete = true;
                } else {
                    // The bytes do not match their name: start over.
                    tx.execute("DELETE FROM blobs WHERE hash = ?1", [&hash]).map_err(db_err)?;
                    tx.commit().map_err(db_err)?;
                    return Ok(BlobState { grid, total, received: 0, complete: false });
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(BlobState { grid, total, received, complete })
        })
        .await
    }

    async fn blob_state(&self, hash: &str) -> Result<Option<BlobState>> {
        let hash = hash.to_string();
        self.read(move |c| {
            c.query_row("SELECT grid, total, received, complete FROM blobs WHERE hash = ?1", [&hash], |r| {
                Ok(BlobState {
                    grid: uuid_col(r.get(0)?)?,
                    total: r.get::<_, i64>(1)? as u64,
                    received: r.get::<_, i64>(2)? as u64,
                    complete: r.get(3)?,
                })
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn blob(&self, hash: &str) -> Result<Option<(Uuid, Vec<u8>)>> {
        let hash = hash.to_string();
        self.read(move |c| {
            c.query_row("SELECT grid, data FROM blobs WHERE hash = ?1 AND complete = 1", [&hash], |r| {
                Ok((uuid_col(r.get(0)?)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn count_attempt(&self, key: &str, now: i64, since: i64) -> Result<u64> {
        let key = key.to_owned();
        self.run(move |c| {
            let run = |c: &mut Connection| -> rusqlite::Result<i64> {
                let tx = c.transaction()?;
                tx.execute("DELETE FROM attempts WHERE key = ?1 AND at < ?2", params![key, since])?;
                tx.execute("INSERT INTO attempts (key, at) VALUES (?1, ?2)", params![key, now])?;
                let n = tx.query_row(
                    "SELECT COUNT(*) FROM attempts WHERE key = ?1 AND at >= ?2",
                    params![key, since],
                    |r| r.get(0),
                )?;
                tx.commit()?;
                Ok(n)
            };
            Ok(run(c).map_err(db_err)? as u64)
        })
        .await
    }

    async fn stats(&self) -> Result<StorageStats> {
        self.read(|c| {
            let n = |t: &str| -> Result<u64> {
                c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(db_err)
            };
            Ok(StorageStats {
                changes: n("changes")?,
                documents: n("documents")?,
                residents: n("residents")?,
                houses: n("houses")?,
                visits: n("visits")?,
                disputes: n("disputes")?,
                devices: n("devices")?,
            })
        })
        .await
    }
}

/// A node from six columns (id, kind, name, parent, township, village) starting at `at`.
fn node_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Node> {
    let opt = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
    Ok(Node {
        id: uuid_col(r.get(at)?)?,
        kind: parse_kind(&r.get::<_, String>(at + 1)?).map_err(|e| unknown_col(at + 1, e))?,
        name: r.get(at + 2)?,
        parent: opt(r.get(at + 3)?),
        township: opt(r.get(at + 4)?),
        village: opt(r.get(at + 5)?),
    })
}

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: uuid_col(r.get(0)?)?,
        name: r.get(1)?,
        role: parse_role(&r.get::<_, String>(2)?).map_err(|e| unknown_col(2, e))?,
        node: uuid_col(r.get(3)?)?,
    })
}
