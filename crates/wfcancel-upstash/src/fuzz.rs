//! The answer parsers, callable on raw bytes (for the cargo-fuzz targets in `fuzz/` and for
//! tests). Not part of the stable API: each function runs exactly the code the canceller runs
//! on an answer, and may change with it.

use std::time::{Duration, SystemTime};

use wfcancel_core::http::{HeaderMap, HttpResponse, RetryDecision};
use wfcancel_core::{CancelError, CancelOutcome, RunState};

use crate::BulkAction;
use crate::answer::{self, Op};

fn response(status: u16, headers: &HeaderMap, body: &[u8]) -> HttpResponse {
    HttpResponse::new(status, headers.clone(), body.to_vec())
}

/// What `cancel` makes of one answer of `DELETE /v2/workflows/runs/{id}`: 2xx with the body
/// `OK` (or none) → `Cancelled`, another 2xx body → a decode error, Upstash's 404 (a JSON
/// `error`) → `NotActive`, else an error. (`_run_id` is not read: the answer does not name the
/// run.)
pub fn cancel_answer(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    _run_id: &str,
) -> Result<CancelOutcome, CancelError> {
    let resp = response(status, headers, body);
    answer::path_cancel_outcome(&resp)
}

/// What a bulk call (a chunk of ids or a filter round) makes of an answer: the count and the
/// action id it carried.
pub fn bulk_answer(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Option<u64>, Option<String>), CancelError> {
    let resp = response(status, headers, body);
    answer::answer(Op::CancelMany, &resp, answer::decode_bulk).map(|a| (a.cancelled, a.action_id))
}

/// What `status` makes of a `GET /v2/workflows/logs` answer for run `run_id`.
pub fn status_answer(status: u16, headers: &HeaderMap, body: &[u8], run_id: &str) -> Result<RunState, CancelError> {
    let resp = response(status, headers, body);
    let op = Op::Status;
    answer::answer(op, &resp, |r| answer::decode_status(r, run_id))
}

/// What `bulk_action` makes of a `GET /v2/workflows/bulkActions/{id}` answer.
pub fn bulk_action_answer(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    action_id: &str,
) -> Result<BulkAction, CancelError> {
    let resp = response(status, headers, body);
    let op = Op::BulkAction(action_id);
    answer::answer(op, &resp, |r| answer::decode_bulk_action(r, action_id))
}

/// When a 429 says to retry: `Retry-After`, else the reset of the rate-limit family it hit
/// (chat, daily or burst; the one whose `-Remaining` is 0 when several are present).
pub fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    answer::rate_limit_wait(&response(429, headers, Vec::new().as_slice()), now)
}

/// A rate-limit reset header value: Unix seconds or milliseconds, or seconds from now.
pub fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    answer::parse_reset(value, now)
}

/// The retry hint the canceller gives the HTTP plumbing for an answer to a call that is safe to
/// repeat (single cancels, chunks of ids, reads). Never `Never`.
pub fn retry_hint(status: u16, headers: &HeaderMap, body: &[u8]) -> RetryDecision {
    answer::retry_hint(&response(status, headers, body))
}

/// The retry hint for filter and cancel-all rounds and background actions (calls that must not
/// run twice): `Never` for `5xx` and `408`, else as [`retry_hint`].
pub fn unrepeatable_retry_hint(status: u16, headers: &HeaderMap, body: &[u8]) -> RetryDecision {
    answer::unrepeatable_retry_hint(&response(status, headers, body))
}
