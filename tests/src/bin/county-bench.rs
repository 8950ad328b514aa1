//! County scale and morning-load benchmark, on either backend.
//!
//! 1. Scale: builds (or reuses) a Yishui-shaped demo county of `--devices` grids through the
//!    real import path, and measures generation time, database size, server start time and
//!    the county and township overview queries.
//! 2. Morning: one device per grid, each holding its grid at the position it synced last night
//!    (a device in daily use: it sent an edit yesterday, unless `--fresh-devices`).
//!    Overnight the grid's assistant pushed `--overnight` edits. At the same moment every
//!    device syncs: it pushes `--edits` edits and pulls everything new. Reported: wall time,
//!    throughput, p50/p99/max latency, errors (HTTP failures or refused changes).
//! 3. Nothing new: devices sync with nothing to send or receive, `--idle-concurrency` at a
//!    time, for `--idle-secs`: syncs per second and latency.
//!
//! The devices are simulated at the wire level (each request is prepared before the clock
//! starts), so the figures are the server's: real HTTP on a port, real SQLite file or real
//! PostgreSQL, `--servers` stateless servers behind a round-robin balancer. Applying answers
//! on a handheld is measured by `sync-bench`.
//!
//! Run: `cargo run --release -p gridkeeper-tests --bin county-bench -- --devices 1358 [--postgres]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ROOT, ReadDoc};
use clap::Parser;
use county_server::server::{Running, open_storage, spawn};
use county_server::service::auth::{hash_secret, new_device_token};
use county_server::storage::{Device, Scope, Storage};
use sync_protocol::doc::{ChangeMeta, DocKey, actor_for};
use sync_protocol::org::Role;
use sync_protocol::schema::Collection;
use sync_protocol::wire::{GridPosition, OutChange, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Grids, with one device each (Yishui has 1,358).
    #[arg(long, default_value_t = 1358)]
    devices: usize,
    /// Database URL. An existing demo county there is reused (no generation). Default: a new
    /// SQLite file in a temporary directory, or with `--postgres` a new scratch database.
    #[arg(long)]
    db: Option<String>,
    /// Use a new scratch database on the test PostgreSQL server (`GRIDKEEPER_TEST_PG`).
    #[arg(long)]
    postgres: bool,
    /// Keep a scratch PostgreSQL database afterwards (it is dropped by default).
    #[arg(long)]
    keep: bool,
    /// County servers sharing the database; devices are spread over them round-robin.
    #[arg(long, default_value_t = 1)]
    servers: usize,
    /// A baseline for the per-grid counters (SQLite only): run on a copy of `--db` (made with
    /// `VACUUM INTO` in a temporary folder, deleted afterwards) whose counters' triggers are
    /// dropped, so the same county shows what they cost. The database named is not changed.
    #[arg(long)]
    without_counters: bool,
    /// Edits each device pushes in the morning.
    #[arg(long, default_value_t = 10)]
    edits: usize,
    /// Edits each grid's assistant pushed overnight (pulled in the morning).
    #[arg(long, default_value_t = 5)]
    overnight: usize,
    /// Devices that have never written before: their first change this morning also adds
    /// their actor to the grid's documents (by default each worker's device made one edit
    /// yesterday, as a device in daily use has).
    #[arg(long)]
    fresh_devices: bool,
    #[arg(long, default_value_t = 5.0)]
    idle_secs: f64,
    #[arg(long, default_value_t = 64)]
    idle_concurrency: usize,
    #[arg(long, default_value_t = 2023)]
    seed: u64,
    /// A `perf record --control fifo:…` control FIFO: profiling is enabled for the morning sync
    /// only (`perf record -D -1 --control fifo:ctl county-bench --perf-ctl ctl`).
    #[arg(long)]
    perf_ctl: Option<std::path::PathBuf>,
}

struct Sim {
    grid: Uuid,
    server: usize,
    token: String,
    assistant_token: String,
    overnight: Vec<u8>,
    /// The worker device's edit of yesterday, if any (sent before the assistant's).
    yesterday: Option<Vec<u8>>,
    /// This morning's edits, and the request carrying them from the device's position.
    morning_changes: Vec<Vec<u8>>,
    morning: Vec<u8>,
    position: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn register(storage: &dyn Storage, account: Uuid, name: &str) -> anyhow::Result<(Uuid, String)> {
    let now = chrono::Utc::now().timestamp_millis();
    let code_hash = hash_secret(&format!("bench-{}", Uuid::new_v4()));
    storage.put_enrolment_code(&code_hash, account, now + 60_000).await?;
    let token = new_device_token();
    let device = Device { id: Uuid::now_v7(), account, name: name.into(), created_at: now, revoked_at: None };
    storage
        .redeem_enrolment_code(&code_hash, now, &device, &hash_secret(&token))
        .await?
        .ok_or_else(|| anyhow::anyhow!("could not register a bench device"))?;
    Ok((device.id, token))
}

/// `n` edits of residents' phone numbers, one change each, as a device makes them.
fn edits(doc: &Automerge, records: &[String], account: Uuid, device: Uuid, salt: u64) -> Vec<Vec<u8>> {
    let mut fork = doc.fork().with_actor(actor_for(device, 0));
    let meta = ChangeMeta { account, device }.message();
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for (i, id) in records.iter().enumerate() {
        let mut tx = fork.transaction();
        let Some((_, obj)) = tx.get(ROOT, id.as_str()).ok().flatten() else { continue };
        // Salted with the clock too, so a rerun on the same database writes new values.
        let phone = format!("139{:08}", (salt * 31 + i as u64 + now as u64 / 1000) % 100_000_000);
        tx.put(&obj, "phone", phone).expect("put");
        let (hash, _) = tx.commit_with(CommitOptions::default().with_message(meta.clone()).with_time(now));
        let hash = hash.expect("a change");
        out.push(fork.get_change_by_hash(&hash).expect("change").raw_bytes().to_vec());
    }
    out
}

/// The county settings' version the devices hold: a device in daily use has the county's
/// current ones (read once the servers run).
static SETTINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn request(grid: Uuid, seq: u64, changes: Vec<Vec<u8>>) -> Vec<u8> {
    let doc = DocKey::new(grid, Collection::Residents);
    SyncRequest {
        version: PROTOCOL_VERSION,
        positions: vec![GridPosition { grid, seq }],
        changes: changes.into_iter().map(|bytes| OutChange { doc, bytes }).collect(),
        budget: 0,
        settings: SETTINGS.load(std::sync::atomic::Ordering::Relaxed),
    }
    .encode()
}

/// One sync over HTTP; `Err` for a transport or HTTP failure.
async fn post(http: &reqwest::Client, url: &str, token: &str, body: Vec<u8>) -> anyhow::Result<SyncResponse> {
    let r = http
        .post(format!("{url}/v1/sync"))
        .bearer_auth(token)
        .header("content-type", sync_protocol::wire::CONTENT_TYPE)
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let bytes = r.bytes().await?;
    anyhow::ensure!(status.is_success(), "HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    Ok(SyncResponse::decode(&bytes)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let (url, scratch) = match (&args.db, args.postgres) {
        (Some(u), _) => (u.clone(), false),
        (None, true) => (county_server::testing::scratch_postgres("bench").await?, true),
        (None, false) => (dir.path().join("county.db").to_string_lossy().into_owned(), false),
    };
    let backend = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    println!("# county-bench: {} devices, {backend}, {} server(s)", args.devices, args.servers);

    // 1. Scale.
    let url = if args.without_counters {
        anyhow::ensure!(!url.starts_with("postgres"), "--without-counters is for SQLite");
        let path = url.strip_prefix("sqlite://").unwrap_or(&url);
        let copy = dir.path().join("without-counters.db");
        // Migrated first, so the copy's triggers are the current ones (then dropped).
        drop(open_storage(&url).await?);
        rusqlite::Connection::open(path)?.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
        let c = rusqlite::Connection::open(&copy)?;
        let triggers: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%grid_counts%'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for t in &triggers {
            c.execute_batch(&format!("DROP TRIGGER {t}"))?;
        }
        println!("without counters: a copy with its {} counting triggers dropped", triggers.len());
        copy.to_string_lossy().into_owned()
    } else {
        url
    };
    let storage = open_storage(&url).await?;
    let summary = county_server::demo::ensure_demo(storage.clone(), args.devices, args.seed).await?;
    if summary.generated {
        println!("generated {} grids in {:.1} s", summary.grids, summary.took.as_secs_f64());
    }
    println!(
        "county: {} grids, {} residents, {} houses, {} visits, {} disputes",
        summary.grids, summary.residents, summary.houses, summary.visits, summary.disputes
    );
    let size = if backend == "SQLite" {
        let p = url.strip_prefix("sqlite://").unwrap_or(&url);
        [p.to_string(), format!("{p}-wal")].iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()
    } else {
        county_server::testing::postgres_database_size(&url).await?
    };
    println!("database size: {:.1} MB", size as f64 / 1e6);
    drop(storage);

    // The servers get a runtime of their own (two worker threads, as on this machine), so the
    // simulated devices waiting for answers are not starved by the servers' work.
    let server_rt = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?);
    let t = Instant::now();
    let mut servers: Vec<Running> = Vec::new();
    for _ in 0..args.servers {
        let (url, rt) = (url.clone(), server_rt.clone());
        // Started from a plain thread: `block_on` needs no `Send` future and may not run
        // inside another runtime.
        let start = std::thread::spawn(move || {
            rt.block_on(async {
                let storage = open_storage(&url).await?;
                spawn(storage, "127.0.0.1:0".parse()?).await
            })
        });
        servers.push(tokio::task::spawn_blocking(move || start.join()).await?.expect("server start thread")?);
    }
    let http = reqwest::Client::builder().pool_max_idle_per_host(4096).build()?;
    http.get(format!("{}/v1/me", servers[0].url())).send().await?;
    println!("server start (open database, bind, first answer): {}", ms(t.elapsed()));
    let storage = servers[0].storage.clone();
    SETTINGS.store(storage.settings().await?.version, std::sync::atomic::Ordering::Relaxed);
    let month = DocKey::month_start_ms(chrono::Utc::now().timestamp_millis());
    let all = storage.grids(&Scope::All).await?;
    let township = storage.node(all[0].id).await?.and_then(|n| n.township).expect("grids sit in townships");
    for (label, scope) in [("county", Scope::All), ("township", Scope::Township(township))] {
        let t = Instant::now();
        let o = storage.overview(&scope, month).await?;
        let cold = t.elapsed();
        let t = Instant::now();
        let runs = 5;
        for _ in 0..runs {
            storage.overview(&scope, month).await?;
        }
        println!(
            "{label} overview ({} grids, {} residents; counts by category, open disputes by level): first {}, then {} each",
            o.grids,
            o.residents,
            ms(cold),
            ms(t.elapsed() / runs)
        );
    }

    // The staff's dispute lists (closed loop), from the rows the rule derived at commit.
    {
        use county_server::storage::{DisputeList, DisputeQuery, Viewer};
        use sync_protocol::org::Level;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let cases = [
            ("county", Scope::All, Level::County, DisputeList::Waiting),
            ("county (waiting for the grids)", Scope::All, Level::Grid, DisputeList::Waiting),
            ("county (waiting for the villages)", Scope::All, Level::Community, DisputeList::Waiting),
            ("county", Scope::All, Level::County, DisputeList::Overdue),
            ("county", Scope::All, Level::County, DisputeList::UnacceptedEmergencies),
            ("county", Scope::All, Level::County, DisputeList::Supervised),
            ("township", Scope::Township(township), Level::Township, DisputeList::Waiting),
            ("township", Scope::Township(township), Level::Township, DisputeList::Overdue),
            ("township", Scope::Township(township), Level::Township, DisputeList::AssignedOut),
        ];
        for (label, scope, level, list) in cases {
            let viewer = Viewer { account: Uuid::now_v7(), level, node: None, department: false, now_ms };
            let q = DisputeQuery::default();
            let t = Instant::now();
            let found = storage.dispute_list(&scope, list, viewer, &q, 500).await?;
            let cold = t.elapsed();
            let runs = 20;
            let t = Instant::now();
            for _ in 0..runs {
                storage.dispute_list(&scope, list, viewer, &q, 500).await?;
            }
            println!(
                "{label} list {:?} ({} disputes): first {}, then {} each",
                list,
                found.len(),
                ms(cold),
                ms(t.elapsed() / runs)
            );
        }
    }

    // The month's figures (the three first-times, where settled), as county centre staff read
    // them, for last month (a whole month of the generated year).
    {
        use sync_protocol::api::{FigureGroup, FiguresQuery};
        let county_node = storage.node(township).await?.and_then(|t| t.parent).expect("a county above");
        let staff = storage
            .accounts_at(county_node)
            .await?
            .into_iter()
            .find(|a| a.role == sync_protocol::org::Role::CountyStaff)
            .expect("county centre staff in the demo");
        let node = storage.node(county_node).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let caller = county_server::service::Caller {
            device: sync_protocol::org::Device {
                id: staff.id,
                account: staff.id,
                name: "bench".into(),
                created_at: now,
                revoked_at: None,
            },
            account: staff,
            node,
            from: None,
            needs_second_factor: false,
        };
        let last_month = DocKey::month_of(DocKey::month_start_ms(now) - 1);
        for by in [FigureGroup::County, FigureGroup::Township, FigureGroup::Grid, FigureGroup::Worker] {
            let q = FiguresQuery { month: Some(last_month), by: Some(by), ..Default::default() };
            let t = Instant::now();
            let f = servers[0].county.dispute_figures(&caller, &q).await?;
            let first = t.elapsed();
            let t = Instant::now();
            servers[0].county.dispute_figures(&caller, &q).await?;
            let total: u64 = f.rows.iter().map(|r| r.disputes).sum();
            println!(
                "figures {last_month} by {by:?} ({} rows, {total} disputes): first {}, then {}",
                f.rows.len(),
                ms(first),
                ms(t.elapsed())
            );
        }
    }

    // 2. Devices and their morning requests, prepared before the clock starts.
    let t = Instant::now();
    let grids: Vec<Uuid> = all.iter().take(args.devices).map(|g| g.id).collect();
    let mut sims = Vec::new();
    let prep = Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let mut tasks = Vec::new();
    for (i, grid) in grids.iter().copied().enumerate() {
        let accounts = storage.accounts_at(grid).await?;
        let worker = accounts.iter().find(|a| a.role == Role::GridWorker).expect("worker").id;
        let assistant = accounts.iter().find(|a| a.role == Role::GridAssistant).expect("assistant").id;
        let (wdev, token) = register(storage.as_ref(), worker, "bench worker").await?;
        let (adev, assistant_token) = register(storage.as_ref(), assistant, "bench assistant").await?;
        let key = DocKey::new(grid, Collection::Residents);
        let stored = storage.load_docs(&[key]).await?.pop().expect("a residents document");
        let seq = storage.grid_seq(grid).await?;
        let (n_edits, n_overnight, seed, n_servers) = (args.edits, args.overnight, args.seed, args.servers);
        let n_yesterday = usize::from(!args.fresh_devices);
        let permit = prep.clone().acquire_owned().await?;
        tasks.push(tokio::task::spawn_blocking(move || {
            let doc = Automerge::load(&stored.bytes).expect("stored document loads");
            let ids: Vec<String> = doc.keys(ROOT).take(n_overnight + n_yesterday + n_edits).collect();
            let overnight = edits(&doc, &ids[..n_overnight], assistant, adev, seed + i as u64);
            // Yesterday's edit and this morning's, made one after the other on the same device.
            let mut morning = edits(&doc, &ids[n_overnight..], worker, wdev, seed * 7 + i as u64);
            let yesterday: Vec<Vec<u8>> = morning.drain(..n_yesterday).collect();
            drop(permit);
            Sim {
                grid,
                server: i % n_servers,
                token,
                assistant_token,
                overnight: request(grid, seq, overnight),
                yesterday: (!yesterday.is_empty()).then(|| request(grid, seq, yesterday)),
                morning: request(grid, seq, morning.clone()),
                morning_changes: morning,
                position: seq,
            }
        }));
    }
    for task in tasks {
        sims.push(task.await?);
    }
    println!("prepared {} devices in {:.1} s", sims.len(), t.elapsed().as_secs_f64());

    // Yesterday and overnight: the worker's edit of yesterday, then the assistant's edits (not
    // timed).
    let urls: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for s in &sims {
        let mut bodies = Vec::new();
        let has_yesterday = s.yesterday.is_some();
        if let Some(y) = &s.yesterday {
            bodies.push((s.token.clone(), y.clone()));
        }
        bodies.push((s.assistant_token.clone(), s.overnight.clone()));
        let (http, url, gate, grid) = (http.clone(), urls[s.server].clone(), gate.clone(), s.grid);
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire_owned().await?;
            let mut worker_position = None;
            for (i, (token, body)) in bodies.into_iter().enumerate() {
                let r = post(&http, &url, &token, body).await?;
                anyhow::ensure!(r.refused.is_empty(), "yesterday's or overnight edits refused: {:?}", r.refused);
                if i == 0 && has_yesterday {
                    worker_position = r.positions.iter().find(|p| p.grid == grid).map(|p| p.seq);
                }
            }
            Ok(worker_position)
        }));
    }
    for (s, t) in sims.iter_mut().zip(tasks) {
        // The morning request starts from where yesterday's sync left the device, as a real
        // device's would (the server audits a device that asks from an older position).
        if let Some(position) = t.await?? {
            s.position = position;
            s.morning = request(s.grid, position, s.morning_changes.clone());
        }
    }

    // 3. The morning: every device at the same moment.
    let start = Arc::new(tokio::sync::Barrier::new(sims.len() + 1));
    let mut tasks = Vec::new();
    for s in &sims {
        let (http, url, token, body, start) =
            (http.clone(), urls[s.server].clone(), s.token.clone(), s.morning.clone(), start.clone());
        let (grid, edits, overnight) = (s.grid, args.edits, args.overnight);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let t = Instant::now();
            let r = post(&http, &url, &token, body).await;
            let took = t.elapsed();
            let outcome = match r {
                Ok(r) if !r.refused.is_empty() => Err(format!("{} of {edits} edits refused", r.refused.len())),
                Ok(r) => {
                    let pulled: usize = r.docs.iter().filter(|d| !d.snapshot).count();
                    let seq = r.positions.iter().find(|p| p.grid == grid).map_or(0, |p| p.seq);
                    if overnight > 0 && pulled == 0 {
                        Err("the overnight edits were not pulled".to_string())
                    } else {
                        Ok(seq)
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            (took, outcome)
        }));
    }
    if let Some(ctl) = &args.perf_ctl {
        std::fs::write(ctl, "enable\n")?;
    }
    let t = Instant::now();
    start.wait().await;
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (took, outcome) = task.await?;
        lat.push(took);
        match outcome {
            Ok(seq) => sims[i].position = seq,
            Err(e) => errors.push(e),
        }
    }
    let wall = t.elapsed();
    if let Some(ctl) = &args.perf_ctl {
        std::fs::write(ctl, "disable\n")?;
    }
    lat.sort();
    println!(
        "morning sync, {} devices at once (push {} edits, pull {} overnight edits): all done in {:.2} s, {:.0} syncs/s, p50 {}, p99 {}, max {}, errors {}",
        sims.len(),
        args.edits,
        args.overnight,
        wall.as_secs_f64(),
        sims.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap_or(&Duration::ZERO)),
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }

    // 4. Nothing new.
    let bodies: Arc<Vec<(usize, String, Vec<u8>)>> =
        Arc::new(sims.iter().map(|s| (s.server, s.token.clone(), request(s.grid, s.position, vec![]))).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.idle_secs);
    let mut tasks = Vec::new();
    for _ in 0..args.idle_concurrency {
        let (http, urls, bodies, next) = (http.clone(), urls.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut not_idle) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < deadline {
                let (server, token, body) = &bodies[next.fetch_add(1, Ordering::Relaxed) % bodies.len()];
                let t = Instant::now();
                match post(&http, &urls[*server], token, body.clone()).await {
                    Ok(r) if r.docs.is_empty() && r.refused.is_empty() => {}
                    Ok(_) => not_idle += 1,
                    Err(_) => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, errors, not_idle)
        }));
    }
    let t = Instant::now();
    let (mut lat, mut errors, mut not_idle) = (Vec::new(), 0, 0);
    for task in tasks {
        let (l, e, n) = task.await?;
        lat.extend(l);
        errors += e;
        not_idle += n;
    }
    let wall = t.elapsed();
    lat.sort();
    println!(
        "nothing new, {} at a time for {:.1} s: {} syncs, {:.0} syncs/s, p50 {}, p99 {}, errors {errors}, answers that were not empty {not_idle}",
        args.idle_concurrency,
        wall.as_secs_f64(),
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
    );
    println!("peak memory of this process (servers and simulated devices): {:.0} MB", peak_rss_mb());

    for s in servers {
        server_rt.spawn(s.stop()).await?;
    }
    if let Ok(rt) = Arc::try_unwrap(server_rt) {
        rt.shutdown_background();
    }
    if scratch && !args.keep {
        county_server::testing::drop_scratch_postgres(&url).await?;
    }
    Ok(())
}
