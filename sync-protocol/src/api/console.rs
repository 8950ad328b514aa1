//! The staff console's log-in (`/v1/session`) and the passwords the county administrator sets.

use serde::{Deserialize, Serialize};

use crate::org::Account;

/// `POST /v1/session`: a staff member logs in to the console with the log-in name and password
/// the county administrator set for their account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogIn {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn").field("login", &self.login).field("password", &"…").finish()
    }
}

/// A console session as its browser sees it (the session's token travels only in an HttpOnly
/// cookie): who is logged in, and the token every request that changes something must carry in
/// its `X-CSRF-Token` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionView {
    pub account: Account,
    pub csrf_token: String,
    /// When the session ends at the latest (it ends earlier after [`SESSION_IDLE_MS`] unused).
    pub expires_at: i64,
}

/// A console session ends after this long unused …
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// … and this long after the log-in in any case.
pub const SESSION_LIFE_MS: i64 = 12 * 60 * 60 * 1000;

/// `PUT /v1/admin/accounts/{id}/password`: the county administrator sets (or resets) a staff
/// member's log-in name and password; their open sessions end.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SetPassword {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPassword").field("login", &self.login).field("password", &"…").finish()
    }
}
