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
    /// The six-digit code of the account's authenticator app, when it has a second factor
    /// (the server asks with `second_factor_required`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub code: Option<String>,
}

impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn").field("login", &self.login).field("password", &"…").field("code", &"…").finish()
    }
}

/// Where a console account stands with its second factor (a TOTP authenticator app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SecondFactorState {
    /// None, and its role needs none.
    #[default]
    Off,
    /// In force: every log-in asks for a code.
    On,
    /// Its role must have one and it has none: the session can do nothing but set one up.
    SetupRequired,
}

/// `POST /v1/session/second-factor`: a new secret for the caller's authenticator app, shown
/// once, as a QR code (SVG) of its `otpauth://` address and as text. It takes effect when a
/// code from the app confirms it (`PUT /v1/session/second-factor`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SecondFactorSetup {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for SecondFactorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorSetup").finish_non_exhaustive()
    }
}

/// `PUT /v1/session/second-factor`: a code from the app, confirming the secret it was given.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SecondFactorCode {
    pub code: String,
}

/// `GET`/`PUT /v1/admin/second-factor`: the roles whose staff must log in with a second factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SecondFactorRoles {
    pub roles: Vec<crate::org::Role>,
}

/// A console session as its browser sees it (the session's token travels only in an HttpOnly
/// cookie): who is logged in, and the token every request that changes something must carry in
/// its `X-CSRF-Token` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionView {
    pub account: Account,
    /// The name of the account's place (宜水县, 高庄镇, 高庄镇司法所 …).
    pub place: String,
    pub second_factor: SecondFactorState,
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

// ---- 管理: accounts, sessions, the county's structure ---------------------------------------

/// `GET /v1/admin/accounts`: accounts at or under a place (the whole county without `node`),
/// optionally those whose name or log-in contains `q`, at most `limit` (default and ceiling
/// [`AccountQuery::MAX_LIMIT`]), ordered by place and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct AccountQuery {
    pub node: Option<uuid::Uuid>,
    pub q: Option<String>,
    pub limit: Option<u32>,
}

impl AccountQuery {
    /// The whole county's people (1,358 grids' teams, centres and departments) fit in one list.
    pub const MAX_LIMIT: u32 = 20_000;
    /// The longest search text taken.
    pub const MAX_Q: usize = 64;

    pub fn limit(&self) -> u32 {
        match self.limit {
            None | Some(0) => Self::MAX_LIMIT,
            Some(n) => n.min(Self::MAX_LIMIT),
        }
    }
}

/// One account as the administrator's list shows it: where the person works, their console
/// log-in name if they have one, their enrolled (unrevoked) handhelds and open console sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct AccountRow {
    pub account: Account,
    /// 镇街 / 村社区 / 网格 (or 部门), as on an enrolment sheet.
    pub place: String,
    pub login: Option<String>,
    pub devices: u32,
    pub open_sessions: u32,
    /// A second factor in force.
    pub second_factor: bool,
}

/// `DELETE /v1/admin/accounts/{id}/sessions`: how many open console sessions were ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionsEnded {
    pub ended: u64,
}

/// `GET /v1/admin/structure`: one place of the county (boundaries are on the map's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct StructureNode {
    pub id: uuid::Uuid,
    pub kind: crate::org::NodeKind,
    pub name: String,
    pub parent: Option<uuid::Uuid>,
    /// The place's code from the setup file (a grid's 统一编码), if it has one.
    pub code: Option<String>,
    pub has_boundary: bool,
}

// ---- the map of the county's grids (`GET /v1/map`) ----------------------------------------

/// `GET /v1/map?node=&outlines=false`: the caller's grids, or those of one township, village
/// or grid within its scope; without their boundaries when `outlines` is false (a chart's
/// figures only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct MapQuery {
    pub node: Option<uuid::Uuid>,
    pub outlines: Option<bool>,
}

/// One grid on the map: its boundary as the setup file gave it (a GeoJSON Polygon or
/// MultiPolygon, as text) and the figures the map can be coloured by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
pub struct MapGrid {
    pub id: uuid::Uuid,
    pub name: String,
    pub township: Option<uuid::Uuid>,
    pub village: Option<uuid::Uuid>,
    pub boundary: Option<String>,
    pub residents: u64,
    pub houses: u64,
    /// Visits recorded this month (China Standard Time).
    pub visits_this_month: u64,
    pub open_disputes: u64,
    /// Open disputes past their deadline now.
    pub overdue: u64,
}
