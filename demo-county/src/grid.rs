//! (Long on purpose: one grid's people, houses and households are generated together, each
//! choice depending on the ones before it; split, the generator's one sequence of random draws
//! would be spread over files that only make sense read in order.)
//!
//! One grid's base records: houses (实有房屋), households and residents (实有人口).

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sync_protocol::model::{House, Resident};
use sync_protocol::validate::id_check_char;
use uuid::Uuid;

use crate::names::{self, FEMALE, MALE};
use crate::plan::{COUNTY_LAT, COUNTY_LNG, TOWNSHIPS};
use crate::util::{DAY, between, chance, china_time, date_string, fnv, pick, unit, uuid_at};

/// Who a household member is to the household head (与户主关系).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rel {
    Head,
    Spouse,
    Child,
    Parent,
    Grandchild,
    Tenant,
    Other,
}

impl Rel {
    fn as_str(self) -> &'static str {
        match self {
            Rel::Head => "head",
            Rel::Spouse => "spouse",
            Rel::Child => "child",
            Rel::Parent => "parent",
            Rel::Grandchild => "grandchild",
            Rel::Tenant => "tenant",
            Rel::Other => "other",
        }
    }
}

/// Household shapes common in rural Shandong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One old person (独居老人).
    SingleElder,
    /// One adult of working age.
    SingleAdult,
    /// An old couple (空巢).
    ElderCouple,
    /// A middle-aged couple, maybe with a grown child.
    MiddleCouple,
    /// A young couple with children.
    YoungFamily,
    /// Head, spouse, children and the head's parents.
    ThreeGen,
    /// Grandparents raising grandchildren while the parents work away (隔代).
    SkipGen,
    /// Tenants from elsewhere (流动人口) in a rented house.
    Tenants,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub rel: Rel,
    pub male: bool,
    pub age: u8,
    /// Registered here but working or studying elsewhere.
    pub away: bool,
    /// Carries the household's family-line surname (men of the line and their children).
    pub line: bool,
    /// Generation relative to the head: -1 parents, 0 head, 1 children, 2 grandchildren.
    pub generation: i8,
}

pub(crate) struct Household {
    pub kind: Kind,
    pub members: Vec<Member>,
    pub site: Option<usize>,
    /// Old people whose children all work elsewhere (留守老人).
    pub elders_left_behind: bool,
    /// The residents of this household are `residents[first..first + members.len()]`.
    pub first: usize,
}

impl Household {
    pub fn range(&self) -> std::ops::Range<usize> {
        self.first..self.first + self.members.len()
    }
}

/// A house's address and physical facts, before its owner is known.
pub(crate) struct Site {
    pub id: Uuid,
    pub street: Option<String>,
    pub building: Option<u16>,
    pub unit: Option<u8>,
    pub floor: Option<u8>,
    pub door: String,
    pub structure: &'static str,
    pub area: f64,
    pub usage: &'static str,
    pub rented: bool,
    pub hazards: Option<&'static str>,
    pub lat: f64,
    pub lng: f64,
}

impl Site {
    pub fn occupiable(&self) -> bool {
        matches!(self.usage, "residential" | "mixed")
    }
}

/// What the rest of generation needs to know about the grid.
pub(crate) struct Ctx<'a> {
    pub township: &'a str,
    pub village: &'a str,
    pub urban: bool,
    pub today: NaiveDate,
    pub now_ms: i64,
    /// Family-line surnames that dominate a village (同姓聚居).
    pub clans: Vec<&'static str>,
    pub lat: f64,
    pub lng: f64,
}

impl<'a> Ctx<'a> {
    pub fn new(township: &'a str, village: &'a str, now_ms: i64, rng: &mut StdRng) -> Self {
        let urban = village.ends_with("社区");
        let today = china_time(now_ms).date();
        let mut clans = Vec::new();
        if !urban {
            // 王家庄村 → 王; otherwise one or two surnames dominate anyway.
            if let Some(pos) = village.find('家') {
                let s = &village[..pos];
                let s = names::DIRECTIONS.iter().find_map(|d| s.strip_prefix(d)).unwrap_or(s);
                if let Some(&(n, _)) = names::SURNAMES.iter().find(|(n, _)| *n == s) {
                    clans.push(n);
                }
            }
            while clans.len() < 2 {
                let s = names::surname(rng);
                if !clans.contains(&s) {
                    clans.push(s);
                }
            }
        }
        let (tlat, tlng) = TOWNSHIPS.iter().find(|t| t.name == township).map(|t| (t.lat, t.lng)).unwrap_or_else(|| {
            let h = fnv(township);
            (COUNTY_LAT + 0.2 * unit(h), COUNTY_LNG + 0.2 * unit(h.rotate_left(29)))
        });
        let hv = fnv(village);
        let spread = if urban { 0.02 } else { 0.045 };
        let lat = (tlat + spread * unit(hv)).clamp(COUNTY_LAT - 0.3, COUNTY_LAT + 0.3);
        let lng = (tlng + spread * unit(hv.rotate_left(31))).clamp(COUNTY_LNG - 0.3, COUNTY_LNG + 0.3);
        // Grids of one village lie side by side.
        let lat = lat + rng.random_range(-0.004..0.004);
        let lng = lng + rng.random_range(-0.004..0.004);
        Ctx { township, village, urban, today, now_ms, clans, lat, lng }
    }

    fn line_surname(&self, rng: &mut StdRng) -> &'static str {
        if !self.clans.is_empty() && chance(rng, 0.45) {
            if chance(rng, 0.7) { self.clans[0] } else { pick(rng, &self.clans) }
        } else {
            names::surname(rng)
        }
    }
}

/// An id for a base record entered during the 20 days after `reg_ms`.
fn registered_id(rng: &mut StdRng, reg_ms: i64) -> Uuid {
    let at = reg_ms + rng.random_range(0..20 * DAY);
    uuid_at(rng, at)
}

fn triangular(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    let u: f64 = (rng.random::<f64>() + rng.random::<f64>()) / 2.0;
    lo + (hi - lo) * u
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------------------------
// Houses

pub(crate) fn layout_houses(ctx: &Ctx, count: usize, reg_ms: i64, rng: &mut StdRng) -> Vec<Site> {
    let mut sites = Vec::with_capacity(count);
    if ctx.urban {
        urban_sites(ctx, count, reg_ms, rng, &mut sites);
    } else {
        rural_sites(ctx, count, reg_ms, rng, &mut sites);
    }
    sites
}

const URBAN_HAZARDS: &[&str] =
    &["楼道堆放杂物，堵塞消防通道", "电动车在楼道内充电", "燃气软管老化", "私拉电线给电动车充电"];
const SHOP_HAZARDS: &[&str] = &["店内灭火器过期", "前店后宅，住人区与经营区未分隔", "门头广告牌松动"];
const RURAL_HAZARDS: &[&str] =
    &["私拉乱接电线", "院内存放液化气罐，未固定", "冬季燃煤取暖，未装烟道", "院墙倾斜", "柴草堆紧靠房屋"];
const OLD_HOUSE_HAZARDS: &[&str] =
    &["土木结构老房，墙体开裂，雨季需防倒塌", "屋顶漏雨，梁木糟朽", "危房，已建议户主搬离"];

fn urban_sites(ctx: &Ctx, count: usize, reg_ms: i64, rng: &mut StdRng, sites: &mut Vec<Site>) {
    let frontage = ((count as f64) * rng.random_range(0.06..0.14)).round() as usize;
    let mut apartments = count - frontage.min(count);
    let mut streets: Vec<String> = Vec::new();
    while apartments > 0 {
        let mut street = format!("{}{}", pick(rng, names::ROADS), pick(rng, names::COMPOUNDS));
        if streets.contains(&street) {
            street.push_str(names::NUMERALS[streets.len() % 10]);
            street.push('期');
        }
        streets.push(street.clone());
        let clat = ctx.lat + rng.random_range(-0.003..0.003);
        let clng = ctx.lng + rng.random_range(-0.003..0.003);
        let buildings = between(rng, 4, 12);
        for b in 1..=buildings {
            if apartments == 0 {
                break;
            }
            let high = chance(rng, 0.3);
            let floors = if high { between(rng, 11, 18) } else { between(rng, 5, 6) };
            let units = if high { 2 } else { between(rng, 2, 3) };
            let per_floor = if high { between(rng, 2, 3) } else { 2 };
            let structure = if high || chance(rng, 0.45) { "reinforced_concrete" } else { "brick_concrete" };
            let blat = clat + rng.random_range(-0.0008..0.0008);
            let blng = clng + rng.random_range(-0.0008..0.0008);
            let base_area = triangular(rng, 60.0, 140.0);
            'units: for u in 1..=units {
                for f in 1..=floors {
                    for d in 1..=per_floor {
                        if apartments == 0 {
                            break 'units;
                        }
                        apartments -= 1;
                        let vacant = chance(rng, 0.04);
                        let area = base_area + if d % 2 == 0 { 8.5 } else { 0.0 };
                        sites.push(Site {
                            id: registered_id(rng, reg_ms),
                            street: Some(street.clone()),
                            building: Some(b as u16),
                            unit: Some(u as u8),
                            floor: Some(f as u8),
                            door: format!("{f}{d:02}"),
                            structure,
                            area: round2(area),
                            usage: if vacant { "vacant" } else { "residential" },
                            rented: !vacant && chance(rng, 0.14),
                            hazards: chance(rng, 0.015).then(|| pick(rng, URBAN_HAZARDS)),
                            lat: blat,
                            lng: blng,
                        });
                    }
                }
            }
        }
    }
    // Street-front houses: shops with living space behind (前店后宅) and old single-storey houses.
    let road = pick(rng, names::ROADS);
    let mut number = between(rng, 1, 60) * 2;
    let rlat = ctx.lat + rng.random_range(-0.003..0.003);
    let rlng = ctx.lng + rng.random_range(-0.003..0.003);
    for i in 0..frontage.min(count) {
        let usage = match rng.random_range(0..10) {
            0..5 => "mixed",
            5..8 => "commercial",
            _ => "residential",
        };
        let hazards = if usage == "residential" {
            chance(rng, 0.03).then(|| pick(rng, RURAL_HAZARDS))
        } else {
            chance(rng, 0.08).then(|| pick(rng, SHOP_HAZARDS))
        };
        sites.push(Site {
            id: registered_id(rng, reg_ms),
            street: Some(road.to_string()),
            building: None,
            unit: None,
            floor: None,
            door: number.to_string(),
            structure: if chance(rng, 0.8) { "brick_concrete" } else { "brick_wood" },
            area: round2(triangular(rng, 50.0, 220.0)),
            usage,
            rented: chance(rng, 0.35),
            hazards,
            lat: rlat + 0.00012 * i as f64,
            lng: rlng + rng.random_range(-0.0001..0.0001),
        });
        number += 2;
    }
}

fn rural_sites(ctx: &Ctx, count: usize, reg_ms: i64, rng: &mut StdRng, sites: &mut Vec<Site>) {
    // Some villages number houses village-wide (东坡村123号), others along lanes (前街12号);
    // either way door numbers run once through the grid, so they are unique.
    let lanes: Vec<&'static str> = if chance(rng, 0.6) {
        let mut l = names::LANES.to_vec();
        l.shuffle(rng);
        l.truncate(between(rng, 2, 4) as usize);
        l
    } else {
        Vec::new()
    };
    let per_lane = count.div_ceil(lanes.len().max(1)).max(1);
    let cols = 12usize;
    for i in 0..count {
        let street = (!lanes.is_empty()).then(|| lanes[i / per_lane].to_string());
        let structure = match rng.random_range(0..100) {
            0..72 => "brick_concrete",
            72..86 => "brick_wood",
            86..91 => "earth_wood",
            91..98 => "reinforced_concrete",
            _ => "other",
        };
        let area = if structure == "earth_wood" { triangular(rng, 45.0, 120.0) } else { triangular(rng, 80.0, 240.0) };
        let usage = match rng.random_range(0..100) {
            0..91 => "residential",
            91..97 => "vacant",
            97..99 => "mixed",
            _ => "other",
        };
        let hazards = if structure == "earth_wood" {
            chance(rng, 0.45).then(|| pick(rng, OLD_HOUSE_HAZARDS))
        } else {
            chance(rng, 0.025).then(|| pick(rng, RURAL_HAZARDS))
        };
        let (row, col) = (i / cols, i % cols);
        sites.push(Site {
            id: registered_id(rng, reg_ms),
            street,
            building: None,
            unit: None,
            floor: None,
            door: (i + 1).to_string(),
            structure,
            area: round2(area),
            usage,
            rented: usage == "residential" && chance(rng, 0.105),
            hazards,
            lat: ctx.lat - 0.00025 * row as f64 + rng.random_range(-0.00004..0.00004),
            lng: ctx.lng + 0.0002 * col as f64 + rng.random_range(-0.00004..0.00004),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Households

fn mem(rel: Rel, male: bool, age: i32, line: bool, generation: i8) -> Member {
    Member { rel, male, age: age.clamp(0, 100) as u8, away: false, line, generation }
}

/// Husband aged `h` and his wife; the husband is head with probability `male_head`.
/// Returns the wife's age.
fn couple(rng: &mut StdRng, h: i32, male_head: f64, out: &mut Vec<Member>) -> i32 {
    let w = (h - between(rng, 0, 4)).max(20);
    if chance(rng, male_head) {
        out.push(mem(Rel::Head, true, h, true, 0));
        out.push(mem(Rel::Spouse, false, w, false, 0));
    } else {
        out.push(mem(Rel::Head, false, w, false, 0));
        out.push(mem(Rel::Spouse, true, h, true, 0));
    }
    w
}

/// Up to `k` children of a mother aged `mother`, eldest first.
fn children(rng: &mut StdRng, mother: i32, k: u32, rel: Rel, generation: i8, out: &mut Vec<Member>) {
    let mut age = mother - between(rng, 21, 34);
    for _ in 0..k {
        if age < 0 {
            break;
        }
        out.push(mem(rel, chance(rng, 0.53), age, true, generation));
        age -= between(rng, 2, 6);
    }
}

fn pick_kind(rng: &mut StdRng, urban: bool) -> Kind {
    const RURAL: &[(Kind, u32)] = &[
        (Kind::SingleElder, 16),
        (Kind::SingleAdult, 3),
        (Kind::ElderCouple, 20),
        (Kind::MiddleCouple, 15),
        (Kind::YoungFamily, 17),
        (Kind::ThreeGen, 16),
        (Kind::SkipGen, 5),
    ];
    const URBAN: &[(Kind, u32)] = &[
        (Kind::SingleElder, 10),
        (Kind::SingleAdult, 6),
        (Kind::ElderCouple, 16),
        (Kind::MiddleCouple, 16),
        (Kind::YoungFamily, 30),
        (Kind::ThreeGen, 14),
        (Kind::SkipGen, 2),
    ];
    if urban {
        *names::weighted(rng, URBAN, names::weight_total(URBAN))
    } else {
        *names::weighted(rng, RURAL, names::weight_total(RURAL))
    }
}

fn build_household(kind: Kind, rng: &mut StdRng) -> Vec<Member> {
    let mut m = Vec::with_capacity(6);
    match kind {
        Kind::SingleElder => {
            let male = chance(rng, 0.35);
            let age = 64 + between(rng, 0, 14) + between(rng, 0, 14);
            m.push(mem(Rel::Head, male, age, male, 0));
        }
        Kind::SingleAdult => {
            let male = chance(rng, 0.78);
            m.push(mem(Rel::Head, male, between(rng, 26, 62), male, 0));
        }
        Kind::ElderCouple => {
            let h = 60 + between(rng, 0, 12) + between(rng, 0, 12);
            couple(rng, h, 0.92, &mut m);
        }
        Kind::MiddleCouple => {
            let h = between(rng, 45, 62);
            let w = couple(rng, h, 0.94, &mut m);
            if chance(rng, 0.55) {
                let age = w - between(rng, 22, 30);
                if age >= 16 {
                    m.push(mem(Rel::Child, chance(rng, 0.55), age, true, 1));
                }
            }
        }
        Kind::YoungFamily => {
            let h = between(rng, 25, 45);
            let w = couple(rng, h, 0.9, &mut m);
            let k = match rng.random_range(0..100) {
                0..42 => 1,
                42..94 => 2,
                _ => 3,
            };
            children(rng, w, k, Rel::Child, 1, &mut m);
        }
        Kind::ThreeGen => {
            let h = between(rng, 27, 48);
            let w = couple(rng, h, 1.0, &mut m);
            let father = (h + between(rng, 22, 32)).min(95);
            let mother = (father - between(rng, 0, 4)).max(h + 20);
            match rng.random_range(0..100) {
                0..65 => {
                    m.push(mem(Rel::Parent, true, father, true, -1));
                    m.push(mem(Rel::Parent, false, mother, false, -1));
                }
                65..90 => m.push(mem(Rel::Parent, false, mother, false, -1)),
                _ => m.push(mem(Rel::Parent, true, father, true, -1)),
            }
            let k = if chance(rng, 0.45) { 1 } else { 2 };
            children(rng, w, k, Rel::Child, 1, &mut m);
        }
        Kind::SkipGen => {
            let son = between(rng, 25, 40);
            let grandma = son + between(rng, 22, 30);
            let grandpa = grandma + between(rng, 0, 4);
            if chance(rng, 0.8) {
                m.push(mem(Rel::Head, true, grandpa, true, 0));
                m.push(mem(Rel::Spouse, false, grandma, false, 0));
            } else {
                m.push(mem(Rel::Head, false, grandma, false, 0));
            }
            let dil = (son - between(rng, 0, 4)).max(20);
            m.push(mem(Rel::Child, true, son, true, 1));
            // 儿媳: not among the listed relations, so `other`.
            m.push(mem(Rel::Other, false, dil, false, 1));
            let k = if chance(rng, 0.55) { 1 } else { 2 };
            children(rng, dil, k, Rel::Grandchild, 2, &mut m);
        }
        Kind::Tenants => {
            let r = rng.random_range(0..100);
            if r < 35 {
                let male = chance(rng, 0.7);
                m.push(mem(Rel::Tenant, male, between(rng, 19, 52), male, 0));
            } else {
                let h = between(rng, 22, 46);
                let w = (h - between(rng, 0, 4)).max(20);
                m.push(mem(Rel::Tenant, true, h, true, 0));
                m.push(mem(Rel::Tenant, false, w, false, 0));
                let k = match r {
                    35..60 => 0,
                    60..90 => 1,
                    _ => 2,
                };
                children(rng, w, k, Rel::Tenant, 1, &mut m);
            }
        }
    }
    m
}

/// Adds one more child (or grandchild) younger than the youngest, if the mother's age allows.
fn grow(h: &mut Household, rng: &mut StdRng) -> bool {
    let (rel, generation) = match h.kind {
        Kind::YoungFamily | Kind::ThreeGen | Kind::MiddleCouple => (Rel::Child, 1),
        Kind::SkipGen => (Rel::Grandchild, 2),
        _ => return false,
    };
    let mother = h
        .members
        .iter()
        .filter(|m| m.generation == generation - 1 && !m.male && m.rel != Rel::Parent)
        .chain(h.members.iter().filter(|m| m.generation == generation - 1))
        .map(|m| i32::from(m.age))
        .next();
    let Some(mother) = mother else { return false };
    let youngest =
        h.members.iter().filter(|m| m.generation == generation && m.rel == rel).map(|m| i32::from(m.age)).min();
    let age = match youngest {
        Some(y) => y - between(rng, 2, 5),
        None => mother - between(rng, 22, 34),
    };
    if age < 0 || mother - age < 19 || mother - age > 46 {
        return false;
    }
    h.members.push(mem(rel, chance(rng, 0.53), age, true, generation));
    true
}

/// Sizes the households so that they hold exactly `target` people.
fn fit_to(households: &mut [Household], target: usize, rng: &mut StdRng) {
    let mut total: usize = households.iter().map(|h| h.members.len()).sum();
    if total < target {
        let mut growable: Vec<usize> = (0..households.len()).filter(|&i| households[i].kind != Kind::Tenants).collect();
        while total < target {
            if growable.is_empty() {
                // Nothing more fits naturally: a relative moves in.
                let i = rng.random_range(0..households.len());
                let age = between(rng, 18, 70);
                let male = chance(rng, 0.5);
                households[i].members.push(mem(Rel::Other, male, age, false, 0));
                total += 1;
                continue;
            }
            let k = rng.random_range(0..growable.len());
            if grow(&mut households[growable[k]], rng) {
                total += 1;
            } else {
                growable.swap_remove(k);
            }
        }
    }
    let mut candidates = Vec::with_capacity(households.len());
    while total > target {
        for (min_len, tenants) in [(3, false), (2, false), (2, true)] {
            candidates.clear();
            candidates.extend((0..households.len()).filter(|&i| {
                households[i].members.len() >= min_len && (households[i].kind == Kind::Tenants) == tenants
            }));
            if !candidates.is_empty() {
                break;
            }
        }
        if candidates.is_empty() {
            break; // cannot happen: there are never more households than people
        }
        // Shrink a few at a time from the candidate list before recomputing it.
        candidates.shuffle(rng);
        for &i in candidates.iter().take(total - target) {
            households[i].members.pop();
            total -= 1;
        }
    }
}

/// Decides who works or studies away from home.
fn send_away(h: &mut Household, urban: bool, rng: &mut StdRng) {
    let f = if urban { 0.35 } else { 1.0 };
    let husband =
        h.members.iter().position(|m| m.generation == 0 && m.male && matches!(m.rel, Rel::Head | Rel::Spouse));
    let wife = h.members.iter().position(|m| m.generation == 0 && !m.male && matches!(m.rel, Rel::Head | Rel::Spouse));
    let working = |m: &Member| (18..=59).contains(&m.age);
    match h.kind {
        Kind::YoungFamily | Kind::ThreeGen => {
            let has_kids = h.members.iter().any(|m| m.generation == 1);
            let has_elders = h.members.iter().any(|m| m.generation == -1);
            let r: f64 = rng.random();
            if let (Some(hb), Some(wf)) = (husband, wife) {
                if has_kids && has_elders && r < 0.12 * f {
                    h.members[hb].away = true;
                    h.members[wf].away = true;
                } else if r < 0.30 * f && working(&h.members[hb]) {
                    h.members[hb].away = true;
                }
            }
        }
        Kind::MiddleCouple => {
            for m in h.members.iter_mut().filter(|m| m.generation == 1) {
                m.away = m.age >= 18 && chance(rng, 0.6);
            }
            if let (Some(hb), Some(_)) = (husband, wife)
                && working(&h.members[hb])
                && chance(rng, 0.12 * f)
            {
                h.members[hb].away = true;
            }
        }
        Kind::SkipGen => {
            for m in h.members.iter_mut().filter(|m| m.generation == 1) {
                m.away = true;
            }
        }
        Kind::ElderCouple | Kind::SingleElder => {
            h.elders_left_behind = chance(rng, 0.45 * f);
        }
        Kind::SingleAdult | Kind::Tenants => {}
    }
}

pub(crate) fn plan_households(ctx: &Ctx, sites: &mut [Site], residents: usize, rng: &mut StdRng) -> Vec<Household> {
    if residents == 0 {
        return Vec::new();
    }
    let mut occupied: Vec<usize> = (0..sites.len()).filter(|&i| sites[i].occupiable()).collect();
    if occupied.is_empty() && !sites.is_empty() {
        // Everyone needs a roof: empty houses are lived in after all.
        for s in sites.iter_mut() {
            s.usage = if s.usage == "commercial" { "mixed" } else { "residential" };
        }
        occupied = (0..sites.len()).collect();
    }
    if occupied.len() > residents {
        // Fewer people than homes: the rest stand empty.
        occupied.shuffle(rng);
        for &i in &occupied[residents..] {
            sites[i].usage = "vacant";
            sites[i].rented = false;
        }
        occupied.truncate(residents);
        occupied.sort_unstable();
    }
    let mut households: Vec<Household> = Vec::with_capacity(occupied.len().max(1));
    let mut add = |site: Option<usize>, rented: bool, rng: &mut StdRng| {
        let kind = if rented { Kind::Tenants } else { pick_kind(rng, ctx.urban) };
        households.push(Household {
            kind,
            members: build_household(kind, rng),
            site,
            elders_left_behind: false,
            first: 0,
        });
    };
    if sites.is_empty() {
        let n = ((residents as f64 / 2.8).round() as usize).clamp(1, residents);
        for _ in 0..n {
            add(None, false, rng);
        }
    } else {
        for &i in &occupied {
            add(Some(i), sites[i].rented, rng);
        }
    }
    fit_to(&mut households, residents, rng);
    let mut first = 0;
    for h in &mut households {
        send_away(h, ctx.urban, rng);
        h.first = first;
        first += h.members.len();
    }
    households
}

// ---------------------------------------------------------------------------------------------
// Residents

const DISABILITIES: &[&str] = &[
    "肢体残疾三级，已办残疾证",
    "肢体残疾二级，行动不便",
    "视力残疾二级",
    "听力残疾四级",
    "智力残疾三级",
    "精神残疾二级",
];
const KEY_PERSON_NOTES: &[&str] = &[
    "社区矫正对象，每月到司法所报到",
    "严重精神障碍患者，按时服药，监护人为其家属",
    "刑满释放人员，已落实安置帮教",
    "信访重点人员，需做好思想疏导",
];
const TENANT_NOTES: &[&str] =
    &["租住，在县经济开发区企业务工", "租住，在附近建筑工地务工", "租住，做小生意", "租住，跑运输"];
const ELDER_NOTES: &[&str] = &["身体状况一般，患高血压", "患糖尿病，需定期随访", "腿脚不便，需关注", "身体硬朗"];

/// A given name for a sex and birth year.
pub(crate) fn given_name(rng: &mut StdRng, male: bool, year: i32) -> &'static str {
    let table = if male { &MALE } else { &FEMALE };
    let t = &table[names::era(year)];
    if chance(rng, t.single_share) { pick(rng, t.one) } else { pick(rng, t.two) }
}

/// A whole name for an adult not on record (a landlord living elsewhere, a party from outside).
pub(crate) fn stranger_name(rng: &mut StdRng, this_year: i32) -> String {
    let year = this_year - between(rng, 30, 70);
    let male = chance(rng, 0.75);
    let s = names::surname(rng);
    let g = given_name(rng, male, year);
    let mut n = String::with_capacity(s.len() + g.len());
    n.push_str(s);
    n.push_str(g);
    n
}

pub(crate) struct People<'a> {
    rng: &'a mut StdRng,
    ctx: &'a Ctx<'a>,
    ids: HashSet<[u8; 17]>,
    phones: HashSet<u64>,
    reg_ms: i64,
}

impl<'a> People<'a> {
    pub fn new(ctx: &'a Ctx<'a>, rng: &'a mut StdRng, reg_ms: i64, residents: usize) -> Self {
        People { rng, ctx, ids: HashSet::with_capacity(residents), phones: HashSet::with_capacity(residents), reg_ms }
    }

    pub fn rng(&mut self) -> &mut StdRng {
        self.rng
    }

    fn birth_date(&mut self, age: u8) -> NaiveDate {
        let age = u64::from(age);
        let days = age * 365 + age / 4 + self.rng.random_range(1..365);
        self.ctx.today.checked_sub_days(Days::new(days)).unwrap_or(self.ctx.today)
    }

    /// A person's given name for their sex and birth year.
    pub fn given(&mut self, male: bool, year: i32) -> &'static str {
        given_name(self.rng, male, year)
    }

    /// A whole name for someone not on record (a landlord living elsewhere).
    pub fn stranger_name(&mut self) -> String {
        stranger_name(self.rng, self.ctx.today.year())
    }

    fn id_number(&mut self, region: &str, birth: NaiveDate, male: bool) -> String {
        let mut b = [b'0'; 18];
        b[..6].copy_from_slice(&region.as_bytes()[..6]);
        let (y, m, d) = (birth.year() as u32, birth.month(), birth.day());
        let digits = [y / 1000, y / 100 % 10, y / 10 % 10, y % 10, m / 10, m % 10, d / 10, d % 10];
        for (i, v) in digits.into_iter().enumerate() {
            b[6 + i] = b'0' + v as u8;
        }
        loop {
            let seq: u32 = self.rng.random_range(0..100);
            b[14] = b'0' + (seq / 10) as u8;
            b[15] = b'0' + (seq % 10) as u8;
            b[16] = b'0' + (self.rng.random_range(0..5u8) * 2 + u8::from(male));
            let mut key = [0u8; 17];
            key.copy_from_slice(&b[..17]);
            if self.ids.insert(key) {
                break;
            }
        }
        let first17 = std::str::from_utf8(&b[..17]).unwrap_or_default();
        b[17] = id_check_char(first17).unwrap_or('0') as u8;
        String::from_utf8_lossy(&b).into_owned()
    }

    fn phone(&mut self) -> String {
        loop {
            let p = u64::from(pick(self.rng, names::MOBILE_PREFIXES)) * 100_000_000
                + self.rng.random_range(0..100_000_000u64);
            if self.phones.insert(p) {
                return p.to_string();
            }
        }
    }

    fn phone_chance(age: u8) -> f64 {
        match age {
            0..14 => 0.0,
            14..18 => 0.3,
            18..60 => 0.86,
            60..70 => 0.55,
            70..80 => 0.3,
            _ => 0.1,
        }
    }

    /// Turns a planned household into resident records.
    pub fn materialize(
        &mut self,
        h: &Household,
        house_id: Option<Uuid>,
        overseas_member: Option<usize>,
        out: &mut Vec<Resident>,
    ) {
        let tenants = h.kind == Kind::Tenants;
        let line_surname = if tenants { names::surname(self.rng) } else { self.ctx.line_surname(self.rng) };
        let hui_household = chance(self.rng, if names::HUI_SURNAMES.contains(&line_surname) { 0.12 } else { 0.003 });
        let generation_char = chance(self.rng, 0.35).then(|| pick(self.rng, names::GENERATION_CHARS));

        // Facts about the household that decide categories.
        let present = h.members.iter().filter(|m| !m.away).count();
        // Whether the adults of a generation (index generation + 1) are all away: working-age
        // ones for the old (留守老人), any for children (留守儿童: both parents away).
        let mut working_all_away = [false; 4];
        let mut adults_all_away = [false; 4];
        for (g, (working, adults)) in working_all_away.iter_mut().zip(adults_all_away.iter_mut()).enumerate() {
            let of_gen = |m: &&Member| i32::from(m.generation) + 1 == g as i32 && m.age >= 18;
            let mut w = h.members.iter().filter(of_gen).filter(|m| m.age <= 59).peekable();
            *working = w.peek().is_some() && w.all(|m| m.away);
            let mut a = h.members.iter().filter(of_gen).peekable();
            *adults = a.peek().is_some() && a.all(|m| m.away);
        }
        let children_away = |m: &Member| {
            let g = usize::try_from(i32::from(m.generation) + 2).unwrap_or(usize::MAX);
            working_all_away.get(g).copied().unwrap_or(false)
        };
        let parents_away = |m: &Member| {
            let g = usize::try_from(i32::from(m.generation)).unwrap_or(usize::MAX);
            adults_all_away.get(g).copied().unwrap_or(false)
        };
        let husband_away =
            h.members.iter().any(|m| m.generation == 0 && m.male && m.away && matches!(m.rel, Rel::Head | Rel::Spouse));
        let disabled: [bool; 16] = {
            let mut d = [false; 16];
            for (i, m) in h.members.iter().enumerate().take(16) {
                let p = match m.age {
                    0..18 => 0.005,
                    18..60 => 0.014,
                    _ => 0.05,
                };
                d[i] = !tenants && chance(self.rng, p);
            }
            d
        };
        let single = h.members.len() == 1;
        let low_income = !tenants
            && chance(
                self.rng,
                0.012 + if single { 0.07 } else { 0.0 } + if disabled.iter().any(|&d| d) { 0.25 } else { 0.0 },
            );

        for (i, m) in h.members.iter().enumerate() {
            let overseas = overseas_member == Some(i);
            let birth = self.birth_date(m.age);
            let year = birth.year();
            let mut name = String::with_capacity(12);
            let mut notes: Vec<String> = Vec::new();
            if overseas {
                name.push_str(pick(self.rng, names::VIETNAMESE_SURNAMES));
                name.push_str(pick(self.rng, names::VIETNAMESE_GIVEN));
                notes.push("越南籍，婚嫁来华，持外国人居留许可".into());
            } else {
                let mut s = if m.line { line_surname } else { names::surname(self.rng) };
                if !m.line && s == line_surname {
                    s = names::surname(self.rng);
                }
                name.push_str(s);
                match generation_char {
                    Some(c) if m.male && m.generation == 1 && year < 2000 && !tenants => {
                        name.push_str(c);
                        let t = &MALE[names::era(year)];
                        name.push_str(pick(self.rng, t.one));
                    }
                    _ => name.push_str(self.given(m.male, year)),
                }
            }

            let age = m.age;
            let elder = age >= 60;
            let mut categories: Vec<String> = Vec::with_capacity(3);
            let registered = !overseas && !tenants;
            categories.push(
                if overseas {
                    "overseas"
                } else if tenants {
                    "floating"
                } else {
                    "registered"
                }
                .into(),
            );
            if registered && !m.away && elder && (children_away(m) || h.elders_left_behind) {
                categories.push("left_behind_elderly".into());
            }
            if registered
                && !m.away
                && !m.male
                && (18..=59).contains(&age)
                && matches!(m.rel, Rel::Head | Rel::Spouse)
                && husband_away
            {
                categories.push("left_behind_women".into());
            }
            if registered && !m.away && age < 16 && parents_away(m) {
                categories.push("left_behind_children".into());
            }
            if registered && !m.away && elder && present == 1 {
                categories.push("living_alone".into());
                if chance(self.rng, 0.5) {
                    notes.push(format!("独居，子女在{}", pick(self.rng, names::AWAY_CITIES)));
                } else {
                    notes.push(format!("独居，{}", pick(self.rng, ELDER_NOTES)));
                }
            }
            if disabled.get(i).copied().unwrap_or(false) {
                categories.push("disabled".into());
                notes.push(pick(self.rng, DISABILITIES).into());
            }
            if low_income {
                categories.push("low_income".into());
                if m.rel == Rel::Head {
                    notes.push("低保户".into());
                }
            }
            if registered && (18..=65).contains(&age) && chance(self.rng, 0.003) {
                categories.push("key_person".into());
                notes.push(pick(self.rng, KEY_PERSON_NOTES).into());
            }
            if registered && m.male && (22..=85).contains(&age) && chance(self.rng, 0.045) {
                let enlisted = year + between(self.rng, 18, 20);
                if enlisted <= self.ctx.today.year() - 2 {
                    categories.push("veteran".into());
                    notes.push(format!("退役军人，{enlisted}年入伍"));
                }
            }
            if m.away {
                if h.kind == Kind::MiddleCouple && m.generation == 1 && age <= 22 && chance(self.rng, 0.6) {
                    notes.push(format!("在{}上大学", pick(self.rng, names::STUDY_CITIES)));
                } else {
                    notes.push(format!("外出务工（{}）", pick(self.rng, names::AWAY_CITIES)));
                }
            }
            if tenants && i == 0 {
                notes.push(pick(self.rng, TENANT_NOTES).into());
            }

            let id_number = if overseas {
                None
            } else {
                let region = if tenants {
                    *names::weighted(self.rng, names::FLOATING_REGIONS, names::FLOATING_TOTAL)
                } else if !m.line && matches!(m.rel, Rel::Spouse | Rel::Other | Rel::Parent) && chance(self.rng, 0.18) {
                    // Married in from a neighbouring county.
                    pick(self.rng, names::NEIGHBOUR_REGIONS)
                } else {
                    names::YISHUI_REGION
                };
                Some(self.id_number(region, birth, m.male))
            };
            let phone_p = if overseas { 0.5 } else { Self::phone_chance(age) };
            let phone = chance(self.rng, phone_p).then(|| self.phone());
            let ethnicity = if overseas {
                None
            } else if hui_household && (m.line || chance(self.rng, 0.7)) {
                Some("回族".to_string())
            } else {
                Some("汉族".to_string())
            };
            let at = self.reg_ms + self.rng.random_range(0..20 * DAY);
            out.push(Resident {
                id: uuid_at(self.rng, at),
                name,
                sex: if m.male { "male" } else { "female" }.into(),
                birth_date: date_string(birth),
                id_number,
                phone,
                ethnicity,
                categories,
                relation: Some(m.rel.as_str().into()),
                house_id,
                notes: (!notes.is_empty()).then(|| notes.join("；")),
                archived_reason: None,
                archived_on: None,
            });
        }
    }
}

/// Picks which married-in wives are foreign nationals (境外人员): about 0.2% of residents.
pub(crate) fn overseas_spouses(households: &[Household], residents: usize, rng: &mut StdRng) -> Vec<Option<usize>> {
    let mut out = vec![None; households.len()];
    let expected = residents as f64 * 0.002;
    let mut n = expected.floor() as usize + usize::from(chance(rng, expected.fract()));
    let mut eligible: Vec<usize> = (0..households.len())
        .filter(|&i| {
            let m = &households[i].members;
            households[i].kind != Kind::Tenants
                && m.len() >= 2
                && m[0].male
                && m[1].rel == Rel::Spouse
                && !m[1].male
                && (22..=50).contains(&m[1].age)
        })
        .collect();
    eligible.shuffle(rng);
    for i in eligible {
        if n == 0 {
            break;
        }
        out[i] = Some(1);
        n -= 1;
    }
    out
}

/// Builds the house records once the residents are known.
pub(crate) fn houses(
    ctx: &Ctx,
    sites: Vec<Site>,
    households: &[Household],
    residents: &[Resident],
    people: &mut People,
) -> Vec<House> {
    let mut head_of_site: Vec<Option<usize>> = vec![None; sites.len()];
    let mut heads: Vec<usize> = Vec::with_capacity(households.len());
    for h in households {
        if let Some(s) = h.site {
            head_of_site[s] = Some(h.first);
        }
        if h.kind != Kind::Tenants {
            heads.push(h.first);
        }
    }
    let tenants_at: Vec<bool> = {
        let mut t = vec![false; sites.len()];
        for h in households {
            if let (Some(s), Kind::Tenants) = (h.site, h.kind) {
                t[s] = true;
            }
        }
        t
    };
    sites
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let owner = match head_of_site[i] {
                Some(r) if !tenants_at[i] => residents[r].name.clone(),
                // Landlords and owners of empty houses: often someone from the same grid with a
                // second house, otherwise someone living elsewhere.
                _ if !heads.is_empty() && chance(people.rng(), 0.6) => {
                    let r = heads[people.rng().random_range(0..heads.len())];
                    residents[r].name.clone()
                }
                _ => people.stranger_name(),
            };
            House {
                id: s.id,
                township: ctx.township.to_string(),
                village: ctx.village.to_string(),
                street: s.street,
                building: s.building.map(|b| b.to_string()),
                unit: s.unit.map(|u| u.to_string()),
                floor: s.floor.map(|f| f.to_string()),
                door: s.door,
                structure: Some(s.structure.into()),
                area: Some(s.area),
                usage: Some(s.usage.into()),
                owner: Some(owner),
                rented: Some(s.rented),
                hazards: s.hazards.map(Into::into),
                lat: Some((s.lat * 1e6).round() / 1e6),
                lng: Some((s.lng * 1e6).round() / 1e6),
                archived_reason: None,
                archived_on: None,
            }
        })
        .collect()
}
