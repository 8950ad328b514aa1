//! Small helpers: deterministic ids, China-time calendar arithmetic, random picks.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};
use uuid::Uuid;

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;
/// China Standard Time is UTC+8 all year.
pub(crate) const CHINA_OFFSET: i64 = 8 * HOUR;

/// A UUID v7 whose time is `ms` and whose other bits come from the seeded rng, so the same seed
/// gives the same ids.
pub(crate) fn uuid_at(rng: &mut StdRng, ms: i64) -> Uuid {
    let mut b = [0u8; 10];
    rng.fill_bytes(&mut b);
    uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &b).into_uuid()
}

pub(crate) fn pick<T: Copy>(rng: &mut StdRng, s: &[T]) -> T {
    s[rng.random_range(0..s.len())]
}

pub(crate) fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// A uniform integer in `lo..=hi` (`lo` when the range is empty).
pub(crate) fn between(rng: &mut StdRng, lo: i32, hi: i32) -> i32 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

/// A uniform time in `lo..hi` (`lo` when the range is empty).
pub(crate) fn time_between(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.random_range(lo..hi) }
}

/// FNV-1a, to turn names into stable numbers (seeds, coordinate offsets).
pub(crate) fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A number in `-1.0..1.0` derived from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Wall-clock time in China for an epoch-millisecond instant.
pub(crate) fn china_time(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms + CHINA_OFFSET).unwrap_or_default().naive_utc()
}

/// Epoch milliseconds of midnight China time on `date`.
pub(crate) fn china_midnight_ms(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis() - CHINA_OFFSET
}

/// The last `months` calendar months (China time) ending at `now_ms`, oldest first, each as
/// `[start, end)` in epoch milliseconds; the current month ends at `now_ms`.
pub(crate) fn month_windows(now_ms: i64, months: u32) -> Vec<(i64, i64)> {
    let now = china_time(now_ms).date();
    let current = now.year() * 12 + now.month0() as i32;
    let start_of = |idx: i32| {
        let d = NaiveDate::from_ymd_opt(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1).unwrap_or_default();
        china_midnight_ms(d)
    };
    (0..months as i32)
        .rev()
        .map(|k| {
            let idx = current - k;
            let end = if k == 0 { now_ms } else { start_of(idx + 1) };
            (start_of(idx), end)
        })
        .collect()
}

/// Writes `YYYY-MM-DD`.
pub(crate) fn date_string(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_at_now_and_follow_each_other() {
        // 2025-03-15 10:00 China time
        let now = china_midnight_ms(NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()) + 10 * HOUR;
        let w = month_windows(now, 14);
        assert_eq!(w.len(), 14);
        assert_eq!(w[13].1, now);
        assert_eq!(china_time(w[0].0), NaiveDate::from_ymd_opt(2024, 2, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        for p in w.windows(2) {
            assert_eq!(p[0].1, p[1].0);
        }
    }
}
