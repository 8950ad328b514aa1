//! The device's local SQLite database, and all the SQL the device runs: one module per
//! table or group of tables. The schema's migrations are here, in order; the modules own
//! their tables' reads and writes:
//!
//! - [`docs`]: documents, each a snapshot plus appended chunks
//! - [`outbox`]: unacknowledged changes with the edits behind them, and sync positions
//! - [`quarantine`]: refused edits, and orphaned ones waiting to be re-entered
//! - [`rows`]: the query tables for fast lists and search, written from
//!   [`sync_protocol::pipeline::Rows`]
//! - [`photos`]: photo bytes and their upload state
//! - [`fetches`]: snapshot documents fetched in ranges, and the bytes received so far
//!
//! Every write the worker makes is one transaction, opened by the caller (`device/`).

mod docs;
mod fetches;
mod inbox;
mod outbox;
mod photos;
mod quarantine;
mod rows;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

pub use docs::*;
pub use fetches::*;
pub use inbox::*;
pub use outbox::*;
pub use photos::*;
pub use quarantine::*;
pub use rows::*;

use crate::error::Result;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (doc_key TEXT PRIMARY KEY, grid TEXT NOT NULL, snapshot BLOB NOT NULL);
CREATE TABLE doc_chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, doc_key TEXT NOT NULL, bytes BLOB NOT NULL);
CREATE INDEX doc_chunks_key ON doc_chunks(doc_key, id);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_key TEXT NOT NULL, hash BLOB NOT NULL,
    bytes BLOB NOT NULL, edit TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE positions (grid TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, edit TEXT NOT NULL, code TEXT NOT NULL,
    record TEXT, field TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL
);
CREATE TABLE residents (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, name TEXT NOT NULL, initials TEXT NOT NULL,
    id_tail TEXT NOT NULL, categories TEXT NOT NULL, house_id TEXT, archived INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX residents_name ON residents(name);
CREATE INDEX residents_house ON residents(house_id);
CREATE TABLE houses (id TEXT PRIMARY KEY, grid TEXT NOT NULL, address TEXT NOT NULL, archived INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE visits (id TEXT PRIMARY KEY, grid TEXT NOT NULL, house_id TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX visits_at ON visits(at);
CREATE TABLE disputes (
    id TEXT PRIMARY KEY, grid TEXT NOT NULL, status TEXT NOT NULL, level TEXT NOT NULL,
    open INTEGER NOT NULL, reported_at INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE conflicts (record TEXT NOT NULL, field TEXT NOT NULL, doc_key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (record, field));
"#,
    r#"
CREATE TABLE photos (
    hash TEXT PRIMARY KEY, grid TEXT NOT NULL, mime TEXT NOT NULL, data BLOB NOT NULL,
    uploaded INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE fetches (doc_key TEXT PRIMARY KEY, grid TEXT NOT NULL, seq INTEGER NOT NULL, total INTEGER NOT NULL);
CREATE TABLE fetch_pieces (doc_key TEXT NOT NULL, offset INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (doc_key, offset));
"#,
    r#"
CREATE TABLE seen_actions (id TEXT PRIMARY KEY);
CREATE TABLE inbox (
    action TEXT PRIMARY KEY, dispute TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
    level TEXT NOT NULL, at INTEGER NOT NULL, note TEXT, read INTEGER NOT NULL
);
CREATE INDEX inbox_read ON inbox(read, at);
"#,
    // Disputes whose rows changed since the inbox last looked (written with the rows, so an
    // answer applied by a sync that then failed is still looked at).
    r#"
CREATE TABLE inbox_pending (dispute TEXT PRIMARY KEY);
INSERT OR IGNORE INTO inbox_pending (dispute) SELECT id FROM disputes;
"#,
];

/// Re-encrypts an open SQLCipher database under a new key (one transaction).
pub fn rekey(conn: &Connection, key: &crate::crypto::DbKey) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA rekey = {};", key.pragma_value()))?;
    Ok(())
}

pub fn open(path: &Path, key: Option<&crate::crypto::DbKey>) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    if let Some(k) = key {
        conn.execute_batch(&format!("PRAGMA key = {};", k.pragma_value()))?;
        // The first read tells a wrong key: SQLCipher cannot decrypt the first page.
        if let Err(e) = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
            return Err(match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                    crate::error::DeviceError::WrongPin
                }
                e => e.into(),
            });
        }
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(m)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    rows::rederive_disputes(&mut conn)?;
    Ok(conn)
}

pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

pub fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The county settings this device follows: the defaults (version 0) until a sync brings the
/// county's, or when what is stored does not read.
pub fn county_settings(conn: &Connection) -> Result<sync_protocol::model::CountySettings> {
    Ok(get_meta(conn, "county_settings")?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
}

pub fn set_county_settings(tx: &Connection, settings: &sync_protocol::model::CountySettings) -> Result<()> {
    set_meta(tx, "county_settings", &serde_json::to_string(settings).unwrap_or_default())
}

/// Rows of a query table as typed records (the `data` column).
pub(crate) fn query_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(args, |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|s| serde_json::from_str(&s).ok()).collect())
}

/// A count.
pub(crate) fn count(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<u64> {
    Ok(conn.query_row(sql, args, |r| r.get::<_, i64>(0))? as u64)
}
