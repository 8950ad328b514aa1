//! (Long on purpose: the one list of promises every backend must keep; a backend added later
//! runs all of it by adding one line to `backends`.)
//!
//! One suite of storage semantics that every backend must pass: SQLite (a real file) and
//! PostgreSQL (a fresh database on the server named by `GRIDKEEPER_TEST_PG`, by default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::sync::Arc;

use county_server::storage::{
    Account, AuditEntry, AuditQuery, CatchUp, Device, DeviceUploads, DocWrite, GridCommit, NewChange, Node,
    PostgresStorage, ReadKind, Rows, Scope, SqliteStorage, Storage, StorageError, StoredDoc, Upload,
};
use sync_protocol::doc::DocKey;
use sync_protocol::model::{CountySettings, Resident, TimeLimits};
use sync_protocol::org::{NodeKind, Role};
use sync_protocol::schema::Collection;
use uuid::Uuid;

async fn backends(dir: &tempfile::TempDir, pg: &str) -> Vec<(&'static str, Arc<dyn Storage>)> {
    vec![
        ("sqlite", Arc::new(SqliteStorage::open(&dir.path().join("suite.db")).unwrap())),
        ("postgres", Arc::new(PostgresStorage::connect(pg).await.unwrap())),
    ]
}

async fn grid(s: &dyn Storage) -> (Uuid, Uuid) {
    let township = Uuid::now_v7();
    let grid = Uuid::now_v7();
    s.put_node(&Node {
        id: township,
        kind: NodeKind::Township,
        name: "镇".into(),
        parent: None,
        township: None,
        village: None,
    })
    .await
    .unwrap();
    s.put_node(&Node {
        id: grid,
        kind: NodeKind::Grid,
        name: "网格".into(),
        parent: Some(township),
        township: Some(township),
        village: None,
    })
    .await
    .unwrap();
    (township, grid)
}

fn change(doc: DocKey, n: u8, device: Uuid) -> NewChange {
    NewChange { doc, hash: [n; 32], bytes: vec![n; 10], device, account: Uuid::nil() }
}

#[tokio::test]
async fn every_backend_keeps_the_same_promises() {
    let dir = tempfile::tempdir().unwrap();
    let pg = county_server::testing::scratch_postgres("suite").await.expect("PostgreSQL for the storage suite");
    for (name, s) in backends(&dir, &pg).await {
        let s = s.as_ref();
        let (township, g) = grid(s).await;
        assert_eq!(s.grids(&Scope::Township(township)).await.unwrap().len(), 1, "{name}");
        assert!(s.grids(&Scope::Township(Uuid::now_v7())).await.unwrap().is_empty(), "{name}");

        // Enrolment codes: single use, and never after they expire.
        let acc = Account { id: Uuid::now_v7(), name: "网格员".into(), role: Role::GridWorker, node: g };
        s.put_account(&acc).await.unwrap();
        s.put_enrolment_code("code-a", acc.id, 2_000).await.unwrap();
        s.put_enrolment_code("code-b", acc.id, 2_000).await.unwrap();
        let dev = |id| Device { id, account: acc.id, name: "d".into(), created_at: 1_000, revoked_at: None };
        let d1 = Uuid::now_v7();
        assert_eq!(
            s.redeem_enrolment_code("code-a", 1_000, &dev(d1), "token-1").await.unwrap(),
            Some(acc.clone()),
            "{name}"
        );
        assert_eq!(
            s.redeem_enrolment_code("code-a", 1_000, &dev(Uuid::now_v7()), "token-2").await.unwrap(),
            None,
            "{name}: reused"
        );
        assert_eq!(
            s.redeem_enrolment_code("code-b", 2_000, &dev(Uuid::now_v7()), "token-3").await.unwrap(),
            None,
            "{name}: expired"
        );
        assert_eq!(
            s.redeem_enrolment_code("nope", 1_000, &dev(Uuid::now_v7()), "token-4").await.unwrap(),
            None,
            "{name}"
        );
        let holder = s.device_by_token("token-1").await.unwrap().unwrap();
        assert_eq!((holder.device.id, holder.account.id), (d1, acc.id), "{name}");
        assert_eq!(
            holder.node.map(|n| (n.id, n.kind)),
            Some((g, NodeKind::Grid)),
            "{name}: the account's node comes along"
        );
        assert!(s.device_by_token("token-2").await.unwrap().is_none());
        assert!(s.revoke_device(d1, 5).await.unwrap());
        assert!(!s.revoke_device(d1, 6).await.unwrap(), "{name}: revoking twice reports nothing to do");
        assert_eq!(s.device_by_token("token-1").await.unwrap().unwrap().device.revoked_at, Some(5));

        // Commits: atomic, versioned, sequenced per grid.
        let key = DocKey::new(g, Collection::Residents);
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let doc = |bytes: &[u8], expected: Option<u64>| DocWrite::full(key, expected, bytes.to_vec());
        let seq = s
            .commit(GridCommit {
                grid: g,
                docs: vec![doc(b"v1", None)],
                changes: vec![change(key, 1, me), change(key, 2, other)],
                rows: Rows::default(),
                settings: Default::default(),
            })
            .await
            .unwrap();
        assert_eq!(seq, 2, "{name}");
        // A writer that read version 0 (none) again loses: nothing of its commit is kept.
        let lost = s
            .commit(GridCommit {
                grid: g,
                docs: vec![doc(b"stale", None)],
                changes: vec![change(key, 3, me)],
                rows: Rows::default(),
                settings: Default::default(),
            })
            .await;
        assert!(matches!(lost, Err(StorageError::Contention(_))), "{name}: {lost:?}");
        assert_eq!(s.has_changes(&[[3; 32], [1; 32]]).await.unwrap(), vec![false, true]);
        assert_eq!(s.grid_seq(g).await.unwrap(), 2);
        // The same change twice is refused as contention too (never duplicated).
        let dup = s
            .commit(GridCommit {
                grid: g,
                docs: vec![doc(b"v2", Some(1))],
                changes: vec![change(key, 2, other)],
                rows: Rows::default(),
                settings: Default::default(),
            })
            .await;
        assert!(matches!(dup, Err(StorageError::Contention(_))), "{name}");
        assert_eq!(s.load_docs(&[key]).await.unwrap()[0].bytes, b"v1", "{name}: a failed commit leaves the document");
        s.commit(GridCommit {
            grid: g,
            docs: vec![doc(b"v2", Some(1))],
            changes: vec![change(key, 4, other)],
            rows: Rows::default(),
            settings: Default::default(),
        })
        .await
        .unwrap();

        // Catch-up: a snapshot at position 0, then only others' changes, paged.
        match s.catch_up(g, &Collection::ALL, 0, me, 1 << 20).await.unwrap() {
            CatchUp::Snapshot { seq, docs } => {
                assert_eq!(seq, 3);
                assert_eq!(docs.len(), 1);
                assert_eq!(docs[0].bytes, b"v2");
            }
            other => panic!("{name}: {other:?}"),
        }
        match s.catch_up(g, &Collection::ALL, 1, me, 1 << 20).await.unwrap() {
            CatchUp::Changes { seq, changes, more } => {
                assert_eq!((seq, more), (3, false));
                assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![2, 3]);
            }
            other => panic!("{name}: {other:?}"),
        }
        match s.catch_up(g, &Collection::ALL, 1, me, 5).await.unwrap() {
            CatchUp::Changes { seq, changes, more } => {
                assert!(more, "{name}: a small budget pages");
                assert_eq!(changes.len(), 1);
                assert_eq!(seq, 2);
            }
            other => panic!("{name}: {other:?}"),
        }
        match s.catch_up(g, &Collection::ALL, 3, me, 5).await.unwrap() {
            CatchUp::Changes { seq, changes, more } => assert_eq!((seq, changes.len(), more), (3, 0, false)),
            other => panic!("{name}: {other:?}"),
        }

        // A long night: more changes than a backend reads in one page (PostgreSQL reads 500),
        // mixed with the device's own, all come back in order and none twice.
        let (night, someone) = (Uuid::now_v7(), Uuid::now_v7());
        let doc = DocKey::new(night, Collection::Residents);
        let many: Vec<NewChange> = (0..1_203u32)
            .map(|i| {
                let mut hash = [0u8; 32];
                hash[..16].copy_from_slice(night.as_bytes());
                hash[16..20].copy_from_slice(&i.to_be_bytes());
                let device = if i % 3 == 0 { me } else { someone };
                NewChange { doc, hash, bytes: i.to_be_bytes().to_vec(), device, account: Uuid::nil() }
            })
            .collect();
        s.commit(GridCommit {
            grid: night,
            docs: vec![],
            changes: many,
            rows: Rows::default(),
            settings: Default::default(),
        })
        .await
        .unwrap();
        match s.catch_up(night, &Collection::ALL, 2, me, usize::MAX).await.unwrap() {
            CatchUp::Changes { seq, changes, more } => {
                assert_eq!((seq, more), (1_203, false), "{name}");
                let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
                let expected: Vec<u64> = (3..=1_203u64).filter(|s| (s - 1) % 3 != 0).collect();
                assert_eq!(seqs, expected, "{name}: others' changes after position 2, in order");
            }
            other => panic!("{name}: {other:?}"),
        }

        // A role's collections: documents and changes of others are passed over, and the
        // position still moves past them (a centre's staff get disputes, not residents).
        match s.catch_up(g, &[Collection::Disputes], 0, me, 1 << 20).await.unwrap() {
            CatchUp::Snapshot { seq, docs } => assert_eq!((seq, docs.len()), (3, 0), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        match s.catch_up(night, &[Collection::Disputes, Collection::Houses], 2, me, usize::MAX).await.unwrap() {
            CatchUp::Changes { seq, changes, more } => {
                assert_eq!((seq, changes.len(), more), (1_203, 0, false), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
        match s.catch_up(night, &[], 2, me, usize::MAX).await.unwrap() {
            CatchUp::Changes { seq, changes, .. } => assert_eq!((seq, changes.len()), (1_203, 0), "{name}"),
            other => panic!("{name}: {other:?}"),
        }

        // The audit of reads: appended, filtered, newest first.
        let entry = |at: i64, kind: ReadKind, account: Uuid| AuditEntry {
            at,
            account,
            device: d1,
            role: Role::TownshipStaff,
            kind,
            grid: Some(g),
            subject: Some("019ab000-0000-7000-8000-000000000001".into()),
            detail: "q=张 rows=3".into(),
            client: Some("203.0.113.9".into()),
        };
        let (clerk, other_clerk) = (Uuid::now_v7(), Uuid::now_v7());
        let written = vec![
            entry(10, ReadKind::ResidentList, clerk),
            entry(20, ReadKind::ResidentRecord, clerk),
            entry(30, ReadKind::Snapshot, other_clerk),
        ];
        s.record_reads(&written).await.unwrap();
        s.record_reads(&[]).await.unwrap();
        let all = s.audit(&AuditQuery::default()).await.unwrap();
        assert_eq!(all, written.iter().rev().cloned().collect::<Vec<_>>(), "{name}: every field kept, newest first");
        let mine = s.audit(&AuditQuery { account: Some(clerk), ..Default::default() }).await.unwrap();
        assert_eq!(mine.iter().map(|e| e.at).collect::<Vec<_>>(), vec![20, 10], "{name}");
        let window = AuditQuery { from: Some(15), to: Some(30), ..Default::default() };
        assert_eq!(s.audit(&window).await.unwrap().iter().map(|e| e.at).collect::<Vec<_>>(), vec![20], "{name}");
        let snapshots = AuditQuery { kind: Some(ReadKind::Snapshot), limit: Some(5), ..Default::default() };
        assert_eq!(s.audit(&snapshots).await.unwrap().len(), 1, "{name}");
        let elsewhere = AuditQuery { grid: Some(Uuid::now_v7()), ..Default::default() };
        assert!(s.audit(&elsewhere).await.unwrap().is_empty(), "{name}");
        assert_eq!(s.audit(&AuditQuery { limit: Some(1), ..Default::default() }).await.unwrap().len(), 1, "{name}");

        // Blobs: chunks only at the reached offset, hash checked at the end.
        let bytes = b"a photo, in three parts".to_vec();
        let hash = field_hash(&bytes);
        let up = |grid: Uuid, total: usize, offset: u64, at: i64| Upload {
            grid,
            device: d1,
            total: total as u64,
            offset,
            at,
        };
        let st = s.put_blob_chunk(&hash, up(g, bytes.len(), 0, 1_000), &bytes[..8]).await.unwrap();
        assert_eq!((st.received, st.complete), (8, false));
        let st = s.put_blob_chunk(&hash, up(g, bytes.len(), 0, 1_000), &bytes[..8]).await.unwrap();
        assert_eq!(st.received, 8, "{name}: a repeated chunk is not appended twice");
        s.put_blob_chunk(&hash, up(g, bytes.len(), 8, 1_000), &bytes[8..16]).await.unwrap();
        let st = s.put_blob_chunk(&hash, up(g, bytes.len(), 16, 1_000), &bytes[16..]).await.unwrap();
        assert!(st.complete);
        assert_eq!(s.blob(g, &hash).await.unwrap().unwrap(), bytes);
        // A blob belongs to its grid: the same hash uploaded into another grid is another blob,
        // and a chunk for the other grid never lands in this grid's.
        let st = s.put_blob_chunk(&hash, up(other, bytes.len(), 8, 1_000), &bytes[8..16]).await.unwrap();
        assert_eq!((st.grid, st.received, st.complete), (other, 0, false), "{name}: nothing of grid g answered");
        assert!(s.blob(other, &hash).await.unwrap().is_none(), "{name}");
        let states = s.blob_states(&hash).await.unwrap();
        assert_eq!(states.len(), 1, "{name}: {states:?}");
        assert_eq!((states[0].grid, states[0].complete), (g, true), "{name}");
        // What a device uploads: the complete photo counts as started; an upload it leaves
        // unfinished is deleted once nothing came to it since the time given.
        let (d, none) = (s.device_uploads(d1, 0).await.unwrap(), DeviceUploads::default());
        assert_eq!(d, DeviceUploads { unfinished: 0, started_bytes: bytes.len() as u64 }, "{name}");
        assert_eq!(s.device_uploads(d1, 2_000).await.unwrap(), none, "{name}: started before the time asked");
        let half = b"half a photo".to_vec();
        let half_hash = field_hash(&half);
        s.put_blob_chunk(&half_hash, up(g, half.len(), 0, 5_000), &half[..4]).await.unwrap();
        let d = s.device_uploads(d1, 2_000).await.unwrap();
        assert_eq!(d, DeviceUploads { unfinished: 1, started_bytes: half.len() as u64 }, "{name}");
        s.put_blob_chunk(&half_hash, up(g, half.len(), 4, 7_000), &half[4..6]).await.unwrap();
        assert_eq!(s.prune_unfinished_uploads(7_000).await.unwrap(), 0, "{name}: touched at 7,000");
        assert_eq!(s.prune_unfinished_uploads(7_001).await.unwrap(), 1, "{name}");
        assert!(s.blob_states(&half_hash).await.unwrap().is_empty(), "{name}");
        assert_eq!(s.device_uploads(d1, 0).await.unwrap().unfinished, 0, "{name}");
        assert_eq!(s.blob(g, &hash).await.unwrap().unwrap(), bytes, "{name}: a complete photo is never pruned");
        // Started again from the beginning, it is a new upload.
        let st = s.put_blob_chunk(&half_hash, up(g, half.len(), 0, 8_000), &half[..4]).await.unwrap();
        assert_eq!(st.received, 4, "{name}");
        // Bytes that do not match their name start over, and the attempt still counts.
        let fake = "0".repeat(64);
        let st = s.put_blob_chunk(&fake, up(g, 4, 0, 8_000), &[1, 2, 3, 4]).await.unwrap();
        assert_eq!((st.received, st.complete), (0, false), "{name}");
        let d = s.device_uploads(d1, 8_000).await.unwrap();
        assert_eq!(d, DeviceUploads { unfinished: 2, started_bytes: half.len() as u64 + 4 }, "{name}");

        // Appends: a document's new changes go after its stored bytes, under the same checks.
        let houses = DocKey::new(g, Collection::Houses);
        let write = |docs: Vec<DocWrite>, n: u8| GridCommit {
            grid: g,
            docs,
            changes: vec![change(houses, n, me)],
            rows: Rows::default(),
            settings: Default::default(),
        };
        let missing = s.commit(write(vec![DocWrite::append(houses, 1, b"+1".to_vec())], 40)).await;
        assert!(matches!(missing, Err(StorageError::Contention(_))), "{name}: nothing to append to");
        s.commit(write(vec![DocWrite::full(houses, None, b"base".to_vec())], 41)).await.unwrap();
        s.commit(write(vec![DocWrite::append(houses, 1, b"+1".to_vec())], 42)).await.unwrap();
        let stale = s.commit(write(vec![DocWrite::append(houses, 1, b"+x".to_vec())], 43)).await;
        assert!(matches!(stale, Err(StorageError::Contention(_))), "{name}: {stale:?}");
        let stored = s.load_docs(&[houses]).await.unwrap();
        assert_eq!((stored[0].bytes.as_slice(), stored[0].version), (&b"base+1"[..], 2), "{name}");
        assert_eq!(s.doc_versions(&[houses, key]).await.unwrap(), vec![(houses, 2), (key, 2)], "{name}");
        // More appends come back in order, in loads and in a snapshot catch-up alike; a full save
        // replaces the saved bytes and everything appended to them.
        s.commit(write(vec![DocWrite::append(houses, 2, b"+2".to_vec())], 44)).await.unwrap();
        s.commit(write(vec![DocWrite::append(houses, 3, b"+3".to_vec())], 45)).await.unwrap();
        let whole = |docs: Vec<StoredDoc>| docs.into_iter().find(|d| d.key == houses).map(|d| (d.bytes, d.version));
        assert_eq!(whole(s.load_docs(&[houses]).await.unwrap()), Some((b"base+1+2+3".to_vec(), 4)), "{name}");
        let CatchUp::Snapshot { docs, .. } = s.catch_up(g, &Collection::ALL, 0, me, usize::MAX).await.unwrap() else {
            panic!("{name}: a first catch-up is a snapshot")
        };
        assert_eq!(whole(docs), Some((b"base+1+2+3".to_vec(), 4)), "{name}");
        s.commit(write(vec![DocWrite::full(houses, Some(4), b"compacted".to_vec())], 46)).await.unwrap();
        s.commit(write(vec![DocWrite::append(houses, 5, b"+6".to_vec())], 47)).await.unwrap();
        assert_eq!(whole(s.load_docs(&[houses]).await.unwrap()), Some((b"compacted+6".to_vec(), 6)), "{name}");

        // A record id already held by another grid: that grid's query row is left alone (a
        // device cannot overwrite a foreign grid's resident by reusing its id).
        let (_, other) = grid(s).await;
        let person = |name: &str| Resident {
            id: Uuid::from_u128(0x1234),
            name: name.into(),
            sex: "female".into(),
            birth_date: "1980-01-01".into(),
            id_number: None,
            phone: None,
            ethnicity: None,
            categories: vec![],
            relation: None,
            house_id: None,
            notes: None,
            archived_reason: None,
            archived_on: None,
        };
        let with_row = |grid: Uuid, r: Resident, n: u8| {
            let doc = DocKey::new(grid, Collection::Residents);
            let mut rows = Rows::default();
            rows.residents.push((doc, r));
            GridCommit { grid, docs: vec![], changes: vec![change(doc, n, me)], rows, settings: Default::default() }
        };
        s.commit(with_row(g, person("王芳"), 50)).await.unwrap();
        s.commit(with_row(other, person("冒名"), 51)).await.unwrap();
        let kept = s.resident(Uuid::from_u128(0x1234)).await.unwrap().map(|(k, r)| (k.grid, r.name));
        assert_eq!(kept, Some((g, "王芳".to_string())), "{name}");

        // A record's conflict rows follow its latest commit: kept while open, gone once settled.
        let conflict = sync_protocol::doc::Conflict {
            collection: Collection::Residents,
            record: Uuid::from_u128(0x1234),
            field: "phone".into(),
            values: vec![],
        };
        let mut open = with_row(g, person("王芳"), 52);
        open.rows.conflicts.push((DocKey::new(g, Collection::Residents), conflict.record, vec![conflict.clone()]));
        s.commit(open).await.unwrap();
        assert_eq!(s.conflicts(&Scope::Grid(g), None).await.unwrap(), vec![conflict.clone()], "{name}");
        let mut settled = with_row(g, person("王芳"), 53);
        settled.rows.conflicts.push((DocKey::new(g, Collection::Residents), conflict.record, vec![]));
        s.commit(settled).await.unwrap();
        assert!(s.conflicts(&Scope::Grid(g), None).await.unwrap().is_empty(), "{name}: settled");

        // Conflict rows belong to their grid: the same record id with a conflict on the same
        // field in two grids keeps two rows, and settling one leaves the other (on PostgreSQL
        // the rows were swapped, on SQLite the second commit failed).
        let theirs = sync_protocol::doc::Conflict {
            values: vec![sync_protocol::doc::ConflictValue {
                value: serde_json::json!("13800000000"),
                account: None,
                device: None,
                at: 1,
            }],
            ..conflict.clone()
        };
        let mut in_other = with_row(other, person("冒名"), 54);
        in_other.rows.conflicts.push((
            DocKey::new(other, Collection::Residents),
            conflict.record,
            vec![theirs.clone()],
        ));
        s.commit(in_other).await.unwrap();
        let mut in_g = with_row(g, person("王芳"), 55);
        in_g.rows.conflicts.push((DocKey::new(g, Collection::Residents), conflict.record, vec![conflict.clone()]));
        s.commit(in_g).await.expect("a conflict on a record id another grid also holds");
        assert_eq!(s.conflicts(&Scope::Grid(g), None).await.unwrap(), vec![conflict.clone()], "{name}");
        assert_eq!(s.conflicts(&Scope::Grid(other), None).await.unwrap(), vec![theirs.clone()], "{name}");
        let mut settle_g = with_row(g, person("王芳"), 56);
        settle_g.rows.conflicts.push((DocKey::new(g, Collection::Residents), conflict.record, vec![]));
        s.commit(settle_g).await.unwrap();
        assert_eq!(
            s.conflicts(&Scope::Grid(other), None).await.unwrap(),
            vec![theirs],
            "{name}: the other grid's row stays"
        );

        // Codes: open while issued, unused and unexpired (a read); a revoked code is not.
        let code = format!("{:064x}", Uuid::now_v7().as_u128());
        s.put_enrolment_code(&code, Uuid::now_v7(), 5_000).await.unwrap();
        assert!(s.enrolment_code_open(&code, 1_000).await.unwrap(), "{name}");
        assert!(!s.enrolment_code_open(&code, 5_000).await.unwrap(), "{name}: expired");
        assert!(!s.enrolment_code_open(&"0".repeat(64), 1_000).await.unwrap(), "{name}: never issued");
        assert!(s.revoke_enrolment_code(&code, 1_000).await.unwrap(), "{name}");
        assert!(!s.enrolment_code_open(&code, 1_000).await.unwrap(), "{name}: revoked");
        assert!(!s.revoke_enrolment_code(&code, 1_000).await.unwrap(), "{name}: revoked once");
    }
    county_server::testing::drop_scratch_postgres(&pg).await.unwrap();
}

fn field_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The staff overview (counts by category, open and settled disputes by level, visits this
/// month) agrees with the records themselves, on every backend.
#[tokio::test]
async fn every_backend_counts_the_overview_from_the_records() {
    use sync_protocol::org::Author;
    let dir = tempfile::tempdir().unwrap();
    let pg = county_server::testing::scratch_postgres("overview").await.expect("PostgreSQL for the storage suite");
    let now = chrono::Utc::now().timestamp_millis();
    let worker = Uuid::now_v7();
    let mut spec = demo_county::GridSpec::typical("高庄镇", "东坡村", worker, now, 7);
    (spec.residents, spec.houses, spec.visit_months, spec.visits_per_month, spec.open_disputes) = (120, 45, 3, 20, 4);
    let data = demo_county::generate_grid(&spec);
    let records = county_server::service::import::GridRecords {
        residents: data.residents.clone(),
        houses: data.houses.clone(),
        visits: data.visits.clone(),
        disputes: data.disputes.clone(),
    };
    let month = DocKey::month_start_ms(now);
    // What the overview must say, counted from the records.
    let live: Vec<_> = data.residents.iter().filter(|r| !r.is_archived()).collect();
    let by_level = |f: &dyn Fn(&sync_protocol::model::Dispute, &str) -> bool| -> Vec<(String, u64)> {
        sync_protocol::schema::LEVELS
            .iter()
            .map(|l| (l.to_string(), data.disputes.iter().filter(|d| f(d, l)).count() as u64))
            .collect()
    };
    let open = by_level(&|d, l| {
        d.state(&Default::default()).status.is_open() && d.state(&Default::default()).level.as_str() == l
    });
    let settled = by_level(&|d, l| d.state(&Default::default()).resolved_level.is_some_and(|r| r.as_str() == l));
    assert!(open.iter().any(|(_, n)| *n > 0), "the data has open disputes to count");

    for (name, s) in backends(&dir, &pg).await {
        let s = s.as_ref();
        let (township, g) = grid(s).await;
        let author = Author { account: worker, device: Uuid::now_v7(), role: Role::GridWorker, node: None };
        county_server::service::import::import_grid(s, g, &author, &records, now).await.unwrap();
        let o = s.overview(&Scope::Township(township), month).await.unwrap();
        assert_eq!(o.grids, 1, "{name}");
        assert_eq!(o.residents, live.len() as u64, "{name}");
        assert_eq!(o.houses, data.houses.iter().filter(|h| h.archived_reason.is_none()).count() as u64, "{name}");
        assert_eq!(o.visits_this_month, data.visits.iter().filter(|v| v.at >= month).count() as u64, "{name}");
        for (cat, n) in &o.by_category {
            let expected = live.iter().filter(|r| r.categories.iter().any(|c| c == cat)).count() as u64;
            assert_eq!(*n, expected, "{name}: category {cat}");
        }
        assert_eq!(o.by_category.len(), sync_protocol::schema::POPULATION_CATEGORIES.len(), "{name}");
        assert_eq!(o.open_disputes_by_level, open, "{name}");
        assert_eq!(o.resolved_by_level, settled, "{name}");
        // A scope that does not hold the grid sees nothing of it.
        assert_eq!(s.overview(&Scope::Township(Uuid::now_v7()), month).await.unwrap().residents, 0, "{name}");

        // The counters follow later writes: a resident archived, one given another category,
        // one new; a house archived; a visit moved to another month; and a record of this grid
        // written again under another grid, which stores nothing there and counts nothing.
        let (mut residents, mut houses, mut visits) =
            (data.residents.clone(), data.houses.clone(), data.visits.clone());
        let live_at: Vec<usize> = (0..residents.len()).filter(|&i| !residents[i].is_archived()).collect();
        residents[live_at[0]].archived_reason = Some("moved_away".into());
        residents[live_at[1]].categories = vec!["key_person".into(), "veteran".into()];
        let mut newcomer = residents[live_at[2]].clone();
        newcomer.id = Uuid::now_v7();
        residents.push(newcomer);
        let house_at = houses.iter().position(|h| h.archived_reason.is_none()).unwrap();
        houses[house_at].archived_reason = Some("demolished".into());
        // (Early in a month the data may hold no visit of it yet: then one moves into it.)
        let visit_at = visits.iter().position(|v| v.at >= month).unwrap_or(0);
        visits[visit_at].at = if visits[visit_at].at >= month { month - 86_400_000 } else { month + 1_000 };
        // A dispute held at the grid is settled there (as its reporter's handheld would write it).
        let mut disputes = data.disputes.clone();
        let settle_at = disputes
            .iter()
            .position(|d| {
                let st = d.state(&Default::default());
                st.status.is_open() && st.level == sync_protocol::org::Level::Grid
            })
            .expect("an open dispute at the grid");
        let d = &mut disputes[settle_at];
        let at = d.actions.iter().map(|a| a.at).max().unwrap_or(now) + 1;
        let mut resolve = sync_protocol::model::Action::new(
            Uuid::now_v7(),
            "resolve",
            d.reported_by,
            sync_protocol::org::Level::Grid,
            at,
        );
        resolve.note = Some("当场调解".into());
        resolve.after = sync_protocol::model::closed_loop::last_seen(&d.actions);
        d.actions.push(resolve);
        assert!(d.state(&Default::default()).resolved_level.is_some(), "the resolution takes");
        let key = |c| DocKey::new(g, c);
        let rows = Rows {
            disputes: vec![(key(Collection::Disputes), disputes[settle_at].clone())],
            residents: [live_at[0], live_at[1], residents.len() - 1]
                .iter()
                .map(|&i| (key(Collection::Residents), residents[i].clone()))
                .collect(),
            houses: vec![(key(Collection::Houses), houses[house_at].clone())],
            visits: vec![(DocKey::visits(g, DocKey::month_of(visits[visit_at].at)), visits[visit_at].clone())],
            ..Rows::default()
        };
        s.commit(GridCommit { grid: g, docs: vec![], changes: vec![], rows, settings: Default::default() })
            .await
            .unwrap();
        let (_, elsewhere) = grid(s).await;
        let mut stray = residents[live_at[3]].clone();
        stray.categories = vec!["overseas".into()];
        let rows = Rows { residents: vec![(DocKey::new(elsewhere, Collection::Residents), stray)], ..Rows::default() };
        s.commit(GridCommit { grid: elsewhere, docs: vec![], changes: vec![], rows, settings: Default::default() })
            .await
            .unwrap();
        let o = s.overview(&Scope::Township(township), month).await.unwrap();
        let live: Vec<_> = residents.iter().filter(|r| !r.is_archived()).collect();
        assert_eq!(o.residents, live.len() as u64, "{name}: after the writes");
        assert_eq!(o.houses, houses.iter().filter(|h| h.archived_reason.is_none()).count() as u64, "{name}");
        assert_eq!(o.visits_this_month, visits.iter().filter(|v| v.at >= month).count() as u64, "{name}");
        for (cat, n) in &o.by_category {
            let expected = live.iter().filter(|r| r.categories.iter().any(|c| c == cat)).count() as u64;
            assert_eq!(*n, expected, "{name}: category {cat} after the writes");
        }
        let states: Vec<_> = disputes.iter().map(|d| d.state(&Default::default())).collect();
        let by_level = |f: &dyn Fn(&sync_protocol::model::DisputeState, &str) -> bool| -> Vec<(String, u64)> {
            let levels = sync_protocol::schema::LEVELS.iter();
            levels.map(|l| (l.to_string(), states.iter().filter(|s| f(s, l)).count() as u64)).collect()
        };
        assert_eq!(o.open_disputes_by_level, by_level(&|s, l| s.status.is_open() && s.level.as_str() == l), "{name}");
        assert_eq!(o.resolved_by_level, by_level(&|s, l| s.resolved_level.is_some_and(|r| r.as_str() == l)), "{name}");

        // The map says the same per grid, with the open disputes past their deadline.
        let map = s.map_grids(&Scope::Township(township), month, now).await.unwrap();
        assert_eq!(map.len(), 1, "{name}: the township's one grid");
        let m = &map[0];
        assert_eq!((m.id, m.residents, m.houses, m.visits_this_month), (g, o.residents, o.houses, o.visits_this_month));
        let open: u64 = o.open_disputes_by_level.iter().map(|(_, n)| n).sum();
        assert_eq!(m.open_disputes, open, "{name}");
        let overdue = states.iter().filter(|s| s.status.is_open() && s.overdue(now)).count() as u64;
        assert_eq!(m.overdue, overdue, "{name}");
        // A year on, every open dispute with a time limit is overdue.
        let later = now + 365 * 86_400_000;
        let overdue = states.iter().filter(|s| s.status.is_open() && s.overdue(later)).count() as u64;
        assert!(overdue > 0, "{name}: the data has open disputes with a time limit");
        assert_eq!(s.map_grids(&Scope::Township(township), month, later).await.unwrap()[0].overdue, overdue, "{name}");
        assert!(m.boundary.is_none(), "{name}: no boundary was set up");
        let everywhere = s.map_grids(&Scope::All, month, now).await.unwrap();
        assert!(everywhere.iter().any(|x| x.id == elsewhere) && everywhere.iter().any(|x| x.id == g), "{name}");
        assert!(s.map_grids(&Scope::Township(Uuid::now_v7()), month, now).await.unwrap().is_empty(), "{name}");
    }
    county_server::testing::drop_scratch_postgres(&pg).await.unwrap();
}

/// One action of a [`story`]: its kind, level, time, and the level and time it names.
type Step = (&'static str, sync_protocol::org::Level, i64, Option<(sync_protocol::org::Level, i64)>);

/// A dispute whose actions follow one another, each naming the one before.
fn story(class: &str, reporter: Uuid, steps: &[Step]) -> sync_protocol::model::Dispute {
    use sync_protocol::model::{Action, Dispute};
    let mut actions: Vec<Action> = Vec::new();
    for (kind, level, at, target) in steps {
        let actor = if *kind == "report" { reporter } else { Uuid::now_v7() };
        let mut a = Action::new(Uuid::now_v7(), kind, actor, *level, *at);
        a.after = actions.last().map(|p| p.id);
        a.note = Some("说明".into());
        if let Some((to, due)) = target {
            a.to_level = Some(*to);
            a.due_at = Some(*due);
        }
        actions.push(a);
    }
    Dispute {
        id: Uuid::now_v7(),
        class: class.into(),
        category: "neighbour".into(),
        parties: vec![],
        place: "村口".into(),
        description: "纠纷".into(),
        discovered_at: steps[0].2,
        reported_at: steps[0].2,
        reported_by: reporter,
        actions,
        photos: vec![],
    }
}

#[tokio::test]
async fn every_backend_lists_disputes_for_staff_as_the_rule_says() {
    use county_server::storage::{DISPUTE_RULE, DisputeList, DisputeQuery, Viewer};
    use sync_protocol::org::Level::{Community, County, Grid, Township};
    let dir = tempfile::tempdir().unwrap();
    let pg = county_server::testing::scratch_postgres("lists").await.expect("PostgreSQL for the storage suite");
    let now = chrono::Utc::now().timestamp_millis();
    let (hour, day) = (3_600_000, 86_400_000);
    let worker = Uuid::now_v7();
    // Reported ten days ago and never settled: past the grid's three days.
    let stale = story("ordinary", worker, &[("report", Grid, now - 10 * day, None)]);
    // An emergency an hour old that the county has not accepted (half an hour).
    let emergency = story("emergency", worker, &[("report", Grid, now - hour, None)]);
    // Passed up to the township an hour ago: a day to accept.
    let escalated = story(
        "ordinary",
        worker,
        &[
            ("report", Grid, now - 3 * hour, None),
            ("escalate", Grid, now - 2 * hour, None),
            ("accept", Community, now - 90 * 60_000, None),
            ("escalate", Community, now - hour, None),
        ],
    );
    // Accepted by the township and assigned to the community, due in two days; supervised by
    // the county until five days from now.
    let assigned = story(
        "coordination",
        worker,
        &[
            ("report", Township, now - 5 * hour, None),
            ("assign", Township, now - 4 * hour, Some((Community, now + 2 * day))),
            ("supervise", County, now - 3 * hour, Some((Township, now + 5 * day))),
        ],
    );
    let settled =
        story("ordinary", worker, &[("report", Grid, now - 2 * day, None), ("resolve", Grid, now - day, None)]);
    let all = [&stale, &emergency, &escalated, &assigned, &settled];
    for d in all {
        assert!(d.state(&Default::default()).contradictions.is_empty(), "{:?}", d.state(&Default::default()));
    }
    for (name, s) in backends(&dir, &pg).await {
        let s = s.as_ref();
        let (township, g) = grid(s).await;
        let key = DocKey::new(g, Collection::Disputes);
        let rows = Rows { disputes: all.iter().map(|d| (key, (*d).clone())).collect(), ..Rows::default() };
        s.commit(GridCommit { grid: g, docs: vec![], changes: vec![], rows, settings: Default::default() })
            .await
            .unwrap();
        let list = |scope: Scope, list: DisputeList, level| {
            let viewer = Viewer { account: Uuid::now_v7(), level, node: None, department: false, now_ms: now };
            async move {
                let found = s.dispute_list(&scope, list, viewer, &DisputeQuery::default(), 100).await.unwrap();
                found
                    .into_iter()
                    .map(|(grid, d)| {
                        assert_eq!(grid, g);
                        d.id
                    })
                    .collect::<Vec<_>>()
            }
        };
        let mine = Scope::Township(township);
        assert_eq!(list(mine.clone(), DisputeList::Waiting, Grid).await, [stale.id], "{name}");
        assert_eq!(list(mine.clone(), DisputeList::Waiting, Township).await, [escalated.id], "{name}");
        assert_eq!(list(mine.clone(), DisputeList::Waiting, Community).await, [assigned.id], "{name}");
        assert_eq!(list(Scope::All, DisputeList::Waiting, County).await, [emergency.id], "{name}");
        // Most urgent first: the emergency's half hour ran out before the grid's three days.
        assert_eq!(list(mine.clone(), DisputeList::Overdue, Township).await, [stale.id, emergency.id], "{name}");
        assert_eq!(list(mine.clone(), DisputeList::Supervised, Township).await, [assigned.id], "{name}");
        assert_eq!(list(mine.clone(), DisputeList::UnacceptedEmergencies, County).await, [emergency.id], "{name}");
        assert_eq!(list(mine.clone(), DisputeList::AssignedOut, Township).await, [assigned.id], "{name}");
        assert!(list(mine.clone(), DisputeList::AssignedOut, Community).await.is_empty(), "{name}");
        // Another township sees none of them.
        assert!(list(Scope::Township(Uuid::now_v7()), DisputeList::Overdue, Township).await.is_empty(), "{name}");
        // The other filters narrow a list.
        let q = DisputeQuery { status: Some("reported".into()), ..Default::default() };
        let viewer = Viewer { account: Uuid::now_v7(), level: Township, node: None, department: false, now_ms: now };
        let found = s.dispute_list(&mine, DisputeList::Overdue, viewer, &q, 100).await.unwrap();
        assert_eq!(found.len(), 2, "{name}");
        // Every row was derived by the current rule.
        assert!(s.stale_dispute_docs(DISPUTE_RULE, 0).await.unwrap().is_empty(), "{name}");
        assert_eq!(s.stale_dispute_docs(DISPUTE_RULE + 1, 0).await.unwrap(), [key], "{name}");
        // Rows derived under other settings than the county's are stale too.
        assert_eq!(s.stale_dispute_docs(DISPUTE_RULE, 1).await.unwrap(), [key], "{name}");

        // The county's settings: the defaults until set, then each version only over the one it
        // was read at (a writer that read an older version changes nothing).
        assert_eq!(s.settings().await.unwrap(), CountySettings::default(), "{name}");
        let mut limits = TimeLimits::default();
        limits.limits[0].settle_minutes = 2 * 24 * 60;
        let first = CountySettings { version: 1_000, time_limits: limits.clone() };
        assert!(!s.put_settings(&first, 5).await.unwrap(), "{name}: there is no version 5 yet");
        assert!(s.put_settings(&first, 0).await.unwrap(), "{name}");
        let late = CountySettings { version: 1_001, time_limits: TimeLimits::default() };
        assert!(!s.put_settings(&late, 0).await.unwrap(), "{name}: another writer set them first");
        assert_eq!(s.settings().await.unwrap(), first, "{name}");
        let second = CountySettings { version: 2_000, time_limits: TimeLimits::default() };
        assert!(s.put_settings(&second, 1_000).await.unwrap(), "{name}");
        assert!(!s.put_settings(&late, 1_000).await.unwrap(), "{name}: read at the version before");
        assert_eq!(s.settings().await.unwrap(), second, "{name}");
        // A commit under them writes rows no longer stale for them.
        let rows = Rows { disputes: all.iter().map(|d| (key, (*d).clone())).collect(), ..Rows::default() };
        let settings = Arc::new(second);
        s.commit(GridCommit { grid: g, docs: vec![], changes: vec![], rows, settings }).await.unwrap();
        assert!(s.stale_dispute_docs(DISPUTE_RULE, 2_000).await.unwrap().is_empty(), "{name}");
        assert_eq!(s.stale_dispute_docs(DISPUTE_RULE, 3_000).await.unwrap(), [key], "{name}");
    }
}

/// The residents a search should find, decided the slow way: every stored resident looked at.
fn expected_search(
    all: &[Resident],
    term: &str,
    like_folds_ascii_case: bool,
    house: Option<Uuid>,
    limit: usize,
) -> Vec<Uuid> {
    use sync_protocol::search::SearchTerm;
    let fold = |s: &str| if like_folds_ascii_case { s.to_ascii_lowercase() } else { s.to_string() };
    let term = SearchTerm::parse(term);
    let mut hits: Vec<&Resident> = all
        .iter()
        .filter(|r| !r.is_archived() && house.is_none_or(|h| r.house_id == Some(h)))
        .filter(|r| match &term {
            None => true,
            Some(SearchTerm::Name(n)) => fold(&r.name).contains(&fold(n)),
            Some(SearchTerm::Initials(i)) => sync_protocol::pinyin::initials(&r.name).starts_with(i.as_str()),
            Some(SearchTerm::IdTail(t)) => {
                fold(&sync_protocol::search::id_tail(r.id_number.as_deref())).ends_with(&fold(t))
            }
        })
        .collect();
    // Ordered by name, then cut; ties in name are compared as sets below.
    hits.sort_by(|a, b| a.name.cmp(&b.name));
    hits.truncate(limit);
    hits.into_iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn every_backend_finds_by_its_search_index_what_a_scan_finds() {
    use sync_protocol::api::ResidentQuery;
    use sync_protocol::org::Author;
    let dir = tempfile::tempdir().unwrap();
    let pg = county_server::testing::scratch_postgres("search").await.expect("PostgreSQL for the storage suite");
    let now = chrono::Utc::now().timestamp_millis();
    let worker = Uuid::now_v7();
    let mut spec = demo_county::GridSpec::typical("高庄镇", "东坡村", worker, now, 11);
    (spec.residents, spec.houses, spec.visit_months, spec.visits_per_month, spec.open_disputes) = (400, 120, 1, 1, 0);
    let data = demo_county::generate_grid(&spec);
    let mut residents = data.residents.clone();
    // Names no generator writes: a name inside another, repeated characters, white space,
    // Latin letters, LIKE's wildcards, FTS5's quote and a tsvector's quote and backslash.
    let odd = [
        "张伟",
        "张伟明",
        "李张伟",
        "张张伟伟",
        "张 伟",
        "阿卜杜·热合曼",
        "O'Neil",
        "Anna Li",
        "王_五",
        "赵%六",
        "钱\"七",
        "孙\\八",
        "欧阳娜娜",
        "娜",
    ];
    for (i, name) in odd.iter().enumerate() {
        residents[i].name = name.to_string();
        residents[i].archived_reason = None;
    }
    let records = county_server::service::import::GridRecords {
        residents: residents.clone(),
        houses: data.houses.clone(),
        visits: data.visits.clone(),
        disputes: data.disputes.clone(),
    };
    let mut terms: Vec<String> = vec![
        "张伟".into(),
        "张".into(),
        "伟".into(),
        "张伟明".into(),
        "张 伟".into(),
        "张伟伟".into(),
        "·".into(),
        "卜杜·热".into(),
        "'".into(),
        "O'N".into(),
        "anna".into(),
        "Anna Li".into(),
        "_".into(),
        "%".into(),
        "王_".into(),
        "\"".into(),
        "钱\"".into(),
        "\\".into(),
        "孙\\八".into(),
        "娜娜".into(),
        "zw".into(),
        "z".into(),
        "oy".into(),
        "zwm".into(),
        "q".into(),
        "x".into(),
        "无此人".into(),
    ];
    // Every one-, two- and three-character piece of some generated names, and ID tails of
    // every length.
    for r in residents.iter().skip(odd.len()).step_by(37) {
        let c: Vec<char> = r.name.chars().collect();
        for len in 1..=3.min(c.len()) {
            terms.extend(c.windows(len).map(|w| w.iter().collect::<String>()));
        }
        let tail = sync_protocol::search::id_tail(r.id_number.as_deref());
        for k in 1..=tail.len() {
            terms.push(tail[tail.len() - k..].to_string());
        }
    }
    for (name, s) in backends(&dir, &pg).await {
        let s = s.as_ref();
        let (township, g) = grid(s).await;
        let author = Author { account: worker, device: Uuid::now_v7(), role: Role::GridWorker, node: None };
        county_server::service::import::import_grid(s, g, &author, &records, now).await.unwrap();
        let folds = name == "sqlite";
        let mut current = residents.clone();
        for round in ["imported", "after renames"] {
            for term in &terms {
                for (scope, limit) in [(Scope::All, 10_000), (Scope::Township(township), 7)] {
                    let q = ResidentQuery { q: Some(term.clone()), limit: Some(limit), ..Default::default() };
                    let got: Vec<Resident> = s.residents(&scope, &q).await.unwrap();
                    let want = expected_search(&current, term, folds, None, limit as usize);
                    let names = |ids: &[Uuid]| {
                        let mut v: Vec<String> =
                            ids.iter().map(|id| current.iter().find(|r| r.id == *id).unwrap().name.clone()).collect();
                        v.sort();
                        v
                    };
                    let got_ids: Vec<Uuid> = got.iter().map(|r| r.id).collect();
                    assert_eq!(names(&got_ids), names(&want), "{name} {round}: {term:?} limit {limit}");
                    assert!(got.windows(2).all(|w| w[0].name <= w[1].name), "{name}: ordered by name");
                    if limit > 100 {
                        let (mut a, mut b) = (got_ids.clone(), want.clone());
                        a.sort();
                        b.sort();
                        assert_eq!(a, b, "{name} {round}: {term:?} finds the same residents");
                    }
                }
            }
            // Renames go through the index's triggers: the old name is no longer found, the new
            // one is; a resident archived drops out.
            current[0].name = "周伟".into();
            current[1].archived_reason = Some("moved_away".into());
            current[2].name = "李张".into();
            let rows = Rows {
                residents: (0..3).map(|i| (DocKey::new(g, Collection::Residents), current[i].clone())).collect(),
                ..Rows::default()
            };
            s.commit(GridCommit { grid: g, docs: vec![], changes: vec![], rows, settings: Default::default() })
                .await
                .unwrap();
        }
        let q = |t: &str| ResidentQuery { q: Some(t.into()), ..Default::default() };
        let found = |v: Vec<Resident>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert!(found(s.residents(&Scope::All, &q("周伟")).await.unwrap()).contains(&"周伟".to_string()), "{name}");
        assert!(
            !found(s.residents(&Scope::All, &q("张伟明")).await.unwrap()).contains(&"张伟明".to_string()),
            "{name}"
        );
        if name == "sqlite" {
            // The index is keyed by the residents' rowids, which SQLite's VACUUM keeps here
            // (it copies each table's rows as they are): after rows are deleted and the file
            // vacuumed, every search still finds what a scan finds. A SQLite that renumbered
            // rowids would fail this, and would need the index rebuilt after a VACUUM.
            let raw = rusqlite::Connection::open(dir.path().join("suite.db")).unwrap();
            raw.execute(
                "DELETE FROM residents WHERE rowid IN (SELECT rowid FROM residents ORDER BY rowid LIMIT 60)",
                [],
            )
            .unwrap();
            raw.execute_batch("VACUUM").unwrap();
            let kept: Vec<String> = raw
                .prepare("SELECT id FROM residents")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            current.retain(|r| kept.contains(&r.id.to_string()));
            for term in &terms {
                let q = ResidentQuery { q: Some(term.clone()), limit: Some(10_000), ..Default::default() };
                let mut got: Vec<Uuid> =
                    s.residents(&Scope::All, &q).await.unwrap().into_iter().map(|r| r.id).collect();
                let mut want = expected_search(&current, term, folds, None, 10_000);
                got.sort();
                want.sort();
                assert_eq!(got, want, "sqlite after VACUUM: {term:?}");
            }
        }
        // One house's residents.
        let house = current.iter().find_map(|r| r.house_id.filter(|_| !r.is_archived())).unwrap();
        let q = ResidentQuery { grid: Some(g), house: Some(house), ..Default::default() };
        let mut got: Vec<Uuid> = s.residents(&Scope::All, &q).await.unwrap().into_iter().map(|r| r.id).collect();
        let mut want = expected_search(&current, "", folds, Some(house), 10_000);
        got.sort();
        want.sort();
        assert!(!want.is_empty());
        assert_eq!(got, want, "{name}: one house's residents");
    }
    county_server::testing::drop_scratch_postgres(&pg).await.unwrap();
}
