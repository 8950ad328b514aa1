//! Device errors with stable codes ([`ErrorCode`]), as the app shows them ([`ErrorBody`]).

use sync_protocol::{Code, DocError, ErrorBody, ErrorCode, ValidationError};

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
    /// Too many wrong PINs in a row: the next try must wait.
    #[error(
        "PIN 错误次数过多，请 {retry_after_secs} 秒后再试 (too many wrong PINs: try again in {retry_after_secs} s)"
    )]
    PinLocked { retry_after_secs: u64 },
    /// Wrong PINs past the limit: the device's data was wiped; enrol it again.
    #[error(
        "PIN 错误次数过多，本机数据已清除，请重新注册 (too many wrong PINs: this device's data was wiped; enrol again)"
    )]
    Wiped,
    /// The server revoked this device: everything it held was erased; enrol it again.
    #[error("本机已被停用，本机数据已清除 (this device was revoked; its data was erased)")]
    Revoked,
    #[error("照片格式或大小不对 (not an image, or larger than 20 MB)")]
    BadPhoto,
    #[error("not found: {0}")]
    NotFound(String),
    /// No connection, or it broke: everything stays queued, try again later.
    #[error("network: {0}")]
    Network(String),
    /// The app locked while a sync ran: it stopped at its next step; what it stored stays, and
    /// the next sync after unlocking goes on from there.
    #[error("本机已锁定，同步已暂停，解锁后继续 (locked: the sync paused and goes on after unlocking)")]
    Interrupted,
    /// Nothing moved on the link for this long: what arrived is kept; the next sync resumes.
    #[error(
        "网络无响应 {seconds} 秒，下次同步从断点继续 (no progress for {seconds} s; the next sync continues where this one stopped)"
    )]
    Stalled { seconds: u64 },
    /// A plain `http://` address for a server that is not on this machine: tokens and records
    /// would cross the network unencrypted. Nothing was sent.
    #[error("refusing plain http:// to {host}: use https:// (plain http is only for a server on this machine)")]
    InsecureServerUrl { host: String },
    /// Not an `https://` (or loopback `http://`) address.
    #[error("not a server address ({reason})")]
    BadServerUrl { reason: String },
    /// The configured root certificate (PEM) cannot be read.
    #[error("the county's root certificate cannot be read: {0}")]
    BadCertificate(String),
    /// The server's certificate is not signed by an authority this device trusts (or is
    /// expired, or names another host). Trying again will not help; configure the county's CA.
    #[error("the server's certificate is not trusted: {0}")]
    UntrustedServer(String),
    /// The server refused the request as a whole.
    #[error("server refused ({code}): {message}")]
    Server { code: ErrorCode, message: String },
    #[error("local database: {0}")]
    Storage(String),
    #[error("document: {0}")]
    Document(String),
}

impl DeviceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DeviceError::Invalid(v) => v.code.into(),
            DeviceError::Server { code, .. } => *code,
            DeviceError::NotEnrolled => Code::NotEnrolled.into(),
            DeviceError::AlreadyEnrolled => Code::AlreadyEnrolled.into(),
            DeviceError::WrongPin => Code::WrongPin.into(),
            DeviceError::WeakPin => Code::WeakPin.into(),
            DeviceError::PinLocked { .. } => Code::PinLocked.into(),
            DeviceError::Wiped => Code::DeviceWiped.into(),
            DeviceError::Revoked => Code::DeviceRevoked.into(),
            DeviceError::BadPhoto => Code::BadPhoto.into(),
            DeviceError::NotFound(_) => Code::NotFound.into(),
            DeviceError::Network(_) => Code::Network.into(),
            DeviceError::Stalled { .. } => Code::Stalled.into(),
            DeviceError::Interrupted => Code::Locked.into(),
            DeviceError::InsecureServerUrl { .. } => Code::InsecureServerUrl.into(),
            DeviceError::BadServerUrl { .. } => Code::BadServerUrl.into(),
            DeviceError::BadCertificate(_) => Code::BadCertificate.into(),
            DeviceError::UntrustedServer(_) => Code::UntrustedServer.into(),
            DeviceError::Storage(_) => Code::LocalStorage.into(),
            DeviceError::Document(_) => Code::Document.into(),
        }
    }

    /// Whether the link is down or the device locked: no further request of this sync can
    /// succeed (a server's refusal of one request says nothing of the next).
    pub fn ends_transfers(&self) -> bool {
        matches!(self, DeviceError::Network(_) | DeviceError::Stalled { .. } | DeviceError::Interrupted)
            || self.code() == Code::DeviceRevoked
    }

    /// Whether trying again later may succeed without changing anything (the code says).
    pub fn is_retryable(&self) -> bool {
        self.code().is_retryable()
    }

    /// The error as the app receives it: a validation error names its field and record.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            DeviceError::Invalid(v) => ErrorBody::from(v),
            other => ErrorBody::new(other.code(), other.to_string()),
        }
    }
}

impl From<reqwest::Error> for DeviceError {
    /// A failed request: a certificate the device does not trust is told apart from a
    /// connection that may work later.
    fn from(e: reqwest::Error) -> Self {
        // The causes, not the top message (it holds the URL, which could contain anything).
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        let detail = std::iter::once(e.to_string()).chain(causes.iter().cloned()).collect::<Vec<_>>().join(": ");
        if causes.iter().any(|m| m.contains("certificate")) {
            DeviceError::UntrustedServer(detail)
        } else {
            DeviceError::Network(detail)
        }
    }
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

impl From<DeviceError> for ErrorBody {
    fn from(e: DeviceError) -> Self {
        e.to_body()
    }
}
