//! (Long on purpose: the matrix is complete only as a whole — every route of the router, every
//! role, every refusal — and a route it does not cover fails the test.)
//!
//! The access matrix: every role calls every endpoint on a scope that is not its own (another
//! grid, another township, a record or photo of a foreign grid, the admin endpoints), and every
//! endpoint is called with no token and with a revoked one; each call must be refused with the
//! status and structured code the API defines, and nothing stored may change. One allowed call
//! per role shows the refusals come from scope, not from a broken setup.
//!
//! The routes are read from the router in `county-server/src/api.rs`: a route the matrix does
//! not cover fails the test.

use std::collections::BTreeSet;

use county_server::server::{Running, spawn};
use county_server::storage::{Account, Node, Storage};
use gridkeeper_tests::{Org, TestDevice, house, resident, seed_org};
use reqwest::Method;
use serde_json::{Value, json};
use sync_protocol::doc::{self, DocKey, Edit};
use sync_protocol::model::Record;
use sync_protocol::org::{Author, Level, NodeKind, Role};
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use uuid::Uuid;

/// Every route of the router as (method, pattern), read from its source.
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../county-server/src/api/mod.rs");
    let start = src.find("pub fn router(").expect("the router function");
    let end = start + src[start..].find(".with_state(").expect("the end of the router");
    let mut routes = BTreeSet::new();
    for chunk in src[start..end].split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("a route path").to_string();
        for m in ["get", "post", "put", "delete", "patch"] {
            let needle = format!("{m}(");
            let found = chunk.match_indices(&needle).any(|(i, _)| {
                i == 0 || !chunk.as_bytes()[i - 1].is_ascii_alphanumeric() && chunk.as_bytes()[i - 1] != b'_'
            });
            if found {
                routes.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// The data of one grid, made by its worker and synced.
struct GridData {
    grid: Uuid,
    resident: Uuid,
    house: Uuid,
    dispute: Uuid,
    photo: String,
}

async fn fill_grid(device: &TestDevice, grid: Uuid, tag: &str) -> GridData {
    let r = resident(&format!("居民{tag}"), "1970-01-01", "101");
    let h = house(&format!("{tag}号"));
    device.create_resident(&r).unwrap();
    device.create_house(&h).unwrap();
    let photo = device.add_photo(format!("photo of {tag}").as_bytes(), "image/jpeg").unwrap();
    let dispute = device
        .report_dispute(&field_core::NewDispute {
            class: "ordinary".into(),
            category: "neighbour".into(),
            parties: vec![field_core::NewParty { resident_id: Some(r.id), name: r.name.clone() }],
            place: "村口".into(),
            description: "宅基地边界争执".into(),
            discovered_at: None,
            photos: vec![photo.clone()],
            note: None,
        })
        .unwrap();
    let report = device.sync().await.unwrap();
    assert_eq!(report.refused, 0, "{report:?}");
    assert_eq!(report.photos_uploaded, 1);
    GridData { grid, resident: r.id, house: h.id, dispute, photo }
}

struct Matrix {
    _dir: tempfile::TempDir,
    running: Running,
    org: Org,
    /// A second township with one grid and its worker.
    grid_c: Uuid,
    worker_c: Uuid,
    a: GridData,
    b: GridData,
    c: GridData,
    /// Tokens by role name.
    tokens: Vec<(&'static str, Role, String, Uuid)>,
    revoked_token: String,
    /// A device no one but the admin may revoke.
    bystander_device: Uuid,
}

async fn put_node(s: &dyn Storage, kind: NodeKind, name: &str, parent: Uuid, township: Option<Uuid>) -> Uuid {
    let id = Uuid::now_v7();
    let village = if kind == NodeKind::Grid { Some(parent) } else { None };
    s.put_node(&Node { id, kind, name: name.into(), parent: Some(parent), township, village }).await.unwrap();
    id
}

async fn put_account(s: &dyn Storage, name: &str, role: Role, node: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    s.put_account(&Account { id, name: name.into(), role, node }).await.unwrap();
    id
}

impl Matrix {
    async fn start() -> Matrix {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            county_server::server::open_storage(dir.path().join("county.db").to_str().unwrap()).await.unwrap();
        let s = storage.as_ref();
        let org = seed_org(s).await;
        // 许家湖镇: another township, its village and grid, and their people.
        let township2 = put_node(s, NodeKind::Township, "许家湖镇", org.county, None).await;
        let village2 = put_node(s, NodeKind::Village, "西岭村", township2, Some(township2)).await;
        let grid_c = put_node(s, NodeKind::Grid, "西岭村第1网格", village2, Some(township2)).await;
        let worker_c = put_account(s, "孟凡", Role::GridWorker, grid_c).await;
        let village_staff = put_account(s, "村干部", Role::VillageStaff, org.village).await;
        let county_staff = put_account(s, "县中心值班员", Role::CountyStaff, org.county).await;
        let instructor = put_account(s, "镇干部孙", Role::GridInstructor, org.grid_a).await;
        let helper = put_account(s, "党员周", Role::PartyHelper, org.grid_a).await;
        // "公安+司法行政+N": a township's justice office and a county department.
        let justice = put_node(s, NodeKind::Department, "司法所", org.township, Some(org.township)).await;
        let petitions = put_node(s, NodeKind::Department, "县信访局", org.county, None).await;
        let justice_staff = put_account(s, "司法所调解员", Role::TownshipDepartmentStaff, justice).await;
        let petitions_staff = put_account(s, "信访局科员", Role::CountyDepartmentStaff, petitions).await;
        let running = spawn(storage, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = running.url();
        let code = |account: Uuid| {
            let storage = running.storage.clone();
            async move { county_server::service::enrolment::issue_code(storage.as_ref(), account).await.unwrap().code }
        };
        let dev_a = TestDevice::enrol(&url, &code(org.worker_a).await, "A").await;
        let dev_b = TestDevice::enrol(&url, &code(org.worker_b).await, "B").await;
        let dev_c = TestDevice::enrol(&url, &code(worker_c).await, "C").await;
        let a = fill_grid(&dev_a, org.grid_a, "甲").await;
        let b = fill_grid(&dev_b, org.grid_b, "乙").await;
        let c = fill_grid(&dev_c, grid_c, "丙").await;
        let mut tokens = Vec::new();
        for (name, role, account) in [
            ("grid worker A", Role::GridWorker, org.worker_a),
            ("grid assistant A", Role::GridAssistant, org.assistant_a),
            ("grid leader A", Role::GridLeader, org.leader_a),
            ("grid instructor A", Role::GridInstructor, instructor),
            ("party helper A", Role::PartyHelper, helper),
            ("grid worker B", Role::GridWorker, org.worker_b),
            ("village staff", Role::VillageStaff, village_staff),
            ("township staff", Role::TownshipStaff, org.township_staff),
            ("township department", Role::TownshipDepartmentStaff, justice_staff),
            ("county department", Role::CountyDepartmentStaff, petitions_staff),
            ("county staff", Role::CountyStaff, county_staff),
            ("county admin", Role::CountyAdmin, org.admin),
        ] {
            let d = TestDevice::enrol(&url, &code(account).await, name).await;
            let id = d.identity().unwrap();
            tokens.push((name, role, id.token, id.device_id));
        }
        let lost = TestDevice::enrol(&url, &code(org.worker_a).await, "lost").await;
        let lost = lost.identity().unwrap();
        assert!(running.storage.revoke_device(lost.device_id, chrono::Utc::now().timestamp_millis()).await.unwrap());
        let bystander_device = dev_c.identity().unwrap().device_id;
        Matrix {
            _dir: dir,
            running,
            org,
            grid_c,
            worker_c,
            a,
            b,
            c,
            tokens,
            revoked_token: lost.token,
            bystander_device,
        }
    }
}

/// One HTTP call.
#[derive(Clone)]
struct Call {
    method: Method,
    /// The route pattern as the router names it.
    route: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    json: Option<Value>,
}

impl Call {
    fn new(method: Method, route: &'static str, path: impl Into<String>) -> Call {
        Call { method, route, path: path.into(), headers: Vec::new(), body: None, json: None }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }
    fn body(mut self, b: Vec<u8>) -> Call {
        self.body = Some(b);
        self
    }
    fn json(mut self, v: Value) -> Call {
        self.json = Some(v);
        self
    }
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The answer: status, error code (if JSON with a code), raw body.
async fn send(url: &str, call: &Call, token: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut req = reqwest::Client::new().request(call.method.clone(), format!("{url}{}", call.path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in &call.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &call.body {
        req = req.body(b.clone());
    }
    if let Some(j) = &call.json {
        req = req.json(j);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap().to_vec();
    let code = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
        let has_message = v["message"].as_str().is_some_and(|m| !m.is_empty());
        v["code"].as_str().filter(|_| has_message).map(str::to_string)
    });
    (status, code, bytes)
}

fn sync_body(positions: Vec<GridPosition>, changes: Vec<OutChange>) -> Vec<u8> {
    SyncRequest { version: PROTOCOL_VERSION, positions, changes, budget: 0, settings: 0 }.encode()
}

/// Calls on `foreign` (a grid outside the caller's scope) and its records, with the answer each
/// must get. `own_grid` lets a photo upload name a real grid of the caller's where needed.
fn foreign_calls(f: &GridData) -> Vec<(Call, u16, &'static str)> {
    let g = f.grid;
    let photo = "0".repeat(64);
    vec![
        (
            Call::new(Method::POST, "/v1/sync", "/v1/sync")
                .header("content-type", "application/x-gridkeeper-sync")
                .body(sync_body(vec![GridPosition { grid: g, seq: 0 }], vec![])),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/docs/{*key}", format!("/v1/docs/{g}/disputes")), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/residents", format!("/v1/residents?grid={g}")), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/residents/{id}", format!("/v1/residents/{}", f.resident)), 404, "not_found"),
        (
            Call::new(Method::POST, "/v1/residents/{id}/reveal", format!("/v1/residents/{}/reveal", f.resident))
                .json(json!({"field": "id_number"})),
            404,
            "not_found",
        ),
        (Call::new(Method::GET, "/v1/houses", format!("/v1/houses?grid={g}")), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/disputes", format!("/v1/disputes?grid={g}")), 403, "forbidden"),
        // A chart drilled down into another's place.
        (Call::new(Method::GET, "/v1/overview", format!("/v1/overview?node={g}")), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/map", format!("/v1/map?node={g}&outlines=false")), 403, "forbidden"),
        (
            Call::new(Method::GET, "/v1/figures/disputes", format!("/v1/figures/disputes?node={g}&by=month&months=12")),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/conflicts", format!("/v1/conflicts?grid={g}")), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/disputes/{id}", format!("/v1/disputes/{}", f.dispute)), 404, "not_found"),
        (
            Call::new(Method::POST, "/v1/disputes/{id}/actions", format!("/v1/disputes/{}/actions", f.dispute))
                .json(json!({"kind": "supervise", "note": "越权督办", "due_at": 4_000_000_000_000i64})),
            404,
            "not_found",
        ),
        (
            Call::new(Method::GET, "/v1/history/{collection}/{id}", format!("/v1/history/residents/{}", f.resident)),
            404,
            "not_found",
        ),
        (
            Call::new(Method::GET, "/v1/history/{collection}/{id}", format!("/v1/history/houses/{}", f.house)),
            404,
            "not_found",
        ),
        (
            Call::new(Method::GET, "/v1/history/{collection}/{id}", format!("/v1/history/disputes/{}", f.dispute)),
            404,
            "not_found",
        ),
        (
            Call::new(Method::PUT, "/v1/blobs/{hash}", format!("/v1/blobs/{photo}"))
                .header("Gridkeeper-Grid", g.to_string())
                .header("Gridkeeper-Total", "4")
                .header("Gridkeeper-Offset", "0")
                .body(b"fake".to_vec()),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/blobs/{hash}", format!("/v1/blobs/{}", f.photo)), 404, "not_found"),
        (Call::new(Method::GET, "/v1/blobs/{hash}/status", format!("/v1/blobs/{}/status", f.photo)), 404, "not_found"),
        (
            Call::new(Method::GET, "/v1/admin/grids/{grid}/roster", format!("/v1/admin/grids/{g}/roster?format=csv")),
            403,
            "forbidden",
        ),
    ]
}

/// May export a roster (masked or in full), as `roster::Reveal::for_role` says.
fn exports_rosters(role: Role) -> bool {
    matches!(role, Role::TownshipStaff | Role::CountyStaff | Role::CountyAdmin)
}

/// The grid whose records a role works on in these tests.
/// Whether a call reads residents or houses (lists, records, their history), which a
/// department's staff may not.
fn reads_records(call: &Call) -> bool {
    matches!(
        call.route,
        "/v1/residents" | "/v1/residents/{id}" | "/v1/residents/{id}/reveal" | "/v1/houses" | "/v1/conflicts"
    ) || call.route == "/v1/history/{collection}/{id}" && !call.path.contains("/disputes/")
}

fn own_grid<'m>(m: &'m Matrix, role: Role, who: &str) -> &'m GridData {
    match (role, who) {
        (Role::CountyAdmin | Role::CountyStaff | Role::CountyDepartmentStaff, _) => &m.c,
        (_, "grid worker B") => &m.b,
        _ => &m.a,
    }
}

/// The admin endpoints, for anyone who is not a county administrator.
fn admin_calls(m: &Matrix) -> Vec<(Call, u16, &'static str)> {
    vec![
        (
            Call::new(Method::POST, "/v1/admin/accounts", "/v1/admin/accounts")
                .json(json!({"name": "冒名", "role": "county_admin", "node": m.org.county})),
            403,
            "forbidden",
        ),
        (
            Call::new(Method::POST, "/v1/admin/enrolment-codes", "/v1/admin/enrolment-codes")
                .json(json!({"account": m.worker_c})),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/admin/devices", "/v1/admin/devices"), 403, "forbidden"),
        (
            Call::new(Method::POST, "/v1/admin/enrolment-codes/revoke", "/v1/admin/enrolment-codes/revoke")
                .json(json!({"code": "ABCD-EFGH-JKLM"})),
            403,
            "forbidden",
        ),
        (
            Call::new(
                Method::POST,
                "/v1/admin/grids/{grid}/roster",
                format!("/v1/admin/grids/{}/roster?format=csv", m.c.grid),
            )
            .header("content-type", "text/csv")
            .body("姓名,性别,出生日期\n冒名,男,1980-01-01\n".as_bytes().to_vec()),
            403,
            "forbidden",
        ),
        (
            Call::new(
                Method::POST,
                "/v1/admin/devices/{id}/revoke",
                format!("/v1/admin/devices/{}/revoke", m.bystander_device),
            ),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/admin/audit", "/v1/admin/audit"), 403, "forbidden"),
        (Call::new(Method::GET, "/v1/admin/audit.csv", "/v1/admin/audit.csv"), 403, "forbidden"),
        (
            Call::new(Method::POST, "/v1/admin/structure", "/v1/admin/structure?format=csv")
                .body(SETUP_CSV.as_bytes().to_vec()),
            403,
            "forbidden",
        ),
        (
            Call::new(Method::POST, "/v1/admin/enrolment-codes/bulk", "/v1/admin/enrolment-codes/bulk")
                .json(json!({"node": m.org.county})),
            403,
            "forbidden",
        ),
        (
            Call::new(Method::POST, "/v1/admin/enrolment-codes/revoke-bulk", "/v1/admin/enrolment-codes/revoke-bulk")
                .json(json!({"node": m.org.county})),
            403,
            "forbidden",
        ),
        (
            Call::new(
                Method::PUT,
                "/v1/admin/accounts/{id}/password",
                format!("/v1/admin/accounts/{}/password", m.org.township_staff),
            )
            .json(json!({"login": "takeover", "password": "Takeover#2026"})),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/admin/accounts", "/v1/admin/accounts"), 403, "forbidden"),
        (
            Call::new(
                Method::DELETE,
                "/v1/admin/accounts/{id}/sessions",
                format!("/v1/admin/accounts/{}/sessions", m.org.township_staff),
            ),
            403,
            "forbidden",
        ),
        (
            Call::new(
                Method::DELETE,
                "/v1/admin/accounts/{id}/second-factor",
                format!("/v1/admin/accounts/{}/second-factor", m.org.township_staff),
            ),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/admin/second-factor", "/v1/admin/second-factor"), 403, "forbidden"),
        (
            Call::new(Method::PUT, "/v1/admin/second-factor", "/v1/admin/second-factor").json(json!({"roles": []})),
            403,
            "forbidden",
        ),
        (Call::new(Method::GET, "/v1/admin/structure", "/v1/admin/structure"), 403, "forbidden"),
        (
            Call::new(Method::PUT, "/v1/admin/settings/time-limits", "/v1/admin/settings/time-limits").json(json!({
                "limits": [{"class": "emergency", "level": "county", "accept_minutes": 5, "settle_minutes": 60}]
            })),
            403,
            "forbidden",
        ),
    ]
}

/// A setup file adding a county-level person as an administrator would.
const SETUP_CSV: &str = "镇街,村社区,网格,姓名,角色\n高庄镇,东坡村,东坡村第1网格,新网格员,专职网格员\n";

/// Every authenticated call, with harmless own-scope arguments (for no token / revoked).
fn every_authenticated_call(m: &Matrix) -> Vec<Call> {
    let mut calls: Vec<Call> = foreign_calls(&m.a).into_iter().map(|(c, ..)| c).collect();
    calls.extend(admin_calls(m).into_iter().map(|(c, ..)| c));
    for (route, path) in [
        ("/v1/me", "/v1/me"),
        ("/v1/grids", "/v1/grids"),
        ("/v1/overview", "/v1/overview"),
        ("/v1/residents", "/v1/residents"),
        ("/v1/houses", "/v1/houses"),
        ("/v1/disputes", "/v1/disputes"),
        ("/v1/disputes/counts", "/v1/disputes/counts"),
        ("/v1/conflicts", "/v1/conflicts"),
        ("/v1/events", "/v1/events"),
        ("/v1/figures/disputes", "/v1/figures/disputes"),
        ("/v1/settings", "/v1/settings"),
        ("/v1/places", "/v1/places"),
        ("/v1/map", "/v1/map"),
    ] {
        calls.push(Call::new(Method::GET, route, path));
    }
    calls.push(
        Call::new(Method::POST, "/v1/sync", "/v1/sync")
            .header("content-type", "application/x-gridkeeper-sync")
            .body(sync_body(vec![], vec![])),
    );
    calls
}

/// A change to `grid`'s residents, made and signed by the caller's own device. It is built as a
/// grid worker's edit so that it is well-formed for every role; the server takes the role from
/// the token and must refuse the change for its grid before anything else.
fn foreign_change(device: Uuid, account: Uuid, grid: Uuid) -> OutChange {
    let stranger = resident("外人", "1990-01-01", "033");
    let key = DocKey::new(grid, Collection::Residents);
    let change = doc::make_change(
        &automerge::Automerge::new(),
        doc::actor_for(device, 0),
        &Edit { doc: key, record: stranger.id, creating: true, fields: stranger.to_fields() },
        &Author { account, device, role: Role::GridWorker, node: None },
        chrono::Utc::now().timestamp_millis(),
    )
    .unwrap()
    .unwrap();
    OutChange { doc: key, bytes: change.raw_bytes().to_vec() }
}

/// What the matrix found wrong, and which routes it called.
#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    covered: BTreeSet<(String, String)>,
}

impl Tally {
    fn check(&mut self, who: &str, call: &Call, got: (u16, Option<String>, Vec<u8>), status: u16, code: &str) {
        self.covered.insert((call.method.to_string(), call.route.to_string()));
        if got.0 != status || got.1.as_deref() != Some(code) {
            self.failures.push(format!(
                "{who}: {} gave {} {:?} ({}), expected {status} {code}",
                call.describe(),
                got.0,
                got.1,
                String::from_utf8_lossy(&got.2).chars().take(120).collect::<String>()
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_is_refused_every_endpoint_outside_its_scope() {
    let m = Matrix::start().await;
    let url = m.running.url();
    let storage = m.running.storage.clone();
    let before = storage.stats().await.unwrap();
    let mut t = Tally::default();
    let mut refusals = 0;
    let roles: BTreeSet<&str> = m.tokens.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(roles, Role::ALL.iter().map(|r| r.as_str()).collect(), "every role is in the matrix");

    for (who, role, token, device) in &m.tokens {
        let account = storage
            .device_by_token(&county_server::service::auth::hash_secret(token))
            .await
            .unwrap()
            .unwrap()
            .account
            .id;
        // The foreign grid for each role: the other grid of the village for grid roles, a grid
        // of another township for village and township staff. A county admin has no foreign grid.
        let foreign = match (role, *who) {
            (Role::TownshipStaff | Role::VillageStaff | Role::TownshipDepartmentStaff, _) => Some(&m.c),
            (Role::CountyAdmin | Role::CountyStaff | Role::CountyDepartmentStaff, _) => None,
            (_, "grid worker B") => Some(&m.a),
            _ => Some(&m.b),
        };
        let mut calls: Vec<_> = foreign.map(foreign_calls).unwrap_or_default();
        if !role.reads_area_records() {
            // A department reads no one's residents or houses, in scope or not: refused alike.
            for (call, status, code) in &mut calls {
                if reads_records(call) {
                    (*status, *code) = (403, "forbidden");
                }
            }
        }
        if *role != Role::CountyAdmin {
            calls.extend(admin_calls(&m));
        }
        if !exports_rosters(*role) {
            // Not even the own grid's roster.
            let g = own_grid(&m, *role, who).grid;
            let path = format!("/v1/admin/grids/{g}/roster");
            calls.push((Call::new(Method::GET, "/v1/admin/grids/{grid}/roster", path), 403, "forbidden"));
        }
        for (call, status, code) in &calls {
            let got = send(&url, call, Some(token)).await;
            t.check(who, call, got, *status, code);
            refusals += 1;
        }
        if let Some(f) = foreign {
            // Writing into the foreign grid: the sync answers, refusing the change itself.
            let body = sync_body(vec![], vec![foreign_change(*device, account, f.grid)]);
            let call = Call::new(Method::POST, "/v1/sync", "/v1/sync").body(body);
            let (status, _, bytes) = send(&url, &call, Some(token)).await;
            let answer = SyncResponse::decode(&bytes).ok();
            let refused =
                answer.as_ref().map(|a| a.refused.iter().map(|r| r.code.as_str().to_string()).collect::<Vec<_>>());
            if status != 200 || refused != Some(vec!["out_of_scope".to_string()]) {
                t.failures.push(format!("{who}: a change to a foreign grid gave {status} {refused:?}"));
            }
            refusals += 1;

            // The lists without a filter hold nothing of the foreign grid.
            for (path, id) in [("/v1/residents", f.resident), ("/v1/houses", f.house), ("/v1/disputes", f.dispute)] {
                let (status, _, bytes) = send(&url, &Call::new(Method::GET, "", path), Some(token)).await;
                if !role.reads_area_records() && path != "/v1/disputes" {
                    if status != 403 {
                        t.failures.push(format!("{who}: {path} gave {status}, expected 403"));
                    }
                    continue;
                }
                let text = String::from_utf8_lossy(&bytes);
                if status != 200 || text.contains(&id.to_string()) {
                    t.failures.push(format!("{who}: {path} gave {status} or lists a foreign record"));
                }
            }
            let (_, _, bytes) = send(&url, &Call::new(Method::GET, "", "/v1/grids"), Some(token)).await;
            if String::from_utf8_lossy(&bytes).contains(&f.grid.to_string()) {
                t.failures.push(format!("{who}: /v1/grids lists a foreign grid"));
            }
        }
    }

    // No token, a malformed one, an unknown one, and a revoked device's: every endpoint.
    for call in every_authenticated_call(&m) {
        for (label, token) in [("no token", None), ("unknown token", Some("gk_not-a-real-token"))] {
            let got = send(&url, &call, token).await;
            t.check(label, &call, got, 401, "unauthorized");
            refusals += 1;
        }
        let got = send(&url, &call.clone().header("authorization", "Basic Zm9vOmJhcg=="), None).await;
        t.check("basic auth", &call, got, 401, "unauthorized");
        let got = send(&url, &call, Some(&m.revoked_token)).await;
        t.check("revoked device", &call, got, 401, "device_revoked");
        refusals += 2;
    }

    // Public routes: the health check, and enrolment (its refusal is a wrong code).
    let enrol =
        Call::new(Method::POST, "/v1/enrol", "/v1/enrol").json(json!({"code": "NONE-SUCH-CODE", "device_name": "x"}));
    let got = send(&url, &enrol, None).await;
    t.check("enrolment with a wrong code", &enrol, got, 403, "forbidden");
    // The console's log-in: a wrong password, and no session without its cookie.
    let log_in =
        Call::new(Method::POST, "/v1/session", "/v1/session").json(json!({"login": "admin", "password": "guess"}));
    let got = send(&url, &log_in, None).await;
    t.check("a console log-in with a wrong password", &log_in, got, 401, "unauthorized");
    for method in [Method::GET, Method::DELETE] {
        let call = Call::new(method, "/v1/session", "/v1/session");
        let got = send(&url, &call, None).await;
        t.check("the console session without its cookie", &call, got, 401, "unauthorized");
    }
    // A second factor is set up by a console session only: not without its cookie, nor with a
    // handheld's token (console_session.rs follows a set-up through).
    let (_, _, token, _) = &m.tokens[0];
    for method in [Method::POST, Method::PUT] {
        let call =
            Call::new(method, "/v1/session/second-factor", "/v1/session/second-factor").json(json!({"code": "123456"}));
        let got = send(&url, &call, None).await;
        t.check("a second factor without a session", &call, got, 401, "unauthorized");
        let got = send(&url, &call, Some(token.as_str())).await;
        t.check("a second factor with a handheld's token", &call, got, 401, "unauthorized");
    }
    let health = Call::new(Method::GET, "/health", "/health");
    let (status, ..) = send(&url, &health, None).await;
    assert_eq!(status, 200);
    t.covered.insert(("GET".into(), "/health".into()));
    // The console's files are public (the app asks for a log-in): the page with its security
    // headers, a screen's address answered with the page, an unknown asset refused.
    let page = |path: &str| reqwest::Client::new().get(format!("{url}{path}")).send();
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = bare.get(format!("{url}/console")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (308, "/console/"));
    for path in ["/console/", "/console/disputes/0190b2a4-0000-7000-8000-000000000000"] {
        let r = page(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}: the console is not built (cd console && npm ci && npm run build)");
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
        assert!(r.text().await.unwrap().contains(r#"<div id="app">"#), "{path}");
    }
    assert_eq!(page("/console/assets/none-such.js").await.unwrap().status(), 404);
    // A path that climbs out of the console's folder reads nothing else of the machine.
    // (A debug build reads the folder from disk: an absolute path must not replace it.)
    for path in [
        "/console/..%2f..%2fCargo.toml",
        "/console/%2e%2e/%2e%2e/Cargo.toml",
        "/console/..%5c..%5cCargo.toml",
        "/console/%2Fproc%2Fself%2Fexe",
        "/console/%2Fproc%2Fself%2Fenviron",
        "/console/%2Fetc%2Fpasswd",
    ] {
        let r = page(path).await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let leaked = text.contains("[workspace]") || text.contains("root:") || text.contains("PATH=");
        assert!(status == 404 && !leaked, "{path}: {status} {text:.80}");
    }
    for path in ["/console", "/console/", "/console/{*path}"] {
        t.covered.insert(("GET".into(), path.into()));
    }

    // Nothing stored changed, and the bystander device is still active.
    assert_eq!(format!("{:?}", storage.stats().await.unwrap()), format!("{before:?}"));
    let devices = storage.devices(None).await.unwrap();
    assert!(devices.iter().any(|d| d.id == m.bystander_device && d.revoked_at.is_none()));
    assert!(storage.accounts_at(m.org.county).await.unwrap().iter().all(|a| a.name != "冒名"));

    assert!(t.failures.is_empty(), "{} of {refusals} refusals wrong:\n{}", t.failures.len(), t.failures.join("\n"));
    let routes = router_routes();
    assert!(routes.len() >= 19, "the router source was not read: {routes:?}");
    let uncovered: Vec<_> = routes.difference(&t.covered).collect();
    assert!(uncovered.is_empty(), "routes the access matrix does not cover: {uncovered:?}");
    let unknown: Vec<_> = t.covered.difference(&routes).collect();
    assert!(unknown.is_empty(), "the matrix names routes the router does not have: {unknown:?}");
    println!("access matrix: {refusals} refusals over {} routes", routes.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_can_do_its_own_work() {
    // The other half of the matrix: the same calls inside each role's scope succeed, so the
    // refusals above come from scope checks and not from a broken setup.
    let m = Matrix::start().await;
    let url = m.running.url();
    let ok = |who: &str, call: &Call, got: &(u16, Option<String>, Vec<u8>)| {
        assert!(
            (200..300).contains(&got.0),
            "{who}: {} gave {} {}",
            call.describe(),
            got.0,
            String::from_utf8_lossy(&got.2)
        );
    };
    for (who, role, token, _) in &m.tokens {
        let own = own_grid(&m, *role, who);
        let mut calls: Vec<Call> = foreign_calls(own)
            .into_iter()
            .map(|(c, ..)| c)
            // A made-up photo upload and grid positions for staff are not own work.
            .filter(|c| c.route != "/v1/blobs/{hash}" || c.method == Method::GET)
            .filter(|c| c.route != "/v1/sync")
            .filter(|c| !c.route.ends_with("/roster") || exports_rosters(*role))
            // Document ranges are the device's copy of what its role receives: the county
            // administrator receives none (`Role::receives`).
            .filter(|c| c.route != "/v1/docs/{*key}" || *role != Role::CountyAdmin)
            // Acting on a dispute takes what the role's level may do (the closed loop's rule):
            // the grid's team works it on the spot, the centres above supervise it; the county
            // administrator handles none (below).
            .filter(|c| c.route != "/v1/disputes/{id}/actions")
            .filter(|c| role.reads_area_records() || !reads_records(c))
            .collect();
        let act = match role.level() {
            Level::Grid => json!({"kind": "intervene", "note": "到场了解情况"}),
            _ => json!({"kind": "supervise", "note": "限期化解", "due_at": 4_000_000_000_000i64}),
        };
        let path = format!("/v1/disputes/{}/actions", own.dispute);
        let act = Call::new(Method::POST, "/v1/disputes/{id}/actions", path).json(act);
        if *role == Role::CountyAdmin {
            let got = send(&url, &act, Some(token)).await;
            assert_eq!((got.0, got.1.as_deref()), (403, Some("forbidden")), "{who}");
        } else if !role.takes_action("supervise") {
            // A department reports back on what it is sent and supervises nothing
            // (closed_loop.rs shows its feedback).
            let got = send(&url, &act, Some(token)).await;
            assert_eq!((got.0, got.1.as_deref()), (422, Some("not_permitted")), "{who}");
        } else {
            calls.push(act);
        }
        calls.push(Call::new(Method::GET, "/v1/me", "/v1/me"));
        calls.push(Call::new(Method::GET, "/v1/overview", "/v1/overview"));
        calls.push(Call::new(Method::GET, "/v1/settings", "/v1/settings"));
        calls.push(Call::new(Method::GET, "/v1/places", "/v1/places"));
        calls.push(Call::new(Method::GET, "/v1/map", "/v1/map"));
        calls.push(Call::new(Method::GET, "/v1/figures/disputes", "/v1/figures/disputes?by=township"));
        calls.push(Call::new(Method::GET, "/v1/disputes/counts", "/v1/disputes/counts"));
        for call in &calls {
            let got = send(&url, call, Some(token)).await;
            ok(who, call, &got);
        }
        if !role.reads_area_records() {
            continue;
        }
        // The records of the own grid are really there.
        let (_, _, bytes) =
            send(&url, &Call::new(Method::GET, "", format!("/v1/residents?grid={}", own.grid)), Some(token)).await;
        let list: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(list.as_array().unwrap().iter().any(|r| r["id"] == json!(own.resident)), "{who}: {list}");
        if *role == Role::CountyAdmin {
            let call = Call::new(Method::POST, "/v1/admin/enrolment-codes", "/v1/admin/enrolment-codes")
                .json(json!({"account": m.worker_c}));
            ok(who, &call, &send(&url, &call, Some(token)).await);
            let call = Call::new(Method::GET, "/v1/admin/devices", "/v1/admin/devices");
            ok(who, &call, &send(&url, &call, Some(token)).await);
            for path in ["/v1/admin/audit", "/v1/admin/audit.csv"] {
                let call = Call::new(Method::GET, path, path);
                ok(who, &call, &send(&url, &call, Some(token)).await);
            }
            let (_, _, bytes) = send(
                &url,
                &Call::new(Method::POST, "/v1/admin/enrolment-codes", "/v1/admin/enrolment-codes")
                    .json(json!({"account": m.worker_c})),
                Some(token),
            )
            .await;
            let issued: Value = serde_json::from_slice(&bytes).unwrap();
            let call = Call::new(Method::POST, "/v1/admin/enrolment-codes/revoke", "/v1/admin/enrolment-codes/revoke")
                .json(json!({"code": issued["code"]}));
            ok(who, &call, &send(&url, &call, Some(token)).await);
            for call in admin_calls(&m).into_iter().map(|(c, ..)| c).filter(|c| {
                [
                    "/v1/admin/structure",
                    "/v1/admin/enrolment-codes/bulk",
                    "/v1/admin/enrolment-codes/revoke-bulk",
                    "/v1/admin/settings/time-limits",
                    "/v1/admin/accounts/{id}/password",
                    "/v1/admin/accounts",
                    "/v1/admin/accounts/{id}/sessions",
                    "/v1/admin/accounts/{id}/second-factor",
                    "/v1/admin/second-factor",
                ]
                .contains(&c.route)
            }) {
                ok(who, &call, &send(&url, &call, Some(token)).await);
            }
        }
    }
    // The township staff sees both grids of its township and none of the other township.
    let staff = &m.tokens.iter().find(|t| t.1 == Role::TownshipStaff).unwrap().2;
    let (_, _, bytes) = send(&url, &Call::new(Method::GET, "", "/v1/grids"), Some(staff)).await;
    let grids: Vec<Uuid> = serde_json::from_slice::<Vec<Value>>(&bytes)
        .unwrap()
        .iter()
        .map(|g| serde_json::from_value(g["id"].clone()).unwrap())
        .collect();
    assert!(grids.contains(&m.org.grid_a) && grids.contains(&m.org.grid_b), "{grids:?}");
    assert!(!grids.contains(&m.grid_c));
}
