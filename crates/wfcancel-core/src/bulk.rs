//! Options and reports of bulk cancels, and the default fan-out over single cancels.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::{CancelError, CancelOutcome, RunRef, WorkflowCanceller};

/// Default number of requests in flight for a bulk cancel.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Default number of runs a provider cancels per filtered call (Upstash's `count`).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default limit on drain rounds.
pub const DEFAULT_MAX_ROUNDS: u32 = 10_000;

/// Where a bulk cancel has got to; passed to [`BulkOptions::progress`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Drain rounds finished so far (0 for a bulk by ids).
    pub rounds: u32,
    /// Runs accounted for so far (cancelled, requested, not active, failed or not attempted).
    pub done: u64,
    /// How many there are in all, when known.
    pub total: Option<u64>,
    /// Runs cancelled so far.
    pub cancelled: u64,
    /// Runs whose cancel was requested so far (cooperative providers).
    pub requested: u64,
    /// Runs found not active so far.
    pub not_active: u64,
    /// Runs that failed so far.
    pub failed: u64,
    /// Runs cancelled by the last drain round.
    pub last_round_cancelled: u64,
    /// Provider requests (chunks, drain rounds) that failed so far; a callback tells a failed
    /// round from one that cancelled nothing by this count going up.
    pub failed_requests: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How to run a bulk cancel.
///
/// ```
/// use wfcancel_core::BulkOptions;
/// let opts = BulkOptions::new().concurrency(64).page_size(1000).drain(true);
/// assert!(opts.validate("memory").is_ok());
/// assert!(BulkOptions::new().concurrency(0).validate("memory").is_err());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct BulkOptions {
    /// Requests in flight at once (default 32).
    pub concurrency: usize,
    /// Runs cancelled per filtered provider call (default 100).
    pub page_size: usize,
    /// Repeat a filtered cancel until a round cancels nothing.
    pub drain: bool,
    /// The most rounds a drain may take (default 10,000).
    pub max_rounds: u32,
    /// Called as the bulk makes progress.
    pub progress: Option<ProgressFn>,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            concurrency: DEFAULT_CONCURRENCY,
            page_size: DEFAULT_PAGE_SIZE,
            drain: false,
            max_rounds: DEFAULT_MAX_ROUNDS,
            progress: None,
        }
    }
}

impl std::fmt::Debug for BulkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkOptions")
            .field("concurrency", &self.concurrency)
            .field("page_size", &self.page_size)
            .field("drain", &self.drain)
            .field("max_rounds", &self.max_rounds)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(&Progress)"))
            .finish()
    }
}

impl BulkOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Runs cancelled per filtered provider call.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }

    /// Repeat until nothing is left.
    pub fn drain(mut self, drain: bool) -> Self {
        self.drain = drain;
        self
    }

    /// The most drain rounds.
    pub fn max_rounds(mut self, n: u32) -> Self {
        self.max_rounds = n;
        self
    }

    /// A progress callback.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Checks the options: concurrency, page size and round limit must be at least 1.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        if self.concurrency == 0 {
            return Err(CancelError::invalid_input(backend, "concurrency", "must be at least 1"));
        }
        if self.page_size == 0 {
            return Err(CancelError::invalid_input(backend, "page_size", "must be at least 1"));
        }
        if self.max_rounds == 0 {
            return Err(CancelError::invalid_input(backend, "max_rounds", "must be at least 1"));
        }
        Ok(())
    }

    /// Calls the progress callback, if any.
    pub fn report_progress(&self, p: &Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }
}

/// One run and what cancelling it did.
///
/// ```
/// use wfcancel_core::{CancelOutcome, RunOutcome, RunRef};
/// let o = RunOutcome::new(RunRef::new("r1"), CancelOutcome::Cancelled);
/// assert_eq!(o.run.run_id(), "r1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The run.
    pub run: RunRef,
    /// What happened.
    pub outcome: CancelOutcome,
}

impl RunOutcome {
    /// What cancelling `run` did.
    pub fn new(run: RunRef, outcome: CancelOutcome) -> Self {
        RunOutcome { run, outcome }
    }
}

/// A part of a bulk cancel that failed.
///
/// ```
/// use wfcancel_core::{BulkFailure, CancelError, RunRef};
/// let e = CancelError::config("memory", "no token");
/// let f = BulkFailure::new(vec![RunRef::new("r1"), RunRef::new("r2")], e).chunk(3);
/// assert_eq!((f.runs.len(), f.chunk, f.round), (2, Some(3), None));
/// let round = BulkFailure::new(Vec::new(), CancelError::config("memory", "no token")).round(2);
/// assert_eq!(round.round, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkFailure {
    /// The runs it concerned (empty for a failed filter round).
    pub runs: Vec<RunRef>,
    /// The index of the provider request (chunk) that failed, for backends that send chunks.
    pub chunk: Option<usize>,
    /// The drain round that failed, for filtered cancels.
    pub round: Option<u32>,
    /// Why.
    pub error: CancelError,
}

impl BulkFailure {
    /// A failure of these runs (empty for a failed filter round), with no chunk or round index.
    pub fn new(runs: Vec<RunRef>, error: CancelError) -> Self {
        BulkFailure {
            runs,
            chunk: None,
            round: None,
            error,
        }
    }

    /// The index of the provider request (chunk) that failed.
    pub fn chunk(mut self, index: usize) -> Self {
        self.chunk = Some(index);
        self
    }

    /// The drain round that failed.
    pub fn round(mut self, round: u32) -> Self {
        self.round = Some(round);
        self
    }
}

/// Exactly what a bulk cancel did.
///
/// For a bulk by ids every id is accounted for once:
/// `cancelled + requested + not_active + failed_runs() + not_attempted.len() == ids`.
/// Per-run outcomes are listed in `outcomes` where the provider tells them apart; providers that
/// answer one count per request (Upstash) report counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkReport {
    /// The backend that ran it.
    pub backend: &'static str,
    /// Runs the provider confirmed cancelled.
    pub cancelled: u64,
    /// Runs whose cancel was accepted, to stop cooperatively later.
    pub requested: u64,
    /// Runs that were not active (unknown, finished, already cancelled).
    pub not_active: u64,
    /// Per-run outcomes, where known.
    pub outcomes: Vec<RunOutcome>,
    /// What failed, and why.
    pub failed: Vec<BulkFailure>,
    /// Runs never tried because the bulk stopped early (see `aborted`).
    pub not_attempted: Vec<RunRef>,
    /// The error that stopped the bulk early, when one would have failed every further call.
    pub aborted: Option<CancelError>,
    /// Provider requests sent (not counting retries).
    pub requests_sent: u64,
    /// Drain rounds run (1 for a single filtered call, 0 for a bulk by ids).
    pub rounds: u32,
    /// Whether a drain ran until a round cancelled nothing.
    pub drained: bool,
    /// The provider's id for a bulk action it runs in the background.
    pub action_id: Option<String>,
}

impl BulkReport {
    /// An empty report for `backend`.
    pub fn new(backend: &'static str) -> Self {
        BulkReport {
            backend,
            ..Default::default()
        }
    }

    /// How many runs failed (the runs named in `failed`).
    pub fn failed_runs(&self) -> u64 {
        self.failed.iter().map(|f| f.runs.len() as u64).sum()
    }

    /// Whether nothing failed and nothing was left untried.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.not_attempted.is_empty() && self.aborted.is_none()
    }

    /// Runs accounted for: cancelled + requested + not active + failed + not attempted.
    pub fn accounted(&self) -> u64 {
        self.cancelled + self.requested + self.not_active + self.failed_runs() + self.not_attempted.len() as u64
    }

    /// Adds one run's outcome to the counts (and to `outcomes` when `keep` is true).
    pub fn record(&mut self, run: RunRef, outcome: CancelOutcome, keep: bool) {
        match outcome {
            CancelOutcome::Cancelled => self.cancelled += 1,
            CancelOutcome::Requested => self.requested += 1,
            CancelOutcome::NotActive => self.not_active += 1,
        }
        if keep {
            self.outcomes.push(RunOutcome::new(run, outcome));
        }
    }

    /// Adds a failure to `failed`; when its error
    /// [fails every call](CancelError::fails_every_call) and nothing has aborted the bulk yet,
    /// also records the error in `aborted`. (It does not stop anything: the caller decides
    /// whether to send more requests, and lists what it did not try in `not_attempted`.)
    ///
    /// ```
    /// use wfcancel_core::{BulkFailure, BulkReport, CancelError, RunRef};
    /// let mut report = BulkReport::new("memory");
    /// let denied = CancelError::PermissionDenied { backend: "memory", message: "not yours".into() };
    /// report.record_failure(BulkFailure::new(vec![RunRef::new("r1")], denied));
    /// assert!(report.aborted.is_none(), "a 403 can concern one run only");
    /// report.record_failure(BulkFailure::new(vec![RunRef::new("r2")], CancelError::config("memory", "no token")));
    /// assert!(report.aborted.is_some());
    /// assert_eq!(report.failed_runs(), 2);
    /// ```
    pub fn record_failure(&mut self, failure: BulkFailure) {
        if self.aborted.is_none() && failure.error.fails_every_call() {
            self.aborted = Some(failure.error.clone());
        }
        self.failed.push(failure);
    }

    /// Adds another report's figures to this one.
    pub fn merge(&mut self, other: BulkReport) {
        self.cancelled += other.cancelled;
        self.requested += other.requested;
        self.not_active += other.not_active;
        self.outcomes.extend(other.outcomes);
        self.failed.extend(other.failed);
        self.not_attempted.extend(other.not_attempted);
        if self.aborted.is_none() {
            self.aborted = other.aborted;
        }
        self.requests_sent += other.requests_sent;
        self.rounds += other.rounds;
        self.drained |= other.drained;
        if self.action_id.is_none() {
            self.action_id = other.action_id;
        }
    }

    /// A snapshot of the figures as a [`Progress`].
    ///
    /// It counts the runs in `failed` ([`failed_runs`](Self::failed_runs)), which takes time in
    /// proportion to `failed.len()`; a bulk that reports progress after every request keeps its
    /// own count of failed runs and calls [`progress_with`](Self::progress_with) instead.
    pub fn progress(&self, total: Option<u64>) -> Progress {
        self.progress_with(total, self.failed_runs())
    }

    /// A snapshot of the figures as a [`Progress`], with the number of failed runs given by the
    /// caller (who keeps it as failures are added) rather than counted in `failed`: O(1).
    pub fn progress_with(&self, total: Option<u64>, failed_runs: u64) -> Progress {
        Progress {
            rounds: self.rounds,
            done: self.cancelled + self.requested + self.not_active + failed_runs + self.not_attempted.len() as u64,
            total,
            cancelled: self.cancelled,
            requested: self.requested,
            not_active: self.not_active,
            failed: failed_runs,
            last_round_cancelled: 0,
            failed_requests: self.failed.len() as u64,
        }
    }
}

/// Cancels each run with [`WorkflowCanceller::cancel`], `opts.concurrency` at a time.
///
/// Every run is accounted for in the report; one failure never hides the others. It stops
/// starting new cancels only when an error [fails every call](CancelError::fails_every_call)
/// (bad token, configuration, quota), records that error in `aborted`, and lists the runs it did
/// not try in `not_attempted`. An error that may concern one run only (not found, permission
/// denied, unsupported for that run's owner, a provider fault) is listed in `failed` and the bulk
/// goes on. Validates the runs and options first.
///
/// `requests_sent` counts the cancels that reached the provider: those answered with an outcome
/// or with an error other than [`CancelError::InvalidInput`] or [`CancelError::Config`] (which a
/// backend raises before sending anything). Each run takes O(1) bookkeeping, progress callback
/// included.
pub async fn fan_out<C>(canceller: &C, runs: &[RunRef], opts: &BulkOptions) -> Result<BulkReport, CancelError>
where
    C: WorkflowCanceller + ?Sized,
{
    let backend = canceller.backend();
    opts.validate(backend)?;
    crate::Selector::validate_ids(backend, runs)?;
    let total = runs.len() as u64;
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let mut report = BulkReport::new(backend);
    // Kept here rather than counted in `report.failed` after each cancel: O(1) per progress call.
    let mut failed_runs: u64 = 0;
    let mut pending = runs.iter();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < opts.concurrency {
            match pending.next() {
                Some(run) => in_flight.push(cancel_unless_stopped(canceller, run, stop)),
                None => break,
            }
        }
        let Some((run, result)) = in_flight.next().await else {
            break;
        };
        match result {
            None => report.not_attempted.push(run.clone()),
            Some(Ok(outcome)) => {
                report.requests_sent += 1;
                report.record(run.clone(), outcome, true);
            }
            Some(Err(error)) => {
                if reached_provider(&error) {
                    report.requests_sent += 1;
                }
                failed_runs += 1;
                report.record_failure(BulkFailure::new(vec![run.clone()], error));
            }
        }
        if opts.progress.is_some() {
            opts.report_progress(&report.progress_with(Some(total), failed_runs));
        }
    }
    Ok(report)
}

/// Whether a single cancel that failed with `error` sent a request: input and configuration
/// errors are raised before anything is sent.
fn reached_provider(error: &CancelError) -> bool {
    !matches!(error, CancelError::InvalidInput { .. } | CancelError::Config { .. })
}

async fn cancel_unless_stopped<'a, C>(
    canceller: &C,
    run: &'a RunRef,
    stop: &AtomicBool,
) -> (&'a RunRef, Option<Result<CancelOutcome, CancelError>>)
where
    C: WorkflowCanceller + ?Sized,
{
    if stop.load(Ordering::Acquire) {
        return (run, None);
    }
    let result = canceller.cancel(run).await;
    if let Err(e) = &result {
        if e.fails_every_call() {
            stop.store(true, Ordering::Release);
        }
    }
    (run, Some(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_with_matches_progress() {
        let mut r = BulkReport::new("memory");
        r.record(RunRef::new("a"), CancelOutcome::Cancelled, true);
        r.record(RunRef::new("b"), CancelOutcome::Requested, false);
        r.record(RunRef::new("c"), CancelOutcome::NotActive, true);
        r.record_failure(BulkFailure::new(
            vec![RunRef::new("d"), RunRef::new("e")],
            CancelError::unsupported("memory", "x"),
        ));
        r.not_attempted.push(RunRef::new("f"));
        let p = r.progress(Some(6));
        assert_eq!(p, r.progress_with(Some(6), 2));
        assert_eq!((p.done, p.failed, p.failed_requests), (6, 2, 1));
        assert_eq!(p.done, r.accounted());
        assert!(r.aborted.is_none(), "unsupported does not fail every call");
    }
}
