//! Listing and counting workflows (mockito): the exact visibility requests, every value escaped,
//! pages and counts decoded from the server's answers, bad input refused before any request.

use std::time::{Duration, UNIX_EPOCH};

use mockito::{Matcher, Server};
use serde_json::json;
use wfcancel_core::{CancelError, ErrorKind, ListOptions, RunFilter, RunState, WorkflowCanceller};
use wfcancel_temporal::TemporalCanceller;

const KEY: &str = "temporal-SECRET-9f2";
const RUN_ID: &str = "0193a3c0-1111-7000-8000-000000000001";

fn canceller(base: &str) -> TemporalCanceller {
    TemporalCanceller::builder()
        .base_url(base)
        .namespace("orders")
        .api_key(KEY)
        .build()
        .expect("canceller")
}

#[tokio::test]
async fn a_page_is_one_escaped_visibility_query_with_page_size_and_token() {
    let mut server = Server::new_async().await;
    let evil = r#"Slow" OR WorkflowType = "x"#;
    let m = server
        .mock("GET", "/api/v1/namespaces/orders/workflows")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded(
                "query".into(),
                r#"WorkflowType IN ("Slow\" OR WorkflowType = \"x") AND StartTime >= "2023-11-14T22:13:20.000000000Z" AND ExecutionStatus IN ("Running", "Canceled")"#.into(),
            ),
            Matcher::UrlEncoded("pageSize".into(), "2".into()),
            Matcher::UrlEncoded("nextPageToken".into(), "tok+/=1".into()),
        ]))
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_status(200)
        .with_body(
            json!({
                "executions": [
                    {"execution": {"workflowId": "order 42", "runId": RUN_ID}, "type": {"name": "Slow"},
                     "startTime": "2023-11-14T22:13:21.5Z", "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"},
                    {"execution": {"workflowId": "w2", "runId": RUN_ID}, "type": {"name": "Slow"},
                     "startTime": "2023-11-14T22:13:22Z", "closeTime": "2023-11-14T22:13:23Z",
                     "status": "WORKFLOW_EXECUTION_STATUS_CANCELED"}
                ],
                "nextPageToken": "next-tok"
            })
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let filter = RunFilter::new()
        .workflow(evil)
        .from(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .state(RunState::Running)
        .state(RunState::Cancelled);
    let page = c
        .list_runs(&filter, &ListOptions::new().limit(2).cursor("tok+/=1"))
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(page.next.as_deref(), Some("next-tok"));
    assert_eq!(page.runs.len(), 2);
    let r = &page.runs[0];
    assert_eq!((r.run.run_id(), r.run.sub_id_str()), ("order 42", Some(RUN_ID)));
    assert_eq!((r.workflow.as_deref(), &r.state), (Some("Slow"), &RunState::Running));
    assert_eq!(r.created, Some(UNIX_EPOCH + Duration::from_millis(1_700_000_001_500)));
    assert_eq!(page.runs[1].state, RunState::Cancelled);
}

#[tokio::test]
async fn an_empty_filter_lists_everything_and_the_last_page_has_no_token() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/namespaces/orders/workflows")
        .match_query(Matcher::Exact("pageSize=50".into()))
        .with_status(200)
        .with_body(r#"{"executions":[],"nextPageToken":""}"#)
        .expect(1)
        .create_async()
        .await;
    let page = canceller(&server.url())
        .list_runs(&RunFilter::new(), &ListOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert!(page.runs.is_empty() && page.is_last());
}

#[tokio::test]
async fn count_is_one_request_to_workflow_count() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/v1/namespaces/orders/workflow-count")
        .match_query(Matcher::UrlEncoded(
            "query".into(),
            r#"WorkflowType IN ("Slow") AND ExecutionStatus IN ("Running")"#.into(),
        ))
        .with_status(200)
        .with_body(r#"{"count":"7"}"#)
        .expect(1)
        .create_async()
        .await;
    let n = canceller(&server.url())
        .count_runs(&RunFilter::new().workflow("Slow").state(RunState::Running))
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(n, 7);
    let zero = server
        .mock("GET", "/api/v1/namespaces/orders/workflow-count")
        .match_query(Matcher::Missing)
        .with_status(200)
        .with_body("{}")
        .create_async()
        .await;
    assert_eq!(canceller(&server.url()).count_runs(&RunFilter::new()).await.unwrap(), 0);
    zero.assert_async().await;
}

#[tokio::test]
async fn bad_input_and_states_visibility_cannot_see_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server.url());
    for state in [RunState::Cancelling, RunState::Pending, RunState::Paused] {
        let e = c
            .list_runs(&RunFilter::new().state(state.clone()), &ListOptions::new())
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
            "{state}: {e:?}"
        );
    }
    let e = c
        .list_runs(&RunFilter::new().label("x"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = c
        .list_runs(&RunFilter::new(), &ListOptions::new().limit(0))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    none.assert_async().await;
}

#[tokio::test]
async fn errors_are_mapped_and_never_hold_the_key() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/api/v1/namespaces/orders/workflows")
        .match_query(Matcher::Any)
        .with_status(400)
        .with_body(format!(r#"{{"code":3,"message":"invalid query {KEY}"}}"#))
        .create_async()
        .await;
    let e = canceller(&server.url())
        .list_runs(&RunFilter::new().workflow("Slow"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(!format!("{e} {e:?}").contains(KEY), "{e:?}");
}

#[tokio::test]
async fn a_native_query_is_listed_and_counted_as_given() {
    let mut server = Server::new_async().await;
    let q = r#"WorkflowType = "Nightly" AND ExecutionStatus = "Running""#;
    let list = server
        .mock("GET", "/api/v1/namespaces/orders/workflows")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("query".into(), q.into()),
            Matcher::UrlEncoded("pageSize".into(), "50".into()),
        ]))
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let count = server
        .mock("GET", "/api/v1/namespaces/orders/workflow-count")
        .match_query(Matcher::UrlEncoded("query".into(), q.into()))
        .with_status(200)
        .with_body(r#"{"count":3}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url());
    let page = c.list_runs_matching(q, &ListOptions::new()).await.unwrap();
    assert!(page.runs.is_empty() && page.is_last());
    assert_eq!(c.count_runs_matching(q).await.unwrap(), 3);
    list.assert_async().await;
    count.assert_async().await;
    for bad in ["", "  ", "a\u{1b}b"] {
        let e = c.count_runs_matching(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
}
