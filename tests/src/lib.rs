//! Helpers for whole-system tests: a real county server on port 0 over a temporary SQLite
//! file, a small organisation, devices enrolled through the real HTTP API, and a TCP proxy
//! that can cut the connection the way a mountain village does.

pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use county_server::server::{Running, open_storage, spawn_with};
use county_server::service::sync::Limits;
use county_server::storage::{Account, Node, Storage};
use field_core::Device;
use sync_protocol::org::{NodeKind, Role};
use uuid::Uuid;

/// The ids of a small county: one township, one village, grids A and B.
#[derive(Debug, Clone)]
pub struct Org {
    pub county: Uuid,
    pub township: Uuid,
    pub village: Uuid,
    pub grid_a: Uuid,
    pub grid_b: Uuid,
    pub worker_a: Uuid,
    pub assistant_a: Uuid,
    pub leader_a: Uuid,
    pub worker_b: Uuid,
    pub township_staff: Uuid,
    pub admin: Uuid,
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    /// The SQLite file (empty for PostgreSQL).
    pub db: PathBuf,
    /// The database URL the server was opened with.
    pub db_url: String,
    pub running: Option<Running>,
    pub org: Org,
    pub limits: Limits,
}

async fn put_node(
    s: &dyn Storage,
    kind: NodeKind,
    name: &str,
    parent: Option<Uuid>,
    township: Option<Uuid>,
    village: Option<Uuid>,
) -> Uuid {
    let id = Uuid::now_v7();
    s.put_node(&Node { id, kind, name: name.into(), parent, township, village }).await.unwrap();
    id
}

/// An account of `role` at `node`, for tests that need a role the seed org lacks.
pub async fn put_account(s: &dyn Storage, name: &str, role: Role, node: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    s.put_account(&Account { id, name: name.into(), role, node }).await.unwrap();
    id
}

/// Creates the small county of [`Org`] in a storage (the org every test server starts with).
pub async fn seed_org(s: &dyn Storage) -> Org {
    let county = put_node(s, NodeKind::County, "沂水县", None, None, None).await;
    let township = put_node(s, NodeKind::Township, "高庄镇", Some(county), None, None).await;
    let village = put_node(s, NodeKind::Village, "东坡村", Some(township), Some(township), None).await;
    let grid_a = put_node(s, NodeKind::Grid, "东坡村第1网格", Some(village), Some(township), Some(village)).await;
    let grid_b = put_node(s, NodeKind::Grid, "东坡村第2网格", Some(village), Some(township), Some(village)).await;
    Org {
        county,
        township,
        village,
        grid_a,
        grid_b,
        worker_a: put_account(s, "张红梅", Role::GridWorker, grid_a).await,
        assistant_a: put_account(s, "李建国", Role::GridAssistant, grid_a).await,
        leader_a: put_account(s, "王书记", Role::GridLeader, grid_a).await,
        worker_b: put_account(s, "刘芳", Role::GridWorker, grid_b).await,
        township_staff: put_account(s, "赵主任", Role::TownshipStaff, township).await,
        admin: put_account(s, "县管理员", Role::CountyAdmin, county).await,
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Limits::default()).await
    }

    /// A server whose answers page after `max_response_bytes`.
    pub async fn start_with(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("county.db");
        let url = db.to_str().unwrap().to_string();
        Self::start_in(dir, db, url, limits).await
    }

    /// A server on a new scratch database of the test PostgreSQL server.
    pub async fn start_postgres() -> TestServer {
        let url = county_server::testing::scratch_postgres("it").await.expect("PostgreSQL for tests");
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, PathBuf::new(), url, Limits::default()).await
    }

    async fn start_in(dir: tempfile::TempDir, db: PathBuf, db_url: String, limits: Limits) -> TestServer {
        let storage = open_storage(&db_url).await.unwrap();
        let org = seed_org(storage.as_ref()).await;
        let running = spawn_with(storage, "127.0.0.1:0".parse().unwrap(), limits).await.unwrap();
        TestServer { dir, db, db_url, running: Some(running), org, limits }
    }

    /// A server on a new SQLite file, started with these options (upload limits, say).
    pub async fn start_opts(options: county_server::server::ServeOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("county.db");
        let db_url = db.to_str().unwrap().to_string();
        let storage = open_storage(&db_url).await.unwrap();
        let org = seed_org(storage.as_ref()).await;
        let limits = options.limits;
        let running =
            county_server::server::spawn_opts(storage, "127.0.0.1:0".parse().unwrap(), options).await.unwrap();
        TestServer { dir, db, db_url, running: Some(running), org, limits }
    }

    /// Another server on the same database, as a county adds servers behind a load balancer:
    /// its own storage connections, its own port, no state shared in memory.
    pub async fn another_server(&self) -> Running {
        let storage = open_storage(&self.db_url).await.unwrap();
        spawn_with(storage, "127.0.0.1:0".parse().unwrap(), self.limits).await.unwrap()
    }

    pub fn url(&self) -> String {
        self.running.as_ref().expect("running").url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().expect("running").addr
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.running.as_ref().expect("running").storage.clone()
    }

    /// A fresh enrolment code, issued the way the admin API does.
    pub async fn code_for(&self, account: Uuid) -> String {
        county_server::service::enrolment::issue_code(self.storage().as_ref(), account).await.unwrap().code
    }

    /// Stops the server and starts a new process-equivalent on the same database file and port.
    pub async fn restart(&mut self) {
        let addr = self.addr();
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let storage = open_storage(&self.db_url).await.unwrap();
        self.running = Some(spawn_with(storage, addr, self.limits).await.unwrap());
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// A device with its own database file.
pub struct TestDevice {
    pub _dir: tempfile::TempDir,
    pub device: Device,
    pub name: String,
}

impl TestDevice {
    pub async fn enrol(server_url: &str, code: &str, name: &str) -> TestDevice {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::open(&dir.path().join("device.db")).unwrap();
        device.enrol(server_url, code, name).await.unwrap();
        TestDevice { _dir: dir, device, name: name.into() }
    }
}

impl std::ops::Deref for TestDevice {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.device
    }
}

/// A valid ID number for a birth date (`YYYY-MM-DD`) and a 3-digit sequence.
pub fn id_number(birth: &str, seq: &str) -> String {
    let first17 = format!("371323{}{}", birth.replace('-', ""), seq);
    let c = sync_protocol::validate::id_check_char(&first17).unwrap();
    format!("{first17}{c}")
}

pub fn resident(name: &str, birth: &str, seq: &str) -> sync_protocol::model::Resident {
    sync_protocol::model::Resident {
        id: Uuid::now_v7(),
        name: name.into(),
        sex: if seq.as_bytes()[2] % 2 == 1 { "male".into() } else { "female".into() },
        birth_date: birth.into(),
        id_number: Some(id_number(birth, seq)),
        phone: Some("13812345678".into()),
        ethnicity: Some("汉族".into()),
        categories: vec!["registered".into()],
        relation: Some("head".into()),
        house_id: None,
        notes: None,
        archived_reason: None,
        archived_on: None,
    }
}

pub fn house(door: &str) -> sync_protocol::model::House {
    sync_protocol::model::House {
        id: Uuid::now_v7(),
        township: "高庄镇".into(),
        village: "东坡村".into(),
        street: Some("村内".into()),
        building: None,
        unit: None,
        floor: None,
        door: door.into(),
        structure: Some("brick_concrete".into()),
        area: Some(120.0),
        usage: Some("residential".into()),
        owner: Some("张三".into()),
        rented: Some(false),
        hazards: None,
        lat: Some(35.79),
        lng: Some(118.63),
        archived_reason: None,
        archived_on: None,
    }
}

/// A neighbours' dispute as a worker reports it, with these parties, at a place.
pub fn neighbours_dispute(
    parties: Vec<field_core::NewParty>,
    place: &str,
    description: &str,
) -> field_core::NewDispute {
    field_core::NewDispute {
        class: "coordination".into(),
        category: "neighbour".into(),
        parties,
        place: place.into(),
        description: description.into(),
        discovered_at: None,
        photos: vec![],
        note: None,
    }
}

/// A party to a dispute who is not on the grid's roll.
pub fn party(name: &str) -> field_core::NewParty {
    field_core::NewParty { resident_id: None, name: name.into() }
}

/// PUTs one chunk of a photo upload (`/v1/blobs/{hash}` with its grid, total and offset
/// headers) as the device with `token`; the status and the answer's bytes.
pub async fn put_blob_chunk(
    server: &TestServer,
    token: &str,
    hash: &str,
    grid: Uuid,
    total: usize,
    offset: usize,
    bytes: Vec<u8>,
) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/blobs/{hash}", server.url()))
        .bearer_auth(token)
        .header(sync_protocol::api::BLOB_GRID_HEADER, grid.to_string())
        .header(sync_protocol::api::BLOB_TOTAL_HEADER, total.to_string())
        .header(sync_protocol::api::BLOB_OFFSET_HEADER, offset.to_string())
        .body(bytes)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

pub fn fields(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap()
}

/// The path of one of this workspace's binaries (`county-server`, `gk-device`), for tests that
/// run the real program as a child process (to kill it with SIGKILL, say). A test cannot use
/// `CARGO_BIN_EXE_*` for another package's binary, so under cargo this asks cargo to build it
/// into the target directory and profile the running test was built in (whole workspace
/// and all targets selected, as `scripts/test` builds, so it shares the test build's artifacts and honours a
/// custom `CARGO_TARGET_DIR`); outside cargo it takes the binary found there. Each binary is
/// built at most once per test process.
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test>-<hash>
    let profile_dir = exe.parent().and_then(std::path::Path::parent).expect("<target>/<profile>").to_path_buf();
    let target_dir = profile_dir.parent().expect("<target>").to_path_buf();
    let bin = profile_dir.join(name);
    if let Ok(cargo) = std::env::var("CARGO") {
        // The default profile is named only when it is not the default: `--profile dev` would
        // build test targets under `dev` rather than `test`, and compile them all again.
        let profile: Vec<String> = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => Vec::new(),
            Some(other) => vec!["--profile".into(), other.to_string()],
        };
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
        // All targets, as the test build has them: dev-dependencies' features then unify the same
        // way, so the binary reuses the test build's artifacts instead of compiling them again.
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--workspace", "--all-targets", "--locked"])
            .args(&profile)
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", &target_dir);
        // Cargo runs this test with the test's own package variables set (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR, OUT_DIR …). Some build scripts (ring's) rebuild when those change,
        // so the nested build would compile half the workspace again, and the next build from a
        // shell once more: it gets the environment a shell has.
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            let per_package = ["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_MANIFEST_", "CARGO_CFG_", "CARGO_FEATURE_"]
                .iter()
                .any(|p| n.starts_with(p))
                || ["CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                    .contains(&n.as_ref());
            if per_package {
                build.env_remove(&name);
            }
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "cargo build --bin {name} failed");
    }
    assert!(bin.exists(), "{} is missing: build it with `cargo build --workspace --bin {name}`", bin.display());
    built.push((name.to_string(), bin.clone()));
    bin
}

/// What a test server stores (counts, and the residents documents of grids A and B), to show
/// that a refused request changed none of it.
pub async fn fingerprint(server: &TestServer) -> (county_server::storage::StorageStats, Vec<(String, Vec<u8>)>) {
    use sync_protocol::doc::DocKey;
    use sync_protocol::schema::Collection;
    let s = server.storage();
    let o = &server.org;
    let keys = [
        DocKey::new(o.grid_a, Collection::Residents),
        DocKey::new(o.grid_a, Collection::Disputes),
        DocKey::new(o.grid_b, Collection::Residents),
    ];
    let docs = s.load_docs(&keys).await.unwrap().into_iter().map(|d| (d.key.to_string(), d.bytes)).collect();
    (s.stats().await.unwrap(), docs)
}

/// Posts a sync body as bytes (whatever they hold); the status and the answer's bytes.
pub async fn post_sync(server: &TestServer, token: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// The code of a JSON error body, which must also carry a message.
pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not a JSON error: {}", String::from_utf8_lossy(body)));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "an error without a message: {v}");
    v["code"].as_str().unwrap().to_string()
}

/// Imports a typical grid of the demo county (814 residents, 301 houses, a year of visits) into
/// grid A, as grid A's worker; returns what was imported.
pub async fn typical_grid_a(server: &TestServer) -> demo_county::GridData {
    let now = chrono::Utc::now().timestamp_millis();
    let spec = demo_county::GridSpec::typical("高庄镇", "东坡村", server.org.worker_a, now, 42);
    let data = demo_county::generate_grid(&spec);
    import_into_grid_a(server, &data, now).await;
    data
}

/// Imports generated records into grid A, as grid A's worker (a device of its own).
pub async fn import_into_grid_a(server: &TestServer, data: &demo_county::GridData, now: i64) {
    let author = sync_protocol::org::Author {
        account: server.org.worker_a,
        device: Uuid::now_v7(),
        role: Role::GridWorker,
        node: None,
    };
    let records = county_server::service::import::GridRecords::from(data.clone());
    county_server::service::import::import_grid(server.storage().as_ref(), server.org.grid_a, &author, &records, now)
        .await
        .unwrap();
}

/// The bytes of a grid's snapshot as the server stores it, of the collections `role` receives:
/// the payload of a first download.
pub async fn snapshot_bytes(server: &TestServer, grid: Uuid, role: Role) -> u64 {
    let receives: Vec<_> = sync_protocol::schema::Collection::ALL.into_iter().filter(|c| role.receives(*c)).collect();
    match server.storage().catch_up(grid, &receives, 0, Uuid::nil(), usize::MAX).await.unwrap() {
        county_server::storage::CatchUp::Snapshot { docs, .. } => docs.iter().map(|d| d.bytes.len() as u64).sum(),
        other => panic!("not a snapshot: {other:?}"),
    }
}

/// Enrols a device for `account` over HTTP, as an app does: its token and id.
pub async fn enrol_over_http(server: &TestServer, account: Uuid) -> (String, Uuid) {
    let code = server.code_for(account).await;
    let resp: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/enrol", server.url()))
        .json(&serde_json::json!({"code": code, "device_name": "综治中心工作站"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (resp["token"].as_str().unwrap().into(), resp["device_id"].as_str().unwrap().parse().unwrap())
}

/// A device token for an account, as enrolment gives it (staff call the API with it).
pub async fn staff_token(server: &TestServer, account: Uuid) -> String {
    enrol_over_http(server, account).await.0
}

/// The staff's live stream (`GET /v1/events`) as a client reads it.
pub struct EventStream {
    resp: reqwest::Response,
    text: String,
}

impl EventStream {
    pub async fn open(server: &TestServer, token: &str) -> EventStream {
        Self::open_at(&server.url(), token).await
    }

    /// The stream of the server at `url` (another server on the same database, say).
    pub async fn open_at(url: &str, token: &str) -> EventStream {
        let resp = reqwest::Client::new().get(format!("{url}/v1/events")).bearer_auth(token).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        EventStream { resp, text: String::new() }
    }

    /// The data of the next event named `kind` (others are skipped), within `secs` seconds.
    pub async fn next(&mut self, kind: &str, secs: u64) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let name = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                if name == kind {
                    return data.and_then(|d| serde_json::from_str(d).ok());
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.ok()??;
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
