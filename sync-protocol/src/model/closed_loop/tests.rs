//! The closed loop's rule on hand-built stories: the whole loop, who may do what, time limits,
//! actions from older and newer apps, and every pair of concurrent actions.

use super::*;

const MIN: i64 = 60_000;
const T0: i64 = 1_764_000_000_000;

/// One person per level; the grid's is the reporter.
fn person(level: Level) -> Uuid {
    Uuid::from_u128(0x100 + level as u128)
}
const REPORTER: Uuid = Uuid::from_u128(0x100);

/// A dispute's actions as a replica would write them, each naming the last one it saw.
struct Story {
    class: &'static str,
    actions: Vec<Action>,
    n: u128,
}

impl Story {
    fn new(class: &'static str) -> Self {
        let mut s = Story { class, actions: Vec::new(), n: 0 };
        s.push(Action::new(Uuid::nil(), "report", REPORTER, Level::Grid, T0));
        s
    }
    fn facts(&self) -> Facts<'static> {
        Facts { class: self.class, reported_by: REPORTER, reported_at: T0 }
    }
    /// An action by `level`'s person `minutes` after the report, having seen everything so
    /// far.
    fn act(&mut self, kind: &str, level: Level, minutes: i64) -> Action {
        self.n += 1;
        let mut a = Action::new(Uuid::from_u128(self.n), kind, person(level), level, T0 + minutes * MIN);
        a.after = last_seen(&self.actions);
        a.note = Some("理由".into());
        a
    }
    fn push(&mut self, mut a: Action) -> &mut Self {
        if a.id.is_nil() {
            self.n += 1;
            a.id = Uuid::from_u128(self.n);
        }
        self.actions.push(a);
        self
    }
    /// Judged as the validator does, then added.
    fn take(&mut self, a: Action) -> Result<&mut Self, ValidationCode> {
        judge(self.facts(), &self.actions, std::slice::from_ref(&a)).map_err(|(c, _)| c)?;
        Ok(self.push(a))
    }
    fn state(&self) -> DisputeState {
        derive(self.facts(), &self.actions, &TimeLimits::default())
    }
}

fn with(mut a: Action, f: impl FnOnce(&mut Action)) -> Action {
    f(&mut a);
    a
}

fn assign_to(a: Action, level: Level, days: i64) -> Action {
    with(a, |a| {
        a.to_level = Some(level);
        a.due_at = Some(a.at + days * 24 * 60 * MIN);
    })
}

#[test]
fn the_schema_lists_the_kinds_the_rule_knows() {
    let kinds: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, crate::schema::ACTION_KINDS);
    assert!(ActionKind::ALL.iter().all(|k| ActionKind::parse(k.as_str()) == Some(*k)));
    assert!(DisputeStatus::ALL.iter().all(|s| DisputeStatus::parse(s.as_str()) == Some(*s)));
}

#[test]
fn each_person_is_offered_exactly_what_the_rule_allows() {
    let mut s = Story::new("ordinary");
    let a = s.act("escalate", Level::Grid, 1);
    s.take(a).unwrap();
    let st = s.state();
    let kinds = |level: Level, actor: Uuid| allowed(&st, s.facts(), actor, level, None, T0 + 2 * MIN);
    assert_eq!(
        kinds(Level::Community, person(Level::Community)),
        [ActionKind::Accept, ActionKind::Intervene, ActionKind::Mediate, ActionKind::Return, ActionKind::Escalate]
    );
    assert_eq!(kinds(Level::Township, person(Level::Township)), [ActionKind::Supervise]);
    // The reporter may still work on the spot, and nothing else.
    assert_eq!(kinds(Level::Grid, REPORTER), [ActionKind::Intervene, ActionKind::Mediate]);
    assert!(waits_for(&st, person(Level::Community), Role::VillageStaff, None));
    assert!(!waits_for(&st, REPORTER, Role::GridWorker, None));
}

/// "公安+司法行政+N": sent to one department, only that department reports back, and it alone
/// (not the centre, not another department) has it in its 待办; an app from before departments,
/// naming no place, is judged by its level as before.
const JUSTICE: Uuid = Uuid::from_u128(0xD1);
const POLICE: Uuid = Uuid::from_u128(0xD2);
const CENTRE: Uuid = Uuid::from_u128(0xC0);

/// A dispute passed up to the township and sent to its justice office (司法所).
fn sent_to_justice() -> Story {
    let mut s = Story::new("ordinary");
    let a = s.act("escalate", Level::Grid, 1);
    s.take(a).unwrap();
    let a = s.act("accept", Level::Community, 2);
    s.take(a).unwrap();
    let a = s.act("escalate", Level::Community, 3);
    s.take(a).unwrap();
    let a = s.act("accept", Level::Township, 4);
    s.take(a).unwrap();
    let send = assign_to(s.act("assign", Level::Township, 5), Level::Township, 5);
    s.take(with(send, |a| a.to_node = Some(JUSTICE))).unwrap();
    s
}

#[test]
fn a_dispute_sent_to_a_department_waits_for_that_department_only() {
    let (justice, police, centre) = (JUSTICE, POLICE, CENTRE);
    let mut s = sent_to_justice();
    let st = s.state();
    let clerk = Uuid::from_u128(0xA1);
    assert!(waits_for(&st, clerk, Role::TownshipDepartmentStaff, Some(justice)));
    assert!(!waits_for(&st, clerk, Role::TownshipDepartmentStaff, Some(police)));
    assert!(!waits_for(&st, person(Level::Township), Role::TownshipStaff, Some(centre)));
    let feedback = |s: &mut Story, node: Option<Uuid>| {
        let a = s.act("feedback", Level::Township, 7);
        with(a, |a| {
            a.actor = clerk;
            a.node = node;
        })
    };
    for wrong in [police, centre] {
        let a = feedback(&mut s, Some(wrong));
        assert_eq!(s.take(a).err(), Some(ValidationCode::NotAssignee));
    }
    let offered = allowed(&st, s.facts(), clerk, Level::Township, Some(police), T0 + 8 * MIN);
    assert!(!offered.contains(&ActionKind::Feedback), "{offered:?}");
    let offered = allowed(&st, s.facts(), clerk, Level::Township, Some(justice), T0 + 8 * MIN);
    assert!(offered.contains(&ActionKind::Feedback), "{offered:?}");
    // Before departments: the level answers.
    let mut legacy = Story { class: s.class, actions: s.actions.clone(), n: s.n };
    let a = feedback(&mut s, None);
    legacy.take(a).unwrap();
    let a = feedback(&mut s, Some(justice));
    s.take(a).unwrap();
    assert_eq!(s.state().status, DisputeStatus::FedBack);
}

#[test]
fn the_whole_loop_through_three_levels() {
    let mut s = Story::new("coordination");
    assert_eq!(s.state().status, DisputeStatus::Reported);
    assert!(s.state().accepted, "the grid holds its own report at once");
    let a = s.act("intervene", Level::Grid, 20);
    s.take(a).unwrap();
    assert_eq!(s.state().first_intervention_at, Some(T0 + 20 * MIN));
    let a = s.act("escalate", Level::Grid, 60);
    s.take(a).unwrap();
    let a = s.act("accept", Level::Community, 90);
    s.take(a).unwrap();
    let a = s.act("escalate", Level::Community, 120);
    s.take(a).unwrap();
    let st = s.state();
    assert_eq!((st.status, st.level, st.accepted), (DisputeStatus::Escalated, Level::Township, false));
    assert_eq!(st.deadline_kind, Some(DeadlineKind::Accept));
    let a = s.act("accept", Level::Township, 180);
    s.take(a).unwrap();
    let a = assign_to(s.act("assign", Level::Township, 200), Level::Community, 3);
    s.take(a).unwrap();
    let st = s.state();
    assert_eq!(st.status, DisputeStatus::Assigned);
    assert_eq!(st.deadline, Some(T0 + 200 * MIN + 3 * 24 * 60 * MIN));
    assert!(!st.overdue(T0 + 201 * MIN) && st.overdue(T0 + 5 * 24 * 60 * MIN));
    // The township cannot resolve before it has checked the assignee's feedback.
    let a = s.act("resolve", Level::Township, 210);
    assert_eq!(s.take(a).err(), Some(ValidationCode::WrongStage));
    let a = s.act("feedback", Level::Community, 300);
    s.take(a).unwrap();
    let a = s.act("return", Level::Township, 320);
    s.take(a).unwrap();
    assert_eq!(s.state().status, DisputeStatus::Returned);
    let a = s.act("feedback", Level::Community, 400);
    s.take(a).unwrap();
    let a = s.act("verify", Level::Township, 420);
    s.take(a).unwrap();
    let a = s.act("resolve", Level::Township, 430);
    s.take(a).unwrap();
    // The reporter does not record the parties' satisfaction.
    let a = with(s.act("evaluate", Level::Grid, 500), |a| a.actor = REPORTER);
    let a = with(a, |a| a.satisfaction = Some("satisfied".into()));
    assert_eq!(s.take(a).err(), Some(ValidationCode::ReporterEvaluates));
    let a = with(s.act("evaluate", Level::Township, 500), |a| a.satisfaction = Some("satisfied".into()));
    s.take(a).unwrap();
    let a = s.act("archive", Level::Township, 510);
    s.take(a).unwrap();
    let st = s.state();
    assert_eq!((st.status, st.resolved_level), (DisputeStatus::Closed, Some(Level::Township)));
    assert_eq!(st.deadline, None);
    assert!(st.contradictions.is_empty());
}

#[test]
fn who_may_do_what() {
    let mut s = Story::new("ordinary");
    // Escalation is level by level, with a reason.
    let a = with(s.act("escalate", Level::Grid, 1), |a| a.to_level = Some(Level::Township));
    assert_eq!(s.take(a).err(), Some(ValidationCode::NotNextLevel));
    let a = with(s.act("escalate", Level::Grid, 1), |a| a.note = None);
    assert_eq!(s.take(a).err(), Some(ValidationCode::Required));
    // Only a level above supervises, with a deadline.
    let a = with(s.act("supervise", Level::Grid, 2), |a| a.due_at = Some(a.at + MIN));
    assert_eq!(s.take(a).err(), Some(ValidationCode::NotAbove));
    let a = s.act("supervise", Level::County, 2);
    assert_eq!(s.take(a).err(), Some(ValidationCode::Required));
    let a = with(s.act("supervise", Level::County, 2), |a| a.due_at = Some(a.at + 60 * MIN));
    s.take(a).unwrap();
    assert!(s.state().supervised);
    assert_eq!(s.state().deadline, Some(T0 + 62 * MIN));
    // The grid holds it: the township may not resolve or assign it.
    let a = s.act("resolve", Level::Township, 3);
    assert_eq!(s.take(a).err(), Some(ValidationCode::NotHolder));
    let a = assign_to(s.act("assign", Level::Township, 3), Level::Grid, 1);
    assert_eq!(s.take(a).err(), Some(ValidationCode::NotHolder));
    // Passed up: now the grid may no longer resolve it.
    let a = s.act("escalate", Level::Grid, 4);
    s.take(a).unwrap();
    let a = s.act("resolve", Level::Grid, 5);
    assert_eq!(s.take(a).err(), Some(ValidationCode::NotHolder));
    // Nor may the community before it accepts; it may send it back down.
    let a = s.act("resolve", Level::Community, 5);
    assert_eq!(s.take(a).err(), Some(ValidationCode::WrongStage));
    let a = s.act("return", Level::Community, 6);
    s.take(a).unwrap();
    let st = s.state();
    assert_eq!((st.status, st.level, st.accepted), (DisputeStatus::Returned, Level::Grid, true));
    let a = s.act("resolve", Level::Grid, 7);
    s.take(a).unwrap();
    assert_eq!(s.state().resolved_level, Some(Level::Grid));
    // Settled: nothing but evaluation.
    let a = s.act("escalate", Level::Grid, 8);
    assert_eq!(s.take(a).err(), Some(ValidationCode::DisputeSettled));
    let a = s.act("archive", Level::Grid, 8);
    assert_eq!(s.take(a).err(), Some(ValidationCode::WrongStage));
}

#[test]
fn an_emergency_goes_to_the_county_and_is_overdue_unaccepted_after_half_an_hour() {
    let mut s = Story::new("emergency");
    let st = s.state();
    assert_eq!((st.level, st.accepted, st.deadline_kind), (Level::County, false, Some(DeadlineKind::Accept)));
    assert!(!st.overdue(T0 + 29 * MIN) && st.overdue(T0 + 31 * MIN));
    // The grid worker still intervenes on the spot (第一时间介入).
    let a = s.act("intervene", Level::Grid, 5);
    s.take(a).unwrap();
    let a = s.act("accept", Level::County, 20);
    s.take(a).unwrap();
    let st = s.state();
    assert_eq!(st.deadline_kind, Some(DeadlineKind::Settle));
    assert_eq!(st.deadline, Some(T0 + 3 * 24 * 60 * MIN));
}

#[test]
fn actions_from_apps_before_the_loop_still_count() {
    // An old app names nothing it had seen, and its kinds are the old ones.
    let mut s = Story::new("ordinary");
    let a = with(s.act("mediate", Level::Grid, 10), |a| a.after = None);
    s.take(a).unwrap();
    let a = with(s.act("resolve", Level::Grid, 20), |a| a.after = None);
    s.take(a).unwrap();
    assert_eq!(s.state().status, DisputeStatus::Resolved);
    // A kind from a newer app is kept and changes nothing.
    let mut later = s.act("reopen", Level::County, 30);
    later.kind = "reopen".into();
    s.push(later);
    assert_eq!(s.state().status, DisputeStatus::Resolved);
}

#[test]
fn the_grid_resolves_while_the_township_assigns() {
    // The grid worker, offline, settles it; meanwhile the grid leader passed it up, and the
    // community and the township took it on and assigned it.
    let mut s = Story::new("ordinary");
    let base = s.actions.clone();
    let resolve = s.act("resolve", Level::Grid, 300);
    let mut up = Story { class: s.class, actions: base.clone(), n: 100 };
    let esc = with(up.act("escalate", Level::Grid, 10), |a| a.actor = Uuid::from_u128(0x999));
    up.take(esc.clone()).unwrap();
    for (kind, level, m) in
        [("accept", Level::Community, 20), ("escalate", Level::Community, 30), ("accept", Level::Township, 40)]
    {
        let a = up.act(kind, level, m);
        up.take(a).unwrap();
    }
    let assign = assign_to(up.act("assign", Level::Township, 50), Level::Community, 2);
    up.take(assign.clone()).unwrap();
    // Merged, in either order of arrival: the assignment stands, and the grid's resolution,
    // made without knowing of it, is listed against the actions it had not seen.
    for first_resolve in [true, false] {
        let mut all = base.clone();
        if first_resolve {
            all.push(resolve.clone());
        }
        all.extend(up.actions[1..].iter().cloned());
        if !first_resolve {
            all.push(resolve.clone());
        }
        let st = derive(s.facts(), &all, &TimeLimits::default());
        assert_eq!((st.status, st.level), (DisputeStatus::Assigned, Level::Township));
        assert_eq!(st.contradictions.len(), 1);
        let c = &st.contradictions[0];
        assert_eq!((c.action, c.code), (resolve.id, ValidationCode::NotHolder.into()));
        assert_eq!(c.concurrent.len(), 5);
        assert!(c.concurrent.contains(&esc.id) && c.concurrent.contains(&assign.id));
    }
}

#[test]
fn two_centres_accepting_at_once_is_one_acceptance() {
    let mut s = Story::new("ordinary");
    let a = s.act("escalate", Level::Grid, 1);
    s.take(a).unwrap();
    let one = s.act("accept", Level::Community, 5);
    let two = with(s.act("accept", Level::Community, 5), |a| a.actor = Uuid::from_u128(0x999));
    s.push(one).push(two);
    let st = s.state();
    assert_eq!(st.status, DisputeStatus::Accepted);
    assert!(st.contradictions.is_empty());
}

/// The situations a dispute can be in when two replicas act on it offline.
fn situations() -> Vec<Story> {
    let steps: &[&[(&str, Level)]] = &[
        &[],
        &[("intervene", Level::Grid)],
        &[("escalate", Level::Grid)],
        &[("escalate", Level::Grid), ("accept", Level::Community)],
        &[("escalate", Level::Grid), ("accept", Level::Community), ("assign", Level::Community)],
        &[
            ("escalate", Level::Grid),
            ("accept", Level::Community),
            ("assign", Level::Community),
            ("feedback", Level::Grid),
        ],
        &[
            ("escalate", Level::Grid),
            ("accept", Level::Community),
            ("assign", Level::Community),
            ("feedback", Level::Grid),
            ("verify", Level::Community),
        ],
        &[("resolve", Level::Grid)],
        &[("resolve", Level::Grid), ("evaluate", Level::Community)],
        // An emergency, held by the county.
        &[("accept", Level::County)],
        &[("accept", Level::County), ("assign", Level::County)],
        &[("accept", Level::County), ("assign", Level::County), ("feedback", Level::Township)],
        &[("accept", Level::County), ("resolve", Level::County)],
    ];
    let mut out = Vec::new();
    for class in ["ordinary", "emergency"] {
        for path in steps {
            let mut s = Story::new(class);
            let mut ok = true;
            for (i, (kind, level)) in path.iter().enumerate() {
                let a = candidate(&mut s, kind, *level, i as i64 + 1);
                ok &= s.take(a).is_ok();
            }
            if ok {
                out.push(s);
            }
        }
    }
    assert_eq!(out.len(), 15, "the situations are reachable");
    out
}

/// An action of `kind` by `level`'s person with what the kind needs.
fn candidate(s: &mut Story, kind: &str, level: Level, minutes: i64) -> Action {
    let st = s.state();
    let mut a = s.act(kind, level, minutes);
    match kind {
        "escalate" => a.to_level = up(st.level),
        "assign" => {
            a.to_level = Some(match st.level {
                Level::Grid => Level::Grid,
                l => Level::ALL[l as usize - 1],
            });
            a.due_at = Some(a.at + 24 * 60 * MIN);
        }
        "supervise" => a.due_at = Some(a.at + 24 * 60 * MIN),
        "evaluate" => a.satisfaction = Some("satisfied".into()),
        _ => {}
    }
    a
}

#[test]
fn every_pair_of_concurrent_actions_merges_into_one_state() {
    let mut pairs = 0;
    let mut contradicted = 0;
    for s in situations() {
        // Every action some replica may take here, judged against the same actions seen.
        let mut allowed = Vec::new();
        for kind in ActionKind::ALL.iter().filter(|k| **k != ActionKind::Report) {
            for level in Level::ALL {
                let mut probe =
                    Story { class: s.class, actions: s.actions.clone(), n: s.n + 1000 * allowed.len() as u128 };
                let a = candidate(&mut probe, kind.as_str(), level, 100);
                if judge(s.facts(), &s.actions, std::slice::from_ref(&a)).is_ok() {
                    allowed.push(a);
                }
            }
        }
        for (i, a) in allowed.iter().enumerate() {
            for b in &allowed[i + 1..] {
                // Two people, at different times (ties are broken by id either way).
                let b = with(b.clone(), |b| {
                    b.at += MIN;
                    b.actor = Uuid::from_u128(0x200 + b.level as u128);
                });
                pairs += 1;
                let mut one = s.actions.clone();
                one.extend([a.clone(), b.clone()]);
                let mut two = s.actions.clone();
                two.extend([b.clone(), a.clone()]);
                two.reverse();
                let st = derive(s.facts(), &one, &TimeLimits::default());
                // Every replica agrees, whatever order the actions arrived in.
                assert_eq!(st, derive(s.facts(), &two, &TimeLimits::default()), "{} then {}", a.kind, b.kind);
                // The earlier one took effect; the later either took effect too, repeated
                // it, or is listed against it for a person to settle. Nothing is lost.
                let mut after_a = s.state();
                apply(&mut after_a, ActionKind::parse(&a.kind).unwrap(), a);
                match permit(&after_a, s.facts(), &b) {
                    Ok(_) => assert!(st.contradictions.is_empty(), "{} then {}", a.kind, b.kind),
                    Err(e) if e.redundant => assert!(st.contradictions.is_empty()),
                    Err(e) => {
                        contradicted += 1;
                        assert_eq!(st.contradictions.len(), 1, "{} then {}", a.kind, b.kind);
                        let c = &st.contradictions[0];
                        assert_eq!((c.action, c.code, c.concurrent.clone()), (b.id, e.code.into(), vec![a.id]));
                    }
                }
            }
        }
    }
    assert!(pairs > 100, "{pairs} pairs");
    assert!(contradicted > 10, "{contradicted} contradictions");
}

#[test]
fn order_follows_what_each_author_had_seen_not_the_clocks() {
    // A handheld whose clock is an hour behind accepts after the escalation it saw: its app
    // moves the time on past what it saw (`NewAction::by`), and the rule refuses an action
    // dated before what it names as seen.
    let mut s = Story::new("ordinary");
    let esc = s.act("escalate", Level::Grid, 60);
    s.take(esc).unwrap();
    let backdated = s.act("accept", Level::Community, 0);
    assert_eq!(s.take(backdated.clone()).err(), Some(ValidationCode::OutOfRange));
    // Written anyway (by an app that did not judge it), it is still ordered after what it saw.
    s.push(backdated);
    assert_eq!(s.state().status, DisputeStatus::Accepted);
}

#[test]
fn an_action_names_the_last_action_its_author_had() {
    let mut s = Story::new("ordinary");
    let first = s.act("intervene", Level::Grid, 1);
    s.take(first).unwrap();
    // Naming an earlier action than the last it held (to be judged on less than it saw).
    let mut stale = s.act("resolve", Level::Grid, 2);
    stale.after = Some(s.actions[0].id);
    assert_eq!(s.take(stale).err(), Some(ValidationCode::RecordMissing));
    // A report names nothing; a change adds at most MAX_NEW_ACTIONS.
    let many: Vec<Action> =
        (0..=MAX_NEW_ACTIONS as i64).map(|i| with(s.act("mediate", Level::Grid, 10 + i), |a| a.after = None)).collect();
    assert_eq!(judge(s.facts(), &s.actions, &many).err().map(|e| e.0), Some(ValidationCode::TooLong));
}

#[test]
fn an_older_apps_holder_accepts_by_working_it_and_may_escalate_past_a_level() {
    let mut s = Story::new("ordinary");
    let old = |a: Action| with(a, |a| a.after = None);
    let a = old(with(s.act("escalate", Level::Grid, 1), |a| a.to_level = Some(Level::Township)));
    s.take(a).unwrap();
    assert_eq!(s.state().level, Level::Township);
    // The old app has no accept button: the township's resolve accepts it and settles it.
    let a = old(s.act("resolve", Level::Township, 2));
    s.take(a).unwrap();
    assert_eq!((s.state().status, s.state().resolved_level), (DisputeStatus::Resolved, Some(Level::Township)));
}

#[test]
fn an_older_app_is_told_to_update_for_what_it_cannot_send() {
    let mut s = Story::new("ordinary");
    // Before the loop, supervising needed no deadline: that app cannot give one.
    let old = with(s.act("supervise", Level::County, 1), |a| a.after = None);
    assert_eq!(s.take(old).err(), Some(ValidationCode::AppTooOld));
    // Its escalation without a reason is its own mistake, not its version's.
    let old = with(s.act("escalate", Level::Grid, 2), |a| (a.after, a.note) = (None, None));
    assert_eq!(s.take(old).err(), Some(ValidationCode::Required));
}

/// The validator judges an action that names no place as acting for its author's place: leaving
/// the place out does not make the police station the assignee of what was sent to the justice
/// office.
#[test]
fn an_action_without_a_place_is_judged_at_its_authors_place() {
    use crate::org::Author;
    use crate::schema::{Collection, validate_record_change};
    let mut s = sent_to_justice();
    let clerk = Uuid::from_u128(0xA1);
    let a = s.act("feedback", Level::Township, 7);
    let feedback = with(a, |a| a.actor = clerk);
    assert_eq!(feedback.node, None);
    let current = serde_json::json!({
        "class": "ordinary", "category": "neighbour", "reported_by": REPORTER, "reported_at": T0,
        "actions": s.actions,
    });
    let fields = serde_json::json!({ "actions": [feedback] });
    let (current, fields) = (current.as_object().unwrap(), fields.as_object().unwrap());
    let author = |node| Author { account: clerk, device: Uuid::nil(), role: Role::TownshipDepartmentStaff, node };
    let judged = |node| validate_record_change(Collection::Disputes, Uuid::nil(), fields, Some(current), &author(node));
    assert_eq!(judged(Some(POLICE)).unwrap_err().code, ValidationCode::NotAssignee);
    assert_eq!(judged(Some(CENTRE)).unwrap_err().code, ValidationCode::NotAssignee);
    judged(Some(JUSTICE)).unwrap();
}

#[test]
fn a_county_sets_its_own_time_limits() {
    let s = Story::new("ordinary");
    let defaults = TimeLimits::default();
    // The grid settles an ordinary matter within three days by default.
    assert_eq!(derive(s.facts(), &s.actions, &defaults).deadline, Some(T0 + 3 * 24 * 60 * MIN));
    // A county that gives its grids one day: only that entry changes, the rest stay the defaults'.
    let given = TimeLimits {
        limits: vec![TimeLimit {
            class: "ordinary".into(),
            level: Level::Grid,
            accept_minutes: 60,
            settle_minutes: 24 * 60,
        }],
    };
    assert_eq!(given.problem(), None);
    let county = given.over_defaults();
    assert_eq!(county.limits.len(), defaults.limits.len());
    assert_eq!(derive(s.facts(), &s.actions, &county).deadline, Some(T0 + 24 * 60 * MIN));
    let changed: Vec<_> = county.limits.iter().zip(&defaults.limits).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1);
    // A partial table leaves what it lacks to the defaults of that class and level.
    let emergency = Story::new("emergency");
    assert_eq!(derive(emergency.facts(), &emergency.actions, &given).deadline, Some(T0 + 30 * MIN));
}

#[test]
fn time_limits_that_cannot_be_are_refused() {
    let one = |class: &str, accept, settle| TimeLimits {
        limits: vec![TimeLimit {
            class: class.into(),
            level: Level::Township,
            accept_minutes: accept,
            settle_minutes: settle,
        }],
    };
    assert_eq!(one("ordinary", 60, 600).problem(), None);
    for bad in [
        one("urgent", 60, 600),
        one("ordinary", 0, 600),
        one("ordinary", -5, 600),
        one("ordinary", 60, MAX_LIMIT_MINUTES + 1),
        one("ordinary", 600, 60),
    ] {
        assert!(bad.problem().is_some(), "{bad:?}");
    }
    let mut twice = one("ordinary", 60, 600);
    twice.limits.push(twice.limits[0].clone());
    assert!(twice.problem().unwrap().contains("twice"));
    let many = TimeLimits { limits: vec![one("ordinary", 60, 600).limits[0].clone(); MAX_TIME_LIMITS + 1] };
    assert!(many.problem().unwrap().contains("at most"));
}
