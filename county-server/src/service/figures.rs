//! The closed loop's figures for a month (`GET /v1/figures/disputes`): the three first-times
//! (发现 → 报告, 发现 → 介入, as medians) and where disputes were settled (小事不出社区、
//! 大事不出镇、矛盾不上交), per worker, grid, village, township or county, within the caller's
//! scope. Read from the columns the closed loop's rule derived at commit; no document is read.

use std::collections::HashMap;

use sync_protocol::api::{DisputeFigures, FigureGroup, FigureRow, FiguresQuery};
use sync_protocol::doc::DocKey;
use sync_protocol::org::Level;
use uuid::Uuid;

use super::auth::narrow_scope;
use super::{Caller, County};
use crate::error::{Error, Result};
use crate::storage::DisputeTimes;

/// The first and last millisecond (exclusive) of a `yyyymm` month, China Standard Time.
fn month_bounds(month: u32) -> Option<(i64, i64)> {
    use chrono::TimeZone;
    let tz = chrono::FixedOffset::east_opt(8 * 3600)?;
    let (y, m) = ((month / 100) as i32, month % 100);
    if !(2000..=2100).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    let start = tz.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = tz.with_ymd_and_hms(ny, nm, 1, 0, 0, 0).single()?;
    Some((start.timestamp_millis(), end.timestamp_millis()))
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 })
}

/// One group's figures from its disputes' times.
fn row(id: Uuid, name: String, times: &[&DisputeTimes]) -> FigureRow {
    let minutes = |ms: i64| ms / 60_000;
    let settled = |l: Level| times.iter().filter(|t| t.resolved_level == Some(l)).count() as u64;
    let intervened: Vec<i64> =
        times.iter().filter_map(|t| t.first_intervention_at.map(|at| minutes(at - t.discovered_at))).collect();
    FigureRow {
        id,
        name,
        disputes: times.len() as u64,
        report_median_minutes: median(times.iter().map(|t| minutes(t.reported_at - t.discovered_at)).collect()),
        intervened: intervened.len() as u64,
        intervention_median_minutes: median(intervened),
        settled_grid: settled(Level::Grid),
        settled_community: settled(Level::Community),
        settled_township: settled(Level::Township),
        settled_county: settled(Level::County),
        open: times.iter().filter(|t| t.resolved_level.is_none()).count() as u64,
    }
}

impl County {
    pub async fn dispute_figures(&self, caller: &Caller, q: &FiguresQuery) -> Result<DisputeFigures> {
        let bad = |m: &str| Error::bad(sync_protocol::Code::MalformedQuery, m);
        let (scope, place) = narrow_scope(self.storage(), caller.scope()?, q.node).await?;
        let month = q.month.unwrap_or_else(|| DocKey::month_of(chrono::Utc::now().timestamp_millis()));
        let months = q.months.unwrap_or(1);
        if !(1..=MAX_MONTHS).contains(&months) {
            return Err(bad("months is 1 to 24"));
        }
        let first = month_back(month, months - 1);
        let (from, to) = match (month_bounds(first), month_bounds(month)) {
            (Some((from, _)), Some((_, to))) => (from, to),
            _ => return Err(bad("month is yyyymm, 200001 to 210012")),
        };
        let by = q.by.unwrap_or_default();
        let times = self.storage().dispute_times(&scope, from, to).await?;
        // Where each grid lies (names as the lists show them).
        let grids: HashMap<Uuid, sync_protocol::org::GridInfo> =
            self.storage().grids(&scope).await?.into_iter().map(|g| (g.id, g)).collect();
        let mut groups: HashMap<(Uuid, String), Vec<&DisputeTimes>> = HashMap::new();
        // The whole scope's row: the place asked for, else the caller's own.
        let (whole_id, whole) = match (&place, &caller.node) {
            (Some(p), _) => (p.id, p.name.clone()),
            (None, Some(n)) => (n.id, n.name.clone()),
            (None, None) => (caller.account.node, String::new()),
        };
        if by == FigureGroup::Month {
            // Every month of the window has its row, with or without disputes.
            for i in 0..months {
                groups.entry((whole_id, month_back(month, i).to_string())).or_default();
            }
        }
        for t in &times {
            let g = grids.get(&t.grid);
            let key = match by {
                FigureGroup::County => (whole_id, whole.clone()),
                FigureGroup::Month => (whole_id, DocKey::month_of(t.reported_at).to_string()),
                FigureGroup::Grid => {
                    (t.grid, g.map(|g| format!("{} {} {}", g.township, g.village, g.name)).unwrap_or_default())
                }
                FigureGroup::Village => (
                    t.village.unwrap_or_default(),
                    g.map(|g| format!("{} {}", g.township, g.village)).unwrap_or_default(),
                ),
                FigureGroup::Township => {
                    (t.township.unwrap_or_default(), g.map(|g| g.township.clone()).unwrap_or_default())
                }
                FigureGroup::Worker => (t.reported_by, t.reporter_name.clone().unwrap_or_default()),
            };
            groups.entry(key).or_default().push(t);
        }
        let mut rows: Vec<FigureRow> = groups.into_iter().map(|((id, name), ts)| row(id, name, &ts)).collect();
        if by == FigureGroup::Month {
            rows.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            rows.sort_by(|a, b| {
                b.disputes.cmp(&a.disputes).then_with(|| a.name.cmp(&b.name)).then_with(|| a.id.cmp(&b.id))
            });
        }
        Ok(DisputeFigures { month, months, by, rows })
    }
}

/// The most months one request of figures covers.
const MAX_MONTHS: u32 = 24;

/// The `yyyymm` month `back` months before `month`.
fn month_back(month: u32, back: u32) -> u32 {
    let index = (month / 100) * 12 + (month % 100).saturating_sub(1);
    let index = index.saturating_sub(back);
    (index / 12) * 100 + index % 12 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_medians() {
        let (a, b) = month_bounds(202611).unwrap();
        assert_eq!(b - a, 30 * 86_400_000);
        assert_eq!(DocKey::month_of(a), 202611);
        assert_eq!(DocKey::month_of(b - 1), 202611);
        assert_eq!(DocKey::month_of(b), 202612);
        assert!(month_bounds(202613).is_none() && month_bounds(190001).is_none());
        assert_eq!(month_bounds(202612).map(|(_, e)| DocKey::month_of(e)), Some(202701));
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![4, 1, 10, 2]), Some(3));
        assert_eq!(month_back(202611, 0), 202611);
        assert_eq!(month_back(202611, 10), 202601);
        assert_eq!(month_back(202611, 11), 202512);
        assert_eq!(month_back(202601, 13), 202412);
    }
}
