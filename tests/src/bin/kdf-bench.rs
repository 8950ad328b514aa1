//! The handheld's key derivation: how long one PIN takes under the first parameters (the
//! baseline, the argon2 crate's defaults) and the current ones, on this machine's cores.
//!
//! `cargo run --release -p gridkeeper-tests --bin kdf-bench`
//!
//! An unlock derives one key; a thief with a copy of the files pays the same per guess. The
//! figure to compare with the ≤ 1 s target is the current parameters' time multiplied by how
//! much slower a handheld's core is than this one (BENCHMARKS.md).

use std::time::Instant;

use field_core::crypto::KdfParams;

fn main() {
    let salt = [7u8; 16];
    println!("| parameters | memory | passes | median of 9 | per million PINs (one core) |");
    println!("|---|---|---|---|---|");
    for (name, p) in [("V1 (baseline: argon2 defaults)", KdfParams::V1), ("CURRENT", KdfParams::CURRENT)] {
        let mut times: Vec<f64> = (0..9)
            .map(|i| {
                let start = Instant::now();
                let pin = format!("{:06}", 246810 + i);
                let _ = std::hint::black_box(p.derive(&pin, &salt).unwrap());
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "| {name} | {} MiB | {} | {:.0} ms | {:.1} days |",
            p.memory_kib / 1024,
            p.passes,
            median * 1000.0,
            median * 1e6 / 86_400.0
        );
    }
}
