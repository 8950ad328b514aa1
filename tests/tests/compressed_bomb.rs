//! A compressed change chunk that would inflate to 64 MiB, sent by an enrolled device: the server
//! refuses it from its header and never inflates it, so the process's peak memory does not grow
//! by anything like it (before the fix, 1 MB inflating to 1 GiB took the server from 66 MB to
//! 3.1 GB). One test in a binary of its own, so no other test's allocations blur the reading.

use std::io::Write;

use gridkeeper_tests::{TestDevice, TestServer};
use sync_protocol::doc::DocKey;
use sync_protocol::schema::Collection;
use sync_protocol::wire::{OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};

const INFLATES_TO: usize = 64 << 20;

/// The process's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

/// An Automerge chunk header (magic, checksum, type 2 = compressed change, LEB128 length) and
/// DEFLATE data that inflates to `INFLATES_TO` zero bytes.
fn bomb() -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..INFLATES_TO / block.len() {
        z.write_all(&block).unwrap();
    }
    let data = z.finish().unwrap();
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut n = data.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
    out.extend(data);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_change_bomb_is_never_inflated() {
    let server = TestServer::start().await;
    let a = TestDevice::enrol(&server.url(), &server.code_for(server.org.worker_a).await, "worker A").await;
    a.sync().await.unwrap();
    let token = a.identity().unwrap().token;
    let bomb = bomb();
    assert!(bomb.len() < INFLATES_TO / 100, "the bomb is small: {} bytes", bomb.len());
    let key = DocKey::new(server.org.grid_a, Collection::Residents);
    let body = SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![],
        changes: (0..4).map(|_| OutChange { doc: key, bytes: bomb.clone() }).collect(),
        budget: 0,
        settings: 0,
    }
    .encode();
    let stats = server.storage().stats().await.unwrap();
    let before = peak_rss();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer = SyncResponse::decode(&resp.bytes().await.unwrap()).unwrap();
    assert!(answer.refused.iter().all(|r| r.code.as_str() == "compressed_change"), "{:?}", answer.refused);
    assert_eq!(answer.refused.len(), 4);
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < INFLATES_TO / 4, "peak memory grew by {} MB for four bombs of 64 MiB", grew >> 20);
    assert_eq!(server.storage().stats().await.unwrap(), stats, "nothing stored");
}
