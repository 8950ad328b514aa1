//! The judgement of one change against the document it will be applied to: the layout (only
//! records at the root, containers made with their record, write-once evidence, append-only
//! entries), the scalar types, and the schema's rules for every record it touches, with the
//! author's rights. [`validate_change`] checks the change as a whole ([`decode_checked`]), then
//! walks its operations one by one ([`Walk::op`]: where each writes, then one method per kind of
//! place), and finally judges every record the change proposes ([`Walk::finish`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, Op, OpType};
use automerge::{ActorId, Automerge, Change, ChangeHash, ExpandedChange, ObjType, ROOT, ReadDoc, ScalarValue};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::RecordId;
use crate::error::{ValidationCode, ValidationError};
use crate::org::Author;
use crate::schema::{self, Collection, FieldDef, Kind};

use super::read::scalar_to_json;
use super::*;

/// What a valid change does: the records it creates or touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSummary {
    pub created: Vec<RecordId>,
    pub touched: Vec<RecordId>,
}

/// Where an operation writes.
#[derive(Clone)]
enum Place {
    Root,
    Record(RecordId),
    Field(RecordId, &'static FieldDef),
    /// A sub-object: the record, the container's field, the key inside it, and whether this
    /// change created it.
    Sub(RecordId, &'static FieldDef, String, bool),
    /// A field of an object one more level down (five-clears items, entries' fields).
    Leaf,
}

fn bad(code: ValidationCode, msg: &str) -> ValidationError {
    ValidationError::new(code, None, "", msg)
}

fn refuse(code: ValidationCode, rid: RecordId, field: impl Into<String>, msg: impl Into<String>) -> ValidationError {
    ValidationError::new(code, Some(rid), field, msg)
}

/// Validates a change against the document it will be applied to (which must hold its
/// dependencies), with the same schema rules the device applied, and the author's rights.
/// Nothing is applied.
pub fn validate_change(
    doc: &Automerge,
    collection: Collection,
    change: &Change,
    author: &Author,
) -> Result<ChangeSummary, ValidationError> {
    let expanded = decode_checked(doc, change)?;
    let mut walk = Walk {
        doc,
        collection,
        actor: expanded.actor_id.clone(),
        start: expanded.start_op.get(),
        local: HashMap::new(),
        proposed: BTreeMap::new(),
        resolved: HashMap::new(),
        written: HashSet::new(),
        deps: change.deps().to_vec(),
    };
    for (i, op) in expanded.operations.iter().enumerate() {
        walk.op(walk.start + i as u64, op)?;
    }
    walk.finish(author)
}

/// The change as a whole: its dependencies are in the document, its time is plausible, its
/// operations decode, and its bytes are Automerge's own encoding of them.
fn decode_checked(doc: &Automerge, change: &Change) -> Result<ExpandedChange, ValidationError> {
    if !doc.get_missing_deps(change.deps()).is_empty() {
        return Err(bad(ValidationCode::RecordMissing, "change depends on changes the document lacks"));
    }
    // A device clock centuries off is wrong, and automerge's column encoding overflows on
    // timestamps far from their neighbours' (found by fuzzing): 0 (no time given) .. 2100-01-01.
    if !(0..4_102_444_800_000).contains(&change.timestamp()) {
        return Err(bad(ValidationCode::OutOfRange, "the change's time is not plausible"));
    }
    // automerge 0.12's `decode` unwraps actor indices that `Change::try_from` never checked, so
    // crafted bytes panic there (found by fuzzing): such a change is refused, not a crash.
    let expanded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode()))
        .map_err(|_| bad(ValidationCode::UnsupportedOperation, "the change's operations cannot be decoded"))?;
    // The bytes must be Automerge's own encoding of what they hold, checksum included: a saved
    // document re-encodes its changes, so other bytes would come back under another hash and
    // orphan every change built on them, and a bad checksum stops other devices loading them.
    if Change::from(expanded.clone()).raw_bytes() != change.raw_bytes() {
        return Err(bad(ValidationCode::UnsupportedOperation, "the change is not in Automerge's own encoding"));
    }
    Ok(expanded)
}

/// The state of a walk over one change's operations.
struct Walk<'a> {
    doc: &'a Automerge,
    collection: Collection,
    actor: ActorId,
    start: u64,
    /// Objects created by this change: op id → where they live.
    local: HashMap<u64, Place>,
    /// Per record: whether it is created here, and the fields this change proposes.
    proposed: BTreeMap<RecordId, (bool, Map<String, Json>)>,
    /// Existing objects already located.
    resolved: HashMap<String, Place>,
    /// Each (object, key) may be written once per change: a second write would hide the first
    /// from the document while the validator had judged it.
    written: HashSet<(String, String)>,
    /// The heads the change was made on.
    deps: Vec<ChangeHash>,
}

impl Walk<'_> {
    fn op(&mut self, opid: u64, op: &Op) -> Result<(), ValidationError> {
        self.check_shape(op)?;
        let place = self.place_of(&op.obj)?;
        let key = match &op.key {
            Key::Map(k) => k.to_string(),
            Key::Seq(_) => {
                return Err(bad(ValidationCode::UnsupportedOperation, "sequence keys are not part of the layout"));
            }
        };
        match place {
            Place::Root => self.at_root(opid, key, &op.action),
            Place::Record(rid) => self.in_record(opid, rid, key, &op.action),
            Place::Field(rid, def) => self.in_container(opid, rid, def, key, &op.action),
            Place::Sub(rid, def, sub_key, created_here) => {
                self.in_sub_object(rid, def, &sub_key, created_here, key, &op.action)
            }
            Place::Leaf => Err(bad(ValidationCode::AppendOnly, "this value cannot be changed after it was written")),
        }
    }

    /// What no operation may do anywhere: insert into a list, write a key twice, store a value
    /// that is not a string, number, boolean or time.
    fn check_shape(&mut self, op: &Op) -> Result<(), ValidationError> {
        if op.insert {
            return Err(bad(ValidationCode::UnsupportedOperation, "list insertions are not part of the layout"));
        }
        if let Key::Map(k) = &op.key {
            let obj = match &op.obj {
                ObjectId::Root => "_root".to_string(),
                ObjectId::Id(id) => format!("{}@{}", id.0, id.1.to_hex_string()),
            };
            if !self.written.insert((obj, k.to_string())) {
                return Err(bad(ValidationCode::UnsupportedOperation, "a change writes the same key twice"));
            }
        }
        if let OpType::Put(v) = &op.action
            && !matches!(
                v,
                ScalarValue::Str(_)
                    | ScalarValue::Timestamp(_)
                    | ScalarValue::Boolean(_)
                    | ScalarValue::Int(_)
                    | ScalarValue::Uint(_)
            )
            && !matches!(v, ScalarValue::F64(f) if f.is_finite())
        {
            return Err(bad(ValidationCode::WrongType, "only strings, numbers, booleans and times are stored"));
        }
        Ok(())
    }

    /// Where an operation's object lives: the root, an object this change made, or one the
    /// document holds.
    fn place_of(&mut self, obj: &ObjectId) -> Result<Place, ValidationError> {
        match obj {
            ObjectId::Root => Ok(Place::Root),
            ObjectId::Id(id) if id.1 == self.actor && id.0 >= self.start => self
                .local
                .get(&id.0)
                .cloned()
                .ok_or_else(|| bad(ValidationCode::UnsupportedOperation, "unknown object")),
            ObjectId::Id(id) => {
                let s = format!("{}@{}", id.0, id.1.to_hex_string());
                if let Some(p) = self.resolved.get(&s) {
                    return Ok(p.clone());
                }
                let p = resolve_existing(self.doc, self.collection, &s)?;
                self.resolved.insert(s, p.clone());
                Ok(p)
            }
        }
    }

    /// At the root only new records are made (a map under a fresh UUID); nothing is deleted.
    fn at_root(&mut self, opid: u64, key: String, action: &OpType) -> Result<(), ValidationError> {
        match action {
            OpType::Make(ObjType::Map) => {
                let rid =
                    Uuid::parse_str(&key).map_err(|_| bad(ValidationCode::WrongType, "record keys must be UUIDs"))?;
                if self.doc.get(ROOT, key.as_str()).ok().flatten().is_some()
                    || self.proposed.get(&rid).is_some_and(|p| p.0)
                {
                    return Err(refuse(ValidationCode::RecordExists, rid, "", "记录已存在"));
                }
                self.proposed.insert(rid, (true, Map::new()));
                self.local.insert(opid, Place::Record(rid));
                Ok(())
            }
            OpType::Delete => Err(bad(ValidationCode::DeleteNotAllowed, "records are archived, never deleted")),
            _ => Err(bad(ValidationCode::UnsupportedOperation, "only records live at the root")),
        }
    }

    /// A record's own fields: scalars of the right type, cleared scalars, and containers made
    /// with the record.
    fn in_record(&mut self, opid: u64, rid: RecordId, key: String, action: &OpType) -> Result<(), ValidationError> {
        let def = self
            .collection
            .field(&key)
            .ok_or_else(|| refuse(ValidationCode::UnknownField, rid, key.clone(), format!("未知字段 {key}")))?;
        let entry = self.proposed.entry(rid).or_insert((false, Map::new()));
        match action {
            OpType::Put(v) if !def.kind.is_container() => {
                if !scalar_fits(def.kind, v) {
                    return Err(refuse(ValidationCode::WrongType, rid, key.clone(), format!("{key} 的类型不对")));
                }
                entry.1.insert(key, scalar_to_json(v));
            }
            OpType::Delete if !def.kind.is_container() => {
                entry.1.insert(key, Json::Null);
            }
            OpType::Make(ObjType::Map) if def.kind.is_container() => {
                if !entry.0 {
                    // Every container is made with its record; a new one on an existing record
                    // would hide the old one and what others added to it.
                    return Err(refuse(ValidationCode::AppendOnly, rid, key, "该字段只能在创建时写入"));
                }
                entry.1.insert(key, empty_container(def.kind));
                self.local.insert(opid, Place::Field(rid, def));
            }
            _ => return Err(refuse(ValidationCode::UnsupportedOperation, rid, key, "不支持的操作")),
        }
        Ok(())
    }

    /// Inside a record's container: set items added or removed, a sub-object's scalars (and
    /// its own sub-objects when the record is new), new entries appended.
    fn in_container(
        &mut self,
        opid: u64,
        rid: RecordId,
        def: &'static FieldDef,
        key: String,
        action: &OpType,
    ) -> Result<(), ValidationError> {
        let field = |key: &str| format!("{}.{key}", def.name);
        let entry = self.proposed.entry(rid).or_insert((false, Map::new()));
        let creating = entry.0;
        let slot = entry.1.entry(def.name.to_string()).or_insert_with(|| empty_container(def.kind));
        match (def.kind, action) {
            (Kind::Set(_), OpType::Put(ScalarValue::Boolean(true))) => {
                if let Some(a) = slot.as_array_mut() {
                    a.push(Json::String(key));
                }
            }
            (Kind::Set(_), OpType::Delete) => {}
            (Kind::Object(sub), OpType::Put(v)) => {
                let sd = sub
                    .iter()
                    .find(|d| d.name == key)
                    .ok_or_else(|| refuse(ValidationCode::UnknownField, rid, field(&key), "未知字段"))?;
                if sd.kind.is_container() || !scalar_fits(sd.kind, v) {
                    return Err(refuse(ValidationCode::WrongType, rid, field(&key), "类型不对"));
                }
                if let Some(o) = slot.as_object_mut() {
                    o.insert(key, scalar_to_json(v));
                }
            }
            (Kind::Object(sub), OpType::Make(ObjType::Map)) if creating => {
                let sd = sub
                    .iter()
                    .find(|d| d.name == key && matches!(d.kind, Kind::Object(_)))
                    .ok_or_else(|| refuse(ValidationCode::UnknownField, rid, field(&key), "未知字段"))?;
                if let Some(o) = slot.as_object_mut() {
                    o.insert(key.clone(), empty_container(sd.kind));
                }
                self.local.insert(opid, Place::Sub(rid, def, key, true));
            }
            (Kind::Entries(_), OpType::Make(ObjType::Map)) => {
                if entry_exists(self.doc, rid, def.name, &key) {
                    return Err(refuse(ValidationCode::AppendOnly, rid, def.name, "已有的处置记录不能改写"));
                }
                Uuid::parse_str(&key)
                    .map_err(|_| refuse(ValidationCode::WrongType, rid, def.name, "条目编号必须是UUID"))?;
                if let Some(a) = slot.as_array_mut() {
                    let mut m = Map::new();
                    m.insert("id".into(), Json::String(key.clone()));
                    a.push(Json::Object(m));
                }
                self.local.insert(opid, Place::Sub(rid, def, key, true));
            }
            (Kind::Entries(_), OpType::Delete) => {
                return Err(refuse(ValidationCode::AppendOnly, rid, def.name, "处置记录只能追加，不能删除"));
            }
            _ => return Err(refuse(ValidationCode::UnsupportedOperation, rid, def.name, "不支持的操作")),
        }
        Ok(())
    }

    /// Inside an entry or a sub-object this change made: scalars of the right type only.
    /// Entries and sub-objects that already exist are evidence and are never written again.
    fn in_sub_object(
        &mut self,
        rid: RecordId,
        def: &'static FieldDef,
        sub_key: &str,
        created_here: bool,
        key: String,
        action: &OpType,
    ) -> Result<(), ValidationError> {
        if !created_here {
            return Err(refuse(ValidationCode::AppendOnly, rid, def.name, "已提交的条目不能修改"));
        }
        let OpType::Put(v) = action else {
            return Err(refuse(ValidationCode::UnsupportedOperation, rid, def.name, "不支持的操作"));
        };
        let defs: &[FieldDef] = match def.kind {
            Kind::Entries(sub) => sub,
            Kind::Object(sub) => match sub.iter().find(|d| d.name == sub_key).map(|d| d.kind) {
                Some(Kind::Object(inner)) => inner,
                _ => &[],
            },
            _ => &[],
        };
        let fits =
            defs.iter().find(|d| d.name == key).is_some_and(|d| !d.kind.is_container() && scalar_fits(d.kind, v));
        if !fits {
            return Err(refuse(ValidationCode::WrongType, rid, format!("{}.{key}", def.name), "未知字段或类型不对"));
        }
        let entry = self.proposed.entry(rid).or_insert((false, Map::new()));
        let slot = entry.1.entry(def.name.to_string()).or_insert_with(|| empty_container(def.kind));
        let target = match slot {
            Json::Array(items) => items
                .iter_mut()
                .filter_map(Json::as_object_mut)
                .find(|o| o.get("id").and_then(Json::as_str) == Some(sub_key)),
            Json::Object(o) => o.get_mut(sub_key).and_then(Json::as_object_mut),
            _ => None,
        };
        if let Some(t) = target {
            t.insert(key, scalar_to_json(v));
        }
        Ok(())
    }

    /// Every record the change proposes, judged by the schema as it will be after the change,
    /// with the author's rights.
    fn finish(self, author: &Author) -> Result<ChangeSummary, ValidationError> {
        let mut summary = ChangeSummary::default();
        for (rid, (creating, fields)) in self.proposed {
            // A dispute's actions are judged against what their author had seen (the change's
            // dependencies), so that a concurrent action elsewhere never refuses an honest one:
            // the closed loop's rule lists the pair as a contradiction instead.
            let current = match (creating, self.collection) {
                (true, _) => None,
                (false, Collection::Disputes) => read_record_at(self.doc, self.collection, rid, &self.deps),
                (false, _) => read_record(self.doc, self.collection, rid),
            };
            if !creating && current.is_none() {
                return Err(refuse(ValidationCode::RecordMissing, rid, "", "记录不存在"));
            }
            schema::validate_record_change(self.collection, rid, &fields, current.as_ref(), author)?;
            if creating {
                summary.created.push(rid);
            }
            summary.touched.push(rid);
        }
        Ok(summary)
    }
}

/// Whether a stored scalar has the type its field's kind requires.
fn scalar_fits(kind: Kind, v: &ScalarValue) -> bool {
    match kind {
        Kind::Timestamp => matches!(v, ScalarValue::Timestamp(_)),
        Kind::Float { .. } => matches!(v, ScalarValue::F64(f) if f.is_finite()),
        Kind::Bool => matches!(v, ScalarValue::Boolean(_)),
        Kind::Set(_) | Kind::Object(_) | Kind::Entries(_) => false,
        _ => matches!(v, ScalarValue::Str(_)),
    }
}

/// Whether an entry (a dispute action or party) already exists.
fn entry_exists(doc: &Automerge, record: RecordId, field: &str, key: &str) -> bool {
    let Ok(Some((_, rec))) = doc.get(ROOT, record.to_string()) else { return false };
    let Ok(Some((_, entries))) = doc.get(&rec, field) else { return false };
    doc.get_all(&entries, key).is_ok_and(|all| !all.is_empty())
}

fn empty_container(kind: Kind) -> Json {
    match kind {
        Kind::Object(_) => Json::Object(Map::new()),
        _ => Json::Array(Vec::new()),
    }
}

/// Where an object that already exists in the document lives.
fn resolve_existing(doc: &Automerge, collection: Collection, opid: &str) -> Result<Place, ValidationError> {
    let unknown = || {
        ValidationError::new(ValidationCode::RecordMissing, None, "", "change refers to an object the document lacks")
    };
    let obj = doc.import_obj(opid).map_err(|_| unknown())?;
    let parents: Vec<automerge::Parent> = doc.parents(&obj).map_err(|_| unknown())?.collect();
    // An object that a later write replaced is not part of the record any more.
    if parents.iter().any(|p| !p.visible) {
        return Err(ValidationError::new(
            ValidationCode::UnsupportedOperation,
            None,
            "",
            "change writes into a replaced object",
        ));
    }
    let mut path: Vec<String> = parents
        .into_iter()
        .map(|p| match p.prop {
            automerge::Prop::Map(k) => k,
            automerge::Prop::Seq(i) => i.to_string(),
        })
        .collect();
    path.reverse();
    let rid = path.first().and_then(|k| Uuid::parse_str(k).ok()).ok_or_else(unknown)?;
    match path.len() {
        1 => Ok(Place::Record(rid)),
        2 => {
            let def = collection.field(&path[1]).ok_or_else(unknown)?;
            Ok(Place::Field(rid, def))
        }
        3 => {
            let def = collection.field(&path[1]).ok_or_else(unknown)?;
            // An existing sub-object: five-clears items are the visit's evidence and entries are
            // append-only, so neither is written after creation.
            match def.kind {
                Kind::Object(_) => Ok(Place::Leaf),
                _ => Ok(Place::Sub(rid, def, path[2].clone(), false)),
            }
        }
        _ => Ok(Place::Leaf),
    }
}
