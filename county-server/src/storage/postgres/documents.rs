//! PostgreSQL: Documents, the per-grid change log, atomic grid commits and catch-ups.

use async_trait::async_trait;
use sqlx_core::row::Row;
use sqlx_core::transaction::Transaction;
use sqlx_postgres::Postgres;
use sync_protocol::doc::{Conflict, DocKey};
use sync_protocol::model::Visit;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Documents for PostgresStorage {
    async fn load_docs(&self, keys: &[DocKey]) -> Result<Vec<StoredDoc>> {
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let rows =
            sqlx_core::query::query(WHOLE_DOCS_BY_KEY).bind(&names).fetch_all(&self.pool).await.map_err(db_err)?;
        let mut found: std::collections::HashMap<String, (Vec<u8>, i64)> = rows
            .into_iter()
            .map(|r| {
                Ok((r.try_get(0).map_err(db_err)?, (r.try_get(1).map_err(db_err)?, r.try_get(2).map_err(db_err)?)))
            })
            .collect::<Result<_>>()?;
        // In the order asked for, like the SQLite backend.
        Ok(keys
            .iter()
            .zip(names)
            .filter_map(|(key, name)| {
                found.remove(&name).map(|(bytes, version)| StoredDoc { key: *key, bytes, version: version as u64 })
            })
            .collect())
    }

    async fn doc_versions(&self, keys: &[DocKey]) -> Result<Vec<(DocKey, u64)>> {
        let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let rows = sqlx_core::query::query("SELECT doc_key, version FROM documents WHERE doc_key = ANY($1)")
            .bind(&names)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let found: std::collections::HashMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
            .collect::<Result<_>>()?;
        Ok(keys.iter().zip(&names).filter_map(|(k, n)| found.get(n).map(|v| (*k, *v as u64))).collect())
    }

    async fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>> {
        let list: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
        let rows: Vec<Vec<u8>> = sqlx_core::query_scalar::query_scalar("SELECT hash FROM changes WHERE hash = ANY($1)")
            .bind(&list)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let known: std::collections::HashSet<Vec<u8>> = rows.into_iter().collect();
        Ok(list.iter().map(|h| known.contains(h)).collect())
    }

    async fn commit(&self, commit: GridCommit) -> Result<u64> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.begin().await?;
        // The grid's row is the lock every writer to this grid takes, on every server. It exists
        // after the grid's first commit, so one round trip usually takes it.
        let mut seq = match lock_grid(&mut tx, commit.grid).await? {
            Some(seq) => seq,
            None => {
                sqlx_core::query::query(
                    "INSERT INTO grid_log (grid, seq) VALUES ($1, 0) ON CONFLICT (grid) DO NOTHING",
                )
                .bind(commit.grid)
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                lock_grid(&mut tx, commit.grid).await?.ok_or_else(|| db_err("grid log row missing"))?
            }
        };
        if !commit.docs.is_empty() {
            let names: Vec<String> = commit.docs.iter().map(|d| d.key.to_string()).collect();
            if let Some(d) = commit.docs.iter().find(|d| d.key.grid != commit.grid) {
                return Err(StorageError::Contention(d.key.to_string()));
            }
            // Appends compare their version in the statement that writes them (below). Whole
            // documents (imports, every 32nd version) are compared first, read after the lock in a
            // statement of its own: under READ COMMITTED it sees every commit that held the lock
            // before this one (a join in the locking statement would not re-read the documents
            // after waiting).
            if commit.docs.iter().any(|d| !d.append) {
                let current: std::collections::HashMap<String, i64> =
                    sqlx_core::query::query("SELECT doc_key, version FROM documents WHERE doc_key = ANY($1)")
                        .bind(&names)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
                        .collect::<Result<_>>()?;
                for (doc, name) in commit.docs.iter().zip(&names) {
                    if current.get(name).map(|v| *v as u64) != doc.expected {
                        return Err(StorageError::Contention(name.clone()));
                    }
                }
            }
            let (appends, full): (Vec<_>, Vec<_>) = commit.docs.iter().zip(&names).partition(|(d, _)| d.append);
            if !full.is_empty() {
                sqlx_core::query::query(
                    "INSERT INTO documents (doc_key, grid, bytes, version)
                     SELECT doc_key, $1, bytes, version FROM UNNEST($2::text[], $3::bytea[], $4::int8[]) AS t(doc_key, bytes, version)
                     ON CONFLICT (doc_key) DO UPDATE SET bytes = excluded.bytes, version = excluded.version",
                )
                .bind(commit.grid)
                .bind(full.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
                .bind(full.iter().map(|(d, _)| d.bytes.as_slice()).collect::<Vec<_>>())
                .bind(full.iter().map(|(d, _)| d.version as i64).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                sqlx_core::query::query("DELETE FROM doc_tail WHERE doc_key = ANY($1)")
                    .bind(full.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await
                    .map_err(write_err)?;
            }
            for (d, name) in appends {
                // The saved bytes stay (an update that leaves them alone keeps their TOAST value)
                // and the new changes go into a row of their own, only if the version is still the
                // one the writer read; otherwise nothing is written and the sync retries.
                let written = sqlx_core::query::query(
                    "WITH v AS (UPDATE documents SET version = $3 WHERE doc_key = $1 AND version = $4 RETURNING 1)
                     INSERT INTO doc_tail (doc_key, version, bytes) SELECT $1, $3, $2 FROM v",
                )
                .bind(name)
                .bind(d.bytes.as_slice())
                .bind(d.version as i64)
                .bind(d.expected.map(|v| v as i64))
                .execute(&mut *tx)
                .await
                .map_err(write_err)?;
                if written.rows_affected() != 1 {
                    return Err(StorageError::Contention(name.clone()));
                }
            }
        }
        if !commit.changes.is_empty() {
            let first = seq + 1;
            seq += commit.changes.len() as i64;
            let c = &commit.changes;
            sqlx_core::query::query(
                "WITH advanced AS (UPDATE grid_log SET seq = $9 WHERE grid = $1)
                 INSERT INTO changes (hash, grid, seq, doc_key, bytes, device, account, received_at)
                 SELECT hash, $1, seq, doc_key, bytes, device, account, $2
                 FROM UNNEST($3::bytea[], $4::int8[], $5::text[], $6::bytea[], $7::uuid[], $8::uuid[])
                   AS t(hash, seq, doc_key, bytes, device, account)",
            )
            .bind(commit.grid)
            .bind(now)
            .bind(c.iter().map(|x| &x.hash[..]).collect::<Vec<_>>())
            .bind((first..=seq).collect::<Vec<i64>>())
            .bind(c.iter().map(|x| x.doc.to_string()).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.bytes.as_slice()).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.device).collect::<Vec<_>>())
            .bind(c.iter().map(|x| x.account).collect::<Vec<_>>())
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(write_err)?;
        }
        write_rows(&mut tx, commit.grid, &commit.rows, &commit.settings).await?;
        tx.commit().await.map_err(write_err)?;
        Ok(seq as u64)
    }

    async fn grid_seq(&self, grid: Uuid) -> Result<u64> {
        let seq: Option<i64> = sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1")
            .bind(grid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(seq.unwrap_or(0) as u64)
    }

    async fn catch_up(
        &self,
        grid: Uuid,
        collections: &[Collection],
        after: u64,
        device: Uuid,
        max_bytes: usize,
    ) -> Result<CatchUp> {
        // A document's key is `grid/collection[/month]`; documents and changes of other
        // collections are passed over without sending their bytes.
        let names: Vec<&str> = collections.iter().map(|c| c.as_str()).collect();
        if after == 0 {
            // A snapshot: the documents and the position they stand at, from one snapshot.
            let mut tx =
                self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await.map_err(db_err)?;
            let seq: Option<i64> = sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1")
                .bind(grid)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            let rows = sqlx_core::query::query(WHOLE_DOCS_OF_GRID)
                .bind(grid)
                .bind(&names)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
            let mut docs = Vec::with_capacity(rows.len());
            for r in rows {
                let key: String = r.try_get(0).map_err(db_err)?;
                let version: i64 = r.try_get(2).map_err(db_err)?;
                docs.push(StoredDoc {
                    key: key.parse().map_err(db_err)?,
                    bytes: r.try_get(1).map_err(db_err)?,
                    version: version as u64,
                });
            }
            return Ok(CatchUp::Snapshot { seq: seq.unwrap_or(0) as u64, docs });
        }
        // One statement reads the grid's position and the first page of the log after the
        // device's, from one snapshot: a sync with nothing new, or with the night's few changes,
        // is one round trip. Changes at or below that position are committed and never change,
        // so further pages (bounded by it) need no transaction. A device's own changes are
        // skipped without reading their bytes.
        const PAGE: i64 = 500;
        let mut rows = sqlx_core::query::query(
            "SELECT g.seq, c.seq, c.doc_key,
                    CASE WHEN c.device = $3 OR split_part(c.doc_key, '/', 2) <> ALL($5) THEN NULL ELSE c.bytes END
             FROM grid_log g LEFT JOIN LATERAL (
                 SELECT seq, doc_key, device, bytes FROM changes
                 WHERE grid = g.grid AND seq > $2 AND seq <= g.seq ORDER BY seq LIMIT $4
             ) c ON true
             WHERE g.grid = $1 ORDER BY c.seq",
        )
        .bind(grid)
        .bind(after as i64)
        .bind(device)
        .bind(PAGE)
        .bind(&names)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(top) = rows.first().map(|r| r.try_get::<i64, _>(0)).transpose().map_err(db_err)? else {
            return Ok(CatchUp::Changes { seq: 0, changes: vec![], more: false });
        };
        if after >= top as u64 {
            return Ok(CatchUp::Changes { seq: top as u64, changes: vec![], more: false });
        }
        let (mut out, mut size, mut last) = (Vec::new(), 0usize, after);
        loop {
            let n = rows.len();
            for r in rows {
                let Some(s) = r.try_get::<Option<i64>, _>(1).map_err(db_err)? else { continue };
                let bytes: Option<Vec<u8>> = r.try_get(3).map_err(db_err)?;
                if let Some(bytes) = bytes {
                    if size >= max_bytes && !out.is_empty() {
                        return Ok(CatchUp::Changes { seq: last, changes: out, more: true });
                    }
                    let key: String = r.try_get(2).map_err(db_err)?;
                    size += bytes.len();
                    out.push(LogChange { seq: s as u64, doc: key.parse().map_err(db_err)?, bytes });
                }
                last = s as u64;
            }
            if (n as i64) < PAGE || last >= top as u64 {
                break;
            }
            rows = sqlx_core::query::query(
                "SELECT $5::int8, seq, doc_key,
                        CASE WHEN device = $3 OR split_part(doc_key, '/', 2) <> ALL($6) THEN NULL ELSE bytes END
                 FROM changes WHERE grid = $1 AND seq > $2 AND seq <= $5 ORDER BY seq LIMIT $4",
            )
            .bind(grid)
            .bind(last as i64)
            .bind(device)
            .bind(PAGE)
            .bind(top)
            .bind(&names)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        }
        Ok(CatchUp::Changes { seq: last.max(after), changes: out, more: false })
    }
}

/// Locks a grid's log row for the rest of the transaction and reads its sequence number.
async fn lock_grid(tx: &mut Transaction<'static, Postgres>, grid: Uuid) -> Result<Option<i64>> {
    sqlx_core::query_scalar::query_scalar("SELECT seq FROM grid_log WHERE grid = $1 FOR UPDATE")
        .bind(grid)
        .fetch_optional(&mut **tx)
        .await
        .map_err(write_err)
}

async fn write_rows(
    tx: &mut Transaction<'static, Postgres>,
    grid: Uuid,
    rows: &Rows,
    settings: &CountySettings,
) -> Result<()> {
    // The touched records' conflicts are cleared (and the current ones written below); with
    // residents, in the same statement, one round trip less for most syncs.
    let records: Vec<Uuid> = rows.conflicts.iter().map(|(_, r, _)| *r).collect();
    let cleared_with_residents = !rows.residents.is_empty();
    if !rows.residents.is_empty() {
        let r = &rows.residents;
        sqlx_core::query::query(
            "WITH cleared AS (DELETE FROM conflicts WHERE grid = $1 AND record = ANY($11))
             INSERT INTO residents (id, grid, doc_key, name, initials, id_tail, categories, house_id, archived, data)
             SELECT id, $1, doc_key, name, initials, id_tail, string_to_array(categories, ','), house_id, archived, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::bool[], $10::text[])
               AS t(id, doc_key, name, initials, id_tail, categories, house_id, archived, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, name = excluded.name,
               initials = excluded.initials, id_tail = excluded.id_tail, categories = excluded.categories,
               house_id = excluded.house_id, archived = excluded.archived, data = excluded.data
             WHERE residents.grid = excluded.grid",
        )
        .bind(grid)
        .bind(r.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(r.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.name.clone()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| sync_protocol::pinyin::initials(&x.name)).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| sync_protocol::search::id_tail(x.id_number.as_deref())).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.categories.join(",")).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.house_id).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| x.is_archived()).collect::<Vec<_>>())
        .bind(r.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .bind(&records)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.houses.is_empty() {
        let h = &rows.houses;
        sqlx_core::query::query(
            "INSERT INTO houses (id, grid, doc_key, address, rented, archived, data)
             SELECT id, $1, doc_key, address, rented, archived, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::bool[], $6::bool[], $7::text[])
               AS t(id, doc_key, address, rented, archived, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key,
               address = excluded.address, rented = excluded.rented, archived = excluded.archived, data = excluded.data
             WHERE houses.grid = excluded.grid",
        )
        .bind(grid)
        .bind(h.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(h.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.address()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.rented.unwrap_or(false)).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| x.archived_reason.is_some()).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.visits.is_empty() {
        let v = &rows.visits;
        let attention = |x: &Visit| {
            let c = &x.clears;
            [&c.household, &c.population, &c.hazards, &c.needs, &c.attitude]
                .iter()
                .filter(|i| i.status == "attention")
                .count() as i32
        };
        sqlx_core::query::query(
            "INSERT INTO visits (id, grid, doc_key, house_id, at, by_account, attention, data)
             SELECT id, $1, doc_key, house_id, at, by_account, attention, data::jsonb
             FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::int8[], $6::uuid[], $7::int4[], $8::text[])
               AS t(id, doc_key, house_id, at, by_account, attention, data)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key,
               house_id = excluded.house_id, at = excluded.at, by_account = excluded.by_account,
               attention = excluded.attention, data = excluded.data
             WHERE visits.grid = excluded.grid",
        )
        .bind(grid)
        .bind(v.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(v.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.house_id).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.at).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| x.by).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| attention(x)).collect::<Vec<_>>())
        .bind(v.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.disputes.is_empty() {
        let d = &rows.disputes;
        let cols: Vec<DisputeColumns> = d.iter().map(|(_, x)| DisputeColumns::of(x, &settings.time_limits)).collect();
        sqlx_core::query::query(
            "INSERT INTO disputes (id, grid, doc_key, class, category, status, level, resolved_level, open,
                                   discovered_at, reported_at, data, accepted, supervised, deadline, waiting_level,
                                   waiting_account, rule, reported_by, first_intervention_at, waiting_node, settings)
             SELECT id, $1, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at,
                    data::jsonb, accepted, supervised, deadline, waiting_level, waiting_account, $18, reported_by,
                    first_intervention_at, waiting_node, $22
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bool[], $10::int8[], $11::int8[], $12::text[], $13::bool[], $14::bool[], $15::int8[],
                         $16::text[], $17::uuid[], $19::uuid[], $20::int8[], $21::uuid[])
               AS t(id, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at, data,
                    accepted, supervised, deadline, waiting_level, waiting_account, reported_by, first_intervention_at,
                    waiting_node)
             ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, class = excluded.class,
               category = excluded.category, status = excluded.status, level = excluded.level,
               resolved_level = excluded.resolved_level, open = excluded.open,
               discovered_at = excluded.discovered_at, reported_at = excluded.reported_at, data = excluded.data,
               accepted = excluded.accepted, supervised = excluded.supervised, deadline = excluded.deadline,
               waiting_level = excluded.waiting_level, waiting_account = excluded.waiting_account, rule = excluded.rule,
               reported_by = excluded.reported_by, first_intervention_at = excluded.first_intervention_at,
               waiting_node = excluded.waiting_node, settings = excluded.settings
             WHERE disputes.grid = excluded.grid",
        )
        .bind(grid)
        .bind(d.iter().map(|(_, x)| x.id).collect::<Vec<_>>())
        .bind(d.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.class.clone()).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.category.clone()).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.status.to_string()).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.level.to_string()).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.resolved_level.map(str::to_string)).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.open).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.discovered_at).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| x.reported_at).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, x)| serde_json::to_string(x).unwrap_or_default()).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.accepted).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.supervised).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.deadline).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.waiting_level.map(str::to_string)).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.waiting_account).collect::<Vec<_>>())
        .bind(DISPUTE_RULE)
        .bind(d.iter().map(|(_, x)| x.reported_by).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.first_intervention_at).collect::<Vec<_>>())
        .bind(cols.iter().map(|s| s.waiting_node).collect::<Vec<_>>())
        .bind(settings.version as i64)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if !rows.conflicts.is_empty() {
        if !cleared_with_residents {
            sqlx_core::query::query("DELETE FROM conflicts WHERE record = ANY($1) AND grid = $2")
                .bind(&records)
                .bind(grid)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
        }
        let all: Vec<(&DocKey, Uuid, &Conflict)> =
            rows.conflicts.iter().flat_map(|(k, r, list)| list.iter().map(move |c| (k, *r, c))).collect();
        if !all.is_empty() {
            sqlx_core::query::query(
                "INSERT INTO conflicts (record, field, grid, doc_key, data)
                 SELECT record, field, $1, doc_key, data::jsonb
                 FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[]) AS t(record, field, doc_key, data)
                 ON CONFLICT (grid, record, field) DO UPDATE SET doc_key = excluded.doc_key, data = excluded.data",
            )
            .bind(grid)
            .bind(all.iter().map(|(_, r, _)| *r).collect::<Vec<_>>())
            .bind(all.iter().map(|(_, _, c)| c.field.clone()).collect::<Vec<_>>())
            .bind(all.iter().map(|(k, _, _)| k.to_string()).collect::<Vec<_>>())
            .bind(all.iter().map(|(_, _, c)| serde_json::to_string(c).unwrap_or_default()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}
