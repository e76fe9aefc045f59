//! The conformance suite: what makes "portable" true. Every backend, and the in-memory
//! canceller, passes it.
//!
//! A test for a backend implements [`Harness`] (seed runs on the server behind the canceller, read
//! their true state) and calls [`run_all`], or the individual checks. Each check is an `async fn`
//! taking the canceller under test and the harness, and panics with a message naming the backend,
//! the check and what went wrong; call them from `#[tokio::test]`s.
//!
//! Each check seeds its own runs with ids, URLs (hosts and paths), labels, keys and IPs made
//! unique per call, so
//! checks can share one server, even concurrently, with one exception: [`check_cancel_all`]
//! cancels **every** active run on the server. [`run_all`] runs it last; give the suite a server
//! of its own (an emulator started for the test, a dedicated account) and do not run other checks
//! against it at the same time.
//!
//! Against a cooperative backend (`capabilities().cancel_confirms == false`) the checks accept
//! [`CancelOutcome::Requested`] where a confirming backend must answer
//! [`CancelOutcome::Cancelled`], and wait (up to 10 s) for runs to reach their true final state.
//! They wait the same way after a filtered bulk that the provider runs as a background action
//! (the report carries an [`action_id`](BulkReport::action_id)), whose counts they do not check.
//!
//! ```
//! use wfcancel_core::WorkflowCanceller;
//! use wfcancel_core::conformance::{Harness, run_all};
//!
//! // In a backend's tests: `#[tokio::test] async fn conformance() { suite(&canceller, &harness).await }`.
//! async fn suite(canceller: &dyn WorkflowCanceller, harness: &dyn Harness) {
//!     let summary = run_all(canceller, harness).await; // panics on the first failing check
//!     println!("{summary}"); // e.g. "upstash: 15 checks passed; skipped: status (needs status)"
//! }
//! ```
//!
//! The in-memory canceller (feature `memory`) is its own harness: `run_all(&memory, &memory)`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::{
    BulkOptions, BulkReport, CancelError, CancelMode, CancelOptions, CancelOutcome, Capabilities, ErrorKind, Inactive,
    Interruption, ListOptions, ListedRun, RunFilter, RunRef, RunState, Selector, StopHandle, WaitOptions,
    WorkflowCanceller, WorkflowCancellerExt, from_epoch_millis, url_host, url_path,
};

/// How long a check waits for a cooperative backend to reach a run's final state.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A run to seed on the server behind the canceller under test.
///
/// ```
/// use wfcancel_core::RunState;
/// use wfcancel_core::conformance::SeedRun;
/// let seed = SeedRun::new("run-1").url("https://app.example.com/wf").label("nightly").state(RunState::Paused);
/// assert_eq!(seed.labels, ["nightly"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedRun {
    /// Run id (unique per test: the checks make their own).
    pub id: String,
    /// Workflow URL.
    pub url: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Caller IP.
    pub caller_ip: Option<String>,
    /// Flow-control key.
    pub flow_control_key: Option<String>,
    /// Initial state.
    pub state: RunState,
}

impl SeedRun {
    /// A running run with this id, workflow URL `https://conformance.example/workflow`, no labels,
    /// created now, no caller IP and no flow-control key.
    pub fn new(id: impl Into<String>) -> Self {
        SeedRun {
            id: id.into(),
            url: "https://conformance.example/workflow".to_owned(),
            labels: Vec::new(),
            created_at: SystemTime::now(),
            caller_ip: None,
            flow_control_key: None,
            state: RunState::Running,
        }
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

    /// The initial state.
    pub fn state(mut self, state: RunState) -> Self {
        self.state = state;
        self
    }
}

/// Seeds runs on the server behind the canceller under test and reads their true state.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Seeds a run; returns the [`RunRef`] with which the canceller under test addresses it
    /// (with owner and session where the backend needs them).
    async fn seed(&self, run: SeedRun) -> RunRef;
    /// The run's true state as the server holds it (`None` when the server does not know it).
    async fn true_state(&self, run: &RunRef) -> Option<RunState>;
    /// A [`RunRef`] for a run id that the server has never seen, addressed as the backend needs.
    fn unknown_run(&self, id: &str) -> RunRef {
        RunRef::new(id)
    }
}

/// The in-memory canceller is its own harness: seeding inserts a [`crate::MemoryRun`] (no owner, no
/// session), and the true state is [`crate::InMemoryCanceller::state_of`].
#[cfg(feature = "memory")]
#[async_trait]
impl Harness for crate::InMemoryCanceller {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let mut m = crate::MemoryRun::new(run.id)
            .url(run.url)
            .labels(run.labels)
            .created_at(run.created_at)
            .state(run.state);
        if let Some(ip) = run.caller_ip {
            m = m.caller_ip(ip);
        }
        if let Some(key) = run.flow_control_key {
            m = m.flow_control_key(key);
        }
        self.insert(m)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        self.state_of(run.run_id())
    }
}

/// What [`run_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The backend under test.
    pub backend: &'static str,
    /// The checks that ran (and passed: a failing check panics), in order.
    pub ran: Vec<&'static str>,
    /// The checks skipped, each with the capability it needs.
    pub skipped: Vec<(&'static str, &'static str)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} checks passed", self.backend, self.ran.len())?;
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(n, why)| format!("{n} (needs {why})"))
                .collect();
            write!(f, "; skipped: {}", skipped.join(", "))?;
        }
        Ok(())
    }
}

/// Runs every check that applies to `c.capabilities()`, [`check_cancel_all`] last, and says which
/// ran and which were skipped. Panics at the first failing check.
///
/// Needs a server dedicated to the suite when the backend can cancel all runs (see the module docs).
pub async fn run_all(c: &dyn WorkflowCanceller, h: &dyn Harness) -> Summary {
    let caps = c.capabilities();
    let f = caps.filter.clone();
    let mut s = Summary {
        backend: c.backend(),
        ..Default::default()
    };

    macro_rules! step {
        ($name:literal, $cond:expr, $needs:literal, $check:ident) => {
            if $cond {
                $check(c, h).await;
                s.ran.push($name);
            } else {
                s.skipped.push(($name, $needs));
            }
        };
    }

    step!("backend_name", true, "", check_backend_name);
    step!("validation", true, "", check_validation);
    step!("idempotent_cancel", caps.cancel, "cancel", check_idempotent_cancel);
    step!("not_active", caps.cancel, "cancel", check_not_active);
    step!("bulk_ids_accounting", caps.cancel, "cancel", check_bulk_ids_accounting);
    step!(
        "filter_url_exact",
        f.url_exact,
        "filter.url_exact",
        check_filter_url_exact
    );
    step!(
        "filter_url_prefix",
        f.url_prefix,
        "filter.url_prefix",
        check_filter_url_prefix
    );
    step!("filter_labels", f.labels, "filter.labels", check_filter_labels);
    step!(
        "filter_created_range",
        f.created_range,
        "filter.created_range",
        check_filter_created_range
    );
    step!(
        "filter_caller_ips",
        f.caller_ips,
        "filter.caller_ips",
        check_filter_caller_ips
    );
    step!(
        "filter_flow_control_keys",
        f.flow_control_keys,
        "filter.flow_control_keys",
        check_filter_flow_control_keys
    );
    step!("filter_hosts", f.hosts, "filter.hosts", check_filter_hosts);
    step!("filter_paths", f.paths, "filter.paths", check_filter_paths);
    step!(
        "filter_combination",
        !combination_pairs(&caps).is_empty(),
        "two filter fields",
        check_filter_combination
    );
    step!("filter_drain", f.any(), "a filter field", check_filter_drain);
    step!("filter_no_drain", f.any(), "a filter field", check_filter_no_drain);
    step!("status", caps.status, "status", check_status);
    step!("modes", true, "", check_modes);
    step!("capability_check", true, "", check_capability_check);
    step!("addresses", caps.cancel, "cancel", check_addresses);
    step!("duplicates", caps.cancel, "cancel", check_duplicates);
    step!(
        "bulk_stop_and_deadline",
        caps.cancel,
        "cancel",
        check_bulk_stop_and_deadline
    );
    step!(
        "list",
        caps.list && !supported_dims_of(&caps.list_filter).is_empty(),
        "list, with a list filter field",
        check_list
    );
    step!("cancel_all", caps.cancel_all, "cancel_all", check_cancel_all);
    s
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

macro_rules! fail {
    ($c:expr, $check:expr, $($arg:tt)*) => {
        panic!("conformance [{}] {}: {}", $c.backend(), $check, format!($($arg)*))
    };
}

macro_rules! ensure {
    ($c:expr, $check:expr, $cond:expr, $($arg:tt)*) => {
        if !$cond {
            fail!($c, $check, $($arg)*);
        }
    };
}

/// A prefix unique to one call of one check.
fn unique(check: &str) -> String {
    format!("wfc-{check}-{:08x}{:08x}", fastrand::u32(..), fastrand::u32(..))
}

fn cooperative(c: &dyn WorkflowCanceller) -> bool {
    !c.capabilities().cancel_confirms
}

/// Unwraps a result, failing the check with the error otherwise.
fn ok<T>(c: &dyn WorkflowCanceller, check: &str, what: &str, r: Result<T, CancelError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail!(c, check, "{what}: unexpected error: {e} ({e:?})"),
    }
}

/// The answer to cancelling an active run: `Cancelled`, or `Requested` from a cooperative backend.
fn assert_stops(c: &dyn WorkflowCanceller, check: &str, what: &str, outcome: CancelOutcome) {
    let good = match outcome {
        CancelOutcome::Cancelled => true,
        CancelOutcome::Requested => cooperative(c),
        _ => false,
    };
    let want = if cooperative(c) {
        "Cancelled or Requested"
    } else {
        "Cancelled"
    };
    ensure!(c, check, good, "{what}: expected {want}, got {outcome:?}");
}

/// How long to wait for true states to settle: [`WAIT_LIMIT`] for a cooperative backend or
/// after a bulk run as a background action (`background`), else not at all.
fn wait_limit(c: &dyn WorkflowCanceller, background: bool) -> Duration {
    if cooperative(c) || background {
        WAIT_LIMIT
    } else {
        Duration::ZERO
    }
}

/// Polls the true state until it equals `want`; at once for a confirming backend, for up to
/// [`WAIT_LIMIT`] for a cooperative one.
async fn expect_state(c: &dyn WorkflowCanceller, h: &dyn Harness, check: &str, run: &RunRef, want: &RunState) {
    expect_state_within(c, h, check, run, want, wait_limit(c, false)).await;
}

/// Polls the true state until it equals `want`, for up to `limit`.
async fn expect_state_within(
    c: &dyn WorkflowCanceller,
    h: &dyn Harness,
    check: &str,
    run: &RunRef,
    want: &RunState,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    loop {
        let state = h.true_state(run).await;
        if state.as_ref() == Some(want) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let waited = if limit.is_zero() {
                String::new()
            } else {
                format!(" after waiting {limit:?}")
            };
            fail!(
                c,
                check,
                "run {run}: true state should be {want:?}{waited}, is {state:?}"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Checks the true state right now (for runs that must stay untouched).
async fn expect_unchanged(c: &dyn WorkflowCanceller, h: &dyn Harness, check: &str, run: &RunRef, want: &RunState) {
    let state = h.true_state(run).await;
    ensure!(
        c,
        check,
        state.as_ref() == Some(want),
        "run {run} should be untouched ({want:?}), is {state:?}"
    );
}

fn assert_clean(c: &dyn WorkflowCanceller, check: &str, report: &BulkReport) {
    ensure!(
        c,
        check,
        report.failed.is_empty(),
        "bulk reported failures: {:?}",
        report.failed
    );
    ensure!(
        c,
        check,
        report.not_attempted.is_empty(),
        "bulk left runs untried: {:?}",
        report.not_attempted
    );
    ensure!(c, check, report.aborted.is_none(), "bulk aborted: {:?}", report.aborted);
    ensure!(
        c,
        check,
        report.backend == c.backend(),
        "report names backend {:?}",
        report.backend
    );
}

/// The runs a filtered bulk stopped (cancelled or requested).
fn stopped(report: &BulkReport) -> u64 {
    report.cancelled + report.requested
}

fn expect_invalid(
    c: &dyn WorkflowCanceller,
    check: &str,
    case: &str,
    field: &str,
    accept_unsupported: bool,
    r: Result<impl std::fmt::Debug, CancelError>,
) {
    match r {
        Err(CancelError::InvalidInput {
            backend, field: got, ..
        }) => {
            ensure!(
                c,
                check,
                got == field,
                "{case}: InvalidInput names field {got:?}, expected {field:?}"
            );
            ensure!(
                c,
                check,
                backend == c.backend(),
                "{case}: error names backend {backend:?}"
            );
        }
        Err(CancelError::Unsupported { backend, .. }) if accept_unsupported => {
            ensure!(
                c,
                check,
                backend == c.backend(),
                "{case}: error names backend {backend:?}"
            );
        }
        other => fail!(
            c,
            check,
            "{case}: expected InvalidInput for field {field:?}, got {other:?}"
        ),
    }
}

/// One filter field, for the checks that combine fields or only need one that isolates their runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    UrlPrefix,
    Labels,
    FlowControlKeys,
    CallerIps,
    UrlExact,
    CreatedRange,
    Hosts,
    Paths,
}

impl Dim {
    /// Whether seeding for this field sets the whole workflow URL (and so would undo another
    /// URL field's value): the two URL matches. Hosts and paths each rewrite their part only.
    fn sets_whole_url(self) -> bool {
        matches!(self, Dim::UrlPrefix | Dim::UrlExact)
    }

    /// Whether seeding for this field touches the workflow URL at all.
    fn touches_url(self) -> bool {
        matches!(self, Dim::UrlPrefix | Dim::UrlExact | Dim::Hosts | Dim::Paths)
    }
}

fn supported_dims(caps: &Capabilities) -> Vec<Dim> {
    supported_dims_of(&caps.filter)
}

fn supported_dims_of(f: &crate::FilterCapabilities) -> Vec<Dim> {
    let f = f.clone();
    // Ordered so that with every field supported no two neighbours both touch the URL.
    [
        (Dim::UrlPrefix, f.url_prefix),
        (Dim::Labels, f.labels),
        (Dim::Hosts, f.hosts),
        (Dim::FlowControlKeys, f.flow_control_keys),
        (Dim::Paths, f.paths),
        (Dim::CallerIps, f.caller_ips),
        (Dim::UrlExact, f.url_exact),
        (Dim::CreatedRange, f.created_range),
    ]
    .into_iter()
    .filter_map(|(d, ok)| ok.then_some(d))
    .collect()
}

/// A random creation time far from "now", unique to one check call, whole milliseconds.
fn unique_time() -> SystemTime {
    // Somewhere in 2001–2004, well away from runs other checks create "now".
    from_epoch_millis(978_307_200_000 + fastrand::u64(0..100_000_000_000) / 1000 * 1000)
}

/// A caller IP unique to one check call (IPv6 documentation range, canonical form).
fn unique_ip() -> String {
    format!(
        "2001:db8:{:x}:{:x}::{:x}",
        fastrand::u16(1..),
        fastrand::u16(1..),
        fastrand::u16(1..)
    )
}

/// A workflow URL host unique to one check call, made from a [`unique`] prefix (lower case,
/// `_` turned into `-`).
fn unique_host(p: &str) -> String {
    format!("{}.conformance.example", p.replace('_', "-").to_ascii_lowercase())
}

/// `seed` with the host of its workflow URL replaced (its path kept).
fn with_host(seed: SeedRun, host: &str) -> SeedRun {
    let url = format!("https://{host}{}", url_path(&seed.url));
    seed.url(url)
}

/// `seed` with the path of its workflow URL replaced (its host kept).
fn with_path(seed: SeedRun, path: &str) -> SeedRun {
    let url = format!("https://{}{path}", url_host(&seed.url).unwrap_or("conformance.example"));
    seed.url(url)
}

/// Values of one [`Dim`] unique to one check call.
struct DimValues {
    dim: Dim,
    base: String,
    url: String,
    label: String,
    key: String,
    ip: String,
    time: SystemTime,
    host: String,
    path: String,
}

impl DimValues {
    fn new(dim: Dim, p: &str) -> Self {
        DimValues {
            dim,
            base: format!("https://conformance.example/{p}"),
            url: format!("https://conformance.example/{p}/wf"),
            label: format!("{p}-label"),
            key: format!("{p}-key"),
            ip: unique_ip(),
            time: unique_time(),
            host: unique_host(p),
            path: format!("/{p}/wf"),
        }
    }

    /// Makes `seed` match (or, with `hit == false`, not match) this field's filter.
    fn apply(&self, seed: SeedRun, hit: bool) -> SeedRun {
        match (self.dim, hit) {
            (Dim::UrlPrefix | Dim::UrlExact, true) => seed.url(self.url.clone()),
            (Dim::UrlPrefix | Dim::UrlExact, false) => seed.url(format!("{}/other", self.base)),
            (Dim::Labels, true) => seed.label(self.label.clone()),
            (Dim::Labels, false) => seed.label(format!("{}-other", self.label)),
            (Dim::FlowControlKeys, true) => seed.flow_control_key(self.key.clone()),
            (Dim::FlowControlKeys, false) => seed.flow_control_key(format!("{}-other", self.key)),
            (Dim::CallerIps, true) => seed.caller_ip(self.ip.clone()),
            (Dim::CallerIps, false) => seed.caller_ip(unique_ip()),
            (Dim::CreatedRange, true) => seed.created_at(self.time + Duration::from_millis(500)),
            (Dim::CreatedRange, false) => seed.created_at(self.time + Duration::from_secs(5)),
            (Dim::Hosts, true) => with_host(seed, &self.host),
            (Dim::Hosts, false) => with_host(seed, &format!("other-{}", self.host)),
            (Dim::Paths, true) => with_path(seed, &self.path),
            (Dim::Paths, false) => with_path(seed, &format!("{}/other", self.path)),
        }
    }

    fn narrow(&self, f: RunFilter) -> RunFilter {
        match self.dim {
            Dim::UrlPrefix => f.url_prefix(self.url.clone()),
            Dim::UrlExact => f.url_exact(self.url.clone()),
            Dim::Labels => f.label(self.label.clone()),
            Dim::FlowControlKeys => f.flow_control_key(self.key.clone()),
            Dim::CallerIps => f.caller_ip(self.ip.clone()),
            Dim::CreatedRange => f.from(self.time).to(self.time + Duration::from_secs(1)),
            Dim::Hosts => f.host(self.host.clone()),
            Dim::Paths => f.path(self.path.clone()),
        }
    }
}

/// A filtered cancel: the seeds it must stop, the seeds it must leave alone, and the filter.
struct FilterCase {
    check: &'static str,
    hits: Vec<SeedRun>,
    misses: Vec<SeedRun>,
    filter: RunFilter,
}

async fn run_filter_case(c: &dyn WorkflowCanceller, h: &dyn Harness, case: FilterCase) {
    let check = case.check;
    let mut hits = Vec::new();
    for s in case.hits {
        hits.push(h.seed(s).await);
    }
    let mut misses = Vec::new();
    for s in case.misses {
        let state = s.state.clone();
        misses.push((h.seed(s).await, state));
    }
    let report = ok(
        c,
        check,
        "cancel_many(filter)",
        c.cancel_many(&Selector::filter(case.filter.clone()), &BulkOptions::new().drain(true))
            .await,
    );
    assert_clean(c, check, &report);
    if report.action_id.is_none() {
        ensure!(
            c,
            check,
            stopped(&report) == hits.len() as u64,
            "filter {:?} should stop exactly {} runs, report says cancelled {} + requested {}",
            case.filter,
            hits.len(),
            report.cancelled,
            report.requested
        );
        if !cooperative(c) {
            ensure!(
                c,
                check,
                report.requested == 0,
                "a confirming backend reported {} requested",
                report.requested
            );
        }
    }
    // A background action (or a cooperative provider) stops the runs later: wait for the hits,
    // then check the misses once the hits show the bulk has taken effect.
    let limit = wait_limit(c, report.action_id.is_some());
    for run in &hits {
        expect_state_within(c, h, check, run, &RunState::Cancelled, limit).await;
    }
    for (run, state) in &misses {
        expect_unchanged(c, h, check, run, state).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// `list_runs` and `count_runs` see what the server holds: seeded runs matching an isolating
/// filter are listed (and only they), each with its true state (running ones active, a completed
/// one `Completed`, a cancelled one `Cancelled` once the server says so); a limit is honoured
/// and the cursor pages through without duplicates; `count_runs` (where supported) counts them;
/// a state filter (where supported) narrows the listing; bad options are refused.
pub async fn check_list(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "list";
    let p = unique(check);
    let caps = c.capabilities();
    let dim = match supported_dims_of(&caps.list_filter).first() {
        Some(d) => DimValues::new(*d, &p),
        None => fail!(c, check, "needs a list filter field that isolates its runs"),
    };
    let mut running = Vec::new();
    for i in 0..3 {
        running.push(h.seed(dim.apply(SeedRun::new(format!("{p}-run{i}")), true)).await);
    }
    let done = h
        .seed(dim.apply(SeedRun::new(format!("{p}-done")).state(RunState::Completed), true))
        .await;
    let miss = h.seed(dim.apply(SeedRun::new(format!("{p}-miss")), false)).await;
    let filter = dim.narrow(RunFilter::new());

    let listed = list_all(c, check, &filter, 2).await;
    let mut ids: Vec<&str> = listed.iter().map(|r| r.run.run_id()).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = running.iter().chain([&done]).map(RunRef::run_id).collect();
    want.sort_unstable();
    ensure!(
        c,
        check,
        ids == want,
        "filter {filter:?} should list exactly {want:?} (not {}), listed {ids:?}",
        miss.run_id()
    );
    for r in &listed {
        let truth = h.true_state(&r.run).await;
        ensure!(
            c,
            check,
            truth.as_ref() == Some(&r.state),
            "run {} listed as {:?}, the server says {truth:?}",
            r.run.run_id(),
            r.state
        );
        let want_active = r.run.run_id() != done.run_id();
        ensure!(
            c,
            check,
            r.state.is_active() == want_active,
            "run {} listed as {:?}",
            r.run.run_id(),
            r.state
        );
    }

    if caps.count {
        let n = ok(c, check, "count_runs", c.count_runs(&filter).await);
        ensure!(c, check, n == 4, "count_runs({filter:?}) = {n}, expected 4");
    }

    if caps.cancel {
        let outcome = ok(c, check, "cancel", c.cancel(&running[0]).await);
        assert_stops(c, check, "cancel of a listed run", outcome);
        expect_state(c, h, check, &running[0], &RunState::Cancelled).await;
        let listed = list_all(c, check, &filter, 10).await;
        let state = listed
            .iter()
            .find(|r| r.run.run_id() == running[0].run_id())
            .map(|r| r.state.clone());
        ensure!(
            c,
            check,
            state == Some(RunState::Cancelled),
            "a cancelled run is listed as {state:?}"
        );
        if caps.list_filter.states {
            let active = filter.clone().state(RunState::Running);
            let listed = list_all(c, check, &active, 10).await;
            let mut ids: Vec<&str> = listed.iter().map(|r| r.run.run_id()).collect();
            ids.sort_unstable();
            let mut want: Vec<&str> = running[1..].iter().map(RunRef::run_id).collect();
            want.sort_unstable();
            ensure!(
                c,
                check,
                ids == want,
                "filter {active:?} should list exactly {want:?}, listed {ids:?}"
            );
        }
    }

    match c.list_runs(&filter, &ListOptions::new().limit(0)).await {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => fail!(c, check, "a limit of 0: expected InvalidInput, got {other:?}"),
    }
}

/// Every page of a listing, `limit` runs per page at most, failing the check on a page too long,
/// a run listed twice, or more than 100 pages.
async fn list_all(c: &dyn WorkflowCanceller, check: &str, filter: &RunFilter, limit: usize) -> Vec<ListedRun> {
    let mut out: Vec<ListedRun> = Vec::new();
    let mut opts = ListOptions::new().limit(limit);
    for _ in 0..100 {
        let page = ok(c, check, "list_runs", c.list_runs(filter, &opts).await);
        ensure!(
            c,
            check,
            page.runs.len() <= limit,
            "a page of limit {limit} holds {} runs",
            page.runs.len()
        );
        for r in page.runs {
            ensure!(
                c,
                check,
                !out.iter().any(|o| o.run.run_id() == r.run.run_id()),
                "run {} listed twice while paging",
                r.run.run_id()
            );
            out.push(r);
        }
        match page.next {
            Some(next) => opts = ListOptions::new().limit(limit).cursor(next),
            None => return out,
        }
    }
    fail!(c, check, "more than 100 pages for filter {filter:?}")
}

/// `backend()` is a non-empty lower-case name, and errors the canceller makes carry it.
pub async fn check_backend_name(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "backend_name";
    let name = c.backend();
    ensure!(c, check, !name.is_empty(), "backend() is empty");
    ensure!(
        c,
        check,
        name.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_'),
        "backend() should be a lower-case name, is {name:?}"
    );
    match c.cancel(&h.unknown_run("")).await {
        Err(e) => ensure!(
            c,
            check,
            e.backend() == name,
            "error {e:?} names backend {:?}",
            e.backend()
        ),
        Ok(o) => fail!(c, check, "cancelling an empty run id answered {o:?}"),
    }
    if c.capabilities().status {
        match c.status(&h.unknown_run(&unique(check))).await {
            Err(e) => ensure!(
                c,
                check,
                e.backend() == name,
                "error {e:?} names backend {:?}",
                e.backend()
            ),
            Ok(s) => fail!(c, check, "status of an unknown run answered {s:?}"),
        }
    }
}

/// Invalid input is refused with [`CancelError::InvalidInput`] naming the offending field:
/// empty, blank and control-character run ids (`run_id`), empty owner (`owner_id`) and session
/// (`session_id`) ids, an empty id list (`ids`), an empty filter (`filter`), an empty list in a
/// filter field (`filter.labels`, `filter.caller_ips`, `filter.flow_control_keys`,
/// `filter.hosts`, `filter.paths`), an empty URL
/// (`filter.url_exact`, `filter.url_prefix`), `from` after `to` (`filter.from`), and zero
/// `concurrency`, `page_size` and `max_rounds`.
///
/// Invalid filters may also be refused with `Unsupported` by a backend that cannot filter on the
/// field at all. The checks use unknown run ids, so a backend that skipped validation would not
/// touch any real run.
pub async fn check_validation(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "validation";
    let caps = c.capabilities();
    let p = unique(check);
    let bad_ids = [
        ("empty run id", ""),
        ("blank run id", " \t "),
        ("run id with a control character", "ab\u{7}cd"),
    ];
    for (case, id) in bad_ids {
        expect_invalid(c, check, case, "run_id", false, c.cancel(&h.unknown_run(id)).await);
        if caps.status {
            expect_invalid(c, check, case, "run_id", false, c.status(&h.unknown_run(id)).await);
        }
        let sel = Selector::Ids(vec![h.unknown_run(&p), h.unknown_run(id)]);
        expect_invalid(
            c,
            check,
            case,
            "run_id",
            false,
            c.cancel_many(&sel, &BulkOptions::new()).await,
        );
    }
    let known = h.unknown_run(&p);
    expect_invalid(
        c,
        check,
        "empty owner id",
        "owner_id",
        false,
        c.cancel(&known.clone().workflow("")).await,
    );
    expect_invalid(
        c,
        check,
        "blank session id",
        "session_id",
        false,
        c.cancel(&known.clone().session(" ")).await,
    );

    let opts = BulkOptions::new();
    expect_invalid(
        c,
        check,
        "empty id list",
        "ids",
        false,
        c.cancel_many(&Selector::Ids(Vec::new()), &opts).await,
    );

    let mut filters: Vec<(&str, &str, RunFilter)> = vec![("empty filter", "filter", RunFilter::new())];
    let mut f = RunFilter::new();
    f.labels = Some(Vec::new());
    filters.push(("empty label list", "filter.labels", f));
    let mut f = RunFilter::new();
    f.caller_ips = Some(Vec::new());
    filters.push(("empty caller IP list", "filter.caller_ips", f));
    let mut f = RunFilter::new();
    f.flow_control_keys = Some(Vec::new());
    filters.push(("empty flow-control key list", "filter.flow_control_keys", f));
    let mut f = RunFilter::new();
    f.hosts = Some(Vec::new());
    filters.push(("empty host list", "filter.hosts", f));
    let mut f = RunFilter::new();
    f.paths = Some(Vec::new());
    filters.push(("empty path list", "filter.paths", f));
    filters.push(("empty exact URL", "filter.url_exact", RunFilter::new().url_exact("")));
    filters.push(("empty URL prefix", "filter.url_prefix", RunFilter::new().url_prefix("")));
    let t = unique_time();
    filters.push((
        "from after to",
        "filter.from",
        RunFilter::new().from(t + Duration::from_secs(1)).to(t),
    ));
    for (case, field, filter) in filters {
        let unsupported = (filter.is_empty() && !caps.filter.any()) || caps.filter.unsupported_field(&filter).is_some();
        let r = c.cancel_many(&Selector::Filter(filter), &opts).await;
        expect_invalid(c, check, case, field, unsupported, r);
    }

    let sel = Selector::Ids(vec![h.unknown_run(&p)]);
    let bad_opts = [
        ("zero concurrency", "concurrency", BulkOptions::new().concurrency(0)),
        ("zero page size", "page_size", BulkOptions::new().page_size(0)),
        ("zero round limit", "max_rounds", BulkOptions::new().max_rounds(0)),
    ];
    for (case, field, o) in bad_opts {
        expect_invalid(c, check, case, field, false, c.cancel_many(&sel, &o).await);
    }
}

/// Cancelling an active run stops it (`Cancelled`, or `Requested` from a cooperative backend),
/// and its true state ends `Cancelled`. A second cancel right away is `NotActive` (a cooperative
/// backend may answer `Requested` while the run is still stopping). Once the run is cancelled,
/// cancelling again is `NotActive` for every backend.
pub async fn check_idempotent_cancel(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "idempotent_cancel";
    let run = h.seed(SeedRun::new(unique(check))).await;
    let first = ok(c, check, "first cancel", c.cancel(&run).await);
    assert_stops(c, check, "first cancel of an active run", first);
    let second = ok(c, check, "second cancel", c.cancel(&run).await);
    let good = match second {
        CancelOutcome::NotActive(_) => true,
        CancelOutcome::Requested => cooperative(c),
        _ => false,
    };
    ensure!(
        c,
        check,
        good,
        "second cancel: expected NotActive{}, got {second:?}",
        if cooperative(c) { " or Requested" } else { "" }
    );
    expect_state(c, h, check, &run, &RunState::Cancelled).await;
    let third = ok(c, check, "cancel after the run was cancelled", c.cancel(&run).await);
    ensure!(
        c,
        check,
        nothing_to_cancel(c, third),
        "cancel of a cancelled run: expected NotActive{}, got {third:?}",
        lenient_note(c)
    );
    ensure!(
        c,
        check,
        truthful_reason(c, third, Inactive::Finished),
        "cancel of a cancelled run: {}, got {third:?}",
        reason_rule(c, Inactive::Finished)
    );
    expect_unchanged(c, h, check, &run, &RunState::Cancelled).await;
}

/// Cancelling an unknown run, or one that completed, failed or was cancelled, is `NotActive`
/// (not an error), and leaves the run as it was. A cooperative backend whose provider answers
/// every cancel alike (Agno: `200 {}`) may answer `Requested` instead; the run must still be
/// left as it was.
pub async fn check_not_active(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "not_active";
    let p = unique(check);
    let unknown = h.unknown_run(&format!("{p}-unknown"));
    let outcome = ok(c, check, "cancel of an unknown run", c.cancel(&unknown).await);
    ensure!(
        c,
        check,
        nothing_to_cancel(c, outcome),
        "cancel of an unknown run: expected NotActive{}, got {outcome:?}",
        lenient_note(c)
    );
    ensure!(
        c,
        check,
        truthful_reason(c, outcome, Inactive::NoSuchRun),
        "cancel of an unknown run: {}, got {outcome:?}",
        reason_rule(c, Inactive::NoSuchRun)
    );
    ensure!(
        c,
        check,
        h.true_state(&unknown).await.is_none(),
        "cancelling an unknown run created it"
    );
    for state in [RunState::Completed, RunState::Failed, RunState::Cancelled] {
        let run = h.seed(SeedRun::new(format!("{p}-{state}")).state(state.clone())).await;
        let outcome = ok(c, check, "cancel of a finished run", c.cancel(&run).await);
        ensure!(
            c,
            check,
            nothing_to_cancel(c, outcome),
            "cancel of a {state} run: expected NotActive{}, got {outcome:?}",
            lenient_note(c)
        );
        ensure!(
            c,
            check,
            truthful_reason(c, outcome, Inactive::Finished),
            "cancel of a {state} run: {}, got {outcome:?}",
            reason_rule(c, Inactive::Finished)
        );
        expect_unchanged(c, h, check, &run, &state).await;
    }
}

/// A bulk by ids over 20 active, 5 finished and 5 unknown runs, 4 at a time, accounts for every
/// id exactly once: 20 stopped, 10 not active, nothing failed; per-run outcomes, where listed,
/// agree; every active run ends `Cancelled` and the finished ones are untouched.
pub async fn check_bulk_ids_accounting(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "bulk_ids_accounting";
    let p = unique(check);
    let mut active = Vec::new();
    for i in 0..20 {
        let state = [RunState::Running, RunState::Pending, RunState::Paused][i % 3].clone();
        active.push(h.seed(SeedRun::new(format!("{p}-active-{i}")).state(state)).await);
    }
    let mut finished = Vec::new();
    for i in 0..5 {
        let state = [RunState::Completed, RunState::Failed, RunState::Cancelled][i % 3].clone();
        finished.push((
            h.seed(SeedRun::new(format!("{p}-done-{i}")).state(state.clone())).await,
            state,
        ));
    }
    let unknown: Vec<RunRef> = (0..5).map(|i| h.unknown_run(&format!("{p}-unknown-{i}"))).collect();
    // Interleave so that outcomes cannot be told apart by position.
    let mut ids: Vec<RunRef> = Vec::new();
    for i in 0..20 {
        ids.push(active[i].clone());
        if i % 4 == 0 {
            ids.push(finished[i / 4].0.clone());
            ids.push(unknown[i / 4].clone());
        }
    }
    let n = ids.len() as u64;
    let report = ok(
        c,
        check,
        "cancel_many(ids)",
        c.cancel_many(&Selector::Ids(ids), &BulkOptions::new().concurrency(4))
            .await,
    );
    assert_clean(c, check, &report);
    ensure!(
        c,
        check,
        report.accounted() == n,
        "report accounts for {} runs, expected {n}: {report:?}",
        report.accounted()
    );
    if cooperative(c) {
        // A cooperative provider (Agno) answers every cancel alike: it cannot tell us which runs
        // were active, so `requested` may include the 10 that were not. The true states below
        // still prove which runs stopped.
        ensure!(
            c,
            check,
            report.cancelled == 0 && report.requested + report.not_active == n && report.requested >= 20,
            "expected at least 20 requested and the rest not active, got {report:?}"
        );
    } else {
        ensure!(
            c,
            check,
            stopped(&report) == 20,
            "expected 20 stopped, got cancelled {} + requested {}",
            report.cancelled,
            report.requested
        );
    }
    if !cooperative(c) {
        ensure!(
            c,
            check,
            report.requested == 0,
            "a confirming backend reported {} requested",
            report.requested
        );
    }
    ensure!(
        c,
        check,
        report.not_active == 10 || (cooperative(c) && report.not_active <= 10),
        "expected 10 not active, got {}",
        report.not_active
    );
    if !report.outcomes.is_empty() {
        ensure!(
            c,
            check,
            report.outcomes.len() as u64 == n,
            "outcomes list {} runs, expected {n}",
            report.outcomes.len()
        );
        for o in &report.outcomes {
            let was_active = active.iter().any(|r| r.run_id() == o.run.run_id());
            let good = if was_active {
                matches!(o.outcome, CancelOutcome::Cancelled | CancelOutcome::Requested)
            } else {
                nothing_to_cancel(c, o.outcome)
            };
            ensure!(
                c,
                check,
                good,
                "run {} ({}): outcome {:?}",
                o.run,
                if was_active { "active" } else { "not active" },
                o.outcome
            );
        }
    }
    for run in &active {
        expect_state(c, h, check, run, &RunState::Cancelled).await;
    }
    for (run, state) in &finished {
        expect_unchanged(c, h, check, run, state).await;
    }
}

/// `url_exact` matches the URL exactly: not longer URLs it is a prefix of, not other URLs;
/// finished runs with the URL are not counted and stay as they were.
pub async fn check_filter_url_exact(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_url_exact";
    let p = unique(check);
    let url = format!("https://conformance.example/{p}/wf");
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![run("hit-1").url(&url), run("hit-2").url(&url).state(RunState::Paused)],
            misses: vec![
                run("longer").url(format!("{url}/step")),
                run("suffix").url(format!("{url}x")),
                run("other").url(format!("https://conformance.example/{p}/other")),
                run("done").url(&url).state(RunState::Completed),
            ],
            filter: RunFilter::new().url_exact(&url),
        },
    )
    .await;
}

/// `url_prefix` matches every URL that starts with the prefix, and no other.
pub async fn check_filter_url_prefix(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_url_prefix";
    let p = unique(check);
    let prefix = format!("https://conformance.example/{p}/wf");
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![
                run("same").url(&prefix),
                run("child").url(format!("{prefix}/a/b")),
                run("longer").url(format!("{prefix}-v2")),
            ],
            misses: vec![
                run("shorter").url(format!("https://conformance.example/{p}/w")),
                run("other").url(format!("https://conformance.example/{p}/other/wf")),
                run("done").url(format!("{prefix}/done")).state(RunState::Failed),
            ],
            filter: RunFilter::new().url_prefix(&prefix),
        },
    )
    .await;
}

/// Labels: a run with any of the filter's labels matches (OR); others, including labels that
/// merely start with a filter label, do not.
///
/// Each seeded run carries at most one label, as an Upstash run does.
pub async fn check_filter_labels(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_labels";
    let p = unique(check);
    let (a, b, other) = (format!("{p}-a"), format!("{p}-b"), format!("{p}-c"));
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![run("a").label(&a), run("b").label(&b), run("a2").label(&a)],
            misses: vec![
                run("c").label(&other),
                run("a-prefix").label(format!("{a}a")),
                run("none"),
                run("done").label(&a).state(RunState::Cancelled),
            ],
            filter: RunFilter::new().label(&a).label(&b),
        },
    )
    .await;
}

/// The creation-time range includes both bounds and nothing outside them.
pub async fn check_filter_created_range(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_created_range";
    let p = unique(check);
    let t = unique_time();
    let ms = Duration::from_millis;
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![
                run("from").created_at(t),
                run("middle").created_at(t + ms(500)),
                run("to").created_at(t + ms(1000)),
            ],
            misses: vec![
                run("before").created_at(t - ms(1)),
                run("after").created_at(t + ms(1001)),
                run("done").created_at(t + ms(200)).state(RunState::Completed),
            ],
            filter: RunFilter::new().from(t).to(t + ms(1000)),
        },
    )
    .await;
}

/// Caller IPs: a run from any of the filter's IPs matches; other IPs and runs without one do not.
pub async fn check_filter_caller_ips(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_caller_ips";
    let p = unique(check);
    let (a, b) = (unique_ip(), unique_ip());
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![run("a").caller_ip(&a), run("b").caller_ip(&b)],
            misses: vec![
                run("other").caller_ip(unique_ip()),
                run("done").caller_ip(&a).state(RunState::Failed),
            ],
            filter: RunFilter::new().caller_ip(&a).caller_ip(&b),
        },
    )
    .await;
}

/// Flow-control keys: a run with any of the filter's keys matches; other keys and runs without
/// one do not.
pub async fn check_filter_flow_control_keys(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_flow_control_keys";
    let p = unique(check);
    let (a, b) = (format!("{p}-a"), format!("{p}-b"));
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![run("a").flow_control_key(&a), run("b").flow_control_key(&b)],
            misses: vec![
                run("other").flow_control_key(format!("{p}-c")),
                run("longer").flow_control_key(format!("{a}a")),
                run("done").flow_control_key(&b).state(RunState::Completed),
            ],
            filter: RunFilter::new().flow_control_key(&a).flow_control_key(&b),
        },
    )
    .await;
}

/// Workflow URL hosts: a run whose URL host is any of the filter's hosts matches, whatever its
/// port, path or query, and hosts compare ASCII case-insensitively; another host, a subdomain or
/// a longer host, and a URL that merely holds the host in its path, do not.
///
/// The contract's semantics (exact match); Upstash's own are not confirmed.
pub async fn check_filter_hosts(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_hosts";
    let p = unique(check);
    let (a, b) = (unique_host(&format!("{p}-a")), unique_host(&format!("{p}-b")));
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![
                run("a").url(format!("https://{a}/workflow")),
                run("b").url(format!("https://{b}:8443/api/other?x=1")),
                run("a-upper").url(format!("https://{}/workflow", a.to_ascii_uppercase())),
            ],
            misses: vec![
                run("other").url(format!("https://{}/workflow", unique_host(&format!("{p}-c")))),
                run("sub").url(format!("https://sub.{a}/workflow")),
                run("longer").url(format!("https://{a}x/workflow")),
                run("in-path").url(format!("https://conformance.example/{a}/workflow")),
                run("done")
                    .url(format!("https://{a}/workflow"))
                    .state(RunState::Completed),
            ],
            filter: RunFilter::new().host(&a).host(&b),
        },
    )
    .await;
}

/// Workflow URL paths: a run whose URL path equals any of the filter's paths matches, whatever
/// its host or query; longer and shorter paths, a trailing `/` more, and other paths do not.
///
/// The contract's semantics (exact match); Upstash's own are not confirmed.
pub async fn check_filter_paths(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_paths";
    let p = unique(check);
    let (a, b) = (format!("/{p}/a"), format!("/{p}/b"));
    let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
    run_filter_case(
        c,
        h,
        FilterCase {
            check,
            hits: vec![
                run("a").url(format!("https://conformance.example{a}")),
                run("a-query").url(format!("https://other.conformance.example:8443{a}?x=1#f")),
                run("b").url(format!("https://conformance.example{b}")),
            ],
            misses: vec![
                run("other").url(format!("https://conformance.example/{p}/c")),
                run("longer").url(format!("https://conformance.example{a}/step")),
                run("slash").url(format!("https://conformance.example{a}/")),
                run("shorter").url(format!("https://conformance.example/{p}")),
                run("done")
                    .url(format!("https://conformance.example{b}"))
                    .state(RunState::Failed),
            ],
            filter: RunFilter::new().path(&a).path(&b),
        },
    )
    .await;
}

/// Fields combine with AND: for pairs of supported fields, the runs matching both are cancelled,
/// and runs matching only one of them, or matching both but finished, are left alone.
///
/// The pairs: the supported fields in a fixed order (URL prefix, labels, hosts, flow-control
/// keys, paths, caller IPs, exact URL, creation range), each paired with the next and the last
/// with the first (one pair when only two are supported), leaving out any pair of a URL match
/// (exact or prefix) with another field of the URL (a filter holds one URL match, and a run's URL
/// cannot match it while carrying another host or path). With every field supported, each field
/// is combined with two others, and every pair includes at most one field of the URL.
pub async fn check_filter_combination(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_combination";
    let pairs = combination_pairs(&c.capabilities());
    ensure!(c, check, !pairs.is_empty(), "needs two supported filter fields");
    for (da, db) in pairs {
        let p = unique(check);
        let (a, b) = (
            DimValues::new(da, &format!("{p}-a")),
            DimValues::new(db, &format!("{p}-b")),
        );
        let run = |i: &str| SeedRun::new(format!("{p}-{i}"));
        let both = |s: SeedRun| b.apply(a.apply(s, true), true);
        run_filter_case(
            c,
            h,
            FilterCase {
                check,
                hits: vec![both(run("both-1")), both(run("both-2"))],
                misses: vec![
                    b.apply(a.apply(run("a-only"), true), false),
                    b.apply(a.apply(run("b-only"), false), true),
                    both(run("done")).state(RunState::Completed),
                ],
                filter: b.narrow(a.narrow(RunFilter::new())),
            },
        )
        .await;
    }
}

/// Pairs of supported fields to combine: each field paired with the next one (and the last with
/// the first), leaving out pairs of two fields of the workflow URL where one sets the whole URL
/// (a filter holds one URL match, and a seeded run's URL cannot match a URL match and also carry
/// another host or path; a host and a path combine).
fn combination_pairs(caps: &Capabilities) -> Vec<(Dim, Dim)> {
    let dims = supported_dims(caps);
    let pairs: Vec<(Dim, Dim)> = match dims.len() {
        0 | 1 => Vec::new(),
        2 => vec![(dims[0], dims[1])],
        n => (0..n).map(|i| (dims[i], dims[(i + 1) % n])).collect(),
    };
    pairs
        .into_iter()
        .filter(|(a, b)| !(a.touches_url() && b.touches_url() && (a.sets_whole_url() || b.sets_whole_url())))
        .collect()
}

fn isolating(c: &dyn WorkflowCanceller, check: &str, p: &str) -> DimValues {
    match supported_dims(&c.capabilities()).first() {
        Some(d) => DimValues::new(*d, p),
        None => fail!(c, check, "needs a supported filter field"),
    }
}

/// With `drain` and a page size smaller than the matches, the bulk takes several rounds, cancels
/// every match, reports its rounds and `drained`, and reports progress.
pub async fn check_filter_drain(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_drain";
    let p = unique(check);
    let dim = isolating(c, check, &p);
    let mut runs = Vec::new();
    for i in 0..7 {
        runs.push(h.seed(dim.apply(SeedRun::new(format!("{p}-{i}")), true)).await);
    }
    let progress_calls = Arc::new(AtomicU64::new(0));
    let counter = progress_calls.clone();
    let opts = BulkOptions::new().page_size(3).drain(true).on_progress(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let filter = dim.narrow(RunFilter::new());
    let report = ok(
        c,
        check,
        "cancel_many(filter, drain)",
        c.cancel_many(&Selector::filter(filter), &opts).await,
    );
    assert_clean(c, check, &report);
    if report.action_id.is_none() {
        ensure!(
            c,
            check,
            stopped(&report) == 7,
            "expected 7 stopped, got cancelled {} + requested {}",
            report.cancelled,
            report.requested
        );
        ensure!(
            c,
            check,
            report.rounds >= 3,
            "7 matches with page size 3 need at least 3 rounds, report says {}",
            report.rounds
        );
        ensure!(
            c,
            check,
            report.drained,
            "the drain ended but drained is false: {report:?}"
        );
        ensure!(
            c,
            check,
            report.requests_sent >= u64::from(report.rounds),
            "requests_sent {} < rounds {}",
            report.requests_sent,
            report.rounds
        );
        ensure!(
            c,
            check,
            progress_calls.load(Ordering::Relaxed) >= 1,
            "the progress callback was never called"
        );
    }
    let limit = wait_limit(c, report.action_id.is_some());
    for run in &runs {
        expect_state_within(c, h, check, run, &RunState::Cancelled, limit).await;
    }
}

/// Without `drain`, one round cancels exactly `page_size` of the matches and leaves the rest.
///
/// A provider that runs the cancel as a background action (an action id in the report) need not
/// honour the page size: the check then waits (up to [`WAIT_LIMIT`]) for at least `page_size` of
/// the matches to be cancelled, and does not check the report's counts.
pub async fn check_filter_no_drain(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "filter_no_drain";
    let p = unique(check);
    let dim = isolating(c, check, &p);
    let mut runs = Vec::new();
    for i in 0..7 {
        runs.push(h.seed(dim.apply(SeedRun::new(format!("{p}-{i}")), true)).await);
    }
    let filter = dim.narrow(RunFilter::new());
    let opts = BulkOptions::new().page_size(3);
    let report = ok(
        c,
        check,
        "cancel_many(filter)",
        c.cancel_many(&Selector::filter(filter), &opts).await,
    );
    assert_clean(c, check, &report);
    let background = report.action_id.is_some();
    if !background {
        ensure!(
            c,
            check,
            stopped(&report) == 3,
            "page size 3 without drain: expected 3 stopped, got cancelled {} + requested {}",
            report.cancelled,
            report.requested
        );
        ensure!(
            c,
            check,
            report.rounds == 1,
            "without drain: expected 1 round, report says {}",
            report.rounds
        );
        ensure!(c, check, !report.drained, "without drain the report says drained");
    }
    // Let cooperative cancels and background actions take effect, then count.
    let deadline = tokio::time::Instant::now() + wait_limit(c, background);
    loop {
        let mut cancelled = 0;
        let mut active = 0;
        for run in &runs {
            match h.true_state(run).await {
                Some(RunState::Cancelled) => cancelled += 1,
                Some(s) if s.is_active() => active += 1,
                other => fail!(c, check, "run {run}: unexpected true state {other:?}"),
            }
        }
        if (cancelled == 3 && active == 4) || (background && cancelled >= 3) {
            return;
        }
        if (cancelled > 3 && !background) || tokio::time::Instant::now() >= deadline {
            let want = if background {
                "at least 3 cancelled by the background action"
            } else {
                "3 cancelled and 4 still active"
            };
            fail!(
                c,
                check,
                "expected {want}, found {cancelled} cancelled and {active} active"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `status` reports an active run as active, a finished run as finished, a cancelled run as
/// `Cancelled` (after [`WorkflowCancellerExt::wait_until_terminal`] on a cooperative backend),
/// and refuses an unknown run with [`CancelError::NotFound`]: backends map their provider's
/// "no such run" answer to it.
pub async fn check_status(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "status";
    let p = unique(check);
    let run = h.seed(SeedRun::new(format!("{p}-active"))).await;
    let state = ok(c, check, "status of an active run", c.status(&run).await);
    ensure!(
        c,
        check,
        state.is_active(),
        "status of a running run: expected an active state, got {state:?}"
    );
    let done = h
        .seed(SeedRun::new(format!("{p}-done")).state(RunState::Completed))
        .await;
    let state = ok(c, check, "status of a completed run", c.status(&done).await);
    ensure!(
        c,
        check,
        state == RunState::Completed,
        "status of a completed run: got {state:?}"
    );

    let outcome = ok(c, check, "cancel", c.cancel(&run).await);
    assert_stops(c, check, "cancel of an active run", outcome);
    let state = if cooperative(c) {
        let opts = WaitOptions::with_timeout(WAIT_LIMIT).initial_interval(Duration::from_millis(20));
        ok(
            c,
            check,
            "wait_until_terminal after cancel",
            c.wait_until_terminal(&run, opts).await,
        )
    } else {
        ok(c, check, "status after cancel", c.status(&run).await)
    };
    ensure!(
        c,
        check,
        state == RunState::Cancelled,
        "status after cancel: expected Cancelled, got {state:?}"
    );

    match c.status(&h.unknown_run(&format!("{p}-unknown"))).await {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            ensure!(
                c,
                check,
                e.backend() == c.backend(),
                "NotFound names backend {:?}",
                e.backend()
            )
        }
        other => fail!(
            c,
            check,
            "status of an unknown run: expected a NotFound error, got {other:?}"
        ),
    }
}

/// `Selector::cancel_all_runs()` stops every active run and leaves finished ones alone.
///
/// **This cancels every active run on the server**, including other checks' runs: run it on a
/// server dedicated to the suite, after the other checks ([`run_all`] does).
pub async fn check_cancel_all(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "cancel_all";
    let p = unique(check);
    let mut active = Vec::new();
    for (i, state) in [RunState::Running, RunState::Pending, RunState::Paused]
        .into_iter()
        .enumerate()
    {
        active.push(h.seed(SeedRun::new(format!("{p}-{i}")).state(state)).await);
    }
    let done = h
        .seed(SeedRun::new(format!("{p}-done")).state(RunState::Completed))
        .await;
    let report = ok(
        c,
        check,
        "cancel_many(all)",
        c.cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
            .await,
    );
    assert_clean(c, check, &report);
    if report.action_id.is_none() {
        ensure!(
            c,
            check,
            stopped(&report) >= 3,
            "expected at least 3 stopped, got cancelled {} + requested {}",
            report.cancelled,
            report.requested
        );
        ensure!(
            c,
            check,
            report.drained,
            "a drained cancel-all should report drained: {report:?}"
        );
    }
    let limit = wait_limit(c, report.action_id.is_some());
    for run in &active {
        expect_state_within(c, h, check, run, &RunState::Cancelled, limit).await;
    }
    expect_unchanged(c, h, check, &done, &RunState::Completed).await;
}

/// Whether `outcome` is right for a run with nothing to cancel: `NotActive`, or `Requested` from
/// a cooperative backend, whose provider cannot tell (Agno answers every cancel `200 {}`).
/// Each mode and a reason: what the capabilities list works (a forced cancel of a confirming
/// backend ends `Terminated` or `Cancelled`), what they do not list is `Unsupported` and leaves
/// the run running — never swapped for another mode.
pub async fn check_modes(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "modes";
    let caps = c.capabilities();
    let p = unique(check);
    let cases = [
        (CancelOptions::graceful(), caps.graceful),
        (CancelOptions::forced(), caps.forced),
        (
            CancelOptions::graceful().reason("conformance: graceful with a reason"),
            caps.graceful && caps.reason,
        ),
        (
            CancelOptions::forced().reason("conformance: forced with a reason"),
            caps.forced && caps.reason,
        ),
    ];
    for (i, (opts, supported)) in cases.into_iter().enumerate() {
        let run = h.seed(SeedRun::new(format!("{p}-{i}"))).await;
        let result = c.cancel_with(&run, &opts).await;
        if supported {
            let outcome = ok(c, check, &format!("cancel_with {opts:?}"), result);
            assert_stops(c, check, &format!("cancel_with {opts:?}"), outcome);
            if opts.mode == CancelMode::Forced && !cooperative(c) {
                let state = h.true_state(&run).await;
                ensure!(
                    c,
                    check,
                    matches!(state, Some(RunState::Terminated | RunState::Cancelled)),
                    "a forced cancel left the run {state:?}"
                );
            }
        } else {
            ensure!(
                c,
                check,
                matches!(result, Err(CancelError::Unsupported { .. })),
                "{opts:?} is not in the capabilities: expected Unsupported, got {result:?}"
            );
            expect_unchanged(c, h, check, &run, &RunState::Running).await;
        }
    }
}

/// Core's check before the backend: a filter field no backend lists (a provider-specific field
/// by a made-up name) is `Unsupported`, a filter that matches every run is `InvalidInput` (it is
/// "all"), "all" without `cancel_all` is `Unsupported`; none of them touches a run.
pub async fn check_capability_check(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "capability_check";
    let caps = c.capabilities();
    let run = h.seed(SeedRun::new(unique(check))).await;
    let unlisted = RunFilter::new().custom_field(format!("{}-field", unique(check)), "1");
    let r = c.cancel_many(&Selector::filter(unlisted), &BulkOptions::new()).await;
    ensure!(
        c,
        check,
        matches!(r, Err(CancelError::Unsupported { .. })),
        "a filter field no backend lists: expected Unsupported, got {r:?}"
    );
    if caps.filter.url_prefix {
        let r = c
            .cancel_many(
                &Selector::filter(RunFilter::new().url_prefix("https://")),
                &BulkOptions::new(),
            )
            .await;
        ensure!(
            c,
            check,
            matches!(r, Err(CancelError::InvalidInput { .. })),
            "a filter that matches every run: expected InvalidInput, got {r:?}"
        );
    }
    if !caps.cancel_all {
        let r = c.cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new()).await;
        ensure!(
            c,
            check,
            matches!(r, Err(CancelError::Unsupported { .. })),
            "cancel all without the capability: expected Unsupported, got {r:?}"
        );
    }
    expect_unchanged(c, h, check, &run, &RunState::Running).await;
}

/// A run's address round-trips through its string, and the run parsed back is cancelled.
pub async fn check_addresses(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "addresses";
    let run = h.seed(SeedRun::new(unique(check))).await.backend(c.backend());
    let text = run.to_string();
    let back: RunRef = match text.parse() {
        Ok(r) => r,
        Err(e) => fail!(c, check, "{text}: {e}"),
    };
    ensure!(c, check, back == run, "{text} parsed back as {back:?}, not {run:?}");
    let outcome = ok(
        c,
        check,
        "cancel of a run parsed from its address",
        c.cancel(&back).await,
    );
    assert_stops(c, check, "cancel of a run parsed from its address", outcome);
    expect_state(c, h, check, &run, &RunState::Cancelled).await;
}

/// A run named twice in a bulk is cancelled once, and the report says one was dropped.
pub async fn check_duplicates(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "duplicates";
    let p = unique(check);
    let a = h.seed(SeedRun::new(format!("{p}-a"))).await;
    let b = h.seed(SeedRun::new(format!("{p}-b"))).await;
    let runs = vec![a.clone(), b.clone(), a.clone()];
    let report = ok(
        c,
        check,
        "cancel_many",
        c.cancel_many(&Selector::Ids(runs), &BulkOptions::new()).await,
    );
    ensure!(
        c,
        check,
        report.duplicates_dropped == 1,
        "duplicates_dropped: {report:?}"
    );
    ensure!(
        c,
        check,
        report.accounted() == 2,
        "accounted for 2 unique runs: {report:?}"
    );
    ensure!(
        c,
        check,
        report.not_active == 0 && report.failed.is_empty(),
        "a repeat is not a second cancel: {report:?}"
    );
    expect_state(c, h, check, &a, &RunState::Cancelled).await;
    expect_state(c, h, check, &b, &RunState::Cancelled).await;
}

/// A bulk stopped before it starts, or whose deadline has passed, sends nothing, still answers
/// its report (every run in `not_attempted`, `interrupted` set) and leaves every run running.
pub async fn check_bulk_stop_and_deadline(c: &dyn WorkflowCanceller, h: &dyn Harness) {
    let check = "bulk_stop_and_deadline";
    let p = unique(check);
    let mut runs = Vec::new();
    for i in 0..5 {
        runs.push(h.seed(SeedRun::new(format!("{p}-{i}"))).await);
    }
    let stop = StopHandle::new();
    stop.stop();
    for (opts, why) in [
        (BulkOptions::new().stop_handle(stop), Interruption::Stopped),
        (BulkOptions::new().deadline(Duration::ZERO), Interruption::Deadline),
    ] {
        let report = ok(
            c,
            check,
            "cancel_many",
            c.cancel_many(&Selector::Ids(runs.clone()), &opts).await,
        );
        ensure!(
            c,
            check,
            report.interrupted == Some(why) && report.not_attempted.len() == 5 && report.requests_sent == 0,
            "{why}: expected 5 runs not attempted and nothing sent, got {report:?}"
        );
        ensure!(
            c,
            check,
            report.accounted() == 5,
            "{why}: the counts add up: {report:?}"
        );
    }
    for run in &runs {
        expect_unchanged(c, h, check, run, &RunState::Running).await;
    }
}

fn nothing_to_cancel(c: &dyn WorkflowCanceller, outcome: CancelOutcome) -> bool {
    outcome.is_not_active() || (cooperative(c) && outcome == CancelOutcome::Requested)
}

/// Whether a `NotActive` reason is true for a run whose truth is `truth` (`Finished` or
/// `NoSuchRun`): never the other one; `Unspecified` only from a backend whose capabilities do not
/// promise [`Capabilities::inactive_reasons`]. Outcomes other than `NotActive` are judged elsewhere.
fn truthful_reason(c: &dyn WorkflowCanceller, outcome: CancelOutcome, truth: Inactive) -> bool {
    match outcome.inactive() {
        None => true,
        Some(Inactive::Unspecified) => !c.capabilities().inactive_reasons,
        Some(why) => why == truth,
    }
}

fn reason_rule(c: &dyn WorkflowCanceller, truth: Inactive) -> String {
    if c.capabilities().inactive_reasons {
        format!("the backend lists inactive_reasons, so NotActive must say {truth:?}")
    } else {
        format!("NotActive may say {truth:?} or Unspecified, never the other reason")
    }
}

fn lenient_note(c: &dyn WorkflowCanceller) -> &'static str {
    if cooperative(c) {
        " (or Requested from a cooperative backend)"
    } else {
        ""
    }
}
