//! Errors as HTTP clients see them: a status and an [`ErrorBody`] with a stable code. This is
//! the only place a domain error meets HTTP.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sync_protocol::ErrorBody;

use crate::error::Error;

fn status(e: &Error) -> StatusCode {
    match e {
        Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthorized | Error::Revoked | Error::LogInRefused | Error::SecondFactorRequired => {
            StatusCode::UNAUTHORIZED
        }
        Error::Forbidden(_) | Error::SecondFactorSetupRequired => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Error::TooManyAttempts { .. } | Error::Quota(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::RosterRejected(_) | Error::SetupRejected(_) | Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        // Refusals are logged once, with their route, by [`super::request_log::log_refusals`].
        let body: ErrorBody = self.body();
        let code = body.code.as_str();
        let mut resp = (status(&self), Json(body)).into_response();
        if let Error::TooManyAttempts { retry_after_secs } = &self {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        resp.extensions_mut().insert(super::request_log::ErrorCode(code));
        resp
    }
}
