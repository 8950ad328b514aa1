//! Who changed what, when: a record's history, and the records that newly applied changes touched.

use std::collections::{BTreeSet, HashMap};

use automerge::{Automerge, ChangeHash, ObjId as ExId, ObjType, ROOT, ReadDoc, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::RecordId;

use super::read::scalar_to_json;
use super::*;

/// One field change in a record's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct HistoryEntry {
    pub at: i64,
    pub account: Option<Uuid>,
    pub device: Option<Uuid>,
    /// `created`, or the field path that was set or cleared.
    pub field: String,
    /// The value written (`null` for a clear or a removal).
    pub value: Json,
    /// The account's name and role, where whoever answers knows them (the server does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<crate::org::Account>,
}

fn collect_objects(doc: &Automerge, obj: &ExId, prefix: &str, out: &mut HashMap<String, String>) {
    for key in doc.keys(obj).collect::<Vec<_>>() {
        if let Ok(all) = doc.get_all(obj, key.as_str()) {
            for (v, id) in all {
                if let (Value::Object(ObjType::Map), ExId::Id(ctr, actor, _)) = (&v, &id) {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    out.insert(format!("{ctr}@{}", actor.to_hex_string()), path.clone());
                    collect_objects(doc, &id, &path, out);
                }
            }
        }
    }
}

/// Every field change of a record, oldest first, with who made it and when.
pub fn history(doc: &Automerge, record: RecordId) -> Vec<HistoryEntry> {
    let key = record.to_string();
    let Ok(Some((_, obj))) = doc.get(ROOT, key.as_str()) else {
        return Vec::new();
    };
    let mut objects = HashMap::new();
    if let ExId::Id(ctr, actor, _) = &obj {
        objects.insert(format!("{ctr}@{}", actor.to_hex_string()), String::new());
    }
    collect_objects(doc, &obj, "", &mut objects);
    let mut out = Vec::new();
    for change in doc.get_changes(&[]) {
        let meta = ChangeMeta::parse(change.message());
        let push = |out: &mut Vec<HistoryEntry>, field: String, value: Json| {
            out.push(HistoryEntry {
                at: change.timestamp(),
                account: meta.map(|m| m.account),
                device: meta.map(|m| m.device),
                field,
                value,
                by: None,
            })
        };
        let expanded = change.decode();
        for op in &expanded.operations {
            let automerge::legacy::Key::Map(k) = &op.key else {
                continue;
            };
            let prefix = match &op.obj {
                automerge::legacy::ObjectId::Root => {
                    if k.as_str() == key {
                        push(&mut out, "created".into(), Json::Null);
                    }
                    continue;
                }
                automerge::legacy::ObjectId::Id(id) => {
                    match objects.get(&format!("{}@{}", id.0, id.1.to_hex_string())) {
                        Some(p) => p,
                        None => continue,
                    }
                }
            };
            let field = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
            match &op.action {
                automerge::legacy::OpType::Put(v) => push(&mut out, field, scalar_to_json(v)),
                automerge::legacy::OpType::Delete => push(&mut out, field, Json::Null),
                _ => {}
            }
        }
    }
    out
}

/// The records a set of newly applied changes touched (those applied after `before`): every
/// operation names the record it writes, either as a root key or through the object it writes
/// into. Reading the operations, rather than diffing the document between the two heads, costs
/// in proportion to the new changes instead of the whole document, and also catches a value
/// written concurrently that does not win (which leaves the visible record as it was, yet adds
/// to its conflict).
pub fn touched_records(doc: &Automerge, before: &[ChangeHash]) -> Vec<RecordId> {
    let mut out = BTreeSet::new();
    for change in doc.get_changes(before) {
        for op in change.decode().operations {
            let record = match &op.obj {
                automerge::legacy::ObjectId::Root => match &op.key {
                    automerge::legacy::Key::Map(k) => Some(k.to_string()),
                    automerge::legacy::Key::Seq(_) => None,
                },
                automerge::legacy::ObjectId::Id(id) => doc
                    .import_obj(&format!("{}@{}", id.0, id.1.to_hex_string()))
                    .ok()
                    .and_then(|obj| doc.parents(&obj).ok())
                    .and_then(|parents| parents.last())
                    .and_then(|p| match p.prop {
                        automerge::Prop::Map(k) => Some(k),
                        automerge::Prop::Seq(_) => None,
                    }),
            };
            if let Some(id) = record.and_then(|k| Uuid::parse_str(&k).ok()) {
                out.insert(id);
            }
        }
    }
    out.into_iter().collect()
}
