//! End to end: the real field app (Tauri, WebKitGTK) under Xvfb, driven by WebDriver through
//! tauri-driver, against a real county server with a small demo grid. Enrol, search a resident,
//! edit a phone number, record a five-clears visit, lose the network, report a dispute with a
//! photo offline, get the network back, watch the sync complete, and check on the server that
//! every record arrived intact. Screenshots of each main screen go to `<target>/screenshots/`
//! (never into the repository: `scripts/screenshots` runs this test to refresh `docs/screenshots/`
//! on purpose, through `GRIDKEEPER_SCREENSHOTS_DIR`).
//!
//! Needs `tauri-driver`, `WebKitWebDriver`, an X display and the app binary
//! (`cargo build -p gridkeeper-app`); `scripts/test` provides all of them. Run alone with
//! `xvfb-run cargo test -p gridkeeper-tests --test app_e2e -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use county_server::storage::{DisputeQuery, Scope};
use fantoccini::{Client, ClientBuilder, Locator};
use gridkeeper_tests::TestServer;
use gridkeeper_tests::proxy::{Mode, Proxy};

const WAIT: Duration = Duration::from_secs(30);

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // tauri-driver runs WebKitWebDriver, which runs the app: end its children, then it.
        let _ = Command::new("pkill").args(["-TERM", "-P", &self.0.id().to_string()]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn app_binary() -> PathBuf {
    // target/<profile>/deps/app_e2e-… → target/<profile>/gridkeeper-app
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let app = profile_dir.join("gridkeeper-app");
    assert!(app.exists(), "build the app first: cargo build -p gridkeeper-app ({} missing)", app.display());
    app
}

/// Where screenshots go: `GRIDKEEPER_SCREENSHOTS_DIR`, else `<target>/screenshots`.
fn screenshots_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GRIDKEEPER_SCREENSHOTS_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/app_e2e-… → target/screenshots
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).and_then(Path::parent).unwrap().join("screenshots")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

async fn wait_for_port(port: u16) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(start.elapsed() < WAIT, "tauri-driver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn css(testid: &str) -> String {
    format!("[data-testid=\"{testid}\"]")
}

async fn el(c: &Client, testid: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(&css(testid))).await {
        Ok(e) => e,
        Err(e) => {
            // Keep what the screen showed, for whoever reads the failure.
            if let Ok(png) = c.screenshot().await {
                let path = std::env::temp_dir().join("gridkeeper-e2e-failure.png");
                std::fs::write(&path, png).ok();
                eprintln!("screen at failure: {}", path.display());
            }
            if let Ok(src) = c.source().await {
                eprintln!("page text: {}", src.chars().take(1500).collect::<String>());
            }
            panic!("no element {testid}: {e}")
        }
    }
}

/// Brings an element to the middle of the screen: the fixed bottom bars would otherwise take the tap.
async fn centre(c: &Client, e: &fantoccini::elements::Element) {
    let arg = serde_json::to_value(e).unwrap();
    c.execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg]).await.ok();
}

/// Waits for toasts to fade: they cover buttons and screenshots.
async fn no_toast(c: &Client) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        let mut shown = false;
        for t in c.find_all(Locator::Css(".van-toast")).await.unwrap_or_default() {
            shown |= t.is_displayed().await.unwrap_or(false);
        }
        if !shown {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn tap(c: &Client, testid: &str) {
    no_toast(c).await;
    let e = el(c, testid).await;
    centre(c, &e).await;
    e.click().await.unwrap_or_else(|e| panic!("cannot tap {testid}: {e}"));
}

/// Types into an input as a person would, after emptying it (WebDriver's clear fires no input
/// event, so Vue would keep the old value).
async fn fill(c: &Client, testid: &str, text: &str) {
    let root = el(c, testid).await;
    let tag = root.tag_name().await.unwrap_or_default().to_lowercase();
    let input = if tag == "input" || tag == "textarea" {
        root
    } else {
        root.find(Locator::Css("input, textarea")).await.unwrap_or_else(|e| panic!("no input in {testid}: {e}"))
    };
    centre(c, &input).await;
    let arg = serde_json::to_value(&input).unwrap();
    c.execute("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", vec![arg])
        .await
        .ok();
    input.send_keys(text).await.unwrap_or_else(|e| panic!("cannot type into {testid}: {e}"));
}

async fn text_of(c: &Client, testid: &str) -> String {
    el(c, testid).await.text().await.unwrap_or_default()
}

/// Waits until a condition on the page holds, polling.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Goes back until the tab bar shows (detail pages hide it).
async fn back_to_tabs(c: &Client) {
    for _ in 0..4 {
        if c.find(Locator::Css(&css("tabbar"))).await.is_ok() {
            return;
        }
        c.back().await.ok();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    el(c, "tabbar").await;
}

async fn shot(c: &Client, name: &str) {
    // Let transitions, fonts and toasts settle before the picture.
    tokio::time::sleep(Duration::from_millis(400)).await;
    no_toast(c).await;
    let png = c.screenshot().await.unwrap();
    let dir = screenshots_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The app, through tauri-driver, with its files in `data_dir`.
async fn start_app(data_dir: &Path) -> (Client, Driver) {
    let driver = Driver(
        Command::new("tauri-driver")
            .env("GRIDKEEPER_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn,gridkeeper_app=debug,field_core=debug")
            .stdout(Stdio::null())
            .spawn()
            .expect("tauri-driver on PATH (cargo install tauri-driver --locked)"),
    );
    wait_for_port(4444).await;
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert("tauri:options".into(), serde_json::json!({ "application": app_binary() }));
    // Both rustls providers are linked into this binary: name one for the WebDriver client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect("http://127.0.0.1:4444")
        .await
        .expect("WebDriver session");
    (c, driver)
}

/// Waits for the action sheet to finish sliding up (a tap during the animation misses).
async fn settle_sheet(c: &Client) {
    let sheet = el(c, "action-sheet").await;
    until("the action sheet", || async { sheet.is_displayed().await.unwrap_or(false) }).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// Submits the open action sheet, and waits for it to close.
async fn submit_sheet(c: &Client) {
    settle_sheet(c).await;
    let submit = el(c, "action-submit").await;
    submit.click().await.unwrap_or_else(|e| panic!("cannot tap action-submit: {e}"));
    until("the action sheet to close", || async {
        match c.find(Locator::Css(&css("action-sheet"))).await {
            Ok(e) => !e.is_displayed().await.unwrap_or(false),
            Err(_) => true,
        }
    })
    .await;
}

/// Enrols with a code and sets a PIN, as a person does on first start.
async fn enrol(c: &Client, server: &str, code: &str, device_name: &str, screenshot: Option<&str>) {
    el(c, "enrol-screen").await;
    fill(c, "enrol-server", server).await;
    fill(c, "enrol-code", code).await;
    fill(c, "enrol-device-name", device_name).await;
    if let Some(name) = screenshot {
        shot(c, name).await;
    }
    tap(c, "enrol-submit").await;
    el(c, "pin-set-screen").await;
    fill(c, "pin-input", "246810").await;
    fill(c, "pin-confirm", "246810").await;
    tap(c, "pin-submit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an X display, WebKitWebDriver and tauri-driver: run by scripts/test"]
async fn a_worker_enrols_edits_visits_and_reports_offline_then_syncs() {
    // A county server with one small but realistic grid.
    let server = TestServer::start().await;
    let o = server.org.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let spec = demo_county::GridSpec {
        residents: 150,
        houses: 55,
        visit_months: 2,
        visits_per_month: 20,
        open_disputes: 3,
        ..demo_county::GridSpec::typical("高庄镇", "东坡村", o.worker_a, now, 7)
    };
    let data = demo_county::generate_grid(&spec);
    gridkeeper_tests::import_into_grid_a(&server, &data, now).await;
    let target = data
        .residents
        .iter()
        .find(|r| r.phone.is_some() && r.id_number.is_some() && r.house_id.is_some())
        .unwrap()
        .clone();
    let initials = sync_protocol::pinyin::initials(&target.name);
    let proxy = Proxy::start(server.addr()).await;
    let code = server.code_for(o.worker_a).await;

    let data_dir = tempfile::tempdir().unwrap();
    let (c, driver) = start_app(data_dir.path()).await;

    // Enrol and set a PIN.
    enrol(&c, &proxy.url(), &code, "张红梅的手持终端", Some("01-enrol")).await;

    // The workbench fills in after the first sync.
    el(&c, "workbench-screen").await;
    until("the first sync", || async { text_of(&c, "stat-residents").await.contains("150") }).await;
    shot(&c, "02-workbench").await;

    // Search a resident by pinyin initials, open them, change the phone number.
    tap(&c, "tab-residents").await;
    el(&c, "resident-item").await;
    shot(&c, "03-residents").await;
    fill(&c, "resident-search", &initials).await;
    until("search results", || async {
        match c.find_all(Locator::Css(&css("resident-item"))).await {
            Ok(items) => {
                let mut found = false;
                for i in &items {
                    found |= i.text().await.unwrap_or_default().contains(&target.name);
                }
                found && items.len() < 150
            }
            Err(_) => false,
        }
    })
    .await;
    for item in c.find_all(Locator::Css(&css("resident-item"))).await.unwrap() {
        if item.text().await.unwrap_or_default().contains(&target.name) {
            item.click().await.unwrap();
            break;
        }
    }
    el(&c, "resident-screen").await;
    shot(&c, "04-resident").await;
    tap(&c, "resident-edit").await;
    el(&c, "resident-edit-screen").await;
    fill(&c, "field-phone", "13911112222").await;
    shot(&c, "05-resident-edit").await;
    tap(&c, "save").await;
    el(&c, "resident-screen").await;
    until("the new phone on the detail page", || async { text_of(&c, "detail-phone").await.contains("13911112222") })
        .await;

    // A five-clears visit to the resident's house.
    back_to_tabs(&c).await;
    tap(&c, "tab-houses").await;
    el(&c, "house-item").await;
    tap(&c, "house-item").await;
    el(&c, "house-screen").await;
    shot(&c, "06-house").await;
    tap(&c, "visit-start").await;
    el(&c, "visit-screen").await;
    tap(&c, "clear-hazards-attention").await;
    fill(&c, "clear-hazards-note", "楼道堆放杂物，已提醒清理").await;
    fill(&c, "visit-needs", "希望增设路灯").await;
    shot(&c, "07-visit").await;
    tap(&c, "visit-submit").await;
    el(&c, "house-screen").await;

    // The network goes; a dispute is reported on the spot, with a photo.
    proxy.set(Mode::Down);
    back_to_tabs(&c).await;
    tap(&c, "tab-workbench").await;
    tap(&c, "report-start").await;
    el(&c, "report-screen").await;
    if c.find(Locator::Css(&css("dispute-category-neighbour"))).await.is_ok() {
        tap(&c, "dispute-category-neighbour").await;
    }
    fill(&c, "dispute-place", "东坡村12号门前").await;
    fill(&c, "dispute-description", "排水沟堵塞，两户因积水发生口角").await;
    fill(&c, "dispute-party-name", "张三").await;
    if c.find(Locator::Css(&css("dispute-party-add"))).await.is_ok() {
        tap(&c, "dispute-party-add").await;
    }
    let photo = repo_root().join("src-tauri/icons/icon.png");
    let file_input = el(&c, "dispute-photo").await;
    let file_input = if file_input.attr("type").await.ok().flatten().as_deref() == Some("file") {
        file_input
    } else {
        file_input.find(Locator::Css("input[type=file]")).await.expect("a file input for photos")
    };
    file_input.send_keys(photo.to_str().unwrap()).await.expect("attach a photo");
    el(&c, "dispute-photo-item").await;
    shot(&c, "08-report").await;
    tap(&c, "dispute-submit").await;
    el(&c, "report-done").await;
    shot(&c, "09-report-done").await;

    // The sync screen shows what waits and why.
    back_to_tabs(&c).await;
    tap(&c, "tab-me").await;
    tap(&c, "me-sync").await;
    el(&c, "sync-screen").await;
    tap(&c, "sync-now").await;
    until("a failed sync while offline", || async {
        c.find(Locator::Css(&css("sync-error"))).await.is_ok()
            && !text_of(&c, "sync-pending").await.trim_start().starts_with('0')
    })
    .await;
    shot(&c, "10-sync-offline").await;

    // The network comes back: the sync completes.
    proxy.set(Mode::Up);
    tap(&c, "sync-now").await;
    until("the sync to complete", || async { text_of(&c, "sync-pending").await.trim_start().starts_with('0') }).await;
    shot(&c, "11-sync-done").await;

    // On the server, through its own storage: every record arrived intact.
    let (_, r) = server.storage().resident(target.id).await.unwrap().unwrap();
    assert_eq!(r.phone.as_deref(), Some("13911112222"));
    assert_eq!(r.id_number, target.id_number, "other fields untouched");
    assert_eq!(r.name, target.name);
    let disputes = server
        .storage()
        .disputes(&Scope::Grid(o.grid_a), &DisputeQuery { open_only: true, ..Default::default() })
        .await
        .unwrap();
    let reported = disputes
        .iter()
        .map(|(_, d)| d)
        .find(|d| d.description == "排水沟堵塞，两户因积水发生口角")
        .expect("the offline report arrived");
    assert_eq!(reported.place, "东坡村12号门前");
    assert_eq!(reported.reported_by, o.worker_a);
    assert!(reported.discovered_at <= reported.reported_at);
    assert_eq!(reported.photos.len(), 1, "the photo's hash travels with the report");
    let blob = server.storage().blob(o.grid_a, &reported.photos[0]).await.unwrap().expect("the photo was uploaded");
    assert_eq!(blob, std::fs::read(&photo).unwrap(), "the photo arrived byte for byte");
    let stats = server.storage().stats().await.unwrap();
    assert_eq!(stats.visits as usize, data.visits.len() + 1, "the visit arrived");

    c.close().await.ok();
    drop(driver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an X display, WebKitWebDriver and tauri-driver: run by scripts/test"]
async fn township_staff_take_a_dispute_from_their_waiting_list_and_assign_it() {
    use sync_protocol::api::NewAction;
    use sync_protocol::model::DisputeStatus;
    use sync_protocol::org::{Level, Role};
    // A dispute the grid passed to the village, and the village on to the township, from their
    // handhelds.
    let server = TestServer::start().await;
    let o = server.org.clone();
    let village_staff =
        gridkeeper_tests::put_account(server.storage().as_ref(), "东坡村综治专干", Role::VillageStaff, o.village).await;
    let worker = gridkeeper_tests::TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let village =
        gridkeeper_tests::TestDevice::enrol(&server.url(), &server.code_for(village_staff).await, "village").await;
    let parties = vec![gridkeeper_tests::party("孙玉兰"), gridkeeper_tests::party("李老汉")];
    let id = worker
        .report_dispute(&gridkeeper_tests::neighbours_dispute(
            parties,
            "东坡村12号门前",
            "排水沟堵塞，两户因积水发生口角",
        ))
        .unwrap();
    worker.add_dispute_action(id, &NewAction::new("escalate").note("需村调委会协调")).unwrap();
    worker.sync().await.unwrap();
    village.sync().await.unwrap();
    village.add_dispute_action(id, &NewAction::new("accept")).unwrap();
    village.add_dispute_action(id, &NewAction::new("escalate").note("涉及两户宅基地排水，需镇里协调")).unwrap();
    village.sync().await.unwrap();

    // The township centre's handheld: the dispute waits for it (待办).
    let data_dir = tempfile::tempdir().unwrap();
    let (c, driver) = start_app(data_dir.path()).await;
    enrol(&c, &server.url(), &server.code_for(o.township_staff).await, "高庄镇综治中心", None).await;
    el(&c, "workbench-screen").await;
    until("no residents tab for staff", || async { c.find(Locator::Css(&css("tab-residents"))).await.is_err() }).await;
    until("the dispute in 待办", || async {
        tap(&c, "tab-me").await;
        tap(&c, "tab-disputes").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.find(Locator::Css(&css("dispute-item"))).await.is_ok()
    })
    .await;
    assert!(text_of(&c, "dispute-tab-waiting").await.contains('1'));
    shot(&c, "12-staff-waiting").await;
    tap(&c, "dispute-item").await;
    el(&c, "dispute-screen").await;
    // Exactly what the rule allows the holding level before it accepts.
    assert!(c.find(Locator::Css(&css("action-assign"))).await.is_err(), "assign only after accepting");
    tap(&c, "action-accept").await;
    submit_sheet(&c).await;
    until("the accept to take", || async { c.find(Locator::Css(&css("action-assign"))).await.is_ok() }).await;
    tap(&c, "action-assign").await;
    settle_sheet(&c).await;
    tap(&c, "assign-level-community").await;
    // The places under the township at that level, fetched from the server: its village.
    let village_chip = format!("assign-place-{}", o.village);
    until("the township's places", || async { c.find(Locator::Css(&css(&village_chip))).await.is_ok() }).await;
    tap(&c, &village_chip).await;
    tap(&c, "action-due-3").await;
    fill(&c, "action-note", "请村调委会牵头疏通排水沟，三日内反馈").await;
    shot(&c, "13-staff-assign").await;
    submit_sheet(&c).await;
    until("the assignment on the page", || async { c.find(Locator::Css(&css("dispute-assignment"))).await.is_ok() })
        .await;
    shot(&c, "14-staff-assigned").await;

    // Synced: the server holds the township's two actions, and the village's handheld sees its
    // assignment with its due time.
    back_to_tabs(&c).await;
    tap(&c, "tab-me").await;
    tap(&c, "me-sync").await;
    tap(&c, "sync-now").await;
    until("the sync to complete", || async { text_of(&c, "sync-pending").await.trim_start().starts_with('0') }).await;
    village.sync().await.unwrap();
    let d = village.dispute(id).unwrap();
    let st = d.state(&Default::default());
    assert_eq!((st.status, st.level), (DisputeStatus::Assigned, Level::Township));
    assert_eq!(st.assignment.as_ref().map(|a| (a.to_level, a.to_node)), Some((Level::Community, Some(o.village))));
    assert!(st.deadline.is_some_and(|due| due > field_core::now_ms() + 2 * 86_400_000));
    let by_township: Vec<&str> =
        d.actions.iter().filter(|a| a.actor == o.township_staff).map(|a| a.kind.as_str()).collect();
    assert_eq!(by_township, ["accept", "assign"]);
    assert!(village.dispute_views(true).unwrap().iter().any(|v| v.dispute.id == id && v.waiting));

    c.close().await.ok();
    drop(driver);
}
