//! The quarantine: edits the server refused, with why, for the worker to re-enter or discard;
//! and edits orphaned by a refusal (code [`REENTERING`]), kept durably until re-entered.

use rusqlite::{Connection, params};
use sync_protocol::app::Quarantined;
use sync_protocol::doc::Edit;
use sync_protocol::{ErrorCode, ValidationError};
use uuid::Uuid;

use crate::error::Result;

/// Quarantine code of an edit waiting to be re-entered after its change was orphaned. Never
/// shown to the worker.
pub const REENTERING: &str = "reentering";

/// A refused edit, with the server's reason.
pub fn quarantine_edit(
    tx: &Connection,
    edit: &Edit,
    code: ErrorCode,
    record: Option<Uuid>,
    field: &str,
    message: &str,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO quarantine (edit, code, record, field, message, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            serde_json::to_string(edit).unwrap_or_default(),
            code.as_str(),
            record.map(|r| r.to_string()),
            field,
            message,
            at
        ],
    )?;
    Ok(())
}

/// An orphaned edit, to be re-entered.
pub fn keep_for_reentry(tx: &Connection, edit: &Edit, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO quarantine (edit, code, record, field, message, at) VALUES (?1, ?2, ?3, '', '', ?4)",
        params![serde_json::to_string(edit).unwrap_or_default(), REENTERING, edit.record.to_string(), at],
    )?;
    Ok(())
}

/// The edits waiting to be re-entered, oldest first.
pub fn reentering(conn: &Connection) -> Result<Vec<(i64, Edit)>> {
    let mut st = conn.prepare("SELECT id, edit FROM quarantine WHERE code = ?1 ORDER BY id")?;
    let rows: Vec<(i64, String)> =
        st.query_map([REENTERING], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|(id, e)| serde_json::from_str(&e).ok().map(|e| (id, e))).collect())
}

pub fn reentering_count(conn: &Connection) -> Result<u64> {
    super::count(conn, "SELECT COUNT(*) FROM quarantine WHERE code = ?1", &[&REENTERING])
}

/// An orphaned edit that no longer fits: it stays, with the validator's reason.
pub fn requarantine(conn: &Connection, id: i64, v: &ValidationError) -> Result<()> {
    conn.execute(
        "UPDATE quarantine SET code = ?2, record = ?3, field = ?4, message = ?5 WHERE id = ?1",
        params![id, v.code.as_str(), v.record.map(|r| r.to_string()), v.field, v.message],
    )?;
    Ok(())
}

/// Removes a row; whether there was one.
pub fn delete_quarantined(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])? > 0)
}

/// The refused edits the worker sees, oldest first.
pub fn quarantined(conn: &Connection) -> Result<Vec<Quarantined>> {
    let mut st =
        conn.prepare("SELECT id, edit, code, record, field, message, at FROM quarantine WHERE code != ?1 ORDER BY id")?;
    let rows = st
        .query_map([REENTERING], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, edit, code, record, field, message, at)| {
            Some(Quarantined {
                id,
                edit: serde_json::from_str(&edit).ok()?,
                code: ErrorCode::parse(&code),
                record: record.and_then(|r| Uuid::parse_str(&r).ok()),
                field,
                message,
                at,
            })
        })
        .collect())
}

pub fn quarantined_count(conn: &Connection) -> Result<u64> {
    super::count(conn, "SELECT COUNT(*) FROM quarantine WHERE code != ?1", &[&REENTERING])
}
