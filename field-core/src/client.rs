//! HTTP to the county server: which addresses may be used, which certificates are trusted,
//! and refusals as typed errors.
//!
//! Tokens and personal records must never cross a network in clear text, so a server address is
//! `https://`, or plain `http://` only to this machine (127.0.0.0/8, `::1`, `localhost`): a
//! development server or the demo. The check runs before any request is built.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{DeviceError, Result};

/// A server address the device may talk to, without a trailing `/`; or why it may not.
pub fn check_server_url(server: &str) -> Result<String> {
    let server = server.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(server).map_err(|e| DeviceError::BadServerUrl { reason: e.to_string() })?;
    let host = url.host_str().ok_or_else(|| DeviceError::BadServerUrl { reason: "no host".into() })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DeviceError::BadServerUrl { reason: "credentials in the address".into() });
    }
    match url.scheme() {
        "https" => Ok(server.to_string()),
        "http" if is_loopback(&url) => Ok(server.to_string()),
        "http" => Err(DeviceError::InsecureServerUrl { host: host.to_string() }),
        other => Err(DeviceError::BadServerUrl { reason: format!("scheme {other}: is neither https nor http") }),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    // The URL parser has already normalised the host (`127.1` is `127.0.0.1`, IPv6 in brackets).
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// An HTTP client with the device's timeouts that trusts the usual roots and, if given, a
/// county's own certificate authority (PEM, one or more certificates).
pub fn http_client_trusting(ca_pem: Option<&str>) -> Result<reqwest::Client> {
    let mut builder =
        reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(60));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| DeviceError::BadCertificate(e.to_string()))?;
        if certs.is_empty() {
            return Err(DeviceError::BadCertificate("no certificate in the PEM text".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| match ca_pem {
        Some(_) => DeviceError::BadCertificate(e.to_string()),
        None => DeviceError::Network(e.to_string()),
    })
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// Passes a successful response through; turns an error status into [`DeviceError::Server`].
pub async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| DeviceError::Network(e.to_string()))?;
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => Err(DeviceError::Server { code: e.code, message: e.message }),
        Err(_) => Err(DeviceError::Server {
            code: format!("http_{}", status.as_u16()),
            message: String::from_utf8_lossy(&body).chars().take(200).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_plain_http_only_to_this_machine() {
        for ok in [
            "https://county.example.org",
            "https://10.1.2.3:8443/",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:8080/",
            "http://LOCALHOST",
            "http://[::1]:8080",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok} should be accepted");
        }
        assert_eq!(check_server_url(" https://a.example/ ").unwrap(), "https://a.example");
        for insecure in [
            "http://10.1.2.3:8080",
            "http://example.org",
            "http://192.168.1.10",
            "http://[fe80::1]",
            "http://localhost.example.org",
            "http://127.0.0.1.nip.io",
        ] {
            assert_eq!(check_server_url(insecure).unwrap_err().code(), "insecure_server_url", "{insecure}");
        }
        for bad in ["county.example.org", "ftp://county.example.org", "", "https://user:pw@county.example.org"] {
            assert_eq!(check_server_url(bad).unwrap_err().code(), "bad_server_url", "{bad:?}");
        }
    }

    #[test]
    fn a_root_certificate_that_is_not_pem_is_refused() {
        assert_eq!(http_client_trusting(Some("not a certificate")).unwrap_err().code(), "bad_certificate");
        assert!(http_client_trusting(None).is_ok());
    }
}
