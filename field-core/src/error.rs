//! Device errors with stable codes, as the app shows them (`{code, message}`).

use serde::Serialize;
use sync_protocol::{DocError, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The worker's input does not pass validation; nothing was saved.
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("this device is not enrolled yet")]
    NotEnrolled,
    #[error("already enrolled")]
    AlreadyEnrolled,
    #[error("PIN 不正确 (wrong PIN)")]
    WrongPin,
    #[error("PIN 须为至少6位数字 (the PIN must be at least 6 digits)")]
    WeakPin,
    #[error("照片格式或大小不对 (not an image, or larger than 20 MB)")]
    BadPhoto,
    #[error("not found: {0}")]
    NotFound(String),
    /// No connection, or it broke: everything stays queued, try again later.
    #[error("network: {0}")]
    Network(String),
    /// The server refused the request as a whole.
    #[error("server refused ({code}): {message}")]
    Server { code: String, message: String },
    #[error("local database: {0}")]
    Storage(String),
    #[error("document: {0}")]
    Document(String),
}

impl DeviceError {
    pub fn code(&self) -> String {
        match self {
            DeviceError::Invalid(v) => v.code.as_str().to_string(),
            DeviceError::NotEnrolled => "not_enrolled".into(),
            DeviceError::AlreadyEnrolled => "already_enrolled".into(),
            DeviceError::WrongPin => "wrong_pin".into(),
            DeviceError::WeakPin => "weak_pin".into(),
            DeviceError::BadPhoto => "bad_photo".into(),
            DeviceError::NotFound(_) => "not_found".into(),
            DeviceError::Network(_) => "network".into(),
            DeviceError::Server { code, .. } => code.clone(),
            DeviceError::Storage(_) => "local_storage".into(),
            DeviceError::Document(_) => "document".into(),
        }
    }

    /// Whether trying again later may succeed without changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            DeviceError::Network(_) => true,
            DeviceError::Server { code, .. } => code == "busy" || code == "internal",
            _ => false,
        }
    }

    pub fn to_body(&self) -> ErrorBody {
        ErrorBody { code: self.code(), message: self.to_string() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl From<rusqlite::Error> for DeviceError {
    fn from(e: rusqlite::Error) -> Self {
        DeviceError::Storage(e.to_string())
    }
}

impl From<DocError> for DeviceError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Invalid(v) => DeviceError::Invalid(v),
            other => DeviceError::Document(other.to_string()),
        }
    }
}

impl From<ValidationError> for DeviceError {
    fn from(e: ValidationError) -> Self {
        DeviceError::Invalid(e)
    }
}

pub type Result<T> = std::result::Result<T, DeviceError>;
