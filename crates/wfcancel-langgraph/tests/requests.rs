//! The exact requests LangGraphCanceller sends, and what it makes of each answer (mockito).

use mockito::{Matcher, Server};
use serde_json::json;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOptions, CancelOutcome, Inactive, NotFoundKind, RetryPolicy, RunFilter, RunRef,
    RunState, Selector, WorkflowCanceller,
};
use wfcancel_langgraph::LangGraphCanceller;

const KEY: &str = "lsv2_sk_SECRET-key-42";
const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";
const R1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const R2: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const R3: &str = "aaaaaaaa-0000-4000-8000-000000000003";
const R4: &str = "aaaaaaaa-0000-4000-8000-000000000004";
const FINISHED: &str = r#"{"detail":"No matching runs to cancel. Please verify the thread ID and run IDs are correct, and the runs haven't been deleted or completed."}"#;
const UNKNOWN: &str = r#"{"detail":"No runs found to cancel."}"#;

fn canceller(server: &Server, key: Option<&str>) -> LangGraphCanceller {
    let b = LangGraphCanceller::builder().base_url(server.url()).http_config(
        HttpConfig::default().retry(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_backoff(std::time::Duration::from_millis(1)),
        ),
    );
    match key {
        Some(k) => b.api_key(k),
        None => b,
    }
    .build()
    .unwrap()
}

fn run(thread: &str, id: &str) -> RunRef {
    RunRef::new(id).thread(thread)
}

fn cancel_path(t: &str, r: &str) -> String {
    format!("/threads/{t}/runs/{r}/cancel")
}

fn cancel_query() -> Matcher {
    Matcher::AllOf(vec![
        Matcher::UrlEncoded("wait".into(), "false".into()),
        Matcher::UrlEncoded("action".into(), "interrupt".into()),
    ])
}

fn run_body(status: &str) -> String {
    json!({"run_id": R1, "thread_id": T1, "assistant_id": "x", "status": status}).to_string()
}

#[tokio::test]
async fn cancel_202_is_requested_with_the_key_in_x_api_key() {
    let mut s = Server::new_async().await;
    let m = s
        .mock("POST", cancel_path(T1, R1).as_str())
        .match_query(cancel_query())
        .match_header("x-api-key", KEY)
        .match_header("authorization", Matcher::Missing)
        .match_body("")
        .with_status(202)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&s, Some(KEY));
    assert_eq!(c.cancel(&run(T1, R1)).await, Ok(CancelOutcome::Requested));
    m.assert_async().await;
}

#[tokio::test]
async fn cancel_404_is_told_apart_by_a_state_read() {
    for (read_status, read_body, want) in [
        (200, run_body("success"), Inactive::Finished),
        (200, run_body("interrupted"), Inactive::Finished),
        (200, run_body("error"), Inactive::Finished),
        (200, run_body("timeout"), Inactive::Finished),
        (404, r#"{"detail":"Not Found"}"#.to_owned(), Inactive::NoSuchRun),
        (
            404,
            format!(r#"{{"detail":"Thread with ID {T1} not found"}}"#),
            Inactive::NoSuchRun,
        ),
    ] {
        let mut s = Server::new_async().await;
        // The detail says the opposite of the read each time: the read wins.
        let detail = if want == Inactive::Finished { UNKNOWN } else { FINISHED };
        let cancel = s
            .mock("POST", cancel_path(T1, R1).as_str())
            .match_query(cancel_query())
            .with_status(404)
            .with_body(detail)
            .expect(1)
            .create_async()
            .await;
        let read = s
            .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
            .with_status(read_status)
            .with_body(&read_body)
            .expect(1)
            .create_async()
            .await;
        let c = canceller(&s, None);
        assert_eq!(
            c.cancel(&run(T1, R1)).await,
            Ok(CancelOutcome::NotActive(want)),
            "{read_body}"
        );
        cancel.assert_async().await;
        read.assert_async().await;
    }
}

#[tokio::test]
async fn cancel_404_falls_back_to_the_detail_text_when_the_read_fails() {
    for (detail, want) in [
        (FINISHED, Inactive::Finished),
        (UNKNOWN, Inactive::NoSuchRun),
        (r#"{"detail":"Not Found"}"#, Inactive::Unspecified),
    ] {
        let mut s = Server::new_async().await;
        let _cancel = s
            .mock("POST", cancel_path(T1, R1).as_str())
            .match_query(Matcher::Any)
            .with_status(404)
            .with_body(detail)
            .create_async()
            .await;
        let read = s
            .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
            .with_status(500)
            .with_body("boom")
            .expect(2)
            .create_async()
            .await;
        let c = canceller(&s, None);
        assert_eq!(
            c.cancel(&run(T1, R1)).await,
            Ok(CancelOutcome::NotActive(want)),
            "{detail}"
        );
        read.assert_async().await;
    }
}

#[tokio::test]
async fn cancel_404_on_a_run_read_active_is_sent_again_then_an_error() {
    let mut s = Server::new_async().await;
    let cancel = s
        .mock("POST", cancel_path(T1, R1).as_str())
        .match_query(Matcher::Any)
        .with_status(404)
        .with_body(FINISHED)
        .expect(2)
        .create_async()
        .await;
    let _read = s
        .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
        .with_body(run_body("running"))
        .create_async()
        .await;
    let c = canceller(&s, None);
    let e = c.cancel(&run(T1, R1)).await.unwrap_err();
    assert!(matches!(e, CancelError::Provider { .. }), "{e:?}");
    cancel.assert_async().await;
}

#[tokio::test]
async fn bad_addresses_are_refused_before_any_request() {
    let mut s = Server::new_async().await;
    let any = s.mock("POST", Matcher::Any).expect(0).create_async().await;
    let get = s.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&s, None);
    for (r, field) in [
        (RunRef::new(R1), "owner"),
        (RunRef::new(R1).workflow(T1), "owner"),
        (run(T1, "run-1"), "run_id"),
        (run("thread-1", R1), "owner_id"),
        (run(T1, R1).session("s"), "session_id"),
        (run(T1, R1).scope("x"), "scope"),
        (run(T1, R1).sub_id("x"), "sub_id"),
        (run(T1, ""), "run_id"),
    ] {
        let e = c.cancel(&r).await.unwrap_err();
        assert!(
            matches!(e, CancelError::InvalidInput { field: f, .. } if f == field),
            "{r:?}: {e:?}"
        );
        let e = c.status(&r).await.unwrap_err();
        assert!(matches!(e, CancelError::InvalidInput { .. }), "{e:?}");
        let e = c
            .cancel_many(&Selector::Ids(vec![run(T1, R1), r.clone()]), &BulkOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(e, CancelError::InvalidInput { .. }), "{e:?}");
    }
    // No forced mode (rollback erases the run: it is not "force"), no reason.
    for opts in [CancelOptions::forced(), CancelOptions::graceful().reason("why")] {
        let e = c.cancel_with(&run(T1, R1), &opts).await.unwrap_err();
        assert!(matches!(e, CancelError::Unsupported { .. }), "{e:?}");
    }
    any.assert_async().await;
    get.assert_async().await;
}

#[tokio::test]
async fn status_reads_the_run() {
    let mut s = Server::new_async().await;
    let _m = s
        .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
        .with_body(run_body("interrupted"))
        .create_async()
        .await;
    let _u = s
        .mock("GET", format!("/threads/{T1}/runs/{R2}").as_str())
        .with_status(404)
        .with_body(r#"{"detail":"Not Found"}"#)
        .create_async()
        .await;
    let c = canceller(&s, None);
    assert_eq!(c.status(&run(T1, R1)).await, Ok(RunState::Cancelled));
    let e = c.status(&run(T1, R2)).await.unwrap_err();
    assert!(
        matches!(
            e,
            CancelError::NotFound {
                what: NotFoundKind::Run,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_refused_key_is_unauthenticated_and_never_shown() {
    let mut s = Server::new_async().await;
    let _m = s
        .mock("POST", cancel_path(T1, R1).as_str())
        .match_query(Matcher::Any)
        .with_status(401)
        .with_body(format!(r#"{{"detail":"Invalid API key {KEY}"}}"#))
        .create_async()
        .await;
    let c = canceller(&s, Some(KEY));
    let e = c.cancel(&run(T1, R1)).await.unwrap_err();
    assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
    let shown = format!("{e} {e:?} {c} {c:?}");
    assert!(!shown.contains(KEY) && !shown.contains("SECRET"), "{shown}");
}

/// The server answers 204 to `POST /runs/cancel {thread_id, run_ids}` whatever mix of known,
/// finished and unknown ids it gets, so each run of a thread with several is read first: only the
/// runs read active are named in the cancel (one per thread), and each run's outcome is what its
/// read said. A thread with one run gets that run's own cancel (202 answers for it alone), no read.
#[tokio::test]
async fn bulk_by_ids_reads_each_run_and_sends_one_cancel_per_thread() {
    let mut s = Server::new_async().await;
    let mut read = |t: &'static str, r: &'static str, status: usize, body: String, times: usize| {
        let path = format!("/threads/{t}/runs/{r}");
        let mock = s
            .mock("GET", path.as_str())
            .with_status(status)
            .with_body(body)
            .expect(times);
        async move { mock.create_async().await }
    };
    let m1 = read(T1, R1, 200, run_body("running"), 1).await;
    let m2 = read(T1, R2, 200, run_body("success"), 1).await;
    let m3 = read(T1, R3, 404, r#"{"detail":"Not Found"}"#.to_owned(), 1).await;
    let m4 = read(T2, R4, 200, run_body("pending"), 0).await;
    let c1 = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_body(Matcher::Json(json!({"thread_id": T1, "run_ids": [R1]})))
        .with_status(204)
        .expect(1)
        .create_async()
        .await;
    let none_for_t2 = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::Any)
        .match_body(Matcher::PartialJson(json!({"thread_id": T2})))
        .expect(0)
        .create_async()
        .await;
    let c2 = s
        .mock("POST", cancel_path(T2, R4).as_str())
        .match_query(cancel_query())
        .with_status(202)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&s, None);
    let ids = vec![run(T1, R1), run(T1, R2), run(T2, R4), run(T1, R3), run(T1, R1)];
    let report = c.cancel_many(&Selector::Ids(ids), &BulkOptions::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        (
            report.requested,
            report.not_active,
            report.duplicates_dropped,
            report.requests_sent
        ),
        (2, 2, 1, 5),
        "{report:?}"
    );
    let outcome = |r: &str| report.outcomes.iter().find(|o| o.run.run_id() == r).map(|o| o.outcome);
    assert_eq!(outcome(R1), Some(CancelOutcome::Requested));
    assert_eq!(outcome(R2), Some(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(outcome(R3), Some(CancelOutcome::NotActive(Inactive::NoSuchRun)));
    assert_eq!(outcome(R4), Some(CancelOutcome::Requested));
    for m in [m1, m2, m3, m4, c1, none_for_t2, c2] {
        m.assert_async().await;
    }
}

/// A thread whose runs were all read finished or unknown gets no cancel; runs read active whose
/// cancel answers 404 (they finished between the read and the cancel) are finished, not requested.
#[tokio::test]
async fn bulk_by_ids_sends_nothing_for_inactive_threads_and_believes_a_404() {
    let mut s = Server::new_async().await;
    let mut reads = Vec::new();
    for (t, r, state) in [
        (T1, R1, "success"),
        (T1, R3, "error"),
        (T2, R2, "running"),
        (T2, R4, "running"),
    ] {
        reads.push(
            s.mock("GET", format!("/threads/{t}/runs/{r}").as_str())
                .with_body(run_body(state))
                .create_async()
                .await,
        );
    }
    let none_for_t1 = s
        .mock("POST", "/runs/cancel")
        .match_body(Matcher::PartialJson(json!({"thread_id": T1})))
        .expect(0)
        .create_async()
        .await;
    let t2 = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::Any)
        .match_body(Matcher::Json(json!({"thread_id": T2, "run_ids": [R2, R4]})))
        .with_status(404)
        .with_body(FINISHED)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&s, None);
    let ids = vec![run(T1, R1), run(T2, R2), run(T1, R3), run(T2, R4)];
    let report = c.cancel_many(&Selector::Ids(ids), &BulkOptions::new()).await.unwrap();
    assert_eq!((report.requested, report.not_active), (0, 4), "{report:?}");
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| o.outcome == CancelOutcome::NotActive(Inactive::Finished))
    );
    none_for_t1.assert_async().await;
    t2.assert_async().await;
}

#[tokio::test]
async fn bulk_by_ids_reports_a_failed_read_and_does_not_send_that_run() {
    let mut s = Server::new_async().await;
    let _r1 = s
        .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
        .with_status(500)
        .with_body("down")
        .create_async()
        .await;
    let none = s.mock("POST", "/runs/cancel").expect(0).create_async().await;
    let c = canceller(&s, None);
    let report = c
        .cancel_many(&Selector::Ids(vec![run(T1, R1)]), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(report.failed_runs(), 1, "{report:?}");
    assert_eq!(report.accounted(), 1);
    none.assert_async().await;
}

/// By state: the runs the cancel will hit are listed first (every thread, then their runs in
/// that state), then one `POST /runs/cancel {"status": …}`; with drain, again until the server
/// answers `404 No runs found to cancel.`.
#[tokio::test]
async fn bulk_by_state_lists_then_cancels_by_status_and_drains_on_the_servers_word() {
    let mut s = Server::new_async().await;
    let search = s
        .mock("POST", "/threads/search")
        .match_body(Matcher::Json(json!({"limit": 100, "offset": 0})))
        .with_body(json!([{"thread_id": T1}, {"thread_id": T2}]).to_string())
        .expect(2)
        .create_async()
        .await;
    let list1 = s
        .mock("GET", format!("/threads/{T1}/runs").as_str())
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("status".into(), "running".into()),
            Matcher::UrlEncoded("limit".into(), "100".into()),
        ]))
        .with_body(json!([{"run_id": R1, "status": "running"}, {"run_id": R2, "status": "running"}]).to_string())
        .expect(2)
        .create_async()
        .await;
    let list2 = s
        .mock("GET", format!("/threads/{T2}/runs").as_str())
        .match_query(Matcher::UrlEncoded("status".into(), "running".into()))
        .with_body(json!([{"run_id": R3, "status": "running"}]).to_string())
        .expect(2)
        .create_async()
        .await;
    let first = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_body(Matcher::Json(json!({"status": "running"})))
        .with_status(204)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&s, None);
    let filter = Selector::filter(RunFilter::new().state(RunState::Running));
    let report = c.cancel_many(&filter, &BulkOptions::new()).await.unwrap();
    assert_eq!(
        (report.requested, report.drained, report.rounds),
        (3, false, 1),
        "{report:?}"
    );
    first.assert_async().await;
    first.remove_async().await;
    let second = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::Any)
        .match_body(Matcher::Json(json!({"status": "running"})))
        .with_status(404)
        .with_body(UNKNOWN)
        .expect(1)
        .create_async()
        .await;
    // Drained: listed runs (still reading running) are finished by the server's word.
    let report = c.cancel_many(&filter, &BulkOptions::new().drain(true)).await.unwrap();
    assert!(report.drained && report.is_success(), "{report:?}");
    assert_eq!((report.requested, report.not_active), (0, 3), "{report:?}");
    for m in [search, list1, list2, second] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn all_is_status_all_and_filters_name_pending_or_running_only() {
    let mut s = Server::new_async().await;
    let _search = s.mock("POST", "/threads/search").with_body("[]").create_async().await;
    let all = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_body(Matcher::Json(json!({"status": "all"})))
        .with_status(404)
        .with_body(UNKNOWN)
        .expect(1)
        .create_async()
        .await;
    let pending = s
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_body(Matcher::Json(json!({"status": "pending"})))
        .with_status(204)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&s, None);
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert!(report.drained && report.requested == 0, "{report:?}");
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().state(RunState::Pending)),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    assert!(report.is_success() && !report.drained, "{report:?}");
    all.assert_async().await;
    pending.assert_async().await;
    for f in [
        RunFilter::new().state(RunState::Pending).state(RunState::Running),
        RunFilter::new().state(RunState::Completed),
        RunFilter::new().state(RunState::Paused),
    ] {
        let e = c
            .cancel_many(&Selector::filter(f.clone()), &BulkOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                CancelError::InvalidInput {
                    field: "filter.states",
                    ..
                }
            ),
            "{f:?}: {e:?}"
        );
    }
    let e = c
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("agent")),
            &BulkOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::Unsupported { .. }), "{e:?}");
}

#[test]
fn from_env_reads_the_sdks_names_in_its_order() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    };
    let c = LangGraphCanceller::from_env_with(env(&[])).unwrap();
    assert_eq!(c.base_url().as_str(), "http://127.0.0.1:2024/");
    assert!(!c.has_api_key());
    let c = LangGraphCanceller::from_env_with(env(&[
        ("LANGGRAPH_API_URL", "https://d.us.langgraph.app"),
        ("LANGCHAIN_API_KEY", "c"),
        ("LANGSMITH_API_KEY", " "),
    ]))
    .unwrap();
    assert_eq!(c.base_url().as_str(), "https://d.us.langgraph.app/");
    assert!(c.has_api_key());
    let e = LangGraphCanceller::from_env_with(env(&[("LANGGRAPH_API_URL", "http://example.com")])).unwrap_err();
    assert!(matches!(e, CancelError::Config { .. }), "{e:?}");
}

/// The key the builder got is the one sent: LANGGRAPH_API_KEY before LANGSMITH_API_KEY before
/// LANGCHAIN_API_KEY, quotes dropped as the SDK drops them.
#[tokio::test]
async fn from_env_sends_the_first_key_in_the_sdks_order() {
    let mut s = Server::new_async().await;
    let m = s
        .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
        .match_header("x-api-key", "first")
        .with_body(run_body("running"))
        .expect(1)
        .create_async()
        .await;
    let url = s.url();
    let c = LangGraphCanceller::from_env_with(|name| match name {
        "LANGGRAPH_API_URL" => Some(url.clone()),
        "LANGGRAPH_API_KEY" => Some("\"first\"".to_owned()),
        "LANGSMITH_API_KEY" => Some("second".to_owned()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.status(&run(T1, R1)).await, Ok(RunState::Running));
    m.assert_async().await;
}

/// A retried cancel answered 404 (the attempt before may have reached the server, its answer
/// lost) whose run reads `interrupted`: this call may well have interrupted it, so `Cancelled`
/// (the run is over, cancelled), not `NotActive(Finished)`; a first attempt's 404 stays
/// `NotActive(Finished)` (`cancel_404_is_told_apart_by_a_state_read`), and a run read finished
/// any other way stays not active.
#[tokio::test]
async fn a_retried_cancel_answered_404_on_an_interrupted_run_is_cancelled() {
    for (read, want) in [
        ("interrupted", CancelOutcome::Cancelled),
        ("success", CancelOutcome::NotActive(Inactive::Finished)),
    ] {
        let mut s = Server::new_async().await;
        let lost = s
            .mock("POST", cancel_path(T1, R1).as_str())
            .match_query(cancel_query())
            .with_status(503)
            .expect(1)
            .create_async()
            .await;
        let retried = s
            .mock("POST", cancel_path(T1, R1).as_str())
            .match_query(cancel_query())
            .with_status(404)
            .with_body(FINISHED)
            .expect(1)
            .create_async()
            .await;
        let state = s
            .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
            .with_status(200)
            .with_body(run_body(read))
            .expect(1)
            .create_async()
            .await;
        let c = canceller(&s, None);
        assert_eq!(c.cancel(&run(T1, R1)).await, Ok(want), "{read}");
        for m in [lost, retried, state] {
            m.assert_async().await;
        }
    }
}

/// The same for one thread's runs in a bulk: `POST /runs/cancel` retried and answered 404 for
/// runs read active before: each is read again, `interrupted` → `Cancelled`, finished otherwise
/// → `NotActive(Finished)`, a failed read → as the 404 says (`NotActive(Finished)`).
#[tokio::test]
async fn a_retried_thread_cancel_answered_404_reads_each_run_again() {
    let mut s = Server::new_async().await;
    let mut mocks = Vec::new();
    for (r, after) in [(R1, Some("interrupted")), (R2, Some("success")), (R3, None)] {
        let path = format!("/threads/{T1}/runs/{r}");
        mocks.push(
            s.mock("GET", path.as_str())
                .with_status(200)
                .with_body(run_body("running"))
                .expect(1)
                .create_async()
                .await,
        );
        let second = s.mock("GET", path.as_str());
        let second = match after {
            Some(state) => second.with_status(200).with_body(run_body(state)).expect(1),
            // Both attempts of the read fail.
            None => second.with_status(500).with_body(r#"{"detail":"boom"}"#).expect(2),
        };
        mocks.push(second.create_async().await);
    }
    mocks.push(
        s.mock("POST", "/runs/cancel")
            .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
            .with_status(503)
            .expect(1)
            .create_async()
            .await,
    );
    mocks.push(
        s.mock("POST", "/runs/cancel")
            .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
            .with_status(404)
            .with_body(FINISHED)
            .expect(1)
            .create_async()
            .await,
    );
    let c = canceller(&s, None);
    let report = c
        .cancel_many(
            &Selector::Ids(vec![run(T1, R1), run(T1, R2), run(T1, R3)]),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    let outcome = |r: &str| report.outcomes.iter().find(|o| o.run.run_id() == r).map(|o| o.outcome);
    assert_eq!(outcome(R1), Some(CancelOutcome::Cancelled), "{report:?}");
    assert_eq!(
        outcome(R2),
        Some(CancelOutcome::NotActive(Inactive::Finished)),
        "{report:?}"
    );
    assert_eq!(
        outcome(R3),
        Some(CancelOutcome::NotActive(Inactive::Finished)),
        "{report:?}"
    );
    assert_eq!(report.accounted(), 3);
    for m in mocks {
        m.assert_async().await;
    }
}
