//! The server's domain error: what a service answers when it refuses or fails. Each carries a
//! stable [`ErrorCode`] and says whether trying again can help; how it is shown (an HTTP status,
//! a command-line message) is decided where it is shown (`api::error`, `main.rs`). Messages
//! never carry personal data.

use sync_protocol::api::RosterReport;
use sync_protocol::{Code, ErrorBody, ErrorCode, ValidationError};

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong (a malformed body, an unknown node …).
    #[error("{message}")]
    BadRequest { code: Code, message: String },
    #[error("missing or invalid device token")]
    Unauthorized,
    /// A console log-in with a wrong name or password (which of the two is not said).
    #[error("登录名或密码错误 wrong log-in name or password")]
    LogInRefused,
    /// The password was right and the account has a second factor: its code is needed.
    #[error("请输入验证器应用中的验证码 enter the code of your authenticator app")]
    SecondFactorRequired,
    /// A session of a role that must have a second factor, opened by an account with none:
    /// it may only set one up.
    #[error("请先设置两步验证 set up two-step verification first")]
    SecondFactorSetupRequired,
    #[error("this device has been revoked")]
    Revoked,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body too large")]
    TooLarge,
    /// Commits kept meeting concurrent ones: try again.
    #[error("server busy, try again")]
    Busy,
    /// Too many attempts (enrolment codes): wait `retry_after_secs`.
    #[error("too many attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A device's upload quota is used up (unfinished uploads, or bytes started today).
    #[error("{0}")]
    Quota(String),
    /// Refused by the validator or the closed loop's rule (an action the caller's level may not
    /// take now), with its code, record and field.
    #[error("{}", .0.message)]
    Invalid(ValidationError),
    /// A roster file with rejected rows: the report names every one; nothing was written.
    #[error("{} of {} rows rejected; nothing was imported", .0.rejected_rows, .0.rows)]
    RosterRejected(RosterReport),
    /// A setup file with rejected rows, reported the same way; nothing was written.
    #[error("{} of {} rows rejected; the county's structure is unchanged", .0.rejected_rows, .0.rows)]
    SetupRejected(RosterReport),
    /// Something failed inside the server. The detail goes to the log, never to the client.
    #[error("internal error")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn bad(code: Code, message: impl Into<String>) -> Self {
        Error::BadRequest { code, message: message.into() }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::BadRequest { code, .. } => *code,
            Error::Unauthorized | Error::LogInRefused => Code::Unauthorized,
            Error::Revoked => Code::DeviceRevoked,
            Error::SecondFactorRequired => Code::SecondFactorRequired,
            Error::SecondFactorSetupRequired => Code::SecondFactorSetupRequired,
            Error::Forbidden(_) => Code::Forbidden,
            Error::NotFound(_) => Code::NotFound,
            Error::TooLarge => Code::BodyTooLarge,
            Error::Busy => Code::Busy,
            Error::TooManyAttempts { .. } => Code::TooManyAttempts,
            Error::Quota(_) => Code::UploadQuota,
            Error::RosterRejected(_) => Code::RosterRejected,
            Error::SetupRejected(_) => Code::SetupRejected,
            Error::Internal(_) => Code::Internal,
            Error::Invalid(e) => return e.code.into(),
        }
        .into()
    }

    /// Whether the same request may succeed later as it is.
    pub fn is_retryable(&self) -> bool {
        self.code().is_retryable()
    }

    /// The body a client receives: code and message, and a rejected roster's report.
    pub fn body(&self) -> ErrorBody {
        if let Error::Invalid(e) = self {
            return ErrorBody::from(e);
        }
        let mut body = ErrorBody::new(self.code(), self.to_string());
        if let Error::RosterRejected(report) | Error::SetupRejected(report) = self {
            body.report = Some(Box::new(report.clone()));
        }
        body
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Contention(_) => Error::Busy,
            StorageError::NotFound(m) => Error::NotFound(m),
            StorageError::Database(m) => Error::Internal(m),
        }
    }
}

impl From<sync_protocol::wire::WireError> for Error {
    fn from(e: sync_protocol::wire::WireError) -> Self {
        Error::bad(e.code(), e.to_string())
    }
}
