//! `POST /v1/enrol` (anonymous: a one-time code for a device token) and `GET /v1/me`.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use sync_protocol::api::{EnrolRequest, EnrolResponse, Me};

use super::client_addr::PeerAddr;
use super::{AppState, Authed, J};
use crate::error::Error;

pub async fn enrol(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    J(req): J<EnrolRequest>,
) -> Result<Json<EnrolResponse>, Error> {
    let client = st.trusted_proxies.client_ip(peer.0, &headers);
    Ok(Json(st.county.enrol(req, client).await?))
}

pub async fn me(State(st): State<AppState>, Authed(caller): Authed) -> Json<Me> {
    Json(st.county.me(&caller))
}
