//! Upstash drains against a server that stops at the first run it cannot cancel (as the real one
//! does: "bulk cancel stops at the first run it cannot cancel; running it again continues"), and
//! against one that never reaches 0.
//!
//! The emulator models the stop with `UpstashRun::uncancellable_once`: a filtered round stops
//! just before such a run and answers the count so far; the mark is then cleared, so the next
//! round goes past it. When the run is the first of a round, that round answers 0 while runs
//! remain. So a round answering 0 proves nothing by itself: the drain then reads the logs for
//! active runs matching the filter (`GET /v2/workflows/logs?state=RUN_STARTED&count=1000`,
//! matched client-side). None left → `drained = true` at once; one left → one more round; and
//! after `wfcancel_upstash::DRAIN_ZERO_ROUNDS` (two) zero rounds in a row the drain ends with
//! `drained = false` and `not_confirmed` saying why.
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reliability_support as rs;
use wfcancel::upstash::DRAIN_ZERO_ROUNDS;
use wfcancel::{BulkOptions, RunFilter, Selector, WorkflowCanceller};
use wfcancel_emulator::{
    Endpoint, FaultKind, Faults, Scenario, ScenarioRule, UpstashEmulator, UpstashRun, UpstashState,
};

const RUNS: usize = 1000;
const PAGE: usize = 50;
const LIMIT: Duration = Duration::from_secs(60);
const T0: u64 = 1_700_000_000_000;

/// `RUNS` runs labelled `nightly`, oldest first, plus `RUNS / 10` decoys labelled `adhoc`
/// interleaved in time; the runs at `marks` (positions among the nightly ones) cannot be
/// cancelled once.
fn seed(emu: &UpstashEmulator, marks: &BTreeSet<usize>) -> (Vec<String>, Vec<String>) {
    let mut nightly = Vec::new();
    let mut decoys = Vec::new();
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let id = format!("wfr_drain_{i:04}");
        let mut run = UpstashRun::new(&id, "https://app.example.com/api/workflow/nightly")
            .label("nightly")
            .created_at(T0 + 10 * i as u64);
        if marks.contains(&i) {
            run = run.uncancellable_once();
        }
        runs.push(run);
        nightly.push(id);
        if i % 10 == 5 {
            let id = format!("wfr_decoy_{i:04}");
            runs.push(
                UpstashRun::new(&id, "https://app.example.com/api/workflow/nightly")
                    .label("adhoc")
                    .created_at(T0 + 10 * i as u64 + 1),
            );
            decoys.push(id);
        }
    }
    emu.seed_many(runs);
    (nightly, decoys)
}

/// What a drain of `n` runs with page size `page` does when the runs at `marks` stop a round
/// once each, as the emulator (and the real server) behave: the per-round counts, the logs reads
/// (one after every round that answers 0) and whether it ends drained. A mark at the head of a
/// round makes that round answer 0; the logs read after it still shows matching runs, so one
/// more round follows. The drain ends drained at the first zero round after which nothing
/// matching is left, and not drained after `DRAIN_ZERO_ROUNDS` zero rounds in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sim {
    counts: Vec<usize>,
    reads: u32,
    drained: bool,
}

impl Sim {
    fn rounds(&self) -> u32 {
        self.counts.len() as u32
    }

    /// Requests a drain sends: its rounds and its logs reads.
    fn requests(&self) -> u64 {
        u64::from(self.rounds()) + u64::from(self.reads)
    }
}

fn simulate(n: usize, page: usize, marks: &BTreeSet<usize>) -> Sim {
    let mut marks = marks.clone();
    let mut pos = 0;
    let mut counts = Vec::new();
    let mut reads = 0;
    let mut zeros = 0;
    loop {
        let end = (pos + page).min(n);
        let cancelled = match marks.range(pos..end).next().copied() {
            Some(m) => {
                marks.remove(&m);
                m - pos
            }
            None => end - pos,
        };
        counts.push(cancelled);
        pos += cancelled;
        if cancelled > 0 {
            zeros = 0;
            continue;
        }
        zeros += 1;
        reads += 1;
        if pos == n || zeros == DRAIN_ZERO_ROUNDS {
            return Sim {
                counts,
                reads,
                drained: pos == n,
            };
        }
    }
}

async fn drain(label: &str, marks: &[usize], selector: Selector, faults: Faults) {
    rs::capture_tracing();
    let marks: BTreeSet<usize> = marks.iter().copied().collect();
    let sim = simulate(RUNS, PAGE, &marks);
    assert!(sim.drained, "{sim:?}");
    let rounds = sim.rounds();
    let emu = rs::upstash_emulator(Faults::none()).await;
    let (nightly, decoys) = seed(&emu, &marks);
    let client = rs::upstash_client(
        &emu.url(),
        rs::http(Duration::from_secs(5), 16, Duration::from_secs(30)),
    );
    let opts = BulkOptions::new().page_size(PAGE).drain(true).max_rounds(1000);
    emu.faults().set(faults);
    let (report, elapsed) = rs::within(label, LIMIT, client.cancel_many(&selector, &opts)).await;
    emu.faults().clear();
    rs::scan_result(label, &report);
    let report = report.expect("the drain ran");
    let s = emu.stats();

    assert!(report.is_success(), "{:?}", report.failed);
    assert!(report.drained, "{report:?}");
    assert_eq!(report.not_confirmed, None, "{report:?}");
    // Each stop costs one extra round, and every round that answers 0 costs one logs read; the
    // last zero round's read finds nothing left.
    assert_eq!(report.rounds, rounds, "rounds (simulated {sim:?})");
    assert_eq!(
        report.requests_sent,
        sim.requests(),
        "rounds + logs reads (simulated {sim:?})"
    );
    // What reached the server (retries of throttled requests included).
    let sends = s.endpoint(Endpoint::UpstashBulkCancelFilter) + s.endpoint(Endpoint::UpstashBulkCancelAll);
    let reads = s.endpoint(Endpoint::UpstashLogs);
    // Only 429s are retried in a drain (a 5xx or a dropped answer would have failed it).
    let refused = s.fault(FaultKind::Throttled) + s.fault(FaultKind::RateLimited);
    if refused == 0 {
        assert_eq!(
            (sends, reads),
            (u64::from(sim.rounds()), u64::from(sim.reads)),
            "rounds and logs reads the server saw"
        );
    } else {
        assert!(
            sends >= u64::from(sim.rounds()) && reads >= u64::from(sim.reads),
            "{sends} sends, {reads} reads"
        );
        assert_eq!(
            sends + reads,
            sim.requests() + refused,
            "every extra request retried a 429"
        );
    }
    let expected = match selector {
        Selector::All(_) => RUNS + decoys.len(),
        _ => RUNS,
    };
    assert_eq!(report.cancelled, expected as u64);
    assert_eq!(report.cancelled, s.cancelled, "report vs server");
    let left = nightly
        .iter()
        .filter(|id| emu.state(id) != Some(UpstashState::Canceled))
        .count();
    assert_eq!(left, 0, "runs left after the drain");
    if !matches!(selector, Selector::All(_)) {
        assert!(
            decoys.iter().all(|id| emu.state(id) == Some(UpstashState::Started)),
            "a run outside the filter was cancelled"
        );
    }
    rs::assert_no_leaks();
    rs::summary(
        label,
        &[
            ("runs", expected.to_string()),
            ("stops", marks.len().to_string()),
            ("rounds", report.rounds.to_string()),
            ("logs reads", reads.to_string()),
            ("calls", s.requests.to_string()),
            (
                "faults",
                (s.fault(FaultKind::ServerError) + s.fault(FaultKind::Throttled) + s.fault(FaultKind::Dropped))
                    .to_string(),
            ),
            ("cancelled", format!("{}/{}", report.cancelled, s.cancelled)),
            ("left", left.to_string()),
            ("time", rs::secs(elapsed)),
        ],
    );
    emu.shutdown().await;
}

/// Stops in the middle of rounds, two in a row, and one just before the end.
const MARKS: [usize; 6] = [7, 60, 61, 130, 499, 998];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_drain_goes_past_every_run_the_server_stopped_at() {
    let filter = Selector::filter(RunFilter::new().label("nightly"));
    drain("upstash/drain/filter-with-stops", &MARKS, filter, Faults::none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_of_everything_goes_past_every_stop() {
    // The decoys are cancelled too here; the marks are positions among the nightly runs, and
    // the decoys sit between them in time, so simulate with the same marks shifted.
    rs::capture_tracing();
    let emu = rs::upstash_emulator(Faults::none()).await;
    let marks: BTreeSet<usize> = MARKS.iter().copied().collect();
    let (nightly, decoys) = seed(&emu, &marks);
    let client = rs::upstash_client(
        &emu.url(),
        rs::http(Duration::from_secs(5), 16, Duration::from_secs(30)),
    );
    let opts = BulkOptions::new().page_size(PAGE).drain(true);
    let (report, _) = rs::within(
        "drain all",
        LIMIT,
        client.cancel_many(&Selector::cancel_all_runs(), &opts),
    )
    .await;
    rs::scan_result("drain all", &report);
    let report = report.expect("ran");
    assert!(report.is_success() && report.drained, "{report:?}");
    assert_eq!(report.cancelled as usize, nightly.len() + decoys.len());
    assert_eq!(report.cancelled, emu.cancelled());
    assert_eq!(emu.active_count(), 0);
    assert!(report.rounds as usize > (RUNS + decoys.len()) / PAGE + MARKS.len() - 1);
    rs::summary(
        "upstash/drain/all-with-stops",
        &[
            ("runs", (nightly.len() + decoys.len()).to_string()),
            ("stops", MARKS.len().to_string()),
            ("rounds", report.rounds.to_string()),
            ("cancelled", format!("{}/{}", report.cancelled, emu.cancelled())),
            ("left", emu.active_count().to_string()),
        ],
    );
    emu.shutdown().await;
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_with_stops_under_a_fault_storm_still_counts_exactly() {
    // A drain round is retried only on faults refused before anything was done (429s): a 5xx or
    // a dropped connection may come after the server cancelled up to `count` runs, so it ends the
    // drain (see `a_5xx_ends_a_drain_without_repeating_the_round`).
    let faults = Faults::none()
        .throttle(0.10)
        .retry_after_secs(1)
        .latency(Duration::from_millis(1))
        .jitter(Duration::from_millis(4))
        .seed(31);
    let filter = Selector::filter(RunFilter::new().label("nightly"));
    drain("upstash/drain/filter-stops-storm", &MARKS, filter, faults).await;
}

/// A round answered `503` may have cancelled its runs before failing: it is not repeated (that
/// could cancel up to `count` more runs for one round). The drain ends on it, not drained, with
/// the round in `failed`, one request per round, and counts that still equal the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_ends_a_drain_without_repeating_the_round() {
    rs::capture_tracing();
    let emu = rs::upstash_emulator(Faults::none()).await;
    seed(&emu, &BTreeSet::new());
    let client = rs::upstash_client(
        &emu.url(),
        rs::http(Duration::from_secs(5), 16, Duration::from_secs(30)),
    );
    let opts = BulkOptions::new().page_size(PAGE).drain(true);
    emu.faults().set(Faults::none().errors(0.30).seed(7));
    let (report, _) = rs::within(
        "drain under 503s",
        LIMIT,
        client.cancel_many(&Selector::filter(RunFilter::new().label("nightly")), &opts),
    )
    .await;
    emu.faults().clear();
    rs::scan_result("drain under 503s", &report);
    let report = report.expect("the drain ran");
    let s = emu.stats();
    assert!(!report.drained);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].round, Some(report.rounds), "the last round failed");
    assert_eq!(report.failed[0].error.status(), Some(503));
    assert_eq!(
        s.requests,
        u64::from(report.rounds),
        "one request per round, none repeated"
    );
    assert_eq!(report.cancelled, s.cancelled, "report vs server");
    assert_eq!(report.cancelled, PAGE as u64 * u64::from(report.rounds - 1));
    emu.shutdown().await;
    rs::assert_no_leaks();
}

/// Regression (RELIABILITY.md, "Findings"): when the run the server stops at is the first of a
/// round, the round answers `{"cancelled":0}` with runs still matching. A drain used to take that
/// for "nothing left" and end with `drained = true` after one round, every run still running.
/// Now a zero round is followed by a logs read: matching runs still active → one more round, for
/// a filter and for cancel-all alike; the drain ends drained only when the read finds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_at_the_head_of_a_round_does_not_end_the_drain() {
    rs::capture_tracing();
    let marks: BTreeSet<usize> = [0, 50].into_iter().collect();
    let sim = simulate(RUNS, PAGE, &marks);
    assert_eq!(
        sim.counts[..4],
        [0, 50, 0, 50],
        "the first and the third round start at a stop"
    );
    assert_eq!(
        (sim.reads, sim.drained),
        (3, true),
        "a logs read after each zero round: two find runs left, the last one none ({sim:?})"
    );
    for selector in [
        Selector::filter(RunFilter::new().label("nightly")),
        Selector::cancel_all_runs(),
    ] {
        let emu = rs::upstash_emulator(Faults::none()).await;
        let (nightly, decoys) = seed(&emu, &marks);
        let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 3, Duration::from_secs(30)));
        // (round, cancelled by that round, runs done so far)
        let seen: Arc<std::sync::Mutex<Vec<(u32, u64, u64)>>> = Arc::default();
        let seen2 = Arc::clone(&seen);
        let opts = BulkOptions::new().page_size(PAGE).drain(true).on_progress(move |p| {
            seen2
                .lock()
                .expect("lock")
                .push((p.rounds, p.last_round_cancelled, p.done))
        });
        let (report, _) = rs::within("head stop", LIMIT, client.cancel_many(&selector, &opts)).await;
        rs::scan_result("head stop", &report);
        let report = report.expect("ran");
        let left = nightly
            .iter()
            .filter(|id| emu.state(id) != Some(UpstashState::Canceled))
            .count();
        assert!(
            !(report.drained && left > 0),
            "the drain says drained after {} round(s), yet {left} runs are still running",
            report.rounds
        );
        assert!(report.is_success() && report.drained, "{report:?}");
        assert_eq!(report.not_confirmed, None);
        assert_eq!(left, 0);
        assert_eq!(report.cancelled, emu.cancelled());
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), report.rounds as usize, "progress after every round");
        assert_eq!(seen[0], (1, 0, 0), "the first round cancelled nothing");
        // `Progress::rounds` numbers the rounds; `Progress::done` counts runs, never rounds.
        let mut done = 0;
        for (i, &(round, last, so_far)) in seen.iter().enumerate() {
            assert_eq!(round as usize, i + 1, "{seen:?}");
            done += last;
            assert_eq!(so_far, done, "runs done after round {round}: {seen:?}");
        }
        assert_eq!(done, report.cancelled);
        // One zero round ends the drain once the logs show nothing left: the round before it
        // cancelled something.
        let n = seen.len();
        assert_eq!(
            (seen[n - 1].0, seen[n - 1].1),
            (report.rounds, 0),
            "the last round cancelled nothing"
        );
        assert!(
            seen[n - 2].1 > 0,
            "one zero round, then the logs read, end the drain: {seen:?}"
        );
        // Every zero round (and only those) cost one logs read.
        let zero_rounds = seen.iter().filter(|s| s.1 == 0).count() as u64;
        assert_eq!(report.requests_sent, u64::from(report.rounds) + zero_rounds);
        let stats = emu.stats();
        assert_eq!(
            stats.endpoint(Endpoint::UpstashLogs),
            zero_rounds,
            "logs reads the server saw"
        );
        if let Selector::Filter(_) = selector {
            assert_eq!(report.rounds, sim.rounds(), "simulated {sim:?}");
            assert_eq!(report.requests_sent, sim.requests(), "simulated {sim:?}");
            assert_eq!(
                stats.endpoint(Endpoint::UpstashBulkCancelFilter),
                u64::from(sim.rounds())
            );
            assert!(decoys.iter().all(|id| emu.state(id) == Some(UpstashState::Started)));
        } else {
            assert_eq!(report.cancelled as usize, RUNS + decoys.len());
            assert_eq!(emu.active_count(), 0, "runs left after draining everything");
            assert_eq!(stats.endpoint(Endpoint::UpstashBulkCancelAll), u64::from(report.rounds));
        }
        emu.shutdown().await;
    }
    rs::assert_no_leaks();
}

/// A run the server keeps answering 0 for while the logs still show it `RUN_STARTED` (here every
/// bulk cancel answers `{"cancelled":0}`): the drain does not call it done. After a zero round
/// the logs read finds a matching active run, so one more round is sent; after the second zero
/// round in a row the drain ends with `drained = false` and `not_confirmed` naming the run. Runs
/// outside the filter that are active (the decoys) do not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_run_still_active_after_two_zero_rounds_is_not_drained() {
    rs::capture_tracing();
    let emu = rs::upstash_emulator(Faults::none()).await;
    let (nightly, decoys) = seed(&emu, &BTreeSet::new());
    emu.faults().add_scenario(
        ScenarioRule::new(Scenario::respond(200, "application/json", r#"{"cancelled":0}"#))
            .method("DELETE")
            .path_prefix("/v2/workflows/runs"),
    );
    let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 3, Duration::from_secs(30)));
    let opts = BulkOptions::new().page_size(PAGE).drain(true);
    let (report, _) = rs::within(
        "never cancelled",
        LIMIT,
        client.cancel_many(&Selector::filter(RunFilter::new().label("nightly")), &opts),
    )
    .await;
    rs::scan_result("never cancelled", &report);
    let report = report.expect("ran");
    assert!(!report.drained, "{report:?}");
    assert!(report.is_success(), "nothing failed: {report:?}");
    assert_eq!((report.rounds, report.cancelled), (DRAIN_ZERO_ROUNDS, 0), "{report:?}");
    assert_eq!(
        report.requests_sent,
        2 * u64::from(DRAIN_ZERO_ROUNDS),
        "a logs read after each zero round"
    );
    let why = report.not_confirmed.as_deref().expect("not_confirmed says why");
    assert!(
        why.contains("still RUN_STARTED") && nightly.iter().any(|id| why.contains(id.as_str())),
        "{why}"
    );
    assert!(
        !decoys.iter().any(|id| why.contains(id.as_str())),
        "a decoy is outside the filter: {why}"
    );
    let s = emu.stats();
    assert_eq!(
        s.endpoint(Endpoint::UpstashBulkCancelFilter),
        u64::from(DRAIN_ZERO_ROUNDS)
    );
    assert_eq!(s.endpoint(Endpoint::UpstashLogs), u64::from(DRAIN_ZERO_ROUNDS));
    assert_eq!(emu.cancelled(), 0);
    emu.shutdown().await;
    rs::assert_no_leaks();
}

/// A filter on a field the logs do not show for some active runs (here the flow-control key,
/// absent from the decoys' entries) cannot be checked client-side: the drain cannot confirm
/// that nothing matching is left, so after two zero rounds it ends with `drained = false` and
/// the reason. When every active run's entry shows the field, the same drain is confirmed after
/// one zero round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_the_logs_cannot_check_is_not_confirmed() {
    rs::capture_tracing();
    for other_key in [None, Some("weekly")] {
        let emu = rs::upstash_emulator(Faults::none()).await;
        let url = "https://app.example.com/api/workflow/nightly";
        let mut runs = Vec::new();
        for i in 0..120u64 {
            let mut run = UpstashRun::new(format!("wfr_fck_{i:03}"), url).created_at(T0 + i);
            if i % 3 == 0 {
                run = run.flow_control_key("nightly-key");
            } else if let Some(k) = other_key {
                run = run.flow_control_key(k);
            }
            runs.push(run);
        }
        emu.seed_many(runs);
        let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 3, Duration::from_secs(30)));
        let opts = BulkOptions::new().page_size(PAGE).drain(true);
        let selector = Selector::filter(RunFilter::new().flow_control_key("nightly-key"));
        let (report, _) = rs::within("flow-control key", LIMIT, client.cancel_many(&selector, &opts)).await;
        rs::scan_result("flow-control key", &report);
        let report = report.expect("ran");
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.cancelled, 40, "every run with the key, and no other");
        assert_eq!(report.cancelled, emu.cancelled());
        assert_eq!(emu.active_count(), 80);
        // Round 1 cancels 40 (fewer than a page), round 2 answers 0 and the logs are read.
        match other_key {
            None => {
                assert!(!report.drained, "{report:?}");
                let why = report.not_confirmed.as_deref().expect("why");
                assert!(why.contains("flow-control key"), "{why}");
                assert_eq!(report.rounds, 1 + DRAIN_ZERO_ROUNDS, "{report:?}");
                assert_eq!(
                    report.requests_sent,
                    u64::from(report.rounds) + u64::from(DRAIN_ZERO_ROUNDS)
                );
            }
            Some(_) => {
                assert!(report.drained, "{report:?}");
                assert_eq!(report.not_confirmed, None);
                assert_eq!((report.rounds, report.requests_sent), (2, 3), "{report:?}");
            }
        }
        assert_eq!(
            emu.stats().endpoint(Endpoint::UpstashLogs),
            report.requests_sent - u64::from(report.rounds)
        );
        emu.shutdown().await;
    }
    rs::assert_no_leaks();
}

/// A server that cancels something on every call and never answers 0: the drain stops at the
/// round limit, says it did not drain, and sent exactly that many requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_round_limit_stops_a_server_that_never_reaches_zero() {
    rs::capture_tracing();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let app = axum::Router::new().fallback(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                format!("{{\"cancelled\":{}}}", 1 + n % 3),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = rs::upstash_client(&url, rs::http(Duration::from_secs(5), 3, Duration::from_secs(30)));
    for (selector, max) in [
        (Selector::filter(RunFilter::new().label("endless")), 25u32),
        (Selector::cancel_all_runs(), 40),
    ] {
        calls.store(0, Ordering::SeqCst);
        let opts = BulkOptions::new().drain(true).max_rounds(max);
        let (report, elapsed) = rs::within("endless", LIMIT, client.cancel_many(&selector, &opts)).await;
        rs::scan_result("endless", &report);
        let report = report.expect("ran");
        assert!(!report.drained, "{report:?}");
        assert!(report.is_success());
        assert_eq!(report.rounds, max);
        assert_eq!(report.requests_sent, u64::from(max));
        assert_eq!(calls.load(Ordering::SeqCst), u64::from(max), "requests the server saw");
        let expected: u64 = (0..u64::from(max)).map(|n| 1 + n % 3).sum();
        assert_eq!(report.cancelled, expected);
        rs::summary(
            &format!("upstash/drain/never-zero-limit-{max}"),
            &[
                ("rounds", report.rounds.to_string()),
                ("calls", calls.load(Ordering::SeqCst).to_string()),
                ("drained", report.drained.to_string()),
                ("time", rs::secs(elapsed)),
            ],
        );
    }
    server.abort();
    rs::assert_no_leaks();
}

#[test]
fn the_simulation_matches_a_hand_count() {
    let marks: BTreeSet<usize> = MARKS.iter().copied().collect();
    let sim = simulate(RUNS, PAGE, &marks);
    let counts = &sim.counts;
    assert_eq!(counts.iter().sum::<usize>(), RUNS);
    assert_eq!(counts[..5], [7, 50, 3, 1, 50]);
    assert!(sim.drained);
    assert_eq!(counts[counts.len() - 1], 0, "a drain ends on a zero round");
    assert!(
        counts[counts.len() - 2] > 0,
        "one zero round is enough when the logs show nothing left"
    );
    let zeros = counts.iter().filter(|&&c| c == 0).count();
    assert_eq!(sim.reads as usize, zeros, "one logs read per zero round");
    assert_eq!(sim.requests(), counts.len() as u64 + zeros as u64);
    // 130 → 499 is 7 pages and a stop after 19; 499 → 998 is 9 pages and a stop after 49; then
    // 998 and 999, and one zero round whose logs read finds nothing left.
    assert_eq!(counts[counts.len() - 3..], [49, 2, 0]);
    assert!(counts[..counts.len() - 1].iter().all(|&c| c > 0), "{counts:?}");
    assert_eq!((sim.rounds(), sim.reads), (26, 1), "{sim:?}");
}
