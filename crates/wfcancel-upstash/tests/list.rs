//! Listing runs from the workflow logs (mockito): the exact `GET /v2/workflows/logs` request,
//! the fields the logs do not filter on applied to each run, the server's cursor passed on,
//! counting unsupported, bad input refused before any request.

use std::time::{Duration, UNIX_EPOCH};

use mockito::{Matcher, Server, ServerGuard};
use serde_json::json;
use wfcancel_core::http::{HttpConfig, USER_AGENT_VALUE};
use wfcancel_core::{CancelError, ErrorKind, ListOptions, RetryPolicy, RunFilter, RunState, WorkflowCanceller};
use wfcancel_upstash::UpstashCanceller;

const TOKEN: &str = "tok-123-SECRET";
const LOGS: &str = "/v2/workflows/logs";

fn canceller(server: &ServerGuard) -> UpstashCanceller {
    UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn entry(id: &str, url: &str, state: &str, label: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "workflowRunId": id,
        "workflowUrl": url,
        "workflowState": state,
        "workflowRunCreatedAt": 1_700_000_000_250u64,
    });
    if let Some(l) = label {
        v["label"] = json!(l);
    }
    v
}

#[tokio::test]
async fn a_page_is_one_logs_read_and_other_fields_are_applied_here() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", LOGS)
        .match_query(Matcher::Exact(
            "count=3&state=RUN_STARTED&workflowUrl=https%3A%2F%2Fa.example%2Fwf&cursor=c%2B1".to_owned(),
        ))
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("user-agent", USER_AGENT_VALUE)
        .with_status(200)
        .with_body(
            json!({
                "cursor": "c2",
                "runs": [
                    entry("wfr_1", "https://a.example/wf", "RUN_STARTED", Some("nightly")),
                    entry("wfr_2", "https://a.example/wf", "RUN_STARTED", Some("adhoc")),
                    entry("wfr_3", "https://a.example/wf", "RUN_STARTED", Some("nightly")),
                ]
            })
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let filter = RunFilter::new()
        .url_exact("https://a.example/wf")
        .label("nightly")
        .state(RunState::Running);
    let page = canceller(&server)
        .list_runs(&filter, &ListOptions::new().limit(3).cursor("c+1"))
        .await
        .unwrap();
    m.assert_async().await;
    let ids: Vec<&str> = page.runs.iter().map(|r| r.run.run_id()).collect();
    assert_eq!(ids, ["wfr_1", "wfr_3"]);
    assert_eq!(page.next.as_deref(), Some("c2"));
    let r = &page.runs[0];
    assert_eq!(
        (r.workflow.as_deref(), &r.state, r.created),
        (
            Some("https://a.example/wf"),
            &RunState::Running,
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250))
        )
    );
}

#[tokio::test]
async fn every_state_is_read_truthfully_and_the_last_page_has_no_cursor() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", LOGS)
        .match_query(Matcher::Exact("count=50".to_owned()))
        .with_status(200)
        .with_body(
            json!({"cursor": "", "runs": [
                entry("a", "https://x/1", "RUN_SUCCESS", None),
                entry("b", "https://x/1", "RUN_FAILED", None),
                entry("c", "https://x/1", "RUN_CANCELED", None),
                entry("d", "https://x/1", "RUN_STARTED", None),
            ]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let page = canceller(&server)
        .list_runs(&RunFilter::new(), &ListOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    let states: Vec<&RunState> = page.runs.iter().map(|r| &r.state).collect();
    assert_eq!(
        states,
        [
            &RunState::Completed,
            &RunState::Failed,
            &RunState::Cancelled,
            &RunState::Running
        ]
    );
    assert!(page.is_last());
}

#[tokio::test]
async fn a_field_the_logs_do_not_show_is_an_error_not_a_guess() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", LOGS)
        .match_query(Matcher::Any)
        .with_status(200)
        .with_body(json!({"runs": [entry("a", "https://x/1", "RUN_STARTED", None)]}).to_string())
        .create_async()
        .await;
    let e = canceller(&server)
        .list_runs(&RunFilter::new().flow_control_key("k"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("flow-control key"), "{e}");
}

#[tokio::test]
async fn counting_and_bad_input_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server);
    assert_eq!(
        c.count_runs(&RunFilter::new()).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let e = c
        .list_runs(&RunFilter::new().state(RunState::Paused), &ListOptions::new())
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
        "{e:?}"
    );
    let e = c
        .list_runs(&RunFilter::new().workflow("x"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    none.assert_async().await;
}
