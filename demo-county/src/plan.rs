//! The county's layout: 18 townships, their villages and communities, and the grids.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::names::{self, CLAN_SUFFIXES, DESCRIPTIVE, DIRECTIONS, NUMERALS, PLACE_CORES};

/// Grids in Yishui County (沂水县), as reported in 2023.
pub const YISHUI_GRIDS: usize = 1358;

/// A county: its townships (乡镇/街道).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountyPlan {
    pub name: String,
    pub townships: Vec<TownshipPlan>,
}

/// A township or sub-district and its villages and communities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TownshipPlan {
    pub name: String,
    pub villages: Vec<VillagePlan>,
}

/// A village (村) or community (社区) and its grid names, e.g. `东坡村第1网格`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VillagePlan {
    pub name: String,
    pub grids: Vec<String>,
}

impl CountyPlan {
    /// How many grids the plan holds.
    pub fn grid_count(&self) -> usize {
        self.townships.iter().flat_map(|t| &t.villages).map(|v| v.grids.len()).sum()
    }

    /// Every grid as `(township, village, grid)`, in plan order.
    pub fn grids(&self) -> impl Iterator<Item = (&str, &str, &str)> + '_ {
        self.townships.iter().flat_map(|t| {
            t.villages
                .iter()
                .flat_map(move |v| v.grids.iter().map(move |g| (t.name.as_str(), v.name.as_str(), g.as_str())))
        })
    }
}

/// A township of Yishui with a population weight (thousands of people, from the 2000 census
/// figures of the towns it absorbed in the 2000–2010s mergers, the county seat grown since) and
/// an approximate centre. The centres are placed by compass direction from the county seat, not
/// surveyed; all lie within 0.3° of it.
pub(crate) struct TownshipDef {
    pub name: &'static str,
    pub weight: u32,
    pub lat: f64,
    pub lng: f64,
}

pub(crate) static TOWNSHIPS: [TownshipDef; 18] = [
    TownshipDef { name: "沂城街道", weight: 230, lat: 35.790, lng: 118.630 },
    TownshipDef { name: "龙家圈街道", weight: 70, lat: 35.735, lng: 118.605 },
    TownshipDef { name: "道托镇", weight: 37, lat: 35.900, lng: 118.780 },
    TownshipDef { name: "高庄镇", weight: 31, lat: 35.845, lng: 118.700 },
    TownshipDef { name: "许家湖镇", weight: 54, lat: 35.670, lng: 118.550 },
    TownshipDef { name: "黄山铺镇", weight: 47, lat: 35.745, lng: 118.800 },
    TownshipDef { name: "诸葛镇", weight: 70, lat: 35.830, lng: 118.895 },
    TownshipDef { name: "崔家峪镇", weight: 31, lat: 35.680, lng: 118.420 },
    TownshipDef { name: "四十里堡镇", weight: 62, lat: 35.985, lng: 118.760 },
    TownshipDef { name: "杨庄镇", weight: 59, lat: 35.620, lng: 118.670 },
    TownshipDef { name: "夏蔚镇", weight: 43, lat: 35.960, lng: 118.480 },
    TownshipDef { name: "沙沟镇", weight: 67, lat: 36.050, lng: 118.520 },
    TownshipDef { name: "高桥镇", weight: 56, lat: 35.900, lng: 118.580 },
    TownshipDef { name: "富官庄镇", weight: 43, lat: 35.860, lng: 118.440 },
    TownshipDef { name: "院东头镇", weight: 27, lat: 35.760, lng: 118.380 },
    TownshipDef { name: "泉庄镇", weight: 32, lat: 35.600, lng: 118.500 },
    TownshipDef { name: "马站镇", weight: 63, lat: 36.080, lng: 118.680 },
    TownshipDef { name: "圈里乡", weight: 37, lat: 36.050, lng: 118.850 },
];

/// The county seat's coordinates.
pub(crate) const COUNTY_LAT: f64 = 35.79;
pub(crate) const COUNTY_LNG: f64 = 118.63;

/// Splits `total` over `weights` by the largest-remainder method; the parts sum to `total`.
fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    let mut given = 0usize;
    for (i, &w) in weights.iter().enumerate() {
        let exact = total as u64 * u64::from(w);
        let q = (exact / sum) as usize;
        parts.push(q);
        rems.push((exact % sum, i));
        given += q;
    }
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rems.iter().take(total - given) {
        parts[i] += 1;
    }
    parts
}

/// The county's 18 townships (2 sub-districts, 15 towns, 1 township) with plausible villages
/// and communities, and exactly `grids` grids spread over them in proportion to population.
/// With at least 18 grids every township gets one or more; with fewer, some have none.
/// The same `seed` always gives the same plan.
pub fn county_plan(grids: usize, seed: u64) -> CountyPlan {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5E_ED_C0_07_u64);
    let weights: Vec<u32> = TOWNSHIPS.iter().map(|t| t.weight).collect();
    let per_township = if grids >= TOWNSHIPS.len() {
        let mut p = apportion(grids - TOWNSHIPS.len(), &weights);
        p.iter_mut().for_each(|n| *n += 1);
        p
    } else {
        apportion(grids, &weights)
    };
    let mut used: HashSet<String> = HashSet::new();
    let townships = TOWNSHIPS
        .iter()
        .zip(per_township)
        .map(|(def, n)| TownshipPlan {
            name: def.name.to_string(),
            villages: villages_for(def.name, n, &mut rng, &mut used),
        })
        .collect();
    CountyPlan { name: "沂水县".into(), townships }
}

fn stem(township: &str) -> &str {
    township
        .strip_suffix("街道")
        .or_else(|| township.strip_suffix('镇'))
        .or_else(|| township.strip_suffix('乡'))
        .unwrap_or(township)
}

fn village(name: String, grids: usize) -> VillagePlan {
    let grids = (1..=grids).map(|i| format!("{name}第{i}网格")).collect();
    VillagePlan { name, grids }
}

fn villages_for(township: &str, mut left: usize, rng: &mut StdRng, used: &mut HashSet<String>) -> Vec<VillagePlan> {
    let mut out = Vec::new();
    if left == 0 {
        return out;
    }
    let sub_district = township.ends_with("街道");
    if sub_district {
        // Urban communities of several grids each; the seat has more of them.
        let urban_share = if township == "沂城街道" { 0.7 } else { 0.4 };
        let mut urban = ((left as f64) * urban_share).round() as usize;
        let mut pool: Vec<&str> = names::SEAT_COMMUNITIES.to_vec();
        let mut k = 0;
        while urban > 0 {
            let n = rng.random_range(4..=12).min(urban);
            let name = loop {
                let candidate = if !pool.is_empty() {
                    let i = rng.random_range(0..pool.len());
                    format!("{}社区", pool.swap_remove(i))
                } else {
                    k += 1;
                    format!("{}新区{}社区", stem(township), k)
                };
                if used.insert(candidate.clone()) {
                    break candidate;
                }
            };
            out.push(village(name, n));
            urban -= n;
            left -= n;
        }
    } else if left >= 8 {
        // The town seat (驻地) is a community with a few grids.
        let n = rng.random_range(2..=4);
        let name = format!("{}社区", stem(township));
        if used.insert(name.clone()) {
            out.push(village(name, n));
            left -= n;
        }
    }
    while left > 0 {
        let n = match rng.random_range(0..100) {
            0..65 => 1,
            65..90 => 2,
            90..98 => 3,
            _ => 4,
        }
        .min(left);
        out.push(village(village_name(rng, used), n));
        left -= n;
    }
    out
}

/// A rural village name unique within the county, e.g. `王家庄村`, `东坡村`, `西刘家庄村`.
fn village_name(rng: &mut StdRng, used: &mut HashSet<String>) -> String {
    let pick = |rng: &mut StdRng, s: &[&'static str]| s[rng.random_range(0..s.len())];
    for attempt in 0..64 {
        let base = match rng.random_range(0..100) {
            0..40 => format!("{}{}", names::surname(rng), pick(rng, CLAN_SUFFIXES)),
            40..65 => format!("{}{}", pick(rng, DIRECTIONS), pick(rng, PLACE_CORES)),
            65..80 => format!("{}{}{}", pick(rng, DIRECTIONS), names::surname(rng), pick(rng, CLAN_SUFFIXES)),
            80..90 => pick(rng, DESCRIPTIVE).to_string(),
            _ => format!("{}{}", names::surname(rng), pick(rng, PLACE_CORES)),
        };
        // Split villages are numbered: 沙沟一村, 沙沟二村.
        let name = if attempt > 48 { format!("{base}{}村", pick(rng, NUMERALS)) } else { format!("{base}村") };
        if used.insert(name.clone()) {
            return name;
        }
    }
    // Practically unreachable: fall back to a numbered name that cannot collide.
    let name = format!("新村{}村", used.len() + 1);
    used.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_exactly() {
        for total in [0, 1, 17, 18, 100, 1358, 5000] {
            let w: Vec<u32> = TOWNSHIPS.iter().map(|t| t.weight).collect();
            assert_eq!(apportion(total, &w).iter().sum::<usize>(), total);
        }
    }

    #[test]
    fn township_centres_are_near_the_seat() {
        for t in &TOWNSHIPS {
            assert!((t.lat - COUNTY_LAT).abs() <= 0.3, "{}", t.name);
            assert!((t.lng - COUNTY_LNG).abs() <= 0.3, "{}", t.name);
        }
    }
}
