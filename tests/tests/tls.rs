//! HTTPS: the county server serves TLS itself (certificate and key from PEM files); a device
//! refuses plain `http://` to anything but this machine, trusts a county's own certificate
//! authority when told to, and fails cleanly when it does not trust the certificate.
//!
//! The certificates are made at test time: a county CA, and a server certificate it signed
//! for `localhost` and `127.0.0.1`.

use std::path::Path;

use county_server::server::{Running, ServeOptions, open_storage, spawn_opts};
use county_server::tls::TlsFiles;
use field_core::Device;
use gridkeeper_tests::{Org, resident, seed_org};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A county's certificate authority (PEM) and the server's certificate and key files.
struct Pki {
    ca_pem: String,
    files: TlsFiles,
}

fn county_pki(dir: &Path, name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "county server");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &ca).unwrap();
    let files = TlsFiles { cert: dir.join(format!("{name}.crt")), key: dir.join(format!("{name}.key")) };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    Pki { ca_pem: ca.pem(), files }
}

struct TlsServer {
    dir: tempfile::TempDir,
    running: Running,
    org: Org,
    pki: Pki,
}

impl TlsServer {
    async fn start() -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let storage = open_storage(dir.path().join("county.db").to_str().unwrap()).await.unwrap();
        let org = seed_org(storage.as_ref()).await;
        let pki = county_pki(dir.path(), "yishui");
        let options = ServeOptions { tls: Some(pki.files.clone()), ..Default::default() };
        let running = spawn_opts(storage, "127.0.0.1:0".parse().unwrap(), options).await.unwrap();
        TlsServer { dir, running, org, pki }
    }

    async fn code_for(&self, account: uuid::Uuid) -> String {
        county_server::service::enrolment::issue_code(self.running.storage.as_ref(), account).await.unwrap().code
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrols_and_syncs_over_https_trusting_the_county_ca() {
    let server = TlsServer::start().await;
    let url = server.running.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let path = server.dir.path().join("device.db");
    let device = Device::open(&path).unwrap();
    let code = server.code_for(server.org.worker_a).await;
    let id = device.enrol_with_ca(&url, &code, "手持终端", Some(&server.pki.ca_pem)).await.unwrap();
    assert_eq!(id.account.id, server.org.worker_a);
    assert_eq!(id.server_ca.as_deref(), Some(server.pki.ca_pem.as_str()));

    device.create_resident(&resident("孙立新", "1966-06-06", "031")).unwrap();
    let report = device.sync().await.unwrap();
    assert_eq!(report.acknowledged, 1);
    assert_eq!(device.pending_count().unwrap(), 0);

    // The CA is kept with the identity: the reopened device still syncs over HTTPS.
    drop(device);
    let reopened = Device::open(&path).unwrap();
    reopened.create_resident(&resident("孙丽", "1990-09-09", "042")).unwrap();
    assert_eq!(reopened.sync().await.unwrap().acknowledged, 1);

    // The certificate names `localhost` too, and a second device can enrol by that name.
    let by_name = url.replace("127.0.0.1", "localhost");
    let other = Device::open(&server.dir.path().join("other.db")).unwrap();
    let code = server.code_for(server.org.worker_b).await;
    other.enrol_with_ca(&by_name, &code, "另一台", Some(&server.pki.ca_pem)).await.unwrap();
    other.sync().await.unwrap();

    assert_eq!(server.running.storage.stats().await.unwrap().residents, 2);
    assert_eq!(other.residents(&Default::default()).unwrap().len(), 0, "grid B holds none of grid A's residents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_machine_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::open(&dir.path().join("device.db")).unwrap();
    // Not reachable from here: a request would fail with `network`, not with the rule's code.
    for url in ["http://10.1.2.3:8080", "http://example.org", "http://county.example.org/", "http://[fe80::1]:8080"] {
        let err = device.enrol(url, "K7QM-3WXP-9HTA", "手持终端").await.unwrap_err();
        assert_eq!(err.code().as_str(), "insecure_server_url", "{url}: {err}");
        assert!(!err.is_retryable(), "retrying cannot help: {url}");
        let err = field_core::request_enrolment(&field_core::http_client().unwrap(), url, "K7QM-3WXP-9HTA", "x")
            .await
            .unwrap_err();
        assert_eq!(err.code().as_str(), "insecure_server_url", "{url}");
    }
    assert!(device.identity().is_none(), "nothing was stored");
    assert_eq!(device.enrol("county.example.org", "K7QM", "x").await.unwrap_err().code().as_str(), "bad_server_url");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_with_a_plain_http_address_does_not_sync() {
    // A device enrolled with an address that predates the rule (stored as it was) must not
    // send its token and records in clear text: the sync stops before any request.
    let server = gridkeeper_tests::TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = Device::open(&path).unwrap();
    let mut identity = device.enrol(&server.url(), &server.code_for(server.org.worker_a).await, "旧").await.unwrap();
    device.create_resident(&resident("钱进", "1980-08-08", "051")).unwrap();
    drop(device);
    identity.server = "http://10.1.2.3:8080".into();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE meta SET value = ?1 WHERE key = 'identity'", [serde_json::to_string(&identity).unwrap()])
        .unwrap();
    drop(db);

    let device = Device::open(&path).unwrap();
    assert_eq!(device.sync().await.unwrap_err().code().as_str(), "insecure_server_url");
    assert_eq!(device.pending_count().unwrap(), 1, "the edit stays queued");
    // Nor can such an identity be adopted by another device database.
    let fresh = Device::open(&dir.path().join("fresh.db")).unwrap();
    assert_eq!(fresh.adopt(identity).unwrap_err().code().as_str(), "insecure_server_url");
    assert!(fresh.identity().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_not_trusting_the_certificate_fails_cleanly_and_uses_up_nothing() {
    let server = TlsServer::start().await;
    let url = server.running.url();
    let code = server.code_for(server.org.worker_a).await;
    let device = Device::open(&server.dir.path().join("device.db")).unwrap();

    // No CA configured: the usual roots do not know the county's CA.
    let err = device.enrol(&url, &code, "手持终端").await.unwrap_err();
    assert_eq!(err.code().as_str(), "untrusted_server", "{err}");
    assert!(!err.is_retryable());
    // Another authority's certificate is no better.
    let stranger = county_pki(server.dir.path(), "elsewhere");
    let err = device.enrol_with_ca(&url, &code, "手持终端", Some(&stranger.ca_pem)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "untrusted_server", "{err}");
    // Text that is no certificate at all.
    let err = device.enrol_with_ca(&url, &code, "手持终端", Some("-----BEGIN NONSENSE-----")).await.unwrap_err();
    assert_eq!(err.code().as_str(), "bad_certificate", "{err}");
    assert!(device.identity().is_none());

    // The code never reached the server, so it still works with the right CA.
    device.enrol_with_ca(&url, &code, "手持终端", Some(&server.pki.ca_pem)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_does_not_start_with_a_missing_or_mismatched_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = county_pki(dir.path(), "a");
    let b = county_pki(dir.path(), "b");
    let storage = open_storage("sqlite::memory:").await.unwrap();
    for files in [
        TlsFiles { cert: a.files.cert.clone(), key: dir.path().join("missing.key") },
        TlsFiles { cert: a.files.cert.clone(), key: b.files.key.clone() },
        TlsFiles { cert: a.files.key.clone(), key: a.files.key.clone() },
    ] {
        let options = ServeOptions { tls: Some(files.clone()), ..Default::default() };
        let started = spawn_opts(storage.clone(), "127.0.0.1:0".parse().unwrap(), options).await;
        assert!(started.is_err(), "started with {files:?}");
    }
}
