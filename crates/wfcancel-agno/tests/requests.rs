//! The exact requests `AgnoCanceller` sends (mockito), and the inputs it refuses before sending.

mod common;

use common::canceller;
use mockito::{Matcher, Server};
use wfcancel_core::Inactive;
use wfcancel_core::{BulkOptions, CancelError, CancelOutcome, RunRef, RunState, Selector, WorkflowCanceller};

fn user_agent() -> Matcher {
    Matcher::Regex(r"^wfcancel/\d+\.\d+\.\d+".into())
}

#[tokio::test]
async fn cancel_workflow_run_with_session_and_key() {
    let mut server = Server::new_async().await;
    // With the session known, the run's state is read first (see `state_check_*` below).
    let get = server
        .mock("GET", "/workflows/nightly/runs/run-1")
        .match_query(Matcher::UrlEncoded("session_id".into(), "sess-1".into()))
        .match_header("authorization", "Bearer sekrit")
        .match_header("user-agent", user_agent())
        .match_body(Matcher::Exact(String::new()))
        .with_status(200)
        .with_body(r#"{"run_id":"run-1","status":"RUNNING"}"#)
        .expect(1)
        .create_async()
        .await;
    let m = server
        .mock("POST", "/workflows/nightly/runs/run-1/cancel")
        .match_query(Matcher::UrlEncoded("session_id".into(), "sess-1".into()))
        .match_header("authorization", "Bearer sekrit")
        .match_header("user-agent", user_agent())
        .match_header("content-type", Matcher::Missing)
        .match_body(Matcher::Exact(String::new()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url(), Some("sekrit"));
    let run = RunRef::new("run-1").workflow("nightly").session("sess-1");
    assert_eq!(c.cancel(&run).await, Ok(CancelOutcome::Requested));
    get.assert_async().await;
    m.assert_async().await;
}

/// Mocks the state check (`GET`) and the cancel (`POST`) of `wf/r?session_id=s`.
async fn state_then_cancel(
    server: &mut mockito::ServerGuard,
    get_status: usize,
    get_body: &str,
    get_hits: usize,
    post_hits: usize,
) -> (mockito::Mock, mockito::Mock) {
    let get = server
        .mock("GET", "/workflows/wf/runs/r")
        .match_query(Matcher::UrlEncoded("session_id".into(), "s".into()))
        .with_status(get_status)
        .with_body(get_body)
        .expect(get_hits)
        .create_async()
        .await;
    let post = server
        .mock("POST", "/workflows/wf/runs/r/cancel")
        .match_query(Matcher::UrlEncoded("session_id".into(), "s".into()))
        .with_status(200)
        .with_body("{}")
        .expect(post_hits)
        .create_async()
        .await;
    (get, post)
}

fn wf_run() -> RunRef {
    RunRef::new("r").workflow("wf").session("s")
}

#[tokio::test]
async fn state_check_finished_run_is_not_active_and_not_cancelled() {
    for status in ["COMPLETED", "CANCELLED", "ERROR", "REGENERATED"] {
        let mut server = Server::new_async().await;
        let body = format!(r#"{{"status":"{status}"}}"#);
        let (get, post) = state_then_cancel(&mut server, 200, &body, 1, 0).await;
        let c = canceller(&server.url(), None);
        assert_eq!(
            c.cancel(&wf_run()).await,
            Ok(CancelOutcome::NotActive(Inactive::Finished)),
            "{status}"
        );
        get.assert_async().await;
        post.assert_async().await;
    }
}

#[tokio::test]
async fn state_check_active_run_is_cancelled() {
    for status in ["PENDING", "RUNNING", "PAUSED", "SOMETHING_NEW"] {
        let mut server = Server::new_async().await;
        let body = format!(r#"{{"status":"{status}"}}"#);
        let (get, post) = state_then_cancel(&mut server, 200, &body, 1, 1).await;
        let c = canceller(&server.url(), None);
        assert_eq!(c.cancel(&wf_run()).await, Ok(CancelOutcome::Requested), "{status}");
        get.assert_async().await;
        post.assert_async().await;
    }
}

/// Regression: `404 Run not found` to the status read is also what AgentOS answers for a wrong
/// session or owner, while the cancel (keyed by run id alone) does stop the run: the cancel is
/// sent and its own outcome stands.
#[tokio::test]
async fn state_check_run_not_found_still_sends_the_cancel_and_keeps_its_outcome() {
    let mut server = Server::new_async().await;
    let (get, post) = state_then_cancel(&mut server, 404, r#"{"detail":"Run not found"}"#, 1, 1).await;
    let c = canceller(&server.url(), None);
    assert_eq!(c.cancel(&wf_run()).await, Ok(CancelOutcome::Requested));
    get.assert_async().await;
    post.assert_async().await;
}

#[tokio::test]
async fn state_check_failure_is_not_retried_and_the_cancel_decides() {
    for (status, body) in [(500, "boom"), (503, ""), (401, r#"{"detail":"x"}"#), (200, "<html>")] {
        let mut server = Server::new_async().await;
        let (get, post) = state_then_cancel(&mut server, status, body, 1, 1).await;
        let c = canceller(&server.url(), None);
        assert_eq!(
            c.cancel(&wf_run()).await,
            Ok(CancelOutcome::Requested),
            "{status} {body}"
        );
        get.assert_async().await;
        post.assert_async().await;
    }
}

#[tokio::test]
async fn state_check_is_skipped_without_session_or_when_off() {
    let mut server = Server::new_async().await;
    let (get, post) = state_then_cancel(&mut server, 200, r#"{"status":"COMPLETED"}"#, 0, 1).await;
    let off = common::canceller_with(&server.url(), None, false);
    assert_eq!(off.cancel(&wf_run()).await, Ok(CancelOutcome::Requested));
    get.assert_async().await;
    post.assert_async().await;
    let no_session = server
        .mock("POST", "/workflows/wf/runs/r2/cancel")
        .match_query(Matcher::Missing)
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let none = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let on = canceller(&server.url(), None);
    assert_eq!(
        on.cancel(&RunRef::new("r2").workflow("wf")).await,
        Ok(CancelOutcome::Requested)
    );
    no_session.assert_async().await;
    none.assert_async().await;
}

#[tokio::test]
async fn cancel_agent_run_without_session_or_key() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/agents/helper/runs/run-2/cancel")
        .match_query(Matcher::Missing)
        .match_header("authorization", Matcher::Missing)
        .match_header("user-agent", user_agent())
        .match_body(Matcher::Exact(String::new()))
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url(), None);
    assert_eq!(
        c.cancel(&RunRef::new("run-2").agent("helper")).await,
        Ok(CancelOutcome::Requested)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn cancel_team_run() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/teams/crew/runs/run-3/cancel")
        .match_query(Matcher::UrlEncoded("session_id".into(), "s 3".into()))
        .match_header("authorization", "Bearer k")
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url(), Some("k"));
    assert_eq!(
        c.cancel(&RunRef::new("run-3").team("crew").session("s 3")).await,
        Ok(CancelOutcome::Requested)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn base_url_path_prefix_is_kept() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/agentos/v1/workflows/w/runs/r/cancel")
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&format!("{}/agentos/v1/", server.url()), None);
    assert_eq!(
        c.cancel(&RunRef::new("r").workflow("w")).await,
        Ok(CancelOutcome::Requested)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn status_reads_the_run_with_its_session() {
    let mut server = Server::new_async().await;
    let cases = [
        ("PENDING", RunState::Pending),
        ("RUNNING", RunState::Running),
        ("PAUSED", RunState::Paused),
        ("COMPLETED", RunState::Completed),
        ("CANCELLED", RunState::Cancelled),
        ("ERROR", RunState::Failed),
        ("REGENERATED", RunState::Completed),
        ("SOMETHING_NEW", RunState::unknown("SOMETHING_NEW", false)),
    ];
    let c = canceller(&server.url(), Some("k"));
    for (i, (s, want)) in cases.into_iter().enumerate() {
        let run_id = format!("run-{i}");
        // A body shaped like the real 3.1.10 one (OBSERVED.md), extra fields included.
        let body = format!(
            r#"{{"input":"x","content":"Run {run_id} was cancelled","content_type":"str","workflow_id":"w",
               "workflow_name":"w","run_id":"{run_id}","session_id":"s","created_at":1795294813,"status":"{s}",
               "cancellation_stage":"EXECUTING","metadata":{{}},"step_results":[{{"success":false}}],
               "metrics":{{"steps":{{}},"duration":2.01}},"events":[]}}"#
        );
        let m = server
            .mock("GET", format!("/workflows/w/runs/{run_id}").as_str())
            .match_query(Matcher::UrlEncoded("session_id".into(), "s".into()))
            .match_header("authorization", "Bearer k")
            .match_header("user-agent", user_agent())
            .match_body(Matcher::Exact(String::new()))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        let state = c.status(&RunRef::new(run_id).workflow("w").session("s")).await;
        assert_eq!(state, Ok(want));
        m.assert_async().await;
    }
}

#[tokio::test]
async fn status_of_agent_and_team_runs() {
    let mut server = Server::new_async().await;
    let a = server
        .mock("GET", "/agents/ag/runs/r")
        .match_query(Matcher::UrlEncoded("session_id".into(), "s".into()))
        .with_status(200)
        .with_body(r#"{"status":"RUNNING"}"#)
        .expect(1)
        .create_async()
        .await;
    let t = server
        .mock("GET", "/teams/tm/runs/r")
        .match_query(Matcher::UrlEncoded("session_id".into(), "s".into()))
        .with_status(200)
        .with_body(r#"{"status":"COMPLETED"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url(), None);
    assert_eq!(
        c.status(&RunRef::new("r").agent("ag").session("s")).await,
        Ok(RunState::Running)
    );
    assert_eq!(
        c.status(&RunRef::new("r").team("tm").session("s")).await,
        Ok(RunState::Completed)
    );
    a.assert_async().await;
    t.assert_async().await;
}

/// A mock that fails the test if any request reaches the server.
struct NoRequest(Vec<mockito::Mock>);

impl NoRequest {
    async fn assert_async(&self) {
        for m in &self.0 {
            m.assert_async().await;
        }
    }
}

async fn no_request(server: &mut mockito::ServerGuard) -> NoRequest {
    let mut mocks = Vec::new();
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        mocks.push(
            server
                .mock(method, Matcher::Any)
                .with_status(599)
                .expect(0)
                .create_async()
                .await,
        );
    }
    NoRequest(mocks)
}

#[tokio::test]
async fn a_run_without_owner_is_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = no_request(&mut server).await;
    let c = canceller(&server.url(), Some("k"));
    let run = RunRef::new("run-1").session("s");
    for err in [
        c.cancel(&run).await.unwrap_err(),
        c.status(&run).await.unwrap_err(),
        c.cancel_many(&Selector::Ids(vec![run.clone()]), &BulkOptions::default())
            .await
            .unwrap_err(),
        c.cancel_request(&run).unwrap_err(),
    ] {
        match &err {
            CancelError::InvalidInput {
                backend: "agno",
                field: "owner",
                message,
                ..
            } => {
                assert!(
                    message.contains(".workflow(id)")
                        && message.contains(".agent(id)")
                        && message.contains(".team(id)"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    none.assert_async().await;
}

#[tokio::test]
async fn status_without_session_is_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = no_request(&mut server).await;
    let c = canceller(&server.url(), None);
    match c.status(&RunRef::new("run-1").workflow("w")).await {
        Err(CancelError::InvalidInput {
            field: "session_id",
            message,
            ..
        }) => {
            assert!(message.contains("session"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    none.assert_async().await;
}

#[tokio::test]
async fn hostile_ids_stay_one_path_segment() {
    let mut server = Server::new_async().await;
    let cases = [
        ("a/b", "wf/x", "/workflows/wf%2Fx/runs/a%2Fb/cancel"),
        ("q?x=1", "o?k", "/workflows/o%3Fk/runs/q%3Fx=1/cancel"),
        ("h#frag", "w#", "/workflows/w%23/runs/h%23frag/cancel"),
        ("100%", "50%25", "/workflows/50%2525/runs/100%25/cancel"),
        ("with space", "my wf", "/workflows/my%20wf/runs/with%20space/cancel"),
        (
            "ünï-☃",
            "wf-é",
            "/workflows/wf-%C3%A9/runs/%C3%BCn%C3%AF-%E2%98%83/cancel",
        ),
        ("..a", "a..", "/workflows/a../runs/..a/cancel"),
        ("../x", "./y", "/workflows/.%2Fy/runs/..%2Fx/cancel"),
    ];
    let c = canceller(&server.url(), None);
    for (run_id, owner, path) in cases {
        let m = server
            .mock("POST", path)
            .with_status(200)
            .with_body("{}")
            .expect(1)
            .create_async()
            .await;
        let run = RunRef::new(run_id).workflow(owner);
        assert_eq!(c.cancel_request(&run).unwrap().path(), path, "{run_id} {owner}");
        assert_eq!(c.cancel(&run).await, Ok(CancelOutcome::Requested), "{run_id} {owner}");
        m.assert_async().await;
    }
    // The session id is a query value, encoded as one.
    let m = server
        .mock("POST", "/workflows/w/runs/r/cancel")
        .match_query(Matcher::UrlEncoded("session_id".into(), "a&b=c#d/é".into()))
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    assert_eq!(
        c.cancel(&RunRef::new("r").workflow("w").session("a&b=c#d/é")).await,
        Ok(CancelOutcome::Requested)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn dot_segments_and_bad_ids_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = no_request(&mut server).await;
    let c = canceller(&server.url(), None);
    let cases = [
        (RunRef::new(".").workflow("w"), "run_id"),
        (RunRef::new("..").workflow("w"), "run_id"),
        (RunRef::new("r").workflow("."), "owner_id"),
        (RunRef::new("r").agent(".."), "owner_id"),
        (RunRef::new("").workflow("w"), "run_id"),
        (RunRef::new("  ").workflow("w"), "run_id"),
        (RunRef::new("r\n").workflow("w"), "run_id"),
        (RunRef::new("r").team(""), "owner_id"),
        (RunRef::new("r").workflow("w").session(""), "session_id"),
    ];
    for (run, field) in cases {
        let status_run = if field == "session_id" {
            run.clone()
        } else {
            run.clone().session("s")
        };
        for err in [
            c.cancel(&run).await.unwrap_err(),
            c.status(&status_run).await.unwrap_err(),
        ] {
            match err {
                CancelError::InvalidInput {
                    backend: "agno",
                    field: f,
                    ..
                } => assert_eq!(f, field, "{run:?}"),
                other => panic!("{run:?}: {other:?}"),
            }
        }
    }
    none.assert_async().await;
}

#[tokio::test]
async fn planned_requests_match_what_is_sent_and_never_hold_the_key() {
    let c = canceller("http://127.0.0.1:9", Some("super-secret-key"));
    let run = RunRef::new("r1").workflow("w").session("s1");
    let cancel = c.cancel_request(&run).unwrap();
    assert_eq!(cancel.method, wfcancel_core::http::Method::POST);
    assert_eq!(cancel.path(), "/workflows/w/runs/r1/cancel");
    assert_eq!(cancel.query(), Some("session_id=s1"));
    let status = c.status_request(&run).unwrap();
    assert_eq!(
        status.to_string(),
        "GET http://127.0.0.1:9/workflows/w/runs/r1?session_id=s1"
    );
    let plan = c
        .plan(&Selector::Ids(vec![run.clone(), RunRef::new("r2").agent("a")]))
        .unwrap();
    let text = format!(
        "{plan:?} {}",
        plan.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    );
    assert!(!text.contains("super-secret-key"), "{text}");
    assert_eq!(plan[1].to_string(), "POST http://127.0.0.1:9/agents/a/runs/r2/cancel");
    // One bad run in the list names its position.
    match c.plan(&Selector::Ids(vec![run, RunRef::new("r3")])) {
        Err(CancelError::InvalidInput {
            field: "owner",
            message,
            ..
        }) => assert!(message.starts_with("run #1:"), "{message}"),
        other => panic!("{other:?}"),
    }
}
