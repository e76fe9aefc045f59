//! The answer parsers, callable on raw bytes (for the cargo-fuzz targets in `fuzz/` and for
//! tests). Not part of the stable API: each function runs exactly the code the canceller runs
//! on an answer, and may change with it.

use wfcancel_core::http::{HeaderMap, HttpResponse, RetryDecision};
use wfcancel_core::{CancelError, CancelOutcome, RunRef, RunState};

use crate::mapping::{self, Answer, Context};
use crate::request::Op;

fn map(
    op: Op,
    run: &RunRef,
    key_sent: bool,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<Answer, CancelError>, RetryDecision) {
    let resp = HttpResponse::new(status, headers.clone(), body.to_vec());
    let ctx = Context { op, run, key_sent };
    (mapping::map_answer(&ctx, &resp), mapping::retry_decision(&ctx, &resp))
}

fn unexpected(answer: Answer) -> CancelError {
    CancelError::provider(crate::BACKEND, None, format!("internal: mapped to {answer:?}"))
}

/// What a cancel of `run` makes of an answer, and whether it would be retried.
pub fn cancel_answer(
    run: &RunRef,
    key_sent: bool,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<CancelOutcome, CancelError>, RetryDecision) {
    let (r, retry) = map(Op::Cancel, run, key_sent, status, headers, body);
    let r = r.and_then(|a| match a {
        Answer::Outcome(o) => Ok(o),
        other => Err(unexpected(other)),
    });
    (r, retry)
}

/// What a status read of `run` makes of an answer, and whether it would be retried.
pub fn status_answer(
    run: &RunRef,
    key_sent: bool,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<RunState, CancelError>, RetryDecision) {
    let (r, retry) = map(Op::Status, run, key_sent, status, headers, body);
    let r = r.and_then(|a| match a {
        Answer::State(s) => Ok(s),
        other => Err(unexpected(other)),
    });
    (r, retry)
}

/// The error message AgentOS put in a body: FastAPI's `detail` (string or 422 array), another
/// message field, or the body made readable.
pub fn detail(body: &[u8]) -> String {
    mapping::detail(body)
}

/// A run status name (`RUNNING`, `CANCELLED`, …) as a [`RunState`].
pub fn parse_state(s: &str) -> RunState {
    mapping::parse_state(s)
}
