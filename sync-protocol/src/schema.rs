//! The record schemas: which fields each collection's records have, their kinds, and the one
//! validator that both the device and the county server run on every proposed change.
//!
//! Records travel as JSON objects (`serde_json::Map`) between the typed domain structs in
//! [`crate::model`] and the Automerge documents in [`crate::doc`]; the schema tells how each
//! field is stored and checked.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ValidationCode, ValidationError};
use crate::model::Action;
use crate::model::closed_loop::{self, Facts};
use crate::org::{Author, Level};
use crate::{RecordId, validate};

/// The collections of a grid. Residents, houses and disputes live in one document per grid;
/// visits in one document per grid and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Collection {
    Residents,
    Houses,
    Visits,
    Disputes,
}

impl Collection {
    pub const ALL: [Collection; 4] =
        [Collection::Residents, Collection::Houses, Collection::Visits, Collection::Disputes];

    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Residents => "residents",
            Collection::Houses => "houses",
            Collection::Visits => "visits",
            Collection::Disputes => "disputes",
        }
    }

    pub fn parse(s: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn fields(self) -> &'static [FieldDef] {
        match self {
            Collection::Residents => RESIDENT_FIELDS,
            Collection::Houses => HOUSE_FIELDS,
            Collection::Visits => VISIT_FIELDS,
            Collection::Disputes => DISPUTE_FIELDS,
        }
    }

    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }
}

/// How a field is stored in the document and checked.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A plain string (never Automerge `Text`), at most this many characters.
    Str(usize),
    /// `YYYY-MM-DD`
    Date,
    /// Milliseconds since the Unix epoch, stored as an Automerge timestamp.
    Timestamp,
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    Enum(&'static [&'static str]),
    /// A resident ID number (GB 11643).
    IdNumber,
    Mobile,
    /// A UUID naming another record.
    Ref,
    /// A set of enumerated items, stored as a map `item → true` so concurrent additions merge.
    Set(&'static [&'static str]),
    /// A map with fixed keys, created with the record.
    Object(&'static [FieldDef]),
    /// Append-only entries keyed by UUID v7 (dispute actions, parties); an entry never changes.
    Entries(&'static [FieldDef]),
}

impl Kind {
    pub fn is_container(self) -> bool {
        matches!(self, Kind::Set(_) | Kind::Object(_) | Kind::Entries(_))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, kind, required: true }
}
const fn opt(name: &'static str, kind: Kind) -> FieldDef {
    FieldDef { name, kind, required: false }
}

pub const SEXES: &[&str] = &["male", "female"];
/// 人口类别
pub const POPULATION_CATEGORIES: &[&str] = &[
    "registered",           // 户籍人口
    "floating",             // 流动人口
    "overseas",             // 境外人员
    "left_behind_elderly",  // 留守老人
    "left_behind_women",    // 留守妇女
    "left_behind_children", // 留守儿童
    "living_alone",         // 独居/空巢老人
    "disabled",             // 残疾人
    "low_income",           // 低保户
    "key_person",           // 重点人员
    "veteran",              // 退役军人
];
/// 与户主关系
pub const RELATIONS: &[&str] =
    &["head", "spouse", "child", "parent", "grandchild", "grandparent", "sibling", "tenant", "other"];
pub const RESIDENT_ARCHIVE_REASONS: &[&str] = &["moved_away", "deceased", "duplicate", "other"];
pub const HOUSE_ARCHIVE_REASONS: &[&str] = &["demolished", "merged", "duplicate", "other"];
pub const STRUCTURES: &[&str] =
    &["brick_concrete", "reinforced_concrete", "brick_wood", "earth_wood", "steel", "other"];
pub const HOUSE_USES: &[&str] = &["residential", "commercial", "mixed", "vacant", "other"];
pub const CLEAR_STATUS: &[&str] = &["fine", "attention"];
/// The five clears (五个清) checked on a household visit.
pub const FIVE_CLEARS: &[&str] = &["household", "population", "hazards", "needs", "attitude"];
pub const DISPUTE_CLASSES: &[&str] = &["ordinary", "coordination", "emergency"];
pub const DISPUTE_CATEGORIES: &[&str] = &[
    "neighbour",
    "family",
    "marriage",
    "land",
    "property",
    "labour",
    "debt",
    "traffic",
    "environment",
    "petition",
    "safety",
    "other",
];
/// The closed loop's kinds of action ([`crate::model::ActionKind`]).
pub const ACTION_KINDS: &[&str] = &[
    "report",
    "accept",
    "intervene",
    "mediate",
    "assign",
    "feedback",
    "verify",
    "return",
    "escalate",
    "supervise",
    "resolve",
    "evaluate",
    "archive",
];
/// The parties' satisfaction as an evaluation records it (满意度).
pub const SATISFACTION: &[&str] = &["satisfied", "basically_satisfied", "dissatisfied"];
pub const LEVELS: &[&str] = &["grid", "community", "township", "county"];

const ARCHIVE_FIELDS_RESIDENT: [FieldDef; 2] =
    [opt("archived_reason", Kind::Enum(RESIDENT_ARCHIVE_REASONS)), opt("archived_on", Kind::Date)];

pub const RESIDENT_FIELDS: &[FieldDef] = &[
    req("name", Kind::Str(40)),
    req("sex", Kind::Enum(SEXES)),
    req("birth_date", Kind::Date),
    opt("id_number", Kind::IdNumber),
    opt("phone", Kind::Mobile),
    opt("ethnicity", Kind::Str(20)),
    req("categories", Kind::Set(POPULATION_CATEGORIES)),
    opt("relation", Kind::Enum(RELATIONS)),
    opt("house_id", Kind::Ref),
    opt("notes", Kind::Str(2000)),
    ARCHIVE_FIELDS_RESIDENT[0],
    ARCHIVE_FIELDS_RESIDENT[1],
];

pub const HOUSE_FIELDS: &[FieldDef] = &[
    req("township", Kind::Str(40)),
    req("village", Kind::Str(40)),
    opt("street", Kind::Str(60)),
    opt("building", Kind::Str(20)),
    opt("unit", Kind::Str(20)),
    opt("floor", Kind::Str(20)),
    req("door", Kind::Str(20)),
    opt("structure", Kind::Enum(STRUCTURES)),
    opt("area", Kind::Float { min: 0.0, max: 100_000.0 }),
    opt("use", Kind::Enum(HOUSE_USES)),
    opt("owner", Kind::Str(40)),
    opt("rented", Kind::Bool),
    opt("hazards", Kind::Str(2000)),
    opt("lat", Kind::Float { min: -90.0, max: 90.0 }),
    opt("lng", Kind::Float { min: -180.0, max: 180.0 }),
    opt("archived_reason", Kind::Enum(HOUSE_ARCHIVE_REASONS)),
    opt("archived_on", Kind::Date),
];

const CLEAR_ITEM: &[FieldDef] = &[req("status", Kind::Enum(CLEAR_STATUS)), opt("note", Kind::Str(500))];
const CLEARS: &[FieldDef] = &[
    req("household", Kind::Object(CLEAR_ITEM)),
    req("population", Kind::Object(CLEAR_ITEM)),
    req("hazards", Kind::Object(CLEAR_ITEM)),
    req("needs", Kind::Object(CLEAR_ITEM)),
    req("attitude", Kind::Object(CLEAR_ITEM)),
];

pub const VISIT_FIELDS: &[FieldDef] = &[
    req("house_id", Kind::Ref),
    opt("resident_id", Kind::Ref),
    req("at", Kind::Timestamp),
    req("by", Kind::Ref),
    req("clears", Kind::Object(CLEARS)),
    opt("needs", Kind::Str(2000)),
    opt("hazards_found", Kind::Str(2000)),
    opt("dispute_id", Kind::Ref),
];

pub const PARTY_FIELDS: &[FieldDef] = &[opt("resident_id", Kind::Ref), req("name", Kind::Str(40))];
pub const ACTION_FIELDS: &[FieldDef] = &[
    req("kind", Kind::Enum(ACTION_KINDS)),
    req("actor", Kind::Ref),
    req("level", Kind::Enum(LEVELS)),
    req("at", Kind::Timestamp),
    opt("to_level", Kind::Enum(LEVELS)),
    opt("note", Kind::Str(2000)),
    opt("to_node", Kind::Ref),
    opt("to_account", Kind::Ref),
    opt("due_at", Kind::Timestamp),
    opt("satisfaction", Kind::Enum(SATISFACTION)),
    opt("after", Kind::Ref),
    opt("node", Kind::Ref),
];

pub const DISPUTE_FIELDS: &[FieldDef] = &[
    req("class", Kind::Enum(DISPUTE_CLASSES)),
    req("category", Kind::Enum(DISPUTE_CATEGORIES)),
    req("parties", Kind::Entries(PARTY_FIELDS)),
    req("place", Kind::Str(200)),
    req("description", Kind::Str(4000)),
    req("discovered_at", Kind::Timestamp),
    req("reported_at", Kind::Timestamp),
    req("reported_by", Kind::Ref),
    req("actions", Kind::Entries(ACTION_FIELDS)),
    opt("photos", Kind::Set(&[])),
];

fn err(code: ValidationCode, record: RecordId, field: &str, msg: impl Into<String>) -> ValidationError {
    ValidationError::new(code, Some(record), field, msg)
}

/// Checks one scalar value against its kind. `Null` means "clear the field".
pub fn check_value(record: RecordId, path: &str, def: &FieldDef, value: &Value) -> Result<(), ValidationError> {
    if value.is_null() {
        return if def.required {
            Err(err(ValidationCode::Required, record, path, format!("{path} 为必填项")))
        } else {
            Ok(())
        };
    }
    let wrong = || err(ValidationCode::WrongType, record, path, format!("{path} 的类型不对"));
    let as_str = || value.as_str().ok_or_else(wrong);
    let with = |r: Result<(), (ValidationCode, String)>| r.map_err(|(c, m)| err(c, record, path, m));
    match def.kind {
        Kind::Str(max) => {
            let s = as_str()?;
            if s.chars().count() > max {
                return Err(err(ValidationCode::TooLong, record, path, format!("{path} 最多{max}个字")));
            }
            if def.required && s.trim().is_empty() {
                return Err(err(ValidationCode::Required, record, path, format!("{path} 为必填项")));
            }
            Ok(())
        }
        Kind::Date => with(validate::date(as_str()?).map(|_| ())),
        Kind::Timestamp => {
            let t = value.as_i64().ok_or_else(wrong)?;
            // 2000-01-01 .. 2100-01-01
            if !(946_684_800_000..4_102_444_800_000).contains(&t) {
                return Err(err(ValidationCode::OutOfRange, record, path, format!("{path} 时间不合理")));
            }
            Ok(())
        }
        Kind::Float { min, max } => {
            let f = value.as_f64().ok_or_else(wrong)?;
            if !(min..=max).contains(&f) || !f.is_finite() {
                return Err(err(ValidationCode::OutOfRange, record, path, format!("{path} 超出范围 {min}–{max}")));
            }
            Ok(())
        }
        Kind::Bool => value.as_bool().map(|_| ()).ok_or_else(wrong),
        Kind::Enum(allowed) => {
            let s = as_str()?;
            if allowed.contains(&s) {
                Ok(())
            } else {
                Err(err(ValidationCode::UnknownValue, record, path, format!("{path} 不允许取值“{s}”")))
            }
        }
        Kind::IdNumber => with(validate::id_number(as_str()?).map(|_| ())),
        Kind::Mobile => with(validate::mobile(as_str()?)),
        Kind::Ref => {
            let s = as_str()?;
            uuid::Uuid::parse_str(s)
                .map(|_| ())
                .map_err(|_| err(ValidationCode::WrongType, record, path, format!("{path} 不是有效的记录编号")))
        }
        Kind::Set(_) | Kind::Object(_) | Kind::Entries(_) => Err(wrong()),
    }
}

/// Checks a set's items.
pub fn check_set_item(record: RecordId, path: &str, allowed: &[&str], item: &str) -> Result<(), ValidationError> {
    // An empty list means free-form keys (photo content hashes): hex only, bounded.
    let ok = if allowed.is_empty() {
        !item.is_empty() && item.len() <= 128 && item.bytes().all(|b| b.is_ascii_hexdigit())
    } else {
        allowed.contains(&item)
    };
    if ok {
        Ok(())
    } else {
        Err(err(ValidationCode::UnknownValue, record, path, format!("{path} 不允许取值“{item}”")))
    }
}

/// Validates a nested object (fields of an [`Kind::Object`] or one entry of [`Kind::Entries`]).
/// With `complete`, required fields must be present.
pub fn check_object(
    record: RecordId,
    prefix: &str,
    defs: &[FieldDef],
    obj: &Map<String, Value>,
    complete: bool,
) -> Result<(), ValidationError> {
    for (k, v) in obj {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if k == "id" && prefix.is_empty() {
            continue;
        }
        let def = defs
            .iter()
            .find(|d| d.name == k)
            .ok_or_else(|| err(ValidationCode::UnknownField, record, &path, format!("未知字段 {path}")))?;
        match def.kind {
            Kind::Set(allowed) => {
                let items = v
                    .as_array()
                    .ok_or_else(|| err(ValidationCode::WrongType, record, &path, format!("{path} 应为列表")))?;
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| err(ValidationCode::WrongType, record, &path, format!("{path} 应为文字列表")))?;
                    check_set_item(record, &path, allowed, s)?;
                }
            }
            Kind::Object(sub) => {
                let o = v
                    .as_object()
                    .ok_or_else(|| err(ValidationCode::WrongType, record, &path, format!("{path} 应为对象")))?;
                check_object(record, &path, sub, o, complete)?;
            }
            Kind::Entries(sub) => {
                let items = v
                    .as_array()
                    .ok_or_else(|| err(ValidationCode::WrongType, record, &path, format!("{path} 应为列表")))?;
                for item in items {
                    let o = item.as_object().ok_or_else(|| {
                        err(ValidationCode::WrongType, record, &path, format!("{path} 的每一项应为对象"))
                    })?;
                    let id = o.get("id").and_then(Value::as_str).unwrap_or("");
                    if uuid::Uuid::parse_str(id).is_err() {
                        return Err(err(ValidationCode::WrongType, record, &path, format!("{path} 的每一项需要编号")));
                    }
                    let mut body = o.clone();
                    body.remove("id");
                    check_object(record, &path, sub, &body, true)?;
                }
            }
            _ => check_value(record, &path, def, v)?,
        }
    }
    if complete {
        for d in defs.iter().filter(|d| d.required) {
            let present = obj.get(d.name).is_some_and(|v| !v.is_null());
            if !present {
                let path = if prefix.is_empty() { d.name.to_string() } else { format!("{prefix}.{}", d.name) };
                return Err(err(ValidationCode::Required, record, &path, format!("{path} 为必填项")));
            }
        }
    }
    Ok(())
}

/// The one validator of a proposed change to a record, run by the device before it commits an
/// edit and by the server on every change it receives.
///
/// `fields` holds what the change writes: the whole record when `creating`, otherwise only the
/// fields it sets (`null` clears one; for sets, the items added; for entries, the new entries).
/// Fields written once, when the record is created: who and when are evidence (the report
/// delay is a measured figure), and an escalation goes through actions, not a new class.
pub fn write_once(collection: Collection) -> &'static [&'static str] {
    match collection {
        Collection::Disputes => &["class", "reported_by", "reported_at", "discovered_at"],
        Collection::Visits => &["house_id", "resident_id", "at", "by", "clears"],
        _ => &[],
    }
}

/// Dispute fields that staff above the grid may write after creation (the rest of a dispute
/// is the grid's record of what was found).
const DISPUTE_FIELDS_FOR_ALL_LEVELS: &[&str] = &["actions", "photos"];

/// `current` is the record as the document holds it before the change, or `None` when the
/// change creates it. Cross-field rules are checked on the record as it will be.
pub fn validate_record_change(
    collection: Collection,
    record: RecordId,
    fields: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
    author: &Author,
) -> Result<(), ValidationError> {
    let creating = current.is_none();
    check_object(record, "", collection.fields(), fields, creating)?;
    let role = author.role;
    if collection != Collection::Disputes && !role.edits_base_records() {
        return Err(err(ValidationCode::NotPermitted, record, "", format!("{} 不能修改网格基础信息", role.as_str())));
    }
    if !creating && let Some(f) = write_once(collection).iter().find(|f| fields.contains_key(**f)) {
        return Err(err(ValidationCode::AppendOnly, record, f, format!("{f} 只能在登记时填写")));
    }
    // The value a field will have after the change.
    let after = |name: &str| -> Option<&str> {
        match fields.get(name) {
            Some(v) => v.as_str(),
            None => current.and_then(|c| c.get(name)).and_then(Value::as_str),
        }
    };
    match collection {
        Collection::Residents => {
            // The birth date must agree with the ID number, on the record as it will be.
            let touches = fields.contains_key("id_number") || fields.contains_key("birth_date");
            if touches && let Some(id) = after("id_number") {
                let info = validate::id_number(id).map_err(|(c, m)| err(c, record, "id_number", m))?;
                let birth = after("birth_date");
                if birth != Some(info.birth_date.format("%Y-%m-%d").to_string().as_str()) {
                    return Err(err(
                        ValidationCode::BirthDateMismatch,
                        record,
                        "birth_date",
                        format!("出生日期应与身份证号码一致（{}）", info.birth_date),
                    ));
                }
            }
        }
        Collection::Visits => {
            if let Some(by) = fields.get("by").and_then(Value::as_str)
                && by != author.account.to_string()
            {
                return Err(err(ValidationCode::ActorMismatch, record, "by", "走访人必须是提交者本人"));
            }
        }
        Collection::Disputes => {
            if !creating
                && !role.edits_base_records()
                && let Some(f) = fields.keys().find(|k| !DISPUTE_FIELDS_FOR_ALL_LEVELS.contains(&k.as_str()))
            {
                return Err(err(ValidationCode::NotPermitted, record, f, "只能追加处置记录"));
            }
            if creating {
                let discovered = fields.get("discovered_at").and_then(Value::as_i64);
                let reported = fields.get("reported_at").and_then(Value::as_i64);
                if let (Some(d), Some(r)) = (discovered, reported)
                    && d > r
                {
                    return Err(err(ValidationCode::OutOfRange, record, "discovered_at", "发现时间不能晚于上报时间"));
                }
            }
            if creating && !role.reports_disputes() {
                return Err(err(ValidationCode::NotPermitted, record, "", "该角色不能登记事件"));
            }
            if let Some(by) = fields.get("reported_by").and_then(Value::as_str)
                && by != author.account.to_string()
            {
                return Err(err(ValidationCode::ActorMismatch, record, "reported_by", "上报人必须是提交者本人"));
            }
            if let Some(actions) = fields.get("actions").and_then(Value::as_array) {
                for a in actions {
                    let actor = a.get("actor").and_then(Value::as_str).unwrap_or("");
                    if actor != author.account.to_string() {
                        return Err(err(
                            ValidationCode::ActorMismatch,
                            record,
                            "actions.actor",
                            "处置人必须是提交者本人",
                        ));
                    }
                    if let (Some(node), Some(mine)) = (a.get("node").and_then(Value::as_str), author.node)
                        && node != mine.to_string()
                    {
                        return Err(err(
                            ValidationCode::ActorMismatch,
                            record,
                            "actions.node",
                            "处置单位必须是提交者本人所在的单位",
                        ));
                    }
                    let kind = a.get("kind").and_then(Value::as_str).unwrap_or("");
                    if !role.takes_action(kind) {
                        return Err(err(
                            ValidationCode::NotPermitted,
                            record,
                            "actions.kind",
                            "部门只做被指派事件的处置和反馈，受理、指派、办结、督办由综治中心负责",
                        ));
                    }
                    let level = a.get("level").and_then(Value::as_str).and_then(Level::parse);
                    if level != Some(role.level()) {
                        return Err(err(
                            ValidationCode::NotPermitted,
                            record,
                            "actions.level",
                            format!("该账号只能以“{}”层级处置", role.level().as_str()),
                        ));
                    }
                }
            }
            judge_actions(record, fields, current, creating, author.node)?;
        }
        Collection::Houses => {}
    }
    Ok(())
}

/// The closed loop's judgement of the actions a change adds to a dispute, against the actions
/// its author had seen (`current`: the dispute as the change's dependencies hold it). A new
/// dispute starts with its report.
fn judge_actions(
    record: RecordId,
    fields: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
    creating: bool,
    author_node: Option<RecordId>,
) -> Result<(), ValidationError> {
    let parse = |v: &Value| serde_json::from_value::<Action>(v.clone());
    let mut new: Vec<Action> = match fields.get("actions").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .map(parse)
            .collect::<Result<_, _>>()
            .map_err(|e| err(ValidationCode::WrongType, record, "actions", format!("处置记录格式不对：{e}")))?,
        None => Vec::new(),
    };
    // An action that names no place (an app from before departments, or one that leaves it out)
    // is judged as acting for the place its author's account holds, where that is known: leaving
    // the place out cannot make someone the assignee of what was sent to another place. The
    // stored action is unchanged.
    for a in &mut new {
        a.node = a.node.or(author_node);
    }
    if creating && !new.iter().any(|a| a.kind == "report") {
        return Err(err(ValidationCode::Required, record, "actions", "事件须以上报开始"));
    }
    if new.is_empty() {
        return Ok(());
    }
    let seen: Vec<Action> = current
        .and_then(|c| c.get("actions"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| parse(v).ok()).collect())
        .unwrap_or_default();
    let value = |name: &str| fields.get(name).or_else(|| current.and_then(|c| c.get(name))).and_then(Value::as_str);
    let class = value("class").unwrap_or("ordinary");
    let reported_by = value("reported_by").and_then(|s| uuid::Uuid::parse_str(s).ok()).unwrap_or_default();
    let reported_at =
        fields.get("reported_at").or_else(|| current.and_then(|c| c.get("reported_at"))).and_then(Value::as_i64);
    closed_loop::judge(Facts { class, reported_by, reported_at: reported_at.unwrap_or_default() }, &seen, &new)
        .map_err(|(code, message)| err(code, record, "actions", message))
}
