//! (Long on purpose: the rule is one state machine — what each action may do, what it does,
//! their order, deadlines, who waits — read best top to bottom; its types are in `state.rs` and
//! its cases in `tests.rs`.)
//!
//! The closed loop (闭环) of a dispute: one deterministic rule that turns a dispute's
//! append-only actions into where it stands, who holds it, what is due and when, and which
//! actions contradict each other. Devices and the server run this same code: the validator
//! judges every new action with [`judge`] against the actions its author had seen, and every
//! replica derives the state of the merged set with [`derive`].
//!
//! The loop, as digital city management made it standard and Yishui runs it across four levels
//! (网格 → 村/社区 → 镇/街道 → 县):
//!
//! 上报 `report` → 受理 `accept` by the level holding it → 分流指派 `assign` (to a lower level,
//! a department or a named person, with a due time) → 处置反馈 `feedback` by the assignee →
//! 核查 `verify` by the assigning level (or 退回 `return`) → 办结 `resolve` → 评价 `evaluate`
//! (the parties' satisfaction, recorded by someone other than the reporter) → 归档 `archive`.
//! 上报 `escalate` passes it one level up with a reason; 督办 `supervise` lets a level above the
//! holder set a deadline; a 突发性 (emergency) report goes straight to the county, which must
//! accept it within its time limit. `intervene` and `mediate` record work on the spot.
//!
//! **Concurrency.** Every action names the last action its author had seen (`after`). The
//! actions are put in one order every replica agrees on (each after the one it names, ties by
//! time and id) and judged in that order against the state so far. An action its author was
//! entitled to take, but which a concurrent action has since overtaken (the township assigned
//! while the grid resolved; two centres accepted), takes no effect and is listed as a
//! [`Contradiction`] for a person to settle, like a field conflict; an action that merely
//! repeats what a concurrent one did (two staff accepting) is redundant and is not listed.
//! Actions of a kind this version does not know (from a newer app) are kept and shown, and
//! change nothing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use uuid::Uuid;

use super::{Action, Dispute};
use crate::ValidationCode;
use crate::org::{Level, Role};
use crate::schema::SATISFACTION;

mod state;
#[cfg(test)]
mod tests;

pub use state::{
    ActionKind, Assignment, Contradiction, CountySettings, DeadlineKind, DisputeState, DisputeStatus,
    MAX_LIMIT_MINUTES, MAX_TIME_LIMITS, MAX_TIME_LIMITS_BYTES, Supervision, TimeLimit, TimeLimits,
};

/// What the rule needs of a dispute besides its actions.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub class: &'a str,
    pub reported_by: Uuid,
    pub reported_at: i64,
}

impl<'a> From<&'a Dispute> for Facts<'a> {
    fn from(d: &'a Dispute) -> Self {
        Facts { class: &d.class, reported_by: d.reported_by, reported_at: d.reported_at }
    }
}

/// The most actions one change may add to one dispute (an honest edit adds one), and the most a
/// dispute may hold: judging and deriving stay cheap whatever a device sends.
pub const MAX_NEW_ACTIONS: usize = 16;
pub const MAX_ACTIONS: usize = 500;

/// Why the rule will not take an action in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotNow {
    pub code: ValidationCode,
    pub message: &'static str,
    /// The action adds nothing to what is already so (a second acceptance): not a
    /// contradiction.
    pub redundant: bool,
}

fn no(code: ValidationCode, message: &'static str) -> NotNow {
    NotNow { code, message, redundant: false }
}

fn same(code: ValidationCode, message: &'static str) -> NotNow {
    NotNow { code, message, redundant: true }
}

fn up(level: Level) -> Option<Level> {
    match level {
        Level::Grid => Some(Level::Community),
        Level::Community => Some(Level::Township),
        Level::Township => Some(Level::County),
        Level::County => None,
    }
}

/// Whether `a` may be taken in state `st`; the one statement of who may do what.
pub fn permit(st: &DisputeState, facts: Facts<'_>, a: &Action) -> Result<ActionKind, NotNow> {
    use ValidationCode as V;
    let kind = ActionKind::parse(&a.kind).ok_or(no(V::UnknownValue, "未知的处置类型"))?;
    let holder = a.level == st.level;
    let open = st.status.is_open();
    // An app from before the loop names nothing it had seen and cannot accept: the holding
    // level working it, or passing it on, accepts it by doing so; and its escalation may name
    // any level above, as that app lets the worker choose.
    let legacy = a.after.is_none();
    let accepted = st.accepted || (legacy && holder);
    let settled = || no(V::DisputeSettled, "事件已办结");
    let not_holder = || no(V::NotHolder, "只有当前承办层级可以这样处置");
    match kind {
        ActionKind::Report => Err(no(V::WrongStage, "事件已上报")),
        ActionKind::Accept => {
            if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if st.accepted {
                Err(same(V::WrongStage, "已受理"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Intervene | ActionKind::Mediate => {
            let assignee = st.assignment.as_ref().is_some_and(|x| from_assignee(x, a));
            if !open {
                Err(settled())
            } else if !(holder || assignee || a.actor == facts.reported_by) {
                Err(no(V::NotHolder, "只有承办层级、被指派方或上报人可以介入调解"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Escalate => {
            let target = a.to_level.or_else(|| up(st.level));
            let next = up(st.level);
            if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if next.is_none() {
                Err(no(V::WrongStage, "县级已是最高层级"))
            } else if facts.class != "emergency" && !legacy && target != next {
                Err(no(V::NotNextLevel, "逐级上报：只能上报到上一级"))
            } else if target.is_none_or(|t| t <= st.level) {
                Err(no(V::NotNextLevel, "只能向上级上报"))
            } else if a.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
                Err(no(V::Required, "上报需要写明理由"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Assign => {
            let stage_ok = matches!(
                st.status,
                DisputeStatus::Reported
                    | DisputeStatus::Accepted
                    | DisputeStatus::InProgress
                    | DisputeStatus::Assigned
                    | DisputeStatus::Returned
            );
            if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if !accepted {
                Err(no(V::WrongStage, "请先受理"))
            } else if !stage_ok {
                Err(no(V::WrongStage, "请先核查处置反馈"))
            } else if a.to_level.is_none_or(|t| t > st.level) {
                Err(no(V::NotNextLevel, "只能指派给本级或下级"))
            } else if a.due_at.is_none_or(|d| d <= a.at) {
                Err(no(V::Required, "指派需要办理时限"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Feedback => {
            let Some(x) = st.assignment.as_ref() else { return Err(no(V::WrongStage, "没有待反馈的指派")) };
            let assignee = from_assignee(x, a);
            if !open {
                Err(settled())
            } else if !matches!(st.status, DisputeStatus::Assigned | DisputeStatus::Returned) {
                Err(same(V::WrongStage, "已反馈"))
            } else if !assignee {
                Err(no(V::NotAssignee, "只有被指派方可以反馈"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Verify => {
            if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if st.status == DisputeStatus::Verified {
                Err(same(V::WrongStage, "已核查"))
            } else if st.status != DisputeStatus::FedBack {
                Err(no(V::WrongStage, "没有待核查的反馈"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Return => {
            let feedback = st.status == DisputeStatus::FedBack;
            let passed_up = !st.accepted && st.from_level.is_some();
            if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if !(feedback || passed_up) {
                Err(no(V::WrongStage, "没有可退回的反馈或上报"))
            } else if a.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
                Err(no(V::Required, "退回需要写明理由"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Supervise => {
            if !open {
                Err(settled())
            } else if a.level <= st.level {
                Err(no(V::NotAbove, "只有上级可以督办"))
            } else if a.due_at.is_none_or(|d| d <= a.at) {
                Err(no(V::Required, "督办需要期限"))
            } else if a.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
                Err(no(V::Required, "督办需要写明要求"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Resolve => {
            let assigned_out = st.assignment.is_some() && st.status != DisputeStatus::Verified;
            if st.status == DisputeStatus::Resolved && st.resolved_level == Some(a.level) {
                Err(same(V::DisputeSettled, "已办结"))
            } else if !open {
                Err(settled())
            } else if !holder {
                Err(not_holder())
            } else if !accepted {
                Err(no(V::WrongStage, "请先受理"))
            } else if assigned_out {
                Err(no(V::WrongStage, "请先核查被指派方的处置反馈"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Evaluate => {
            if a.actor == facts.reported_by {
                Err(no(V::ReporterEvaluates, "评价须由上报人以外的人员记录"))
            } else if st.status != DisputeStatus::Resolved {
                Err(no(V::WrongStage, "办结后才能评价"))
            } else if a.satisfaction.as_deref().is_none_or(|s| !SATISFACTION.contains(&s)) {
                Err(no(V::Required, "评价需要记录当事人满意度"))
            } else {
                Ok(kind)
            }
        }
        ActionKind::Archive => {
            if st.status == DisputeStatus::Closed {
                Err(same(V::WrongStage, "已归档"))
            } else if st.status != DisputeStatus::Evaluated {
                Err(no(V::WrongStage, "评价后才能归档"))
            } else if a.level < st.level {
                Err(not_holder())
            } else {
                Ok(kind)
            }
        }
    }
}

/// The state after the report.
fn reported(facts: Facts<'_>, report: &Action) -> DisputeState {
    let emergency = facts.class == "emergency" && report.level < Level::County;
    DisputeState {
        status: DisputeStatus::Reported,
        level: if emergency { Level::County } else { report.level },
        // A report is held at once by its reporter's level; an emergency waits for the county.
        accepted: !emergency,
        arrived_at: report.at,
        from_level: emergency.then_some(report.level),
        assignment: None,
        supervisions: Vec::new(),
        supervised: false,
        resolved_level: None,
        resolved_at: None,
        satisfaction: None,
        first_intervention_at: None,
        deadline: None,
        deadline_kind: None,
        last_action: Some(report.actor),
        contradictions: Vec::new(),
    }
}

/// Applies an action [`permit`] allowed.
fn apply(st: &mut DisputeState, kind: ActionKind, a: &Action) {
    st.last_action = Some(a.actor);
    if a.after.is_none() && a.level == st.level && !st.accepted && kind != ActionKind::Escalate {
        // An older app's holder working it accepts it by doing so (see `permit`).
        st.accepted = true;
        st.from_level = None;
    }
    let handles = matches!(
        kind,
        ActionKind::Accept
            | ActionKind::Intervene
            | ActionKind::Mediate
            | ActionKind::Assign
            | ActionKind::Feedback
            | ActionKind::Resolve
    );
    if handles && st.first_intervention_at.is_none() {
        st.first_intervention_at = Some(a.at);
    }
    match kind {
        ActionKind::Report => {}
        ActionKind::Accept => {
            st.accepted = true;
            st.from_level = None;
            st.status = DisputeStatus::Accepted;
        }
        ActionKind::Intervene | ActionKind::Mediate => {
            if matches!(st.status, DisputeStatus::Reported | DisputeStatus::Accepted) && st.accepted {
                st.status = DisputeStatus::InProgress;
            }
        }
        ActionKind::Escalate => {
            let target = a.to_level.or_else(|| up(st.level)).unwrap_or(Level::County);
            st.from_level = Some(st.level);
            st.level = target;
            st.accepted = false;
            st.arrived_at = a.at;
            st.assignment = None;
            st.status = DisputeStatus::Escalated;
        }
        ActionKind::Assign => {
            st.assignment = Some(Assignment {
                action: a.id,
                by: a.actor,
                at: a.at,
                to_level: a.to_level.unwrap_or(st.level),
                to_node: a.to_node,
                to_account: a.to_account,
                due_at: a.due_at.unwrap_or(a.at),
            });
            st.status = DisputeStatus::Assigned;
        }
        ActionKind::Feedback => st.status = DisputeStatus::FedBack,
        ActionKind::Verify => st.status = DisputeStatus::Verified,
        ActionKind::Return => {
            if st.status == DisputeStatus::FedBack {
                if let (Some(x), Some(due)) = (st.assignment.as_mut(), a.due_at) {
                    x.due_at = due;
                }
            } else if let Some(from) = st.from_level.take() {
                // An escalation sent back down: the lower level holds it again.
                st.level = from;
                st.accepted = true;
                st.arrived_at = a.at;
                st.assignment = None;
            }
            st.status = DisputeStatus::Returned;
        }
        ActionKind::Supervise => {
            st.supervised = true;
            st.supervisions.push(Supervision {
                action: a.id,
                by: a.actor,
                level: a.level,
                at: a.at,
                due_at: a.due_at.unwrap_or(a.at),
            });
        }
        ActionKind::Resolve => {
            st.status = DisputeStatus::Resolved;
            st.resolved_level = Some(st.level);
            st.resolved_at = Some(a.at);
        }
        ActionKind::Evaluate => {
            st.status = DisputeStatus::Evaluated;
            st.satisfaction = a.satisfaction.clone();
        }
        ActionKind::Archive => st.status = DisputeStatus::Closed,
    }
}

/// The order every replica judges actions in: the report first, then each action after the
/// one it names as seen, ties by time and id (a topological order of the `after` links).
pub fn ordered(actions: &[Action]) -> Vec<&Action> {
    let index: HashMap<Uuid, usize> = actions.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let key = |i: usize| {
        let a = &actions[i];
        Reverse((a.kind != "report", a.at, a.id, i))
    };
    let mut waiting: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut ready = BinaryHeap::new();
    for (i, a) in actions.iter().enumerate() {
        match a.after.and_then(|p| index.get(&p)).filter(|p| **p != i) {
            Some(p) => waiting.entry(*p).or_default().push(i),
            None => ready.push(key(i)),
        }
    }
    let mut out = Vec::with_capacity(actions.len());
    while let Some(Reverse((_, _, _, i))) = ready.pop() {
        out.push(&actions[i]);
        for next in waiting.remove(&i).unwrap_or_default() {
            ready.push(key(next));
        }
    }
    // Links that form a cycle (no honest device makes one): judged last, by time.
    let mut rest: Vec<usize> = waiting.into_values().flatten().collect();
    rest.sort_by_key(|i| key(*i).0);
    out.extend(rest.into_iter().map(|i| &actions[i]));
    out
}

/// The one rule: the state of a dispute from its actions. Depends only on the set, so every
/// replica agrees after merging concurrent actions.
pub fn derive(facts: Facts<'_>, actions: &[Action], limits: &TimeLimits) -> DisputeState {
    let order = ordered(actions);
    let by_id: HashMap<Uuid, &Action> = actions.iter().map(|a| (a.id, a)).collect();
    let mut st: Option<DisputeState> = None;
    // Actions that took effect, in order.
    let mut applied: Vec<Uuid> = Vec::new();
    for a in order {
        let Some(state) = st.as_mut() else {
            if a.kind == "report" {
                st = Some(reported(facts, a));
                applied.push(a.id);
            }
            continue;
        };
        if ActionKind::parse(&a.kind).is_none() {
            continue; // a newer app's kind: kept and shown, changes nothing here
        }
        match permit(state, facts, a) {
            Ok(kind) => {
                apply(state, kind, a);
                applied.push(a.id);
            }
            Err(e) if e.redundant => {}
            Err(e) => {
                let seen = ancestors(a, &by_id);
                let concurrent = match a.after {
                    Some(_) => applied.iter().filter(|id| !seen.contains(id)).copied().collect(),
                    None => Vec::new(),
                };
                state.contradictions.push(Contradiction {
                    action: a.id,
                    code: e.code.into(),
                    message: e.message.into(),
                    concurrent,
                });
            }
        }
    }
    let mut st = st.unwrap_or_else(|| {
        // No report (a record no honest device writes): held where nothing was done.
        let none = Action::new(Uuid::nil(), "report", facts.reported_by, Level::Grid, facts.reported_at);
        reported(facts, &none)
    });
    set_deadline(&mut st, facts, limits);
    st
}

/// Every action `a` had seen by its `after` links.
fn ancestors(a: &Action, by_id: &HashMap<Uuid, &Action>) -> HashSet<Uuid> {
    let mut seen = HashSet::new();
    let mut next = a.after;
    while let Some(id) = next {
        if !seen.insert(id) {
            break;
        }
        next = by_id.get(&id).and_then(|p| p.after);
    }
    seen
}

fn set_deadline(st: &mut DisputeState, facts: Facts<'_>, limits: &TimeLimits) {
    st.deadline = None;
    st.deadline_kind = None;
    if !st.status.is_open() {
        return;
    }
    let (accept, settle) = limits.of(facts.class, st.level);
    let mut candidates: Vec<(i64, DeadlineKind)> = Vec::new();
    if !st.accepted {
        candidates.push((st.arrived_at + accept, DeadlineKind::Accept));
    } else if let Some(x) =
        st.assignment.as_ref().filter(|_| matches!(st.status, DisputeStatus::Assigned | DisputeStatus::Returned))
    {
        candidates.push((x.due_at, DeadlineKind::Assignment));
    } else {
        candidates.push((st.arrived_at + settle, DeadlineKind::Settle));
    }
    candidates.extend(st.supervisions.iter().map(|s| (s.due_at, DeadlineKind::Supervision)));
    if let Some((at, kind)) = candidates.into_iter().min_by_key(|(at, _)| *at) {
        st.deadline = Some(at);
        st.deadline_kind = Some(kind);
    }
}

/// Judges new actions against the actions their author had seen (`seen`: the dispute as the
/// change's dependencies hold it), in order, as the validator does for every change. The first
/// action the rule will not take is refused with its code.
///
/// An action that names what it had seen (`after`; every app since the loop does) must name
/// the last action of what its author held, and come later than every one of them: so it is
/// judged on exactly what it will follow, and cannot be backdated before what it saw. A report
/// names nothing. At most [`MAX_NEW_ACTIONS`] per change and [`MAX_ACTIONS`] per dispute.
pub fn judge(facts: Facts<'_>, seen: &[Action], new: &[Action]) -> Result<(), (ValidationCode, &'static str)> {
    use ValidationCode as V;
    if new.len() > MAX_NEW_ACTIONS || seen.len() + new.len() > MAX_ACTIONS {
        return Err((V::TooLong, "处置记录过多"));
    }
    let mut st = (!seen.is_empty()).then(|| derive(facts, seen, &TimeLimits::default()));
    let mut last = last_seen(seen);
    let mut latest = seen.iter().map(|a| a.at).max();
    for a in new {
        if a.kind == "report" {
            if st.is_some() {
                return Err((V::WrongStage, "事件已上报"));
            }
            if a.actor != facts.reported_by {
                return Err((V::ActorMismatch, "上报人必须是提交者本人"));
            }
            if a.after.is_some() {
                return Err((V::WrongStage, "上报不依据其他处置记录"));
            }
            st = Some(reported(facts, a));
        } else {
            let Some(state) = st.as_mut() else { return Err((V::WrongStage, "事件须先上报")) };
            if a.after.is_some() {
                if a.after != last {
                    return Err((V::RecordMissing, "处置记录须接在其所见的最后一条之后"));
                }
                if latest.is_some_and(|t| a.at <= t) {
                    return Err((V::OutOfRange, "处置时间不能早于此前的处置记录"));
                }
            }
            let kind = permit(state, facts, a).map_err(|e| match e.code {
                // What an app from before the loop cannot send (a time limit, the satisfaction):
                // say so, rather than ask for a field it has no way to fill.
                V::Required if a.after.is_none() && matches!(a.kind.as_str(), "assign" | "supervise" | "evaluate") => {
                    (V::AppTooOld, "此项处置需要新版应用，请更新后再办理")
                }
                code => (code, e.message),
            })?;
            apply(state, kind, a);
        }
        last = Some(a.id);
        latest = Some(latest.map_or(a.at, |t| t.max(a.at)));
    }
    Ok(())
}

/// The kinds of action `actor`, working at `level`, may take on a dispute in state `st` now:
/// the buttons a screen offers. Asked of [`permit`] itself, with what each kind's form will
/// collect (a reason, a due time, the satisfaction) taken as given, so screens never hold a rule
/// of their own.
pub fn allowed(
    st: &DisputeState,
    facts: Facts<'_>,
    actor: Uuid,
    level: Level,
    node: Option<Uuid>,
    now_ms: i64,
) -> Vec<ActionKind> {
    ActionKind::ALL
        .into_iter()
        .filter(|k| *k != ActionKind::Report)
        .filter(|kind| {
            let mut a = Action::new(Uuid::nil(), kind.as_str(), actor, level, now_ms);
            // As this app writes it: naming what it saw (never an older app's leniency).
            a.after = Some(Uuid::nil());
            a.node = node;
            a.note = Some("-".into());
            a.due_at = Some(now_ms + 60_000);
            a.satisfaction = Some(SATISFACTION[0].into());
            a.to_level = match kind {
                ActionKind::Escalate if facts.class == "emergency" => Some(Level::County),
                ActionKind::Escalate => up(st.level),
                ActionKind::Assign => Some(st.level),
                _ => None,
            };
            permit(st, facts, &a).is_ok()
        })
        .collect()
}

/// Whom a dispute waits for (待办): the level, and the person when one is named. The holding
/// level while it has something to do (accept, assign, verify, resolve, archive), the assignee
/// while an assignment is out; nobody once it is archived, or resolved and waiting only for
/// the parties' evaluation (which anyone but the reporter may record).
pub fn waiting_on(st: &DisputeState) -> Option<Waiting> {
    let out = matches!(st.status, DisputeStatus::Assigned | DisputeStatus::Returned) && st.assignment.is_some();
    match (st.status, &st.assignment) {
        (DisputeStatus::Closed | DisputeStatus::Resolved, _) => None,
        (_, Some(x)) if out => Some(Waiting { level: x.to_level, node: x.to_node, account: x.to_account }),
        _ => Some(Waiting { level: st.level, node: None, account: None }),
    }
}

/// Whom a dispute waits for: a named person; else a place at a level (a department, a
/// village); else the level holding it — its centre, not the departments at that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub level: Level,
    pub node: Option<Uuid>,
    pub account: Option<Uuid>,
}

impl Waiting {
    /// Whether this is `actor`, of `role`, at `node` (`None` where the place is unknown: the
    /// level then answers).
    pub fn is_for(&self, actor: Uuid, role: Role, node: Option<Uuid>) -> bool {
        if self.level != role.level() {
            return false;
        }
        if let Some(person) = self.account {
            return person == actor;
        }
        match (self.node, node) {
            (Some(place), Some(mine)) => place == mine,
            (Some(_), None) => true,
            (None, _) => !role.is_department(),
        }
    }
}

/// Whether a dispute waits for `actor`, of `role`, at `node` ([`waiting_on`]).
pub fn waits_for(st: &DisputeState, actor: Uuid, role: Role, node: Option<Uuid>) -> bool {
    waiting_on(st).is_some_and(|w| w.is_for(actor, role, node))
}

/// Whether `a` comes from the assignee of `x`: the named person; else someone acting for the
/// place it was sent to (a department, a village), where the action names its place; else (an
/// app from before departments) anyone at the level it was sent to.
fn from_assignee(x: &Assignment, a: &Action) -> bool {
    match (x.to_account, x.to_node, a.node) {
        (Some(person), _, _) => person == a.actor,
        (None, Some(place), Some(acting_for)) => place == acting_for && x.to_level == a.level,
        _ => x.to_level == a.level,
    }
}

/// The action that a new action should name as seen: the last of the dispute's actions in the
/// rule's order.
pub fn last_seen(actions: &[Action]) -> Option<Uuid> {
    ordered(actions).last().map(|a| a.id)
}
