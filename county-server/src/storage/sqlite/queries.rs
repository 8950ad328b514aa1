//! SQLite: Staff queries over the query tables, and counts for operators.

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{Dispute, House, Resident};
use sync_protocol::schema::Collection;
use sync_protocol::search::{ID_TAIL_LEN, SearchTerm};
use uuid::Uuid;

use super::*;

/// A name as the search index holds it (`gk_name_chars`): its characters apart from white
/// space, each a token of FTS5's `ascii` tokenizer (which also drops ASCII punctuation and folds
/// ASCII case, the same for the index and the query).
pub(super) fn name_chars(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars().filter(|c| !c.is_whitespace()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The FTS5 phrase that finds the names containing `term`: its characters in a row. `None` if
/// the index holds none of its characters (white space or ASCII punctuation only): such a term
/// is matched by `LIKE` alone.
fn name_phrase(term: &str) -> Option<String> {
    let indexed = term.chars().any(|c| !c.is_whitespace() && (!c.is_ascii() || c.is_ascii_alphanumeric()));
    indexed.then(|| format!("\"{}\"", name_chars(term).replace('"', "\"\"")))
}

/// How many rows a county-wide search's index may name before the search walks the names in
/// order instead: reading and ordering 5,000 rows costs about what walking to a page of 200
/// does when one name in 200 matches.
const BROAD: i64 = 5_000;

/// `?` placeholders numbered from `after + 1`.
fn renumber(sql: &str, after: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = after;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("?{n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

/// The first text after every text that starts with `prefix` (ASCII): `"zs"` → `"zt"`.
fn prefix_end(prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        *last = last.saturating_add(1);
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[async_trait]
impl Queries for SqliteStorage {
    async fn residents(&self, scope: &Scope, q: &ResidentQuery) -> Result<Vec<Resident>> {
        let (cond, arg) = scope_sql(scope, "grid");
        let county_wide = *scope == Scope::All && q.grid.is_none() && q.house.is_none();
        let q = q.clone();
        self.read(move |c| {
            let term = q.q.as_deref().and_then(SearchTerm::parse);
            // The term's index: the rows it names, and the values of its `?`s.
            let index: Option<(&str, Vec<String>)> = match &term {
                Some(SearchTerm::Name(n)) => {
                    name_phrase(n).map(|p| ("SELECT rowid FROM residents_fts WHERE residents_fts MATCH ?", vec![p]))
                }
                Some(SearchTerm::Initials(i)) => Some((
                    "SELECT rowid FROM residents WHERE initials >= ? AND initials < ?",
                    vec![i.clone(), prefix_end(i)],
                )),
                Some(SearchTerm::IdTail(t)) if t.len() == ID_TAIL_LEN => {
                    Some(("SELECT rowid FROM residents WHERE id_tail = ? COLLATE NOCASE", vec![t.clone()]))
                }
                _ => None,
            };
            // A term many names match ("张", "z") or a filter without an index (a category, two
            // digits of an ID tail) is not read through an index naming a hundred thousand rows:
            // across the whole county the names are walked in order until the page is full; in
            // a township, village or grid its own rows are read through the grids' index. A
            // narrower term reads what its index names and orders that.
            let broad = match &index {
                Some((source, values)) => {
                    let n: i64 = c
                        .query_row(
                            &format!("SELECT COUNT(*) FROM ({} LIMIT {BROAD})", renumber(source, 0)),
                            rusqlite::params_from_iter(values.iter()),
                            |r| r.get(0),
                        )
                        .map_err(db_err)?;
                    n >= BROAD
                }
                None => true,
            };
            let walk = county_wide && broad;
            let indexed = if walk { " INDEXED BY residents_name" } else { "" };
            let mut sql = format!("SELECT rowid FROM residents{indexed} WHERE {cond}");
            let mut args: Vec<String> = arg.into_iter().collect();
            // A condition and the values of its `?`s in order.
            let mut push_all = |sql: &mut String, frag: &str, values: Vec<String>| {
                sql.push_str(&renumber(frag, args.len()));
                args.extend(values);
            };
            if let (Some((source, values)), false) = (index, broad) {
                push_all(&mut sql, &format!(" AND rowid IN ({source})"), values);
            }
            let mut push = |sql: &mut String, frag: &str, v: String| push_all(sql, frag, vec![v]);
            if let Some(g) = q.grid {
                push(&mut sql, " AND grid = ?", g.to_string());
            }
            if let Some(h) = q.house {
                push(&mut sql, " AND house_id = ?", h.to_string());
            }
            if !q.include_archived {
                sql.push_str(" AND archived = 0");
            }
            if let Some(cat) = q.category.as_deref().filter(|s| !s.is_empty()) {
                push(&mut sql, " AND categories LIKE ?", format!("%,{cat},%"));
            }
            if let Some(term) = term {
                // The index (above) narrows; the `LIKE` decides, as on the handheld.
                let (column, pattern) = term.column_and_pattern();
                push(&mut sql, &format!(" AND {column} LIKE ?{}", sync_protocol::search::LIKE_ESCAPE), pattern);
            }
            let limit = q.limit.unwrap_or(1000).min(10_000);
            let sql =
                format!("SELECT data FROM residents WHERE rowid IN ({sql} ORDER BY name LIMIT {limit}) ORDER BY name");
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<Resident>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn resident(&self, id: Uuid) -> Result<Option<(DocKey, Resident)>> {
        self.read(move |c| {
            c.query_row("SELECT doc_key, data FROM residents WHERE id = ?1", [id.to_string()], |r| {
                let key: String = r.get(0)?;
                Ok((
                    key.parse::<DocKey>().map_err(rusqlite::Error::InvalidParameterName)?,
                    json_col::<Resident>(r.get(1)?)?,
                ))
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn houses(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<House>> {
        let (cond, arg) = scope_sql(scope, "grid");
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT data FROM houses WHERE {cond}");
            if let Some(g) = grid {
                args.push(g.to_string());
                sql.push_str(&format!(" AND grid = ?{}", args.len()));
            }
            sql.push_str(" ORDER BY address LIMIT 5000");
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<House>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn disputes(&self, scope: &Scope, q: &DisputeQuery) -> Result<Vec<(Uuid, Dispute)>> {
        let (cond, arg) = scope_sql(scope, "grid");
        let q = q.clone();
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT grid, data FROM disputes WHERE {cond}");
            dispute_filters(&mut sql, &mut args, &q);
            sql.push_str(" ORDER BY reported_at DESC LIMIT 2000");
            grid_json_rows::<Dispute>(c, &sql, &args)
        })
        .await
    }

    async fn dispute(&self, id: Uuid) -> Result<Option<(DocKey, Dispute)>> {
        self.read(move |c| {
            c.query_row("SELECT doc_key, data FROM disputes WHERE id = ?1", [id.to_string()], |r| {
                let key: String = r.get(0)?;
                Ok((
                    key.parse::<DocKey>().map_err(rusqlite::Error::InvalidParameterName)?,
                    json_col::<Dispute>(r.get(1)?)?,
                ))
            })
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn dispute_list(
        &self,
        scope: &Scope,
        list: DisputeList,
        viewer: Viewer,
        q: &DisputeQuery,
        limit: u32,
    ) -> Result<Vec<(Uuid, Dispute)>> {
        let (mut sql, args) = list_sql("grid, data", scope, Some(list), viewer, q);
        self.read(move |c| {
            sql.push_str(&format!(" ORDER BY deadline IS NULL, deadline, reported_at DESC LIMIT {limit}"));
            grid_json_rows::<Dispute>(c, &sql, &args)
        })
        .await
    }

    async fn dispute_count(
        &self,
        scope: &Scope,
        list: Option<DisputeList>,
        viewer: Viewer,
        q: &DisputeQuery,
    ) -> Result<u64> {
        let (sql, args) = list_sql("COUNT(*)", scope, list, viewer, q);
        self.read(move |c| {
            let n: i64 = c.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0)).map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn deadlines_passed(&self, after: i64, until: i64, limit: u32) -> Result<Vec<(Uuid, Dispute)>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT grid, data FROM disputes WHERE open = 1 AND deadline >= ?1 AND deadline < ?2
                     ORDER BY deadline LIMIT ?3",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params![after, until, limit], |r| {
                    let grid: String = r.get(0)?;
                    Ok((grid, json_col::<Dispute>(r.get(1)?)?))
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            Ok(rows.into_iter().filter_map(|(g, d)| Uuid::parse_str(&g).ok().map(|g| (g, d))).collect())
        })
        .await
    }

    async fn dispute_times(&self, scope: &Scope, from: i64, to: i64) -> Result<Vec<DisputeTimes>> {
        let (cond, arg) = scope_sql(scope, "d.grid");
        self.read(move |c| {
            let sql = format!(
                "SELECT d.grid, d.reported_by, d.discovered_at, d.reported_at, d.first_intervention_at, d.resolved_level,
                        n.village, n.township, a.name
                 FROM disputes d LEFT JOIN nodes n ON n.id = d.grid LEFT JOIN accounts a ON a.id = d.reported_by
                 WHERE {cond} AND d.reported_at >= {from} AND d.reported_at < {to} AND d.rule >= {DISPUTE_RULE}"
            );
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let uuid = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
            let rows = st
                .query_map(rusqlite::params_from_iter(arg.iter()), |r| {
                    Ok(DisputeTimes {
                        grid: uuid(r.get(0)?).unwrap_or_default(),
                        reported_by: uuid(r.get(1)?).unwrap_or_default(),
                        discovered_at: r.get(2)?,
                        reported_at: r.get(3)?,
                        first_intervention_at: r.get(4)?,
                        resolved_level: r.get::<_, Option<String>>(5)?.as_deref().and_then(Level::parse),
                        village: uuid(r.get(6)?),
                        township: uuid(r.get(7)?),
                        reporter_name: r.get(8)?,
                    })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    async fn stale_dispute_docs(&self, rule: i64, settings: u64) -> Result<Vec<DocKey>> {
        self.read(move |c| {
            let mut st = c
                .prepare("SELECT DISTINCT doc_key FROM disputes WHERE rule < ?1 OR settings < ?2 OR settings > ?2")
                .map_err(db_err)?;
            let keys = st
                .query_map(rusqlite::params![rule, settings as i64], |r| r.get::<_, String>(0))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            Ok(keys.into_iter().filter_map(|k| k.parse().ok()).collect())
        })
        .await
    }

    async fn record_doc(&self, collection: Collection, id: Uuid) -> Result<Option<DocKey>> {
        self.read(move |c| {
            let sql = format!("SELECT doc_key FROM {} WHERE id = ?1", collection.as_str());
            let key: Option<String> = c.query_row(&sql, [id.to_string()], |r| r.get(0)).optional().map_err(db_err)?;
            Ok(key.and_then(|k| k.parse().ok()))
        })
        .await
    }

    async fn conflicts(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<Conflict>> {
        let (cond, arg) = scope_sql(scope, "grid");
        self.read(move |c| {
            let mut args: Vec<String> = arg.into_iter().collect();
            let mut sql = format!("SELECT data FROM conflicts WHERE {cond}");
            if let Some(g) = grid {
                args.push(g.to_string());
                sql.push_str(&format!(" AND grid = ?{}", args.len()));
            }
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| json_col::<Conflict>(r.get(0)?))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn overview(&self, scope: &Scope, month_start_ms: i64) -> Result<Overview> {
        let (cond, arg) = scope_sql(scope, "grid");
        let (gcond, _) = scope_sql(scope, "id");
        self.read(move |c| {
            let args: Vec<String> = arg.into_iter().collect();
            let p = || rusqlite::params_from_iter(args.iter());
            let count = |sql: String| -> Result<u64> {
                c.query_row(&sql, p(), |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(db_err)
            };
            let mut o = Overview {
                grids: count(format!("SELECT COUNT(*) FROM nodes WHERE kind = 'grid' AND {gcond}"))?,
                open_conflicts: count(format!("SELECT COUNT(*) FROM conflicts WHERE {cond}"))?,
                ..Default::default()
            };
            // Residents, houses, categories, this month's visits and disputes by level from the
            // per-grid counters the database keeps at every write (a month is a number, never
            // request text).
            let month = format!("visits:{}", DocKey::month_of(month_start_ms));
            let sql = format!(
                "SELECT what, SUM(n) FROM grid_counts WHERE {cond} AND (what IN ('residents', 'houses', '{month}')
                 OR what LIKE 'cat:%' OR what LIKE 'open:%' OR what LIKE 'settled:%') GROUP BY what"
            );
            let mut st = c.prepare(&sql).map_err(db_err)?;
            let sums = st
                .query_map(p(), |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db_err)?
                .collect::<rusqlite::Result<std::collections::HashMap<_, _>>>()
                .map_err(db_err)?;
            let sum = |what: &str| sums.get(what).copied().unwrap_or(0).max(0) as u64;
            (o.residents, o.houses, o.visits_this_month) = (sum("residents"), sum("houses"), sum(&month));
            for cat in sync_protocol::schema::POPULATION_CATEGORIES {
                o.by_category.push((cat.to_string(), sum(&format!("cat:{cat}"))));
            }
            for level in sync_protocol::schema::LEVELS {
                o.open_disputes_by_level.push((level.to_string(), sum(&format!("open:{level}"))));
                o.resolved_by_level.push((level.to_string(), sum(&format!("settled:{level}"))));
            }
            Ok(o)
        })
        .await
    }

    async fn map_grids(
        &self,
        scope: &Scope,
        month_start_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<sync_protocol::api::MapGrid>> {
        let (cond, arg) = scope_sql(scope, "grid");
        let (gcond, _) = scope_sql(scope, "n.id");
        self.read(move |c| {
            let args: Vec<String> = arg.into_iter().collect();
            // A month and a time are numbers, never request text: written into the statements.
            let month = format!("visits:{}", DocKey::month_of(month_start_ms));
            let mut overdue = std::collections::HashMap::new();
            let mut st = c
                .prepare(&format!(
                    "SELECT grid, COUNT(*) FROM disputes WHERE {cond} AND open = 1 AND deadline < {now_ms} GROUP BY grid"
                ))
                .map_err(db_err)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(db_err)?;
            for row in rows {
                let (grid, n) = row.map_err(db_err)?;
                overdue.insert(grid, n);
            }
            let mut st = c
                .prepare(&format!(
                    "SELECT n.id, n.name, n.township, n.village, n.boundary,
                       SUM(CASE WHEN g.what = 'residents' THEN g.n ELSE 0 END),
                       SUM(CASE WHEN g.what = 'houses' THEN g.n ELSE 0 END),
                       SUM(CASE WHEN g.what = '{month}' THEN g.n ELSE 0 END),
                       SUM(CASE WHEN g.what LIKE 'open:%' THEN g.n ELSE 0 END)
                     FROM nodes n LEFT JOIN grid_counts g ON g.grid = n.id
                       AND (g.what IN ('residents', 'houses', '{month}') OR g.what LIKE 'open:%')
                     WHERE n.kind = 'grid' AND {gcond} GROUP BY n.id ORDER BY n.name"
                ))
                .map_err(db_err)?;
            let count = |r: &rusqlite::Row, i: usize| r.get::<_, Option<i64>>(i).map(|n| n.unwrap_or(0).max(0) as u64);
            let uuid = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    let id: String = r.get(0)?;
                    Ok(sync_protocol::api::MapGrid {
                        overdue: overdue.get(&id).copied().unwrap_or(0) as u64,
                        id: uuid_col(id)?,
                        name: r.get(1)?,
                        township: uuid(r.get(2)?),
                        village: uuid(r.get(3)?),
                        boundary: r.get(4)?,
                        residents: count(r, 5)?,
                        houses: count(r, 6)?,
                        visits_this_month: count(r, 7)?,
                        open_disputes: count(r, 8)?,
                    })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows.map_err(db_err)
        })
        .await
    }

    async fn stats(&self) -> Result<StorageStats> {
        self.read(|c| {
            let n = |t: &str| -> Result<u64> {
                c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(db_err)
            };
            Ok(StorageStats {
                changes: n("changes")?,
                documents: n("documents")?,
                residents: n("residents")?,
                houses: n("houses")?,
                visits: n("visits")?,
                disputes: n("disputes")?,
                devices: n("devices")?,
            })
        })
        .await
    }
}

/// Rows of a grid column and a JSON column (rows whose grid is not a UUID cannot be written).
fn grid_json_rows<T: serde::de::DeserializeOwned>(
    c: &rusqlite::Connection,
    sql: &str,
    args: &[String],
) -> Result<Vec<(Uuid, T)>> {
    let mut st = c.prepare(sql).map_err(db_err)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let grid: String = r.get(0)?;
            let grid = Uuid::parse_str(&grid)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
            Ok((grid, json_col::<T>(r.get(1)?)?))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>();
    rows.map_err(db_err)
}

/// The filters of a dispute query besides its list: grid, status, level, class, open only.
/// `SELECT {columns} FROM disputes WHERE` the scope, one of the staff's lists (or none) and the
/// query's other filters; with its arguments.
fn list_sql(
    columns: &str,
    scope: &Scope,
    list: Option<DisputeList>,
    viewer: Viewer,
    q: &DisputeQuery,
) -> (String, Vec<String>) {
    let (cond, arg) = scope_sql(scope, "grid");
    let mut args: Vec<String> = arg.into_iter().collect();
    let mut sql = format!("SELECT {columns} FROM disputes WHERE {cond}");
    let mut bind = |sql: &mut String, frag: &str, v: String| {
        args.push(v);
        sql.push_str(&frag.replace('?', &format!("?{}", args.len())));
    };
    let level = viewer.level.as_str().to_string();
    match list {
        None => {}
        // A named person; else a place sent to (for a department, only that); else the
        // holding level's centre.
        Some(DisputeList::Waiting) => {
            bind(&mut sql, " AND waiting_level = ?", level);
            bind(&mut sql, " AND (waiting_account = ?", viewer.account.to_string());
            sql.push_str(" OR waiting_account IS NULL");
            match viewer.node {
                Some(node) => bind(&mut sql, " AND (waiting_node = ?", node.to_string()),
                None => sql.push_str(" AND (waiting_node IS NOT NULL"),
            }
            sql.push_str(if viewer.department { "))" } else { " OR waiting_node IS NULL))" });
        }
        // A number, never text from a request: written into the statement.
        Some(DisputeList::Overdue) => sql.push_str(&format!(" AND open = 1 AND deadline < {}", viewer.now_ms)),
        Some(DisputeList::Supervised) => sql.push_str(" AND open = 1 AND supervised = 1"),
        Some(DisputeList::UnacceptedEmergencies) => {
            sql.push_str(" AND open = 1 AND class = 'emergency' AND accepted = 0")
        }
        Some(DisputeList::AssignedOut) => {
            bind(&mut sql, " AND open = 1 AND level = ?", level.clone());
            bind(
                &mut sql,
                " AND (waiting_level <> ? OR waiting_account IS NOT NULL OR waiting_node IS NOT NULL)",
                level,
            );
        }
    }
    dispute_filters(&mut sql, &mut args, q);
    (sql, args)
}

fn dispute_filters(sql: &mut String, args: &mut Vec<String>, q: &DisputeQuery) {
    let filters = [
        ("grid", q.grid.map(|g| g.to_string())),
        ("status", q.status.clone()),
        ("level", q.level.clone()),
        ("class", q.class.clone()),
    ];
    for (col, v) in filters {
        if let Some(v) = v {
            args.push(v);
            sql.push_str(&format!(" AND {col} = ?{}", args.len()));
        }
    }
    if let Some(since) = q.reported_since {
        args.push(since.to_string());
        sql.push_str(&format!(" AND reported_at >= CAST(?{} AS INTEGER)", args.len()));
    }
    if q.open_only {
        sql.push_str(" AND open = 1");
    }
}

/// SQL condition selecting the grids of a scope, on a column holding a grid id.
pub(super) fn scope_sql(scope: &Scope, column: &str) -> (String, Option<String>) {
    match scope {
        Scope::All => ("1=1".into(), None),
        Scope::Township(t) => {
            (format!("{column} IN (SELECT id FROM nodes WHERE kind='grid' AND township=?1)"), Some(t.to_string()))
        }
        Scope::Village(v) => {
            (format!("{column} IN (SELECT id FROM nodes WHERE kind='grid' AND village=?1)"), Some(v.to_string()))
        }
        Scope::Grid(g) => (format!("{column} = ?1"), Some(g.to_string())),
    }
}
