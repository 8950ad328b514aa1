//! SQLite: Documents, the per-grid change log, atomic grid commits and catch-ups.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sync_protocol::doc::DocKey;
use uuid::Uuid;

use super::*;

#[async_trait]
impl Documents for SqliteStorage {
    async fn load_docs(&self, keys: &[DocKey]) -> Result<Vec<StoredDoc>> {
        let keys = keys.to_vec();
        self.read(move |c| {
            // One read transaction: the saved bytes and their tail from the same commit.
            let tx = c.transaction().map_err(db_err)?;
            let mut st =
                tx.prepare_cached("SELECT bytes, version FROM documents WHERE doc_key = ?1").map_err(db_err)?;
            let mut out = Vec::new();
            for key in keys {
                let k = key.to_string();
                if let Some((mut bytes, version)) = st
                    .query_row([&k], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
                    .optional()
                    .map_err(db_err)?
                {
                    append_tail(&tx, &k, &mut bytes).map_err(db_err)?;
                    out.push(StoredDoc { key, bytes, version: version as u64 });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn doc_versions(&self, keys: &[DocKey]) -> Result<Vec<(DocKey, u64)>> {
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT version FROM documents WHERE doc_key = ?1").map_err(db_err)?;
            let mut out = Vec::new();
            for key in keys {
                if let Some(v) = st.query_row([key.to_string()], |r| r.get::<_, i64>(0)).optional().map_err(db_err)? {
                    out.push((key, v as u64));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>> {
        let hashes = hashes.to_vec();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT 1 FROM changes WHERE hash = ?1").map_err(db_err)?;
            hashes.iter().map(|h| st.exists([&h[..]]).map_err(db_err)).collect()
        })
        .await
    }

    async fn commit(&self, commit: GridCommit) -> Result<u64> {
        // Group commit: the request joins the queue; whoever holds the connection next writes
        // everything queued in one transaction (one fsync), each commit in its own savepoint so
        // one that loses (contention) takes nothing else with it. Answers go out only after
        // the transaction is durable.
        let (done, answer) = tokio::sync::oneshot::channel();
        self.queue.lock().map_err(|_| StorageError::Database("commit queue poisoned".into()))?.push((commit, done));
        let queue = self.queue.clone();
        self.run(move |c| {
            let batch =
                std::mem::take(&mut *queue.lock().map_err(|_| StorageError::Database("commit queue poisoned".into()))?);
            if !batch.is_empty() {
                commit_batch(c, batch);
            }
            Ok(())
        })
        .await?;
        answer.await.map_err(|_| StorageError::Database("commit abandoned".into()))?
    }

    async fn grid_seq(&self, grid: Uuid) -> Result<u64> {
        self.read(move |c| {
            let s: Option<i64> = c
                .query_row("SELECT seq FROM grid_log WHERE grid = ?1", [grid.to_string()], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            Ok(s.unwrap_or(0) as u64)
        })
        .await
    }

    async fn catch_up(
        &self,
        grid: Uuid,
        collections: &[Collection],
        after: u64,
        device: Uuid,
        max_bytes: usize,
    ) -> Result<CatchUp> {
        let collections = collections.to_vec();
        self.read(move |c| {
            let g = grid.to_string();
            // A document's key names its collection; others are passed over before their bytes
            // are read (SQLite reads a column's value only when it is asked for).
            let wanted = |key: &DocKey| collections.contains(&key.collection);
            let tx = c.transaction().map_err(db_err)?;
            let seq: u64 = tx
                .query_row("SELECT seq FROM grid_log WHERE grid = ?1", [&g], |r| r.get::<_, i64>(0))
                .optional()
                .map_err(db_err)?
                .unwrap_or(0) as u64;
            if after == 0 {
                let mut st = tx
                    .prepare_cached("SELECT doc_key, bytes, version FROM documents WHERE grid = ?1 ORDER BY doc_key")
                    .map_err(db_err)?;
                let mut stored = Vec::new();
                let mut rows = st.query([&g]).map_err(db_err)?;
                while let Some(r) = rows.next().map_err(db_err)? {
                    let k: String = r.get(0).map_err(db_err)?;
                    let key: DocKey = k.parse().map_err(db_err)?;
                    if wanted(&key) {
                        stored.push((
                            k,
                            key,
                            r.get::<_, Vec<u8>>(1).map_err(db_err)?,
                            r.get::<_, i64>(2).map_err(db_err)?,
                        ));
                    }
                }
                drop(rows);
                let mut docs = Vec::with_capacity(stored.len());
                for (k, key, mut bytes, v) in stored {
                    append_tail(&tx, &k, &mut bytes).map_err(db_err)?;
                    docs.push(StoredDoc { key, bytes, version: v as u64 });
                }
                return Ok(CatchUp::Snapshot { seq, docs });
            }
            if after >= seq {
                return Ok(CatchUp::Changes { seq, changes: vec![], more: false });
            }
            let mut st = tx
                .prepare_cached(
                    "SELECT seq, doc_key, bytes, device FROM changes WHERE grid = ?1 AND seq > ?2 ORDER BY seq",
                )
                .map_err(db_err)?;
            let mut rows = st.query(params![g, after as i64]).map_err(db_err)?;
            let me = device.to_string();
            let (mut out, mut size, mut last) = (Vec::new(), 0usize, after);
            while let Some(r) = rows.next().map_err(db_err)? {
                let s = r.get::<_, i64>(0).map_err(db_err)? as u64;
                let from: String = r.get(3).map_err(db_err)?;
                let key: DocKey = r.get::<_, String>(1).map_err(db_err)?.parse().map_err(db_err)?;
                if from != me && wanted(&key) {
                    if size >= max_bytes && !out.is_empty() {
                        return Ok(CatchUp::Changes { seq: last, changes: out, more: true });
                    }
                    let bytes: Vec<u8> = r.get(2).map_err(db_err)?;
                    size += bytes.len();
                    out.push(LogChange { seq: s, doc: key, bytes });
                }
                last = s;
            }
            Ok(CatchUp::Changes { seq: last.max(after), changes: out, more: false })
        })
        .await
    }
}

/// Writes a batch of grid commits in one transaction, each in a savepoint.
fn commit_batch(c: &mut Connection, batch: Vec<Queued>) {
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = match c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for (_, done) in batch {
                let _ = done.send(Err(db_err(&e)));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (commit, done) in batch {
        let outcome = match tx.savepoint() {
            Ok(mut sp) => {
                sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                match commit_one(&sp, &commit, now) {
                    Ok(seq) => sp.commit().map(|_| seq).map_err(db_err),
                    Err(e) => Err(e), // dropped: rolled back to the savepoint
                }
            }
            Err(e) => Err(db_err(e)),
        };
        results.push((done, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (done, outcome) in results {
                let _ = done.send(outcome);
            }
        }
        Err(e) => {
            for (done, _) in results {
                let _ = done.send(Err(db_err(&e)));
            }
        }
    }
}

/// One grid commit inside a batch's transaction.
fn commit_one(tx: &Connection, commit: &GridCommit, now: i64) -> Result<u64> {
    let grid = commit.grid.to_string();
    for doc in &commit.docs {
        let key = doc.key.to_string();
        let current: Option<i64> = tx
            .prepare_cached("SELECT version FROM documents WHERE doc_key = ?1")
            .and_then(|mut st| st.query_row([&key], |r| r.get(0)).optional())
            .map_err(db_err)?;
        if current.map(|v| v as u64) != doc.expected || (doc.append && current.is_none()) {
            return Err(StorageError::Contention(key));
        }
        if doc.append {
            // The saved bytes stay as they are (an update of the same size is written in
            // place); the new changes go into a small row of their own.
            tx.prepare_cached("UPDATE documents SET version = ?2 WHERE doc_key = ?1")
                .and_then(|mut st| st.execute(params![key, doc.version as i64]))
                .map_err(db_err)?;
            tx.prepare_cached("INSERT INTO doc_tail (doc_key, version, bytes) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| st.execute(params![key, doc.version as i64, doc.bytes]))
                .map_err(db_err)?;
        } else {
            tx.prepare_cached(
                "INSERT INTO documents (doc_key, grid, bytes, version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (doc_key) DO UPDATE SET bytes = excluded.bytes, version = excluded.version",
            )
            .and_then(|mut st| st.execute(params![key, grid, doc.bytes, doc.version as i64]))
            .map_err(db_err)?;
            tx.prepare_cached("DELETE FROM doc_tail WHERE doc_key = ?1")
                .and_then(|mut st| st.execute([&key]))
                .map_err(db_err)?;
        }
    }
    let mut seq: i64 = tx
        .prepare_cached("SELECT seq FROM grid_log WHERE grid = ?1")
        .and_then(|mut st| st.query_row([&grid], |r| r.get(0)).optional())
        .map_err(db_err)?
        .unwrap_or(0);
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO changes (hash, grid, seq, doc_key, bytes, device, account, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db_err)?;
        for ch in &commit.changes {
            seq += 1;
            st.execute(params![
                &ch.hash[..],
                grid,
                seq,
                ch.doc.to_string(),
                ch.bytes,
                ch.device.to_string(),
                ch.account.to_string(),
                now
            ])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StorageError::Contention("change already stored".into())
                }
                e => db_err(e),
            })?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO grid_log (grid, seq) VALUES (?1, ?2) ON CONFLICT (grid) DO UPDATE SET seq = excluded.seq",
    )
    .and_then(|mut st| st.execute(params![grid, seq]))
    .map_err(db_err)?;
    write_rows(tx, &grid, &commit.rows, &commit.settings).map_err(db_err)?;
    Ok(seq as u64)
}

/// Appends a document's tail (the changes stored since its last full save) to its saved bytes.
fn append_tail(c: &Connection, key: &str, bytes: &mut Vec<u8>) -> rusqlite::Result<()> {
    let mut st = c.prepare_cached("SELECT bytes FROM doc_tail WHERE doc_key = ?1 ORDER BY version")?;
    let mut rows = st.query([key])?;
    while let Some(r) = rows.next()? {
        bytes.extend_from_slice(r.get_ref(0)?.as_blob()?);
    }
    Ok(())
}

fn write_rows(tx: &Connection, grid: &str, rows: &Rows, settings: &CountySettings) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO residents (id, grid, doc_key, name, initials, id_tail, categories, house_id, archived, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, name = excluded.name, initials = excluded.initials, id_tail = excluded.id_tail, categories = excluded.categories, house_id = excluded.house_id, archived = excluded.archived, data = excluded.data
         WHERE residents.grid = excluded.grid",
    )?;
    for (key, r) in &rows.residents {
        let tail = sync_protocol::search::id_tail(r.id_number.as_deref());
        st.execute(params![
            r.id.to_string(),
            grid,
            key.to_string(),
            r.name,
            sync_protocol::pinyin::initials(&r.name),
            tail,
            format!(",{},", r.categories.join(",")),
            r.house_id.map(|h| h.to_string()),
            r.is_archived(),
            serde_json::to_string(r).unwrap_or_default(),
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO houses (id, grid, doc_key, address, rented, archived, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, address = excluded.address, rented = excluded.rented, archived = excluded.archived, data = excluded.data
         WHERE houses.grid = excluded.grid",
    )?;
    for (key, h) in &rows.houses {
        st.execute(params![
            h.id.to_string(),
            grid,
            key.to_string(),
            h.address(),
            h.rented.unwrap_or(false),
            h.archived_reason.is_some(),
            serde_json::to_string(h).unwrap_or_default()
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO visits (id, grid, doc_key, house_id, at, by_account, attention, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, house_id = excluded.house_id, at = excluded.at, by_account = excluded.by_account, attention = excluded.attention, data = excluded.data
         WHERE visits.grid = excluded.grid",
    )?;
    for (key, v) in &rows.visits {
        let c = &v.clears;
        let attention = [&c.household, &c.population, &c.hazards, &c.needs, &c.attitude]
            .iter()
            .filter(|i| i.status == "attention")
            .count();
        st.execute(params![
            v.id.to_string(),
            grid,
            key.to_string(),
            v.house_id.to_string(),
            v.at,
            v.by.to_string(),
            attention as i64,
            serde_json::to_string(v).unwrap_or_default()
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO disputes (id, grid, doc_key, class, category, status, level, resolved_level, open, discovered_at, reported_at, data,
                               accepted, supervised, deadline, waiting_level, waiting_account, rule, reported_by, first_intervention_at,
                               waiting_node, settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
         ON CONFLICT (id) DO UPDATE SET doc_key = excluded.doc_key, class = excluded.class, category = excluded.category, status = excluded.status, level = excluded.level, resolved_level = excluded.resolved_level, open = excluded.open, discovered_at = excluded.discovered_at, reported_at = excluded.reported_at, data = excluded.data,
           accepted = excluded.accepted, supervised = excluded.supervised, deadline = excluded.deadline, waiting_level = excluded.waiting_level, waiting_account = excluded.waiting_account, rule = excluded.rule,
           reported_by = excluded.reported_by, first_intervention_at = excluded.first_intervention_at,
           waiting_node = excluded.waiting_node, settings = excluded.settings
         WHERE disputes.grid = excluded.grid",
    )?;
    for (key, d) in &rows.disputes {
        let s = DisputeColumns::of(d, &settings.time_limits);
        st.execute(params![
            d.id.to_string(),
            grid,
            key.to_string(),
            d.class,
            d.category,
            s.status,
            s.level,
            s.resolved_level,
            s.open,
            d.discovered_at,
            d.reported_at,
            serde_json::to_string(d).unwrap_or_default(),
            s.accepted,
            s.supervised,
            s.deadline,
            s.waiting_level,
            s.waiting_account.map(|a| a.to_string()),
            DISPUTE_RULE,
            d.reported_by.to_string(),
            s.first_intervention_at,
            s.waiting_node.map(|n| n.to_string()),
            settings.version as i64,
        ])?;
    }
    let mut del = tx.prepare_cached("DELETE FROM conflicts WHERE record = ?1 AND grid = ?2")?;
    let mut ins =
        tx.prepare_cached("INSERT INTO conflicts (record, field, grid, doc_key, data) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (key, record, list) in &rows.conflicts {
        del.execute(params![record.to_string(), grid])?;
        for c in list {
            ins.execute(params![
                record.to_string(),
                c.field,
                grid,
                key.to_string(),
                serde_json::to_string(c).unwrap_or_default()
            ])?;
        }
    }
    Ok(())
}
