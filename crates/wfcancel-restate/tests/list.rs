//! Listing and counting invocations (mockito): the exact `POST /query` SQL, rows decoded into
//! runs with their true states, keyset paging, counts, and bad input refused before any request.

use std::time::{Duration, UNIX_EPOCH};

use mockito::{Matcher, Server};
use serde_json::json;
use wfcancel_core::{CancelError, ErrorKind, ListOptions, RunFilter, RunState, WorkflowCanceller};
use wfcancel_restate::RestateCanceller;

const TOKEN: &str = "rs-secret-token-42";

fn canceller(server: &Server) -> RestateCanceller {
    RestateCanceller::builder()
        .admin_url(server.url())
        .auth_token(TOKEN)
        .build()
        .unwrap()
}

fn query(sql: &str) -> Matcher {
    Matcher::Json(json!({ "query": sql }))
}

#[tokio::test]
async fn a_page_is_one_keyset_query_and_rows_become_runs() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/query")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("content-type", "application/json")
        .match_body(query(
            "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM \
             sys_invocation WHERE target_service_name IN ('Check''out') AND id > 'inv_1a' ORDER BY id LIMIT 3",
        ))
        .with_status(200)
        .with_body(
            json!({"rows": [
                {"id": "inv_1b", "target_service_name": "Check'out", "status": "running", "created_at": "2023-11-14T22:13:20.250Z"},
                {"id": "inv_1c", "target_service_name": "Check'out", "status": "completed", "completion_result": "failure",
                 "completion_failure": "[409] Cancelled", "created_at": "2023-11-14T22:13:21.000Z"},
                {"id": "inv_1d", "target_service_name": "Check'out", "status": "suspended"}
            ]})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let page = canceller(&server)
        .list_runs(
            &RunFilter::new().workflow("Check'out"),
            &ListOptions::new().limit(2).cursor("inv_1a"),
        )
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(page.runs.len(), 2);
    assert_eq!(page.next.as_deref(), Some("inv_1c"));
    let r = &page.runs[0];
    assert_eq!(
        (r.run.run_id(), r.workflow.as_deref(), &r.state),
        ("inv_1b", Some("Check'out"), &RunState::Running)
    );
    assert_eq!(r.created, Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)));
    assert_eq!(page.runs[1].state, RunState::Cancelled);
}

#[tokio::test]
async fn the_last_page_has_no_cursor_and_an_empty_filter_selects_everything() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/query")
        .match_body(query(
            "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM \
             sys_invocation ORDER BY id LIMIT 51",
        ))
        .with_status(200)
        .with_body(r#"{"rows":[{"id":"inv_1a","status":"completed","completion_result":"success"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let page = canceller(&server)
        .list_runs(&RunFilter::new(), &ListOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert!(page.is_last());
    assert_eq!(page.runs[0].state, RunState::Completed);
}

#[tokio::test]
async fn count_is_one_count_query() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", "/query")
        .match_body(query(
            "SELECT count(*) AS count FROM sys_invocation WHERE target_service_name IN ('Slow') AND \
             (status IN ('running', 'backing-off') OR status IN ('suspended', 'paused'))",
        ))
        .with_status(200)
        .with_body(r#"{"rows":[{"count":4}]}"#)
        .expect(1)
        .create_async()
        .await;
    let n = canceller(&server)
        .count_runs(
            &RunFilter::new()
                .workflow("Slow")
                .state(RunState::Running)
                .state(RunState::Paused),
        )
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(n, 4);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server);
    let e = c
        .list_runs(&RunFilter::new(), &ListOptions::new().cursor("inv_1' OR '1'='1"))
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "cursor", .. }), "{e:?}");
    let e = c
        .count_runs(&RunFilter::new().state(RunState::Cancelling))
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
    let e = c.count_runs(&RunFilter::new().label("x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    none.assert_async().await;
}

#[tokio::test]
async fn a_refused_query_is_an_error_without_the_token() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("POST", "/query")
        .with_status(400)
        .with_body(format!(r#"{{"message":"bad query {TOKEN}"}}"#))
        .create_async()
        .await;
    let e = canceller(&server).count_runs(&RunFilter::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(!format!("{e} {e:?}").contains(TOKEN), "{e:?}");
}
