//! The server side of one sync round: check, validate and durably store what a device sends,
//! then answer with everything new in the device's grids.
//!
//! A change is acknowledged only after the commit that stores it returns, and only if every
//! change it depends on is already stored (Automerge would otherwise queue it silently).

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use sync_protocol::doc::{self, ChangeMeta, DocKey};
use sync_protocol::model::{Dispute, House, Record, Resident, Visit};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{DocPayload, GridPosition, PROTOCOL_VERSION, Refusal, SyncRequest, SyncResponse, codes};
use uuid::Uuid;

use crate::auth::{self, Caller};
use crate::cache::DocCache;
use crate::error::ApiError;
use crate::storage::{CatchUp, DocWrite, GridCommit, NewChange, Rows, Scope, Storage, StorageError, StoredDoc};

/// Limits of one sync answer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Catch-ups beyond about this many bytes are paged (`more` in the answer). A grid's
    /// snapshot is never split, so one answer may exceed it by one grid.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_response_bytes: 4 * 1024 * 1024 }
    }
}
const COMMIT_RETRIES: usize = 8;
/// A document is saved whole at every this many versions, and appended to in between.
const COMPACT_EVERY: u64 = 32;

#[derive(Clone)]
struct Incoming {
    index: u32,
    key: DocKey,
    change: Change,
}

pub async fn sync(
    storage: &dyn Storage,
    limits: Limits,
    cache: &DocCache,
    caller: &Caller,
    req: SyncRequest,
) -> Result<SyncResponse, ApiError> {
    let scope = auth::caller_scope(caller)?;
    let author = caller.author();
    let mut refused = Vec::new();
    let mut by_grid: BTreeMap<Uuid, Vec<Incoming>> = BTreeMap::new();
    let mut in_scope: HashMap<Uuid, bool> = HashMap::new();
    // Changes refused before validation: what builds on them is refused as orphaned too.
    let mut pre_refused: HashSet<ChangeHash> = HashSet::new();

    for (i, out) in req.changes.into_iter().enumerate() {
        let index = i as u32;
        let refuse = |code: &str, message: &str| Refusal {
            index,
            code: code.into(),
            record: None,
            field: String::new(),
            message: message.into(),
        };
        if !out.doc.is_valid() {
            refused.push(refuse(codes::MALFORMED_CHANGE, "invalid document key"));
            continue;
        }
        let allowed = match in_scope.get(&out.doc.grid) {
            Some(a) => *a,
            None => {
                let a = auth::grid_in_scope(storage, &scope, out.doc.grid).await?;
                in_scope.insert(out.doc.grid, a);
                a
            }
        };
        if !allowed {
            tracing::warn!(device = %caller.device.id, grid = %out.doc.grid, "change for a grid outside the device's scope refused");
            refused.push(refuse(codes::OUT_OF_SCOPE, "this device may not write to that grid"));
            continue;
        }
        // Through the shared parser: Automerge's own panics on some crafted bytes (found by
        // fuzzing) and those bytes are refused like any other non-change.
        let Some(change) = doc::parse_change(&out.bytes) else {
            refused.push(refuse(codes::MALFORMED_CHANGE, "not an Automerge change"));
            continue;
        };
        if doc::device_of_actor(change.actor_id()) != Some(caller.device.id) {
            pre_refused.insert(change.hash());
            refused.push(refuse(codes::FOREIGN_ACTOR, "a device may only send changes it made itself"));
            continue;
        }
        let meta = ChangeMeta::parse(change.message());
        if meta != Some(ChangeMeta { account: caller.account.id, device: caller.device.id }) {
            pre_refused.insert(change.hash());
            refused.push(refuse("actor_mismatch", "the change's author does not match this device"));
            continue;
        }
        by_grid.entry(out.doc.grid).or_default().push(Incoming { index, key: out.doc, change });
    }

    for (grid, incoming) in by_grid {
        let mut attempt = 0;
        loop {
            match ingest_grid(storage, cache, grid, &incoming, &author, caller, &pre_refused).await {
                Ok(mut r) => {
                    refused.append(&mut r);
                    break;
                }
                Err(StorageError::Contention(what)) if attempt < COMMIT_RETRIES => {
                    attempt += 1;
                    tracing::debug!(%grid, %what, attempt, "retrying after a concurrent commit");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    refused.sort_by_key(|r| r.index);

    // Catch up: the device's own grid always; other grids when the device asks for them.
    let mut wanted: Vec<GridPosition> = Vec::new();
    if let Scope::Grid(g) = scope
        && !req.positions.iter().any(|p| p.grid == g)
    {
        wanted.push(GridPosition { grid: g, seq: 0 });
    }
    for p in &req.positions {
        if !auth::grid_in_scope(storage, &scope, p.grid).await? {
            return Err(ApiError::Forbidden(format!("grid {} is outside this device's scope", p.grid)));
        }
        wanted.push(*p);
    }
    let mut budget = limits.max_response_bytes;
    let (mut docs, mut positions, mut more) = (Vec::new(), Vec::new(), false);
    for p in wanted {
        if budget == 0 {
            more = true;
            positions.push(p);
            continue;
        }
        match storage.catch_up(p.grid, p.seq, caller.device.id, budget).await? {
            CatchUp::Snapshot { seq, docs: stored } => {
                for d in stored {
                    budget = budget.saturating_sub(d.bytes.len());
                    docs.push(DocPayload { doc: d.key, snapshot: true, data: d.bytes });
                }
                positions.push(GridPosition { grid: p.grid, seq });
            }
            CatchUp::Changes { seq, changes, more: m } => {
                let mut per_doc: BTreeMap<DocKey, Vec<u8>> = BTreeMap::new();
                for c in changes {
                    budget = budget.saturating_sub(c.bytes.len());
                    per_doc.entry(c.doc).or_default().extend_from_slice(&c.bytes);
                }
                docs.extend(per_doc.into_iter().map(|(doc, data)| DocPayload { doc, snapshot: false, data }));
                positions.push(GridPosition { grid: p.grid, seq });
                more |= m;
            }
        }
    }
    Ok(SyncResponse { version: PROTOCOL_VERSION, refused, positions, docs, more })
}

fn refusal(index: u32, code: &str, record: Option<Uuid>, field: &str, message: &str) -> Refusal {
    Refusal { index, code: code.into(), record, field: field.into(), message: message.into() }
}

/// Validates and stores one grid's share of a request. Returns the refusals.
async fn ingest_grid(
    storage: &dyn Storage,
    cache: &DocCache,
    grid: Uuid,
    incoming: &[Incoming],
    author: &sync_protocol::org::Author,
    caller: &Caller,
    pre_refused: &HashSet<ChangeHash>,
) -> Result<Vec<Refusal>, StorageError> {
    let keys: Vec<DocKey> = incoming.iter().map(|i| i.key).collect::<HashSet<_>>().into_iter().collect();
    // Documents still cached at their stored version need no loading.
    let versions: HashMap<DocKey, u64> = storage.doc_versions(&keys).await?.into_iter().collect();
    let mut docs: LoadedDocs = HashMap::new();
    let mut missing = Vec::new();
    for key in &keys {
        match versions.get(key) {
            Some(v) => match cache.take(key, *v) {
                Some(doc) => {
                    let heads = doc.get_heads();
                    docs.insert(*key, (doc, Some(*v), heads));
                }
                None => missing.push(*key),
            },
            None => {
                docs.insert(*key, (Automerge::new(), None, Vec::new()));
            }
        }
    }
    let to_load = storage.load_docs(&missing).await?;
    if let Some(gone) = missing.iter().find(|k| !to_load.iter().any(|s| s.key == **k)) {
        // Only a document deleted between the two reads could do this; documents are never
        // deleted, so say so loudly rather than start it afresh.
        return Err(StorageError::Database(format!("document {gone} vanished while loading")));
    }
    // Loading, validating, applying and reading back rows is CPU work: it runs on the blocking
    // pool so the server keeps answering other requests meanwhile.
    let work = Work {
        docs,
        to_load,
        incoming: incoming.to_vec(),
        author: author.clone(),
        device: caller.device.id,
        account: caller.account.id,
        pre_refused: pre_refused.clone(),
    };
    let done = tokio::task::spawn_blocking(move || work.run())
        .await
        .map_err(|e| StorageError::Database(format!("sync worker failed: {e}")))??;
    let Done { mut docs, refused, accepted, writes, rows } = done;
    if accepted.is_empty() {
        for (key, (doc, version, _)) in docs {
            if let Some(v) = version {
                cache.put(key, v, doc);
            }
        }
        return Ok(refused);
    }
    let stored: Vec<(DocKey, u64)> = writes.iter().map(|d| (d.key, d.version)).collect();
    storage.commit(GridCommit { grid, docs: writes, changes: accepted, rows }).await?;
    // Committed: the documents are now stored at their new versions.
    for (key, version) in stored {
        if let Some((doc, _, _)) = docs.remove(&key) {
            cache.put(key, version, doc);
        }
    }
    Ok(refused)
}

type LoadedDocs = HashMap<DocKey, (Automerge, Option<u64>, Vec<ChangeHash>)>;

/// One grid's share of a request, ready for the CPU-bound part of ingesting it.
struct Work {
    docs: LoadedDocs,
    /// Documents not in the cache, as stored.
    to_load: Vec<StoredDoc>,
    incoming: Vec<Incoming>,
    author: sync_protocol::org::Author,
    device: Uuid,
    account: Uuid,
    pre_refused: HashSet<ChangeHash>,
}

struct Done {
    docs: LoadedDocs,
    refused: Vec<Refusal>,
    accepted: Vec<NewChange>,
    writes: Vec<DocWrite>,
    rows: Rows,
}

impl Work {
    fn run(self) -> Result<Done, StorageError> {
        let Work { mut docs, to_load, incoming, author, device, account, pre_refused } = self;
        for s in to_load {
            let doc = Automerge::load(&s.bytes)
                .map_err(|e| StorageError::Database(format!("stored document {} unreadable: {e}", s.key)))?;
            let heads = doc.get_heads();
            docs.insert(s.key, (doc, Some(s.version), heads));
        }
        let mut refused = Vec::new();
        let mut refused_hashes: HashSet<ChangeHash> = pre_refused;
        let mut accepted: Vec<NewChange> = Vec::new();
        for inc in &incoming {
            let hash = inc.change.hash();
            let (doc, _, _) = docs.get_mut(&inc.key).expect("loaded before");
            if doc.get_change_by_hash(&hash).is_some() {
                continue; // already stored: a retry after a lost answer
            }
            if inc.change.deps().iter().any(|d| refused_hashes.contains(d)) {
                refused_hashes.insert(hash);
                refused.push(refusal(inc.index, codes::DEPENDENCY_REFUSED, None, "", "built on a refused change"));
                continue;
            }
            if !doc.get_missing_deps(inc.change.deps()).is_empty() {
                refused_hashes.insert(hash);
                refused.push(refusal(
                    inc.index,
                    codes::MISSING_DEPENDENCY,
                    None,
                    "",
                    "the server lacks a change this one depends on",
                ));
                continue;
            }
            if let Err(e) = doc::validate_change(doc, inc.key.collection, &inc.change, &author) {
                refused_hashes.insert(hash);
                refused.push(refusal(inc.index, e.code.as_str(), e.record, &e.field, &e.message));
                continue;
            }
            doc.apply_changes([inc.change.clone()]).map_err(|e| StorageError::Database(e.to_string()))?;
            accepted.push(NewChange {
                doc: inc.key,
                hash: hash.0,
                bytes: inc.change.raw_bytes().to_vec(),
                device,
                account,
            });
        }
        let mut rows = Rows::default();
        let mut writes = Vec::new();
        for (key, (doc, version, before)) in &docs {
            if !accepted.iter().any(|a| a.doc == *key) {
                continue;
            }
            collect_rows(doc, *key, &doc::touched_records(doc, before), &mut rows);
            writes.push(match version {
                // Most syncs append their changes to the stored bytes; every COMPACT_EVERY-th
                // version saves the whole document again, so loading stays quick.
                Some(v) if (v + 1) % COMPACT_EVERY != 0 => DocWrite::append(*key, *v, doc.save_after(before)),
                _ => DocWrite::full(*key, *version, doc.save()),
            });
        }
        Ok(Done { docs, refused, accepted, writes, rows })
    }
}

/// Reads touched records back into typed rows for the query tables (one pass over the
/// document for the records, one for their conflicts).
pub fn collect_rows(doc: &Automerge, key: DocKey, records: &[Uuid], rows: &mut Rows) {
    let only: std::collections::BTreeSet<Uuid> = records.iter().copied().collect();
    for (id, fields) in doc::read_records(doc, key.collection, Some(&only)) {
        let parsed = match key.collection {
            Collection::Residents => Resident::from_fields(fields).map(|r| rows.residents.push((key, r))),
            Collection::Houses => House::from_fields(fields).map(|r| rows.houses.push((key, r))),
            Collection::Visits => Visit::from_fields(fields).map(|r| rows.visits.push((key, r))),
            Collection::Disputes => Dispute::from_fields(fields).map(|r| rows.disputes.push((key, r))),
        };
        if let Err(e) = parsed {
            tracing::warn!(record = %id, doc = %key, error = %e, "record does not fit its type; query row not updated");
        }
    }
    let mut by_record: HashMap<Uuid, Vec<doc::Conflict>> = HashMap::new();
    for c in doc::conflicts_of(doc, key.collection, Some(&only)) {
        by_record.entry(c.record).or_default().push(c);
    }
    for id in records {
        rows.conflicts.push((key, *id, by_record.remove(id).unwrap_or_default()));
    }
}

/// Reads a grid's document for history and similar rare reads.
pub async fn load_doc(storage: &dyn Storage, key: DocKey) -> Result<Option<Automerge>, ApiError> {
    let stored = storage.load_docs(&[key]).await?;
    match stored.into_iter().next() {
        Some(s) => Ok(Some(Automerge::load(&s.bytes).map_err(|e| ApiError::Internal(e.to_string()))?)),
        None => Ok(None),
    }
}
