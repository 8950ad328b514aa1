//! The embedded SQLite backend (WAL, synchronous=FULL so an acknowledged change survives a
//! power cut). One writer connection and a few read-only ones: in WAL mode readers work from
//! the last commit while the writer writes and syncs the next, so a sync storm's reads
//! (authentication, document versions, catch-ups) and the staff's overview queries do not wait
//! for the writer's fsync. rusqlite calls run on the blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use uuid::Uuid;

use super::*;

// One file per concept, each implementing that concept's trait for the SQLite backend; this
// file holds the connection handling, migrations and helpers they share.
mod audit;
mod blobs;
mod documents;
mod enrolment;
mod organisation;
mod queries;
mod sessions;

use organisation::{account_row, node_at};
use queries::scope_sql;

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
    // Conflict rows are keyed within their grid: a record id another grid also uses (a copied
    // roster, a crafted change) made the second grid's commit fail on the old key.
    r#"
CREATE TABLE conflicts_in_grid (
    grid TEXT NOT NULL, record TEXT NOT NULL, field TEXT NOT NULL, doc_key TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (grid, record, field)
);
INSERT INTO conflicts_in_grid (grid, record, field, doc_key, data) SELECT grid, record, field, doc_key, data FROM conflicts;
DROP TABLE conflicts;
ALTER TABLE conflicts_in_grid RENAME TO conflicts;
"#,
    // Blobs are keyed within their grid: a chunk for one grid appended to another grid's
    // upload of the same hash, and the answer named that grid.
    r#"
CREATE TABLE blobs_in_grid (
    grid TEXT NOT NULL, hash TEXT NOT NULL, total INTEGER NOT NULL, received INTEGER NOT NULL,
    complete INTEGER NOT NULL, data BLOB, PRIMARY KEY (grid, hash)
);
INSERT INTO blobs_in_grid (grid, hash, total, received, complete, data)
    SELECT grid, hash, total, received, complete, data FROM blobs;
CREATE TABLE blob_chunks_in_grid (
    grid TEXT NOT NULL, hash TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (grid, hash, offset)
);
INSERT INTO blob_chunks_in_grid (grid, hash, offset, data)
    SELECT b.grid, c.hash, c.offset, c.data FROM blob_chunks c JOIN blobs b ON b.hash = c.hash;
DROP TABLE blob_chunks;
DROP TABLE blobs;
ALTER TABLE blobs_in_grid RENAME TO blobs;
ALTER TABLE blob_chunks_in_grid RENAME TO blob_chunks;
CREATE INDEX blobs_hash ON blobs(hash);
"#,
    // Enrolment attempts are counted in the server's memory: a table written on every attempt
    // let anonymous requests occupy the writer that sync commits share.
    r#"
DROP TABLE IF EXISTS attempts;
"#,
    // Every read of personal data (issue 10). The search tail is as long as a masked ID number
    // shows: six characters read two more than any list.
    r#"
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, account TEXT NOT NULL, device TEXT NOT NULL,
    role TEXT NOT NULL, kind TEXT NOT NULL, grid TEXT, subject TEXT, detail TEXT NOT NULL, client TEXT
);
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_account_at ON audit(account, at);
UPDATE residents SET id_tail = substr(id_tail, -4) WHERE length(id_tail) > 4;
"#,
    // Uploads remember who started them and when a chunk last came: a device's quota, and the
    // cleanup of abandoned uploads (issue 10).
    r#"
ALTER TABLE blobs ADD COLUMN device TEXT;
ALTER TABLE blobs ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
UPDATE blobs SET started_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000, touched_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX blobs_device ON blobs(device, started_at);
CREATE INDEX blobs_unfinished ON blobs(complete, touched_at);
"#,
    // The closed loop (issue 11): what staff lists filter on, derived by the rule at commit
    // (`DisputeColumns`); rows of an older rule are derived again at start (`rule`).
    r#"
ALTER TABLE disputes ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE disputes ADD COLUMN supervised INTEGER NOT NULL DEFAULT 0;
ALTER TABLE disputes ADD COLUMN deadline INTEGER;
ALTER TABLE disputes ADD COLUMN waiting_level TEXT;
ALTER TABLE disputes ADD COLUMN waiting_account TEXT;
ALTER TABLE disputes ADD COLUMN rule INTEGER NOT NULL DEFAULT 0;
CREATE INDEX disputes_waiting ON disputes(waiting_level, deadline) WHERE waiting_level IS NOT NULL;
CREATE INDEX disputes_deadline ON disputes(deadline) WHERE open = 1;
CREATE INDEX disputes_rule ON disputes(rule);
"#,
    // The three first-times (issue 11): who reported and when the dispute was first dealt with,
    // filled in as rows are derived again by rule 2.
    r#"
ALTER TABLE disputes ADD COLUMN reported_by TEXT;
ALTER TABLE disputes ADD COLUMN first_intervention_at INTEGER;
CREATE INDEX disputes_reported_at ON disputes(reported_at);
"#,
    // The county's setup file (issue 11): a grid's code (网格编码) names it across re-runs, and
    // its boundary (GeoJSON) draws it on the console's map; codes are issued and revoked in bulk
    // per person.
    r#"
ALTER TABLE nodes ADD COLUMN code TEXT;
ALTER TABLE nodes ADD COLUMN boundary TEXT;
CREATE UNIQUE INDEX nodes_code ON nodes(code) WHERE code IS NOT NULL;
CREATE INDEX enrolment_codes_account ON enrolment_codes(account) WHERE used_at IS NULL;
"#,
    // Departments (issue 11): a dispute sent to a department waits for that department (rule 3
    // derives the stored rows again at start).
    r#"
ALTER TABLE disputes ADD COLUMN waiting_node TEXT;
"#,
    // County settings (issue 11): the time limits every replica derives deadlines by. A
    // dispute's row names the version of them it was derived under (`settings`); rows of an
    // older version are derived again when the settings change.
    r#"
CREATE TABLE county_settings (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, data TEXT NOT NULL);
ALTER TABLE disputes ADD COLUMN settings INTEGER NOT NULL DEFAULT 0;
CREATE INDEX disputes_settings ON disputes(settings);
"#,
    // The staff console (issue 12): log-in names with Argon2id password hashes, and sessions
    // held by browsers (the token only as its SHA-256 hash).
    r#"
CREATE TABLE staff_logins (account TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, hash TEXT NOT NULL, set_at INTEGER NOT NULL);
CREATE TABLE sessions (id TEXT PRIMARY KEY, account TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, csrf TEXT NOT NULL,
                       created_at INTEGER NOT NULL, seen_at INTEGER NOT NULL, ended_at INTEGER, client TEXT);
CREATE INDEX sessions_account ON sessions(account) WHERE ended_at IS NULL;
"#,
    // Per-grid counters (issue 12): the console's overview sums 1,358 rows instead of scanning
    // 1.1 million residents. The database keeps them itself, whatever writes the rows (a sync, an
    // import, a re-derivation): triggers add and subtract as rows are inserted and updated (rows
    // are never deleted; archived ones stop counting). `what` is `residents`, `houses`,
    // `cat:<category>` (live residents of it), or `visits:<yyyymm>` (China Standard Time).
    // Categories are the schema's tokens (no quotes or commas), so the stored `,a,b,` list reads
    // as a JSON array.
    r#"
CREATE TABLE grid_counts (grid TEXT NOT NULL, what TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (grid, what)) WITHOUT ROWID;
CREATE TRIGGER residents_counted AFTER INSERT ON residents WHEN NEW.archived = 0 BEGIN
  INSERT INTO grid_counts (grid, what, n) VALUES (NEW.grid, 'residents', 1) ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n)
    SELECT NEW.grid, 'cat:' || value, 1 FROM json_each('["' || replace(trim(NEW.categories, ','), ',', '","') || '"]')
    WHERE value <> '' ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER residents_recounted AFTER UPDATE OF archived, categories ON residents BEGIN
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'residents', -1 WHERE OLD.archived = 0
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n)
    SELECT OLD.grid, 'cat:' || value, -1 FROM json_each('["' || replace(trim(OLD.categories, ','), ',', '","') || '"]')
    WHERE value <> '' AND OLD.archived = 0 ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'residents', 1 WHERE NEW.archived = 0
    ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n)
    SELECT NEW.grid, 'cat:' || value, 1 FROM json_each('["' || replace(trim(NEW.categories, ','), ',', '","') || '"]')
    WHERE value <> '' AND NEW.archived = 0 ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER houses_counted AFTER INSERT ON houses WHEN NEW.archived = 0 BEGIN
  INSERT INTO grid_counts (grid, what, n) VALUES (NEW.grid, 'houses', 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER houses_recounted AFTER UPDATE OF archived ON houses WHEN OLD.archived <> NEW.archived BEGIN
  INSERT INTO grid_counts (grid, what, n) VALUES (NEW.grid, 'houses', CASE WHEN NEW.archived = 0 THEN 1 ELSE -1 END)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER visits_counted AFTER INSERT ON visits BEGIN
  INSERT INTO grid_counts (grid, what, n) VALUES (NEW.grid, 'visits:' || strftime('%Y%m', NEW.at / 1000 + 28800, 'unixepoch'), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER visits_recounted AFTER UPDATE OF at ON visits
  WHEN strftime('%Y%m', OLD.at / 1000 + 28800, 'unixepoch') <> strftime('%Y%m', NEW.at / 1000 + 28800, 'unixepoch') BEGIN
  INSERT INTO grid_counts (grid, what, n) VALUES (OLD.grid, 'visits:' || strftime('%Y%m', OLD.at / 1000 + 28800, 'unixepoch'), -1)
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) VALUES (NEW.grid, 'visits:' || strftime('%Y%m', NEW.at / 1000 + 28800, 'unixepoch'), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'residents', COUNT(*) FROM residents WHERE archived = 0 GROUP BY grid;
INSERT INTO grid_counts (grid, what, n)
  SELECT r.grid, 'cat:' || j.value, COUNT(*)
  FROM residents r, json_each('["' || replace(trim(r.categories, ','), ',', '","') || '"]') j
  WHERE r.archived = 0 AND j.value <> '' GROUP BY r.grid, j.value;
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'houses', COUNT(*) FROM houses WHERE archived = 0 GROUP BY grid;
INSERT INTO grid_counts (grid, what, n)
  SELECT grid, 'visits:' || strftime('%Y%m', at / 1000 + 28800, 'unixepoch'), COUNT(*) FROM visits GROUP BY 1, 2;
"#,
    // Disputes in the counters too (issue 12): `open:<level>` (open, held at that level) and
    // `settled:<level>` (settled there). Counting them scanned the disputes table, JSON and
    // all, eight times per overview: 0.1 s for the county's 10,876.
    r#"
CREATE TRIGGER disputes_counted AFTER INSERT ON disputes BEGIN
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'open:' || NEW.level, 1 WHERE NEW.open = 1
    ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'settled:' || NEW.resolved_level, 1 WHERE NEW.resolved_level IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER disputes_recounted AFTER UPDATE OF open, level, resolved_level ON disputes BEGIN
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'open:' || OLD.level, -1 WHERE OLD.open = 1
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'settled:' || OLD.resolved_level, -1 WHERE OLD.resolved_level IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'open:' || NEW.level, 1 WHERE NEW.open = 1
    ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'settled:' || NEW.resolved_level, 1 WHERE NEW.resolved_level IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
INSERT INTO grid_counts (grid, what, n) SELECT grid, 'open:' || level, COUNT(*) FROM disputes WHERE open = 1 GROUP BY 1, 2;
INSERT INTO grid_counts (grid, what, n)
  SELECT grid, 'settled:' || resolved_level, COUNT(*) FROM disputes WHERE resolved_level IS NOT NULL GROUP BY 1, 2;
"#,
    // The counters' update triggers fire only when a counted column changes: every upsert sets
    // every column, and recounting each edited resident cost the morning storm about a tenth
    // (3.7–3.8 s without counters, 3.9–4.6 s with; BENCHMARKS.md).
    r#"
DROP TRIGGER IF EXISTS residents_recounted;
CREATE TRIGGER residents_recounted AFTER UPDATE OF archived, categories ON residents
  WHEN OLD.archived <> NEW.archived OR OLD.categories <> NEW.categories BEGIN
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'residents', -1 WHERE OLD.archived = 0
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n)
    SELECT OLD.grid, 'cat:' || value, -1 FROM json_each('["' || replace(trim(OLD.categories, ','), ',', '","') || '"]')
    WHERE value <> '' AND OLD.archived = 0 ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'residents', 1 WHERE NEW.archived = 0
    ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n)
    SELECT NEW.grid, 'cat:' || value, 1 FROM json_each('["' || replace(trim(NEW.categories, ','), ',', '","') || '"]')
    WHERE value <> '' AND NEW.archived = 0 ON CONFLICT DO UPDATE SET n = n + 1;
END;
DROP TRIGGER IF EXISTS disputes_recounted;
CREATE TRIGGER disputes_recounted AFTER UPDATE OF open, level, resolved_level ON disputes
  WHEN OLD.open <> NEW.open OR OLD.level <> NEW.level OR OLD.resolved_level IS NOT NEW.resolved_level BEGIN
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'open:' || OLD.level, -1 WHERE OLD.open = 1
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT OLD.grid, 'settled:' || OLD.resolved_level, -1 WHERE OLD.resolved_level IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n - 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'open:' || NEW.level, 1 WHERE NEW.open = 1
    ON CONFLICT DO UPDATE SET n = n + 1;
  INSERT INTO grid_counts (grid, what, n) SELECT NEW.grid, 'settled:' || NEW.resolved_level, 1 WHERE NEW.resolved_level IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
"#,
    // The county-wide resident search (issue 12): names in an FTS5 index of their characters,
    // each a token (`gk_name_chars`, registered on the writer), so a phrase query is a substring
    // match of any length — "张伟" is two characters, too short for a trigram index. Keyed by the
    // residents' rowid, contentless: the names stay in `residents`. Initials are searched by
    // prefix and ID tails by equality, each on its own index.
    r#"
CREATE VIRTUAL TABLE residents_fts USING fts5(chars, content='', contentless_delete=1, tokenize='ascii');
INSERT INTO residents_fts (rowid, chars) SELECT rowid, gk_name_chars(name) FROM residents;
CREATE TRIGGER residents_fts_inserted AFTER INSERT ON residents BEGIN
  INSERT INTO residents_fts (rowid, chars) VALUES (NEW.rowid, gk_name_chars(NEW.name));
END;
CREATE TRIGGER residents_fts_renamed AFTER UPDATE OF name ON residents WHEN OLD.name IS NOT NEW.name BEGIN
  DELETE FROM residents_fts WHERE rowid = OLD.rowid;
  INSERT INTO residents_fts (rowid, chars) VALUES (NEW.rowid, gk_name_chars(NEW.name));
END;
CREATE TRIGGER residents_fts_deleted AFTER DELETE ON residents BEGIN
  DELETE FROM residents_fts WHERE rowid = OLD.rowid;
END;
CREATE INDEX residents_initials ON residents(initials);
CREATE INDEX residents_id_tail ON residents(id_tail COLLATE NOCASE);
"#,
    // A second factor for console log-ins (issue 12): each log-in's TOTP secret, whether it is
    // in force, and the last step taken (a code is taken once); the roles that must have one.
    r#"
ALTER TABLE staff_logins ADD COLUMN totp_secret TEXT;
ALTER TABLE staff_logins ADD COLUMN totp_confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_logins ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;
CREATE TABLE console_policy (id INTEGER PRIMARY KEY CHECK (id = 1), second_factor_roles TEXT NOT NULL);
"#,
    // A county-wide search that many names match walks the names in order (issue 12), on an
    // index holding every column such a search filters on: walking it reads no table row (with
    // the name alone, "zs" fetched a row per name walked: 1 s county-wide; BENCHMARKS.md).
    r#"
CREATE INDEX residents_name ON residents(name, archived, initials, id_tail, categories);
"#,
    // The figures of a window of months read the disputes' times from an index holding them
    // (the year's trend for the county: 120–128 ms reading each dispute's row, 42–53 ms from
    // the index; BENCHMARKS.md). It begins with `reported_at`, so it replaces that index.
    r#"
CREATE INDEX IF NOT EXISTS disputes_times
  ON disputes(reported_at, grid, reported_by, discovered_at, first_intervention_at, resolved_level, rule);
DROP INDEX IF EXISTS disputes_reported_at;
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
        // The search index's tokens, written by the residents' triggers (only the writer writes).
        conn.create_scalar_function(
            "gk_name_chars",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(queries::name_chars(&ctx.get::<Option<String>>(0)?.unwrap_or_default())),
        )
        .map_err(db_err)?;
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

/// One server per SQLite file: nothing to relay.
impl Relay for SqliteStorage {}
