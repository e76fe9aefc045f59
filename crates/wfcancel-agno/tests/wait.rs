//! `cancel_and_wait` / `wait_until_terminal` over a small stateful AgentOS stand-in whose runs stop
//! cooperatively (a cancel takes effect a few status reads later, as on a real server).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use wfcancel_core::Inactive;
use wfcancel_core::{CancelError, CancelOutcome, RunRef, RunState, WaitOptions, WorkflowCancellerExt};

#[derive(Clone)]
struct FakeRun {
    session: String,
    status: &'static str,
    cancel_requested: bool,
    /// Status reads left before a requested cancel takes effect (`None`: it never does).
    reads_until_stop: Option<u32>,
}

type Runs = Arc<Mutex<HashMap<String, FakeRun>>>;

async fn fake_agentos(runs: Runs) -> String {
    async fn cancel(State(runs): State<Runs>, Path((wf, run)): Path<(String, String)>) -> (StatusCode, Json<Value>) {
        if wf != "wf" {
            return (StatusCode::NOT_FOUND, Json(json!({"detail": "Workflow not found"})));
        }
        if let Some(r) = runs.lock().unwrap().get_mut(&run) {
            r.cancel_requested = true;
        }
        (StatusCode::OK, Json(json!({})))
    }
    async fn status(
        State(runs): State<Runs>,
        Path((wf, run)): Path<(String, String)>,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        if wf != "wf" {
            return (StatusCode::NOT_FOUND, Json(json!({"detail": "Workflow not found"})));
        }
        let Some(session) = q.get("session_id") else {
            let detail = json!([{"type":"missing","loc":["query","session_id"],"msg":"Field required","input":null}]);
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": detail })));
        };
        let mut runs = runs.lock().unwrap();
        let Some(r) = runs.get_mut(&run).filter(|r| &r.session == session) else {
            return (StatusCode::NOT_FOUND, Json(json!({"detail": "Run not found"})));
        };
        if r.cancel_requested && r.status == "RUNNING" {
            match &mut r.reads_until_stop {
                Some(0) => r.status = "CANCELLED",
                Some(n) => *n -= 1,
                None => {}
            }
        }
        (
            StatusCode::OK,
            Json(json!({"run_id": run, "session_id": r.session, "status": r.status, "metrics": {}})),
        )
    }
    let app = Router::new()
        .route("/workflows/{wf}/runs/{run}/cancel", post(cancel))
        .route("/workflows/{wf}/runs/{run}", get(status))
        .with_state(runs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn seed(runs: &Runs, id: &str, status: &'static str, reads_until_stop: Option<u32>) -> RunRef {
    let session = format!("sess-{id}");
    runs.lock().unwrap().insert(
        id.to_owned(),
        FakeRun {
            session: session.clone(),
            status,
            cancel_requested: false,
            reads_until_stop,
        },
    );
    RunRef::new(id).workflow("wf").session(session)
}

fn quick_wait(timeout_ms: u64) -> WaitOptions {
    WaitOptions::with_timeout(Duration::from_millis(timeout_ms))
        .initial_interval(Duration::from_millis(5))
        .max_interval(Duration::from_millis(20))
}

#[tokio::test]
async fn cancel_and_wait_reports_requested_then_cancelled() {
    let runs = Runs::default();
    let base = fake_agentos(runs.clone()).await;
    let c = common::canceller(&base, Some("k"));
    let run = seed(&runs, "r1", "RUNNING", Some(3));
    let done = c.cancel_and_wait(&run, quick_wait(5_000)).await.unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Cancelled)
    );
}

#[tokio::test]
async fn a_run_that_finished_first_is_reported_as_such() {
    let runs = Runs::default();
    let base = fake_agentos(runs.clone()).await;
    let c = common::canceller(&base, None);
    for (status, want) in [
        ("COMPLETED", RunState::Completed),
        ("ERROR", RunState::Failed),
        ("CANCELLED", RunState::Cancelled),
        ("REGENERATED", RunState::Completed),
    ] {
        let run = seed(&runs, status, status, Some(0));
        // The state check sees the run is over: nothing to cancel.
        let done = c.cancel_and_wait(&run, quick_wait(5_000)).await.unwrap();
        assert_eq!(
            (done.outcome, done.state),
            (CancelOutcome::NotActive(Inactive::Finished), want.clone())
        );
        // Without the check, AgentOS's 200 is all there is to go on.
        let unchecked = common::canceller_with(&base, None, false);
        let done = unchecked.cancel_and_wait(&run, quick_wait(5_000)).await.unwrap();
        assert_eq!((done.outcome, done.state), (CancelOutcome::Requested, want));
    }
}

/// Regression: agno 3.1.10's `REGENERATED` is a finished run; a wait must end on it instead of
/// polling until its timeout.
#[tokio::test]
async fn a_run_regenerated_while_waiting_ends_the_wait_as_completed() {
    let runs = Runs::default();
    let base = fake_agentos(runs.clone()).await;
    let c = common::canceller(&base, None);
    // The cancel never takes effect by itself; the run is regenerated meanwhile.
    let run = seed(&runs, "regen", "RUNNING", None);
    let flip = runs.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        flip.lock().unwrap().get_mut("regen").unwrap().status = "REGENERATED";
    });
    let t0 = std::time::Instant::now();
    let done = c.cancel_and_wait(&run, quick_wait(10_000)).await.unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Completed)
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn a_run_that_never_stops_times_out_at_the_deadline() {
    let runs = Runs::default();
    let base = fake_agentos(runs.clone()).await;
    let c = common::canceller(&base, None);
    let run = seed(&runs, "stuck", "RUNNING", None);
    let t0 = std::time::Instant::now();
    let err = c.cancel_and_wait(&run, quick_wait(300)).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Timeout { backend: "agno", message, .. } if message.contains("running")),
        "{err:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn waiting_needs_the_session_and_an_existing_run() {
    let runs = Runs::default();
    let base = fake_agentos(runs.clone()).await;
    let c = common::canceller(&base, None);
    let err = c
        .cancel_and_wait(&RunRef::new("r").workflow("wf"), quick_wait(1_000))
        .await
        .unwrap_err();
    // The cancel itself needs no session; reading the state does.
    assert!(
        matches!(
            err,
            CancelError::InvalidInput {
                field: "session_id",
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .wait_until_terminal(&RunRef::new("ghost").workflow("wf").session("s"), quick_wait(1_000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CancelError::NotFound {
                what: wfcancel_core::NotFoundKind::Run,
                ..
            }
        ),
        "{err:?}"
    );
}
