//! The one place where Restate's answers become shared types.
//!
//! The admin API answers errors as `{"message": "...", "restate_code": ...}`; the status code
//! decides, the message tells apart what one status can mean (a 409 "already completed", a 404
//! about an invocation or about a path the server does not route).

use serde_json::Value;
use wfcancel_core::http::{HttpResponse, RetryDecision, parse_retry_after, readable_body};
use wfcancel_core::{
    CancelError, ListedRun, NotFoundKind, RateLimitKind, RunRef, RunState, from_epoch_millis, parse_rfc3339,
};

use crate::BACKEND;
use crate::request::Op;

/// What the mapping needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) op: Op,
    /// The run (cancel, kill, status).
    pub(crate) run: Option<&'a RunRef>,
    /// Whether a token was sent.
    pub(crate) token_sent: bool,
}

/// A successful answer, or an answer that is a fact rather than an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Cancel or kill: `200`, the invocation is over (killed, or a scheduled one removed).
    Done,
    /// Cancel: `202`, accepted; the invocation stops after its compensations.
    Accepted,
    /// Cancel or kill: `409 … was already completed.`
    AlreadyCompleted,
    /// Cancel or kill: `404 … does not exist`.
    NoSuchRun,
    /// Status: the invocation's state.
    State(RunState),
    /// Page: the ids of the matching invocations, in the order the server gave them.
    Ids(Vec<String>),
    /// A page of a listing (with one run more than asked for when another page follows).
    Listed(Vec<ListedRun>),
    /// A count.
    Count(u64),
}

/// The error body's message (the whole body, made readable, when it has none).
fn message_of(resp: &HttpResponse) -> String {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|json| json.get("message").and_then(Value::as_str).map(str::to_owned))
        .filter(|m| !m.trim().is_empty())
        .map(|m| readable_body(m.as_bytes()))
        .unwrap_or_else(|| resp.readable_body())
}

fn run_id<'a>(ctx: &Context<'a>) -> &'a str {
    ctx.run.map(RunRef::run_id).unwrap_or_default()
}

/// A 2xx to a cancel: Restate's admin API answers `202` or `200` with an empty body. A body that is neither blank nor JSON means something else
/// answered (a wrong base URL, a proxy's or a login page answering 200 to anything): no proof
/// the cancel was recorded, so a decode error rather than an outcome (as Agno's cancels).
fn cancel_answer_readable(body: &[u8]) -> Result<(), CancelError> {
    if body.iter().all(u8::is_ascii_whitespace) || serde_json::from_slice::<Value>(body).is_ok() {
        return Ok(());
    }
    Err(CancelError::decode(
        BACKEND,
        format!(
            "a cancel was answered 2xx with a body that is not JSON ({}); Restate's admin API answers an empty body: \
             does the admin URL (RESTATE_ADMIN_URL) point at Restate's admin API?",
            readable_body(body)
        ),
    ))
}

/// Turns an answer into an [`Answer`] or a [`CancelError`]: the one mapping of the backend.
///
/// | answer | result |
/// |---|---|
/// | cancel `202` | `Accepted` (→ `Requested`) |
/// | cancel / kill `200` | `Done` (→ `Cancelled`: killed, or a scheduled invocation removed) |
/// | cancel / kill `409` "already completed" | `AlreadyCompleted` (→ `NotActive(Finished)`) |
/// | cancel / kill `404` about the invocation | `NoSuchRun` (→ `NotActive(NoSuchRun)`) |
/// | cancel / kill `400` (a malformed id) | `InvalidInput` naming `run_id`, with the id and the server's reason |
/// | query `200 {"rows": []}`, status | `NotFound{Run}` naming the id |
/// | query `200 {"rows": [row]}`, status | `State` (see [`parse_state`]) |
/// | query `200 {"rows": […]}`, page | `Ids` |
/// | query `400` | `InvalidRequest` with the server's message (a query it cannot run) |
/// | another `404` (a path the server does not route) | `NotFound{Other}`: check the admin URL |
/// | `401` / `403` | `Unauthenticated` / `PermissionDenied` |
/// | `429` | `RateLimited` (retried, honouring `Retry-After`) |
/// | `5xx` | `Provider` (retried) |
/// | another 4xx, another 409 | `InvalidRequest` with the server's message |
pub(crate) fn map_answer(ctx: &Context<'_>, resp: &HttpResponse) -> Result<Answer, CancelError> {
    let status = resp.status;
    if resp.is_success() {
        return match ctx.op {
            Op::Cancel | Op::Kill if status == 200 => cancel_answer_readable(&resp.body).map(|()| Answer::Done),
            Op::Cancel | Op::Kill => cancel_answer_readable(&resp.body).map(|()| Answer::Accepted),
            Op::Status => decode_state(run_id(ctx), &resp.body).map(Answer::State),
            Op::Page => decode_ids(&resp.body).map(Answer::Ids),
            Op::List => decode_listed(&resp.body).map(Answer::Listed),
            Op::Count => decode_count(&resp.body).map(Answer::Count),
        };
    }
    let message = message_of(resp);
    let lower = message.to_ascii_lowercase();
    let stop = matches!(ctx.op, Op::Cancel | Op::Kill);
    Err(match status {
        409 if stop && lower.contains("already completed") => return Ok(Answer::AlreadyCompleted),
        404 if stop && lower.contains("invocation") => return Ok(Answer::NoSuchRun),
        400 if stop => CancelError::invalid_input(
            BACKEND,
            "run_id",
            format!("Restate refused invocation id {:?}: {message}", run_id(ctx)),
        ),
        404 => CancelError::not_found(
            BACKEND,
            NotFoundKind::Other,
            None,
            format!(
                "{message} (no such endpoint: check that the admin URL (RESTATE_ADMIN_URL) is Restate's admin API)"
            ),
        ),
        401 => CancelError::unauthenticated(
            BACKEND,
            if ctx.token_sent {
                message
            } else {
                format!("{message} (no token was sent: set RESTATE_AUTH_TOKEN)")
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
        s if s >= 500 => CancelError::provider(BACKEND, Some(s), message),
        s => CancelError::invalid_request(BACKEND, s, message),
    })
}

fn decode_error(what: &str, body: &[u8]) -> CancelError {
    CancelError::decode(BACKEND, format!("{what}: {}", readable_body(body)))
}

/// The `rows` of a query answer.
fn rows(body: &[u8]) -> Result<Vec<Value>, CancelError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| decode_error("the query answer is not JSON", body))?;
    match json.get("rows") {
        Some(Value::Array(rows)) => Ok(rows.clone()),
        _ => Err(decode_error("the query answer has no rows", body)),
    }
}

fn decode_ids(body: &[u8]) -> Result<Vec<String>, CancelError> {
    rows(body)?
        .iter()
        .map(|row| {
            row.get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| decode_error("a row of the query answer has no id", body))
        })
        .collect()
}

/// The rows of a listing: each an invocation with its service, state (as [`parse_state`] reads
/// the row) and creation time (RFC 3339 text, or epoch milliseconds).
fn decode_listed(body: &[u8]) -> Result<Vec<ListedRun>, CancelError> {
    rows(body)?
        .iter()
        .map(|row| {
            let field = |name: &str| row.get(name).and_then(Value::as_str);
            let id = field("id").ok_or_else(|| decode_error("a row of the listing has no id", body))?;
            let status = field("status").ok_or_else(|| decode_error("a row of the listing has no status", body))?;
            let state = parse_state(status, field("completion_result"), field("completion_failure"));
            let mut run = ListedRun::new(RunRef::new(id), state);
            if let Some(service) = field("target_service_name") {
                run = run.workflow(service);
            }
            let created = match row.get("created_at") {
                Some(Value::String(t)) => parse_rfc3339(t),
                Some(Value::Number(n)) => n.as_u64().map(from_epoch_millis),
                _ => None,
            };
            if let Some(t) = created {
                run = run.created(t);
            }
            Ok(run)
        })
        .collect()
}

/// The one row of a count: `{"rows":[{"count":N}]}` (a number, or a numeric string).
fn decode_count(body: &[u8]) -> Result<u64, CancelError> {
    let rows = rows(body)?;
    match rows.first().and_then(|r| r.get("count")) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| decode_error("the count answer has no count", body))
}

fn decode_state(id: &str, body: &[u8]) -> Result<RunState, CancelError> {
    let rows = rows(body)?;
    let Some(row) = rows.iter().find(|r| r.get("id").and_then(Value::as_str) == Some(id)) else {
        return Err(CancelError::not_found(
            BACKEND,
            NotFoundKind::Run,
            Some(id.to_owned()),
            format!("Restate has no invocation {id:?} (never created, or purged after its retention)"),
        ));
    };
    let field = |name: &str| row.get(name).and_then(Value::as_str);
    let status = field("status").ok_or_else(|| decode_error("the invocation's row has no status", body))?;
    Ok(parse_state(
        status,
        field("completion_result"),
        field("completion_failure"),
    ))
}

/// A `sys_invocation` row's state: `pending`, `scheduled` and `ready` are pending; `running` and
/// `backing-off` (retrying after an error) running; `suspended` (waiting on a timer, a call or an
/// awakeable) and `paused` paused; `completed` is completed (`completion_result` `success`),
/// cancelled (failure `[409] Cancelled`), terminated (failure `[409] killed`) or failed (any
/// other failure). A status this library does not name is `Unknown`, terminal when its name
/// reads so.
pub(crate) fn parse_state(status: &str, result: Option<&str>, failure: Option<&str>) -> RunState {
    match status.trim().to_ascii_lowercase().as_str() {
        "pending" | "scheduled" | "ready" => RunState::Pending,
        "running" | "backing-off" => RunState::Running,
        "suspended" | "paused" => RunState::Paused,
        "completed" => match result.map(str::trim) {
            Some("success") => RunState::Completed,
            Some("failure") => {
                let failure = failure.unwrap_or_default().trim();
                let (code, message) = match failure.strip_prefix('[').and_then(|f| f.split_once(']')) {
                    Some((code, message)) => (code.trim(), message.trim()),
                    None => ("", failure),
                };
                match (code, message.to_ascii_lowercase().as_str()) {
                    ("409", "cancelled" | "canceled") => RunState::Cancelled,
                    ("409", "killed") => RunState::Terminated,
                    _ => RunState::Failed,
                }
            }
            _ => RunState::unknown("completed", true),
        },
        other => RunState::unknown(other, RunState::name_looks_terminal(other)),
    }
}

/// Whether the plumbing may retry this answer: only answers that map to a retryable error
/// (429, 5xx); never an answer that means something definite.
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

    const ID: &str = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, HeaderMap::new(), body.to_owned())
    }

    fn map(op: Op, status: u16, body: &str) -> Result<Answer, CancelError> {
        let run = RunRef::new(ID);
        let ctx = Context {
            op,
            run: Some(&run),
            token_sent: false,
        };
        map_answer(&ctx, &resp(status, body))
    }

    const COMPLETED: &str = r#"{"message":"The invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' was already completed.","restate_code":null}"#;
    const MISSING: &str = r#"{"message":"The requested invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' does not exist","restate_code":null}"#;

    #[test]
    fn stop_answers() {
        assert_eq!(map(Op::Cancel, 202, ""), Ok(Answer::Accepted));
        assert_eq!(map(Op::Cancel, 200, ""), Ok(Answer::Done));
        assert_eq!(map(Op::Kill, 200, ""), Ok(Answer::Done));
        assert_eq!(map(Op::Cancel, 409, COMPLETED), Ok(Answer::AlreadyCompleted));
        assert_eq!(map(Op::Kill, 409, COMPLETED), Ok(Answer::AlreadyCompleted));
        assert_eq!(map(Op::Cancel, 404, MISSING), Ok(Answer::NoSuchRun));
        assert_eq!(map(Op::Kill, 404, MISSING), Ok(Answer::NoSuchRun));
        let e = map(
            Op::Cancel,
            400,
            r#"{"message":"The request field 'invocation_id' is invalid. Reason: bad length","restate_code":null}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&e, CancelError::InvalidInput { field: "run_id", message, .. } if message.contains(ID) && message.contains("bad length")),
            "{e:?}"
        );
        // A 409 that is not "already completed", a 404 that is not about an invocation.
        assert!(matches!(
            map(Op::Cancel, 409, r#"{"message":"conflict"}"#),
            Err(CancelError::InvalidRequest { status: 409, .. })
        ));
        let e = map(Op::Cancel, 404, "").unwrap_err();
        assert!(
            matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, message, .. } if message.contains("RESTATE_ADMIN_URL")),
            "{e:?}"
        );
    }

    #[test]
    fn errors() {
        let e = map(Op::Cancel, 401, r#"{"message":"unauthorized"}"#).unwrap_err();
        assert!(
            matches!(&e, CancelError::Unauthenticated { message, .. } if message.contains("RESTATE_AUTH_TOKEN")),
            "{e:?}"
        );
        assert!(matches!(
            map(Op::Kill, 403, "{}"),
            Err(CancelError::PermissionDenied { .. })
        ));
        let e = map(Op::Status, 429, "slow down").unwrap_err();
        assert!(
            matches!(e, CancelError::RateLimited { .. }) && e.is_retryable(),
            "{e:?}"
        );
        let e = map(Op::Page, 503, r#"{"message":"unavailable"}"#).unwrap_err();
        assert!(
            matches!(&e, CancelError::Provider { status: Some(503), message, .. } if message == "unavailable")
                && e.is_retryable()
        );
        let e = map(
            Op::Page,
            400,
            r#"{"message":"Datafusion error: SQL error: ParserError(\"x\")"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, CancelError::InvalidRequest { status: 400, .. }), "{e:?}");
        assert!(matches!(
            map(Op::Status, 404, "Not Found"),
            Err(CancelError::NotFound {
                what: NotFoundKind::Other,
                ..
            })
        ));
    }

    #[test]
    fn states() {
        let row = |extra: &str| format!(r#"{{"rows":[{{"id":"{ID}"{extra}}}]}}"#);
        let cases = [
            (r#","status":"pending""#, RunState::Pending),
            (r#","status":"scheduled""#, RunState::Pending),
            (r#","status":"ready""#, RunState::Pending),
            (r#","status":"running""#, RunState::Running),
            (r#","status":"backing-off""#, RunState::Running),
            (r#","status":"suspended""#, RunState::Paused),
            (r#","status":"paused""#, RunState::Paused),
            (
                r#","status":"completed","completion_result":"success""#,
                RunState::Completed,
            ),
            (
                r#","status":"completed","completion_result":"failure","completion_failure":"[409] Cancelled""#,
                RunState::Cancelled,
            ),
            (
                r#","status":"completed","completion_result":"failure","completion_failure":"[409] killed""#,
                RunState::Terminated,
            ),
            (
                r#","status":"completed","completion_result":"failure","completion_failure":"[500] boom""#,
                RunState::Failed,
            ),
            (
                r#","status":"completed","completion_result":"failure","completion_failure":"[409] Conflict in my code""#,
                RunState::Failed,
            ),
            (r#","status":"completed""#, RunState::unknown("completed", true)),
            (r#","status":"warming""#, RunState::unknown("warming", false)),
            (r#","status":"archived-done""#, RunState::unknown("archived-done", true)),
        ];
        for (extra, want) in cases {
            assert_eq!(map(Op::Status, 200, &row(extra)), Ok(Answer::State(want)), "{extra}");
        }
        let e = map(Op::Status, 200, r#"{"rows":[]}"#).unwrap_err();
        assert!(
            matches!(&e, CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), .. } if i == ID),
            "{e:?}"
        );
        for bad in ["", "nope", "{}", r#"{"rows":{}}"#, &row("")] {
            assert!(
                matches!(map(Op::Status, 200, bad), Err(CancelError::Decode { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pages() {
        assert_eq!(
            map(Op::Page, 200, r#"{"rows":[{"id":"inv_1a"},{"id":"inv_1b"}]}"#),
            Ok(Answer::Ids(vec!["inv_1a".into(), "inv_1b".into()]))
        );
        assert_eq!(map(Op::Page, 200, r#"{"rows":[]}"#), Ok(Answer::Ids(Vec::new())));
        assert!(matches!(
            map(Op::Page, 200, r#"{"rows":[{"x":1}]}"#),
            Err(CancelError::Decode { .. })
        ));
    }

    #[test]
    fn retries() {
        let run = RunRef::new(ID);
        let ctx = Context {
            op: Op::Cancel,
            run: Some(&run),
            token_sent: true,
        };
        assert_eq!(retry_decision(&ctx, &resp(503, "")), RetryDecision::Default);
        assert_eq!(retry_decision(&ctx, &resp(429, "")), RetryDecision::Default);
        assert_eq!(retry_decision(&ctx, &resp(409, COMPLETED)), RetryDecision::Never);
        assert_eq!(retry_decision(&ctx, &resp(404, MISSING)), RetryDecision::Never);
        assert_eq!(retry_decision(&ctx, &resp(202, "")), RetryDecision::Never);
    }

    #[test]
    fn a_cancel_answered_2xx_with_a_body_that_is_not_json_is_neither_cancelled_nor_requested() {
        for (op, status) in [(Op::Cancel, 200), (Op::Cancel, 202), (Op::Kill, 200)] {
            assert!(map(op, status, "").is_ok(), "{op:?} {status}");
            assert!(map(op, status, "{}").is_ok(), "{op:?} {status}");
            for body in ["<<this is not json>>", "<html><title>Sign in</title></html>", "OK"] {
                let e = map(op, status, body).unwrap_err();
                assert!(
                    matches!(&e, CancelError::Decode { message, .. } if message.contains("not JSON") && message.contains("RESTATE_ADMIN_URL")),
                    "{op:?} {status} {body}: {e:?}"
                );
            }
        }
    }
}
