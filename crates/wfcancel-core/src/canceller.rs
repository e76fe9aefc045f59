//! The portable trait and the conveniences built on it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;

use crate::{
    BulkActionState, BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities, ListOptions,
    RunFilter, RunPage, RunRef, RunState, Selector,
};

/// One portable way to cancel workflow runs, whichever orchestrator runs them.
///
/// Hold it as `Arc<dyn WorkflowCanceller>`, and call [`cancel`](Self::cancel),
/// [`cancel_with`](Self::cancel_with), [`cancel_many`](Self::cancel_many),
/// [`status`](Self::status) and [`bulk_action`](Self::bulk_action). Each checks the call against
/// the backend's [`capabilities`](Self::capabilities) first — the mode and reason, every
/// selector, filter field and option — and refuses what the backend does not list before the
/// backend sees it (fail closed: a filter field added to [`crate::RunFilter`] later is refused
/// by every backend until it lists it). Then it calls the backend's hook.
///
/// A backend implements [`backend`](Self::backend), [`capabilities`](Self::capabilities) and
/// the hooks: [`cancel_run`](Self::cancel_run) (required), and, where it has them,
/// [`cancel_runs`](Self::cancel_runs) (default: ids fanned out over `cancel_run` with bounded
/// concurrency), [`read_status`](Self::read_status) and
/// [`read_bulk_action`](Self::read_bulk_action), [`read_runs`](Self::read_runs) and
/// [`read_count`](Self::read_count) (default: `Unsupported`). It does not override
/// the calling methods.
///
/// ```
/// use wfcancel_core::{CancelError, CancelOutcome, RunRef, WorkflowCanceller};
///
/// async fn stop(c: &dyn WorkflowCanceller, id: &str) -> Result<bool, CancelError> {
///     Ok(matches!(c.cancel(&RunRef::new(id)).await?, CancelOutcome::Cancelled | CancelOutcome::Requested))
/// }
/// ```
#[async_trait]
pub trait WorkflowCanceller: Send + Sync + std::fmt::Debug {
    /// The backend's name: `"upstash"`, `"agno"`, `"memory"`, …
    fn backend(&self) -> &'static str;

    /// What this backend does natively.
    fn capabilities(&self) -> Capabilities;

    /// Backend hook: cancels one run. Called by [`cancel_with`](Self::cancel_with) once `opts`
    /// passed the capability check. Idempotent: cancelling a run that is not active is
    /// `Ok(NotActive)`.
    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError>;

    /// Backend hook: cancels many runs (see [`cancel_many`](Self::cancel_many)), called once
    /// the selector and options passed the capability check. The default fans `Selector::Ids`
    /// out over [`cancel_run`](Self::cancel_run) ([`crate::fan_out`]) and answers
    /// `Unsupported` for filters and "all".
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) => crate::bulk::fan_out(self, runs, opts).await,
            Selector::Filter(_) => Err(CancelError::unsupported(self.backend(), "cancel by filter")),
            Selector::All(_) => Err(CancelError::unsupported(self.backend(), "cancel all runs")),
            Selector::Query(_) => Err(CancelError::unsupported(self.backend(), "cancel by a native query")),
        }
    }

    /// Backend hook: reads a run's state. Default: `Unsupported`.
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        let _ = run;
        Err(CancelError::unsupported(self.backend(), "reading a run's status"))
    }

    /// Backend hook: reads a bulk job the provider runs itself. Default: `Unsupported`.
    async fn read_bulk_action(&self, id: &str) -> Result<BulkActionState, CancelError> {
        let _ = id;
        Err(CancelError::unsupported(
            self.backend(),
            "reading a bulk action: this provider runs no bulk jobs",
        ))
    }

    /// Backend hook: one page of the runs `filter` matches (see [`list_runs`](Self::list_runs)),
    /// called once the filter and options passed [`crate::check_list`]. Default: `Unsupported`.
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let _ = (filter, opts);
        Err(CancelError::unsupported(
            self.backend(),
            format!("listing runs: {} cannot list runs", self.backend()),
        ))
    }

    /// Backend hook: how many runs `filter` matches (see [`count_runs`](Self::count_runs)),
    /// called once the filter passed [`crate::check_list`]. Default: `Unsupported`.
    async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError> {
        let _ = filter;
        Err(CancelError::unsupported(
            self.backend(),
            format!("counting runs: {} cannot count runs", self.backend()),
        ))
    }

    /// Cancels one run, gracefully, with no reason: what `cancel_with(run,
    /// &CancelOptions::default())` does (the same capability check, then
    /// [`cancel_run`](Self::cancel_run)), without going through `cancel_with` (one boxed future
    /// per cancel instead of two; an implementation overrides the hooks, never the calling
    /// methods).
    async fn cancel(&self, run: &RunRef) -> Result<CancelOutcome, CancelError> {
        // `cancel_with`'s check, inlined: one boxed future per cancel instead of two.
        let opts = CancelOptions::default();
        opts.check(self.backend(), &self.capabilities())?;
        self.cancel_run(run, &opts).await
    }

    /// Cancels one run the way `opts` says (graceful or forced, with a reason). A mode or a
    /// reason the backend lacks is `Unsupported` before any request, never swapped for another.
    /// Idempotent: cancelling a run that is not active is `Ok(NotActive)`.
    async fn cancel_with(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        opts.check(self.backend(), &self.capabilities())?;
        self.cancel_run(run, opts).await
    }

    /// Cancels many runs and reports exactly what was cancelled, skipped and failed.
    ///
    /// `Err` means nothing was attempted: the selector or options were invalid, or the backend
    /// cannot do this kind of bulk (checked against its capabilities before it sees the call:
    /// see [`check_bulk`]). Once requests go out, the answer is `Ok(BulkReport)`, and failures
    /// of single runs, chunks or drain rounds are listed in it (`failed`, `aborted`,
    /// `not_attempted`), so that nothing is half-done silently.
    async fn cancel_many(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        check_bulk(self.backend(), &self.capabilities(), selector, opts)?;
        self.cancel_runs(selector, opts).await
    }

    /// Reads a run's state (`Unsupported` where the backend cannot).
    async fn status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        if !self.capabilities().status {
            return Err(CancelError::unsupported(self.backend(), "reading a run's status"));
        }
        self.read_status(run).await
    }

    /// Reads a bulk job the provider runs itself ([`BulkReport::action_id`]).
    async fn bulk_action(&self, id: &str) -> Result<BulkActionState, CancelError> {
        crate::run::validate_id(self.backend(), "action_id", id)?;
        self.read_bulk_action(id).await
    }

    /// One page of the runs `filter` matches, each with its state as the provider reports it:
    /// what a filtered cancel would hit, seen first. Pass the page's [`RunPage::next`] as
    /// [`ListOptions::cursor`] (with the same filter) for the next one.
    ///
    /// An empty filter lists every run (allowed here, unlike for cancelling); a filter without
    /// [`RunFilter::state`] lists runs in every state, finished ones included. Checked before
    /// the backend sees the call ([`crate::check_list`]): `Unsupported` when the backend cannot
    /// list ([`Capabilities::list`]) or filter on a field the filter sets
    /// ([`Capabilities::list_filter`]); `InvalidInput` for a bad filter or options.
    ///
    /// ```
    /// # #[cfg(feature = "memory")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), wfcancel_core::CancelError> {
    /// use wfcancel_core::{InMemoryCanceller, ListOptions, MemoryRun, RunFilter, RunState, WorkflowCanceller};
    /// let c = InMemoryCanceller::new();
    /// c.insert(MemoryRun::new("a").label("nightly"));
    /// c.insert(MemoryRun::new("b").label("nightly").state(RunState::Completed));
    /// let page = c.list_runs(&RunFilter::new().label("nightly"), &ListOptions::new().limit(10)).await?;
    /// assert_eq!(page.runs.len(), 2);
    /// assert_eq!(page.runs[1].state, RunState::Completed);
    /// assert!(page.next.is_none());
    /// assert_eq!(c.count_runs(&RunFilter::new().state(RunState::Running)).await?, 1);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "memory"))] fn main() {}
    /// ```
    async fn list_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        crate::check_list(self.backend(), &self.capabilities(), filter, Some(opts))?;
        self.read_runs(filter, opts).await
    }

    /// How many runs `filter` matches (an empty filter: every run), checked like
    /// [`list_runs`](Self::list_runs) first (against [`Capabilities::count`]).
    async fn count_runs(&self, filter: &RunFilter) -> Result<u64, CancelError> {
        crate::check_list(self.backend(), &self.capabilities(), filter, None)?;
        self.read_count(filter).await
    }
}

/// What core checks before a backend sees a bulk: the options are valid, a list of runs is not
/// empty (each run is checked by the backend before anything is sent), a filter is valid; a filter
/// sets only fields the backend lists (fail closed) and does not match every run (that is
/// [`Selector::cancel_all_runs`], which needs its own capability); "all" and filters at all are
/// in the capabilities; the mode and reason are supported; a native query is in the dialect the
/// backend lists ([`Capabilities::native_query`], none by default: fail closed) and not blank.
///
/// ```
/// use wfcancel_core::{check_bulk, BulkOptions, Capabilities, RunFilter, Selector};
/// let caps = Capabilities::default(); // ids only
/// let filter = Selector::filter(RunFilter::new().label("nightly"));
/// assert!(check_bulk("memory", &caps, &filter, &BulkOptions::new()).is_err());
/// assert!(check_bulk("memory", &caps, &Selector::ids(["r1"]), &BulkOptions::new()).is_ok());
/// ```
pub fn check_bulk(
    backend: &'static str,
    caps: &Capabilities,
    selector: &Selector,
    opts: &BulkOptions,
) -> Result<(), CancelError> {
    opts.validate(backend)?;
    opts.cancel.check(backend, caps)?;
    match selector {
        // Each run is checked by the backend before anything is sent (every backend validates
        // its runs, and the default fan-out does): here only that there is one.
        Selector::Ids(runs) if runs.is_empty() => Err(CancelError::invalid_input(
            backend,
            "ids",
            "the list of run ids is empty",
        )),
        Selector::Ids(_) => Ok(()),
        Selector::Filter(f) => {
            f.validate(backend)?;
            if !caps.filter.any() {
                return Err(CancelError::unsupported(
                    backend,
                    format!("cancel by filter: {backend} has no filtered cancel; cancel the runs by id"),
                ));
            }
            if let Some(field) = f.fields().into_iter().find(|field| !caps.filter.supports(field)) {
                return Err(CancelError::unsupported(
                    backend,
                    format!("filtering on {}: {backend} cannot", field.name()),
                ));
            }
            if f.matches_every_run() {
                return Err(CancelError::invalid_input(
                    backend,
                    "filter",
                    "this filter matches every run; to cancel everything, say so with Selector::cancel_all_runs()",
                ));
            }
            Ok(())
        }
        Selector::All(_) if !caps.cancel_all => Err(CancelError::unsupported(
            backend,
            format!("cancel all runs: {backend} has no bulk cancel; cancel the runs by id"),
        )),
        Selector::All(_) => Ok(()),
        Selector::Query(q) => {
            if caps.native_query != Some(q.dialect()) {
                return Err(CancelError::unsupported(
                    backend,
                    format!(
                        "a query in the {:?} dialect: {backend} {}",
                        q.dialect(),
                        match caps.native_query {
                            Some(d) => format!("takes {d:?} queries only"),
                            None => "takes no native query; use ids or a filter".to_owned(),
                        }
                    ),
                ));
            }
            q.validate(backend)
        }
    }
}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: WorkflowCanceller + ?Sized> WorkflowCanceller for $ty {
            fn backend(&self) -> &'static str {
                (**self).backend()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
                (**self).cancel_run(run, opts).await
            }
            async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
                (**self).cancel_runs(selector, opts).await
            }
            async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
                (**self).read_status(run).await
            }
            async fn read_bulk_action(&self, id: &str) -> Result<BulkActionState, CancelError> {
                (**self).read_bulk_action(id).await
            }
            async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
                (**self).read_runs(filter, opts).await
            }
            async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError> {
                (**self).read_count(filter).await
            }
        }
    )*};
}

forward!(Arc<T>, Box<T>, &T);

/// How to wait for a run to reach a terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up after this long (default 30 s).
    pub timeout: Duration,
    /// First pause between status reads (default 100 ms).
    pub initial_interval: Duration,
    /// Longest pause between status reads (default 2 s).
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(30),
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(2),
        }
    }
}

impl WaitOptions {
    /// The shortest pause between two status reads (20 ms): shorter intervals, zero included,
    /// are raised to it, so that a wait never busy-polls the provider.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(20);

    /// The defaults with another timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        WaitOptions {
            timeout,
            ..Default::default()
        }
    }

    /// Another first interval.
    pub fn initial_interval(mut self, d: Duration) -> Self {
        self.initial_interval = d;
        self
    }

    /// Another longest interval.
    pub fn max_interval(mut self, d: Duration) -> Self {
        self.max_interval = d;
        self
    }
}

/// The result of [`WorkflowCancellerExt::cancel_and_wait`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledRun {
    /// What the cancel call answered.
    pub outcome: CancelOutcome,
    /// The terminal state the run reached (it may have completed or failed before the cancel took).
    pub state: RunState,
}

/// Conveniences for every [`WorkflowCanceller`].
#[async_trait]
pub trait WorkflowCancellerExt: WorkflowCanceller {
    /// Polls [`status`](WorkflowCanceller::status) with growing intervals until the run is
    /// terminal, or fails with [`CancelError::Timeout`] at the deadline. A backend without status
    /// answers `Unsupported` at once.
    ///
    /// The deadline bounds the whole wait, status reads included: a read still unanswered at the
    /// deadline is abandoned and the answer is a `Timeout` naming the last state read (if any).
    /// A timeout too large to add to the clock (e.g. `Duration::MAX`) means "no deadline".
    async fn wait_until_terminal(&self, run: &RunRef, opts: WaitOptions) -> Result<RunState, CancelError> {
        let backend = self.backend();
        if !self.capabilities().status {
            return Err(CancelError::unsupported(
                backend,
                "reading a run's status, needed to wait for it",
            ));
        }
        let polled = poll_until(opts, || self.status(run), RunState::is_terminal).await?;
        match polled {
            Polled::Done(state) => Ok(state),
            Polled::TimedOut {
                last: Some(state),
                read_pending: false,
            } => Err(CancelError::timeout(
                backend,
                format!(
                    "run {} still {} after {:.1}s",
                    run.run_id(),
                    state,
                    opts.timeout.as_secs_f64()
                ),
            )),
            Polled::TimedOut { last, .. } => {
                let last = match &last {
                    Some(state) => format!("last known state: {state}"),
                    None => "its state was never read".to_owned(),
                };
                Err(CancelError::timeout(
                    backend,
                    format!(
                        "run {}: no terminal state within {:.1}s (a status read was still unanswered; {last})",
                        run.run_id(),
                        opts.timeout.as_secs_f64()
                    ),
                ))
            }
        }
    }

    /// Cancels the run, then waits until it is terminal: the answer says what the cancel call
    /// answered and which terminal state the run reached.
    ///
    /// `opts.timeout` bounds the wait, not the cancel call (which has the backend's own request
    /// deadline), so the answer always knows whether the cancel went through. When the wait fails
    /// after the cancel answered, the error says what the cancel answered:
    /// - a [`CancelError::Timeout`] message starts with `the cancel was accepted (<outcome>)`
    ///   (or `the cancel answered not_active (nothing to cancel)`);
    /// - a [`CancelError::NotFound`] (the status read does not know the run, typically after a
    ///   cancel that answered `NotActive` because the run is unknown) stays `NotFound`, its
    ///   message starting the same way. It is not turned into an `Ok`, since no [`RunState`]
    ///   says "unknown run" and a caller matching on `NotFound` should keep seeing it.
    ///
    /// Other errors of the wait come back unchanged.
    ///
    /// ```
    /// # #[cfg(feature = "memory")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use wfcancel_core::{CancelOutcome, InMemoryCanceller, MemoryRun, RunRef, RunState, WaitOptions, WorkflowCancellerExt};
    /// // A provider whose cancels take effect later (cooperatively), like Agno.
    /// let c = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(50));
    /// c.insert(MemoryRun::new("run-1"));
    /// let done = c.cancel_and_wait(&RunRef::new("run-1"), WaitOptions::with_timeout(Duration::from_secs(5))).await.unwrap();
    /// assert_eq!((done.outcome, done.state), (CancelOutcome::Requested, RunState::Cancelled));
    /// # }
    /// # #[cfg(not(feature = "memory"))] fn main() {}
    /// ```
    async fn cancel_and_wait(&self, run: &RunRef, opts: WaitOptions) -> Result<CancelledRun, CancelError> {
        let caps = self.capabilities();
        if !caps.status {
            return Err(CancelError::unsupported(
                self.backend(),
                "reading a run's status, needed to wait for it",
            ));
        }
        // Refuse before cancelling anything when the wait could not read the run's state.
        if caps.status_needs_session && run.session_id().is_none() {
            return Err(CancelError::invalid_input(
                self.backend(),
                "session_id",
                "waiting for a run needs its session id on this backend (RunRef::session); nothing was cancelled",
            ));
        }
        let outcome = self.cancel(run).await?;
        let answered = match outcome {
            CancelOutcome::NotActive(_) => format!("the cancel answered {outcome}: nothing to cancel"),
            _ => format!("the cancel was accepted ({outcome})"),
        };
        match self.wait_until_terminal(run, opts).await {
            Ok(state) => Ok(CancelledRun { outcome, state }),
            Err(mut e) => {
                match &mut e {
                    CancelError::Timeout { message, .. } => *message = format!("{answered}, but {message}"),
                    CancelError::NotFound { message, .. } => {
                        *message = format!("{answered}, then the status read did not find the run: {message}")
                    }
                    _ => {}
                }
                Err(e)
            }
        }
    }
}

impl<T: WorkflowCanceller + ?Sized> WorkflowCancellerExt for T {}

/// What [`poll_until`] ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled<T> {
    /// A read that `done` accepted.
    Done(T),
    /// The deadline passed first.
    TimedOut {
        /// The last value read, if any.
        last: Option<T>,
        /// Whether a read was still unanswered at the deadline (it was abandoned).
        read_pending: bool,
    },
}

/// Reads with `read` until `done` accepts a value, pausing between reads with intervals that
/// start at `opts.initial_interval` and double up to `opts.max_interval` (neither below
/// [`WaitOptions::MIN_INTERVAL`]), within `opts.timeout`.
///
/// The deadline bounds the whole wait, reads included: a read still unanswered at the deadline
/// is abandoned. A timeout too large to add to the clock (e.g. `Duration::MAX`) means "no
/// deadline". A read's error ends the wait at once. The polling behind
/// [`WorkflowCancellerExt::wait_until_terminal`], for backends that wait on other things too
/// (an Upstash background bulk action).
pub async fn poll_until<T, F, Fut>(
    opts: WaitOptions,
    mut read: F,
    done: impl Fn(&T) -> bool,
) -> Result<Polled<T>, CancelError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CancelError>>,
{
    let deadline = Instant::now().checked_add(opts.timeout);
    let floor = WaitOptions::MIN_INTERVAL;
    let mut interval = opts.initial_interval.max(floor);
    let mut last: Option<T> = None;
    loop {
        let value = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, read()).await {
                Ok(answer) => answer?,
                Err(_) => {
                    return Ok(Polled::TimedOut {
                        last,
                        read_pending: true,
                    });
                }
            },
            None => read().await?,
        };
        if done(&value) {
            return Ok(Polled::Done(value));
        }
        let now = Instant::now();
        let pause = match deadline {
            Some(deadline) if now >= deadline => {
                return Ok(Polled::TimedOut {
                    last: Some(value),
                    read_pending: false,
                });
            }
            Some(deadline) => interval.min(deadline - now),
            None => interval,
        };
        last = Some(value);
        tokio::time::sleep(pause).await;
        interval = interval
            .saturating_mul(2)
            .min(opts.max_interval.max(opts.initial_interval).max(floor));
    }
}
