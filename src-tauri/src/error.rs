//! Errors as the UI receives them: the contract's [`ErrorBody`] (`{code, message, field?,
//! record?}` with a stable code), from the device's errors or the app's own few.

use sync_protocol::Code;
pub use sync_protocol::ErrorBody as CmdError;

pub fn locked() -> CmdError {
    CmdError::new(Code::Locked, "请先输入PIN解锁 (unlock with your PIN first)")
}

pub fn not_enrolled() -> CmdError {
    CmdError::new(Code::NotEnrolled, "请先用注册码注册 (enrol first)")
}

pub fn already_enrolled() -> CmdError {
    CmdError::new(Code::AlreadyEnrolled, "本机已注册 (this device is already enrolled)")
}

pub fn internal(what: &str) -> CmdError {
    CmdError::new(Code::Internal, what)
}
