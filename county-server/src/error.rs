//! Errors as HTTP clients see them: a status and a body `{"code": ..., "message": ...}` with a
//! stable code. Messages never carry personal data.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("missing or invalid device token")]
    Unauthorized,
    #[error("this device has been revoked")]
    Revoked,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body too large")]
    TooLarge,
    #[error("server busy, try again")]
    Busy,
    /// Too many attempts (enrolment codes): wait `retry_after_secs`.
    #[error("too many attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Revoked => "device_revoked",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge => "body_too_large",
            ApiError::Busy => "busy",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::Revoked => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Contention(_) => ApiError::Busy,
            StorageError::NotFound(m) => ApiError::NotFound(m),
            StorageError::Database(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        // Refusals are logged once, with their route, by [`crate::audit::log_refusals`].
        let body = ErrorBody { code: self.code(), message: self.to_string() };
        let mut resp = (self.status(), Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after_secs } = &self {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        resp.extensions_mut().insert(crate::audit::ErrorCode(self.code()));
        resp
    }
}
