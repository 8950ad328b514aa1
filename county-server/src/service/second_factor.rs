//! A second factor for console log-ins (issue 12): a six-digit TOTP code (RFC 6238, HMAC-SHA-1,
//! 30-second steps: what every authenticator app reads from a QR code), which the county
//! administrator can require of chosen roles (`PUT /v1/admin/second-factor`).
//!
//! - A staff member sets it up from the console: the server makes a 160-bit secret and shows it
//!   once, as a QR code and as text (`POST /v1/session/second-factor`); it takes effect when a
//!   code from the app is confirmed (`PUT`). Until then it is pending and asked for by no one.
//! - With it, a log-in needs the password and a code; a code is taken once (its step is kept,
//!   RFC 6238 §5.2) and may be one step early or late (clocks on phones drift). A wrong code
//!   counts as a failed log-in and is audited like a wrong password.
//! - A role that must have one and an account without it: the log-in opens a session that can
//!   do nothing but set one up (`Caller::scope` refuses it with `second_factor_setup_required`).
//! - The administrator removes a lost phone's factor (`DELETE /v1/admin/accounts/{id}/second-
//!   factor`); the account's sessions end.
//!
//! The secret has to be kept as it is to check codes: it is in the database like the password
//! hashes, never in a log, and shown to its owner only while the factor is being set up.

use rand::Rng;
use sync_protocol::Code;
use sync_protocol::api::{SecondFactorRoles, SecondFactorSetup};
use sync_protocol::org::Role;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use super::County;
use super::auth::Caller;
use crate::error::{Error, Result};

/// Shown by authenticator apps above the code.
const ISSUER: &str = "Gridkeeper";

/// The TOTP of a secret (base32, as stored), named for the app by the log-in name.
fn totp(secret: &str, login: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret).map_err(Error::internal)?;
    // ':' separates issuer and name in an otpauth address.
    let name = login.replace(':', "_");
    Builder::new()
        .with_secret(secret)
        .with_account_name(name)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(Error::internal)
}

/// The step a code belongs to, if it is right now (or one step either side).
pub fn check_code(secret: &str, code: &str, now_ms: i64) -> Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, "")?.check(&code, (now_ms / 1000) as u64).map(|s| s as i64))
}

/// The code of a secret at a time (tests, and the demo's printed log-ins).
pub fn code_at(secret: &str, now_ms: i64) -> Result<String> {
    Ok(totp(secret, "")?.generate((now_ms / 1000) as u64).to_string())
}

fn qr_svg(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(Error::internal)?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build())
}

impl County {
    /// Starts setting up the caller's second factor: a new secret, pending until confirmed.
    /// Refused while one is in force (the administrator removes it first).
    pub async fn begin_second_factor(&self, caller: &Caller) -> Result<SecondFactorSetup> {
        let account = caller.account.id;
        let login =
            self.storage().login_of(account).await?.ok_or_else(|| Error::Forbidden("no console log-in".into()))?;
        let bytes: [u8; 20] = rand::rng().random();
        let secret = Secret::from(bytes).to_base32();
        let uri = totp(&secret, &login)?.to_url().map_err(Error::internal)?;
        // One statement decides: a factor in force is never replaced here (two tabs beginning
        // and confirming at once cannot swap it for a pending one).
        if !self.storage().begin_second_factor(account, &secret).await? {
            return Err(Error::bad(
                Code::SecondFactorConflict,
                "a second factor is in force; the administrator removes it first",
            ));
        }
        tracing::info!(%account, "second factor set-up begun");
        Ok(SecondFactorSetup { qr_svg: qr_svg(&uri)?, uri, secret })
    }

    /// Confirms the pending second factor with a code from the app: from now on it is asked for.
    pub async fn confirm_second_factor(&self, caller: &Caller, code: &str) -> Result<()> {
        let account = caller.account.id;
        let wrong = || Error::bad(Code::WrongSecondFactor, "验证码不正确 the code is not right");
        let pending = self
            .storage()
            .second_factor(account)
            .await?
            .filter(|f| !f.confirmed)
            .ok_or_else(|| Error::bad(Code::SecondFactorConflict, "no second factor is being set up"))?;
        let now = chrono::Utc::now().timestamp_millis();
        let step = check_code(&pending.secret, code, now)?.ok_or_else(wrong)?;
        // Confirmed only if the pending secret is still the one the code was checked against.
        if !self.storage().confirm_second_factor(account, &pending.secret, step).await? {
            return Err(wrong());
        }
        // Every other session of the account was opened without this factor: they end (one
        // opened by whoever else knew the password, say); this one, which proved it, stays.
        let others = self.storage().end_sessions_of_except(account, caller.device.id, now).await?;
        tracing::info!(%account, others, "second factor in force; the other sessions ended");
        Ok(())
    }

    /// Removes an account's second factor (a lost phone); its sessions end (administrator).
    pub async fn remove_second_factor(&self, caller: &Caller, account: Uuid) -> Result<()> {
        caller.require_admin()?;
        self.storage().account(account).await?.ok_or_else(|| Error::bad(Code::UnknownAccount, "no such account"))?;
        self.storage().remove_second_factor(account).await?;
        let ended = self.storage().end_sessions_of(account, chrono::Utc::now().timestamp_millis()).await?;
        tracing::info!(admin = %caller.account.id, %account, ended, "second factor removed");
        Ok(())
    }

    pub async fn second_factor_roles(&self, caller: &Caller) -> Result<SecondFactorRoles> {
        caller.require_admin()?;
        Ok(SecondFactorRoles { roles: self.storage().second_factor_roles().await? })
    }

    /// Sets the roles that must log in with a second factor (administrator). A grid's team
    /// works on handhelds and has no console log-in to require it of.
    pub async fn set_second_factor_roles(&self, caller: &Caller, roles: &SecondFactorRoles) -> Result<()> {
        caller.require_admin()?;
        if roles.roles.iter().any(|r| r.edits_base_records()) {
            return Err(Error::bad(Code::RoleNodeMismatch, "a grid's team works on handhelds, not in the console"));
        }
        let mut roles: Vec<Role> = roles.roles.clone();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        self.storage().set_second_factor_roles(&roles).await?;
        tracing::info!(admin = %caller.account.id, ?roles, "second factor required of roles");
        Ok(())
    }
}
