//! Enrolment: one-time codes exchanged for device tokens, the limits on guessing codes, the
//! devices enrolled and their revocation.
//!
//! A code has 60 random bits and lives 7 days; on top of that every attempt is counted, before
//! the code is looked up, under three keys: the client's address, the presented code, and the
//! whole county. Over any limit the answer is `too_many_attempts`, even for a right code, so a
//! guess that lands during a lock-out teaches the guesser nothing. The counts live in storage
//! ([`Storage::count_attempt`]), not in this process, so several servers behind a load balancer
//! share them. Nothing here logs an address or a code. (Which address a request comes from is
//! the HTTP layer's business: `api::client_addr`.)

use std::net::{IpAddr, Ipv6Addr};

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

impl EnrolmentLimits {
    /// Counts this attempt under the client's address, the code and the county, in that order,
    /// and refuses it when one count is over its limit. Call before looking the code up.
    pub async fn check(&self, storage: &dyn Storage, client: IpAddr, code_hash: &str, now: i64) -> Result<()> {
        let since = now - self.window_ms;
        let keys = [
            ("address", format!("enrol:addr:{}", address_key(client)), self.per_address),
            ("code", format!("enrol:code:{code_hash}"), self.per_code),
            ("county", "enrol:county".to_string(), self.county),
        ];
        for (counted_by, key, limit) in keys {
            let attempts = storage.count_attempt(&key, now, since).await?;
            if attempts > limit {
                tracing::warn!(counted_by, attempts, limit, "enrolment attempt over the limit refused");
                return Err(Error::TooManyAttempts { retry_after_secs: (self.window_ms / 1000).max(1) as u64 });
            }
        }
        Ok(())
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
        // Counted and limited before the code is looked up: a right guess during a lock-out fails.
        self.enrolment_limits.check(storage, client, &code_hash, now).await?;
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
            .ok_or_else(|| Error::Forbidden("enrolment code unknown, used or expired".into()))?;
        let grids = match auth::scope_of(storage, &account).await? {
            // Handhelds hold the grids of their scope; county staff work from the web instead.
            Scope::All => Vec::new(),
            scope => storage.grids(&scope).await?,
        };
        tracing::info!(device = %device_id, account = %account.id, "device enrolled");
        Ok(EnrolResponse { device_id, token, account, grids })
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
