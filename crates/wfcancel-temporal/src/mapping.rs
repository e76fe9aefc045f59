//! The one place where Temporal's answers become shared types.
//!
//! Temporal's HTTP API answers errors as gRPC statuses in JSON:
//! `{"code": <gRPC code>, "message": "...", "details": [{"@type": "...Failure", ...}]}`.
//! The gRPC code decides the error (the HTTP status only when there is no code); the type of the
//! first detail tells apart the three 404s (an unknown workflow, an unknown namespace, a path the
//! gateway does not route) and the 409 of a batch job id already used.

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{
    BulkActionState, CancelError, ListedRun, NotFoundKind, RateLimitKind, RunPage, RunRef, RunState, parse_rfc3339,
};

use crate::BACKEND;
use crate::request::Op;

/// What the mapping needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) op: Op,
    /// The run (workflow operations), `None` for batch operations.
    pub(crate) run: Option<&'a RunRef>,
    /// The namespace the request named.
    pub(crate) namespace: &'a str,
    /// The batch job id (batch operations).
    pub(crate) job_id: Option<&'a str>,
    /// Whether an API key was sent.
    pub(crate) key_sent: bool,
}

/// A run as describe reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    pub(crate) state: RunState,
    /// The run id of the execution described (the current run when none was asked for).
    pub(crate) run_id: Option<String>,
}

/// A successful answer, or an answer that is a fact rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Describe: the run's state.
    Described(Described),
    /// Cancel or terminate: 200.
    Accepted,
    /// Describe-before-cancel, cancel or terminate: the namespace has no such workflow (or no
    /// such run of it).
    NoSuchRun,
    /// Terminate: `404 workflow execution already completed`.
    AlreadyClosed,
    /// Batch start: 200 (`existed: false`), or 409 "already started" for this job id
    /// (`existed: true`: an earlier attempt of this very start reached the server).
    BatchStarted { existed: bool },
    /// Batch describe: the job's state.
    Batch(BulkActionState),
    /// A visibility list of one workflow id: its open execution, else the latest closed one
    /// (`None`: no execution has this id).
    Listed(Option<Described>),
    /// A visibility list of running executions: (workflow id, run id) of each.
    Running(Vec<(String, String)>),
    /// A page of a listing.
    Page(RunPage),
    /// A count.
    Count(u64),
}

/// A gRPC status decoded from an error body.
#[derive(Debug, Default)]
struct Status {
    code: Option<i64>,
    message: String,
    detail_type: Option<String>,
}

fn decode_status(resp: &HttpResponse) -> Status {
    let Ok(json) = serde_json::from_slice::<Value>(&resp.body) else {
        return Status {
            message: resp.readable_body(),
            ..Status::default()
        };
    };
    let code = json.get("code").and_then(Value::as_i64);
    let message = match json.get("message").and_then(Value::as_str) {
        Some(m) if !m.trim().is_empty() => readable_body(m.as_bytes()),
        _ => resp.readable_body(),
    };
    let detail_type = json
        .get("details")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| d.get("@type"))
        .and_then(Value::as_str)
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned());
    Status {
        code,
        message,
        detail_type,
    }
}

/// gRPC codes.
mod code {
    pub const INVALID_ARGUMENT: i64 = 3;
    pub const DEADLINE_EXCEEDED: i64 = 4;
    pub const NOT_FOUND: i64 = 5;
    pub const ALREADY_EXISTS: i64 = 6;
    pub const PERMISSION_DENIED: i64 = 7;
    pub const RESOURCE_EXHAUSTED: i64 = 8;
    pub const FAILED_PRECONDITION: i64 = 9;
    pub const ABORTED: i64 = 10;
    pub const OUT_OF_RANGE: i64 = 11;
    pub const UNIMPLEMENTED: i64 = 12;
    pub const UNAVAILABLE: i64 = 14;
    pub const UNAUTHENTICATED: i64 = 16;
}

/// Turns an answer into an [`Answer`] or a [`CancelError`]: the one mapping of the backend.
///
/// | answer | result |
/// |---|---|
/// | 2xx describe | `Described` (status → state; running with `cancelRequested` → `Cancelling`) |
/// | 2xx cancel / terminate / batch start | `Accepted` / `BatchStarted` |
/// | 2xx batch describe | `Batch` (state and counts) |
/// | `code` 5, `NamespaceNotFoundFailure` | `NotFound{Other}` naming the namespace (a configuration error, never "not active") |
/// | `code` 5, `NotFoundFailure`, terminate, "already completed" | `AlreadyClosed` |
/// | `code` 5, `NotFoundFailure`, status | `NotFound{Run}` |
/// | `code` 5, `NotFoundFailure`, describe before a cancel, cancel, terminate | `NoSuchRun` |
/// | `code` 5, `NotFoundFailure`, batch describe | `NotFound{Action}` |
/// | `code` 5 without details (no route) | `NotFound{Other}`: check the base URL |
/// | `code` 6, batch start | `BatchStarted { existed: true }` |
/// | `code` 3, 9, 10, 11, other 4xx | `InvalidRequest` with the server's message |
/// | `code` 7 / 16 | `PermissionDenied` / `Unauthenticated` |
/// | `code` 8 (429) | `RateLimited` (retried; "Max concurrent batch operations is reached" too) |
/// | `code` 12 | `Unsupported` |
/// | `code` 4, 14 (503), other 5xx | `Provider` (retried) |
pub(crate) fn map_answer(ctx: &Context<'_>, resp: &HttpResponse) -> Result<Answer, CancelError> {
    let status = resp.status;
    if resp.is_success() {
        return match ctx.op {
            Op::Describe | Op::Status => decode_described(&resp.body).map(Answer::Described),
            Op::Cancel | Op::Terminate => cancel_answer_readable(&resp.body).map(|()| Answer::Accepted),
            Op::BatchStart => cancel_answer_readable(&resp.body).map(|()| Answer::BatchStarted { existed: false }),
            Op::BatchDescribe => decode_batch(ctx.job_id.unwrap_or_default(), &resp.body).map(Answer::Batch),
            Op::List | Op::ListStatus => decode_list(&resp.body).map(Answer::Listed),
            Op::ListRunning => decode_running(&resp.body).map(Answer::Running),
            Op::ListRuns => decode_page(&resp.body).map(Answer::Page),
            Op::Count => decode_count(&resp.body).map(Answer::Count),
        };
    }
    let st = decode_status(resp);
    let message = st.message.clone();
    let code = st.code.unwrap_or(match status {
        400 => code::INVALID_ARGUMENT,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::NOT_FOUND,
        409 => code::ALREADY_EXISTS,
        429 => code::RESOURCE_EXHAUSTED,
        501 => code::UNIMPLEMENTED,
        503 => code::UNAVAILABLE,
        _ => -1,
    });
    let err = match code {
        code::NOT_FOUND => return not_found(ctx, &st),
        code::ALREADY_EXISTS if ctx.op == Op::BatchStart => {
            return Ok(Answer::BatchStarted { existed: true });
        }
        code::UNAUTHENTICATED => CancelError::unauthenticated(
            BACKEND,
            if ctx.key_sent {
                message
            } else {
                format!("{message} (no API key was sent: set TEMPORAL_API_KEY)")
            },
        ),
        code::PERMISSION_DENIED => CancelError::permission_denied(BACKEND, message),
        code::RESOURCE_EXHAUSTED => CancelError::rate_limited(
            BACKEND,
            RateLimitKind::Unspecified,
            resp.headers
                .get("retry-after")
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
            message,
        ),
        code::UNIMPLEMENTED => CancelError::unsupported(BACKEND, format!("{}: {message}", ctx.op.name())),
        code::DEADLINE_EXCEEDED | code::UNAVAILABLE => {
            CancelError::provider(BACKEND, Some(if status >= 500 { status } else { 503 }), message)
        }
        code::INVALID_ARGUMENT
        | code::FAILED_PRECONDITION
        | code::ABORTED
        | code::OUT_OF_RANGE
        | code::ALREADY_EXISTS
            if status < 500 =>
        {
            CancelError::invalid_request(BACKEND, status, message)
        }
        _ if (400..500).contains(&status) && status != 408 && status != 429 => {
            CancelError::invalid_request(BACKEND, status, message)
        }
        _ => CancelError::provider(BACKEND, Some(status), message),
    };
    Err(err)
}

fn not_found(ctx: &Context<'_>, st: &Status) -> Result<Answer, CancelError> {
    let message = st.message.clone();
    match st.detail_type.as_deref() {
        Some("NamespaceNotFoundFailure") => Err(CancelError::not_found(
            BACKEND,
            NotFoundKind::Other,
            Some(ctx.namespace.to_owned()),
            format!("{message} (no such namespace: check TEMPORAL_NAMESPACE or the run's namespace)"),
        )),
        Some(_) => match ctx.op {
            Op::Terminate if message.to_ascii_lowercase().contains("already completed") => Ok(Answer::AlreadyClosed),
            Op::Describe | Op::Cancel | Op::Terminate | Op::List => Ok(Answer::NoSuchRun),
            Op::Status | Op::ListStatus => Err(CancelError::not_found(
                BACKEND,
                NotFoundKind::Run,
                ctx.run.map(|r| r.run_id().to_owned()),
                message,
            )),
            Op::ListRunning | Op::ListRuns | Op::Count => Err(CancelError::not_found(
                BACKEND,
                NotFoundKind::Other,
                None,
                format!("{message} (listing workflows in namespace {:?})", ctx.namespace),
            )),
            Op::BatchDescribe | Op::BatchStart => Err(CancelError::not_found(
                BACKEND,
                NotFoundKind::Action,
                ctx.job_id.map(str::to_owned),
                format!(
                    "no batch operation with this job id in namespace {:?}: {message}",
                    ctx.namespace
                ),
            )),
        },
        None => Err(CancelError::not_found(
            BACKEND,
            NotFoundKind::Other,
            None,
            format!(
                "{message} (no such endpoint: check that the base URL (TEMPORAL_HTTP_ADDRESS) is Temporal's HTTP API)"
            ),
        )),
    }
}

/// A 2xx to a cancel: Temporal's HTTP API answers `{}` (a batch start its job). A body that is neither blank nor JSON means something else
/// answered (a wrong base URL, a proxy's or a login page answering 200 to anything): no proof
/// the cancel was recorded, so a decode error rather than an outcome (as Agno's cancels).
fn cancel_answer_readable(body: &[u8]) -> Result<(), CancelError> {
    if body.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Ok(());
    }
    Err(CancelError::decode(
        BACKEND,
        format!(
            "a cancel was answered 2xx with a body that is not JSON ({}); Temporal's HTTP API answers JSON: \
             does the base URL (TEMPORAL_HTTP_ADDRESS) point at Temporal's HTTP API?",
            readable_body(body)
        ),
    ))
}

fn decode_error(what: &str, body: &[u8]) -> CancelError {
    CancelError::decode(BACKEND, format!("{what}: {}", readable_body(body)))
}

/// A describe answer: `workflowExecutionInfo.status`, `…execution.runId`,
/// `workflowExtendedInfo.cancelRequested`, `…closeTime` (for states this library does not name).
fn decode_described(body: &[u8]) -> Result<Described, CancelError> {
    // Read into the few fields it needs (every graceful cancel describes first: no tree of
    // the whole answer); an answer of another shape is read again as a tree, which names what
    // is wrong with it.
    if let Ok(typed::Obj(d)) = serde_json::from_slice::<typed::Obj<typed::Describe<'_>>>(body)
        && let Some(typed::Obj(info)) = d.info
        && let Some(status) = info.status
    {
        return Ok(Described {
            state: parse_state(
                &status,
                d.extended.and_then(|e| e.0.cancel_requested).unwrap_or(false),
                info.close_time.is_some(),
            ),
            run_id: info.execution.and_then(|e| e.0.run_id).map(String::from),
        });
    }
    decode_described_tree(body)
}

/// The fields of a describe answer [`decode_described`] reads (the rest is skipped unread).
mod typed {
    use std::borrow::Cow;
    use std::marker::PhantomData;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{IgnoredAny, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    /// `T` read from a JSON object only (a derived struct would also take an array, field by
    /// field in order, which the tree read does not).
    pub(super) struct Obj<T>(pub(super) T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct ObjectOnly<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
                type Value = T;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                    T::deserialize(MapAccessDeserializer::new(map))
                }
            }
            d.deserialize_map(ObjectOnly(PhantomData)).map(Obj)
        }
    }

    #[derive(Deserialize)]
    pub(super) struct Describe<'a> {
        #[serde(rename = "workflowExecutionInfo", borrow)]
        pub(super) info: Option<Obj<Info<'a>>>,
        #[serde(rename = "workflowExtendedInfo")]
        pub(super) extended: Option<Obj<Extended>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Info<'a> {
        #[serde(borrow)]
        pub(super) status: Option<Cow<'a, str>>,
        /// Present and not `null` once the execution closed.
        #[serde(rename = "closeTime")]
        pub(super) close_time: Option<IgnoredAny>,
        #[serde(borrow)]
        pub(super) execution: Option<Obj<Execution<'a>>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Execution<'a> {
        #[serde(rename = "runId", borrow)]
        pub(super) run_id: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Extended {
        #[serde(rename = "cancelRequested")]
        pub(super) cancel_requested: Option<bool>,
    }
}

/// [`decode_described`] for an answer of an unexpected shape: read as a tree.
fn decode_described_tree(body: &[u8]) -> Result<Described, CancelError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|_| decode_error("the describe answer is not JSON", body))?;
    let info = json
        .get("workflowExecutionInfo")
        .ok_or_else(|| decode_error("the describe answer has no workflowExecutionInfo", body))?;
    let status = info
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| decode_error("the describe answer has no status", body))?;
    let cancel_requested = json
        .get("workflowExtendedInfo")
        .and_then(|e| e.get("cancelRequested"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let closed = info.get("closeTime").is_some_and(|t| !t.is_null());
    let run_id = info
        .get("execution")
        .and_then(|e| e.get("runId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Described {
        state: parse_state(status, cancel_requested, closed),
        run_id,
    })
}

/// A visibility list answer (`{"executions":[…]}`, `{}` when none): the open execution if any
/// (a workflow id has at most one), else the first listed (the server lists the latest first).
/// Visibility has no `cancelRequested`: an open execution reads `Running`.
fn decode_list(body: &[u8]) -> Result<Option<Described>, CancelError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| decode_error("the list answer is not JSON", body))?;
    let executions = match json.get("executions") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(decode_error("the list answer's executions is not an array", body)),
    };
    let mut listed = Vec::with_capacity(executions.len());
    for e in executions {
        let status = e
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| decode_error("a listed execution has no status", body))?;
        let closed = e.get("closeTime").is_some_and(|t| !t.is_null());
        let run_id = e
            .get("execution")
            .and_then(|x| x.get("runId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        listed.push(Described {
            state: parse_state(status, false, closed),
            run_id,
        });
    }
    let open = listed.iter().position(|d| !d.state.is_terminal());
    Ok(match open {
        Some(i) => Some(listed.swap_remove(i)),
        None => listed.into_iter().next(),
    })
}

/// A page of a visibility listing: `{"executions": [{"execution": {"workflowId", "runId"},
/// "type": {"name"}, "startTime", "status", "closeTime"}], "nextPageToken": "…"}` (`{}` when
/// none; an empty or missing token on the last page). Each run is addressed by workflow id and
/// run id; its state is the listed status (visibility has no "cancel requested": a workflow
/// asked to cancel lists as running).
fn decode_page(body: &[u8]) -> Result<RunPage, CancelError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| decode_error("the list answer is not JSON", body))?;
    let executions = match json.get("executions") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(decode_error("the list answer's executions is not an array", body)),
    };
    let mut runs = Vec::with_capacity(executions.len());
    for e in executions {
        let exec = e.get("execution");
        let id = exec
            .and_then(|x| x.get("workflowId"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| decode_error("a listed execution has no workflowId", body))?;
        let status = e
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| decode_error("a listed execution has no status", body))?;
        let closed = e.get("closeTime").is_some_and(|t| !t.is_null());
        let mut run = RunRef::new(id);
        if let Some(rid) = exec
            .and_then(|x| x.get("runId"))
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            run = run.sub_id(rid);
        }
        let mut listed = ListedRun::new(run, parse_state(status, false, closed));
        if let Some(name) = e.get("type").and_then(|t| t.get("name")).and_then(Value::as_str) {
            listed = listed.workflow(name);
        }
        if let Some(t) = e.get("startTime").and_then(Value::as_str).and_then(parse_rfc3339) {
            listed = listed.created(t);
        }
        runs.push(listed);
    }
    let next = json
        .get("nextPageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(RunPage::new(runs, next))
}

/// A count answer: `{"count": "3"}` (`{}` when zero).
fn decode_count(body: &[u8]) -> Result<u64, CancelError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| decode_error("the count answer is not JSON", body))?;
    match json.get("count") {
        None | Some(Value::Null) if json.is_object() => Ok(0),
        v => count(v).ok_or_else(|| decode_error("the count answer has no count", body)),
    }
}

/// A visibility list of running executions (`{"executions":[…]}`, `{}` when none): the workflow
/// id and run id of each execution that is open (status running, no close time).
fn decode_running(body: &[u8]) -> Result<Vec<(String, String)>, CancelError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| decode_error("the list answer is not JSON", body))?;
    let executions = match json.get("executions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(decode_error("the list answer's executions is not an array", body)),
    };
    let mut running = Vec::with_capacity(executions.len());
    for e in executions {
        let status = e
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| decode_error("a listed execution has no status", body))?;
        let closed = e.get("closeTime").is_some_and(|t| !t.is_null());
        let execution = e.get("execution");
        let field = |k: &str| execution.and_then(|x| x.get(k)).and_then(Value::as_str);
        if let (RunState::Running, Some(wf), Some(run)) =
            (parse_state(status, false, closed), field("workflowId"), field("runId"))
        {
            running.push((wf.to_owned(), run.to_owned()));
        }
    }
    Ok(running)
}

/// Temporal's `WorkflowExecutionStatus` (with or without its `WORKFLOW_EXECUTION_STATUS_`
/// prefix, any case). A running workflow whose cancel was requested is `Cancelling`. A status
/// this library does not name is `Unknown`, terminal when the answer has a close time.
pub(crate) fn parse_state(status: &str, cancel_requested: bool, closed: bool) -> RunState {
    let upper = status.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("WORKFLOW_EXECUTION_STATUS_").unwrap_or(&upper);
    match name {
        "RUNNING" if cancel_requested => RunState::Cancelling,
        "RUNNING" => RunState::Running,
        "PAUSED" => RunState::Paused,
        "COMPLETED" => RunState::Completed,
        "FAILED" => RunState::Failed,
        "CANCELED" | "CANCELLED" => RunState::Cancelled,
        "TERMINATED" => RunState::Terminated,
        "TIMED_OUT" => RunState::TimedOut,
        "CONTINUED_AS_NEW" => RunState::unknown("continued_as_new", true),
        _ => RunState::unknown(name.to_ascii_lowercase(), closed),
    }
}

/// An int64 of proto3 JSON: a string (`"3"`) or a number.
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// A batch describe answer: `state` and the operation counts.
fn decode_batch(job_id: &str, body: &[u8]) -> Result<BulkActionState, CancelError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|_| decode_error("the batch operation answer is not JSON", body))?;
    if !json.is_object() {
        return Err(decode_error("the batch operation answer is not an object", body));
    }
    let state = json
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("BATCH_OPERATION_STATE_UNSPECIFIED");
    let short = state.strip_prefix("BATCH_OPERATION_STATE_").unwrap_or(state);
    let finished = matches!(short, "COMPLETED" | "FAILED");
    let total = count(json.get("totalOperationCount"));
    let complete = count(json.get("completeOperationCount"));
    let failed = count(json.get("failureOperationCount"));
    let processed = match (complete, failed) {
        (None, None) => None,
        (c, f) => Some(c.unwrap_or(0) + f.unwrap_or(0)),
    };
    let id = json.get("jobId").and_then(Value::as_str).unwrap_or(job_id);
    Ok(BulkActionState::new(id, short.to_ascii_lowercase(), finished).counts(
        total,
        processed,
        Some(complete.unwrap_or(0)),
        Some(failed.unwrap_or(0)),
    ))
}

/// Whether the plumbing may retry this answer: only answers that map to a retryable error
/// (429, 503, other 5xx); never an answer that means something definite.
pub(crate) fn retry_decision(ctx: &Context<'_>, resp: &HttpResponse) -> RetryDecision {
    match map_answer(ctx, resp) {
        Err(e) if e.is_retryable() => RetryDecision::Default,
        _ => RetryDecision::Never,
    }
}

#[cfg(test)]
mod tests {
    use wfcancel_core::http::HeaderMap;

    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, HeaderMap::new(), body.to_owned())
    }

    fn map(op: Op, status: u16, body: &str) -> Result<Answer, CancelError> {
        let run = RunRef::new("wf-1");
        let ctx = Context {
            op,
            run: Some(&run),
            namespace: "default",
            job_id: Some("job-1"),
            key_sent: false,
        };
        map_answer(&ctx, &resp(status, body))
    }

    const NOT_FOUND: &str = r#"{"code":5,"message":"workflow not found for ID: nope","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}]}"#;
    const CLOSED: &str = r#"{"code":5,"message":"workflow execution already completed","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}]}"#;
    const NO_NS: &str = r#"{"code":5,"message":"Namespace nons is not found.","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure","namespace":"nons"}]}"#;

    #[test]
    fn describe_states() {
        let body = |status: &str, extra: &str| {
            format!(
                r#"{{"workflowExecutionInfo":{{"execution":{{"workflowId":"w","runId":"r-1"}},"status":"{status}"{extra}}},"workflowExtendedInfo":{{"cancelRequested":false}}}}"#
            )
        };
        let cases = [
            ("WORKFLOW_EXECUTION_STATUS_RUNNING", RunState::Running),
            ("WORKFLOW_EXECUTION_STATUS_COMPLETED", RunState::Completed),
            ("WORKFLOW_EXECUTION_STATUS_FAILED", RunState::Failed),
            ("WORKFLOW_EXECUTION_STATUS_CANCELED", RunState::Cancelled),
            ("WORKFLOW_EXECUTION_STATUS_TERMINATED", RunState::Terminated),
            ("WORKFLOW_EXECUTION_STATUS_TIMED_OUT", RunState::TimedOut),
            ("WORKFLOW_EXECUTION_STATUS_PAUSED", RunState::Paused),
            (
                "WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW",
                RunState::unknown("continued_as_new", true),
            ),
            (
                "WORKFLOW_EXECUTION_STATUS_NEW_THING",
                RunState::unknown("new_thing", false),
            ),
        ];
        for (s, want) in cases {
            let got = map(Op::Status, 200, &body(s, ""));
            assert_eq!(
                got,
                Ok(Answer::Described(Described {
                    state: want,
                    run_id: Some("r-1".into())
                })),
                "{s}"
            );
        }
        let closed_unknown = map(
            Op::Status,
            200,
            &body("WEIRD", r#","closeTime":"2026-01-01T00:00:00Z""#),
        );
        assert!(matches!(closed_unknown, Ok(Answer::Described(d)) if d.state == RunState::unknown("weird", true)));
        let cancelling = r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING"},"workflowExtendedInfo":{"cancelRequested":true}}"#;
        assert!(
            matches!(map(Op::Status, 200, cancelling), Ok(Answer::Described(d)) if d.state == RunState::Cancelling && d.run_id.is_none())
        );
        for bad in ["", "nope", "{}", r#"{"workflowExecutionInfo":{}}"#] {
            assert!(
                matches!(map(Op::Status, 200, bad), Err(CancelError::Decode { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn not_founds() {
        assert_eq!(map(Op::Cancel, 404, NOT_FOUND), Ok(Answer::NoSuchRun));
        assert_eq!(map(Op::Describe, 404, NOT_FOUND), Ok(Answer::NoSuchRun));
        assert_eq!(map(Op::Terminate, 404, NOT_FOUND), Ok(Answer::NoSuchRun));
        assert_eq!(map(Op::Terminate, 404, CLOSED), Ok(Answer::AlreadyClosed));
        assert!(matches!(
            map(Op::Status, 404, NOT_FOUND),
            Err(CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), .. }) if i == "wf-1"
        ));
        for op in [Op::Cancel, Op::Terminate, Op::Status, Op::Describe, Op::BatchStart] {
            let e = map(op, 404, NO_NS).unwrap_err();
            assert!(
                matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, id: Some(ns), message, .. } if ns == "default" && message.contains("namespace")),
                "{e:?}"
            );
        }
        assert!(matches!(
            map(Op::BatchDescribe, 404, NOT_FOUND),
            Err(CancelError::NotFound { what: NotFoundKind::Action, id: Some(i), .. }) if i == "job-1"
        ));
        // A path the gateway does not route (an id with '/', a wrong base URL).
        let e = map(Op::Cancel, 404, r#"{"code":5,"message":"Not Found","details":[]}"#).unwrap_err();
        assert!(
            matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, message, .. } if message.contains("TEMPORAL_HTTP_ADDRESS")),
            "{e:?}"
        );
        let e = map(Op::Cancel, 404, "404 page not found").unwrap_err();
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
    }

    #[test]
    fn codes() {
        let e = map(Op::Cancel, 400, r#"{"code":3,"message":"Invalid RunId."}"#).unwrap_err();
        assert_eq!(e, CancelError::invalid_request(BACKEND, 400, "Invalid RunId."));
        assert_eq!(
            map(
                Op::BatchStart,
                409,
                r#"{"code":6,"message":"Workflow execution already finished."}"#
            ),
            Ok(Answer::BatchStarted { existed: true })
        );
        assert!(matches!(
            map(Op::Cancel, 409, r#"{"code":6,"message":"x"}"#),
            Err(CancelError::InvalidRequest { status: 409, .. })
        ));
        let e = map(Op::Cancel, 401, r#"{"code":16,"message":"Request unauthorized."}"#).unwrap_err();
        assert!(
            matches!(&e, CancelError::Unauthenticated { message, .. } if message.contains("TEMPORAL_API_KEY")),
            "{e:?}"
        );
        assert!(matches!(
            map(Op::Cancel, 403, r#"{"code":7,"message":"no"}"#),
            Err(CancelError::PermissionDenied { .. })
        ));
        let e = map(
            Op::BatchStart,
            429,
            r#"{"code":8,"message":"Max concurrent batch operations is reached"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(e, CancelError::RateLimited { .. }) && e.is_retryable(),
            "{e:?}"
        );
        assert!(matches!(
            map(Op::Cancel, 400, r#"{"code":9,"message":"Namespace is not active"}"#),
            Err(CancelError::InvalidRequest { status: 400, .. })
        ));
        assert!(matches!(
            map(Op::Cancel, 501, r#"{"code":12,"message":"x"}"#),
            Err(CancelError::Unsupported { .. })
        ));
        let e = map(Op::Cancel, 503, r#"{"code":14,"message":"unavailable"}"#).unwrap_err();
        assert!(matches!(e, CancelError::Provider { status: Some(503), .. }) && e.is_retryable());
        let e = map(Op::Cancel, 502, "<html><title>502 Bad Gateway</title></html>").unwrap_err();
        assert!(matches!(&e, CancelError::Provider { status: Some(502), message, .. } if message == "502 Bad Gateway"));
        assert!(matches!(
            map(Op::Cancel, 418, ""),
            Err(CancelError::InvalidRequest { status: 418, .. })
        ));
    }

    #[test]
    fn batch_states() {
        let running = r#"{"operationType":"BATCH_OPERATION_TYPE_CANCEL_WORKFLOW","jobId":"job-1","state":"BATCH_OPERATION_STATE_RUNNING"}"#;
        let Ok(Answer::Batch(b)) = map(Op::BatchDescribe, 200, running) else {
            panic!()
        };
        assert_eq!(
            (b.state.as_str(), b.finished, b.total, b.processed),
            ("running", false, None, None)
        );
        let done = r#"{"jobId":"job-1","state":"BATCH_OPERATION_STATE_COMPLETED","totalOperationCount":"3","completeOperationCount":"2","failureOperationCount":1}"#;
        let Ok(Answer::Batch(b)) = map(Op::BatchDescribe, 200, done) else {
            panic!()
        };
        assert_eq!(
            (
                b.state.as_str(),
                b.finished,
                b.total,
                b.processed,
                b.cancelled,
                b.failed
            ),
            ("completed", true, Some(3), Some(3), Some(2), Some(1))
        );
        assert!(matches!(
            map(Op::BatchDescribe, 200, "[]"),
            Err(CancelError::Decode { .. })
        ));
    }

    #[test]
    fn retries() {
        let run = RunRef::new("w");
        let ctx = Context {
            op: Op::Cancel,
            run: Some(&run),
            namespace: "default",
            job_id: None,
            key_sent: true,
        };
        assert_eq!(retry_decision(&ctx, &resp(503, "")), RetryDecision::Default);
        assert_eq!(
            retry_decision(&ctx, &resp(429, r#"{"code":8}"#)),
            RetryDecision::Default
        );
        assert_eq!(retry_decision(&ctx, &resp(404, NOT_FOUND)), RetryDecision::Never);
        assert_eq!(retry_decision(&ctx, &resp(200, "{}")), RetryDecision::Never);
    }

    #[test]
    fn a_cancel_answered_2xx_with_a_body_that_is_not_json_is_not_accepted() {
        for op in [Op::Cancel, Op::Terminate, Op::BatchStart] {
            assert!(map(op, 200, "{}").is_ok(), "{op:?}");
            assert!(map(op, 200, "").is_ok(), "{op:?}");
            for body in ["<<this is not json>>", "<html><title>Sign in</title></html>", "OK"] {
                let e = map(op, 200, body).unwrap_err();
                assert!(
                    matches!(&e, CancelError::Decode { message, .. } if message.contains("not JSON") && message.contains("TEMPORAL_HTTP_ADDRESS")),
                    "{op:?} {body}: {e:?}"
                );
            }
        }
    }

    /// The field-by-field read of a describe answer says what the tree read says, whatever the
    /// shape (the tree read is the fallback for shapes the typed one refuses).
    #[test]
    fn typed_describe_read_agrees_with_the_tree_read() {
        let bodies = [
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING","execution":{"workflowId":"w","runId":"r1"}},"workflowExtendedInfo":{"cancelRequested":true},"pendingActivities":[{"x":[1,2,{"y":null}]}]}"#,
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING","closeTime":null,"execution":{"runId":"r\u0032"}}}"#,
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_CANCELED","closeTime":"2026-11-27T00:00:00Z"}}"#,
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING","execution":{"runId":7}},"workflowExtendedInfo":{"cancelRequested":"yes"}}"#,
            r#"{"workflowExecutionInfo":{"status":"SOMETHING_NEW","closeTime":{"seconds":1}}}"#,
            r#"{"workflowExecutionInfo":{"status":3}}"#,
            r#"{"workflowExecutionInfo":null}"#,
            r#"{}"#,
            r#"not json"#,
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING"},"workflowExtendedInfo":[true]}"#,
            r#"[["WORKFLOW_EXECUTION_STATUS_RUNNING",null,null],[true]]"#,
            r#"{"workflowExecutionInfo":["WORKFLOW_EXECUTION_STATUS_RUNNING",null,{"runId":"r"}]}"#,
            r#"{"workflowExecutionInfo":{"status":"WORKFLOW_EXECUTION_STATUS_RUNNING","execution":["w","r"]}}"#,
        ];
        for body in bodies {
            let typed = decode_described(body.as_bytes()).map_err(|e| e.to_string());
            let tree = decode_described_tree(body.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(typed, tree, "{body}");
        }
        let d = decode_described(bodies[1].as_bytes()).unwrap();
        assert_eq!(d.run_id.as_deref(), Some("r2"), "escapes are decoded");
    }
}
