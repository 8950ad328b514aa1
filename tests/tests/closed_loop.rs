//! The four-level closed loop end to end: a dispute reported on a handheld goes up level by
//! level, is accepted and assigned by a township centre that has no handheld (the staff API),
//! is worked and reported back by the village, verified, resolved, evaluated and archived —
//! partly offline, with concurrent actions at two levels — and every replica (each handheld,
//! the server's document and its query row) agrees on where it stands.

use gridkeeper_tests::{TestDevice, TestServer, neighbours_dispute, party, put_account};
use serde_json::{Value, json};
use sync_protocol::api::{DisputeView, NewAction};
use sync_protocol::model::{DisputeStatus, Record};
use sync_protocol::org::{Level, Role};
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

/// A device token for an account, as enrolment gives it (the staff API is called with it).
async fn token_for(server: &TestServer, account: Uuid) -> String {
    let code = server.code_for(account).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/enrol", server.url()))
        .json(&json!({"code": code, "device_name": "综治中心工作站"}))
        .send()
        .await
        .unwrap();
    resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

const DAY: i64 = 24 * 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_goes_up_to_the_township_and_back_down_and_every_replica_agrees() {
    let server = TestServer::start().await;
    let o = server.org.clone();
    let storage = server.storage();
    let village_staff = put_account(storage.as_ref(), "东坡村综治专干", Role::VillageStaff, o.village).await;
    let worker = TestDevice::enrol(&server.url(), &server.code_for(o.worker_a).await, "worker").await;
    let leader = TestDevice::enrol(&server.url(), &server.code_for(o.leader_a).await, "leader").await;
    let village = TestDevice::enrol(&server.url(), &server.code_for(village_staff).await, "village").await;
    let township = token_for(&server, o.township_staff).await;
    let admin = token_for(&server, o.admin).await;

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
    let merged = leader.dispute(id).unwrap().state();
    assert_eq!((merged.status, merged.level), (DisputeStatus::Escalated, Level::Community));
    assert_eq!(merged.contradictions.len(), 1, "{merged:?}");
    assert_eq!(merged.contradictions[0].code.as_str(), "not_holder");
    assert_eq!(worker.dispute(id).unwrap().state(), merged);

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

    // The village sees the assignment at its next sync and reports back; the grid worker may
    // not (the assignment is the village's).
    village.sync().await.unwrap();
    worker.sync().await.unwrap();
    let st = village.dispute(id).unwrap().state();
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
    let state = on_server.state();
    assert_eq!(state.status, DisputeStatus::Closed);
    assert_eq!(state.resolved_level, Some(Level::Township));
    assert_eq!(state.satisfaction.as_deref(), Some("satisfied"));
    assert_eq!(from_doc.state(), state);
    for d in [&worker, &leader, &village] {
        let mine = d.dispute(id).unwrap();
        assert_eq!(mine.actions.len(), on_server.actions.len(), "{}", d.name);
        assert_eq!(mine.state(), state, "{}", d.name);
    }
    // The timeline holds every action, the contradicted one too.
    assert_eq!(on_server.actions.len(), 12);
}
