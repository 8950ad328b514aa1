//! Photos: kept in the (encrypted) device database under the SHA-256 of their bytes, uploaded to
//! the county server as content-addressed blobs in chunks that resume where a cut connection
//! left off, and fetched on demand by the other devices of the grid. Only the hash travels in
//! the Automerge documents.

use sha2::{Digest, Sha256};
use sync_protocol::Code;
use sync_protocol::api::{BLOB_GRID_HEADER, BLOB_OFFSET_HEADER, BLOB_TOTAL_HEADER, BlobState};
use sync_protocol::app::SyncReport;

use crate::device::{Device, now_ms};
use crate::error::{DeviceError, Result};
use crate::store;

/// The largest upload request; on a slower link chunks are sized to take seconds
/// ([`crate::link::Link::photo_chunk`]).
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Largest photo accepted (the server's limit too).
pub const MAX_PHOTO_BYTES: usize = 20 * 1024 * 1024;

pub fn hash_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Device {
    /// Keeps a photo on the device and returns its hash, to put in a dispute's `photos`.
    pub fn add_photo(&self, bytes: &[u8], mime: &str) -> Result<String> {
        if !mime.starts_with("image/") || bytes.is_empty() || bytes.len() > MAX_PHOTO_BYTES {
            return Err(DeviceError::BadPhoto);
        }
        let inner = self.lock();
        let hash = hash_of(bytes);
        store::put_photo(&inner.conn, &hash, inner.grid()?, mime, bytes, false)?;
        Ok(hash)
    }

    /// Photos taken here and not yet fully on the server.
    pub fn photos_pending(&self) -> Result<u64> {
        store::photos_pending(&self.lock().conn)
    }

    /// A photo's bytes: from the device, or fetched from the county server (and kept).
    pub async fn photo(&self, hash: &str) -> Result<Vec<u8>> {
        let (local, server, token, grid) = {
            let inner = self.lock();
            let local = store::photo(&inner.conn, hash)?;
            let id = inner.identity()?;
            (local, id.server.clone(), id.token.clone(), inner.grid()?)
        };
        if let Some(b) = local {
            return Ok(b);
        }
        let server = crate::client::check_server_url(&server)?;
        let (resp, _) = crate::client::send(
            self.http().get(format!("{server}/v1/blobs/{hash}")).bearer_auth(&token),
            0,
            self.link.up_rate(),
        )
        .await?;
        let bytes = crate::client::body_bytes(crate::client::check(resp).await?).await?;
        if hash_of(&bytes) != hash {
            return Err(DeviceError::Server {
                code: Code::BlobMismatch.into(),
                message: "the photo's bytes do not match its name".into(),
            });
        }
        store::put_photo(&self.lock().conn, hash, grid, "image/*", &bytes, true)?;
        Ok(bytes.to_vec())
    }

    /// Uploads every pending photo in chunks sized to the link, resuming each where the server
    /// says it stands. Returns how many were completed and how many bytes were sent.
    pub(crate) async fn upload_photos(&self, report: &mut SyncReport) -> Result<(u32, u64)> {
        let (pending, server, token): (Vec<(String, String)>, String, String) = {
            let inner = self.lock();
            let id = inner.identity()?;
            (store::photos_to_upload(&inner.conn)?, id.server.clone(), id.token.clone())
        };
        let (mut done, mut sent) = (0, 0u64);
        for (hash, grid) in pending {
            self.check_interrupted()?;
            let Some(data) = store::photo(&self.lock().conn, &hash)? else { continue };
            report.requests += 1;
            let (status, took) = crate::client::send(
                self.http().get(format!("{server}/v1/blobs/{hash}/status")).bearer_auth(&token),
                0,
                0,
            )
            .await
            .inspect_err(|e| self.note_failure(e))?;
            self.link.note_round_trip(took);
            let (mut received, mut complete) = if status.status() == reqwest::StatusCode::NOT_FOUND {
                (0, false)
            } else {
                let s: BlobState = crate::client::json(status).await?;
                (s.received, s.complete)
            };
            let started = now_ms();
            while !complete {
                let from = (received as usize).min(data.len());
                let to = (from + self.link.photo_chunk().min(CHUNK_BYTES)).min(data.len());
                let req = self
                    .http()
                    .put(format!("{server}/v1/blobs/{hash}"))
                    .bearer_auth(&token)
                    .header(BLOB_GRID_HEADER, &grid)
                    .header(BLOB_TOTAL_HEADER, data.len().to_string())
                    .header(BLOB_OFFSET_HEADER, from.to_string())
                    .body(data[from..to].to_vec());
                report.requests += 1;
                let (resp, took) = crate::client::send(req, to - from, self.link.up_rate())
                    .await
                    .inspect_err(|e| self.note_failure(e))?;
                sent += (to - from) as u64;
                let next: BlobState = crate::client::json(resp).await?;
                self.link.note_up((to - from) as u64, took);
                if !next.complete && next.received <= received {
                    // The server did not take the chunk (or threw the bytes away as not matching
                    // their hash): try again at the next sync rather than loop here.
                    return Err(DeviceError::Server {
                        code: Code::UploadStalled.into(),
                        message: "photo upload made no progress".into(),
                    });
                }
                (received, complete) = (next.received, next.complete);
            }
            store::mark_uploaded(&self.lock().conn, &hash)?;
            tracing::debug!(ms = now_ms() - started, bytes = data.len(), "photo uploaded");
            done += 1;
        }
        Ok((done, sent))
    }
}
