//! Edits into changes: a worker's edit, many new records at once (imports), and untrusted bytes
//! into a change.

use std::collections::{BTreeSet, HashMap};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, Change, ObjId as ExId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::RecordId;
use crate::error::{DocError, ValidationCode, ValidationError};
use crate::org::Author;
use crate::schema::{self, Collection, FieldDef, Kind};

use super::*;

fn json_to_scalar(kind: Kind, v: &Json) -> Option<ScalarValue> {
    Some(match (kind, v) {
        (Kind::Timestamp, Json::Number(n)) => ScalarValue::Timestamp(n.as_i64()?),
        (Kind::Float { .. }, Json::Number(n)) => ScalarValue::F64(n.as_f64()?),
        (Kind::Bool, Json::Bool(b)) => ScalarValue::Boolean(*b),
        (_, Json::String(s)) => ScalarValue::Str(s.as_str().into()),
        _ => return None,
    })
}

/// A new record as one Automerge value tree, so it is written with one batch insertion rather
/// than one splice per field (about 15 times faster for an 814-record import).
fn record_tree(defs: &[FieldDef], fields: &Map<String, Json>) -> Result<automerge::hydrate::Value, DocError> {
    use automerge::hydrate::Value as H;
    let mut map: HashMap<String, H> = HashMap::new();
    for (k, v) in fields {
        if k == "id" || v.is_null() {
            continue;
        }
        let Some(def) = defs.iter().find(|d| d.name == k) else {
            continue;
        };
        let value = match def.kind {
            Kind::Set(_) => H::Map(automerge::hydrate::Map::from(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                    .map(|item| (item.to_string(), H::Scalar(ScalarValue::Boolean(true))))
                    .collect::<HashMap<String, H>>(),
            )),
            Kind::Object(sub) => match v.as_object() {
                Some(o) => record_tree(sub, o)?,
                None => H::map(),
            },
            Kind::Entries(sub) => {
                let mut entries: HashMap<String, H> = HashMap::new();
                for e in v.as_array().into_iter().flatten().filter_map(Json::as_object) {
                    if let Some(id) = e.get("id").and_then(Json::as_str) {
                        entries.insert(id.to_string(), record_tree(sub, e)?);
                    }
                }
                H::Map(automerge::hydrate::Map::from(entries))
            }
            kind => H::Scalar(json_to_scalar(kind, v).ok_or_else(|| {
                DocError::from(ValidationError::new(
                    ValidationCode::WrongType,
                    None,
                    k.clone(),
                    format!("{k} 的类型不对"),
                ))
            })?),
        };
        map.insert(k.clone(), value);
    }
    // Every container exists from the start, so later edits only write inside it.
    for def in defs {
        if matches!(def.kind, Kind::Set(_) | Kind::Entries(_)) && !map.contains_key(def.name) {
            map.insert(def.name.to_string(), H::map());
        }
    }
    Ok(H::Map(automerge::hydrate::Map::from(map)))
}

fn write_object<T: Transactable>(
    tx: &mut T,
    obj: &ExId,
    defs: &[FieldDef],
    fields: &Map<String, Json>,
    creating: bool,
) -> Result<(), DocError> {
    for (k, v) in fields {
        if k == "id" {
            continue;
        }
        let Some(def) = defs.iter().find(|d| d.name == k) else {
            continue;
        };
        match def.kind {
            Kind::Set(_) => {
                let set = match (creating, tx.get(obj, k.as_str())?) {
                    (false, Some((Value::Object(ObjType::Map), id))) => id,
                    _ => tx.put_object(obj, k.as_str(), ObjType::Map)?,
                };
                let wanted: BTreeSet<&str> = v.as_array().into_iter().flatten().filter_map(Json::as_str).collect();
                let present: Vec<String> = tx.keys(&set).collect();
                for p in &present {
                    if !wanted.contains(p.as_str()) {
                        tx.delete(&set, p.as_str())?;
                    }
                }
                for w in wanted {
                    if !present.iter().any(|p| p == w) {
                        tx.put(&set, w, true)?;
                    }
                }
            }
            Kind::Object(sub) => {
                let o = match (creating, tx.get(obj, k.as_str())?) {
                    (false, Some((Value::Object(ObjType::Map), id))) => id,
                    _ => tx.put_object(obj, k.as_str(), ObjType::Map)?,
                };
                if let Some(m) = v.as_object() {
                    write_object(tx, &o, sub, m, creating)?;
                }
            }
            Kind::Entries(sub) => {
                let list = match (creating, tx.get(obj, k.as_str())?) {
                    (false, Some((Value::Object(ObjType::Map), id))) => id,
                    _ => tx.put_object(obj, k.as_str(), ObjType::Map)?,
                };
                for entry in v.as_array().into_iter().flatten().filter_map(Json::as_object) {
                    let Some(eid) = entry.get("id").and_then(Json::as_str) else {
                        continue;
                    };
                    let e = tx.put_object(&list, eid, ObjType::Map)?;
                    write_object(tx, &e, sub, entry, true)?;
                }
            }
            kind => match json_to_scalar(kind, v) {
                Some(s) => tx.put(obj, k.as_str(), s)?,
                None if v.is_null() => {
                    if tx.get(obj, k.as_str())?.is_some() {
                        tx.delete(obj, k.as_str())?;
                    }
                }
                None => {
                    return Err(ValidationError::new(
                        ValidationCode::WrongType,
                        None,
                        k.clone(),
                        format!("{k} 的类型不对"),
                    )
                    .into());
                }
            },
        }
    }
    Ok(())
}

/// One edit as the worker made it, kept in the device's outbox so it can be re-entered if the
/// change that carried it is refused or orphaned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Edit {
    pub doc: DocKey,
    pub record: RecordId,
    pub creating: bool,
    /// Whole record when creating; otherwise the fields to set (`null` clears, sets are replaced,
    /// entries are appended).
    pub fields: Map<String, Json>,
}

/// Makes the change for an edit without touching `doc`: validates the edit, writes it on a fork
/// and validates the resulting change with [`validate_change`], exactly as the server will.
/// (The device goes through [`crate::pipeline::commit_edit`], which validates the change once,
/// in the pipeline's own order.)
pub fn make_change(
    doc: &Automerge,
    actor: ActorId,
    edit: &Edit,
    author: &Author,
    time_ms: i64,
) -> Result<Option<Change>, DocError> {
    let Some(change) = write_edit(doc, actor, edit, author, time_ms)? else { return Ok(None) };
    validate_change(doc, edit.doc.collection, &change, author)?;
    Ok(Some(change))
}

/// Validates an edit's fields and writes it on a fork of `doc` into a change, which is not yet
/// validated as a change (see [`make_change`]). `None` when the record already holds the values.
pub fn write_edit(
    doc: &Automerge,
    actor: ActorId,
    edit: &Edit,
    author: &Author,
    time_ms: i64,
) -> Result<Option<Change>, DocError> {
    if !edit.doc.is_valid() {
        return Err(ValidationError::new(ValidationCode::ForeignDocument, Some(edit.record), "", "文档键无效").into());
    }
    let exists = doc.get(ROOT, edit.record.to_string())?.is_some();
    if edit.creating && exists {
        return Err(ValidationError::new(ValidationCode::RecordExists, Some(edit.record), "", "记录已存在").into());
    }
    if !edit.creating && !exists {
        return Err(ValidationError::new(ValidationCode::RecordMissing, Some(edit.record), "", "记录不存在").into());
    }
    let current = if edit.creating { None } else { read_record(doc, edit.doc.collection, edit.record) };
    schema::validate_record_change(edit.doc.collection, edit.record, &edit.fields, current.as_ref(), author)?;
    let mut fork = doc.fork().with_actor(actor);
    let key = edit.record.to_string();
    let mut tx = fork.transaction();
    let obj = if edit.creating {
        tx.batch_create_object(ROOT, key.as_str(), &record_tree(edit.doc.collection.fields(), &edit.fields)?, false)?
    } else {
        tx.get(ROOT, key.as_str())?.map(|(_, id)| id).ok_or_else(|| DocError::Corrupt("record vanished".into()))?
    };
    if !edit.creating {
        write_object(&mut tx, &obj, edit.doc.collection.fields(), &edit.fields, false)?;
    }
    let meta = ChangeMeta { account: author.account, device: author.device };
    let (hash, _) = tx.commit_with(CommitOptions::default().with_message(meta.message()).with_time(time_ms));
    // Writing values a record already has makes no change at all: nothing to store or send.
    let Some(hash) = hash else { return Ok(None) };
    let change =
        fork.get_change_by_hash(&hash).ok_or_else(|| DocError::Corrupt("committed change not found".into()))?;
    Ok(Some(change))
}

/// Creates many records in one change (imports, the demo county). Each record is validated as
/// a creation by `author`; nothing is written unless all are valid.
pub fn bulk_create(
    doc: &Automerge,
    actor: ActorId,
    collection: Collection,
    records: &[(RecordId, Map<String, Json>)],
    author: &Author,
    time_ms: i64,
) -> Result<Option<Change>, DocError> {
    for (id, fields) in records {
        if doc.get(ROOT, id.to_string())?.is_some() {
            return Err(ValidationError::new(ValidationCode::RecordExists, Some(*id), "", "记录已存在").into());
        }
        schema::validate_record_change(collection, *id, fields, None, author)?;
    }
    if records.is_empty() {
        return Ok(None);
    }
    let mut fork = doc.fork().with_actor(actor);
    let mut tx = fork.transaction();
    for (id, fields) in records {
        tx.batch_create_object(ROOT, id.to_string(), &record_tree(collection.fields(), fields)?, false)?;
    }
    let meta = ChangeMeta { account: author.account, device: author.device };
    tx.commit_with(CommitOptions::default().with_message(meta.message()).with_time(time_ms));
    Ok(fork.get_last_local_change())
}

/// Parses a change from untrusted bytes. automerge 0.12 panics on some malformed changes (an
/// operation counter beyond 32 bits, found by fuzzing) instead of returning an error; here that
/// is `None`, like any other bytes that are not a change.
///
/// Only a plain change chunk whose columns declare bounded work is handed to Automerge
/// (`chunk.rs`, `within_op_limit`: other chunks, and changes declaring more, cost out of proportion
/// to their size, and devices never send them).
pub fn parse_change(bytes: &[u8]) -> Option<Change> {
    if !chunk::within_op_limit(bytes) {
        return None;
    }
    let change = std::panic::catch_unwind(|| Change::try_from(bytes).ok()).ok().flatten()?;
    (change.len() <= MAX_CHANGE_OPS).then_some(change)
}
