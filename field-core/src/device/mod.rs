//! The device: what the field app (and the command-line device) calls. Everything works
//! offline; [`Device::sync`] talks to the county server when it can.
//!
//! - this file: the device's identity, its open database and loaded documents, and the one way
//!   an edit is made ([`Inner::apply_edit`], through the change pipeline)
//! - `records.rs`: residents, houses, visits and disputes as the screens use them
//! - `review.rs`: conflicts, the quarantine, history and the workbench
//!
//! All SQL is in [`crate::store`]; all HTTP in [`crate::client`], `sync.rs` and `photos.rs`.

mod records;
mod review;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use automerge::Automerge;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::org::{Account, Author, GridInfo};
use sync_protocol::pipeline::{self, Rows};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use crate::error::{DeviceError, Result};
use crate::store;

/// Who this device is, as enrolment made it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Identity {
    pub server: String,
    pub device_id: Uuid,
    pub token: String,
    pub account: Account,
    pub grids: Vec<GridInfo>,
    /// Moves on after each realignment so a refused change's sequence numbers are not reused.
    pub epoch: u32,
    /// The county's own certificate authority (PEM) when its server's certificate is not from
    /// a public one; trusted in addition to the usual roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ca: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .field("token", &"<hidden>")
            .field("account", &self.account)
            .field("grids", &self.grids)
            .field("epoch", &self.epoch)
            .field("server_ca", &self.server_ca.is_some())
            .finish()
    }
}

pub(crate) struct Inner {
    pub conn: Connection,
    pub docs: HashMap<DocKey, Automerge>,
    pub identity: Option<Identity>,
}

/// The device library's entry point. Cheap to share behind an `Arc`.
pub struct Device {
    pub(crate) inner: Mutex<Inner>,
    /// The database file (its salt, count and write-ahead log lie beside it).
    path: std::path::PathBuf,
    /// Replaced when an identity trusting a county's own CA is adopted.
    http: RwLock<reqwest::Client>,
    /// One sync at a time: a background sync and a tap on "sync now" must not interleave their
    /// answers (positions would move backwards).
    pub(crate) sync_lock: tokio::sync::Mutex<()>,
    /// The link's measured speed: how much to ask for and send at once.
    pub(crate) link: crate::link::Link,
    /// A first download's progress, for whoever watches ([`Device::watch_progress`]).
    pub(crate) progress: tokio::sync::watch::Sender<Option<sync_protocol::app::DownloadProgress>>,
    /// Set when the app gives this handle up (locked): a running sync stops at its next step.
    interrupted: std::sync::atomic::AtomicBool,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Inner {
    pub fn identity(&self) -> Result<&Identity> {
        self.identity.as_ref().ok_or(DeviceError::NotEnrolled)
    }

    pub fn author(&self) -> Result<Author> {
        let id = self.identity()?;
        Ok(Author { account: id.account.id, device: id.device_id, role: id.account.role, node: Some(id.account.node) })
    }

    pub fn actor(&self) -> Result<automerge::ActorId> {
        let id = self.identity()?;
        Ok(doc::actor_for(id.device_id, id.epoch))
    }

    pub fn grid(&self) -> Result<Uuid> {
        self.identity()?
            .grids
            .first()
            .map(|g| g.id)
            .ok_or_else(|| DeviceError::NotFound("this account holds no grid".into()))
    }

    /// The document for a key, loaded from the database on first use.
    pub fn doc(&mut self, key: DocKey) -> Result<&mut Automerge> {
        if !self.docs.contains_key(&key) {
            let mut d = match store::load_doc_bytes(&self.conn, &key)? {
                Some(store::StoredDoc { snapshot, chunks }) => {
                    let mut d = if snapshot.is_empty() {
                        Automerge::new()
                    } else {
                        Automerge::load(&snapshot).map_err(|e| DeviceError::Document(e.to_string()))?
                    };
                    for c in chunks {
                        d.load_incremental(&c).map_err(|e| DeviceError::Document(e.to_string()))?;
                    }
                    d
                }
                None => Automerge::new(),
            };
            if let Ok(actor) = self.actor() {
                d.set_actor(actor);
            }
            self.docs.insert(key, d);
        }
        Ok(self.docs.get_mut(&key).expect("inserted above"))
    }

    /// Validates an edit, makes its change and stores it with the query rows, in one
    /// transaction. On any failure nothing is stored and the cached document is dropped.
    pub fn apply_edit(&mut self, edit: &Edit) -> Result<()> {
        self.apply_edit_clearing(edit, None)
    }

    /// Like [`Inner::apply_edit`], and in the same transaction removes a quarantine row (an
    /// edit being re-entered), so the edit is never both lost and never stored twice.
    pub fn apply_edit_clearing(&mut self, edit: &Edit, quarantine_row: Option<i64>) -> Result<()> {
        let author = self.author()?;
        let actor = self.actor()?;
        let committed = {
            // The pipeline leaves the document as it was when it refuses the edit.
            let d = self.doc(edit.doc)?;
            pipeline::commit_edit(d, actor, edit, &author, now_ms())?
        };
        let Some((change, _)) = committed else {
            // Nothing to change: the record already holds these values.
            if let Some(id) = quarantine_row {
                store::delete_quarantined(&self.conn, id)?;
            }
            return Ok(());
        };
        let result = (|| -> Result<()> {
            let d = self.docs.get(&edit.doc).expect("loaded above");
            let rows = project(d, edit.doc, &[edit.record])?;
            let tx = self.conn.transaction()?;
            let chunks = store::append_chunk(&tx, &edit.doc, change.raw_bytes())?;
            if chunks > store::COMPACT_AFTER_CHUNKS {
                store::put_snapshot(&tx, &edit.doc, &d.save())?;
            }
            store::push_outbox(&tx, &edit.doc, &change.hash().0, change.raw_bytes(), edit, now_ms())?;
            store::write_rows(&tx, &rows)?;
            if let Some(id) = quarantine_row {
                store::delete_quarantined(&tx, id)?;
            }
            tx.commit()?;
            Ok(())
        })();
        if result.is_err() {
            self.docs.remove(&edit.doc);
        }
        result
    }

    /// Re-enters the edits that a refusal orphaned (kept in the quarantine as `reentering` so a
    /// crash in between loses none). One that no longer fits stays in the quarantine with its
    /// reason; one that fails for another reason is tried again at the next sync.
    pub fn resume_reentries(&mut self) -> Result<u32> {
        let mut done = 0;
        for (id, edit) in store::reentering(&self.conn)? {
            match self.apply_edit_clearing(&edit, Some(id)) {
                Ok(()) => done += 1,
                Err(DeviceError::Invalid(v)) => store::requarantine(&self.conn, id, &v)?,
                Err(e) => tracing::warn!(error = %e, "re-entry postponed"),
            }
        }
        Ok(done)
    }
}

/// Adds the query rows of some records of a document, as [`pipeline::project`] reads them. A
/// record that does not read as its type is an error here: the device never stores a wrong row.
pub(crate) fn project_into(d: &Automerge, key: DocKey, ids: &[Uuid], rows: &mut Rows) -> Result<()> {
    pipeline::project(d, key, ids, rows);
    match rows.unreadable.first() {
        Some((_, id, e)) => Err(DeviceError::Document(format!("record {id} does not fit its type: {e}"))),
        None => Ok(()),
    }
}

/// The query rows of some records of one document ([`project_into`]).
pub(crate) fn project(d: &Automerge, key: DocKey, ids: &[Uuid]) -> Result<Rows> {
    let mut rows = Rows::default();
    project_into(d, key, ids, &mut rows)?;
    Ok(rows)
}

impl Device {
    /// Opens (or creates) the device database at `path`.
    pub fn open(path: &Path) -> Result<Device> {
        Self::open_with(path, None)
    }

    /// Opens the device database encrypted with a key derived from the worker's PIN (created on
    /// first use). A wrong PIN gives [`DeviceError::WrongPin`] and changes nothing but the count
    /// of wrong PINs: after [`crate::crypto::FREE_TRIES`] each try must wait
    /// ([`DeviceError::PinLocked`], before the key is even derived), and after
    /// [`crate::crypto::WIPE_AFTER`] in a row the device's data is wiped ([`DeviceError::Wiped`]).
    pub fn open_encrypted(path: &Path, pin: &str) -> Result<Device> {
        use crate::crypto::{PinAttempts, WIPE_AFTER, wipe};
        let now = now_ms();
        let wait = PinAttempts::read(path).wait_ms(now);
        if wait > 0 {
            return Err(DeviceError::PinLocked { retry_after_secs: (wait as u64).div_ceil(1000) });
        }
        let mut outcome = Err(DeviceError::WrongPin);
        for (key, salt) in crate::crypto::candidate_keys(path, pin)? {
            outcome = Self::open_with(path, Some(&key)).map(|d| (d, salt));
            if !matches!(outcome, Err(DeviceError::WrongPin)) {
                break;
            }
        }
        match outcome {
            Ok((device, salt)) => {
                PinAttempts::clear(path)?;
                crate::crypto::settle_salt(path, &salt)?;
                // A database keyed under older parameters is re-keyed under the current ones. A
                // re-key that fails never keeps the worker out: it is tried at the next unlock.
                match crate::crypto::upgrade_key(path, pin, &salt, |key| store::rekey(&device.lock().conn, key)) {
                    Ok(true) => tracing::info!("device database re-keyed under the current key-derivation parameters"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "device database not re-keyed; trying again at the next unlock")
                    }
                }
                Ok(device)
            }
            Err(DeviceError::WrongPin) => {
                if PinAttempts::failed(path, now)? >= WIPE_AFTER {
                    wipe(path)?;
                    tracing::warn!("too many wrong PINs: the device's data was wiped");
                    return Err(DeviceError::Wiped);
                }
                Err(DeviceError::WrongPin)
            }
            Err(e) => Err(e),
        }
    }

    fn open_with(path: &Path, key: Option<&crate::crypto::DbKey>) -> Result<Device> {
        let conn = store::open(path, key)?;
        let identity: Option<Identity> =
            store::get_meta(&conn, "identity")?.and_then(|s| serde_json::from_str(&s).ok());
        let http = crate::client::http_client_trusting(identity.as_ref().and_then(|i| i.server_ca.as_deref()))?;
        Ok(Device {
            inner: Mutex::new(Inner { conn, docs: HashMap::new(), identity }),
            path: path.to_path_buf(),
            http: RwLock::new(http),
            sync_lock: tokio::sync::Mutex::new(()),
            link: crate::link::Link::default(),
            progress: tokio::sync::watch::Sender::new(None),
            interrupted: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Erases everything this device holds: the database is closed (an empty one in memory
    /// takes its place, so every read answers empty and nothing is enrolled) and its files are
    /// removed with their salt and PIN count ([`crate::crypto::wipe`]).
    pub(crate) fn erase(&self) -> Result<()> {
        let mut inner = self.lock();
        let empty = store::open(Path::new(":memory:"), None)?;
        let file = std::mem::replace(&mut inner.conn, empty);
        inner.docs.clear();
        inner.identity = None;
        // The files go whatever closing says (on Linux and Android an open file can be removed).
        if let Err((_, e)) = file.close() {
            tracing::warn!(error = %e, "device database not closed cleanly before its erasure");
        }
        crate::crypto::wipe(&self.path)
    }

    /// Stops a running sync at its next step (a round, a range piece, a photo) with
    /// [`DeviceError::Interrupted`]; for a handle the app is giving up. What it stored stays.
    pub fn interrupt(&self) {
        self.interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn check_interrupted(&self) -> Result<()> {
        if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DeviceError::Interrupted);
        }
        Ok(())
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the SQLite state consistent (transactions roll
        // back), so a poisoned lock is safe to take over.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The HTTP client for the county server (cheap to clone).
    pub(crate) fn http(&self) -> reqwest::Client {
        self.http.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn identity(&self) -> Option<Identity> {
        self.lock().identity.clone()
    }

    /// Exchanges a one-time enrolment code for a device token.
    pub async fn enrol(&self, server: &str, code: &str, device_name: &str) -> Result<Identity> {
        self.enrol_with_ca(server, code, device_name, None).await
    }

    /// Like [`Device::enrol`], for a county whose server certificate comes from its own
    /// certificate authority: `server_ca` (PEM) is trusted for this and every later request.
    pub async fn enrol_with_ca(
        &self,
        server: &str,
        code: &str,
        device_name: &str,
        server_ca: Option<&str>,
    ) -> Result<Identity> {
        if self.lock().identity.is_some() {
            return Err(DeviceError::AlreadyEnrolled);
        }
        let identity = crate::client::request_enrolment_with_ca(server, code, device_name, server_ca).await?;
        self.adopt(identity.clone())?;
        Ok(identity)
    }

    /// Stores an identity obtained with [`request_enrolment`] (the app enrols before the worker
    /// has chosen the PIN that opens the database).
    pub fn adopt(&self, identity: Identity) -> Result<()> {
        crate::client::check_server_url(&identity.server)?;
        let http = crate::client::http_client_trusting(identity.server_ca.as_deref())?;
        let mut inner = self.lock();
        if inner.identity.is_some() {
            return Err(DeviceError::AlreadyEnrolled);
        }
        *self.http.write().unwrap_or_else(|p| p.into_inner()) = http;
        let tx = inner.conn.transaction()?;
        store::set_meta(&tx, "identity", &serde_json::to_string(&identity).unwrap_or_default())?;
        tx.commit()?;
        inner.identity = Some(identity);
        inner.docs.clear();
        Ok(())
    }

    fn edit(&self, doc: DocKey, record: Uuid, creating: bool, fields: Map<String, Value>) -> Result<()> {
        self.lock().apply_edit(&Edit { doc, record, creating, fields })
    }

    fn grid_key(&self, collection: Collection) -> Result<DocKey> {
        Ok(DocKey::new(self.lock().grid()?, collection))
    }

    /// A record as the document holds it (for checks and tests): `None` if absent.
    pub fn record_json(&self, key: DocKey, id: Uuid) -> Result<Option<Map<String, Value>>> {
        let mut inner = self.lock();
        let d = inner.doc(key)?;
        Ok(doc::read_record(d, key.collection, id))
    }

    /// Every document this device holds, saved (for comparing replicas in tests and tools).
    pub fn documents(&self) -> Result<Vec<(DocKey, Automerge)>> {
        let mut inner = self.lock();
        let keys = store::doc_keys(&inner.conn)?;
        let mut out = Vec::new();
        for k in keys {
            let d = inner.doc(k)?;
            out.push((k, d.clone()));
        }
        Ok(out)
    }
}

pub(crate) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
