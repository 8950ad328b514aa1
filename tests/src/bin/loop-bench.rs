//! Closed-loop benchmark (issue 11): how soon a connected staff client hears what a handheld's
//! sync brought (a 突发性 report reaching the county centre), beside the sync's own round trip
//! from the same run; and the same for a staff action taken through the server. Real server,
//! real SQLite file, a real device with a typical grid, real HTTP and server-sent events.
//!
//! Run: `cargo run --release -p gridkeeper-tests --bin loop-bench [-- --runs 50]`

use std::time::{Duration, Instant};

use clap::Parser;
use gridkeeper_tests::{EventStream, TestDevice, TestServer, neighbours_dispute, party, put_account, staff_token};
use serde_json::json;
use sync_protocol::org::Role;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 50)]
    runs: usize,
}

fn summary(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("| {label} | {} | {} | {} |", ms(at(0.5)), ms(at(0.95)), ms(v[v.len() - 1]));
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let server = TestServer::start().await;
    let o = server.org.clone();
    gridkeeper_tests::typical_grid_a(&server).await;
    let storage = server.storage();
    let county_staff = put_account(storage.as_ref(), "县社会治理中心值班员", Role::CountyStaff, o.county).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    worker.sync().await.unwrap();
    let county = staff_token(&server, county_staff).await;
    let mut stream = EventStream::open(&server, &county).await;
    let http = reqwest::Client::new();

    let (mut syncs, mut heard, mut acts, mut act_heard) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..args.runs {
        let mut report = neighbours_dispute(vec![party("甲")], "东河桥", &format!("险情{i}"));
        report.class = "emergency".into();
        let id = worker.report_dispute(&report).unwrap();
        // The device's sync, and the county centre hearing the report it carried.
        let t = Instant::now();
        let sync = worker.sync();
        let listen = stream.next("report", 10);
        let (done, event) = tokio::join!(async { (sync.await, t.elapsed()) }, async {
            let e = listen.await;
            (e, t.elapsed())
        });
        done.0.unwrap();
        syncs.push(done.1);
        let (event, at) = event;
        assert_eq!(event.expect("heard")["dispute"], json!(id.to_string()));
        heard.push(at);
        // The county accepts it through the server; its own stream hears that too.
        let t = Instant::now();
        let post = http
            .post(format!("{}/v1/disputes/{id}/actions", server.url()))
            .bearer_auth(&county)
            .json(&json!({"kind": "accept"}))
            .send();
        let listen = stream.next("accept", 10);
        let (resp, event) = tokio::join!(async { (post.await, t.elapsed()) }, async { (listen.await, t.elapsed()) });
        assert_eq!(resp.0.unwrap().status().as_u16(), 200);
        assert!(event.0.is_some());
        acts.push(resp.1);
        act_heard.push(event.1);
    }
    println!("# loop-bench: {} runs, one typical grid, SQLite, release build", args.runs);
    println!("| what | median | p95 | max |");
    println!("|---|---|---|---|");
    summary("device's sync carrying a 突发性 report (baseline: the sync's round trip)", syncs);
    summary("county centre hears the report, from the start of that sync (target ≤ 1 s)", heard);
    summary("staff action through the server: POST round trip (baseline)", acts);
    summary("its event heard, from the start of the POST", act_heard);
}
