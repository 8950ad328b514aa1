use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Action {
    pub id: RecordId,
    /// report, intervene, mediate, escalate, assign, supervise, resolve, evaluate
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DisputeStatus {
    Reported,
    InProgress,
    Escalated,
    Assigned,
    Resolved,
    Closed,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 6] =
        [Self::Reported, Self::InProgress, Self::Escalated, Self::Assigned, Self::Resolved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::InProgress => "in_progress",
            Self::Escalated => "escalated",
            Self::Assigned => "assigned",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Closed)
    }
}

/// Where a dispute stands, derived from its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeState {
    pub status: DisputeStatus,
    pub level: Level,
    /// The level at which it was settled (小事不出社区、大事不出镇).
    pub resolved_level: Option<Level>,
    pub supervised: bool,
}

/// The one rule that turns a set of actions into a status and a level. It depends only on the
/// set (actions are ordered by time, then id), so every device and the server agree after
/// merging concurrent actions.
///
/// - report: the dispute is at the reporter's level; an emergency goes straight to the county.
/// - intervene, mediate: in progress.
/// - escalate: up to `to_level` (or one level up); never down.
/// - assign: to `to_level` (dispatch, usually down).
/// - supervise: marks it supervised; status unchanged.
/// - resolve: resolved at the current level.
/// - evaluate: a resolved dispute is closed.
pub fn derive_state(class: &str, actions: &[Action]) -> DisputeState {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| (a.at, a.id));
    let mut st =
        DisputeState { status: DisputeStatus::Reported, level: Level::Grid, resolved_level: None, supervised: false };
    let up = |l: Level| match l {
        Level::Grid => Level::Community,
        Level::Community => Level::Township,
        _ => Level::County,
    };
    for a in sorted {
        let actor_level = a.level;
        let to = a.to_level;
        match a.kind.as_str() {
            "report" => {
                if class == "emergency" {
                    st.level = Level::County;
                    st.status = DisputeStatus::Escalated;
                } else {
                    st.level = actor_level;
                    st.status = DisputeStatus::Reported;
                }
            }
            "intervene" | "mediate" => st.status = DisputeStatus::InProgress,
            "escalate" => {
                let target = to.unwrap_or_else(|| up(st.level));
                if target > st.level {
                    st.level = target;
                }
                st.status = DisputeStatus::Escalated;
                st.resolved_level = None;
            }
            "assign" => {
                if let Some(t) = to {
                    st.level = t;
                }
                st.status = DisputeStatus::Assigned;
                st.resolved_level = None;
            }
            "supervise" => st.supervised = true,
            "resolve" => {
                st.status = DisputeStatus::Resolved;
                st.resolved_level = Some(st.level);
            }
            "evaluate" if st.status == DisputeStatus::Resolved => st.status = DisputeStatus::Closed,
            _ => {}
        }
    }
    st
}

impl Dispute {
    pub fn state(&self) -> DisputeState {
        derive_state(&self.class, &self.actions)
    }

    /// Minutes between discovery and report (第一时间报告).
    pub fn report_delay_minutes(&self) -> i64 {
        (self.reported_at - self.discovered_at) / 60_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn act(kind: &str, level: &str, at: i64, to: Option<&str>) -> Action {
        Action {
            id: Uuid::now_v7(),
            kind: kind.into(),
            actor: Uuid::nil(),
            level: Level::parse(level).unwrap(),
            at,
            to_level: to.and_then(Level::parse),
            note: None,
        }
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let a = vec![
            act("report", "grid", 1, None),
            act("mediate", "grid", 2, None),
            act("escalate", "grid", 3, Some("township")),
            act("resolve", "township", 4, None),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(derive_state("coordination", &a), derive_state("coordination", &b));
        let s = derive_state("coordination", &a);
        assert_eq!(s.status, DisputeStatus::Resolved);
        assert_eq!(s.resolved_level, Some(Level::Township));
    }

    #[test]
    fn emergency_goes_to_county_and_escalation_never_goes_down() {
        let a = vec![act("report", "grid", 1, None), act("escalate", "grid", 2, Some("community"))];
        let s = derive_state("emergency", &a);
        assert_eq!(s.level, Level::County);
    }
}
