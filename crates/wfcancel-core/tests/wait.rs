//! `wait_until_terminal` and `cancel_and_wait`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wfcancel_core::Inactive;
use wfcancel_core::{
    CancelError, CancelOutcome, Capabilities, ErrorKind, RunRef, RunState, WaitOptions, WorkflowCanceller,
    WorkflowCancellerExt, async_trait,
};

/// Running for `running_for` status reads, then Cancelled; records when each read happened.
#[derive(Debug)]
struct Scripted {
    status: bool,
    running_for: usize,
    reads: Mutex<Vec<tokio::time::Instant>>,
    cancels: AtomicUsize,
}

impl Scripted {
    fn new(running_for: usize) -> Self {
        Scripted {
            status: true,
            running_for,
            reads: Mutex::new(Vec::new()),
            cancels: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl WorkflowCanceller for Scripted {
    fn backend(&self) -> &'static str {
        "scripted"
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.status = self.status;
        c.cancel_confirms = false;
        c
    }
    async fn cancel_run(
        &self,
        _run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        Ok(CancelOutcome::Requested)
    }
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        if run.run_id() == "ghost" {
            return Err(CancelError::not_found(
                "scripted",
                wfcancel_core::NotFoundKind::Run,
                Some("ghost".into()),
                "no such run",
            ));
        }
        let mut reads = self.reads.lock().unwrap();
        reads.push(tokio::time::Instant::now());
        Ok(if reads.len() > self.running_for {
            RunState::Cancelled
        } else {
            RunState::Running
        })
    }
}

fn gaps(reads: &[tokio::time::Instant]) -> Vec<u128> {
    reads.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect()
}

#[tokio::test(start_paused = true)]
async fn intervals_grow_and_are_capped() {
    let c = Scripted::new(7);
    let opts = WaitOptions::default(); // 100 ms doubling to at most 2 s
    let state = c.wait_until_terminal(&RunRef::new("r"), opts).await.unwrap();
    assert_eq!(state, RunState::Cancelled);
    let reads = c.reads.lock().unwrap();
    assert_eq!(reads.len(), 8);
    assert_eq!(gaps(&reads), [100, 200, 400, 800, 1600, 2000, 2000]);
}

#[tokio::test(start_paused = true)]
async fn custom_intervals() {
    let c = Scripted::new(4);
    let opts = WaitOptions::with_timeout(Duration::from_secs(60))
        .initial_interval(Duration::from_millis(25))
        .max_interval(Duration::from_millis(70));
    c.wait_until_terminal(&RunRef::new("r"), opts).await.unwrap();
    assert_eq!(gaps(&c.reads.lock().unwrap()), [25, 50, 70, 70]);
}

/// Zero or tiny intervals are raised to `WaitOptions::MIN_INTERVAL` (20 ms): a wait never
/// busy-polls (before the floor, a zero interval made 184 reads in 200 ms).
#[tokio::test(start_paused = true)]
async fn zero_intervals_never_busy_poll() {
    let c = Scripted::new(1_000_000);
    let opts = WaitOptions::with_timeout(Duration::from_millis(200))
        .initial_interval(Duration::ZERO)
        .max_interval(Duration::ZERO);
    let err = c.wait_until_terminal(&RunRef::new("r"), opts).await.unwrap_err();
    assert!(matches!(err, wfcancel_core::CancelError::Timeout { .. }), "{err}");
    let reads = c.reads.lock().unwrap();
    assert!(reads.len() <= 11, "{} reads in 200 ms", reads.len());
    assert!(gaps(&reads).iter().all(|g| *g >= 20), "{:?}", gaps(&reads));
}

/// An unknown state the backend classifies as terminal ends a wait; one it classifies as not
/// terminal does not.
#[tokio::test(start_paused = true)]
async fn an_unknown_terminal_state_ends_a_wait() {
    assert!(RunState::unknown("ARCHIVED", true).is_terminal());
    assert!(!RunState::unknown("WARMING", false).is_terminal());
    let polled = wfcancel_core::poll_until(
        WaitOptions::with_timeout(Duration::from_secs(5)),
        || async { Ok::<_, wfcancel_core::CancelError>(RunState::unknown("ARCHIVED", true)) },
        RunState::is_terminal,
    )
    .await
    .unwrap();
    assert_eq!(polled, wfcancel_core::Polled::Done(RunState::unknown("ARCHIVED", true)));
}

#[tokio::test(start_paused = true)]
async fn terminal_at_once_reads_once() {
    let c = Scripted::new(0);
    let state = c
        .wait_until_terminal(&RunRef::new("r"), WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(state, RunState::Cancelled);
    assert_eq!(c.reads.lock().unwrap().len(), 1);
}

// The deadline is measured on the real clock (std::time::Instant), so this runs in real time.
#[tokio::test]
async fn deadline_gives_timeout() {
    let c = Scripted::new(usize::MAX);
    let opts = WaitOptions::with_timeout(Duration::from_millis(120)).initial_interval(Duration::from_millis(10));
    let start = std::time::Instant::now();
    let e = c.wait_until_terminal(&RunRef::new("slow-run"), opts).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.backend(), "scripted");
    assert!(
        e.to_string().contains("slow-run") && e.to_string().contains("running"),
        "{e}"
    );
    assert!(e.is_retryable());
    assert!(took >= Duration::from_millis(120), "gave up early: {took:?}");
    assert!(took < Duration::from_secs(2), "slept past the deadline: {took:?}");
}

#[tokio::test]
async fn status_errors_end_the_wait() {
    let c = Scripted::new(3);
    let e = c
        .wait_until_terminal(&RunRef::new("ghost"), WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn without_status_both_are_unsupported_and_nothing_is_cancelled() {
    let mut c = Scripted::new(0);
    c.status = false;
    let e = c
        .wait_until_terminal(&RunRef::new("r"), WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.backend()), (ErrorKind::Unsupported, "scripted"));
    let e = c
        .cancel_and_wait(&RunRef::new("r"), WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(
        c.cancels.load(Ordering::SeqCst),
        0,
        "cancel_and_wait must not cancel what it cannot wait for"
    );
    assert!(c.reads.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancel_and_wait_reports_the_answer_and_the_final_state() {
    let c = Scripted::new(2);
    let done = c
        .cancel_and_wait(&RunRef::new("r"), WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(done.outcome, CancelOutcome::Requested);
    assert_eq!(done.state, RunState::Cancelled);
    assert_eq!(c.cancels.load(Ordering::SeqCst), 1);
}

/// Answers `Running` at once for `fast_reads` reads, then takes `delay` per read; its cancel
/// answers `outcome`; a run named "unknown" is not found.
#[derive(Debug)]
struct Slow {
    fast_reads: usize,
    delay: Duration,
    outcome: CancelOutcome,
    reads: AtomicUsize,
}

impl Slow {
    fn new(fast_reads: usize, delay: Duration) -> Self {
        Slow {
            fast_reads,
            delay,
            outcome: CancelOutcome::Requested,
            reads: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl WorkflowCanceller for Slow {
    fn backend(&self) -> &'static str {
        "slow"
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.status = true;
        c
    }
    async fn cancel_run(
        &self,
        _run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        Ok(self.outcome)
    }
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        if run.run_id() == "unknown" {
            return Err(CancelError::not_found(
                "slow",
                wfcancel_core::NotFoundKind::Run,
                Some("unknown".into()),
                "no such run",
            ));
        }
        if self.reads.fetch_add(1, Ordering::SeqCst) >= self.fast_reads {
            tokio::time::sleep(self.delay).await;
        }
        Ok(RunState::Running)
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_status_read_does_not_overshoot_the_deadline() {
    // Never answered in time: the timeout comes at the deadline, not after the read.
    let c = Slow::new(0, Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let e = c
        .wait_until_terminal(
            &RunRef::new("slow-read"),
            WaitOptions::with_timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.backend()), (ErrorKind::Timeout, "slow"));
    assert_eq!(start.elapsed(), Duration::from_secs(1), "{e}");
    assert!(
        e.to_string().contains("slow-read") && e.to_string().contains("1.0s"),
        "{e}"
    );
    assert!(e.to_string().contains("never read"), "{e}");

    // Two quick reads, then a slow one: the message names the last state read.
    let c = Slow::new(2, Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let e = c
        .wait_until_terminal(&RunRef::new("r"), WaitOptions::with_timeout(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(1), "{e}");
    assert!(e.to_string().contains("last known state: running"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn duration_max_means_no_deadline_and_never_panics() {
    let c = Scripted::new(3);
    let state = c
        .wait_until_terminal(&RunRef::new("r"), WaitOptions::with_timeout(Duration::MAX))
        .await
        .unwrap();
    assert_eq!(state, RunState::Cancelled);

    // Intervals that would overflow when doubled.
    let c = Scripted::new(3);
    let opts = WaitOptions::with_timeout(Duration::MAX)
        .initial_interval(Duration::MAX)
        .max_interval(Duration::MAX);
    let state = c.wait_until_terminal(&RunRef::new("r"), opts).await.unwrap();
    assert_eq!(state, RunState::Cancelled);
    assert_eq!(c.reads.lock().unwrap().len(), 4);

    let c = Scripted::new(2);
    let done = c
        .cancel_and_wait(&RunRef::new("r"), WaitOptions::with_timeout(Duration::MAX))
        .await
        .unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Cancelled)
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_and_wait_timeout_says_the_cancel_was_accepted() {
    // A run that keeps running.
    let c = Scripted::new(usize::MAX);
    let e = c
        .cancel_and_wait(&RunRef::new("r"), WaitOptions::with_timeout(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.to_string().contains("the cancel was accepted (requested)"), "{e}");
    assert!(e.to_string().contains("still running"), "{e}");

    // A status read that never answers: bounded too, and says the same.
    let c = Slow::new(0, Duration::from_secs(3600));
    let start = tokio::time::Instant::now();
    let e = c
        .cancel_and_wait(&RunRef::new("r"), WaitOptions::with_timeout(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(e.to_string().contains("the cancel was accepted (requested)"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn cancel_and_wait_on_an_unknown_run_stays_not_found_and_says_what_the_cancel_answered() {
    let mut c = Slow::new(usize::MAX, Duration::ZERO);
    c.outcome = CancelOutcome::NotActive(Inactive::NoSuchRun);
    let e = c
        .cancel_and_wait(&RunRef::new("unknown"), WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        matches!(&e, CancelError::NotFound { id: Some(id), .. } if id == "unknown"),
        "{e:?}"
    );
    let shown = e.to_string();
    assert!(
        shown.contains("not active (no such run): nothing to cancel") && shown.contains("nothing to cancel"),
        "{shown}"
    );
    assert!(shown.contains("no such run"), "the provider's message is kept: {shown}");
}

#[cfg(feature = "memory")]
mod memory {
    use super::*;
    use wfcancel_core::{InMemoryCanceller, MemoryRun};

    #[tokio::test]
    async fn cooperative_run_is_waited_for() {
        let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(40));
        m.insert(MemoryRun::new("r"));
        let opts = WaitOptions::with_timeout(Duration::from_secs(5)).initial_interval(Duration::from_millis(5));
        let done = m.cancel_and_wait(&RunRef::new("r"), opts).await.unwrap();
        assert_eq!(
            (done.outcome, done.state),
            (CancelOutcome::Requested, RunState::Cancelled)
        );
    }

    #[tokio::test]
    async fn a_run_that_already_finished_reports_its_own_state() {
        let m = InMemoryCanceller::new();
        m.insert(MemoryRun::new("r").state(RunState::Completed));
        let done = m
            .cancel_and_wait(&RunRef::new("r"), WaitOptions::default())
            .await
            .unwrap();
        assert_eq!(
            (done.outcome, done.state),
            (CancelOutcome::NotActive(Inactive::Finished), RunState::Completed)
        );
    }

    #[tokio::test]
    async fn a_run_that_never_stops_times_out() {
        let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(1));
        m.insert(MemoryRun::new("stuck").never_stops());
        let opts = WaitOptions::with_timeout(Duration::from_millis(80)).initial_interval(Duration::from_millis(5));
        let e = m.cancel_and_wait(&RunRef::new("stuck"), opts).await.unwrap_err();
        assert_eq!((e.kind(), e.backend()), (ErrorKind::Timeout, "memory"));
        assert_eq!(m.state_of("stuck"), Some(RunState::Running));
    }
}
