//! `POST /v1/sync`: one sync round, binary both ways ([`sync_protocol::wire`]); and
//! `GET /v1/docs/{key}`: byte ranges of a document too large for a sync answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::Code;
use sync_protocol::api::{ByteRange, DOC_PREFIX_HEADER, DOC_SHA256_HEADER};
use sync_protocol::doc::DocKey;
use sync_protocol::wire::{CONTENT_TYPE, SyncRequest};

use super::{AppState, Authed, Body};
use crate::error::Error;
use crate::service::ranges::RangeAsk;

pub async fn sync(State(st): State<AppState>, Authed(caller): Authed, Body(bytes): Body) -> Result<Response, Error> {
    let req = SyncRequest::decode(&bytes)?;
    let resp = st.county.sync(&caller, req).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], resp.encode()).into_response())
}

/// `GET /v1/docs/{grid}/{collection}[/{month}]` with `Range: bytes=FROM-[TO]`: a range of a
/// document too large for a sync answer ([`sync_protocol::api::DOC_PREFIX_HEADER`]).
pub async fn doc_range(
    State(st): State<AppState>,
    Authed(caller): Authed,
    method: axum::http::Method,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    // axum answers HEAD with the GET handler: a read of no bytes that would still be audited.
    if method == axum::http::Method::HEAD {
        return Err(Error::bad(Code::MalformedQuery, "document ranges are read with GET"));
    }
    let key: DocKey =
        key.parse().map_err(|e: String| Error::bad(Code::MalformedQuery, format!("document key: {e}")))?;
    let range = match headers.get(header::RANGE) {
        None => ByteRange { from: 0, to: None },
        Some(v) => v
            .to_str()
            .ok()
            .and_then(ByteRange::parse)
            .ok_or_else(|| Error::bad(Code::BadRange, "Range reads as bytes=FROM- or bytes=FROM-TO"))?,
    };
    let prefix_sha256 = match headers.get(DOC_PREFIX_HEADER) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|h| hex::decode(h.trim()).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| Error::bad(Code::BadRange, format!("{DOC_PREFIX_HEADER} is 64 hex digits")))?,
        ),
    };
    let answer = st.county.doc_range(&caller, key, RangeAsk { range, prefix_sha256 }).await?;
    let mut resp = (
        StatusCode::PARTIAL_CONTENT,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_RANGE, answer.range.header()),
        ],
        answer.bytes,
    )
        .into_response();
    if let Some(digest) = answer.sha256 {
        let value = header::HeaderValue::from_str(&hex::encode(digest)).expect("hex is a header value");
        resp.headers_mut().insert(DOC_SHA256_HEADER, value);
    }
    Ok(resp)
}
