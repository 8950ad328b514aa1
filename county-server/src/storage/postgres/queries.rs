//! PostgreSQL: Staff queries over the query tables, and counts for operators.

use async_trait::async_trait;
use sqlx_core::row::Row;
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::{Dispute, House, Resident};
use sync_protocol::schema::Collection;
use sync_protocol::search::{ID_TAIL_LEN, SearchTerm};
use uuid::Uuid;

use super::*;

/// The keys of `gk_name_grams` a name containing `term` has: the term itself if it is one or
/// two characters, else each pair of characters in it.
fn name_grams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() <= 2 {
        return vec![term.to_string()];
    }
    let mut grams: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// The filters of a dispute query besides its list: grid, status, level, open only.
fn dispute_filters(sql: &mut Sql, q: &DisputeQuery) {
    if let Some(g) = q.grid {
        sql.and("grid =", Arg::Uuid(g));
    }
    if let Some(s) = &q.status {
        sql.and("status =", Arg::Text(s.clone()));
    }
    if let Some(l) = &q.level {
        sql.and("level =", Arg::Text(l.clone()));
    }
    if let Some(c) = &q.class {
        sql.and("class =", Arg::Text(c.clone()));
    }
    if let Some(since) = q.reported_since {
        sql.and("reported_at >=", Arg::Int(since));
    }
    if q.open_only {
        sql.push(" AND open");
    }
}

/// `SELECT {columns} FROM disputes WHERE` the scope, one of the staff's lists (or none) and the
/// query's other filters.
fn list_sql(columns: &str, scope: &Scope, list: Option<DisputeList>, viewer: Viewer, q: &DisputeQuery) -> Sql {
    let mut sql = Sql::scoped(&format!("SELECT {columns} FROM disputes"), scope, "grid");
    let level = viewer.level.as_str().to_string();
    match list {
        None => {}
        // A named person; else a place sent to (for a department, only that); else the
        // holding level's centre.
        Some(DisputeList::Waiting) => {
            sql.and("waiting_level =", Arg::Text(level));
            sql.push(" AND (waiting_account = ");
            sql.arg(Arg::Uuid(viewer.account));
            sql.push(" OR waiting_account IS NULL");
            match viewer.node {
                Some(node) => {
                    sql.push(" AND (waiting_node = ");
                    sql.arg(Arg::Uuid(node));
                }
                None => {
                    sql.push(" AND (waiting_node IS NOT NULL");
                }
            }
            sql.push(if viewer.department { "))" } else { " OR waiting_node IS NULL))" });
        }
        Some(DisputeList::Overdue) => {
            sql.push(" AND open");
            sql.and("deadline <", Arg::Int(viewer.now_ms));
        }
        Some(DisputeList::Supervised) => {
            sql.push(" AND open AND supervised");
        }
        Some(DisputeList::UnacceptedEmergencies) => {
            sql.push(" AND open AND class = 'emergency' AND NOT accepted");
        }
        Some(DisputeList::AssignedOut) => {
            sql.push(" AND open");
            sql.and("level =", Arg::Text(level.clone()));
            sql.push(" AND (waiting_level <> ");
            sql.arg(Arg::Text(level));
            sql.push(" OR waiting_account IS NOT NULL OR waiting_node IS NOT NULL)");
        }
    }
    dispute_filters(&mut sql, q);
    sql
}

/// Rows of a grid column and a JSON column.
fn grid_json_rows<T: serde::de::DeserializeOwned>(rows: &[sqlx_postgres::PgRow]) -> Result<Vec<(Uuid, T)>> {
    rows.iter().map(|r| Ok((r.try_get::<Uuid, _>(0).map_err(db_err)?, json(r, 1)?))).collect()
}

#[async_trait]
impl Queries for PostgresStorage {
    async fn residents(&self, scope: &Scope, q: &ResidentQuery) -> Result<Vec<Resident>> {
        // The matching rows are chosen and ordered on their keys first, then read.
        let mut sql = Sql::scoped("SELECT id FROM residents", scope, "grid");
        if let Some(g) = q.grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        if let Some(h) = q.house {
            sql.and("house_id =", Arg::Uuid(h));
        }
        if !q.include_archived {
            sql.push(" AND NOT archived");
        }
        if let Some(cat) = q.category.as_deref().filter(|s| !s.is_empty()) {
            sql.push(" AND ").arg(Arg::Text(cat.to_string())).push(" = ANY(categories)");
        }
        if let Some(term) = q.q.as_deref().and_then(SearchTerm::parse) {
            // The index narrows; the `LIKE` below decides, as on the handheld.
            match &term {
                SearchTerm::Name(n) => {
                    sql.and("gk_name_grams(name) @>", Arg::Texts(name_grams(n)));
                }
                SearchTerm::IdTail(t) if t.len() == ID_TAIL_LEN => {
                    sql.and("id_tail =", Arg::Text(t.clone()));
                }
                SearchTerm::Initials(_) | SearchTerm::IdTail(_) => {}
            }
            let (column, pattern) = term.column_and_pattern();
            sql.and(&format!("{column} LIKE"), Arg::Text(pattern)).push(sync_protocol::search::LIKE_ESCAPE);
        }
        let limit = q.limit.unwrap_or(1000).min(10_000);
        let sql = Sql {
            text: format!(
                "SELECT data::text FROM residents WHERE id IN ({} ORDER BY name LIMIT {limit}) ORDER BY name",
                sql.text
            ),
            args: sql.args,
        };
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn resident(&self, id: Uuid) -> Result<Option<(DocKey, Resident)>> {
        let row = sqlx_core::query::query("SELECT doc_key, data::text FROM residents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            let key: String = r.try_get(0).map_err(db_err)?;
            Ok((key.parse().map_err(db_err)?, json(&r, 1)?))
        })
        .transpose()
    }

    async fn houses(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<House>> {
        let mut sql = Sql::scoped("SELECT data::text FROM houses", scope, "grid");
        if let Some(g) = grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        sql.push(" ORDER BY address LIMIT 5000");
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn disputes(&self, scope: &Scope, q: &DisputeQuery) -> Result<Vec<(Uuid, Dispute)>> {
        let mut sql = Sql::scoped("SELECT grid, data::text FROM disputes", scope, "grid");
        dispute_filters(&mut sql, q);
        sql.push(" ORDER BY reported_at DESC LIMIT 2000");
        grid_json_rows(&sql.fetch_all(&self.pool).await?)
    }

    async fn dispute(&self, id: Uuid) -> Result<Option<(DocKey, Dispute)>> {
        let row = sqlx_core::query::query("SELECT doc_key, data::text FROM disputes WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            let key: String = r.try_get(0).map_err(db_err)?;
            Ok((key.parse().map_err(db_err)?, json(&r, 1)?))
        })
        .transpose()
    }

    async fn dispute_list(
        &self,
        scope: &Scope,
        list: DisputeList,
        viewer: Viewer,
        q: &DisputeQuery,
        limit: u32,
    ) -> Result<Vec<(Uuid, Dispute)>> {
        let mut sql = list_sql("grid, data::text", scope, Some(list), viewer, q);
        sql.push(&format!(" ORDER BY deadline NULLS LAST, reported_at DESC LIMIT {limit}"));
        grid_json_rows(&sql.fetch_all(&self.pool).await?)
    }

    async fn dispute_count(
        &self,
        scope: &Scope,
        list: Option<DisputeList>,
        viewer: Viewer,
        q: &DisputeQuery,
    ) -> Result<u64> {
        list_sql("COUNT(*)", scope, list, viewer, q).count(&self.pool).await
    }

    async fn deadlines_passed(&self, after: i64, until: i64, limit: u32) -> Result<Vec<(Uuid, Dispute)>> {
        let rows = sqlx_core::query::query(
            "SELECT grid, data::text FROM disputes WHERE open AND deadline >= $1 AND deadline < $2
             ORDER BY deadline LIMIT $3",
        )
        .bind(after)
        .bind(until)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        grid_json_rows(&rows)
    }

    async fn dispute_times(&self, scope: &Scope, from: i64, to: i64) -> Result<Vec<DisputeTimes>> {
        let mut sql = Sql::scoped(
            "SELECT d.grid, d.reported_by, d.discovered_at, d.reported_at, d.first_intervention_at, d.resolved_level,
                    n.village, n.township, a.name
             FROM disputes d LEFT JOIN nodes n ON n.id = d.grid LEFT JOIN accounts a ON a.id = d.reported_by",
            scope,
            "d.grid",
        );
        sql.and("d.reported_at >=", Arg::Int(from));
        sql.and("d.reported_at <", Arg::Int(to));
        sql.and("d.rule >=", Arg::Int(DISPUTE_RULE));
        let rows = sql.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let level: Option<String> = r.try_get(5).map_err(db_err)?;
                Ok(DisputeTimes {
                    grid: r.try_get(0).map_err(db_err)?,
                    reported_by: r.try_get::<Option<Uuid>, _>(1).map_err(db_err)?.unwrap_or_default(),
                    discovered_at: r.try_get(2).map_err(db_err)?,
                    reported_at: r.try_get(3).map_err(db_err)?,
                    first_intervention_at: r.try_get(4).map_err(db_err)?,
                    resolved_level: level.as_deref().and_then(Level::parse),
                    village: r.try_get(6).map_err(db_err)?,
                    township: r.try_get(7).map_err(db_err)?,
                    reporter_name: r.try_get(8).map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn stale_dispute_docs(&self, rule: i64, settings: u64) -> Result<Vec<DocKey>> {
        let keys: Vec<String> = sqlx_core::query_scalar::query_scalar(
            "SELECT DISTINCT doc_key FROM disputes WHERE rule < $1 OR settings < $2 OR settings > $2",
        )
        .bind(rule)
        .bind(settings as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(keys.into_iter().filter_map(|k| k.parse().ok()).collect())
    }

    async fn record_doc(&self, collection: Collection, id: Uuid) -> Result<Option<DocKey>> {
        // The table name comes from a closed enum, never from input.
        let key: Option<String> = sqlx_core::query_scalar::query_scalar(&format!(
            "SELECT doc_key FROM {} WHERE id = $1",
            collection.as_str()
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(key.and_then(|k| k.parse().ok()))
    }

    async fn conflicts(&self, scope: &Scope, grid: Option<Uuid>) -> Result<Vec<Conflict>> {
        let mut sql = Sql::scoped("SELECT data::text FROM conflicts", scope, "grid");
        if let Some(g) = grid {
            sql.and("grid =", Arg::Uuid(g));
        }
        sql.fetch_all(&self.pool).await?.iter().map(|r| json(r, 0)).collect()
    }

    async fn overview(&self, scope: &Scope, month_start_ms: i64) -> Result<Overview> {
        let p = &self.pool;
        let count = |select: &str, extra: &str| {
            let mut q = Sql::scoped(select, scope, "grid");
            q.push(extra);
            q
        };
        let mut grids = Sql::scoped("SELECT COUNT(*) FROM nodes", scope, "id");
        grids.push(" AND kind = 'grid'");
        let mut o = Overview {
            grids: grids.count(p).await?,
            open_conflicts: count("SELECT COUNT(*) FROM conflicts", "").count(p).await?,
            ..Default::default()
        };
        // Residents, houses, categories, this month's visits and disputes by level from the
        // per-grid counters the database keeps at every write.
        let month = format!("visits:{}", DocKey::month_of(month_start_ms));
        let mut sums: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        let mut q = count("SELECT what, SUM(n)::int8 FROM grid_counts", " AND (what IN ('residents', 'houses', ");
        q.arg(Arg::Text(month.clone()));
        q.push(") OR what LIKE 'cat:%' OR what LIKE 'open:%' OR what LIKE 'settled:%') GROUP BY what");
        for r in q.fetch_all(p).await? {
            sums.insert(r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?);
        }
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
    }

    async fn map_grids(
        &self,
        scope: &Scope,
        month_start_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<sync_protocol::api::MapGrid>> {
        let p = &self.pool;
        let mut q = Sql::scoped("SELECT grid, COUNT(*)::int8 FROM disputes", scope, "grid");
        q.and("open AND deadline <", Arg::Int(now_ms)).push(" GROUP BY grid");
        let mut overdue = std::collections::HashMap::new();
        for r in q.fetch_all(p).await? {
            overdue.insert(r.try_get::<Uuid, _>(0).map_err(db_err)?, r.try_get::<i64, _>(1).map_err(db_err)?);
        }
        // The month is a number, never request text: written into the statement.
        let month = format!("visits:{}", DocKey::month_of(month_start_ms));
        let select = format!(
            "SELECT n.id, n.name, n.township, n.village, n.boundary,
               SUM(CASE WHEN g.what = 'residents' THEN g.n ELSE 0 END)::int8,
               SUM(CASE WHEN g.what = 'houses' THEN g.n ELSE 0 END)::int8,
               SUM(CASE WHEN g.what = '{month}' THEN g.n ELSE 0 END)::int8,
               SUM(CASE WHEN g.what LIKE 'open:%' THEN g.n ELSE 0 END)::int8
             FROM nodes n LEFT JOIN grid_counts g ON g.grid = n.id
               AND (g.what IN ('residents', 'houses', '{month}') OR g.what LIKE 'open:%')"
        );
        let mut q = Sql::scoped(&select, scope, "n.id");
        q.push(" AND n.kind = 'grid' GROUP BY n.id ORDER BY n.name");
        let count = |r: &PgRow, i: usize| -> Result<u64> {
            Ok(r.try_get::<Option<i64>, _>(i).map_err(db_err)?.unwrap_or(0).max(0) as u64)
        };
        q.fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let id: Uuid = r.try_get(0).map_err(db_err)?;
                Ok(sync_protocol::api::MapGrid {
                    id,
                    name: r.try_get(1).map_err(db_err)?,
                    township: r.try_get(2).map_err(db_err)?,
                    village: r.try_get(3).map_err(db_err)?,
                    boundary: r.try_get(4).map_err(db_err)?,
                    residents: count(r, 5)?,
                    houses: count(r, 6)?,
                    visits_this_month: count(r, 7)?,
                    open_disputes: count(r, 8)?,
                    overdue: overdue.get(&id).copied().unwrap_or(0) as u64,
                })
            })
            .collect()
    }

    async fn stats(&self) -> Result<StorageStats> {
        let row = sqlx_core::query::query(
            "SELECT (SELECT COUNT(*) FROM changes), (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM residents),
                    (SELECT COUNT(*) FROM houses), (SELECT COUNT(*) FROM visits), (SELECT COUNT(*) FROM disputes),
                    (SELECT COUNT(*) FROM devices)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let n = |i: usize| -> Result<u64> { Ok(row.try_get::<i64, _>(i).map_err(db_err)? as u64) };
        Ok(StorageStats {
            changes: n(0)?,
            documents: n(1)?,
            residents: n(2)?,
            houses: n(3)?,
            visits: n(4)?,
            disputes: n(5)?,
            devices: n(6)?,
        })
    }
}
