//! (Long on purpose: the model of devices, cuts and orders, the generators and the invariants
//! are one property test; each part is only meaningful beside the others.)
//!
//! Property-based convergence: two to four devices on one or two grids make random edits
//! (including the same field of the same record on two devices), sync in random orders, each
//! through its own proxy that may drop every connection or let the server commit and lose the
//! answer. A model follows what each replica has seen. After a final heal and two sync rounds:
//!
//! - every device holds the same documents (same heads) and the same query rows as the server;
//! - every edit (acknowledged or not yet) is on the server exactly once: one logged change per
//!   edit, found once in the record's history, and each grid's log numbered without gaps;
//! - a field written concurrently with different values is kept as a conflict listing exactly
//!   those values, on every device and on the server, and no other conflict appears;
//! - a field written once (or superseded) holds the value the model expects.
//!
//! `PROPTEST_CASES` sets the number of cases (32 by default, so CI stays quick).

use std::collections::{BTreeMap, BTreeSet};

use automerge::Automerge;
use county_server::storage::{CatchUp, DisputeQuery, Scope};
use field_core::{NewDispute, NewParty, NewVisit};
use gridkeeper_tests::proxy::{Mode, Proxy};
use gridkeeper_tests::{Org, TestDevice, TestServer, house, resident};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::{Map, Value, json};
use sync_protocol::doc::{self, DocKey};
use sync_protocol::model::FiveClears;
use sync_protocol::schema::Collection;
use uuid::Uuid;

/// Devices a case may use, in this order: worker A, assistant A, worker B (grid B), leader A.
const ROSTER: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResField {
    Name,
    Phone,
    Notes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HouseField {
    Owner,
    Door,
    Hazards,
}

/// One step of a case. Device and record numbers are taken modulo what exists when the step
/// runs (a record number picks among the records that device has seen).
#[derive(Debug, Clone)]
enum Op {
    CreateResident(usize),
    CreateHouse(usize),
    EditResident(usize, usize, ResField),
    ClearNotes(usize, usize),
    EditHouse(usize, usize, HouseField),
    /// Two devices write the same field of the same record, each without the other's write.
    SameField(usize, usize, usize, ResField),
    Report(usize),
    Act(usize, usize),
    Visit(usize, usize),
    Sync(usize),
    SyncAll,
    Net(usize, Mode),
}

#[derive(Debug, Clone)]
struct Case {
    devices: usize,
    ops: Vec<Op>,
}

fn res_field() -> impl Strategy<Value = ResField> {
    prop_oneof![Just(ResField::Name), Just(ResField::Phone), Just(ResField::Notes)]
}

fn house_field() -> impl Strategy<Value = HouseField> {
    prop_oneof![Just(HouseField::Owner), Just(HouseField::Door), Just(HouseField::Hazards)]
}

fn op() -> impl Strategy<Value = Op> {
    let d = || 0..ROSTER;
    let r = || 0..8usize;
    prop_oneof![
        3 => d().prop_map(Op::CreateResident),
        2 => d().prop_map(Op::CreateHouse),
        5 => (d(), r(), res_field()).prop_map(|(d, r, f)| Op::EditResident(d, r, f)),
        1 => (d(), r()).prop_map(|(d, r)| Op::ClearNotes(d, r)),
        2 => (d(), r(), house_field()).prop_map(|(d, r, f)| Op::EditHouse(d, r, f)),
        3 => (d(), d(), r(), res_field()).prop_map(|(a, b, r, f)| Op::SameField(a, b, r, f)),
        1 => d().prop_map(Op::Report),
        2 => (d(), r()).prop_map(|(d, r)| Op::Act(d, r)),
        1 => (d(), r()).prop_map(|(d, r)| Op::Visit(d, r)),
        6 => d().prop_map(Op::Sync),
        1 => Just(Op::SyncAll),
        2 => (d(), prop_oneof![Just(Mode::Down), Just(Mode::CutResponses), Just(Mode::Up)])
            .prop_map(|(d, m)| Op::Net(d, m)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (2..=ROSTER, prop::collection::vec(op(), 6..40)).prop_map(|(devices, ops)| Case { devices, ops })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resident,
    House,
    Dispute,
    Visit,
}

/// What an edit must have left on the server.
#[derive(Debug, Clone)]
enum Check {
    Created(Kind, Uuid),
    Wrote { record: Uuid, field: &'static str, value: Value },
    Action { dispute: Uuid, note: String },
}

struct EditRec {
    dev: usize,
    grid: Uuid,
    acked: bool,
    check: Check,
}

struct Rec {
    id: Uuid,
    grid: Uuid,
    kind: Kind,
    created: usize,
}

/// A write of one field: the edit that made it and the earlier writes of that field its device
/// had seen (which it therefore replaces).
struct Write {
    edit: usize,
    value: Value,
    supersedes: Vec<usize>,
}

#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    cases: u64,
    ops: u64,
    edits: u64,
    syncs_ok: u64,
    syncs_cut_answer: u64,
    syncs_down: u64,
    retries: u64,
    acknowledged_before_heal: u64,
    conflicts: u64,
}

/// What each replica has seen, as sets of edit numbers.
struct Model {
    edits: Vec<EditRec>,
    records: Vec<Rec>,
    writes: BTreeMap<(Uuid, &'static str), Vec<Write>>,
    known: Vec<BTreeSet<usize>>,
    server: BTreeSet<usize>,
    counter: u64,
    totals: Totals,
}

impl Model {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn record_edit(&mut self, dev: usize, grid: Uuid, check: Check, writes: Vec<(Uuid, &'static str, Value)>) -> usize {
        let edit = self.edits.len();
        for (record, field, value) in writes {
            let list = self.writes.entry((record, field)).or_default();
            let supersedes = list.iter().filter(|w| self.known[dev].contains(&w.edit)).map(|w| w.edit).collect();
            list.push(Write { edit, value, supersedes });
        }
        self.edits.push(EditRec { dev, grid, acked: false, check });
        self.known[dev].insert(edit);
        self.totals.edits += 1;
        edit
    }

    fn add_record(&mut self, id: Uuid, grid: Uuid, kind: Kind, created: usize) {
        self.records.push(Rec { id, grid, kind, created });
    }

    /// The records of a kind in `grid` that device `dev` has seen, oldest first.
    fn seen(&self, dev: usize, grid: Uuid, kind: Kind) -> Vec<Uuid> {
        self.records
            .iter()
            .filter(|r| r.kind == kind && r.grid == grid && self.known[dev].contains(&r.created))
            .map(|r| r.id)
            .collect()
    }

    fn unacked(&self, dev: usize) -> usize {
        self.edits.iter().filter(|e| e.dev == dev && !e.acked).count()
    }

    /// The values a field ends with once everyone has everything: those of the writes no
    /// other write replaced (a clear leaves nothing).
    fn expected(&self, key: &(Uuid, &'static str)) -> BTreeSet<String> {
        let list = &self.writes[key];
        let replaced: BTreeSet<usize> = list.iter().flat_map(|w| w.supersedes.iter().copied()).collect();
        list.iter().filter(|w| !replaced.contains(&w.edit) && !w.value.is_null()).map(|w| w.value.to_string()).collect()
    }
}

struct Dev {
    t: TestDevice,
    proxy: Proxy,
    grid: Uuid,
    mode: Mode,
}

fn res_field_name(f: ResField) -> &'static str {
    match f {
        ResField::Name => "name",
        ResField::Phone => "phone",
        ResField::Notes => "notes",
    }
}

fn res_value(f: ResField, n: u64) -> Value {
    match f {
        ResField::Name => json!(format!("居民{n}")),
        ResField::Phone => json!(format!("139{n:08}")),
        ResField::Notes => json!(format!("走访补记第{n}条")),
    }
}

fn house_field_name(f: HouseField) -> &'static str {
    match f {
        HouseField::Owner => "owner",
        HouseField::Door => "door",
        HouseField::Hazards => "hazards",
    }
}

fn house_value(f: HouseField, n: u64) -> Value {
    match f {
        HouseField::Owner => json!(format!("户主{n}")),
        HouseField::Door => json!(format!("{n}号")),
        HouseField::Hazards => json!(format!("隐患{n}：电线老化")),
    }
}

fn one(field: &str, value: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(field.into(), value.clone());
    m
}

fn edit_resident(devs: &[Dev], model: &mut Model, d: usize, record: Uuid, f: ResField) {
    let n = model.next();
    let (field, value) = (res_field_name(f), res_value(f, n));
    devs[d].t.update_resident(record, one(field, &value)).unwrap_or_else(|e| panic!("{} edit: {e}", devs[d].t.name));
    model.record_edit(
        d,
        devs[d].grid,
        Check::Wrote { record, field, value: value.clone() },
        vec![(record, field, value)],
    );
}

async fn sync(devs: &[Dev], model: &mut Model, d: usize) {
    let dev = &devs[d];
    let pending = model.unacked(d);
    assert_eq!(
        dev.t.pending_count().unwrap() as usize,
        pending,
        "{}: the outbox holds every unacknowledged edit",
        dev.t.name
    );
    match dev.mode {
        Mode::Up => {
            let mut tries = 0;
            let report = loop {
                match dev.t.sync().await {
                    Ok(r) => break r,
                    // A pooled connection the proxy closed earlier: the device simply tries again.
                    Err(e) if e.is_retryable() && tries < 3 => {
                        tries += 1;
                        model.totals.retries += 1;
                    }
                    Err(e) => panic!("{} sync failed on an open network: {e}", dev.t.name),
                }
            };
            assert_eq!(report.refused, 0, "{}: a valid edit was refused: {report:?}", dev.t.name);
            assert_eq!(report.acknowledged as usize, pending, "{}: {report:?}", dev.t.name);
            assert_eq!(dev.t.pending_count().unwrap(), 0);
            let mine: Vec<usize> = model.known[d].iter().copied().collect();
            model.server.extend(mine);
            let grid = dev.grid;
            let theirs: Vec<usize> = model.server.iter().copied().filter(|e| model.edits[*e].grid == grid).collect();
            model.known[d].extend(theirs);
            for e in model.edits.iter_mut().filter(|e| e.dev == d) {
                e.acked = true;
            }
            model.totals.syncs_ok += 1;
        }
        Mode::Down | Mode::CutResponses => {
            let err = dev.t.sync().await.expect_err("a sync through a cut network cannot succeed");
            assert!(err.is_retryable(), "{}: {err}", dev.t.name);
            assert_eq!(dev.t.pending_count().unwrap() as usize, pending, "unacknowledged edits stay queued");
            if dev.mode == Mode::CutResponses {
                // The server committed; the device never heard.
                let mine: Vec<usize> = model.known[d].iter().copied().collect();
                model.server.extend(mine);
                model.totals.syncs_cut_answer += 1;
            } else {
                model.totals.syncs_down += 1;
            }
        }
        // A dead link costs the idle time per sync; `device_stall.rs` covers it.
        Mode::Stall => unreachable!("the model never stalls the link"),
    }
}

fn new_dispute(parties: &str) -> NewDispute {
    NewDispute {
        class: "ordinary".into(),
        category: "neighbour".into(),
        parties: vec![NewParty { resident_id: None, name: parties.into() }],
        place: "东坡村村口".into(),
        description: "宅基地边界争执".into(),
        discovered_at: None,
        photos: vec![],
        note: None,
    }
}

async fn run_op(devs: &mut [Dev], model: &mut Model, op: &Op) {
    let n = devs.len();
    match *op {
        Op::CreateResident(d) => {
            let d = d % n;
            let k = model.next();
            let mut r = resident(
                &format!("居民{k}"),
                &format!("19{:02}-03-1{}", 40 + k % 60, k % 10),
                &format!("{:03}", k % 1000),
            );
            r.phone = Some(format!("138{k:08}"));
            devs[d].t.create_resident(&r).unwrap();
            let grid = devs[d].grid;
            let writes = vec![(r.id, "name", json!(r.name)), (r.id, "phone", json!(r.phone))];
            let e = model.record_edit(d, grid, Check::Created(Kind::Resident, r.id), writes);
            model.add_record(r.id, grid, Kind::Resident, e);
        }
        Op::CreateHouse(d) => {
            let d = d % n;
            let k = model.next();
            let h = house(&format!("{k}号"));
            devs[d].t.create_house(&h).unwrap();
            let grid = devs[d].grid;
            let writes = vec![(h.id, "door", json!(h.door)), (h.id, "owner", json!(h.owner))];
            let e = model.record_edit(d, grid, Check::Created(Kind::House, h.id), writes);
            model.add_record(h.id, grid, Kind::House, e);
        }
        Op::EditResident(d, r, f) => {
            let d = d % n;
            let seen = model.seen(d, devs[d].grid, Kind::Resident);
            if let Some(record) = seen.get(r % seen.len().max(1)).copied() {
                edit_resident(devs, model, d, record, f);
            }
        }
        Op::ClearNotes(d, r) => {
            let d = d % n;
            let seen = model.seen(d, devs[d].grid, Kind::Resident);
            let Some(record) = seen.get(r % seen.len().max(1)).copied() else { return };
            // Clearing a field the device sees empty changes nothing (no change is made).
            let current = devs[d].t.resident(record).unwrap().notes;
            if current.is_some() {
                devs[d].t.update_resident(record, one("notes", &Value::Null)).unwrap();
                model.record_edit(
                    d,
                    devs[d].grid,
                    Check::Wrote { record, field: "notes", value: Value::Null },
                    vec![(record, "notes", Value::Null)],
                );
            }
        }
        Op::EditHouse(d, r, f) => {
            let d = d % n;
            let seen = model.seen(d, devs[d].grid, Kind::House);
            let Some(record) = seen.get(r % seen.len().max(1)).copied() else { return };
            let k = model.next();
            let (field, value) = (house_field_name(f), house_value(f, k));
            devs[d].t.update_house(record, one(field, &value)).unwrap();
            model.record_edit(
                d,
                devs[d].grid,
                Check::Wrote { record, field, value: value.clone() },
                vec![(record, field, value)],
            );
        }
        Op::SameField(a, b, r, f) => {
            let (a, b) = (a % n, b % n);
            if a == b || devs[a].grid != devs[b].grid {
                return;
            }
            let both = |model: &Model| -> Vec<Uuid> {
                let seen_b: BTreeSet<Uuid> = model.seen(b, devs[b].grid, Kind::Resident).into_iter().collect();
                model.seen(a, devs[a].grid, Kind::Resident).into_iter().filter(|id| seen_b.contains(id)).collect()
            };
            if both(model).is_empty() {
                // No record both have seen yet: both sync first (if their networks let them).
                sync(devs, model, a).await;
                sync(devs, model, b).await;
                sync(devs, model, a).await;
            }
            let both = both(model);
            let Some(record) = both.get(r % both.len().max(1)).copied() else { return };
            edit_resident(devs, model, a, record, f);
            edit_resident(devs, model, b, record, f);
        }
        Op::Report(d) => {
            let d = d % n;
            let k = model.next();
            let id = devs[d].t.report_dispute(&new_dispute(&format!("当事人{k}"))).unwrap();
            let e = model.record_edit(d, devs[d].grid, Check::Created(Kind::Dispute, id), vec![]);
            model.add_record(id, devs[d].grid, Kind::Dispute, e);
        }
        Op::Act(d, r) => {
            let d = d % n;
            let seen = model.seen(d, devs[d].grid, Kind::Dispute);
            let Some(dispute) = seen.get(r % seen.len().max(1)).copied() else { return };
            let note = format!("第{}次调解", model.next());
            devs[d].t.add_dispute_action(dispute, &sync_protocol::api::NewAction::new("mediate").note(&note)).unwrap();
            model.record_edit(d, devs[d].grid, Check::Action { dispute, note }, vec![]);
        }
        Op::Visit(d, r) => {
            let d = d % n;
            let seen = model.seen(d, devs[d].grid, Kind::House);
            let Some(house_id) = seen.get(r % seen.len().max(1)).copied() else { return };
            let id = devs[d]
                .t
                .record_visit(&NewVisit {
                    house_id,
                    resident_id: None,
                    at: None,
                    clears: FiveClears::all_fine(),
                    needs: None,
                    hazards_found: None,
                    dispute_id: None,
                })
                .unwrap();
            let e = model.record_edit(d, devs[d].grid, Check::Created(Kind::Visit, id), vec![]);
            model.add_record(id, devs[d].grid, Kind::Visit, e);
        }
        Op::Sync(d) => sync(devs, model, d % n).await,
        Op::SyncAll => {
            for d in 0..n {
                sync(devs, model, d).await;
            }
        }
        Op::Net(d, mode) => {
            let d = d % n;
            devs[d].proxy.set(mode);
            devs[d].mode = mode;
        }
    }
}

/// The server's documents of a grid, loaded.
async fn server_docs(server: &TestServer, grid: Uuid) -> (u64, BTreeMap<String, Automerge>) {
    let CatchUp::Snapshot { seq, docs } =
        server.storage().catch_up(grid, &Collection::ALL, 0, Uuid::nil(), usize::MAX).await.unwrap()
    else {
        panic!("a catch-up from position 0 is a snapshot");
    };
    let docs = docs.into_iter().map(|d| (d.key.to_string(), Automerge::load(&d.bytes).unwrap())).collect();
    (seq, docs)
}

fn heads(d: &Automerge) -> Vec<automerge::ChangeHash> {
    let mut h = d.get_heads();
    h.sort();
    h
}

/// Conflicts as comparable (record, field) → sorted values.
fn conflict_map(list: &[doc::Conflict]) -> BTreeMap<(Uuid, String), BTreeSet<String>> {
    list.iter().map(|c| ((c.record, c.field.clone()), c.values.iter().map(|v| v.value.to_string()).collect())).collect()
}

async fn check_converged(server: &TestServer, devs: &[Dev], model: &Model, grids: &[Uuid]) {
    let storage = server.storage();
    let stats = storage.stats().await.unwrap();
    assert_eq!(stats.changes as usize, model.edits.len(), "every edit is logged on the server exactly once");

    let by_id = |kind: Kind| -> Vec<&Rec> { model.records.iter().filter(|r| r.kind == kind).collect() };
    for &grid in grids {
        let in_grid: Vec<&Dev> = devs.iter().filter(|d| d.grid == grid).collect();
        let (seq, sdocs) = server_docs(server, grid).await;
        let changes: usize = sdocs.values().map(|d| d.get_changes(&[]).len()).sum();
        let grid_edits = model.edits.iter().filter(|e| e.grid == grid).count();
        assert_eq!(changes, grid_edits, "the server's documents hold one change per edit");
        assert_eq!(seq as usize, grid_edits, "the grid's log is numbered 1..n without gaps or repeats");

        // Same documents, same heads, on every device of the grid.
        for d in &in_grid {
            let mine: BTreeMap<String, Automerge> =
                d.t.documents()
                    .unwrap()
                    .into_iter()
                    .filter(|(k, _)| k.grid == grid)
                    .map(|(k, d)| (k.to_string(), d))
                    .collect();
            assert_eq!(
                mine.keys().collect::<Vec<_>>(),
                sdocs.keys().collect::<Vec<_>>(),
                "{} holds other documents than the server",
                d.t.name
            );
            for (k, doc) in &mine {
                assert_eq!(heads(doc), heads(&sdocs[k]), "{} differs from the server on {k}", d.t.name);
            }
            assert_eq!(d.t.pending_count().unwrap(), 0, "{} still has pending edits", d.t.name);
            assert!(d.t.quarantine().unwrap().is_empty(), "{}: nothing valid is quarantined", d.t.name);
        }

        // Fields: single survivors hold their value; concurrent survivors are a conflict.
        let residents_doc = sdocs.get(&DocKey::new(grid, Collection::Residents).to_string());
        let houses_doc = sdocs.get(&DocKey::new(grid, Collection::Houses).to_string());
        let mut expected_conflicts: BTreeMap<(Uuid, String), BTreeSet<String>> = BTreeMap::new();
        for key in model.writes.keys() {
            let (record, field) = key;
            let Some(rec) = model.records.iter().find(|r| r.id == *record) else { continue };
            if rec.grid != grid {
                continue;
            }
            let (collection, d) = match rec.kind {
                Kind::Resident => (Collection::Residents, residents_doc.expect("residents document")),
                _ => (Collection::Houses, houses_doc.expect("houses document")),
            };
            let want = model.expected(key);
            let got = doc::read_record(d, collection, *record).expect("record on the server");
            let value = got.get(*field).filter(|v| !v.is_null()).map(|v| v.to_string());
            match want.len() {
                0 => assert_eq!(value, None, "{field} of {record} should be clear"),
                1 => assert_eq!(value.as_ref(), want.first(), "{field} of {record}"),
                _ => {
                    assert!(want.contains(value.as_ref().unwrap()), "{field} of {record}: {value:?} not in {want:?}");
                    expected_conflicts.insert((*record, field.to_string()), want);
                }
            }
        }
        let server_conflicts = conflict_map(&storage.conflicts(&Scope::Grid(grid), Some(grid)).await.unwrap());
        assert_eq!(server_conflicts, expected_conflicts, "the server's conflicts");
        for d in &in_grid {
            assert_eq!(conflict_map(&d.t.conflicts().unwrap()), expected_conflicts, "{}'s conflicts", d.t.name);
        }

        // Query rows: the same records, field for field, on the server and every device.
        for r in by_id(Kind::Resident).into_iter().filter(|r| r.grid == grid) {
            let (_, on_server) = storage.resident(r.id).await.unwrap().expect("resident on the server");
            for d in &in_grid {
                assert_eq!(d.t.resident(r.id).unwrap(), on_server, "{} resident {}", d.t.name, r.id);
            }
        }
        let mut server_houses = storage.houses(&Scope::Grid(grid), Some(grid)).await.unwrap();
        server_houses.sort_by_key(|h| h.id);
        assert_eq!(server_houses.len(), by_id(Kind::House).iter().filter(|r| r.grid == grid).count());
        let mut server_disputes: Vec<_> = storage
            .disputes(&Scope::Grid(grid), &DisputeQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        server_disputes.sort_by_key(|d| d.id);
        for d in &in_grid {
            let mut houses = d.t.houses().unwrap();
            houses.sort_by_key(|h| h.id);
            assert_eq!(houses, server_houses, "{} houses", d.t.name);
            let mut disputes = d.t.disputes(false).unwrap();
            disputes.sort_by_key(|d| d.id);
            assert_eq!(disputes, server_disputes, "{} disputes", d.t.name);
            let visits = d.t.visits(0).unwrap();
            assert_eq!(visits.len(), by_id(Kind::Visit).iter().filter(|r| r.grid == grid).count());
        }

        // Every edit is on the server once.
        for e in model.edits.iter().filter(|e| e.grid == grid) {
            let device = devs[e.dev].t.identity().unwrap().device_id;
            match &e.check {
                Check::Created(kind, id) => {
                    let found = match kind {
                        Kind::Resident => storage.resident(*id).await.unwrap().is_some(),
                        Kind::House => server_houses.iter().any(|h| h.id == *id),
                        Kind::Dispute => server_disputes.iter().any(|d| d.id == *id),
                        Kind::Visit => sdocs.values().any(|d| doc::read_record(d, Collection::Visits, *id).is_some()),
                    };
                    assert!(found, "created {kind:?} {id} is missing on the server");
                }
                Check::Wrote { record, field, value } => {
                    let rec = model.records.iter().find(|r| r.id == *record).unwrap();
                    let d = if rec.kind == Kind::Resident { residents_doc } else { houses_doc }.unwrap();
                    let times = doc::history(d, *record)
                        .iter()
                        .filter(|h| h.field == *field && h.device == Some(device) && h.value == *value)
                        .count();
                    if value.is_null() {
                        assert!(times >= 1, "a clear of {field} by {} is missing", devs[e.dev].t.name);
                    } else {
                        assert_eq!(times, 1, "{field}={value} by {} should be in the history once", devs[e.dev].t.name);
                    }
                }
                Check::Action { dispute, note } => {
                    let d = server_disputes.iter().find(|d| d.id == *dispute).expect("dispute on the server");
                    let times = d.actions.iter().filter(|a| a.note.as_deref() == Some(note.as_str())).count();
                    assert_eq!(times, 1, "action {note} should be on the server once");
                }
            }
        }
    }
}

async fn run_case(case: Case) -> Totals {
    let server = TestServer::start().await;
    let o: Org = server.org.clone();
    let roster = [
        (o.worker_a, o.grid_a, "worker A"),
        (o.assistant_a, o.grid_a, "assistant A"),
        (o.worker_b, o.grid_b, "worker B"),
        (o.leader_a, o.grid_a, "leader A"),
    ];
    let mut devs = Vec::new();
    for &(account, grid, name) in &roster[..case.devices] {
        let proxy = Proxy::start(server.addr()).await;
        let t = TestDevice::enrol(&proxy.url(), &server.code_for(account).await, name).await;
        devs.push(Dev { t, proxy, grid, mode: Mode::Up });
    }
    let mut model = Model {
        edits: Vec::new(),
        records: Vec::new(),
        writes: BTreeMap::new(),
        known: vec![BTreeSet::new(); case.devices],
        server: BTreeSet::new(),
        counter: 0,
        totals: Totals { cases: 1, ..Default::default() },
    };
    for op in &case.ops {
        run_op(&mut devs, &mut model, op).await;
        model.totals.ops += 1;
    }
    model.totals.acknowledged_before_heal = model.edits.iter().filter(|e| e.acked).count() as u64;

    // Heal every network; two rounds bring everything everywhere.
    for d in devs.iter_mut() {
        d.proxy.set(Mode::Up);
        d.mode = Mode::Up;
    }
    for _ in 0..2 {
        for d in 0..devs.len() {
            sync(&devs, &mut model, d).await;
        }
    }
    for (i, d) in devs.iter().enumerate() {
        let all: BTreeSet<usize> = (0..model.edits.len()).filter(|e| model.edits[*e].grid == d.grid).collect();
        assert_eq!(model.known[i], all, "the model: {} has seen everything of its grid", d.t.name);
    }
    let grids: Vec<Uuid> = devs.iter().map(|d| d.grid).collect::<BTreeSet<_>>().into_iter().collect();
    check_converged(&server, &devs, &model, &grids).await;
    let conflicts: usize = model.writes.keys().filter(|k| model.expected(k).len() > 1).count();
    model.totals.conflicts = conflicts as u64;
    model.totals
}

/// The case the property test first shrank to: a third concurrent value of a field already in
/// conflict (leader A's notes) did not change the visible record, so neither the server nor the
/// devices rewrote the record's conflict row and the third value was hidden from whoever
/// settles the conflict (fixed in `doc::touched_records`). It shows when that value loses the
/// ordering, so it is run a few times.
#[test]
fn a_third_concurrent_value_of_a_field_is_listed_in_its_conflict() {
    use Op::*;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for _ in 0..4 {
        let ops = vec![
            CreateResident(0),
            SyncAll,
            SameField(1, 0, 0, ResField::Notes),
            CreateResident(0),
            CreateHouse(0),
            SameField(0, 3, 0, ResField::Notes),
        ];
        let totals = rt.block_on(run_case(Case { devices: 4, ops }));
        assert_eq!(totals.conflicts, 1);
    }
}

#[test]
fn random_devices_edits_orders_and_cuts_converge() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/convergence.proptest-regressions"
        )))),
        // Each case starts a server and enrols devices: keep shrinking bounded.
        max_shrink_iters: 256,
        ..Config::default()
    });
    let totals = std::sync::Mutex::new(Totals::default());
    let started = std::time::Instant::now();
    let result = runner.run(&case(), |case| {
        let t = rt.block_on(run_case(case));
        let mut all = totals.lock().unwrap();
        all.cases += t.cases;
        all.ops += t.ops;
        all.edits += t.edits;
        all.syncs_ok += t.syncs_ok;
        all.syncs_cut_answer += t.syncs_cut_answer;
        all.syncs_down += t.syncs_down;
        all.retries += t.retries;
        all.acknowledged_before_heal += t.acknowledged_before_heal;
        all.conflicts += t.conflicts;
        Ok(())
    });
    let all = *totals.lock().unwrap();
    println!("convergence: {all:?} in {:.1} s", started.elapsed().as_secs_f64());
    if let Err(e) = result {
        panic!("{e}");
    }
    if cases < 16 {
        return;
    }
    assert!(all.conflicts > 0, "the generated cases should include concurrent writes of one field");
    assert!(all.syncs_cut_answer > 0 && all.syncs_down > 0, "the generated cases should cut the network");
}
