//! `wait_until_terminal` and `cancel_and_wait`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    async fn cancel(&self, _run: &RunRef) -> Result<CancelOutcome, CancelError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        Ok(CancelOutcome::Requested)
    }
    async fn status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        if run.run_id() == "ghost" {
            return Err(CancelError::NotFound {
                backend: "scripted",
                what: wfcancel_core::NotFoundKind::Run,
                id: Some("ghost".into()),
                message: "no such run".into(),
            });
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
        .initial_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(30));
    c.wait_until_terminal(&RunRef::new("r"), opts).await.unwrap();
    assert_eq!(gaps(&c.reads.lock().unwrap()), [10, 20, 30, 30]);
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
            (CancelOutcome::NotActive, RunState::Completed)
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
