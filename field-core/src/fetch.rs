//! A grid's snapshot documents too large for a sync answer, fetched a byte range at a time
//! (`GET /v1/docs/{key}`, [`sync_protocol::api::DOC_PREFIX_HEADER`]). Every piece is stored as
//! it arrives, so a cut loses only what was on the wire; the next range starts at the first byte
//! the device does not hold, naming the digest of what it holds. A document is loaded, its query
//! rows written and — for a grid's last one — the grid's position set, in one transaction.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sync_protocol::Code;
use sync_protocol::api::{ByteRange, ContentRange, DOC_PREFIX_HEADER, DOC_SHA256_HEADER, doc_path};
use sync_protocol::app::{DownloadProgress, SyncReport};
use sync_protocol::doc::DocKey;
use sync_protocol::pipeline::Rows;

use crate::device::{Device, project_into};
use crate::error::{DeviceError, Result};
use crate::store::{self, Fetch};

/// Received bytes are stored at least this often (bytes, or time on a slow link): a crash of
/// the app loses no more than that; a cut connection loses nothing received.
const KEEP_EVERY_BYTES: usize = 16 * 1024;
const KEEP_EVERY: Duration = Duration::from_secs(2);

fn unexpected(message: String) -> DeviceError {
    DeviceError::Server { code: Code::UnexpectedResponse.into(), message }
}

impl Device {
    /// Fetches every document waiting to be fetched. Whether a grid was completed (its position
    /// is now set: the caller catches it up from there). A link failure ends the fetching (the
    /// next sync resumes); a document the server refuses is given up, its grid asked for again
    /// from the start at the next round; any other failure skips to the next document and is
    /// returned once the rest were tried.
    pub(crate) async fn fetch_snapshots(&self, report: &mut SyncReport) -> Result<bool> {
        let mut completed = false;
        let mut failed: Option<DeviceError> = None;
        let mut skipped: Vec<DocKey> = Vec::new();
        loop {
            let next = store::fetches(&self.lock().conn)?.into_iter().find(|f| !skipped.contains(&f.doc));
            let Some(f) = next else { break };
            self.check_interrupted()?;
            match self.fetch_one(&f, report).await {
                Ok(done) => completed |= done,
                Err(e) if e.ends_transfers() => return Err(e),
                Err(e) if e.code() == Code::Forbidden || e.code() == Code::NotFound => {
                    tracing::warn!(doc = %f.doc, error = %e, "the server no longer serves a document being fetched; its grid starts over");
                    store::abandon_fetches(&self.lock().conn, f.doc.grid)?;
                }
                Err(e) => {
                    tracing::warn!(doc = %f.doc, error = %e, "a document could not be fetched; trying the others");
                    skipped.push(f.doc);
                    failed.get_or_insert(e);
                }
            }
        }
        self.publish_progress();
        match failed {
            Some(e) => Err(e),
            None => Ok(completed),
        }
    }

    async fn fetch_one(&self, f: &Fetch, report: &mut SyncReport) -> Result<bool> {
        let mut mismatches = 0;
        let (server, token) = {
            let inner = self.lock();
            let id = inner.identity()?;
            (crate::client::check_server_url(&id.server)?, id.token.clone())
        };
        let url = format!("{server}{}", doc_path(&f.doc));
        loop {
            let held = store::held_bytes(&self.lock().conn, &f.doc)?;
            let from = held.len() as u64;
            let range = ByteRange { from, to: Some(from + self.link.range_len() - 1) };
            let mut req = self.http().get(&url).bearer_auth(&token).header(reqwest::header::RANGE, range.header());
            if from > 0 {
                req = req.header(DOC_PREFIX_HEADER, hex::encode(Sha256::digest(&held)));
            }
            drop(held);
            report.requests += 1;
            report.ranges += 1;
            let started = Instant::now();
            let (resp, _) =
                crate::client::send(req, 0, self.link.up_rate()).await.inspect_err(|e| self.note_failure(e))?;
            let mut resp = crate::client::check(resp).await?;
            let got = resp
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(ContentRange::parse)
                .filter(|r| resp.status() == reqwest::StatusCode::PARTIAL_CONTENT && (r.start == from || r.start == 0));
            let Some(got) = got else {
                return Err(unexpected(format!(
                    "a document range came back as HTTP {} without the range asked for",
                    resp.status()
                )));
            };
            let digest = resp
                .headers()
                .get(DOC_SHA256_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|h| hex::decode(h.trim()).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            if got.start != from {
                // The server saved the document anew since the first bytes came: start again.
                tracing::info!(doc = %f.doc, held = from, "document changed on the server; fetching it again");
                store::restart_fetch(&self.lock().conn, &f.doc)?;
            }
            let (mut offset, mut buf, mut kept_at) = (got.start, Vec::new(), Instant::now());
            let keep = |buf: &mut Vec<u8>, offset: &mut u64| -> Result<()> {
                if buf.is_empty() {
                    return Ok(());
                }
                // Never more than the range said: bytes past it would be spliced into the document.
                if *offset + buf.len() as u64 > got.end {
                    return Err(unexpected("a document range brought more bytes than it said".into()));
                }
                store::append_piece(&self.lock().conn, &f.doc, *offset, buf, got.total)?;
                *offset += buf.len() as u64;
                buf.clear();
                self.publish_progress();
                Ok(())
            };
            let read = crate::client::read_body(&mut resp, |chunk| {
                report.bytes_down += chunk.len() as u64;
                buf.extend_from_slice(chunk);
                if buf.len() >= KEEP_EVERY_BYTES || kept_at.elapsed() >= KEEP_EVERY {
                    kept_at = Instant::now();
                    keep(&mut buf, &mut offset)?;
                    self.check_interrupted()?;
                }
                Ok(())
            })
            .await;
            // What came before a cut is kept too.
            keep(&mut buf, &mut offset)?;
            read.inspect_err(|e| self.note_failure(e))?;
            if offset != got.end {
                return Err(DeviceError::Network(format!("a range ended at byte {offset} of {}", got.end)));
            }
            // From the request's start (latency included, so the estimate errs slow).
            self.link.note_down(got.end - got.start, started.elapsed());
            if got.end >= got.total {
                match self.load_fetched(f, digest, report) {
                    // Bytes that do not match the server's digest were dropped: fetched again
                    // from the start, once, at once.
                    Err(e) if e.code() == Code::UnexpectedResponse && mismatches == 0 => mismatches += 1,
                    other => return other,
                }
            }
        }
    }

    /// Loads a fetched document into the device: its records, its query rows, and the grid's
    /// position if it was the grid's last. Bytes that do not match the server's digest of the
    /// whole document, or do not load, are dropped, to be fetched again.
    fn load_fetched(&self, f: &Fetch, digest: Option<[u8; 32]>, report: &mut SyncReport) -> Result<bool> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let bytes = store::held_bytes(&inner.conn, &f.doc)?;
        // (A server without the digest leaves the check to Automerge's own, weaker one.)
        if digest.is_some_and(|d| Sha256::digest(&bytes).as_slice() != d) {
            store::restart_fetch(&inner.conn, &f.doc)?;
            return Err(unexpected(format!(
                "document {} does not match the server's digest; fetching it again",
                f.doc
            )));
        }
        // The document is changed in the cache only if everything below is stored: on any
        // failure it is dropped from the cache and read back from the database as it is.
        let outcome = (|| -> Result<bool> {
            let d = inner.doc(f.doc)?;
            let before = d.get_heads();
            if let Err(e) = d.load_incremental(&bytes) {
                store::restart_fetch(&inner.conn, &f.doc)?;
                return Err(DeviceError::Document(format!("fetched document {} does not load: {e}", f.doc)));
            }
            let ids = if before.is_empty() {
                sync_protocol::doc::record_ids(d)
            } else {
                sync_protocol::doc::touched_records(d, &before)
            };
            let mut rows = Rows::default();
            project_into(&inner.docs[&f.doc], f.doc, &ids, &mut rows)?;
            let saved = inner.docs[&f.doc].save();
            let tx = inner.conn.transaction()?;
            store::put_snapshot(&tx, &f.doc, &saved)?;
            store::write_rows(&tx, &rows)?;
            let grid_done = store::finish_fetch(&tx, &f.doc)?;
            if let Some(seq) = grid_done {
                store::set_position(&tx, f.doc.grid, seq)?;
            }
            tx.commit()?;
            Ok(grid_done.is_some())
        })();
        if outcome.is_err() {
            inner.docs.remove(&f.doc);
        }
        let grid_done = outcome?;
        report.documents_received += 1;
        drop(guard);
        self.publish_progress();
        Ok(grid_done)
    }

    /// A stalled transfer means the link is slower than measured.
    pub(crate) fn note_failure(&self, e: &DeviceError) {
        if matches!(e, DeviceError::Stalled { .. }) {
            self.link.stalled();
        }
    }

    /// How far the device's first download has come; `None` once every grid it holds is in.
    pub fn download_progress(&self) -> Result<Option<DownloadProgress>> {
        let inner = self.lock();
        let grids = &inner.identity()?.grids;
        let fetches = store::fetches(&inner.conn)?;
        let mut grids_done = 0;
        for g in grids {
            if store::has_position(&inner.conn, g.id)? && !fetches.iter().any(|f| f.doc.grid == g.id) {
                grids_done += 1;
            }
        }
        if fetches.is_empty() && grids_done == grids.len() as u32 {
            return Ok(None);
        }
        Ok(Some(DownloadProgress {
            grids_done,
            grids_total: grids.len() as u32,
            bytes_done: fetches.iter().map(|f| f.held).sum(),
            bytes_total: fetches.iter().map(|f| f.total.max(f.held)).sum(),
            records: store::record_count(&inner.conn)?,
        }))
    }

    /// Tells whoever watches ([`Device::watch_progress`]) how far the download has come.
    pub(crate) fn publish_progress(&self) {
        if self.progress.receiver_count() > 0
            && let Ok(p) = self.download_progress()
        {
            self.progress.send_replace(p);
        }
    }

    /// Follows the download's progress as it changes (during a sync).
    pub fn watch_progress(&self) -> tokio::sync::watch::Receiver<Option<DownloadProgress>> {
        self.progress.subscribe()
    }
}
