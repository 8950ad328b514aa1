//! A worker at the edge of coverage (issue 14): a real server, a real device, and a proxy that
//! shapes the link (bandwidth, latency) and cuts it after a number of bytes, either way.
//!
//! - a grid's first download at 24 kbit/s with 300 ms latency each way completes, with little
//!   over the payload;
//! - twenty cuts at random offsets still complete it, and what came before each cut is kept;
//! - a week offline (200 edits, 10 photos) goes up in bounded batches, arrives once and whole;
//! - the document range endpoint answers hostile requests with codes and serves only what the
//!   caller may read.

use std::time::{Duration, Instant};

use gridkeeper_tests::proxy::{Proxy, Shape};
use gridkeeper_tests::{TestDevice, TestServer, error_code, fields, snapshot_bytes, typical_grid_a};
use rand::{Rng, SeedableRng};
use serde_json::json;
use sync_protocol::doc::DocKey;
use sync_protocol::org::Role;
use sync_protocol::schema::Collection;

/// Syncs until a sync succeeds with nothing left to fetch or send; returns the attempts. Every
/// failure on the way must be one worth retrying.
async fn sync_until_done(dev: &TestDevice, before_each: impl Fn(), max: usize) -> usize {
    for attempt in 1..=max {
        before_each();
        match dev.sync().await {
            Ok(_) if dev.download_progress().unwrap().is_none() && dev.pending_count().unwrap() == 0 => {
                return attempt;
            }
            Ok(_) => {}
            Err(e) => assert!(e.is_retryable(), "a cut must leave a retryable error, got {e}"),
        }
    }
    panic!("not done after {max} syncs");
}

#[tokio::test]
async fn a_first_download_at_24_kbit_with_300_ms_latency_completes() {
    let server = TestServer::start().await;
    let data = typical_grid_a(&server).await;
    let payload = snapshot_bytes(&server, server.org.grid_a, Role::GridWorker).await;
    let proxy = Proxy::start(server.addr()).await;
    let dev = TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await;
    proxy.shape(Shape::kbit(24, Duration::from_millis(300)));
    proxy.reset_counters();

    let t = Instant::now();
    let report = dev.sync().await.expect("a slow but moving link is never cut");
    let took = t.elapsed();
    let (up, down) = proxy.bytes();
    assert_eq!(dev.residents(&Default::default()).unwrap().len(), data.residents.len());
    assert_eq!(dev.download_progress().unwrap(), None, "the download is complete");
    // Bounded: the answers were pages, and what did not fit came in ranges.
    assert!(report.ranges >= 1 && report.requests > report.ranges, "{report:?}");
    let overhead = (up + down) as f64 / payload as f64;
    println!(
        "first download at 24 kbit/s, 300 ms each way: {:.1} s, {} requests, payload {payload} B, {up} B up, {down} B down ({:.3}× the payload)",
        took.as_secs_f64(),
        report.requests,
        overhead
    );
    assert!(overhead <= 1.10, "at most 10 % over the payload, got {overhead:.3}×");

    // Nothing new afterwards: one small request, as before.
    proxy.reset_counters();
    let idle = dev.sync().await.unwrap();
    assert_eq!(idle.requests, 1, "{idle:?}");
    assert!(idle.bytes_up <= 200 && idle.bytes_down <= 200, "{idle:?}");
}

#[tokio::test]
async fn twenty_cuts_at_random_offsets_still_complete_a_first_download() {
    let server = TestServer::start().await;
    let data = typical_grid_a(&server).await;
    let payload = snapshot_bytes(&server, server.org.grid_a, Role::GridWorker).await;
    let proxy = Proxy::start(server.addr()).await;
    let dev = TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await;
    proxy.reset_counters();

    // Offsets up to a 25th of the payload each, so all twenty fall within the download.
    let rng = std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(14));
    let cut_now = || {
        if proxy.cuts() < 20 && !proxy.cut_pending() {
            proxy.cut_after(rng.lock().unwrap().random_range(1..=payload / 25));
        }
    };
    let attempts = sync_until_done(&dev, cut_now, 200).await;
    let (up, down) = proxy.bytes();
    let total = up + down;
    println!(
        "20 cuts: {attempts} syncs, payload {payload} B, {up} B up, {down} B down ({:.3}× the payload)",
        total as f64 / payload as f64
    );
    assert_eq!(proxy.cuts(), 20, "every cut fell within the download");
    assert_eq!(dev.residents(&Default::default()).unwrap().len(), data.residents.len());
    assert_eq!(dev.houses().unwrap().len(), data.houses.len());
    assert!(
        total as f64 <= 1.2 * payload as f64,
        "a cut loses at most what was on the wire: {total} B for {payload} B"
    );
    // And the device holds what the server holds.
    let idle = dev.sync().await.unwrap();
    assert_eq!((idle.requests, idle.documents_received), (1, 0), "{idle:?}");
}

#[tokio::test]
async fn a_week_offline_outbox_arrives_once_and_whole_through_cuts() {
    let server = TestServer::start().await;
    let data = typical_grid_a(&server).await;
    let proxy = Proxy::start(server.addr()).await;
    let dev = TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await;
    dev.sync().await.unwrap();
    let storage = server.storage();
    let before = storage.catch_up(server.org.grid_a, &Collection::ALL, 0, uuid::Uuid::nil(), 1).await;
    let seq_before = match before.unwrap() {
        county_server::storage::CatchUp::Snapshot { seq, .. } => seq,
        other => panic!("{other:?}"),
    };

    // A week without signal: 200 edits and 10 photos.
    proxy.set(gridkeeper_tests::proxy::Mode::Down);
    for (i, r) in data.residents.iter().take(200).enumerate() {
        dev.update_resident(r.id, fields(json!({"phone": format!("139{:08}", 10_000_000 + i)}))).unwrap();
    }
    assert!(dev.sync().await.is_err(), "no signal");
    assert_eq!(dev.pending_count().unwrap(), 200);
    let outbox = dev.outbox_bytes().unwrap();

    // Back on a weak link, the edits go up in bounded batches, each acknowledged once: what the
    // device sent is the outbox and the framing of its requests, nothing twice.
    proxy.set(gridkeeper_tests::proxy::Mode::Up);
    proxy.shape(Shape::kbit(64, Duration::from_millis(100)));
    let edits = dev.sync().await.unwrap();
    assert_eq!((edits.acknowledged, dev.pending_count().unwrap()), (200, 0));
    assert!(edits.requests >= 2, "bounded batches (the first of 16 KB, unmeasured): {edits:?}");
    // Each change carries its document's key and length (about 21 bytes); each request a header.
    let framing = 32 * 200 + 64 * edits.requests as u64;
    assert!(edits.bytes_up <= outbox + framing, "{} B sent for an outbox of {outbox} B: {edits:?}", edits.bytes_up);

    // Then photos, and more edits, through cuts.
    proxy.set(gridkeeper_tests::proxy::Mode::Down);
    for (i, r) in data.residents.iter().skip(200).take(50).enumerate() {
        dev.update_resident(r.id, fields(json!({"phone": format!("137{:08}", 10_000_000 + i)}))).unwrap();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut photos = Vec::new();
    for _ in 0..10 {
        let bytes: Vec<u8> = (0..40_000).map(|_| rng.random()).collect();
        photos.push(dev.add_photo(&bytes, "image/jpeg").unwrap());
    }
    proxy.set(gridkeeper_tests::proxy::Mode::Up);
    proxy.shape(Shape::kbit(1000, Duration::from_millis(50)));
    proxy.reset_counters();

    let rng = std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(200));
    let cut_now = || {
        if proxy.cuts() < 10 && !proxy.cut_pending() {
            proxy.cut_after(rng.lock().unwrap().random_range(1..=40_000));
        }
    };
    let attempts = sync_until_done(&dev, cut_now, 200).await;
    // Photos are uploaded after the records: done when none is left to send.
    let (up, down) = proxy.bytes();
    println!("week offline through {} cuts: {attempts} syncs, {up} B up, {down} B down", proxy.cuts());
    assert_eq!(proxy.cuts(), 10);

    // Once: each edit is one change in the grid's log, none twice.
    let storage = server.storage();
    let after = storage.catch_up(server.org.grid_a, &Collection::ALL, seq_before, uuid::Uuid::nil(), usize::MAX);
    let county_server::storage::CatchUp::Changes { changes, .. } = after.await.unwrap() else { panic!() };
    assert_eq!(changes.len(), 250, "every edit arrived, once");
    assert!(changes.iter().all(|c| c.doc.collection == Collection::Residents));
    let hashes: std::collections::HashSet<_> =
        changes.iter().map(|c| automerge::Change::from_bytes(c.bytes.clone()).unwrap().hash()).collect();
    assert_eq!(hashes.len(), 250);
    // Whole: every photo complete on the server, byte for byte.
    for h in &photos {
        let got = server.storage().blob(server.org.grid_a, h).await.unwrap();
        assert!(got.is_some_and(|b| field_core::hash_of(&b) == *h), "photo {h} arrived whole");
    }
    // Each cut loses at most the request it broke (an outbox batch or a photo chunk, both sized
    // to take seconds on the link); nothing acknowledged went up again.
    let payload = changes.iter().rev().take(50).map(|c| c.bytes.len() as u64).sum::<u64>() + 10 * 40_000;
    println!("payload {payload} B: {:.3}× up", up as f64 / payload as f64);
    // At most the payload, plus per cut the request it broke (a photo of 40 KB is one chunk at
    // this speed), plus a few KB of headers and framing per sync.
    let bound = payload + proxy.cuts() * 40_000 + attempts as u64 * 4_096;
    assert!(up <= bound, "{up} B up for {payload} B (bound {bound} B)");
}

/// The range endpoint as a hostile or confused device would use it.
#[tokio::test]
async fn document_ranges_resume_restart_and_refuse() {
    let server = TestServer::start().await;
    typical_grid_a(&server).await;
    let o = server.org.clone();
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "w").await;
    let staff = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "s").await;
    let other = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "b").await;
    let http = reqwest::Client::new();
    let key = DocKey::new(o.grid_a, Collection::Residents);
    let url = format!("{}{}", server.url(), sync_protocol::api::doc_path(&key));
    let get = |token: String, headers: Vec<(&'static str, String)>| {
        let mut req = http.get(&url).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let range = r.headers().get("content-range").map(|v| v.to_str().unwrap().to_string());
            (status, range, r.bytes().await.unwrap().to_vec())
        }
    };
    let token = worker.identity().unwrap().token;
    let stored = server.storage().load_docs(&[key]).await.unwrap().pop().unwrap().bytes;
    let total = stored.len();

    // The first range, then the next with the digest of the first.
    let (status, range, first) = get(token.clone(), vec![("range", "bytes=0-9999".into())]).await;
    assert_eq!((status, range.as_deref()), (206, Some(format!("bytes 0-9999/{total}").as_str())));
    assert_eq!(first, stored[..10_000]);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&first));
    let prefix = sync_protocol::api::DOC_PREFIX_HEADER;
    let (status, range, next) =
        get(token.clone(), vec![("range", "bytes=10000-".into()), (prefix, digest.clone())]).await;
    assert_eq!((status, range.unwrap()), (206, format!("bytes 10000-{}/{total}", total - 1)));
    assert_eq!(next, stored[10_000..]);
    // A digest of other bytes: the answer starts again at 0 and says so.
    let wrong = hex::encode([7u8; 32]);
    let (status, range, again) = get(token.clone(), vec![("range", "bytes=10000-19999".into()), (prefix, wrong)]).await;
    assert_eq!((status, range.unwrap()), (206, format!("bytes 0-9999/{total}")));
    assert_eq!(again, stored[..10_000]);
    // Past the end: from the start again.
    let (_, range, _) =
        get(token.clone(), vec![("range", format!("bytes={}-", total + 5)), (prefix, digest.clone())]).await;
    assert!(range.unwrap().starts_with("bytes 0-"));

    // The largest range that parses is the whole document (no overflow); the smallest, 4 KB.
    let (status, range, all) = get(token.clone(), vec![("range", format!("bytes=0-{}", u64::MAX))]).await;
    assert_eq!((status, range.unwrap()), (206, format!("bytes 0-{}/{total}", total - 1)));
    assert_eq!(all, stored);
    let (_, range, tiny) = get(token.clone(), vec![("range", "bytes=0-0".into())]).await;
    assert_eq!((range.unwrap(), tiny.len()), (format!("bytes 0-4095/{total}"), 4096));
    let head = http.head(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 400, "HEAD would be an audited read of nothing");

    // Refused with codes, nothing served.
    for (headers, code) in [
        (vec![("range", "bytes=10000-".to_string())], "bad_range"),
        (vec![("range", "bytes=-500".to_string())], "bad_range"),
        (vec![("range", "bytes=0-5,9-12".to_string())], "bad_range"),
        (vec![("range", "lines=0-".to_string())], "bad_range"),
        (vec![("range", "bytes=5-".to_string()), (prefix, "zz".to_string())], "bad_range"),
    ] {
        let (status, _, body) = get(token.clone(), headers.clone()).await;
        assert_eq!((status, error_code(&body).as_str()), (400, code), "{headers:?}");
    }
    let (status, _, body) = get(other.identity().unwrap().token, vec![]).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "forbidden"), "another grid's worker");
    // That worker's grid is empty: its download is complete at once (position 0 is a position).
    other.sync().await.unwrap();
    assert_eq!(other.download_progress().unwrap(), None);
    let (status, _, body) = get(staff.identity().unwrap().token, vec![]).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "forbidden"), "staff do not receive residents");
    for bad in ["/v1/docs/not-a-key", "/v1/docs/00000000-0000-0000-0000-000000000000/nothing"] {
        let r = http.get(format!("{}{bad}", server.url())).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{bad}");
    }
    let missing = DocKey::visits(o.grid_a, 200_101);
    let r = http
        .get(format!("{}{}", server.url(), sync_protocol::api::doc_path(&missing)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // A budget of one byte is held at the server's smallest page: the small documents still come
    // inline, the large ones are named to fetch.
    let body = sync_protocol::wire::SyncRequest {
        version: sync_protocol::wire::PROTOCOL_VERSION,
        positions: vec![sync_protocol::wire::GridPosition { grid: o.grid_a, seq: 0 }],
        changes: vec![],
        budget: 1,
        settings: 0,
    }
    .encode();
    let probe = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "p").await;
    let (status, body) = gridkeeper_tests::post_sync(&server, &probe.identity().unwrap().token, body).await;
    assert_eq!(status, 200);
    let answer = sync_protocol::wire::SyncResponse::decode(&body).unwrap();
    let inline: usize = answer.docs.iter().map(|d| d.data.len()).sum();
    assert!(!answer.docs.is_empty() && inline <= county_server::service::sync::MIN_BUDGET, "{inline} B inline");
    assert!(answer.fetch.iter().any(|f| f.doc == key), "the residents are named to fetch");

    // Every range served was audited, with its bytes; the refusals were not.
    let audit = server.storage().audit(&Default::default()).await.unwrap();
    let ranges: Vec<_> = audit.iter().filter(|e| e.detail.contains("residents bytes")).collect();
    assert_eq!(ranges.len(), 6, "{ranges:#?}");
    assert!(ranges.iter().any(|e| e.detail.contains("from the start again")));
}

/// The server's timeouts follow progress: an upload that keeps moving is never cut however long
/// it takes, and one that stops is dropped after the idle time, leaving nothing behind.
#[tokio::test]
async fn the_server_cuts_a_stalled_upload_but_never_a_slow_one() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idle = Duration::from_millis(800);
    let server =
        TestServer::start_opts(county_server::server::ServeOptions { idle: Some(idle), ..Default::default() }).await;
    let dev = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "w").await;
    let token = dev.identity().unwrap().token;
    let body = sync_protocol::wire::SyncRequest {
        version: sync_protocol::wire::PROTOCOL_VERSION,
        positions: vec![sync_protocol::wire::GridPosition { grid: server.org.grid_a, seq: 0 }],
        changes: vec![],
        budget: 0,
        settings: 0,
    }
    .encode();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        sync_protocol::wire::CONTENT_TYPE,
        body.len()
    );

    // Slow: a byte every third of the idle time, the whole upload lasting many idle times.
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for b in &body {
        tcp.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(idle / 3).await;
    }
    assert!(started.elapsed() > idle * 3, "the upload took longer than the idle time, several times");
    let mut answer = vec![0u8; 12];
    tcp.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200", "a slow upload that keeps moving is answered");

    // Stalled: half the body, then nothing.
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..body.len() / 2]).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(idle * 10, tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server let a stalled upload hold its connection");
    let waited = started.elapsed();
    assert!(waited >= idle / 2, "not cut before the idle time: {waited:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
}

/// A device already holding its grid when a roster import lands: the import's large changes
/// are not sent in a sync answer (lost whole at every cut) but as their documents, fetched in
/// ranges that resume.
#[tokio::test]
async fn a_large_change_comes_as_documents_to_fetch() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr()).await;
    let dev = TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await;
    // The grid holds a record, and the device a position past 0.
    dev.create_resident(&gridkeeper_tests::resident("先来", "1980-01-02", "011")).unwrap();
    dev.sync().await.unwrap();
    assert!(dev.sync().await.unwrap().ranges == 0);
    let data = typical_grid_a(&server).await;
    let documents = snapshot_bytes(&server, server.org.grid_a, Role::GridWorker).await;

    proxy.shape(Shape::kbit(64, Duration::from_millis(100)));
    proxy.reset_counters();
    let report = dev.sync().await.unwrap();
    let (_, down) = proxy.bytes();
    println!("a roster import on a weak link: {down} B down for {documents} B of documents: {report:?}");
    assert!(report.ranges >= 1, "the import's documents came in ranges: {report:?}");
    assert_eq!(dev.download_progress().unwrap(), None);
    assert_eq!(dev.residents(&Default::default()).unwrap().len(), data.residents.len() + 1);
    assert_eq!(dev.houses().unwrap().len(), data.houses.len());
    // The import's changes are larger than its documents (about 1.5×): had they come in a sync
    // answer, the total would pass the documents' size by far.
    assert!((down as f64) < 1.2 * documents as f64, "{down} B down for {documents} B of documents");
    let idle = dev.sync().await.unwrap();
    assert_eq!((idle.requests, idle.documents_received, idle.ranges), (1, 0, 0), "{idle:?}");
}

/// The app locking while a long download runs stops it at its next piece; what came is kept,
/// and the next sync goes on from there.
#[tokio::test]
async fn a_locked_app_interrupts_a_download_and_keeps_what_came() {
    let server = TestServer::start().await;
    let data = typical_grid_a(&server).await;
    let proxy = Proxy::start(server.addr()).await;
    let dev =
        std::sync::Arc::new(TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await);
    proxy.shape(Shape::kbit(256, Duration::from_millis(50)));
    let running = {
        let dev = dev.clone();
        tokio::spawn(async move { dev.sync().await })
    };
    // Until part of a document has come.
    let t = Instant::now();
    while dev.download_progress().unwrap().is_none_or(|p| p.bytes_done == 0) {
        assert!(t.elapsed() < Duration::from_secs(30), "nothing came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dev.interrupt();
    let stopped = Instant::now();
    let err = running.await.unwrap().expect_err("interrupted");
    assert_eq!(err.code().as_str(), "locked", "{err}");
    assert!(stopped.elapsed() < Duration::from_secs(5), "stopped at its next piece: {:?}", stopped.elapsed());
    let held = dev.download_progress().unwrap().expect("a download under way").bytes_done;
    assert!(held > 0);

    // A new handle on the same database (the app unlocked again) goes on from the bytes held.
    let gridkeeper_tests::TestDevice { _dir: dir, device, .. } =
        std::sync::Arc::try_unwrap(dev).ok().expect("one handle");
    drop(device);
    let again = field_core::Device::open(&dir.path().join("device.db")).unwrap();
    assert_eq!(again.download_progress().unwrap().map(|p| p.bytes_done), Some(held));
    proxy.shape(Shape::default());
    proxy.reset_counters();
    again.sync().await.unwrap();
    assert_eq!(again.residents(&Default::default()).unwrap().len(), data.residents.len());
    let (_, down) = proxy.bytes();
    let payload = snapshot_bytes(&server, server.org.grid_a, Role::GridWorker).await;
    assert!(down < payload + 16_384 - held.min(payload), "the bytes held were not fetched again: {down} B down");
    drop(dir);
}
