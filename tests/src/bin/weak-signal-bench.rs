//! Weak-signal benchmark (issue 14): a grid's first download, a township's grids (staff device),
//! and a week-offline outbox (200 edits, 10 photos), through the shaping proxy at 24, 64 and
//! 1,000 kbit/s with 300 ms latency each way; real server, real SQLite file, real device.
//!
//! Beside each first download, the baseline of the same run: the version 1 exchange the
//! handhelds in the field make today (one answer holding every snapshot), timed on the same
//! link. A device of today's version gives up on it after 60 s and starts again from zero.
//!
//! Run: `cargo run --release -p gridkeeper-tests --bin weak-signal-bench [-- --rates 24,64,1000
//! --latency-ms 300]`

use std::time::{Duration, Instant};

use clap::Parser;
use gridkeeper_tests::proxy::{Mode, Proxy, Shape};
use gridkeeper_tests::{TestDevice, TestServer, fields, snapshot_bytes, typical_grid_a};
use rand::{Rng, SeedableRng};
use serde_json::json;
use sync_protocol::org::{Author, NodeKind, Role};
use sync_protocol::wire::{GridPosition, SyncRequest};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Link speeds, kbit/s.
    #[arg(long, value_delimiter = ',', default_values_t = vec![24u64, 64, 1000])]
    rates: Vec<u64>,
    /// Added each way.
    #[arg(long, default_value_t = 300)]
    latency_ms: u64,
    /// Grids in the township (Yishui: about 79 per township).
    #[arg(long, default_value_t = 79)]
    township_grids: usize,
}

fn kb(b: u64) -> String {
    if b < 2048 { format!("{b} B") } else { format!("{:.1} KB", b as f64 / 1024.0) }
}

struct Row {
    work: String,
    secs: f64,
    requests: u32,
    up: u64,
    down: u64,
    payload: u64,
    baseline: String,
}

/// Today's exchange (version 1): one request, one answer with every snapshot document, on the
/// same link. Returns seconds and bytes each way.
async fn baseline_v1(proxy: &Proxy, token: &str, grids: &[Uuid]) -> (f64, u64, u64) {
    let body = SyncRequest {
        version: 1,
        positions: grids.iter().map(|g| GridPosition { grid: *g, seq: 0 }).collect(),
        changes: vec![],
        budget: 0,
        settings: 0,
    }
    .encode();
    proxy.reset_counters();
    let t = Instant::now();
    let mut more = true;
    let mut positions: Vec<GridPosition> = grids.iter().map(|g| GridPosition { grid: *g, seq: 0 }).collect();
    let mut first = Some(body);
    while more {
        let body = first.take().unwrap_or_else(|| {
            SyncRequest { version: 1, positions: positions.clone(), changes: vec![], budget: 0, settings: 0 }.encode()
        });
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/sync", proxy.url()))
            .bearer_auth(token)
            .header("content-type", sync_protocol::wire::CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .unwrap();
        let bytes = resp.bytes().await.unwrap();
        let answer = sync_protocol::wire::SyncResponse::decode(&bytes).unwrap();
        positions = answer.positions;
        more = answer.more;
    }
    let (up, down) = proxy.bytes();
    (t.elapsed().as_secs_f64(), up, down)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let latency = Duration::from_millis(args.latency_ms);
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    typical_grid_a(&server).await;
    let grid_payload = snapshot_bytes(&server, o.grid_a, Role::GridWorker).await;

    // A township of grids, each with a typical grid's disputes (what its staff receive).
    let now = chrono::Utc::now().timestamp_millis();
    let mut township_grids = vec![o.grid_a, o.grid_b];
    for i in township_grids.len()..args.township_grids {
        let id = Uuid::now_v7();
        storage
            .put_node(&county_server::storage::Node {
                id,
                kind: NodeKind::Grid,
                name: format!("第{i}网格"),
                parent: Some(o.village),
                township: Some(o.township),
                village: Some(o.village),
            })
            .await
            .unwrap();
        township_grids.push(id);
    }
    for (i, g) in township_grids.iter().enumerate().skip(1) {
        let spec = demo_county::GridSpec::typical("高庄镇", "东坡村", o.worker_a, now, 100 + i as u64);
        let data = demo_county::generate_grid(&spec);
        let records = county_server::service::import::GridRecords {
            residents: vec![],
            houses: vec![],
            visits: vec![],
            disputes: data.disputes,
        };
        let author = Author { account: o.worker_a, device: Uuid::now_v7(), role: Role::GridWorker, node: None };
        county_server::service::import::import_grid(storage.as_ref(), *g, &author, &records, now).await.unwrap();
    }
    let mut town_payload = 0;
    for g in &township_grids {
        town_payload += snapshot_bytes(&server, *g, Role::TownshipStaff).await;
    }
    println!(
        "one grid: {} of snapshot; township: {} grids, {} of disputes; latency {} ms each way",
        kb(grid_payload),
        township_grids.len(),
        kb(town_payload),
        args.latency_ms
    );

    let mut rows: Vec<(u64, Row)> = Vec::new();
    for &rate in &args.rates {
        let shape = Shape::kbit(rate, latency);
        let proxy = Proxy::start(server.addr()).await;

        // One grid, first download (the grid grows by each rate's week of edits: measured now).
        let grid_payload = snapshot_bytes(&server, o.grid_a, Role::GridWorker).await;
        let dev = TestDevice::enrol(&proxy.url(), &server.code_for(o.worker_a).await, "bench").await;
        proxy.shape(shape);
        proxy.reset_counters();
        let t = Instant::now();
        let r = dev.sync().await.expect("first download");
        let secs = t.elapsed().as_secs_f64();
        let (up, down) = proxy.bytes();
        let probe = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "probe").await;
        let (b_secs, b_up, b_down) = baseline_v1(&proxy, &probe.identity().unwrap().token, &[o.grid_a]).await;
        rows.push((
            rate,
            Row {
                work: "first download, one grid".into(),
                secs,
                requests: r.requests,
                up,
                down,
                payload: grid_payload,
                baseline: format!(
                    "{b_secs:.1} s, 1 request, {} ({:.3}×){}",
                    kb(b_up + b_down),
                    (b_up + b_down) as f64 / grid_payload as f64,
                    if b_secs > 60.0 { "; past today's 60 s limit: never completes" } else { "" }
                ),
            },
        ));

        // A township's grids, on a township staff device.
        proxy.shape(Shape::default());
        let staff = TestDevice::enrol(&proxy.url(), &server.code_for(o.township_staff).await, "staff").await;
        proxy.shape(shape);
        proxy.reset_counters();
        let t = Instant::now();
        let r = staff.sync().await.expect("township download");
        let secs = t.elapsed().as_secs_f64();
        let (up, down) = proxy.bytes();
        let probe = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "probe").await;
        let (b_secs, b_up, b_down) = baseline_v1(&proxy, &probe.identity().unwrap().token, &township_grids).await;
        rows.push((
            rate,
            Row {
                work: format!("first download, township staff ({} grids)", township_grids.len()),
                secs,
                requests: r.requests,
                up,
                down,
                payload: town_payload,
                baseline: format!(
                    "{b_secs:.1} s, {} ({:.3}×)",
                    kb(b_up + b_down),
                    (b_up + b_down) as f64 / town_payload as f64
                ),
            },
        ));

        // A week offline: 200 edits and 10 photos, then the link comes back.
        proxy.set(Mode::Down);
        let residents = dev.residents(&Default::default()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(rate);
        for (i, r) in residents.iter().take(200).enumerate() {
            dev.update_resident(r.id, fields(json!({"phone": format!("139{:08}", 20_000_000 + i + rate as usize)})))
                .unwrap();
        }
        let mut photo_bytes = 0u64;
        for _ in 0..10 {
            let bytes: Vec<u8> = (0..60_000).map(|_| rng.random()).collect();
            photo_bytes += bytes.len() as u64;
            dev.add_photo(&bytes, "image/jpeg").unwrap();
        }
        let outbox: u64 = dev.outbox_bytes().unwrap();
        proxy.set(Mode::Up);
        proxy.reset_counters();
        let t = Instant::now();
        let r = dev.sync().await.expect("outbox");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(dev.pending_count().unwrap(), 0);
        let (up, down) = proxy.bytes();
        rows.push((
            rate,
            Row {
                work: "week offline: 200 edits, 10 photos of 60 KB".into(),
                secs,
                requests: r.requests,
                up,
                down,
                payload: outbox + photo_bytes,
                baseline: "—".into(),
            },
        ));
    }

    println!();
    println!(
        "| link | work | time | requests | up | down | payload | over payload | baseline: version 1, one answer |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (rate, r) in rows {
        println!(
            "| {rate} kbit/s | {} | {:.1} s | {} | {} | {} | {} | {:.1} % | {} |",
            r.work,
            r.secs,
            r.requests,
            kb(r.up),
            kb(r.down),
            kb(r.payload),
            ((r.up + r.down) as f64 / r.payload as f64 - 1.0) * 100.0,
            r.baseline
        );
    }
}
