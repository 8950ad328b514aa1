//! HTTP: routes grouped by what they serve, each handler a call into [`crate::service`]. This
//! layer authenticates (the bearer token into a [`Caller`]), reads bodies and queries into the
//! contract types of [`sync_protocol::api`], and maps [`crate::Error`] to a status and an
//! [`sync_protocol::ErrorBody`] (`error.rs`); it decides nothing else.
//!
//! - `sync.rs`: `POST /v1/sync` (binary, [`sync_protocol::wire`]), `GET /v1/docs/{key}` (ranges)
//! - `enrol.rs`: `POST /v1/enrol`, `GET /v1/me`
//! - `records.rs`: staff queries (`/v1/residents`, `/v1/disputes`, `/v1/overview` …) and
//!   actions on disputes (`POST /v1/disputes/{id}/actions`)
//! - `events.rs`: `GET /v1/events`, the staff's live stream (server-sent events)
//! - `blobs.rs`: photos in chunks (`/v1/blobs/{hash}`)
//! - `admin.rs`: the county's structure, accounts, enrolment codes, devices, rosters
//!   (`/v1/admin/…`)
//! - `session.rs`: the staff console's log-in (`/v1/session`) and passwords
//! - `console.rs`: the staff console's files (`/console/`), built into the binary
//!
//! A caller is a handheld (`Authorization: Bearer` with its device token) or a console session
//! (its HttpOnly cookie; a request that changes something also carries `X-CSRF-Token`).

mod admin;
mod blobs;
pub mod client_addr;
mod console;
mod enrol;
mod error;
mod events;
mod records;
pub mod request_log;
mod session;
mod sync;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use sync_protocol::Code;

use crate::error::Error;
use crate::service::{Caller, County};
use client_addr::TrustedProxies;

/// Largest request body accepted (a sync carrying a long offline day stays far below it).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest setup file accepted (the county administrator's; boundaries make it large).
pub const MAX_SETUP_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub county: Arc<County>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the enrolment limits).
    pub trusted_proxies: Arc<TrustedProxies>,
}

pub fn router(state: AppState) -> Router {
    // The console's files are large and compress well, and so are the few staff answers that
    // list a whole county (the map's boundaries, the structure, every account, the grids):
    // gzip where the client asks for it. Sync and the other answers are sized already.
    let gz = tower_http::compression::CompressionLayer::new;
    let console = Router::new()
        .route("/console", get(console::root))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .layer(gz());
    Router::new()
        .merge(console)
        .route("/health", get(|| async { "ok" }))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/docs/{*key}", get(sync::doc_range))
        .route("/v1/enrol", post(enrol::enrol))
        .route("/v1/me", get(enrol::me))
        .route("/v1/grids", get(records::grids).layer(gz()))
        .route("/v1/places", get(records::places))
        .route("/v1/map", get(records::map).layer(gz()))
        .route("/v1/residents", get(records::residents))
        .route("/v1/residents/{id}", get(records::resident))
        .route("/v1/residents/{id}/reveal", post(records::reveal))
        .route("/v1/houses", get(records::houses))
        .route("/v1/disputes", get(records::disputes))
        .route("/v1/disputes/counts", get(records::dispute_counts))
        .route("/v1/disputes/{id}", get(records::dispute))
        .route("/v1/disputes/{id}/actions", post(records::act_on_dispute))
        .route("/v1/events", get(events::events))
        .route("/v1/figures/disputes", get(records::dispute_figures))
        .route("/v1/conflicts", get(records::conflicts))
        .route("/v1/history/{collection}/{id}", get(records::history))
        .route("/v1/overview", get(records::overview))
        .route("/v1/settings", get(records::settings))
        .route(
            "/v1/admin/settings/time-limits",
            put(admin::set_time_limits).layer(DefaultBodyLimit::max(sync_protocol::model::MAX_TIME_LIMITS_BYTES)),
        )
        .route("/v1/blobs/{hash}", put(blobs::put_chunk).get(blobs::get))
        .route("/v1/blobs/{hash}/status", get(blobs::status))
        .route("/v1/session", post(session::log_in).get(session::session).delete(session::log_out))
        .route("/v1/admin/accounts", post(admin::create_account).get(admin::accounts).layer(gz()))
        .route("/v1/admin/accounts/{id}/password", put(session::set_password))
        .route("/v1/admin/accounts/{id}/sessions", delete(admin::end_sessions))
        .route("/v1/session/second-factor", post(session::begin_second_factor).put(session::confirm_second_factor))
        .route("/v1/admin/accounts/{id}/second-factor", delete(session::remove_second_factor))
        .route("/v1/admin/second-factor", get(session::second_factor_roles).put(session::set_second_factor_roles))
        .route("/v1/admin/enrolment-codes", post(admin::issue_code))
        .route("/v1/admin/enrolment-codes/revoke", post(admin::revoke_code))
        .route("/v1/admin/enrolment-codes/bulk", post(admin::issue_codes))
        .route("/v1/admin/enrolment-codes/revoke-bulk", post(admin::revoke_codes))
        // A county's setup file may carry every grid's boundary.
        .route(
            "/v1/admin/structure",
            post(admin::setup).layer(DefaultBodyLimit::max(MAX_SETUP_BYTES)).get(admin::structure).layer(gz()),
        )
        .route("/v1/admin/devices", get(admin::devices))
        .route("/v1/admin/devices/{id}/revoke", post(admin::revoke))
        .route("/v1/admin/grids/{grid}/roster", post(admin::import_roster).get(admin::export_roster))
        .route("/v1/admin/audit", get(admin::audit))
        .route("/v1/admin/audit.csv", get(admin::audit_csv))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_log::log_refusals))
        .with_state(state)
}

/// The authenticated caller of a request (the `Authorization: Bearer` token), marked on the
/// request's log span by ids.
pub struct Authed(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let mut caller = match (token, session_token(&parts.headers)) {
            (None, Some(_)) => Console::from_request_parts(parts, st).await?.0,
            _ => st.county.authenticate(token).await?,
        };
        request_log::record_caller(caller.device.id, caller.account.id);
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<client_addr::PeerAddr>>() {
            caller.from = Some(st.trusted_proxies.client_ip(peer.0, &parts.headers));
        }
        Ok(Authed(caller))
    }
}

/// The authenticated caller, who must be the county administrator: checked before the body of
/// a large upload (a setup file) is read, so no one else makes the server hold it.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Error> {
        let Authed(caller) = Authed::from_request_parts(parts, st).await?;
        caller.require_admin()?;
        Ok(Admin(caller))
    }
}

/// The caller of a console session (its cookie), with the session as its browser sees it. A
/// request that changes something must carry the session's `X-CSRF-Token`.
pub struct Console(pub Caller, pub sync_protocol::api::SessionView);

impl FromRequestParts<AppState> for Console {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Error> {
        let token = session_token(&parts.headers).ok_or(Error::Unauthorized)?;
        let csrf = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        let changes = !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
        // The live stream reconnects by itself: not a sign that someone is at the console.
        let touch = parts.uri.path() != "/v1/events";
        let (mut caller, view) = st.county.authenticate_session(&token, csrf, changes, touch).await?;
        request_log::record_caller(caller.device.id, caller.account.id);
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<client_addr::PeerAddr>>() {
            caller.from = Some(st.trusted_proxies.client_ip(peer.0, &parts.headers));
        }
        Ok(Console(caller, view))
    }
}

/// The console session's token from the request's cookies, if there is exactly one (two would
/// mean one was planted: neither is taken).
fn session_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let mut found = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(session::SESSION_COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty());
    let token = found.next()?;
    found.next().is_none().then(|| token.to_string())
}

/// A query string read into a contract type; a bad one is `malformed_query`.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Q(v))
            .map_err(|e: QueryRejection| Error::bad(Code::MalformedQuery, e.body_text()))
    }
}

/// A JSON body read into a contract type; a bad one is `malformed_body`, a large one
/// `body_too_large`.
pub struct J<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for J<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(J(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Error::TooLarge),
            Err(e) => Err(Error::bad(Code::MalformedBody, JsonRejection::body_text(&e))),
        }
    }
}

/// A raw body; a large one is `body_too_large`.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        Bytes::from_request(req, state).await.map(Body).map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge
            } else {
                Error::bad(Code::MalformedBody, e.body_text())
            }
        })
    }
}
