//! The default fan-out of a bulk by ids over single cancels (`wfcancel_core::fan_out`, and the
//! trait's default `cancel_many`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use wfcancel_core::Inactive;

use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, Capabilities, ErrorKind, Progress, RunFilter, RunRef, Selector,
    WorkflowCanceller, async_trait, fan_out,
};

/// A canceller whose answer depends on the run id's prefix, that measures how many cancels are in
/// flight at once, and that fails the ids it is told to.
#[derive(Debug, Default)]
struct Probe {
    delay: Duration,
    failures: HashMap<String, CancelError>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
}

impl Probe {
    fn with_delay(delay: Duration) -> Self {
        Probe {
            delay,
            ..Default::default()
        }
    }

    fn failing(mut self, id: &str, e: CancelError) -> Self {
        self.failures.insert(id.to_owned(), e);
        self
    }
}

#[async_trait]
impl WorkflowCanceller for Probe {
    fn backend(&self) -> &'static str {
        "probe"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        } else {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(e) = self.failures.get(run.run_id()) {
            return Err(e.clone());
        }
        let id = run.run_id();
        Ok(if id.starts_with("active") {
            CancelOutcome::Cancelled
        } else if id.starts_with("coop") {
            CancelOutcome::Requested
        } else {
            CancelOutcome::NotActive(Inactive::NoSuchRun)
        })
    }
}

fn ids(prefix: &str, n: usize) -> Vec<RunRef> {
    (0..n).map(|i| RunRef::new(format!("{prefix}-{i}"))).collect()
}

fn provider(msg: &str) -> CancelError {
    CancelError::provider("probe", Some(500), msg)
}

fn unauthenticated() -> CancelError {
    CancelError::unauthenticated("probe", "bad token")
}

#[tokio::test]
async fn accounts_for_every_run_exactly_once() {
    let mut runs = ids("active", 7);
    runs.extend(ids("coop", 3));
    runs.extend(ids("gone", 5));
    let p = Probe::default();
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(3)).await.unwrap();
    assert_eq!((report.cancelled, report.requested, report.not_active), (7, 3, 5));
    assert_eq!(report.accounted(), 15);
    assert_eq!(report.requests_sent, 15);
    assert_eq!(report.rounds, 0);
    assert!(report.is_success() && !report.drained);
    assert_eq!(report.backend, "probe");
    assert_eq!(report.outcomes.len(), 15);
    let by_id: HashMap<&str, CancelOutcome> = report.outcomes.iter().map(|o| (o.run.run_id(), o.outcome)).collect();
    assert_eq!(by_id.len(), 15, "each run listed once");
    assert_eq!(by_id["active-0"], CancelOutcome::Cancelled);
    assert_eq!(by_id["coop-2"], CancelOutcome::Requested);
    assert_eq!(by_id["gone-4"], CancelOutcome::NotActive(Inactive::NoSuchRun));
    assert_eq!(p.calls.load(Ordering::SeqCst), 15);
}

#[tokio::test]
async fn one_failure_does_not_hide_the_others() {
    let runs = ids("active", 10);
    let p = Probe::default()
        .failing("active-3", provider("boom"))
        .failing("active-7", provider("bang"));
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(4)).await.unwrap();
    assert_eq!(report.cancelled, 8);
    assert_eq!(report.failed_runs(), 2);
    assert_eq!(report.accounted(), 10);
    assert!(report.aborted.is_none() && report.not_attempted.is_empty());
    assert!(!report.is_success());
    let mut failed: Vec<(&str, String)> = report
        .failed
        .iter()
        .map(|f| (f.runs[0].run_id(), f.error.message()))
        .collect();
    failed.sort();
    assert_eq!(failed[0].0, "active-3");
    assert_eq!(failed[1].0, "active-7");
    assert!(failed[0].1.contains("boom"));
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.chunk.is_none() && f.round.is_none() && f.runs.len() == 1)
    );
}

#[tokio::test]
async fn stops_early_on_an_error_that_fails_every_call() {
    let runs = ids("active", 10);
    let p = Probe::default().failing("active-3", unauthenticated());
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(1)).await.unwrap();
    assert_eq!(report.cancelled, 3);
    assert_eq!(report.failed_runs(), 1);
    assert_eq!(report.aborted, Some(unauthenticated()));
    let untried: Vec<&str> = report.not_attempted.iter().map(RunRef::run_id).collect();
    assert_eq!(
        untried,
        ["active-4", "active-5", "active-6", "active-7", "active-8", "active-9"]
    );
    assert_eq!(report.accounted(), 10);
    assert_eq!(p.calls.load(Ordering::SeqCst), 4, "no cancel after the fatal error");
    assert_eq!(report.requests_sent, 4);
}

#[tokio::test(start_paused = true)]
async fn stops_early_with_cancels_in_flight_and_still_accounts_for_all() {
    let runs = ids("active", 40);
    let p = Probe::with_delay(Duration::from_millis(10))
        .failing("active-5", provider("x"))
        .failing(
            "active-9",
            CancelError::quota_exceeded("probe", "max requests per day exceeded"),
        );
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(4)).await.unwrap();
    assert!(matches!(report.aborted, Some(CancelError::QuotaExceeded { .. })));
    assert_eq!(report.accounted(), 40);
    assert!(!report.not_attempted.is_empty());
    assert!(p.calls.load(Ordering::SeqCst) < 40);
    assert_eq!(report.requests_sent as usize, p.calls.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn respects_the_concurrency_bound() {
    for (n, concurrency, expect) in [(50, 4, 4), (50, 1, 1), (3, 32, 3), (64, 16, 16)] {
        let p = Probe::with_delay(Duration::from_millis(10));
        let start = tokio::time::Instant::now();
        let report = fan_out(&p, &ids("active", n), &BulkOptions::new().concurrency(concurrency))
            .await
            .unwrap();
        assert_eq!(report.cancelled as usize, n);
        assert_eq!(
            p.max_in_flight.load(Ordering::SeqCst),
            expect,
            "n={n} concurrency={concurrency}"
        );
        // Saturated: n / concurrency waves of 10 ms.
        let waves = n.div_ceil(concurrency) as u32;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10) * waves,
            "n={n} concurrency={concurrency}"
        );
    }
}

#[tokio::test]
async fn reports_progress_after_each_run() {
    let seen: std::sync::Arc<Mutex<Vec<Progress>>> = Default::default();
    let sink = seen.clone();
    let opts = BulkOptions::new()
        .concurrency(2)
        .on_progress(move |p| sink.lock().unwrap().push(p.clone()));
    let mut runs = ids("active", 4);
    runs.extend(ids("gone", 2));
    fan_out(&Probe::default(), &runs, &opts).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6);
    let done: Vec<u64> = seen.iter().map(|p| p.done).collect();
    assert_eq!(done, [1, 2, 3, 4, 5, 6]);
    assert!(seen.iter().all(|p| p.total == Some(6) && p.rounds == 0));
    let last = seen.last().unwrap();
    assert_eq!((last.cancelled, last.not_active, last.failed), (4, 2, 0));
}

#[tokio::test]
async fn validates_before_any_cancel() {
    let p = Probe::default();
    let e = fan_out(&p, &[], &BulkOptions::new()).await.unwrap_err();
    assert!(
        matches!(
            e,
            CancelError::InvalidInput {
                backend: "probe",
                field: "ids",
                ..
            }
        ),
        "{e:?}"
    );
    let e = fan_out(&p, &[RunRef::new("active-1"), RunRef::new(" ")], &BulkOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "run_id", .. }), "{e:?}");
    let e = fan_out(&p, &ids("active", 2), &BulkOptions::new().concurrency(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            CancelError::InvalidInput {
                field: "concurrency",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(p.calls.load(Ordering::SeqCst), 0, "nothing sent");
}

#[tokio::test]
async fn the_trait_default_fans_out_ids_and_refuses_the_rest() {
    let p = Probe::default();
    let report = p
        .cancel_many(&Selector::ids(["active-1", "gone-1"]), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.not_active), (1, 1));
    let e = p
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.backend()), (ErrorKind::Unsupported, "probe"));
    let e = p
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = p.status(&RunRef::new("active-1")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // Through a trait object, an Arc and a Box as well.
    let dynamic: std::sync::Arc<dyn WorkflowCanceller> = std::sync::Arc::new(Probe::default());
    let report = dynamic
        .cancel_many(&Selector::ids(["active-1"]), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(report.cancelled, 1);
    let boxed: Box<dyn WorkflowCanceller> = Box::new(Probe::default());
    assert_eq!(
        boxed.cancel(&RunRef::new("gone")).await.unwrap(),
        CancelOutcome::NotActive(Inactive::NoSuchRun)
    );
}

/// A 403 or a 501 can concern one run's owner only (a token scoped to some workflows, an agent
/// that cannot cancel): the bulk lists it and goes on with the other runs.
#[tokio::test]
async fn permission_denied_and_unsupported_do_not_stop_the_bulk() {
    let runs = ids("active", 10);
    let p = Probe::default()
        .failing(
            "active-1",
            CancelError::permission_denied("probe", "token not scoped to workflows:w1"),
        )
        .failing(
            "active-2",
            CancelError::unsupported("probe", "This agent does not support cancel_run"),
        );
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(1)).await.unwrap();
    assert!(report.aborted.is_none(), "{:?}", report.aborted);
    assert!(report.not_attempted.is_empty());
    assert_eq!((report.cancelled, report.failed_runs()), (8, 2));
    assert_eq!(p.calls.load(Ordering::SeqCst), 10, "every run tried");
    assert_eq!(report.requests_sent, 10);
    let kinds: Vec<ErrorKind> = report.failed.iter().map(|f| f.error.kind()).collect();
    assert_eq!(kinds, [ErrorKind::PermissionDenied, ErrorKind::Unsupported]);
}

/// A backend refuses some runs before sending anything (its own checks on top of the contract's,
/// or a missing setting): those are failures, not requests sent.
#[tokio::test]
async fn errors_raised_before_sending_are_not_counted_as_requests() {
    let runs = ids("active", 6);
    let p = Probe::default()
        .failing(
            "active-1",
            CancelError::invalid_input("probe", "run_id", "must not contain a comma"),
        )
        .failing("active-2", provider("boom"));
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(1)).await.unwrap();
    assert_eq!((report.cancelled, report.failed_runs()), (4, 2));
    assert_eq!(
        report.requests_sent, 5,
        "the provider error was sent, the invalid input not"
    );
    assert!(report.aborted.is_none());

    let p = Probe::default().failing("active-0", CancelError::config("probe", "no token configured"));
    let report = fan_out(&p, &runs, &BulkOptions::new().concurrency(1)).await.unwrap();
    assert!(matches!(report.aborted, Some(CancelError::Config { .. })));
    assert_eq!(
        report.requests_sent, 0,
        "a configuration error is raised before sending"
    );
    assert_eq!((report.failed_runs(), report.not_attempted.len()), (1, 5));
    assert_eq!(report.accounted(), 6);
}

/// A canceller whose every cancel fails with a provider error, at once.
#[derive(Debug)]
struct AlwaysFails;

#[async_trait]
impl WorkflowCanceller for AlwaysFails {
    fn backend(&self) -> &'static str {
        "probe"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn cancel_run(
        &self,
        _run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        Err(provider("down"))
    }
}

/// The progress callback after each run must not count the failures so far each time: with
/// 100,000 failing runs that would be 5·10⁹ steps. Linear, it takes well under a second.
#[tokio::test]
async fn progress_with_many_failures_stays_linear() {
    const N: u64 = 100_000;
    let runs: Vec<RunRef> = (0..N).map(|i| RunRef::new(format!("r{i}"))).collect();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let last: std::sync::Arc<Mutex<Option<Progress>>> = Default::default();
    let (counter, sink) = (calls.clone(), last.clone());
    let opts = BulkOptions::new().concurrency(64).on_progress(move |p| {
        counter.fetch_add(1, Ordering::Relaxed);
        *sink.lock().unwrap() = Some(p.clone());
    });
    let start = std::time::Instant::now();
    let report = fan_out(&AlwaysFails, &runs, &opts).await.unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(report.failed_runs(), N);
    assert_eq!(calls.load(Ordering::Relaxed), N as usize);
    let last = last.lock().unwrap().clone().unwrap();
    assert_eq!(
        (last.done, last.failed, last.failed_requests, last.total),
        (N, N, N, Some(N))
    );
    assert_eq!(last, report.progress(Some(N)));
}
