//! `cancel_many`: every id accounted for, bounded concurrency, early stop, refusals.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use common::canceller;
use mockito::{Matcher, Server};
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, DEFAULT_CONCURRENCY, RunFilter, RunRef, Selector, WorkflowCanceller,
};

fn runs(n: usize) -> Vec<RunRef> {
    (0..n)
        .map(|i| {
            RunRef::new(format!("run-{i:04}"))
                .workflow("wf")
                .session(format!("s-{i}"))
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_ids_are_all_accounted_for() {
    let mut server = Server::new_async().await;
    let states = server
        .mock("GET", Matcher::Regex(r"^/workflows/wf/runs/run-\d{4}$".into()))
        .match_query(Matcher::Regex(r"^session_id=s-\d+$".into()))
        .with_status(200)
        .with_body(r#"{"status":"RUNNING"}"#)
        .expect(1000)
        .create_async()
        .await;
    let m = server
        .mock("POST", Matcher::Regex(r"^/workflows/wf/runs/run-\d{4}/cancel$".into()))
        .match_query(Matcher::Regex(r"^session_id=s-\d+$".into()))
        .with_status(200)
        .with_body("{}")
        .expect(1000)
        .create_async()
        .await;
    let c = canceller(&server.url(), Some("k"));
    let ids = runs(1000);
    let progress = Arc::new(AtomicUsize::new(0));
    let p = progress.clone();
    let opts = BulkOptions::new().on_progress(move |_| {
        p.fetch_add(1, Ordering::Relaxed);
    });
    let report = c.cancel_many(&Selector::Ids(ids.clone()), &opts).await.unwrap();
    states.assert_async().await;
    m.assert_async().await;
    assert_eq!(report.backend, "agno");
    assert_eq!(report.requested, 1000);
    assert_eq!((report.cancelled, report.not_active, report.failed_runs()), (0, 0, 0));
    assert_eq!(report.accounted(), 1000);
    assert_eq!(report.requests_sent, 1000);
    assert!(report.is_success());
    let seen: HashSet<_> = report.outcomes.iter().map(|o| o.run.clone()).collect();
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
    assert!(report.outcomes.iter().all(|o| o.outcome == CancelOutcome::Requested));
    assert_eq!(progress.load(Ordering::Relaxed), 1000);
}

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
    checks: AtomicUsize,
}

/// A local AgentOS stand-in that counts requests in flight (each takes 15 ms): the state check
/// (`GET`, answering `RUNNING`) and the cancel (`POST`) both count.
async fn counting_server() -> (String, Arc<Gauge>) {
    async fn hold(g: &Gauge) {
        let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
        g.max.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(15)).await;
        g.now.fetch_sub(1, Ordering::SeqCst);
    }
    async fn cancel(State(g): State<Arc<Gauge>>, Path((_wf, _run)): Path<(String, String)>) -> &'static str {
        g.total.fetch_add(1, Ordering::SeqCst);
        hold(&g).await;
        "{}"
    }
    async fn status(State(g): State<Arc<Gauge>>, Path((_wf, _run)): Path<(String, String)>) -> &'static str {
        g.checks.fetch_add(1, Ordering::SeqCst);
        hold(&g).await;
        r#"{"status":"RUNNING"}"#
    }
    let gauge = Arc::new(Gauge::default());
    let app = Router::new()
        .route("/workflows/{wf}/runs/{run}/cancel", post(cancel))
        .route("/workflows/{wf}/runs/{run}", get(status))
        .with_state(gauge.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), gauge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_by_the_option() {
    let (base, gauge) = counting_server().await;
    let c = canceller(&base, None);
    let report = c
        .cancel_many(&Selector::Ids(runs(120)), &BulkOptions::new().concurrency(5))
        .await
        .unwrap();
    assert_eq!(report.requested, 120);
    assert_eq!(gauge.total.load(Ordering::SeqCst), 120);
    assert_eq!(gauge.checks.load(Ordering::SeqCst), 120);
    let max = gauge.max.load(Ordering::SeqCst);
    assert!((2..=5).contains(&max), "max in flight {max}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_concurrency_is_32() {
    assert_eq!(BulkOptions::default().concurrency, DEFAULT_CONCURRENCY);
    assert_eq!(DEFAULT_CONCURRENCY, 32);
    let (base, gauge) = counting_server().await;
    let c = canceller(&base, None);
    let report = c
        .cancel_many(&Selector::Ids(runs(1000)), &BulkOptions::default())
        .await
        .unwrap();
    assert_eq!((report.requested, report.accounted()), (1000, 1000));
    assert_eq!(gauge.total.load(Ordering::SeqCst), 1000);
    let max = gauge.max.load(Ordering::SeqCst);
    assert!((8..=32).contains(&max), "max in flight {max}");
}

#[tokio::test]
async fn mixed_answers_are_each_accounted_for() {
    let mut server = Server::new_async().await;
    let _ok = server
        .mock("POST", Matcher::Regex("^/workflows/wf/runs/ok-".into()))
        .with_status(200)
        .with_body("{}")
        .create_async()
        .await;
    let _old = server
        .mock("POST", Matcher::Regex("^/workflows/wf/runs/old-".into()))
        .with_status(500)
        .with_body(r#"{"detail":"Failed to cancel run"}"#)
        .create_async()
        .await;
    let _gone = server
        .mock("POST", Matcher::Regex("^/workflows/nope/runs/".into()))
        .with_status(404)
        .with_body(r#"{"detail":"Workflow not found"}"#)
        .create_async()
        .await;
    let ids = vec![
        RunRef::new("ok-1").workflow("wf"),
        RunRef::new("old-1").workflow("wf"),
        RunRef::new("x-1").workflow("nope"),
        RunRef::new("ok-2").workflow("wf"),
    ];
    let report = canceller(&server.url(), None)
        .cancel_many(&Selector::Ids(ids), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.requested, report.not_active, report.failed_runs()), (2, 1, 1));
    assert_eq!(report.accounted(), 4);
    assert!(report.aborted.is_none(), "a missing workflow does not stop the others");
    assert_eq!(report.failed[0].runs[0].run_id(), "x-1");
    assert!(matches!(report.failed[0].error, CancelError::NotFound { .. }));
}

#[tokio::test]
async fn a_bad_key_stops_the_bulk_early() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", Matcher::Any)
        .with_status(401)
        .with_body(r#"{"detail":"Invalid authentication token"}"#)
        .expect_at_least(1)
        .expect_at_most(10)
        .create_async()
        .await;
    let report = canceller(&server.url(), Some("wrong"))
        .cancel_many(&Selector::Ids(runs(500)), &BulkOptions::new().concurrency(4))
        .await
        .unwrap();
    assert!(
        matches!(report.aborted, Some(CancelError::Unauthenticated { .. })),
        "{:?}",
        report.aborted
    );
    assert_eq!(report.accounted(), 500);
    assert!(report.not_attempted.len() >= 490, "{}", report.not_attempted.len());
    assert!(report.requests_sent <= 10, "{}", report.requests_sent);
    m.assert_async().await;
}

#[tokio::test]
async fn filters_and_all_are_unsupported_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server.url(), Some("k"));
    for selector in [
        Selector::filter(RunFilter::new().label("nightly")),
        Selector::cancel_all_runs(),
    ] {
        match c.cancel_many(&selector, &BulkOptions::new()).await {
            Err(CancelError::Unsupported { operation, .. }) => {
                assert!(operation.contains("agno has no"), "{operation}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.plan(&selector), Err(CancelError::Unsupported { .. })));
    }
    none.assert_async().await;
}

#[tokio::test]
async fn invalid_lists_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server.url(), Some("k"));
    let mut ids = runs(50);
    ids.push(RunRef::new("orphan"));
    ids.extend(runs(5));
    match c.cancel_many(&Selector::Ids(ids), &BulkOptions::new()).await {
        Err(CancelError::InvalidInput {
            field: "owner",
            message,
            ..
        }) => {
            assert!(
                message.starts_with("run #50:") && message.contains("orphan"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let err = c
        .cancel_many(&Selector::Ids(vec![]), &BulkOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CancelError::InvalidInput { field: "ids", .. }), "{err:?}");
    let err = c
        .cancel_many(&Selector::Ids(runs(2)), &BulkOptions::new().concurrency(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CancelError::InvalidInput {
                field: "concurrency",
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .cancel_many(
            &Selector::Ids(vec![RunRef::new("..").workflow("w")]),
            &BulkOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, CancelError::InvalidInput { field: "run_id", .. }),
        "{err:?}"
    );
    none.assert_async().await;
}
