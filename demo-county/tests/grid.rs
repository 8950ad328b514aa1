use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate};
use demo_county::{GridData, GridSpec, YISHUI_GRIDS, county_plan, generate_grid, validate_grid};
use sync_protocol::model::{Record, Resident};
use sync_protocol::org::{Author, Role};
use sync_protocol::schema::{self, Collection, validate_record_change};
use sync_protocol::validate::{id_check_char, id_number, mobile};
use uuid::Uuid;

/// 2025-11-20 10:00 China time.
const NOW: i64 = 1_763_604_000_000;

fn worker(n: u128) -> Uuid {
    Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn author(w: Uuid) -> Author {
    Author { account: w, device: Uuid::from_u128(42), role: Role::GridWorker, node: None }
}

fn check_all(g: &GridData, w: Uuid) {
    let a = author(w);
    for r in &g.residents {
        validate_record_change(Collection::Residents, r.id, &r.to_fields(), None, &a)
            .unwrap_or_else(|e| panic!("resident {r:?}: {e}"));
    }
    for h in &g.houses {
        validate_record_change(Collection::Houses, h.id, &h.to_fields(), None, &a)
            .unwrap_or_else(|e| panic!("house {h:?}: {e}"));
    }
    for v in &g.visits {
        validate_record_change(Collection::Visits, v.id, &v.to_fields(), None, &a)
            .unwrap_or_else(|e| panic!("visit {v:?}: {e}"));
    }
    for d in &g.disputes {
        validate_record_change(Collection::Disputes, d.id, &d.to_fields(), None, &a)
            .unwrap_or_else(|e| panic!("dispute {d:?}: {e}"));
    }
    validate_grid(g, w).unwrap();
}

fn china_month(ms: i64) -> (i32, u32) {
    let t = DateTime::from_timestamp_millis(ms + 8 * 3_600_000).unwrap();
    (t.year(), t.month())
}

fn birth(r: &Resident) -> NaiveDate {
    NaiveDate::parse_from_str(&r.birth_date, "%Y-%m-%d").unwrap()
}

fn age(r: &Resident) -> i32 {
    let now = DateTime::from_timestamp_millis(NOW).unwrap().date_naive();
    now.years_since(birth(r)).map_or(0, |y| y as i32)
}

#[test]
fn full_plan_has_18_townships_and_1358_grids() {
    let plan = county_plan(YISHUI_GRIDS, 1);
    assert_eq!(plan.name, "沂水县");
    assert_eq!(plan.townships.len(), 18);
    assert_eq!(plan.grid_count(), 1358);
    assert_eq!(plan.grids().count(), 1358);
    let names: Vec<&str> = plan.townships.iter().map(|t| t.name.as_str()).collect();
    for expected in [
        "沂城街道",
        "龙家圈街道",
        "道托镇",
        "高庄镇",
        "许家湖镇",
        "黄山铺镇",
        "诸葛镇",
        "崔家峪镇",
        "四十里堡镇",
        "杨庄镇",
        "夏蔚镇",
        "沙沟镇",
        "高桥镇",
        "富官庄镇",
        "院东头镇",
        "泉庄镇",
        "马站镇",
        "圈里乡",
    ] {
        assert!(names.contains(&expected), "{expected}");
    }
    // Every township has grids; the county seat has the most.
    let per: Vec<usize> = plan.townships.iter().map(|t| t.villages.iter().map(|v| v.grids.len()).sum()).collect();
    assert!(per.iter().all(|&n| n > 0));
    assert_eq!(per.iter().max(), per.first());
    // Village and grid names are unique county-wide.
    let villages: HashSet<&str> = plan.townships.iter().flat_map(|t| &t.villages).map(|v| v.name.as_str()).collect();
    assert_eq!(villages.len(), plan.townships.iter().map(|t| t.villages.len()).sum::<usize>());
    let grids: HashSet<&str> = plan.grids().map(|(_, _, g)| g).collect();
    assert_eq!(grids.len(), 1358);
    for (_, v, g) in plan.grids() {
        assert!(g.starts_with(v) && g.ends_with("网格"), "{g}");
        assert!(v.ends_with('村') || v.ends_with("社区"), "{v}");
    }
    // Same seed, same plan; another seed, another plan.
    assert_eq!(county_plan(YISHUI_GRIDS, 1), plan);
    assert_ne!(county_plan(YISHUI_GRIDS, 2), plan);
}

#[test]
fn plans_of_any_size_are_exact() {
    for n in [0, 1, 5, 17, 18, 19, 100, 999, 5000] {
        let p = county_plan(n, 3);
        assert_eq!(p.townships.len(), 18);
        assert_eq!(p.grid_count(), n, "{n}");
    }
}

#[test]
fn typical_grids_pass_the_validator_and_have_the_requested_counts() {
    let plan = county_plan(YISHUI_GRIDS, 1);
    // One urban community grid and one village grid.
    let urban = plan.grids().find(|(_, v, _)| v.ends_with("社区")).unwrap();
    let rural = plan.grids().find(|(t, v, _)| t.ends_with('镇') && v.ends_with('村')).unwrap();
    for (i, (t, v, _)) in [urban, rural].into_iter().enumerate() {
        let w = worker(i as u128);
        let spec = GridSpec::typical(t, v, w, NOW, 77 + i as u64);
        let g = generate_grid(&spec);
        assert_eq!(g.residents.len(), 814);
        assert_eq!(g.houses.len(), 301);
        assert_eq!(g.visits.len(), 12 * 60);
        check_all(&g, w);

        let open = g.disputes.iter().filter(|d| d.state(&Default::default()).status.is_open()).count();
        assert_eq!(open, 3, "{t}{v}");
        assert!(g.disputes.len() > 3, "a few resolved ones too");

        // Houses: in the grid's township and village, unique addresses, near Yishui.
        let mut addresses = HashSet::new();
        for h in &g.houses {
            assert_eq!((h.township.as_str(), h.village.as_str()), (t, v));
            assert!(addresses.insert(h.address()), "{}", h.address());
            assert!((h.lat.unwrap() - 35.79).abs() <= 0.31);
            assert!((h.lng.unwrap() - 118.63).abs() <= 0.31);
            assert!(!h.owner.as_deref().unwrap().is_empty());
            if v.ends_with("社区") {
                assert!(h.street.is_some());
            } else {
                assert!(h.building.is_none() && h.unit.is_none() && h.floor.is_none());
            }
        }
        if v.ends_with('村') {
            let doors: HashSet<&str> = g.houses.iter().map(|h| h.door.as_str()).collect();
            assert_eq!(doors.len(), g.houses.len(), "door numbers unique in a village grid");
        } else {
            assert!(g.houses.iter().any(|h| h.building.is_some() && h.floor.is_some()));
        }
        let rented = g.houses.iter().filter(|h| h.rented == Some(true)).count();
        assert!((15..=60).contains(&rented), "rented {rented}");
    }
}

#[test]
fn residents_are_consistent() {
    let plan = county_plan(YISHUI_GRIDS, 9);
    let (t, v, _) = plan.grids().nth(700).unwrap();
    let w = worker(7);
    let g = generate_grid(&GridSpec::typical(t, v, w, NOW, 700));
    let house_ids: HashSet<Uuid> = g.houses.iter().map(|h| h.id).collect();
    let owners: HashMap<Uuid, &str> = g.houses.iter().map(|h| (h.id, h.owner.as_deref().unwrap())).collect();
    let mut ids = HashSet::new();
    let mut by_house: BTreeMap<Uuid, Vec<&Resident>> = BTreeMap::new();
    for r in &g.residents {
        assert!(r.name.chars().count() >= 2 && r.name.chars().count() <= 4, "{}", r.name);
        assert!(schema::RELATIONS.contains(&r.relation.as_deref().unwrap()));
        let hid = r.house_id.unwrap();
        assert!(house_ids.contains(&hid));
        by_house.entry(hid).or_default().push(r);
        if let Some(p) = &r.phone {
            mobile(p).unwrap();
        }
        match &r.id_number {
            Some(n) => {
                assert!(ids.insert(n.clone()), "duplicate ID {n}");
                let info = id_number(n).unwrap();
                assert_eq!(info.birth_date, birth(r), "{n}");
                assert_eq!(info.male, r.sex == "male", "{n}");
                assert_eq!(id_check_char(&n[..17]), n.chars().last());
                assert!(!r.categories.iter().any(|c| c == "overseas"));
            }
            None => assert!(r.categories.iter().any(|c| c == "overseas"), "{r:?}"),
        }
        let cats: Vec<&str> = r.categories.iter().map(String::as_str).collect();
        assert_eq!(cats.iter().filter(|c| ["registered", "floating", "overseas"].contains(c)).count(), 1, "{cats:?}");
        if cats.contains(&"floating") {
            assert_eq!(r.relation.as_deref(), Some("tenant"));
            assert!(!r.id_number.as_deref().unwrap().starts_with("371323"));
        }
        if cats.contains(&"living_alone") || cats.contains(&"left_behind_elderly") {
            assert!(age(r) >= 60, "{r:?}");
        }
        if cats.contains(&"left_behind_children") {
            assert!(age(r) <= 16, "{r:?}");
        }
    }
    // Households: one head (or all tenants), ages consistent, the family line's surname.
    for (hid, rs) in &by_house {
        let tenants = rs.iter().all(|r| r.relation.as_deref() == Some("tenant"));
        if tenants {
            assert_ne!(owners[hid], rs[0].name, "a landlord is not his own tenant");
            continue;
        }
        let heads: Vec<&&Resident> = rs.iter().filter(|r| r.relation.as_deref() == Some("head")).collect();
        assert_eq!(heads.len(), 1, "{rs:?}");
        let head = heads[0];
        assert_eq!(owners[hid], head.name);
        for r in rs {
            match r.relation.as_deref() {
                Some("child") => assert!(birth(r) > birth(head), "{rs:#?}"),
                Some("parent") => assert!(birth(r) < birth(head), "{rs:#?}"),
                Some("grandchild") => {
                    assert!(age(head) - age(r) >= 36, "{rs:#?}");
                    for c in rs.iter().filter(|c| c.relation.as_deref() == Some("child")) {
                        assert!(birth(r) > birth(c), "{rs:#?}");
                    }
                }
                _ => {}
            }
        }
        // Siblings are born at least about a year apart.
        for rel in ["child", "grandchild"] {
            let kids: Vec<NaiveDate> =
                rs.iter().filter(|r| r.relation.as_deref() == Some(rel)).map(|r| birth(r)).collect();
            for (i, a) in kids.iter().enumerate() {
                for b in &kids[i + 1..] {
                    assert!((*a - *b).num_days().abs() >= 300, "{rs:#?}");
                }
            }
        }
        if head.sex == "male" {
            let surname: String = head.name.chars().take(1).collect();
            for c in rs.iter().filter(|r| r.relation.as_deref() == Some("child")) {
                assert!(c.name.starts_with(&surname), "{} / {}", head.name, c.name);
            }
        }
    }
}

#[test]
fn visits_fall_in_their_months_and_disputes_make_sense() {
    let plan = county_plan(YISHUI_GRIDS, 4);
    let (t, v, _) = plan.grids().nth(1000).unwrap();
    let w = worker(3);
    let mut spec = GridSpec::typical(t, v, w, NOW, 5);
    spec.open_disputes = 6;
    let g = generate_grid(&spec);
    check_all(&g, w);
    let mut per_month: BTreeMap<(i32, u32), usize> = BTreeMap::new();
    for v in &g.visits {
        assert!(v.at <= NOW);
        assert_eq!(v.by, w);
        *per_month.entry(china_month(v.at)).or_default() += 1;
    }
    assert_eq!(per_month.len(), 12);
    assert!(per_month.values().all(|&n| n == 60));
    assert_eq!(per_month.keys().next_back(), Some(&(2025, 11)));
    assert_eq!(per_month.keys().next(), Some(&(2024, 12)));
    assert!(g.visits.windows(2).all(|p| p[0].at <= p[1].at));
    let fine = g.visits.iter().filter(|v| v.clears == sync_protocol::model::FiveClears::all_fine()).count();
    assert!(fine * 100 / g.visits.len() >= 70, "mostly all fine: {fine}");
    assert!(fine < g.visits.len(), "some attention");

    let residents: HashMap<Uuid, &Resident> = g.residents.iter().map(|r| (r.id, r)).collect();
    let open = g.disputes.iter().filter(|d| d.state(&Default::default()).status.is_open()).count();
    assert_eq!(open, 6);
    for d in &g.disputes {
        assert!(d.discovered_at <= d.reported_at && d.reported_at <= NOW);
        assert!(d.report_delay_minutes() <= 8 * 60);
        assert_eq!(d.parties.len(), 2);
        assert_ne!(d.parties[0].resident_id, d.parties[1].resident_id);
        for p in &d.parties {
            let r = residents[&p.resident_id.unwrap()];
            assert_eq!(r.name, p.name);
            assert!(age(r) >= 18);
        }
        assert_eq!(d.actions[0].kind, "report");
        assert_eq!(d.actions[0].at, d.reported_at);
        assert!(d.actions.windows(2).all(|p| p[0].at < p[1].at));
        assert!(d.actions.iter().all(|a| a.actor == w && a.level == sync_protocol::org::Level::Grid && a.at <= NOW));
        assert!(["ordinary", "coordination"].contains(&d.class.as_str()));
        if !d.state(&Default::default()).status.is_open() {
            assert_eq!(d.class, "ordinary");
            assert!(d.reported_at < NOW - 25 * 86_400_000);
        }
    }
    // Some disputes were found on a visit, and point back to it.
    let linked: Vec<_> = g.visits.iter().filter(|v| v.dispute_id.is_some()).collect();
    for v in &linked {
        let d = g.disputes.iter().find(|d| Some(d.id) == v.dispute_id).unwrap();
        assert_eq!(d.discovered_at, v.at);
        assert_eq!(v.clears.hazards.status, "attention");
    }
}

#[test]
fn same_seed_same_grid_other_seed_other_grid() {
    let w = worker(1);
    let a = generate_grid(&GridSpec::typical("道托镇", "东坡村", w, NOW, 11));
    let b = generate_grid(&GridSpec::typical("道托镇", "东坡村", w, NOW, 11));
    assert_eq!(a, b);
    let c = generate_grid(&GridSpec::typical("道托镇", "东坡村", w, NOW, 12));
    assert_ne!(a.residents[0].id, c.residents[0].id);
    assert_ne!(a.residents[0].name, c.residents[0].name);
    // Ids are UUID v7 with the record's own time.
    for v in &a.visits {
        assert_eq!(v.id.get_version_num(), 7);
        let (secs, nanos) = v.id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64 * 1000 + i64::from(nanos / 1_000_000), v.at);
    }
}

#[test]
fn unusual_specs_still_work() {
    let w = worker(2);
    let base = GridSpec::typical("圈里乡", "石栏村", w, NOW, 3);
    let cases = [
        (0, 0, 0, 0, 0),
        (10, 0, 2, 5, 1),
        (0, 10, 2, 5, 0),
        (10, 40, 3, 10, 2),
        (400, 20, 1, 30, 1),
        (3000, 900, 24, 100, 8),
        (1, 1, 0, 0, 0),
        (2, 1, 1, 1, 1),
    ];
    for (residents, houses, months, per_month, open) in cases {
        let spec = GridSpec {
            residents,
            houses,
            visit_months: months,
            visits_per_month: per_month,
            open_disputes: open,
            ..base.clone()
        };
        let g = generate_grid(&spec);
        assert_eq!(g.residents.len(), residents, "{spec:?}");
        assert_eq!(g.houses.len(), houses, "{spec:?}");
        let visits = if houses == 0 { 0 } else { months as usize * per_month };
        assert_eq!(g.visits.len(), visits, "{spec:?}");
        let open_now = g.disputes.iter().filter(|d| d.state(&Default::default()).status.is_open()).count();
        assert_eq!(open_now, open, "{spec:?}");
        check_all(&g, w);
        if houses > 0 {
            assert!(g.residents.iter().all(|r| r.house_id.is_some()));
        }
    }
}

#[test]
fn county_wide_shares_are_sane() {
    let plan = county_plan(YISHUI_GRIDS, 5);
    let mut count: HashMap<&str, usize> = HashMap::new();
    let (mut total, mut adults, mut adults_phone, mut yishui, mut hui, mut houses, mut rented) = (0, 0, 0, 0, 0, 0, 0);
    for (i, (t, v, _)) in plan.grids().step_by(45).enumerate() {
        let w = worker(100 + i as u128);
        let g = generate_grid(&GridSpec::typical(t, v, w, NOW, i as u64));
        validate_grid(&g, w).unwrap();
        total += g.residents.len();
        houses += g.houses.len();
        rented += g.houses.iter().filter(|h| h.rented == Some(true)).count();
        for r in &g.residents {
            for c in schema::POPULATION_CATEGORIES {
                if r.categories.iter().any(|x| x == c) {
                    *count.entry(c).or_default() += 1;
                }
            }
            if age(r) >= 18 {
                adults += 1;
                adults_phone += usize::from(r.phone.is_some());
            }
            if r.id_number.as_deref().is_some_and(|n| n.starts_with("371323")) {
                yishui += 1;
            }
            if r.ethnicity.as_deref() == Some("回族") {
                hui += 1;
            }
        }
    }
    let share = |c: &str| count.get(c).copied().unwrap_or(0) as f64 / total as f64;
    let report: Vec<String> =
        schema::POPULATION_CATEGORIES.iter().map(|c| format!("{c} {:.2}%", share(c) * 100.0)).collect();
    println!("{total} residents: {}", report.join(", "));
    println!(
        "adults with phone {:.1}%, ID 371323 {:.1}%, 回族 {:.2}%, rented houses {:.1}%",
        adults_phone as f64 * 100.0 / adults as f64,
        yishui as f64 * 100.0 / total as f64,
        hui as f64 * 100.0 / total as f64,
        rented as f64 * 100.0 / houses as f64,
    );
    assert!((0.05..0.11).contains(&share("floating")), "floating {}", share("floating"));
    assert!((0.85..0.95).contains(&share("registered")));
    assert!((0.0005..0.005).contains(&share("overseas")));
    assert!((0.03..0.08).contains(&share("living_alone")));
    assert!((0.01..0.035).contains(&share("disabled")));
    assert!((0.015..0.05).contains(&share("low_income")));
    assert!((0.0005..0.01).contains(&share("key_person")));
    assert!((0.005..0.04).contains(&share("veteran")));
    assert!(share("left_behind_elderly") > 0.02);
    assert!(share("left_behind_women") > 0.005);
    assert!(share("left_behind_children") > 0.003);
    let phones = adults_phone as f64 / adults as f64;
    assert!((0.6..0.8).contains(&phones), "phones {phones}");
    assert!(yishui as f64 / total as f64 > 0.8);
    assert!(hui > 0 && (hui as f64 / total as f64) < 0.02);
    let rented = rented as f64 / houses as f64;
    assert!((0.07..0.15).contains(&rented), "rented {rented}");
}

/// Every grid of the county, validated. Slow in debug:
/// `cargo test --release -p demo-county -- --ignored`.
#[test]
#[ignore]
fn whole_county_validates() {
    for seed in [1, 2] {
        let plan = county_plan(YISHUI_GRIDS, seed);
        let (mut residents, mut houses) = (0, 0);
        for (i, (t, v, _)) in plan.grids().enumerate() {
            let w = worker(i as u128);
            let g = generate_grid(&GridSpec::typical(t, v, w, NOW, seed * 10_000 + i as u64));
            validate_grid(&g, w).unwrap_or_else(|e| panic!("{t}{v}: {e}"));
            assert_eq!(g.disputes.iter().filter(|d| d.state(&Default::default()).status.is_open()).count(), 3);
            residents += g.residents.len();
            houses += g.houses.len();
        }
        assert_eq!(residents, 1358 * 814);
        assert_eq!(houses, 1358 * 301);
    }
}
