//! HTTP to the county server: which addresses may be used, which certificates are trusted,
//! timeouts that follow progress, refusals as typed errors, and enrolment. (The sync round is
//! `sync.rs`, snapshot ranges `fetch.rs`, photos `photos.rs`.)
//!
//! No request has a total time limit: on a 24 kbit/s link a slow transfer that keeps moving is
//! never cut. An answer must begin within [`idle`] plus the time the request's body needs at
//! a quarter of the measured link, and then never go [`idle`] without a byte.
//!
//! Tokens and personal records must never cross a network in clear text, so a server address is
//! `https://`, or plain `http://` only to this machine (127.0.0.0/8, `::1`, `localhost`): a
//! development server or the demo. The check runs before any request is built.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sync_protocol::api::{EnrolRequest, EnrolResponse};
use sync_protocol::{Code, ErrorBody};

use crate::device::Identity;
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

/// Whether a server address is on this machine (loopback), whatever its scheme.
pub fn is_loopback_server(server: &str) -> bool {
    reqwest::Url::parse(server.trim()).is_ok_and(|u| is_loopback(&u))
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

/// How long a transfer may go without a byte before it is given up (it resumes at the next
/// sync: what arrived is kept): 30 s, or `GRIDKEEPER_IDLE_SECS` (a county on satellite links
/// may want more; tests want less).
pub fn idle() -> Duration {
    static IDLE: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    #[cfg(feature = "test-support")]
    if let Some(d) = *IDLE_FOR_TESTS.lock().unwrap_or_else(|p| p.into_inner()) {
        return d;
    }
    *IDLE.get_or_init(|| {
        std::env::var("GRIDKEEPER_IDLE_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s < 86_400.0)
            .map_or(Duration::from_secs(30), Duration::from_secs_f64)
    })
}
/// The slowest link allowed for while a request's body goes up (bytes per second: 12 kbit/s,
/// half of GPRS-class). The device never sends more at once than its link carries in seconds.
pub const SLOWEST_LINK: u64 = 1_500;
/// A connection must be made in this time (a handshake on a weak link takes a few round trips).
const CONNECT: Duration = Duration::from_secs(15);

#[cfg(feature = "test-support")]
static IDLE_FOR_TESTS: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);

/// Sets the idle time of every device in this process (a test of a dead link; its own binary).
#[cfg(feature = "test-support")]
pub fn set_idle_for_tests(idle: Duration) {
    *IDLE_FOR_TESTS.lock().unwrap_or_else(|p| p.into_inner()) = Some(idle);
}

/// Sends a request whose body has `body_len` bytes; the answer's head must come within [`idle`]
/// plus the body's time at a quarter of the link's measured upload rate (`up_rate`, bytes per
/// second), or at [`SLOWEST_LINK`] if that is faster: a link that slows down a little is
/// waited for, one that went dead is not waited for long. Returns the response and how long
/// its head took.
pub async fn send(
    req: reqwest::RequestBuilder,
    body_len: usize,
    up_rate: u64,
) -> Result<(reqwest::Response, Duration)> {
    let started = Instant::now();
    let rate = (up_rate / 4).max(SLOWEST_LINK);
    let allowance = idle() + Duration::from_secs(body_len as u64 / rate);
    match tokio::time::timeout(allowance, req.send()).await {
        Ok(resp) => Ok((resp.map_err(DeviceError::from)?, started.elapsed())),
        Err(_) => Err(DeviceError::Stalled { seconds: allowance.as_secs() }),
    }
}

/// Reads an answer's body as it comes, handing each piece to `on_chunk`; gives up only when no
/// byte has come for [`idle`].
pub async fn read_body(resp: &mut reqwest::Response, mut on_chunk: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    loop {
        match tokio::time::timeout(idle(), resp.chunk()).await {
            Err(_) => return Err(DeviceError::Stalled { seconds: idle().as_secs() }),
            Ok(Err(e)) => return Err(DeviceError::Network(e.to_string())),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(bytes))) => on_chunk(&bytes)?,
        }
    }
}

/// The whole body of an answer, read with [`read_body`].
pub async fn body_bytes(mut resp: reqwest::Response) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(8 << 20) as usize);
    read_body(&mut resp, |b| {
        out.extend_from_slice(b);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// An HTTP client that trusts the usual roots and, if given, a county's own certificate
/// authority (PEM, one or more certificates). Its requests go through [`send`] and
/// [`read_body`], which time out on no progress rather than on a total.
pub fn http_client_trusting(ca_pem: Option<&str>) -> Result<reqwest::Client> {
    // Never follow a redirect: a 307 would make the client send the same body (a sync, an
    // enrolment code) again to wherever it points, `http://` included.
    let mut builder = reqwest::Client::builder().connect_timeout(CONNECT).redirect(reqwest::redirect::Policy::none());
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

/// Passes a successful response through; turns an error status into [`DeviceError::Server`]
/// with the server's code. An answer without a Gridkeeper error body (a proxy's page) is
/// `unavailable` when the status says the server side failed (worth retrying), else
/// `unexpected_response`.
pub async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = body_bytes(resp).await?;
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => Err(DeviceError::Server { code: e.code, message: e.message }),
        Err(_) => Err(DeviceError::Server {
            code: if status.is_server_error() { Code::Unavailable } else { Code::UnexpectedResponse }.into(),
            message: format!(
                "HTTP {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
            ),
        }),
    }
}

/// Reads a successful JSON answer into its contract type.
pub async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let resp = check(resp).await?;
    let bytes = body_bytes(resp).await?;
    serde_json::from_slice(&bytes).map_err(|e| DeviceError::Server {
        code: Code::UnexpectedResponse.into(),
        message: format!("the server's answer does not read as expected: {e}"),
    })
}

/// Exchanges a one-time enrolment code for a device token, without storing anything. The
/// address must be `https://`, or `http://` to this machine ([`check_server_url`]).
pub async fn request_enrolment(
    http: &reqwest::Client,
    server: &str,
    code: &str,
    device_name: &str,
) -> Result<Identity> {
    let server = check_server_url(server)?;
    let req = EnrolRequest { code: code.to_string(), device_name: device_name.to_string() };
    let (resp, _) = send(http.post(format!("{server}/v1/enrol")).json(&req), 256, 0).await?;
    let e: EnrolResponse = json(resp).await?;
    Ok(Identity {
        server,
        device_id: e.device_id,
        token: e.token,
        account: e.account,
        grids: e.grids,
        epoch: 0,
        server_ca: None,
    })
}

/// Like [`request_enrolment`], trusting a county's own certificate authority (PEM) as well as
/// the usual roots; the identity keeps it for later requests.
pub async fn request_enrolment_with_ca(
    server: &str,
    code: &str,
    device_name: &str,
    server_ca: Option<&str>,
) -> Result<Identity> {
    // The address is checked before the client is even built: nothing goes out over plain http.
    check_server_url(server)?;
    let http = http_client_trusting(server_ca)?;
    let mut identity = request_enrolment(&http, server, code, device_name).await?;
    identity.server_ca = server_ca.map(str::to_string);
    Ok(identity)
}

/// An HTTP client with the device's timeouts.
pub fn http_client() -> Result<reqwest::Client> {
    http_client_trusting(None)
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
            assert_eq!(check_server_url(insecure).unwrap_err().code(), Code::InsecureServerUrl, "{insecure}");
        }
        for bad in ["county.example.org", "ftp://county.example.org", "", "https://user:pw@county.example.org"] {
            assert_eq!(check_server_url(bad).unwrap_err().code(), Code::BadServerUrl, "{bad:?}");
        }
    }

    #[test]
    fn a_root_certificate_that_is_not_pem_is_refused() {
        assert_eq!(http_client_trusting(Some("not a certificate")).unwrap_err().code(), Code::BadCertificate);
        assert!(http_client_trusting(None).is_ok());
    }
}
