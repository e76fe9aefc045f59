//! "Not active" only on the provider's word or a state read (issue: two `{"cancelled":0}` in a
//! row were taken as "not active" for a run that was still running).

use mockito::{Matcher, Server, ServerGuard};
use wfcancel_core::Inactive;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, RetryPolicy, RunFilter, RunRef, Selector, WorkflowCanceller,
};
use wfcancel_upstash::UpstashCanceller;

fn canceller(server: &ServerGuard) -> UpstashCanceller {
    UpstashCanceller::builder()
        .token("tok-123456789")
        .base_url(server.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn logs_body(id: &str, state: &str) -> String {
    format!(
        r#"{{"cursor":"","runs":[{{"workflowRunId":"{id}","workflowUrl":"https://x/wf","workflowState":"{state}","workflowRunCreatedAt":1}}]}}"#
    )
}

#[tokio::test]
async fn a_single_cancel_uses_the_run_path_and_its_answer() {
    let mut server = Server::new_async().await;
    let ok = server
        .mock("DELETE", "/v2/workflows/runs/wfr_1")
        .with_body("OK")
        .create_async()
        .await;
    let gone = server
        .mock("DELETE", "/v2/workflows/runs/wfr_2")
        .with_status(404)
        .with_body(r#"{"error":"workflowRun not found"}"#)
        .create_async()
        .await;
    let html = server
        .mock("DELETE", "/v2/workflows/runs/wfr_3")
        .with_status(404)
        .with_body("<html><title>404 Not Found</title></html>")
        .create_async()
        .await;
    let c = canceller(&server);
    assert_eq!(c.cancel(&RunRef::new("wfr_1")).await, Ok(CancelOutcome::Cancelled));
    assert_eq!(
        c.cancel(&RunRef::new("wfr_2")).await,
        Ok(CancelOutcome::NotActive(Inactive::Unspecified))
    );
    let err = c.cancel(&RunRef::new("wfr_3")).await.unwrap_err();
    assert!(matches!(err, CancelError::NotFound { .. }), "not Upstash's 404: {err}");
    assert!(err.to_string().contains("QSTASH_URL"), "{err}");
    for m in [ok, gone, html] {
        m.assert_async().await;
    }
}

/// The path endpoint failing ("cannot cancel now") is an error, never `NotActive`.
#[tokio::test]
async fn a_run_the_server_cannot_cancel_now_is_an_error() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("DELETE", "/v2/workflows/runs/wfr_busy")
        .with_status(500)
        .with_body(r#"{"error":"failed to cancel workflow run"}"#)
        .create_async()
        .await;
    let err = canceller(&server).cancel(&RunRef::new("wfr_busy")).await.unwrap_err();
    assert!(matches!(err, CancelError::Provider { status: Some(500), .. }), "{err}");
}

/// An id that cannot be a path segment goes through the bulk endpoint: a 0 there is checked
/// against the logs. Still `RUN_STARTED` → an error that says so; over → `NotActive`.
#[tokio::test]
async fn a_zero_count_is_checked_against_the_run_state() {
    let mut server = Server::new_async().await;
    let bulk = server
        .mock("DELETE", "/v2/workflows/runs")
        .match_query(Matcher::Exact("workflowRunIds=..".into()))
        .with_body(r#"{"cancelled":0}"#)
        .expect(2)
        .create_async()
        .await;
    let running = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("workflowRunId".into(), "..".into()))
        .with_body(logs_body("..", "RUN_STARTED"))
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let err = c.cancel(&RunRef::new("..")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Provider { message, .. } if message.contains("still running")),
        "{err}"
    );
    running.remove_async().await;
    let _over = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("workflowRunId".into(), "..".into()))
        .with_body(logs_body("..", "RUN_SUCCESS"))
        .create_async()
        .await;
    assert_eq!(
        c.cancel(&RunRef::new("..")).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    bulk.assert_async().await;
}

/// A chunk answered 0 while one of its runs is still running: the running one is cancelled by
/// itself (and fails here: the server cannot cancel it), the finished ones are not active.
#[tokio::test]
async fn a_chunk_answered_zero_settles_each_run_by_its_state() {
    let mut server = Server::new_async().await;
    let _bulk = server
        .mock("DELETE", "/v2/workflows/runs")
        .match_query(Matcher::Regex("^workflowRunIds=".into()))
        .with_body(r#"{"cancelled":0}"#)
        .expect(1)
        .create_async()
        .await;
    let _logs = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::Any)
        .with_body_from_request(|req| {
            let q = req
                .path_and_query()
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default();
            let id = url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "workflowRunId")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match id.as_str() {
                "wfr_run" => logs_body(&id, "RUN_STARTED"),
                "wfr_unknown" => r#"{"cursor":"","runs":[]}"#.to_owned(),
                _ => logs_body(&id, "RUN_SUCCESS"),
            }
            .into_bytes()
        })
        .expect(4)
        .create_async()
        .await;
    let single = server
        .mock("DELETE", "/v2/workflows/runs/wfr_run")
        .with_status(500)
        .with_body(r#"{"error":"failed to cancel workflow run"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(
            &Selector::ids(["wfr_done1", "wfr_run", "wfr_done2", "wfr_unknown"]),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.not_active, report.failed_runs()), (0, 3, 1));
    assert_eq!(report.failed[0].runs, vec![RunRef::new("wfr_run")]);
    assert!(
        report.failed[0].error.to_string().contains("still running"),
        "{}",
        report.failed[0].error
    );
    assert_eq!(report.accounted(), 4);
    assert_eq!(report.requests_sent, 1 + 4 + 1);
    single.assert_async().await;
}

/// A drain is `drained` only when the logs show no active run matching the filter.
#[tokio::test]
async fn a_drain_is_drained_only_when_the_logs_say_so() {
    let mut server = Server::new_async().await;
    let _rounds = server
        .mock("DELETE", "/v2/workflows/runs")
        .match_query(Matcher::Regex("label=nightly".into()))
        .with_body(r#"{"cancelled":0}"#)
        .create_async()
        .await;
    let still = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("state".into(), "RUN_STARTED".into()))
        .with_body(r#"{"cursor":"","runs":[{"workflowRunId":"wfr_other","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"other"},{"workflowRunId":"wfr_n","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"nightly"}]}"#)
        .create_async()
        .await;
    let c = canceller(&server);
    let selector = Selector::filter(RunFilter::new().label("nightly"));
    let opts = BulkOptions::new().drain(true);
    let report = c.cancel_many(&selector, &opts).await.unwrap();
    assert!(!report.drained);
    assert_eq!(report.rounds, 2, "one more round after the first 0, then it stops");
    let why = report.not_confirmed.clone().unwrap();
    assert!(why.contains("wfr_n"), "{why}");
    still.remove_async().await;
    let _none = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("state".into(), "RUN_STARTED".into()))
        .with_body(r#"{"cursor":"","runs":[{"workflowRunId":"wfr_other","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"other"}]}"#)
        .create_async()
        .await;
    let report = c.cancel_many(&selector, &opts).await.unwrap();
    assert!(report.drained && report.not_confirmed.is_none(), "{report:?}");
    assert_eq!(
        (report.rounds, report.requests_sent),
        (1, 2),
        "one round, one state read"
    );
}

/// The emulator's semantics end to end: a run that blocks a chunk once is still cancelled, and
/// every count matches the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_agrees_run_by_run() {
    use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun, UpstashState};
    let emu = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    for i in 0..20 {
        let mut run = UpstashRun::new(format!("wfr_{i}"), "https://x/wf");
        if i % 4 == 0 {
            run = run.state(UpstashState::Success);
        }
        if i == 5 {
            run = run.uncancellable_once();
        }
        emu.seed(run);
    }
    let c = UpstashCanceller::builder()
        .token(emu.token())
        .base_url(emu.url())
        .build()
        .unwrap();
    let ids: Vec<String> = (0..22).map(|i| format!("wfr_{i}")).collect();
    let report = c.cancel_many(&Selector::ids(ids), &BulkOptions::new()).await.unwrap();
    assert_eq!(report.cancelled, 15, "{report:?}");
    assert_eq!(report.not_active, 7, "5 finished, 2 unknown");
    assert!(report.is_success());
    assert_eq!(emu.active_count(), 0);
    assert_eq!(
        c.cancel(&RunRef::new("wfr_1")).await,
        Ok(CancelOutcome::NotActive(Inactive::Unspecified))
    );
}

/// The sends of one call share one deadline: a bulk-endpoint cancel (1.2 s) and the state read
/// after its 0 (1.2 s more) do not fit a 2 s deadline, and the call ends at it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_and_its_state_read_share_one_deadline() {
    use std::time::{Duration, Instant};
    let mut server = Server::new_async().await;
    let slow = |body: &'static str| {
        move |_: &mockito::Request| {
            std::thread::sleep(Duration::from_millis(1200));
            body.as_bytes().to_vec()
        }
    };
    let _bulk = server
        .mock("DELETE", "/v2/workflows/runs")
        .match_query(Matcher::Any)
        .with_body_from_request(slow(r#"{"cancelled":0}"#))
        .create_async()
        .await;
    let _logs = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::Any)
        .with_body_from_request(slow(r#"{"cursor":"","runs":[]}"#))
        .create_async()
        .await;
    let c = UpstashCanceller::builder()
        .token("tok-123456789")
        .base_url(server.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::default().total_deadline(Duration::from_secs(2))))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let err = c.cancel(&RunRef::new("..")).await.unwrap_err();
    let took = t0.elapsed();
    assert!(matches!(err, CancelError::Timeout { .. }), "{err}");
    assert!(took < Duration::from_millis(2300), "{took:?}");
}
