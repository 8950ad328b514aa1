//! Which address a request comes from (the enrolment limits count attempts per address).
//!
//! The client's address is the TCP peer. Behind a reverse proxy every peer is the proxy, so the
//! proxy's address must be configured as trusted; only then is `X-Forwarded-For` read (from the
//! right, skipping trusted proxies), because any client can write that header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::http::HeaderMap;
use axum::serve::IncomingStream;

use crate::service::enrolment::canonical;

/// The TCP peer of a connection, plain or TLS (axum's `ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, crate::server::TunedListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, crate::server::TunedListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// Reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    /// The client's address: the peer, or, when the peer is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.0.contains(&peer) {
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
                Ok(ip) if self.0.contains(&canonical(ip)) => continue,
                Ok(ip) => return canonical(ip),
                // Garbage where the proxy should have written an address: believe only the peer.
                Err(_) => return peer,
            }
        }
        peer
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
        let guard = TrustedProxies(vec![proxy]);
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
        assert_eq!(TrustedProxies::default().client_ip(from_proxy, &headers(&["198.51.100.7"])), proxy);
    }
}
