//! Staff log in to the console with a password (issue 12): the county administrator sets it,
//! a log-in opens a session held in an HttpOnly, SameSite=Strict cookie, every route takes the
//! cookie as it takes a handheld's token (same scope, same rules), a request that changes
//! something needs the session's CSRF token, attempts are limited, log-ins are audited, and a
//! log-out or a password reset ends the session. On SQLite and on PostgreSQL.

use gridkeeper_tests::{TestServer, put_account, staff_token};
use serde_json::{Value, json};
use sync_protocol::org::Role;
use uuid::Uuid;

struct Http {
    url: String,
    client: reqwest::Client,
}

impl Http {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let cookie = resp.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
        (status, resp.json().await.unwrap_or(Value::Null), cookie)
    }
}

async fn story(server: TestServer) {
    let o = server.org.clone();
    let http = Http { url: server.url(), client: reqwest::Client::new() };
    let admin = vec![("authorization", format!("Bearer {}", staff_token(&server, o.admin).await))];
    let township = vec![("authorization", format!("Bearer {}", staff_token(&server, o.township_staff).await))];
    let put = reqwest::Method::PUT;
    let password_of = |account: Uuid| format!("/v1/admin/accounts/{account}/password");

    // The administrator sets a centre's log-in; a weak password, a grid worker, another
    // account's name and anyone but the administrator are refused.
    let good = json!({"login": "gaozhuang", "password": "Gaozhuang#2026"});
    assert_eq!(http.send(put.clone(), &password_of(o.township_staff), &township, Some(good.clone())).await.0, 403);
    let (status, body, _) = http
        .send(
            put.clone(),
            &password_of(o.township_staff),
            &admin,
            Some(json!({"login": "gaozhuang", "password": "123456"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("weak_password")), "{body}");
    let (status, body, _) = http
        .send(put.clone(), &password_of(o.worker_a), &admin, Some(json!({"login": "w", "password": "Worker#2026x"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("role_node_mismatch")), "{body}");
    assert_eq!(http.send(put.clone(), &password_of(o.township_staff), &admin, Some(good.clone())).await.0, 204);
    let other = put_account(server.storage().as_ref(), "另一位专干", Role::TownshipStaff, o.township).await;
    let (status, body, _) = http.send(put.clone(), &password_of(other), &admin, Some(good.clone())).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("login_taken")), "{body}");

    // A wrong password and an unknown name are refused alike.
    let post = reqwest::Method::POST;
    for wrong in [
        json!({"login": "gaozhuang", "password": "Gaozhuang#2025"}),
        json!({"login": "nobody", "password": "Gaozhuang#2026"}),
    ] {
        let (status, body, cookie) = http.send(post.clone(), "/v1/session", &[], Some(wrong)).await;
        assert_eq!((status, body["code"].as_str(), cookie), (401, Some("unauthorized"), None), "{body}");
    }

    // The right one: a session cookie the page's scripts cannot read, and the CSRF token.
    let (status, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(good.clone())).await;
    assert_eq!(status, 200, "{session}");
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.starts_with("__Host-gk_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert_eq!(session["account"]["id"], json!(o.township_staff));
    let token = cookie.split(';').next().unwrap().to_string();
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let with_cookie = vec![("cookie", token.clone())];
    let with_both = vec![("cookie", token.clone()), ("x-csrf-token", csrf.clone())];

    // The cookie reads what the centre's scope holds, as its handheld's token would.
    let get = reqwest::Method::GET;
    let (status, grids, _) = http.send(get.clone(), "/v1/grids", &with_cookie, None).await;
    assert_eq!(status, 200, "{grids}");
    assert!(grids.as_array().unwrap().iter().any(|g| g["id"] == json!(o.grid_a)));
    let (status, me, _) = http.send(get.clone(), "/v1/session", &with_cookie, None).await;
    assert_eq!((status, me["csrf_token"].as_str()), (200, Some(csrf.as_str())));
    // The administrator's routes stay the administrator's.
    assert_eq!(http.send(get.clone(), "/v1/admin/audit", &with_cookie, None).await.0, 403);
    // A second session cookie beside it (planted by another host) makes neither count; the
    // name is taken without case.
    let planted = vec![("cookie", format!("{token}; __Host-gk_session=gk_planted"))];
    assert_eq!(http.send(get.clone(), "/v1/grids", &planted, None).await.0, 401);
    let upper = json!({"login": "GaoZhuang", "password": "Gaozhuang#2026"});
    assert_eq!(http.send(post.clone(), "/v1/session", &[], Some(upper)).await.0, 200);

    // A change without the CSRF token (what a forged cross-site form would send) is refused.
    let delete = reqwest::Method::DELETE;
    let (status, body, _) = http.send(delete.clone(), "/v1/session", &with_cookie, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_csrf_token")), "{body}");
    let wrong_csrf = vec![("cookie", token.clone()), ("x-csrf-token", "gk_forged".to_string())];
    assert_eq!(http.send(delete.clone(), "/v1/session", &wrong_csrf, None).await.0, 400);

    // The log-ins, accepted and refused, are in the audit log.
    let (_, audit, _) = http.send(get.clone(), "/v1/admin/audit?kind=log_in", &admin, None).await;
    let details: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert!(details.contains(&"accepted") && details.contains(&"refused: wrong password"), "{audit}");

    // Log-out ends the session; the cookie is cleared and no longer works.
    let (status, _, cleared) = http.send(delete.clone(), "/v1/session", &with_both, None).await;
    assert_eq!(status, 204);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    assert_eq!(http.send(get.clone(), "/v1/grids", &with_cookie, None).await.0, 401);

    // A password reset ends the sessions opened with the old one.
    let (_, _, cookie) = http.send(post.clone(), "/v1/session", &[], Some(good.clone())).await;
    let again = vec![("cookie", cookie.unwrap().split(';').next().unwrap().to_string())];
    assert_eq!(http.send(get.clone(), "/v1/grids", &again, None).await.0, 200);
    let reset = json!({"login": "gaozhuang", "password": "Reset#Gaozhuang1"});
    assert_eq!(http.send(put.clone(), &password_of(o.township_staff), &admin, Some(reset)).await.0, 204);
    assert_eq!(http.send(get.clone(), "/v1/grids", &again, None).await.0, 401);

    // The administrator's list of accounts shows the log-in and the open session, and ends it.
    let (_, _, cookie) = http
        .send(post.clone(), "/v1/session", &[], Some(json!({"login": "gaozhuang", "password": "Reset#Gaozhuang1"})))
        .await;
    let open = vec![("cookie", cookie.unwrap().split(';').next().unwrap().to_string())];
    let (status, rows, _) = http.send(get.clone(), "/v1/admin/accounts?q=GAOZ", &admin, None).await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "the search finds the log-in name, without case: {rows:?}");
    assert_eq!(
        (&rows[0]["account"]["id"], &rows[0]["login"], &rows[0]["open_sessions"]),
        (&json!(o.township_staff), &json!("gaozhuang"), &json!(1))
    );
    let (_, everyone, _) =
        http.send(get.clone(), &format!("/v1/admin/accounts?node={}", o.township), &admin, None).await;
    let names: Vec<&str> =
        everyone.as_array().unwrap().iter().map(|r| r["account"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"另一位专干") && names.contains(&"张红梅"), "{everyone}");
    assert!(!names.contains(&"县管理员"), "the county's administrator is not of the township: {everyone}");
    let long = "长".repeat(65);
    let (status, body, _) = http.send(get.clone(), &format!("/v1/admin/accounts?q={long}"), &admin, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_query")), "{body}");
    let end = format!("/v1/admin/accounts/{}/sessions", o.township_staff);
    let (status, ended, _) = http.send(delete.clone(), &end, &admin, None).await;
    assert_eq!((status, &ended["ended"]), (200, &json!(1)), "{ended}");
    assert_eq!(http.send(get.clone(), "/v1/grids", &open, None).await.0, 401);
    let (_, rows, _) = http.send(get.clone(), "/v1/admin/accounts?q=gaozhuang", &admin, None).await;
    assert_eq!(rows[0]["open_sessions"], json!(0));
    let unknown = format!("/v1/admin/accounts/{}/sessions", Uuid::now_v7());
    assert_eq!(http.send(delete.clone(), &unknown, &admin, None).await.1["code"], json!("unknown_account"));
    // Answers that list a whole county are gzipped for a browser that asks; sync is not.
    let gzipped = |path: &'static str, token: String| {
        let url = format!("{}{path}", http.url);
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("authorization", token)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            r.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string())
        }
    };
    assert_eq!(gzipped("/v1/admin/structure", admin[0].1.clone()).await.as_deref(), Some("gzip"));
    assert_eq!(gzipped("/v1/map", admin[0].1.clone()).await.as_deref(), Some("gzip"));

    // The structure, each place once, with the grids' codes.
    let (status, places, _) = http.send(get.clone(), "/v1/admin/structure", &admin, None).await;
    assert_eq!(status, 200);
    let ids: std::collections::HashSet<&str> =
        places.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), places.as_array().unwrap().len());
    assert!(ids.contains(o.grid_a.to_string().as_str()) && ids.contains(o.township.to_string().as_str()));

    // Moved into a grid's team: the console is no longer theirs, the session ends.
    let (_, _, cookie) = http
        .send(post.clone(), "/v1/session", &[], Some(json!({"login": "gaozhuang", "password": "Reset#Gaozhuang1"})))
        .await;
    let moved = vec![("cookie", cookie.unwrap().split(';').next().unwrap().to_string())];
    assert_eq!(http.send(get.clone(), "/v1/grids", &moved, None).await.0, 200);
    let mut account = server.storage().account(o.township_staff).await.unwrap().unwrap();
    (account.role, account.node) = (Role::GridWorker, o.grid_a);
    server.storage().put_account(&account).await.unwrap();
    assert_eq!(http.send(get.clone(), "/v1/grids", &moved, None).await.0, 401);
    (account.role, account.node) = (Role::TownshipStaff, o.township);
    server.storage().put_account(&account).await.unwrap();

    // Guessing is slowed: past ten tries of one name from one address in a quarter hour, even
    // the right password waits there.
    let mut slowed = false;
    for _ in 0..12 {
        let (status, body, _) = http
            .send(post.clone(), "/v1/session", &[], Some(json!({"login": "gaozhuang", "password": "Guess#123456"})))
            .await;
        if status == 429 {
            assert_eq!(body["code"], json!("too_many_attempts"));
            slowed = true;
            break;
        }
    }
    assert!(slowed, "ten wrong passwords and more are slowed");
    let right = json!({"login": "gaozhuang", "password": "Reset#Gaozhuang1"});
    assert_eq!(http.send(post.clone(), "/v1/session", &[], Some(right)).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_to_the_console_with_a_password_and_a_session_cookie() {
    story(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_to_the_console_on_postgres() {
    story(TestServer::start_postgres().await).await;
}

/// The cookie and CSRF token of a log-in's answer, as request headers.
fn session_headers(session: &Value, cookie: Option<String>) -> Vec<(&'static str, String)> {
    let cookie = cookie.expect("a session cookie").split(';').next().unwrap().to_string();
    vec![("cookie", cookie), ("x-csrf-token", session["csrf_token"].as_str().unwrap().to_string())]
}

/// A second factor the county requires of township centres: set up from the console, asked for
/// at every log-in, a code taken once, removed by the administrator.
async fn second_factor_story(server: TestServer) {
    use county_server::service::second_factor::code_at;
    let o = server.org.clone();
    let http = Http { url: server.url(), client: reqwest::Client::new() };
    let admin = vec![("authorization", format!("Bearer {}", staff_token(&server, o.admin).await))];
    let township = vec![("authorization", format!("Bearer {}", staff_token(&server, o.township_staff).await))];
    let (get, post, put, delete) =
        (reqwest::Method::GET, reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE);
    let password = json!({"login": "liuzhuang", "password": "Liuzhuang#2026"});
    let path = format!("/v1/admin/accounts/{}/password", o.township_staff);
    assert_eq!(http.send(put.clone(), &path, &admin, Some(password.clone())).await.0, 204);

    // Only the administrator sets the roles, and never a grid's team.
    let roles = json!({"roles": ["township_staff"]});
    let (status, body, _) = http.send(put.clone(), "/v1/admin/second-factor", &township, Some(roles.clone())).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let grid = json!({"roles": ["grid_worker"]});
    let (status, body, _) = http.send(put.clone(), "/v1/admin/second-factor", &admin, Some(grid)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("role_node_mismatch")), "{body}");
    assert_eq!(http.send(put.clone(), "/v1/admin/second-factor", &admin, Some(roles.clone())).await.0, 204);
    let (_, got, _) = http.send(get.clone(), "/v1/admin/second-factor", &admin, None).await;
    assert_eq!(got, roles);

    // Required and not set up: the session can do nothing but set one up.
    let (status, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(password.clone())).await;
    assert_eq!((status, session["second_factor"].as_str()), (200, Some("setup_required")), "{session}");
    let limited = session_headers(&session, cookie);
    for path in ["/v1/grids", "/v1/disputes", "/v1/overview", "/v1/events"] {
        let (status, body, _) = http.send(get.clone(), path, &limited, None).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("second_factor_setup_required")), "{path}: {body}");
    }
    let (status, view, _) = http.send(get.clone(), "/v1/session", &limited, None).await;
    assert_eq!((status, view["second_factor"].as_str()), (200, Some("setup_required")));

    // A second session opened with the password alone, as whoever else knew it would.
    let (_, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(password.clone())).await;
    let bystander = session_headers(&session, cookie);

    // Set up: a secret shown once (not cached), confirmed by a code from the app.
    let (status, setup, _) = http.send(post.clone(), "/v1/session/second-factor", &limited, None).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/Gridkeeper:liuzhuang?"), "{setup}");
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let now = chrono::Utc::now().timestamp_millis();
    let right = code_at(&secret, now).unwrap();
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    let (status, body, _) =
        http.send(put.clone(), "/v1/session/second-factor", &limited, Some(json!({"code": wrong}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("wrong_second_factor")), "{body}");
    assert_eq!(
        http.send(put.clone(), "/v1/session/second-factor", &limited, Some(json!({"code": right}))).await.0,
        204
    );
    assert_eq!(http.send(get.clone(), "/v1/grids", &limited, None).await.0, 200, "set up: the session works");
    assert_eq!(http.send(get.clone(), "/v1/session", &bystander, None).await.0, 401, "the other session ended");
    let (status, body, _) = http.send(post.clone(), "/v1/session/second-factor", &limited, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("second_factor_conflict")), "one at a time: {body}");

    // Every log-in asks for it; a code is taken once (the one that confirmed it too).
    let (status, body, cookie) = http.send(post.clone(), "/v1/session", &[], Some(password.clone())).await;
    assert_eq!((status, body["code"].as_str(), cookie), (401, Some("second_factor_required"), None), "{body}");
    let with = |code: &str| {
        let mut p = password.clone();
        p["code"] = json!(code);
        p
    };
    let (status, body, _) = http.send(post.clone(), "/v1/session", &[], Some(with(&right))).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "a used code: {body}");
    let (status, body, _) = http.send(post.clone(), "/v1/session", &[], Some(with(&wrong))).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "a wrong code: {body}");
    let next = code_at(&secret, now + 30_000).unwrap();
    let (status, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(with(&next))).await;
    assert_eq!((status, session["second_factor"].as_str()), (200, Some("on")), "{session}");
    let signed_in = session_headers(&session, cookie);
    assert_eq!(http.send(get.clone(), "/v1/grids", &signed_in, None).await.0, 200);
    let (status, _, _) = http.send(post.clone(), "/v1/session", &[], Some(with(&next))).await;
    assert_eq!(status, 401, "the same code twice");
    let (_, rows, _) = http.send(get.clone(), "/v1/admin/accounts?q=liuzhuang", &admin, None).await;
    assert_eq!(rows[0]["second_factor"], json!(true), "{rows}");
    // The refusals are in the audit log, as a wrong password's are.
    let (_, audit, _) = http.send(get.clone(), "/v1/admin/audit?kind=log_in", &admin, None).await;
    assert!(audit.to_string().contains("refused: wrong second factor"), "{audit}");

    // A lost phone: the administrator removes it, the sessions end, and the next log-in must
    // set one up again; with the requirement lifted, the password alone does.
    let path = format!("/v1/admin/accounts/{}/second-factor", o.township_staff);
    assert_eq!(http.send(delete.clone(), &path, &township, None).await.0, 403);
    assert_eq!(http.send(delete.clone(), &path, &admin, None).await.0, 204);
    assert_eq!(http.send(get.clone(), "/v1/grids", &signed_in, None).await.0, 401);
    let (_, session, _) = http.send(post.clone(), "/v1/session", &[], Some(password.clone())).await;
    assert_eq!(session["second_factor"], json!("setup_required"), "{session}");
    assert_eq!(http.send(put.clone(), "/v1/admin/second-factor", &admin, Some(json!({"roles": []}))).await.0, 204);
    let (status, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(password)).await;
    assert_eq!((status, session["second_factor"].as_str()), (200, Some("off")), "{session}");
    assert_eq!(http.send(get.clone(), "/v1/grids", &session_headers(&session, cookie), None).await.0, 200);

    // Guessing codes: after five wrong ones the name waits, even with the right code.
    let other = put_account(server.storage().as_ref(), "另一位专干", Role::TownshipStaff, o.township).await;
    let password = json!({"login": "qiuzhuang", "password": "Qiuzhuang#2026"});
    let path = format!("/v1/admin/accounts/{other}/password");
    assert_eq!(http.send(put.clone(), &path, &admin, Some(password.clone())).await.0, 204);
    let (_, session, cookie) = http.send(post.clone(), "/v1/session", &[], Some(password.clone())).await;
    let own = session_headers(&session, cookie);
    let (_, setup, _) = http.send(post.clone(), "/v1/session/second-factor", &own, None).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp_millis();
    let code = code_at(&secret, now).unwrap();
    assert_eq!(http.send(put.clone(), "/v1/session/second-factor", &own, Some(json!({"code": code}))).await.0, 204);
    let with = |code: &str| {
        let mut p = password.clone();
        p["code"] = json!(code);
        p
    };
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 500_000) % 1_000_000);
    for _ in 0..5 {
        assert_eq!(http.send(post.clone(), "/v1/session", &[], Some(with(&wrong))).await.0, 401);
    }
    let (status, body, _) =
        http.send(post.clone(), "/v1/session", &[], Some(with(&code_at(&secret, now + 30_000).unwrap()))).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("too_many_attempts")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_requires_a_second_factor_of_chosen_roles() {
    second_factor_story(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_requires_a_second_factor_of_chosen_roles_on_postgres() {
    second_factor_story(TestServer::start_postgres().await).await;
}
