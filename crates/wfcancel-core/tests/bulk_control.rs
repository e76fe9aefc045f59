//! A bulk has a deadline and can be stopped, and still reports exactly; repeated runs are sent
//! once (issue: a dropped `cancel_many` future lost its whole report; `["a","a"]` was cancelled
//! twice).

use std::sync::Mutex;
use std::time::Duration;

use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, Capabilities, Interruption, RunRef, Selector, StopHandle,
    WorkflowCanceller, async_trait,
};

/// Each cancel takes `delay` (tokio's clock) and is recorded.
#[derive(Debug)]
struct Slow {
    delay: Duration,
    sent: Mutex<Vec<String>>,
}

impl Slow {
    fn new(delay: Duration) -> Self {
        Slow {
            delay,
            sent: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl WorkflowCanceller for Slow {
    fn backend(&self) -> &'static str {
        "slow"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        self.sent.lock().unwrap().push(run.run_id().to_owned());
        tokio::time::sleep(self.delay).await;
        Ok(CancelOutcome::Cancelled)
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn a_deadline_ends_the_bulk_with_a_report_that_adds_up() {
    let c = Slow::new(Duration::from_secs(1));
    // 100 runs, 10 at a time, 1 s each: 10 s in all; the deadline is 3.5 s.
    let opts = BulkOptions::new().concurrency(10).deadline(Duration::from_millis(3500));
    let t0 = tokio::time::Instant::now();
    let report = c.cancel_many(&Selector::ids(ids(100)), &opts).await.unwrap();
    assert!(t0.elapsed() <= Duration::from_millis(3600), "{:?}", t0.elapsed());
    assert_eq!(report.interrupted, Some(Interruption::Deadline));
    assert_eq!(report.cancelled, 30, "three waves finished");
    assert_eq!(report.failed_runs(), 10, "the wave in flight was abandoned");
    assert!(
        report
            .failed
            .iter()
            .all(|f| matches!(f.error, CancelError::Timeout { .. }))
    );
    assert_eq!(report.not_attempted.len(), 60);
    assert_eq!(report.accounted(), 100, "the counts add up to the input");
    assert!(!report.is_success());
    assert_eq!(
        c.sent.lock().unwrap().len(),
        40,
        "no request started after the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_lets_requests_in_flight_finish_and_starts_no_new_one() {
    let c = Slow::new(Duration::from_secs(1));
    let stop = StopHandle::new();
    let opts = BulkOptions::new().concurrency(10).stop_handle(stop.clone());
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            stop.stop();
        })
    };
    let report = c.cancel_many(&Selector::ids(ids(100)), &opts).await.unwrap();
    stopper.await.unwrap();
    assert_eq!(report.interrupted, Some(Interruption::Stopped));
    assert_eq!(report.cancelled, 30, "the wave in flight at the stop finished");
    assert_eq!(report.failed_runs(), 0);
    assert_eq!(report.not_attempted.len(), 70);
    assert_eq!(report.accounted(), 100);
    assert_eq!(
        report.not_attempted.first().map(RunRef::run_id),
        Some("r30"),
        "untried runs in order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_before_the_start_sends_nothing() {
    let c = Slow::new(Duration::from_secs(1));
    let stop = StopHandle::new();
    stop.stop();
    let report = c
        .cancel_many(&Selector::ids(ids(5)), &BulkOptions::new().stop_handle(stop))
        .await
        .unwrap();
    assert_eq!((report.not_attempted.len(), report.requests_sent), (5, 0));
    assert_eq!(report.interrupted, Some(Interruption::Stopped));
    assert!(c.sent.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_bulk_that_ends_in_time_is_not_interrupted() {
    let c = Slow::new(Duration::from_millis(10));
    let report = c
        .cancel_many(
            &Selector::ids(ids(20)),
            &BulkOptions::new()
                .deadline(Duration::from_secs(60))
                .stop_handle(StopHandle::new()),
        )
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.interrupted), (20, None));
    assert!(report.is_success());
}

#[tokio::test]
async fn repeated_runs_are_cancelled_once_and_counted() {
    let c = Slow::new(Duration::ZERO);
    let runs = vec![
        RunRef::new("a"),
        RunRef::new("a"),
        RunRef::new("b"),
        RunRef::new("a").workflow("w"),
        RunRef::new("b"),
    ];
    let report = c.cancel_many(&Selector::Ids(runs), &BulkOptions::new()).await.unwrap();
    assert_eq!(
        (report.cancelled, report.not_active, report.duplicates_dropped),
        (3, 0, 2)
    );
    assert_eq!(report.accounted() + report.duplicates_dropped, 5);
    let mut sent = c.sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(sent, ["a", "a", "b"], "`a` under a workflow is another address");
}
