//! (Long on purpose: one dispute's way through four levels is one story across a server, a
//! handheld and the staff of each level; its steps depend on the ones before.)
//!
//! The four-level closed loop end to end: a dispute reported on a handheld goes up level by
//! level, is accepted and assigned by a township centre that has no handheld (the staff API),
//! is worked and reported back by the village, verified, resolved, evaluated and archived —
//! partly offline, with concurrent actions at two levels — and every replica (each handheld,
//! the server's document and its query row) agrees on where it stands.

use gridkeeper_tests::{EventStream, TestDevice, TestServer, neighbours_dispute, party, put_account, staff_token};
use serde_json::{Value, json};
use sync_protocol::api::{DisputeView, NewAction};
use sync_protocol::model::{DisputeStatus, Record};
use sync_protocol::org::{Level, NodeKind, Role};
use uuid::Uuid;

/// The staff API: an action on a dispute as the holder of `token`; the status and the answer.
async fn act(server: &TestServer, token: &str, dispute: Uuid, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/disputes/{dispute}/actions", server.url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const DAY: i64 = 24 * 3_600_000;

async fn get_status(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new().get(format!("{}{path}", server.url())).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(server: &TestServer, token: &str, path: &str) -> Value {
    let (status, body) = get_status(server, token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_goes_up_to_the_township_and_back_down_and_every_replica_agrees() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let village_staff = put_account(storage.as_ref(), "东坡村综治专干", Role::VillageStaff, o.village).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let leader = TestDevice::enrol(&server.url(), &server.code_for(o.leader_a).await, "leader").await;
    let village = TestDevice::enrol(&server.url(), &server.code_for(village_staff).await, "village").await;
    let township = staff_token(&server, o.township_staff).await;
    let admin = staff_token(&server, o.admin).await;

    // The worker reports on the spot; everyone syncs.
    let id = worker
        .report_dispute(&neighbours_dispute(
            vec![party("孙玉兰"), party("邻居老李")],
            "东坡村12号",
            "排水沟堵塞引发争执",
        ))
        .unwrap();
    for d in [&worker, &leader, &village] {
        d.sync().await.unwrap();
    }

    // Offline at once: the worker passes it up to the village, and the grid leader, who has
    // not heard of that, settles it on the spot. Both were entitled to; the rule keeps the
    // earlier and lists the other for a person to settle.
    worker.add_dispute_action(id, &NewAction::new("escalate").to(Level::Community).note("需村调委会协调")).unwrap();
    // A grid handheld cannot pass it past the next level, nor supervise its own level.
    let skip = worker.add_dispute_action(id, &NewAction::new("escalate").to(Level::Township).note("越级"));
    assert!(skip.is_err(), "escalation goes level by level");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    leader.add_dispute_action(id, &NewAction::new("resolve").note("当场调解")).unwrap();
    worker.sync().await.unwrap();
    leader.sync().await.unwrap();
    worker.sync().await.unwrap();
    let merged = leader.dispute(id).unwrap().state(&Default::default());
    assert_eq!((merged.status, merged.level), (DisputeStatus::Escalated, Level::Community));
    assert_eq!(merged.contradictions.len(), 1, "{merged:?}");
    assert_eq!(merged.contradictions[0].code.as_str(), "not_holder");
    assert_eq!(worker.dispute(id).unwrap().state(&Default::default()), merged);

    // The village accepts it and passes it on to the township.
    village.sync().await.unwrap();
    village.add_dispute_action(id, &NewAction::new("accept")).unwrap();
    village.add_dispute_action(id, &NewAction::new("escalate").note("涉及两村排水工程，需镇协调")).unwrap();
    village.sync().await.unwrap();

    // The township centre works from the server, without a handheld.
    let (status, body) = act(&server, &township, id, json!({"kind": "resolve"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("wrong_stage")), "accept first: {body}");
    let (status, body) = act(&server, &township, id, json!({"kind": "accept"})).await;
    assert_eq!(status, 200, "{body}");
    let due = field_core::now_ms() + 3 * DAY;
    let assign = json!({"kind": "assign", "to_level": "community", "due_at": due, "note": "请村调委会牵头疏通排水沟"});
    let (status, body) = act(&server, &township, id, assign).await;
    assert_eq!(status, 200, "{body}");
    let view: DisputeView = serde_json::from_value(body).unwrap();
    assert_eq!(view.state.status, DisputeStatus::Assigned);
    assert_eq!(view.state.deadline, Some(due));
    // Refusals come with the rule's code and change nothing.
    let (status, body) = act(&server, &township, id, json!({"kind": "supervise", "note": "督办", "due_at": due})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("not_above")), "{body}");
    let (status, body) = act(&server, &admin, id, json!({"kind": "accept"})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = act(&server, &township, Uuid::now_v7(), json!({"kind": "accept"})).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let (status, body) = act(&server, &township, id, json!({"kind": 7})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_body")), "{body}");
    let (status, body) = act(&server, &township, id, json!({"kind": "reopen"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_value")), "{body}");

    // The township's lists: nothing waits for it now (the village has it), one assigned out.
    let listed = |body: Value| -> Vec<String> {
        body.as_array().unwrap().iter().map(|v| v["dispute"]["id"].as_str().unwrap().to_string()).collect()
    };
    assert!(listed(get(&server, &township, "/v1/disputes?list=waiting").await).is_empty());
    assert_eq!(listed(get(&server, &township, "/v1/disputes?list=assigned_out").await), [id.to_string()]);
    let (status, body) = get_status(&server, &township, "/v1/disputes?list=everything").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_query")), "{body}");

    // The village sees the assignment at its next sync and reports back; the grid worker may
    // not (the assignment is the village's).
    village.sync().await.unwrap();
    worker.sync().await.unwrap();
    let st = village.dispute(id).unwrap().state(&Default::default());
    assert_eq!(
        (st.status, st.assignment.as_ref().map(|a| a.to_level)),
        (DisputeStatus::Assigned, Some(Level::Community))
    );
    assert!(worker.add_dispute_action(id, &NewAction::new("feedback").note("已疏通")).is_err());
    village.add_dispute_action(id, &NewAction::new("feedback").note("排水沟已疏通，双方签字")).unwrap();
    village.sync().await.unwrap();

    // The township checks it, resolves it, records the parties' satisfaction and archives it.
    for body in [
        json!({"kind": "verify", "note": "电话回访属实"}),
        json!({"kind": "resolve", "note": "矛盾化解在镇"}),
        json!({"kind": "evaluate", "satisfaction": "satisfied"}),
        json!({"kind": "archive"}),
    ] {
        let (status, answer) = act(&server, &township, id, body.clone()).await;
        assert_eq!(status, 200, "{body}: {answer}");
    }

    // Every replica agrees: the three handhelds, the server's document, its query row.
    for d in [&worker, &leader, &village] {
        d.sync().await.unwrap();
    }
    let on_server = storage
        .disputes(&county_server::storage::Scope::All, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.id == id)
        .unwrap();
    let doc = county_server::service::County::new(storage.clone())
        .load_doc(sync_protocol::doc::DocKey::new(o.grid_a, sync_protocol::schema::Collection::Disputes))
        .await
        .unwrap()
        .unwrap();
    let from_doc = sync_protocol::model::Dispute::from_fields(
        sync_protocol::doc::read_record(&doc, sync_protocol::schema::Collection::Disputes, id).unwrap(),
    )
    .unwrap();
    let state = on_server.state(&Default::default());
    assert_eq!(state.status, DisputeStatus::Closed);
    assert_eq!(state.resolved_level, Some(Level::Township));
    assert_eq!(state.satisfaction.as_deref(), Some("satisfied"));
    assert_eq!(from_doc.state(&Default::default()), state);
    for d in [&worker, &leader, &village] {
        let mine = d.dispute(id).unwrap();
        assert_eq!(mine.actions.len(), on_server.actions.len(), "{}", d.name);
        assert_eq!(mine.state(&Default::default()), state, "{}", d.name);
    }
    // The timeline holds every action, the contradicted one too.
    assert_eq!(on_server.actions.len(), 12);

    // The month's figures: one dispute of the township, settled there, reported and dealt with
    // at once (the grid leader's contradicted resolution does not count as dealing with it).
    let figures = get(&server, &township, "/v1/figures/disputes?by=township").await;
    let row = &figures["rows"][0];
    assert_eq!(figures["rows"].as_array().unwrap().len(), 1, "{figures}");
    assert_eq!(
        (row["disputes"].as_u64(), row["settled_township"].as_u64(), row["open"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(row["report_median_minutes"], json!(0));
    assert_eq!(row["intervention_median_minutes"], json!(0));
    let by_worker = get(&server, &township, "/v1/figures/disputes?by=worker").await;
    assert_eq!(by_worker["rows"][0]["id"], json!(o.worker_a.to_string()));
    assert_eq!(by_worker["rows"][0]["name"], json!("张红梅"));
    let (status, body) = get_status(&server, &township, "/v1/figures/disputes?month=202613").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_query")), "{body}");
    // The year's trend: twelve months, the last this one with the dispute, the others empty.
    let trend = get(&server, &township, "/v1/figures/disputes?by=month&months=12").await;
    let rows = trend["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "{trend}");
    let this_month = sync_protocol::doc::DocKey::month_of(field_core::now_ms()).to_string();
    assert_eq!(rows[11]["name"], json!(this_month));
    assert_eq!(rows[11]["settled_township"], json!(1));
    assert!(rows[..11].iter().all(|r| r["disputes"] == json!(0)), "{trend}");
    assert!(rows.windows(2).all(|w| w[0]["name"].as_str() < w[1]["name"].as_str()));
    for months in ["0", "25", "x"] {
        let (status, body) = get_status(&server, &township, &format!("/v1/figures/disputes?months={months}")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("malformed_query")), "months={months}: {body}");
    }
    // Drilled down into the village and the grid: the same dispute; the figures of the
    // county's own node are not the township's to ask for.
    for node in [o.village, o.grid_a] {
        let f = get(&server, &township, &format!("/v1/figures/disputes?by=county&node={node}")).await;
        assert_eq!(f["rows"][0]["id"], json!(node.to_string()), "{f}");
        assert_eq!(f["rows"][0]["settled_township"], json!(1), "{f}");
    }
    let (status, _) = get_status(&server, &township, &format!("/v1/figures/disputes?node={}", o.county)).await;
    assert_eq!(status, 403);
    // The workbench's counts: nothing waits at the township, its dispute settled.
    let counts = get(&server, &township, "/v1/disputes/counts").await;
    assert_eq!(counts["waiting"], json!(0), "{counts}");
    assert_eq!(
        counts["new_today"],
        json!(
            listed(get(&server, &township, &format!("/v1/disputes?reported_since={}", start_of_today())).await).len()
        )
    );
}

/// Midnight today, China Standard Time.
fn start_of_today() -> i64 {
    let (day, cst) = (86_400_000i64, 8 * 3_600_000i64);
    (field_core::now_ms() + cst).div_euclid(day) * day - cst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_derives_rows_of_an_older_rule_again_before_it_answers() {
    let mut server = TestServer::start().await;
    let o = server.org.clone();
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let id = worker.report_dispute(&neighbours_dispute(vec![party("甲")], "村口", "争执")).unwrap();
    worker.sync().await.unwrap();
    // As an older server left it: the row's derived columns stale, its rule 0.
    {
        let db = rusqlite::Connection::open(&server.db).unwrap();
        let n = db
            .execute(
                "UPDATE disputes SET status = 'closed', open = 0, waiting_level = NULL, rule = 0 WHERE id = ?1",
                [id.to_string()],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    server.restart().await;
    let token = staff_token(&server, o.township_staff).await;
    let body = get(&server, &token, "/v1/disputes?open_only=true").await;
    let row = body.as_array().unwrap().iter().find(|v| v["dispute"]["id"] == json!(id.to_string())).cloned();
    assert_eq!(row.map(|v| v["state"]["status"].clone()), Some(json!("reported")));
    let stale = server.storage().stale_dispute_docs(county_server::storage::DISPUTE_RULE, 0).await.unwrap();
    assert!(stale.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_hear_escalations_emergencies_and_time_limits_live() {
    use sync_protocol::org::NodeKind;
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let county_staff = put_account(storage.as_ref(), "县社会治理中心值班员", Role::CountyStaff, o.county).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let mut township = EventStream::open(&server, &staff_token(&server, o.township_staff).await).await;
    let mut county = EventStream::open(&server, &staff_token(&server, county_staff).await).await;
    // Another township's centre hears nothing of this one.
    let elsewhere = Uuid::now_v7();
    storage
        .put_node(&sync_protocol::org::Node {
            id: elsewhere,
            kind: NodeKind::Township,
            name: "别镇".into(),
            parent: Some(o.county),
            township: None,
            village: None,
        })
        .await
        .unwrap();
    let other = put_account(storage.as_ref(), "别镇综治中心", Role::TownshipStaff, elsewhere).await;
    let mut other = EventStream::open(&server, &staff_token(&server, other).await).await;

    // A 突发性 report reaches the county at the device's sync.
    let mut report = neighbours_dispute(vec![party("甲")], "东河桥", "桥栏杆断裂，有人落水风险");
    report.class = "emergency".into();
    let id = worker.report_dispute(&report).unwrap();
    let t = std::time::Instant::now();
    worker.sync().await.unwrap();
    let heard = county.next("report", 5).await.expect("the county hears the emergency");
    println!("emergency heard {} ms after the sync began", t.elapsed().as_millis());
    assert_eq!(
        (heard["dispute"].as_str(), heard["class"].as_str()),
        (Some(id.to_string().as_str()), Some("emergency"))
    );
    assert_eq!(heard["waiting_level"], json!("county"));
    assert!(township.next("report", 5).await.is_some(), "the township hears its grids' reports too");

    // The grid passes an ordinary dispute up; the township hears it.
    let ordinary = worker.report_dispute(&neighbours_dispute(vec![party("乙")], "村口", "争执")).unwrap();
    worker.add_dispute_action(ordinary, &NewAction::new("escalate").note("需村调委会协调")).unwrap();
    worker.sync().await.unwrap();
    let heard = township.next("escalate", 5).await.expect("the township hears the escalation");
    assert_eq!(
        (heard["dispute"].as_str(), heard["waiting_level"].as_str()),
        (Some(ordinary.to_string().as_str()), Some("community"))
    );
    assert!(other.next("escalate", 2).await.is_none(), "another township hears nothing of it");

    // A time limit passing: a dispute whose limit runs out a second from now.
    let now = field_core::now_ms();
    let soon = story_due_in(o.worker_a, now, 1_200);
    let key = sync_protocol::doc::DocKey::new(o.grid_a, sync_protocol::schema::Collection::Disputes);
    let rows = sync_protocol::pipeline::Rows { disputes: vec![(key, soon.clone())], ..Default::default() };
    storage
        .commit(county_server::storage::GridCommit {
            grid: o.grid_a,
            docs: vec![],
            changes: vec![],
            rows,
            settings: Default::default(),
        })
        .await
        .unwrap();
    let heard = county.next("overdue", 5).await.expect("the county hears the time limit pass");
    assert_eq!(heard["dispute"].as_str(), Some(soon.id.to_string().as_str()));
    let late = field_core::now_ms() - soon.state(&Default::default()).deadline.unwrap();
    println!("time limit heard {late} ms after it passed");
    assert!(late >= 0);

    // One device holds a few streams (a console in some tabs), not the server's all.
    let token = staff_token(&server, o.township_staff).await;
    let mut held = Vec::new();
    for _ in 0..county_server::service::events::STREAMS_PER_DEVICE {
        held.push(EventStream::open(&server, &token).await);
    }
    let (status, body) = get_status(&server, &token, "/v1/events").await;
    assert_eq!((status, body["code"].as_str()), (503, Some("busy")), "{body}");
    drop(held.pop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    held.push(EventStream::open(&server, &token).await);
}

/// An emergency reported so long ago that the county's half hour to accept it runs out in
/// `ms` milliseconds.
fn story_due_in(reporter: Uuid, now: i64, ms: i64) -> sync_protocol::model::Dispute {
    let at = now - 30 * 60_000 + ms;
    sync_protocol::model::Dispute {
        id: Uuid::now_v7(),
        class: "emergency".into(),
        category: "safety".into(),
        parties: vec![],
        place: "东河桥".into(),
        description: "险情".into(),
        discovered_at: at,
        reported_at: at,
        reported_by: reporter,
        actions: vec![sync_protocol::model::Action::new(Uuid::now_v7(), "report", reporter, Level::Grid, at)],
        photos: vec![],
    }
}

/// The demo county opens with disputes in the loop's stages (the centres worked some through
/// the same service staff use) and prints a log-in for each level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_county_holds_disputes_at_every_stage_and_codes_for_every_level() {
    use county_server::storage::{DisputeList, DisputeQuery, Scope, Viewer};
    let dir = tempfile::tempdir().unwrap();
    let storage = county_server::server::open_storage(dir.path().join("demo.db").to_str().unwrap()).await.unwrap();
    let summary = county_server::demo::ensure_demo(storage.clone(), 20, 7).await.unwrap();
    assert!(summary.village_code.is_some() && summary.township_code.is_some() && summary.county_code.is_some());
    let now = field_core::now_ms();
    let list = |list, level| {
        let storage = storage.clone();
        async move {
            let viewer = Viewer { account: Uuid::now_v7(), level, node: None, department: false, now_ms: now };
            storage.dispute_list(&Scope::All, list, viewer, &DisputeQuery::default(), 500).await.unwrap()
        }
    };
    let all = storage.disputes(&Scope::All, &DisputeQuery::default()).await.unwrap();
    let states: Vec<_> = all.iter().map(|(_, d)| d.state(&Default::default())).collect();
    let count = |s: DisputeStatus, l: Level| states.iter().filter(|x| x.status == s && x.level == l).count();
    assert!(count(DisputeStatus::Resolved, Level::Community) > 0, "settled in the village");
    assert!(count(DisputeStatus::Assigned, Level::Community) > 0, "assigned back to the grid");
    assert!(count(DisputeStatus::Assigned, Level::Township) > 0, "assigned by the township");
    assert!(!list(DisputeList::Supervised, Level::County).await.is_empty(), "supervised by the county");
    assert!(!list(DisputeList::AssignedOut, Level::Township).await.is_empty());
    // The workbench's counts are the lists' lengths, counted without reading them.
    for level in [Level::Community, Level::Township, Level::County] {
        for l in [
            DisputeList::Waiting,
            DisputeList::Overdue,
            DisputeList::Supervised,
            DisputeList::UnacceptedEmergencies,
            DisputeList::AssignedOut,
        ] {
            let viewer = Viewer { account: Uuid::now_v7(), level, node: None, department: false, now_ms: now };
            let n = storage.dispute_count(&Scope::All, Some(l), viewer, &DisputeQuery::default()).await.unwrap();
            assert_eq!(n, list(l, level).await.len() as u64, "{l:?} at {level:?}");
        }
    }
    let viewer = Viewer { account: Uuid::now_v7(), level: Level::County, node: None, department: false, now_ms: now };
    let n = storage.dispute_count(&Scope::All, None, viewer, &DisputeQuery::default()).await.unwrap();
    assert_eq!(n, all.len() as u64);
    assert!(states.iter().all(|s| s.contradictions.is_empty()));
    // The setup file gave every grid its code, boundary, instructor and party-member helper, and
    // every township its departments; the justice office reported back on what it was sent.
    assert!(summary.department_code.is_some());
    let structure = storage.structure(true).await.unwrap();
    let grids: Vec<_> = structure.nodes.iter().filter(|n| n.node.kind == NodeKind::Grid).collect();
    assert_eq!(grids.len(), 20);
    assert!(grids.iter().all(|g| g.code.is_some() && g.boundary.is_some()));
    for role in [Role::GridInstructor, Role::PartyHelper] {
        assert_eq!(structure.accounts.iter().filter(|a| a.role == role).count(), 20, "{role:?}");
    }
    assert!(structure.nodes.iter().any(|n| n.node.kind == NodeKind::Department && n.node.name == "县信访局"));
    assert!(count(DisputeStatus::FedBack, Level::Township) > 0, "the justice office reported back");
}

/// After a sync, the handheld's inbox holds what others did on this person's disputes, once
/// each and unread until the dispute is opened; a first download brings no history into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_tells_a_worker_what_the_village_did_with_their_report() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let village_staff = put_account(storage.as_ref(), "东坡村综治专干", Role::VillageStaff, o.village).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let village = TestDevice::enrol(&server.url(), &server.code_for(village_staff).await, "village").await;
    let id = worker.report_dispute(&neighbours_dispute(vec![party("甲")], "村口", "争执")).unwrap();
    worker.add_dispute_action(id, &NewAction::new("escalate").note("需村调委会协调")).unwrap();
    assert_eq!(worker.sync().await.unwrap().inbox, 0, "its own actions are not news");
    village.sync().await.unwrap();
    village.add_dispute_action(id, &NewAction::new("accept")).unwrap();
    let due = field_core::now_ms() + 2 * DAY;
    village
        .add_dispute_action(id, &NewAction::new("assign").to(Level::Grid).due(due).note("请网格员继续跟进"))
        .unwrap();
    village.sync().await.unwrap();

    let report = worker.sync().await.unwrap();
    assert_eq!(report.inbox, 2);
    let inbox = worker.inbox().unwrap();
    let kinds: Vec<&str> = inbox.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["assign", "accept"], "newest first");
    assert!(
        inbox.iter().all(|i| !i.read && i.dispute == id && i.actor == village_staff && i.level == Level::Community)
    );
    assert_eq!(worker.workbench().unwrap().unread, 2);
    // Nothing new: nothing noted again.
    assert_eq!(worker.sync().await.unwrap().inbox, 0);
    worker.mark_inbox_read(id).unwrap();
    assert_eq!(worker.workbench().unwrap().unread, 0);
    assert!(worker.inbox().unwrap().iter().all(|i| i.read));

    // A handheld enrolled now downloads the history, and none of it is news.
    let leader = TestDevice::enrol(&server.url(), &server.code_for(o.leader_a).await, "leader").await;
    assert_eq!(leader.sync().await.unwrap().inbox, 0);
    assert!(leader.inbox().unwrap().is_empty());
}

/// "公安+司法行政+N": the township centre sends a dispute to its justice office (司法所), whose
/// staff report back; a department takes no centre's decision (accept, assign, resolve,
/// supervise), and its screens offer none.
async fn department_story(server: TestServer) {
    let o = server.org.clone();
    let storage = server.storage();
    let department = |name: &'static str| {
        let storage = storage.clone();
        async move {
            let id = Uuid::now_v7();
            let node = sync_protocol::org::Node {
                id,
                kind: NodeKind::Department,
                name: name.into(),
                parent: Some(o.township),
                township: Some(o.township),
                village: None,
            };
            storage.put_node(&node).await.unwrap();
            id
        }
    };
    let (justice, police) = (department("司法所").await, department("派出所").await);
    let clerk = put_account(storage.as_ref(), "司法所调解员", Role::TownshipDepartmentStaff, justice).await;
    let officer = put_account(storage.as_ref(), "派出所民警", Role::TownshipDepartmentStaff, police).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let id = worker.report_dispute(&neighbours_dispute(vec![party("甲")], "村口", "宅基地纠纷")).unwrap();
    worker.add_dispute_action(id, &NewAction::new("escalate").note("需村调委会协调")).unwrap();
    worker.sync().await.unwrap();
    let village_staff = put_account(storage.as_ref(), "村综治专干", Role::VillageStaff, o.village).await;
    let village = staff_token(&server, village_staff).await;
    assert_eq!(act(&server, &village, id, json!({"kind": "accept"})).await.0, 200);
    let up = json!({"kind": "escalate", "note": "涉及土地权属，需镇里协调"});
    assert_eq!(act(&server, &village, id, up).await.0, 200);

    let dept = staff_token(&server, clerk).await;
    let (status, body) = act(&server, &dept, id, json!({"kind": "accept"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("not_permitted")), "a department does not accept: {body}");
    let township = staff_token(&server, o.township_staff).await;
    assert_eq!(act(&server, &township, id, json!({"kind": "accept"})).await.0, 200);
    let due = field_core::now_ms() + 5 * DAY;
    // A place that is not at the level sent to, or does not exist, would wait for no one.
    for wrong in [json!(o.village), json!(Uuid::now_v7())] {
        let send = json!({"kind": "assign", "to_level": "township", "to_node": wrong, "due_at": due, "note": "请处理"});
        let (status, body) = act(&server, &township, id, send).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("unknown_node")), "{body}");
    }
    let send = json!({"kind": "assign", "to_level": "township", "to_node": justice, "due_at": due, "note": "请司法所组织调解"});
    assert_eq!(act(&server, &township, id, send).await.0, 200);
    // It waits for the justice office: in its 待办, not the police station's, not the centre's
    // (for the centre it is assigned out).
    let listed_in = |token: String, list: &'static str| {
        let server = &server;
        async move {
            let found = get(server, &token, &format!("/v1/disputes?list={list}")).await;
            found.as_array().unwrap().iter().any(|d| d["dispute"]["id"] == json!(id))
        }
    };
    let police_token = staff_token(&server, officer).await;
    assert!(listed_in(dept.clone(), "waiting").await);
    assert!(!listed_in(police_token.clone(), "waiting").await);
    assert!(!listed_in(township.clone(), "waiting").await);
    assert!(listed_in(township.clone(), "assigned_out").await);
    let (status, body) = act(&server, &police_token, id, json!({"kind": "feedback", "note": "冒名反馈"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("not_assignee")), "another department: {body}");
    let listed = get(&server, &dept, "/v1/disputes").await;
    let view = listed.as_array().unwrap().iter().find(|d| d["dispute"]["id"] == json!(id)).unwrap().clone();
    let allowed: Vec<&str> = view["allowed"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(allowed, ["feedback"], "a department reports back, and decides nothing else");
    let (status, body) = act(&server, &dept, id, json!({"kind": "feedback", "note": "已调解，双方签订协议"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = act(&server, &dept, id, json!({"kind": "verify"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("not_permitted")), "{body}");
    assert_eq!(act(&server, &township, id, json!({"kind": "verify"})).await.0, 200);
    let (status, body) = act(&server, &township, id, json!({"kind": "resolve", "note": "调解成功"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["status"], json!("resolved"));
    assert_eq!(body["state"]["resolved_level"], json!("township"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_reports_back_on_what_it_is_sent_and_decides_nothing_else() {
    department_story(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_reports_back_on_what_it_is_sent_on_postgres() {
    department_story(TestServer::start_postgres().await).await;
}

/// The county administrator sets the time limits: the server's lists, a handheld after its next
/// sync and (on PostgreSQL) a second server sharing the database all derive deadlines by them;
/// a table that cannot be is refused and changes nothing.
async fn time_limits_story(server: TestServer) {
    use county_server::storage::DISPUTE_RULE;
    let o = server.org.clone();
    let storage = server.storage();
    let other = server.another_server().await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let id = worker.report_dispute(&neighbours_dispute(vec![party("甲")], "东坡村3号", "院墙滴水")).unwrap();
    worker.sync().await.unwrap();
    let reported_at = worker.dispute(id).unwrap().reported_at;
    let mine = |views: Vec<DisputeView>| views.into_iter().find(|v| v.dispute.id == id).expect("the dispute");
    // By default a matter is settled within days, the same on every replica.
    let by_default = mine(worker.dispute_views(true).unwrap()).state.deadline.unwrap();
    assert!(by_default >= reported_at + 3 * DAY, "{by_default}");
    let (admin, township) = (staff_token(&server, o.admin).await, staff_token(&server, o.township_staff).await);
    let listed = |views: Value| views.as_array().unwrap().iter().find(|v| v["dispute"]["id"] == json!(id)).cloned();
    let staff_view = listed(get(&server, &township, "/v1/disputes").await).unwrap();
    assert_eq!(staff_view["state"]["deadline"], json!(by_default));
    assert_eq!(get(&server, &township, "/v1/settings").await["version"], json!(0));

    let put = |token: String, body: Value| {
        let url = format!("{}/v1/admin/settings/time-limits", server.url());
        async move {
            let resp = reqwest::Client::new().put(url).bearer_auth(token).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Every level settles this class of matter within the hour.
    let class = worker.dispute(id).unwrap().class;
    let limit = |level: &str| json!({"class": class, "level": level, "accept_minutes": 10, "settle_minutes": 60});
    let within_the_hour = json!({ "limits": (["grid", "community", "township", "county"].map(limit)) });
    // Only the county administrator sets them; a table that cannot be is refused whole.
    assert_eq!(put(township.clone(), within_the_hour.clone()).await.0, 403);
    for bad in [
        json!({"limits": [{"class": "ordinary", "level": "grid", "accept_minutes": 10, "settle_minutes": 0}]}),
        json!({"limits": [{"class": "urgent", "level": "grid", "accept_minutes": 10, "settle_minutes": 60}]}),
        json!({"limits": [{"class": "ordinary", "level": "galaxy", "accept_minutes": 10, "settle_minutes": 60}]}),
        json!({"limits": "all of them"}),
    ] {
        let (status, body) = put(admin.clone(), bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(["bad_setting", "malformed_body"].contains(&body["code"].as_str().unwrap()), "{body}");
    }
    assert_eq!(get(&server, &admin, "/v1/settings").await["version"], json!(0), "nothing was changed");

    let (status, changed) = put(admin.clone(), within_the_hour).await;
    assert_eq!(status, 200, "{changed}");
    let version = changed["settings"]["version"].as_u64().unwrap();
    assert!(version > 1_700_000_000_000, "a version is the time of the change: {version}");
    assert!(changed["disputes"].as_u64().unwrap() >= 1, "{changed}");
    let hour = 3_600_000;
    // The server's stored rows: every one derived under them, the deadline column moved.
    assert!(storage.stale_dispute_docs(DISPUTE_RULE, version).await.unwrap().is_empty());
    let passing = storage.deadlines_passed(reported_at, reported_at + hour + 1, 100).await.unwrap();
    assert!(passing.iter().any(|(_, d)| d.id == id), "the deadline column follows the new limits");
    let staff_view = listed(get(&server, &township, "/v1/disputes").await).unwrap();
    assert_eq!(staff_view["state"]["deadline"], json!(reported_at + hour));
    // The handheld follows them from its next sync on.
    assert_eq!(mine(worker.dispute_views(true).unwrap()).state.deadline, Some(by_default));
    worker.sync().await.unwrap();
    assert_eq!(worker.county_settings().unwrap().version, version);
    assert_eq!(mine(worker.dispute_views(true).unwrap()).state.deadline, Some(reported_at + hour));
    // A handheld of the previous protocol is answered as before, without them.
    let token = worker.identity().unwrap().token;
    let old = sync_protocol::wire::v2::SyncRequest { version: 2, positions: vec![], changes: vec![], budget: 0 };
    let mut body = sync_protocol::wire::MAGIC.to_vec();
    body.extend(postcard::to_stdvec(&old).unwrap());
    let (status, answer) = gridkeeper_tests::post_sync(&server, &token, body).await;
    assert_eq!(status, 200);
    let answer = sync_protocol::wire::SyncResponse::decode(&answer).unwrap();
    assert_eq!((answer.version, answer.settings), (2, None));
    // A second change: a later version, and the deadlines follow again.
    let limit = |level: &str| json!({"class": class, "level": level, "accept_minutes": 10, "settle_minutes": 120});
    let (status, again) =
        put(admin.clone(), json!({ "limits": (["grid", "community", "township", "county"].map(limit)) })).await;
    assert_eq!(status, 200, "{again}");
    let version = again["settings"]["version"].as_u64().unwrap();
    assert!(version > changed["settings"]["version"].as_u64().unwrap());
    let staff_view = listed(get(&server, &township, "/v1/disputes").await).unwrap();
    assert_eq!(staff_view["state"]["deadline"], json!(reported_at + 2 * hour));
    worker.sync().await.unwrap();
    assert_eq!(mine(worker.dispute_views(true).unwrap()).state.deadline, Some(reported_at + 2 * hour));
    // A second server sharing the database follows within its refresh (a SQLite file has one).
    let started = std::time::Instant::now();
    while other.county.settings().version != version {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "the second server never followed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!("the second server followed after {} ms", started.elapsed().as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_sets_its_time_limits_and_every_replica_follows_them() {
    time_limits_story(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_sets_its_time_limits_and_every_replica_follows_them_on_postgres() {
    time_limits_story(TestServer::start_postgres().await).await;
}

/// The places a centre may send a dispute to, for the handheld's assign form: a township's
/// villages, grids and departments (never another township's); nothing for a grid's team; and
/// on the handheld the places kept from the last time when the server cannot be reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_centre_is_offered_the_places_under_it_even_offline() {
    let mut server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let put_node = |name: &'static str, kind: NodeKind, parent: Uuid, township: Option<Uuid>| {
        let storage = storage.clone();
        async move {
            let node = sync_protocol::org::Node {
                id: Uuid::now_v7(),
                kind,
                name: name.into(),
                parent: Some(parent),
                township,
                village: None,
            };
            storage.put_node(&node).await.unwrap();
            node.id
        }
    };
    let justice = put_node("司法所", NodeKind::Department, o.township, Some(o.township)).await;
    let elsewhere = put_node("别镇", NodeKind::Township, o.county, None).await;
    let foreign = put_node("别镇司法所", NodeKind::Department, elsewhere, Some(elsewhere)).await;

    let township = staff_token(&server, o.township_staff).await;
    let places: Vec<sync_protocol::api::Place> =
        serde_json::from_value(get(&server, &township, "/v1/places").await).unwrap();
    let find = |id: Uuid| places.iter().find(|p| p.id == id);
    assert_eq!(find(justice).map(|p| (p.kind, p.level)), Some((NodeKind::Department, Level::Township)));
    assert_eq!(find(o.village).map(|p| p.level), Some(Level::Community));
    assert_eq!(find(o.grid_a).map(|p| p.level), Some(Level::Grid));
    assert!(find(foreign).is_none() && find(elsewhere).is_none(), "another township's places: {places:?}");
    let worker = staff_token(&server, o.worker_a).await;
    assert_eq!(get(&server, &worker, "/v1/places").await, json!([]), "a grid's team sends nothing down");
    // A village centre: its grids only. The county centre: its townships and departments.
    let ids =
        |v: Value| v.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let village_staff = put_account(storage.as_ref(), "村综治专干", Role::VillageStaff, o.village).await;
    let village = ids(get(&server, &staff_token(&server, village_staff).await, "/v1/places").await);
    assert!(village.contains(&o.grid_a.to_string()) && !village.contains(&justice.to_string()), "{village:?}");
    let bureau = put_node("县信访局", NodeKind::Department, o.county, None).await;
    let county_staff = put_account(storage.as_ref(), "县中心值班员", Role::CountyStaff, o.county).await;
    let county = ids(get(&server, &staff_token(&server, county_staff).await, "/v1/places").await);
    for expected in [o.township, elsewhere, bureau] {
        assert!(county.contains(&expected.to_string()), "{county:?}");
    }
    assert!(!county.contains(&justice.to_string()) && !county.contains(&o.grid_a.to_string()), "{county:?}");

    // The centre's handheld fetches them, and keeps them for when there is no signal.
    let handheld = TestDevice::enrol(&server.url(), &server.code_for(o.township_staff).await, "centre").await;
    let online = handheld.places().await.unwrap();
    assert_eq!(online, places);
    // Only a place this person may send to, at the level named, goes into an action.
    let held = worker_dispute_at_township(&server, &handheld).await;
    for (level, node) in [(Level::Township, foreign), (Level::Community, justice)] {
        let send = NewAction::new("assign").to(level).due(field_core::now_ms() + DAY).note("请处理");
        let err = handheld.add_dispute_action(held, &NewAction { to_node: Some(node), ..send }).unwrap_err();
        assert_eq!(err.code().as_str(), "unknown_value", "{level:?} {node}");
    }
    let send = NewAction::new("assign").to(Level::Township).due(field_core::now_ms() + DAY).note("请司法所调解");
    handheld.add_dispute_action(held, &NewAction { to_node: Some(justice), ..send }).unwrap();
    let st = handheld.dispute(held).unwrap().state(&Default::default());
    assert_eq!(st.assignment.map(|a| a.to_node), Some(Some(justice)));
    server.stop().await;
    assert_eq!(handheld.places().await.unwrap(), places, "offline: the places kept");
}

/// Several servers on one PostgreSQL database behind a load balancer: a county centre connected
/// to one hears at once what a handheld synced through another (the servers relay their events).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_one_server_hears_what_a_handheld_synced_through_another() {
    let server = TestServer::start_postgres().await;
    let o = server.org.clone();
    let other = server.another_server().await;
    let county_staff =
        put_account(server.storage().as_ref(), "县社会治理中心值班员", Role::CountyStaff, o.county).await;
    let token = staff_token(&server, county_staff).await;
    let mut there = EventStream::open_at(&other.url(), &token).await;
    let mut here = EventStream::open(&server, &token).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let mut report = neighbours_dispute(vec![party("甲")], "东河桥", "桥栏杆断裂");
    report.class = "emergency".into();
    let id = worker.report_dispute(&report).unwrap();
    let t = std::time::Instant::now();
    worker.sync().await.unwrap();
    let heard = there.next("report", 5).await.expect("the other server's client hears the emergency");
    println!("heard through the other server {} ms after the sync began", t.elapsed().as_millis());
    assert_eq!(heard["dispute"], json!(id));
    // This server's own client hears it once, not again through the relay.
    assert_eq!(here.next("report", 5).await.unwrap()["dispute"], json!(id));
    assert!(here.next("report", 1).await.is_none(), "told twice");
}

/// A dispute reported by grid A's worker and passed up by the grid and the village to the
/// township, accepted there, as `township`'s handheld holds it after a sync.
async fn worker_dispute_at_township(server: &TestServer, township: &TestDevice) -> Uuid {
    let o = server.org.clone();
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let id = worker.report_dispute(&neighbours_dispute(vec![party("乙")], "村西", "地界纠纷")).unwrap();
    worker.add_dispute_action(id, &NewAction::new("escalate").note("需村里协调")).unwrap();
    worker.sync().await.unwrap();
    let village_staff = put_account(server.storage().as_ref(), "东坡村专干", Role::VillageStaff, o.village).await;
    let village = staff_token(server, village_staff).await;
    assert_eq!(act(server, &village, id, json!({"kind": "accept"})).await.0, 200);
    assert_eq!(act(server, &village, id, json!({"kind": "escalate", "note": "需镇里协调"})).await.0, 200);
    township.sync().await.unwrap();
    township.add_dispute_action(id, &NewAction::new("accept")).unwrap();
    id
}
