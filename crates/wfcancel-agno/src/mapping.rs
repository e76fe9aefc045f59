//! The one place where AgentOS answers become shared types.
//!
//! | answer | cancel | status |
//! |---|---|---|
//! | 2xx | `Requested` (a 200 is never "stopped") | the `status` field as a [`RunState`] (`REGENERATED` is `Completed`); `null` body: `NotFound{Run}` |
//! | 404 `Workflow/Agent/Team not found` | `NotFound{Workflow/Agent/Team}` with the owner id | same |
//! | 404 `Run not found` | `NotFound{Run}` with the run id | same |
//! | other 404, an id contains `/` | `NotFound` of that id (AgentOS routes on the decoded path) | same |
//! | other 404 | `NotFound{Other}` (usually a wrong base URL) | same |
//! | 401 | `Unauthenticated` | same |
//! | 403 | `PermissionDenied` | same |
//! | 400, 422 | `InvalidRequest` with the detail (422 arrays joined: `query.session_id: Field required`) | same |
//! | 405 | `Provider` (the server has no such route for the method: not an AgentOS, or another version) | same |
//! | 408 | `Provider` (retryable) | same |
//! | 429 | `RateLimited` with `Retry-After` | same |
//! | 501 | `Unsupported` with the detail | same |
//! | 500 `Failed to cancel run…` (servers 2.0–2.4) | `NotActive`, never retried | `Provider` |
//! | other 5xx | `Provider` (retried by the plumbing) | same |
//! | other 4xx | `InvalidRequest` | same |

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{
    CancelError, CancelOutcome, Inactive, ListedRun, NotFoundKind, OwnerKind, RateLimitKind, RunRef, RunState,
    parse_rfc3339,
};

use crate::BACKEND;
use crate::request::Op;

/// What a successful answer meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A cancel's outcome.
    Outcome(CancelOutcome),
    /// A run's state.
    State(RunState),
    /// A page of sessions: their ids, and whether another page follows.
    Sessions(Vec<String>, bool),
    /// The runs of one session.
    Runs(Vec<ListedRun>),
}

/// What the mapping needs to know besides the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) op: Op,
    pub(crate) run: &'a RunRef,
    /// Whether a security key was sent (to make a 401 actionable).
    pub(crate) key_sent: bool,
}

/// A 2xx to a cancel: AgentOS answers `{}`. A body that is not JSON means something else
/// answered (a wrong base URL, a proxy's page): that is no proof the cancel was recorded.
fn cancel_accepted(body: &[u8]) -> Result<CancelOutcome, CancelError> {
    if body.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return Ok(CancelOutcome::Requested);
    }
    Err(CancelError::decode(
        BACKEND,
        format!(
            "a cancel was answered 2xx with a body that is not JSON ({}); AgentOS answers {{}}: \
             does the base URL (AGENTOS_URL) point at an AgentOS?",
            readable_body(body)
        ),
    ))
}

/// Turns any AgentOS answer into an outcome, a state or a [`CancelError`].
pub(crate) fn map_answer(ctx: &Context<'_>, resp: &HttpResponse) -> Result<Answer, CancelError> {
    let status = resp.status;
    if resp.is_success() {
        return match ctx.op {
            Op::Cancel => cancel_accepted(&resp.body).map(Answer::Outcome),
            Op::Status => decode_state(ctx.run, &resp.body).map(Answer::State),
            Op::Sessions => decode_sessions(&resp.body),
            Op::Runs => decode_runs(ctx.run, &resp.body).map(Answer::Runs),
        };
    }
    let detail = detail(&resp.body);
    let err = match status {
        404 => not_found(ctx, detail),
        401 => {
            let message = if ctx.key_sent {
                detail
            } else {
                format!("{detail}; no security key is configured (set OS_SECURITY_KEY)")
            };
            CancelError::unauthenticated(BACKEND, message)
        }
        403 => CancelError::permission_denied(BACKEND, detail),
        400 | 422 => CancelError::invalid_request(BACKEND, status, detail),
        405 => CancelError::provider(
            BACKEND,
            Some(status),
            format!(
                "{detail}: the server has no {} route for this path; check that the base URL points at an AgentOS (2.x or later)",
                match ctx.op {
                    Op::Cancel => "POST",
                    _ => "GET",
                }
            ),
        ),
        429 => CancelError::rate_limited(
            BACKEND,
            RateLimitKind::Unspecified,
            resp.headers
                .get("retry-after")
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
            detail,
        ),
        501 if matches!(ctx.op, Op::Sessions | Op::Runs) => CancelError::unsupported(
            BACKEND,
            format!(
                "{} of workflow {:?}: {detail}",
                ctx.op.name(),
                ctx.run.owner().map(|o| o.id.to_string()).unwrap_or_default()
            ),
        ),
        501 => CancelError::unsupported(
            BACKEND,
            format!("{} of run {:?}: {detail}", ctx.op.name(), ctx.run.run_id()),
        ),
        500 if ctx.op == Op::Cancel && is_nothing_to_cancel(&detail) => {
            return Ok(Answer::Outcome(CancelOutcome::NotActive(Inactive::Unspecified)));
        }
        408 | 500..=599 => CancelError::provider(BACKEND, Some(status), detail),
        400..=499 => CancelError::invalid_request(BACKEND, status, detail),
        _ => CancelError::provider(BACKEND, Some(status), format!("unexpected answer: {detail}")),
    };
    Err(err)
}

/// What the plumbing should do about retrying this answer: never retry an answer that means
/// something definite (a success, a "nothing to cancel", a client error), follow the shared rule
/// for the rest (429, 5xx, 408).
pub(crate) fn retry_decision(ctx: &Context<'_>, resp: &HttpResponse) -> RetryDecision {
    match map_answer(ctx, resp) {
        Err(e) if e.is_retryable() => RetryDecision::Default,
        _ => RetryDecision::Never,
    }
}

/// Servers 2.0 to 2.4 answered `500 {"detail":"Failed to cancel run"}` (from 2.3.17 with
/// `" - run not found or already completed"`) for any run not currently registered.
fn is_nothing_to_cancel(detail: &str) -> bool {
    detail
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("failed to cancel run")
}

fn not_found(ctx: &Context<'_>, detail: String) -> CancelError {
    let lower = detail.trim().to_ascii_lowercase();
    let owner_id = ctx.run.owner().map(|o| o.id.to_string());
    let (what, id) = if lower.starts_with("workflow not found") {
        (NotFoundKind::Workflow, owner_id)
    } else if lower.starts_with("agent not found") {
        (NotFoundKind::Agent, owner_id)
    } else if lower.starts_with("team not found") {
        (NotFoundKind::Team, owner_id)
    } else if lower.starts_with("run not found") || lower.contains("run not found") {
        (NotFoundKind::Run, Some(ctx.run.run_id().to_owned()))
    } else if let Some((what, id)) = slash_id(ctx.run) {
        // Starlette routes on the decoded path: `%2F` becomes `/` and no route matches.
        return CancelError::not_found(
            BACKEND,
            what,
            Some(id),
            format!("{detail}: AgentOS decodes `%2F` before routing, so an id containing `/` cannot be addressed"),
        );
    } else {
        return CancelError::not_found(
            BACKEND,
            NotFoundKind::Other,
            None,
            format!("{detail} (no such endpoint: check that the base URL points at an AgentOS)"),
        );
    };
    CancelError::not_found(BACKEND, what, id, detail)
}

/// The first id of the request that contains `/` (the run's, else its owner's), with its kind.
fn slash_id(run: &RunRef) -> Option<(NotFoundKind, String)> {
    if run.run_id().contains('/') {
        return Some((NotFoundKind::Run, run.run_id().to_owned()));
    }
    let owner = run.owner().filter(|o| o.id.contains('/'))?;
    let kind = match owner.kind {
        OwnerKind::Workflow => NotFoundKind::Workflow,
        OwnerKind::Agent => NotFoundKind::Agent,
        OwnerKind::Team => NotFoundKind::Team,
        _ => NotFoundKind::Other,
    };
    Some((kind, owner.id.to_string()))
}

/// The error message of an answer: FastAPI's `detail` (a string, or a 422 array turned into one
/// line), else another message field, else the body made readable.
pub(crate) fn detail(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return readable_body(body);
    };
    let text = match &json {
        Value::Object(map) => ["detail", "message", "error"]
            .iter()
            .find_map(|k| map.get(*k))
            .map(|v| match v {
                Value::String(s) => s.trim().to_owned(),
                Value::Array(items) => validation_errors(items),
                other => other.to_string(),
            }),
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match text {
        Some(t) if !t.is_empty() => readable_body(t.as_bytes()),
        _ => readable_body(body),
    }
}

/// FastAPI's 422 `detail`: `[{"loc":["query","session_id"],"msg":"Field required",...}]` →
/// `query.session_id: Field required` (several joined with `; `).
fn validation_errors(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| {
            let loc = item.get("loc").and_then(Value::as_array).map(|loc| {
                loc.iter()
                    .map(|p| match p {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            });
            let msg = item.get("msg").and_then(Value::as_str);
            match (loc, msg) {
                (Some(loc), Some(msg)) if !loc.is_empty() => format!("{loc}: {msg}"),
                (_, Some(msg)) => msg.to_owned(),
                _ => item.to_string(),
            }
        })
        .collect();
    if parts.is_empty() {
        "validation error".to_owned()
    } else {
        parts.join("; ")
    }
}

/// A run's state from a status answer: `{"status": "RUNNING", ...}` (other fields ignored).
/// An empty or `null` body means the server does not know the run.
fn decode_state(run: &RunRef, body: &[u8]) -> Result<RunState, CancelError> {
    let run_not_found = || {
        CancelError::not_found(
            BACKEND,
            NotFoundKind::Run,
            Some(run.run_id().to_owned()),
            "the server returned no run".to_owned(),
        )
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(run_not_found());
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        CancelError::decode(
            BACKEND,
            format!("the run status is not JSON ({e}): {}", readable_body(body)),
        )
    })?;
    match &json {
        Value::Null => Err(run_not_found()),
        Value::Object(map) => match map.get("status") {
            Some(Value::String(s)) => Ok(parse_state(s)),
            Some(Value::Null) | None if map.is_empty() => Err(run_not_found()),
            Some(other) => Err(CancelError::decode(
                BACKEND,
                format!("the run's `status` is not a string: {other}"),
            )),
            None => Err(CancelError::decode(
                BACKEND,
                format!("the run has no `status` field: {}", readable_body(body)),
            )),
        },
        other => Err(CancelError::decode(
            BACKEND,
            format!(
                "expected a run object, got: {}",
                readable_body(other.to_string().as_bytes())
            ),
        )),
    }
}

/// Agno's `RunStatus` values (case-insensitive); anything else is kept as `Unknown`, terminal
/// when its name reads so ([`RunState::name_looks_terminal`]: AgentOS's answer has no other sign).
///
/// A page of `GET /sessions`: `{"data": [{"session_id": …}], "meta": {"page", "total_pages"}}`.
fn decode_sessions(body: &[u8]) -> Result<Answer, CancelError> {
    let bad = || {
        CancelError::decode(
            BACKEND,
            format!(
                "a session list that is not {{\"data\": [...]}}: {}",
                readable_body(body)
            ),
        )
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let data = json.get("data").and_then(Value::as_array).ok_or_else(bad)?;
    let ids = data
        .iter()
        .map(|s| s.get("session_id").and_then(Value::as_str).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let meta = json.get("meta");
    let page = meta.and_then(|m| m.get("page")).and_then(Value::as_u64);
    let pages = meta.and_then(|m| m.get("total_pages")).and_then(Value::as_u64);
    let more = match (page, pages) {
        (Some(p), Some(n)) => p < n,
        _ => false,
    };
    Ok(Answer::Sessions(ids, more))
}

/// The runs of one session (`[{"run_id", "workflow_id", "status", "created_at"}]`), each
/// addressed by the workflow and session of `listing` (its owner and session).
fn decode_runs(listing: &RunRef, body: &[u8]) -> Result<Vec<ListedRun>, CancelError> {
    let bad = || {
        CancelError::decode(
            BACKEND,
            format!(
                "a run list that is not [{{\"run_id\", \"status\"}}]: {}",
                readable_body(body)
            ),
        )
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let items = json.as_array().ok_or_else(bad)?;
    let workflow = listing.owner().map(|o| o.id.to_string()).unwrap_or_default();
    items
        .iter()
        .map(|r| {
            let id = r
                .get("run_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(bad)?;
            let status = r.get("status").and_then(Value::as_str).ok_or_else(bad)?;
            let mut run = RunRef::new(id).workflow(&workflow);
            if let Some(s) = listing.session_id() {
                run = run.session(s);
            }
            let mut listed = ListedRun::new(run, parse_state(status)).workflow(&workflow);
            let created = match r.get("created_at") {
                Some(Value::String(t)) => parse_rfc3339(t),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))),
                _ => None,
            };
            if let Some(t) = created {
                listed = listed.created(t);
            }
            Ok(listed)
        })
        .collect()
}

/// agno 3.1.10's `agno.run.base.RunStatus` has exactly these: `PENDING`, `RUNNING`, `PAUSED`,
/// `COMPLETED`, `CANCELLED`, `ERROR` and `REGENERATED`. A run is `REGENERATED` when its response
/// was regenerated (`/continue?regenerate=true`): the run itself is over (it finished, and a
/// sibling run holds the new response), so it maps to `Completed`, a terminal state a wait
/// ends on and the state check treats as "nothing to cancel".
pub(crate) fn parse_state(s: &str) -> RunState {
    match s.trim().to_ascii_uppercase().as_str() {
        "PENDING" => RunState::Pending,
        "RUNNING" => RunState::Running,
        "PAUSED" => RunState::Paused,
        "COMPLETED" | "REGENERATED" => RunState::Completed,
        "CANCELLED" | "CANCELED" => RunState::Cancelled,
        "ERROR" => RunState::Failed,
        _ => RunState::unknown(s, RunState::name_looks_terminal(s)),
    }
}

#[cfg(test)]
mod tests {
    use wfcancel_core::http::HeaderMap;

    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, HeaderMap::new(), body.to_owned())
    }

    fn run() -> RunRef {
        RunRef::new("r1").workflow("wf").session("s")
    }

    fn cancel(status: u16, body: &str) -> Result<Answer, CancelError> {
        let run = run();
        map_answer(
            &Context {
                op: Op::Cancel,
                run: &run,
                key_sent: true,
            },
            &resp(status, body),
        )
    }

    fn status(status: u16, body: &str) -> Result<Answer, CancelError> {
        let run = run();
        map_answer(
            &Context {
                op: Op::Status,
                run: &run,
                key_sent: true,
            },
            &resp(status, body),
        )
    }

    #[test]
    fn details() {
        assert_eq!(detail(br#"{"detail":"Workflow not found"}"#), "Workflow not found");
        assert_eq!(
            detail(
                br#"{"detail":[{"type":"missing","loc":["query","session_id"],"msg":"Field required","input":null}]}"#
            ),
            "query.session_id: Field required"
        );
        assert_eq!(
            detail(br#"{"detail":[{"loc":["path","x",0],"msg":"a"},{"msg":"b"},{"weird":1}]}"#),
            r#"path.x.0: a; b; {"weird":1}"#
        );
        assert_eq!(
            detail(br#"{"detail":"x","error_code":null,"error_id":"e","error_type":"t"}"#),
            "x"
        );
        assert_eq!(detail(br#"{"message":"m"}"#), "m");
        assert_eq!(detail(b"Internal Server Error"), "Internal Server Error");
        assert_eq!(detail(b""), "(empty body)");
        assert_eq!(
            detail(b"<html><head><title>502 Bad Gateway</title></head></html>"),
            "502 Bad Gateway"
        );
        assert_eq!(detail(br#"{"other":1}"#), r#"{"other":1}"#);
        assert_eq!(detail(br#"{"detail":{"code":3}}"#), r#"{"code":3}"#);
    }

    #[test]
    fn success_is_requested_when_the_body_is_json_or_empty() {
        for body in ["{}", "", " \n", "null", r#"{"extra":1}"#] {
            assert_eq!(
                cancel(200, body),
                Ok(Answer::Outcome(CancelOutcome::Requested)),
                "{body:?}"
            );
        }
        // Something other than AgentOS answered: no proof that the cancel was recorded.
        for body in ["not json", "<html><title>Welcome to nginx!</title></html>"] {
            let r = cancel(200, body);
            assert!(
                matches!(&r, Err(CancelError::Decode { message, .. }) if message.contains("AGENTOS_URL")),
                "{r:?}"
            );
        }
    }

    #[test]
    fn old_server_500_is_not_active_for_cancel_only() {
        for d in [
            "Failed to cancel run",
            "Failed to cancel run - run not found or already completed",
        ] {
            let body = format!(r#"{{"detail":"{d}"}}"#);
            assert_eq!(
                cancel(500, &body),
                Ok(Answer::Outcome(CancelOutcome::NotActive(Inactive::Unspecified)))
            );
            assert!(matches!(
                status(500, &body),
                Err(CancelError::Provider { status: Some(500), .. })
            ));
        }
        assert!(matches!(
            cancel(500, r#"{"detail":"boom"}"#),
            Err(CancelError::Provider { status: Some(500), .. })
        ));
    }

    #[test]
    fn states() {
        let cases = [
            ("PENDING", RunState::Pending),
            ("RUNNING", RunState::Running),
            ("PAUSED", RunState::Paused),
            ("COMPLETED", RunState::Completed),
            ("CANCELLED", RunState::Cancelled),
            ("ERROR", RunState::Failed),
            ("REGENERATED", RunState::Completed),
            ("regenerated", RunState::Completed),
            ("CANCELED", RunState::Cancelled),
            ("running", RunState::Running),
            ("WEIRD", RunState::unknown("WEIRD", false)),
            ("ABORTED", RunState::unknown("ABORTED", true)),
        ];
        for (s, want) in cases {
            let body = format!(r#"{{"run_id":"r1","status":"{s}","content":{{"x":[1,2]}},"extra":true}}"#);
            assert_eq!(status(200, &body), Ok(Answer::State(want)), "{s}");
        }
    }

    #[test]
    fn status_without_a_run() {
        for body in ["null", "", "  ", "{}"] {
            match status(200, body) {
                Err(CancelError::NotFound {
                    what: NotFoundKind::Run,
                    id,
                    ..
                }) => assert_eq!(id.as_deref(), Some("r1")),
                other => panic!("{body:?}: {other:?}"),
            }
        }
        assert!(matches!(status(200, "<html>"), Err(CancelError::Decode { .. })));
        assert!(matches!(
            status(200, r#"{"run_id":"r1"}"#),
            Err(CancelError::Decode { .. })
        ));
        assert!(matches!(
            status(200, r#"{"status":3}"#),
            Err(CancelError::Decode { .. })
        ));
        assert!(matches!(status(200, "[1]"), Err(CancelError::Decode { .. })));
    }

    #[test]
    fn retry_decisions() {
        let run = run();
        let ctx = Context {
            op: Op::Cancel,
            run: &run,
            key_sent: true,
        };
        assert_eq!(
            retry_decision(&ctx, &resp(500, r#"{"detail":"Failed to cancel run"}"#)),
            RetryDecision::Never
        );
        assert_eq!(
            retry_decision(&ctx, &resp(500, r#"{"detail":"boom"}"#)),
            RetryDecision::Default
        );
        assert_eq!(retry_decision(&ctx, &resp(503, "")), RetryDecision::Default);
        assert_eq!(retry_decision(&ctx, &resp(429, "")), RetryDecision::Default);
        assert_eq!(retry_decision(&ctx, &resp(501, "")), RetryDecision::Never);
        assert_eq!(retry_decision(&ctx, &resp(200, "{}")), RetryDecision::Never);
    }

    #[test]
    fn unauthenticated_without_a_key_says_so() {
        let run = run();
        let ctx = Context {
            op: Op::Cancel,
            run: &run,
            key_sent: false,
        };
        let err = map_answer(&ctx, &resp(401, r#"{"detail":"Authorization header required"}"#)).unwrap_err();
        assert!(err.to_string().contains("OS_SECURITY_KEY"), "{err}");
    }
}
