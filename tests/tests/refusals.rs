//! Bad input gets a structured error with a stable code, and nothing already stored changes.

use automerge::Automerge;
use gridkeeper_tests::{TestDevice, TestServer, error_code, fields, fingerprint, post_sync, resident};
use serde_json::{Value, json};
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::Record;
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};

struct Setup {
    server: TestServer,
    a: TestDevice,
    b: TestDevice,
    token_a: String,
}

async fn setup() -> Setup {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker A").await;
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "worker B").await;
    a.create_resident(&resident("陈立", "1970-03-03", "011")).unwrap();
    b.create_resident(&resident("郑华", "1971-04-04", "022")).unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let token_a = a.identity().unwrap().token;
    Setup { server, a, b, token_a }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_of_grid_a_is_refused_grid_b() {
    let Setup { server, a, b, token_a } = setup().await;
    let o = server.org.clone();
    let before = fingerprint(&server).await;

    // A change to grid B's residents, made and signed by device A.
    let id = a.identity().unwrap();
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker, node: None };
    let stranger = resident("外人", "1990-01-01", "033");
    let key_b = DocKey::new(o.grid_b, Collection::Residents);
    let change = doc::make_change(
        &Automerge::new(),
        doc::actor_for(id.device_id, 0),
        &Edit { doc: key_b, record: stranger.id, creating: true, fields: stranger.to_fields() },
        &author,
        1_764_000_000_000,
    )
    .unwrap()
    .unwrap();
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![OutChange { doc: key_b, bytes: change.raw_bytes().to_vec() }],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &token_a, req.encode()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let resp = SyncResponse::decode(&body).unwrap();
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].code.as_str(), "out_of_scope");

    // Asking for grid B's records is refused too.
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![GridPosition { grid: o.grid_b, seq: 0 }],
        changes: vec![],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &token_a, req.encode()).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "forbidden"), "{}", String::from_utf8_lossy(&body));
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/v1/residents?grid={}", server.url(), o.grid_b))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let b_resident = b.residents(&Default::default()).unwrap()[0].id;
    let resp =
        http.get(format!("{}/v1/residents/{b_resident}", server.url())).bearer_auth(&token_a).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404, "a foreign record is not even admitted to exist");
    // Staff lists are masked; the grid's own list works.
    let list: Vec<Value> = http
        .get(format!("{}/v1/residents", server.url()))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0]["id_number"].as_str().unwrap().contains('*'));

    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused() {
    let Setup { server, a, token_a, .. } = setup().await;
    let admin = TestDevice::enrol(&server.url(), &server.code_for(server.org.admin).await, "admin").await;
    let admin_token = admin.identity().unwrap().token;
    let http = reqwest::Client::new();
    let device_a = a.identity().unwrap().device_id;

    // Only an administrator may revoke.
    let resp = http
        .post(format!("{}/v1/admin/devices/{device_a}/revoke", server.url()))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = http
        .post(format!("{}/v1/admin/devices/{device_a}/revoke", server.url()))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);

    a.update_resident(a.residents(&Default::default()).unwrap()[0].id, fields(json!({"notes": "丢失前的最后一笔"})))
        .unwrap();
    let before = fingerprint(&server).await;
    let err = a.sync().await.unwrap_err();
    assert_eq!(err.code().as_str(), "device_revoked");
    // A revoked handheld erases what it holds (a lost device's unsent edits go with it).
    assert_eq!(a.pending_count().unwrap(), 0, "the revoked device erased itself");
    assert_eq!(fingerprint(&server).await, before);

    // No token at all, or a made-up one.
    let (status, body) = post_sync(&server, "gk_made_up", vec![0]).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
    // An enrolment code works once.
    let code = server.code_for(server.org.worker_a).await;
    let ok = http
        .post(format!("{}/v1/enrol", server.url()))
        .json(&json!({"code": code, "device_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let again = http
        .post(format!("{}/v1/enrol", server.url()))
        .json(&json!({"code": code.to_lowercase(), "device_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 403);
    assert_eq!(error_code(&again.bytes().await.unwrap()), "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_versions_oversize_and_garbage_are_refused_with_codes() {
    let Setup { server, b, token_a, .. } = setup().await;
    let o = server.org.clone();
    let before = fingerprint(&server).await;

    // Not a sync message at all.
    let (status, body) = post_sync(&server, &token_a, b"{\"hello\": 1}".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_body"));
    // A protocol version the server does not speak.
    let future = SyncRequest { version: 99, positions: vec![], changes: vec![], budget: 0, settings: 0 };
    let (status, body) = post_sync(&server, &token_a, future.encode()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "unsupported_protocol_version"));
    // A query string that does not parse.
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/residents?limit=many", server.url()))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(error_code(&resp.bytes().await.unwrap()), "malformed_query");
    // Too large.
    let (status, body) = post_sync(&server, &token_a, vec![1u8; county_server::api::MAX_BODY_BYTES + 1]).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "body_too_large"));
    // Garbage where an Automerge change should be, and a change that another device made.
    let key_a = DocKey::new(o.grid_a, Collection::Residents);
    let theirs = b.documents().unwrap().into_iter().find(|(k, _)| k.collection == Collection::Residents).unwrap().1;
    let foreign = theirs.get_changes(&[]).pop().unwrap();
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![
            OutChange { doc: key_a, bytes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5, 6] },
            OutChange { doc: key_a, bytes: b"garbage".to_vec() },
            OutChange { doc: key_a, bytes: foreign.raw_bytes().to_vec() },
        ],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &token_a, req.encode()).await;
    assert_eq!(status, 200);
    let resp = SyncResponse::decode(&body).unwrap();
    let codes: Vec<&str> = resp.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["malformed_change", "malformed_change", "foreign_actor"]);

    assert_eq!(fingerprint(&server).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_id_number_is_refused_quarantined_and_reentered() {
    let Setup { server, a, .. } = setup().await;
    let o = server.org.clone();
    let existing = a.residents(&Default::default()).unwrap()[0].id;
    let before = fingerprint(&server).await;

    // An older app with laxer checks stores a resident with a wrong check digit...
    let mut bad = resident("吴敏", "1985-07-07", "044");
    let good = bad.id_number.clone().unwrap();
    let wrong_check = if good.ends_with('0') { '1' } else { '0' };
    bad.id_number = Some(format!("{}{wrong_check}", &good[..17]));
    let key = DocKey::new(o.grid_a, Collection::Residents);
    a.push_unvalidated(&Edit { doc: key, record: bad.id, creating: true, fields: bad.to_fields() }).unwrap();
    // ...and then a perfectly good edit, which Automerge chains onto the bad change.
    a.update_resident(existing, fields(json!({"notes": "有效的修改"}))).unwrap();
    assert_eq!(a.pending_count().unwrap(), 2);

    let report = a.sync().await.unwrap();
    assert_eq!(report.refused, 2, "{report:?}");
    assert_eq!(report.quarantined, 1);
    assert_eq!(report.reentered, 1);
    let q = a.quarantine().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code.as_str(), "id_number_check_digit");
    assert_eq!((q[0].record, q[0].field.as_str()), (Some(bad.id), "id_number"));
    assert!(!q[0].message.is_empty());
    // The refused record is gone from the device's lists; the server never stored anything.
    assert!(a.resident(bad.id).is_err());
    assert_eq!(fingerprint(&server).await, before);

    // The re-entered good edit goes through on the next sync.
    assert_eq!(a.pending_count().unwrap(), 1);
    a.sync().await.unwrap();
    assert_eq!(a.pending_count().unwrap(), 0);
    let (_, on_server) = server.storage().resident(existing).await.unwrap().unwrap();
    assert_eq!(on_server.notes.as_deref(), Some("有效的修改"));

    // The worker corrects the ID number and re-enters the quarantined edit.
    let mut fixed = q[0].edit.fields.clone();
    fixed.insert("id_number".into(), json!(gridkeeper_tests::id_number("1985-07-07", "044")));
    a.reenter_quarantined(q[0].id, fixed).unwrap();
    assert!(a.quarantine().unwrap().is_empty());
    a.sync().await.unwrap();
    assert_eq!(a.pending_count().unwrap(), 0);
    assert_eq!(server.storage().resident(bad.id).await.unwrap().unwrap().1.name, "吴敏");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_dependencies_are_missing_is_not_acknowledged() {
    let Setup { server, a, token_a, .. } = setup().await;
    let o = server.org.clone();
    let id = a.residents(&Default::default()).unwrap()[0].id;
    a.update_resident(id, fields(json!({"phone": "13600000001"}))).unwrap();
    a.update_resident(id, fields(json!({"phone": "13600000002"}))).unwrap();
    let before = fingerprint(&server).await;
    let key = DocKey::new(o.grid_a, Collection::Residents);
    let doc = a.documents().unwrap().into_iter().find(|(k, _)| *k == key).unwrap().1;
    let last = doc.get_changes(&[]).pop().unwrap();
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![OutChange { doc: key, bytes: last.raw_bytes().to_vec() }],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &token_a, req.encode()).await;
    assert_eq!(status, 200);
    let resp = SyncResponse::decode(&body).unwrap();
    assert_eq!(resp.refused.len(), 1);
    assert_eq!(resp.refused[0].code.as_str(), "missing_dependency");
    assert_eq!(fingerprint(&server).await, before);

    // The device sends both in order and both are taken; the server's history shows them.
    a.sync().await.unwrap();
    let history: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/v1/history/residents/{id}", server.url()))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phones: Vec<&str> =
        history.iter().filter(|h| h["field"] == "phone").filter_map(|h| h["value"].as_str()).collect();
    // Phones are masked in the server's history, as in its lists.
    assert_eq!(phones, ["138****5678", "136****0001", "136****0002"]);
    assert!(history.iter().all(|h| h["account"] == json!(o.worker_a.to_string())));
}
