//! Every AgentOS answer, sent by mockito, and what `AgnoCanceller` makes of it.

mod common;

use std::time::Duration;

use common::canceller;
use mockito::{Server, ServerGuard};
use wfcancel_agno::AgnoCanceller;
use wfcancel_core::Inactive;
use wfcancel_core::{CancelError, CancelOutcome, NotFoundKind, RunRef, RunState, WorkflowCanceller};

const CANCEL_PATH: &str = "/workflows/wf/runs/r1/cancel";
const STATUS_PATH: &str = "/workflows/wf/runs/r1";

fn run() -> RunRef {
    RunRef::new("r1").workflow("wf").session("s")
}

/// Answers every request to `path` with `status` and `body`, expecting `hits` requests.
async fn answer(
    server: &mut ServerGuard,
    method: &str,
    path: &str,
    status: usize,
    body: &str,
    hits: usize,
) -> mockito::Mock {
    server
        .mock(method, path)
        .match_query(mockito::Matcher::Any)
        .with_status(status)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(hits)
        .create_async()
        .await
}

async fn cancel_answered(status: usize, body: &str, hits: usize) -> Result<CancelOutcome, CancelError> {
    let mut server = Server::new_async().await;
    let m = answer(&mut server, "POST", CANCEL_PATH, status, body, hits).await;
    // The state check before a cancel is tested in requests.rs; here only the cancel's answer counts.
    let out = common::canceller_with(&server.url(), Some("k"), false)
        .cancel(&run())
        .await;
    m.assert_async().await;
    out
}

async fn status_answered(status: usize, body: &str) -> Result<RunState, CancelError> {
    let mut server = Server::new_async().await;
    let m = answer(&mut server, "GET", STATUS_PATH, status, body, 1).await;
    let out = canceller(&server.url(), Some("k")).status(&run()).await;
    m.assert_async().await;
    out
}

#[tokio::test]
async fn accepted_is_requested_never_stopped() {
    assert_eq!(cancel_answered(200, "{}", 1).await, Ok(CancelOutcome::Requested));
}

#[tokio::test]
async fn not_found_names_what_and_which() {
    let cases = [
        ("Workflow not found", NotFoundKind::Workflow, "wf"),
        ("Agent not found", NotFoundKind::Agent, "wf"),
        ("Team not found", NotFoundKind::Team, "wf"),
        ("Run not found", NotFoundKind::Run, "r1"),
    ];
    for (detail, kind, id) in cases {
        let body = format!(r#"{{"detail":"{detail}"}}"#);
        for err in [
            cancel_answered(404, &body, 1).await.unwrap_err(),
            status_answered(404, &body).await.unwrap_err(),
        ] {
            match &err {
                CancelError::NotFound {
                    backend: "agno",
                    what,
                    id: Some(got),
                    message,
                    ..
                } => {
                    assert_eq!((*what, got.as_str(), message.as_str()), (kind, id, detail));
                }
                other => panic!("{detail}: {other:?}"),
            }
            assert_eq!(err.status(), Some(404));
            assert!(!err.is_retryable());
        }
    }
    // Agent and team owners carry their own ids.
    let mut server = Server::new_async().await;
    let m = answer(
        &mut server,
        "POST",
        "/agents/ag/runs/r/cancel",
        404,
        r#"{"detail":"Agent not found"}"#,
        1,
    )
    .await;
    let err = canceller(&server.url(), None)
        .cancel(&RunRef::new("r").agent("ag"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Agent, id: Some(i), .. } if i == "ag"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "agno: agent not found (ag): Agent not found");
    m.assert_async().await;
}

#[tokio::test]
async fn a_404_from_elsewhere_is_not_found_other() {
    let err = cancel_answered(404, r#"{"detail":"Not Found"}"#, 1).await.unwrap_err();
    match err {
        CancelError::NotFound {
            what: NotFoundKind::Other,
            id: None,
            message,
            ..
        } => {
            assert!(
                message.contains("Not Found") && message.contains("base URL"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_404_for_an_id_with_a_slash_names_that_id() {
    // AgentOS (Starlette) decodes `%2F` before routing: no route matches, the answer is a bare 404.
    let mut server = Server::new_async().await;
    let m = answer(
        &mut server,
        "POST",
        "/workflows/wf/runs/a%2Fb/cancel",
        404,
        r#"{"detail":"Not Found"}"#,
        1,
    )
    .await;
    let o = answer(
        &mut server,
        "POST",
        "/workflows/w%2Fx/runs/r/cancel",
        404,
        r#"{"detail":"Not Found"}"#,
        1,
    )
    .await;
    let c = canceller(&server.url(), None);
    let err = c.cancel(&RunRef::new("a/b").workflow("wf")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), message, .. }
        if i == "a/b" && message.contains("`/`")),
        "{err:?}"
    );
    let err = c.cancel(&RunRef::new("r").workflow("w/x")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Workflow, id: Some(i), .. } if i == "w/x"),
        "{err:?}"
    );
    m.assert_async().await;
    o.assert_async().await;
}

#[tokio::test]
async fn unauthenticated_both_bodies() {
    for detail in ["Authorization header required", "Invalid authentication token"] {
        let err = cancel_answered(401, &format!(r#"{{"detail":"{detail}"}}"#), 1)
            .await
            .unwrap_err();
        match &err {
            CancelError::Unauthenticated {
                backend: "agno",
                message,
                ..
            } => assert_eq!(message, detail),
            other => panic!("{other:?}"),
        }
        assert!(err.fails_every_call() && !err.is_retryable());
    }
    // Without a key configured, the error says which variable to set.
    let mut server = Server::new_async().await;
    let m = answer(
        &mut server,
        "POST",
        CANCEL_PATH,
        401,
        r#"{"detail":"Authorization header required"}"#,
        1,
    )
    .await;
    let err = canceller(&server.url(), None).cancel(&run()).await.unwrap_err();
    assert!(err.to_string().contains("OS_SECURITY_KEY"), "{err}");
    m.assert_async().await;
}

#[tokio::test]
async fn permission_denied() {
    let detail = "Insufficient permissions. Required scope(s): workflows:run";
    let err = cancel_answered(403, &format!(r#"{{"detail":"{detail}"}}"#), 1)
        .await
        .unwrap_err();
    assert_eq!(err, CancelError::permission_denied("agno", detail));
}

#[tokio::test]
async fn bad_request_and_validation_errors() {
    let err = cancel_answered(400, r#"{"detail":"session_id is required for this action"}"#, 1)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CancelError::invalid_request("agno", 400, "session_id is required for this action")
    );
    let body = r#"{"detail":[{"type":"missing","loc":["query","session_id"],"msg":"Field required","input":null}]}"#;
    for err in [
        cancel_answered(422, body, 1).await.unwrap_err(),
        status_answered(422, body).await.unwrap_err(),
    ] {
        assert_eq!(
            err,
            CancelError::invalid_request("agno", 422, "query.session_id: Field required")
        );
        assert_eq!(
            err.to_string(),
            "agno: request refused (HTTP 422): query.session_id: Field required"
        );
    }
    // Other 4xx are the client's fault too, and never retried.
    let err = cancel_answered(413, "Payload Too Large", 1).await.unwrap_err();
    assert!(
        matches!(err, CancelError::InvalidRequest { status: 413, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn method_not_allowed_is_a_provider_error() {
    let err = cancel_answered(405, r#"{"detail":"Method Not Allowed"}"#, 1)
        .await
        .unwrap_err();
    match &err {
        CancelError::Provider {
            status: Some(405),
            message,
            ..
        } => {
            assert!(
                message.starts_with("Method Not Allowed") && message.contains("AgentOS"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn not_implemented_is_unsupported() {
    let err = cancel_answered(501, r#"{"detail":"This agent does not support cancel_run"}"#, 1)
        .await
        .unwrap_err();
    match &err {
        CancelError::Unsupported {
            backend: "agno",
            operation,
            ..
        } => {
            assert!(
                operation.contains("This agent does not support cancel_run"),
                "{operation}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn old_servers_failed_to_cancel_is_not_active_and_not_retried() {
    for detail in [
        "Failed to cancel run",
        "Failed to cancel run - run not found or already completed",
    ] {
        // `expect(1)`: the plumbing would retry a 500 three times; this one must not be.
        let out = cancel_answered(500, &format!(r#"{{"detail":"{detail}"}}"#), 1).await;
        assert_eq!(out, Ok(CancelOutcome::NotActive(Inactive::Unspecified)), "{detail}");
    }
}

#[tokio::test]
async fn other_server_faults_are_provider_errors_after_retries() {
    // 3 attempts (the test client's policy), then the last answer is mapped.
    let err = cancel_answered(500, r#"{"detail":"database is locked"}"#, 3)
        .await
        .unwrap_err();
    assert_eq!(err, CancelError::provider("agno", Some(500), "database is locked"));
    assert!(err.is_retryable());
    let err = status_answered_with_hits(503, "", 3).await.unwrap_err();
    assert_eq!(err, CancelError::provider("agno", Some(503), "(empty body)"));
}

async fn status_answered_with_hits(status: usize, body: &str, hits: usize) -> Result<RunState, CancelError> {
    let mut server = Server::new_async().await;
    let m = answer(&mut server, "GET", STATUS_PATH, status, body, hits).await;
    let out = canceller(&server.url(), Some("k")).status(&run()).await;
    m.assert_async().await;
    out
}

#[tokio::test]
async fn non_json_bodies_still_read() {
    let html = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502</h1>nginx</body></html>";
    let err = cancel_answered(502, html, 3).await.unwrap_err();
    assert_eq!(err, CancelError::provider("agno", Some(502), "502 Bad Gateway"));
    let err = cancel_answered(500, "Internal Server Error", 3).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "agno: provider error (HTTP 500): Internal Server Error"
    );
    let err = cancel_answered(401, "", 1).await.unwrap_err();
    assert_eq!(err, CancelError::unauthenticated("agno", "(empty body)"));
    let err = cancel_answered(403, "<html><body>Forbidden by proxy</body></html>", 1)
        .await
        .unwrap_err();
    assert_eq!(err, CancelError::permission_denied("agno", "Forbidden by proxy"));
    // A status body that is not JSON is a decode error naming what came back.
    match status_answered(200, "<html><title>Login</title></html>").await {
        Err(CancelError::Decode { message, .. }) => assert!(message.contains("Login"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let body = r#"{"detail":"Workflow not found","error_code":"NOT_FOUND","error_id":"e-1","error_type":"x"}"#;
    let err = cancel_answered(404, body, 1).await.unwrap_err();
    assert!(
        matches!(err, CancelError::NotFound { what: NotFoundKind::Workflow, ref message, .. } if message == "Workflow not found")
    );
}

#[tokio::test]
async fn status_of_an_unknown_run() {
    // What AgentOS 3.1.10 answers (tools/agno-live/OBSERVED.md).
    let err = status_answered(404, r#"{"detail":"Run not found"}"#).await.unwrap_err();
    assert!(
        matches!(err, CancelError::NotFound { what: NotFoundKind::Run, id: Some(ref i), .. } if i == "r1"),
        "{err:?}"
    );
    // A server that answers 200 with `null` means the same.
    let err = status_answered(200, "null").await.unwrap_err();
    assert!(
        matches!(
            err,
            CancelError::NotFound {
                what: NotFoundKind::Run,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", CANCEL_PATH)
        .match_query(mockito::Matcher::Any)
        .with_status(429)
        .with_header("retry-after", "7")
        .with_body(r#"{"detail":"Too many requests"}"#)
        .expect(1)
        .create_async()
        .await;
    // The hint (7 s) is longer than the policy allows waiting here, so no retry is attempted.
    let c = AgnoCanceller::builder()
        .base_url(server.url())
        .http_config(
            common::fast_retries(3).retry(
                wfcancel_core::RetryPolicy::default()
                    .max_attempts(3)
                    .total_deadline(Duration::from_secs(2)),
            ),
        )
        .build()
        .unwrap();
    let err = c.cancel(&run()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(
        matches!(&err, CancelError::RateLimited { message, .. } if message == "Too many requests"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    m.assert_async().await;
}

#[tokio::test]
async fn a_redirect_is_never_followed() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", CANCEL_PATH)
        .match_query(mockito::Matcher::Any)
        .with_status(307)
        .with_header("location", "http://evil.example/steal")
        .expect(1)
        .create_async()
        .await;
    let err = canceller(&server.url(), Some("k")).cancel(&run()).await.unwrap_err();
    assert!(
        matches!(err, CancelError::Provider { status: Some(307), .. }),
        "{err:?}"
    );
    m.assert_async().await;
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transport_error() {
    // Port 9 on loopback: nothing listens.
    let c = AgnoCanceller::builder()
        .base_url("http://127.0.0.1:9")
        .http_config(common::fast_retries(2))
        .build()
        .unwrap();
    let err = c.cancel(&run()).await.unwrap_err();
    assert!(matches!(err, CancelError::Transport { backend: "agno", .. }), "{err:?}");
}
