//! The device side of a sync: a request carrying unacknowledged changes (as many as the link
//! carries in a few seconds, [`crate::link`]) and the device's positions; the answer
//! acknowledges, refuses (with reasons) and brings what is new, in pages of the budget the
//! device states. Rounds follow until the outbox is empty and the catch-up complete; snapshot
//! documents too large for a page are then fetched in ranges (`fetch.rs`), and a grid they
//! complete is caught up from its snapshot's position.
//!
//! Refused edits go to the quarantine; edits that were merely built on a refused change are
//! re-entered on their own. The documents are then rebuilt without the refused changes, and
//! the device writes with a new actor epoch from then on.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::{Automerge, ChangeHash};
use sync_protocol::Code;
use sync_protocol::app::SyncReport;
use sync_protocol::doc::{DocKey, Edit};
use sync_protocol::pipeline::Rows;
use sync_protocol::wire::{CONTENT_TYPE, GridPosition, PROTOCOL_VERSION, Refusal, SyncRequest, SyncResponse};
use uuid::Uuid;

use crate::device::{Device, Inner, now_ms, project_into};
use crate::error::{DeviceError, Result};
use crate::store::{self, OutboxRow};

/// Rounds (pages of the catch-up, batches of the outbox) in one call to [`Device::sync`]: a
/// week offline on a weak link is a few hundred small rounds; the rest waits for the next sync.
const MAX_ROUNDS: usize = 1_000;
/// Passes of fetching documents and catching their grids up in one sync.
const MAX_FETCH_PASSES: usize = 16;

struct Prepared {
    url: String,
    positions: Vec<GridPosition>,
    token: String,
    body: Vec<u8>,
    sent: Vec<OutboxRow>,
    body_was_capped: bool,
}

impl Device {
    /// Syncs with the county server: pushes, is acknowledged, pulls. Network failures leave
    /// everything queued; call again later.
    ///
    /// If the server says this device is revoked (a lost or stolen handheld), everything it
    /// holds is erased at once, unsent edits included ([`DeviceError::Revoked`]).
    pub async fn sync(&self) -> Result<SyncReport> {
        let _one_at_a_time = self.sync_lock.lock().await;
        match self.sync_rounds().await {
            Err(e) if e.code() == Code::DeviceRevoked => {
                self.erase()?;
                tracing::warn!("the server revoked this device: its data was erased");
                Err(DeviceError::Revoked)
            }
            other => other,
        }
    }

    async fn sync_rounds(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.drop_unreceived()?;
        // Edits orphaned by a refusal whose re-entry a crash or an error interrupted.
        report.reentered += self.lock().resume_reentries()?;
        // A download a cut interrupted resumes first when there is nothing to send: the round
        // after it catches the grid up. A document that fails for another reason than the link
        // does not hold up the rest of the sync; its error is returned at the end.
        let mut fetch_failed = None;
        if self.pending_count()? == 0
            && let Err(e) = self.fetch_snapshots(&mut report).await
        {
            fetch_failed = Some(stop_on_link_failure(e)?);
        }
        self.rounds(&mut report).await?;
        // Documents too large for a page, then the catch-up of the grids they complete, which
        // may name more (one roster import's documents, one after the other).
        for _ in 0..MAX_FETCH_PASSES {
            match self.fetch_snapshots(&mut report).await {
                Ok(true) => self.rounds(&mut report).await?,
                Ok(false) => break,
                Err(e) => {
                    fetch_failed = fetch_failed.or(Some(stop_on_link_failure(e)?));
                    break;
                }
            }
        }
        self.publish_progress();
        // Photos go after the records, so a report is never held back by a large picture.
        let (photos, bytes) = self.upload_photos(&mut report).await?;
        report.photos_uploaded += photos;
        report.photo_bytes_up += bytes;
        // What others did on this person's disputes, for the inbox: the disputes whose rows
        // changed (this sync's, or an earlier one's that failed after applying them). Its own
        // failure does not fail a sync whose records are stored.
        if self.inbox_due()? {
            match self.update_inbox() {
                Ok(n) => report.inbox = n,
                Err(e) => tracing::warn!(error = %e, "inbox not updated; tried again at the next sync"),
            }
        }
        match fetch_failed {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Sync requests until the outbox is sent and the catch-up complete. Each answer is applied
    /// in one transaction before the next request: an acknowledged batch is never sent again.
    async fn rounds(&self, report: &mut SyncReport) -> Result<()> {
        // Grids this sync has brought up to date (a snapshot, or nothing new) are not named
        // again in its later rounds: a township's 79 positions would go up in every page.
        let mut settled: HashSet<Uuid> = HashSet::new();
        for _ in 0..MAX_ROUNDS {
            self.check_interrupted()?;
            let prepared = self.prepare(&settled)?;
            let up = prepared.body.len();
            report.requests += 1;
            report.bytes_up += up as u64;
            let req = self
                .http()
                .post(&prepared.url)
                .bearer_auth(&prepared.token)
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(prepared.body);
            let started = std::time::Instant::now();
            let (resp, head_after) =
                crate::client::send(req, up, self.link.up_rate()).await.inspect_err(|e| self.note_failure(e))?;
            let resp = crate::client::check(resp).await?;
            if up <= 1024 && resp.content_length().is_some_and(|n| n <= 2048) {
                self.link.note_round_trip(head_after);
            }
            // Only an accepted request says how fast the link carried it up.
            self.link.note_up(up as u64, head_after);
            let bytes = crate::client::body_bytes(resp).await.inspect_err(|e| self.note_failure(e))?;
            // From the request's start: over HTTPS a small answer arrives in one TLS record with
            // its head, and timing it from the head would make a weak link look fast.
            self.link.note_down(bytes.len() as u64, started.elapsed());
            report.bytes_down += bytes.len() as u64;
            let answer = SyncResponse::decode(&bytes)
                .map_err(|e| DeviceError::Server { code: Code::UnexpectedResponse.into(), message: e.to_string() })?;
            let more = answer.more;
            let full_push = !prepared.sent.is_empty() && prepared.body_was_capped;
            for p in &answer.positions {
                if prepared.positions.iter().any(|s| s.grid == p.grid && (s.seq == 0 || s.seq == p.seq)) {
                    settled.insert(p.grid);
                }
            }
            {
                let mut inner = self.lock();
                if let Err(e) = apply_answer(&mut inner, &prepared.sent, answer, report) {
                    // The cached documents may hold what the failed transaction did not store:
                    // drop them so they are read back from the database as it is.
                    inner.docs.clear();
                    return Err(e);
                }
            }
            self.publish_progress();
            // Another round only to follow a paged catch-up or to push an outbox that did not
            // fit in one request.
            if !more && !full_push {
                break;
            }
        }
        Ok(())
    }

    /// Drops what this device's role does not receive (`Role::receives`), should it hold any:
    /// a centre's staff device enrolled before roles were scoped held its area's residents.
    fn drop_unreceived(&self) -> Result<()> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let role = inner.identity()?.account.role;
        let gone = store::drop_unreceived(&mut inner.conn, |c| role.receives(c))?;
        for k in &gone {
            inner.docs.remove(k);
        }
        if !gone.is_empty() {
            tracing::info!(documents = gone.len(), "records this role does not receive were removed from the device");
        }
        Ok(())
    }

    fn prepare(&self, settled: &HashSet<Uuid>) -> Result<Prepared> {
        let inner = self.lock();
        let id = inner.identity()?;
        let sent = store::outbox(&inner.conn, self.link.push_bytes())?;
        let body_was_capped = (sent.len() as u64) < store::pending_count(&inner.conn)?;
        // A grid whose snapshot is still being fetched is not asked for (it would come again).
        let fetching = store::grids_fetching(&inner.conn)?;
        // A position that cannot be read is an error, never a request for a whole snapshot.
        let positions = id
            .grids
            .iter()
            .filter(|g| !fetching.contains(&g.id) && !settled.contains(&g.id))
            .map(|g| Ok(GridPosition { grid: g.id, seq: store::position(&inner.conn, g.id)? }))
            .collect::<Result<Vec<_>>>()?;
        let req = SyncRequest {
            version: PROTOCOL_VERSION,
            budget: self.link.page_budget(),
            settings: store::county_settings(&inner.conn)?.version,
            positions: positions.clone(),
            changes: sent
                .iter()
                .map(|r| sync_protocol::wire::OutChange { doc: r.doc, bytes: r.bytes.clone() })
                .collect(),
        };
        // An identity from before the address rule (or edited by hand) is checked here too.
        let server = crate::client::check_server_url(&id.server)?;
        Ok(Prepared {
            positions,
            url: format!("{server}/v1/sync"),
            token: id.token.clone(),
            body: req.encode(),
            sent,
            body_was_capped,
        })
    }
}

/// A sync goes on past a fetch that failed for its own reasons (a document the server could
/// not serve, or damaged); a failure of the link or a locked device ends it.
fn stop_on_link_failure(e: DeviceError) -> Result<DeviceError> {
    if e.ends_transfers() { Err(e) } else { Ok(e) }
}

fn apply_answer(inner: &mut Inner, sent: &[OutboxRow], answer: SyncResponse, report: &mut SyncReport) -> Result<()> {
    let refused: HashMap<u32, &Refusal> = answer.refused.iter().map(|r| (r.index, r)).collect();
    report.refused += refused.len() as u32;
    report.acknowledged += (sent.len() - refused.len().min(sent.len())) as u32;

    // 1. What the server brings.
    let mut touched: HashMap<DocKey, BTreeSet<Uuid>> = HashMap::new();
    let mut new_snapshot: HashSet<DocKey> = HashSet::new();
    let mut chunks: Vec<(DocKey, Vec<u8>)> = Vec::new();
    for payload in &answer.docs {
        if !payload.doc.is_valid() {
            continue;
        }
        let d = inner.doc(payload.doc)?;
        let before = d.get_heads();
        d.load_incremental(&payload.data).map_err(|e| DeviceError::Document(e.to_string()))?;
        // A snapshot touches every record; a run of changes only what the diff shows.
        let ids = if before.is_empty() {
            sync_protocol::doc::record_ids(d)
        } else {
            sync_protocol::doc::touched_records(d, &before)
        };
        touched.entry(payload.doc).or_default().extend(ids);
        if payload.snapshot {
            new_snapshot.insert(payload.doc);
        } else {
            chunks.push((payload.doc, payload.data.clone()));
        }
        report.documents_received += 1;
    }

    // 2. Refusals: quarantine or re-enter, and rebuild the documents without refused changes.
    let mut quarantine: Vec<(Edit, &Refusal)> = Vec::new();
    let mut reenter: Vec<Edit> = Vec::new();
    let mut dropped: HashSet<ChangeHash> = HashSet::new();
    let mut rebuilt: HashSet<DocKey> = HashSet::new();
    if !refused.is_empty() {
        for (i, row) in sent.iter().enumerate() {
            if let Some(r) = refused.get(&(i as u32)) {
                dropped.insert(ChangeHash(row.hash));
                if r.code == Code::DependencyRefused {
                    reenter.push(row.edit.clone());
                } else {
                    quarantine.push((row.edit.clone(), r));
                }
                rebuilt.insert(row.doc);
            }
        }
        // Local changes made after the request was sent that build on a dropped change.
        let later: Vec<OutboxRow> =
            store::outbox_all(&inner.conn)?.into_iter().filter(|r| !sent.iter().any(|s| s.id == r.id)).collect();
        for key in rebuilt.clone() {
            let d = inner.doc(key)?;
            let mut kept = Vec::new();
            for c in d.get_changes(&[]) {
                if dropped.contains(&c.hash()) || c.deps().iter().any(|h| dropped.contains(h)) {
                    dropped.insert(c.hash());
                } else {
                    kept.push(c);
                }
            }
            let mut fresh = Automerge::new();
            fresh.apply_changes(kept).map_err(|e| DeviceError::Document(e.to_string()))?;
            inner.docs.insert(key, fresh);
            touched
                .entry(key)
                .or_default()
                .extend(sent.iter().chain(later.iter()).filter(|r| r.doc == key).map(|r| r.edit.record));
        }
        for row in &later {
            if dropped.contains(&ChangeHash(row.hash)) {
                reenter.push(row.edit.clone());
            }
        }
    }

    // 3. The query rows, read back once, before anything is written.
    let mut rows = Rows::default();
    for (key, ids) in &touched {
        let ids: Vec<Uuid> = ids.iter().copied().collect();
        project_into(&inner.docs[key], *key, &ids, &mut rows)?;
    }

    // 4. One transaction for everything.
    let mut identity = inner.identity()?.clone();
    let now = now_ms();
    let tx = inner.conn.transaction()?;
    store::delete_outbox(&tx, sent.iter().map(|r| r.id))?;
    store::delete_outbox_hashes(&tx, dropped.iter().map(|h| &h.0))?;
    for (edit, r) in &quarantine {
        store::quarantine_edit(&tx, edit, r.code, r.record, &r.field, &r.message, now)?;
    }
    for (key, data) in &chunks {
        if !rebuilt.contains(key) && !new_snapshot.contains(key) {
            store::append_chunk(&tx, key, data)?;
        }
    }
    for key in new_snapshot.iter().chain(rebuilt.iter()) {
        store::put_snapshot(&tx, key, &inner.docs[key].save())?;
    }
    store::write_rows(&tx, &rows)?;
    // A grid with documents to fetch waits at its position until the last is loaded.
    let mut fetching = HashSet::new();
    for f in &answer.fetch {
        if let Some(p) = answer.positions.iter().find(|p| p.grid == f.doc.grid)
            && f.doc.is_valid()
        {
            store::add_fetch(&tx, &f.doc, p.seq, f.len)?;
            fetching.insert(p.grid);
        }
    }
    for p in answer.positions.iter().filter(|p| !fetching.contains(&p.grid)) {
        store::set_position(&tx, p.grid, p.seq)?;
    }
    if !dropped.is_empty() {
        identity.epoch += 1;
        store::set_meta(&tx, "identity", &serde_json::to_string(&identity).unwrap_or_default())?;
    }
    // The orphaned edits are kept durably, in this same transaction, until each is re-entered.
    for edit in &reenter {
        store::keep_for_reentry(&tx, edit, now)?;
    }
    // Settings that cannot be (a server's fault) are not taken: the device keeps its own.
    if let Some(settings) = answer.settings.as_ref().filter(|s| s.time_limits.problem().is_none()) {
        store::set_county_settings(&tx, settings)?;
    }
    store::set_meta(&tx, "last_sync_at", &now.to_string())?;
    tx.commit()?;
    report.quarantined += quarantine.len() as u32;

    if !dropped.is_empty() {
        inner.identity = Some(identity);
        let actor = inner.actor()?;
        for d in inner.docs.values_mut() {
            d.set_actor(actor.clone());
        }
    }
    // Re-enter the edits that were only orphaned; each is validated again, and one that no
    // longer fits (its record was refused) stays in the quarantine with its reason.
    let waiting = |inner: &Inner| -> Result<u32> { Ok(store::reentering_count(&inner.conn)? as u32) };
    let before = waiting(inner)?;
    let done = inner.resume_reentries()?;
    report.reentered += done;
    report.quarantined += before.saturating_sub(done).saturating_sub(waiting(inner)?);
    Ok(())
}
