//! Household visits (入户走访) with the five clears, and disputes (矛盾纠纷) with their actions.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sync_protocol::model::{Action, ClearItem, Dispute, FiveClears, House, Party, Resident, Visit};
use sync_protocol::org::Level;
use uuid::Uuid;

use crate::grid::{Ctx, Household, Kind, Rel, stranger_name};
use crate::util::{DAY, HOUR, MINUTE, chance, month_windows, pick, time_between, uuid_at};
use chrono::Datelike;

/// What a visit can see in a house.
#[derive(Default, Clone, Copy)]
struct HouseFacts {
    household: Option<usize>,
    alone: bool,
    left_behind: bool,
    tenants: bool,
    needy: bool,
    hazard: Option<usize>,
}

fn facts(houses: &[House], households: &[Household], residents: &[Resident]) -> Vec<HouseFacts> {
    let mut f = vec![HouseFacts::default(); houses.len()];
    for (hi, h) in households.iter().enumerate() {
        let Some(s) = h.site else { continue };
        let mut x = HouseFacts { household: Some(hi), tenants: h.kind == Kind::Tenants, ..HouseFacts::default() };
        for r in &residents[h.range()] {
            for c in &r.categories {
                match c.as_str() {
                    "living_alone" => x.alone = true,
                    "left_behind_elderly" | "left_behind_children" | "left_behind_women" => x.left_behind = true,
                    "low_income" | "disabled" => x.needy = true,
                    _ => {}
                }
            }
        }
        f[s] = x;
    }
    for (i, h) in houses.iter().enumerate() {
        if h.hazards.is_some() {
            f[i].hazard = Some(i);
        }
    }
    f
}

const HOUSEHOLD_NOTES: &[&str] = &[
    "家中老人住院，子女轮流照顾",
    "儿子外出务工，常年不在家",
    "家中新添一口人，待办理落户",
    "女儿出嫁，户口待迁出",
    "家庭经济困难，需持续关注",
];
const ALONE_NOTES: &[&str] =
    &["独居老人，身体状况一般，已联系其子女", "独居老人，冬季取暖需关注", "独居老人，行动不便，已协调邻居帮扶"];
const LEFT_BEHIND_NOTES: &[&str] =
    &["留守老人照看孙辈，生活压力较大", "留守儿童学习情况需关注，已联系学校", "丈夫外出务工，家中农活缺人手"];
const POPULATION_NOTES: &[&str] =
    &["家庭成员外出务工，已核实去向", "户籍人口与实际居住不符，已核实", "新增常住人员1人，已登记"];
const TENANT_NOTES: &[&str] = &["租户更换，新租户信息已采集", "租住人员身份证信息已核对", "新增租住人员2人，已登记"];
const HAZARD_NOTES: &[&str] = &[
    "厨房燃气软管老化，已提醒更换",
    "院内电线私拉乱接，已提醒整改",
    "冬季用煤炉取暖，已宣传防一氧化碳中毒",
    "电动车在室内充电，已劝导",
    "房屋墙体有裂缝，建议检修",
];
const NEEDS_NOTES: &[&str] = &[
    "咨询城乡居民医保缴费",
    "希望安排家庭医生上门体检",
    "咨询养老保险领取",
    "反映路灯损坏",
    "反映村内道路积水",
    "希望协调自来水管维修",
];
const NEEDY_NOTES: &[&str] = &["申请低保，需协助准备材料", "需要办理残疾证", "咨询临时救助申请"];
const ATTITUDE_NOTES: &[&str] = &[
    "对邻里纠纷处理结果有意见，需持续关注",
    "情绪低落，建议多走访",
    "对土地流转补偿有意见",
    "对村务公开有疑问，已解释",
];

fn visit_time(rng: &mut StdRng, start: i64, end: i64) -> i64 {
    let days = (end - start) / DAY;
    if days >= 1 {
        // Working hours, 8:00–18:30 China time (windows start at local midnight).
        let t = start + rng.random_range(0..days) * DAY + 8 * HOUR + rng.random_range(0..630 * MINUTE);
        if t < end {
            return t;
        }
    }
    time_between(rng, start, end)
}

fn clears(rng: &mut StdRng, f: &HouseFacts, houses: &[House]) -> (FiveClears, Option<String>, Option<String>) {
    let mut c = FiveClears::all_fine();
    let mut needs = None;
    let mut hazards_found = None;
    if f.alone && chance(rng, 0.2) {
        c.household = ClearItem::attention(pick(rng, ALONE_NOTES));
    } else if f.left_behind && chance(rng, 0.15) {
        c.household = ClearItem::attention(pick(rng, LEFT_BEHIND_NOTES));
    } else if chance(rng, 0.03) {
        c.household = ClearItem::attention(pick(rng, HOUSEHOLD_NOTES));
    }
    if f.tenants && chance(rng, 0.15) {
        c.population = ClearItem::attention(pick(rng, TENANT_NOTES));
    } else if chance(rng, 0.02) {
        c.population = ClearItem::attention(pick(rng, POPULATION_NOTES));
    }
    let hazard = match f.hazard {
        Some(i) if chance(rng, 0.3) => houses[i].hazards.as_ref().map(|h| format!("{h}，已提醒整改")),
        _ => chance(rng, 0.025).then(|| pick(rng, HAZARD_NOTES).to_string()),
    };
    if let Some(h) = hazard {
        c.hazards = ClearItem::attention(h.clone());
        hazards_found = Some(h);
    }
    let need = if f.needy && chance(rng, 0.15) {
        Some(pick(rng, NEEDY_NOTES))
    } else {
        chance(rng, 0.04).then(|| pick(rng, NEEDS_NOTES))
    };
    if let Some(n) = need {
        c.needs = ClearItem::attention(n);
        needs = Some(n.to_string());
    }
    if chance(rng, 0.015) {
        c.attitude = ClearItem::attention(pick(rng, ATTITUDE_NOTES));
    }
    (c, needs, hazards_found)
}

/// `months` months of visits ending at `now_ms`, `per_month` in each, oldest first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn visits(
    worker: Uuid,
    now_ms: i64,
    months: u32,
    per_month: usize,
    houses: &[House],
    households: &[Household],
    residents: &[Resident],
    rng: &mut StdRng,
) -> Vec<Visit> {
    if houses.is_empty() || months == 0 || per_month == 0 {
        return Vec::new();
    }
    let facts = facts(houses, households, residents);
    let mut lived_in: Vec<usize> = (0..houses.len()).filter(|&i| facts[i].household.is_some()).collect();
    let empty: Vec<usize> = (0..houses.len()).filter(|&i| facts[i].household.is_none()).collect();
    if lived_in.is_empty() {
        lived_in = empty.clone();
    }
    lived_in.shuffle(rng);
    let mut cursor = 0;
    let mut out = Vec::with_capacity(months as usize * per_month);
    let mut times = Vec::with_capacity(per_month);
    for (start, end) in month_windows(now_ms, months) {
        times.clear();
        times.extend((0..per_month).map(|_| visit_time(rng, start, end)));
        times.sort_unstable();
        for &at in &times {
            let site = if !empty.is_empty() && chance(rng, 0.03) {
                pick(rng, &empty)
            } else {
                if cursor == lived_in.len() {
                    cursor = 0;
                    lived_in.shuffle(rng);
                }
                cursor += 1;
                lived_in[cursor - 1]
            };
            let f = &facts[site];
            let resident_id = f.household.and_then(|hi| {
                let h = &households[hi];
                let home: Vec<usize> =
                    h.members.iter().enumerate().filter(|(_, m)| !m.away).map(|(j, _)| h.first + j).collect();
                (!home.is_empty() && chance(rng, 0.92)).then(|| residents[pick(rng, &home)].id)
            });
            let (clears, needs, hazards_found) = clears(rng, f, houses);
            out.push(Visit {
                id: uuid_at(rng, at),
                house_id: houses[site].id,
                resident_id,
                at,
                by: worker,
                clears,
                needs,
                hazards_found,
                dispute_id: None,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Disputes

const CATEGORIES: &[(&str, u32)] = &[
    ("neighbour", 24),
    ("land", 16),
    ("family", 14),
    ("property", 10),
    ("marriage", 6),
    ("debt", 8),
    ("labour", 5),
    ("traffic", 6),
    ("environment", 5),
    ("safety", 3),
    ("petition", 1),
    ("other", 2),
];

fn descriptions(category: &str) -> &'static [&'static str] {
    match category {
        "neighbour" => &[
            "{a}与邻居{b}因房屋滴水问题发生口角",
            "{a}与邻居{b}因门前排水沟堵塞互相指责，情绪激动",
            "{a}与{b}因门前堆放柴草占道发生争执",
            "{a}家的狗咬伤{b}，双方就医药费赔偿有分歧",
        ],
        "family" => {
            &["{a}与{b}因赡养老人费用分担产生矛盾", "{a}与{b}因老宅继承问题发生争吵", "{a}与{b}因照看孩子问题多次争吵"]
        }
        "marriage" => &["{a}与{b}夫妻感情不和，多次争吵，{b}提出离婚", "{a}与{b}因家庭开支问题发生激烈争吵"],
        "land" => &[
            "{a}与{b}因承包地地界（地堰）划分发生争执",
            "{a}与{b}因土地流转租金支付问题产生纠纷",
            "{a}与{b}因浇地用水先后发生争吵",
        ],
        "property" => &["{a}与{b}因宅基地界址发生争议", "{a}翻建房屋，{b}认为影响其采光通风"],
        "labour" => &["{a}在{b}承包的工地务工，工资三个月未结清", "{a}与雇主{b}因工伤赔偿产生纠纷"],
        "debt" => &["{a}借给{b}人民币2万元，逾期未还", "{a}与{b}因合伙养殖的账目发生纠纷"],
        "traffic" => &["{a}骑电动车与{b}驾驶的三轮车发生剐蹭，双方就赔偿未达成一致", "{a}的农用车倒车时撞坏{b}家院墙"],
        "environment" => &["{a}反映{b}家养鸡场气味扰民", "{a}反映{b}经营的加工点噪音扰民"],
        "safety" => &["{a}反映{b}家院内违规存放液化气罐，存在安全隐患", "{a}反映{b}私拉电线跨过其院落"],
        "petition" => &["{a}就宅基地审批问题多次到镇上反映，涉及邻居{b}"],
        _ => &["{a}与{b}因琐事发生口角"],
    }
}

fn category_cn(category: &str) -> &'static str {
    match category {
        "neighbour" => "邻里纠纷",
        "family" => "家庭纠纷",
        "marriage" => "婚姻纠纷",
        "land" => "土地纠纷",
        "property" => "宅基地纠纷",
        "labour" => "劳资纠纷",
        "debt" => "债务纠纷",
        "traffic" => "交通事故纠纷",
        "environment" => "环境扰民纠纷",
        "safety" => "安全隐患矛盾",
        "petition" => "信访矛盾",
        _ => "矛盾纠纷",
    }
}

const INTERVENE_NOTES: &[&str] =
    &["网格员到场劝解，稳定双方情绪", "已到现场了解情况，双方情绪稳定", "分别与双方谈话，了解诉求"];
const MEDIATE_OPEN_NOTES: &[&str] = &[
    "组织双方面对面协商，未达成一致，约定再次调解",
    "邀请村调委会成员和老党员一同调解，双方立场有所松动",
    "已向双方讲解相关法律规定，待双方考虑后再议",
];
const MEDIATE_DONE_NOTES: &[&str] =
    &["组织双方当面协商，各退一步", "会同村调委会调解，双方同意和解", "请双方亲属共同参与调解，达成一致意见"];
const RESOLVE_NOTES: &[&str] =
    &["双方达成调解协议，已签字确认", "双方和解，矛盾化解在网格", "赔偿已当面付清，双方无异议"];
const LAND_PLACES: &[&str] = &["村东承包地", "村西岭地", "南洼地块", "北沟地块", "村后山坡地"];

fn act(rng: &mut StdRng, worker: Uuid, kind: &str, at: i64, to: Option<&str>, note: &str) -> Action {
    let mut a = Action::new(uuid_at(rng, at), kind, worker, Level::Grid, at);
    a.to_level = to.and_then(Level::parse);
    a.note = Some(note.into());
    a
}

/// An action with a note picked from `notes`.
fn act_from(rng: &mut StdRng, worker: Uuid, kind: &str, at: i64, notes: &[&str]) -> Action {
    let note = pick(rng, notes);
    act(rng, worker, kind, at, None, note)
}

/// Adults at home in a household, as resident indices.
fn adults_home(h: &Household) -> impl Iterator<Item = usize> + '_ {
    h.members.iter().enumerate().filter(|(_, m)| !m.away && m.age >= 18).map(|(j, _)| h.first + j)
}

/// An adult at home, most often the household head (who usually speaks for the family).
fn pick_adult(rng: &mut StdRng, h: &Household) -> usize {
    let head = &h.members[0];
    if !head.away && head.age >= 18 && chance(rng, 0.6) {
        return h.first;
    }
    let home: Vec<usize> = adults_home(h).collect();
    pick(rng, &home)
}

struct Parties {
    a: Option<usize>,
    b: Option<usize>,
    /// House index of the first party.
    house: Option<usize>,
}

fn choose_parties(rng: &mut StdRng, category: &str, start: Option<usize>, households: &[Household]) -> Parties {
    let with_adults: Vec<usize> =
        (0..households.len()).filter(|&i| adults_home(&households[i]).next().is_some()).collect();
    if with_adults.is_empty() {
        return Parties { a: None, b: None, house: None };
    }
    let same_household = matches!(category, "family" | "marriage");
    let hi = match start {
        Some(h) if adults_home(&households[h]).next().is_some() => h,
        _ if same_household => {
            let pairs: Vec<usize> =
                with_adults.iter().copied().filter(|&i| adults_home(&households[i]).count() >= 2).collect();
            if pairs.is_empty() { pick(rng, &with_adults) } else { pick(rng, &pairs) }
        }
        _ => pick(rng, &with_adults),
    };
    let h = &households[hi];
    let home: Vec<usize> = adults_home(h).collect();
    let couple_home = h.members.len() >= 2
        && h.members[1].rel == Rel::Spouse
        && h.members[..2].iter().all(|m| !m.away && m.age >= 18);
    if category == "marriage" && couple_home {
        // Husband and wife: the head and the spouse.
        let (a, b) = if chance(rng, 0.5) { (h.first, h.first + 1) } else { (h.first + 1, h.first) };
        return Parties { a: Some(a), b: Some(b), house: h.site };
    }
    let a = pick_adult(rng, h);
    let b = if same_household && home.len() >= 2 {
        home.iter().copied().find(|&r| r != a)
    } else {
        let others: Vec<usize> = if matches!(category, "neighbour" | "property" | "environment" | "safety" | "petition")
        {
            // Next door, or a few doors down.
            let pos = with_adults.binary_search(&hi).unwrap_or(0);
            let lo = pos.saturating_sub(3);
            let hi2 = (pos + 4).min(with_adults.len());
            with_adults[lo..hi2].iter().copied().filter(|&i| i != hi).collect()
        } else {
            with_adults.iter().copied().filter(|&i| i != hi).collect()
        };
        let pool = if others.is_empty() { with_adults.iter().copied().filter(|&i| i != hi).collect() } else { others };
        (!pool.is_empty()).then(|| {
            let other = pick(rng, &pool);
            pick_adult(rng, &households[other])
        })
    };
    Parties { a: Some(a), b, house: h.site }
}

/// `open` open disputes and a few resolved ones from earlier months; links some to the visit
/// during which they were found.
#[allow(clippy::too_many_arguments)]
pub(crate) fn disputes(
    ctx: &Ctx,
    worker: Uuid,
    months: u32,
    open: usize,
    houses: &[House],
    households: &[Household],
    residents: &[Resident],
    visits: &mut [Visit],
    rng: &mut StdRng,
) -> Vec<Dispute> {
    let now = ctx.now_ms;
    let windows = month_windows(now, months);
    let resolved = if months >= 2 { 1 + months as usize / 4 + rng.random_range(0..=2) } else { 0 };
    let house_index = |id: Uuid| houses.iter().position(|h| h.id == id);
    let household_of_house = |s: usize| households.iter().position(|h| h.site == Some(s));
    let mut out = Vec::with_capacity(open + resolved);
    for n in 0..open + resolved {
        let is_open = n < open;
        let category = loop {
            let c = *crate::names::weighted(rng, CATEGORIES, crate::names::weight_total(CATEGORIES));
            if is_open || c != "petition" {
                break c;
            }
        };
        let coordination = is_open
            && chance(rng, if matches!(category, "land" | "property" | "labour" | "petition") { 0.45 } else { 0.12 });
        // When it was found.
        let target = if is_open {
            now - time_between(rng, 2 * HOUR, 20 * DAY)
        } else {
            let last = windows.len() - 1;
            time_between(rng, windows[0].0, windows[last].0.min(now - 30 * DAY).max(windows[0].0 + 1))
        };
        // Found on a household visit?
        let mut linked: Option<usize> = None;
        if chance(rng, 0.6) && !visits.is_empty() {
            let p = visits.partition_point(|v| v.at < target);
            let best = [p.wrapping_sub(1), p]
                .into_iter()
                .filter(|&i| i < visits.len() && visits[i].dispute_id.is_none())
                .filter(|&i| (visits[i].at - target).abs() < 4 * DAY)
                .filter(|&i| {
                    house_index(visits[i].house_id)
                        .and_then(household_of_house)
                        .is_some_and(|h| adults_home(&households[h]).next().is_some())
                })
                .min_by_key(|&i| (visits[i].at - target).abs());
            linked = best;
        }
        let start = linked.and_then(|i| house_index(visits[i].house_id)).and_then(household_of_house);
        let parties = choose_parties(rng, category, start, households);
        let discovered_at = linked.map_or(target, |i| visits[i].at);
        let delay = match rng.random_range(0..100) {
            0..60 => time_between(rng, 5 * MINUTE, 45 * MINUTE),
            60..90 => time_between(rng, 45 * MINUTE, 3 * HOUR),
            _ => time_between(rng, 3 * HOUR, 8 * HOUR),
        };
        let reported_at = (discovered_at + delay).min(now).max(discovered_at);
        let id = uuid_at(rng, reported_at);

        let this_year = crate::util::china_time(now).year();
        let party = |rng: &mut StdRng, r: Option<usize>| match r {
            Some(i) => Party {
                id: uuid_at(rng, reported_at),
                resident_id: Some(residents[i].id),
                name: residents[i].name.clone(),
            },
            None => Party { id: uuid_at(rng, reported_at), resident_id: None, name: stranger_name(rng, this_year) },
        };
        let pa = party(rng, parties.a);
        let pb = party(rng, parties.b);
        let description = pick(rng, descriptions(category)).replace("{a}", &pa.name).replace("{b}", &pb.name);
        let place = match (category, parties.house) {
            ("land", _) => format!("{}{}{}", ctx.township, ctx.village, pick(rng, LAND_PLACES)),
            ("traffic", _) if !ctx.urban => format!("{}{}村口", ctx.township, ctx.village),
            (_, Some(s)) => houses[s].address(),
            _ => format!("{}{}", ctx.township, ctx.village),
        };

        let mut actions = vec![act(rng, worker, "report", reported_at, None, "第一时间发现并上报")];
        let mut t = reported_at;
        let mut step = |rng: &mut StdRng, lo: i64, hi: i64| -> Option<i64> {
            let at = t + time_between(rng, lo, hi);
            (at <= now).then(|| {
                t = at;
                at
            })
        };
        if is_open {
            if (coordination || chance(rng, 0.6))
                && let Some(at) = step(rng, 10 * MINUTE, 2 * HOUR)
            {
                actions.push(act_from(rng, worker, "intervene", at, INTERVENE_NOTES));
            }
            if coordination {
                // Level by level: the grid passes it to its village or community (whose
                // centre takes it further through the staff's own actions).
                let note = if matches!(category, "land" | "property" | "labour" | "petition") {
                    "涉及确权或政策，需村（社区）报镇综治中心协调处理"
                } else {
                    "需村（社区）调委会协调处理"
                };
                if let Some(at) = step(rng, HOUR, 24 * HOUR) {
                    actions.push(act(rng, worker, "escalate", at, Some("community"), note));
                }
            } else if chance(rng, 0.45)
                && let Some(at) = step(rng, 12 * HOUR, 3 * DAY)
            {
                actions.push(act_from(rng, worker, "mediate", at, MEDIATE_OPEN_NOTES));
            }
        } else {
            if chance(rng, 0.8)
                && let Some(at) = step(rng, 10 * MINUTE, 90 * MINUTE)
            {
                actions.push(act_from(rng, worker, "intervene", at, INTERVENE_NOTES));
            }
            if let Some(at) = step(rng, 12 * HOUR, 4 * DAY) {
                actions.push(act_from(rng, worker, "mediate", at, MEDIATE_DONE_NOTES));
            }
            if let Some(at) = step(rng, 30 * MINUTE, DAY) {
                actions.push(act_from(rng, worker, "resolve", at, RESOLVE_NOTES));
            }
        }
        // Each action names the one before it as seen (one worker, one device).
        for i in 1..actions.len() {
            actions[i].after = Some(actions[i - 1].id);
        }

        if let Some(i) = linked {
            let v = &mut visits[i];
            v.dispute_id = Some(id);
            v.resident_id = pa.resident_id.or(v.resident_id);
            let found = format!("发现{}苗头，已第一时间上报", category_cn(category));
            let note = match v.clears.hazards.note.take() {
                Some(earlier) => format!("{earlier}；{found}"),
                None => found,
            };
            v.clears.hazards = ClearItem::attention(note);
        }
        out.push(Dispute {
            id,
            class: if coordination { "coordination" } else { "ordinary" }.into(),
            category: category.into(),
            parties: vec![pa, pb],
            place,
            description,
            discovered_at,
            reported_at,
            reported_by: worker,
            actions,
            photos: Vec::new(),
        });
    }
    out.sort_by_key(|d| (d.reported_at, d.id));
    out
}
