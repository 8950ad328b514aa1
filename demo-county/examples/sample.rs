//! Prints a sample of one generated grid as JSON lines: `cargo run -p demo-county --example
//! sample [grid-index] [seed]`.

use demo_county::{GridSpec, YISHUI_GRIDS, county_plan, generate_grid};
use sync_protocol::model::Record;

fn main() {
    let mut args = std::env::args().skip(1);
    let index: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let plan = county_plan(YISHUI_GRIDS, seed);
    let (township, village, grid) = plan.grids().nth(index).expect("grid index");
    let worker = uuid::Uuid::from_u128(1);
    let now = chrono::Utc::now().timestamp_millis();
    let g = generate_grid(&GridSpec::typical(township, village, worker, now, seed ^ index as u64));
    println!("# {township} {village} {grid}");
    let line = |v: serde_json::Map<String, serde_json::Value>| {
        println!("{}", serde_json::Value::Object(v));
    };
    for h in g.houses.iter().take(12) {
        line(h.to_fields());
        for r in g.residents.iter().filter(|r| r.house_id == Some(h.id)) {
            line(r.to_fields());
        }
    }
    for v in g.visits.iter().filter(|v| v.dispute_id.is_some() || v.needs.is_some()).take(5) {
        line(v.to_fields());
    }
    for d in &g.disputes {
        line(d.to_fields());
    }
}
