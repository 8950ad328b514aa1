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
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sync-v1").join(name)).unwrap()
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

    let first = SyncRequest { version: 1, positions: vec![], changes: vec![], budget: 0 }.encode();
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
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker };
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
