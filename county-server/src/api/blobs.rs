//! Photos in chunks: `PUT /v1/blobs/{hash}` with the grid, total size and offset in headers,
//! `GET /v1/blobs/{hash}/status` for where an upload stands, `GET /v1/blobs/{hash}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::Code;
use sync_protocol::api::{BLOB_GRID_HEADER, BLOB_OFFSET_HEADER, BLOB_TOTAL_HEADER, BlobState};
use uuid::Uuid;

use super::{AppState, Authed, Body};
use crate::error::Error;
use crate::service::blobs::Chunk;

fn header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Result<T, Error> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::bad(Code::MissingHeader, format!("header {name} is required")))
}

pub async fn put_chunk(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(hash): Path<String>,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<Json<BlobState>, Error> {
    let chunk = Chunk {
        grid: header::<Uuid>(&headers, BLOB_GRID_HEADER)?,
        total: header(&headers, BLOB_TOTAL_HEADER)?,
        offset: header(&headers, BLOB_OFFSET_HEADER)?,
    };
    Ok(Json(st.county.put_blob_chunk(&c, &hash, chunk, &bytes).await?))
}

pub async fn status(
    State(st): State<AppState>,
    Authed(c): Authed,
    Path(hash): Path<String>,
) -> Result<Json<BlobState>, Error> {
    Ok(Json(st.county.blob_state(&c, &hash).await?))
}

pub async fn get(State(st): State<AppState>, Authed(c): Authed, Path(hash): Path<String>) -> Result<Response, Error> {
    let bytes = st.county.blob(&c, &hash).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
