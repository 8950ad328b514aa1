//! The server side of one sync round: take what a device sends through the change pipeline
//! ([`sync_protocol::pipeline`]), store it durably, then answer with everything new in the
//! device's grids — of the collections its role receives ([`Role::receives`]: a centre's staff
//! get their area's disputes, not its residents). A grid sent in full is audited.
//!
//! A change is acknowledged only after the commit that stores it returns, and only if every
//! change it depends on is already stored (Automerge would otherwise queue it silently).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use automerge::{Automerge, Change, ChangeHash};
use sync_protocol::Code;
use sync_protocol::api::{DisputeEvent, ReadKind};
use sync_protocol::doc::DocKey;
use sync_protocol::model::CountySettings;
use sync_protocol::org::{Author, Role};
use sync_protocol::pipeline::{self, Ingest, Outcome, Refused, Rows};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{DocPayload, FetchDoc, GridPosition, Refusal, SyncRequest, SyncResponse};
use uuid::Uuid;

use super::County;
use super::audit::Read;
use super::auth::{self, Caller};
use crate::error::{Error, Result};
use crate::storage::{CatchUp, DocWrite, GridCommit, NewChange, Scope, StorageError, StoredDoc};

/// Limits of one sync answer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Catch-ups beyond about this many bytes are paged (`more` in the answer), and a device's
    /// budget is held below it. To a version 1 device a grid's snapshot comes whole, so one
    /// answer may exceed it by one grid; a version 2 device fetches what does not fit in ranges
    /// of at most this size.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_response_bytes: 4 * 1024 * 1024 }
    }
}

/// Syncs a server runs at once: `GRIDKEEPER_SYNC_SLOTS`, or four per core. A sync spends part
/// of its time waiting for the commit's fsync; with four per core the cores stay busy meanwhile
/// (morning storm on 2 cores: 4 slots 2.03-2.09 s, 8 slots 1.86-1.95 s, 12-16 no steadier).
pub fn slots_from_env() -> usize {
    std::env::var("GRIDKEEPER_SYNC_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// The smallest page a device may ask for, and the smallest document range served: below it,
/// framing would outweigh the records, and a request's work (a document loaded, a digest, an
/// audit row) would be out of proportion to what it sends.
pub const MIN_BUDGET: usize = 4 * 1024;

/// To a version 2 device, a document with more than this many bytes of changes in one catch-up
/// (or a quarter of the page, if larger) is sent as the stored document to fetch in ranges when
/// that is smaller: a roster import's changes are about twice its documents.
const CHANGES_WORTH_A_LOOK: usize = 8 * 1024;
/// Changes of one document beyond this (or twice the page, if larger) are sent as the document
/// when it is at most twice their size: one large change would otherwise come whole in an answer,
/// and be lost whole at every cut.
const CHANGES_TO_FETCH: usize = 32 * 1024;

/// The most grids one request may name: more than a whole county holds (Yishui: 1,358), far
/// more than any device's scope (a township's staff hold about 80).
pub const MAX_POSITIONS: usize = 2_000;

pub(crate) const COMMIT_RETRIES: usize = 8;
/// A document is saved whole at every this many versions, and appended to in between.
const COMPACT_EVERY: u64 = 32;

/// How far each device has been served each grid by this server process, to tell a device that
/// asks for changes it was already sent — a rewound position reads what the device may no longer
/// hold, and is audited like a snapshot. Entries are (device, grid) pairs within devices'
/// scopes, noted at every catch-up (an empty one too, so a device that had nothing new
/// yesterday is known this morning); after a restart the first catch-up of each pair that sends
/// records is audited (a conservative answer, never a missed one).
#[derive(Debug, Default)]
pub struct Served(std::sync::Mutex<HashMap<(Uuid, Uuid), u64>>);

impl Served {
    /// Records that `device` was served `grid` up to `to`, asking from `from`; whether it asked
    /// from before what it was served already (or from a position this process never served).
    fn rewound(&self, device: Uuid, grid: Uuid, from: u64, to: u64) -> bool {
        use std::collections::hash_map::Entry;
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.entry((device, grid)) {
            Entry::Occupied(mut e) => {
                let before = *e.get();
                e.insert(before.max(to));
                from < before
            }
            Entry::Vacant(e) => {
                e.insert(to);
                true
            }
        }
    }
}

#[derive(Clone)]
struct Incoming {
    index: u32,
    key: DocKey,
    change: Change,
}

impl County {
    /// One sync round for a device. Syncs that carry changes or need a snapshot are admitted a
    /// few at a time, first come first served: when a whole county syncs at once, early
    /// arrivals finish early instead of all of them sharing the machine until the last is done.
    /// A sync that sends nothing and holds every grid already is a couple of queries: it does
    /// not wait behind the heavy ones.
    pub async fn sync(&self, caller: &Caller, req: SyncRequest) -> Result<SyncResponse> {
        // Each position costs a scope check and a catch-up: a request cannot name a grid twice,
        // nor more grids than a county has (checked before anything else is done for it).
        if req.positions.len() > MAX_POSITIONS {
            return Err(Error::bad(Code::TooManyPositions, format!("at most {MAX_POSITIONS} grids per request")));
        }
        let mut seen = HashSet::with_capacity(req.positions.len());
        if let Some(p) = req.positions.iter().find(|p| !seen.insert(p.grid)) {
            return Err(Error::bad(Code::DuplicatePosition, format!("grid {} is named twice", p.grid)));
        }
        // A version 1 device naming no grid gets its own from 0; a version 2 device naming none
        // (all its grids are being fetched) asks for nothing.
        let light = req.changes.is_empty()
            && (!req.positions.is_empty() || req.version >= 2)
            && req.positions.iter().all(|p| p.seq > 0);
        let _slot = if light {
            None
        } else {
            Some(self.sync_slots.acquire().await.map_err(|_| Error::Internal("server shutting down".into()))?)
        };
        let (answer, reads) = sync(self, caller, req).await?;
        // Written before the grids leave the server; a failed write fails the sync (what was
        // sent is stored, and the device asks again).
        self.audit_reads(caller, reads).await?;
        Ok(answer)
    }
}

async fn sync(county: &County, caller: &Caller, req: SyncRequest) -> Result<(SyncResponse, Vec<Read>)> {
    let (storage, limits, served) = (county.storage(), county.limits, &county.served);
    let scope = caller.scope()?;
    let author = caller.author();
    let role: Role = caller.account.role;
    let receives: Vec<Collection> = Collection::ALL.into_iter().filter(|c| role.receives(*c)).collect();
    let mut refused = Vec::new();
    let mut by_grid: BTreeMap<Uuid, Vec<Incoming>> = BTreeMap::new();
    let mut in_scope: HashMap<Uuid, bool> = HashMap::new();
    // One pipeline for the whole request: a change refused here refuses what builds on it.
    let mut ingest = Ingest::default();

    for (i, out) in req.changes.into_iter().enumerate() {
        let index = i as u32;
        if !out.doc.is_valid() {
            refused.push(Refused::new(Code::MalformedChange, "invalid document key").at(index));
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
            refused.push(Refused::new(Code::OutOfScope, "this device may not write to that grid").at(index));
            continue;
        }
        if !role.receives(out.doc.collection) {
            tracing::warn!(device = %caller.device.id, doc = %out.doc, "change to a collection the role does not hold refused");
            refused.push(Refused::new(Code::OutOfScope, "this device's role does not hold these records").at(index));
            continue;
        }
        match ingest.admit(&out.bytes, &author) {
            Ok(change) => by_grid.entry(out.doc.grid).or_default().push(Incoming { index, key: out.doc, change }),
            Err(r) => refused.push(r.at(index)),
        }
    }

    for (grid, incoming) in by_grid {
        let mut attempt = 0;
        loop {
            // New actions are worked out only when some staff client is listening.
            let listening = county.wants_events();
            match ingest_grid(county, grid, &incoming, &author, &ingest, listening).await {
                Ok((mut r, after, events)) => {
                    refused.append(&mut r);
                    ingest = after;
                    // Stored: the staff connected hear of the new actions on disputes now,
                    // whatever becomes of the rest of this request.
                    county.publish(grid, events).await;
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

    // Catch up: the grids the device names; a version 1 device also its own grid always (it
    // names none at first). A version 2 device names every grid it should be caught up in, and
    // leaves out a grid whose snapshot it is still fetching.
    let mut wanted: Vec<GridPosition> = Vec::new();
    if let Scope::Grid(g) = scope
        && req.version == 1
        && !req.positions.iter().any(|p| p.grid == g)
    {
        wanted.push(GridPosition { grid: g, seq: 0 });
    }
    for p in &req.positions {
        if !auth::grid_in_scope(storage, &scope, p.grid).await? {
            return Err(Error::Forbidden(format!("grid {} is outside this device's scope", p.grid)));
        }
        wanted.push(*p);
    }
    // A version 1 device gets pages of the server's size and every snapshot whole; a version 2
    // device pages of its own budget (within the server's), and documents beyond them by range.
    let paged = req.version >= 2;
    let page = match req.budget {
        0 => limits.max_response_bytes,
        b => (b as usize).max(MIN_BUDGET).min(limits.max_response_bytes),
    };
    let mut budget = page;
    let (mut docs, mut positions, mut fetch, mut more) = (Vec::new(), Vec::new(), Vec::new(), false);
    let mut reads = Vec::new();
    // A grid left for a later page is echoed at its position to a version 1 device, as before;
    // a version 2 device keeps its own (an echoed 0 would read as an empty grid's position).
    let put_off = |positions: &mut Vec<GridPosition>, p: GridPosition| {
        if !paged {
            positions.push(p);
        }
    };
    for p in wanted {
        if budget == 0 {
            more = true;
            put_off(&mut positions, p);
            continue;
        }
        match storage.catch_up(p.grid, &receives, p.seq, caller.device.id, budget).await? {
            CatchUp::Snapshot { seq, docs: stored } => {
                let size: usize = stored.iter().map(|d| d.bytes.len()).sum();
                if paged && size > budget && budget < page {
                    // Not the first thing in this page: the grid waits for the next page, where
                    // as much of it as fits comes whole; so do the grids after it (nothing more
                    // is read for this page).
                    more = true;
                    put_off(&mut positions, p);
                    budget = 0;
                    continue;
                }
                served.rewound(caller.device.id, p.grid, 0, seq);
                let mut sent: Vec<String> = Vec::new();
                for d in stored {
                    if paged && d.bytes.len() > budget {
                        fetch.push(FetchDoc { doc: d.key, len: d.bytes.len() as u64 });
                        continue;
                    }
                    // Which documents: `residents houses disputes visits/202611 …`.
                    sent.push(match d.key.month {
                        Some(m) => format!("{}/{m}", d.key.collection.as_str()),
                        None => d.key.collection.as_str().to_string(),
                    });
                    budget = budget.saturating_sub(d.bytes.len());
                    docs.push(DocPayload { doc: d.key, snapshot: true, data: d.bytes });
                }
                if !sent.is_empty() {
                    reads.push(Read::new(ReadKind::Snapshot, Some(p.grid)).detail(sent.join(" ")));
                }
                positions.push(GridPosition { grid: p.grid, seq });
                if !fetch.is_empty() {
                    // The rest of this page is left for the ranges the device now fetches.
                    budget = 0;
                }
            }
            CatchUp::Changes { seq, changes, more: m } => {
                let mut per_doc: BTreeMap<DocKey, (usize, Vec<u8>)> = BTreeMap::new();
                for c in changes {
                    let (n, data) = per_doc.entry(c.doc).or_default();
                    *n += 1;
                    data.extend_from_slice(&c.bytes);
                }
                // A document whose changes here are large (a roster import) goes to a version 2
                // device as the stored document to fetch in ranges ([`CHANGES_WORTH_A_LOOK`]): it
                // holds every change up to `seq`, and its ranges resume after a cut where a sync
                // answer is lost whole. The grid's position waits on the device until then.
                if paged {
                    let worth_a_look = CHANGES_WORTH_A_LOOK.max(page / 4);
                    let keys: Vec<DocKey> =
                        per_doc.iter().filter(|(_, (_, data))| data.len() > worth_a_look).map(|(k, _)| *k).collect();
                    if !keys.is_empty() {
                        let large = CHANGES_TO_FETCH.max(2 * page);
                        for d in storage.load_docs(&keys).await? {
                            let changes = per_doc[&d.key].1.len();
                            // Smaller than its changes; or, for changes too large to risk in one
                            // answer, not much larger.
                            if d.bytes.len() < changes || (changes > large && d.bytes.len() <= 2 * changes) {
                                fetch.push(FetchDoc { doc: d.key, len: d.bytes.len() as u64 });
                                per_doc.remove(&d.key);
                            }
                        }
                    }
                }
                // A device asking from before what it was last served (or first seen by this
                // server process) reads records it may not hold: audited (ranges are audited as
                // they are served).
                let rewound = served.rewound(caller.device.id, p.grid, p.seq, seq);
                let sent: usize = per_doc.values().map(|(n, _)| n).sum();
                if sent > 0 && rewound {
                    let detail = format!("{sent} changes after position {}, up to {seq}", p.seq);
                    reads.push(Read::new(ReadKind::CatchUp, Some(p.grid)).detail(detail));
                }
                for (doc, (_, data)) in per_doc {
                    budget = budget.saturating_sub(data.len());
                    docs.push(DocPayload { doc, snapshot: false, data });
                }
                positions.push(GridPosition { grid: p.grid, seq });
                more |= m;
                if !fetch.is_empty() {
                    budget = 0;
                }
            }
        }
    }
    let version = req.version;
    // A device of version 3 or later holding other settings than the county's gets them.
    let settings = if version >= 3 { county.settings_for_device(req.settings).await? } else { None };
    Ok((SyncResponse { version, refused, positions, docs, more, fetch, settings }, reads))
}

/// Validates and stores one grid's share of a request. Returns the refusals, the pipeline as it
/// stands after this grid (so a retry after contention starts from the state before), and the
/// new actions on disputes, for the staff's live stream.
async fn ingest_grid(
    county: &County,
    grid: Uuid,
    incoming: &[Incoming],
    author: &Author,
    ingest: &Ingest,
    listening: bool,
) -> std::result::Result<(Vec<Refusal>, Ingest, Vec<DisputeEvent>), StorageError> {
    let (storage, cache) = (county.storage(), &county.docs);
    // The settings the rows are derived under: those in force when the commit is made.
    let settings = county.settings();
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
        ingest: ingest.clone(),
        listening,
        settings: settings.clone(),
    };
    let done = tokio::task::spawn_blocking(move || work.run())
        .await
        .map_err(|e| StorageError::Database(format!("sync worker failed: {e}")))??;
    let Done { mut docs, refused, accepted, writes, rows, ingest, events } = done;
    if accepted.is_empty() {
        for (key, (doc, version, _)) in docs {
            if let Some(v) = version {
                cache.put(key, v, doc);
            }
        }
        return Ok((refused, ingest, Vec::new()));
    }
    let stored: Vec<(DocKey, u64)> = writes.iter().map(|d| (d.key, d.version)).collect();
    storage.commit(GridCommit { grid, docs: writes, changes: accepted, rows, settings }).await?;
    // Committed: the documents are now stored at their new versions.
    for (key, version) in stored {
        if let Some((doc, _, _)) = docs.remove(&key) {
            cache.put(key, version, doc);
        }
    }
    Ok((refused, ingest, events))
}

type LoadedDocs = HashMap<DocKey, (Automerge, Option<u64>, Vec<ChangeHash>)>;

/// One grid's share of a request, ready for the CPU-bound part of ingesting it.
struct Work {
    docs: LoadedDocs,
    /// Documents not in the cache, as stored.
    to_load: Vec<StoredDoc>,
    incoming: Vec<Incoming>,
    author: Author,
    ingest: Ingest,
    /// Whether any staff client hears the new actions (else they are not worked out).
    listening: bool,
    settings: Arc<CountySettings>,
}

struct Done {
    docs: LoadedDocs,
    refused: Vec<Refusal>,
    accepted: Vec<NewChange>,
    writes: Vec<DocWrite>,
    rows: Rows,
    ingest: Ingest,
    events: Vec<DisputeEvent>,
}

impl Work {
    fn run(self) -> std::result::Result<Done, StorageError> {
        let Work { mut docs, to_load, incoming, author, mut ingest, listening, settings } = self;
        for s in to_load {
            let doc = Automerge::load(&s.bytes)
                .map_err(|e| StorageError::Database(format!("stored document {} unreadable: {e}", s.key)))?;
            let heads = doc.get_heads();
            docs.insert(s.key, (doc, Some(s.version), heads));
        }
        let mut refused = Vec::new();
        let mut accepted: Vec<NewChange> = Vec::new();
        for inc in &incoming {
            let Some((doc, _, _)) = docs.get_mut(&inc.key) else {
                // Its document was dropped after a change automerge failed on (below).
                refused.push(poisoned_refusal().at(inc.index));
                continue;
            };
            let outcome = match ingest.offer(doc, inc.key.collection, &inc.change, &author) {
                Ok(outcome) => outcome,
                Err(sync_protocol::DocError::Poisoned(what)) => {
                    // The document may be half-changed: it is neither stored nor cached, and
                    // every change of this request to it is refused (the device sends the
                    // honest ones again under a new epoch; only a forged sequence gets here).
                    tracing::warn!(doc = %inc.key, %what, "a change automerge asserted on was refused");
                    docs.remove(&inc.key);
                    refused.push(
                        Refused::new(Code::MalformedChange, "sequence number out of order for its actor").at(inc.index),
                    );
                    for a in accepted.iter().filter(|a| a.doc == inc.key) {
                        if let Some(i) = incoming.iter().find(|i| i.change.hash().0 == a.hash) {
                            refused.push(poisoned_refusal().at(i.index));
                        }
                    }
                    accepted.retain(|a| a.doc != inc.key);
                    continue;
                }
                Err(e) => return Err(StorageError::Database(e.to_string())),
            };
            match outcome {
                Outcome::AlreadyStored => {} // a retry after a lost answer
                Outcome::Refused(r) => refused.push(r.at(inc.index)),
                Outcome::Applied(_) => accepted.push(NewChange {
                    doc: inc.key,
                    hash: inc.change.hash().0,
                    bytes: inc.change.raw_bytes().to_vec(),
                    device: author.device,
                    account: author.account,
                }),
            }
        }
        let mut rows = Rows::default();
        let mut writes = Vec::new();
        let mut events = Vec::new();
        for (key, (doc, version, before)) in &docs {
            if !accepted.iter().any(|a| a.doc == *key) {
                continue;
            }
            pipeline::project(doc, *key, &sync_protocol::doc::touched_records(doc, before), &mut rows);
            if listening && key.collection == Collection::Disputes {
                events.extend(super::events::new_actions(doc, *key, before, &rows, &settings.time_limits));
            }
            writes.push(doc_write(*key, *version, doc, before));
        }
        log_unreadable(&rows);
        Ok(Done { docs, refused, accepted, writes, rows, ingest, events })
    }
}

/// A document's new state after changes made on it since `before`, stored at `version`: most
/// commits append their changes to the stored bytes; every [`COMPACT_EVERY`]-th version saves
/// the whole document again, so loading stays quick.
pub(crate) fn doc_write(key: DocKey, version: Option<u64>, doc: &Automerge, before: &[ChangeHash]) -> DocWrite {
    match version {
        Some(v) if (v + 1) % COMPACT_EVERY != 0 => DocWrite::append(key, v, doc.save_after(before)),
        _ => DocWrite::full(key, version, doc.save()),
    }
}

fn poisoned_refusal() -> Refused {
    Refused::new(Code::MalformedChange, "sent with a change whose sequence number was out of order")
}

/// A record that does not read as its type keeps its old query row; say which (ids only).
pub(crate) fn log_unreadable(rows: &Rows) {
    for (doc, record, error) in &rows.unreadable {
        tracing::warn!(%record, %doc, %error, "record does not fit its type; query row not updated");
    }
}
