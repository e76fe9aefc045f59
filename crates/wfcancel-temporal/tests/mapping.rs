//! How each answer of Temporal's HTTP API (a gRPC status in JSON) becomes an outcome or an error,
//! end to end through `TemporalCanceller` (mockito), with the retries each one gets.

use std::time::Duration;

use mockito::{Matcher, Server};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOptions, CancelOutcome, ErrorKind, Inactive, NotFoundKind, RetryPolicy, RunRef,
    Selector, WorkflowCanceller,
};
use wfcancel_temporal::TemporalCanceller;

const KEY: &str = "temporal-SECRET-4c1";

fn canceller(base: &str, key: bool) -> TemporalCanceller {
    let b = TemporalCanceller::builder().base_url(base).http_config(
        HttpConfig::default().retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .jitter(false)
                .max_attempts(3),
        ),
    );
    if key { b.api_key(KEY) } else { b }.build().expect("canceller")
}

const PATH: &str = "/api/v1/namespaces/default/workflows/w";

/// The describe that a graceful cancel starts with answers `status` `body`; returns the
/// cancel's result and checks the describe was sent `hits` times.
async fn cancel_answered(status: usize, body: &str, hits: usize, key: bool) -> Result<CancelOutcome, CancelError> {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", PATH)
        .with_status(status)
        .with_header("content-type", "*")
        .with_body(body)
        .expect(hits)
        .create_async()
        .await;
    let never = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let r = canceller(&server.url(), key).cancel(&RunRef::new("w")).await;
    m.assert_async().await;
    never.assert_async().await;
    r
}

fn grpc(code: i64, message: &str, detail: Option<&str>) -> String {
    let details = detail.map_or(String::new(), |t| {
        format!(r#","details":[{{"@type":"type.googleapis.com/temporal.api.errordetails.v1.{t}"}}]"#)
    });
    format!(r#"{{"code":{code},"message":"{message}"{details}}}"#)
}

#[tokio::test]
async fn each_grpc_code_maps_to_one_error_kind() {
    // (HTTP status, gRPC code, message, detail type, error kind, attempts)
    type Case = (usize, i64, &'static str, Option<&'static str>, ErrorKind, usize);
    let cases: &[Case] = &[
        (400, 3, "Invalid RunId.", None, ErrorKind::InvalidRequest, 1),
        (
            404,
            5,
            "Namespace nons is not found.",
            Some("NamespaceNotFoundFailure"),
            ErrorKind::NotFound,
            1,
        ),
        (404, 5, "Not Found", None, ErrorKind::NotFound, 1),
        (409, 6, "already exists", None, ErrorKind::InvalidRequest, 1),
        (
            403,
            7,
            "Request unauthorized.",
            Some("PermissionDeniedFailure"),
            ErrorKind::PermissionDenied,
            1,
        ),
        (
            429,
            8,
            "namespace rate limit exceeded",
            Some("ResourceExhaustedFailure"),
            ErrorKind::RateLimited,
            3,
        ),
        (
            400,
            9,
            "Namespace is not active",
            Some("NamespaceNotActiveFailure"),
            ErrorKind::InvalidRequest,
            1,
        ),
        (501, 12, "method not implemented", None, ErrorKind::Unsupported, 1),
        (503, 14, "frontend is unavailable", None, ErrorKind::Provider, 3),
        (504, 4, "deadline exceeded", None, ErrorKind::Provider, 3),
        (401, 16, "Request unauthenticated.", None, ErrorKind::Unauthenticated, 1),
        (500, 13, "internal", None, ErrorKind::Provider, 3),
    ];
    for &(status, code, message, detail, kind, hits) in cases {
        let e = cancel_answered(status, &grpc(code, message, detail), hits, true)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "code {code}: {e}");
        assert!(e.to_string().contains(message), "code {code}: {e}");
        assert_eq!(e.is_retryable(), hits > 1, "code {code}: {e}");
    }
}

#[tokio::test]
async fn not_found_tells_an_unknown_run_from_an_unknown_namespace_and_a_wrong_url() {
    let unknown = grpc(5, "workflow not found for ID: w", Some("NotFoundFailure"));
    assert_eq!(
        cancel_answered(404, &unknown, 1, true).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    let e = cancel_answered(
        404,
        &grpc(5, "Namespace default is not found.", Some("NamespaceNotFoundFailure")),
        1,
        true,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, id: Some(ns), .. } if ns == "default"),
        "{e:?}"
    );
    assert!(e.to_string().contains("TEMPORAL_NAMESPACE"), "{e}");
    let e = cancel_answered(404, "404 page not found", 1, true).await.unwrap_err();
    assert!(e.to_string().contains("TEMPORAL_HTTP_ADDRESS"), "{e}");
    // status: an unknown run is an error naming it.
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", PATH)
        .with_status(404)
        .with_body(&unknown)
        .create_async()
        .await;
    let e = canceller(&server.url(), true)
        .status(&RunRef::new("w"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CancelError::NotFound { what: NotFoundKind::Run, id: Some(w), .. } if w == "w"),
        "{e:?}"
    );
}

#[tokio::test]
async fn terminate_of_a_closed_workflow_is_not_active_finished() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", format!("{PATH}/terminate").as_str())
        .with_status(404)
        .with_body(grpc(5, "workflow execution already completed", Some("NotFoundFailure")))
        .expect(1)
        .create_async()
        .await;
    let r = canceller(&server.url(), true)
        .cancel_with(&RunRef::new("w"), &CancelOptions::forced())
        .await;
    assert_eq!(r, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    m.assert_async().await;
}

#[tokio::test]
async fn unauthenticated_without_a_key_says_which_variable() {
    let e = cancel_answered(401, &grpc(16, "Request unauthenticated.", None), 1, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("TEMPORAL_API_KEY"), "{e}");
    let e = cancel_answered(401, &grpc(16, "Request unauthenticated.", None), 1, true)
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("TEMPORAL_API_KEY"), "{e}");
}

#[tokio::test]
async fn a_key_echoed_by_the_server_never_shows() {
    for echoed in [KEY.to_owned(), KEY.replace('-', "\\u002d")] {
        let body = format!(r#"{{"code":3,"message":"bad token {echoed}"}}"#);
        let e = cancel_answered(400, &body, 1, true).await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }
}

#[tokio::test]
async fn rate_limits_carry_the_retry_hint_and_batch_limits_are_retried() {
    let mut server = Server::new_async().await;
    let m = server
        .mock(
            "POST",
            Matcher::Regex("^/api/v1/namespaces/default/batch-operations/".into()),
        )
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body(grpc(8, "Max concurrent batch operations is reached", None))
        .expect_at_least(2)
        .create_async()
        .await;
    let c = TemporalCanceller::builder()
        .base_url(server.url())
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(2)
                    .initial_backoff(Duration::from_millis(1)),
            ),
        )
        .build()
        .unwrap();
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new())
        .await
        .expect("report");
    m.assert_async().await;
    let e = &report.failed.first().expect("a failure").error;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.to_string().contains("Max concurrent batch operations"), "{e}");
}

#[tokio::test]
async fn an_unknown_batch_job_is_not_found_action() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/api/v1/namespaces/default/batch-operations/nojob")
        .with_status(404)
        .with_body(grpc(5, "workflow not found for ID: nojob", Some("NotFoundFailure")))
        .create_async()
        .await;
    let e = canceller(&server.url(), true).bulk_action("nojob").await.unwrap_err();
    assert!(
        matches!(&e, CancelError::NotFound { what: NotFoundKind::Action, id: Some(j), .. } if j == "nojob"),
        "{e:?}"
    );
}
