//! The one place where Upstash's answers become shared types: [`map_error`] for every non-2xx
//! answer, small decoders for success bodies, and the retry hint given to the plumbing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{CancelError, CancelOutcome, NotFoundKind, RateLimitKind, RunState};

use crate::BACKEND;
use crate::action::{BulkAction, BulkActionState};

/// Which call an answer belongs to (it decides what a 404 means).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Cancel of one run (via the bulk endpoint).
    Cancel(&'a str),
    /// A bulk cancel call (a chunk of ids or a filter round).
    CancelMany,
    /// Reading a run's state.
    Status(&'a str),
    /// Reading a bulk action.
    BulkAction(&'a str),
}

impl Op<'_> {
    /// The operation name the plumbing puts in its tracing span.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Cancel(_) => "cancel",
            Op::CancelMany => "cancel_many",
            Op::Status(_) => "status",
            Op::BulkAction(_) => "bulk_action",
        }
    }
}

/// The provider's message: `{"error": "..."}` (or `message`) when the body is such JSON,
/// else the readable text of the body (plain text, an HTML page's title, "(empty body)").
fn provider_message(resp: &HttpResponse) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&resp.body) {
        for key in ["error", "message"] {
            if let Some(Value::String(s)) = map.get(key) {
                if !s.trim().is_empty() {
                    return readable_body(s.as_bytes());
                }
            }
        }
    }
    resp.readable_body()
}

/// Turns a non-2xx answer into a [`CancelError`].
///
/// 400/422 → `InvalidRequest`; 401 → `Unauthenticated`; 403 → `PermissionDenied`; 404 →
/// `NotFound` (the run for `cancel`/`status`, the action for `bulk_action`, else unnamed);
/// 412 → `QuotaExceeded`; 429 → `RateLimited` (retry time from `Retry-After`, else
/// `Burst-RateLimit-Reset`, else `RateLimit-Reset`; the limit from which headers are present);
/// anything else (5xx, 414, …) → `Provider` with the status.
pub(crate) fn map_error(op: Op<'_>, resp: &HttpResponse) -> CancelError {
    let message = provider_message(resp);
    match resp.status {
        400 | 422 => CancelError::InvalidRequest {
            backend: BACKEND,
            status: resp.status,
            message,
        },
        401 => CancelError::Unauthenticated {
            backend: BACKEND,
            message,
        },
        403 => CancelError::PermissionDenied {
            backend: BACKEND,
            message,
        },
        404 => {
            let (what, id) = match op {
                Op::Cancel(id) | Op::Status(id) => (NotFoundKind::Run, Some(id.to_owned())),
                Op::BulkAction(id) => (NotFoundKind::Action, Some(id.to_owned())),
                Op::CancelMany => (NotFoundKind::Other, None),
            };
            CancelError::NotFound {
                backend: BACKEND,
                what,
                id,
                message,
            }
        }
        412 => CancelError::QuotaExceeded {
            backend: BACKEND,
            message,
        },
        429 => CancelError::RateLimited {
            backend: BACKEND,
            retry_after: rate_limit_wait(resp, SystemTime::now()),
            limit: rate_limit_kind(resp),
            message,
        },
        414 => CancelError::Provider {
            backend: BACKEND,
            status: Some(414),
            message: format!("{message} (the request URL is too long for the server; lower max_url_bytes)"),
        },
        status => CancelError::Provider {
            backend: BACKEND,
            status: Some(status),
            message,
        },
    }
}

/// The retry hint for the plumbing: a 429 waits until the reset its headers announce.
pub(crate) fn retry_hint(resp: &HttpResponse) -> RetryDecision {
    if resp.status == 429 {
        if let Some(wait) = rate_limit_wait(resp, SystemTime::now()).filter(|d| !d.is_zero()) {
            return RetryDecision::After(wait);
        }
    }
    RetryDecision::Default
}

/// Which limit a 429 hit, by the headers present.
fn rate_limit_kind(resp: &HttpResponse) -> RateLimitKind {
    let has = |prefix: &str| resp.headers.keys().any(|k| k.as_str().starts_with(prefix));
    if has("burst-ratelimit-") {
        RateLimitKind::Burst
    } else if has("ratelimit-") {
        RateLimitKind::Daily
    } else {
        RateLimitKind::Unspecified
    }
}

/// When a 429 says to try again: `Retry-After` (seconds or HTTP date), else
/// `Burst-RateLimit-Reset`, else `RateLimit-Reset`.
pub(crate) fn rate_limit_wait(resp: &HttpResponse, now: SystemTime) -> Option<Duration> {
    if let Some(d) = resp.headers.get("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(d);
    }
    ["burst-ratelimit-reset", "ratelimit-reset"]
        .into_iter()
        .find_map(|h| resp.header(h).and_then(|v| parse_reset(v, now)))
}

/// A reset header: a Unix timestamp in seconds, or in milliseconds when above 10^12; a value
/// below 10^9 (before 2001, so no current timestamp) is read as seconds from now. A reset in
/// the past means zero.
pub(crate) fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let v: f64 = value.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let at = if v > 1e12 {
        UNIX_EPOCH + Duration::from_millis(v.min(1e18) as u64)
    } else if v >= 1e9 {
        UNIX_EPOCH + Duration::from_secs_f64(v)
    } else {
        return Some(Duration::from_secs_f64(v));
    };
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Ok(decode(resp))` for a 2xx answer, `Err(map_error(..))` otherwise.
pub(crate) fn answer<T>(
    op: Op<'_>,
    resp: &HttpResponse,
    decode: impl FnOnce(&HttpResponse) -> Result<T, CancelError>,
) -> Result<T, CancelError> {
    if resp.is_success() {
        decode(resp)
    } else {
        Err(map_error(op, resp))
    }
}

fn decode_error(what: &str, resp: &HttpResponse) -> CancelError {
    CancelError::Decode {
        backend: BACKEND,
        message: format!("expected {what} (HTTP {}), got: {}", resp.status, resp.readable_body()),
    }
}

fn json_object(what: &str, resp: &HttpResponse) -> Result<serde_json::Map<String, Value>, CancelError> {
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(decode_error(what, resp)),
    }
}

/// A non-negative integer, given as a JSON number or a numeric string.
pub(crate) fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What a bulk cancel call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkAnswer {
    /// `cancelled`: runs cancelled by this call.
    pub cancelled: Option<u64>,
    /// `actionId`: a background bulk action.
    pub action_id: Option<String>,
}

/// `{"cancelled": n}` or `{"actionId": "..."}` (at least one of them).
pub(crate) fn decode_bulk(resp: &HttpResponse) -> Result<BulkAnswer, CancelError> {
    const WHAT: &str = r#"{"cancelled": <n>} or {"actionId": "..."}"#;
    let map = json_object(WHAT, resp)?;
    let cancelled = match map.get("cancelled") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_count(v).ok_or_else(|| decode_error(WHAT, resp))?),
    };
    let action_id = match map.get("actionId") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if cancelled.is_none() && action_id.is_none() {
        return Err(decode_error(WHAT, resp));
    }
    Ok(BulkAnswer { cancelled, action_id })
}

/// A single cancel's outcome from its bulk answer: `{"cancelled":0}` is `NotActive`, any other
/// count `Cancelled`; an action id instead of a count is a decode error.
pub(crate) fn cancel_outcome(a: BulkAnswer) -> Result<CancelOutcome, CancelError> {
    match a.cancelled {
        Some(0) => Ok(CancelOutcome::NotActive),
        Some(_) => Ok(CancelOutcome::Cancelled),
        None => Err(CancelError::Decode {
            backend: BACKEND,
            message: "a cancel by id answered an action id instead of a count".to_owned(),
        }),
    }
}

/// The state of run `id` in a `GET /v2/workflows/logs` answer.
pub(crate) fn decode_status(resp: &HttpResponse, id: &str) -> Result<RunState, CancelError> {
    const WHAT: &str = r#"{"runs": [{"workflowRunId": ..., "workflowState": ...}]}"#;
    let map = json_object(WHAT, resp)?;
    let runs = match map.get("runs") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(runs)) => runs.as_slice(),
        Some(_) => return Err(decode_error(WHAT, resp)),
    };
    let run = runs
        .iter()
        .find(|r| r.get("workflowRunId").and_then(Value::as_str) == Some(id));
    let Some(run) = run else {
        return Err(CancelError::NotFound {
            backend: BACKEND,
            what: NotFoundKind::Run,
            id: Some(id.to_owned()),
            message: "no run with this id in the workflow logs".to_owned(),
        });
    };
    let state = run
        .get("workflowState")
        .and_then(Value::as_str)
        .ok_or_else(|| decode_error(WHAT, resp))?;
    Ok(match state {
        "RUN_STARTED" => RunState::Running,
        "RUN_SUCCESS" => RunState::Completed,
        "RUN_FAILED" => RunState::Failed,
        "RUN_CANCELED" => RunState::Cancelled,
        other => RunState::Unknown(other.to_owned()),
    })
}

/// A `GET /v2/workflows/bulkActions/{id}` answer, decoded tolerantly: only `state` is required;
/// `actionId` falls back to the id asked for.
pub(crate) fn decode_bulk_action(resp: &HttpResponse, id: &str) -> Result<BulkAction, CancelError> {
    const WHAT: &str = r#"{"actionId": ..., "state": "IN_PROGRESS"|"FINISHED", ...}"#;
    let map = json_object(WHAT, resp)?;
    let state = map
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| decode_error(WHAT, resp))?;
    let count = |key: &str| map.get(key).and_then(as_count);
    Ok(BulkAction {
        action_id: map.get("actionId").and_then(Value::as_str).unwrap_or(id).to_owned(),
        kind: map.get("kind").and_then(Value::as_str).map(str::to_owned),
        state: BulkActionState::from_wire(state),
        total: count("total"),
        processed: count("processed"),
        cancelled: count("cancelled"),
        created_at_ms: count("createdAt"),
        completed_at_ms: count("completedAt").or_else(|| count("finishedAt")),
        raw: Value::Object(map),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfcancel_core::http::{HeaderMap, HeaderValue};

    fn resp(status: u16, headers: &[(&'static str, &str)], body: &str) -> HttpResponse {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        HttpResponse::new(status, h, body.to_owned())
    }

    #[test]
    fn reset_headers_in_seconds_milliseconds_and_deltas() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_reset("1700000005", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_reset("1700000002500", now), Some(Duration::from_millis(2500)));
        assert_eq!(parse_reset("1699999990", now), Some(Duration::ZERO), "past reset");
        assert_eq!(parse_reset("3", now), Some(Duration::from_secs(3)), "delta seconds");
        assert_eq!(parse_reset("soon", now), None);
        assert_eq!(parse_reset("-1", now), None);
    }

    #[test]
    fn retry_after_wins_over_reset_headers_and_burst_over_daily() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = resp(
            429,
            &[
                ("retry-after", "7"),
                ("burst-ratelimit-reset", "1700000002"),
                ("ratelimit-reset", "1700000100"),
            ],
            "",
        );
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(7)));
        let r = resp(
            429,
            &[
                ("burst-ratelimit-reset", "1700000002"),
                ("ratelimit-reset", "1700000100"),
            ],
            "",
        );
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(2)));
        let r = resp(429, &[("ratelimit-reset", "1700000100")], "");
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(100)));
        assert_eq!(rate_limit_wait(&resp(429, &[], ""), now), None);
    }

    #[test]
    fn retry_hint_only_for_429_with_a_future_reset() {
        assert_eq!(
            retry_hint(&resp(429, &[("retry-after", "2")], "")),
            RetryDecision::After(Duration::from_secs(2))
        );
        assert_eq!(
            retry_hint(&resp(429, &[("retry-after", "0")], "")),
            RetryDecision::Default
        );
        assert_eq!(retry_hint(&resp(429, &[], "")), RetryDecision::Default);
        assert_eq!(
            retry_hint(&resp(503, &[("retry-after", "2")], "")),
            RetryDecision::Default
        );
    }

    #[test]
    fn bulk_answers() {
        let ok = |b: &str| decode_bulk(&resp(200, &[], b));
        assert_eq!(ok(r#"{"cancelled":3}"#).unwrap().cancelled, Some(3));
        assert_eq!(ok(r#"{"actionId":"a1"}"#).unwrap().action_id.as_deref(), Some("a1"));
        assert!(matches!(ok("OK"), Err(CancelError::Decode { .. })));
        assert!(matches!(ok("{}"), Err(CancelError::Decode { .. })));
        assert!(matches!(ok(r#"{"cancelled":-1}"#), Err(CancelError::Decode { .. })));
        assert!(matches!(ok(""), Err(CancelError::Decode { .. })));
    }

    #[test]
    fn error_messages_from_json_text_html_and_empty_bodies() {
        let m = |body: &str| map_error(Op::CancelMany, &resp(500, &[], body)).to_string();
        assert!(
            m(r#"{"error":"boom"}"#).ends_with(": boom"),
            "{}",
            m(r#"{"error":"boom"}"#)
        );
        assert!(m("plain failure").ends_with(": plain failure"));
        assert!(m("<html><head><title>502 Bad Gateway</title></head></html>").ends_with(": 502 Bad Gateway"));
        assert!(m("").ends_with(": (empty body)"));
    }
}
