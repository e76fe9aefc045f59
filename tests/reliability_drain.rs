//! Upstash drains against a server that stops at the first run it cannot cancel (as the real one
//! does: "bulk cancel stops at the first run it cannot cancel; running it again continues"), and
//! against one that never reaches 0.
//!
//! The emulator models the stop with `UpstashRun::uncancellable_once`: a filtered round stops
//! just before such a run and answers the count so far; the mark is then cleared, so the next
//! round goes past it. When the run is the first of a round, that round answers 0 while runs
//! remain, which is why a drain ends only after two zero rounds in a row
//! (`wfcancel_upstash::DRAIN_ZERO_ROUNDS`).
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
use wfcancel_emulator::{FaultKind, Faults, UpstashEmulator, UpstashRun, UpstashState};

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

/// The rounds a drain of `n` runs with page size `page` takes when the runs at `marks` stop a
/// round once each, as the emulator (and the real server) behave, and the drain ends after
/// `DRAIN_ZERO_ROUNDS` zero rounds in a row: `(rounds, per-round counts)`. A mark at the head
/// of a round makes that round answer 0.
fn simulate(n: usize, page: usize, marks: &BTreeSet<usize>) -> (u32, Vec<usize>) {
    let mut marks = marks.clone();
    let mut pos = 0;
    let mut counts = Vec::new();
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
        zeros = if cancelled == 0 { zeros + 1 } else { 0 };
        if zeros == DRAIN_ZERO_ROUNDS {
            return (counts.len() as u32, counts);
        }
    }
}

async fn drain(label: &str, marks: &[usize], selector: Selector, faults: Faults) {
    rs::capture_tracing();
    let marks: BTreeSet<usize> = marks.iter().copied().collect();
    let (rounds, _) = simulate(RUNS, PAGE, &marks);
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
    // Each stop costs one extra round, and the final zero is confirmed by one more.
    assert_eq!(report.rounds, rounds, "rounds (simulated {rounds})");
    assert_eq!(report.requests_sent, u64::from(report.rounds));
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
/// Now a zero must be confirmed by a second zero round in a row, for a filter and for
/// cancel-all alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_at_the_head_of_a_round_does_not_end_the_drain() {
    rs::capture_tracing();
    let marks: BTreeSet<usize> = [0, 50].into_iter().collect();
    let (rounds, counts) = simulate(RUNS, PAGE, &marks);
    assert_eq!(
        counts[..4],
        [0, 50, 0, 50],
        "the first and the third round start at a stop"
    );
    for selector in [
        Selector::filter(RunFilter::new().label("nightly")),
        Selector::cancel_all_runs(),
    ] {
        let emu = rs::upstash_emulator(Faults::none()).await;
        let (nightly, decoys) = seed(&emu, &marks);
        let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 3, Duration::from_secs(30)));
        let seen: Arc<std::sync::Mutex<Vec<(u32, u64)>>> = Arc::default();
        let seen2 = Arc::clone(&seen);
        let opts = BulkOptions::new()
            .page_size(PAGE)
            .drain(true)
            .on_progress(move |p| seen2.lock().expect("lock").push((p.rounds, p.last_round_cancelled)));
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
        assert_eq!(left, 0);
        assert_eq!(report.cancelled, emu.cancelled());
        assert_eq!(report.requests_sent, u64::from(report.rounds));
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), report.rounds as usize, "progress after every round");
        assert_eq!(seen[0], (1, 0), "the first round cancelled nothing");
        assert_eq!(seen[seen.len() - 2..], [(report.rounds - 1, 0), (report.rounds, 0)]);
        if let Selector::Filter(_) = selector {
            assert_eq!(report.rounds, rounds, "simulated {counts:?}");
            assert!(decoys.iter().all(|id| emu.state(id) == Some(UpstashState::Started)));
        } else {
            assert_eq!(report.cancelled as usize, RUNS + decoys.len());
            assert_eq!(emu.active_count(), 0, "runs left after draining everything");
        }
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
    let (rounds, counts) = simulate(RUNS, PAGE, &marks);
    assert_eq!(counts.iter().sum::<usize>(), RUNS);
    assert_eq!(counts[..5], [7, 50, 3, 1, 50]);
    assert_eq!(
        counts[counts.len() - 2..],
        [0, 0],
        "a drain ends on two zero rounds in a row"
    );
    assert!(counts[..counts.len() - 2].iter().all(|&c| c > 0));
    assert_eq!(rounds as usize, counts.len());
}
