//! The county's setup file (县网格) for a demo plan: every grid with its code (网格编码, like
//! 371323 + township + village + grid) and a boundary (a small square on a map of the county),
//! each township's departments (派出所, 司法所 …, "公安+司法行政+N") and the county's, with a
//! person each, and for every grid the people of its 1+1+1+N team that a file names: its
//! instructor (网格指导员, a township cadre) and a party-member helper (党员协助员) — and, with
//! `whole_team`, its worker, leader and assistants too (for a county set up from the file alone).
//!
//! The rows are what `county-server setup` reads: [`SETUP_HEADER`] and one row per place or
//! person. Deterministic for a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::names;
use crate::plan::CountyPlan;

/// The columns of the setup file.
pub const SETUP_HEADER: [&str; 8] = ["镇街", "村社区", "网格", "网格编码", "网格边界", "部门", "姓名", "角色"];

/// Departments of every township (派出所 and 司法所 are the "公安+司法行政"; the rest the "N").
pub const TOWNSHIP_DEPARTMENTS: [&str; 4] = ["派出所", "司法所", "退役军人服务站", "应急管理办公室"];

/// Departments of the county.
pub const COUNTY_DEPARTMENTS: [&str; 5] = ["县公安局", "县司法局", "县信访局", "县应急管理局", "县退役军人事务局"];

/// Yishui's administrative code.
pub const COUNTY_CODE: &str = "371323";

/// The south-west corner of the demo map and the side of one grid's square, in degrees: Yishui
/// lies about 118.3–118.9 E, 35.6–36.1 N.
const ORIGIN: (f64, f64) = (118.30, 35.60);
const CELL: f64 = 0.012;
const COLUMNS: usize = 48;

fn person(rng: &mut StdRng) -> String {
    let male = rng.random_bool(0.6);
    let year = rng.random_range(1965..2000);
    let given = if male { &names::MALE } else { &names::FEMALE };
    let era = &given[names::era(year)];
    let name = era.two[rng.random_range(0..era.two.len())];
    format!("{}{}", names::surname(rng), name)
}

/// A grid's boundary: the `k`-th square of the demo map, as GeoJSON.
pub fn grid_boundary(k: usize) -> String {
    let (col, row) = ((k % COLUMNS) as f64, (k / COLUMNS) as f64);
    let (x0, y0) = (ORIGIN.0 + col * CELL, ORIGIN.1 + row * CELL);
    let (x1, y1) = (x0 + CELL * 0.95, y0 + CELL * 0.95);
    let p = |x: f64, y: f64| format!("[{x:.5},{y:.5}]");
    format!(
        r#"{{"type":"Polygon","coordinates":[[{},{},{},{},{}]]}}"#,
        p(x0, y0),
        p(x1, y0),
        p(x1, y1),
        p(x0, y1),
        p(x0, y0)
    )
}

/// The rows of the county's setup file.
pub fn setup_rows(plan: &CountyPlan, seed: u64, whole_team: bool) -> Vec<[String; 8]> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5E7_0F11E);
    let mut rows = Vec::new();
    let row = |t: &str, v: &str, g: &str, code: &str, b: &str, d: &str, n: &str, r: &str| {
        [t, v, g, code, b, d, n, r].map(str::to_string)
    };
    let mut k = 0;
    for (ti, t) in plan.townships.iter().enumerate() {
        if t.villages.iter().all(|v| v.grids.is_empty()) {
            continue;
        }
        for d in TOWNSHIP_DEPARTMENTS {
            let name = person(&mut rng);
            rows.push(row(&t.name, "", "", "", "", d, &name, "部门工作人员"));
        }
        for (vi, v) in t.villages.iter().enumerate() {
            for (gi, g) in v.grids.iter().enumerate() {
                let code = format!("{COUNTY_CODE}{:03}{:03}{:03}", ti + 1, vi + 1, gi + 1);
                let boundary = grid_boundary(k);
                k += 1;
                let mut team = vec![("网格指导员", person(&mut rng)), ("党员协助员", person(&mut rng))];
                if whole_team {
                    team.push(("专职网格员", person(&mut rng)));
                    team.push(("网格长", person(&mut rng)));
                    team.push(("网格协管员", person(&mut rng)));
                    team.push(("网格协管员", person(&mut rng)));
                }
                // Names are unique within a grid (a file naming one person twice is refused).
                let mut seen = std::collections::HashSet::new();
                for (i, (role, name)) in team.into_iter().enumerate() {
                    let name = if seen.insert(name.clone()) { name } else { format!("{name}{}", i + 1) };
                    seen.insert(name.clone());
                    let (code, boundary) = if i == 0 { (code.as_str(), boundary.as_str()) } else { ("", "") };
                    rows.push(row(&t.name, &v.name, g, code, boundary, "", &name, role));
                }
            }
        }
    }
    for d in COUNTY_DEPARTMENTS {
        let name = person(&mut rng);
        rows.push(row("", "", "", "", "", d, &name, "部门工作人员"));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grid_has_one_code_and_a_closed_square() {
        let plan = crate::county_plan(60, 3);
        let rows = setup_rows(&plan, 3, true);
        let codes: Vec<&str> = rows.iter().map(|r| r[3].as_str()).filter(|c| !c.is_empty()).collect();
        assert_eq!(codes.len(), 60);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 60, "codes are unique");
        let b: serde_json::Value = serde_json::from_str(&grid_boundary(59)).unwrap();
        let ring = b["coordinates"][0].as_array().unwrap();
        assert_eq!((ring.len(), ring.first(), b["type"].as_str()), (5, ring.last(), Some("Polygon")));
        assert_eq!(rows.len(), 18 * 4 + 60 * 6 + 5);
        assert_eq!(setup_rows(&plan, 3, true), rows, "deterministic");
    }
}
