//! The document layer on its own: edits, merges, conflicts, history and the change validator.

use automerge::Automerge;
use serde_json::json;
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::{Record, Resident};
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::Collection;
use sync_protocol::{ValidationCode, validate};
use uuid::Uuid;

fn author(role: Role) -> Author {
    Author { account: Uuid::now_v7(), device: Uuid::now_v7(), role, node: None }
}

fn id_number(birth: &str, seq: &str) -> String {
    let first17 = format!("371323{}{}", birth.replace('-', ""), seq);
    let c = validate::id_check_char(&first17).unwrap();
    format!("{first17}{c}")
}

fn resident(name: &str) -> Resident {
    Resident {
        id: Uuid::now_v7(),
        name: name.into(),
        sex: "female".into(),
        birth_date: "1990-05-06".into(),
        id_number: Some(id_number("1990-05-06", "002")),
        phone: Some("13912345678".into()),
        ethnicity: Some("汉族".into()),
        categories: vec!["registered".into()],
        relation: Some("head".into()),
        house_id: None,
        notes: None,
        archived_reason: None,
        archived_on: None,
    }
}

struct Device {
    author: Author,
    doc: Automerge,
}

impl Device {
    fn new(role: Role) -> Self {
        Self { author: author(role), doc: Automerge::new() }
    }
    fn edit(
        &mut self,
        key: DocKey,
        record: Uuid,
        creating: bool,
        fields: serde_json::Value,
    ) -> Result<(), sync_protocol::DocError> {
        let edit = Edit { doc: key, record, creating, fields: fields.as_object().unwrap().clone() };
        let change =
            doc::make_change(&self.doc, doc::actor_for(self.author.device, 0), &edit, &self.author, 1_764_000_000_000)?;
        if let Some(change) = change {
            self.doc.apply_changes([change]).unwrap();
        }
        Ok(())
    }
}

fn merge(a: &mut Automerge, b: &mut Automerge) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
}

#[test]
fn different_fields_merge_and_same_field_keeps_both_values() {
    let grid = Uuid::now_v7();
    let key = DocKey::new(grid, Collection::Residents);
    let r = resident("李秀英");
    let mut a = Device::new(Role::GridWorker);
    a.edit(key, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap();
    let mut b = Device::new(Role::GridAssistant);
    b.doc = a.doc.fork();
    b.doc.set_actor(doc::actor_for(b.author.device, 0));

    a.edit(key, r.id, false, json!({"phone": "13700000001", "notes": "在外务工"})).unwrap();
    b.edit(
        key,
        r.id,
        false,
        json!({"phone": "13700000002", "ethnicity": "回族", "categories": ["registered", "left_behind_women"]}),
    )
    .unwrap();
    merge(&mut a.doc, &mut b.doc);

    let merged = Resident::from_fields(doc::read_record(&a.doc, Collection::Residents, r.id).unwrap()).unwrap();
    assert_eq!(merged.notes.as_deref(), Some("在外务工"));
    assert_eq!(merged.ethnicity.as_deref(), Some("回族"));
    assert!(merged.categories.contains(&"left_behind_women".to_string()));

    let conflicts = doc::conflicts(&a.doc, Collection::Residents, None);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "phone");
    let values: Vec<_> = conflicts[0].values.iter().map(|v| v.value.as_str().unwrap().to_string()).collect();
    assert!(values.contains(&"13700000001".to_string()) && values.contains(&"13700000002".to_string()));
    let accounts: Vec<_> = conflicts[0].values.iter().map(|v| v.account.unwrap()).collect();
    assert!(accounts.contains(&a.author.account) && accounts.contains(&b.author.account));
    assert_eq!(doc::conflicts(&b.doc, Collection::Residents, None), conflicts);

    // Settling writes the chosen value over both; after merging, the conflict is gone everywhere.
    a.edit(key, r.id, false, json!({"phone": "13700000002"})).unwrap();
    merge(&mut a.doc, &mut b.doc);
    assert!(doc::conflicts(&a.doc, Collection::Residents, None).is_empty());
    assert!(doc::conflicts(&b.doc, Collection::Residents, None).is_empty());

    let history = doc::history(&a.doc, r.id);
    assert_eq!(history[0].field, "created");
    let phones: Vec<_> = history.iter().filter(|h| h.field == "phone").collect();
    assert_eq!(phones.len(), 4, "{history:?}");
    assert!(history.iter().any(|h| h.field == "categories.left_behind_women" && h.account == Some(b.author.account)));
}

#[test]
fn invalid_values_are_refused_before_any_change_is_made() {
    let key = DocKey::new(Uuid::now_v7(), Collection::Residents);
    let mut a = Device::new(Role::GridWorker);
    let mut r = resident("王强");
    r.id_number = Some("371323199005060021".into());
    let before = a.doc.get_heads();
    let err = a.edit(key, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap_err();
    assert_eq!(err.code().as_str(), "id_number_check_digit");
    assert_eq!(a.doc.get_heads(), before);

    let r = resident("王强");
    a.edit(key, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap();
    for (fields, code) in [
        (json!({"phone": "12345"}), "mobile"),
        (json!({"sex": "x"}), "unknown_value"),
        (json!({"name": null}), "required"),
        (json!({"shoe_size": 42}), "unknown_field"),
        (json!({"categories": ["vip"]}), "unknown_value"),
        (json!({"id_number": id_number("1991-01-01", "003")}), "birth_date_mismatch"),
    ] {
        let err = a.edit(key, r.id, false, fields.clone()).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{fields}");
    }
}

#[test]
fn validator_refuses_hand_made_changes_that_break_the_layout() {
    use automerge::transaction::Transactable;
    let key = DocKey::new(Uuid::now_v7(), Collection::Residents);
    let mut a = Device::new(Role::GridWorker);
    let r = resident("赵敏");
    a.edit(key, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap();
    let base = a.doc.clone();

    // Deleting a record outright.
    let mut evil = base.fork();
    let mut tx = evil.transaction();
    tx.delete(automerge::ROOT, r.id.to_string()).unwrap();
    tx.commit();
    let change = evil.get_last_local_change().unwrap();
    assert_eq!(
        doc::validate_change(&base, Collection::Residents, &change, &a.author).unwrap_err().code,
        ValidationCode::DeleteNotAllowed
    );

    // Writing a bad phone straight into the document.
    let mut evil = base.fork();
    let (_, obj) = automerge::ReadDoc::get(&evil, automerge::ROOT, r.id.to_string()).unwrap().unwrap();
    let mut tx = evil.transaction();
    tx.put(&obj, "phone", "110").unwrap();
    tx.commit();
    let change = evil.get_last_local_change().unwrap();
    let e = doc::validate_change(&base, Collection::Residents, &change, &a.author).unwrap_err();
    assert_eq!((e.code, e.record, e.field.as_str()), (ValidationCode::Mobile, Some(r.id), "phone"));

    // A township account may not edit base records.
    let township = author(Role::TownshipStaff);
    let mut evil = base.fork();
    let mut tx = evil.transaction();
    tx.put(&obj, "phone", "13800000000").unwrap();
    tx.commit();
    let change = evil.get_last_local_change().unwrap();
    assert_eq!(
        doc::validate_change(&base, Collection::Residents, &change, &township).unwrap_err().code,
        ValidationCode::NotPermitted
    );
}

#[test]
fn dispute_actions_append_and_status_derives_the_same_everywhere() {
    use sync_protocol::model::{Dispute, DisputeStatus};
    use sync_protocol::org::Level;
    let key = DocKey::new(Uuid::now_v7(), Collection::Disputes);
    let mut worker = Device::new(Role::GridWorker);
    let id = Uuid::now_v7();
    let report = json!({
        "class": "coordination", "category": "neighbour", "place": "东风村3组",
        "description": "宅基地边界争议", "discovered_at": 1_764_000_000_000i64, "reported_at": 1_764_000_600_000i64,
        "reported_by": worker.author.account.to_string(),
        "parties": [{"id": Uuid::now_v7().to_string(), "name": "张三"}, {"id": Uuid::now_v7().to_string(), "name": "李四"}],
        "actions": [{"id": Uuid::now_v7().to_string(), "kind": "report", "actor": worker.author.account.to_string(), "level": "grid", "at": 1_764_000_600_000i64}],
    });
    worker.edit(key, id, true, report).unwrap();
    let mut township = Device::new(Role::TownshipStaff);
    township.doc = worker.doc.fork();
    township.doc.set_actor(doc::actor_for(township.author.device, 0));

    // Concurrent: the worker passes it up to the village, the township (above it) supervises.
    let esc = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "escalate", "actor": worker.author.account.to_string(), "level": "grid", "to_level": "community", "note": "需村调委会协调", "at": 1_764_001_000_000i64}]});
    worker.edit(key, id, false, esc).unwrap();
    let sup = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "supervise", "actor": township.author.account.to_string(), "level": "township", "note": "三日内化解", "due_at": 1_764_300_000_000i64, "at": 1_764_002_000_000i64}]});
    township.edit(key, id, false, sup).unwrap();
    // The township does not hold it: it may not resolve it, nor act at grid level.
    let res = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "resolve", "actor": township.author.account.to_string(), "level": "township", "at": 1_764_002_000_000i64}]});
    assert_eq!(township.edit(key, id, false, res).unwrap_err().code().as_str(), "not_holder");
    let wrong = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "mediate", "actor": township.author.account.to_string(), "level": "grid", "at": 1_764_002_000_000i64}]});
    assert_eq!(township.edit(key, id, false, wrong).unwrap_err().code().as_str(), "not_permitted");
    merge(&mut worker.doc, &mut township.doc);

    let d1 = Dispute::from_fields(doc::read_record(&worker.doc, Collection::Disputes, id).unwrap()).unwrap();
    let d2 = Dispute::from_fields(doc::read_record(&township.doc, Collection::Disputes, id).unwrap()).unwrap();
    assert_eq!(d1.actions.len(), 3);
    assert_eq!(d1.state(&Default::default()), d2.state(&Default::default()));
    assert_eq!(
        (d1.state(&Default::default()).status, d1.state(&Default::default()).level),
        (DisputeStatus::Escalated, Level::Community)
    );
    assert!(d1.state(&Default::default()).supervised && d1.state(&Default::default()).contradictions.is_empty());
    assert_eq!(d1.report_delay_minutes(), 10);
}

/// A device with a valid dispute and a valid resident, and its document for hand-made changes.
fn with_records() -> (Device, Uuid, Uuid, DocKey, DocKey) {
    let grid = Uuid::now_v7();
    let rkey = DocKey::new(grid, Collection::Residents);
    let dkey = DocKey::new(grid, Collection::Disputes);
    let mut a = Device::new(Role::GridWorker);
    let r = resident("钱芳");
    a.edit(rkey, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap();
    let d = Uuid::now_v7();
    let acc = a.author.account.to_string();
    a.edit(
        dkey,
        d,
        true,
        json!({
            "class": "ordinary", "category": "family", "place": "村委会", "description": "家庭矛盾",
            "discovered_at": 1_764_000_000_000i64, "reported_at": 1_764_000_060_000i64, "reported_by": acc,
            "parties": [{"id": Uuid::now_v7().to_string(), "name": "甲"}],
            "actions": [{"id": Uuid::now_v7().to_string(), "kind": "report", "actor": acc, "level": "grid", "at": 1_764_000_060_000i64}],
        }),
    )
    .unwrap();
    (a, r.id, d, rkey, dkey)
}

fn hand_made(base: &Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) -> automerge::Change {
    let mut fork = base.fork();
    let mut tx = fork.transaction();
    f(&mut tx);
    tx.commit();
    fork.get_last_local_change().unwrap()
}

#[test]
fn entries_and_containers_cannot_be_overwritten_or_made_twice() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let (a, rid, did, _, _) = with_records();
    let base = a.doc.clone();
    let (_, disp) = base.get(automerge::ROOT, did.to_string()).unwrap().unwrap();
    let (_, actions) = base.get(&disp, "actions").unwrap().unwrap();
    let existing = base.keys(&actions).next().unwrap();
    // Replacing the report action with a "resolve" of one's own.
    let c = hand_made(&base, |tx| {
        let m = tx.put_object(&actions, existing.as_str(), automerge::ObjType::Map).unwrap();
        for (k, v) in [("kind", "resolve"), ("actor", &a.author.account.to_string()), ("level", "grid")] {
            tx.put(&m, k, v).unwrap();
        }
        tx.put(&m, "at", automerge::ScalarValue::Timestamp(1_764_000_100_000)).unwrap();
    });
    assert_eq!(
        doc::validate_change(&base, Collection::Disputes, &c, &a.author).unwrap_err().code,
        ValidationCode::AppendOnly
    );
    // A new categories map on an existing resident would hide the old one.
    let (_, rec) = base.get(automerge::ROOT, rid.to_string()).unwrap().unwrap();
    let c = hand_made(&base, |tx| {
        let m = tx.put_object(&rec, "categories", automerge::ObjType::Map).unwrap();
        tx.put(&m, "floating", true).unwrap();
    });
    assert_eq!(
        doc::validate_change(&base, Collection::Residents, &c, &a.author).unwrap_err().code,
        ValidationCode::AppendOnly
    );
    // Writing the same key twice in one change.
    let c = hand_made(&base, |tx| {
        tx.put(&rec, "notes", "一").unwrap();
        tx.put(&rec, "notes", "二").unwrap();
    });
    assert_eq!(
        doc::validate_change(&base, Collection::Residents, &c, &a.author).unwrap_err().code,
        ValidationCode::UnsupportedOperation
    );
    // Values of the wrong type: bytes, a number for a string, NaN for a coordinate.
    for v in [automerge::ScalarValue::Bytes(vec![0; 5000]), automerge::ScalarValue::Int(5)] {
        let c = hand_made(&base, |tx| tx.put(&rec, "notes", v).unwrap());
        assert_eq!(
            doc::validate_change(&base, Collection::Residents, &c, &a.author).unwrap_err().code,
            ValidationCode::WrongType
        );
    }
}

#[test]
fn evidence_is_write_once_and_the_merged_record_is_checked() {
    let (mut a, rid, did, rkey, dkey) = with_records();
    // The report time and reporter are evidence.
    assert_eq!(
        a.edit(dkey, did, false, json!({"reported_at": 1_764_000_000_001i64})).unwrap_err().code().as_str(),
        "append_only"
    );
    // A township account may add actions but not rewrite the grid's description.
    let mut t = Device::new(Role::TownshipStaff);
    t.doc = a.doc.fork();
    assert_eq!(t.edit(dkey, did, false, json!({"description": "改写"})).unwrap_err().code().as_str(), "not_permitted");
    // A birth date alone that contradicts the stored ID number is refused...
    assert_eq!(
        a.edit(rkey, rid, false, json!({"birth_date": "1991-01-01"})).unwrap_err().code().as_str(),
        "birth_date_mismatch"
    );
    // ...and an ID number alone that agrees with the stored birth date is accepted.
    a.edit(rkey, rid, false, json!({"id_number": id_number("1990-05-06", "004")})).unwrap();
    // Saving a value the record already has changes nothing and stores nothing.
    let heads = a.doc.get_heads();
    a.edit(rkey, rid, false, json!({"phone": "13912345678"})).unwrap();
    assert_eq!(a.doc.get_heads(), heads);
}

#[test]
fn months_follow_china_time() {
    // 2026-11-30 23:30 UTC is already 2026-12-01 07:30 in China.
    let t = 1_796_081_400_000;
    assert_eq!(DocKey::month_of(t), 202612);
    // The month starts at 2026-12-01 00:00 China time, 2026-11-30 16:00 UTC.
    assert_eq!(DocKey::month_start_ms(t), 1_796_054_400_000);
    assert_eq!(DocKey::month_start_ms(1_796_054_400_000), 1_796_054_400_000);
}

/// A third concurrent value of a field already in conflict may lose the ordering and leave the
/// visible record as it was, so a diff shows nothing; the record must still count as touched,
/// or the query tables keep a conflict that hides the new value (found by the convergence
/// property test: the server listed two of three concurrent notes).
#[test]
fn a_further_concurrent_value_touches_its_record_even_when_it_does_not_win() {
    let key = DocKey::new(Uuid::now_v7(), Collection::Residents);
    let r = resident("赵桂兰");
    let mut base = Device::new(Role::GridWorker);
    base.edit(key, r.id, true, serde_json::to_value(r.to_fields()).unwrap()).unwrap();
    let other = resident("钱玉珍");
    let mut changes = Vec::new();
    for (i, role) in [Role::GridWorker, Role::GridAssistant, Role::GridLeader].into_iter().enumerate() {
        let mut d = Device::new(role);
        d.doc = base.doc.fork();
        d.doc.set_actor(doc::actor_for(d.author.device, 0));
        d.edit(key, r.id, false, json!({ "notes": format!("第{i}次走访") })).unwrap();
        changes.push(d.doc.get_changes(&base.doc.get_heads()).remove(0).clone());
    }
    // Every order: two values first, then the third, alone or beside a change to another record.
    for order in [[0, 1, 2], [0, 2, 1], [1, 2, 0], [1, 0, 2], [2, 0, 1], [2, 1, 0]] {
        for with_other in [false, true] {
            let mut d = base.doc.fork();
            d.apply_changes([changes[order[0]].clone(), changes[order[1]].clone()]).unwrap();
            let before = d.get_heads();
            d.apply_changes([changes[order[2]].clone()]).unwrap();
            if with_other {
                let mut e = Device::new(Role::GridWorker);
                e.doc = d.fork();
                e.doc.set_actor(doc::actor_for(e.author.device, 0));
                e.edit(key, other.id, true, serde_json::to_value(other.to_fields()).unwrap()).unwrap();
                let created = e.doc.get_changes(&d.get_heads()).remove(0).clone();
                d.apply_changes([created]).unwrap();
            }
            let touched = doc::touched_records(&d, &before);
            assert!(touched.contains(&r.id), "order {order:?}: the record with the new value is touched");
            assert_eq!(touched.contains(&other.id), with_other, "order {order:?}: only written records are touched");
            let conflicts = doc::conflicts(&d, Collection::Residents, Some(r.id));
            assert_eq!(conflicts.len(), 1);
            assert_eq!(conflicts[0].values.len(), 3, "order {order:?}: all three values are kept");
        }
    }
}
