//! How fast this device's link is, as measured on its own transfers, and so how much it asks
//! for or sends at once. On a weak link every request and answer is sized to take seconds, not
//! minutes: a cut then loses little, and no transfer comes near the idle time
//! ([`crate::client::idle`]). On a good link the sizes grow to the server's page.
//!
//! The estimate starts low (a device that has not measured anything assumes a GPRS-class link)
//! and follows each measured transfer: bytes over the whole time less the shortest round trip
//! seen (a small exchange's time to its answer), so it errs slow. It may grow fourfold per
//! transfer (a good link is found within a few), falls by half toward a slower sample, and a
//! transfer that stalls divides it by four.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bytes per second assumed before anything is measured (about 16 kbit/s).
const UNMEASURED: u64 = 2_000;
/// Transfers smaller than this say more about latency than about the link: not measured.
const MEASURE_FROM: u64 = 2_048;
/// A sync answer is lost whole when the link breaks: pages of about this many seconds.
const PAGE_SECONDS: u64 = 4;
/// Ranges of a document are kept byte by byte as they come: larger ones only save requests.
const RANGE_SECONDS: u64 = 30;
/// A request body goes up before any answer can show it arrived: about this many seconds.
const PUSH_SECONDS: u64 = 8;
/// The largest sizes: the server's page (4 MB), and a photo chunk of 256 KB.
const MAX_PAGE: u64 = 4 * 1024 * 1024;
const MAX_PHOTO_CHUNK: u64 = 256 * 1024;

/// The link's measured speed each way, in bytes per second.
#[derive(Debug)]
pub struct Link {
    down: AtomicU64,
    up: AtomicU64,
    /// The shortest time to an answer of a small exchange, in microseconds (`u64::MAX`: none
    /// seen yet): about one round trip of the link.
    round_trip_us: AtomicU64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            down: AtomicU64::new(UNMEASURED),
            up: AtomicU64::new(UNMEASURED),
            round_trip_us: AtomicU64::new(u64::MAX),
        }
    }
}

impl Link {
    fn note(&self, rate: &AtomicU64, bytes: u64, took: Duration) {
        if bytes < MEASURE_FROM {
            return;
        }
        let rtt = match self.round_trip_us.load(Ordering::Relaxed) {
            u64::MAX => Duration::ZERO,
            us => Duration::from_micros(us),
        };
        // The round trip is not the link's bandwidth; what is left never counts as under 1 ms.
        let moving = took.saturating_sub(rtt).max(Duration::from_millis(1));
        let sample = ((bytes as f64 / moving.as_secs_f64()) as u64).max(1);
        let _ = rate.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(if sample > old { sample.min(old.saturating_mul(4)) } else { (old + sample) / 2 })
        });
    }

    /// A small exchange (a few hundred bytes each way) was answered after `took`.
    pub fn note_round_trip(&self, took: Duration) {
        let us = took.as_micros().min(u64::MAX as u128 - 1) as u64;
        self.round_trip_us.fetch_min(us, Ordering::Relaxed);
    }

    /// An answer of `bytes` came in `took`, from the request's start to the body's end.
    pub fn note_down(&self, bytes: u64, took: Duration) {
        self.note(&self.down, bytes, took);
    }

    /// A request body of `bytes` was answered after `took` (from its start to the answer's
    /// head: the server's time counts too, so the estimate errs slow).
    pub fn note_up(&self, bytes: u64, took: Duration) {
        self.note(&self.up, bytes, took);
    }

    /// A transfer made no progress for the idle time: the link is much slower than thought.
    pub fn stalled(&self) {
        for rate in [&self.down, &self.up] {
            let _ = rate.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| Some((r / 4).max(500)));
        }
    }

    pub fn down_rate(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }

    pub fn up_rate(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// The budget a sync request states ([`sync_protocol::wire::SyncRequest::budget`]).
    pub fn page_budget(&self) -> u32 {
        (self.down_rate() * PAGE_SECONDS).clamp(8 * 1024, MAX_PAGE) as u32
    }

    /// How many bytes of a document to ask for in one range.
    pub fn range_len(&self) -> u64 {
        (self.down_rate() * RANGE_SECONDS).clamp(64 * 1024, MAX_PAGE)
    }

    /// At most this many bytes of the outbox in one request.
    pub fn push_bytes(&self) -> usize {
        (self.up_rate() * PUSH_SECONDS).clamp(8 * 1024, MAX_PAGE) as usize
    }

    /// A photo chunk's size.
    pub fn photo_chunk(&self) -> usize {
        (self.up_rate() * PUSH_SECONDS).clamp(16 * 1024, MAX_PHOTO_CHUNK) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_measured_link_within_their_bounds() {
        let link = Link::default();
        assert_eq!(link.page_budget(), 8 * 1024, "unmeasured: a GPRS-class page");
        assert_eq!(link.push_bytes(), 16_000);
        // 24 kbit/s, measured on a 30 KB answer (and a round trip of 600 ms, once seen).
        link.note_round_trip(Duration::from_millis(800));
        link.note_round_trip(Duration::from_millis(600));
        for _ in 0..8 {
            link.note_down(30_000, Duration::from_millis(10_600));
        }
        assert!((2_900..=3_100).contains(&link.down_rate()), "{}", link.down_rate());
        assert!((11_600..=12_400).contains(&link.page_budget()), "four seconds of it");
        // A small answer says nothing about the link.
        link.note_down(300, Duration::from_millis(1));
        assert!((2_900..=3_100).contains(&link.down_rate()));
        // A fast link grows the pages to the server's, at most fourfold a transfer.
        link.note_down(64 << 10, Duration::from_millis(610));
        assert!(link.down_rate() <= 12_400, "fourfold at most: {}", link.down_rate());
        for _ in 0..30 {
            link.note_down(4 << 20, Duration::from_millis(700));
        }
        assert_eq!(link.page_budget(), 4 << 20);
        assert_eq!(link.range_len(), 4 << 20);
        link.stalled();
        assert!(link.down_rate() < 12 << 20);
        for _ in 0..20 {
            link.stalled();
        }
        assert_eq!(link.down_rate(), 500, "never below 500 B/s");
        assert_eq!(link.range_len(), 64 * 1024);
        assert_eq!(link.photo_chunk(), 16 * 1024);
    }
}
