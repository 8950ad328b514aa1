//! Records out of a document, as JSON maps of their fields (one pass over an object).

use std::collections::BTreeSet;

use automerge::{ChangeHash, ObjId as ExId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::RecordId;
use crate::schema::{Collection, FieldDef, Kind};

use super::*;

/// Reads a record as JSON, or `None` if absent.
pub fn read_record<D: ReadDoc>(doc: &D, collection: Collection, id: RecordId) -> Option<Map<String, Json>> {
    let (_, obj) = doc.get(ROOT, id.to_string()).ok().flatten()?;
    let mut out = read_object(doc, &obj, collection.fields(), None);
    out.insert("id".into(), Json::String(id.to_string()));
    Some(out)
}

/// Reads a record as the document held it at `heads` (what the author of a change built on
/// those heads had seen), or `None` if it was absent then.
pub fn read_record_at<D: ReadDoc>(
    doc: &D,
    collection: Collection,
    id: RecordId,
    heads: &[ChangeHash],
) -> Option<Map<String, Json>> {
    let (_, obj) = doc.get_at(ROOT, id.to_string(), heads).ok().flatten()?;
    let mut out = read_object(doc, &obj, collection.fields(), Some(heads));
    out.insert("id".into(), Json::String(id.to_string()));
    Some(out)
}

/// Every record id in a document.
pub fn record_ids<D: ReadDoc>(doc: &D) -> Vec<RecordId> {
    doc.keys(ROOT).filter_map(|k| Uuid::parse_str(&k).ok()).collect()
}

pub(super) fn scalar_to_json(v: &ScalarValue) -> Json {
    match v {
        ScalarValue::Str(s) => Json::String(s.to_string()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        _ => Json::Null,
    }
}

pub(super) fn value_to_json<D: ReadDoc>(doc: &D, value: &Value<'_>, id: &ExId) -> Json {
    match value {
        Value::Scalar(s) => scalar_to_json(s),
        // JavaScript Automerge writes strings as Text unless told otherwise: read both.
        Value::Object(ObjType::Text) => Json::String(doc.text(id).unwrap_or_default()),
        Value::Object(_) => Json::Null,
    }
}

fn is_true(v: &Value<'_>) -> bool {
    matches!(v, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Boolean(true)))
}

/// Reads an object in one pass over its entries (a `get` per field would scan the object again
/// for each field).
fn read_object<D: ReadDoc>(doc: &D, obj: &ExId, defs: &[FieldDef], at: Option<&[ChangeHash]>) -> Map<String, Json> {
    let range = |obj: &ExId| match at {
        Some(heads) => doc.map_range_at(obj.clone(), .., heads),
        None => doc.map_range(obj.clone(), ..),
    };
    let mut out = Map::new();
    for item in range(obj) {
        let Some(def) = defs.iter().find(|d| d.name == item.key) else {
            continue;
        };
        let id = item.id();
        let value: Value<'static> = item.value.into();
        let json = match def.kind {
            Kind::Set(_) => Json::Array(
                range(&id)
                    .filter_map(|i| {
                        let key = i.key.to_string();
                        is_true(&i.value.into()).then_some(Json::String(key))
                    })
                    .collect(),
            ),
            Kind::Object(sub) => Json::Object(read_object(doc, &id, sub, at)),
            Kind::Entries(sub) => Json::Array(
                range(&id)
                    .map(|i| {
                        let mut e = read_object(doc, &i.id(), sub, at);
                        e.insert("id".into(), Json::String(i.key.to_string()));
                        Json::Object(e)
                    })
                    .collect(),
            ),
            _ => value_to_json(doc, &value, &id),
        };
        out.insert(def.name.to_string(), json);
    }
    out
}

/// Reads many records in one pass over the root: all of them, or those in `only`.
pub fn read_records<D: ReadDoc>(
    doc: &D,
    collection: Collection,
    only: Option<&BTreeSet<RecordId>>,
) -> Vec<(RecordId, Map<String, Json>)> {
    let mut out = Vec::new();
    if let Some(ids) = only.filter(|o| o.len() <= FEW_RECORDS) {
        for id in ids {
            if let Ok(Some((_, obj))) = doc.get(ROOT, id.to_string()) {
                let mut fields = read_object(doc, &obj, collection.fields(), None);
                fields.insert("id".into(), Json::String(id.to_string()));
                out.push((*id, fields));
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
        let mut fields = read_object(doc, &item.id(), collection.fields(), None);
        fields.insert("id".into(), Json::String(id.to_string()));
        out.push((id, fields));
    }
    out
}
