//! Errors as the UI receives them: `{code, message, field?, record?}` with stable codes.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct CmdError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

impl CmdError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CmdError { code: code.into(), message: message.into(), field: None, record: None }
    }

    pub fn locked() -> Self {
        Self::new("locked", "请先输入PIN解锁 (unlock with your PIN first)")
    }
}

impl From<field_core::DeviceError> for CmdError {
    fn from(e: field_core::DeviceError) -> Self {
        let (field, record) = match &e {
            field_core::DeviceError::Invalid(v) => {
                (Some(v.field.clone()).filter(|f| !f.is_empty()), v.record.map(|r| r.to_string()))
            }
            _ => (None, None),
        };
        let message = match &e {
            field_core::DeviceError::Invalid(v) => v.message.clone(),
            other => other.to_string(),
        };
        CmdError { code: e.code(), message, field, record }
    }
}
