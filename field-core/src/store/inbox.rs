//! The inbox: actions others took on this person's disputes (assigned, supervised, returned,
//! resolved …), noted after each sync, unread until opened. `seen_actions` remembers every
//! action the device has looked at, so an action arriving late (made offline days ago) is still
//! noted once, and never twice.

use rusqlite::{Connection, params};
use sync_protocol::app::InboxItem;
use sync_protocol::model::{Dispute, closed_loop};
use sync_protocol::org::Level;
use uuid::Uuid;

use super::{get_meta, set_meta};
use crate::error::Result;

/// The kinds of action that reach the inbox (work on the spot, intervene and mediate, does not).
const NOTED: &[&str] =
    &["accept", "assign", "feedback", "verify", "return", "escalate", "supervise", "resolve", "evaluate", "archive"];

/// Whether a dispute is this person's: they reported it or acted on it, or it waits for them.
fn concerns(d: &Dispute, me: Uuid, level: Level) -> bool {
    d.reported_by == me
        || d.actions.iter().any(|a| a.actor == me)
        || closed_loop::waits_for(&d.state(), me, level)
        || d.state().level == level
}

/// Notes the actions not looked at before; returns how many reached the inbox. The first time
/// (a first download) everything already there is taken as seen.
pub fn note_new_actions(conn: &mut Connection, me: Uuid, level: Level, disputes: &[Dispute]) -> Result<u32> {
    let tx = conn.transaction()?;
    let first = get_meta(&tx, "inbox_started")?.is_none();
    let mut noted = 0;
    {
        let mut seen = tx.prepare_cached("INSERT OR IGNORE INTO seen_actions (id) VALUES (?1)")?;
        let mut put = tx.prepare_cached(
            "INSERT OR IGNORE INTO inbox (action, dispute, kind, actor, level, at, note, read) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        )?;
        for d in disputes {
            let mine = concerns(d, me, level);
            for a in &d.actions {
                let new = seen.execute([a.id.to_string()])? == 1;
                if new && !first && mine && a.actor != me && NOTED.contains(&a.kind.as_str()) {
                    noted += put.execute(params![
                        a.id.to_string(),
                        d.id.to_string(),
                        a.kind,
                        a.actor.to_string(),
                        a.level.as_str(),
                        a.at,
                        a.note
                    ])? as u32;
                }
            }
        }
    }
    if first {
        set_meta(&tx, "inbox_started", "1")?;
    }
    tx.commit()?;
    Ok(noted)
}

/// The inbox, unread first, newest first (at most 200).
pub fn inbox(conn: &Connection) -> Result<Vec<InboxItem>> {
    let mut st = conn.prepare_cached(
        "SELECT action, dispute, kind, actor, level, at, note, read FROM inbox ORDER BY read, at DESC LIMIT 200",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, bool>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (action, dispute, kind, actor, level, at, note, read) = row?;
        let (Ok(action), Ok(dispute), Ok(actor), Some(level)) =
            (Uuid::parse_str(&action), Uuid::parse_str(&dispute), Uuid::parse_str(&actor), Level::parse(&level))
        else {
            continue;
        };
        out.push(InboxItem { action, dispute, kind, actor, level, at, note, read });
    }
    Ok(out)
}

pub fn unread_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM inbox WHERE read = 0", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Marks entries read: these actions, or all of a dispute's when opened.
pub fn mark_read(conn: &Connection, dispute: Uuid) -> Result<()> {
    conn.execute("UPDATE inbox SET read = 1 WHERE dispute = ?1 AND read = 0", [dispute.to_string()])?;
    Ok(())
}
