//! The exact requests `TemporalCanceller` sends (mockito): paths, headers, JSON bodies, and what
//! stays identical across a retried request (a cancel's `requestId`, a batch's job id).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{Value, json};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelOptions, CancelOutcome, Inactive, RetryPolicy, RunFilter, RunRef, RunState, Selector,
    WorkflowCanceller,
};
use wfcancel_temporal::TemporalCanceller;

const KEY: &str = "temporal-SECRET-9f2";
const RUN_ID: &str = "0193a3c0-1111-7000-8000-000000000001";

fn canceller(base: &str) -> TemporalCanceller {
    TemporalCanceller::builder()
        .base_url(base)
        .api_key(KEY)
        .identity("billing-svc")
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .initial_backoff(Duration::from_millis(1))
                    .jitter(false)
                    .max_attempts(3),
            ),
        )
        .build()
        .expect("canceller")
}

fn described(status: &str, cancel_requested: bool) -> String {
    json!({
        "workflowExecutionInfo": {
            "execution": {"workflowId": "w", "runId": RUN_ID},
            "status": format!("WORKFLOW_EXECUTION_STATUS_{status}"),
        },
        "workflowExtendedInfo": {"cancelRequested": cancel_requested},
    })
    .to_string()
}

/// Records the JSON body of every request to `method path` (its matcher sees every request that
/// reaches the server; it matches the same ones as the mocks it sits beside).
fn recorder(server: &mut ServerGuard, method: &str, path: Matcher, seen: Arc<Mutex<Vec<(String, Value)>>>) -> Mock {
    server
        .mock(method, path)
        .match_request(move |req| {
            let body = req
                .utf8_lossy_body()
                .ok()
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or(Value::Null);
            seen.lock().unwrap().push((req.path().to_owned(), body));
            false
        })
        .expect(0)
        .create()
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

#[tokio::test]
async fn graceful_cancel_describes_then_cancels_the_described_run() {
    let mut server = Server::new_async().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _rec = recorder(
        &mut server,
        "POST",
        Matcher::Exact("/api/v1/namespaces/orders/workflows/order%2042/cancel".into()),
        seen.clone(),
    );
    let describe = server
        .mock("GET", "/api/v1/namespaces/orders/workflows/order%2042")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .match_header("user-agent", Matcher::Regex(r"^wfcancel/\d+\.\d+\.\d+".into()))
        .match_body(Matcher::Exact(String::new()))
        .with_body(described("RUNNING", false))
        .expect(1)
        .create_async()
        .await;
    let cancel = server
        .mock("POST", "/api/v1/namespaces/orders/workflows/order%2042/cancel")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .match_header("content-type", "application/json")
        .with_header("content-type", "*")
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let run = RunRef::new("order 42").scope("orders");
    let outcome = c
        .cancel_with(&run, &CancelOptions::graceful().reason("customer asked"))
        .await;
    assert_eq!(outcome, Ok(CancelOutcome::Requested));
    describe.assert_async().await;
    cancel.assert_async().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let body = &seen[0].1;
    let request_id = body["requestId"].as_str().expect("a requestId").to_owned();
    assert!(is_uuid_v4(&request_id), "{request_id}");
    assert_eq!(
        body,
        &json!({
            "identity": "billing-svc",
            "requestId": request_id,
            "reason": "customer asked",
            "workflowExecution": {"workflowId": "order 42", "runId": RUN_ID},
        })
    );
}

#[tokio::test]
async fn a_retried_cancel_keeps_its_request_id() {
    let mut server = Server::new_async().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let path = "/api/v1/namespaces/default/workflows/w/cancel";
    let _rec = recorder(&mut server, "POST", Matcher::Exact(path.into()), seen.clone());
    let _d = server
        .mock("GET", "/api/v1/namespaces/default/workflows/w")
        .with_body(described("RUNNING", false))
        .expect(1)
        .create_async()
        .await;
    let first = server
        .mock("POST", path)
        .with_status(503)
        .with_body(r#"{"code":14,"message":"frontend unavailable"}"#)
        .expect(1)
        .create_async()
        .await;
    let second = server.mock("POST", path).with_body("{}").expect(1).create_async().await;
    let c = canceller(&server.url());
    assert_eq!(c.cancel(&RunRef::new("w")).await, Ok(CancelOutcome::Requested));
    first.assert_async().await;
    second.assert_async().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].1, seen[1].1, "the retry resends the same body");
    assert!(is_uuid_v4(seen[0].1["requestId"].as_str().unwrap()));
    assert!(seen[0].1.get("reason").is_none(), "no reason given, none sent");
}

#[tokio::test]
async fn nothing_is_sent_to_a_closed_unknown_or_already_cancelling_workflow() {
    let mut server = Server::new_async().await;
    let never = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    for (status, body, want) in [
        (200, described("COMPLETED", false), CancelOutcome::NotActive(Inactive::Finished)),
        (200, described("CANCELED", false), CancelOutcome::NotActive(Inactive::Finished)),
        (200, described("RUNNING", true), CancelOutcome::Requested),
        (
            404,
            r#"{"code":5,"message":"workflow not found for ID: w","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}]}"#.to_owned(),
            CancelOutcome::NotActive(Inactive::NoSuchRun),
        ),
    ] {
        let m = server
            .mock("GET", "/api/v1/namespaces/default/workflows/w")
            .with_status(status)
            .with_body(&body)
            .expect(1)
            .create_async()
            .await;
        assert_eq!(canceller(&server.url()).cancel(&RunRef::new("w")).await, Ok(want), "{body}");
        m.assert_async().await;
        m.remove_async().await;
    }
    never.assert_async().await;
}

#[tokio::test]
async fn terminate_sends_identity_reason_and_run_id_without_a_request_id() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/api/v1/namespaces/default/workflows/w/terminate")
        .match_body(Matcher::Json(json!({
            "identity": "billing-svc",
            "reason": "bad deploy",
            "workflowExecution": {"workflowId": "w", "runId": RUN_ID},
        })))
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let run = RunRef::new("w").sub_id(RUN_ID);
    assert_eq!(
        c.cancel_with(&run, &CancelOptions::forced().reason("bad deploy")).await,
        Ok(CancelOutcome::Cancelled)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn a_retried_terminate_answered_already_completed_reads_the_state() {
    let mut server = Server::new_async().await;
    let path = "/api/v1/namespaces/default/workflows/w/terminate";
    let lost = server
        .mock("POST", path)
        .with_status(503)
        .expect(1)
        .create_async()
        .await;
    let closed = server
        .mock("POST", path)
        .with_status(404)
        .with_body(r#"{"code":5,"message":"workflow execution already completed","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let describe = server
        .mock("GET", "/api/v1/namespaces/default/workflows/w")
        .with_body(described("TERMINATED", false))
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    assert_eq!(
        c.cancel_with(&RunRef::new("w"), &CancelOptions::forced()).await,
        Ok(CancelOutcome::Cancelled),
        "the first attempt terminated it"
    );
    lost.assert_async().await;
    closed.assert_async().await;
    describe.assert_async().await;
}

#[tokio::test]
async fn status_sends_the_run_id_as_a_query_parameter() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/namespaces/ns-1/workflows/w")
        .match_query(Matcher::UrlEncoded("execution.runId".into(), RUN_ID.into()))
        .with_body(described("TIMED_OUT", false))
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    assert_eq!(
        c.status(&RunRef::new("w").scope("ns-1").sub_id(RUN_ID)).await,
        Ok(RunState::TimedOut)
    );
    m.assert_async().await;
}

fn batch_path() -> Matcher {
    Matcher::Regex(r"^/api/v1/namespaces/default/batch-operations/wfcancel-[0-9a-f-]{36}$".into())
}

#[tokio::test]
async fn a_batch_start_names_its_job_id_in_path_and_body() {
    let mut server = Server::new_async().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _rec = recorder(&mut server, "POST", batch_path(), seen.clone());
    let m = server
        .mock("POST", batch_path())
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("Nightly")),
            &BulkOptions::new().cancel_options(CancelOptions::forced().reason("cleanup")),
        )
        .await
        .expect("report");
    m.assert_async().await;
    let seen = seen.lock().unwrap();
    let (path, body) = &seen[0];
    let job = path.rsplit('/').next().unwrap();
    assert_eq!(report.action_id.as_deref(), Some(job));
    assert_eq!(
        body,
        &json!({
            "jobId": job,
            "visibilityQuery": r#"WorkflowType IN ("Nightly") AND ExecutionStatus = "Running""#,
            "reason": "cleanup",
            "terminationOperation": {"identity": "billing-svc"},
        })
    );
    assert!(report.failed.is_empty() && !report.drained, "{report:?}");
}

#[tokio::test]
async fn a_retried_batch_start_keeps_its_job_id_and_a_409_to_the_retry_is_the_same_batch() {
    let mut server = Server::new_async().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _rec = recorder(&mut server, "POST", batch_path(), seen.clone());
    let lost = server
        .mock("POST", batch_path())
        .with_status(503)
        .expect(1)
        .create_async()
        .await;
    let exists = server
        .mock("POST", batch_path())
        .with_status(409)
        .with_body(r#"{"code":6,"message":"Workflow execution already started","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let progress = server
        .mock("GET", batch_path())
        .with_body(
            r#"{"state":"BATCH_OPERATION_STATE_COMPLETED","totalOperationCount":"7","completeOperationCount":"7"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .expect("report");
    lost.assert_async().await;
    exists.assert_async().await;
    progress.assert_async().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "same path (job id) and body on the retry");
    assert_eq!(seen[0].1["reason"], "cancelled with wfcancel");
    assert_eq!(seen[0].1["visibilityQuery"], r#"ExecutionStatus = "Running""#);
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!((report.requested, report.drained), (7, true), "{report:?}");
    assert_eq!(report.action_id.as_deref(), seen[0].0.rsplit('/').next());
}

#[tokio::test]
async fn a_409_to_a_first_batch_start_is_a_failure_not_a_batch() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", batch_path())
        .with_status(409)
        .with_body(r#"{"code":6,"message":"Workflow execution already finished."}"#)
        .expect(1)
        .create_async()
        .await;
    let report = canceller(&server.url())
        .cancel_many(
            &Selector::native_query("temporal", "WorkflowType = \"A\""),
            &BulkOptions::new(),
        )
        .await
        .expect("report");
    m.assert_async().await;
    assert!(report.action_id.is_none(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].error.to_string().contains("already in use"),
        "{report:?}"
    );
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let mut server = Server::new_async().await;
    let never_get = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let never_post = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server.url());
    for run in [
        RunRef::new(" "),
        RunRef::new("w").session("s"),
        RunRef::new("w").workflow("owner"),
        RunRef::new("w").scope(""),
        RunRef::new("w").sub_id(" "),
    ] {
        let e = c.cancel(&run).await.unwrap_err();
        assert_eq!(e.kind(), wfcancel_core::ErrorKind::InvalidInput, "{run:?}: {e}");
    }
    let e = c
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::Unsupported, "{e}");
    let e = c
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("A").state(RunState::Completed)),
            &BulkOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::InvalidInput, "{e}");
    let e = c
        .cancel_many(&Selector::native_query("sql", "x"), &BulkOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::Unsupported, "{e}");
    never_get.assert_async().await;
    never_post.assert_async().await;
}

#[tokio::test]
async fn a_workflow_id_with_a_slash_is_listed_then_cancelled_by_a_batch_over_its_execution() {
    let mut server = Server::new_async().await;
    let list = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::UrlEncoded(
            "query".into(),
            r#"WorkflowId = "order/42""#.into(),
        ))
        .with_body(
            json!({"executions": [
                {"execution": {"workflowId": "order/42", "runId": "old"}, "status": "WORKFLOW_EXECUTION_STATUS_COMPLETED", "closeTime": "2026-01-01T00:00:00Z"},
                {"execution": {"workflowId": "order/42", "runId": RUN_ID}, "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"},
            ]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _rec = recorder(&mut server, "POST", batch_path(), seen.clone());
    let lost = server
        .mock("POST", batch_path())
        .with_status(503)
        .expect(1)
        .create_async()
        .await;
    let exists = server
        .mock("POST", batch_path())
        .with_status(409)
        .with_body(r#"{"code":6,"message":"already started"}"#)
        .expect(1)
        .create_async()
        .await;
    let running = server
        .mock("GET", batch_path())
        .with_body(r#"{"state":"BATCH_OPERATION_STATE_RUNNING"}"#)
        .expect(1)
        .create_async()
        .await;
    let done = server
        .mock("GET", batch_path())
        .with_body(
            r#"{"state":"BATCH_OPERATION_STATE_COMPLETED","totalOperationCount":"1","completeOperationCount":"1"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let outcome = c
        .cancel_with(&RunRef::new("order/42"), &CancelOptions::graceful().reason("moved"))
        .await;
    assert_eq!(outcome, Ok(CancelOutcome::Requested));
    for m in [&list, &lost, &exists, &running, &done] {
        m.assert_async().await;
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "the retry keeps the job id and body");
    let job = seen[0].0.rsplit('/').next().unwrap();
    assert_eq!(
        seen[0].1,
        json!({
            "jobId": job,
            "executions": [{"workflowId": "order/42", "runId": RUN_ID}],
            "reason": "moved",
            "cancellationOperation": {"identity": "billing-svc"},
        })
    );
}

#[tokio::test]
async fn a_slash_id_that_is_closed_unknown_or_failed_in_its_batch() {
    let mut server = Server::new_async().await;
    let never = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let closed = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::Any)
        .with_body(r#"{"executions":[{"execution":{"workflowId":"a/b","runId":"r"},"status":"WORKFLOW_EXECUTION_STATUS_TERMINATED","closeTime":"2026-01-01T00:00:00Z"}]}"#)
        .expect(2)
        .create_async()
        .await;
    let c = canceller(&server.url());
    assert_eq!(
        c.cancel(&RunRef::new("a/b")).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    assert_eq!(
        c.cancel_with(&RunRef::new("a/b"), &CancelOptions::forced()).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    closed.assert_async().await;
    closed.remove_async().await;
    let none = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::Any)
        .with_body("{}")
        .expect(2)
        .create_async()
        .await;
    assert_eq!(
        c.cancel(&RunRef::new("a/b")).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    let e = c.status(&RunRef::new("a/b")).await.unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::NotFound, "{e}");
    none.assert_async().await;
    never.assert_async().await;
    // A quote or backslash beside the slash: refused before any request.
    let e = c.cancel(&RunRef::new("a/\"b")).await.unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::Unsupported, "{e}");
}

/// A graceful bulk by ids reads which workflows run through one visibility list (ids quoted,
/// `ExecutionStatus = "Running"`), cancels those at once with the listed run id pinned, and
/// describes only the others (a closed one: not active, nothing sent).
#[tokio::test]
async fn a_bulk_by_ids_lists_the_running_ones_then_describes_only_the_rest() {
    let mut server = Server::new_async().await;
    let run_a = "0193a3c0-1111-7000-8000-00000000000a";
    let run_b = "0193a3c0-1111-7000-8000-00000000000b";
    let query = r#"WorkflowId IN ("a", "b\"q", "c") AND ExecutionStatus = "Running""#;
    let list = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("query".into(), query.into()),
            Matcher::UrlEncoded("pageSize".into(), "3".into()),
        ]))
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_body(
            json!({"executions": [
                {"execution": {"workflowId": "a", "runId": run_a}, "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"},
                {"execution": {"workflowId": "b\"q", "runId": run_b}, "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"},
            ]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let _rec = recorder(
        &mut server,
        "POST",
        Matcher::Regex(r"^/api/v1/namespaces/default/workflows/.*/cancel$".into()),
        seen.clone(),
    );
    let cancels = server
        .mock(
            "POST",
            Matcher::Regex(r"^/api/v1/namespaces/default/workflows/(a|b%22q)/cancel$".into()),
        )
        .with_body("{}")
        .expect(2)
        .create_async()
        .await;
    let no_describe = server
        .mock(
            "GET",
            Matcher::Regex(r"^/api/v1/namespaces/default/workflows/(a|b%22q)$".into()),
        )
        .expect(0)
        .create_async()
        .await;
    let describe_c = server
        .mock("GET", "/api/v1/namespaces/default/workflows/c")
        .with_body(described("COMPLETED", false))
        .expect(1)
        .create_async()
        .await;
    let no_cancel_c = server
        .mock("POST", "/api/v1/namespaces/default/workflows/c/cancel")
        .expect(0)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let report = c
        .cancel_many(
            &Selector::ids([RunRef::new("a"), RunRef::new("b\"q"), RunRef::new("c")]),
            &BulkOptions::new().concurrency(2),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            report.requested,
            report.not_active,
            report.failed_runs(),
            report.requests_sent
        ),
        (2, 1, 0, 4),
        "{report:?}"
    );
    list.assert_async().await;
    cancels.assert_async().await;
    no_describe.assert_async().await;
    describe_c.assert_async().await;
    no_cancel_c.assert_async().await;
    let mut pinned: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| {
            (
                b["workflowExecution"]["workflowId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                b["workflowExecution"]["runId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    pinned.sort();
    assert_eq!(
        pinned,
        [
            ("a".to_owned(), run_a.to_owned()),
            ("b\"q".to_owned(), run_b.to_owned())
        ]
    );
}

/// When the visibility read fails, every run takes the describe path: nothing is lost.
#[tokio::test]
async fn a_bulk_by_ids_whose_visibility_read_fails_describes_each_run() {
    let mut server = Server::new_async().await;
    let _list = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body(r#"{"code":3,"message":"invalid query"}"#)
        .create_async()
        .await;
    let describe = server
        .mock(
            "GET",
            Matcher::Regex(r"^/api/v1/namespaces/default/workflows/(x|y)$".into()),
        )
        .with_body(described("RUNNING", false))
        .expect(2)
        .create_async()
        .await;
    let cancel = server
        .mock(
            "POST",
            Matcher::Regex(r"^/api/v1/namespaces/default/workflows/(x|y)/cancel$".into()),
        )
        .with_body("{}")
        .expect(2)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let report = c
        .cancel_many(
            &Selector::ids([RunRef::new("x"), RunRef::new("y")]),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!((report.requested, report.failed_runs()), (2, 0), "{report:?}");
    describe.assert_async().await;
    cancel.assert_async().await;
}

/// A proxy in front of `server` that lets it handle every request to a path ending in
/// `suffix`, then closes the connection without its answer (the request took effect; the
/// client hears nothing, on every attempt).
async fn answers_lost(server: &ServerGuard, suffix: &str) -> wfcancel_emulator::FaultProxy {
    use wfcancel_emulator::{FaultProxy, ProxyConfig, ProxyFlavor, Scenario, ScenarioRule};
    let proxy = FaultProxy::start(ProxyConfig::new(server.url(), ProxyFlavor::Temporal))
        .await
        .expect("proxy");
    proxy
        .faults()
        .add_scenario(ScenarioRule::new(Scenario::DropAfterHandling).path_suffix(suffix));
    proxy
}

#[tokio::test]
async fn a_cancel_none_of_whose_attempts_was_answered_reads_the_run_again() {
    let path = "/api/v1/namespaces/default/workflows/w";
    for (requested_after, want) in [(true, Ok(CancelOutcome::Requested)), (false, Err(()))] {
        let mut server = Server::new_async().await;
        let before = server
            .mock("GET", path)
            .with_body(described("RUNNING", false))
            .expect(1)
            .create_async()
            .await;
        // Every attempt reached the server; no answer reached the client.
        let cancels = server
            .mock("POST", format!("{path}/cancel").as_str())
            .with_body("{}")
            .expect(3)
            .create_async()
            .await;
        // The read after: the run just described, by its run id.
        let after = server
            .mock("GET", path)
            .match_query(Matcher::UrlEncoded("execution.runId".into(), RUN_ID.into()))
            .with_body(described("RUNNING", requested_after))
            .expect(1)
            .create_async()
            .await;
        let proxy = answers_lost(&server, "/cancel").await;
        let r = canceller(&proxy.url()).cancel(&RunRef::new("w")).await;
        match want {
            Ok(outcome) => assert_eq!(r, Ok(outcome), "the server recorded the cancel"),
            Err(()) => assert!(
                matches!(&r, Err(wfcancel_core::CancelError::Transport { .. })),
                "the server shows no cancel: the error stands: {r:?}"
            ),
        }
        before.assert_async().await;
        cancels.assert_async().await;
        after.assert_async().await;
    }
}

#[tokio::test]
async fn a_terminate_none_of_whose_attempts_was_answered_reads_the_state() {
    let path = "/api/v1/namespaces/default/workflows/w";
    let mut server = Server::new_async().await;
    let terminates = server
        .mock("POST", format!("{path}/terminate").as_str())
        .with_body("{}")
        .expect(3)
        .create_async()
        .await;
    let read = server
        .mock("GET", path)
        .with_body(described("TERMINATED", false))
        .expect(1)
        .create_async()
        .await;
    let proxy = answers_lost(&server, "/terminate").await;
    assert_eq!(
        canceller(&proxy.url())
            .cancel_with(&RunRef::new("w"), &CancelOptions::forced())
            .await,
        Ok(CancelOutcome::Cancelled),
        "an unanswered attempt terminated it"
    );
    terminates.assert_async().await;
    read.assert_async().await;
}
