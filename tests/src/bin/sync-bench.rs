//! Sync benchmark for one typical grid (814 residents, 301 houses, 12 months of visits):
//! Gridkeeper's one-request protocol over real HTTP against a real server and SQLite file,
//! beside the stock Automerge sync protocol on the same documents, in the same run.
//!
//! Run: `cargo run --release -p gridkeeper-tests --bin sync-bench`

use std::time::Instant;

use automerge::sync::{State, SyncDoc};
use automerge::{Automerge, transaction::Transactable};
use gridkeeper_tests::{TestDevice, TestServer, fields};
use serde_json::json;

struct Stock {
    round_trips: usize,
    messages: usize,
    up: usize,
    down: usize,
    ms: f64,
}

/// Runs the stock protocol between a device copy and a server copy until both are quiet.
/// Hops are counted as half round trips; all documents sync in parallel, so the round trips
/// are those of the slowest document.
fn stock_sync(pairs: &mut [(Automerge, Automerge, State, State)]) -> Stock {
    let started = Instant::now();
    let (mut up, mut down, mut messages, mut max_hops) = (0usize, 0usize, 0usize, 0usize);
    for (device, server, ds, ss) in pairs.iter_mut() {
        let mut hops = 0;
        loop {
            let mut quiet = true;
            if let Some(m) = device.generate_sync_message(ds) {
                let b = m.encode();
                up += b.len();
                messages += 1;
                quiet = false;
                hops += 1;
                server.receive_sync_message(ss, automerge::sync::Message::decode(&b).unwrap()).unwrap();
            }
            if let Some(m) = server.generate_sync_message(ss) {
                let b = m.encode();
                down += b.len();
                messages += 1;
                quiet = false;
                hops += 1;
                device.receive_sync_message(ds, automerge::sync::Message::decode(&b).unwrap()).unwrap();
            }
            if quiet {
                break;
            }
        }
        max_hops = max_hops.max(hops);
    }
    Stock { round_trips: max_hops.div_ceil(2), messages, up, down, ms: started.elapsed().as_secs_f64() * 1000.0 }
}

fn kb(b: u64) -> String {
    if b < 2048 { format!("{b} B") } else { format!("{:.1} KB", b as f64 / 1024.0) }
}

#[tokio::main]
async fn main() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let now = chrono::Utc::now().timestamp_millis();
    let spec = demo_county::GridSpec::typical("高庄镇", "东坡村", o.worker_a, now, 42);
    let data = demo_county::generate_grid(&spec);
    let t = Instant::now();
    gridkeeper_tests::import_into_grid_a(&server, &data, now).await;
    let import_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "grid: {} residents, {} houses, {} visits, {} disputes (imported in {import_ms:.0} ms)",
        data.residents.len(),
        data.houses.len(),
        data.visits.len(),
        data.disputes.len()
    );

    // Gridkeeper: first download.
    let dev = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "bench").await;
    let t = Instant::now();
    let first = dev.sync().await.unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(dev.residents(&Default::default()).unwrap().len(), data.residents.len());

    // Would compressing bodies help on a slow link (issue 14)? The first download's body as
    // the server sends it, deflated at three levels, with the time to deflate and inflate it.
    let probe = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "probe").await;
    let body = sync_protocol::wire::SyncRequest {
        version: sync_protocol::wire::PROTOCOL_VERSION,
        positions: vec![sync_protocol::wire::GridPosition { grid: o.grid_a, seq: 0 }],
        changes: vec![],
        budget: 0,
        settings: 0,
    }
    .encode();
    let (status, raw) = gridkeeper_tests::post_sync(&server, &probe.identity().unwrap().token, body).await;
    assert_eq!(status, 200);
    println!("\nfirst download body: {} bytes", raw.len());
    println!("| deflate level | bytes | of the body | deflate | inflate |");
    println!("|---|---|---|---|---|");
    for level in [1, 6, 9] {
        use std::io::{Read, Write};
        let t = Instant::now();
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
        z.write_all(&raw).unwrap();
        let packed = z.finish().unwrap();
        let deflate_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&packed[..]).read_to_end(&mut back).unwrap();
        let inflate_ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(back, raw);
        println!(
            "| {level} | {} | {:.0} % | {deflate_ms:.1} ms | {inflate_ms:.1} ms |",
            packed.len(),
            packed.len() as f64 * 100.0 / raw.len() as f64
        );
    }
    println!();

    // Nothing new, averaged.
    let n = 50;
    let t = Instant::now();
    let mut idle = field_core::SyncReport::default();
    for _ in 0..n {
        idle = dev.sync().await.unwrap();
    }
    let idle_ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;

    // One edited field.
    let r = &data.residents[17];
    dev.update_resident(r.id, fields(json!({"phone": "13912340000"}))).unwrap();
    let t = Instant::now();
    let edit = dev.sync().await.unwrap();
    let edit_ms = t.elapsed().as_secs_f64() * 1000.0;
    // And how that edit reaches a second device.
    let other = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "bench 2").await;
    other.sync().await.unwrap();
    dev.update_resident(r.id, fields(json!({"phone": "13912340001"}))).unwrap();
    dev.sync().await.unwrap();
    let recv = other.sync().await.unwrap();

    // Stock Automerge sync protocol, same documents.
    let docs: Vec<Automerge> = storage
        .load_docs(&dev.documents().unwrap().iter().map(|(k, _)| *k).collect::<Vec<_>>())
        .await
        .unwrap()
        .into_iter()
        .map(|d| Automerge::load(&d.bytes).unwrap())
        .collect();
    let mut pairs: Vec<_> = docs.iter().map(|s| (Automerge::new(), s.clone(), State::new(), State::new())).collect();
    let s_first = stock_sync(&mut pairs);
    // Devices keep their sync state between syncs as its persisted form (`encode`/`decode`),
    // which keeps the shared heads and drops what was in flight: the next sync must ask.
    let persist = |pairs: &mut [(Automerge, Automerge, State, State)]| {
        for (_, _, ds, ss) in pairs.iter_mut() {
            *ds = State::decode(&ds.encode()).unwrap();
            *ss = State::decode(&ss.encode()).unwrap();
        }
    };
    persist(&mut pairs);
    let s_idle = stock_sync(&mut pairs);
    persist(&mut pairs);
    // Edit one field on the device copy of the residents document.
    let idx = pairs
        .iter()
        .position(|(_, s, _, _)| automerge::ReadDoc::get(s, automerge::ROOT, r.id.to_string()).unwrap().is_some())
        .unwrap();
    {
        let dev_doc = &mut pairs[idx].0;
        let (_, obj) = automerge::ReadDoc::get(dev_doc, automerge::ROOT, r.id.to_string()).unwrap().unwrap();
        let mut tx = dev_doc.transaction();
        tx.put(&obj, "phone", "13912340002").unwrap();
        tx.commit();
    }
    let s_edit = stock_sync(&mut pairs);
    // A fresh stock sync state each time (a device that did not keep it, as after a restart).
    let mut fresh: Vec<_> =
        pairs.iter().map(|(d, s, _, _)| (d.clone(), s.clone(), State::new(), State::new())).collect();
    let s_idle_fresh = stock_sync(&mut fresh);

    println!();
    println!("documents in the grid: {}", pairs.len());
    println!("| work | Gridkeeper | stock Automerge sync | target |");
    println!("|---|---|---|---|");
    println!(
        "| first download | {} request, {} down, {} up, {first_ms:.0} ms | {} round trips, {} messages, {} down, {} up, {:.0} ms (in memory, no HTTP) | ≤ 1 s, ≤ 300 KB |",
        first.requests,
        kb(first.bytes_down),
        kb(first.bytes_up),
        s_first.round_trips,
        s_first.messages,
        kb(s_first.down as u64),
        kb(s_first.up as u64),
        s_first.ms
    );
    println!(
        "| nothing new | {} request, {} up, {} down, {idle_ms:.2} ms | {} round trips, {} up, {} down (sync state persisted); {} round trips, {} up, {} down (fresh state) | 1 request, ≤ 200 B each way |",
        idle.requests,
        kb(idle.bytes_up),
        kb(idle.bytes_down),
        s_idle.round_trips,
        kb(s_idle.up as u64),
        kb(s_idle.down as u64),
        s_idle_fresh.round_trips,
        kb(s_idle_fresh.up as u64),
        kb(s_idle_fresh.down as u64)
    );
    println!(
        "| one edited field (push) | {} request, {} up, {} down, {edit_ms:.1} ms | {} round trips, {} up, {} down | 1 request, ≤ 1 KB |",
        edit.requests,
        kb(edit.bytes_up),
        kb(edit.bytes_down),
        s_edit.round_trips,
        kb(s_edit.up as u64),
        kb(s_edit.down as u64)
    );
    println!(
        "| one edited field (received by another device) | {} request, {} up, {} down | — | |",
        recv.requests,
        kb(recv.bytes_up),
        kb(recv.bytes_down)
    );
    let _ = s_edit.ms;
}
