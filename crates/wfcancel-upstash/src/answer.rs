//! The one place where Upstash's answers become shared types: [`map_error`] for every non-2xx
//! answer, small decoders for success bodies, and the retry hint given to the plumbing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{CancelError, CancelOutcome, Inactive, NotFoundKind, RateLimitKind, RunState};

use crate::BACKEND;
use crate::action::{BulkAction, BulkActionState};

/// Which call an answer belongs to (it decides what a 404 means).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Cancel of one run (`DELETE /v2/workflows/runs/{id}`, or the bulk endpoint with one id).
    Cancel,
    /// A bulk cancel call (a chunk of ids or a filter round).
    CancelMany,
    /// Reading a run's state.
    Status,
    /// Reading a bulk action.
    BulkAction(&'a str),
}

impl Op<'_> {
    /// The operation name the plumbing puts in its tracing span.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Cancel => "cancel",
            Op::CancelMany => "cancel_many",
            Op::Status => "status",
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

/// Added to the message of a 404 from an endpoint that never answers 404 for a missing run.
pub(crate) const WRONG_BASE_URL: &str = "this endpoint answers unknown runs without a 404, so the request did not reach \
     the Upstash API: check the base URL (QSTASH_URL, or the region's QSTASH_URL) and its path prefix";

/// Turns a non-2xx answer into a [`CancelError`].
///
/// 400/422 → `InvalidRequest`; 401 → `Unauthenticated`; 403 → `PermissionDenied`; 404 →
/// `NotFound` (the action for `bulk_action`; for cancels and run status, whose endpoints answer
/// unknown runs without a 404, `what: Other` with a hint to check `QSTASH_URL`); 412 →
/// `QuotaExceeded`; 429 → `RateLimited` (see [`rate_limit_family`]); anything else (5xx, 414, …)
/// → `Provider` with the status.
pub(crate) fn map_error(op: Op<'_>, resp: &HttpResponse) -> CancelError {
    let message = provider_message(resp);
    match resp.status {
        400 | 422 => CancelError::invalid_request(BACKEND, resp.status, message),
        401 => CancelError::unauthenticated(BACKEND, message),
        403 => CancelError::permission_denied(BACKEND, message),
        404 => match op {
            // The only 404 that names something: an unknown bulk action.
            Op::BulkAction(id) => CancelError::not_found(BACKEND, NotFoundKind::Action, Some(id.to_owned()), message),
            // The bulk endpoint skips unknown ids silently (`{"cancelled":0}`) and the logs
            // answer an empty list for an unknown run: a 404 there means the request did not
            // reach the API (a wrong base URL or path prefix), not that a run is missing.
            Op::Cancel | Op::CancelMany | Op::Status => CancelError::not_found(
                BACKEND,
                NotFoundKind::Other,
                None,
                format!("{message} ({WRONG_BASE_URL})"),
            ),
        },
        412 => CancelError::quota_exceeded(BACKEND, message),
        429 => CancelError::rate_limited(
            BACKEND,
            rate_limit_family(resp).map_or(RateLimitKind::Unspecified, RateLimitFamily::kind),
            rate_limit_wait(resp, SystemTime::now()),
            message,
        ),
        414 => CancelError::provider(
            BACKEND,
            Some(414),
            format!("{message} (the request URL is too long for the server; lower max_url_bytes)"),
        ),
        status => CancelError::provider(BACKEND, Some(status), message),
    }
}

/// The retry hint for the plumbing on calls that are safe to repeat (single cancels, chunks of
/// ids, reads): a 429 waits until the reset its headers announce, however far away (the
/// plumbing never sleeps past its deadline, so a daily reset hours away ends the call at once).
pub(crate) fn retry_hint(resp: &HttpResponse) -> RetryDecision {
    if resp.status == 429 {
        if let Some(wait) = rate_limit_wait(resp, SystemTime::now()).filter(|d| !d.is_zero()) {
            return RetryDecision::After(wait);
        }
    }
    RetryDecision::Default
}

/// The retry hint for calls that must not run twice (filter and cancel-all rounds, background
/// actions): a `5xx` or `408` may come after the server acted, so it is never retried; a `429`
/// was refused before anything was done and waits for its reset as in [`retry_hint`].
pub(crate) fn unrepeatable_retry_hint(resp: &HttpResponse) -> RetryDecision {
    if resp.status == 408 || (500..600).contains(&resp.status) {
        return RetryDecision::Never;
    }
    retry_hint(resp)
}

/// The three families of rate-limit headers a `429` can carry, in the order the official SDK
/// (`@upstash/qstash` `getResponseError`) tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimitFamily {
    /// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`: LLM chat limits.
    Chat,
    /// `RateLimit-{Limit,Remaining,Reset}`: the daily quota.
    Daily,
    /// `Burst-RateLimit-{Limit,Remaining,Reset}`: the per-second burst limit.
    Burst,
}

impl RateLimitFamily {
    const SDK_ORDER: [RateLimitFamily; 3] = [RateLimitFamily::Chat, RateLimitFamily::Daily, RateLimitFamily::Burst];

    fn prefix(self) -> &'static str {
        match self {
            RateLimitFamily::Chat => "x-ratelimit-",
            RateLimitFamily::Daily => "ratelimit-",
            RateLimitFamily::Burst => "burst-ratelimit-",
        }
    }

    fn present(self, resp: &HttpResponse) -> bool {
        // Header names are lower-case in a `HeaderMap`; the prefixes do not overlap
        // (`ratelimit-` does not match `burst-ratelimit-` or `x-ratelimit-`).
        resp.headers.keys().any(|k| k.as_str().starts_with(self.prefix()))
    }

    /// Whether this family says its budget is used up (a `-Remaining` of 0).
    fn exhausted(self, resp: &HttpResponse) -> bool {
        let zero = |h: &str| resp.header(h).is_some_and(is_zero);
        match self {
            RateLimitFamily::Chat => zero("x-ratelimit-remaining-requests") || zero("x-ratelimit-remaining-tokens"),
            RateLimitFamily::Daily => zero("ratelimit-remaining"),
            RateLimitFamily::Burst => zero("burst-ratelimit-remaining"),
        }
    }

    /// When this family's window resets.
    fn reset(self, resp: &HttpResponse, now: SystemTime) -> Option<Duration> {
        match self {
            RateLimitFamily::Daily => resp.header("ratelimit-reset").and_then(|v| parse_reset(v, now)),
            RateLimitFamily::Burst => resp.header("burst-ratelimit-reset").and_then(|v| parse_reset(v, now)),
            RateLimitFamily::Chat => {
                let reset = |kind: &str| {
                    resp.header(&format!("x-ratelimit-reset-{kind}"))
                        .and_then(|v| parse_duration(v).or_else(|| parse_reset(v, now)))
                };
                let zero = |kind: &str| {
                    resp.header(&format!("x-ratelimit-remaining-{kind}"))
                        .is_some_and(is_zero)
                };
                // The reset of the budget that ran out; when neither says so, the later one.
                match (zero("requests"), zero("tokens")) {
                    (true, false) => reset("requests"),
                    (false, true) => reset("tokens"),
                    _ => reset("requests").max(reset("tokens")),
                }
            }
        }
    }

    fn kind(self) -> RateLimitKind {
        match self {
            RateLimitFamily::Burst => RateLimitKind::Burst,
            RateLimitFamily::Daily => RateLimitKind::Daily,
            // The shared kinds have no chat limit.
            RateLimitFamily::Chat => RateLimitKind::Unspecified,
        }
    }
}

fn is_zero(v: &str) -> bool {
    v.trim().parse::<f64>().is_ok_and(|n| n <= 0.0)
}

/// Which limit a `429` hit. The SDK's order (chat headers, then `RateLimit-*` = daily, then
/// `Burst-RateLimit-*`), except that when several families are present the one whose
/// `-Remaining` is 0 wins: a burst answer may also carry the daily headers with budget left,
/// and the daily quota may run out while the burst window still has room. `None` when no
/// family's headers are present (the SDK would call that a burst limit; we do not guess).
pub(crate) fn rate_limit_family(resp: &HttpResponse) -> Option<RateLimitFamily> {
    let present = || RateLimitFamily::SDK_ORDER.into_iter().filter(|f| f.present(resp));
    present().find(|f| f.exhausted(resp)).or_else(|| present().next())
}

/// When a 429 says to try again: `Retry-After` (seconds or HTTP date), else the reset of the
/// family [`rate_limit_family`] picks (never another family's: a burst reset one second away
/// says nothing about a used-up daily quota).
pub(crate) fn rate_limit_wait(resp: &HttpResponse, now: SystemTime) -> Option<Duration> {
    if let Some(d) = resp.headers.get("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(d);
    }
    rate_limit_family(resp).and_then(|f| f.reset(resp, now))
}

/// A Go-style duration as the chat limit headers give it (`1s`, `6m0s`, `20ms`, `1h2m3.5s`).
/// A bare number is not one (see [`parse_reset`]).
fn parse_duration(value: &str) -> Option<Duration> {
    let mut rest = value.trim();
    if rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    (total.is_finite() && total < 1e9).then(|| Duration::from_secs_f64(total))
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
    CancelError::decode(
        BACKEND,
        format!("expected {what} (HTTP {}), got: {}", resp.status, resp.readable_body()),
    )
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

/// The outcome of `DELETE /v2/workflows/runs/{id}`, whose answer is about that run alone: 2xx
/// with the body `OK` (or none) → `Cancelled`, with another body → a decode error (not
/// Upstash's answer); 404 with Upstash's JSON error about the run (`{"error": "workflowRun not
/// found"}`) → `NotActive` (no such active run: unknown, finished or already cancelled, on the
/// server's word); any other answer → [`map_error`] (a 404 that is not Upstash's, such as an HTML
/// page or a gateway's bare `Not Found`, means the request did not reach the API: `NotFound`
/// asking to check `QSTASH_URL`).
pub(crate) fn path_cancel_outcome(resp: &HttpResponse) -> Result<CancelOutcome, CancelError> {
    if resp.is_success() {
        // Upstash answers `OK` (plain text). Another body (an HTML page, some other JSON) is
        // not Upstash's word that the run is cancelled: the URL may point at another server.
        let body = String::from_utf8_lossy(&resp.body);
        let body = body.trim();
        if body.eq_ignore_ascii_case("ok") || body.is_empty() || body.eq_ignore_ascii_case("\"ok\"") {
            return Ok(CancelOutcome::Cancelled);
        }
        return Err(decode_error("OK", resp));
    }
    if resp.status == 404 {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&resp.body) {
            if map.get("error").and_then(Value::as_str).is_some_and(says_no_such_run) {
                return Ok(CancelOutcome::NotActive(Inactive::Unspecified));
            }
        }
        let message = provider_message(resp);
        return Err(CancelError::not_found(
            BACKEND,
            NotFoundKind::Other,
            None,
            format!(
                "{message} (the answer is not Upstash's: check the base URL (QSTASH_URL, or the region's QSTASH_URL) \
                 and its path prefix)"
            ),
        ));
    }
    Err(map_error(Op::Cancel, resp))
}

/// Whether a 404's message is Upstash's "no such (active) workflow run": it says "not found"
/// about a run (`workflowRun not found`, `workflow run not found`, `run not found`). A gateway's
/// bare `{"error":"Not Found"}` is not that: the request did not reach the API.
fn says_no_such_run(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") && (m.contains("workflowrun") || m.contains("workflow run") || m.contains("run "))
}

/// One entry of the logs: a run, as the server describes it.
pub(crate) type LogEntry = serde_json::Map<String, Value>;

/// One page of `GET /v2/workflows/logs`: its runs and the cursor of the next page (`None` on
/// the last page).
pub(crate) fn decode_logs_page(resp: &HttpResponse) -> Result<(Vec<LogEntry>, Option<String>), CancelError> {
    const WHAT: &str = r#"{"cursor": "...", "runs": [{...}]}"#;
    let map = json_object(WHAT, resp)?;
    let runs = match map.get("runs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(runs)) => runs
            .iter()
            .map(|r| match r {
                Value::Object(m) => Ok(m.clone()),
                _ => Err(decode_error(WHAT, resp)),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(decode_error(WHAT, resp)),
    };
    let cursor = match map.get("cursor") {
        Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok((runs, cursor))
}

/// The count of a bulk answer to a cancel by ids; an action id instead of a count is a decode
/// error. (A count of 0 proves nothing on its own: the server answers 0 too for a run it could
/// not cancel this time.)
pub(crate) fn cancelled_count(a: BulkAnswer) -> Result<u64, CancelError> {
    a.cancelled.ok_or_else(|| {
        CancelError::decode(
            BACKEND,
            "a cancel by ids answered an action id instead of a count".to_owned(),
        )
    })
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
        return Err(CancelError::not_found(
            BACKEND,
            NotFoundKind::Run,
            Some(id.to_owned()),
            "no run with this id in the workflow logs".to_owned(),
        ));
    };
    run.as_object()
        .and_then(log_state)
        .ok_or_else(|| decode_error(WHAT, resp))
}

/// The state of a run of the logs (`workflowState`), `None` without one.
pub(crate) fn log_state(run: &LogEntry) -> Option<RunState> {
    let state = run.get("workflowState").and_then(Value::as_str)?;
    Some(match state {
        "RUN_STARTED" => RunState::Running,
        "RUN_SUCCESS" => RunState::Completed,
        "RUN_FAILED" => RunState::Failed,
        "RUN_CANCELED" => RunState::Cancelled,
        // A state this library does not name is over when the run has a completion time.
        other => RunState::unknown(other, run.get("workflowRunCompletedAt").is_some_and(|t| !t.is_null())),
    })
}

/// The logs' `workflowState` of a state a listing may ask for.
pub(crate) fn log_state_name(state: &RunState) -> Option<&'static str> {
    match state {
        RunState::Running => Some("RUN_STARTED"),
        RunState::Completed => Some("RUN_SUCCESS"),
        RunState::Failed => Some("RUN_FAILED"),
        RunState::Cancelled => Some("RUN_CANCELED"),
        _ => None,
    }
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
    fn only_upstashs_404_about_a_run_is_not_active() {
        assert!(super::says_no_such_run("workflowRun not found"));
        assert!(super::says_no_such_run("Workflow run not found: wfr_1"));
        assert!(super::says_no_such_run("run not found"));
        assert!(!super::says_no_such_run("Not Found"));
        assert!(!super::says_no_such_run("route not found"));
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
    fn retry_after_wins_over_the_reset_headers() {
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
        let r = resp(429, &[("ratelimit-reset", "1700000100")], "");
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(100)));
        let r = resp(429, &[("burst-ratelimit-reset", "1700000002")], "");
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(2)));
        assert_eq!(rate_limit_wait(&resp(429, &[], ""), now), None);
    }

    fn kind_and_wait(headers: &[(&'static str, &str)]) -> (RateLimitKind, Option<Duration>) {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = resp(429, headers, "");
        let kind = rate_limit_family(&r).map_or(RateLimitKind::Unspecified, RateLimitFamily::kind);
        (kind, rate_limit_wait(&r, now))
    }

    const BURST_SPENT: [(&str, &str); 3] = [
        ("burst-ratelimit-limit", "100"),
        ("burst-ratelimit-remaining", "0"),
        ("burst-ratelimit-reset", "1700000002"),
    ];
    const BURST_LEFT: [(&str, &str); 3] = [
        ("burst-ratelimit-limit", "100"),
        ("burst-ratelimit-remaining", "40"),
        ("burst-ratelimit-reset", "1700000002"),
    ];
    const DAILY_SPENT: [(&str, &str); 3] = [
        ("ratelimit-limit", "500"),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "1700036000"),
    ];
    const DAILY_LEFT: [(&str, &str); 3] = [
        ("ratelimit-limit", "500"),
        ("ratelimit-remaining", "321"),
        ("ratelimit-reset", "1700036000"),
    ];

    fn both(
        a: [(&'static str, &'static str); 3],
        b: [(&'static str, &'static str); 3],
    ) -> Vec<(&'static str, &'static str)> {
        a.into_iter().chain(b).collect()
    }

    /// One family alone: the SDK's answer.
    #[test]
    fn one_family_alone_is_that_kind_with_its_own_reset() {
        let hour = Duration::from_secs(36_000);
        assert_eq!(
            kind_and_wait(&BURST_SPENT),
            (RateLimitKind::Burst, Some(Duration::from_secs(2)))
        );
        assert_eq!(kind_and_wait(&DAILY_SPENT), (RateLimitKind::Daily, Some(hour)));
        // Present but not spent: still that family (the SDK looks at the limit header only).
        assert_eq!(
            kind_and_wait(&BURST_LEFT),
            (RateLimitKind::Burst, Some(Duration::from_secs(2)))
        );
        assert_eq!(kind_and_wait(&DAILY_LEFT), (RateLimitKind::Daily, Some(hour)));
        assert_eq!(kind_and_wait(&[]), (RateLimitKind::Unspecified, None));
    }

    /// Both families: the spent one wins, with ITS reset; neither or both spent: the SDK's
    /// order (daily before burst).
    #[test]
    fn both_families_prefer_the_spent_one_and_its_reset() {
        let two = Some(Duration::from_secs(2));
        let ten_hours = Some(Duration::from_secs(36_000));
        // A burst 429 that also reports the daily quota with budget left: burst, 2 s (the SDK
        // would say daily, and wait for a reset ten hours away).
        assert_eq!(
            kind_and_wait(&both(DAILY_LEFT, BURST_SPENT)),
            (RateLimitKind::Burst, two)
        );
        assert_eq!(
            kind_and_wait(&both(BURST_SPENT, DAILY_LEFT)),
            (RateLimitKind::Burst, two)
        );
        // The daily quota is spent while the burst window has room: daily, and never the burst
        // reset 2 s away (a retry then would be refused again).
        assert_eq!(
            kind_and_wait(&both(DAILY_SPENT, BURST_LEFT)),
            (RateLimitKind::Daily, ten_hours)
        );
        assert_eq!(
            kind_and_wait(&both(BURST_LEFT, DAILY_SPENT)),
            (RateLimitKind::Daily, ten_hours)
        );
        // Both spent, or neither: the SDK's order.
        assert_eq!(
            kind_and_wait(&both(BURST_SPENT, DAILY_SPENT)),
            (RateLimitKind::Daily, ten_hours)
        );
        assert_eq!(
            kind_and_wait(&both(BURST_LEFT, DAILY_LEFT)),
            (RateLimitKind::Daily, ten_hours)
        );
        // The chosen family without a reset: no wait taken from the other family.
        let daily_no_reset = [("ratelimit-limit", "500"), ("ratelimit-remaining", "0")];
        let mut h: Vec<_> = daily_no_reset.to_vec();
        h.extend(BURST_LEFT);
        assert_eq!(kind_and_wait(&h), (RateLimitKind::Daily, None));
        // Retry-After still wins for the wait.
        let mut h = both(DAILY_SPENT, BURST_LEFT);
        h.push(("retry-after", "5"));
        assert_eq!(kind_and_wait(&h), (RateLimitKind::Daily, Some(Duration::from_secs(5))));
    }

    /// The chat headers come first in the SDK; their resets are Go durations.
    #[test]
    fn chat_limits_come_first_and_read_go_durations() {
        let chat = [
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-limit-tokens", "10000"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-remaining-tokens", "5000"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-reset-tokens", "20ms"),
        ];
        assert_eq!(
            kind_and_wait(&chat),
            (RateLimitKind::Unspecified, Some(Duration::from_secs(360)))
        );
        let mut h = chat.to_vec();
        h.extend(DAILY_LEFT);
        assert_eq!(
            kind_and_wait(&h),
            (RateLimitKind::Unspecified, Some(Duration::from_secs(360))),
            "chat before daily"
        );
        assert_eq!(parse_duration("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn a_far_daily_reset_is_given_as_it_is() {
        // The plumbing never sleeps past its deadline: the real reset is the right hint.
        let reset = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 36_000).to_string();
        let r = resp(
            429,
            &[
                ("ratelimit-limit", "500"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", &reset),
            ],
            "",
        );
        match retry_hint(&r) {
            RetryDecision::After(d) => assert!(d > Duration::from_secs(35_000), "{d:?}"),
            other => panic!("{other:?}"),
        }
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
    fn unrepeatable_calls_never_retry_5xx_or_408() {
        for status in [408, 500, 502, 503, 504, 599] {
            assert_eq!(
                unrepeatable_retry_hint(&resp(status, &[("retry-after", "1")], "")),
                RetryDecision::Never,
                "{status}"
            );
        }
        assert_eq!(
            unrepeatable_retry_hint(&resp(429, &[("retry-after", "2")], "")),
            RetryDecision::After(Duration::from_secs(2))
        );
        assert_eq!(unrepeatable_retry_hint(&resp(429, &[], "")), RetryDecision::Default);
        assert_eq!(unrepeatable_retry_hint(&resp(400, &[], "")), RetryDecision::Default);
    }

    #[test]
    fn a_404_names_the_action_only() {
        let r = resp(404, &[], r#"{"error":"not found"}"#);
        for op in [Op::Cancel, Op::CancelMany, Op::Status] {
            match map_error(op, &r) {
                CancelError::NotFound {
                    what: NotFoundKind::Other,
                    id: None,
                    message,
                    ..
                } => assert!(
                    message.starts_with("not found (") && message.contains("QSTASH_URL"),
                    "{message}"
                ),
                other => panic!("{op:?}: {other:?}"),
            }
        }
        assert!(matches!(
            map_error(Op::BulkAction("a1"), &r),
            CancelError::NotFound { what: NotFoundKind::Action, id: Some(id), .. } if id == "a1"
        ));
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
