//! A portable application: a user presses "stop" on their workflow runs.
//!
//! The application code ([`stop_user_runs`]) only sees `&dyn WorkflowCanceller`: it works the same
//! on Upstash (cancel confirms at once), on Agno (cancel is a request; the run stops at its next
//! step) and on the in-memory orchestrator used by `main` and by the tests below, which also show
//! the `mockall` mock as a user's own tests would use it.
//!
//! ```text
//! cargo run --example portable_app
//! cargo test --example portable_app
//! ```

use std::time::Duration;

use tokio::time::Instant;
use wfcancel::{
    BulkOptions, CancelError, CancelOutcome, ErrorKind, RunRef, RunState, Selector, WaitOptions, WorkflowCanceller,
    WorkflowCancellerExt,
};

/// What happened to the runs the user asked to stop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StopSummary {
    /// Runs that are now stopped.
    pub stopped: u64,
    /// Runs asked to stop that had not stopped yet when we stopped waiting.
    pub stopping: u64,
    /// Runs that had already finished (or that the provider does not know).
    pub already_finished: u64,
    /// Runs we could not stop, with the reason to show the user.
    pub failed: Vec<(String, String)>,
}

/// Why the request as a whole failed.
#[derive(Debug)]
pub enum AppError {
    /// The user's input was invalid (an empty or malformed run id): HTTP 400 in a web app.
    BadRequest(String),
    /// The service's credentials or configuration are wrong: page the operator, not the user.
    Misconfigured(CancelError),
    /// The provider is failing; the user may try again later.
    Unavailable(CancelError),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::BadRequest(m) => write!(f, "bad request: {m}"),
            AppError::Misconfigured(e) => write!(f, "service misconfigured: {e}"),
            AppError::Unavailable(e) => write!(f, "workflow provider unavailable, try again: {e}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<CancelError> for AppError {
    fn from(e: CancelError) -> Self {
        match e.kind() {
            ErrorKind::InvalidInput => AppError::BadRequest(e.message()),
            _ if e.fails_every_call() => AppError::Misconfigured(e),
            _ => AppError::Unavailable(e),
        }
    }
}

/// How long "stop" waits for cooperative runs to actually stop before answering the user.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// The user pressed "stop": cancel their runs and, where the backend can tell, wait (a bounded
/// time) for the runs whose cancel was only requested to really stop.
pub async fn stop_user_runs(
    canceller: &dyn WorkflowCanceller,
    user_run_ids: &[String],
) -> Result<StopSummary, AppError> {
    stop_user_runs_within(canceller, user_run_ids, STOP_WAIT).await
}

/// [`stop_user_runs`] with another wait budget.
pub async fn stop_user_runs_within(
    canceller: &dyn WorkflowCanceller,
    user_run_ids: &[String],
    wait: Duration,
) -> Result<StopSummary, AppError> {
    if user_run_ids.is_empty() {
        return Ok(StopSummary::default());
    }
    let runs: Vec<RunRef> = user_run_ids.iter().map(RunRef::new).collect();
    let report = canceller
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new().concurrency(8))
        .await?;
    if let Some(fatal) = report.aborted {
        // A bad token fails every run alike: that is the service's problem, not the user's.
        return Err(fatal.into());
    }
    let mut summary = StopSummary {
        stopped: report.cancelled,
        stopping: report.requested,
        already_finished: report.not_active,
        failed: report
            .failed
            .iter()
            .flat_map(|f| f.runs.iter().map(|r| (r.run_id().to_owned(), f.error.message())))
            .collect(),
    };

    // Cooperative backends only accepted the request: wait for the runs to stop, if we can see them.
    let requested: Vec<&RunRef> = report
        .outcomes
        .iter()
        .filter(|o| o.outcome == CancelOutcome::Requested)
        .map(|o| &o.run)
        .collect();
    if requested.is_empty() || !canceller.capabilities().status {
        return Ok(summary);
    }
    let deadline = Instant::now() + wait;
    for run in requested {
        let left = deadline.saturating_duration_since(Instant::now());
        let opts = WaitOptions::with_timeout(left).initial_interval(Duration::from_millis(20));
        match canceller.wait_until_terminal(run, opts).await {
            Ok(state) => {
                summary.stopping -= 1;
                if state == RunState::Cancelled {
                    summary.stopped += 1;
                } else {
                    summary.already_finished += 1; // it completed or failed before the cancel took
                }
            }
            Err(e) if e.kind() == ErrorKind::Timeout => {} // still stopping; the user sees that
            Err(e) => return Err(e.into()),
        }
    }
    Ok(summary)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::Arc;
    use wfcancel::{InMemoryCanceller, MemoryRun};

    // A cooperative orchestrator: runs stop 200 ms after they are asked to (like Agno).
    let memory = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(200));
    memory.insert_many([
        MemoryRun::new("alice-report-1").label("user:alice"),
        MemoryRun::new("alice-report-2")
            .label("user:alice")
            .state(RunState::Paused),
        MemoryRun::new("alice-import")
            .label("user:alice")
            .state(RunState::Completed),
        MemoryRun::new("bob-report").label("user:bob"),
    ]);
    // The application holds the canceller as a trait object; which one is configuration.
    let canceller: Arc<dyn WorkflowCanceller> = Arc::new(memory.clone());

    let ids: Vec<String> = ["alice-report-1", "alice-report-2", "alice-import", "alice-ghost"]
        .map(String::from)
        .into();
    let summary = stop_user_runs(canceller.as_ref(), &ids).await?;
    println!("backend {}: {summary:?}", canceller.backend());
    println!("bob's run is untouched: {:?}", memory.state_of("bob-report"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfcancel::{BulkFailure, BulkReport, Capabilities, InMemoryCanceller, MemoryRun, MockWorkflowCanceller};

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn alice() -> InMemoryCanceller {
        let m = InMemoryCanceller::new();
        m.insert_many([
            MemoryRun::new("a1"),
            MemoryRun::new("a2").state(RunState::Pending),
            MemoryRun::new("a3").state(RunState::Completed),
            MemoryRun::new("bob"),
        ]);
        m
    }

    #[tokio::test]
    async fn stops_active_runs_and_counts_finished_ones() {
        let m = alice();
        let summary = stop_user_runs(&m, &ids(&["a1", "a2", "a3", "unknown"])).await.unwrap();
        assert_eq!(
            summary,
            StopSummary {
                stopped: 2,
                stopping: 0,
                already_finished: 2,
                failed: vec![]
            }
        );
        assert_eq!(m.state_of("a1"), Some(RunState::Cancelled));
        assert_eq!(
            m.state_of("bob"),
            Some(RunState::Running),
            "other users' runs are untouched"
        );
    }

    #[tokio::test]
    async fn waits_for_cooperative_runs_to_stop() {
        let m = alice().with_cancel_delay(Duration::from_millis(30));
        let summary = stop_user_runs(&m, &ids(&["a1", "a2"])).await.unwrap();
        assert_eq!((summary.stopped, summary.stopping), (2, 0));
        assert_eq!(m.state_of("a2"), Some(RunState::Cancelled));
    }

    #[tokio::test]
    async fn a_run_stuck_in_a_blocking_step_is_reported_as_stopping() {
        let m = alice().with_cancel_delay(Duration::from_millis(10));
        m.set_never_stops("a1", true);
        let summary = stop_user_runs_within(&m, &ids(&["a1", "a2"]), Duration::from_millis(150))
            .await
            .unwrap();
        assert_eq!((summary.stopped, summary.stopping), (1, 1));
    }

    #[tokio::test]
    async fn one_provider_failure_is_shown_per_run() {
        let m = alice();
        m.fail_next(1, CancelError::provider("memory", Some(503), "busy"));
        let summary = stop_user_runs(&m, &ids(&["a1", "a2"])).await.unwrap();
        assert_eq!(summary.stopped, 1);
        assert_eq!(summary.failed.len(), 1);
        assert!(summary.failed[0].1.contains("busy"));
    }

    #[tokio::test]
    async fn a_bad_token_is_the_operators_problem() {
        let m = alice();
        m.fail_next(1, CancelError::unauthenticated("memory", "expired"));
        let err = stop_user_runs(&m, &ids(&["a1", "a2"])).await.unwrap_err();
        assert!(matches!(err, AppError::Misconfigured(_)), "{err}");
    }

    #[tokio::test]
    async fn a_blank_id_is_a_bad_request() {
        let err = stop_user_runs(&alice(), &ids(&["a1", "  "])).await.unwrap_err();
        assert!(matches!(&err, AppError::BadRequest(m) if m.contains("run_id")), "{err}");
    }

    #[tokio::test]
    async fn nothing_to_stop_sends_nothing() {
        let m = alice();
        assert_eq!(stop_user_runs(&m, &[]).await.unwrap(), StopSummary::default());
        assert!(m.calls().is_empty());
    }

    #[tokio::test]
    async fn with_a_mock_backend_that_reports_counts_only() {
        // A backend with a native bulk call (like Upstash) may report counts without per-run outcomes.
        let mut mock = MockWorkflowCanceller::new();
        mock.expect_backend().return_const("mock");
        mock.expect_cancel_runs()
            .withf(|sel, _| matches!(sel, Selector::Ids(runs) if runs.len() == 3 && runs[0].run_id() == "r1"))
            .times(1)
            .returning(|_, _| {
                let mut report = BulkReport::new("mock");
                report.cancelled = 2;
                report.not_active = 1;
                Ok(report)
            });
        mock.expect_capabilities().return_const(Capabilities::default());
        let summary = stop_user_runs(&mock, &ids(&["r1", "r2", "r3"])).await.unwrap();
        assert_eq!((summary.stopped, summary.already_finished), (2, 1));
    }

    #[tokio::test]
    async fn with_a_mock_backend_that_cannot_read_status() {
        let mut mock = MockWorkflowCanceller::new();
        mock.expect_backend().return_const("mock");
        mock.expect_cancel_runs().returning(|sel, _| {
            let Selector::Ids(runs) = sel else { unreachable!() };
            let mut report = BulkReport::new("mock");
            for r in runs {
                report.record(r.clone(), CancelOutcome::Requested, true);
            }
            Ok(report)
        });
        mock.expect_capabilities().return_const(Capabilities::default()); // status: false
        mock.expect_read_status().never();
        let summary = stop_user_runs(&mock, &ids(&["r1", "r2"])).await.unwrap();
        assert_eq!((summary.stopped, summary.stopping), (0, 2));
    }

    #[tokio::test]
    async fn with_a_mock_backend_whose_provider_is_down() {
        let mut mock = MockWorkflowCanceller::new();
        mock.expect_backend().return_const("mock");
        mock.expect_cancel_runs().returning(|sel, _| {
            let Selector::Ids(runs) = sel else { unreachable!() };
            let mut report = BulkReport::new("mock");
            report.failed.push(BulkFailure {
                runs: runs.clone(),
                chunk: Some(0),
                round: None,
                error: CancelError::provider("mock", Some(502), "bad gateway"),
            });
            Ok(report)
        });
        mock.expect_capabilities().return_const(Capabilities::default());
        let summary = stop_user_runs(&mock, &ids(&["r1", "r2"])).await.unwrap();
        assert_eq!(summary.failed.len(), 2);
        assert_eq!(summary.stopped, 0);
    }
}
