//! A link that goes dead without closing (a handheld walking out of coverage mid-sync): the
//! device gives up after its idle time, with a retryable `stalled`, instead of hanging until
//! the kernel gives up on the connection. Its own binary: the idle time, set here to one
//! second, holds for every device of the process.

use std::time::{Duration, Instant};

use gridkeeper_tests::proxy::{Mode, Proxy};
use gridkeeper_tests::{TestDevice, TestServer, fields, resident};
use serde_json::json;

#[tokio::test]
async fn a_dead_link_ends_the_sync_after_the_idle_time_and_the_next_one_goes_on() {
    field_core::client::set_idle_for_tests(Duration::from_secs(1));
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr()).await;
    let dev = TestDevice::enrol(&proxy.url(), &server.code_for(server.org.worker_a).await, "edge").await;
    dev.sync().await.unwrap();
    let r = resident("边缘", "1970-05-06", "021");
    dev.create_resident(&r).unwrap();

    proxy.set(Mode::Stall);
    let t = Instant::now();
    let err = dev.sync().await.expect_err("nothing can come back");
    let waited = t.elapsed();
    assert_eq!(err.code().as_str(), "stalled", "{err}");
    assert!(err.is_retryable());
    // The idle time plus the small request's time at the slowest link, not the kernel's minutes.
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(dev.pending_count().unwrap(), 1, "the edit waits");

    proxy.set(Mode::Up);
    dev.update_resident(r.id, fields(json!({"phone": "13900001111"}))).unwrap();
    let report = dev.sync().await.unwrap();
    assert_eq!((report.acknowledged, dev.pending_count().unwrap()), (2, 0));
}
