//! The staff's dispute API: the queries and lists (`GET /v1/disputes`), a dispute as one person
//! sees it, an action sent from the server (`POST /v1/disputes/{id}/actions`), the live
//! stream's events, the places a dispute can be sent to, and a change of the time limits.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Action, ActionKind, Dispute, DisputeState, DisputeStatus, TimeLimits, closed_loop};
use crate::org::Level;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeQuery {
    pub grid: Option<Uuid>,
    pub status: Option<String>,
    pub level: Option<String>,
    /// ordinary, coordination or emergency.
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass | null", optional))]
    pub class: Option<String>,
    /// Reported at or after this time (ms since the epoch): what is new today.
    pub reported_since: Option<i64>,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub open_only: bool,
    /// One of the staff's lists, within their scope, most urgent first (the other filters
    /// then narrow it).
    pub list: Option<DisputeList>,
}

/// The lists staff work from (`GET /v1/disputes?list=`), each as the closed loop's rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DisputeList {
    /// 待办: waiting for the caller's level (or for the caller by name).
    Waiting,
    /// A time limit has passed.
    Overdue,
    /// Supervised (督办) and not settled.
    Supervised,
    /// 突发性 reports the county has not accepted yet.
    UnacceptedEmergencies,
    /// Held by the caller's level and assigned out, waiting for the assignee.
    AssignedOut,
}

impl DisputeList {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeList::Waiting => "waiting",
            DisputeList::Overdue => "overdue",
            DisputeList::Supervised => "supervised",
            DisputeList::UnacceptedEmergencies => "unaccepted_emergencies",
            DisputeList::AssignedOut => "assigned_out",
        }
    }
}

/// `GET /v1/houses?grid=` and the like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct GridFilter {
    pub grid: Option<Uuid>,
}

/// A dispute as one person sees it: where it stands, how quickly it was reported, and what
/// this person may do with it now (the closed loop's rule, asked by whoever answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeView {
    /// The grid it belongs to (where it was found).
    pub grid: Uuid,
    pub dispute: Dispute,
    pub state: DisputeState,
    /// Minutes from discovery to report (第一时间报告).
    pub report_delay_minutes: i64,
    /// A time limit has passed.
    pub overdue: bool,
    /// It waits for this person or their level (待办).
    pub waiting: bool,
    /// The actions this person may take now.
    pub allowed: Vec<ActionKind>,
    /// The people its actions name (who acted, to whom it was assigned), for their names: the
    /// server fills it for one dispute's page; empty in lists and on the device.
    #[serde(default)]
    pub people: Vec<crate::org::Account>,
}

impl DisputeView {
    /// `dispute` of `grid` as the account `actor`, of `role` at `node`, sees it at `now_ms`.
    pub fn for_viewer(
        grid: Uuid,
        dispute: Dispute,
        actor: Uuid,
        role: crate::org::Role,
        node: Option<Uuid>,
        now_ms: i64,
        limits: &TimeLimits,
    ) -> Self {
        let state = dispute.state(limits);
        let facts = (&dispute).into();
        let level = role.level();
        let mut allowed = closed_loop::allowed(&state, facts, actor, level, node, now_ms);
        allowed.retain(|k| role.takes_action(k.as_str()));
        DisputeView {
            grid,
            overdue: state.overdue(now_ms),
            waiting: closed_loop::waits_for(&state, actor, role, node),
            allowed,
            people: Vec::new(),
            report_delay_minutes: dispute.report_delay_minutes(),
            state,
            dispute,
        }
    }
}

/// An action on a dispute as a person asks for it: the body of
/// `POST /v1/disputes/{id}/actions` and the app's `add_dispute_action`. Who acts, at which
/// level, when and after what are added by whoever writes it (the device, or the server for
/// staff without a handheld); the closed loop's rule judges it the same way on both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct NewAction {
    #[cfg_attr(feature = "ts", ts(type = "ActionKind"))]
    pub kind: String,
    #[serde(default)]
    pub to_level: Option<Level>,
    #[serde(default)]
    pub to_node: Option<Uuid>,
    #[serde(default)]
    pub to_account: Option<Uuid>,
    #[serde(default)]
    pub due_at: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Satisfaction | null", optional))]
    pub satisfaction: Option<String>,
}

impl NewAction {
    pub fn new(kind: &str) -> Self {
        NewAction { kind: kind.into(), ..NewAction::default() }
    }

    pub fn note(mut self, note: &str) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn to(mut self, level: Level) -> Self {
        self.to_level = Some(level);
        self
    }

    pub fn due(mut self, at_ms: i64) -> Self {
        self.due_at = Some(at_ms);
        self
    }

    /// The action `actor` takes at `level` at `now_ms`, having seen `dispute` as it stands: it
    /// names the last action it saw, and comes after every one of them (a clock behind the
    /// others' is moved on by a millisecond past the latest, as the rule requires).
    pub fn by(&self, actor: Uuid, level: Level, node: Option<Uuid>, now_ms: i64, dispute: &Dispute) -> Action {
        let at = dispute.actions.iter().map(|a| a.at + 1).max().map_or(now_ms, |t| t.max(now_ms));
        let mut a = Action::new(Uuid::now_v7(), &self.kind, actor, level, at);
        a.to_level = self.to_level;
        a.to_node = self.to_node;
        a.to_account = self.to_account;
        a.due_at = self.due_at;
        a.note = self.note.clone().filter(|s| !s.trim().is_empty());
        a.satisfaction = self.satisfaction.clone();
        a.after = closed_loop::last_seen(&dispute.actions);
        a.node = node;
        a
    }
}

/// Something that happened to a dispute, as staff hear it live (`GET /v1/events`, server-sent
/// events named by `kind`): an action taken on a handheld or at the server (`report`,
/// `escalate`, `assign` … as the action's kind), or a time limit that just passed (`overdue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct DisputeEvent {
    pub kind: String,
    pub dispute: Uuid,
    pub grid: Uuid,
    #[cfg_attr(feature = "ts", ts(type = "DisputeClass"))]
    pub class: String,
    pub status: DisputeStatus,
    /// The level holding it now.
    pub level: Level,
    /// Whom it waits for now (待办).
    pub waiting_level: Option<Level>,
    pub deadline: Option<i64>,
    /// When the action was taken, or the time limit passed.
    pub at: i64,
}

impl DisputeEvent {
    /// `kind` happened at `at` to `dispute` of `grid`, which now stands as the rule derives.
    pub fn new(kind: &str, grid: Uuid, dispute: &Dispute, at: i64, limits: &TimeLimits) -> Self {
        let state = dispute.state(limits);
        DisputeEvent {
            kind: kind.into(),
            dispute: dispute.id,
            grid,
            class: dispute.class.clone(),
            status: state.status,
            level: state.level,
            waiting_level: closed_loop::waiting_on(&state).map(|w| w.level),
            deadline: state.deadline,
            at,
        }
    }
}

/// A place a dispute can be sent to (分流指派) by the person asking (`GET /v1/places`): under a
/// township centre its villages, grids and departments (司法所, 派出所 …); under the county its
/// townships and departments; under a village its grids. The handheld's assign form offers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Place {
    pub id: Uuid,
    pub name: String,
    pub kind: crate::org::NodeKind,
    /// The level a dispute sent there is handled at.
    pub level: Level,
}

impl From<&crate::org::Node> for Place {
    fn from(n: &crate::org::Node) -> Self {
        Place { id: n.id, name: n.name.clone(), kind: n.kind, level: n.level() }
    }
}

/// What a change of the county's time limits did (`PUT /v1/admin/settings/time-limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsChanged {
    /// The settings now in force, devices get them at their next sync.
    pub settings: crate::model::CountySettings,
    /// Disputes whose deadlines were derived again under them.
    pub disputes: u32,
}
