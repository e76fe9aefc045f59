//! Options and reports of bulk cancels, and the default fan-out over single cancels.

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{CancelError, CancelOptions, CancelOutcome, RunRef, WorkflowCanceller};

/// Default number of requests in flight for a bulk cancel.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Default number of runs a provider cancels per filtered call (Upstash's `count`).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default limit on drain rounds.
pub const DEFAULT_MAX_ROUNDS: u32 = 10_000;

/// Stops a bulk cancel that is running, from anywhere: another task, a signal handler, a
/// "stop" button. Cheap to clone; every clone stops the same bulks.
///
/// Once stopped, a bulk given this handle ([`BulkOptions::stop_handle`]) starts no new
/// request; requests in flight finish; the bulk returns its report, with the runs it did not
/// try in `not_attempted` and [`BulkReport::interrupted`] set.
///
/// ```
/// use wfcancel_core::{BulkOptions, StopHandle};
/// let stop = StopHandle::new();
/// let opts = BulkOptions::new().stop_handle(stop.clone());
/// assert!(!stop.is_stopped());
/// stop.stop(); // e.g. on Ctrl-C
/// assert!(stop.is_stopped());
/// # let _ = opts;
/// ```
#[derive(Clone, Default)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    notify: Notify,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl StopHandle {
    /// A handle that has not been stopped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops every bulk given this handle (or a clone of it). Idempotent.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Completes once [`stop`](Self::stop) has been called (at once if it was already).
    pub async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// Why a bulk ended before it had tried every run ([`BulkReport::interrupted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Interruption {
    /// Its [`StopHandle`] was stopped.
    Stopped,
    /// Its deadline ([`BulkOptions::deadline`]) passed.
    Deadline,
}

impl Interruption {
    /// snake_case name: `"stopped"` or `"deadline"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interruption::Stopped => "stopped",
            Interruption::Deadline => "deadline",
        }
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a bulk cancel has got to; passed to [`BulkOptions::progress`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Drain rounds finished so far (0 for a bulk by ids).
    pub rounds: u32,
    /// Runs accounted for so far (cancelled, requested, not active, failed or not attempted),
    /// for every kind of bulk: never a count of requests or rounds.
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
    /// The whole bulk's time limit, from the moment `cancel_many` is called (default none).
    /// When it passes, no new request starts, requests in flight are abandoned, and the report
    /// comes back with [`BulkReport::interrupted`] set.
    pub deadline: Option<Duration>,
    /// Stops the bulk from outside (default none); see [`StopHandle`].
    pub stop: Option<StopHandle>,
    /// How each run is cancelled (graceful by default; forced; a reason). Checked against the
    /// backend's capabilities before anything is sent.
    pub cancel: CancelOptions,
    /// Whether `concurrency` / `page_size` were set with their builder methods (see
    /// [`concurrency_or`](Self::concurrency_or), [`page_size_or`](Self::page_size_or)).
    concurrency_set: bool,
    page_size_set: bool,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            concurrency: DEFAULT_CONCURRENCY,
            page_size: DEFAULT_PAGE_SIZE,
            drain: false,
            max_rounds: DEFAULT_MAX_ROUNDS,
            progress: None,
            deadline: None,
            stop: None,
            cancel: CancelOptions::default(),
            concurrency_set: false,
            page_size_set: false,
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
            .field("deadline", &self.deadline)
            .field("stop", &self.stop)
            .field("cancel", &self.cancel)
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
        self.concurrency_set = true;
        self
    }

    /// Runs cancelled per filtered provider call.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self.page_size_set = true;
        self
    }

    /// `concurrency` as the caller chose it, or `backend_default` when the caller left it at
    /// [`DEFAULT_CONCURRENCY`] without setting it: for a backend whose provider is measured
    /// faster with more requests in flight. A value set with [`concurrency`](Self::concurrency)
    /// (or written to the field, other than the default) is always kept.
    ///
    /// ```
    /// use wfcancel_core::BulkOptions;
    /// assert_eq!(BulkOptions::new().concurrency_or(64), 64);
    /// assert_eq!(BulkOptions::new().concurrency(32).concurrency_or(64), 32);
    /// ```
    pub fn concurrency_or(&self, backend_default: usize) -> usize {
        if self.concurrency_set || self.concurrency != DEFAULT_CONCURRENCY {
            self.concurrency
        } else {
            backend_default
        }
    }

    /// `page_size` as the caller chose it, or `backend_default` when the caller left it at
    /// [`DEFAULT_PAGE_SIZE`] without setting it: for a backend whose pages are cheap to hold and
    /// costly to read (Restate: ids read by a scan of `sys_invocation`). A value set with
    /// [`page_size`](Self::page_size) (or written to the field, other than the default) is
    /// always kept.
    ///
    /// ```
    /// use wfcancel_core::BulkOptions;
    /// assert_eq!(BulkOptions::new().page_size_or(1000), 1000);
    /// assert_eq!(BulkOptions::new().page_size(100).page_size_or(1000), 100);
    /// ```
    pub fn page_size_or(&self, backend_default: usize) -> usize {
        if self.page_size_set || self.page_size != DEFAULT_PAGE_SIZE {
            self.page_size
        } else {
            backend_default
        }
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

    /// A time limit for the whole bulk (see [`deadline`](Self::deadline)): a bulk cut short
    /// still reports, with what it did not try in `not_attempted`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wfcancel_core::{BulkOptions, Interruption};
    /// let opts = BulkOptions::new().deadline(Duration::ZERO);
    /// // The control a backend makes at the start of `cancel_many`: past its deadline at once.
    /// assert_eq!(opts.control().interrupted(), Some(Interruption::Deadline));
    /// assert_eq!(BulkOptions::new().control().interrupted(), None);
    /// ```
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// How each run is cancelled (mode and reason; see [`CancelOptions`]).
    pub fn cancel_options(mut self, cancel: CancelOptions) -> Self {
        self.cancel = cancel;
        self
    }

    /// A handle that stops the bulk (see [`StopHandle`]).
    pub fn stop_handle(mut self, stop: StopHandle) -> Self {
        self.stop = Some(stop);
        self
    }

    /// The bulk's control: its deadline fixed from now, and its stop handle. A backend makes it
    /// once, at the start of `cancel_many`.
    pub fn control(&self) -> BulkControl {
        BulkControl {
            deadline: self.deadline.and_then(|d| Instant::now().checked_add(d)),
            stop: self.stop.clone(),
        }
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

/// A running bulk's deadline and stop handle (see [`BulkOptions::control`]), for backend
/// authors: checked before each new request, raced against requests in flight.
#[derive(Debug, Clone, Default)]
pub struct BulkControl {
    deadline: Option<Instant>,
    stop: Option<StopHandle>,
}

impl BulkControl {
    /// Why no new request may start now, if one may not.
    pub fn interrupted(&self) -> Option<Interruption> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Interruption::Deadline);
        }
        if self.stop.as_ref().is_some_and(StopHandle::is_stopped) {
            return Some(Interruption::Stopped);
        }
        None
    }

    /// The bulk's deadline, as a `std` instant (for [`crate::http::Call::until`]-style limits).
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline.map(Instant::into_std)
    }

    /// Completes when the deadline passes (never without one).
    pub async fn deadline_reached(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// Runs `fut` unless the deadline passes first (`Err(Interruption::Deadline)`: `fut` was
    /// abandoned). A stop does not abandon it: a request in flight finishes.
    pub async fn within_deadline<T>(&self, fut: impl Future<Output = T>) -> Result<T, Interruption> {
        match self.deadline {
            Some(d) => tokio::time::timeout_at(d, fut)
                .await
                .map_err(|_| Interruption::Deadline),
            None => Ok(fut.await),
        }
    }
}

/// What [`drive`] left undone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Driven {
    /// Items never started (a stop, the deadline, or `on_result` saying stop), in order.
    pub not_started: Range<usize>,
    /// Items in flight when the deadline passed, abandoned without an answer (their request may
    /// have reached the provider), in order.
    pub abandoned: Vec<usize>,
    /// Why the bulk ended early, when a stop or the deadline ended it.
    pub interrupted: Option<Interruption>,
}

/// Runs `start(i)` for every `i` in `0..n`, in order, at most `concurrency` at once, and hands
/// each result to `on_result` as it arrives; `on_result` answers whether to go on starting new
/// items (false: an error that fails every call). Stops starting new items when `control` is
/// stopped or its deadline passes, and abandons the items in flight at the deadline. The
/// bounded, stoppable fan-out behind [`fan_out`] and backends' chunked bulks.
pub async fn drive<R, F, Fut>(
    n: usize,
    concurrency: usize,
    control: &BulkControl,
    mut start: F,
    mut on_result: impl FnMut(usize, R) -> bool,
) -> Driven
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = R>,
{
    let concurrency = concurrency.max(1);
    let mut next = 0;
    let mut go_on = true;
    let mut interrupted = None;
    let mut in_flight = FuturesUnordered::new();
    // Which items are in flight, by index (a plain vector: no hashing on the hot path).
    let mut flying: Vec<bool> = vec![false; n];
    let deadline = control.deadline_reached();
    tokio::pin!(deadline);
    loop {
        while go_on && next < n && in_flight.len() < concurrency {
            if let Some(why) = control.interrupted() {
                interrupted = Some(why);
                break;
            }
            let i = next;
            next += 1;
            flying[i] = true;
            let fut = start(i);
            in_flight.push(async move { (i, fut.await) });
        }
        if in_flight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some((i, result)) = in_flight.next() => {
                flying[i] = false;
                if !on_result(i, result) {
                    go_on = false;
                }
            }
            () = &mut deadline => {
                interrupted = Some(Interruption::Deadline);
                break;
            }
        }
    }
    if interrupted.is_none() && go_on && next < n {
        interrupted = control.interrupted();
    }
    let abandoned: Vec<usize> = if in_flight.is_empty() {
        Vec::new()
    } else {
        (0..n).filter(|&i| flying[i]).collect()
    };
    Driven {
        not_started: next..n,
        abandoned,
        interrupted,
    }
}

/// `runs` without repeats (the first of each kept, in order) and how many were dropped. Two
/// [`RunRef`]s are the same run when their whole address is equal (id, owner, session). Takes
/// no copy when there is no repeat.
///
/// ```
/// use wfcancel_core::{RunRef, unique_runs};
/// let runs = [RunRef::new("a"), RunRef::new("b"), RunRef::new("a"), RunRef::new("a").agent("x")];
/// let (unique, dropped) = unique_runs(&runs);
/// assert_eq!(unique.len(), 3);
/// assert_eq!(dropped, 1);
/// ```
pub fn unique_runs(runs: &[RunRef]) -> (Cow<'_, [RunRef]>, u64) {
    // Runs are found by the hash of their id alone (fast, and any two equal runs share it),
    // and compared whole: two runs with one id and different owners are two runs.
    let state = IdHashState::new();
    let mut seen: HashSet<ById<'_>, IdHashState> = HashSet::with_capacity_and_hasher(runs.len(), state);
    let Some(first_repeat) = runs.iter().position(|r| !seen.insert(ById(r))) else {
        return (Cow::Borrowed(runs), 0);
    };
    let mut unique: Vec<RunRef> = runs[..first_repeat].to_vec();
    let mut dropped = 1;
    for run in &runs[first_repeat + 1..] {
        if seen.insert(ById(run)) {
            unique.push(run.clone());
        } else {
            dropped += 1;
        }
    }
    (Cow::Owned(unique), dropped)
}

/// A run in [`unique_runs`]' set: hashed by its id, equal when its whole address is.
#[derive(PartialEq, Eq)]
struct ById<'a>(&'a RunRef);

impl std::hash::Hash for ById<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write(self.0.run_id().as_bytes());
    }
}

/// A fast multiply-and-rotate hasher for run ids, seeded afresh for every set (the ids are the
/// caller's own: a colliding set costs only that caller's time, and no secret depends on it).
#[derive(Clone)]
struct IdHashState(u64);

impl IdHashState {
    fn new() -> Self {
        IdHashState(fastrand::u64(..) | 1)
    }
}

impl std::hash::BuildHasher for IdHashState {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ bytes.len() as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        // Fold the high bits down: the table uses the low ones.
        self.0 ^ (self.0 >> 29)
    }
}

/// A bulk job the provider runs itself (Upstash bulk action, Temporal batch operation), as
/// [`crate::WorkflowCanceller::bulk_action`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkActionState {
    /// The job's id ([`BulkReport::action_id`]).
    pub id: String,
    /// The provider's name for its state (`IN_PROGRESS`, `FINISHED`, `RUNNING`, `COMPLETED`, …).
    pub state: String,
    /// Whether the job is over (finished, failed or cancelled): a wait ends on it.
    pub finished: bool,
    /// Runs it matched, where the provider says.
    pub total: Option<u64>,
    /// Runs it has handled so far, where the provider says.
    pub processed: Option<u64>,
    /// Runs it has cancelled so far, where the provider says.
    pub cancelled: Option<u64>,
    /// Runs it failed to cancel, where the provider says.
    pub failed: Option<u64>,
}

impl BulkActionState {
    /// A job in `state` (the provider's name), over or not; no counts yet.
    pub fn new(id: impl Into<String>, state: impl Into<String>, finished: bool) -> Self {
        BulkActionState {
            id: id.into(),
            state: state.into(),
            finished,
            total: None,
            processed: None,
            cancelled: None,
            failed: None,
        }
    }

    /// With the counts the provider reports.
    pub fn counts(
        mut self,
        total: Option<u64>,
        processed: Option<u64>,
        cancelled: Option<u64>,
        failed: Option<u64>,
    ) -> Self {
        self.total = total;
        self.processed = processed;
        self.cancelled = cancelled;
        self.failed = failed;
        self
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
    /// Whether a drain ended with nothing left to cancel, on the provider's word or a state
    /// read (never inferred from a round that cancelled nothing: see `not_confirmed`).
    pub drained: bool,
    /// The provider's id for a bulk action it runs in the background.
    pub action_id: Option<String>,
    /// Repeated runs dropped before sending (same whole address); they are not counted
    /// anywhere else.
    pub duplicates_dropped: u64,
    /// Why the bulk ended before trying every run: stopped, or its deadline passed. What it did
    /// not try is in `not_attempted`; requests abandoned at the deadline are in `failed`.
    pub interrupted: Option<Interruption>,
    /// Why a drain could not confirm that no matching run is left, when it could not (then
    /// `drained` is false).
    pub not_confirmed: Option<String>,
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
        self.failed.is_empty() && self.not_attempted.is_empty() && self.aborted.is_none() && self.interrupted.is_none()
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
            CancelOutcome::NotActive(_) => self.not_active += 1,
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
    /// let denied = CancelError::permission_denied("memory", "not yours");
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
        self.duplicates_dropped += other.duplicates_dropped;
        if self.interrupted.is_none() {
            self.interrupted = other.interrupted;
        }
        if self.not_confirmed.is_none() {
            self.not_confirmed = other.not_confirmed;
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
/// Every run is accounted for in the report; one failure never hides the others. Repeated runs
/// (same whole address) are cancelled once and counted in `duplicates_dropped`. It stops
/// starting new cancels when an error [fails every call](CancelError::fails_every_call) (bad
/// token, configuration, quota), recording it in `aborted`; when `opts`' [`StopHandle`] is
/// stopped; or when `opts`' deadline passes (cancels in flight then are abandoned and listed in
/// `failed` with a [`CancelError::Timeout`]: they may have reached the provider). What it did
/// not try is in `not_attempted`, so `accounted()` always equals the number of unique runs. An
/// error that may concern one run only (not found, permission denied, unsupported for that
/// run's owner, a provider fault) is listed in `failed` and the bulk goes on. Validates the
/// runs and options first.
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
    let control = opts.control();
    let (runs, duplicates) = unique_runs(runs);
    let runs: &[RunRef] = &runs;
    let total = runs.len() as u64;
    let mut report = BulkReport::new(backend);
    report.duplicates_dropped = duplicates;
    // Kept here rather than counted in `report.failed` after each cancel: O(1) per progress call.
    let mut failed_runs: u64 = 0;
    let driven = drive(
        runs.len(),
        opts.concurrency,
        &control,
        |i| canceller.cancel_run(&runs[i], &opts.cancel),
        |i, result| {
            let run = &runs[i];
            let go_on = match result {
                Ok(outcome) => {
                    report.requests_sent += 1;
                    report.record(run.clone(), outcome, true);
                    true
                }
                Err(error) => {
                    if reached_provider(&error) {
                        report.requests_sent += 1;
                    }
                    failed_runs += 1;
                    let go_on = !error.fails_every_call();
                    report.record_failure(BulkFailure::new(vec![run.clone()], error));
                    go_on
                }
            };
            if opts.progress.is_some() {
                opts.report_progress(&report.progress_with(Some(total), failed_runs));
            }
            go_on
        },
    )
    .await;
    report.finish_driven(backend, &driven, |i| std::slice::from_ref(&runs[i]), false);
    if opts.progress.is_some() && (!driven.not_started.is_empty() || !driven.abandoned.is_empty()) {
        opts.report_progress(&report.progress(Some(total)));
    }
    Ok(report)
}

impl BulkReport {
    /// Books what [`drive`] left undone: items never started go to `not_attempted`, items
    /// abandoned at the deadline to `failed` (a [`CancelError::Timeout`] saying their request
    /// may have reached the provider), and the interruption to `interrupted`. `runs_of(i)` gives
    /// the runs of item `i` (one run, or a chunk); with `chunks`, a failure names its chunk `i`.
    pub fn finish_driven<'r>(
        &mut self,
        backend: &'static str,
        driven: &Driven,
        runs_of: impl Fn(usize) -> &'r [RunRef],
        chunks: bool,
    ) {
        for i in driven.not_started.clone() {
            self.not_attempted.extend_from_slice(runs_of(i));
        }
        for &i in &driven.abandoned {
            let failure = BulkFailure::new(
                runs_of(i).to_vec(),
                CancelError::timeout(
                    backend,
                    "abandoned at the bulk's deadline without an answer; the cancel may have reached the provider"
                        .to_owned(),
                ),
            );
            self.failed.push(if chunks { failure.chunk(i) } else { failure });
        }
        if self.interrupted.is_none() {
            self.interrupted = driven.interrupted;
        }
    }
}

/// Whether a single cancel that failed with `error` sent a request: input and configuration
/// errors are raised before anything is sent.
fn reached_provider(error: &CancelError) -> bool {
    !matches!(error, CancelError::InvalidInput { .. } | CancelError::Config { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_with_matches_progress() {
        let mut r = BulkReport::new("memory");
        r.record(RunRef::new("a"), CancelOutcome::Cancelled, true);
        r.record(RunRef::new("b"), CancelOutcome::Requested, false);
        r.record(
            RunRef::new("c"),
            CancelOutcome::NotActive(crate::Inactive::Finished),
            true,
        );
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
