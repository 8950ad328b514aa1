//! Documents: each a snapshot (a full save) and the chunks appended since, folded into the
//! snapshot once there are [`COMPACT_AFTER_CHUNKS`].

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::doc::DocKey;
use sync_protocol::schema::Collection;

use crate::error::Result;

/// Appended chunks are folded into the snapshot once there are this many.
pub const COMPACT_AFTER_CHUNKS: i64 = 64;

/// A document as stored: its snapshot and the chunks appended since, in order.
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
pub fn put_snapshot(tx: &Connection, key: &DocKey, bytes: &[u8]) -> Result<()> {
    let k = key.to_string();
    tx.execute(
        "INSERT INTO documents (doc_key, grid, snapshot) VALUES (?1, ?2, ?3) ON CONFLICT (doc_key) DO UPDATE SET snapshot = excluded.snapshot",
        params![k, key.grid.to_string(), bytes],
    )?;
    tx.execute("DELETE FROM doc_chunks WHERE doc_key = ?1", [&k])?;
    Ok(())
}

/// Appends an incremental chunk; returns how many chunks the document now has.
pub fn append_chunk(tx: &Connection, key: &DocKey, bytes: &[u8]) -> Result<i64> {
    let k = key.to_string();
    tx.execute(
        "INSERT INTO documents (doc_key, grid, snapshot) VALUES (?1, ?2, x'') ON CONFLICT (doc_key) DO NOTHING",
        params![k, key.grid.to_string()],
    )?;
    tx.execute("INSERT INTO doc_chunks (doc_key, bytes) VALUES (?1, ?2)", params![k, bytes])?;
    Ok(tx.query_row("SELECT COUNT(*) FROM doc_chunks WHERE doc_key = ?1", [&k], |r| r.get(0))?)
}

/// The query table of a collection's records.
fn rows_table(c: Collection) -> &'static str {
    match c {
        Collection::Residents => "residents",
        Collection::Houses => "houses",
        Collection::Visits => "visits",
        Collection::Disputes => "disputes",
    }
}

/// Drops every document of the collections `receives` rejects, with their appended chunks,
/// conflicts, query rows and unsent changes: what the device's role does not receive (a
/// centre's staff device that held its area's residents before roles were scoped). Which
/// documents went.
pub fn drop_unreceived(conn: &mut Connection, receives: impl Fn(Collection) -> bool) -> Result<Vec<DocKey>> {
    let mut gone: Vec<DocKey> = doc_keys(conn)?.into_iter().filter(|k| !receives(k.collection)).collect();
    // Documents still being fetched have no row in `documents` yet.
    gone.extend(super::fetches(conn)?.into_iter().map(|f| f.doc).filter(|k| !receives(k.collection)));
    if gone.is_empty() {
        return Ok(gone);
    }
    let tx = conn.transaction()?;
    for k in &gone {
        let key = k.to_string();
        for table in ["documents", "doc_chunks", "conflicts", "outbox", "fetches", "fetch_pieces"] {
            tx.execute(&format!("DELETE FROM {table} WHERE doc_key = ?1"), [&key])?;
        }
    }
    for c in Collection::ALL.into_iter().filter(|c| !receives(*c)) {
        tx.execute(&format!("DELETE FROM {}", rows_table(c)), [])?;
    }
    tx.commit()?;
    Ok(gone)
}
