//! The county's structure from its setup file (县网格.xlsx), over HTTP as the county
//! administrator sends it, on SQLite and PostgreSQL: places and people of every level are made,
//! a re-run changes nothing, a changed file updates in place (a renamed grid keeps its id), a bad
//! file changes nothing and names every rejected row; then enrolment codes in bulk for a
//! township, as JSON and as the printable sheet, one of them enrolling a department's handheld,
//! and their revocation together. The command line does the same on a file of its own.

use std::collections::BTreeMap;

use gridkeeper_tests::{TestServer, error_code, staff_token, workspace_bin};
use serde_json::{Value, json};
use sync_protocol::api::{BulkCodes, SetupSummary};
use sync_protocol::org::Role;

const HEADER: [&str; 8] = ["镇街", "村社区", "网格", "网格编码", "网格边界", "部门", "姓名", "角色"];
const SQUARE: &str =
    r#"{"type":"Polygon","coordinates":[[[118.6,35.7],[118.61,35.7],[118.61,35.71],[118.6,35.71],[118.6,35.7]]]}"#;

/// The county's file: the seed org's 高庄镇 and 东坡村 (already stored) with new people, a new
/// grid, departments at both levels, and a second township. `renamed` is the next year's file:
/// grid GZ-003 renamed and its worker made its leader.
fn county_rows(renamed: bool) -> Vec<[&'static str; 8]> {
    let third = if renamed { "东坡村第三网格" } else { "东坡村第3网格" };
    let third_role = if renamed { "网格长" } else { "专职网格员" };
    vec![
        ["高庄镇", "东坡村", "东坡村第1网格", "GZ-001", SQUARE, "", "张红梅", "专职网格员"],
        ["高庄镇", "东坡村", "东坡村第1网格", "", "", "", "孙指导", "网格指导员"],
        ["高庄镇", "东坡村", "东坡村第1网格", "", "", "", "周党员", "党员协助员"],
        ["高庄镇", "东坡村", third, "GZ-003", "", "", "钱网格", third_role],
        ["高庄镇", "", "", "", "", "司法所", "吴调解", "部门工作人员"],
        ["高庄镇", "", "", "", "", "派出所", "郑民警", "部门工作人员"],
        ["", "", "", "", "", "县信访局", "冯科员", "部门工作人员"],
        ["许家湖镇", "西岭村", "西岭村第1网格", "XJH-001", "", "", "陈网格", "专职网格员"],
        ["许家湖镇", "", "", "", "", "", "许综治", "综治中心工作人员"],
    ]
}

/// A workbook as a county's office saves it: a title row above the header, an instructions
/// sheet the reader skips.
fn xlsx(rows: &[[&str; 8]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let notes = wb.add_worksheet().set_name("填表说明").unwrap();
    notes.write(0, 0, "每行一个地方或一个人。").unwrap();
    let sheet = wb.add_worksheet().set_name("县网格").unwrap();
    sheet.write(0, 0, "沂水县网格化服务管理 网格与人员").unwrap();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write(1, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write(r as u32 + 2, c as u16, *v).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn post_setup(server: &TestServer, token: &str, body: Vec<u8>, format: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/admin/structure?format={format}", server.url()))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The structure as comparable text: every place by kind and path, every person with role.
async fn structure_text(server: &TestServer) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let s = server.storage().structure(true).await.unwrap();
    let by_id: BTreeMap<_, _> = s.nodes.iter().map(|n| (n.node.id, n.node.clone())).collect();
    let path = |id| {
        let mut names = Vec::new();
        let mut at = by_id.get(&id);
        while let Some(n) = at {
            names.push(n.name.clone());
            at = n.parent.and_then(|p| by_id.get(&p));
        }
        names.reverse();
        names.join("/")
    };
    let places = s
        .nodes
        .iter()
        .map(|n| {
            let key = format!("{}:{}", n.node.kind.as_str(), path(n.node.id));
            (key, format!("{} code={:?} boundary={}", n.node.id, n.code, n.boundary.is_some()))
        })
        .collect();
    let people = s.accounts.iter().map(|a| (format!("{}@{}", a.name, path(a.node)), a.role.as_str().into())).collect();
    (places, people)
}

async fn setup_story(server: &TestServer) {
    let admin = staff_token(server, server.org.admin).await;
    let (status, body) = post_setup(server, &admin, xlsx(&county_rows(false)), "xlsx").await;
    assert_eq!(status, 200, "{body}");
    let first: SetupSummary = serde_json::from_value(body).unwrap();
    assert_eq!(first.rows, 9);
    assert_eq!(
        (first.townships_created, first.villages_created, first.grids_created, first.departments_created),
        (1, 1, 2, 3),
        "{first:?}"
    );
    // 张红梅 is the seed org's worker of that grid already; the grid gains its code and outline.
    assert_eq!((first.accounts_created, first.accounts_updated, first.places_updated), (8, 0, 1), "{first:?}");
    let (places, people) = structure_text(server).await;
    assert_eq!(people["孙指导@沂水县/高庄镇/东坡村/东坡村第1网格"], "grid_instructor");
    assert_eq!(people["周党员@沂水县/高庄镇/东坡村/东坡村第1网格"], "party_helper");
    assert_eq!(people["吴调解@沂水县/高庄镇/司法所"], "township_department_staff");
    assert_eq!(people["冯科员@沂水县/县信访局"], "county_department_staff");
    assert_eq!(people["许综治@沂水县/许家湖镇"], "township_staff");
    assert_eq!(people.keys().filter(|k| k.starts_with("张红梅@")).count(), 1, "no second 张红梅");
    assert!(places["grid:沂水县/高庄镇/东坡村/东坡村第1网格"].contains("code=Some(\"GZ-001\") boundary=true"));

    // The same file again changes nothing.
    let (status, body) = post_setup(server, &admin, xlsx(&county_rows(false)), "xlsx").await;
    assert_eq!(status, 200, "{body}");
    let again: SetupSummary = serde_json::from_value(body).unwrap();
    assert_eq!(again, SetupSummary { rows: 9, unchanged_rows: 9, ..Default::default() });
    assert_eq!(structure_text(server).await, (places.clone(), people.clone()));

    // Next year's file: the grid with code GZ-003 is renamed (same id), its worker leads it.
    let third_id = places["grid:沂水县/高庄镇/东坡村/东坡村第3网格"].split(' ').next().unwrap().to_string();
    let (status, body) = post_setup(server, &admin, xlsx(&county_rows(true)), "xlsx").await;
    assert_eq!(status, 200, "{body}");
    let renamed: SetupSummary = serde_json::from_value(body).unwrap();
    assert_eq!(
        (renamed.grids_created, renamed.places_updated, renamed.accounts_created, renamed.accounts_updated),
        (0, 1, 0, 1),
        "{renamed:?}"
    );
    let (places2, people2) = structure_text(server).await;
    assert!(places2["grid:沂水县/高庄镇/东坡村/东坡村第三网格"].starts_with(&third_id), "renamed in place");
    assert!(!places2.contains_key("grid:沂水县/高庄镇/东坡村/东坡村第3网格"));
    assert_eq!(people2["钱网格@沂水县/高庄镇/东坡村/东坡村第三网格"], "grid_leader");
    assert_eq!(places2.len(), places.len());

    // A bad file: every bad row reported, nothing changed. CSV this time, as Excel on Chinese
    // Windows saves it (GB18030).
    let bad = "镇街,村社区,网格,网格编码,网格边界,部门,姓名,角色\n\
               高庄镇,东坡村,东坡村第1网格,,,,新人甲,专职网格员\n\
               高庄镇,,东坡村第9网格,,,,新人乙,专职网格员\n\
               高庄镇,东坡村,,,,,新人丙,门卫\n\
               高庄镇,东坡村,东坡村第1网格,,,,新人丁,县社会治理中心工作人员\n\
               高庄镇,东坡村,东坡村第三网格,GZ-001,,,,\n";
    let (gb, _, _) = encoding_rs::GB18030.encode(bad);
    let (status, body) = post_setup(server, &admin, gb.to_vec(), "csv").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("setup_rejected")), "{body}");
    let problems: Vec<(u64, &str, &str)> = body["report"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["row"].as_u64().unwrap(), p["column"].as_str().unwrap(), p["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (3, "村社区", "missing_place"),
            (4, "角色", "unknown_role"),
            (5, "角色", "role_does_not_fit"),
            (6, "网格编码", "grid_code_taken")
        ]
    );
    assert_eq!(structure_text(server).await, (places2, people2), "a rejected file changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_sets_up_its_places_and_people_from_one_file_on_sqlite() {
    setup_story(&TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_sets_up_its_places_and_people_from_one_file_on_postgres() {
    setup_story(&TestServer::start_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_gets_its_codes_on_one_sheet_and_a_lost_sheet_is_revoked() {
    let server = TestServer::start().await;
    let admin = staff_token(&server, server.org.admin).await;
    let (status, body) = post_setup(&server, &admin, xlsx(&county_rows(false)), "xlsx").await;
    assert_eq!(status, 200, "{body}");
    let client = reqwest::Client::new();
    let bulk = |format: &'static str| {
        let (client, url, admin) = (client.clone(), server.url(), admin.clone());
        let township = server.org.township;
        async move {
            client
                .post(format!("{url}/v1/admin/enrolment-codes/bulk?format={format}&server=https://gk.example"))
                .bearer_auth(admin)
                .json(&json!({"node": township}))
                .send()
                .await
                .unwrap()
        }
    };
    let codes: BulkCodes = bulk("json").await.json().await.unwrap();
    let names: Vec<&str> = codes.codes.iter().map(|c| c.name.as_str()).collect();
    // Everyone of 高庄镇 (the seed org's people and the file's), no one of the county or 许家湖镇.
    for name in ["张红梅", "孙指导", "周党员", "钱网格", "吴调解", "郑民警", "赵主任"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    for name in ["冯科员", "许综治", "陈网格", "县管理员"] {
        assert!(!names.contains(&name), "{name} is not of the township");
    }
    let justice = codes.codes.iter().find(|c| c.name == "吴调解").unwrap();
    assert_eq!(justice.role, Role::TownshipDepartmentStaff);
    assert_eq!(justice.place, "高庄镇 / 司法所");

    // The department's handheld enrols with its code and holds the township's grids.
    let enrol = |code: String| {
        let (client, url) = (client.clone(), server.url());
        async move {
            client
                .post(format!("{url}/v1/enrol"))
                .json(&json!({"code": code, "device_name": "司法所手持终端"}))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = enrol(justice.code.clone()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let enrolled: Value = resp.json().await.unwrap();
    let grids: Vec<&str> = enrolled["grids"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(grids.contains(&"东坡村第1网格") && grids.contains(&"东坡村第3网格"), "{grids:?}");
    assert!(!grids.contains(&"西岭村第1网格"));
    // It works disputes only: residents are not its to read.
    let token = enrolled["token"].as_str().unwrap();
    let resp = client.get(format!("{}/v1/residents", server.url())).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // The printable sheet: a new code for everyone but the enrolled department, each with a QR
    // code; the codes of the first issue stop working.
    let resp = bulk("html").await;
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();
    assert_eq!(html.matches("<svg").count(), codes.codes.len() - 1, "one QR code per person without a device");
    assert!(!html.contains("吴调解"), "people with a device are left out");
    assert!(html.contains("郑民警") && html.contains("https://gk.example"));
    let old = codes.codes.iter().find(|c| c.name == "郑民警").unwrap().code.clone();
    assert_eq!(error_code(&enrol(old).await.bytes().await.unwrap()), "forbidden", "replaced by the sheet");
    // The console's form: the codes and their sheet from one issue, which replaces the last.
    let both: BulkCodes = bulk("both").await.json().await.unwrap();
    let sheet = both.sheet.as_deref().expect("the sheet with the codes");
    assert_eq!(both.replaced as usize, both.codes.len(), "the sheet's codes replaced");
    assert!(both.codes.iter().all(|c| sheet.contains(&c.code)), "the sheet prints the codes the JSON lists");
    assert!(codes.sheet.is_none(), "plain JSON carries no sheet");
    assert_eq!(bulk("pdf").await.status().as_u16(), 400);

    // The sheet is lost: revoke every unused code of the township at once.
    let resp = client
        .post(format!("{}/v1/admin/enrolment-codes/revoke-bulk", server.url()))
        .bearer_auth(&admin)
        .json(&json!({"node": server.org.township}))
        .send()
        .await
        .unwrap();
    let revoked: Value = resp.json().await.unwrap();
    assert_eq!(revoked["revoked"].as_u64(), Some(codes.codes.len() as u64 - 1), "{revoked}");
    let sheet_code = html.split("<div class=\"code\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert_eq!(error_code(&enrol(sheet_code).await.bytes().await.unwrap()), "forbidden", "revoked with the sheet");
}

#[test]
fn the_command_line_sets_up_a_new_county_and_prints_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    let file = dir.path().join("县网格.csv");
    let rows: Vec<String> = std::iter::once(HEADER.join(","))
        .chain(county_rows(false).iter().map(|r| {
            r.iter()
                .map(|c| if c.contains(',') { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.to_string() })
                .collect::<Vec<_>>()
                .join(",")
        }))
        .collect();
    std::fs::write(&file, rows.join("\n")).unwrap();
    let bin = workspace_bin("county-server");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let db = db.to_str().unwrap();
    let (ok, out) = run(&["setup", "--db", db, "--file", file.to_str().unwrap()]);
    assert!(!ok && out.contains("no_county"), "an empty database needs the county's name: {out}");
    let (ok, out) = run(&["setup", "--db", db, "--file", file.to_str().unwrap(), "--county", "沂水县"]);
    assert!(ok, "{out}");
    assert!(out.contains("new: 2 townships, 2 villages, 3 grids, 3 departments, 9 accounts"), "{out}");
    let sheet = dir.path().join("codes.html");
    let (ok, out) = run(&["issue-codes", "--db", db, "--place", "高庄镇", "--out", sheet.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("issued 6 codes"), "{out}");
    assert_eq!(std::fs::read_to_string(&sheet).unwrap().matches("<svg").count(), 6);
    let (ok, out) = run(&["revoke-codes", "--db", db, "--place", "高庄镇"]);
    assert!(ok && out.contains("revoked 6"), "{out}");
    // A bad file: non-zero, every row named.
    std::fs::write(&file, "镇街,村社区,姓名,角色\n高庄镇,东坡村,某人,保安\n").unwrap();
    let (ok, out) = run(&["setup", "--db", db, "--file", file.to_str().unwrap()]);
    assert!(!ok && out.contains("unknown_role") && out.contains("row 2"), "{out}");

    // The county's time limits from the command line: printed, set from a file, refused whole
    // when one cannot be.
    let (ok, out) = run(&["time-limits", "--db", db]);
    assert!(ok && out.contains("\"version\": 0"), "{out}");
    let limits = dir.path().join("limits.json");
    let table =
        json!({"limits": [{"class": "emergency", "level": "county", "accept_minutes": 15, "settle_minutes": 720}]});
    std::fs::write(&limits, table.to_string()).unwrap();
    let (ok, out) = run(&["time-limits", "--db", db, "--set", limits.to_str().unwrap()]);
    assert!(ok && out.contains("time limits are now version"), "{out}");
    // The settings as printed (the log follows them on the same output).
    let printed: Value =
        serde_json::Deserializer::from_str(&out[out.find('{').unwrap()..]).into_iter().next().unwrap().unwrap();
    let set = printed["time_limits"]["limits"].as_array().unwrap();
    assert!(set.contains(&table["limits"][0]), "{out}");
    assert_eq!(set.len(), 12, "the other entries keep the defaults");
    std::fs::write(
        &limits,
        json!({"limits": [{"class": "emergency", "level": "county", "accept_minutes": 15, "settle_minutes": 5}]})
            .to_string(),
    )
    .unwrap();
    let (ok, out) = run(&["time-limits", "--db", db, "--set", limits.to_str().unwrap()]);
    assert!(!ok && out.contains("bad_setting"), "{out}");
    let (_, again) = run(&["time-limits", "--db", db]);
    assert!(again.contains(&format!("\"version\": {}", printed["version"])), "nothing was changed: {again}");
}
