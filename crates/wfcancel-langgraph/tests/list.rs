//! Listing runs (mockito): threads oldest first, each thread's runs (with `status=` for one
//! state), pages cut at the limit with a cursor that resumes exactly there, counts unsupported.

use mockito::{Matcher, Server};
use serde_json::json;
use wfcancel_core::{CancelError, ErrorKind, ListOptions, RunFilter, RunState, WorkflowCanceller};
use wfcancel_langgraph::LangGraphCanceller;

const KEY: &str = "lsv2_sk_SECRET-key-42";
const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";
const R1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const R2: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const R3: &str = "aaaaaaaa-0000-4000-8000-000000000003";

fn canceller(server: &Server) -> LangGraphCanceller {
    LangGraphCanceller::builder()
        .base_url(server.url())
        .api_key(KEY)
        .build()
        .unwrap()
}

fn run(id: &str, status: &str) -> serde_json::Value {
    json!({"run_id": id, "status": status, "assistant_id": "agent", "created_at": "2023-11-14T22:13:20+00:00"})
}

async fn threads(server: &mut Server) -> mockito::Mock {
    server
        .mock("POST", "/threads/search")
        .match_header("x-api-key", KEY)
        .match_body(Matcher::Json(
            json!({"limit": 100, "offset": 0, "sort_by": "created_at", "sort_order": "asc"}),
        ))
        .with_status(200)
        .with_body(json!([{"thread_id": T1}, {"thread_id": T2}]).to_string())
        .create_async()
        .await
}

#[tokio::test]
async fn pages_walk_threads_then_runs_and_resume_at_the_cursor() {
    let mut server = Server::new_async().await;
    let search = threads(&mut server).await.expect(2);
    let t1 = server
        .mock("GET", format!("/threads/{T1}/runs").as_str())
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("limit".into(), "100".into()),
            Matcher::UrlEncoded("offset".into(), "0".into()),
        ]))
        .with_status(200)
        .with_body(json!([run(R1, "running"), run(R2, "interrupted")]).to_string())
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let page = c
        .list_runs(&RunFilter::new(), &ListOptions::new().limit(2))
        .await
        .unwrap();
    let got: Vec<(&str, Option<&str>, &RunState)> = page
        .runs
        .iter()
        .map(|r| (r.run.run_id(), r.run.owner().map(|o| &*o.id), &r.state))
        .collect();
    assert_eq!(
        got,
        [(R1, Some(T1), &RunState::Running), (R2, Some(T1), &RunState::Cancelled)]
    );
    assert_eq!(page.runs[0].workflow.as_deref(), Some("agent"));
    assert!(page.runs[0].created.is_some());
    assert_eq!(page.next.as_deref(), Some("0.2"));
    t1.assert_async().await;

    // Resume: the rest of thread 1 (offset 2), then thread 2.
    let t1_rest = server
        .mock("GET", format!("/threads/{T1}/runs").as_str())
        .match_query(Matcher::UrlEncoded("offset".into(), "2".into()))
        .with_status(200)
        .with_body("[]")
        .expect(1)
        .create_async()
        .await;
    let t2 = server
        .mock("GET", format!("/threads/{T2}/runs").as_str())
        .match_query(Matcher::UrlEncoded("offset".into(), "0".into()))
        .with_status(200)
        .with_body(json!([run(R3, "success")]).to_string())
        .expect(1)
        .create_async()
        .await;
    let page = c
        .list_runs(&RunFilter::new(), &ListOptions::new().limit(2).cursor("0.2"))
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 1);
    assert_eq!(
        (page.runs[0].run.run_id(), &page.runs[0].state),
        (R3, &RunState::Completed)
    );
    assert!(page.is_last());
    t1_rest.assert_async().await;
    t2.assert_async().await;
    search.assert_async().await;
}

#[tokio::test]
async fn one_state_is_asked_of_the_server_and_several_are_filtered_here() {
    let mut server = Server::new_async().await;
    let _search = threads(&mut server).await;
    let m = server
        .mock("GET", Matcher::Regex("^/threads/.*/runs$".into()))
        .match_query(Matcher::UrlEncoded("status".into(), "interrupted".into()))
        .with_status(200)
        .with_body(json!([run(R2, "interrupted")]).to_string())
        .expect(2)
        .create_async()
        .await;
    let c = canceller(&server);
    let page = c
        .list_runs(&RunFilter::new().state(RunState::Cancelled), &ListOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(page.runs.len(), 2);

    let mut server = Server::new_async().await;
    let _search = threads(&mut server).await;
    let _m = server
        .mock("GET", Matcher::Regex("^/threads/.*/runs$".into()))
        .match_query(Matcher::Regex("^limit=100&offset=0$".into()))
        .with_status(200)
        .with_body(json!([run(R1, "running"), run(R2, "interrupted"), run(R3, "pending")]).to_string())
        .expect(2)
        .create_async()
        .await;
    let page = canceller(&server)
        .list_runs(
            &RunFilter::new().state(RunState::Running).state(RunState::Pending),
            &ListOptions::new(),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page.runs.iter().map(|r| r.run.run_id()).collect();
    assert_eq!(ids, [R1, R3, R1, R3]);
}

#[tokio::test]
async fn counting_and_bad_input_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let none = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server);
    let e = c.count_runs(&RunFilter::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = c
        .list_runs(&RunFilter::new().workflow("agent"), &ListOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
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
        .list_runs(&RunFilter::new(), &ListOptions::new().cursor("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "cursor", .. }), "{e:?}");
    none.assert_async().await;
}
