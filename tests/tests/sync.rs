//! Whole-system sync tests: a real county server on a port, several devices, cut networks.

use gridkeeper_tests::proxy::{Mode, Proxy};
use gridkeeper_tests::{TestDevice, TestServer, fields, house, neighbours_dispute, party, resident};
use serde_json::json;
use sync_protocol::api::NewAction;
use sync_protocol::doc::DocKey;
use sync_protocol::model::DisputeStatus;
use sync_protocol::org::Level;
use sync_protocol::schema::Collection;

async fn sync_all(devices: &[&TestDevice]) {
    for d in devices {
        d.sync().await.unwrap_or_else(|e| panic!("{} sync failed: {e}", d.name));
    }
}

/// Every device holds the same documents (same heads) as every other.
/// Every device holds the same documents as the first (a grid device), of the collections its
/// role receives.
fn assert_same_documents(devices: &[&TestDevice]) {
    let first = devices[0].documents().unwrap();
    for d in &devices[1..] {
        let role = d.identity().unwrap().account.role;
        let expected: Vec<_> = first.iter().filter(|(k, _)| role.receives(k.collection)).collect();
        let other = d.documents().unwrap();
        assert_eq!(expected.len(), other.len(), "{} holds a different number of documents", d.name);
        for ((k1, d1), (k2, d2)) in expected.into_iter().zip(other.iter()) {
            assert_eq!(k1, k2);
            let (mut h1, mut h2) = (d1.get_heads(), d2.get_heads());
            h1.sort();
            h2.sort();
            assert_eq!(h1, h2, "{} differs on {k1}", d.name);
        }
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_edit_offline_and_converge_in_every_order() {
    for order in permutations(4) {
        let server = TestServer::start().await;
        let o = server.org.clone();
        let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
        let b = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "assistant").await;
        let c = TestDevice::enrol(&server.url(), &server.code_for(o.leader_a).await, "leader").await;
        let t = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "township").await;

        // Shared starting point: a resident in a house, and an open dispute.
        let h = house("12");
        let mut r = resident("孙玉兰", "1956-08-21", "024");
        r.house_id = Some(h.id);
        r.notes = Some("独居".into());
        a.create_house(&h).unwrap();
        a.create_resident(&r).unwrap();
        let dispute = a
            .report_dispute(&field_core::NewDispute {
                class: "coordination".into(),
                category: "neighbour".into(),
                parties: vec![
                    field_core::NewParty { resident_id: Some(r.id), name: r.name.clone() },
                    field_core::NewParty { resident_id: None, name: "邻居老李".into() },
                ],
                place: "东坡村12号门前".into(),
                description: "排水沟堵塞引发邻里争执".into(),
                discovered_at: None,
                photos: vec![],
                note: None,
            })
            .unwrap();
        sync_all(&[&a, &b, &c, &t]).await;
        assert_eq!(b.resident(r.id).unwrap().name, "孙玉兰");
        assert_eq!(t.dispute(dispute).unwrap().actions.len(), 1, "the township device holds its grids' disputes");
        assert!(t.residents(&Default::default()).unwrap().is_empty(), "and none of their residents");

        // Offline: the same field on two devices, different fields, a clear against an edit,
        // an archive, and dispute actions at grid and township level.
        a.update_resident(r.id, fields(json!({"phone": "13700000001", "notes": "独居，儿子在青岛务工"}))).unwrap();
        b.update_resident(r.id, fields(json!({"phone": "13700000002", "ethnicity": "回族"}))).unwrap();
        c.update_resident(r.id, fields(json!({"notes": null, "categories": ["registered", "living_alone"]}))).unwrap();
        c.archive_resident(r.id, "moved_away", "2026-11-20").unwrap();
        b.add_dispute_action(dispute, &NewAction::new("mediate").note("现场调解，双方同意疏通")).unwrap();
        let escalate = NewAction::new("escalate").to(Level::Community).note("涉及村集体排水工程");
        c.add_dispute_action(dispute, &escalate).unwrap();
        let week = field_core::now_ms() + 7 * 24 * 3_600_000;
        t.add_dispute_action(dispute, &NewAction::new("supervise").note("镇综治中心跟踪督办").due(week)).unwrap();

        let devices = [&a, &b, &c, &t];
        for i in &order {
            devices[*i].sync().await.unwrap();
        }
        // A second pass lets every device receive what the later ones sent.
        for i in &order {
            devices[*i].sync().await.unwrap();
        }
        assert_same_documents(&devices);
        for d in devices {
            assert_eq!(d.pending_count().unwrap(), 0, "{} still has pending changes", d.name);
        }

        let merged = a.resident(r.id).unwrap();
        assert_eq!(merged.ethnicity.as_deref(), Some("回族"), "order {order:?}");
        // A concurrent set wins over a concurrent clear: the worker's note survives.
        assert_eq!(merged.notes.as_deref(), Some("独居，儿子在青岛务工"));
        assert!(merged.categories.contains(&"living_alone".to_string()));
        assert_eq!(merged.archived_reason.as_deref(), Some("moved_away"));
        assert!(["13700000001", "13700000002"].contains(&merged.phone.as_deref().unwrap()));

        // The phone conflict is kept and listed, on every device and on the server.
        for d in &devices[..3] {
            let conflicts = d.conflicts().unwrap();
            assert_eq!(conflicts.len(), 1, "{}: {conflicts:?}", d.name);
            assert_eq!(conflicts[0].field, "phone");
            let mut values: Vec<String> =
                conflicts[0].values.iter().map(|v| v.value.as_str().unwrap().to_string()).collect();
            values.sort();
            assert_eq!(values, ["13700000001", "13700000002"]);
            let writers: Vec<_> = conflicts[0].values.iter().map(|v| v.account.unwrap()).collect();
            assert!(writers.contains(&o.worker_a) && writers.contains(&o.assistant_a));
        }
        let server_conflicts =
            server.storage().conflicts(&county_server::storage::Scope::Grid(o.grid_a), None).await.unwrap();
        assert_eq!(server_conflicts.len(), 1);

        // Both dispute actions are there, and every device derives the same state.
        let states: Vec<_> = devices.iter().map(|d| d.dispute(dispute).unwrap()).collect();
        assert_eq!(states[0].actions.len(), 4);
        for s in &states {
            assert_eq!(s.state(&Default::default()), states[0].state(&Default::default()));
        }
        assert_eq!(states[0].state(&Default::default()).level, Level::Community);
        assert_eq!(states[0].state(&Default::default()).status, DisputeStatus::Escalated);
        assert!(states[0].state(&Default::default()).supervised);
        let server_disputes = server
            .storage()
            .disputes(
                &county_server::storage::Scope::Township(o.township),
                &county_server::storage::DisputeQuery { open_only: true, ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(server_disputes.len(), 1);

        // A person settles the conflict on one device; it clears everywhere.
        let conflict = b.conflicts().unwrap().remove(0);
        b.settle_conflict(&conflict, json!("13700000002")).unwrap();
        sync_all(&[&b, &a, &c, &t]).await;
        for d in devices {
            assert!(d.conflicts().unwrap().is_empty(), "{} still lists the conflict", d.name);
        }
        for d in &devices[..3] {
            assert_eq!(d.resident(r.id).unwrap().phone.as_deref(), Some("13700000002"));
        }
        assert!(
            server.storage().conflicts(&county_server::storage::Scope::Grid(o.grid_a), None).await.unwrap().is_empty()
        );

        // History names each field change with its account.
        let hist = a.history(Collection::Residents, r.id).unwrap();
        assert!(hist.iter().any(|h| h.field == "ethnicity" && h.account == Some(o.assistant_a)));
        assert!(hist.iter().any(|h| h.field == "archived_reason" && h.account == Some(o.leader_a)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_answer_then_retry_neither_duplicates_nor_loses() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let proxy = Proxy::start(server.addr()).await;
    let a = TestDevice::enrol(&proxy.url(), &server.code_for(o.worker_a).await, "worker").await;
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "assistant").await;
    a.sync().await.unwrap();

    let residents: Vec<_> =
        (0..5).map(|i| resident(&format!("测试{i}"), &format!("1980-01-0{}", i + 1), "013")).collect();
    for r in &residents {
        a.create_resident(r).unwrap();
    }
    assert_eq!(a.pending_count().unwrap(), 5);
    let before = server.storage().stats().await.unwrap();

    // The server stores the changes, but the answer never arrives.
    proxy.set(Mode::CutResponses);
    let err = a.sync().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let after_cut = server.storage().stats().await.unwrap();
    assert_eq!(after_cut.changes, before.changes + 5, "the server should have committed before answering");
    assert_eq!(a.pending_count().unwrap(), 5, "unacknowledged changes stay queued");

    // With no connection at all, nothing changes anywhere.
    proxy.set(Mode::Down);
    assert!(a.sync().await.unwrap_err().is_retryable());

    proxy.set(Mode::Up);
    let report = a.sync().await.unwrap();
    assert_eq!(report.requests, 1);
    assert_eq!(report.acknowledged, 5);
    assert_eq!(a.pending_count().unwrap(), 0);
    let after_retry = server.storage().stats().await.unwrap();
    assert_eq!(after_retry.changes, after_cut.changes, "the retry must not store anything twice");
    assert_eq!(after_retry.residents, before.residents + 5);

    b.sync().await.unwrap();
    let names: Vec<String> = b.residents(&Default::default()).unwrap().into_iter().map(|r| r.name).collect();
    for r in &residents {
        assert_eq!(names.iter().filter(|n| **n == r.name).count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_with_nothing_new_is_one_small_request() {
    let server = TestServer::start().await;
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker").await;
    a.create_resident(&resident("周婷", "1992-02-02", "026")).unwrap();
    a.sync().await.unwrap();
    let r = a.sync().await.unwrap();
    assert_eq!(r.requests, 1);
    assert!(r.bytes_up <= 200 && r.bytes_down <= 200, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_name_initials_and_id_digits() {
    let server = TestServer::start().await;
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker").await;
    let zs = resident("张三", "1975-04-09", "035");
    a.create_resident(&zs).unwrap();
    a.create_resident(&resident("李四", "1979-12-30", "046")).unwrap();
    let by = |q: &str| a.residents(&field_core::ResidentQuery { q: Some(q.into()), ..Default::default() }).unwrap();
    assert_eq!(by("zs").len(), 1);
    assert_eq!(by("张").len(), 1);
    let tail: String = zs.id_number.clone().unwrap().chars().skip(14).collect();
    assert_eq!(by(&tail)[0].id, zs.id);
    // Lists mask ID numbers and phones.
    assert!(by("zs")[0].id_number.as_deref().unwrap().contains('*'));
    assert_eq!(by("zs")[0].phone.as_deref(), Some("138****5678"));
    // A new device of the same grid finds the same after its first sync (a snapshot).
    a.sync().await.unwrap();
    let b = TestDevice::enrol(&server.url(), &server.code_for(server.org.assistant_a).await, "assistant").await;
    let report = b.sync().await.unwrap();
    assert_eq!(report.requests, 1);
    assert!(report.documents_received >= 1);
    assert_eq!(
        b.residents(&field_core::ResidentQuery { q: Some("ls".into()), ..Default::default() }).unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything() {
    let mut server = TestServer::start().await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let r = resident("钱多多", "1988-06-15", "057");
    a.create_resident(&r).unwrap();
    a.sync().await.unwrap();
    let before = server.storage().stats().await.unwrap();

    server.restart().await;
    assert_eq!(server.storage().stats().await.unwrap(), before);
    a.update_resident(r.id, fields(json!({"phone": "15900001111"}))).unwrap();
    a.sync().await.unwrap();
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "assistant").await;
    b.sync().await.unwrap();
    assert_eq!(b.resident(r.id).unwrap().phone.as_deref(), Some("15900001111"));
    // And the device side survives a reopen of its own database.
    let path = a._dir.path().join("device.db");
    let reopened = field_core::Device::open(&path).unwrap();
    assert_eq!(reopened.resident(r.id).unwrap().phone.as_deref(), Some("15900001111"));
    assert_eq!(reopened.pending_count().unwrap(), 0);
    assert!(reopened.record_json(DocKey::new(o.grid_a, Collection::Residents), r.id).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catch_up_is_paged_and_nothing_is_missed() {
    let server = TestServer::start_with(county_server::service::sync::Limits { max_response_bytes: 1000 }).await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker A").await;
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "worker B").await;
    let report = |d: &TestDevice, i: usize| {
        let dispute = neighbours_dispute(
            vec![party(&format!("当事人{i}"))],
            &format!("东坡村{i}号"),
            "宅基地边界争议，双方各执一词",
        );
        d.report_dispute(&dispute).unwrap()
    };
    let ids: Vec<_> = (0..20).map(|i| report(&a, i)).collect();
    for i in 0..20 {
        report(&b, i);
    }
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    // The township's staff receive both grids' disputes, paged.
    let t = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "township").await;
    let first = t.sync().await.unwrap();
    assert!(first.requests >= 2, "two grids' snapshots over a 1 KB budget take two answers: {first:?}");
    // Twenty separate actions after the snapshot, each its own change in the log.
    for (i, id) in ids.iter().enumerate() {
        a.add_dispute_action(*id, &NewAction::new("mediate").note(&format!("第{i}次上门调解"))).unwrap();
        a.sync().await.unwrap();
    }
    let report = t.sync().await.unwrap();
    assert!(report.requests >= 3, "the catch-up should have been paged: {report:?}");
    assert_eq!(t.disputes(false).unwrap().len(), 40);
    for id in &ids {
        assert_eq!(t.dispute(*id).unwrap().actions.len(), 2, "an action was missed");
    }
    let again = t.sync().await.unwrap();
    assert_eq!(again.requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_at_once_on_one_device_neither_duplicate_nor_lose() {
    let server = TestServer::start().await;
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker").await;
    for i in 0..10 {
        a.create_resident(&resident(&format!("并发{i}"), "1990-09-09", "017")).unwrap();
    }
    let (r1, r2) = tokio::join!(a.sync(), a.sync());
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.acknowledged + r2.acknowledged, 10, "{r1:?} {r2:?}");
    assert_eq!(a.pending_count().unwrap(), 0);
    assert_eq!(server.storage().stats().await.unwrap().residents, 10);
}
