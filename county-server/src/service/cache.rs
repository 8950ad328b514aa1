//! Recently used documents, kept loaded between syncs.
//!
//! Loading a grid's residents document from its saved bytes costs more than everything else a
//! morning sync does, so a server keeps the documents it used last in memory, each with the
//! storage version it was loaded at. An entry is only used when the stored version is still
//! the same (another server, or a concurrent request, may have moved it on), and it is taken
//! out while a request works on it, so two requests never share one. The cache is not state:
//! it can be dropped at any time (a restart does) and every answer stays the same.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use automerge::Automerge;
use lru::LruCache;
use sync_protocol::doc::DocKey;

/// How many documents a server keeps loaded by default (`GRIDKEEPER_DOC_CACHE` overrides):
/// enough for every grid's residents and houses documents of a county of 1,358 grids.
pub const DEFAULT_ENTRIES: usize = 4096;

pub struct DocCache {
    entries: Option<Mutex<LruCache<DocKey, (u64, Automerge)>>>,
}

impl DocCache {
    /// A cache of `entries` documents (0 turns it off).
    pub fn new(entries: usize) -> Self {
        DocCache { entries: NonZeroUsize::new(entries).map(|n| Mutex::new(LruCache::new(n))) }
    }

    /// Sized from `GRIDKEEPER_DOC_CACHE`, else [`DEFAULT_ENTRIES`].
    pub fn from_env() -> Self {
        Self::new(std::env::var("GRIDKEEPER_DOC_CACHE").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_ENTRIES))
    }

    /// Takes out the document if it is cached at exactly `version`.
    pub fn take(&self, key: &DocKey, version: u64) -> Option<Automerge> {
        let mut map = self.entries.as_ref()?.lock().ok()?;
        match map.pop(key) {
            Some((v, doc)) if v == version => Some(doc),
            _ => None,
        }
    }

    /// Puts back a document as it is stored at `version`.
    pub fn put(&self, key: DocKey, version: u64, doc: Automerge) {
        if let Some(m) = &self.entries
            && let Ok(mut map) = m.lock()
        {
            map.put(key, (version, doc));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.as_ref().and_then(|m| m.lock().ok().map(|m| m.len())).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for DocCache {
    fn default() -> Self {
        Self::from_env()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::schema::Collection;

    #[test]
    fn an_entry_serves_only_its_version_and_only_once() {
        let cache = DocCache::new(2);
        let key = DocKey::new(uuid::Uuid::now_v7(), Collection::Residents);
        cache.put(key, 3, Automerge::new());
        assert!(cache.take(&key, 4).is_none(), "a moved-on version is not served");
        assert!(cache.take(&key, 3).is_none(), "and the stale entry is gone");
        cache.put(key, 4, Automerge::new());
        assert!(cache.take(&key, 4).is_some());
        assert!(cache.take(&key, 4).is_none(), "taken out while in use");
        assert!(DocCache::new(0).take(&key, 4).is_none());
    }
}
