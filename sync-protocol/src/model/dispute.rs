use serde::{Deserialize, Serialize};

use super::closed_loop::{self, DisputeState, TimeLimits};
use crate::RecordId;
use crate::org::Level;

/// A party to a dispute: a resident on record, or a name typed on the spot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Party {
    pub id: RecordId,
    #[serde(default)]
    pub resident_id: Option<RecordId>,
    pub name: String,
}

/// One step in handling a dispute. Actions are append-only: once written they never change.
/// What each kind means and who may take it is the closed loop's rule ([`super::closed_loop`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Action {
    pub id: RecordId,
    /// One of [`super::ActionKind`]; a string so that a newer app's kinds still read.
    pub kind: String,
    /// The account that acted.
    pub actor: RecordId,
    /// The level the actor works at.
    pub level: Level,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// For escalate and assign: the level the dispute goes to.
    #[serde(default)]
    pub to_level: Option<Level>,
    #[serde(default)]
    pub note: Option<String>,
    /// For assign: the village or community, or the department, that works it.
    #[serde(default)]
    pub to_node: Option<RecordId>,
    /// For assign: the person who works it.
    #[serde(default)]
    pub to_account: Option<RecordId>,
    /// For assign: when the assignee must report back; for supervise: the deadline.
    #[serde(default)]
    pub due_at: Option<i64>,
    /// For evaluate: the parties' satisfaction (satisfied, basically_satisfied, dissatisfied).
    #[serde(default)]
    pub satisfaction: Option<String>,
    /// The last action the author had seen (none from apps before the closed loop): what makes
    /// concurrent actions recognisable as such.
    #[serde(default)]
    pub after: Option<RecordId>,
    /// The place the actor acts for (their department, village or township centre), as the
    /// author's account holds it; none from apps before departments. What lets a department's
    /// report-back be told from another's at the same level.
    #[serde(default)]
    pub node: Option<RecordId>,
}

impl Action {
    /// An action with no target, note or time limit.
    pub fn new(id: RecordId, kind: &str, actor: RecordId, level: Level, at: i64) -> Self {
        Action {
            id,
            kind: kind.into(),
            actor,
            level,
            at,
            to_level: None,
            note: None,
            to_node: None,
            to_account: None,
            due_at: None,
            satisfaction: None,
            after: None,
            node: None,
        }
    }
}

/// A dispute or event (矛盾纠纷/事件).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Dispute {
    pub id: RecordId,
    /// ordinary (一般性), coordination (协调性), emergency (突发性)
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass"))]
    pub class: String,
    pub category: String,
    pub parties: Vec<Party>,
    pub place: String,
    pub description: String,
    /// When the grid worker found it (第一时间发现).
    pub discovered_at: i64,
    /// When it was reported (第一时间报告); the gap is a measured figure.
    pub reported_at: i64,
    pub reported_by: RecordId,
    pub actions: Vec<Action>,
    /// Content hashes of photos, stored as blobs outside the document.
    #[serde(default)]
    pub photos: Vec<String>,
}

impl Dispute {
    /// Where it stands under the county's time limits.
    pub fn state(&self, limits: &TimeLimits) -> DisputeState {
        closed_loop::derive(self.into(), &self.actions, limits)
    }

    /// Minutes between discovery and report (第一时间报告).
    pub fn report_delay_minutes(&self) -> i64 {
        (self.reported_at - self.discovered_at) / 60_000
    }
}
