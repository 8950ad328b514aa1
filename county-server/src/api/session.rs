//! The staff console's log-in (`/v1/session`): `POST` logs in and sets the session's cookie
//! (HttpOnly, SameSite=Strict, Secure: browsers keep it to this server over HTTPS, or over
//! http to this machine), `GET` says who is logged in with the CSRF token, `DELETE` logs out.
//! The cookie authenticates every other route too (`Authed`).

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::api::{LogIn, SESSION_LIFE_MS, SecondFactorCode, SecondFactorRoles, SecondFactorSetup, SetPassword};
use uuid::Uuid;

use super::client_addr::PeerAddr;
use super::{Admin, AppState, Console, J};
use crate::error::Error;

/// The console session's cookie: `__Host-`, so the browser keeps it only as this server set it
/// (Secure, Path=/, no Domain), and no sibling host can plant one.
pub const SESSION_COOKIE: &str = "__Host-gk_session";

fn cookie(value: &str, max_age_secs: i64) -> HeaderValue {
    let c = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}");
    HeaderValue::from_str(&c).expect("a token is URL-safe base64")
}

pub async fn log_in(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    J(req): J<LogIn>,
) -> Result<Response, Error> {
    let client = st.trusted_proxies.client_ip(peer.0, &headers);
    let opened = st.county.log_in(&req, Some(client)).await?;
    let mut resp = Json(opened.view).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie(&opened.token, SESSION_LIFE_MS / 1000));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

pub async fn session(Console(_, view): Console) -> Response {
    let mut resp = Json(view).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn log_out(State(st): State<AppState>, Console(caller, _): Console) -> Result<Response, Error> {
    st.county.log_out(&caller).await?;
    let mut resp = axum::http::StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie("", 0));
    Ok(resp)
}

pub async fn set_password(
    State(st): State<AppState>,
    Admin(c): Admin,
    Path(account): Path<Uuid>,
    J(new): J<SetPassword>,
) -> Result<axum::http::StatusCode, Error> {
    st.county.set_password(&c, account, &new).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A new secret for the caller's authenticator app (shown once: not to be cached).
pub async fn begin_second_factor(State(st): State<AppState>, Console(c, _): Console) -> Result<Response, Error> {
    let setup: SecondFactorSetup = st.county.begin_second_factor(&c).await?;
    let mut resp = Json(setup).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

pub async fn confirm_second_factor(
    State(st): State<AppState>,
    Console(c, _): Console,
    J(body): J<SecondFactorCode>,
) -> Result<axum::http::StatusCode, Error> {
    st.county.confirm_second_factor(&c, &body.code).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub async fn remove_second_factor(
    State(st): State<AppState>,
    Admin(c): Admin,
    Path(account): Path<Uuid>,
) -> Result<axum::http::StatusCode, Error> {
    st.county.remove_second_factor(&c, account).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub async fn second_factor_roles(
    State(st): State<AppState>,
    Admin(c): Admin,
) -> Result<Json<SecondFactorRoles>, Error> {
    Ok(Json(st.county.second_factor_roles(&c).await?))
}

pub async fn set_second_factor_roles(
    State(st): State<AppState>,
    Admin(c): Admin,
    J(roles): J<SecondFactorRoles>,
) -> Result<axum::http::StatusCode, Error> {
    st.county.set_second_factor_roles(&c, &roles).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
