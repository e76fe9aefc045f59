//! End to end against the Agno AgentOS emulator: cooperative cancel and waiting, bulk under
//! faults, owners that cannot cancel, 2.x answers, proxies in front.

mod common;

use std::time::Duration;

use wfcancel_agno::AgnoCanceller;
use wfcancel_core::Inactive;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, NotFoundKind, OwnerKind, RunRef, RunState, Selector, WaitOptions,
    WorkflowCanceller, WorkflowCancellerExt,
};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, Endpoint, Faults, Scenario, ScenarioRule};

const KEY: &str = "emu-key";

async fn emulator(config: AgnoConfig) -> AgnoEmulator {
    AgnoEmulator::start(config.with_security_key(KEY))
        .await
        .expect("emulator")
}

/// A canceller that reads a run's state before cancelling it (opt-in), so that a run already
/// over answers `NotActive`.
fn canceller(emu: &AgnoEmulator) -> AgnoCanceller {
    AgnoCanceller::builder()
        .base_url(emu.url())
        .security_key(KEY)
        .http_config(common::fast_retries(3))
        .check_state_before_cancel(true)
        .build()
        .expect("canceller")
}

/// Starts a background run over HTTP, as an application would; the answer carries the session.
async fn start_run(emu: &AgnoEmulator, workflow: &str) -> RunRef {
    let resp = reqwest::Client::new()
        .post(format!("{}/workflows/{workflow}/runs", emu.url()))
        .bearer_auth(KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("message=go&stream=false&background=true")
        .send()
        .await
        .expect("start");
    assert_eq!(resp.status().as_u16(), 202);
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    RunRef::new(json["run_id"].as_str().expect("run_id"))
        .workflow(workflow)
        .session(json["session_id"].as_str().expect("session_id"))
}

fn wait(timeout_ms: u64) -> WaitOptions {
    WaitOptions::with_timeout(Duration::from_millis(timeout_ms))
        .initial_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(50))
}

#[tokio::test]
async fn cancel_and_wait_end_to_end() {
    let emu = emulator(AgnoConfig::default().with_cancel_delay(Duration::from_millis(150))).await;
    emu.seed_owner(OwnerKind::Workflow, "nightly");
    let c = canceller(&emu);
    let run = start_run(&emu, "nightly").await;
    assert!(c.status(&run).await.unwrap().is_active());
    let t0 = std::time::Instant::now();
    let done = c.cancel_and_wait(&run, wait(5_000)).await.unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Cancelled)
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "it waited for the cooperative stop"
    );
    assert_eq!(emu.status(run.run_id()), Some(AgnoStatus::Cancelled));
    // Once it is over, cancelling again is NotActive.
    assert_eq!(c.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    emu.shutdown().await;
}

#[tokio::test]
async fn cancel_and_wait_reports_the_state_the_run_reached() {
    // Long enough that, on a loaded machine too, the cancel is sent while the run still runs and
    // the run completes long before the cancel would take effect.
    let emu = emulator(AgnoConfig::default().with_cancel_delay(Duration::from_secs(8))).await;
    let c = canceller(&emu);
    // Completes by itself before the cancel takes effect.
    emu.seed(
        AgnoRun::agent("helper", "soon-done")
            .session("s1")
            .completes_after(Duration::from_millis(1500)),
    );
    let run = RunRef::new("soon-done").agent("helper").session("s1");
    let done = c.cancel_and_wait(&run, wait(20_000)).await.unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Completed)
    );
    // Never reaches a checkpoint: the wait ends at its deadline.
    emu.seed(AgnoRun::team("crew", "blocked").session("s2").never_stops());
    let run = RunRef::new("blocked").team("crew").session("s2");
    let err = c.cancel_and_wait(&run, wait(300)).await.unwrap_err();
    assert!(matches!(err, CancelError::Timeout { backend: "agno", .. }), "{err:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_under_random_faults_accounts_for_every_run() {
    let emu = emulator(AgnoConfig::default()).await;
    let runs: Vec<RunRef> = (0..400)
        .map(|i| {
            let id = format!("bulk-{i}");
            emu.seed(AgnoRun::workflow("wf", id.clone()).session(format!("s-{i}")));
            RunRef::new(id).workflow("wf").session(format!("s-{i}"))
        })
        .collect();
    emu.faults().set(Faults::none().errors(0.2).seed(42));
    let c = canceller(&emu);
    let report = c
        .cancel_many(&Selector::Ids(runs.clone()), &BulkOptions::new().concurrency(16))
        .await
        .unwrap();
    emu.faults().clear();
    assert_eq!(report.accounted(), 400, "{report:?}");
    assert!(report.aborted.is_none());
    // Every run the report calls requested was cancelled by the server, and no other.
    assert_eq!(report.requested, emu.cancelled(), "{report:?}");
    assert_eq!(report.not_active, 0);
    for f in &report.failed {
        assert!(
            matches!(f.error, CancelError::Provider { status: Some(s), .. } if s >= 500),
            "{f:?}"
        );
    }
    // 20 % faults, 3 attempts: almost everything gets through.
    assert!(report.requested >= 380, "{}", report.requested);
    // A second pass with the same ids finishes the job: the cancelled ones are NotActive now
    // (once the emulator's cancel delay has passed).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = c.cancel_many(&Selector::Ids(runs), &BulkOptions::new()).await.unwrap();
    assert!(again.is_success(), "{again:?}");
    assert_eq!(again.not_active, report.requested);
    assert_eq!(again.requested, 400 - report.requested);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(emu.active_count(), 0);
    emu.shutdown().await;
}

/// A `501` concerns one owner only (`CancelError::fails_every_call` is false for `Unsupported`):
/// each run of that agent is listed as failed, and the bulk goes on.
#[tokio::test]
async fn an_agent_that_cannot_cancel_is_unsupported_for_each_of_its_runs() {
    let emu = emulator(AgnoConfig::default()).await;
    emu.set_cancel_unsupported(OwnerKind::Agent, "legacy", true);
    let c = canceller(&emu);
    let mut runs: Vec<RunRef> = (0..50)
        .map(|i| {
            emu.seed(AgnoRun::agent("legacy", format!("a-{i}")));
            RunRef::new(format!("a-{i}")).agent("legacy")
        })
        .collect();
    let err = c.cancel(&runs[0]).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Unsupported { operation, .. } if operation.contains("does not support cancel_run")),
        "{err:?}"
    );
    emu.seed(AgnoRun::agent("able", "b-0"));
    runs.push(RunRef::new("b-0").agent("able"));
    let report = c
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new().concurrency(2))
        .await
        .unwrap();
    assert!(report.aborted.is_none(), "{report:?}");
    assert_eq!(report.accounted(), 51);
    assert_eq!(report.failed.len(), 50);
    assert!(
        report
            .failed
            .iter()
            .all(|f| matches!(f.error, CancelError::Unsupported { .. }))
    );
    assert_eq!(report.requested, 1, "the other agent's run is still cancelled");
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_owners_and_keys() {
    let emu = emulator(AgnoConfig::default()).await;
    let c = canceller(&emu);
    for (run, kind) in [
        (RunRef::new("r").workflow("ghost"), NotFoundKind::Workflow),
        (RunRef::new("r").agent("ghost"), NotFoundKind::Agent),
        (RunRef::new("r").team("ghost"), NotFoundKind::Team),
    ] {
        let err = c.cancel(&run).await.unwrap_err();
        assert!(
            matches!(&err, CancelError::NotFound { what, id: Some(i), .. } if *what == kind && i == "ghost"),
            "{err:?}"
        );
    }
    let wrong = AgnoCanceller::builder()
        .base_url(emu.url())
        .security_key("nope")
        .build()
        .unwrap();
    let err = wrong.cancel(&RunRef::new("r").workflow("ghost")).await.unwrap_err();
    assert!(matches!(&err, CancelError::Unauthenticated { message, .. } if message == "Invalid authentication token"));
    let none = AgnoCanceller::builder().base_url(emu.url()).build().unwrap();
    let err = none.cancel(&RunRef::new("r").workflow("ghost")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Unauthenticated { message, .. } if message.contains("Authorization header required"))
    );
    assert_eq!(emu.stats().unauthorized, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_2x_server_says_not_active_in_one_request() {
    let emu = emulator(AgnoConfig::default().with_legacy_2x(true)).await;
    emu.seed(
        AgnoRun::workflow("wf", "done")
            .session("s")
            .status(AgnoStatus::Completed),
    );
    let c = AgnoCanceller::builder()
        .base_url(emu.url())
        .security_key(KEY)
        .check_state_before_cancel(false)
        .build()
        .unwrap();
    assert_eq!(
        c.cancel(&RunRef::new("done").workflow("wf")).await,
        Ok(CancelOutcome::NotActive(Inactive::Unspecified))
    );
    assert_eq!(
        c.cancel(&RunRef::new("unknown").workflow("wf")).await,
        Ok(CancelOutcome::NotActive(Inactive::Unspecified))
    );
    let stats = emu.stats();
    assert_eq!(stats.endpoint(Endpoint::AgnoCancel), 2, "never retried: {stats:?}");
    assert_eq!(stats.endpoint(Endpoint::AgnoRunStatus), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_proxy_error_page_reads_as_its_title() {
    let emu = emulator(AgnoConfig::default()).await;
    emu.seed(AgnoRun::workflow("wf", "r").session("s"));
    emu.faults()
        .add_scenario(ScenarioRule::new(Scenario::html_error(502)).path_suffix("/cancel"));
    let c = canceller(&emu);
    let err = c
        .cancel(&RunRef::new("r").workflow("wf").session("s"))
        .await
        .unwrap_err();
    assert_eq!(err, CancelError::provider("agno", Some(502), "502 Error"));
    assert_eq!(emu.status("r"), Some(AgnoStatus::Running));
    emu.shutdown().await;
}

/// Regression: AgentOS answers the status read `404 Run not found` for a wrong `session_id`
/// (or owner) too, while the cancel reaches the run by its id alone. With the state check on,
/// such a cancel must stay `Requested`, and the run does end `CANCELLED`.
#[tokio::test]
async fn state_check_with_a_wrong_session_still_cancels_and_says_requested() {
    let emu = emulator(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    emu.seed(AgnoRun::workflow("wf", "r").session("right"));
    let c = canceller(&emu);
    let wrong = RunRef::new("r").workflow("wf").session("wrong");
    // The read proves nothing: it is the 404 an unknown run gets.
    assert!(matches!(
        c.status(&wrong).await,
        Err(CancelError::NotFound {
            what: NotFoundKind::Run,
            ..
        })
    ));
    assert_eq!(c.cancel(&wrong).await, Ok(CancelOutcome::Requested));
    assert_eq!(emu.status("r"), Some(AgnoStatus::Cancelled));
    assert_eq!(
        c.status(&RunRef::new("r").workflow("wf").session("right")).await,
        Ok(RunState::Cancelled)
    );
    let stats = emu.stats();
    assert_eq!(
        (
            stats.endpoint(Endpoint::AgnoRunStatus),
            stats.endpoint(Endpoint::AgnoCancel),
            stats.cancelled
        ),
        (3, 1, 1),
        "{stats:?}"
    );
    // An unknown run with the check on: the cancel is sent (its intent stored) and Requested.
    let ghost = RunRef::new("ghost").workflow("wf").session("s");
    assert_eq!(c.cancel(&ghost).await, Ok(CancelOutcome::Requested));
    assert!(emu.cancel_requested("ghost"));
    emu.shutdown().await;
}

/// A cancel whose answer is lost after AgentOS recorded it: the client retries, the retry is
/// answered 200, and the run stops once.
#[tokio::test]
async fn a_cancel_whose_answer_was_lost_is_retried_and_the_run_stops() {
    let emu = emulator(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    emu.seed(AgnoRun::workflow("wf", "r").session("s"));
    emu.faults().add_scenario(
        ScenarioRule::new(Scenario::DropAfterHandling)
            .path_suffix("/cancel")
            .times(1),
    );
    let c = AgnoCanceller::builder()
        .base_url(emu.url())
        .security_key(KEY)
        .http_config(common::fast_retries(3))
        .build()
        .unwrap();
    let outcome = c.cancel(&RunRef::new("r").workflow("wf").session("s")).await;
    let stats = emu.stats();
    assert_eq!(stats.fault(wfcancel_emulator::FaultKind::DroppedAfterHandling), 1);
    assert_eq!(emu.status("r"), Some(AgnoStatus::Cancelled));
    assert_eq!(stats.cancelled, 1);
    // An AgentOS cancel may be repeated (its intent is idempotent): the lost answer is retried.
    assert_eq!(outcome, Ok(CancelOutcome::Requested));
    assert_eq!(stats.endpoint(Endpoint::AgnoCancel), 2, "{stats:?}");
    emu.shutdown().await;
}
