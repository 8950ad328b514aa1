//! Snapshot documents being fetched in byte ranges ([`sync_protocol::wire::SyncResponse::fetch`]),
//! and the bytes received so far, kept piece by piece as they arrive: a cut loses nothing that
//! reached the device. A grid with a document here is held at position 0 until the last one is
//! loaded; the position its snapshot was taken at waits here meanwhile.

use rusqlite::{Connection, params};
use sync_protocol::GridId;
use sync_protocol::doc::DocKey;

use crate::error::Result;

/// A document to fetch, and how many bytes of it the device holds.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub doc: DocKey,
    /// Its size as last told by the server.
    pub total: u64,
    pub held: u64,
}

/// Notes a document to fetch. Named again (a second answer for the same grid), it keeps the
/// bytes it holds and the earlier position (the one its bytes are known to contain).
pub fn add_fetch(tx: &Connection, doc: &DocKey, seq: u64, total: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO fetches (doc_key, grid, seq, total) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_key) DO UPDATE SET seq = MIN(seq, excluded.seq), total = excluded.total",
        params![doc.to_string(), doc.grid.to_string(), seq as i64, total as i64],
    )?;
    Ok(())
}

pub fn fetches(conn: &Connection) -> Result<Vec<Fetch>> {
    let mut st = conn.prepare_cached(
        "SELECT f.doc_key, f.total, COALESCE((SELECT SUM(length(bytes)) FROM fetch_pieces p WHERE p.doc_key = f.doc_key), 0)
         FROM fetches f ORDER BY f.doc_key",
    )?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, total, held)| Some(Fetch { doc: k.parse().ok()?, total: total as u64, held: held as u64 }))
        .collect())
}

/// The grids with documents still to fetch (of those [`fetches`] reads).
pub fn grids_fetching(conn: &Connection) -> Result<Vec<GridId>> {
    let mut grids: Vec<GridId> = fetches(conn)?.into_iter().map(|f| f.doc.grid).collect();
    grids.dedup();
    Ok(grids)
}

/// Gives up a grid's fetches (the server no longer serves them): the grid is asked for from
/// the start again.
pub fn abandon_fetches(conn: &Connection, grid: GridId) -> Result<()> {
    let g = grid.to_string();
    conn.execute("DELETE FROM fetch_pieces WHERE doc_key IN (SELECT doc_key FROM fetches WHERE grid = ?1)", [&g])?;
    conn.execute("DELETE FROM fetches WHERE grid = ?1", [&g])?;
    Ok(())
}

/// Keeps bytes received at `offset` (the end of what is held) and the document's size as the
/// server now tells it.
pub fn append_piece(tx: &Connection, doc: &DocKey, offset: u64, bytes: &[u8], total: u64) -> Result<()> {
    let k = doc.to_string();
    tx.execute(
        "INSERT INTO fetch_pieces (doc_key, offset, bytes) VALUES (?1, ?2, ?3)",
        params![k, offset as i64, bytes],
    )?;
    tx.execute("UPDATE fetches SET total = ?2 WHERE doc_key = ?1", params![k, total as i64])?;
    Ok(())
}

/// Everything held of a document, in order.
pub fn held_bytes(conn: &Connection, doc: &DocKey) -> Result<Vec<u8>> {
    let mut st = conn.prepare_cached("SELECT bytes FROM fetch_pieces WHERE doc_key = ?1 ORDER BY offset")?;
    let mut rows = st.query([doc.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.extend_from_slice(&r.get::<_, Vec<u8>>(0)?);
    }
    Ok(out)
}

/// Drops what is held of a document (the server's copy no longer begins with it).
pub fn restart_fetch(tx: &Connection, doc: &DocKey) -> Result<()> {
    tx.execute("DELETE FROM fetch_pieces WHERE doc_key = ?1", [doc.to_string()])?;
    Ok(())
}

/// The document is loaded: forgets it. Returns the grid's position if it was the grid's last
/// document to fetch (the caller sets it in the same transaction).
pub fn finish_fetch(tx: &Connection, doc: &DocKey) -> Result<Option<u64>> {
    let (k, grid) = (doc.to_string(), doc.grid.to_string());
    // The earliest position any of the grid's documents was named at: each holds at least that.
    let seq: i64 = tx.query_row("SELECT MIN(seq) FROM fetches WHERE grid = ?1", [&grid], |r| r.get(0))?;
    tx.execute("DELETE FROM fetch_pieces WHERE doc_key = ?1", [&k])?;
    tx.execute("DELETE FROM fetches WHERE doc_key = ?1", [&k])?;
    let left: i64 = tx.query_row("SELECT COUNT(*) FROM fetches WHERE grid = ?1", [&grid], |r| r.get(0))?;
    Ok((left == 0).then_some(seq as u64))
}
