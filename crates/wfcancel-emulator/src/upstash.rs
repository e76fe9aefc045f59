//! The Upstash Workflow emulator: `DELETE /v2/workflows/runs/{id}`, bulk cancel by ids, filter
//! or everything (optionally as a tracked bulk action), the run logs, and bulk-action status.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get};
use serde_json::{Value, json};
use wfcancel_core::{RunFilter, RunState};

use crate::faults::{FaultHandle, Faults};
use crate::server::{self, Common, Flavor, FrontConfig, ServerHandle};
use crate::stats::{Endpoint, Stats};
use crate::util::{bearer, json_response, lock, now_ms, parse_go_bool, random_alnum, secret_eq, text_response};

/// Default maximum length of the request target (path and query) before `414 URI Too Long`.
pub const DEFAULT_MAX_URI_LEN: usize = 16 * 1024;

/// Default number of runs a filtered (or cancel-all) bulk cancel cancels per call.
pub const DEFAULT_BULK_COUNT: u64 = 100;

/// Default time in-flight requests get to finish on [`UpstashEmulator::shutdown`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs processed per lock acquisition by a background bulk action.
const ACTION_CHUNK: usize = 1000;

/// Configuration of an [`UpstashEmulator`].
///
/// ```
/// use wfcancel_emulator::{Faults, UpstashConfig};
/// let cfg = UpstashConfig::default().with_token("secret").with_faults(Faults::none().errors(0.1));
/// assert_eq!(cfg.port, 0);
/// assert!(!format!("{cfg:?}").contains("secret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UpstashConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The bearer token clients must send; `None` generates a random one
    /// ([`UpstashEmulator::token`] tells which).
    pub token: Option<String>,
    /// Longest request target (path + query) accepted; longer gets `414 URI Too Long`. Hyper
    /// itself answers `414` past 65,534 bytes, so larger values act as 65,534.
    pub max_uri_len: usize,
    /// Fault knobs at start (change them later with [`UpstashEmulator::faults`]).
    pub faults: Faults,
    /// How long a bulk action (`async=true`) stays `IN_PROGRESS` with nothing cancelled yet
    /// before it starts cancelling (lets tests observe the in-progress state). Default zero.
    pub bulk_action_delay: Duration,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for UpstashConfig {
    fn default() -> Self {
        UpstashConfig {
            port: 0,
            token: None,
            max_uri_len: DEFAULT_MAX_URI_LEN,
            faults: Faults::none(),
            bulk_action_delay: Duration::ZERO,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl std::fmt::Debug for UpstashConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstashConfig")
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "****"))
            .field("max_uri_len", &self.max_uri_len)
            .field("faults", &self.faults)
            .field("bulk_action_delay", &self.bulk_action_delay)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

impl UpstashConfig {
    /// Listen on this port (0: any free port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Require this bearer token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
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

    /// Delay before a bulk action starts cancelling.
    pub fn with_bulk_action_delay(mut self, delay: Duration) -> Self {
        self.bulk_action_delay = delay;
        self
    }

    /// Grace period for in-flight requests on shutdown.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
}

/// The state of an Upstash workflow run, as the logs report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstashState {
    /// `RUN_STARTED`: running (the only state a cancel can stop).
    Started,
    /// `RUN_SUCCESS`.
    Success,
    /// `RUN_FAILED`.
    Failed,
    /// `RUN_CANCELED`.
    Canceled,
}

impl UpstashState {
    /// The wire name, e.g. `"RUN_CANCELED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstashState::Started => "RUN_STARTED",
            UpstashState::Success => "RUN_SUCCESS",
            UpstashState::Failed => "RUN_FAILED",
            UpstashState::Canceled => "RUN_CANCELED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RUN_STARTED" => Some(UpstashState::Started),
            "RUN_SUCCESS" => Some(UpstashState::Success),
            "RUN_FAILED" => Some(UpstashState::Failed),
            "RUN_CANCELED" => Some(UpstashState::Canceled),
            _ => None,
        }
    }

    /// Whether a cancel can still stop the run.
    pub fn is_active(self) -> bool {
        self == UpstashState::Started
    }
}

impl From<UpstashState> for RunState {
    fn from(s: UpstashState) -> Self {
        match s {
            UpstashState::Started => RunState::Running,
            UpstashState::Success => RunState::Completed,
            UpstashState::Failed => RunState::Failed,
            UpstashState::Canceled => RunState::Cancelled,
        }
    }
}

/// One workflow run held by the emulator. The run id is unique in the emulator: seeding a run
/// with an id it already holds replaces that run.
///
/// ```
/// use wfcancel_emulator::{UpstashRun, UpstashState};
/// let run = UpstashRun::new("wfr_1", "https://app.example.com/api/wf")
///     .label("nightly")
///     .created_at(1_700_000_000_000)
///     .caller_ip("203.0.113.7");
/// assert_eq!(run.state, UpstashState::Started);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstashRun {
    /// `workflowRunId`.
    pub workflow_run_id: String,
    /// `workflowUrl`.
    pub workflow_url: String,
    /// The run's label, if any (one per run).
    pub label: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// The IP address that started the run.
    pub caller_ip: Option<String>,
    /// Flow-control key.
    pub flow_control_key: Option<String>,
    /// State.
    pub state: UpstashState,
    /// When it finished (Unix milliseconds), for finished runs.
    pub completed_at: Option<u64>,
    /// The next cancel that reaches this run fails once: a single cancel answers `500`, a bulk
    /// cancel stops there (answering the count so far). The attempt after that succeeds.
    pub uncancellable_once: bool,
}

impl UpstashRun {
    /// A running run created now.
    pub fn new(workflow_run_id: impl Into<String>, workflow_url: impl Into<String>) -> Self {
        UpstashRun {
            workflow_run_id: workflow_run_id.into(),
            workflow_url: workflow_url.into(),
            label: None,
            created_at: now_ms(),
            caller_ip: None,
            flow_control_key: None,
            state: UpstashState::Started,
            completed_at: None,
            uncancellable_once: false,
        }
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the creation time (Unix milliseconds).
    pub fn created_at(mut self, ms: u64) -> Self {
        self.created_at = ms;
        self
    }

    /// Sets the caller IP.
    pub fn caller_ip(mut self, ip: impl Into<String>) -> Self {
        self.caller_ip = Some(ip.into());
        self
    }

    /// Sets the flow-control key.
    pub fn flow_control_key(mut self, key: impl Into<String>) -> Self {
        self.flow_control_key = Some(key.into());
        self
    }

    /// Sets the state; a finished state also sets `completed_at` (to creation + 1 s) if unset.
    pub fn state(mut self, state: UpstashState) -> Self {
        self.state = state;
        if !state.is_active() && self.completed_at.is_none() {
            self.completed_at = Some(self.created_at + 1000);
        }
        self
    }

    /// Makes the first cancel that reaches this run fail (see the field).
    pub fn uncancellable_once(mut self) -> Self {
        self.uncancellable_once = true;
        self
    }
}

/// The state of a bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkActionState {
    /// `IN_PROGRESS`.
    InProgress,
    /// `FINISHED`.
    Finished,
}

impl BulkActionState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkActionState::InProgress => "IN_PROGRESS",
            BulkActionState::Finished => "FINISHED",
        }
    }
}

/// A filter-based bulk cancel run in the background (`async=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkAction {
    /// `actionId`.
    pub action_id: String,
    /// State.
    pub state: BulkActionState,
    /// Runs selected when the action was created.
    pub total: u64,
    /// Runs cancelled so far.
    pub cancelled: u64,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// When it finished, Unix milliseconds.
    pub finished_at: Option<u64>,
}

impl BulkAction {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "actionId": self.action_id,
            "kind": "cancel",
            "state": self.state.as_str(),
            "total": self.total,
            "cancelled": self.cancelled,
            "createdAt": self.created_at,
        });
        if let Some(t) = self.finished_at {
            v["finishedAt"] = json!(t);
        }
        v
    }
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug, Default)]
struct Filter {
    urls: Option<Vec<String>>,
    exact: bool,
    labels: Option<Vec<String>>,
    caller_ips: Option<Vec<String>>,
    flow_control_keys: Option<Vec<String>>,
    from: Option<i64>,
    to: Option<i64>,
    /// `host` and `path`, held as a contract filter with only `hosts` and `paths` set, so that
    /// they match exactly as [`RunFilter::matches`] says (the real server's semantics are not
    /// confirmed).
    url_parts: RunFilter,
}

fn any_of(want: &Option<Vec<String>>, have: Option<&String>) -> bool {
    want.as_ref().is_none_or(|w| have.is_some_and(|h| w.contains(h)))
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.urls.is_none()
            && self.labels.is_none()
            && self.caller_ips.is_none()
            && self.flow_control_keys.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.url_parts.is_empty()
    }

    /// Matches everything but the creation time (the caller walks the time range).
    fn matches(&self, run: &UpstashRun) -> bool {
        let url_ok = self.urls.as_ref().is_none_or(|urls| {
            urls.iter().any(|u| {
                if self.exact {
                    run.workflow_url == *u
                } else {
                    run.workflow_url.starts_with(u.as_str())
                }
            })
        });
        url_ok
            && any_of(&self.labels, run.label.as_ref())
            && any_of(&self.caller_ips, run.caller_ip.as_ref())
            && any_of(&self.flow_control_keys, run.flow_control_key.as_ref())
            && self
                .url_parts
                .matches(&run.workflow_url, &[], std::time::UNIX_EPOCH, None, None)
    }

    /// The inclusive creation-time range, or `None` when it is empty.
    fn range(&self) -> Option<(u64, u64)> {
        let from = self.from.map_or(0, |f| u64::try_from(f).unwrap_or(0));
        let to = match self.to {
            Some(t) => u64::try_from(t).ok()?,
            None => u64::MAX,
        };
        (from <= to).then_some((from, to))
    }
}

enum TryCancel {
    Cancelled,
    Inactive,
    Blocked,
}

#[derive(Debug, Default)]
struct Store {
    runs: Vec<UpstashRun>,
    /// Cancel requests that named each run (by slot): single cancels and bulk cancels by id.
    cancel_requests: Vec<u64>,
    index: HashMap<String, usize>,
    /// Active runs by (created_at, slot): bulk cancels walk only these, oldest first.
    active: BTreeSet<(u64, usize)>,
    /// Every run by (created_at, slot), for the logs listing.
    all: BTreeSet<(u64, usize)>,
    actions: HashMap<String, BulkAction>,
    action_order: Vec<String>,
}

impl Store {
    fn insert(&mut self, run: UpstashRun) {
        let key = run.created_at;
        let active = run.state.is_active();
        let slot = match self.index.get(&run.workflow_run_id) {
            Some(&slot) => {
                let old = &self.runs[slot];
                self.active.remove(&(old.created_at, slot));
                self.all.remove(&(old.created_at, slot));
                self.runs[slot] = run;
                slot
            }
            None => {
                let slot = self.runs.len();
                self.index.insert(run.workflow_run_id.clone(), slot);
                self.runs.push(run);
                self.cancel_requests.push(0);
                slot
            }
        };
        self.all.insert((key, slot));
        if active {
            self.active.insert((key, slot));
        }
    }

    /// Counts a cancel request naming `id`, when the run is held.
    fn count_request(&mut self, id: &str) {
        if let Some(&slot) = self.index.get(id) {
            self.cancel_requests[slot] += 1;
        }
    }

    fn get(&self, id: &str) -> Option<&UpstashRun> {
        self.index.get(id).map(|&slot| &self.runs[slot])
    }

    fn set_state(&mut self, slot: usize, state: UpstashState) {
        let run = &mut self.runs[slot];
        let was_active = run.state.is_active();
        run.state = state;
        if state.is_active() {
            run.completed_at = None;
            if !was_active {
                self.active.insert((run.created_at, slot));
            }
        } else {
            run.completed_at = Some(now_ms().max(run.created_at));
            if was_active {
                self.active.remove(&(run.created_at, slot));
            }
        }
    }

    fn try_cancel(&mut self, slot: usize) -> TryCancel {
        let run = &mut self.runs[slot];
        if !run.state.is_active() {
            return TryCancel::Inactive;
        }
        if run.uncancellable_once {
            run.uncancellable_once = false;
            return TryCancel::Blocked;
        }
        self.set_state(slot, UpstashState::Canceled);
        TryCancel::Cancelled
    }

    /// Cancels the listed runs, skipping unknown and finished ones, stopping at a blocked one.
    fn cancel_ids(&mut self, ids: &[String]) -> u64 {
        let mut n = 0;
        for id in ids {
            let Some(&slot) = self.index.get(id.as_str()) else {
                continue;
            };
            match self.try_cancel(slot) {
                TryCancel::Cancelled => n += 1,
                TryCancel::Inactive => {}
                TryCancel::Blocked => break,
            }
        }
        n
    }

    /// Active runs matching the filter, oldest first, at most `limit`. With `stop_at_blocked`,
    /// selection stops at the first matching run marked uncancellable (clearing the mark).
    fn select(&mut self, filter: &Filter, limit: Option<u64>, stop_at_blocked: bool) -> Vec<usize> {
        let Some((from, to)) = filter.range() else {
            return Vec::new();
        };
        let limit = usize::try_from(limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut blocked = None;
        for &(_, slot) in self
            .active
            .range((Bound::Included((from, 0)), Bound::Included((to, usize::MAX))))
        {
            if out.len() >= limit {
                break;
            }
            let run = &self.runs[slot];
            if !filter.matches(run) {
                continue;
            }
            if stop_at_blocked && run.uncancellable_once {
                blocked = Some(slot);
                break;
            }
            out.push(slot);
        }
        if let Some(slot) = blocked {
            self.runs[slot].uncancellable_once = false;
        }
        out
    }

    fn cancel_filter(&mut self, filter: &Filter, limit: u64) -> u64 {
        let slots = self.select(filter, Some(limit), true);
        for &slot in &slots {
            self.set_state(slot, UpstashState::Canceled);
        }
        slots.len() as u64
    }
}

#[derive(Debug)]
struct Shared {
    common: Arc<Common>,
    token: String,
    store: Mutex<Store>,
    action_delay: Duration,
}

// ---------------------------------------------------------------------------------------------
// The emulator

/// A local, stateful fake of the Upstash Workflow REST API (the cancel-related part), on
/// `127.0.0.1`. Stops when dropped; [`UpstashEmulator::shutdown`] stops it gracefully.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun, UpstashState};
/// let emu = UpstashEmulator::start(UpstashConfig::default()).await?;
/// emu.seed(UpstashRun::new("wfr_1", "https://app.example.com/api/wf"));
/// // point a client at emu.url() with emu.token() ...
/// assert_eq!(emu.state("wfr_1"), Some(UpstashState::Started));
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
pub struct UpstashEmulator {
    server: ServerHandle,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UpstashEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstashEmulator")
            .field("addr", &self.server.addr())
            .field("token", &"****")
            .finish()
    }
}

impl UpstashEmulator {
    /// Binds `127.0.0.1:{config.port}` and starts serving. Call from inside a Tokio runtime.
    pub async fn start(config: UpstashConfig) -> std::io::Result<Self> {
        let faults = FaultHandle::new(config.faults.clone());
        let (common, shutdown_tx) = server::common(faults);
        let shared = Arc::new(Shared {
            common: Arc::clone(&common),
            token: config.token.clone().unwrap_or_else(crate::util::random_token),
            store: Mutex::new(Store::default()),
            action_delay: config.bulk_action_delay,
        });
        let router = Router::new()
            .route("/v2/workflows/runs/{id}", delete(cancel_one))
            .route("/v2/workflows/runs", delete(bulk_cancel))
            .route("/v2/workflows/logs", get(logs))
            .route("/v2/workflows/bulkActions", get(list_actions))
            .route("/v2/workflows/bulkActions/{id}", get(get_action))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(Arc::clone(&shared));
        let front = FrontConfig {
            flavor: Flavor::Upstash,
            max_uri_len: config.max_uri_len,
            classify,
        };
        let server = server::serve(config.port, common, shutdown_tx, router, front, config.shutdown_grace).await?;
        Ok(UpstashEmulator { server, shared })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The bearer token clients must send.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Adds a run (replacing any run with the same id).
    pub fn seed(&self, run: UpstashRun) {
        lock(&self.shared.store).insert(run);
    }

    /// Adds many runs under one lock.
    pub fn seed_many(&self, runs: impl IntoIterator<Item = UpstashRun>) {
        let mut store = lock(&self.shared.store);
        for run in runs {
            store.insert(run);
        }
    }

    /// Adds `n` random runs and returns their ids: ids `wfr_…`, URLs under
    /// `https://app.example.com/api/workflow/{orders,emails,reports}`, labels `nightly` /
    /// `adhoc` / `import` / none, caller IPs `203.0.113.{1..=4}`, flow-control keys `tenant-{0..=3}`
    /// or none, created within the last 24 hours, 90 % running and the rest finished.
    /// The same `seed` gives the same runs (apart from creation times, relative to now).
    pub fn seed_random(&self, n: usize, seed: Option<u64>) -> Vec<String> {
        let mut rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let now = now_ms();
        let runs: Vec<UpstashRun> = (0..n).map(|_| random_run(&mut rng, now)).collect();
        let ids = runs.iter().map(|r| r.workflow_run_id.clone()).collect();
        self.seed_many(runs);
        ids
    }

    /// The state of a run.
    pub fn state(&self, id: &str) -> Option<UpstashState> {
        lock(&self.shared.store).get(id).map(|r| r.state)
    }

    /// A copy of a run.
    pub fn run(&self, id: &str) -> Option<UpstashRun> {
        lock(&self.shared.store).get(id).cloned()
    }

    /// Changes a run's state (e.g. to finish it). Returns whether the run exists.
    pub fn set_state(&self, id: &str, state: UpstashState) -> bool {
        let mut store = lock(&self.shared.store);
        let Some(&slot) = store.index.get(id) else { return false };
        store.set_state(slot, state);
        true
    }

    /// Makes the next cancel that reaches this run fail once (see
    /// [`UpstashRun::uncancellable_once`]). Returns whether the run exists.
    pub fn mark_uncancellable_once(&self, id: &str) -> bool {
        let mut store = lock(&self.shared.store);
        let Some(&slot) = store.index.get(id) else { return false };
        store.runs[slot].uncancellable_once = true;
        true
    }

    /// Number of runs held.
    pub fn len(&self) -> usize {
        lock(&self.shared.store).runs.len()
    }

    /// Whether no run is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of runs still active (`RUN_STARTED`).
    pub fn active_count(&self) -> usize {
        lock(&self.shared.store).active.len()
    }

    /// A bulk action by id.
    pub fn action(&self, action_id: &str) -> Option<BulkAction> {
        lock(&self.shared.store).actions.get(action_id).cloned()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.common.counters.snapshot()
    }

    /// How many cancel requests named this run so far: `DELETE /v2/workflows/runs/{id}` and
    /// bulk cancels listing it in `workflowRunIds` (whatever they answered; a bulk cancel that
    /// stopped at a blocked run still counts the ids after it, which were sent). Filtered and
    /// cancel-all requests name no run and are not counted here. `0` for a run not held.
    pub fn cancel_requests(&self, run_id: &str) -> u64 {
        let store = lock(&self.shared.store);
        store.index.get(run_id).map_or(0, |&slot| store.cancel_requests[slot])
    }

    /// [`cancel_requests`](Self::cancel_requests) of every run held that was named at least once.
    pub fn cancel_requests_per_run(&self) -> HashMap<String, u64> {
        let store = lock(&self.shared.store);
        store
            .index
            .iter()
            .filter_map(|(id, &slot)| {
                let n = store.cancel_requests[slot];
                (n > 0).then(|| (id.clone(), n))
            })
            .collect()
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.common.counters.requests()
    }

    /// Runs the server has cancelled so far.
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

const URLS: [&str; 3] = [
    "https://app.example.com/api/workflow/orders",
    "https://app.example.com/api/workflow/emails",
    "https://app.example.com/api/workflow/reports",
];

fn random_run(rng: &mut fastrand::Rng, now: u64) -> UpstashRun {
    let id = format!("wfr_{}", random_alnum(rng, 21));
    let mut run =
        UpstashRun::new(id, URLS[rng.usize(..URLS.len())]).created_at(now.saturating_sub(rng.u64(0..86_400_000)));
    run.label = [Some("nightly"), Some("adhoc"), Some("import"), None][rng.usize(..4)].map(str::to_owned);
    run.caller_ip = Some(format!("203.0.113.{}", rng.u8(1..=4)));
    run.flow_control_key = [
        Some("tenant-0"),
        Some("tenant-1"),
        Some("tenant-2"),
        Some("tenant-3"),
        None,
    ][rng.usize(..5)]
    .map(str::to_owned);
    match rng.u8(0..100) {
        0..90 => run,
        90..95 => run.state(UpstashState::Success),
        _ => run.state(UpstashState::Failed),
    }
}

// ---------------------------------------------------------------------------------------------
// Classification, auth, errors

fn query_keys(query: Option<&str>) -> impl Iterator<Item = &str> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
}

const FILTER_KEYS: [&str; 9] = [
    "workflowUrl",
    "label",
    "callerIp",
    "flowControlKey",
    "host",
    "path",
    "fromDate",
    "toDate",
    "async",
];

fn classify(method: &Method, path: &str, query: Option<&str>) -> Endpoint {
    match *method {
        Method::DELETE if path == "/v2/workflows/runs" => {
            if query_keys(query).any(|k| k == "workflowRunIds") {
                Endpoint::UpstashBulkCancelIds
            } else if query_keys(query).any(|k| FILTER_KEYS.contains(&k)) {
                Endpoint::UpstashBulkCancelFilter
            } else {
                Endpoint::UpstashBulkCancelAll
            }
        }
        Method::DELETE if path.starts_with("/v2/workflows/runs/") => Endpoint::UpstashCancelRun,
        Method::GET if path == "/v2/workflows/logs" => Endpoint::UpstashLogs,
        Method::GET if path == "/v2/workflows/bulkActions" => Endpoint::UpstashBulkActionList,
        Method::GET if path.starts_with("/v2/workflows/bulkActions/") => Endpoint::UpstashBulkActionGet,
        _ => Endpoint::Other,
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    Flavor::Upstash.error(status, message)
}

async fn not_found() -> Response {
    text_response(StatusCode::NOT_FOUND, "404 page not found\n")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// Proof that the request carried the right token (an axum extractor).
struct Authed;

impl FromRequestParts<Arc<Shared>> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let counters = &shared.common.counters;
        let in_query = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "qstash_token")
            .map(|(_, v)| v.into_owned());
        if let Some(token) = in_query {
            counters.token_in_query();
            if secret_eq(&token, &shared.token) {
                return Ok(Authed);
            }
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            counters.unauthorized();
            return Err(error(StatusCode::UNAUTHORIZED, "authorization header is missing"));
        };
        match bearer(value) {
            Some(token) if secret_eq(token, &shared.token) => Ok(Authed),
            _ => {
                counters.unauthorized();
                Err(error(StatusCode::UNAUTHORIZED, "invalid token"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn cancel_one(_: Authed, State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let outcome = {
        let mut store = lock(&shared.store);
        store.count_request(&id);
        store.index.get(id.as_str()).copied().map(|slot| store.try_cancel(slot))
    };
    match outcome {
        Some(TryCancel::Cancelled) => {
            shared.common.counters.cancelled(1);
            text_response(StatusCode::OK, "OK")
        }
        Some(TryCancel::Blocked) => error(StatusCode::INTERNAL_SERVER_ERROR, "failed to cancel workflow run"),
        Some(TryCancel::Inactive) | None => error(StatusCode::NOT_FOUND, "workflowRun not found"),
    }
}

#[derive(Debug, Default)]
struct BulkParams {
    ids: Option<Vec<String>>,
    filter: Filter,
    count: Option<i64>,
    asynchronous: bool,
}

fn push_values(list: &mut Option<Vec<String>>, value: &str, split_commas: bool) {
    let list = list.get_or_insert_with(Vec::new);
    if split_commas {
        list.extend(value.split(',').filter(|v| !v.is_empty()).map(str::to_owned));
    } else {
        list.push(value.to_owned());
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("invalid {key}: strconv.ParseInt: parsing \"{value}\": invalid syntax"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    parse_go_bool(value).ok_or_else(|| format!("invalid {key}: strconv.ParseBool: parsing \"{value}\": invalid syntax"))
}

fn parse_bulk(query: Option<&str>, body: &[u8]) -> Result<BulkParams, String> {
    let mut p = BulkParams::default();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let f = &mut p.filter;
        match key.as_ref() {
            "workflowRunIds" => push_values(&mut p.ids, &value, true),
            "workflowUrl" => push_values(&mut f.urls, &value, false),
            "workflowUrlExactMatch" => f.exact = parse_bool(&key, &value)?,
            "label" => push_values(&mut f.labels, &value, true),
            "callerIp" => push_values(&mut f.caller_ips, &value, true),
            "flowControlKey" => push_values(&mut f.flow_control_keys, &value, true),
            "host" => push_values(&mut f.url_parts.hosts, &value, true),
            "path" => push_values(&mut f.url_parts.paths, &value, true),
            "fromDate" => f.from = Some(parse_int(&key, &value)?),
            "toDate" => f.to = Some(parse_int(&key, &value)?),
            "count" => p.count = Some(parse_int(&key, &value)?),
            "async" => p.asynchronous = parse_bool(&key, &value)?,
            _ => {} // `cancel`, `qstash_token` and unknown keys are ignored
        }
    }
    merge_json_body(&mut p, body)?;
    if p.count.is_some_and(|c| c <= 0) {
        return Err("count must be a positive integer".into());
    }
    Ok(p)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(v: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field CancelWorkflowRunsRequest.{field} of type {go_type}",
        json_kind(v)
    )
}

/// The legacy JSON body, decoded the way the real (Go) server decodes it into
/// `CancelWorkflowRunsRequest`: list fields are `[]string`, so `{"workflowUrl":"..."}` is refused
/// with Go's type error. A well-typed body's fields are merged into the query's.
fn merge_json_body(p: &mut BulkParams, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let value: Value = serde_json::from_str(text).map_err(|_| match text.chars().next() {
        Some(c) if !"{[\"-0123456789tfn".contains(c) => {
            format!("invalid character '{c}' looking for beginning of value")
        }
        _ => "unexpected end of JSON input".to_owned(),
    })?;
    let obj = match &value {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type CancelWorkflowRunsRequest",
                json_kind(other)
            ));
        }
    };
    let string_list = |field: &str| -> Result<Option<Vec<String>>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| type_error(i, field, "string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(type_error(other, field, "[]string")),
        }
    };
    let int = |field: &str| -> Result<Option<i64>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| type_error(v, field, "int64")),
            Some(other) => Err(type_error(other, field, "int64")),
        }
    };
    let boolean = |field: &str| -> Result<Option<bool>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(type_error(other, field, "bool")),
        }
    };
    let extend = |target: &mut Option<Vec<String>>, values: Option<Vec<String>>| {
        if let Some(values) = values {
            target.get_or_insert_with(Vec::new).extend(values);
        }
    };
    extend(&mut p.ids, string_list("workflowRunIds")?);
    extend(&mut p.filter.urls, string_list("workflowUrl")?);
    extend(&mut p.filter.labels, string_list("label")?);
    extend(&mut p.filter.caller_ips, string_list("callerIp")?);
    extend(&mut p.filter.flow_control_keys, string_list("flowControlKey")?);
    extend(&mut p.filter.url_parts.hosts, string_list("host")?);
    extend(&mut p.filter.url_parts.paths, string_list("path")?);
    if let Some(b) = boolean("workflowUrlExactMatch")? {
        p.filter.exact = b;
    }
    p.filter.from = p.filter.from.or(int("fromDate")?);
    p.filter.to = p.filter.to.or(int("toDate")?);
    p.count = p.count.or(int("count")?);
    Ok(())
}

async fn bulk_cancel(_: Authed, State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = match parse_bulk(query.as_deref(), &body) {
        Ok(p) => p,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    let counters = &shared.common.counters;
    if let Some(ids) = &params.ids {
        // Explicit ids: the other filters, `count` and `async` are ignored.
        let n = {
            let mut store = lock(&shared.store);
            for id in ids {
                store.count_request(id);
            }
            store.cancel_ids(ids)
        };
        counters.cancelled(n);
        return json_response(StatusCode::OK, &json!({ "cancelled": n }));
    }
    let count = params.count.map(|c| c.unsigned_abs());
    if params.asynchronous && !params.filter.is_empty() {
        return start_action(&shared, &params.filter, count);
    }
    let n = lock(&shared.store).cancel_filter(&params.filter, count.unwrap_or(DEFAULT_BULK_COUNT));
    counters.cancelled(n);
    json_response(StatusCode::OK, &json!({ "cancelled": n }))
}

fn start_action(shared: &Arc<Shared>, filter: &Filter, count: Option<u64>) -> Response {
    let mut rng = fastrand::Rng::new();
    let action_id = format!("act_{}", random_alnum(&mut rng, 20));
    let slots = {
        let mut store = lock(&shared.store);
        let slots = store.select(filter, count, false);
        let action = BulkAction {
            action_id: action_id.clone(),
            state: BulkActionState::InProgress,
            total: slots.len() as u64,
            cancelled: 0,
            created_at: now_ms(),
            finished_at: None,
        };
        store.actions.insert(action_id.clone(), action);
        store.action_order.push(action_id.clone());
        slots
    };
    tokio::spawn(run_action(Arc::clone(shared), action_id.clone(), slots));
    json_response(StatusCode::OK, &json!({ "actionId": action_id }))
}

async fn run_action(shared: Arc<Shared>, action_id: String, slots: Vec<usize>) {
    let mut shutdown = shared.common.shutdown.clone();
    if !shared.action_delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(shared.action_delay) => {}
            () = server::stopped(&mut shutdown) => return,
        }
    }
    for chunk in slots.chunks(ACTION_CHUNK) {
        let mut blocked = false;
        let mut n = 0;
        {
            let mut store = lock(&shared.store);
            for &slot in chunk {
                match store.try_cancel(slot) {
                    TryCancel::Cancelled => n += 1,
                    TryCancel::Inactive => {}
                    TryCancel::Blocked => {
                        blocked = true;
                        break;
                    }
                }
            }
            if let Some(a) = store.actions.get_mut(&action_id) {
                a.cancelled += n;
            }
        }
        shared.common.counters.cancelled(n);
        if blocked {
            break;
        }
        tokio::task::yield_now().await;
    }
    if let Some(a) = lock(&shared.store).actions.get_mut(&action_id) {
        a.state = BulkActionState::Finished;
        a.finished_at = Some(now_ms());
    }
}

async fn get_action(_: Authed, State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match lock(&shared.store).actions.get(&id) {
        Some(a) => json_response(StatusCode::OK, &a.to_json()),
        None => error(StatusCode::NOT_FOUND, "bulk action not found"),
    }
}

async fn list_actions(_: Authed, State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut cursor = 0usize;
    let mut count = 100usize;
    let mut state = None;
    for (key, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "cursor" if !value.is_empty() => match value.parse() {
                Ok(c) => cursor = c,
                Err(_) => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
            },
            "count" => match value.parse::<usize>() {
                Ok(c) if (1..=1000).contains(&c) => count = c,
                _ => return error(StatusCode::BAD_REQUEST, "count must be between 1 and 1000"),
            },
            "state" => state = Some(value.into_owned()),
            _ => {}
        }
    }
    let store = lock(&shared.store);
    let mut actions = Vec::new();
    let mut next = String::new();
    for (i, id) in store.action_order.iter().enumerate().skip(cursor) {
        let Some(a) = store.actions.get(id) else { continue };
        if state.as_deref().is_some_and(|s| s != a.state.as_str()) {
            continue;
        }
        if actions.len() == count {
            next = i.to_string();
            break;
        }
        actions.push(a.to_json());
    }
    json_response(StatusCode::OK, &json!({ "cursor": next, "actions": actions }))
}

fn log_json(run: &UpstashRun) -> Value {
    let mut v = json!({
        "workflowRunId": run.workflow_run_id,
        "workflowUrl": run.workflow_url,
        "workflowState": run.state.as_str(),
        "workflowRunCreatedAt": run.created_at,
    });
    if let Some(t) = run.completed_at {
        v["workflowRunCompletedAt"] = json!(t);
    }
    if let Some(ip) = &run.caller_ip {
        v["workflowRunCallerIp"] = json!(ip);
    }
    if let Some(label) = &run.label {
        v["label"] = json!(label);
    }
    if let Some(key) = &run.flow_control_key {
        v["flowControlKey"] = json!(key);
    }
    v
}

const DEFAULT_LOGS_COUNT: usize = 10;

async fn logs(_: Authed, State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut run_id = None;
    let mut created_at = None;
    let mut url = None;
    let mut state = None;
    let mut count = DEFAULT_LOGS_COUNT;
    let mut cursor: Option<(u64, usize)> = None;
    for (key, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "workflowRunId" => run_id = Some(value.into_owned()),
            "workflowCreatedAt" => match value.parse::<u64>() {
                Ok(t) => created_at = Some(t),
                Err(_) => return error(StatusCode::BAD_REQUEST, &format!("invalid workflowCreatedAt: {value}")),
            },
            "workflowUrl" => url = Some(value.into_owned()),
            "state" => match UpstashState::parse(&value) {
                Some(s) => state = Some(s),
                None => return error(StatusCode::BAD_REQUEST, &format!("invalid state: {value}")),
            },
            "count" => match value.parse::<usize>() {
                Ok(c) if c > 0 => count = c.min(1000),
                _ => return error(StatusCode::BAD_REQUEST, &format!("invalid count: {value}")),
            },
            "cursor" if !value.is_empty() => {
                match value
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                {
                    Some(c) => cursor = Some(c),
                    None => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
                }
            }
            _ => {}
        }
    }
    let keep = |r: &UpstashRun| {
        created_at.is_none_or(|t| r.created_at == t)
            && url.as_ref().is_none_or(|u| r.workflow_url == *u)
            && state.is_none_or(|s| r.state == s)
    };
    let store = lock(&shared.store);
    if let Some(id) = run_id {
        // One run per id here: an O(1) lookup, never a scan.
        let runs: Vec<Value> = store.get(&id).filter(|r| keep(r)).map(log_json).into_iter().collect();
        return json_response(StatusCode::OK, &json!({ "cursor": "", "runs": runs }));
    }
    // Newest first, paginated.
    let upper = cursor.map_or(Bound::Unbounded, Bound::Excluded);
    let mut runs = Vec::new();
    let mut next = String::new();
    let mut last = None;
    for &(created, slot) in store.all.range((Bound::Unbounded, upper)).rev() {
        let run = &store.runs[slot];
        if !keep(run) {
            continue;
        }
        if runs.len() == count {
            if let Some((c, s)) = last {
                next = format!("{c}-{s}");
            }
            break;
        }
        runs.push(log_json(run));
        last = Some((created, slot));
    }
    json_response(StatusCode::OK, &json!({ "cursor": next, "runs": runs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_query_parsing() {
        let p = parse_bulk(
            Some("label=a,b&label=c&workflowUrl=https%3A%2F%2Fx%2Cy&count=5&async=true"),
            b"",
        )
        .unwrap();
        assert_eq!(p.filter.labels, Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(p.filter.urls, Some(vec!["https://x,y".into()]));
        assert_eq!(p.count, Some(5));
        assert!(p.asynchronous);
        let p = parse_bulk(Some("host=a.example&host=b.example&path=%2Fw&path=%2Fx,%2Fy"), b"").unwrap();
        assert_eq!(
            p.filter.url_parts.hosts,
            Some(vec!["a.example".into(), "b.example".into()])
        );
        assert_eq!(
            p.filter.url_parts.paths,
            Some(vec!["/w".into(), "/x".into(), "/y".into()])
        );
        assert!(!p.filter.is_empty());
        assert!(parse_bulk(Some("fromDate=abc"), b"").unwrap_err().contains("fromDate"));
        assert!(parse_bulk(Some("count=0"), b"").is_err());
        assert!(parse_bulk(Some("workflowUrlExactMatch=maybe"), b"").is_err());
    }

    #[test]
    fn legacy_body() {
        let err = parse_bulk(None, br#"{"workflowUrl":"https://x"}"#).unwrap_err();
        assert_eq!(
            err,
            "json: cannot unmarshal string into Go struct field CancelWorkflowRunsRequest.workflowUrl of type []string"
        );
        let p = parse_bulk(
            None,
            br#"{"workflowUrl":["https://x"],"fromDate":5,"host":["h"],"path":["/p"]}"#,
        )
        .unwrap();
        assert_eq!(p.filter.urls, Some(vec!["https://x".into()]));
        assert_eq!(p.filter.url_parts.hosts, Some(vec!["h".into()]));
        assert_eq!(p.filter.url_parts.paths, Some(vec!["/p".into()]));
        assert!(
            parse_bulk(None, br#"{"host":"h"}"#)
                .unwrap_err()
                .contains("CancelWorkflowRunsRequest.host")
        );
        assert_eq!(p.filter.from, Some(5));
        assert!(parse_bulk(None, b"{}").unwrap().filter.is_empty());
        assert!(
            parse_bulk(None, b"xyz")
                .unwrap_err()
                .starts_with("invalid character 'x'")
        );
        assert!(parse_bulk(None, b"[1]").unwrap_err().contains("Go value of type"));
    }

    #[test]
    fn store_replace_and_select() {
        let mut s = Store::default();
        s.insert(UpstashRun::new("a", "u").created_at(10));
        s.insert(UpstashRun::new("b", "u").created_at(20));
        s.insert(UpstashRun::new("a", "u").created_at(30).state(UpstashState::Success));
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.active.len(), 1);
        let f = Filter {
            from: Some(25),
            to: Some(5),
            ..Filter::default()
        };
        assert!(s.select(&f, None, true).is_empty());
        assert_eq!(s.cancel_filter(&Filter::default(), 10), 1);
        assert!(s.active.is_empty());
    }

    #[test]
    fn classify_requests() {
        let d = Method::DELETE;
        assert_eq!(
            classify(&d, "/v2/workflows/runs", Some("workflowRunIds=a")),
            Endpoint::UpstashBulkCancelIds
        );
        assert_eq!(
            classify(&d, "/v2/workflows/runs", Some("label=a&count=3")),
            Endpoint::UpstashBulkCancelFilter
        );
        for q in ["host=e.x&count=3", "path=%2Fw"] {
            assert_eq!(
                classify(&d, "/v2/workflows/runs", Some(q)),
                Endpoint::UpstashBulkCancelFilter
            );
        }
        assert_eq!(
            classify(&d, "/v2/workflows/runs", Some("count=3")),
            Endpoint::UpstashBulkCancelAll
        );
        assert_eq!(classify(&d, "/v2/workflows/runs", None), Endpoint::UpstashBulkCancelAll);
        assert_eq!(classify(&d, "/v2/workflows/runs/x", None), Endpoint::UpstashCancelRun);
        assert_eq!(
            classify(&Method::GET, "/v2/workflows/logs", None),
            Endpoint::UpstashLogs
        );
        assert_eq!(classify(&Method::GET, "/nope", None), Endpoint::Other);
    }
}
