//! Enrolment codes resist guessing: attempts are counted per client address, per presented code
//! and county-wide, before the code is looked up; codes expire and are single-use; revoked
//! tokens are refused; and every refusal is logged without personal data.
//!
//! The server here trusts 127.0.0.1 as a reverse proxy, so each request can play a different
//! client address through `X-Forwarded-For`.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use county_server::server::{Running, ServeOptions, open_storage, spawn_opts};
use county_server::service::enrolment::EnrolmentLimits;
use gridkeeper_tests::{Org, TestDevice, resident, seed_org};
use serde_json::{Value, json};

/// Everything the server logs while these tests run (one subscriber for the whole binary).
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("county_server=debug,field_core=debug,info"))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init()
            .expect("one subscriber per test binary");
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Server {
    _dir: tempfile::TempDir,
    running: Running,
    org: Org,
}

async fn start(limits: EnrolmentLimits) -> Server {
    captured_log();
    let dir = tempfile::tempdir().unwrap();
    let storage = open_storage(dir.path().join("county.db").to_str().unwrap()).await.unwrap();
    let org = seed_org(storage.as_ref()).await;
    let options =
        ServeOptions { enrolment: limits, trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..Default::default() };
    let running = spawn_opts(storage, "127.0.0.1:0".parse().unwrap(), options).await.unwrap();
    Server { _dir: dir, running, org }
}

impl Server {
    async fn code_for(&self, account: uuid::Uuid) -> String {
        county_server::service::enrolment::issue_code(self.running.storage.as_ref(), account).await.unwrap().code
    }

    /// `POST /v1/enrol` as a client at `from`: status, body, `Retry-After`.
    async fn enrol(&self, from: &str, code: &str) -> (u16, Value, Option<String>) {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/enrol", self.running.url()))
            .header("X-Forwarded-For", from)
            .json(&json!({"code": code, "device_name": "手持终端"}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        (status, resp.json().await.unwrap(), retry)
    }

    async fn devices_of(&self, account: uuid::Uuid) -> usize {
        self.running.storage.devices(Some(account)).await.unwrap().len()
    }
}

fn limits(per_address: u64, per_code: u64, county: u64) -> EnrolmentLimits {
    EnrolmentLimits { window_ms: 15 * 60 * 1000, per_address, per_code, county }
}

/// A well-formed code that was never issued.
fn wrong_code(i: usize) -> String {
    format!("WRNG-{i:04}-ABCD")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_from_one_address_lock_it_out_even_for_the_right_code() {
    let server = start(limits(5, 100, 1000)).await;
    let right = server.code_for(server.org.worker_a).await;
    for i in 0..5 {
        let (status, body, _) = server.enrol("198.51.100.1", &wrong_code(i)).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "attempt {i}");
    }
    // Locked out: the right code is refused before it is looked up, so it is not used up.
    let (status, body, retry) = server.enrol("198.51.100.1", &right).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(retry.as_deref(), Some("900"));
    assert_eq!(server.devices_of(server.org.worker_a).await, 0, "no device enrolled during the lock-out");
    let (status, ..) = server.enrol("198.51.100.1", &right).await;
    assert_eq!(status, 429, "still locked");

    // Another address is not locked, and the code is still good there.
    let (status, body, _) = server.enrol("198.51.100.2", &right).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account"]["id"], json!(server.org.worker_a));
    assert_eq!(server.devices_of(server.org.worker_a).await, 1);

    // An IPv6 client is counted by its /64: changing the low bits does not reset its count.
    for i in 0..5 {
        let (status, ..) = server.enrol(&format!("2001:db8:7:7::{:x}", i + 1), &wrong_code(10 + i)).await;
        assert_eq!(status, 403);
    }
    let (status, ..) = server.enrol("2001:db8:7:7::ffff", &wrong_code(20)).await;
    assert_eq!(status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_tried_from_many_addresses_is_locked() {
    let server = start(limits(100, 3, 1000)).await;
    for i in 0..3 {
        let (status, ..) = server.enrol(&format!("203.0.113.{}", i + 1), "KKKK-MMMM-NNNN").await;
        assert_eq!(status, 403);
    }
    // Spaces, dashes and case do not make it another code.
    let (status, body, _) = server.enrol("203.0.113.9", "kkkk mmmm nnnn").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")));
    // Other codes are unaffected.
    let right = server.code_for(server.org.worker_b).await;
    assert_eq!(server.enrol("203.0.113.9", &right).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_wide_ceiling_stops_a_guesser_with_many_addresses_but_not_a_worker() {
    let server = start(limits(100, 100, 8)).await;
    for i in 0..8 {
        let (status, ..) = server.enrol(&format!("192.0.2.{}", i + 1), &wrong_code(i)).await;
        assert_eq!(status, 403, "attempt {i}");
    }
    // Over the ceiling, wrong codes from yet other addresses are refused without a lookup's
    // answer...
    let (status, body, retry) = server.enrol("192.0.2.100", &wrong_code(99)).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")));
    assert!(retry.is_some());
    // ...but a worker holding a valid code is not locked out by other people's guessing.
    let right = server.code_for(server.org.worker_a).await;
    let (status, body, _) = server.enrol("192.0.2.200", &right).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.devices_of(server.org.worker_a).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_code_enrols_nothing() {
    let server = start(EnrolmentLimits::default()).await;
    let code = server.code_for(server.org.worker_a).await;
    let storage = server.running.storage.clone();
    county_server::service::enrolment::revoke_code(storage.as_ref(), &code).await.unwrap();
    let (status, body, _) = server.enrol("192.0.2.7", &code).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(server.devices_of(server.org.worker_a).await, 0);
    // A code that was never issued, or is already revoked, is not found.
    let again = county_server::service::enrolment::revoke_code(storage.as_ref(), &code).await.unwrap_err();
    assert_eq!(again.code().as_str(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_expire_and_are_single_use() {
    let server = start(EnrolmentLimits::default()).await;
    let storage = server.running.storage.clone();
    let o = server.org.clone();

    // Issued a week and a minute ago: expired.
    let expired = "EXPD-CODE-2345";
    let hash = county_server::service::auth::hash_secret(&county_server::service::auth::normalize_code(expired));
    let past = chrono::Utc::now().timestamp_millis() - 60_000;
    storage.put_enrolment_code(&hash, o.worker_a, past).await.unwrap();
    let (status, body, _) = server.enrol("198.51.100.10", expired).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(server.devices_of(o.worker_a).await, 0);

    // A fresh code works once.
    let code = server.code_for(o.worker_a).await;
    let (status, first, _) = server.enrol("198.51.100.10", &code).await;
    assert_eq!(status, 200, "{first}");
    let (status, body, _) = server.enrol("198.51.100.11", &code).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(server.devices_of(o.worker_a).await, 1, "the second use made no device");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_everywhere() {
    let server = start(EnrolmentLimits::default()).await;
    let o = server.org.clone();
    let url = server.running.url();
    let worker = TestDevice::enrol(&url, &server.code_for(o.worker_a).await, "丢失的手持终端").await;
    let admin = TestDevice::enrol(&url, &server.code_for(o.admin).await, "县管理员").await;
    worker.create_resident(&resident("周敏", "1975-05-05", "061")).unwrap();
    worker.sync().await.unwrap();
    let worker_id = worker.identity().unwrap();

    // The admin revokes the lost handheld through the API.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{url}/v1/admin/devices/{}/revoke", worker_id.device_id))
        .bearer_auth(admin.identity().unwrap().token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);

    worker.create_resident(&resident("周强", "1976-06-06", "071")).unwrap();
    let err = worker.sync().await.unwrap_err();
    assert_eq!(err.code().as_str(), "device_revoked", "{err}");
    // A lost handheld: it erases what it held, the unsent edit too (device_storage.rs).
    assert_eq!(worker.pending_count().unwrap(), 0, "the revoked device erased itself");
    assert!(worker.identity().is_none());
    for path in ["/v1/me", "/v1/grids", "/v1/residents", "/v1/overview"] {
        let resp = http.get(format!("{url}{path}")).bearer_auth(&worker_id.token).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "device_revoked", "{path}");
    }
    assert_eq!(server.running.storage.stats().await.unwrap().residents, 1, "nothing after the revocation");
    // Revoking twice finds no active device.
    let resp = http
        .post(format!("{url}/v1/admin/devices/{}/revoke", worker_id.device_id))
        .bearer_auth(admin.identity().unwrap().token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_logged_without_personal_data() {
    let log = captured_log();
    let server = start(limits(2, 100, 1000)).await;
    let o = server.org.clone();
    let url = server.running.url();
    let secret_code = server.code_for(o.worker_a).await;
    let worker = TestDevice::enrol(&url, &secret_code, "张红梅的手持终端").await;
    let token = worker.identity().unwrap().token;
    let name = "欧阳秀英";
    let person = resident(name, "1968-08-08", "081");
    let id_number = person.id_number.clone().unwrap();
    worker.create_resident(&person).unwrap();
    worker.sync().await.unwrap();

    let http = reqwest::Client::new();
    // Forbidden: grid B, searching by a name and by the last digits of an ID number.
    let tail = &id_number[id_number.len() - 6..];
    for q in [name, tail] {
        let at = reqwest::Url::parse_with_params(
            &format!("{url}/v1/residents"),
            &[("grid", o.grid_b.to_string()), ("q", q.to_string())],
        )
        .unwrap();
        let resp = http.get(at).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 403);
    }
    // Unauthorized: a made-up token.
    let fake_token = "gk_ThisIsNotARealTokenButLooksLikeOne123456789";
    let resp = http.get(format!("{url}/v1/me")).bearer_auth(fake_token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // Too many attempts: an address guessing codes, then presenting a real one.
    let guess = "GESS-CODE-ABCD";
    let other_code = server.code_for(o.worker_b).await;
    for c in [guess, guess, other_code.as_str()] {
        server.enrol("198.51.100.77", c).await;
    }
    // Revoked.
    let revoked = server.running.storage.revoke_device(worker.identity().unwrap().device_id, 1).await.unwrap();
    assert!(revoked);
    let resp = http.get(format!("{url}/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let refusals: Vec<&str> = text.lines().filter(|l| l.contains("request refused")).collect();
    let device = worker.identity().unwrap().device_id.to_string();
    for (code, route) in [
        ("forbidden", "/v1/residents"),
        ("unauthorized", "/v1/me"),
        ("too_many_attempts", "/v1/enrol"),
        ("device_revoked", "/v1/me"),
    ] {
        assert!(
            refusals.iter().any(|l| l.contains(&format!("code=\"{code}\"")) && l.contains(route)),
            "no refusal {code} on {route} in the log:\n{}",
            refusals.join("\n")
        );
    }
    assert!(
        refusals.iter().any(|l| l.contains("code=\"forbidden\"") && l.contains(&device)),
        "a refusal names the device by its id"
    );
    for secret in [
        secret_code.as_str(),
        &secret_code.replace('-', ""),
        other_code.as_str(),
        guess,
        &token,
        fake_token,
        name,
        &id_number,
        "张红梅",
        "198.51.100.77",
    ] {
        assert!(!text.contains(secret), "the log holds {secret:?}:\n{text}");
    }
    // Six digits could turn up by chance in a timestamp of another line; not in a refusal.
    assert!(refusals.iter().all(|l| !l.contains(tail)), "a refusal holds the searched ID digits");
}
