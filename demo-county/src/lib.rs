//! # demo-county
//!
//! Realistic, deterministic demo data for Gridkeeper: a county shaped like Yishui County
//! (沂水县), Shandong — 18 townships, 1,358 grids, and per grid about 814 residents in 301 houses,
//! a year of household visits and a handful of disputes. Every record passes
//! [`sync_protocol::schema::validate_record_change`] when written by the grid's worker
//! (role `GridWorker`), and the same seed always gives the same county, ids included.
//!
//! ```
//! use demo_county::{GridSpec, YISHUI_GRIDS, county_plan, generate_grid};
//! use uuid::Uuid;
//!
//! let plan = county_plan(YISHUI_GRIDS, 7);
//! assert_eq!(plan.townships.len(), 18);
//! assert_eq!(plan.grid_count(), 1358);
//!
//! let (township, village, _grid) = plan.grids().nth(500).unwrap();
//! let worker = Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0001);
//! // 2025-11-20 10:00 China time
//! let spec = GridSpec::typical(township, village, worker, 1_763_604_000_000, 500);
//! let grid = generate_grid(&spec);
//! assert_eq!((grid.residents.len(), grid.houses.len()), (814, 301));
//! assert_eq!(grid.visits.len(), 12 * 60);
//! demo_county::validate_grid(&grid, worker).unwrap();
//! assert_eq!(generate_grid(&spec), grid); // deterministic
//! ```
//!
//! What the data looks like:
//! - Names follow Shandong surname frequencies (王 张 李 刘 …, villages dominated by one or two
//!   family lines), given names by sex and birth era, brothers often sharing a generation
//!   character (字辈).
//! - Households: old people alone or in couples, young families, three generations,
//!   grandparents raising grandchildren while the parents work away, tenants. Relations are
//!   set, ages consistent, surnames follow the family line.
//! - ID numbers are mostly 371323 (沂水县), married-in spouses sometimes from neighbouring
//!   counties, tenants (流动人口) from elsewhere; birth date and sex digit agree with the record,
//!   check character per GB 11643.
//! - Categories: registered, ~8% floating tenants, ~0.2% overseas (foreign wives, no ID
//!   number), left-behind elderly/women/children where working-age members are away, ~5%
//!   living alone, ~2% disabled, ~3% low income, a few key persons, some veterans.
//! - Houses: apartment buildings with building/unit/floor in 社区 grids, numbered courtyards in
//!   村 grids; ~10% rented; hazards on a few; coordinates near the township's approximate centre.
//! - Visits: `visits_per_month` in each of the last `visit_months` calendar months (China time),
//!   mostly all-fine five clears with occasional notes. Disputes: the requested open ones plus a
//!   few resolved ones from earlier months, some found on a visit (linked by `dispute_id`).

mod events;
mod grid;
mod names;
mod plan;
mod setup;
mod util;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sync_protocol::ValidationError;
use sync_protocol::model::{Dispute, House, Record, Resident, Visit};
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::validate_record_change;
use uuid::Uuid;

pub use plan::{CountyPlan, TownshipPlan, VillagePlan, YISHUI_GRIDS, county_plan};
pub use setup::{COUNTY_DEPARTMENTS, SETUP_HEADER, TOWNSHIP_DEPARTMENTS, grid_boundary, setup_rows};

/// Residents per grid in Yishui (1,105,685 / 1,358).
pub const TYPICAL_RESIDENTS: usize = 814;
/// Houses per grid in Yishui (409,376 / 1,358).
pub const TYPICAL_HOUSES: usize = 301;
/// Yishui's residents and houses in all (the county's own figures).
pub const YISHUI_RESIDENTS: usize = 1_105_685;
pub const YISHUI_HOUSES: usize = 409_376;

/// Grid `i`'s share of a county-wide total spread evenly over [`YISHUI_GRIDS`] grids: the shares
/// of all of Yishui's grids add up to the total exactly (814 or 815 residents, 301 or 302 houses).
pub fn share_of(total: usize, i: usize) -> usize {
    let n = YISHUI_GRIDS;
    let i = i % n;
    total * (i + 1) / n - total * i / n
}

/// Months of visit history in a typical grid.
pub const TYPICAL_VISIT_MONTHS: u32 = 12;
/// Household visits a grid worker makes in a month.
pub const TYPICAL_VISITS_PER_MONTH: usize = 60;
/// Open disputes in a typical grid.
pub const TYPICAL_OPEN_DISPUTES: usize = 3;

/// One grid's records.
#[derive(Debug, Clone, PartialEq)]
pub struct GridData {
    pub houses: Vec<House>,
    pub residents: Vec<Resident>,
    /// Oldest first. The visits of one calendar month (China time) belong in one visits
    /// document.
    pub visits: Vec<Visit>,
    /// Oldest report first.
    pub disputes: Vec<Dispute>,
}

/// What to generate for one grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridSpec<'a> {
    pub township: &'a str,
    /// A name ending in 社区 gives an urban grid (apartment buildings); anything else a village.
    pub village: &'a str,
    /// The grid worker's account: every visit's `by`, dispute's `reported_by` and action's
    /// `actor`.
    pub worker: Uuid,
    pub residents: usize,
    pub houses: usize,
    /// Calendar months of visits, ending with the month of `now_ms`.
    pub visit_months: u32,
    pub visits_per_month: usize,
    pub open_disputes: usize,
    /// "Now" in milliseconds since the epoch: ages, visit months and dispute times count back
    /// from it. Keep it no later than the real date, since the validator refuses ID numbers
    /// born in the future.
    pub now_ms: i64,
    pub seed: u64,
}

impl<'a> GridSpec<'a> {
    /// A grid of Yishui's average size: 814 residents, 301 houses, 12 months of 60 visits,
    /// 3 open disputes.
    pub fn typical(township: &'a str, village: &'a str, worker: Uuid, now_ms: i64, seed: u64) -> Self {
        GridSpec {
            township,
            village,
            worker,
            residents: TYPICAL_RESIDENTS,
            houses: TYPICAL_HOUSES,
            visit_months: TYPICAL_VISIT_MONTHS,
            visits_per_month: TYPICAL_VISITS_PER_MONTH,
            open_disputes: TYPICAL_OPEN_DISPUTES,
            now_ms,
            seed,
        }
    }
}

/// Generates one grid: exactly `spec.houses` houses and `spec.residents` residents,
/// `visit_months × visits_per_month` visits (none when there are no houses), `open_disputes`
/// open disputes plus a few resolved ones when `visit_months ≥ 2`.
///
/// The output depends only on `spec` (the seed is mixed with the township and village names,
/// so two villages given the same seed still differ).
pub fn generate_grid(spec: &GridSpec) -> GridData {
    let mut rng = StdRng::seed_from_u64(spec.seed ^ util::fnv(spec.township).rotate_left(21) ^ util::fnv(spec.village));
    let ctx = grid::Ctx::new(spec.township, spec.village, spec.now_ms, &mut rng);
    // Base records were entered a little before the visit history starts.
    let reg_ms = spec.now_ms - (i64::from(spec.visit_months) + 2) * 30 * util::DAY;
    let mut sites = grid::layout_houses(&ctx, spec.houses, reg_ms, &mut rng);
    let households = grid::plan_households(&ctx, &mut sites, spec.residents, &mut rng);
    let overseas = grid::overseas_spouses(&households, spec.residents, &mut rng);
    let site_ids: Vec<Uuid> = sites.iter().map(|s| s.id).collect();
    let mut residents = Vec::with_capacity(spec.residents);
    let houses = {
        let mut people = grid::People::new(&ctx, &mut rng, reg_ms, spec.residents);
        for (h, o) in households.iter().zip(&overseas) {
            people.materialize(h, h.site.map(|s| site_ids[s]), *o, &mut residents);
        }
        grid::houses(&ctx, sites, &households, &residents, &mut people)
    };
    let mut visits = events::visits(
        spec.worker,
        spec.now_ms,
        spec.visit_months,
        spec.visits_per_month,
        &houses,
        &households,
        &residents,
        &mut rng,
    );
    let disputes = events::disputes(
        &ctx,
        spec.worker,
        spec.visit_months,
        spec.open_disputes,
        &houses,
        &households,
        &residents,
        &mut visits,
        &mut rng,
    );
    GridData { houses, residents, visits, disputes }
}

/// Runs the protocol's validator on every record of a grid as if `worker` (a grid worker)
/// created it; returns the first refusal.
pub fn validate_grid(data: &GridData, worker: Uuid) -> Result<(), ValidationError> {
    let author = Author { account: worker, device: worker, role: Role::GridWorker, node: None };
    fn check<R: Record>(items: &[R], id: impl Fn(&R) -> Uuid, author: &Author) -> Result<(), ValidationError> {
        for r in items {
            validate_record_change(R::COLLECTION, id(r), &r.to_fields(), None, author)?;
        }
        Ok(())
    }
    check(&data.houses, |r| r.id, &author)?;
    check(&data.residents, |r| r.id, &author)?;
    check(&data.visits, |r| r.id, &author)?;
    check(&data.disputes, |r| r.id, &author)?;
    Ok(())
}

#[cfg(test)]
mod share_tests {
    use super::*;

    #[test]
    fn the_grids_shares_add_up_to_yishuis_totals() {
        let sum = |total| (0..YISHUI_GRIDS).map(|i| share_of(total, i)).sum::<usize>();
        assert_eq!(sum(YISHUI_RESIDENTS), 1_105_685);
        assert_eq!(sum(YISHUI_HOUSES), 409_376);
        assert!((0..YISHUI_GRIDS).all(|i| (814..=815).contains(&share_of(YISHUI_RESIDENTS, i))));
    }
}
