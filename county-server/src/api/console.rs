//! The staff console's files (`console/dist`, a Vue app built by Vite), served at `/console/`
//! from the server's own binary: no second server and no Node at run time. Built files carry a
//! content hash in their names (`assets/…`) and are cached for a year; `index.html` is checked
//! every time (its ETag is the file's SHA-256). A path that names no file is a screen of the app
//! (history routing): it gets `index.html`.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../console/dist/"]
#[allow_missing = true]
struct Files;

/// What the console's pages may load: only the server's own files and API, styles inline
/// (Element Plus positions popups with style attributes), images also as data and blob URLs
/// (charts exported as images, photos); never framed by another site.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub async fn root() -> Redirect {
    Redirect::permanent("/console/")
}

pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // Only names a build writes: a debug build reads the folder from disk, where an absolute
    // path, a `..` or a symlink could otherwise reach any file of the machine.
    if !is_plain(&path) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match Files::get(&path) {
        Some(_) => serve(&path, &headers),
        // A missing asset is a 404, not the app (a stale page asking for an old bundle must see
        // the failure, not parse HTML as JavaScript).
        None if path.starts_with("assets/") || path.rsplit('/').next().is_some_and(|n| n.contains('.')) => {
            (StatusCode::NOT_FOUND, "not found").into_response()
        }
        None => serve("index.html", &headers),
    }
}

/// A relative path of plain names (letters, digits, `-`, `_`, and dots inside a name), as Vite
/// names its files: no absolute path, no `.` or `..`, no backslash, no empty segment.
fn is_plain(path: &str) -> bool {
    path.len() <= 256
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Files::get(path) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "控制台尚未构建 The console is not built into this server: cd console && npm ci && npm run build, then build the server again.\n",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(file.data.into_owned()));
        if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::is_plain;

    #[test]
    fn only_plain_relative_names_are_looked_up() {
        for ok in
            ["assets/index-Bq9Nzo6Z.js", "favicon.ico", "disputes", "disputes/0190b2a4-0000-7000-8000-000000000000"]
        {
            assert!(is_plain(ok), "{ok}");
        }
        for bad in [
            "/proc/self/exe",
            "../Cargo.toml",
            "assets/../../x",
            "a//b",
            "./index.html",
            "a\\b",
            ".env",
            "",
            "a\0b",
            "assets/ä.js",
        ] {
            assert!(!is_plain(bad), "{bad}");
        }
    }
}
