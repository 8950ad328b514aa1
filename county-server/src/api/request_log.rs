//! Every refused request is logged: the route pattern (never the path as sent, nor the query,
//! which may hold a name or ID digits), the status, the error code, and the device and account
//! ids once the token has been checked. Never names, ID numbers, phones, tokens, enrolment
//! codes or client addresses.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

/// The stable code of an error answer, left on the response for the log.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Marks the current request with the device and account behind it (UUIDs only).
pub fn record_caller(device: uuid::Uuid, account: uuid::Uuid) {
    let span = tracing::Span::current();
    span.record("device", tracing::field::display(device));
    span.record("account", tracing::field::display(account));
}

/// Middleware: runs the request in a span and logs it if it was refused.
pub async fn log_refusals(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = route.as_deref().unwrap_or("(no route)");
    let span = tracing::info_span!("request", method = %req.method(), route, device = Empty, account = Empty);
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    if status.is_client_error() {
        let code = resp.extensions().get::<ErrorCode>().map(|c| c.0).unwrap_or("");
        let status = status.as_u16();
        span.in_scope(|| match status {
            401 | 403 | 429 => tracing::warn!(status, code, "request refused"),
            _ => tracing::info!(status, code, "request refused"),
        });
    }
    resp
}
