//! Handhelds already in the field speak sync protocol version 1 and are updated over weeks:
//! their saved messages must decode and re-encode byte for byte forever, and such a device must
//! keep syncing against the current server — whole snapshots inline as before, never a document
//! to fetch, which it would not understand.

use automerge::Automerge;
use gridkeeper_tests::{TestDevice, TestServer, post_sync, resident, typical_grid_a};
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::Record;
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, OutChange, SyncRequest, SyncResponse};

fn fixture(name: &str) -> Vec<u8> {
    fixture_of(1, name)
}

fn fixture_of(version: u16, name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/sync-v{version}"));
    std::fs::read(dir.join(name)).unwrap()
}

/// Handhelds updated for weak signal speak version 2 (paged answers, no county settings).
#[test]
fn saved_version_2_messages_decode_and_re_encode_byte_for_byte() {
    for name in ["request-positions.bin", "request-changes.bin"] {
        let bytes = fixture_of(2, name);
        let req = SyncRequest::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((req.version, req.settings), (2, 0), "{name}");
        assert_eq!(req.encode(), bytes, "{name} re-encodes as the app wrote it");
        for c in &req.changes {
            assert!(doc::parse_change(&c.bytes).is_some(), "{name}: a saved change no longer parses");
        }
    }
    assert!(!SyncRequest::decode(&fixture_of(2, "request-changes.bin")).unwrap().changes.is_empty());
    let bytes = fixture_of(2, "response.bin");
    let resp = SyncResponse::decode(&bytes).unwrap();
    assert_eq!((resp.version, resp.settings.is_none()), (2, true));
    assert!(!resp.fetch.is_empty(), "the saved answer names a document to fetch");
    assert_eq!(resp.encode(), bytes, "the answer re-encodes as the server of then wrote it");
    for d in &resp.docs {
        Automerge::new().load_incremental(&d.data).unwrap_or_else(|e| panic!("{}: {e}", d.doc));
    }
}

#[test]
fn saved_version_1_messages_decode_and_re_encode_byte_for_byte() {
    for name in ["request-positions.bin", "request-changes.bin"] {
        let bytes = fixture(name);
        let req = SyncRequest::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((req.version, req.budget), (1, 0), "{name}");
        assert_eq!(req.encode(), bytes, "{name} re-encodes as the old app wrote it");
        assert!(!req.positions.is_empty());
        for c in &req.changes {
            assert!(doc::parse_change(&c.bytes).is_some(), "{name}: a saved change no longer parses");
        }
    }
    assert!(!SyncRequest::decode(&fixture("request-changes.bin")).unwrap().changes.is_empty());

    let bytes = fixture("response.bin");
    let resp = SyncResponse::decode(&bytes).unwrap();
    assert_eq!(resp.version, 1);
    assert!(resp.fetch.is_empty());
    assert_eq!(resp.encode(), bytes, "the answer re-encodes as the server of then wrote it");
    assert_eq!(resp.refused[0].code.as_str(), "id_number_check_digit");
    assert!(!resp.docs.is_empty());
    for d in &resp.docs {
        Automerge::new().load_incremental(&d.data).unwrap_or_else(|e| panic!("{}: {e}", d.doc));
    }
}

/// A version 1 device against today's server: enrolment as before, a first sync that names no
/// grid (its own comes anyway), everything inline in a version 1 answer, and its edits taken.
#[tokio::test]
async fn a_version_1_device_syncs_with_the_current_server() {
    let server = TestServer::start().await;
    let data = typical_grid_a(&server).await;
    let o = server.org.clone();
    let old = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "old app").await;
    let id = old.identity().unwrap();

    let first = SyncRequest { version: 1, positions: vec![], changes: vec![], budget: 0, settings: 0 }.encode();
    let (status, body) = post_sync(&server, &id.token, first).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(&body[..3], b"GK\x01", "answered in version 1");
    let answer = SyncResponse::decode(&body).unwrap();
    assert!(answer.fetch.is_empty() && !answer.more, "a version 1 snapshot is never paged");
    let seq = answer.positions.iter().find(|p| p.grid == o.grid_a).expect("its own grid").seq;
    let residents_key = DocKey::new(o.grid_a, Collection::Residents);
    let payload = answer.docs.iter().find(|d| d.doc == residents_key).expect("the residents, inline");
    assert!(payload.snapshot);
    let mut residents = Automerge::new();
    residents.load_incremental(&payload.data).unwrap();
    assert_eq!(doc::record_ids(&residents).len(), data.residents.len());

    // An edit of the old app: a new resident, in a version 1 request.
    let newcomer = resident("老版本", "1961-02-03", "051");
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker, node: None };
    let change = doc::make_change(
        &residents,
        doc::actor_for(id.device_id, 0),
        &Edit { doc: residents_key, record: newcomer.id, creating: true, fields: newcomer.to_fields() },
        &author,
        chrono::Utc::now().timestamp_millis(),
    )
    .unwrap()
    .unwrap();
    let push = SyncRequest {
        version: 1,
        positions: vec![GridPosition { grid: o.grid_a, seq }],
        changes: vec![OutChange { doc: residents_key, bytes: change.raw_bytes().to_vec() }],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &id.token, push.encode()).await;
    assert_eq!(status, 200);
    let answer = SyncResponse::decode(&body).unwrap();
    assert!(answer.refused.is_empty(), "{:?}", answer.refused);

    // A current device of the grid receives it.
    let new = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "new app").await;
    new.sync().await.unwrap();
    let q = sync_protocol::api::ResidentQuery { q: Some("老版本".into()), ..Default::default() };
    assert_eq!(new.residents(&q).unwrap().len(), 1);
}

/// An action as the app before the closed loop (2026-11-26) declared it, frozen: every handheld
/// still running that app reads each action of a dispute into this.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // read only to prove it deserializes
struct ActionBeforeTheLoop {
    id: uuid::Uuid,
    kind: String,
    actor: uuid::Uuid,
    level: sync_protocol::org::Level,
    at: i64,
    #[serde(default)]
    to_level: Option<sync_protocol::org::Level>,
    #[serde(default)]
    note: Option<String>,
}

/// An action written as the app before the loop wrote one: the old fields only, no `after`.
fn old_action(
    doc: &Automerge,
    device: uuid::Uuid,
    account: uuid::Uuid,
    dispute: uuid::Uuid,
    fields: &[(&str, &str)],
) -> Vec<u8> {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ROOT, ReadDoc, ScalarValue};
    let mut fork = doc.fork().with_actor(doc::actor_for(device, 0));
    let mut tx = fork.transaction();
    let (_, record) = tx.get(ROOT, dispute.to_string()).unwrap().unwrap();
    let (_, actions) = tx.get(&record, "actions").unwrap().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let a = tx.put_object(&actions, uuid::Uuid::now_v7().to_string(), automerge::ObjType::Map).unwrap();
    tx.put(&a, "actor", account.to_string()).unwrap();
    tx.put(&a, "at", ScalarValue::Timestamp(now)).unwrap();
    for (k, v) in fields {
        tx.put(&a, *k, *v).unwrap();
    }
    let meta = doc::ChangeMeta { account, device };
    tx.commit_with(CommitOptions::default().with_message(meta.message()).with_time(now));
    fork.get_last_local_change().unwrap().raw_bytes().to_vec()
}

/// A version 1 request: everything after `seq` in the grid, and these changes to its disputes.
async fn v1_sync(server: &TestServer, token: &str, grid: uuid::Uuid, seq: u64, changes: Vec<Vec<u8>>) -> SyncResponse {
    let doc = DocKey::new(grid, Collection::Disputes);
    let changes = changes.into_iter().map(|bytes| OutChange { doc, bytes }).collect();
    let req = SyncRequest { version: 1, positions: vec![GridPosition { grid, seq }], changes, budget: 0, settings: 0 };
    let (status, body) = post_sync(server, token, req.encode()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    SyncResponse::decode(&body).unwrap()
}

/// Handhelds of the app before the closed loop, beside the new one: they read every new action
/// into their old type, their own old-style actions are judged by the rule (an escalation past a
/// level, as that app offered, is taken), and what they cannot give is refused with a code that
/// tells the worker to update.
#[tokio::test]
async fn an_app_from_before_the_loop_keeps_working_its_disputes() {
    use sync_protocol::api::NewAction;
    let server = TestServer::start().await;
    let o = server.org.clone();
    let current = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "current").await;
    let id = current
        .report_dispute(&gridkeeper_tests::neighbours_dispute(vec![gridkeeper_tests::party("甲")], "村口", "争执"))
        .unwrap();
    current.add_dispute_action(id, &NewAction::new("mediate").note("现场调解")).unwrap();
    current.sync().await.unwrap();

    // The grid leader's old app: a first sync, then an escalation straight to the township.
    let (token, device) = gridkeeper_tests::enrol_over_http(&server, o.leader_a).await;
    let first = v1_sync(&server, &token, o.grid_a, 0, vec![]).await;
    let key = DocKey::new(o.grid_a, Collection::Disputes);
    let mut disputes = Automerge::new();
    for d in first.docs.iter().filter(|d| d.doc == key) {
        disputes.load_incremental(&d.data).unwrap();
    }
    let seq = first.positions.iter().find(|p| p.grid == o.grid_a).unwrap().seq;
    let escalate = old_action(
        &disputes,
        device,
        o.leader_a,
        id,
        &[("kind", "escalate"), ("level", "grid"), ("to_level", "township"), ("note", "涉及宅基地，需镇里协调")],
    );
    // The old app keeps what it wrote (a catch-up never sends a device its own changes).
    disputes.load_incremental(&escalate).unwrap();
    let answer = v1_sync(&server, &token, o.grid_a, seq, vec![escalate]).await;
    assert!(answer.refused.is_empty(), "{:?}", answer.refused);
    let seq = answer.positions.iter().find(|p| p.grid == o.grid_a).unwrap().seq;

    // The township works it with the loop's actions; the old app reads every one.
    let staff = gridkeeper_tests::staff_token(&server, o.township_staff).await;
    for body in [
        serde_json::json!({"kind": "accept"}),
        serde_json::json!({"kind": "assign", "to_level": "grid", "due_at": chrono::Utc::now().timestamp_millis() + 86_400_000, "note": "请网格长牵头"}),
    ] {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/disputes/{id}/actions", server.url()))
            .bearer_auth(&staff)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let caught_up = v1_sync(&server, &token, o.grid_a, seq, vec![]).await;
    for d in caught_up.docs.iter().filter(|d| d.doc == key) {
        disputes.load_incremental(&d.data).unwrap();
    }
    let record = doc::read_record(&disputes, Collection::Disputes, id).unwrap();
    let actions = record["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 5, "report, mediate, escalate, accept, assign");
    for a in actions {
        serde_json::from_value::<ActionBeforeTheLoop>(a.clone()).unwrap_or_else(|e| panic!("{a}: {e}"));
    }
    let kinds: Vec<&str> = actions.iter().filter_map(|a| a["kind"].as_str()).collect();
    assert!(kinds.contains(&"accept") && kinds.contains(&"assign"));

    // Supervising without a deadline, as the old app did: told to update, nothing stored.
    let (county_token, county_device) = {
        let staff =
            gridkeeper_tests::put_account(server.storage().as_ref(), "县中心", Role::CountyStaff, o.county).await;
        let (t, d) = gridkeeper_tests::enrol_over_http(&server, staff).await;
        (t, (d, staff))
    };
    let first = v1_sync(&server, &county_token, o.grid_a, 0, vec![]).await;
    let mut held = Automerge::new();
    for d in first.docs.iter().filter(|d| d.doc == key) {
        held.load_incremental(&d.data).unwrap();
    }
    let seq = first.positions.iter().find(|p| p.grid == o.grid_a).unwrap().seq;
    let supervise = old_action(
        &held,
        county_device.0,
        county_device.1,
        id,
        &[("kind", "supervise"), ("level", "county"), ("note", "限期化解")],
    );
    let answer = v1_sync(&server, &county_token, o.grid_a, seq, vec![supervise]).await;
    assert_eq!(answer.refused.len(), 1);
    assert_eq!(answer.refused[0].code.as_str(), "app_too_old");
    assert!(answer.refused[0].message.contains("新版"));
    current.sync().await.unwrap();
    assert_eq!(current.dispute(id).unwrap().actions.len(), 5);
}
