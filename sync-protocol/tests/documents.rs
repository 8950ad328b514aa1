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
    Author { account: Uuid::now_v7(), device: Uuid::now_v7(), role }
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
    assert_eq!(err.code(), "id_number_check_digit");
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
        assert_eq!(err.code(), code, "{fields}");
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

    // Concurrent: the worker escalates to the township, the township assigns it back down.
    let esc = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "escalate", "actor": worker.author.account.to_string(), "level": "grid", "to_level": "township", "at": 1_764_001_000_000i64}]});
    worker.edit(key, id, false, esc).unwrap();
    let res = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "resolve", "actor": township.author.account.to_string(), "level": "township", "at": 1_764_002_000_000i64}]});
    township.edit(key, id, false, res).unwrap();
    // A township account cannot act at grid level.
    let wrong = json!({"actions": [{"id": Uuid::now_v7().to_string(), "kind": "mediate", "actor": township.author.account.to_string(), "level": "grid", "at": 1_764_002_000_000i64}]});
    assert_eq!(township.edit(key, id, false, wrong).unwrap_err().code(), "not_permitted");
    merge(&mut worker.doc, &mut township.doc);

    let d1 = Dispute::from_fields(doc::read_record(&worker.doc, Collection::Disputes, id).unwrap()).unwrap();
    let d2 = Dispute::from_fields(doc::read_record(&township.doc, Collection::Disputes, id).unwrap()).unwrap();
    assert_eq!(d1.actions.len(), 3);
    assert_eq!(d1.state(), d2.state());
    assert_eq!(d1.state().status, DisputeStatus::Resolved);
    assert_eq!(d1.state().resolved_level, Some(Level::Township));
    assert_eq!(d1.report_delay_minutes(), 10);
}
