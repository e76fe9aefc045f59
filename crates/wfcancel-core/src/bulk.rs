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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The run.
    pub run: RunRef,
    /// What happened.
    pub outcome: CancelOutcome,
}

/// A part of a bulk cancel that failed.
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
            self.outcomes.push(RunOutcome { run, outcome });
        }
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
    pub fn progress(&self, total: Option<u64>) -> Progress {
        Progress {
            rounds: self.rounds,
            done: self.accounted(),
            total,
            cancelled: self.cancelled,
            requested: self.requested,
            not_active: self.not_active,
            failed: self.failed_runs(),
            last_round_cancelled: 0,
            failed_requests: self.failed.len() as u64,
        }
    }
}

/// Cancels each run with [`WorkflowCanceller::cancel`], `opts.concurrency` at a time.
///
/// Every run is accounted for in the report; one failure never hides the others. It stops
/// starting new cancels only when an error [fails every call](CancelError::fails_every_call)
/// (bad token, configuration), records that error in `aborted`, and lists the runs it did not
/// try in `not_attempted`. Validates the runs and options first.
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
                report.requests_sent += 1;
                if error.fails_every_call() && report.aborted.is_none() {
                    report.aborted = Some(error.clone());
                }
                report.failed.push(BulkFailure {
                    runs: vec![run.clone()],
                    chunk: None,
                    round: None,
                    error,
                });
            }
        }
        if opts.progress.is_some() {
            opts.report_progress(&report.progress(Some(total)));
        }
    }
    Ok(report)
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
