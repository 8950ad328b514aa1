//! Fields with several concurrent values, each with who wrote it and when, for a person to settle.

use std::collections::BTreeSet;

use automerge::{Automerge, ObjId as ExId, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::RecordId;
use crate::schema::{Collection, FieldDef, Kind};

use super::read::value_to_json;
use super::*;

/// One side of a conflict: a value and who wrote it, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ConflictValue {
    pub value: Json,
    pub account: Option<Uuid>,
    pub device: Option<Uuid>,
    /// Milliseconds since the epoch, as the writing device's clock had it.
    pub at: i64,
}

/// A field of a record with several concurrent values, to be settled by a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Conflict {
    pub collection: Collection,
    pub record: RecordId,
    /// `phone`, or `categories.floating`, or `clears.needs.status`.
    pub field: String,
    pub values: Vec<ConflictValue>,
}

fn authorship(doc: &Automerge, id: &ExId) -> (Option<Uuid>, Option<Uuid>, i64) {
    let Some(hash) = doc.hash_for_opid(id) else {
        return (None, None, 0);
    };
    let Some(meta) = doc.get_change_meta_by_hash(&hash) else {
        return (None, None, 0);
    };
    let m = ChangeMeta::parse(meta.message.as_deref());
    (m.map(|m| m.account), m.map(|m| m.device), meta.timestamp)
}

fn conflicts_in(
    doc: &Automerge,
    collection: Collection,
    record: RecordId,
    obj: &ExId,
    prefix: &str,
    defs: &[FieldDef],
    out: &mut Vec<Conflict>,
) {
    for item in doc.map_range(obj, ..) {
        let Some(def) = defs.iter().find(|d| d.name == item.key) else {
            continue;
        };
        let path = if prefix.is_empty() { def.name.to_string() } else { format!("{prefix}.{}", def.name) };
        if item.conflict
            && let Ok(values) = doc.get_all(obj, def.name)
        {
            let mut vs: Vec<ConflictValue> = values
                .iter()
                .map(|(v, id)| {
                    let (account, device, at) = authorship(doc, id);
                    ConflictValue { value: value_to_json(doc, v, id), account, device, at }
                })
                .collect();
            let distinct: BTreeSet<String> = vs.iter().map(|v| v.value.to_string()).collect();
            if distinct.len() > 1 {
                vs.sort_by_key(|v| v.at);
                out.push(Conflict { collection, record, field: path.clone(), values: vs });
            }
        }
        // Concurrent add and remove of a set item merge (the add wins): nothing to show there.
        if let Kind::Object(sub) = def.kind {
            conflicts_in(doc, collection, record, &item.id(), &path, sub, out);
        }
    }
}

/// Open conflicts of many records in one pass over the root: all, or those in `only`.
pub fn conflicts_of(doc: &Automerge, collection: Collection, only: Option<&BTreeSet<RecordId>>) -> Vec<Conflict> {
    let mut out = Vec::new();
    if let Some(ids) = only.filter(|o| o.len() <= FEW_RECORDS) {
        for id in ids {
            if let Ok(Some((_, obj))) = doc.get(ROOT, id.to_string()) {
                conflicts_in(doc, collection, *id, &obj, "", collection.fields(), &mut out);
            }
        }
        return out;
    }
    for item in doc.map_range(ROOT, ..) {
        let Ok(id) = Uuid::parse_str(&item.key) else {
            continue;
        };
        if only.is_some_and(|o| !o.contains(&id)) {
            continue;
        }
        conflicts_in(doc, collection, id, &item.id(), "", collection.fields(), &mut out);
    }
    out
}

/// Open conflicts of one record, or of the whole document.
pub fn conflicts(doc: &Automerge, collection: Collection, record: Option<RecordId>) -> Vec<Conflict> {
    let only: Option<BTreeSet<RecordId>> = record.map(|r| BTreeSet::from([r]));
    conflicts_of(doc, collection, only.as_ref())
}
