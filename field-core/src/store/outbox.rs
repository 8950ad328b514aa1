//! The outbox (changes not yet acknowledged, each with the edit behind it, so a refused or
//! orphaned change can be re-entered) and the device's position in each grid's log.

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::doc::{DocKey, Edit};
use uuid::Uuid;

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub doc: DocKey,
    pub hash: [u8; 32],
    pub bytes: Vec<u8>,
    pub edit: Edit,
}

pub fn push_outbox(tx: &Connection, doc: &DocKey, hash: &[u8; 32], bytes: &[u8], edit: &Edit, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox (doc_key, hash, bytes, edit, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![doc.to_string(), &hash[..], bytes, serde_json::to_string(edit).unwrap_or_default(), at],
    )?;
    Ok(())
}

/// The oldest changes of the outbox, in order, up to about `max_bytes` (at least one).
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
    super::count(conn, "SELECT COUNT(*) FROM outbox", &[])
}

pub fn pending_bytes(conn: &Connection) -> Result<u64> {
    super::count(conn, "SELECT COALESCE(SUM(length(bytes)), 0) FROM outbox", &[])
}

/// Removes acknowledged (or dropped) rows.
pub fn delete_outbox(tx: &Connection, ids: impl IntoIterator<Item = i64>) -> Result<()> {
    let mut st = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
    for id in ids {
        st.execute([id])?;
    }
    Ok(())
}

/// Removes the rows of changes by hash (changes dropped because they build on refused ones).
pub fn delete_outbox_hashes<'a>(tx: &Connection, hashes: impl IntoIterator<Item = &'a [u8; 32]>) -> Result<()> {
    let mut st = tx.prepare_cached("DELETE FROM outbox WHERE hash = ?1")?;
    for h in hashes {
        st.execute([&h[..]])?;
    }
    Ok(())
}

/// How far the device has read a grid's log: 0 when it holds nothing of the grid yet.
pub fn position(conn: &Connection, grid: Uuid) -> Result<u64> {
    let seq: Option<i64> =
        conn.query_row("SELECT seq FROM positions WHERE grid = ?1", [grid.to_string()], |r| r.get(0)).optional()?;
    Ok(seq.unwrap_or(0) as u64)
}

/// Whether the device holds a position in the grid at all (an empty grid's is 0).
pub fn has_position(conn: &Connection, grid: Uuid) -> Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM positions WHERE grid = ?1", [grid.to_string()], |_| Ok(())).optional()?.is_some())
}

pub fn set_position(tx: &Connection, grid: Uuid, seq: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO positions (grid, seq) VALUES (?1, ?2) ON CONFLICT (grid) DO UPDATE SET seq = excluded.seq",
        params![grid.to_string(), seq as i64],
    )?;
    Ok(())
}
