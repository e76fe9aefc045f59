//! Listing a workflow's runs (mockito): its sessions oldest first, then each session's runs,
//! every run addressed with its workflow and session; the workflow is required; counting is
//! unsupported; bad input refused before any request.

mod common;

use common::canceller;
use mockito::{Matcher, Server};
use serde_json::json;
use wfcancel_core::{CancelError, ErrorKind, ListOptions, NotFoundKind, RunFilter, RunState, WorkflowCanceller};

fn sessions(server: &mut Server, ids: &[&str]) -> mockito::Mock {
    let data: Vec<_> = ids
        .iter()
        .map(|id| json!({"session_id": id, "session_name": id}))
        .collect();
    server
        .mock("GET", "/sessions")
        .match_query(Matcher::Exact(
            "type=workflow&component_id=night+ly&limit=100&page=1&sort_by=created_at&sort_order=asc".into(),
        ))
        .match_header("authorization", "Bearer sekrit")
        .with_status(200)
        .with_body(
            json!({"data": data, "meta": {"page": 1, "limit": 100, "total_pages": 1, "total_count": ids.len()}})
                .to_string(),
        )
}

#[tokio::test]
async fn a_workflows_runs_across_its_sessions_with_a_cursor() {
    let mut server = Server::new_async().await;
    let s = sessions(&mut server, &["s1", "s2"]).expect(2).create_async().await;
    let s1 = server
        .mock("GET", "/workflows/night%20ly/runs")
        .match_query(Matcher::Exact("session_id=s1".into()))
        .with_status(200)
        .with_body(
            json!([
                {"run_id": "r1", "workflow_id": "night ly", "status": "RUNNING", "created_at": "2023-11-14T22:13:20Z"},
                {"run_id": "r2", "workflow_id": "night ly", "status": "CANCELLED", "created_at": 1_700_000_001}
            ])
            .to_string(),
        )
        .expect(2)
        .create_async()
        .await;
    let s2 = server
        .mock("GET", "/workflows/night%20ly/runs")
        .match_query(Matcher::Exact("session_id=s2".into()))
        .with_status(200)
        .with_body(json!([{"run_id": "r3", "status": "COMPLETED"}]).to_string())
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server.url(), Some("sekrit"));
    let filter = RunFilter::new().workflow("night ly");
    let page = c.list_runs(&filter, &ListOptions::new().limit(1)).await.unwrap();
    assert_eq!(page.runs.len(), 1);
    let r = &page.runs[0];
    assert_eq!(
        (
            r.run.run_id(),
            r.run.owner().map(|o| &*o.id),
            r.run.session_id(),
            &r.state
        ),
        ("r1", Some("night ly"), Some("s1"), &RunState::Running)
    );
    assert!(r.created.is_some());
    assert_eq!(page.next.as_deref(), Some("0.1"));
    let page = c
        .list_runs(&filter, &ListOptions::new().limit(5).cursor("0.1"))
        .await
        .unwrap();
    let got: Vec<(&str, &RunState)> = page.runs.iter().map(|r| (r.run.run_id(), &r.state)).collect();
    assert_eq!(got, [("r2", &RunState::Cancelled), ("r3", &RunState::Completed)]);
    assert!(page.is_last());
    s.assert_async().await;
    s1.assert_async().await;
    s2.assert_async().await;
}

#[tokio::test]
async fn one_state_is_asked_of_the_server() {
    let mut server = Server::new_async().await;
    let _s = sessions(&mut server, &["s1"]).create_async().await;
    let m = server
        .mock("GET", "/workflows/night%20ly/runs")
        .match_query(Matcher::Exact("session_id=s1&status=RUNNING".into()))
        .with_status(200)
        .with_body(json!([{"run_id": "r1", "status": "RUNNING"}]).to_string())
        .expect(1)
        .create_async()
        .await;
    let page = canceller(&server.url(), Some("sekrit"))
        .list_runs(
            &RunFilter::new().workflow("night ly").state(RunState::Running),
            &ListOptions::new(),
        )
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(page.runs.len(), 1);
}

#[tokio::test]
async fn an_unknown_workflow_is_not_found() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/sessions")
        .match_query(Matcher::Any)
        .with_status(404)
        .with_body(r#"{"detail":"Workflow not found"}"#)
        .create_async()
        .await;
    let e = canceller(&server.url(), None)
        .list_runs(&RunFilter::new().workflow("night ly"), &ListOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            CancelError::NotFound {
                what: NotFoundKind::Workflow,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_workflow_is_required_and_counting_is_unsupported_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server.url(), None);
    for filter in [
        RunFilter::new(),
        RunFilter::new().state(RunState::Running),
        RunFilter::new().workflow("a").workflow("b"),
    ] {
        let e = c.list_runs(&filter, &ListOptions::new()).await.unwrap_err();
        assert!(
            matches!(
                e,
                CancelError::InvalidInput {
                    field: "filter.workflows",
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert_eq!(
        c.count_runs(&RunFilter::new().workflow("a")).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let e = c
        .list_runs(&RunFilter::new().workflow("a").label("x"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    none.assert_async().await;
}
