//! Small helpers shared by both emulators.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// Locks a mutex, ignoring poisoning: the emulators' state stays consistent between statements
/// (no invariant spans a panic point), so a panic in another request must not take the server down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> u64 {
    now_ms() / 1000
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random alphanumeric characters from `rng`.
pub(crate) fn random_alnum(rng: &mut fastrand::Rng, len: usize) -> String {
    (0..len).map(|_| char::from(ALNUM[rng.usize(..ALNUM.len())])).collect()
}

/// A fresh random token (not cryptographically strong: it guards a local test server).
pub(crate) fn random_token() -> String {
    random_alnum(&mut fastrand::Rng::new(), 32)
}

/// A random lower-case UUID-shaped string (version 4 layout).
pub(crate) fn random_uuid(rng: &mut fastrand::Rng) -> String {
    let a = rng.u128(..);
    let hex = format!("{a:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A response with a JSON body.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = Response::new(Body::from(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A response with a plain-text body.
pub(crate) fn text_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Compares two secrets without an early exit on the first differing byte.
pub(crate) fn secret_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Extracts the bearer token from an `Authorization` header value (`Bearer <token>`, scheme
/// case-insensitive).
pub(crate) fn bearer(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    let (scheme, rest) = s.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bool() {
        assert_eq!(parse_go_bool("true"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }

    #[test]
    fn uuid_shape() {
        let u = random_uuid(&mut fastrand::Rng::with_seed(1));
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }

    #[test]
    fn secrets() {
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
        assert!(!secret_eq("abc", "abcd"));
        assert_eq!(bearer(&HeaderValue::from_static("Bearer xyz")), Some("xyz"));
        assert_eq!(bearer(&HeaderValue::from_static("bearer xyz")), Some("xyz"));
        assert_eq!(bearer(&HeaderValue::from_static("Basic xyz")), None);
    }
}
