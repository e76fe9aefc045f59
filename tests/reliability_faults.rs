//! Fault storms: 10,000 runs cancelled by id while the emulator fails 20 % of calls with `503`,
//! answers 5 % with `429` and `Retry-After: 1`, drops 2 % of connections and adds 1–5 ms of
//! jittered latency; and the retry deadline under faults that never stop.
//!
//! Client settings (say so wherever the figures are quoted): 16 attempts per call, backoff 5 ms
//! doubling to 100 ms (jittered), `Retry-After` honoured, 10 s per attempt, 30 s deadline per call.
//! Why 16: a call fails its attempt with probability p ≈ 0.02 + 0.98·(0.05 + 0.95·0.20) ≈ 0.255,
//! so with 10 attempts P(a call is lost) ≈ p¹⁰ ≈ 1.1e-6, and over the ≈ 30,000 calls of this file
//! (most of the bulk storm's are state reads) a run would be lost in ≈ 3 % of suite runs: a flaky
//! test. With 16 attempts p¹⁶ ≈ 3e-10.
//!
//! What each storm checks: every run ends cancelled on the server; the report's counts equal the
//! server's own (possible exactly because the emulator injects every fault before any state
//! change, so a retried request never finds its own earlier effect); no run is reported
//! cancelled that was not; and the time respects the retry deadline. Every error, report and
//! the whole TRACE output are scanned for the token.
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reliability_support as rs;
use wfcancel::backend::fan_out;
use wfcancel::{
    AgnoCanceller, BulkOptions, CancelError, CancelOutcome, Capabilities, RunRef, Selector, WorkflowCanceller,
    async_trait,
};
use wfcancel_emulator::{AgnoRun, AgnoStatus, Endpoint, FaultKind, Faults, Stats, UpstashState};

const RUNS: usize = 10_000;
const ATTEMPTS: u32 = 16;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const DEADLINE: Duration = Duration::from_secs(30);
/// Each storm must end well within this (debug build, 2 cores).
const STORM_LIMIT: Duration = Duration::from_secs(60);

/// The storm of the issue: 20 % `503`, 5 % `429` + `Retry-After: 1`, 2 % dropped connections,
/// 1 ms + up to 4 ms of latency. Seeded: the same sequence of decisions for the same sequence
/// of requests (the order of concurrent requests still varies).
fn storm(seed: u64) -> Faults {
    Faults::none()
        .errors(0.20)
        .error_status(503)
        .throttle(0.05)
        .retry_after_secs(1)
        .drops(0.02)
        .latency(Duration::from_millis(1))
        .jitter(Duration::from_millis(4))
        .seed(seed)
}

/// Faults the server injected that a client had to retry (latency is not one of them).
fn retried_faults(s: &Stats) -> u64 {
    s.fault(FaultKind::ServerError) + s.fault(FaultKind::Throttled) + s.fault(FaultKind::Dropped)
}

fn fault_fields(s: &Stats) -> Vec<(&'static str, String)> {
    vec![
        ("calls", s.requests.to_string()),
        ("faults", retried_faults(s).to_string()),
        ("503", s.fault(FaultKind::ServerError).to_string()),
        ("429", s.fault(FaultKind::Throttled).to_string()),
        ("dropped", s.fault(FaultKind::Dropped).to_string()),
    ]
}

fn assert_storm_happened(s: &Stats) {
    for kind in [FaultKind::ServerError, FaultKind::Throttled, FaultKind::Dropped] {
        assert!(s.fault(kind) > 0, "no {kind:?} fault was injected: {s:?}");
    }
}

/// Delegates to a canceller and records the longest single `cancel` (retries included), so
/// that a fan-out can be checked against the per-call retry deadline.
#[derive(Debug)]
struct Timed<'a, C: ?Sized> {
    inner: &'a C,
    longest_ms: AtomicU64,
}

impl<'a, C: WorkflowCanceller + ?Sized> Timed<'a, C> {
    fn new(inner: &'a C) -> Self {
        Timed {
            inner,
            longest_ms: AtomicU64::new(0),
        }
    }

    fn longest(&self) -> Duration {
        Duration::from_millis(self.longest_ms.load(Ordering::Relaxed))
    }
}

#[async_trait]
impl<C: WorkflowCanceller + ?Sized> WorkflowCanceller for Timed<'_, C> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn cancel_run(&self, run: &RunRef, opts: &wfcancel::CancelOptions) -> Result<CancelOutcome, CancelError> {
        let t0 = Instant::now();
        let r = self.inner.cancel_with(run, opts).await;
        self.longest_ms
            .fetch_max(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
        r
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_10k_runs_by_id_in_chunks_under_a_fault_storm() {
    rs::capture_tracing();
    let emu = rs::upstash_emulator(Faults::none()).await;
    let ids = emu.seed_random(RUNS, Some(7));
    let active: HashSet<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| emu.state(id) == Some(UpstashState::Started))
        .collect();
    assert!(active.len() > RUNS * 8 / 10, "seed_random keeps ~90 % running");

    // 2 KiB URLs: about 48 ids per chunk, so about 210 chunks, all in flight at once (so the whole
    // bulk must end within one call's deadline).
    let client = rs::upstash_builder(&emu.url(), rs::http(ATTEMPT_TIMEOUT, ATTEMPTS, DEADLINE))
        .max_url_bytes(2048)
        .build()
        .expect("build");
    let selector = Selector::ids(ids.iter().map(String::as_str));
    let plan = client.plan(&selector, &BulkOptions::new()).expect("plan");
    let chunks = plan.len();
    // A chunk answering less than its size may have stopped part way: it is sent again while
    // answers are above 0; once one is 0 with runs unaccounted for, every run of the chunk has its
    // state read (`GET /v2/workflows/logs?workflowRunId=`). Here nothing stops a chunk, so no run
    // is still active after that and no single cancel follows. So, for a chunk of `n` ids: all
    // running → 1 request (n); some → 2 + n (a, 0, then n reads); none → 1 + n (0, then n reads).
    let (mut expected_sends, mut expected_reads) = (0u64, 0u64);
    for p in &plan {
        let ids = p.query_pairs();
        let n = ids.len() as u64;
        let running = ids.iter().filter(|(_, id)| active.contains(id.as_str())).count() as u64;
        let (sends, reads) = match running {
            r if r == n => (1, 0),
            0 => (1, n),
            _ => (2, n),
        };
        expected_sends += sends;
        expected_reads += reads;
    }
    let expected_requests = expected_sends + expected_reads;
    assert!((100..=256).contains(&chunks), "{chunks} chunks");
    let opts = BulkOptions::new().concurrency(chunks);

    emu.reset_stats();
    emu.faults().set(storm(11));
    let (report, elapsed) = rs::within("upstash 10k bulk", STORM_LIMIT, client.cancel_many(&selector, &opts)).await;
    emu.faults().clear();
    rs::scan_result("upstash 10k bulk report", &report);
    let report = report.expect("the bulk ran");
    let s = emu.stats();
    rs::scan_debug("upstash stats", &s);

    assert_storm_happened(&s);
    assert!(report.is_success(), "nothing may fail: {:?}", report.failed);
    assert_eq!(report.requests_sent, expected_requests);
    // The report's counts equal the server's own.
    assert_eq!(report.cancelled, s.cancelled, "report vs server");
    assert_eq!(report.cancelled, active.len() as u64);
    assert_eq!(report.not_active, (RUNS - active.len()) as u64);
    assert_eq!(report.accounted(), RUNS as u64);
    // Each request was answered 200 exactly once; every other request was a fault that was retried.
    assert_eq!(s.status(200), expected_requests);
    assert_eq!(s.requests, expected_requests + retried_faults(&s));
    // Bulk sends and state reads only: no run was still active after its chunk answered 0.
    assert_eq!(
        s.endpoint(Endpoint::UpstashBulkCancelIds) + s.endpoint(Endpoint::UpstashLogs),
        s.requests,
        "{s:?}"
    );
    assert_eq!(s.endpoint(Endpoint::UpstashCancelRun), 0);
    // Every run ends cancelled; finished runs stay as they were.
    let mut lost = 0;
    for id in &ids {
        let state = emu.state(id).expect("known run");
        if active.contains(id.as_str()) {
            lost += u64::from(state != UpstashState::Canceled);
        } else {
            assert!(
                matches!(state, UpstashState::Success | UpstashState::Failed),
                "{id}: {state:?}"
            );
        }
    }
    assert_eq!(lost, 0, "runs left running");
    // Every chunk started at once, so the bulk ends within one call's deadline (+ one attempt).
    assert!(elapsed <= DEADLINE + ATTEMPT_TIMEOUT, "took {elapsed:?}");
    rs::assert_no_leaks();

    let mut fields = vec![
        ("runs", RUNS.to_string()),
        ("chunks", chunks.to_string()),
        ("requests", expected_requests.to_string()),
        ("sends", expected_sends.to_string()),
        ("reads", expected_reads.to_string()),
    ];
    fields.extend(fault_fields(&s));
    fields.extend([
        ("cancelled", format!("{}/{}", report.cancelled, s.cancelled)),
        ("not_active", report.not_active.to_string()),
        ("lost", lost.to_string()),
        ("leaks", rs::leak_figures().3.to_string()),
        ("time", rs::secs(elapsed)),
    ]);
    rs::summary("upstash/storm/bulk-ids-10k", &fields);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_10k_single_cancels_under_a_fault_storm() {
    rs::capture_tracing();
    let emu = rs::upstash_emulator(Faults::none()).await;
    let ids = emu.seed_random(RUNS, Some(8));
    let active: HashSet<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| emu.state(id) == Some(UpstashState::Started))
        .collect();
    let client = rs::upstash_client(&emu.url(), rs::http(ATTEMPT_TIMEOUT, ATTEMPTS, DEADLINE));
    let timed = Timed::new(&client);
    let runs: Vec<RunRef> = ids.iter().map(RunRef::new).collect();
    let opts = BulkOptions::new().concurrency(256);

    emu.reset_stats();
    emu.faults().set(storm(12));
    let (report, elapsed) = rs::within("upstash 10k single", STORM_LIMIT, fan_out(&timed, &runs, &opts)).await;
    emu.faults().clear();
    rs::scan_result("upstash 10k single report", &report);
    let report = report.expect("the fan-out ran");
    let s = emu.stats();

    assert_storm_happened(&s);
    assert!(report.is_success(), "nothing may fail: {:?}", report.failed);
    assert_eq!(report.cancelled, s.cancelled, "report vs server");
    assert_eq!(report.cancelled, active.len() as u64);
    assert_eq!(report.not_active, (RUNS - active.len()) as u64);
    // `DELETE /v2/workflows/runs/{id}`, one request per run: `200 OK` for a running run, the
    // server's `404 {"error":"workflowRun not found"}` for one that was not; every other request
    // was an injected fault, retried.
    assert_eq!(s.status(200), active.len() as u64);
    assert_eq!(s.status(404), (RUNS - active.len()) as u64);
    assert_eq!(
        s.endpoint(Endpoint::UpstashCancelRun),
        s.requests,
        "only the path endpoint: {s:?}"
    );
    assert_eq!(s.requests, RUNS as u64 + retried_faults(&s));
    assert_eq!(report.requests_sent, RUNS as u64);
    // Per run: reported cancelled exactly when it was running and is now cancelled.
    assert_eq!(report.outcomes.len(), RUNS);
    let mut lost = 0;
    for o in &report.outcomes {
        let id = o.run.run_id();
        let state = emu.state(id).expect("known run");
        match o.outcome {
            CancelOutcome::Cancelled => {
                assert!(active.contains(id), "{id} reported cancelled but was not running");
                assert_eq!(state, UpstashState::Canceled, "{id} reported cancelled");
            }
            CancelOutcome::NotActive(_) => {
                assert!(!active.contains(id), "{id} was running but reported not active");
            }
            other => panic!("{id}: {other:?}"),
        }
        lost += u64::from(active.contains(id) && state != UpstashState::Canceled);
    }
    assert_eq!(lost, 0);
    // No single call outlived its retry deadline.
    assert!(
        timed.longest() <= DEADLINE + Duration::from_secs(1),
        "longest cancel {:?}",
        timed.longest()
    );
    rs::assert_no_leaks();

    let mut fields = vec![("runs", RUNS.to_string())];
    fields.extend(fault_fields(&s));
    fields.extend([
        ("cancelled", format!("{}/{}", report.cancelled, s.cancelled)),
        ("not_active", report.not_active.to_string()),
        ("lost", lost.to_string()),
        ("longest_call", rs::secs(timed.longest())),
        ("leaks", rs::leak_figures().3.to_string()),
        ("time", rs::secs(elapsed)),
    ]);
    rs::summary("upstash/storm/single-cancels-10k", &fields);
    emu.shutdown().await;
}

/// 10,000 Agno runs of workflows, agents and teams, each with its session.
fn agno_runs() -> Vec<AgnoRun> {
    (0..RUNS)
        .map(|i| {
            let id = format!("run-{i:05}-{:08x}", (i as u64).wrapping_mul(0x9E37_79B9) as u32);
            match i % 10 {
                0 => AgnoRun::agent("helper-agent", id),
                1 => AgnoRun::team("support-team", id),
                n => AgnoRun::workflow(format!("nightly-{}", n % 3), id),
            }
        })
        .collect()
}

fn run_ref(r: &AgnoRun) -> RunRef {
    RunRef::new(r.run_id.clone())
        .owned_by(r.owner_kind, r.owner_id.clone())
        .session(r.session_id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agno_10k_runs_under_a_fault_storm() {
    rs::capture_tracing();
    let emu = rs::agno_emulator(Faults::none()).await;
    let seeded = agno_runs();
    emu.seed_many(seeded.clone());
    let client: AgnoCanceller = rs::agno_client(&emu.url(), rs::http(ATTEMPT_TIMEOUT, ATTEMPTS, DEADLINE));
    let timed = Timed::new(&client);
    let runs: Vec<RunRef> = seeded.iter().map(run_ref).collect();
    let opts = BulkOptions::new().concurrency(256);

    emu.reset_stats();
    emu.faults().set(storm(13));
    // `AgnoCanceller::cancel_many` is this same fan-out over `cancel` after validation; going
    // through `fan_out` directly lets the wrapper time every call.
    let (report, elapsed) = rs::within("agno 10k", STORM_LIMIT, fan_out(&timed, &runs, &opts)).await;
    emu.faults().clear();
    rs::scan_result("agno 10k report", &report);
    let report = report.expect("the fan-out ran");
    let s = emu.stats();
    rs::scan_debug("agno stats", &s);

    assert_storm_happened(&s);
    assert!(report.is_success(), "nothing may fail: {:?}", report.failed);
    // Agno never says "cancelled": a 200 is a cancel requested.
    assert_eq!(report.cancelled, 0);
    assert_eq!(report.not_active, 0, "every run was running");
    assert_eq!(report.requested, RUNS as u64);
    // The report's counts equal the server's own.
    assert_eq!(report.requested, s.cancelled, "report vs server");
    // One successful cancel per run (plus, where the canceller reads the state first, one
    // successful read): every other request was an injected fault, retried.
    let cancels_ok = s.status(200);
    assert!(cancels_ok >= RUNS as u64, "{s:?}");
    assert_eq!(s.requests, cancels_ok + retried_faults(&s));
    let mut lost = 0;
    for o in &report.outcomes {
        let id = o.run.run_id();
        assert_eq!(o.outcome, CancelOutcome::Requested, "{id}");
        assert!(
            emu.cancel_requested(id),
            "{id} reported requested, but the server has no cancel"
        );
        lost += u64::from(emu.status(id) != Some(AgnoStatus::Cancelled));
    }
    assert_eq!(report.outcomes.len(), RUNS);
    assert_eq!(lost, 0, "runs not cancelled");
    assert!(
        timed.longest() <= DEADLINE + Duration::from_secs(1),
        "longest cancel {:?}",
        timed.longest()
    );
    rs::assert_no_leaks();

    let mut fields = vec![("runs", RUNS.to_string())];
    fields.extend(fault_fields(&s));
    fields.extend([
        ("requested", format!("{}/{}", report.requested, s.cancelled)),
        ("lost", lost.to_string()),
        ("longest_call", rs::secs(timed.longest())),
        ("leaks", rs::leak_figures().3.to_string()),
        ("time", rs::secs(elapsed)),
    ]);
    rs::summary("agno/storm/cancels-10k", &fields);
    emu.shutdown().await;
}

/// A server that fails every call: the retries stop at the deadline, not at the attempt count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_the_deadline_when_faults_never_stop() {
    rs::capture_tracing();
    let deadline = Duration::from_millis(1500);
    let cfg = rs::http(Duration::from_secs(2), 1000, deadline);

    let up = rs::upstash_emulator(Faults::none().errors(1.0).drops(0.3).seed(3)).await;
    up.seed(wfcancel_emulator::UpstashRun::new(
        "wfr_deadline",
        "https://app.example.com/wf",
    ));
    let client = rs::upstash_client(&up.url(), cfg.clone());
    let (r, elapsed) = rs::within(
        "upstash deadline",
        deadline * 3,
        client.cancel(&RunRef::new("wfr_deadline")),
    )
    .await;
    rs::scan_result("upstash deadline", &r);
    match &r {
        Err(CancelError::Provider { status: Some(503), .. }) | Err(CancelError::Transport { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(r.as_ref().is_err_and(CancelError::is_retryable));
    assert!(
        elapsed >= deadline / 2 && elapsed <= deadline + Duration::from_secs(1),
        "{elapsed:?}"
    );
    let s = up.stats();
    assert!(s.requests >= 5, "it retried: {s:?}");
    assert_eq!(up.state("wfr_deadline"), Some(UpstashState::Started));
    rs::summary(
        "upstash/deadline/always-failing",
        &[
            ("deadline", rs::secs(deadline)),
            ("calls", s.requests.to_string()),
            ("faults", retried_faults(&s).to_string()),
            (
                "error",
                r.as_ref().err().map(|e| e.kind().to_string()).unwrap_or_default(),
            ),
            ("time", rs::secs(elapsed)),
        ],
    );

    let ag = rs::agno_emulator(Faults::none().errors(1.0).drops(0.3).seed(4)).await;
    ag.seed(AgnoRun::workflow("wf", "run-deadline"));
    let client = rs::agno_client(&ag.url(), cfg.clone());
    let run = RunRef::new("run-deadline").workflow("wf");
    let (r, elapsed) = rs::within("agno deadline", deadline * 3, client.cancel(&run)).await;
    rs::scan_result("agno deadline", &r);
    assert!(r.as_ref().is_err_and(CancelError::is_retryable), "{r:?}");
    assert!(
        elapsed >= deadline / 2 && elapsed <= deadline + Duration::from_secs(1),
        "{elapsed:?}"
    );
    let s = ag.stats();
    assert!(s.requests >= 5, "it retried: {s:?}");
    assert!(!ag.cancel_requested("run-deadline"));
    rs::summary(
        "agno/deadline/always-failing",
        &[
            ("deadline", rs::secs(deadline)),
            ("calls", s.requests.to_string()),
            ("faults", retried_faults(&s).to_string()),
            (
                "error",
                r.as_ref().err().map(|e| e.kind().to_string()).unwrap_or_default(),
            ),
            ("time", rs::secs(elapsed)),
        ],
    );
    up.shutdown().await;
    ag.shutdown().await;
    rs::assert_no_leaks();
}

/// A `Retry-After` longer than the time left is not slept: the 429 comes back at once, with
/// the provider's retry time in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_past_the_deadline_is_returned_not_slept() {
    rs::capture_tracing();
    let deadline = Duration::from_secs(2);
    let cfg = rs::http(Duration::from_secs(2), 10, deadline);
    let throttled = || Faults::none().throttle(1.0).retry_after_secs(30).seed(5);

    let up = rs::upstash_emulator(throttled()).await;
    let client = rs::upstash_client(&up.url(), cfg.clone());
    let (r, elapsed) = rs::within("upstash 429", deadline, client.cancel(&RunRef::new("wfr_x"))).await;
    rs::scan_result("upstash 429", &r);
    match &r {
        Err(CancelError::RateLimited { retry_after, .. }) => {
            assert!(
                retry_after.is_some_and(|d| d >= Duration::from_secs(29)),
                "{retry_after:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        elapsed < Duration::from_millis(1500),
        "the 30 s wait was not slept: {elapsed:?}"
    );
    assert_eq!(up.stats().requests, 1);

    let ag = rs::agno_emulator(throttled()).await;
    let client = rs::agno_client(&ag.url(), cfg);
    let (r, elapsed) = rs::within("agno 429", deadline, client.cancel(&RunRef::new("r").workflow("wf"))).await;
    rs::scan_result("agno 429", &r);
    match &r {
        Err(CancelError::RateLimited { retry_after, .. }) => {
            assert_eq!(*retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        elapsed < Duration::from_millis(1500),
        "the 30 s wait was not slept: {elapsed:?}"
    );
    assert_eq!(ag.stats().requests, 1);
    rs::summary(
        "both/deadline/retry-after-30s-vs-2s",
        &[
            ("calls", "1+1".into()),
            ("slept", "0".into()),
            ("error", "rate_limited".into()),
        ],
    );
    up.shutdown().await;
    ag.shutdown().await;
    rs::assert_no_leaks();
}
