//! [`InMemoryCanceller`]: a real in-memory orchestrator, for tests, demos and examples.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{
    BulkFailure, BulkOptions, BulkReport, CancelError, CancelMode, CancelOptions, CancelOutcome, Capabilities,
    FilterCapabilities, Inactive, ListOptions, ListedRun, NotFoundKind, Owner, OwnerKind, RunFilter, RunPage, RunRef,
    RunState, Selector, WorkflowCanceller,
};

const BACKEND: &str = "memory";

/// A run held by an [`InMemoryCanceller`], built with the setters below.
///
/// Defaults: no owner, no session, an empty workflow URL, no labels, created now, no caller IP,
/// no flow-control key, [`RunState::Running`], and it stops when cancelled.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use wfcancel_core::{MemoryRun, RunState};
///
/// let run = MemoryRun::new("run-1")
///     .workflow("nightly-report")
///     .session("sess-1")
///     .url("https://app.example.com/api/workflow/report")
///     .label("nightly")
///     .created_at(SystemTime::now() - Duration::from_secs(60))
///     .caller_ip("203.0.113.7")
///     .flow_control_key("tenant-42")
///     .state(RunState::Paused);
/// assert_eq!(run.id, "run-1");
/// assert_eq!(run.run_ref().owner().map(|o| &*o.id), Some("nightly-report"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryRun {
    /// The run id.
    pub id: String,
    /// The workflow, agent or team that owns the run, if any.
    pub owner: Option<Owner>,
    /// The session the run belongs to, if any.
    pub session: Option<String>,
    /// The workflow URL (matched by [`RunFilter::url_exact`] and [`RunFilter::url_prefix`]).
    pub url: String,
    /// Labels.
    pub labels: Vec<String>,
    /// When the run was created.
    pub created_at: SystemTime,
    /// The IP address of the caller that started the run.
    pub caller_ip: Option<String>,
    /// The flow-control key the run was started with.
    pub flow_control_key: Option<String>,
    /// The run's state.
    pub state: RunState,
    /// Whether the run ignores cancel requests (like an Agno run stuck in a blocking step):
    /// cancelling it answers [`CancelOutcome::Requested`] and its state never changes by itself.
    pub never_stops: bool,
}

impl MemoryRun {
    /// A running run with this id and the defaults above.
    pub fn new(id: impl Into<String>) -> Self {
        MemoryRun {
            id: id.into(),
            owner: None,
            session: None,
            url: String::new(),
            labels: Vec::new(),
            created_at: SystemTime::now(),
            caller_ip: None,
            flow_control_key: None,
            state: RunState::Running,
            never_stops: false,
        }
    }

    /// The run belongs to this workflow.
    pub fn workflow(self, id: impl Into<String>) -> Self {
        self.owned_by(OwnerKind::Workflow, id)
    }

    /// The run belongs to this agent.
    pub fn agent(self, id: impl Into<String>) -> Self {
        self.owned_by(OwnerKind::Agent, id)
    }

    /// The run belongs to this team.
    pub fn team(self, id: impl Into<String>) -> Self {
        self.owned_by(OwnerKind::Team, id)
    }

    /// The run belongs to an owner of the given kind.
    pub fn owned_by(mut self, kind: OwnerKind, id: impl Into<String>) -> Self {
        self.owner = Some(Owner {
            kind,
            id: Arc::from(id.into().as_str()),
        });
        self
    }

    /// The session the run belongs to.
    pub fn session(mut self, id: impl Into<String>) -> Self {
        self.session = Some(id.into());
        self
    }

    /// The workflow URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Adds a label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Adds labels.
    pub fn labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels.extend(labels.into_iter().map(Into::into));
        self
    }

    /// The creation time.
    pub fn created_at(mut self, t: SystemTime) -> Self {
        self.created_at = t;
        self
    }

    /// The caller IP.
    pub fn caller_ip(mut self, ip: impl Into<String>) -> Self {
        self.caller_ip = Some(ip.into());
        self
    }

    /// The flow-control key.
    pub fn flow_control_key(mut self, key: impl Into<String>) -> Self {
        self.flow_control_key = Some(key.into());
        self
    }

    /// The state.
    pub fn state(mut self, state: RunState) -> Self {
        self.state = state;
        self
    }

    /// The run ignores cancel requests (see [`MemoryRun::never_stops`](MemoryRun#structfield.never_stops)).
    pub fn never_stops(mut self) -> Self {
        self.never_stops = true;
        self
    }

    /// A [`RunRef`] that addresses this run, with its owner and session.
    pub fn run_ref(&self) -> RunRef {
        let mut r = RunRef::new(self.id.clone());
        if let Some(owner) = &self.owner {
            r = r.owned_by(owner.kind, owner.id.clone());
        }
        if let Some(session) = &self.session {
            r = r.session(session.clone());
        }
        r
    }

    /// Whether the run matches `filter`; its workflow name is its owner's id when a workflow
    /// owns it.
    fn matches(&self, filter: &RunFilter) -> bool {
        let workflow = self.workflow_name();
        filter.matches(
            &self.url,
            &self.labels,
            self.created_at,
            self.caller_ip.as_deref(),
            self.flow_control_key.as_deref(),
        ) && filter.matches_workflow_and_state(workflow, &self.state)
    }
}

impl MemoryRun {
    /// The workflow name a filter and a listing see: the owner's id when a workflow owns it.
    fn workflow_name(&self) -> Option<&str> {
        self.owner
            .as_ref()
            .filter(|o| o.kind == OwnerKind::Workflow)
            .map(|o| &*o.id)
    }
}

/// One call made to an [`InMemoryCanceller`] through [`WorkflowCanceller`], as recorded by
/// [`InMemoryCanceller::calls`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryCall {
    /// [`WorkflowCanceller::cancel`] or [`WorkflowCanceller::cancel_with`], with its options
    /// (mode and reason).
    Cancel(RunRef, CancelOptions),
    /// [`WorkflowCanceller::cancel_many`] (the cancels it fans out to are not recorded).
    CancelMany(Selector),
    /// [`WorkflowCanceller::status`].
    Status(RunRef),
    /// [`WorkflowCanceller::list_runs`], with its options.
    List(RunFilter, ListOptions),
    /// [`WorkflowCanceller::count_runs`].
    Count(RunFilter),
}

#[derive(Debug)]
struct Entry {
    run: MemoryRun,
    /// Insertion order, to break ties between runs created at the same time.
    seq: u64,
    /// A cancel that was requested and has not taken effect yet (cooperative mode, or a run that
    /// ignored it while marked `never_stops`).
    pending: Option<Pending>,
}

/// A requested cancel waiting to take effect. The time it is due is fixed when the cancel is
/// requested, by the handle that requested it, so that every handle on the shared state sees the
/// same run whatever its own mode.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When it takes effect (`None`: never, the delay being too long to represent).
    due: Option<Instant>,
}

impl Pending {
    fn after(now: Instant, delay: Duration) -> Self {
        Pending {
            due: now.checked_add(delay),
        }
    }
}

/// Where a run sits in [`Inner::active`]: oldest first, insertion order breaking ties.
type Key = (SystemTime, u64);

impl Entry {
    fn key(&self) -> Key {
        (self.run.created_at, self.seq)
    }

    /// Whether a bulk round may pick the run: active, and no cancel pending on it.
    fn eligible(&self) -> bool {
        self.run.state.is_active() && self.pending.is_none()
    }

    /// Applies a pending cancel whose time has come. Never makes a run eligible.
    fn settle(&mut self, now: Instant) {
        // A run marked `never_stops` keeps ignoring the request; once unmarked, the request takes
        // effect when it is due (at once in confirming mode).
        if let Some(p) = self.pending {
            if !self.run.never_stops && p.due.is_some_and(|due| now >= due) {
                if self.run.state.is_active() {
                    self.run.state = RunState::Cancelled;
                }
                self.pending = None;
            }
        }
    }

    fn addressed_by(&self, r: &RunRef) -> bool {
        let owner_ok = match (r.owner(), &self.run.owner) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        };
        let session_ok = match (r.session_id(), &self.run.session) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        };
        owner_ok && session_ok
    }
}

#[derive(Debug, Default)]
struct Inner {
    runs: HashMap<String, Entry>,
    /// The runs a bulk round may pick ([`Entry::eligible`]), oldest first: kept in step with
    /// `runs` by every change, so that a round walks from the oldest instead of scanning all runs.
    active: BTreeMap<Key, String>,
    /// Bumped whenever a run joins `active`, so that a drain knows whether the runs it already
    /// passed over are still all there is before its cursor.
    joined: u64,
    next_seq: u64,
    calls: Vec<MemoryCall>,
    fault: Option<(usize, CancelError)>,
}

impl Inner {
    fn insert(&mut self, run: MemoryRun) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            run,
            seq,
            pending: None,
        };
        if entry.eligible() {
            self.active.insert(entry.key(), entry.run.id.clone());
            self.joined += 1;
        }
        if let Some(old) = self.runs.insert(entry.run.id.clone(), entry) {
            self.active.remove(&old.key());
        }
    }

    /// Changes one run with `f`, keeping `active` in step. `None` if the run is unknown.
    fn update<T>(&mut self, id: &str, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let entry = self.runs.get_mut(id)?;
        let was = entry.eligible();
        let out = f(entry);
        let is = entry.eligible();
        if was != is {
            if is {
                self.active.insert(entry.key(), entry.run.id.clone());
                self.joined += 1;
            } else {
                self.active.remove(&entry.key());
            }
        }
        Some(out)
    }

    fn clear(&mut self) {
        self.runs.clear();
        self.active.clear();
    }

    fn take_fault(&mut self) -> Option<CancelError> {
        let (left, error) = self.fault.as_mut()?;
        let error = error.clone();
        *left -= 1;
        if *left == 0 {
            self.fault = None;
        }
        Some(error)
    }

    /// Cancels one eligible entry: at once in confirming mode (`delay == None`), else a pending
    /// request due `delay` from now. A run marked `never_stops` always gets a pending request.
    /// Call through [`Inner::update`], which takes the run out of `active`.
    fn cancel_entry(entry: &mut Entry, delay: Option<Duration>, now: Instant) -> CancelOutcome {
        if entry.run.never_stops {
            entry.pending = Some(Pending::after(now, delay.unwrap_or(Duration::ZERO)));
            return CancelOutcome::Requested;
        }
        match delay {
            None => {
                entry.run.state = RunState::Cancelled;
                CancelOutcome::Cancelled
            }
            Some(delay) => {
                entry.pending = Some(Pending::after(now, delay));
                CancelOutcome::Requested
            }
        }
    }
}

/// Where a drain has got to in [`Inner::active`]: the last key a round looked at, valid while no
/// run has joined `active` since (`joined` unchanged), since the runs before it were all taken
/// or did not match.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    after: Key,
    joined: u64,
}

/// A real in-memory orchestrator: it holds runs with states and attributes, cancels them by id,
/// by filter or all at once with the contract's semantics, reports their status, and can inject
/// faults and latency. Its [`backend`](WorkflowCanceller::backend) is `"memory"`; it passes the
/// [conformance suite](crate::conformance) in both of its modes.
///
/// # Modes
/// - **Confirming** (default): cancelling an active run (pending, running or paused) makes it
///   [`RunState::Cancelled`] at once and answers [`CancelOutcome::Cancelled`].
/// - **Cooperative** ([`with_cancel_delay`](Self::with_cancel_delay)): cancelling answers
///   [`CancelOutcome::Requested`] and the run becomes `Cancelled` once the delay has passed (worked
///   out whenever the state is read; no background task). Cancelling again while the request is
///   pending answers `Requested` again. [`Capabilities::cancel_confirms`] is then `false`.
///
/// In both modes a run that is unknown, finished or cancelled answers [`CancelOutcome::NotActive`].
/// A run marked [`never_stops`](MemoryRun::never_stops) answers `Requested` and stays as it is.
///
/// # Addressing
/// A [`RunRef`] addresses a run when the ids are equal and, where both the reference and the run
/// name an owner (kind and id) or a session, those are equal too. A reference that names another
/// owner or session does not address the run: cancelling answers `NotActive` and `status` answers
/// `NotFound`, as a provider does for a run it cannot find under that owner.
///
/// # Bulk cancels
/// `Selector::Ids` fans out over single cancels ([`crate::fan_out`]). `Selector::Filter` and
/// `Selector::cancel_all_runs()` run in rounds: each round cancels at most `opts.page_size`
/// matching active runs, oldest first (runs whose cooperative cancel is already pending are not
/// picked again); with `drain` it repeats until a round cancels nothing or `max_rounds` is
/// reached, calling the progress callback after each round. Each round counts as one request.
/// A round that fails (see faults below) is reported in [`BulkReport::failed`] with its round
/// number and ends the bulk; `cancel_many` itself fails only on invalid input.
///
/// # Faults, latency and recording
/// Every *request* the orchestrator receives first waits the configured
/// [latency](Self::with_latency), then consumes one pending [fault](Self::fail_next). Requests
/// are: a `cancel` call, a `status` call, each single cancel that a `Selector::Ids` bulk fans out
/// to, and each round of a filter or cancel-all bulk. Calls rejected as invalid input are
/// answered before any request: they neither wait nor consume a fault.
///
/// [`calls`](Self::calls) records every call made through the trait, in order, valid or not:
/// a `cancel_many` is recorded once as [`MemoryCall::CancelMany`], not as the cancels it fans out to.
///
/// # Sharing
/// `Clone` is cheap and shares the runs, faults and recorded calls (they sit behind an `Arc`);
/// the mode and latency belong to each handle ([`with_cancel_delay`](Self::with_cancel_delay) on
/// a clone changes that clone only). A cooperative cancel is due `delay` after it was requested,
/// with the delay of the handle that requested it; every handle then sees the same state (a
/// confirming handle reading a run that a cooperative handle asked to stop sees it still running
/// until the request is due). It is thread-safe; its lock is never held across an `.await`.
///
/// Single cancels and status reads are O(1). The active runs are also kept ordered by creation
/// time, so a round of a cancel-all takes O(`page_size` · log n) under the lock, and a filter
/// round as much plus the active runs it passes over that do not match; a drain resumes where its
/// last round stopped, so it passes over each non-matching run about once. Snapshots
/// ([`runs`](Self::runs)) are O(n).
///
/// ```
/// use wfcancel_core::{
///     BulkOptions, CancelOutcome, Inactive, InMemoryCanceller, MemoryRun, RunFilter, RunRef, RunState, Selector,
///     WorkflowCanceller,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wfcancel_core::CancelError> {
/// let memory = InMemoryCanceller::new();
/// memory.insert(MemoryRun::new("a").label("nightly"));
/// memory.insert(MemoryRun::new("b").label("nightly"));
/// memory.insert(MemoryRun::new("c").state(RunState::Completed));
///
/// assert_eq!(memory.cancel(&RunRef::new("a")).await?, CancelOutcome::Cancelled);
/// assert_eq!(memory.cancel(&RunRef::new("a")).await?, CancelOutcome::NotActive(Inactive::Finished));
/// assert_eq!(memory.cancel(&RunRef::new("c")).await?, CancelOutcome::NotActive(Inactive::Finished));
/// assert_eq!(memory.cancel(&RunRef::new("z")).await?, CancelOutcome::NotActive(Inactive::NoSuchRun));
///
/// let report = memory
///     .cancel_many(&Selector::filter(RunFilter::new().label("nightly")), &BulkOptions::new().drain(true))
///     .await?;
/// assert_eq!(report.cancelled, 1);
/// assert_eq!(memory.state_of("b"), Some(RunState::Cancelled));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct InMemoryCanceller {
    inner: Arc<Mutex<Inner>>,
    cancel_delay: Option<Duration>,
    latency: Duration,
}

impl std::fmt::Debug for InMemoryCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `try_lock`: formatting must never wait on (or deadlock with) a call in progress.
        let runs = match self.inner.try_lock() {
            Ok(inner) => inner.runs.len().to_string(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().runs.len().to_string(),
            Err(std::sync::TryLockError::WouldBlock) => "(busy)".to_owned(),
        };
        f.debug_struct("InMemoryCanceller")
            .field("runs", &format_args!("{runs}"))
            .field("cancel_delay", &self.cancel_delay)
            .field("latency", &self.latency)
            .finish()
    }
}

impl InMemoryCanceller {
    /// An empty orchestrator in confirming mode, without latency.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cooperative mode: cancels answer [`CancelOutcome::Requested`] and runs become
    /// [`RunState::Cancelled`] `delay` later.
    pub fn with_cancel_delay(mut self, delay: Duration) -> Self {
        self.cancel_delay = Some(delay);
        self
    }

    /// Every request waits this long before it is answered.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The cooperative cancel delay, if in cooperative mode.
    pub fn cancel_delay(&self) -> Option<Duration> {
        self.cancel_delay
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave `Inner` half-updated in a way that matters
        // to a test double; carry on with the data.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a run, replacing any run with the same id; returns a [`RunRef`] that addresses it.
    pub fn insert(&self, run: MemoryRun) -> RunRef {
        let r = run.run_ref();
        self.lock().insert(run);
        r
    }

    /// Adds runs, replacing any with the same ids.
    pub fn insert_many(&self, runs: impl IntoIterator<Item = MemoryRun>) {
        let mut inner = self.lock();
        for run in runs {
            inner.insert(run);
        }
    }

    /// A run's current state (`None` if unknown), with any due cooperative cancel applied.
    pub fn state_of(&self, id: &str) -> Option<RunState> {
        let now = Instant::now();
        let mut inner = self.lock();
        let entry = inner.runs.get_mut(id)?;
        entry.settle(now);
        Some(entry.run.state.clone())
    }

    /// A copy of one run, with any due cooperative cancel applied.
    pub fn get(&self, id: &str) -> Option<MemoryRun> {
        let now = Instant::now();
        let mut inner = self.lock();
        let entry = inner.runs.get_mut(id)?;
        entry.settle(now);
        Some(entry.run.clone())
    }

    /// Sets a run's state (say, to simulate it finishing); drops any pending cooperative cancel.
    /// Returns `false` if the run is unknown.
    pub fn set_state(&self, id: &str, state: RunState) -> bool {
        self.lock()
            .update(id, |entry| {
                entry.run.state = state;
                entry.pending = None;
            })
            .is_some()
    }

    /// Marks a run as ignoring cancel requests, or not (see [`MemoryRun::never_stops`]).
    /// Returns `false` if the run is unknown.
    pub fn set_never_stops(&self, id: &str, never_stops: bool) -> bool {
        self.lock()
            .update(id, |entry| entry.run.never_stops = never_stops)
            .is_some()
    }

    /// Whether a cooperative cancel of the run was requested and has not taken effect yet.
    pub fn cancel_pending(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.runs.get_mut(id) {
            Some(entry) => {
                entry.settle(now);
                entry.pending.is_some()
            }
            None => false,
        }
    }

    /// A snapshot of every run, in insertion order, with due cooperative cancels applied.
    pub fn runs(&self) -> Vec<MemoryRun> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut entries: Vec<&mut Entry> = inner.runs.values_mut().collect();
        entries.sort_unstable_by_key(|e| e.seq);
        entries
            .into_iter()
            .map(|e| {
                e.settle(now);
                e.run.clone()
            })
            .collect()
    }

    /// How many runs it holds.
    pub fn len(&self) -> usize {
        self.lock().runs.len()
    }

    /// Whether it holds no run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every run (recorded calls and pending faults stay).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The next `n` requests fail with `error` instead of being carried out (see the type's docs
    /// for what counts as a request). Replaces faults still pending; `n == 0` clears them.
    /// The error is returned as given, with whatever backend name it carries.
    pub fn fail_next(&self, n: usize, error: CancelError) {
        self.lock().fault = (n > 0).then_some((n, error));
    }

    /// How many injected faults are still pending.
    pub fn pending_faults(&self) -> usize {
        self.lock().fault.as_ref().map_or(0, |(n, _)| *n)
    }

    /// Every call made through [`WorkflowCanceller`] so far, in order.
    pub fn calls(&self) -> Vec<MemoryCall> {
        self.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    fn record(&self, call: MemoryCall) {
        self.lock().calls.push(call);
    }

    /// The runs `filter` matches (every run for an empty filter), in insertion order, with due
    /// cooperative cancels applied: `(seq, run)`.
    fn matching(&self, filter: &RunFilter) -> Vec<(u64, MemoryRun)> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut out: Vec<(u64, MemoryRun)> = inner
            .runs
            .values_mut()
            .filter_map(|e| {
                e.settle(now);
                (filter.is_empty() || e.run.matches(filter)).then(|| (e.seq, e.run.clone()))
            })
            .collect();
        out.sort_unstable_by_key(|(seq, _)| *seq);
        out
    }

    /// Waits the latency, then takes a pending fault: what every request goes through.
    async fn request(&self) -> Result<(), CancelError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match self.lock().take_fault() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// One single cancel request (validated by the caller).
    async fn cancel_request(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        self.request().await?;
        let now = Instant::now();
        let delay = self.cancel_delay;
        let mut inner = self.lock();
        let outcome = inner.update(run.run_id(), |entry| {
            if !entry.addressed_by(run) {
                // Another owner's or session's run: none under this address.
                return CancelOutcome::NotActive(Inactive::NoSuchRun);
            }
            entry.settle(now);
            if !entry.run.state.is_active() {
                // A state this library cannot name, classified not terminal, is not "finished".
                let why = if entry.run.state.is_terminal() {
                    Inactive::Finished
                } else {
                    Inactive::Unspecified
                };
                return CancelOutcome::NotActive(why);
            }
            if opts.mode == CancelMode::Forced {
                // Stopped now, whatever the run does with a graceful cancel.
                entry.pending = None;
                entry.run.state = RunState::Terminated;
                return CancelOutcome::Cancelled;
            }
            if entry.pending.is_some() {
                return CancelOutcome::Requested;
            }
            Inner::cancel_entry(entry, delay, now)
        });
        Ok(outcome.unwrap_or(CancelOutcome::NotActive(Inactive::NoSuchRun)))
    }

    /// One round of a filtered (or cancel-all) bulk: cancels up to `page_size` eligible runs,
    /// oldest first, walking the ordered index from `cursor` (from the oldest when the cursor is
    /// missing or out of date). `None` as filter means every run. Returns how many it cancelled.
    fn cancel_round(
        &self,
        filter: Option<&RunFilter>,
        page_size: usize,
        mode: CancelMode,
        cursor: &mut Option<Cursor>,
        report: &mut BulkReport,
    ) -> u64 {
        let now = Instant::now();
        let delay = self.cancel_delay;
        let mut guard = self.lock();
        let inner = &mut *guard;
        let start = match *cursor {
            Some(c) if c.joined == inner.joined => Bound::Excluded(c.after),
            _ => Bound::Unbounded,
        };
        let mut picked: Vec<String> = Vec::new();
        let mut last = None;
        for (key, id) in inner.active.range((start, Bound::Unbounded)) {
            if picked.len() >= page_size {
                break;
            }
            last = Some(*key);
            let hit = match filter {
                None => true,
                Some(f) => inner.runs.get(id).is_some_and(|e| e.run.matches(f)),
            };
            if hit {
                picked.push(id.clone());
            }
        }
        if let Some(after) = last {
            *cursor = Some(Cursor {
                after,
                joined: inner.joined,
            });
        }
        let mut done = 0;
        for id in picked {
            let cancelled = inner.update(&id, |entry| {
                let outcome = if mode == CancelMode::Forced {
                    entry.pending = None;
                    entry.run.state = RunState::Terminated;
                    CancelOutcome::Cancelled
                } else {
                    Inner::cancel_entry(entry, delay, now)
                };
                (entry.run.run_ref(), outcome)
            });
            if let Some((run, outcome)) = cancelled {
                report.record(run, outcome, true);
                done += 1;
            }
        }
        done
    }

    async fn cancel_rounds(&self, filter: Option<&RunFilter>, opts: &BulkOptions) -> BulkReport {
        let mut report = BulkReport::new(BACKEND);
        let max_rounds = if opts.drain { opts.max_rounds } else { 1 };
        let mut cursor = None;
        let control = opts.control();
        while report.rounds < max_rounds {
            if let Some(why) = control.interrupted() {
                report.interrupted = Some(why);
                break;
            }
            let round = report.rounds + 1;
            report.rounds = round;
            report.requests_sent += 1;
            if let Err(error) = self.request().await {
                report.record_failure(BulkFailure::new(Vec::new(), error).round(round));
                break;
            }
            let cancelled = self.cancel_round(filter, opts.page_size, opts.cancel.mode, &mut cursor, &mut report);
            if opts.progress.is_some() {
                // No run has failed yet: a failed round ends the bulk.
                let mut progress = report.progress_with(None, 0);
                progress.last_round_cancelled = cancelled;
                opts.report_progress(&progress);
            }
            if cancelled == 0 {
                report.drained = opts.drain;
                break;
            }
        }
        report
    }
}

/// The view through which a bulk by ids fans out: single cancels that are not recorded as calls.
#[derive(Debug)]
struct FanOut<'a>(&'a InMemoryCanceller);

#[async_trait]
impl WorkflowCanceller for FanOut<'_> {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        run.validate(BACKEND)?;
        self.0.cancel_request(run, opts).await
    }
}

#[async_trait]
impl WorkflowCanceller for InMemoryCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            cancel: true,
            bulk_ids: false,
            filter: FilterCapabilities {
                workflows: true,
                states: true,
                ..FilterCapabilities::upstash_fields()
            },
            cancel_all: true,
            status: true,
            cancel_confirms: self.cancel_delay.is_none(),
            needs_owner: false,
            status_needs_session: false,
            background_actions: false,
            graceful: true,
            forced: true,
            reason: true,
            inactive_reasons: true,
            native_query: None,
            list: true,
            count: true,
            list_filter: FilterCapabilities {
                workflows: true,
                states: true,
                ..FilterCapabilities::upstash_fields()
            },
        }
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        self.record(MemoryCall::Cancel(run.clone(), opts.clone()));
        run.validate(BACKEND)?;
        self.cancel_request(run, opts).await
    }

    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        self.record(MemoryCall::CancelMany(selector.clone()));
        selector.validate(BACKEND)?;
        opts.validate(BACKEND)?;
        match selector {
            Selector::Ids(runs) => crate::fan_out(&FanOut(self), runs, opts).await,
            Selector::Filter(filter) => Ok(self.cancel_rounds(Some(filter), opts).await),
            Selector::All(_) => Ok(self.cancel_rounds(None, opts).await),
            Selector::Query(_) => Err(CancelError::unsupported(BACKEND, "cancel by a native query")),
        }
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        self.record(MemoryCall::Status(run.clone()));
        run.validate(BACKEND)?;
        self.request().await?;
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.runs.get_mut(run.run_id()) {
            Some(entry) if entry.addressed_by(run) => {
                entry.settle(now);
                Ok(entry.run.state.clone())
            }
            _ => Err(CancelError::not_found(
                BACKEND,
                NotFoundKind::Run,
                Some(run.run_id().to_owned()),
                "no such run".to_owned(),
            )),
        }
    }

    /// Runs in insertion order; the cursor is the position (insertion sequence number) of the
    /// last run of the page before. A listing is one request (latency, faults).
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        self.record(MemoryCall::List(filter.clone(), opts.clone()));
        let after = match &opts.cursor {
            None => None,
            Some(c) => Some(
                c.parse::<u64>()
                    .map_err(|_| CancelError::invalid_input(BACKEND, "cursor", "not a cursor this canceller gave"))?,
            ),
        };
        self.request().await?;
        let mut runs = self
            .matching(filter)
            .into_iter()
            .filter(|(seq, _)| after.is_none_or(|a| *seq > a));
        let mut page = Vec::new();
        let mut last = None;
        for (seq, run) in runs.by_ref().take(opts.limit) {
            let mut listed = ListedRun::new(run.run_ref(), run.state.clone()).created(run.created_at);
            listed.workflow = run.workflow_name().map(str::to_owned);
            page.push(listed);
            last = Some(seq);
        }
        let next = match (runs.next(), last) {
            (Some(_), Some(seq)) => Some(seq.to_string()),
            _ => None,
        };
        Ok(RunPage::new(page, next))
    }

    async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError> {
        self.record(MemoryCall::Count(filter.clone()));
        self.request().await?;
        Ok(self.matching(filter).len() as u64)
    }
}

#[cfg(test)]
mod tests;
