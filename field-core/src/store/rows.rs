//! The query tables (residents, houses, visits, disputes, conflicts): what lists, searches and
//! the workbench read, so they never parse documents. Written only from the pipeline's
//! projection ([`Rows`]), in the transaction that stores the change behind them.

use rusqlite::{Connection, params};
use sync_protocol::api::ResidentQuery;
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{Dispute, House, Resident, TimeLimits, Visit};
use sync_protocol::pipeline::Rows;
use sync_protocol::search::SearchTerm;
use uuid::Uuid;

use super::query_json;
use crate::error::Result;

/// Writes projected rows: each record's row replaced, records that are gone removed, each
/// record's open conflicts replaced (an empty list clears them).
pub fn write_rows(tx: &Connection, rows: &Rows) -> Result<()> {
    for (_, id) in &rows.gone {
        for t in ["residents", "houses", "visits", "disputes"] {
            tx.execute(&format!("DELETE FROM {t} WHERE id = ?1"), [id.to_string()])?;
        }
    }
    for (key, r) in &rows.residents {
        write_resident(tx, key, r)?;
    }
    for (key, h) in &rows.houses {
        write_house(tx, key, h)?;
    }
    for (key, v) in &rows.visits {
        write_visit(tx, key, v)?;
    }
    for (key, d) in &rows.disputes {
        write_dispute(tx, key, d)?;
    }
    for (key, record, list) in &rows.conflicts {
        write_conflicts(tx, key, record, list)?;
    }
    Ok(())
}

fn write_resident(tx: &Connection, key: &DocKey, r: &Resident) -> Result<()> {
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

fn write_house(tx: &Connection, key: &DocKey, h: &House) -> Result<()> {
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

fn write_visit(tx: &Connection, key: &DocKey, v: &Visit) -> Result<()> {
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

/// The version of the closed loop's rule the disputes rows were derived by (`meta`).
const DISPUTE_RULE: &str = "1";

/// Derives the disputes rows again if an older version of the closed loop's rule derived them
/// (an app updated in the field): their `data` is the whole dispute, so no document is read.
pub(super) fn rederive_disputes(conn: &mut Connection) -> Result<()> {
    if super::get_meta(conn, "dispute_rule")?.as_deref() == Some(DISPUTE_RULE) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let stored: Vec<(String, String)> = {
        let mut st = tx.prepare("SELECT grid, data FROM disputes")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (grid, data) in stored {
        let (Ok(grid), Ok(d)) = (Uuid::parse_str(&grid), serde_json::from_str::<Dispute>(&data)) else { continue };
        write_dispute(&tx, &DocKey::new(grid, sync_protocol::schema::Collection::Disputes), &d)?;
    }
    super::set_meta(&tx, "dispute_rule", DISPUTE_RULE)?;
    tx.commit()?;
    Ok(())
}

fn write_dispute(tx: &Connection, key: &DocKey, d: &Dispute) -> Result<()> {
    // For the inbox: this dispute's actions are to be looked at.
    tx.prepare_cached("INSERT OR IGNORE INTO inbox_pending (dispute) VALUES (?1)")?.execute([d.id.to_string()])?;
    // Status and level do not depend on the county's time limits.
    let s = d.state(&TimeLimits::default());
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

fn write_conflicts(tx: &Connection, key: &DocKey, record: &Uuid, list: &[Conflict]) -> Result<()> {
    tx.execute("DELETE FROM conflicts WHERE record = ?1", [record.to_string()])?;
    for c in list {
        tx.execute(
            "INSERT INTO conflicts (record, field, doc_key, data) VALUES (?1, ?2, ?3, ?4)",
            params![record.to_string(), c.field, key.to_string(), serde_json::to_string(c).unwrap_or_default()],
        )?;
    }
    Ok(())
}

/// Residents matching a search (name, pinyin initials or ID tail), category and house.
pub fn residents(conn: &Connection, q: &ResidentQuery) -> Result<Vec<Resident>> {
    let mut sql = String::from("SELECT data FROM residents WHERE 1=1");
    let mut args: Vec<String> = Vec::new();
    let mut add = |sql: &mut String, frag: &str, v: String| {
        args.push(v);
        sql.push_str(&frag.replace('?', &format!("?{}", args.len())));
    };
    if !q.include_archived {
        sql.push_str(" AND archived = 0");
    }
    if let Some(c) = q.category.as_deref().filter(|c| !c.is_empty()) {
        add(&mut sql, " AND categories LIKE ?", format!("%,{c},%"));
    }
    if let Some(h) = q.house {
        add(&mut sql, " AND house_id = ?", h.to_string());
    }
    if let Some(term) = q.q.as_deref().and_then(SearchTerm::parse) {
        let (column, pattern) = term.column_and_pattern();
        add(&mut sql, &format!(" AND {column} LIKE ?{}", sync_protocol::search::LIKE_ESCAPE), pattern);
    }
    sql.push_str(" ORDER BY name");
    if let Some(limit) = q.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
    query_json(conn, &sql, &params)
}

pub fn resident(conn: &Connection, id: Uuid) -> Result<Option<Resident>> {
    Ok(query_json(conn, "SELECT data FROM residents WHERE id = ?1", &[&id.to_string()])?.into_iter().next())
}

/// Houses not archived, by address.
pub fn houses(conn: &Connection) -> Result<Vec<House>> {
    query_json(conn, "SELECT data FROM houses WHERE archived = 0 ORDER BY address", &[])
}

pub fn house(conn: &Connection, id: Uuid) -> Result<Option<House>> {
    Ok(query_json(conn, "SELECT data FROM houses WHERE id = ?1", &[&id.to_string()])?.into_iter().next())
}

/// Visits since a time, newest first.
pub fn visits(conn: &Connection, since_ms: i64) -> Result<Vec<Visit>> {
    query_json(conn, "SELECT data FROM visits WHERE at >= ?1 ORDER BY at DESC", &[&since_ms])
}

/// Disputes, newest first; only the open ones if asked.
pub fn disputes(conn: &Connection, open_only: bool) -> Result<Vec<Dispute>> {
    let sql = if open_only {
        "SELECT data FROM disputes WHERE open = 1 ORDER BY reported_at DESC"
    } else {
        "SELECT data FROM disputes ORDER BY reported_at DESC"
    };
    query_json(conn, sql, &[])
}

/// Disputes with the grid each belongs to, newest first.
pub fn disputes_by_grid(conn: &Connection, open_only: bool) -> Result<Vec<(Uuid, Dispute)>> {
    let sql = if open_only {
        "SELECT grid, data FROM disputes WHERE open = 1 ORDER BY reported_at DESC"
    } else {
        "SELECT grid, data FROM disputes ORDER BY reported_at DESC"
    };
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (grid, data) = row?;
        // A row is written from a document of a grid the device holds: both always parse.
        if let (Ok(grid), Ok(d)) = (Uuid::parse_str(&grid), serde_json::from_str(&data)) {
            out.push((grid, d));
        }
    }
    Ok(out)
}

pub fn dispute(conn: &Connection, id: Uuid) -> Result<Option<Dispute>> {
    Ok(query_json(conn, "SELECT data FROM disputes WHERE id = ?1", &[&id.to_string()])?.into_iter().next())
}

/// The grid a dispute belongs to, if the device holds it.
pub fn dispute_grid(conn: &Connection, id: Uuid) -> Result<Option<Uuid>> {
    use rusqlite::OptionalExtension;
    let grid: Option<String> =
        conn.query_row("SELECT grid FROM disputes WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?;
    Ok(grid.and_then(|g| Uuid::parse_str(&g).ok()))
}

pub fn conflicts(conn: &Connection) -> Result<Vec<Conflict>> {
    query_json(conn, "SELECT data FROM conflicts ORDER BY record, field", &[])
}

/// The document an open conflict is in.
pub fn conflict_doc(conn: &Connection, record: Uuid, field: &str) -> Result<Option<DocKey>> {
    use rusqlite::OptionalExtension;
    let key: Option<String> = conn
        .query_row(
            "SELECT doc_key FROM conflicts WHERE record = ?1 AND field = ?2",
            params![record.to_string(), field],
            |r| r.get(0),
        )
        .optional()?;
    Ok(key.and_then(|k| k.parse().ok()))
}

/// The workbench's counts from the query tables: residents, houses, houses not visited since
/// `month_start`, open disputes, open conflicts.
pub struct Counts {
    pub residents: u64,
    pub houses: u64,
    pub houses_not_visited: u64,
    pub open_disputes: u64,
    pub open_conflicts: u64,
}

pub fn counts(conn: &Connection, month_start: i64) -> Result<Counts> {
    use super::count;
    Ok(Counts {
        residents: count(conn, "SELECT COUNT(*) FROM residents WHERE archived = 0", &[])?,
        houses: count(conn, "SELECT COUNT(*) FROM houses WHERE archived = 0", &[])?,
        houses_not_visited: count(
            conn,
            "SELECT COUNT(*) FROM houses h WHERE archived = 0 AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.house_id = h.id AND v.at >= ?1)",
            &[&month_start],
        )?,
        open_disputes: count(conn, "SELECT COUNT(*) FROM disputes WHERE open = 1", &[])?,
        open_conflicts: count(conn, "SELECT COUNT(*) FROM conflicts", &[])?,
    })
}

/// Records of every collection on the device (for a download's progress).
pub fn record_count(conn: &Connection) -> Result<u64> {
    super::count(
        conn,
        "SELECT (SELECT COUNT(*) FROM residents) + (SELECT COUNT(*) FROM houses) + (SELECT COUNT(*) FROM visits) + (SELECT COUNT(*) FROM disputes)",
        &[],
    )
}
