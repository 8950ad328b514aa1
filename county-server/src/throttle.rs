//! Limits on guessing enrolment codes. A code has 60 random bits and lives 7 days; on top of
//! that every attempt at `/v1/enrol` is counted, before the code is looked up, under three keys:
//! the client's address, the presented code, and the whole county. Over any limit the answer is
//! `429 too_many_attempts` with `Retry-After`, even for a right code, so a guess that lands during
//! a lock-out teaches the guesser nothing.
//!
//! The counts live in storage ([`Storage::count_attempt`]), not in this process, so several
//! servers behind a load balancer share them. Nothing here logs an address or a code.
//!
//! The client's address is the TCP peer. Behind a reverse proxy every peer is the proxy, so the
//! proxy's address must be configured as trusted; only then is `X-Forwarded-For` read (from the
//! right, skipping trusted proxies), because any client can write that header.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::http::HeaderMap;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::storage::Storage;

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

/// The limits and how to find the client's address.
#[derive(Debug, Clone, Default)]
pub struct EnrolmentGuard {
    pub limits: EnrolmentLimits,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The TCP peer of a connection, plain or TLS (axum's `ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl EnrolmentGuard {
    /// The client's address: the peer, or, when the peer is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusted_proxies.contains(&canonical(ip)) => continue,
                Ok(ip) => return canonical(ip),
                // Garbage where the proxy should have written an address: believe only the peer.
                Err(_) => return peer,
            }
        }
        peer
    }

    /// Counts this attempt under the client's address, the code and the county, in that order,
    /// and refuses it when one count is over its limit. Call before looking the code up.
    pub async fn check(
        &self,
        storage: &dyn Storage,
        client: IpAddr,
        code_hash: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        let l = &self.limits;
        let since = now - l.window_ms;
        let keys = [
            ("address", format!("enrol:addr:{}", address_key(client)), l.per_address),
            ("code", format!("enrol:code:{code_hash}"), l.per_code),
            ("county", "enrol:county".to_string(), l.county),
        ];
        for (counted_by, key, limit) in keys {
            let attempts = storage.count_attempt(&key, now, since).await?;
            if attempts > limit {
                tracing::warn!(counted_by, attempts, limit, "enrolment attempt over the limit refused");
                return Err(ApiError::TooManyAttempts { retry_after_secs: (l.window_ms / 1000).max(1) as u64 });
            }
        }
        Ok(())
    }
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let guard = EnrolmentGuard { trusted_proxies: vec![proxy], ..Default::default() };
        let from_proxy = SocketAddr::new(proxy, 5000);
        let direct: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        // A client writing its own header straight to the server is counted by its peer address.
        assert_eq!(guard.client_ip(direct, &headers(&["198.51.100.1"])), direct.ip());
        // Through the proxy: the address the proxy appended, not what the client wrote before it.
        assert_eq!(
            guard.client_ip(from_proxy, &headers(&["1.2.3.4, 198.51.100.7"])),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Trusted hops are skipped, over several headers too.
        assert_eq!(
            guard.client_ip(from_proxy, &headers(&["1.2.3.4, 198.51.100.7", "10.0.0.2"])),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // No header, or garbage where an address should be: the proxy itself.
        assert_eq!(guard.client_ip(from_proxy, &headers(&[])), proxy);
        assert_eq!(guard.client_ip(from_proxy, &headers(&["1.2.3.4, nonsense"])), proxy);
        // Without trusted proxies the header is never read.
        assert_eq!(EnrolmentGuard::default().client_ip(from_proxy, &headers(&["198.51.100.7"])), proxy);
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
