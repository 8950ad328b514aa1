//! Photos: their bytes (inside the encrypted database) under their SHA-256, and whether the
//! server has them whole.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::error::Result;

/// Keeps a photo (once per hash); `uploaded` for one fetched from the server.
pub fn put_photo(conn: &Connection, hash: &str, grid: Uuid, mime: &str, bytes: &[u8], uploaded: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO photos (hash, grid, mime, data, uploaded) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
        params![hash, grid.to_string(), mime, bytes, uploaded],
    )?;
    Ok(())
}

pub fn photo(conn: &Connection, hash: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row("SELECT data FROM photos WHERE hash = ?1", [hash], |r| r.get(0)).optional()?)
}

/// Photos taken here and not yet whole on the server, oldest first: (hash, grid).
pub fn photos_to_upload(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut st = conn.prepare("SELECT hash, grid FROM photos WHERE uploaded = 0 ORDER BY rowid")?;
    Ok(st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn photos_pending(conn: &Connection) -> Result<u64> {
    super::count(conn, "SELECT COUNT(*) FROM photos WHERE uploaded = 0", &[])
}

pub fn mark_uploaded(conn: &Connection, hash: &str) -> Result<()> {
    conn.execute("UPDATE photos SET uploaded = 1 WHERE hash = ?1", [hash])?;
    Ok(())
}
