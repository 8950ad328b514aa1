//! Photos and other attachments: content-addressed blobs, uploaded in chunks. An upload cut off
//! anywhere resumes from the `received` count the server reports; access follows the grid's
//! scope.

use sync_protocol::Code;
use sync_protocol::api::{BlobState, ReadKind};
use uuid::Uuid;

use super::audit::Read;
use super::auth::{check_grid, grid_in_scope};
use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::Upload;

/// Largest photo accepted.
pub const MAX_BLOB_BYTES: u64 = 20 * 1024 * 1024;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What one device may upload: a worker's app uploads one photo at a time and resumes it, so
/// more unfinished uploads are abandoned or hostile; and a day's photos are tens, not
/// thousands. An unfinished upload nobody adds to for [`UploadLimits::abandoned_after_ms`] is
/// deleted with its chunks ([`County::prune_abandoned_uploads`], hourly in a running server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Uploads one device may have started and not finished.
    pub unfinished: u64,
    /// Bytes (as declared) one device may start uploading in 24 hours.
    pub daily_bytes: u64,
    pub abandoned_after_ms: i64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        // A week offline with ten 3 MB photos a day is 210 MB, sent in one go when the worker is
        // back in signal: a day's allowance of 1 GiB leaves room for five such weeks.
        UploadLimits { unfinished: 20, daily_bytes: 1 << 30, abandoned_after_ms: 7 * DAY_MS }
    }
}

/// A blob is named by the lower-case hex SHA-256 of its bytes.
fn check_hash(hash: &str) -> Result<()> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(Error::bad(Code::BadBlobHash, "a blob is named by the lower-case hex SHA-256 of its bytes"))
    }
}

/// One chunk of an upload: the blob's grid, its whole size, and where the chunk starts.
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    pub grid: Uuid,
    pub total: u64,
    pub offset: u64,
}

impl County {
    pub async fn put_blob_chunk(&self, caller: &Caller, hash: &str, chunk: Chunk, bytes: &[u8]) -> Result<BlobState> {
        let scope = caller.scope()?;
        check_hash(hash)?;
        check_grid(self.storage(), &scope, Some(chunk.grid)).await?;
        if chunk.total == 0 || chunk.total > MAX_BLOB_BYTES {
            return Err(Error::bad(Code::BlobTooLarge, "a photo must be between 1 byte and 20 MB"));
        }
        if chunk.offset.checked_add(bytes.len() as u64).is_none_or(|end| end > chunk.total) {
            return Err(Error::bad(Code::BadChunk, "the chunk goes past the declared size"));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let upload =
            Upload { grid: chunk.grid, device: caller.device.id, total: chunk.total, offset: chunk.offset, at: now };
        if chunk.offset != 0 {
            return Ok(self.storage().put_blob_chunk(hash, upload, bytes).await?);
        }
        // A new upload counts against the device's quota (a resumed one does not). Starts are
        // checked and stored one at a time, so uploads started together cannot all pass a
        // quota that has room for one. (With several servers on one database, each server
        // checks its own starts: a device could exceed its quota by what the others admit at
        // the same instant.)
        let _one_start_at_a_time = self.upload_starts.lock().await;
        if !self.storage().blob_states(hash).await?.iter().any(|s| s.grid == chunk.grid) {
            let mine = self.storage().device_uploads(caller.device.id, now - DAY_MS).await?;
            let limits = self.uploads;
            if mine.unfinished >= limits.unfinished {
                return Err(Error::Quota(format!(
                    "{} uploads are unfinished; finish them first (abandoned ones are deleted after a week)",
                    mine.unfinished
                )));
            }
            if mine.started_bytes.saturating_add(chunk.total) > limits.daily_bytes {
                return Err(Error::Quota(format!(
                    "this device started {} MB of uploads in the last 24 hours (at most {} MB)",
                    mine.started_bytes >> 20,
                    limits.daily_bytes >> 20
                )));
            }
        }
        Ok(self.storage().put_blob_chunk(hash, upload, bytes).await?)
    }

    /// Deletes the uploads nobody added to for [`UploadLimits::abandoned_after_ms`] before
    /// `now`, with their chunks; how many.
    pub async fn prune_abandoned_uploads(&self, now: i64) -> Result<u64> {
        let n = self.storage().prune_unfinished_uploads(now - self.uploads.abandoned_after_ms).await?;
        if n > 0 {
            tracing::info!(uploads = n, "abandoned uploads deleted");
        }
        Ok(n)
    }

    /// Where an upload of this hash stands in a grid of the caller's scope (the first, if
    /// several hold it); `NotFound` for a hash only other grids hold, so they are not revealed.
    pub async fn blob_state(&self, caller: &Caller, hash: &str) -> Result<BlobState> {
        let scope = caller.scope()?;
        check_hash(hash)?;
        for state in self.storage().blob_states(hash).await? {
            if grid_in_scope(self.storage(), &scope, state.grid).await? {
                return Ok(state);
            }
        }
        Err(Error::NotFound("no such blob".into()))
    }

    /// A complete blob's bytes from a grid of the caller's scope; the read is audited.
    pub async fn blob(&self, caller: &Caller, hash: &str) -> Result<Vec<u8>> {
        let scope = caller.scope()?;
        check_hash(hash)?;
        for state in self.storage().blob_states(hash).await?.into_iter().filter(|s| s.complete) {
            if grid_in_scope(self.storage(), &scope, state.grid).await?
                && let Some(bytes) = self.storage().blob(state.grid, hash).await?
            {
                self.audit_read(caller, Read::new(ReadKind::Photo, Some(state.grid)).subject(hash)).await?;
                return Ok(bytes);
            }
        }
        Err(Error::NotFound("no such blob".into()))
    }
}
