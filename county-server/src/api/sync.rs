//! `POST /v1/sync`: one sync round, binary both ways ([`sync_protocol::wire`]).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sync_protocol::wire::{CONTENT_TYPE, SyncRequest};

use super::{AppState, Authed, Body};
use crate::error::Error;

pub async fn sync(State(st): State<AppState>, Authed(caller): Authed, Body(bytes): Body) -> Result<Response, Error> {
    let req = SyncRequest::decode(&bytes)?;
    let resp = st.county.sync(&caller, req).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], resp.encode()).into_response())
}
