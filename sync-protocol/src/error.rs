//! Typed errors with stable codes. Codes are part of the protocol: never rename one.

use serde::{Deserialize, Serialize};

use crate::RecordId;

/// Why a value, a record or a change was refused. Serialized as a stable snake_case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationCode {
    Required,
    TooLong,
    WrongType,
    UnknownField,
    UnknownValue,
    IdNumberLength,
    IdNumberFormat,
    IdNumberBirthDate,
    IdNumberCheckDigit,
    BirthDateMismatch,
    Mobile,
    Date,
    OutOfRange,
    RecordExists,
    RecordMissing,
    AppendOnly,
    DeleteNotAllowed,
    UnsupportedOperation,
    ForeignDocument,
    NotPermitted,
    ActorMismatch,
}

impl ValidationCode {
    pub fn as_str(self) -> &'static str {
        // Mirrors the serde names above (checked by a test); explicit so it is a &'static str.
        match self {
            Self::Required => "required",
            Self::TooLong => "too_long",
            Self::WrongType => "wrong_type",
            Self::UnknownField => "unknown_field",
            Self::UnknownValue => "unknown_value",
            Self::IdNumberLength => "id_number_length",
            Self::IdNumberFormat => "id_number_format",
            Self::IdNumberBirthDate => "id_number_birth_date",
            Self::IdNumberCheckDigit => "id_number_check_digit",
            Self::BirthDateMismatch => "birth_date_mismatch",
            Self::Mobile => "mobile",
            Self::Date => "date",
            Self::OutOfRange => "out_of_range",
            Self::RecordExists => "record_exists",
            Self::RecordMissing => "record_missing",
            Self::AppendOnly => "append_only",
            Self::DeleteNotAllowed => "delete_not_allowed",
            Self::UnsupportedOperation => "unsupported_operation",
            Self::ForeignDocument => "foreign_document",
            Self::NotPermitted => "not_permitted",
            Self::ActorMismatch => "actor_mismatch",
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
}

impl DocError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(v) => v.code.as_str(),
            Self::Automerge(_) => "automerge_error",
            Self::Corrupt(_) => "document_corrupt",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde_names() {
        for c in [
            ValidationCode::Required,
            ValidationCode::IdNumberCheckDigit,
            ValidationCode::ActorMismatch,
            ValidationCode::AppendOnly,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::String(c.as_str().into()));
        }
    }
}
