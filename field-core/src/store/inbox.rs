//! The inbox: actions others took on this person's disputes (assigned, supervised, returned,
//! resolved …), noted after each sync, unread until opened. `seen_actions` remembers every
//! action the device has looked at, so an action arriving late (made offline days ago) is still
//! noted once, and never twice; `inbox_pending` names the disputes whose rows changed since the
//! inbox last looked, written with the rows, so only they are read again.

use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::app::InboxItem;
use sync_protocol::model::{Dispute, TimeLimits, closed_loop};
use sync_protocol::org::{Account, Level};
use uuid::Uuid;

use super::{get_meta, set_meta};
use crate::error::Result;

/// The kinds of action that reach the inbox (work on the spot, intervene and mediate, does not).
const NOTED: &[&str] =
    &["accept", "assign", "feedback", "verify", "return", "escalate", "supervise", "resolve", "evaluate", "archive"];

/// Whether a dispute is this person's: they reported it or acted on it, it waits for them, or
/// their level holds it (a centre's; a department has only what is sent to it).
fn concerns(d: &Dispute, me: &Account) -> bool {
    if d.reported_by == me.id || d.actions.iter().any(|a| a.actor == me.id) {
        return true;
    }
    // Who holds a dispute and whom it waits for do not depend on the county's time limits.
    let state = d.state(&TimeLimits::default());
    (state.level == me.role.level() && !me.role.is_department())
        || closed_loop::waits_for(&state, me.id, me.role, Some(me.node))
}

/// How many read entries the inbox keeps (the oldest go first).
const KEEP_READ: i64 = 500;

/// Disputes whose rows changed since the inbox last looked.
pub fn inbox_pending(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM inbox_pending", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Notes the actions of the disputes whose rows changed (`inbox_pending`) that were not looked
/// at before; returns how many reached the inbox. Until the device's first download is complete
/// (`complete`), everything is taken as seen: history is not news.
pub fn note_new_actions(conn: &mut Connection, me: &Account, complete: bool) -> Result<u32> {
    let tx = conn.transaction()?;
    let started = get_meta(&tx, "inbox_started")?.is_some();
    let pending: Vec<String> = {
        let mut st = tx.prepare("SELECT dispute FROM inbox_pending")?;
        st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let mut noted = 0;
    {
        let mut load = tx.prepare_cached("SELECT data FROM disputes WHERE id = ?1")?;
        let mut seen = tx.prepare_cached("INSERT OR IGNORE INTO seen_actions (id) VALUES (?1)")?;
        let mut put = tx.prepare_cached(
            "INSERT OR IGNORE INTO inbox (action, dispute, kind, actor, level, at, note, read) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        )?;
        for id in &pending {
            let data: Option<String> = load.query_row([id], |r| r.get(0)).optional()?;
            let Some(d) = data.and_then(|j| serde_json::from_str::<Dispute>(&j).ok()) else { continue };
            let mut mine: Option<bool> = None;
            for a in &d.actions {
                let new = seen.execute([a.id.to_string()])? == 1;
                if !new || !started || a.actor == me.id || !NOTED.contains(&a.kind.as_str()) {
                    continue;
                }
                if *mine.get_or_insert_with(|| concerns(&d, me)) {
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
    tx.execute("DELETE FROM inbox_pending", [])?;
    // Entries of disputes the device no longer holds, and the oldest read ones, go.
    tx.execute("DELETE FROM inbox WHERE dispute NOT IN (SELECT id FROM disputes)", [])?;
    tx.execute(
        "DELETE FROM inbox WHERE read = 1 AND action NOT IN (SELECT action FROM inbox WHERE read = 1 ORDER BY at DESC LIMIT ?1)",
        [KEEP_READ],
    )?;
    if !started && complete {
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
