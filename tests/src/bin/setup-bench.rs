//! County setup benchmark (issue 11): loading a Yishui-sized setup file (1,358 grids with codes
//! and boundaries, each grid's 1+1+1+N team, the departments of 18 townships and the county:
//! about 8,200 rows) into an empty county, again unchanged, and again with changes; then
//! enrolment codes for the whole county and their printable sheet. Reading and checking the file
//! alone (no database) is printed beside as the baseline from the same run. Real SQLite file
//! (or PostgreSQL with `--postgres`).
//!
//! Run: `cargo run --release -p gridkeeper-tests --bin setup-bench [-- --grids 1358 --points 300 --postgres]`

use std::time::Instant;

use clap::Parser;
use county_server::roster::Format;
use county_server::service::structure;
use county_server::setup;
use county_server::storage::Storage;
use sync_protocol::api::BulkCodeRequest;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = demo_county::YISHUI_GRIDS)]
    grids: usize,
    #[arg(long, default_value_t = 2023)]
    seed: u64,
    /// On a scratch database of the test PostgreSQL server instead of a SQLite file.
    #[arg(long)]
    postgres: bool,
    /// Points in each grid's outline (the demo's squares have five; a surveyed village grid
    /// has a few hundred).
    #[arg(long, default_value_t = 5)]
    points: usize,
}

/// A closed outline of `n` points around the centre of a demo square.
fn outline(square: &str, n: usize) -> String {
    let v: serde_json::Value = serde_json::from_str(square).expect("the demo's square");
    let ring = v["coordinates"][0].as_array().expect("a ring");
    let (x0, y0) = (ring[0][0].as_f64().unwrap(), ring[0][1].as_f64().unwrap());
    let (x1, y1) = (ring[2][0].as_f64().unwrap(), ring[2][1].as_f64().unwrap());
    let (cx, cy, r) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, (x1 - x0) / 2.0);
    let mut points: Vec<[f64; 2]> = (0..n - 1)
        .map(|i| {
            let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
            [cx + r * a.cos(), cy + r * a.sin()]
        })
        .collect();
    points.push(points[0]);
    serde_json::json!({"type": "Polygon", "coordinates": [points]}).to_string()
}

fn xlsx(rows: &[[String; 8]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("县网格").unwrap();
    for (c, h) in demo_county::SETUP_HEADER.iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
            sheet.write(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

fn secs(t: Instant) -> String {
    format!("{:.2} s", t.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = demo_county::county_plan(args.grids, args.seed);
    let mut rows = demo_county::setup_rows(&plan, args.seed, true);
    if args.points > 5 {
        for r in rows.iter_mut().filter(|r| !r[4].is_empty()) {
            r[4] = outline(&r[4], args.points);
        }
    }
    let file = xlsx(&rows);
    // Next year's file: every tenth grid's instructor replaced, one township's departments
    // renamed (new ones made beside the old).
    let mut changed = rows.clone();
    for (i, r) in changed.iter_mut().enumerate() {
        if r[7] == "网格指导员" && i % 10 == 0 {
            r[6] = format!("{}新", r[6]);
        }
        if r[5] == "派出所" && r[0] == plan.townships[0].name {
            r[5] = "派出所（新）".into();
        }
    }
    let changed = xlsx(&changed);
    println!(
        "setup file: {} rows, {} grids with {}-point outlines, {:.1} MB .xlsx",
        rows.len(),
        args.grids,
        args.points,
        file.len() as f64 / 1e6
    );

    let dir = tempfile::tempdir()?;
    let (storage, pg_url): (std::sync::Arc<dyn Storage>, Option<String>) = if args.postgres {
        let url = county_server::testing::scratch_postgres("setup_bench").await?;
        (county_server::server::open_storage(&url).await?, Some(url))
    } else {
        (county_server::server::open_storage(dir.path().join("county.db").to_str().unwrap()).await?, None)
    };

    println!("| step | time | what it did |");
    println!("|---|---|---|");
    let t = Instant::now();
    let (nodes, accounts, _) = setup::plan_file(Default::default(), Some("沂水县"), Format::Xlsx, &file)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "| read and check the file only (baseline, no database) | {} | {} places, {} people planned |",
        secs(t),
        nodes.len(),
        accounts.len()
    );

    let t = Instant::now();
    let first = setup::apply_file(storage.as_ref(), Some("沂水县"), Format::Xlsx, file.clone()).await?;
    println!(
        "| first load into an empty county | {} | {} townships, {} villages, {} grids, {} departments, {} accounts |",
        secs(t),
        first.townships_created,
        first.villages_created,
        first.grids_created,
        first.departments_created,
        first.accounts_created
    );
    let t = Instant::now();
    let again = setup::apply_file(storage.as_ref(), None, Format::Xlsx, file.clone()).await?;
    println!("| the same file again | {} | {} of {} rows unchanged |", secs(t), again.unchanged_rows, again.rows);
    let t = Instant::now();
    let next = setup::apply_file(storage.as_ref(), None, Format::Xlsx, changed).await?;
    println!(
        "| next year's file | {} | {} departments and {} accounts new, {} rows unchanged |",
        secs(t),
        next.departments_created,
        next.accounts_created,
        next.unchanged_rows
    );

    let county = storage.structure(false).await?.nodes.iter().find(|n| n.node.parent.is_none()).unwrap().node.id;
    let t = Instant::now();
    let req = BulkCodeRequest { node: county, include_enrolled: false };
    let prepared = structure::prepare_codes(storage.as_ref(), &req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let codes = structure::commit_codes(storage.as_ref(), prepared).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("| enrolment codes for the whole county | {} | {} codes |", secs(t), codes.codes.len());
    let t = Instant::now();
    let sheet = structure::Sheet::new("沂水县 登记码", Some("https://gk.example".into()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sheet = structure::codes_sheet(&codes, &sheet).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("| their printable sheet | {} | {:.1} MB of HTML |", secs(t), sheet.len() as f64 / 1e6);
    if let Some(url) = pg_url {
        county_server::testing::drop_scratch_postgres(&url).await?;
    }
    Ok(())
}
