//! The checks every fuzz target runs, one function per target, and the input framing and
//! invariants they share. The targets in this folder call them; the main workspace's
//! `tests/reliability_fuzz_replay.rs` replays `fuzz/seeds/` and `fuzz/regressions/` through the
//! same functions on stable, in every `cargo test`.
//!
//! An input is: 2 bytes of status (big-endian, folded into 100..=599), 1 byte with the number of
//! headers (at most 6), then per header 1 byte naming it (an index into [`HEADER_NAMES`]) and 1
//! byte of value length followed by the value; the rest is the body. Short inputs are padded
//! with zeros. `fuzz/seeds/` holds hand-written inputs in this framing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wfcancel_agno::fuzz as agno;
use wfcancel_core::http::{HeaderMap, HeaderValue, RetryDecision, parse_retry_after, readable_body as readable};
use wfcancel_core::{CancelError, CancelOutcome, Inactive, NotFoundKind, RateLimitKind, RunRef};
use wfcancel_upstash::fuzz as upstash;

pub const HEADER_NAMES: [&str; 10] = [
    "retry-after",
    "burst-ratelimit-reset",
    "ratelimit-reset",
    "burst-ratelimit-limit",
    "burst-ratelimit-remaining",
    "ratelimit-limit",
    "x-ratelimit-reset-requests",
    "content-type",
    "location",
    "x-other",
];

pub struct Input<'a> {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: &'a [u8],
    /// The header values as given (before `HeaderValue` validation).
    pub raw_values: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let status = 100 + (u16::from_be_bytes([byte(0), byte(1)]) % 500);
        let n = usize::from(byte(2)).min(6);
        let mut pos = 3;
        let mut headers = HeaderMap::new();
        let mut raw_values = Vec::new();
        for _ in 0..n {
            let name = HEADER_NAMES[usize::from(byte(pos)) % HEADER_NAMES.len()];
            let len = usize::from(byte(pos + 1));
            pos += 2;
            let end = (pos + len).min(data.len());
            let value = data.get(pos.min(end)..end).unwrap_or(&[]);
            pos = end;
            raw_values.push(value);
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.append(name, v);
            }
        }
        let body = data.get(pos.min(data.len())..).unwrap_or(&[]);
        Input {
            status,
            headers,
            body,
            raw_values,
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A message a person reads: one line, no control characters, not empty, bounded.
pub fn check_line(what: &str, s: &str) {
    assert!(!s.trim().is_empty(), "{what}: empty message");
    assert!(!s.chars().any(char::is_control), "{what}: control character in {s:?}");
    assert!(s.chars().count() <= 2000, "{what}: {} characters", s.chars().count());
}

/// Every error is one actionable line, and its accessors do not panic.
pub fn check_error(e: &CancelError) {
    check_line("Display", &e.to_string());
    check_line("message()", &e.message());
    let _ = (
        e.kind(),
        e.is_retryable(),
        e.fails_every_call(),
        e.status(),
        e.retry_after(),
        e.backend(),
    );
    let _ = format!("{e:?}");
}

/// `Retry-After` values: delay-seconds, decimals, HTTP dates, garbage.
pub fn retry_after(data: &[u8]) {
    let Ok(v) = HeaderValue::from_bytes(data) else { return };
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        SystemTime::now(),
        UNIX_EPOCH + Duration::from_secs(253_402_300_799), // 9999-12-31
    ] {
        let d = parse_retry_after(&v, now);
        // Plain delay-seconds are read exactly, capped at 1e9 s (about 31 years) so that adding
        // one to an instant can never overflow (a header value is ASCII to be read at all).
        let plain = std::str::from_utf8(data)
            .ok()
            .filter(|s| s.is_ascii())
            .and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(n) = plain {
            assert_eq!(d, Some(Duration::from_secs(n.min(1_000_000_000))), "{data:?}");
        }
        if let Some(d) = d {
            let _ = d.as_secs_f64();
        }
    }
}

/// Any body, made into the one line an error message quotes.
pub fn readable_body(data: &[u8]) {
    let line = readable(data);
    check_line("readable_body", &line);
    assert!(line.chars().count() <= 301, "{} characters", line.chars().count());
    assert_eq!(line.trim(), line, "surrounding whitespace");
}

/// Whether `body` is Upstash's own error body: a JSON object with an `"error"` string.
fn upstash_error_body(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => map.get("error").is_some_and(serde_json::Value::is_string),
        _ => false,
    }
}

/// Whether `body` is what Upstash's run path answers a cancel with: `OK` (any case, quoted as
/// a JSON string or not, surrounding whitespace ignored) or nothing.
fn upstash_ok_body(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    text.is_empty() || text.eq_ignore_ascii_case("ok") || text.eq_ignore_ascii_case("\"ok\"")
}

/// Every Upstash answer parser on any status, headers and body: the single cancel
/// (`DELETE /v2/workflows/runs/{id}`), the error mapping, the bulk count / action id, the logs
/// (run status), the bulk action, and the retry hint.
pub fn upstash_answers(data: &[u8]) {
    let input = Input::parse(data);
    let (status, headers, body) = (input.status, &input.headers, input.body);
    let ok = input.is_success();
    // Upstash's answer for no such active run (unknown, finished, already cancelled).
    let not_active_404 = status == 404 && upstash_error_body(body);

    let cancel = upstash::cancel_answer(status, headers, body, "wfr_fuzz");
    let bulk = upstash::bulk_answer(status, headers, body);
    let state = upstash::status_answer(status, headers, body, "wfr_fuzz");
    let action = upstash::bulk_action_answer(status, headers, body, "act_fuzz");

    for e in [
        cancel.as_ref().err(),
        bulk.as_ref().err(),
        state.as_ref().err(),
        action.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        check_error(e);
        if !ok {
            // A non-2xx error is of the kind its status says.
            assert_eq!(e.status(), Some(status), "{e:?}");
            if status == 429 {
                assert!(matches!(e, CancelError::RateLimited { .. }), "{e:?}");
            }
        }
    }
    if !ok {
        // Non-2xx is always an error, except Upstash's 404 to a single cancel.
        assert!(bulk.is_err() && state.is_err() && action.is_err());
    }
    // The single cancel's answer is about that run alone: a 2xx whose body is Upstash's plain
    // `OK` is `Cancelled`, a 2xx with another body (some JSON, an HTML page) is not Upstash's word
    // and is a decode error; Upstash's 404 is `NotActive`; a 404 with another body (an HTML page,
    // a proxy's text) did not come from the API: `NotFound` asking to check QSTASH_URL; anything
    // else is an error.
    match &cancel {
        Ok(outcome) => {
            assert!(
                (ok && upstash_ok_body(body)) || not_active_404,
                "status {status} with {:?} is not an outcome: {outcome:?}",
                readable(body)
            );
            let expected = if ok {
                CancelOutcome::Cancelled
            } else {
                CancelOutcome::NotActive(Inactive::Unspecified)
            };
            assert_eq!(*outcome, expected, "status {status}");
        }
        Err(e) => {
            if ok {
                assert!(!upstash_ok_body(body), "a 2xx `OK` is never an error: {e:?}");
                assert!(matches!(e, CancelError::Decode { .. }), "{e:?}");
            }
            assert!(!not_active_404, "Upstash's 404 is an outcome, not an error: {e:?}");
            if status == 404 {
                assert!(
                    matches!(
                        e,
                        CancelError::NotFound {
                            what: NotFoundKind::Other,
                            ..
                        }
                    ),
                    "{e:?}"
                );
                assert!(e.to_string().contains("QSTASH_URL"), "{e}");
            }
        }
    }
    if let Ok((count, action_id)) = &bulk {
        assert!(
            count.is_some() || action_id.is_some(),
            "a bulk answer carries a count or an action"
        );
    }
    if let Err(CancelError::RateLimited { limit, .. }) = &cancel {
        let _ = matches!(
            limit,
            RateLimitKind::Burst | RateLimitKind::Daily | RateLimitKind::Unspecified
        );
    }
    if let Ok(a) = &action {
        let _ = (a.is_finished(), a.created_at(), a.completed_at(), a.state.as_str());
    }
    match upstash::retry_hint(status, headers, body) {
        RetryDecision::After(d) => {
            assert_eq!(status, 429, "only a 429 carries a hint");
            assert!(!d.is_zero());
        }
        RetryDecision::Default => {}
        RetryDecision::Never => panic!("Upstash never forbids a retry"),
    }
}

/// Upstash's rate-limit headers (`Retry-After`, `Burst-RateLimit-Reset`, `RateLimit-Reset`) and
/// reset values in seconds, milliseconds, deltas, or garbage.
pub fn upstash_rate_limit(data: &[u8]) {
    let input = Input::parse(data);
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        SystemTime::now(),
    ] {
        let _ = upstash::rate_limit_wait(&input.headers, now);
        for v in &input.raw_values {
            if let Some(d) = std::str::from_utf8(v).ok().and_then(|s| upstash::parse_reset(s, now)) {
                let _ = d.as_secs_f64();
            }
        }
        if let Ok(s) = std::str::from_utf8(input.body) {
            let _ = upstash::parse_reset(s, now);
        }
    }
}

/// AgentOS error bodies: FastAPI's `detail` (a string, or a 422 array of objects), other
/// message fields, non-JSON bodies.
pub fn agno_detail(data: &[u8]) {
    let d = agno::detail(data);
    check_line("detail", &d);
    assert!(d.chars().count() <= 301, "{} characters", d.chars().count());
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = agno::parse_state(s);
    }
}

/// Every AgentOS answer on a cancel and a status read: the one mapping function and the retry
/// decision, for any status, headers and body.
pub fn agno_answers(data: &[u8]) {
    let input = Input::parse(data);
    let (status, headers, body) = (input.status, &input.headers, input.body);
    let key_sent = data.first().is_some_and(|b| b & 1 == 1);
    for run in [
        RunRef::new("r1").workflow("wf").session("s"),
        RunRef::new("a/b").agent("ag"),
        RunRef::new("r2").team("t/1").session("s"),
    ] {
        let (cancel, retry) = agno::cancel_answer(&run, key_sent, status, headers, body);
        match &cancel {
            Ok(o) => {
                assert_eq!(retry, RetryDecision::Never, "a definite answer is not retried");
                if input.is_success() {
                    assert_eq!(*o, CancelOutcome::Requested);
                } else {
                    assert_eq!(
                        (status, *o),
                        (500, CancelOutcome::NotActive(Inactive::Unspecified)),
                        "only a 2.x 500 means nothing to cancel"
                    );
                }
            }
            Err(e) => {
                check_error(e);
                // A 2xx cancel is an error only when its body is not JSON (not from AgentOS).
                let json_or_blank = body.iter().all(u8::is_ascii_whitespace)
                    || serde_json::from_slice::<serde_json::Value>(body).is_ok();
                assert!(
                    !input.is_success() || (!json_or_blank && matches!(e, CancelError::Decode { .. })),
                    "a 2xx cancel with a JSON body is never an error: {e:?}"
                );
                if retry == RetryDecision::Default {
                    assert!(e.is_retryable(), "retried but not retryable: {e:?}");
                }
            }
        }
        let (state, _) = agno::status_answer(&run, key_sent, status, headers, body);
        match &state {
            Ok(s) => {
                assert!(input.is_success());
                let _ = (s.is_terminal(), s.as_str());
            }
            Err(e) => {
                check_error(e);
                if input.is_success() {
                    assert!(
                        matches!(e, CancelError::Decode { .. } | CancelError::NotFound { .. }),
                        "{e:?}"
                    );
                }
            }
        }
    }
}
