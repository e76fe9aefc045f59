//! The Agno AgentOS emulator: cooperative cancel of workflow, agent and team runs, run status,
//! starting background runs, and `/health`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use wfcancel_core::{OwnerKind, RunState};

use crate::faults::{FaultHandle, Faults};
use crate::server::{self, Common, Flavor, FrontConfig, ServerHandle};
use crate::stats::{Endpoint, Stats};
use crate::upstash::{DEFAULT_MAX_URI_LEN, DEFAULT_SHUTDOWN_GRACE};
use crate::util::{bearer, json_response, lock, now_secs, parse_go_bool, random_uuid, secret_eq};

/// Default delay between an accepted cancel and the run turning `CANCELLED`.
pub const DEFAULT_CANCEL_DELAY: Duration = Duration::from_millis(50);

/// Default cap on cancel intents stored for unknown run ids ([`AgnoConfig::max_intents`]).
pub const DEFAULT_MAX_INTENTS: usize = 100_000;

/// The body a 2.x server (2.3.17 to 2.4.x) sent for a cancel of a run that was not running.
pub const LEGACY_CANCEL_FAILED: &str = "Failed to cancel run - run not found or already completed";

/// Configuration of an [`AgnoEmulator`].
///
/// ```
/// use std::time::Duration;
/// use wfcancel_emulator::AgnoConfig;
/// let cfg = AgnoConfig::default().with_security_key("k").with_cancel_delay(Duration::ZERO);
/// assert!(!format!("{cfg:?}").contains("\"k\""));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AgnoConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// `OS_SECURITY_KEY`: when set, every route but `/health` needs `Authorization: Bearer <key>`.
    /// `None` (the default, like a real AgentOS without the variable): no auth.
    pub security_key: Option<String>,
    /// Time from an accepted cancel to the run reporting `CANCELLED` (cooperative cancel: the
    /// run stops at its next checkpoint). Zero: at once.
    pub cancel_delay: Duration,
    /// Answer like a 2.x server: a cancel of a run that is not active (unknown, finished) gets
    /// `500 {"detail":"Failed to cancel run - run not found or already completed"}`, and no
    /// intent is stored for unknown runs.
    pub legacy_2x: bool,
    /// How long a run started with `POST /{kind}/{id}/runs` (`background=true`) runs before it
    /// completes by itself; `None`: until cancelled.
    pub started_run_duration: Option<Duration>,
    /// Longest request target (path + query) accepted; longer gets `414 URI Too Long`.
    pub max_uri_len: usize,
    /// Fault knobs at start (change them later with [`AgnoEmulator::faults`]).
    pub faults: Faults,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Most cancel intents kept for run ids the emulator does not hold (default
    /// [`DEFAULT_MAX_INTENTS`]); past it, the oldest intent is dropped, so that cancels of
    /// made-up ids cannot grow a long-running emulator's memory without limit. `0`: none kept.
    pub max_intents: usize,
}

impl Default for AgnoConfig {
    fn default() -> Self {
        AgnoConfig {
            port: 0,
            security_key: None,
            cancel_delay: DEFAULT_CANCEL_DELAY,
            legacy_2x: false,
            started_run_duration: None,
            max_uri_len: DEFAULT_MAX_URI_LEN,
            faults: Faults::none(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_intents: DEFAULT_MAX_INTENTS,
        }
    }
}

impl std::fmt::Debug for AgnoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgnoConfig")
            .field("port", &self.port)
            .field("security_key", &self.security_key.as_ref().map(|_| "****"))
            .field("cancel_delay", &self.cancel_delay)
            .field("legacy_2x", &self.legacy_2x)
            .field("started_run_duration", &self.started_run_duration)
            .field("max_uri_len", &self.max_uri_len)
            .field("faults", &self.faults)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_intents", &self.max_intents)
            .finish()
    }
}

impl AgnoConfig {
    /// Listen on this port (0: any free port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Require this bearer key.
    pub fn with_security_key(mut self, key: impl Into<String>) -> Self {
        self.security_key = Some(key.into());
        self
    }

    /// Delay before a cancelled run reports `CANCELLED`.
    pub fn with_cancel_delay(mut self, delay: Duration) -> Self {
        self.cancel_delay = delay;
        self
    }

    /// Answer like a 2.x server (see the field).
    pub fn with_legacy_2x(mut self, on: bool) -> Self {
        self.legacy_2x = on;
        self
    }

    /// Runs started over HTTP complete by themselves after this long.
    pub fn with_started_run_duration(mut self, d: Duration) -> Self {
        self.started_run_duration = Some(d);
        self
    }

    /// Longest accepted request target.
    pub fn with_max_uri_len(mut self, len: usize) -> Self {
        self.max_uri_len = len;
        self
    }

    /// Fault knobs at start.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Grace period for in-flight requests on shutdown.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Most cancel intents kept for unknown run ids (see the field).
    pub fn with_max_intents(mut self, max: usize) -> Self {
        self.max_intents = max;
        self
    }
}

/// The status of an Agno run (agno 3.1.10's `RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgnoStatus {
    /// `PENDING`.
    Pending,
    /// `RUNNING`.
    Running,
    /// `PAUSED`.
    Paused,
    /// `COMPLETED`.
    Completed,
    /// `CANCELLED`.
    Cancelled,
    /// `ERROR`.
    Error,
    /// `REGENERATED`: the run finished and its response was regenerated into a sibling run
    /// (`/continue?regenerate=true`); the run itself is over.
    Regenerated,
}

impl AgnoStatus {
    /// The wire name, e.g. `"CANCELLED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgnoStatus::Pending => "PENDING",
            AgnoStatus::Running => "RUNNING",
            AgnoStatus::Paused => "PAUSED",
            AgnoStatus::Completed => "COMPLETED",
            AgnoStatus::Cancelled => "CANCELLED",
            AgnoStatus::Error => "ERROR",
            AgnoStatus::Regenerated => "REGENERATED",
        }
    }

    /// Whether a cancel can still stop the run (pending, running, paused).
    pub fn is_active(self) -> bool {
        matches!(self, AgnoStatus::Pending | AgnoStatus::Running | AgnoStatus::Paused)
    }
}

impl From<AgnoStatus> for RunState {
    fn from(s: AgnoStatus) -> Self {
        match s {
            AgnoStatus::Pending => RunState::Pending,
            AgnoStatus::Running => RunState::Running,
            AgnoStatus::Paused => RunState::Paused,
            AgnoStatus::Completed => RunState::Completed,
            AgnoStatus::Cancelled => RunState::Cancelled,
            AgnoStatus::Error => RunState::Failed,
            AgnoStatus::Regenerated => RunState::Completed,
        }
    }
}

/// One run held by the emulator. Run ids are unique across owners (as a real server's
/// cancellation intents are keyed by run id alone).
///
/// ```
/// use wfcancel_emulator::{AgnoRun, AgnoStatus};
/// let run = AgnoRun::workflow("nightly", "run-1");
/// assert_eq!(run.session_id, "sess-run-1");
/// assert_eq!(run.status, AgnoStatus::Running);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgnoRun {
    /// `run_id`.
    pub run_id: String,
    /// Workflow, agent or team.
    pub owner_kind: OwnerKind,
    /// The owner's id.
    pub owner_id: String,
    /// `session_id` (default `sess-{run_id}`).
    pub session_id: String,
    /// Status (in a snapshot from the emulator: the status now, cancel delay applied).
    pub status: AgnoStatus,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// The run ignores cancel intents: it stays active until [`AgnoEmulator::set_status`] ends
    /// it (like a blocking step that never reaches a checkpoint).
    pub never_stops: bool,
    /// The run completes by itself this long after it was seeded.
    pub completes_after: Option<Duration>,
}

impl AgnoRun {
    /// A running run of the given owner.
    pub fn new(owner_kind: OwnerKind, owner_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        let run_id = run_id.into();
        AgnoRun {
            session_id: format!("sess-{run_id}"),
            run_id,
            owner_kind,
            owner_id: owner_id.into(),
            status: AgnoStatus::Running,
            created_at: now_secs(),
            never_stops: false,
            completes_after: None,
        }
    }

    /// A running run of workflow `workflow_id`.
    pub fn workflow(workflow_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        Self::new(OwnerKind::Workflow, workflow_id, run_id)
    }

    /// A running run of agent `agent_id`.
    pub fn agent(agent_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        Self::new(OwnerKind::Agent, agent_id, run_id)
    }

    /// A running run of team `team_id`.
    pub fn team(team_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        Self::new(OwnerKind::Team, team_id, run_id)
    }

    /// Sets the session id.
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = session_id.into();
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: AgnoStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets the creation time (Unix seconds).
    pub fn created_at(mut self, secs: u64) -> Self {
        self.created_at = secs;
        self
    }

    /// The run ignores cancels (see the field).
    pub fn never_stops(mut self) -> Self {
        self.never_stops = true;
        self
    }

    /// The run completes by itself after `d`.
    pub fn completes_after(mut self, d: Duration) -> Self {
        self.completes_after = Some(d);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// State

fn kind_slot(kind: OwnerKind) -> Option<usize> {
    match kind {
        OwnerKind::Workflow => Some(0),
        OwnerKind::Agent => Some(1),
        OwnerKind::Team => Some(2),
        _ => None,
    }
}

fn kind_from_segment(segment: &str) -> Option<OwnerKind> {
    match segment {
        "workflows" => Some(OwnerKind::Workflow),
        "agents" => Some(OwnerKind::Agent),
        "teams" => Some(OwnerKind::Team),
        _ => None,
    }
}

/// `Workflow`, `Agent`, `Team`.
fn kind_title(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::Agent => "Agent",
        OwnerKind::Team => "Team",
        _ => "Workflow",
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct OwnerRec {
    cancel_unsupported: bool,
}

#[derive(Debug)]
struct RunRec {
    run: AgnoRun,
    cancel_requested: Option<Instant>,
    complete_at: Option<Instant>,
    /// Cancel requests that reached this run.
    cancel_requests: u64,
}

impl RunRec {
    /// The status now: computed, not stored, so that a cancel delay costs nothing per run.
    fn status(&self, now: Instant, delay: Duration) -> AgnoStatus {
        if !self.run.status.is_active() {
            return self.run.status;
        }
        let cancel_at = if self.run.never_stops {
            None
        } else {
            self.cancel_requested.map(|t| t + delay)
        };
        match (cancel_at, self.complete_at) {
            (Some(c), Some(d)) if d < c && d <= now => AgnoStatus::Completed,
            (Some(c), _) if c <= now => AgnoStatus::Cancelled,
            (None, Some(d)) if d <= now => AgnoStatus::Completed,
            _ => self.run.status,
        }
    }

    fn snapshot(&self, now: Instant, delay: Duration) -> AgnoRun {
        let mut run = self.run.clone();
        run.status = self.status(now, delay);
        run
    }
}

#[derive(Debug, Default)]
struct Store {
    owners: [HashMap<String, OwnerRec>; 3],
    runs: HashMap<String, RunRec>,
    intents: Intents,
}

/// Cancel intents for run ids not (yet) known, at most `max` of them: past it the oldest is
/// dropped (a real AgentOS keeps them in memory too, but an emulator serving for days must not
/// grow without limit on cancels of made-up ids).
#[derive(Debug, Default)]
struct Intents {
    /// Run id → (when recorded, its sequence number).
    by_id: HashMap<String, (Instant, u64)>,
    /// Sequence number → run id, oldest first.
    order: BTreeMap<u64, String>,
    next: u64,
    max: usize,
}

impl Intents {
    fn new(max: usize) -> Self {
        Intents {
            max,
            ..Intents::default()
        }
    }

    /// Records an intent (a repeated one keeps its first time and place); drops the oldest
    /// past the cap.
    fn add(&mut self, run_id: String, now: Instant) {
        if self.max == 0 || self.by_id.contains_key(&run_id) {
            return;
        }
        while self.by_id.len() >= self.max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.by_id.remove(&oldest);
        }
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, run_id.clone());
        self.by_id.insert(run_id, (now, seq));
    }

    /// Takes the intent for `run_id`, if any.
    fn take(&mut self, run_id: &str) -> Option<Instant> {
        let (at, seq) = self.by_id.remove(run_id)?;
        self.order.remove(&seq);
        Some(at)
    }

    fn contains(&self, run_id: &str) -> bool {
        self.by_id.contains_key(run_id)
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }
}

impl Store {
    fn owner(&self, kind: OwnerKind, id: &str) -> Option<OwnerRec> {
        self.owners[kind_slot(kind)?].get(id).copied()
    }

    fn ensure_owner(&mut self, kind: OwnerKind, id: &str) -> Option<&mut OwnerRec> {
        let map = &mut self.owners[kind_slot(kind)?];
        if !map.contains_key(id) {
            map.insert(id.to_owned(), OwnerRec::default());
        }
        map.get_mut(id)
    }

    /// Adds a run; returns 1 if a stored intent cancelled it (for the counter).
    fn insert(&mut self, run: AgnoRun, now: Instant) -> u64 {
        self.ensure_owner(run.owner_kind, &run.owner_id);
        let cancel_requested = self.intents.take(&run.run_id).map(|_| now);
        let counted = u64::from(cancel_requested.is_some() && run.status.is_active() && !run.never_stops);
        let complete_at = run.completes_after.map(|d| now + d);
        self.runs.insert(
            run.run_id.clone(),
            RunRec {
                run,
                cancel_requested,
                complete_at,
                cancel_requests: 0,
            },
        );
        counted
    }
}

#[derive(Debug)]
struct Shared {
    common: Arc<Common>,
    key: Option<String>,
    store: Mutex<Store>,
    cancel_delay: Duration,
    legacy_2x: bool,
    started_run_duration: Option<Duration>,
}

// ---------------------------------------------------------------------------------------------
// The emulator

/// A local, stateful fake of an Agno AgentOS (the run-cancel part), on `127.0.0.1`. Stops when
/// dropped; [`AgnoEmulator::shutdown`] stops it gracefully.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus};
/// let emu = AgnoEmulator::start(AgnoConfig::default()).await?;
/// emu.seed(AgnoRun::workflow("nightly", "run-1"));
/// // POST {emu.url()}/workflows/nightly/runs/run-1/cancel ...
/// assert_eq!(emu.status("run-1"), Some(AgnoStatus::Running));
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
pub struct AgnoEmulator {
    server: ServerHandle,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AgnoEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgnoEmulator")
            .field("addr", &self.server.addr())
            .field("security_key", &self.shared.key.as_ref().map(|_| "****"))
            .finish()
    }
}

impl AgnoEmulator {
    /// Binds `127.0.0.1:{config.port}` and starts serving. Call from inside a Tokio runtime.
    pub async fn start(config: AgnoConfig) -> std::io::Result<Self> {
        let faults = FaultHandle::new(config.faults.clone());
        let (common, shutdown_tx) = server::common(faults);
        let shared = Arc::new(Shared {
            common: Arc::clone(&common),
            key: config.security_key.clone(),
            store: Mutex::new(Store {
                intents: Intents::new(config.max_intents),
                ..Store::default()
            }),
            cancel_delay: config.cancel_delay,
            legacy_2x: config.legacy_2x,
            started_run_duration: config.started_run_duration,
        });
        let router = Router::new()
            .route("/health", get(health))
            .route("/{kind}/{owner}/runs", post(start_run))
            .route("/{kind}/{owner}/runs/{run}", get(run_status))
            .route("/{kind}/{owner}/runs/{run}/cancel", post(cancel))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(Arc::clone(&shared));
        let front = FrontConfig {
            flavor: Flavor::Agno,
            max_uri_len: config.max_uri_len,
            classify,
        };
        let server = server::serve(config.port, common, shutdown_tx, router, front, config.shutdown_grace).await?;
        Ok(AgnoEmulator { server, shared })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The security key clients must send, if one is set.
    pub fn security_key(&self) -> Option<&str> {
        self.shared.key.as_deref()
    }

    /// Registers a workflow, agent or team (seeding a run registers its owner too).
    pub fn seed_owner(&self, kind: OwnerKind, id: &str) {
        lock(&self.shared.store).ensure_owner(kind, id);
    }

    /// Makes an owner answer `501 {"detail":"This agent does not support cancel_run"}` (or
    /// `team` / `workflow`) to cancels, registering it if needed.
    pub fn set_cancel_unsupported(&self, kind: OwnerKind, id: &str, unsupported: bool) {
        if let Some(owner) = lock(&self.shared.store).ensure_owner(kind, id) {
            owner.cancel_unsupported = unsupported;
        }
    }

    /// Adds a run (replacing any run with the same id). A cancel intent stored earlier for its
    /// id applies now: the run turns `CANCELLED` after the cancel delay.
    pub fn seed(&self, run: AgnoRun) {
        let n = lock(&self.shared.store).insert(run, Instant::now());
        self.shared.common.counters.cancelled(n);
    }

    /// Adds many runs under one lock.
    pub fn seed_many(&self, runs: impl IntoIterator<Item = AgnoRun>) {
        let now = Instant::now();
        let n: u64 = {
            let mut store = lock(&self.shared.store);
            runs.into_iter().map(|r| store.insert(r, now)).sum()
        };
        self.shared.common.counters.cancelled(n);
    }

    /// Adds `n` random runs and returns them (with the owner and session a client needs):
    /// 80 % of workflows `demo-workflow-{0,1,2}`, 10 % of agent `demo-agent`, 10 % of team
    /// `demo-team`; 90 % running, the rest completed or failed. The same `seed` gives the same runs.
    pub fn seed_random(&self, n: usize, seed: Option<u64>) -> Vec<AgnoRun> {
        let mut rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let now = now_secs();
        let runs: Vec<AgnoRun> = (0..n)
            .map(|_| {
                let run_id = random_uuid(&mut rng);
                let run = match rng.u8(0..10) {
                    0 => AgnoRun::agent("demo-agent", run_id),
                    1 => AgnoRun::team("demo-team", run_id),
                    _ => AgnoRun::workflow(format!("demo-workflow-{}", rng.u8(0..3)), run_id),
                };
                let run = run.created_at(now.saturating_sub(rng.u64(0..86_400)));
                match rng.u8(0..100) {
                    0..90 => run,
                    90..95 => run.status(AgnoStatus::Completed),
                    _ => run.status(AgnoStatus::Error),
                }
            })
            .collect();
        self.seed_many(runs.clone());
        runs
    }

    /// The status of a run now (cancel delay and self-completion applied).
    pub fn status(&self, run_id: &str) -> Option<AgnoStatus> {
        let now = Instant::now();
        lock(&self.shared.store)
            .runs
            .get(run_id)
            .map(|r| r.status(now, self.shared.cancel_delay))
    }

    /// A snapshot of a run, its status as of now.
    pub fn run(&self, run_id: &str) -> Option<AgnoRun> {
        let now = Instant::now();
        lock(&self.shared.store)
            .runs
            .get(run_id)
            .map(|r| r.snapshot(now, self.shared.cancel_delay))
    }

    /// Sets a run's status outright (e.g. ends a `never_stops` run), dropping any pending
    /// cancel and self-completion. Returns whether the run exists.
    pub fn set_status(&self, run_id: &str, status: AgnoStatus) -> bool {
        let mut store = lock(&self.shared.store);
        let Some(rec) = store.runs.get_mut(run_id) else {
            return false;
        };
        rec.run.status = status;
        rec.cancel_requested = None;
        rec.complete_at = None;
        true
    }

    /// Whether a cancel was requested for this run id: an intent stored for an unknown run, or
    /// a cancel accepted for a known one.
    pub fn cancel_requested(&self, run_id: &str) -> bool {
        let store = lock(&self.shared.store);
        store.intents.contains(run_id) || store.runs.get(run_id).is_some_and(|r| r.cancel_requested.is_some())
    }

    /// How many cancel requests reached this run so far (`POST …/runs/{run_id}/cancel` through an
    /// existing owner, whatever it answered). `0` for a run not held (intents for unknown runs
    /// are not counted, so made-up ids cannot grow this).
    pub fn cancel_requests(&self, run_id: &str) -> u64 {
        lock(&self.shared.store)
            .runs
            .get(run_id)
            .map_or(0, |r| r.cancel_requests)
    }

    /// [`cancel_requests`](Self::cancel_requests) of every run held that got at least one.
    pub fn cancel_requests_per_run(&self) -> HashMap<String, u64> {
        lock(&self.shared.store)
            .runs
            .iter()
            .filter(|(_, r)| r.cancel_requests > 0)
            .map(|(id, r)| (id.clone(), r.cancel_requests))
            .collect()
    }

    /// Number of cancel intents held for run ids the emulator does not hold (at most
    /// [`AgnoConfig::max_intents`]).
    pub fn intents_len(&self) -> usize {
        lock(&self.shared.store).intents.len()
    }

    /// Number of runs held.
    pub fn len(&self) -> usize {
        lock(&self.shared.store).runs.len()
    }

    /// Whether no run is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of runs active now (a scan: for tests, not hot paths).
    pub fn active_count(&self) -> usize {
        let now = Instant::now();
        let delay = self.shared.cancel_delay;
        lock(&self.shared.store)
            .runs
            .values()
            .filter(|r| r.status(now, delay).is_active())
            .count()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.common.counters.snapshot()
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.common.counters.requests()
    }

    /// Runs the server has cancelled (or will, after the cancel delay) so far.
    pub fn cancelled(&self) -> u64 {
        self.shared.common.counters.cancelled_total()
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.shared.common.counters.reset();
    }

    /// The fault knobs, changeable while the emulator runs.
    pub fn faults(&self) -> FaultHandle {
        self.shared.common.faults.clone()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to the grace period),
    /// then closes everything.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Classification, auth, errors

fn classify(method: &Method, path: &str, _query: Option<&str>) -> Endpoint {
    let segs: Vec<&str> = path.split('/').collect();
    let owned = |n: usize| segs.len() == n && kind_from_segment(segs[1]).is_some() && segs[3] == "runs";
    match *method {
        Method::GET if path == "/health" => Endpoint::AgnoHealth,
        Method::POST if owned(6) && segs[5] == "cancel" => Endpoint::AgnoCancel,
        Method::GET if owned(5) => Endpoint::AgnoRunStatus,
        Method::POST if owned(4) => Endpoint::AgnoStartRun,
        _ => Endpoint::Other,
    }
}

fn error(status: StatusCode, detail: &str) -> Response {
    Flavor::Agno.error(status, detail)
}

fn missing(loc: &str, field: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "detail": [{ "type": "missing", "loc": [loc, field], "msg": "Field required", "input": null }] }),
    )
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

struct Authed;

impl FromRequestParts<Arc<Shared>> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let Some(key) = &shared.key else { return Ok(Authed) };
        let counters = &shared.common.counters;
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            counters.unauthorized();
            return Err(error(StatusCode::UNAUTHORIZED, "Authorization header required"));
        };
        match bearer(value) {
            Some(token) if secret_eq(token, key) => Ok(Authed),
            _ => {
                counters.unauthorized();
                Err(error(StatusCode::UNAUTHORIZED, "Invalid authentication token"))
            }
        }
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn health() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

async fn cancel(
    _: Authed,
    State(shared): State<Arc<Shared>>,
    Path((kind, owner, run_id)): Path<(String, String, String)>,
) -> Response {
    let Some(kind) = kind_from_segment(&kind) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let now = Instant::now();
    let mut store = lock(&shared.store);
    let Some(owner) = store.owner(kind, &owner) else {
        return error(StatusCode::NOT_FOUND, &format!("{} not found", kind_title(kind)));
    };
    if owner.cancel_unsupported {
        let detail = format!("This {} does not support cancel_run", kind.as_str());
        return error(StatusCode::NOT_IMPLEMENTED, &detail);
    }
    let legacy = shared.legacy_2x;
    match store.runs.get_mut(&run_id) {
        None if legacy => error(StatusCode::INTERNAL_SERVER_ERROR, LEGACY_CANCEL_FAILED),
        None => {
            // Like AgentOS: the intent is stored anyway, and applies if the run starts later
            // (the oldest intents are dropped past the cap).
            store.intents.add(run_id, now);
            json_response(StatusCode::OK, &json!({}))
        }
        Some(rec) => {
            rec.cancel_requests += 1;
            if rec.status(now, shared.cancel_delay).is_active() {
                if rec.cancel_requested.is_none() {
                    rec.cancel_requested = Some(now);
                    if !rec.run.never_stops {
                        shared.common.counters.cancelled(1);
                    }
                }
                json_response(StatusCode::OK, &json!({}))
            } else if legacy {
                error(StatusCode::INTERNAL_SERVER_ERROR, LEGACY_CANCEL_FAILED)
            } else {
                json_response(StatusCode::OK, &json!({}))
            }
        }
    }
}

fn run_json(run: &AgnoRun) -> Value {
    let owner_field = match run.owner_kind {
        OwnerKind::Agent => "agent_id",
        OwnerKind::Team => "team_id",
        _ => "workflow_id",
    };
    let mut v = json!({
        "run_id": run.run_id,
        "session_id": run.session_id,
        "status": run.status.as_str(),
        "created_at": run.created_at,
        "content": null,
        "user_id": null,
    });
    v[owner_field] = json!(run.owner_id);
    v
}

async fn run_status(
    _: Authed,
    State(shared): State<Arc<Shared>>,
    Path((kind, owner, run_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(kind) = kind_from_segment(&kind) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(session_id) = query_param(query.as_deref(), "session_id") else {
        return missing("query", "session_id");
    };
    let store = lock(&shared.store);
    if store.owner(kind, &owner).is_none() {
        return error(StatusCode::NOT_FOUND, &format!("{} not found", kind_title(kind)));
    }
    match store.runs.get(&run_id) {
        Some(rec) if rec.run.owner_kind == kind && rec.run.owner_id == owner && rec.run.session_id == session_id => {
            json_response(
                StatusCode::OK,
                &run_json(&rec.snapshot(Instant::now(), shared.cancel_delay)),
            )
        }
        _ => error(StatusCode::NOT_FOUND, "Run not found"),
    }
}

/// FastAPI's bool parsing for form fields.
fn form_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "on" => Some(true),
        "no" | "off" => Some(false),
        v => parse_go_bool(v),
    }
}

async fn start_run(
    _: Authed,
    State(shared): State<Arc<Shared>>,
    Path((kind, owner)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(kind) = kind_from_segment(&kind) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut message = None;
    let mut background = false;
    let mut session_id = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "message" => message = Some(v.into_owned()),
            "background" | "stream" => {
                let Some(b) = form_bool(&v) else {
                    return json_response(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &json!({ "detail": [{ "type": "bool_parsing", "loc": ["body", k], "msg": "Input should be a valid boolean, unable to interpret input", "input": v }] }),
                    );
                };
                if k == "background" {
                    background = b;
                }
            }
            "session_id" if !v.is_empty() => session_id = Some(v.into_owned()),
            _ => {}
        }
    }
    let mut store = lock(&shared.store);
    if store.owner(kind, &owner).is_none() {
        return error(StatusCode::NOT_FOUND, &format!("{} not found", kind_title(kind)));
    }
    if message.is_none() {
        return missing("body", "message");
    }
    let mut rng = fastrand::Rng::new();
    let run_id = random_uuid(&mut rng);
    let session_id = session_id.unwrap_or_else(|| random_uuid(&mut rng));
    let mut run = AgnoRun::new(kind, owner, run_id.clone()).session(session_id.clone());
    if background {
        run.completes_after = shared.started_run_duration;
        let n = store.insert(run, Instant::now());
        shared.common.counters.cancelled(n);
        return json_response(
            StatusCode::ACCEPTED,
            &json!({ "run_id": run_id, "session_id": session_id, "status": "PENDING" }),
        );
    }
    // Not in the background: the emulator's runs do nothing, so they complete at once
    // (streaming is not emulated: `stream=true` is answered the same way).
    run.status = AgnoStatus::Completed;
    let body = run_json(&run);
    store.insert(run, Instant::now());
    json_response(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_status() {
        let t0 = Instant::now();
        let d = Duration::from_millis(50);
        let mut rec = RunRec {
            run: AgnoRun::workflow("w", "r"),
            cancel_requested: None,
            complete_at: None,
            cancel_requests: 0,
        };
        assert_eq!(rec.status(t0, d), AgnoStatus::Running);
        rec.cancel_requested = Some(t0);
        assert_eq!(rec.status(t0, d), AgnoStatus::Running);
        assert_eq!(rec.status(t0 + d, d), AgnoStatus::Cancelled);
        rec.complete_at = Some(t0 + Duration::from_millis(10));
        assert_eq!(rec.status(t0 + d, d), AgnoStatus::Completed);
        rec.run.never_stops = true;
        rec.complete_at = None;
        assert_eq!(rec.status(t0 + d * 10, d), AgnoStatus::Running);
    }

    #[test]
    fn intents_are_capped_oldest_first() {
        let t = Instant::now();
        let mut i = Intents::new(3);
        for id in ["a", "b", "c", "d", "e"] {
            i.add(id.into(), t);
        }
        assert_eq!(i.len(), 3);
        assert!(!i.contains("a") && !i.contains("b"));
        assert!(i.contains("c") && i.contains("d") && i.contains("e"));
        // A repeated intent keeps its place: "c" is still the oldest.
        i.add("c".into(), t);
        i.add("f".into(), t);
        assert!(!i.contains("c") && i.contains("f"));
        // Taking one frees its slot and leaves no trace in the order.
        assert_eq!(i.take("d"), Some(t));
        assert_eq!(i.take("d"), None);
        i.add("g".into(), t);
        assert_eq!(i.len(), 3);
        assert_eq!(i.order.len(), 3);
        assert!(i.contains("e") && i.contains("f") && i.contains("g"));
        let mut none = Intents::new(0);
        none.add("x".into(), t);
        assert_eq!(none.len(), 0);
    }

    #[test]
    fn classify_requests() {
        assert_eq!(
            classify(&Method::POST, "/workflows/w/runs/r/cancel", None),
            Endpoint::AgnoCancel
        );
        assert_eq!(
            classify(&Method::POST, "/teams/w/runs/r/cancel", None),
            Endpoint::AgnoCancel
        );
        assert_eq!(
            classify(&Method::GET, "/agents/w/runs/r", None),
            Endpoint::AgnoRunStatus
        );
        assert_eq!(
            classify(&Method::POST, "/workflows/w/runs", None),
            Endpoint::AgnoStartRun
        );
        assert_eq!(classify(&Method::GET, "/health", None), Endpoint::AgnoHealth);
        assert_eq!(
            classify(&Method::GET, "/workflows/w/runs/r/cancel", None),
            Endpoint::Other
        );
        assert_eq!(classify(&Method::POST, "/foo/w/runs/r/cancel", None), Endpoint::Other);
    }
}
