//! HTTP to the county server: turns refusals into typed errors.

use crate::error::{DeviceError, Result};

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
