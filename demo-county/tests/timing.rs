//! Prints how long one typical grid takes to generate. Meaningful in release:
//! `cargo test --release -p demo-county --test timing -- --nocapture`.

use std::time::Instant;

use demo_county::{GridSpec, YISHUI_GRIDS, county_plan, generate_grid};
use uuid::Uuid;

#[test]
fn time_to_generate_a_typical_grid() {
    let plan = county_plan(YISHUI_GRIDS, 1);
    let grids: Vec<_> = plan.grids().step_by(27).collect();
    let worker = Uuid::from_u128(1);
    let now = 1_763_604_000_000;
    // Warm up.
    let _ = generate_grid(&GridSpec::typical(grids[0].0, grids[0].1, worker, now, 0));
    let mut times = Vec::with_capacity(grids.len());
    let mut records = 0;
    for (i, (t, v, _)) in grids.iter().enumerate() {
        let start = Instant::now();
        let g = generate_grid(&GridSpec::typical(t, v, worker, now, i as u64));
        times.push(start.elapsed());
        records += g.residents.len() + g.houses.len() + g.visits.len() + g.disputes.len();
        assert_eq!(g.residents.len(), 814);
    }
    times.sort();
    let total: std::time::Duration = times.iter().sum();
    let mean = total / times.len() as u32;
    println!(
        "{} typical grids ({} records): mean {:.2} ms, median {:.2} ms, max {:.2} ms per grid{}",
        times.len(),
        records,
        mean.as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        if cfg!(debug_assertions) { " (debug build)" } else { "" },
    );
    println!("whole county at this rate: {:.1} s", mean.as_secs_f64() * YISHUI_GRIDS as f64);
}
