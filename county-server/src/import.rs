//! Bulk creation of a grid's records (the demo county; later CSV and Excel imports). Records
//! are validated with the same rules as a device's edits and written as ordinary changes in the
//! grid's log, so devices already holding the grid receive them like any other edit.

use std::collections::BTreeMap;

use automerge::Automerge;
use serde_json::{Map, Value};
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::{Dispute, House, Record, Resident, Visit};
use sync_protocol::org::Author;
use sync_protocol::schema::Collection;
use uuid::Uuid;

use crate::error::ApiError;
use crate::storage::{GridCommit, NewChange, Rows, Storage, StoredDoc};

#[derive(Debug, Clone, Default)]
pub struct GridRecords {
    pub residents: Vec<Resident>,
    pub houses: Vec<House>,
    pub visits: Vec<Visit>,
    pub disputes: Vec<Dispute>,
}

fn fields<R: Record>(r: &R) -> Map<String, Value> {
    r.to_fields()
}

/// Writes a grid's records in one commit: one change per document.
pub async fn import_grid(
    storage: &dyn Storage,
    grid: Uuid,
    author: &Author,
    records: &GridRecords,
    time_ms: i64,
) -> Result<u64, ApiError> {
    type Records = Vec<(Uuid, Map<String, Value>)>;
    let mut groups: BTreeMap<DocKey, Records> = BTreeMap::new();
    for r in &records.residents {
        groups.entry(DocKey::new(grid, Collection::Residents)).or_default().push((r.id, fields(r)));
    }
    for h in &records.houses {
        groups.entry(DocKey::new(grid, Collection::Houses)).or_default().push((h.id, fields(h)));
    }
    for v in &records.visits {
        groups.entry(DocKey::visits(grid, DocKey::month_of(v.at))).or_default().push((v.id, fields(v)));
    }
    for d in &records.disputes {
        groups.entry(DocKey::new(grid, Collection::Disputes)).or_default().push((d.id, fields(d)));
    }
    let keys: Vec<DocKey> = groups.keys().copied().collect();
    let stored = storage.load_docs(&keys).await?;
    let mut commit = GridCommit { grid, docs: Vec::new(), changes: Vec::new(), rows: Rows::default() };
    for (key, recs) in groups {
        let (mut d, version) = match stored.iter().find(|s| s.key == key) {
            Some(s) => (Automerge::load(&s.bytes).map_err(|e| ApiError::Internal(e.to_string()))?, Some(s.version)),
            None => (Automerge::new(), None),
        };
        let t0 = std::time::Instant::now();
        let change = doc::bulk_create(&d, doc::actor_for(author.device, 0), key.collection, &recs, author, time_ms)
            .map_err(|e| ApiError::bad("invalid_record", e.to_string()))?;
        let Some(change) = change else { continue };
        let t1 = std::time::Instant::now();
        d.apply_changes([change.clone()]).map_err(|e| ApiError::Internal(e.to_string()))?;
        let t2 = std::time::Instant::now();
        let ids: Vec<Uuid> = recs.iter().map(|(id, _)| *id).collect();
        crate::sync::collect_rows(&d, key, &ids, &mut commit.rows);
        let t3 = std::time::Instant::now();
        let bytes = d.save();
        tracing::debug!(doc = %key, records = ids.len(), make_ms = (t1 - t0).as_millis(), apply_ms = (t2 - t1).as_millis(),
            rows_ms = (t3 - t2).as_millis(), save_ms = t3.elapsed().as_millis(), bytes = bytes.len(), "imported");
        commit.changes.push(NewChange {
            doc: key,
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
            device: author.device,
            account: author.account,
        });
        commit.docs.push((StoredDoc { key, bytes, version: version.map_or(1, |v| v + 1) }, version));
    }
    Ok(storage.commit(commit).await?)
}
