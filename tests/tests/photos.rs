//! Photos travel as content-addressed blobs outside the documents, upload in chunks that resume
//! after a cut, and show on every device of the grid.

use gridkeeper_tests::{TestDevice, TestServer};
use serde_json::Value;

fn photo(len: usize) -> Vec<u8> {
    // Not compressible, like a real JPEG.
    let mut x: u32 = 2463534242;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploads_resumably_and_shows_on_another_device() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let a = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let b = TestDevice::enrol(&server.url(), &server.code_for(o.assistant_a).await, "assistant").await;
    let other_grid = TestDevice::enrol(&server.url(), &server.code_for(o.worker_b).await, "grid B").await;
    let bytes = photo(700 * 1024);
    let hash = a.add_photo(&bytes, "image/jpeg").unwrap();
    assert_eq!(hash, field_core::hash_of(&bytes));
    let id = a
        .report_dispute(&field_core::NewDispute {
            class: "ordinary".into(),
            category: "safety".into(),
            parties: vec![field_core::NewParty { resident_id: None, name: "王五".into() }],
            place: "村东桥头".into(),
            description: "桥栏杆松动".into(),
            discovered_at: None,
            photos: vec![hash.clone()],
            note: None,
        })
        .unwrap();

    // An earlier attempt got the first chunk through before the signal went.
    let token = a.identity().unwrap().token;
    let http = reqwest::Client::new();
    let first = field_core::CHUNK_BYTES;
    let resp = http
        .put(format!("{}/v1/blobs/{hash}", server.url()))
        .bearer_auth(&token)
        .header("Gridkeeper-Grid", o.grid_a.to_string())
        .header("Gridkeeper-Total", bytes.len().to_string())
        .header("Gridkeeper-Offset", "0")
        .body(bytes[..first].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(a.photos_pending().unwrap(), 1);

    let report = a.sync().await.unwrap();
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(report.photo_bytes_up as usize, bytes.len() - first, "the upload resumed where it stopped");
    assert_eq!(a.photos_pending().unwrap(), 0);
    let state = server.storage().blob_states(&hash).await.unwrap().pop().unwrap();
    assert!(state.complete);
    assert_eq!(state.received as usize, bytes.len());

    // Another device of the grid gets the report and fetches the photo by its hash.
    b.sync().await.unwrap();
    assert_eq!(b.dispute(id).unwrap().photos, vec![hash.clone()]);
    assert_eq!(b.photo(&hash).await.unwrap(), bytes);
    // A device of another grid cannot.
    assert_eq!(other_grid.photo(&hash).await.unwrap_err().code().as_str(), "not_found");

    // Bytes that do not match their name are thrown away, never completed.
    let fake = "0".repeat(64);
    let resp: Value = http
        .put(format!("{}/v1/blobs/{fake}", server.url()))
        .bearer_auth(&token)
        .header("Gridkeeper-Grid", o.grid_a.to_string())
        .header("Gridkeeper-Total", "4")
        .header("Gridkeeper-Offset", "0")
        .body(vec![1, 2, 3, 4])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["complete"], false);
    assert!(server.storage().blob(o.grid_a, &fake).await.unwrap().is_none());
    let bad = http.get(format!("{}/v1/blobs/not-a-hash", server.url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}
