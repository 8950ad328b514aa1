//! The device: what the field app (and the command-line device) calls. Everything works
//! offline; [`Device::sync`] talks to the county server when it can.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use automerge::{Automerge, ReadDoc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sync_protocol::doc::{self, Conflict, DocKey, Edit, HistoryEntry};
use sync_protocol::model::{Action, Dispute, FiveClears, House, Party, Record, Resident, ResidentSummary, Visit};
use sync_protocol::org::{Author, Role};
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
    pub account: AccountInfo,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub node: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridInfo {
    pub id: Uuid,
    pub name: String,
    pub township: String,
    pub village: String,
}

/// A search over the grid's residents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResidentQuery {
    /// A name or part of one, pinyin initials ("zs"), or the last digits of the ID number.
    pub q: Option<String>,
    pub category: Option<String>,
    pub house: Option<Uuid>,
    #[serde(default)]
    pub include_archived: bool,
}

/// A dispute as the worker reports it on the spot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewDispute {
    pub class: String,
    pub category: String,
    pub parties: Vec<NewParty>,
    pub place: String,
    pub description: String,
    /// When it was found; defaults to now.
    pub discovered_at: Option<i64>,
    #[serde(default)]
    pub photos: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewParty {
    pub resident_id: Option<Uuid>,
    pub name: String,
}

/// A household visit as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewVisit {
    pub house_id: Uuid,
    pub resident_id: Option<Uuid>,
    pub at: Option<i64>,
    pub clears: FiveClears,
    pub needs: Option<String>,
    pub hazards_found: Option<String>,
    pub dispute_id: Option<Uuid>,
}

/// An edit the server refused, kept for the worker to see and re-enter or discard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quarantined {
    pub id: i64,
    pub edit: Edit,
    pub code: String,
    pub record: Option<Uuid>,
    pub field: String,
    pub message: String,
    pub at: i64,
}

/// The workbench figures (工作台).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workbench {
    pub grid: Option<GridInfo>,
    pub residents: u64,
    pub houses: u64,
    pub houses_not_visited_this_month: u64,
    pub open_disputes: u64,
    pub pending_changes: u64,
    pub open_conflicts: u64,
    pub quarantined: u64,
    pub last_sync_at: Option<i64>,
}

pub(crate) struct Inner {
    pub conn: Connection,
    pub docs: HashMap<DocKey, Automerge>,
    pub identity: Option<Identity>,
}

/// The device library's entry point. Cheap to share behind an `Arc`.
pub struct Device {
    pub(crate) inner: Mutex<Inner>,
    /// Replaced when an identity trusting a county's own CA is adopted.
    http: RwLock<reqwest::Client>,
    /// One sync at a time: a background sync and a tap on "sync now" must not interleave their
    /// answers (positions would move backwards).
    pub(crate) sync_lock: tokio::sync::Mutex<()>,
}

/// Quarantine code of an edit waiting to be re-entered after its change was orphaned.
pub(crate) const REENTERING: &str = "reentering";

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Inner {
    pub fn identity(&self) -> Result<&Identity> {
        self.identity.as_ref().ok_or(DeviceError::NotEnrolled)
    }

    pub fn author(&self) -> Result<Author> {
        let id = self.identity()?;
        Ok(Author { account: id.account.id, device: id.device_id, role: id.account.role })
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
        let change = {
            let d = self.doc(edit.doc)?;
            doc::make_change(d, actor, edit, &author, now_ms())?
        };
        let Some(change) = change else {
            // Nothing to change: the record already holds these values.
            if let Some(id) = quarantine_row {
                self.conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
            }
            return Ok(());
        };
        let result = (|| -> Result<()> {
            let d = self.docs.get_mut(&edit.doc).expect("loaded above");
            d.apply_changes([change.clone()]).map_err(|e| DeviceError::Document(e.to_string()))?;
            let d = self.docs.get(&edit.doc).expect("loaded above");
            let tx = self.conn.transaction()?;
            let chunks = store::append_chunk(&tx, &edit.doc, change.raw_bytes())?;
            if chunks > store::COMPACT_AFTER_CHUNKS {
                store::put_snapshot(&tx, &edit.doc, &d.save())?;
            }
            store::push_outbox(&tx, &edit.doc, &change.hash().0, change.raw_bytes(), edit, now_ms())?;
            write_rows(&tx, d, edit.doc, &[edit.record])?;
            if let Some(id) = quarantine_row {
                tx.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
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
        let rows: Vec<(i64, String)> = {
            let mut st = self.conn.prepare("SELECT id, edit FROM quarantine WHERE code = ?1 ORDER BY id")?;
            st.query_map([REENTERING], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut done = 0;
        for (id, edit) in rows {
            let Ok(edit) = serde_json::from_str::<Edit>(&edit) else { continue };
            match self.apply_edit_clearing(&edit, Some(id)) {
                Ok(()) => done += 1,
                Err(DeviceError::Invalid(v)) => {
                    self.conn.execute(
                        "UPDATE quarantine SET code = ?2, record = ?3, field = ?4, message = ?5 WHERE id = ?1",
                        rusqlite::params![id, v.code.as_str(), v.record.map(|r| r.to_string()), v.field, v.message],
                    )?;
                }
                Err(e) => tracing::warn!(error = %e, "re-entry postponed"),
            }
        }
        Ok(done)
    }
}

/// Rewrites the query rows (and open conflicts) of some records from a document, in one pass
/// over the document; rows of records the document no longer holds are dropped.
pub(crate) fn write_rows(tx: &rusqlite::Transaction<'_>, d: &Automerge, key: DocKey, ids: &[Uuid]) -> Result<()> {
    let only: std::collections::BTreeSet<Uuid> = ids.iter().copied().collect();
    let found = doc::read_records(d, key.collection, Some(&only));
    for id in ids {
        if !found.iter().any(|(f, _)| f == id) {
            // The record is gone (its creation was refused): drop its rows.
            for t in ["residents", "houses", "visits", "disputes"] {
                tx.execute(&format!("DELETE FROM {t} WHERE id = ?1"), [id.to_string()])?;
            }
        }
    }
    for (id, fields) in found {
        let bad = |e: serde_json::Error| DeviceError::Document(format!("record {id} does not fit its type: {e}"));
        match key.collection {
            Collection::Residents => store::write_resident(tx, &key, &Resident::from_fields(fields).map_err(bad)?)?,
            Collection::Houses => store::write_house(tx, &key, &House::from_fields(fields).map_err(bad)?)?,
            Collection::Visits => store::write_visit(tx, &key, &Visit::from_fields(fields).map_err(bad)?)?,
            Collection::Disputes => store::write_dispute(tx, &key, &Dispute::from_fields(fields).map_err(bad)?)?,
        }
    }
    let mut by_record: HashMap<Uuid, Vec<Conflict>> = HashMap::new();
    for c in doc::conflicts_of(d, key.collection, Some(&only)) {
        by_record.entry(c.record).or_default().push(c);
    }
    for id in ids {
        store::write_conflicts(tx, &key, id, &by_record.remove(id).unwrap_or_default())?;
    }
    Ok(())
}

impl Device {
    /// Opens (or creates) the device database at `path`.
    pub fn open(path: &Path) -> Result<Device> {
        Self::open_with(path, None)
    }

    /// Opens the device database encrypted with a key derived from the worker's PIN (created on
    /// first use). A wrong PIN gives [`DeviceError::WrongPin`] and changes nothing.
    pub fn open_encrypted(path: &Path, pin: &str) -> Result<Device> {
        let key = crate::crypto::derive_key(path, pin)?;
        Self::open_with(path, Some(&key))
    }

    fn open_with(path: &Path, key: Option<&crate::crypto::DbKey>) -> Result<Device> {
        let conn = store::open(path, key)?;
        let identity: Option<Identity> =
            store::get_meta(&conn, "identity")?.and_then(|s| serde_json::from_str(&s).ok());
        let http = crate::client::http_client_trusting(identity.as_ref().and_then(|i| i.server_ca.as_deref()))?;
        Ok(Device {
            inner: Mutex::new(Inner { conn, docs: HashMap::new(), identity }),
            http: RwLock::new(http),
            sync_lock: tokio::sync::Mutex::new(()),
        })
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
        let identity = request_enrolment_with_ca(server, code, device_name, server_ca).await?;
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

    // ---- residents (实有人口) ----

    pub fn create_resident(&self, r: &Resident) -> Result<()> {
        self.edit(self.grid_key(Collection::Residents)?, r.id, true, r.to_fields())
    }

    /// Sets some fields of a resident (`null` clears one).
    pub fn update_resident(&self, id: Uuid, fields: Map<String, Value>) -> Result<()> {
        self.edit(self.grid_key(Collection::Residents)?, id, false, fields)
    }

    /// Archives a resident who moved away or died; the record stays.
    pub fn archive_resident(&self, id: Uuid, reason: &str, on: &str) -> Result<()> {
        self.update_resident(id, obj(json!({"archived_reason": reason, "archived_on": on})))
    }

    /// Who lives where (人房关联): moves a resident into a house, or out of any with `None`.
    pub fn move_resident(&self, id: Uuid, house: Option<Uuid>) -> Result<()> {
        self.update_resident(id, obj(json!({"house_id": house.map(|h| h.to_string())})))
    }

    pub fn residents(&self, q: &ResidentQuery) -> Result<Vec<ResidentSummary>> {
        let inner = self.lock();
        let mut sql = String::from("SELECT data FROM residents WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        let mut add = |sql: &mut String, frag: &str, v: String| {
            args.push(v);
            sql.push_str(&frag.replace('?', &format!("?{}", args.len())));
        };
        if !q.include_archived {
            sql.push_str(" AND archived = 0");
        }
        if let Some(c) = q.category.as_deref().filter(|c| !c.is_empty()) {
            add(&mut sql, " AND categories LIKE ?", format!("%,{c},%"));
        }
        if let Some(h) = q.house {
            add(&mut sql, " AND house_id = ?", h.to_string());
        }
        if let Some(term) = q.q.as_deref().and_then(sync_protocol::search::SearchTerm::parse) {
            let (column, pattern) = term.column_and_pattern();
            add(&mut sql, &format!(" AND {column} LIKE ?"), pattern);
        }
        sql.push_str(" ORDER BY name");
        let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        let list: Vec<Resident> = store::query_json(&inner.conn, &sql, &params)?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// A full resident record (unmasked), for the detail screen.
    pub fn resident(&self, id: Uuid) -> Result<Resident> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM residents WHERE id = ?1", &[&id.to_string()])?
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::NotFound(format!("resident {id}")))
    }

    // ---- houses (实有房屋) ----

    pub fn create_house(&self, h: &House) -> Result<()> {
        self.edit(self.grid_key(Collection::Houses)?, h.id, true, h.to_fields())
    }

    pub fn update_house(&self, id: Uuid, fields: Map<String, Value>) -> Result<()> {
        self.edit(self.grid_key(Collection::Houses)?, id, false, fields)
    }

    pub fn houses(&self) -> Result<Vec<House>> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM houses WHERE archived = 0 ORDER BY address", &[])
    }

    pub fn house(&self, id: Uuid) -> Result<House> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM houses WHERE id = ?1", &[&id.to_string()])?
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::NotFound(format!("house {id}")))
    }

    // ---- visits (入户走访) ----

    /// Records a household visit by this account; returns its id.
    pub fn record_visit(&self, v: &NewVisit) -> Result<Uuid> {
        let (grid, account) = {
            let inner = self.lock();
            (inner.grid()?, inner.identity()?.account.id)
        };
        let at = v.at.unwrap_or_else(now_ms);
        let visit = Visit {
            id: Uuid::now_v7(),
            house_id: v.house_id,
            resident_id: v.resident_id,
            at,
            by: account,
            clears: v.clears.clone(),
            needs: v.needs.clone().filter(|s| !s.is_empty()),
            hazards_found: v.hazards_found.clone().filter(|s| !s.is_empty()),
            dispute_id: v.dispute_id,
        };
        self.edit(DocKey::visits(grid, DocKey::month_of(at)), visit.id, true, visit.to_fields())?;
        Ok(visit.id)
    }

    pub fn visits(&self, since_ms: i64) -> Result<Vec<Visit>> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM visits WHERE at >= ?1 ORDER BY at DESC", &[&since_ms])
    }

    // ---- disputes (矛盾纠纷/事件) ----

    /// Reports a dispute on the spot: discovery and report times are both recorded.
    pub fn report_dispute(&self, d: &NewDispute) -> Result<Uuid> {
        let (grid, account, role) = {
            let inner = self.lock();
            let id = inner.identity()?;
            (inner.grid()?, id.account.id, id.account.role)
        };
        let now = now_ms();
        let dispute = Dispute {
            id: Uuid::now_v7(),
            class: d.class.clone(),
            category: d.category.clone(),
            parties: d
                .parties
                .iter()
                .map(|p| Party { id: Uuid::now_v7(), resident_id: p.resident_id, name: p.name.clone() })
                .collect(),
            place: d.place.clone(),
            description: d.description.clone(),
            discovered_at: d.discovered_at.unwrap_or(now).min(now),
            reported_at: now,
            reported_by: account,
            actions: vec![Action {
                id: Uuid::now_v7(),
                kind: "report".into(),
                actor: account,
                level: role.level().as_str().into(),
                at: now,
                to_level: None,
                note: d.note.clone().filter(|s| !s.is_empty()),
            }],
            photos: d.photos.clone(),
        };
        self.edit(DocKey::new(grid, Collection::Disputes), dispute.id, true, dispute.to_fields())?;
        Ok(dispute.id)
    }

    /// Adds an action (intervene, mediate, escalate, assign, supervise, resolve, evaluate).
    pub fn add_dispute_action(
        &self,
        dispute: Uuid,
        kind: &str,
        to_level: Option<&str>,
        note: Option<&str>,
    ) -> Result<()> {
        let (key, account, role) = {
            let mut inner = self.lock();
            let id = inner.identity()?.clone();
            let grid = self.dispute_grid(&mut inner, dispute)?;
            (DocKey::new(grid, Collection::Disputes), id.account.id, id.account.role)
        };
        let action = Action {
            id: Uuid::now_v7(),
            kind: kind.into(),
            actor: account,
            level: role.level().as_str().into(),
            at: now_ms(),
            to_level: to_level.map(Into::into),
            note: note.map(Into::into).filter(|s: &String| !s.is_empty()),
        };
        self.edit(key, dispute, false, obj(json!({"actions": [action]})))
    }

    fn dispute_grid(&self, inner: &mut Inner, dispute: Uuid) -> Result<Uuid> {
        let grid: Option<String> =
            inner.conn.query_row("SELECT grid FROM disputes WHERE id = ?1", [dispute.to_string()], |r| r.get(0)).ok();
        grid.and_then(|g| Uuid::parse_str(&g).ok()).ok_or_else(|| DeviceError::NotFound(format!("dispute {dispute}")))
    }

    pub fn disputes(&self, open_only: bool) -> Result<Vec<Dispute>> {
        let inner = self.lock();
        let sql = if open_only {
            "SELECT data FROM disputes WHERE open = 1 ORDER BY reported_at DESC"
        } else {
            "SELECT data FROM disputes ORDER BY reported_at DESC"
        };
        store::query_json(&inner.conn, sql, &[])
    }

    pub fn dispute(&self, id: Uuid) -> Result<Dispute> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM disputes WHERE id = ?1", &[&id.to_string()])?
            .into_iter()
            .next()
            .ok_or_else(|| DeviceError::NotFound(format!("dispute {id}")))
    }

    // ---- conflicts, quarantine, history ----

    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let inner = self.lock();
        store::query_json(&inner.conn, "SELECT data FROM conflicts ORDER BY record, field", &[])
    }

    /// Settles a conflict by writing the chosen value over all concurrent ones.
    pub fn settle_conflict(&self, conflict: &Conflict, value: Value) -> Result<()> {
        let key = {
            let inner = self.lock();
            let k: String = inner
                .conn
                .query_row(
                    "SELECT doc_key FROM conflicts WHERE record = ?1 AND field = ?2",
                    [conflict.record.to_string(), conflict.field.clone()],
                    |r| r.get(0),
                )
                .map_err(|_| DeviceError::NotFound("no such open conflict".into()))?;
            k.parse::<DocKey>().map_err(DeviceError::Document)?
        };
        let mut path = conflict.field.split('.');
        let top = path.next().unwrap_or_default().to_string();
        let fields = match path.next() {
            None => obj(json!({ top: value })),
            Some(sub) => {
                // A field of a sub-object: write it through its parent.
                let current = {
                    let mut inner = self.lock();
                    let d = inner.doc(key)?;
                    doc::read_record(d, key.collection, conflict.record)
                        .and_then(|r| r.get(&top).cloned())
                        .unwrap_or(json!({}))
                };
                let mut o = current.as_object().cloned().unwrap_or_default();
                o.insert(sub.to_string(), value);
                obj(json!({ top: o }))
            }
        };
        self.edit(key, conflict.record, false, fields)
    }

    pub fn quarantine(&self) -> Result<Vec<Quarantined>> {
        let inner = self.lock();
        let mut st = inner.conn.prepare(
            "SELECT id, edit, code, record, field, message, at FROM quarantine WHERE code != 'reentering' ORDER BY id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, edit, code, record, field, message, at)| {
                Some(Quarantined {
                    id,
                    edit: serde_json::from_str(&edit).ok()?,
                    code,
                    record: record.and_then(|r| Uuid::parse_str(&r).ok()),
                    field,
                    message,
                    at,
                })
            })
            .collect())
    }

    /// Re-enters a quarantined edit, with corrected fields; it leaves the quarantine only if
    /// the new edit is valid and saved.
    pub fn reenter_quarantined(&self, id: i64, fields: Map<String, Value>) -> Result<()> {
        let item = self
            .quarantine()?
            .into_iter()
            .find(|q| q.id == id)
            .ok_or_else(|| DeviceError::NotFound(format!("quarantined edit {id}")))?;
        let mut edit = item.edit;
        edit.fields = fields;
        let mut inner = self.lock();
        // A refused creation may be re-entered as a creation only if the record is still absent.
        let exists = inner.doc(edit.doc)?.get(automerge::ROOT, edit.record.to_string()).ok().flatten().is_some();
        edit.creating = edit.creating && !exists;
        inner.apply_edit_clearing(&edit, Some(id))
    }

    pub fn discard_quarantined(&self, id: i64) -> Result<()> {
        let inner = self.lock();
        let n = inner.conn.execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(DeviceError::NotFound(format!("quarantined edit {id}")));
        }
        Ok(())
    }

    /// Every field change of a record, with who made it and when.
    pub fn history(&self, collection: Collection, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let mut inner = self.lock();
        let grid = inner.grid()?;
        let keys: Vec<DocKey> = if collection == Collection::Visits {
            store::doc_keys(&inner.conn)?
                .into_iter()
                .filter(|k| k.collection == Collection::Visits && k.grid == grid)
                .collect()
        } else {
            vec![DocKey::new(grid, collection)]
        };
        for key in keys {
            let d = inner.doc(key)?;
            let h = doc::history(d, id);
            if !h.is_empty() {
                return Ok(h);
            }
        }
        Ok(Vec::new())
    }

    pub fn pending_count(&self) -> Result<u64> {
        store::pending_count(&self.lock().conn)
    }

    pub fn workbench(&self) -> Result<Workbench> {
        let inner = self.lock();
        let grid = inner.identity.as_ref().and_then(|i| i.grids.first().cloned());
        let c = &inner.conn;
        let n = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64> {
            Ok(c.query_row(sql, args, |r| r.get::<_, i64>(0))? as u64)
        };
        let month_start = DocKey::month_start_ms(now_ms());
        Ok(Workbench {
            grid,
            residents: n("SELECT COUNT(*) FROM residents WHERE archived = 0", &[])?,
            houses: n("SELECT COUNT(*) FROM houses WHERE archived = 0", &[])?,
            houses_not_visited_this_month: n(
                "SELECT COUNT(*) FROM houses h WHERE archived = 0 AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.house_id = h.id AND v.at >= ?1)",
                &[&month_start],
            )?,
            open_disputes: n("SELECT COUNT(*) FROM disputes WHERE open = 1", &[])?,
            pending_changes: n("SELECT COUNT(*) FROM outbox", &[])?,
            open_conflicts: n("SELECT COUNT(*) FROM conflicts", &[])?,
            quarantined: n("SELECT COUNT(*) FROM quarantine WHERE code != 'reentering'", &[])?,
            last_sync_at: store::get_meta(c, "last_sync_at")?.and_then(|s| s.parse().ok()),
        })
    }

    /// Stores an edit without validating it, as an older app version with laxer checks would.
    /// Only for tests of the server's refusals and the quarantine.
    #[cfg(feature = "test-support")]
    pub fn push_unvalidated(&self, edit: &Edit) -> Result<()> {
        use automerge::transaction::Transactable;
        let mut guard = self.lock();
        let inner = &mut *guard;
        let author = inner.author()?;
        let actor = inner.actor()?;
        let d = inner.doc(edit.doc)?;
        let mut fork = d.fork().with_actor(actor);
        let mut tx = fork.transaction();
        let obj = if edit.creating {
            tx.put_object(automerge::ROOT, edit.record.to_string(), automerge::ObjType::Map)
                .map_err(|e| DeviceError::Document(e.to_string()))?
        } else {
            tx.get(automerge::ROOT, edit.record.to_string())
                .ok()
                .flatten()
                .map(|(_, id)| id)
                .ok_or_else(|| DeviceError::NotFound("record".into()))?
        };
        for (k, v) in edit.fields.iter().filter(|(k, _)| k.as_str() != "id") {
            if let Some(s) = v.as_str() {
                tx.put(&obj, k.as_str(), s).map_err(|e| DeviceError::Document(e.to_string()))?;
            } else if let Some(a) = v.as_array() {
                let set = tx
                    .put_object(&obj, k.as_str(), automerge::ObjType::Map)
                    .map_err(|e| DeviceError::Document(e.to_string()))?;
                for item in a.iter().filter_map(Value::as_str) {
                    tx.put(&set, item, true).map_err(|e| DeviceError::Document(e.to_string()))?;
                }
            }
        }
        let meta = doc::ChangeMeta { account: author.account, device: author.device };
        tx.commit_with(
            automerge::transaction::CommitOptions::default().with_message(meta.message()).with_time(now_ms()),
        );
        let change = fork.get_last_local_change().ok_or_else(|| DeviceError::Document("nothing changed".into()))?;
        d.apply_changes([change.clone()]).map_err(|e| DeviceError::Document(e.to_string()))?;
        let d = inner.docs.get(&edit.doc).expect("loaded");
        let tx = inner.conn.transaction()?;
        store::append_chunk(&tx, &edit.doc, change.raw_bytes())?;
        store::push_outbox(&tx, &edit.doc, &change.hash().0, change.raw_bytes(), edit, now_ms())?;
        write_rows(&tx, d, edit.doc, &[edit.record])?;
        tx.commit()?;
        Ok(())
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

/// Exchanges a one-time enrolment code for a device token, without storing anything. The
/// address must be `https://`, or `http://` to this machine ([`crate::client::check_server_url`]).
pub async fn request_enrolment(
    http: &reqwest::Client,
    server: &str,
    code: &str,
    device_name: &str,
) -> Result<Identity> {
    let server = crate::client::check_server_url(server)?;
    let resp = http
        .post(format!("{server}/v1/enrol"))
        .json(&json!({"code": code, "device_name": device_name}))
        .send()
        .await
        .map_err(DeviceError::from)?;
    let resp = crate::client::check(resp).await?;
    #[derive(Deserialize)]
    struct Enrolled {
        device_id: Uuid,
        token: String,
        account: AccountInfo,
        grids: Vec<GridInfo>,
    }
    let e: Enrolled = resp.json().await.map_err(|e| DeviceError::Network(e.to_string()))?;
    Ok(Identity {
        server,
        device_id: e.device_id,
        token: e.token,
        account: e.account,
        grids: e.grids,
        epoch: 0,
        server_ca: None,
    })
}

/// Like [`request_enrolment`], trusting a county's own certificate authority (PEM) as well as
/// the usual roots; the identity keeps it for later requests.
pub async fn request_enrolment_with_ca(
    server: &str,
    code: &str,
    device_name: &str,
    server_ca: Option<&str>,
) -> Result<Identity> {
    // The address is checked before the client is even built: nothing goes out over plain http.
    crate::client::check_server_url(server)?;
    let http = crate::client::http_client_trusting(server_ca)?;
    let mut identity = request_enrolment(&http, server, code, device_name).await?;
    identity.server_ca = server_ca.map(str::to_string);
    Ok(identity)
}

/// An HTTP client with the device's timeouts.
pub fn http_client() -> Result<reqwest::Client> {
    crate::client::http_client_trusting(None)
}

pub(crate) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
