//! Naming documents and authors: a document's key, a device's actor id, a change's message.

use automerge::ActorId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::GridId;
use crate::schema::Collection;

/// Names one document: a grid's collection, and for visits the month (`yyyymm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DocKey {
    pub grid: GridId,
    pub collection: Collection,
    pub month: Option<u32>,
}

impl DocKey {
    pub fn new(grid: GridId, collection: Collection) -> Self {
        Self { grid, collection, month: None }
    }

    pub fn visits(grid: GridId, month: u32) -> Self {
        Self { grid, collection: Collection::Visits, month: Some(month) }
    }

    /// Month of a millisecond timestamp, in China Standard Time, as `yyyymm`.
    pub fn month_of(ts_ms: i64) -> u32 {
        use chrono::{Datelike, TimeZone};
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        let dt = tz.timestamp_millis_opt(ts_ms).single().unwrap_or_default();
        dt.year() as u32 * 100 + dt.month()
    }

    /// The first millisecond of the month (China Standard Time) containing `ms`: the start of
    /// "this month" for visit counts.
    pub fn month_start_ms(ms: i64) -> i64 {
        use chrono::{Datelike, TimeZone};
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        let now = tz.timestamp_millis_opt(ms).single().unwrap_or_default();
        tz.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().map(|d| d.timestamp_millis()).unwrap_or(0)
    }

    /// Whether the key is well formed: visits need a month, others must not have one.
    pub fn is_valid(&self) -> bool {
        match (self.collection, self.month) {
            (Collection::Visits, Some(m)) => (200_001..=210_012).contains(&m) && (1..=12).contains(&(m % 100)),
            (Collection::Visits, None) => false,
            (_, Some(_)) => false,
            (_, None) => true,
        }
    }
}

impl std::fmt::Display for DocKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.month {
            Some(m) => write!(f, "{}/{}/{m}", self.grid, self.collection.as_str()),
            None => write!(f, "{}/{}", self.grid, self.collection.as_str()),
        }
    }
}

impl std::str::FromStr for DocKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split('/');
        let grid = parts.next().and_then(|g| Uuid::parse_str(g).ok()).ok_or("bad grid")?;
        let collection = parts.next().and_then(Collection::parse).ok_or("bad collection")?;
        let month = parts.next().map(|m| m.parse::<u32>().map_err(|_| "bad month")).transpose()?;
        let key = DocKey { grid, collection, month };
        if key.is_valid() { Ok(key) } else { Err("bad document key".into()) }
    }
}

/// The actor id a device writes with: its 16-byte id and a 4-byte epoch. The epoch moves on
/// after a realignment so that a refused change's sequence numbers are never reused.
pub fn actor_for(device: Uuid, epoch: u32) -> ActorId {
    let mut bytes = device.as_bytes().to_vec();
    bytes.extend_from_slice(&epoch.to_be_bytes());
    ActorId::from(bytes)
}

/// The device an actor id belongs to, if it has our layout.
pub fn device_of_actor(actor: &ActorId) -> Option<Uuid> {
    let b = actor.to_bytes();
    (b.len() == 20).then(|| Uuid::from_slice(&b[..16]).ok()).flatten()
}

/// Who made a change, carried in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMeta {
    #[serde(rename = "a")]
    pub account: Uuid,
    #[serde(rename = "d")]
    pub device: Uuid,
}

impl ChangeMeta {
    pub fn message(&self) -> String {
        serde_json::to_string(self).expect("serializable")
    }
    pub fn parse(message: Option<&str>) -> Option<Self> {
        message.and_then(|m| serde_json::from_str(m).ok())
    }
}
