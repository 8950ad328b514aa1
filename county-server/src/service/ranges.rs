//! Byte ranges of a stored document, for a device fetching a grid's snapshot that did not fit
//! in a sync answer ([`sync_protocol::wire::SyncResponse::fetch`]): on a weak link the device
//! takes it a range at a time, keeps every byte it receives, and resumes after a cut from the
//! byte where it stopped.
//!
//! A stored document is its last full save followed by the changes appended since, so the bytes
//! a device already holds stay the beginning of the document until the server saves it whole
//! again. A resumed range names the SHA-256 of those bytes; when the stored document no longer
//! begins with them, the answer starts again from 0 (the device then drops what it held).
//! Every range served is audited, like a snapshot.

use sha2::{Digest, Sha256};
use sync_protocol::Code;
use sync_protocol::api::{ByteRange, ContentRange, ReadKind};
use sync_protocol::doc::DocKey;

use super::County;
use super::audit::Read;
use super::auth::{self, Caller};
use super::sync::MIN_BUDGET;
use crate::error::{Error, Result};

/// A range asked for, and the digest of what the asker holds before it.
#[derive(Debug, Clone, Copy)]
pub struct RangeAsk {
    pub range: ByteRange,
    /// SHA-256 of the document's first `range.from` bytes as the device holds them; required
    /// when `range.from` is not 0.
    pub prefix_sha256: Option<[u8; 32]>,
}

/// The answer: where it starts (the range asked for, or 0 when the document changed under the
/// device), the bytes, and — when they reach the document's end — the whole document's digest.
#[derive(Debug)]
pub struct DocRange {
    pub range: ContentRange,
    pub bytes: Vec<u8>,
    pub sha256: Option<[u8; 32]>,
}

impl County {
    /// A range of one document of a grid in the caller's scope, of a collection its role
    /// receives ([`sync_protocol::org::Role::receives`]). At least [`MIN_BUDGET`] bytes (or the
    /// rest of the document) and at most the server's page size
    /// ([`super::sync::Limits::max_response_bytes`]) per answer.
    pub async fn doc_range(&self, caller: &Caller, key: DocKey, ask: RangeAsk) -> Result<DocRange> {
        let scope = caller.scope()?;
        if !caller.account.role.receives(key.collection)
            || !auth::grid_in_scope(self.storage(), &scope, key.grid).await?
        {
            return Err(Error::Forbidden(format!("this device may not read {key}")));
        }
        if ask.range.from > 0 && ask.prefix_sha256.is_none() {
            return Err(Error::bad(
                Code::BadRange,
                "a range from past the start names the digest of the bytes before it",
            ));
        }
        // A range loads its whole document: admitted with the syncs, a few at a time.
        let _slot = self.sync_slots.acquire().await.map_err(|_| Error::Internal("server shutting down".into()))?;
        let Some(stored) = self.storage().load_docs(&[key]).await?.pop() else {
            return Err(Error::NotFound(format!("no document {key}")));
        };
        let bytes = stored.bytes;
        let total = bytes.len() as u64;
        let from = ask.range.from;
        let resumes = from <= total
            && ask.prefix_sha256.is_none_or(|want| Sha256::digest(&bytes[..from as usize]).as_slice() == want);
        let start = if resumes { from } else { 0 };
        // As many bytes as asked for (when starting again too), but at least the smallest page
        // (a flood of one-byte ranges would cost a document load and an audit row each), within
        // the server's page and the document.
        let wanted =
            ask.range.to.map_or(u64::MAX, |to| to.saturating_sub(from).saturating_add(1)).max(MIN_BUDGET as u64);
        let end = start.saturating_add(wanted).min(start + self.limits.max_response_bytes as u64).min(total).max(start);
        let range = ContentRange { start, end, total };
        if end > start {
            let read = Read::new(ReadKind::Snapshot, Some(key.grid)).detail(format!(
                "{}{} bytes {start}-{} of {total}{}",
                key.collection.as_str(),
                key.month.map(|m| format!("/{m}")).unwrap_or_default(),
                end - 1,
                if resumes || from == 0 { "" } else { " (from the start again: the bytes held are not its beginning)" }
            ));
            // Written before the bytes leave the server, as for a snapshot in a sync answer.
            self.audit_reads(caller, vec![read]).await?;
        }
        let sha256 = (end == total).then(|| Sha256::digest(&bytes).into());
        Ok(DocRange { range, bytes: bytes[start as usize..end as usize].to_vec(), sha256 })
    }
}
