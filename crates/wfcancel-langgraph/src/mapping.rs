//! The one place where LangGraph's answers become shared types.
//!
//! The Agent Server answers errors as `{"detail": "..."}` (FastAPI/Starlette style); the status
//! decides the error, the detail text only tells the two 404s of a cancel apart.

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{CancelError, Inactive, ListedRun, NotFoundKind, RateLimitKind, RunRef, RunState, parse_rfc3339};

use crate::BACKEND;
use crate::request::Op;

/// What the mapping needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) op: Op,
    /// The run id of a run request.
    pub(crate) run_id: Option<&'a str>,
    /// The thread id of a thread or run request.
    pub(crate) thread_id: Option<&'a str>,
    /// Whether an API key was sent.
    pub(crate) key_sent: bool,
}

/// A successful answer, or an answer that is a fact rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A cancel: 202 (one run) or 204 (`/runs/cancel`).
    Accepted,
    /// A cancel: 404, nothing to cancel. The detail text's hint: `No matching runs to cancel…`
    /// (the runs exist and are over) → `Finished`; `No runs found to cancel.` (no such run, or
    /// no such thread) → `NoSuchRun`; any other text → `Unspecified`.
    NothingToCancel(Inactive),
    /// A run read: its state.
    State(RunState),
    /// A run read before or after a cancel: 404 (no such run, or no such thread).
    NoSuchRun,
    /// Threads search: the thread ids of one page.
    Threads(Vec<String>),
    /// Runs list: `(run_id, state)` of one page.
    Runs(Vec<(String, RunState)>),
    /// Runs list for a listing page: each run of the thread with its state, assistant and
    /// creation time.
    Listed(Vec<ListedRun>),
}

/// The detail of an error body: `detail` (a string, or FastAPI's list of `{msg}`), else
/// `message`, else the body as readable text.
fn detail(resp: &HttpResponse) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(&resp.body) else {
        return resp.readable_body();
    };
    let text = match json.get("detail").or_else(|| json.get("message")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.get("msg").and_then(Value::as_str) {
                Some(m) => m.to_owned(),
                None => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
        None => return resp.readable_body(),
    };
    wfcancel_core::http::readable_body(text.as_bytes())
}

/// The hint a 404 detail gives about a cancel with nothing to cancel.
pub(crate) fn inactive_hint(detail: &str) -> Inactive {
    let d = detail.to_ascii_lowercase();
    if d.starts_with("no matching runs to cancel") {
        Inactive::Finished
    } else if d.starts_with("no runs found to cancel") {
        Inactive::NoSuchRun
    } else {
        Inactive::Unspecified
    }
}

/// LangGraph's run `status`: `pending`, `running`, `success` (→ completed), `error` (→ failed),
/// `timeout` (→ timed out), `interrupted` (→ cancelled: what `action=interrupt` leaves). Any
/// other name is `Unknown`, terminal when its name reads as over.
pub(crate) fn parse_state(status: &str) -> RunState {
    match status.trim().to_ascii_lowercase().as_str() {
        "pending" => RunState::Pending,
        "running" => RunState::Running,
        "success" => RunState::Completed,
        "error" => RunState::Failed,
        "timeout" => RunState::TimedOut,
        "interrupted" => RunState::Cancelled,
        other => RunState::unknown(other, RunState::name_looks_terminal(other)),
    }
}

fn decode_error(what: &str, resp: &HttpResponse) -> CancelError {
    CancelError::decode(BACKEND, format!("{what}: {}", resp.readable_body()))
}

fn run_state(json: &Value) -> Option<RunState> {
    json.get("status").and_then(Value::as_str).map(parse_state)
}

/// A 2xx to a cancel: the Agent Server answers `202` or `204` with an empty body. A body that is neither blank nor JSON means something else
/// answered (a wrong base URL, a proxy's or a login page answering 200 to anything): no proof
/// the cancel was recorded, so a decode error rather than an outcome (as Agno's cancels).
fn cancel_answer_readable(body: &[u8]) -> Result<(), CancelError> {
    if body.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<Value>(body).is_ok() {
        return Ok(());
    }
    Err(CancelError::decode(
        BACKEND,
        format!(
            "a cancel was answered 2xx with a body that is not JSON ({}); the Agent Server answers an empty body: \
             does the base URL (LANGGRAPH_API_URL) point at a LangGraph Agent Server?",
            readable_body(body)
        ),
    ))
}

/// Turns an answer into an [`Answer`] or a [`CancelError`]: the one mapping of the backend.
///
/// | answer | result |
/// |---|---|
/// | 2xx cancel (202 one run, 204 `/runs/cancel`) | `Accepted` |
/// | 2xx run read | `State` (`status` → [`RunState`]) |
/// | 2xx threads search / runs list | `Threads` / `Runs` |
/// | 404 cancel | `NothingToCancel`, with the detail's hint (`No matching runs…` → finished, `No runs found…` → no such run) |
/// | 404 run read (before or after a cancel) | `NoSuchRun` |
/// | 404 status | `NotFound{Run}` |
/// | 404 runs list | `NotFound{Other}` naming the thread (it was deleted meanwhile) |
/// | 404 threads search | `NotFound{Other}`: check the deployment URL |
/// | 401 / 403 | `Unauthenticated` (saying when no key was sent) / `PermissionDenied` |
/// | 422 (the server refused an id or a body), 400, 409, other 4xx | `InvalidRequest` with the detail |
/// | 429 | `RateLimited` with `Retry-After` (retried) |
/// | 408, 5xx | `Provider` (retried) |
pub(crate) fn map_answer(ctx: &Context<'_>, resp: &HttpResponse) -> Result<Answer, CancelError> {
    let status = resp.status;
    if resp.is_success() {
        return match ctx.op {
            Op::Cancel | Op::CancelThreadRuns | Op::CancelByStatus => {
                cancel_answer_readable(&resp.body).map(|()| Answer::Accepted)
            }
            Op::Read | Op::Status => {
                let json: Value =
                    serde_json::from_slice(&resp.body).map_err(|_| decode_error("the run is not JSON", resp))?;
                run_state(&json)
                    .map(Answer::State)
                    .ok_or_else(|| decode_error("the run has no status", resp))
            }
            Op::SearchThreads => {
                let json: Value = serde_json::from_slice(&resp.body)
                    .map_err(|_| decode_error("the thread search answer is not JSON", resp))?;
                let items = json
                    .as_array()
                    .ok_or_else(|| decode_error("the thread search answer is not a list", resp))?;
                items
                    .iter()
                    .map(|t| t.get("thread_id").and_then(Value::as_str).map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Answer::Threads)
                    .ok_or_else(|| decode_error("a thread without thread_id", resp))
            }
            Op::ListPage => {
                let json: Value =
                    serde_json::from_slice(&resp.body).map_err(|_| decode_error("the run list is not JSON", resp))?;
                let items = json
                    .as_array()
                    .ok_or_else(|| decode_error("the run list is not a list", resp))?;
                let thread = ctx.thread_id.unwrap_or_default();
                items
                    .iter()
                    .map(|r| {
                        let id = r.get("run_id")?.as_str()?;
                        let mut run = ListedRun::new(RunRef::new(id).thread(thread), run_state(r)?);
                        if let Some(a) = r.get("assistant_id").and_then(Value::as_str) {
                            run = run.workflow(a);
                        }
                        if let Some(t) = r.get("created_at").and_then(Value::as_str).and_then(parse_rfc3339) {
                            run = run.created(t);
                        }
                        Some(run)
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(Answer::Listed)
                    .ok_or_else(|| decode_error("a run without run_id or status", resp))
            }
            Op::ListRuns => {
                let json: Value =
                    serde_json::from_slice(&resp.body).map_err(|_| decode_error("the run list is not JSON", resp))?;
                let items = json
                    .as_array()
                    .ok_or_else(|| decode_error("the run list is not a list", resp))?;
                items
                    .iter()
                    .map(|r| Some((r.get("run_id")?.as_str()?.to_owned(), run_state(r)?)))
                    .collect::<Option<Vec<_>>>()
                    .map(Answer::Runs)
                    .ok_or_else(|| decode_error("a run without run_id or status", resp))
            }
        };
    }
    let message = detail(resp);
    let err = match status {
        404 => match ctx.op {
            op if op.is_cancel() => return Ok(Answer::NothingToCancel(inactive_hint(&message))),
            Op::Read => return Ok(Answer::NoSuchRun),
            Op::Status => CancelError::not_found(
                BACKEND,
                NotFoundKind::Run,
                ctx.run_id.map(str::to_owned),
                format!("{message} (no such run in thread {})", ctx.thread_id.unwrap_or("?")),
            ),
            Op::ListRuns | Op::ListPage => {
                CancelError::not_found(BACKEND, NotFoundKind::Other, ctx.thread_id.map(str::to_owned), message)
            }
            _ => CancelError::not_found(
                BACKEND,
                NotFoundKind::Other,
                None,
                format!("{message} (no such endpoint: check the deployment URL, LANGGRAPH_API_URL)"),
            ),
        },
        401 => CancelError::unauthenticated(
            BACKEND,
            if ctx.key_sent {
                format!("{message} (the API key was refused)")
            } else {
                format!("{message} (no API key was sent: set LANGGRAPH_API_KEY or LANGSMITH_API_KEY)")
            },
        ),
        403 => CancelError::permission_denied(BACKEND, message),
        429 => CancelError::rate_limited(
            BACKEND,
            RateLimitKind::Unspecified,
            resp.headers
                .get("retry-after")
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
            message,
        ),
        408 => CancelError::provider(BACKEND, Some(status), message),
        s if (400..500).contains(&s) => CancelError::invalid_request(BACKEND, s, message),
        s => CancelError::provider(BACKEND, Some(s), message),
    };
    Err(err)
}

/// Whether the plumbing may retry this answer: only answers that map to a retryable error
/// (408, 429, 5xx); never an answer that means something definite.
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

    fn map(op: Op, status: u16, body: &str, key_sent: bool) -> Result<Answer, CancelError> {
        let ctx = Context {
            op,
            run_id: Some("r"),
            thread_id: Some("t"),
            key_sent,
        };
        map_answer(&ctx, &HttpResponse::new(status, HeaderMap::new(), body.to_owned()))
    }

    const FINISHED: &str = r#"{"detail":"No matching runs to cancel. Please verify the thread ID and run IDs are correct, and the runs haven't been deleted or completed."}"#;
    const UNKNOWN: &str = r#"{"detail":"No runs found to cancel."}"#;

    #[test]
    fn states() {
        for (s, want) in [
            ("pending", RunState::Pending),
            ("running", RunState::Running),
            ("success", RunState::Completed),
            ("error", RunState::Failed),
            ("timeout", RunState::TimedOut),
            ("interrupted", RunState::Cancelled),
            ("SUCCESS", RunState::Completed),
            ("archived", RunState::unknown("archived", false)),
            ("aborted", RunState::unknown("aborted", true)),
        ] {
            assert_eq!(parse_state(s), want, "{s}");
            let body = format!(r#"{{"run_id":"r","thread_id":"t","status":"{s}"}}"#);
            assert_eq!(map(Op::Status, 200, &body, false), Ok(Answer::State(want)), "{s}");
        }
        for bad in ["", "nope", "{}", "[]", r#"{"status":1}"#] {
            assert!(
                matches!(map(Op::Read, 200, bad, false), Err(CancelError::Decode { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cancels() {
        for op in [Op::Cancel, Op::CancelThreadRuns, Op::CancelByStatus] {
            assert_eq!(map(op, 202, "", false), Ok(Answer::Accepted));
            assert_eq!(map(op, 204, "", false), Ok(Answer::Accepted));
            assert_eq!(
                map(op, 404, FINISHED, false),
                Ok(Answer::NothingToCancel(Inactive::Finished))
            );
            assert_eq!(
                map(op, 404, UNKNOWN, false),
                Ok(Answer::NothingToCancel(Inactive::NoSuchRun))
            );
            assert_eq!(
                map(op, 404, "Not Found", false),
                Ok(Answer::NothingToCancel(Inactive::Unspecified))
            );
        }
        let e = map(Op::Cancel, 422, r#"{"detail":"Invalid run ID: must be a UUID"}"#, false).unwrap_err();
        assert_eq!(
            e,
            CancelError::invalid_request(BACKEND, 422, "Invalid run ID: must be a UUID")
        );
    }

    #[test]
    fn not_founds_and_errors() {
        assert_eq!(
            map(Op::Read, 404, r#"{"detail":"Not Found"}"#, false),
            Ok(Answer::NoSuchRun)
        );
        assert_eq!(
            map(Op::Read, 404, r#"{"detail":"Thread with ID t not found"}"#, false),
            Ok(Answer::NoSuchRun)
        );
        assert!(matches!(
            map(Op::Status, 404, r#"{"detail":"Not Found"}"#, false),
            Err(CancelError::NotFound { what: NotFoundKind::Run, id: Some(ref r), .. }) if r == "r"
        ));
        let e = map(Op::SearchThreads, 404, "Not Found", false).unwrap_err();
        assert!(
            matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, message, .. } if message.contains("LANGGRAPH_API_URL")),
            "{e:?}"
        );
        let e = map(Op::Cancel, 401, r#"{"detail":"Invalid API key"}"#, false).unwrap_err();
        assert!(
            matches!(&e, CancelError::Unauthenticated { message, .. } if message.contains("no API key was sent")),
            "{e:?}"
        );
        let e = map(Op::Cancel, 401, r#"{"detail":"Invalid API key"}"#, true).unwrap_err();
        assert!(
            matches!(&e, CancelError::Unauthenticated { message, .. } if message.contains("refused")),
            "{e:?}"
        );
        assert!(matches!(
            map(Op::Cancel, 403, r#"{"detail":"Forbidden"}"#, true),
            Err(CancelError::PermissionDenied { .. })
        ));
        let e = map(Op::Cancel, 429, "slow down", true).unwrap_err();
        assert!(matches!(e, CancelError::RateLimited { .. }) && e.is_retryable());
        let e = map(
            Op::Cancel,
            503,
            "<html><title>503 Service Unavailable</title></html>",
            true,
        )
        .unwrap_err();
        assert!(
            matches!(&e, CancelError::Provider { status: Some(503), message, .. } if message == "503 Service Unavailable")
                && e.is_retryable()
        );
        let e = map(
            Op::CancelByStatus,
            422,
            r#"{"detail":[{"loc":["body","status"],"msg":"bad status"}]}"#,
            true,
        )
        .unwrap_err();
        assert_eq!(e, CancelError::invalid_request(BACKEND, 422, "bad status"));
    }

    #[test]
    fn lists() {
        assert_eq!(
            map(
                Op::SearchThreads,
                200,
                r#"[{"thread_id":"a","status":"busy"},{"thread_id":"b"}]"#,
                false
            ),
            Ok(Answer::Threads(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            map(
                Op::ListRuns,
                200,
                r#"[{"run_id":"r1","status":"running"},{"run_id":"r2","status":"pending"}]"#,
                false
            ),
            Ok(Answer::Runs(vec![
                ("r1".into(), RunState::Running),
                ("r2".into(), RunState::Pending)
            ]))
        );
        assert!(matches!(
            map(Op::ListRuns, 200, r#"[{"run_id":"r1"}]"#, false),
            Err(CancelError::Decode { .. })
        ));
        assert!(matches!(
            map(Op::SearchThreads, 200, "{}", false),
            Err(CancelError::Decode { .. })
        ));
    }

    #[test]
    fn retries() {
        let ctx = Context {
            op: Op::Cancel,
            run_id: None,
            thread_id: None,
            key_sent: false,
        };
        let r = |s: u16, b: &str| retry_decision(&ctx, &HttpResponse::new(s, HeaderMap::new(), b.to_owned()));
        assert_eq!(r(503, ""), RetryDecision::Default);
        assert_eq!(r(429, ""), RetryDecision::Default);
        assert_eq!(r(404, UNKNOWN), RetryDecision::Never);
        assert_eq!(r(422, ""), RetryDecision::Never);
        assert_eq!(r(202, ""), RetryDecision::Never);
    }

    #[test]
    fn a_cancel_answered_2xx_with_a_body_that_is_not_json_is_not_accepted() {
        for op in [Op::Cancel, Op::CancelThreadRuns, Op::CancelByStatus] {
            for status in [200, 202, 204] {
                assert_eq!(map(op, status, "", false), Ok(Answer::Accepted), "{op:?} {status}");
                assert_eq!(map(op, status, "null", false), Ok(Answer::Accepted), "{op:?} {status}");
            }
            for body in ["<<this is not json>>", "<html><title>Sign in</title></html>", "OK"] {
                let e = map(op, 200, body, false).unwrap_err();
                assert!(
                    matches!(&e, CancelError::Decode { message, .. } if message.contains("not JSON") && message.contains("LANGGRAPH_API_URL")),
                    "{op:?} {body}: {e:?}"
                );
            }
        }
    }
}
