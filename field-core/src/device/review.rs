//! What the worker reviews: conflicts to settle, refused edits to re-enter or discard, a
//! record's history, and the workbench's figures.

use automerge::ReadDoc;
use serde_json::{Map, Value, json};
use sync_protocol::app::{Quarantined, Workbench};
use sync_protocol::doc::{self, Conflict, DocKey, HistoryEntry};
use sync_protocol::schema::Collection;
use uuid::Uuid;

use super::{Device, now_ms, obj};
use crate::error::{DeviceError, Result};
use crate::store;

impl Device {
    // ---- conflicts, quarantine, history ----

    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        store::conflicts(&self.lock().conn)
    }

    /// Settles a conflict by writing the chosen value over all concurrent ones.
    pub fn settle_conflict(&self, conflict: &Conflict, value: Value) -> Result<()> {
        let key = store::conflict_doc(&self.lock().conn, conflict.record, &conflict.field)?
            .ok_or_else(|| DeviceError::NotFound("no such open conflict".into()))?;
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
        store::quarantined(&self.lock().conn)
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
        if !store::delete_quarantined(&self.lock().conn, id)? {
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

    /// The bytes of the changes waiting to be sent.
    pub fn outbox_bytes(&self) -> Result<u64> {
        store::pending_bytes(&self.lock().conn)
    }

    pub fn workbench(&self) -> Result<Workbench> {
        let inner = self.lock();
        let c = &inner.conn;
        let counts = store::counts(c, DocKey::month_start_ms(now_ms()))?;
        Ok(Workbench {
            grid: inner.identity.as_ref().and_then(|i| i.grids.first().cloned()),
            residents: counts.residents,
            houses: counts.houses,
            houses_not_visited_this_month: counts.houses_not_visited,
            open_disputes: counts.open_disputes,
            pending_changes: store::pending_count(c)?,
            open_conflicts: counts.open_conflicts,
            quarantined: store::quarantined_count(c)?,
            last_sync_at: store::get_meta(c, "last_sync_at")?.and_then(|s| s.parse().ok()),
            unread: store::unread_count(c)?,
        })
    }

    /// Stores an edit without validating it, as an older app version with laxer checks would.
    /// Only for tests of the server's refusals and the quarantine.
    #[cfg(feature = "test-support")]
    pub fn push_unvalidated(&self, edit: &sync_protocol::doc::Edit) -> Result<()> {
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
        let rows = super::project(&inner.docs[&edit.doc], edit.doc, &[edit.record])?;
        let tx = inner.conn.transaction()?;
        store::append_chunk(&tx, &edit.doc, change.raw_bytes())?;
        store::push_outbox(&tx, &edit.doc, &change.hash().0, change.raw_bytes(), edit, now_ms())?;
        store::write_rows(&tx, &rows)?;
        tx.commit()?;
        Ok(())
    }
}
