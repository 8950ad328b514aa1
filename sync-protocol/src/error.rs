//! Typed errors with stable codes. Codes are part of the protocol: never rename one.
//!
//! [`ValidationCode`] says why the validator refused a value, a record or a change;
//! [`ErrorCode`] is the one list of every code that crosses a boundary (the sync endpoint's
//! refusals, HTTP error bodies, the device's errors as the app shows them), validation codes
//! included, each with whether trying again can help. Both travel as plain snake_case strings,
//! so the wire bytes are those of a string and an older peer reads them unchanged.

use serde::{Deserialize, Serialize};

use crate::RecordId;

/// Declares a code enum whose variants are written once, with their wire string: `as_str`,
/// `parse` and `ALL` follow from the one list.
macro_rules! codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $s:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)* }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// Why a value, a record or a change was refused by the validator.
    pub enum ValidationCode {
        Required = "required",
        TooLong = "too_long",
        WrongType = "wrong_type",
        UnknownField = "unknown_field",
        UnknownValue = "unknown_value",
        IdNumberLength = "id_number_length",
        IdNumberFormat = "id_number_format",
        IdNumberBirthDate = "id_number_birth_date",
        IdNumberCheckDigit = "id_number_check_digit",
        BirthDateMismatch = "birth_date_mismatch",
        Mobile = "mobile",
        Date = "date",
        OutOfRange = "out_of_range",
        RecordExists = "record_exists",
        RecordMissing = "record_missing",
        AppendOnly = "append_only",
        DeleteNotAllowed = "delete_not_allowed",
        UnsupportedOperation = "unsupported_operation",
        ForeignDocument = "foreign_document",
        NotPermitted = "not_permitted",
        ActorMismatch = "actor_mismatch",
        // The closed loop's rule (`model::closed_loop`).
        /// Only the level holding a dispute accepts, assigns, verifies, returns or resolves it.
        NotHolder = "not_holder",
        /// Only a level above the one holding a dispute supervises it.
        NotAbove = "not_above",
        /// Only the assignee reports back on an assignment.
        NotAssignee = "not_assignee",
        /// Escalation goes one level up; assignment to the same level or below.
        NotNextLevel = "not_next_level",
        /// The action does not fit where the dispute stands (accept what is accepted, resolve
        /// before verifying an assignee's feedback …).
        WrongStage = "wrong_stage",
        /// The reporter does not record the parties' satisfaction.
        ReporterEvaluates = "reporter_evaluates",
        /// The dispute is settled already.
        DisputeSettled = "dispute_settled",
        /// An app from before the closed loop cannot give what this action needs (a time
        /// limit, the satisfaction): the worker is told to update the app.
        AppTooOld = "app_too_old",
    }
}

codes! {
    /// Every other stable code: refusals of single changes, refusals of whole requests, and
    /// the device's own failures. See [`ErrorCode`].
    pub enum Code {
        // One change of a sync request.
        /// Built on a refused change: re-enter the edit, it may be valid on its own.
        DependencyRefused = "dependency_refused",
        /// The server lacks a change this one depends on.
        MissingDependency = "missing_dependency",
        /// Not an Automerge change, or for a document key that is not well formed.
        MalformedChange = "malformed_change",
        /// A device may only send changes it made itself.
        ForeignActor = "foreign_actor",
        /// For a grid outside the device's scope.
        OutOfScope = "out_of_scope",
        /// A DEFLATE-compressed change chunk: never inflated, never needed from a device.
        CompressedChange = "compressed_change",

        // A whole request.
        MalformedBody = "malformed_body",
        MalformedQuery = "malformed_query",
        UnsupportedProtocolVersion = "unsupported_protocol_version",
        BodyTooLarge = "body_too_large",
        MissingHeader = "missing_header",
        /// A `Range` header that does not read as one range of bytes (`bytes=FROM-` or
        /// `bytes=FROM-TO`), or a resumed range without the digest of what the device holds.
        BadRange = "bad_range",
        /// A sync request naming the same grid twice.
        DuplicatePosition = "duplicate_position",
        /// A sync request naming more grids than any device holds.
        TooManyPositions = "too_many_positions",
        Unauthorized = "unauthorized",
        DeviceRevoked = "device_revoked",
        Forbidden = "forbidden",
        NotFound = "not_found",
        TooManyAttempts = "too_many_attempts",
        /// The server is busy (a commit kept meeting concurrent ones): try again.
        Busy = "busy",
        /// Something failed inside the server; the details are in its log, not here.
        Internal = "internal",
        UnknownCollection = "unknown_collection",
        UnknownNode = "unknown_node",
        UnknownAccount = "unknown_account",
        RoleNodeMismatch = "role_node_mismatch",
        /// A record of an import does not pass the validator.
        InvalidRecord = "invalid_record",
        BadBlobHash = "bad_blob_hash",
        BlobTooLarge = "blob_too_large",
        BadChunk = "bad_chunk",
        /// A device has too many unfinished uploads, or started too many bytes today: finish
        /// or wait (abandoned uploads are deleted after a week).
        UploadQuota = "upload_quota",

        // Rosters.
        UnknownFormat = "unknown_format",
        /// Rows were rejected; the body's report names every one. Nothing was written.
        RosterRejected = "roster_rejected",
        BadEncoding = "bad_encoding",
        BadWorkbook = "bad_workbook",
        NoHeader = "no_header",
        DuplicateColumn = "duplicate_column",
        TooManyRows = "too_many_rows",
        EmptyRoster = "empty_roster",

        // The county's setup file.
        /// Rows of the setup file were rejected; the report names every one. Nothing was written.
        SetupRejected = "setup_rejected",
        /// The database holds no county yet and the call did not name one.
        NoCounty = "no_county",
        /// The setup file names no township, grid or person.
        EmptySetup = "empty_setup",
        /// County settings that cannot be (a time limit of no minutes, an unknown class …).
        BadSetting = "bad_setting",

        // The staff console.
        /// A request that changes something through a console session without the session's
        /// `X-CSRF-Token`.
        BadCsrfToken = "bad_csrf_token",
        /// A password too short or too simple (at least 10 characters, of two kinds at least).
        WeakPassword = "weak_password",
        /// A log-in name another account has.
        LoginTaken = "login_taken",
        /// The account has a second factor: log in again with its code.
        SecondFactorRequired = "second_factor_required",
        /// The account's role must log in with a second factor and it has none yet: this
        /// session may only set one up.
        SecondFactorSetupRequired = "second_factor_setup_required",
        /// A second factor is in force (the administrator removes it before another is set
        /// up), or none is being set up to confirm.
        SecondFactorConflict = "second_factor_conflict",
        /// The code does not match the secret being set up.
        WrongSecondFactor = "wrong_second_factor",

        // The device.
        /// No connection, or it broke: everything stays queued.
        Network = "network",
        /// The link stopped moving (no byte for the idle time): what arrived is kept, and the
        /// transfer resumes at the next sync.
        Stalled = "stalled",
        /// The server (or something in front of it) answered 5xx without a Gridkeeper body.
        Unavailable = "unavailable",
        /// An answer that is not a Gridkeeper answer (a captive portal's page, say).
        UnexpectedResponse = "unexpected_response",
        NotEnrolled = "not_enrolled",
        AlreadyEnrolled = "already_enrolled",
        Locked = "locked",
        WrongPin = "wrong_pin",
        WeakPin = "weak_pin",
        /// Too many wrong PINs in a row: wait before the next try.
        PinLocked = "pin_locked",
        /// Too many wrong PINs: the device's data was wiped.
        DeviceWiped = "device_wiped",
        BadPhoto = "bad_photo",
        InsecureServerUrl = "insecure_server_url",
        BadServerUrl = "bad_server_url",
        BadCertificate = "bad_certificate",
        UntrustedServer = "untrusted_server",
        LocalStorage = "local_storage",
        Document = "document",
        BlobMismatch = "blob_mismatch",
        UploadStalled = "upload_stalled",
    }
}

/// The one list of stable error codes: the validator's ([`ValidationCode`]) and every other
/// ([`Code`]). Serialized as its plain snake_case string; a string this version does not know
/// (from a newer peer) reads as [`ErrorCode::Unrecognised`] rather than failing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Invalid(ValidationCode),
    Other(Code),
    Unrecognised,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid(v) => v.as_str(),
            ErrorCode::Other(c) => c.as_str(),
            ErrorCode::Unrecognised => "unrecognised",
        }
    }

    pub fn parse(s: &str) -> ErrorCode {
        ValidationCode::parse(s)
            .map(ErrorCode::Invalid)
            .or_else(|| Code::parse(s).map(ErrorCode::Other))
            .unwrap_or(ErrorCode::Unrecognised)
    }

    /// Whether trying the same thing again later may succeed without anything being changed:
    /// the network, a busy or failing server, a wait imposed on guessing.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Other(
                Code::Network
                    | Code::Stalled
                    | Code::Unavailable
                    | Code::Busy
                    | Code::Internal
                    | Code::TooManyAttempts
                    | Code::UploadQuota
            )
        )
    }
}

impl From<ValidationCode> for ErrorCode {
    fn from(v: ValidationCode) -> Self {
        ErrorCode::Invalid(v)
    }
}

impl From<Code> for ErrorCode {
    fn from(c: Code) -> Self {
        ErrorCode::Other(c)
    }
}

impl PartialEq<Code> for ErrorCode {
    fn eq(&self, other: &Code) -> bool {
        *self == ErrorCode::Other(*other)
    }
}

impl PartialEq<ValidationCode> for ErrorCode {
    fn eq(&self, other: &ValidationCode) -> bool {
        *self == ErrorCode::Invalid(*other)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Codes are written as their strings, in JSON and in postcard alike.
macro_rules! string_serde {
    ($name:ty, $parse:expr) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($parse)(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, &[]))
            }
        }
    };
}

string_serde!(ValidationCode, ValidationCode::parse);
string_serde!(Code, Code::parse);
string_serde!(ErrorCode, |s: &str| Some(ErrorCode::parse(s)));

/// An error as it crosses to a client: an HTTP error body, a Tauri command's rejection.
/// `field` and `record` name the offending value when there is one; `report` carries a
/// rejected roster's row-by-row report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct ErrorBody {
    #[cfg_attr(feature = "ts", ts(type = "ErrorCode"))]
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<crate::api::RosterReport>>,
}

impl ErrorBody {
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        ErrorBody { code: code.into(), message: message.into(), field: None, record: None, report: None }
    }
}

impl From<&ValidationError> for ErrorBody {
    fn from(v: &ValidationError) -> Self {
        ErrorBody {
            code: v.code.into(),
            message: v.message.clone(),
            field: Some(v.field.clone()).filter(|f| !f.is_empty()),
            record: v.record,
            report: None,
        }
    }
}

/// One refused value: which record, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?} {record:?}.{field}: {message}")]
pub struct ValidationError {
    pub code: ValidationCode,
    pub record: Option<RecordId>,
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(
        code: ValidationCode,
        record: Option<RecordId>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self { code, record, field: field.into(), message: message.into() }
    }
}

/// Errors of the document layer.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("invalid: {0}")]
    Invalid(#[from] ValidationError),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("document is corrupt: {0}")]
    Corrupt(String),
    /// Automerge failed an internal assertion applying the change (a sequence number that does
    /// not follow its actor's last in the document): the change is refused, and the document it
    /// was applied to must be dropped and read again.
    #[error("change refused by automerge, document must be reloaded: {0}")]
    Poisoned(String),
}

impl DocError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(v) => v.code.into(),
            Self::Automerge(_) | Self::Corrupt(_) => Code::Document.into(),
            Self::Poisoned(_) => Code::MalformedChange.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_its_string_both_ways_and_no_string_is_used_twice() {
        let mut seen = std::collections::HashSet::new();
        let all = ValidationCode::ALL
            .iter()
            .map(|&v| ErrorCode::from(v))
            .chain(Code::ALL.iter().map(|&c| ErrorCode::from(c)));
        for code in all {
            assert!(seen.insert(code.as_str()), "{} is used twice", code.as_str());
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().into()));
            assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), code);
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert_eq!(seen.len(), ValidationCode::ALL.len() + Code::ALL.len());
    }

    #[test]
    fn a_code_from_a_newer_peer_is_read_not_refused() {
        let c: ErrorCode = serde_json::from_str("\"quota_exceeded\"").unwrap();
        assert_eq!(c, ErrorCode::Unrecognised);
        assert!(!c.is_retryable());
        assert!(serde_json::from_str::<Code>("\"quota_exceeded\"").is_err());
    }

    #[test]
    fn codes_travel_in_postcard_as_the_strings_they_replaced() {
        let typed = postcard::to_stdvec(&ErrorCode::from(Code::DependencyRefused)).unwrap();
        let string = postcard::to_stdvec("dependency_refused").unwrap();
        assert_eq!(typed, string);
        let back: ErrorCode = postcard::from_bytes(&string).unwrap();
        assert_eq!(back, Code::DependencyRefused);
    }

    #[test]
    fn only_waiting_can_help_with_retryable_codes() {
        for c in [Code::Network, Code::Busy, Code::Internal, Code::Unavailable, Code::TooManyAttempts] {
            assert!(ErrorCode::from(c).is_retryable(), "{c:?}");
        }
        for c in [Code::Unauthorized, Code::DeviceRevoked, Code::MalformedBody, Code::UntrustedServer] {
            assert!(!ErrorCode::from(c).is_retryable(), "{c:?}");
        }
        assert!(!ErrorCode::from(ValidationCode::IdNumberCheckDigit).is_retryable());
    }
}
