//! Typed domain records. Each converts to and from the JSON form that [`crate::doc`] stores,
//! so the typed API and the generic document layer can never drift apart.

pub mod closed_loop;
mod dispute;
mod house;
mod resident;
mod visit;

pub use closed_loop::{
    ActionKind, Assignment, Contradiction, CountySettings, DeadlineKind, DisputeState, DisputeStatus,
    MAX_TIME_LIMITS_BYTES, Supervision, TimeLimit, TimeLimits,
};
pub use dispute::{Action, Dispute, Party};
pub use house::House;
pub use resident::{Resident, ResidentSummary};
pub use visit::{ClearItem, FiveClears, Visit};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::schema::Collection;

/// A record type stored in one collection.
pub trait Record: Serialize + DeserializeOwned {
    const COLLECTION: Collection;

    fn to_fields(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => {
                m.retain(|_, v| !v.is_null());
                m
            }
            _ => Map::new(),
        }
    }

    fn from_fields(fields: Map<String, Value>) -> Result<Self, serde_json::Error> {
        serde_json::from_value(Value::Object(fields))
    }
}

impl Record for Resident {
    const COLLECTION: Collection = Collection::Residents;
}
impl Record for House {
    const COLLECTION: Collection = Collection::Houses;
}
impl Record for Visit {
    const COLLECTION: Collection = Collection::Visits;
}
impl Record for Dispute {
    const COLLECTION: Collection = Collection::Disputes;
}
