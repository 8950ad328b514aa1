//! What the closed loop's rule derives and reads: the kinds of action, the statuses, the
//! state of a dispute (who holds it, what is assigned and supervised, the time limit running,
//! the contradictions to settle) and a county's time limits.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ErrorCode;
use crate::org::Level;

/// The kinds of action the loop knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ActionKind {
    /// 上报: the report that creates the dispute.
    Report,
    /// 受理
    Accept,
    /// 介入: first intervention on the spot.
    Intervene,
    /// 调解
    Mediate,
    /// 分流指派
    Assign,
    /// 处置反馈
    Feedback,
    /// 核查
    Verify,
    /// 退回: feedback sent back to the assignee, or an escalation sent back down.
    Return,
    /// 逐级上报: one level up, with a reason.
    Escalate,
    /// 督办
    Supervise,
    /// 办结
    Resolve,
    /// 评价
    Evaluate,
    /// 归档
    Archive,
}

impl ActionKind {
    pub const ALL: [ActionKind; 13] = [
        Self::Report,
        Self::Accept,
        Self::Intervene,
        Self::Mediate,
        Self::Assign,
        Self::Feedback,
        Self::Verify,
        Self::Return,
        Self::Escalate,
        Self::Supervise,
        Self::Resolve,
        Self::Evaluate,
        Self::Archive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Accept => "accept",
            Self::Intervene => "intervene",
            Self::Mediate => "mediate",
            Self::Assign => "assign",
            Self::Feedback => "feedback",
            Self::Verify => "verify",
            Self::Return => "return",
            Self::Escalate => "escalate",
            Self::Supervise => "supervise",
            Self::Resolve => "resolve",
            Self::Evaluate => "evaluate",
            Self::Archive => "archive",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DisputeStatus {
    /// Reported; held by the reporter's level (or, for an emergency, waiting for the county).
    Reported,
    /// Passed up; waiting for the level above to accept it.
    Escalated,
    /// Accepted by the level holding it.
    Accepted,
    /// Being worked on the spot (intervened, mediated).
    InProgress,
    /// Assigned to a lower level, a department or a person, with a due time.
    Assigned,
    /// The assignee reported back; the assigning level is to verify.
    FedBack,
    /// Sent back: to the assignee to do again, or down to the level it came from.
    Returned,
    /// The assigning level checked the feedback.
    Verified,
    Resolved,
    Evaluated,
    /// Archived (归档).
    Closed,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 11] = [
        Self::Reported,
        Self::Escalated,
        Self::Accepted,
        Self::InProgress,
        Self::Assigned,
        Self::FedBack,
        Self::Returned,
        Self::Verified,
        Self::Resolved,
        Self::Evaluated,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Escalated => "escalated",
            Self::Accepted => "accepted",
            Self::InProgress => "in_progress",
            Self::Assigned => "assigned",
            Self::FedBack => "fed_back",
            Self::Returned => "returned",
            Self::Verified => "verified",
            Self::Resolved => "resolved",
            Self::Evaluated => "evaluated",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<DisputeStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Not yet settled (resolved, evaluated or archived).
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Evaluated | Self::Closed)
    }
}

/// An assignment in force (分流指派).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Assignment {
    pub action: Uuid,
    pub by: Uuid,
    pub at: i64,
    /// The level that works it.
    pub to_level: Level,
    /// A village or community, or a department (派出所, 司法所 …).
    pub to_node: Option<Uuid>,
    /// A named person; when set, only they report back.
    pub to_account: Option<Uuid>,
    pub due_at: i64,
}

/// A supervision in force (督办).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Supervision {
    pub action: Uuid,
    pub by: Uuid,
    pub level: Level,
    pub at: i64,
    /// Settle it by then.
    pub due_at: i64,
}

/// Which time limit a dispute's deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DeadlineKind {
    /// The holding level has to accept it.
    Accept,
    /// The assignee has to report back.
    Assignment,
    /// The holding level has to settle it.
    Settle,
    /// A supervising level's deadline.
    Supervision,
}

/// An action that took no effect because a concurrent one overtook it: for a person to settle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct Contradiction {
    pub action: Uuid,
    /// Why the rule would not take it now (the code a refusal would carry).
    #[cfg_attr(feature = "ts", ts(type = "ErrorCode"))]
    pub code: ErrorCode,
    pub message: String,
    /// The actions its author had not seen that took effect before it.
    pub concurrent: Vec<Uuid>,
}

/// Where a dispute stands, derived from its actions by [`derive`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeState {
    pub status: DisputeStatus,
    /// The level holding it (受理、指派、核查、办结 are its to do).
    pub level: Level,
    /// Whether the holding level has accepted it since it arrived.
    pub accepted: bool,
    /// When it arrived at the holding level.
    pub arrived_at: i64,
    /// The level it came from, while an escalation waits to be accepted (a return sends it back).
    pub from_level: Option<Level>,
    pub assignment: Option<Assignment>,
    /// Supervisions by higher levels, in force until it is settled.
    pub supervisions: Vec<Supervision>,
    pub supervised: bool,
    /// The level at which it was settled (小事不出社区、大事不出镇).
    pub resolved_level: Option<Level>,
    pub resolved_at: Option<i64>,
    pub satisfaction: Option<String>,
    /// The first action that dealt with it after the report (第一时间介入).
    pub first_intervention_at: Option<i64>,
    /// The earliest time limit still running, and which one it is.
    pub deadline: Option<i64>,
    pub deadline_kind: Option<DeadlineKind>,
    /// The account whose action took effect last.
    pub last_action: Option<Uuid>,
    pub contradictions: Vec<Contradiction>,
}

impl DisputeState {
    /// Whether a time limit has passed (the same answer on every replica at the same time).
    pub fn overdue(&self, now_ms: i64) -> bool {
        self.deadline.is_some_and(|d| d < now_ms)
    }
}

/// The time limits of one class of dispute at one level, in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeLimit {
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass"))]
    pub class: String,
    pub level: Level,
    /// From arrival to acceptance.
    pub accept_minutes: i64,
    /// From arrival to resolution at this level.
    pub settle_minutes: i64,
}

/// A county's time limits per class and level (a county setting; these defaults follow the
/// usual practice: a day to accept, an emergency within half an hour, small matters settled at
/// the grid within three days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeLimits {
    pub limits: Vec<TimeLimit>,
}

const HOUR: i64 = 60;
const DAY: i64 = 24 * HOUR;

impl Default for TimeLimits {
    fn default() -> Self {
        let table: [(&str, [(i64, i64); 4]); 3] = [
            ("ordinary", [(DAY, 3 * DAY), (DAY, 5 * DAY), (DAY, 10 * DAY), (DAY, 15 * DAY)]),
            ("coordination", [(DAY, 5 * DAY), (DAY, 7 * DAY), (DAY, 15 * DAY), (DAY, 30 * DAY)]),
            ("emergency", [(30, DAY), (30, DAY), (30, 2 * DAY), (30, 3 * DAY)]),
        ];
        let limits = table
            .iter()
            .flat_map(|(class, per_level)| {
                Level::ALL.iter().zip(per_level).map(|(level, (accept, settle))| TimeLimit {
                    class: class.to_string(),
                    level: *level,
                    accept_minutes: *accept,
                    settle_minutes: *settle,
                })
            })
            .collect();
        TimeLimits { limits }
    }
}

/// A county's table has at most this many entries (every class at every level is 12).
pub const MAX_TIME_LIMITS: usize = 48;
/// A county's table as JSON is never larger (48 entries of about 90 bytes, with room to spare).
pub const MAX_TIME_LIMITS_BYTES: usize = 16 * 1024;
/// No time limit is longer than a year.
pub const MAX_LIMIT_MINUTES: i64 = 366 * DAY;

impl TimeLimits {
    /// (accept, settle) in milliseconds; a class or level the table lacks gets the defaults'
    /// limits of that class, or their ordinary ones, at that level.
    pub(super) fn of(&self, class: &str, level: Level) -> (i64, i64) {
        let find = |t: &TimeLimits, c: &str| {
            t.limits
                .iter()
                .find(|l| l.class == c && l.level == level)
                .map(|l| (l.accept_minutes.saturating_mul(60_000), l.settle_minutes.saturating_mul(60_000)))
        };
        let defaults = TimeLimits::default();
        find(self, class)
            .or_else(|| find(&defaults, class))
            .or_else(|| find(&defaults, "ordinary"))
            .unwrap_or((DAY * 60_000, 3 * DAY * 60_000))
    }

    /// Why this table cannot be a county's time limits, if it cannot: too many entries, a class
    /// the protocol does not know, a class and level given twice, a limit not between a minute
    /// and a year, or acceptance due after settlement.
    pub fn problem(&self) -> Option<String> {
        if self.limits.len() > MAX_TIME_LIMITS {
            return Some(format!("{} time limits; at most {MAX_TIME_LIMITS}", self.limits.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for l in &self.limits {
            let at = format!("{} at {}", l.class, l.level.as_str());
            if !crate::schema::DISPUTE_CLASSES.contains(&l.class.as_str()) {
                return Some(format!("unknown class of dispute {:?}", l.class.chars().take(40).collect::<String>()));
            }
            if !seen.insert((l.class.as_str(), l.level)) {
                return Some(format!("{at} is given twice"));
            }
            for (what, m) in [("acceptance", l.accept_minutes), ("settlement", l.settle_minutes)] {
                if !(1..=MAX_LIMIT_MINUTES).contains(&m) {
                    return Some(format!("{at}: the {what} limit is {m} minutes; it must be 1 to {MAX_LIMIT_MINUTES}"));
                }
            }
            if l.accept_minutes > l.settle_minutes {
                return Some(format!("{at}: acceptance is due after settlement"));
            }
        }
        None
    }

    /// The defaults with these entries in place of theirs: a county names only what it changes,
    /// and the stored table is always whole.
    pub fn over_defaults(&self) -> TimeLimits {
        let mut whole = TimeLimits::default();
        for l in &self.limits {
            match whole.limits.iter_mut().find(|d| d.class == l.class && d.level == l.level) {
                Some(d) => *d = l.clone(),
                None => whole.limits.push(l.clone()),
            }
        }
        whole
    }
}

/// What a county sets that every replica must follow alike, delivered to devices with sync
/// (today its time limits). `version` 0 is the defaults, never set; each change counts up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountySettings {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub version: u64,
    pub time_limits: TimeLimits,
}
