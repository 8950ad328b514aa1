//! The device's local SQLite database: documents (a snapshot plus appended chunks), the
//! outbox of unacknowledged changes with the edits behind them, sync positions, the
//! quarantine, and query tables for fast lists and search. Every write the worker makes is
//! one transaction.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sync_protocol::doc::{Conflict, DocKey, Edit};
use sync_protocol::model::{Dispute, House, Resident, Visit};

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
];

/// Appended chunks are folded into the snapshot once there are this many.
pub const COMPACT_AFTER_CHUNKS: i64 = 64;

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
    Ok(conn)
}

pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

pub fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The saved bytes of a document: snapshot then chunks, in order.
/// A document as stored: its snapshot and the chunks appended since.
pub struct StoredDoc {
    pub snapshot: Vec<u8>,
    pub chunks: Vec<Vec<u8>>,
}

pub fn load_doc_bytes(conn: &Connection, key: &DocKey) -> Result<Option<StoredDoc>> {
    let k = key.to_string();
    let Some(snapshot) = conn
        .query_row("SELECT snapshot FROM documents WHERE doc_key = ?1", [&k], |r| r.get::<_, Vec<u8>>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let mut st = conn.prepare_cached("SELECT bytes FROM doc_chunks WHERE doc_key = ?1 ORDER BY id")?;
    let chunks = st.query_map([&k], |r| r.get::<_, Vec<u8>>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(StoredDoc { snapshot, chunks }))
}

pub fn doc_keys(conn: &Connection) -> Result<Vec<DocKey>> {
    let mut st = conn.prepare("SELECT doc_key FROM documents ORDER BY doc_key")?;
    let keys = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys.into_iter().filter_map(|k| k.parse().ok()).collect())
}

/// Replaces a document's stored state with a full save.
pub fn put_snapshot(tx: &Transaction<'_>, key: &DocKey, bytes: &[u8]) -> Result<()> {
    let k = key.to_string();
    tx.execute(
        "INSERT INTO documents (doc_key, grid, snapshot) VALUES (?1, ?2, ?3) ON CONFLICT (doc_key) DO UPDATE SET snapshot = excluded.snapshot",
        params![k, key.grid.to_string(), bytes],
    )?;
    tx.execute("DELETE FROM doc_chunks WHERE doc_key = ?1", [&k])?;
    Ok(())
}

/// Appends an incremental chunk; returns how many chunks the document now has.
pub fn append_chunk(tx: &Transaction<'_>, key: &DocKey, bytes: &[u8]) -> Result<i64> {
    let k = key.to_string();
    tx.execute(
        "INSERT INTO documents (doc_key, grid, snapshot) VALUES (?1, ?2, x'') ON CONFLICT (doc_key) DO NOTHING",
        params![k, key.grid.to_string()],
    )?;
    tx.execute("INSERT INTO doc_chunks (doc_key, bytes) VALUES (?1, ?2)", params![k, bytes])?;
    Ok(tx.query_row("SELECT COUNT(*) FROM doc_chunks WHERE doc_key = ?1", [&k], |r| r.get(0))?)
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub doc: DocKey,
    pub hash: [u8; 32],
    pub bytes: Vec<u8>,
    pub edit: Edit,
}

pub fn push_outbox(
    tx: &Transaction<'_>,
    doc: &DocKey,
    hash: &[u8; 32],
    bytes: &[u8],
    edit: &Edit,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox (doc_key, hash, bytes, edit, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![doc.to_string(), &hash[..], bytes, serde_json::to_string(edit).unwrap_or_default(), at],
    )?;
    Ok(())
}

pub fn outbox(conn: &Connection, max_bytes: usize) -> Result<Vec<OutboxRow>> {
    let mut st = conn.prepare_cached("SELECT id, doc_key, hash, bytes, edit FROM outbox ORDER BY id")?;
    let mut rows = st.query([])?;
    let (mut out, mut size) = (Vec::new(), 0usize);
    while let Some(r) = rows.next()? {
        let bytes: Vec<u8> = r.get(3)?;
        if size + bytes.len() > max_bytes && !out.is_empty() {
            break;
        }
        size += bytes.len();
        let key: String = r.get(1)?;
        let hash: Vec<u8> = r.get(2)?;
        let edit: String = r.get(4)?;
        let (Ok(doc), Ok(hash), Ok(edit)) =
            (key.parse::<DocKey>(), <[u8; 32]>::try_from(hash.as_slice()), serde_json::from_str::<Edit>(&edit))
        else {
            continue;
        };
        out.push(OutboxRow { id: r.get(0)?, doc, hash, bytes, edit });
    }
    Ok(out)
}

pub fn outbox_all(conn: &Connection) -> Result<Vec<OutboxRow>> {
    outbox(conn, usize::MAX)
}

pub fn pending_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
}

pub fn write_resident(tx: &Transaction<'_>, key: &DocKey, r: &Resident) -> Result<()> {
    let tail = sync_protocol::search::id_tail(r.id_number.as_deref());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO residents (id, grid, name, initials, id_tail, categories, house_id, archived, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        r.id.to_string(),
        key.grid.to_string(),
        r.name,
        sync_protocol::pinyin::initials(&r.name),
        tail,
        format!(",{},", r.categories.join(",")),
        r.house_id.map(|h| h.to_string()),
        r.is_archived(),
        serde_json::to_string(r).unwrap_or_default()
    ])?;
    Ok(())
}

pub fn write_house(tx: &Transaction<'_>, key: &DocKey, h: &House) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO houses (id, grid, address, archived, data) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![
            h.id.to_string(),
            key.grid.to_string(),
            h.address(),
            h.archived_reason.is_some(),
            serde_json::to_string(h).unwrap_or_default()
        ])?;
    Ok(())
}

pub fn write_visit(tx: &Transaction<'_>, key: &DocKey, v: &Visit) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO visits (id, grid, house_id, at, data) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![
            v.id.to_string(),
            key.grid.to_string(),
            v.house_id.to_string(),
            v.at,
            serde_json::to_string(v).unwrap_or_default()
        ])?;
    Ok(())
}

pub fn write_dispute(tx: &Transaction<'_>, key: &DocKey, d: &Dispute) -> Result<()> {
    let s = d.state();
    tx.prepare_cached("INSERT OR REPLACE INTO disputes (id, grid, status, level, open, reported_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
        params![
            d.id.to_string(),
            key.grid.to_string(),
            s.status.as_str(),
            s.level.as_str(),
            s.status.is_open(),
            d.reported_at,
            serde_json::to_string(d).unwrap_or_default()
        ],
    )?;
    Ok(())
}

pub fn write_conflicts(tx: &Transaction<'_>, key: &DocKey, record: &uuid::Uuid, list: &[Conflict]) -> Result<()> {
    tx.execute("DELETE FROM conflicts WHERE record = ?1", [record.to_string()])?;
    for c in list {
        tx.execute(
            "INSERT INTO conflicts (record, field, doc_key, data) VALUES (?1, ?2, ?3, ?4)",
            params![record.to_string(), c.field, key.to_string(), serde_json::to_string(c).unwrap_or_default()],
        )?;
    }
    Ok(())
}

/// Rows of a query table as typed records (the `data` column).
pub fn query_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(args, |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|s| serde_json::from_str(&s).ok()).collect())
}
