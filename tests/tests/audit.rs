//! Least privilege and the audit of reads, from outside (issue 10, item 2): a real server on a
//! port, real devices, plain HTTP for the staff and admin calls.
//!
//! - A township centre's device receives its grids' disputes, never their residents, and may
//!   not write them.
//! - Every read of personal data — a grid sent in full, changes from a rewound position, a
//!   list, a record, a history, a roster export, a photo — is in the `audit` table with who, what, when and from where, before the
//!   answer; the table survives a restart; only the county administrator reads it, as JSON or
//!   CSV.
//! - A search reads no more of an ID number than a list shows.

use gridkeeper_tests::{
    TestDevice, TestServer, error_code, neighbours_dispute, party, post_sync, put_blob_chunk, resident,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sync_protocol::api::{AuditEntry, AuditQuery, ReadKind};
use sync_protocol::org::Role;
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, PROTOCOL_VERSION, SyncRequest, SyncResponse};

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new().get(format!("{}{path}", server.url())).bearer_auth(token).send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

async fn audit_of(server: &TestServer, account: uuid::Uuid) -> Vec<AuditEntry> {
    server.storage().audit(&AuditQuery { account: Some(account), ..Default::default() }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_devices_get_disputes_only_and_every_personal_read_is_audited() {
    let mut server = TestServer::start().await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker A").await;
    let r = resident("孙玉兰", "1956-08-21", "024");
    a.create_resident(&r).unwrap();
    let dispute = a
        .report_dispute(&neighbours_dispute(
            vec![field_core::NewParty { resident_id: Some(r.id), name: r.name.clone() }],
            "东坡村12号门前",
            "排水沟堵塞引发邻里争执",
        ))
        .unwrap();
    a.sync().await.unwrap();
    // The worker's first sync stored its records and sent its grid back in full: a read.
    let worker_reads = audit_of(&server, o.worker_a).await;
    assert_eq!(worker_reads.len(), 1, "{worker_reads:?}");
    assert_eq!((worker_reads[0].kind, worker_reads[0].role), (ReadKind::Snapshot, Role::GridWorker));
    // Later syncs catch up by changes, which the device's own grid already holds: no entry.
    a.sync().await.unwrap();
    assert_eq!(audit_of(&server, o.worker_a).await.len(), 1);

    // A township centre's device: the disputes of its grids, not their residents.
    let t = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "township").await;
    t.sync().await.unwrap();
    assert_eq!(t.dispute(dispute).unwrap().actions.len(), 1);
    assert!(t.residents(&Default::default()).unwrap().is_empty());
    let held: Vec<Collection> = t.documents().unwrap().iter().map(|(k, _)| k.collection).collect();
    assert!(!held.is_empty() && held.iter().all(|c| *c == Collection::Disputes), "{held:?}");
    let snapshot = audit_of(&server, o.township_staff).await;
    assert_eq!(snapshot.len(), 1, "{snapshot:?}");
    let s = &snapshot[0];
    assert_eq!((s.kind, s.grid, s.role), (ReadKind::Snapshot, Some(o.grid_a), Role::TownshipStaff));
    assert_eq!(s.detail, "disputes");
    assert_eq!(s.device, t.identity().unwrap().device_id);
    assert_eq!(s.client.as_deref(), Some("127.0.0.1"), "from where");
    // A second device of the worker's own grid gets it in full, and that is a read too.
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "assistant A").await;
    b.sync().await.unwrap();
    assert_eq!(b.resident(r.id).unwrap().name, "孙玉兰");
    let full = audit_of(&server, o.assistant_a).await;
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].detail, "disputes residents", "what was sent, by collection");

    // The staff's reads over HTTP, each audited before it is answered.
    let staff = t.identity().unwrap().token;
    let tail: String =
        r.id_number.as_deref().unwrap().chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let (status, list) = get(&server, &staff, &format!("/v1/residents?q={tail}")).await;
    assert_eq!(status, 200);
    assert_eq!(json(&list).as_array().unwrap().len(), 1);
    // A search reads no more than the mask shows: with a fifth digit, right or wrong, the
    // answer is the same, so probing digit by digit learns nothing.
    let id: Vec<char> = r.id_number.as_deref().unwrap().chars().collect();
    let fifth = id[id.len() - 5];
    let wrong = if fifth == '0' { '1' } else { '0' };
    for probe in [format!("{fifth}{tail}"), format!("{wrong}{tail}")] {
        let (status, found) = get(&server, &staff, &format!("/v1/residents?q={probe}")).await;
        assert_eq!((status, json(&found).as_array().unwrap().len()), (200, 1), "{probe}");
    }
    // A record comes masked; a masked value is shown in full only when asked for, one field at
    // a time, and that is a read of its own.
    let (status, record) = get(&server, &staff, &format!("/v1/residents/{}", r.id)).await;
    assert_eq!(status, 200);
    let full = r.id_number.clone().unwrap();
    assert!(!String::from_utf8_lossy(&record).contains(&full), "the record is masked");
    assert_eq!(json(&record)["id_number"], json!(sync_protocol::validate::mask_id_number(&full)));
    // The birth date too (its year only): with it and the tail, the region code is all that
    // is left to guess of an ID number.
    assert_eq!(json(&record)["birth_date"], json!(r.birth_date[..4]));
    let revealed = reqwest::Client::new()
        .post(format!("{}/v1/residents/{}/reveal", server.url(), r.id))
        .bearer_auth(&staff)
        .json(&json!({"field": "id_number"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revealed.status(), 200);
    assert_eq!(revealed.json::<serde_json::Value>().await.unwrap()["value"], json!(full));
    let (status, _) = get(&server, &staff, &format!("/v1/history/residents/{}", r.id)).await;
    assert_eq!(status, 200);
    let (status, csv) = get(&server, &staff, &format!("/v1/admin/grids/{}/roster?format=csv", o.grid_a)).await;
    assert_eq!(status, 200);
    assert!(!String::from_utf8_lossy(&csv).contains(r.id_number.as_deref().unwrap()), "the staff's export is masked");
    let (status, _) = get(&server, &staff, "/v1/disputes").await;
    assert_eq!(status, 200);

    // A photo, uploaded by the worker and read by the staff.
    let photo = b"\xff\xd8\xff\xe0 a small photo".to_vec();
    let hash: String = Sha256::digest(&photo).iter().map(|b| format!("{b:02x}")).collect();
    let worker = a.identity().unwrap().token;
    let (status, _) = put_blob_chunk(&server, &worker, &hash, o.grid_a, photo.len(), 0, photo.clone()).await;
    assert_eq!(status, 200);
    let (status, got) = get(&server, &staff, &format!("/v1/blobs/{hash}")).await;
    assert_eq!((status, got), (200, photo));

    // The worker acts on the dispute: the staff's next sync brings it, from where the staff's
    // device stood — no entry. Asking again from an older position is a read of what it may no
    // longer hold: an entry.
    a.add_dispute_action(dispute, &sync_protocol::api::NewAction::new("mediate").note("上门调解")).unwrap();
    a.sync().await.unwrap();
    t.sync().await.unwrap();
    assert_eq!(t.dispute(dispute).unwrap().actions.len(), 2);
    assert_eq!(audit_of(&server, o.township_staff).await.len(), 10, "a sync from its own position is no entry");
    let rewound = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![GridPosition { grid: o.grid_a, seq: 1 }],
        changes: vec![],
        budget: 0,
        settings: 0,
    };
    let (status, body) = post_sync(&server, &staff, rewound.encode()).await;
    assert_eq!(status, 200);
    assert!(!SyncResponse::decode(&body).unwrap().docs.is_empty());

    let reads = audit_of(&server, o.township_staff).await;
    let kinds: Vec<ReadKind> = reads.iter().rev().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ReadKind::Snapshot,
            ReadKind::ResidentList,
            ReadKind::ResidentList,
            ReadKind::ResidentList,
            ReadKind::ResidentRecord,
            ReadKind::Reveal,
            ReadKind::History,
            ReadKind::RosterExport,
            ReadKind::DisputeList,
            ReadKind::Photo,
            ReadKind::CatchUp,
        ],
        "every read, in order"
    );
    let by_kind = |k: ReadKind| reads.iter().find(|e| e.kind == k).unwrap();
    assert_eq!(by_kind(ReadKind::ResidentRecord).subject, Some(r.id.to_string()));
    assert_eq!(by_kind(ReadKind::ResidentRecord).grid, Some(o.grid_a));
    assert_eq!(by_kind(ReadKind::Reveal).subject, Some(r.id.to_string()));
    assert_eq!(by_kind(ReadKind::Reveal).detail, "id_number");
    assert_eq!(by_kind(ReadKind::History).subject, Some(r.id.to_string()));
    assert_eq!(by_kind(ReadKind::RosterExport).detail, "csv masked");
    assert_eq!(by_kind(ReadKind::Photo).subject, Some(hash.clone()));
    assert!(by_kind(ReadKind::CatchUp).detail.contains("after position 1"), "{}", by_kind(ReadKind::CatchUp).detail);
    assert_eq!(by_kind(ReadKind::ResidentList).detail, format!("search=id_tail(4 chars) category= rows=1"));
    assert!(reads.iter().all(|e| e.client.as_deref() == Some("127.0.0.1")));
    assert!(
        reads.iter().all(|e| !e.detail.contains(r.id_number.as_deref().unwrap()) && !e.detail.contains("138")),
        "an entry says what was read, never the data"
    );

    // Only the county administrator reads the audit.
    for token in [&staff, &worker] {
        let (status, body) = get(&server, token, "/v1/admin/audit").await;
        assert_eq!((status, error_code(&body).as_str()), (403, "forbidden"));
        let (status, _) = get(&server, token, "/v1/admin/audit.csv").await;
        assert_eq!(status, 403);
    }
    let admin = TestDevice::enrol(&server.url(), &server.code_for(o.admin).await, "admin").await;
    let admin_token = admin.identity().unwrap().token;
    // The administrator's device receives no grid data at all.
    admin.sync().await.unwrap();
    assert!(admin.documents().unwrap().is_empty());
    let (status, body) =
        get(&server, &admin_token, &format!("/v1/admin/audit?account={}&kind=photo", o.township_staff)).await;
    assert_eq!(status, 200);
    let entries: Vec<AuditEntry> = serde_json::from_slice(&body).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].subject, Some(hash));
    let (status, body) = get(&server, &admin_token, "/v1/admin/audit?kind=no_such_kind").await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed_query"));
    let (status, csv) = get(&server, &admin_token, &format!("/v1/admin/audit.csv?account={}", o.township_staff)).await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + reads.len(), "a header and one line per read");
    assert!(csv.contains("resident_record") && csv.contains(&r.id.to_string()));

    // Durable: the entries are in the database, and still there after a restart.
    server.restart().await;
    assert_eq!(audit_of(&server, o.township_staff).await, reads);
}

/// A staff device may not write what its role does not receive, even in its own scope: the
/// change is refused as out of scope before it is parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_device_may_not_write_residents() {
    use automerge::Automerge;
    use gridkeeper_tests::fingerprint;
    use sync_protocol::doc::{self, DocKey, Edit};
    use sync_protocol::model::Record;
    use sync_protocol::org::Author;
    use sync_protocol::wire::{OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};

    let server = TestServer::start().await;
    let t = TestDevice::enrol(&server.url(), &server.code_for(server.org.township_staff).await, "township").await;
    let id = t.identity().unwrap();
    // Made as if by a grid worker (the device's own validator would refuse it), signed with the
    // staff device's actor and account: the server knows the role from the token.
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker, node: None };
    let r = resident("冒名", "1980-05-05", "055");
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let edit = Edit { doc: key, record: r.id, creating: true, fields: r.to_fields() };
    let change =
        doc::make_change(&Automerge::new(), doc::actor_for(id.device_id, 0), &edit, &author, 1_764_000_000_000)
            .unwrap()
            .unwrap();
    let before = fingerprint(&server).await;
    let body = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![OutChange { doc: key, bytes: change.raw_bytes().to_vec() }],
        budget: 0,
        settings: 0,
    }
    .encode();
    let (status, bytes) = post_sync(&server, &id.token, body).await;
    assert_eq!(status, 200);
    let answer = SyncResponse::decode(&bytes).unwrap();
    let codes: Vec<&str> = answer.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["out_of_scope"]);
    assert_eq!(fingerprint(&server).await, before);
}

/// A centre's staff device that holds residents (as devices enrolled before roles were scoped
/// did) drops them, with any unsent edit to them, at its next sync; its disputes stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_device_drops_the_residents_it_held_before_roles_were_scoped() {
    use sync_protocol::doc::{DocKey, Edit};
    use sync_protocol::model::Record;
    let server = TestServer::start().await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker A").await;
    let dispute = a.report_dispute(&neighbours_dispute(vec![party("老李")], "村口", "占道堆放柴草")).unwrap();
    a.sync().await.unwrap();
    let t = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "township").await;
    t.sync().await.unwrap();
    // As an older app kept them: a resident written straight into the staff device's store.
    let r = resident("旧数据", "1960-01-01", "013");
    let key = DocKey::new(o.grid_a, Collection::Residents);
    t.push_unvalidated(&Edit { doc: key, record: r.id, creating: true, fields: r.to_fields() }).unwrap();
    assert_eq!(t.residents(&Default::default()).unwrap().len(), 1);
    let report = t.sync().await.unwrap();
    assert_eq!(report.refused, 0, "the unsent edit went with its document, not to the server");
    assert!(t.residents(&Default::default()).unwrap().is_empty());
    assert!(t.documents().unwrap().iter().all(|(k, _)| k.collection == Collection::Disputes));
    assert_eq!(t.pending_count().unwrap(), 0);
    assert_eq!(t.dispute(dispute).unwrap().actions.len(), 1, "its disputes stay");
    assert_eq!(server.storage().stats().await.unwrap().residents, 0);
}
