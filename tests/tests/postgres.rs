//! The PostgreSQL backend under the whole system: two county servers on one database serve
//! devices at the same time, as a county runs several servers behind a load balancer.

use std::collections::HashSet;

use automerge::Automerge;
use gridkeeper_tests::{TestDevice, TestServer, fields, resident};
use serde_json::json;
use sync_protocol::doc::DocKey;

/// The change hashes a set of documents holds, per document.
fn hashes(docs: &[(DocKey, Automerge)]) -> Vec<(DocKey, HashSet<automerge::ChangeHash>)> {
    let mut out: Vec<_> =
        docs.iter().map(|(k, d)| (*k, d.get_changes(&[]).iter().map(|c| c.hash()).collect())).collect();
    out.sort_by_key(|(k, _)| k.to_string());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_lose_and_duplicate_nothing() {
    let server = TestServer::start_postgres().await;
    let second = server.another_server().await;
    let o = server.org.clone();
    // Devices of one grid, spread over the two servers; the code is issued through one server
    // and redeemed through the other.
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let b = TestDevice::enrol(&second.url(), &server.code_for(o.assistant_a).await, "assistant").await;
    let c = TestDevice::enrol(&second.url(), &server.code_for(o.leader_a).await, "leader").await;
    let d = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "grid B").await;
    let grid_a = [&a, &b, &c];

    let mut created = Vec::new();
    let rounds = 6;
    for round in 0..rounds {
        // Everyone edits offline: new residents, and the same field of one shared resident
        // (a conflict that must be kept).
        for (i, dev) in [&a, &b, &c, &d].iter().enumerate() {
            for k in 0..3 {
                let r = resident(&format!("居民{round}{i}{k}"), "1980-01-02", &format!("{round}{i}{k}"));
                dev.create_resident(&r).unwrap();
                created.push(r.id);
            }
        }
        if round > 0 {
            let shared = created[0];
            a.update_resident(shared, fields(json!({"phone": format!("1391234{round:04}")}))).unwrap();
            b.update_resident(shared, fields(json!({"phone": format!("1381234{round:04}")}))).unwrap();
        }
        // All four sync at the same moment, through both servers.
        let (ra, rb, rc, rd) = tokio::join!(a.sync(), b.sync(), c.sync(), d.sync());
        for (name, r) in [("a", ra), ("b", rb), ("c", rc), ("d", rd)] {
            let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.refused, 0, "{name}: refused changes");
        }
        if round == 0 {
            for dev in [&a, &b, &c, &d] {
                dev.sync().await.unwrap();
            }
        }
    }
    // Quiet rounds: everyone hears about everything.
    for _ in 0..2 {
        for dev in [&a, &b, &c, &d] {
            dev.sync().await.unwrap();
        }
    }
    for dev in [&a, &b, &c, &d] {
        assert_eq!(dev.pending_count().unwrap(), 0, "{}: everything acknowledged", dev.name);
    }

    // Every replica of grid A holds exactly the server's changes.
    let storage = server.storage();
    let keys: Vec<DocKey> = a.documents().unwrap().iter().map(|(k, _)| *k).collect();
    let on_server: Vec<(DocKey, Automerge)> = storage
        .load_docs(&keys)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.key, Automerge::load(&s.bytes).unwrap()))
        .collect();
    let server_hashes = hashes(&on_server);
    for dev in grid_a {
        let mine: Vec<_> = hashes(&dev.documents().unwrap()).into_iter().filter(|(k, _)| keys.contains(k)).collect();
        assert_eq!(mine, server_hashes, "{} differs from the server", dev.name);
    }
    // The log holds each change once: as many log entries as changes in all documents.
    let all_keys: Vec<DocKey> = [&a, &d].iter().flat_map(|dev| dev.documents().unwrap()).map(|(k, _)| k).collect();
    let in_docs: usize = storage
        .load_docs(&all_keys)
        .await
        .unwrap()
        .iter()
        .map(|s| Automerge::load(&s.bytes).unwrap().get_changes(&[]).len())
        .sum();
    let stats = storage.stats().await.unwrap();
    assert_eq!(stats.changes as usize, in_docs, "no change logged twice or missing from the log");
    assert_eq!(stats.changes as usize, 4 * 3 * rounds + 2 * (rounds - 1), "every edit made is on the server");
    // Every resident created is there, and the concurrent phone edits are kept as a conflict.
    assert_eq!(stats.residents as usize, created.len());
    let conflicts = storage.conflicts(&county_server::storage::Scope::Grid(o.grid_a), None).await.unwrap();
    assert!(conflicts.iter().any(|c| c.record == created[0] && c.field == "phone"), "{conflicts:?}");
    let phone_a = a.resident(created[0]).unwrap().phone;
    assert_eq!(phone_a, b.resident(created[0]).unwrap().phone, "both devices show the same winner");

    second.stop().await;
    let url = server.db_url.clone();
    drop(server);
    county_server::testing::drop_scratch_postgres(&url).await.unwrap();
}
