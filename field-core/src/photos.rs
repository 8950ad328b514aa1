//! Photos: kept in the (encrypted) device database under the SHA-256 of their bytes, uploaded to
//! the county server as content-addressed blobs in chunks that resume where a cut connection
//! left off, and fetched on demand by the other devices of the grid. Only the hash travels in
//! the Automerge documents.

use sha2::{Digest, Sha256};

use crate::device::{Device, now_ms};
use crate::error::{DeviceError, Result};

/// Bytes per upload request: small enough to get through a weak signal.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Largest photo accepted (the server's limit too).
pub const MAX_PHOTO_BYTES: usize = 20 * 1024 * 1024;

pub fn hash_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(serde::Deserialize)]
struct BlobState {
    received: u64,
    complete: bool,
}

impl Device {
    /// Keeps a photo on the device and returns its hash, to put in a dispute's `photos`.
    pub fn add_photo(&self, bytes: &[u8], mime: &str) -> Result<String> {
        if !mime.starts_with("image/") || bytes.is_empty() || bytes.len() > MAX_PHOTO_BYTES {
            return Err(DeviceError::BadPhoto);
        }
        let inner = self.lock();
        let grid = inner.grid()?;
        let hash = hash_of(bytes);
        inner.conn.execute(
            "INSERT INTO photos (hash, grid, mime, data, uploaded) VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT (hash) DO NOTHING",
            rusqlite::params![hash, grid.to_string(), mime, bytes],
        )?;
        Ok(hash)
    }

    /// Photos taken here and not yet fully on the server.
    pub fn photos_pending(&self) -> Result<u64> {
        Ok(self.lock().conn.query_row("SELECT COUNT(*) FROM photos WHERE uploaded = 0", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// A photo's bytes: from the device, or fetched from the county server (and kept).
    pub async fn photo(&self, hash: &str) -> Result<Vec<u8>> {
        let (local, server, token, grid) = {
            let inner = self.lock();
            let local: Option<Vec<u8>> =
                inner.conn.query_row("SELECT data FROM photos WHERE hash = ?1", [hash], |r| r.get(0)).ok();
            let id = inner.identity()?;
            (local, id.server.clone(), id.token.clone(), inner.grid()?)
        };
        if let Some(b) = local {
            return Ok(b);
        }
        let server = crate::client::check_server_url(&server)?;
        let resp = self
            .http()
            .get(format!("{server}/v1/blobs/{hash}"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| DeviceError::Network(e.to_string()))?;
        let bytes = crate::client::check(resp).await?.bytes().await.map_err(|e| DeviceError::Network(e.to_string()))?;
        if hash_of(&bytes) != hash {
            return Err(DeviceError::Server {
                code: "blob_mismatch".into(),
                message: "the photo's bytes do not match its name".into(),
            });
        }
        self.lock().conn.execute(
            "INSERT INTO photos (hash, grid, mime, data, uploaded) VALUES (?1, ?2, 'image/*', ?3, 1) ON CONFLICT (hash) DO NOTHING",
            rusqlite::params![hash, grid.to_string(), bytes.as_ref()],
        )?;
        Ok(bytes.to_vec())
    }

    /// Uploads every pending photo, resuming each where the server says it stands. Returns how
    /// many were completed and how many bytes were sent.
    pub(crate) async fn upload_photos(&self) -> Result<(u32, u64)> {
        let (pending, server, token): (Vec<(String, String)>, String, String) = {
            let inner = self.lock();
            let id = inner.identity()?;
            let mut st = inner.conn.prepare("SELECT hash, grid FROM photos WHERE uploaded = 0 ORDER BY rowid")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            (rows, id.server.clone(), id.token.clone())
        };
        let (mut done, mut sent) = (0, 0u64);
        for (hash, grid) in pending {
            let data: Vec<u8> =
                self.lock().conn.query_row("SELECT data FROM photos WHERE hash = ?1", [&hash], |r| r.get(0))?;
            let status = self
                .http()
                .get(format!("{server}/v1/blobs/{hash}/status"))
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| DeviceError::Network(e.to_string()))?;
            let mut state = if status.status() == reqwest::StatusCode::NOT_FOUND {
                BlobState { received: 0, complete: false }
            } else {
                crate::client::check(status).await?.json().await.map_err(|e| DeviceError::Network(e.to_string()))?
            };
            let started = now_ms();
            while !state.complete {
                let from = state.received as usize;
                let to = (from + CHUNK_BYTES).min(data.len());
                let resp = self
                    .http()
                    .put(format!("{server}/v1/blobs/{hash}"))
                    .bearer_auth(&token)
                    .header("Gridkeeper-Grid", &grid)
                    .header("Gridkeeper-Total", data.len().to_string())
                    .header("Gridkeeper-Offset", from.to_string())
                    .body(data[from..to].to_vec())
                    .send()
                    .await
                    .map_err(|e| DeviceError::Network(e.to_string()))?;
                sent += (to - from) as u64;
                let next: BlobState =
                    crate::client::check(resp).await?.json().await.map_err(|e| DeviceError::Network(e.to_string()))?;
                if !next.complete && next.received <= state.received {
                    // The server did not take the chunk (or threw the bytes away as not matching
                    // their hash): try again at the next sync rather than loop here.
                    return Err(DeviceError::Server {
                        code: "upload_stalled".into(),
                        message: "photo upload made no progress".into(),
                    });
                }
                state = next;
            }
            self.lock().conn.execute("UPDATE photos SET uploaded = 1 WHERE hash = ?1", [&hash])?;
            tracing::debug!(ms = now_ms() - started, bytes = data.len(), "photo uploaded");
            done += 1;
        }
        Ok((done, sent))
    }
}
