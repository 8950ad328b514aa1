//! Bulk creation of a grid's records (the demo county, roster imports). Records
//! are validated with the same rules as a device's edits and written as ordinary changes in the
//! grid's log, so devices already holding the grid receive them like any other edit.
//!
//! [`prepare`] does the CPU work (validation, Automerge, query rows) without touching storage,
//! so callers can prepare several grids in parallel and commit them one by one.

use std::collections::BTreeMap;
use std::sync::Arc;

use automerge::Automerge;
use serde_json::{Map, Value};
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{CountySettings, Dispute, House, Record, Resident, Visit};
use sync_protocol::org::Author;
use sync_protocol::schema::Collection;
use uuid::Uuid;

use sync_protocol::Code;
use sync_protocol::pipeline::{self, Rows};

use crate::error::{Error, Result};
use crate::storage::{DocWrite, GridCommit, NewChange, Storage, StoredDoc};

#[derive(Debug, Clone, Default)]
pub struct GridRecords {
    pub residents: Vec<Resident>,
    pub houses: Vec<House>,
    pub visits: Vec<Visit>,
    pub disputes: Vec<Dispute>,
}

type Records = Vec<(Uuid, Map<String, Value>)>;

fn group(grid: Uuid, records: &GridRecords) -> BTreeMap<DocKey, Records> {
    let mut groups: BTreeMap<DocKey, Records> = BTreeMap::new();
    let mut add = |key: DocKey, id: Uuid, fields: Map<String, Value>| groups.entry(key).or_default().push((id, fields));
    for r in &records.residents {
        add(DocKey::new(grid, Collection::Residents), r.id, r.to_fields());
    }
    for h in &records.houses {
        add(DocKey::new(grid, Collection::Houses), h.id, h.to_fields());
    }
    for v in &records.visits {
        add(DocKey::visits(grid, DocKey::month_of(v.at)), v.id, v.to_fields());
    }
    for d in &records.disputes {
        add(DocKey::new(grid, Collection::Disputes), d.id, d.to_fields());
    }
    groups
}

/// The documents an import of `records` into `grid` will write.
pub fn doc_keys(grid: Uuid, records: &GridRecords) -> Vec<DocKey> {
    group(grid, records).into_keys().collect()
}

/// Builds the commit for an import: one change per document, on top of the stored documents
/// (`stored` must hold every existing document among [`doc_keys`]); disputes' rows are derived
/// under `settings`.
pub fn prepare(
    grid: Uuid,
    author: &Author,
    records: &GridRecords,
    time_ms: i64,
    stored: &[StoredDoc],
    settings: Arc<CountySettings>,
) -> Result<GridCommit> {
    let mut commit = GridCommit { grid, docs: Vec::new(), changes: Vec::new(), rows: Rows::default(), settings };
    for (key, recs) in group(grid, records) {
        let (mut d, version) = match stored.iter().find(|s| s.key == key) {
            Some(s) => (Automerge::load(&s.bytes).map_err(Error::internal)?, Some(s.version)),
            None => (Automerge::new(), None),
        };
        let t0 = std::time::Instant::now();
        let change = doc::bulk_create(&d, doc::actor_for(author.device, 0), key.collection, &recs, author, time_ms)
            .map_err(|e| Error::bad(Code::InvalidRecord, e.to_string()))?;
        let Some(change) = change else { continue };
        let t1 = std::time::Instant::now();
        d.apply_changes([change.clone()]).map_err(Error::internal)?;
        let t2 = std::time::Instant::now();
        let ids: Vec<Uuid> = recs.iter().map(|(id, _)| *id).collect();
        pipeline::project(&d, key, &ids, &mut commit.rows);
        let t3 = std::time::Instant::now();
        let bytes = d.save();
        tracing::debug!(doc = %key, records = ids.len(), make_ms = (t1 - t0).as_millis(), apply_ms = (t2 - t1).as_millis(),
            rows_ms = (t3 - t2).as_millis(), save_ms = t3.elapsed().as_millis(), bytes = bytes.len(), "import prepared");
        commit.changes.push(NewChange {
            doc: key,
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
            device: author.device,
            account: author.account,
        });
        commit.docs.push(DocWrite::full(key, version, bytes));
    }
    super::sync::log_unreadable(&commit.rows);
    Ok(commit)
}

/// Writes a grid's records in one commit: one change per document. Returns the grid's new
/// log position.
pub async fn import_grid(
    storage: &dyn Storage,
    grid: Uuid,
    author: &Author,
    records: &GridRecords,
    time_ms: i64,
) -> Result<u64> {
    let stored = storage.load_docs(&doc_keys(grid, records)).await?;
    let settings = Arc::new(storage.settings().await?);
    let commit = prepare(grid, author, records, time_ms, &stored, settings)?;
    Ok(storage.commit(commit).await?)
}
