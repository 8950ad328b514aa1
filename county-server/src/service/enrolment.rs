//! Enrolment: one-time codes exchanged for device tokens, the limits on guessing codes, the
//! devices enrolled and their revocation.
//!
//! A code has 60 random bits and lives 7 days. On top of that every attempt is counted, before
//! the code is looked up, under the client's address and under the presented code: over either
//! limit the answer is `too_many_attempts`, even for a right code, so a guess that lands during
//! a lock-out teaches the guesser nothing. Then the code is looked up with a read; only a code
//! that can be redeemed costs a write (the device's registration). A wrong code counts towards
//! the county-wide ceiling, which caps what guessers with many addresses can try; a right code
//! is never refused by that ceiling, so it cannot lock out a worker holding a valid code.
//!
//! The counts live in this process ([`Attempts`]), bounded in memory, so an attempt costs no
//! database write: anonymous requests cannot occupy the one SQLite writer that sync commits
//! share. With several servers behind a load balancer each counts its own share (the limits
//! then apply per server). Nothing here logs an address or a code. (Which address a request
//! comes from is the HTTP layer's business: `api::client_addr`.)

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use sync_protocol::Code;
use sync_protocol::api::{CodeResponse, EnrolRequest, EnrolResponse};
use sync_protocol::org::Device;
use uuid::Uuid;

use super::County;
use super::auth::{self, Caller};
use crate::error::{Error, Result};
use crate::storage::{Scope, Storage};

/// How long an enrolment code stays valid.
pub const CODE_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

/// How many enrolment attempts are allowed within a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrolmentLimits {
    pub window_ms: i64,
    /// Attempts from one address (an IPv6 client is counted by its /64).
    pub per_address: u64,
    /// Attempts presenting the same code.
    pub per_code: u64,
    /// Attempts across the county: caps a guesser with many addresses.
    pub county: u64,
}

impl Default for EnrolmentLimits {
    fn default() -> Self {
        // A township centre enrolling its workers' handhelds behind one address does 30 in a
        // quarter of an hour; a county rollout stays under 2,400 an hour.
        EnrolmentLimits { window_ms: 15 * 60 * 1000, per_address: 30, per_code: 5, county: 600 }
    }
}

/// Attempts counted in this process within a sliding window, per key. Bounded: a key keeps at
/// most one more time than its limit, and past [`Attempts::MAX_KEYS`] keys the expired ones are
/// dropped first; if that is not enough (a flood of addresses or codes) a new key counts as over
/// its limit, so memory stays bounded whatever is sent.
#[derive(Debug, Default)]
pub struct Attempts {
    seen: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Attempts {
    pub const MAX_KEYS: usize = 200_000;

    /// How many attempts `key` has within the window ending at `now`, without recording one.
    pub fn count(&self, key: &str, now: i64, window_ms: i64) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key).map_or(0, |times| times.iter().filter(|t| **t >= now - window_ms).count() as u64)
    }

    /// Records one attempt under `key` at `now` and says whether it is over `limit` within the
    /// window ending at `now`.
    pub fn over(&self, key: &str, now: i64, window_ms: i64, limit: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let since = now - window_ms;
        if !seen.contains_key(key) && seen.len() >= Self::MAX_KEYS {
            seen.retain(|_, times| times.back().is_some_and(|t| *t >= since));
            if seen.len() >= Self::MAX_KEYS {
                return true;
            }
        }
        let times = seen.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| *t < since) {
            times.pop_front();
        }
        times.push_back(now);
        while times.len() as u64 > limit + 1 {
            times.pop_front();
        }
        times.len() as u64 > limit
    }
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The key an address is counted under: an IPv4 address, or the /64 of an IPv6 one (a single
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing).
pub fn address_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Issues a one-time enrolment code for an account (an operator's act: the command line, the
/// demo; over HTTP through [`County::issue_code`], which checks the caller first).
pub async fn issue_code(storage: &dyn Storage, account: Uuid) -> Result<CodeResponse> {
    storage.account(account).await?.ok_or_else(|| Error::bad(Code::UnknownAccount, "no such account"))?;
    let code = auth::new_enrolment_code();
    let expires_at = chrono::Utc::now().timestamp_millis() + CODE_LIFETIME_MS;
    storage.put_enrolment_code(&auth::hash_secret(&auth::normalize_code(&code)), account, expires_at).await?;
    Ok(CodeResponse { code, expires_at })
}

/// Revokes an issued, unused code (an operator's act; over HTTP through [`County::revoke_code`]).
pub async fn revoke_code(storage: &dyn Storage, code: &str) -> Result<()> {
    let hash = auth::hash_secret(&auth::normalize_code(code));
    if storage.revoke_enrolment_code(&hash, chrono::Utc::now().timestamp_millis()).await? {
        Ok(())
    } else {
        Err(Error::NotFound("no such unused enrolment code".into()))
    }
}

/// Revokes a device (a lost handheld); `NotFound` if there is no such active device.
pub async fn revoke_device(storage: &dyn Storage, device: Uuid) -> Result<()> {
    if storage.revoke_device(device, chrono::Utc::now().timestamp_millis()).await? {
        Ok(())
    } else {
        Err(Error::NotFound("no such active device".into()))
    }
}

impl County {
    /// Exchanges a one-time code for a device token, from a client at `client`.
    pub async fn enrol(&self, req: EnrolRequest, client: IpAddr) -> Result<EnrolResponse> {
        let storage = self.storage();
        let code_hash = auth::hash_secret(&auth::normalize_code(&req.code));
        let now = chrono::Utc::now().timestamp_millis();
        let limits = &self.enrolment_limits;
        let refuse = |counted_by: &str| {
            tracing::warn!(counted_by, "enrolment attempt over the limit refused");
            Error::TooManyAttempts { retry_after_secs: (limits.window_ms / 1000).max(1) as u64 }
        };
        // Counted and limited before the code is looked up: a right guess during a lock-out fails.
        if self.attempts.over(&format!("addr:{}", address_key(client)), now, limits.window_ms, limits.per_address) {
            return Err(refuse("address"));
        }
        if self.attempts.over(&format!("code:{code_hash}"), now, limits.window_ms, limits.per_code) {
            return Err(refuse("code"));
        }
        // A read: a wrong code costs no write, and counts towards the county-wide ceiling.
        if !storage.enrolment_code_open(&code_hash, now).await? {
            if self.attempts.over("county", now, limits.window_ms, limits.county) {
                return Err(refuse("county"));
            }
            return Err(Error::Forbidden("enrolment code unknown, used or expired".into()));
        }
        let token = auth::new_device_token();
        let device_id = Uuid::now_v7();
        let device = Device {
            id: device_id,
            account: Uuid::nil(),
            name: req.device_name.chars().take(60).collect(),
            created_at: now,
            revoked_at: None,
        };
        let account = storage
            .redeem_enrolment_code(&code_hash, now, &device, &auth::hash_secret(&token))
            .await?
            // Used by a concurrent attempt between the read and this write.
            .ok_or_else(|| Error::Forbidden("enrolment code unknown, used or expired".into()))?;
        let grids = match auth::scope_of(storage, &account).await? {
            // Handhelds hold the grids of their scope; county staff work from the web instead.
            Scope::All => Vec::new(),
            scope => storage.grids(&scope).await?,
        };
        tracing::info!(device = %device_id, account = %account.id, "device enrolled");
        Ok(EnrolResponse { device_id, token, account, grids })
    }

    /// Revokes an issued code that is not used yet (a lost sheet, a person who left).
    pub async fn revoke_code(&self, caller: &Caller, code: &str) -> Result<()> {
        caller.require_admin()?;
        revoke_code(self.storage(), code).await?;
        tracing::info!(by = %caller.account.id, "enrolment code revoked");
        Ok(())
    }

    pub async fn issue_code(&self, caller: &Caller, account: Uuid) -> Result<CodeResponse> {
        caller.require_admin()?;
        issue_code(self.storage(), account).await
    }

    pub async fn devices(&self, caller: &Caller) -> Result<Vec<Device>> {
        caller.require_admin()?;
        Ok(self.storage().devices(None).await?)
    }

    pub async fn revoke_device(&self, caller: &Caller, device: Uuid) -> Result<()> {
        caller.require_admin()?;
        revoke_device(self.storage(), device).await?;
        tracing::info!(%device, by = %caller.account.id, "device revoked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_within_their_window_and_stay_bounded() {
        let a = Attempts::default();
        assert!(!a.over("k", 1_000, 100, 2));
        assert!(!a.over("k", 1_010, 100, 2));
        assert!(a.over("k", 1_020, 100, 2), "the third within the window is over a limit of two");
        assert!(!a.over("other", 1_020, 100, 2), "keys are counted apart");
        assert!(!a.over("k", 1_200, 100, 2), "older attempts fall out of the window");
        // A key never keeps more times than its limit needs.
        for t in 0..1_000 {
            a.over("busy", 2_000 + t, 10_000, 3);
        }
        assert_eq!(a.seen.lock().unwrap()["busy"].len(), 4);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(address_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
