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

/// Largest photo accepted.
pub const MAX_BLOB_BYTES: u64 = 20 * 1024 * 1024;

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
        Ok(self.storage().put_blob_chunk(hash, chunk.grid, chunk.total, chunk.offset, bytes).await?)
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
