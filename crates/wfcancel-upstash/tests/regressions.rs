//! Regression tests for the review findings: short chunks re-sent, single cancels confirmed,
//! unrepeatable calls not retried, 429 families, 404 meaning a wrong base URL, bulk action
//! states, and the last progress after an abort.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mockito::{Matcher, Server, ServerGuard};
use wfcancel_core::Inactive;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, NotFoundKind, Progress, RateLimitKind, RetryPolicy, RunFilter, RunRef,
    Selector, WaitOptions, WorkflowCanceller,
};
use wfcancel_emulator::{Scenario, ScenarioRule, UpstashConfig, UpstashEmulator, UpstashRun, UpstashState};
use wfcancel_upstash::{BulkActionState, UpstashCanceller};

const RUNS: &str = "/v2/workflows/runs";
const URL: &str = "https://app.example/wf";

/// Retries on: five attempts, 1 ms backoff.
fn retrying() -> HttpConfig {
    HttpConfig::default().retry(
        RetryPolicy::default()
            .max_attempts(5)
            .initial_backoff(Duration::from_millis(1))
            .max_backoff(Duration::from_millis(2)),
    )
}

fn client(base: &str, token: &str, http: HttpConfig) -> UpstashCanceller {
    UpstashCanceller::builder()
        .token(token)
        .base_url(base)
        .http_config(http)
        .build()
        .unwrap()
}

async fn emulator() -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default()).await.unwrap()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}_{i:02}")).collect()
}

fn progress_log(opts: BulkOptions) -> (BulkOptions, Arc<Mutex<Vec<Progress>>>) {
    let log: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let l = log.clone();
    (opts.on_progress(move |p| l.lock().unwrap().push(p.clone())), log)
}

// ---------------------------------------------------------------------------------------------
// 1. A chunk answering less than its size is sent again before anything is booked not active.

/// Run #2 of ten cannot be cancelled the first time: the server stops there and answers 2. The
/// old code booked the other 8 as not active and left them running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_stopped_part_way_is_sent_again_until_every_run_is_cancelled() {
    let emu = emulator().await;
    let ids = ids("wfr_stop", 10);
    for (i, id) in ids.iter().enumerate() {
        let run = UpstashRun::new(id, URL);
        emu.seed(if i == 2 { run.uncancellable_once() } else { run });
    }
    let c = client(&emu.url(), emu.token(), retrying());
    emu.reset_stats();
    let report = c
        .cancel_many(&Selector::ids(ids.iter().cloned()), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.not_active), (10, 0), "{report:?}");
    assert!(report.is_success());
    // 2, then 8: the sum reached the chunk's size, no confirming zeros needed.
    assert_eq!(report.requests_sent, 2);
    assert_eq!(emu.requests(), 2);
    assert_eq!(emu.active_count(), 0, "nothing left running");
    for id in &ids {
        assert_eq!(emu.state(id), Some(UpstashState::Canceled), "{id}");
    }
    emu.shutdown().await;
}

/// The cost of being sure: a chunk holding ids that are not active answers less than its size;
/// it is re-sent while answers cancel something, and after a 0 every run of the chunk has its
/// state read (the logs), so that "not active" rests on the server's word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_with_finished_and_unknown_ids_costs_two_confirming_requests() {
    let emu = emulator().await;
    let mut all = ids("wfr_mix", 8);
    for (i, id) in all.iter().enumerate() {
        let run = UpstashRun::new(id, URL);
        emu.seed(match i {
            0 => run.state(UpstashState::Success),
            5 => run.uncancellable_once(),
            _ => run,
        });
    }
    all.push("wfr_unknown".to_owned());
    let c = client(&emu.url(), emu.token(), retrying());
    let (opts, log) = progress_log(BulkOptions::new());
    emu.reset_stats();
    let report = c.cancel_many(&Selector::ids(all.iter().cloned()), &opts).await.unwrap();
    // 4 (stopped at #5), 3 (past it), 0, then one state read per run (9).
    assert_eq!(
        (report.cancelled, report.not_active, report.requests_sent),
        (7, 2, 12),
        "{report:?}"
    );
    assert_eq!(emu.requests(), 12);
    assert_eq!(emu.active_count(), 0);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 1, "progress once per chunk, not per send");
    assert_eq!((log[0].done, log[0].total), (9, Some(9)));
    emu.shutdown().await;
}

/// Several runs the server cannot cancel the first time, one after the other: each stop costs
/// one more send, and the loop still ends with everything cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_of_runs_that_each_stop_once_is_still_cancelled_in_full() {
    let emu = emulator().await;
    let ids = ids("wfr_every", 5);
    for id in &ids {
        emu.seed(UpstashRun::new(id, URL).uncancellable_once());
    }
    let c = client(&emu.url(), emu.token(), retrying());
    let report = c
        .cancel_many(&Selector::ids(ids.iter().cloned()), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.not_active), (5, 0), "{report:?}");
    // 0 (stopped at the first); the state reads (5) show all five still running, so each is
    // cancelled by itself through its path (5; the server's 500 for a run it cannot cancel the
    // first time is retried by the plumbing, not counted as a request of the bulk).
    assert_eq!(report.requests_sent, 11);
    assert_eq!(emu.active_count(), 0);
    emu.shutdown().await;
}

/// A re-send that fails lists the whole chunk as failed (which of its runs still run is
/// unknown), so every id stays accounted for once.
#[tokio::test]
async fn a_failed_re_send_fails_the_whole_chunk() {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (calls.clone(), calls.clone());
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Any)
        .with_status_code_from_request(move |_| {
            if c1.fetch_add(1, Ordering::SeqCst) == 0 {
                200
            } else {
                401
            }
        })
        .with_body_from_request(move |_| {
            if c2.load(Ordering::SeqCst) == 1 {
                br#"{"cancelled":1}"#.to_vec()
            } else {
                br#"{"error":"token revoked"}"#.to_vec()
            }
        })
        .expect(2)
        .create_async()
        .await;
    let c = client(&server.url(), "tok", HttpConfig::default().retry(RetryPolicy::none()));
    let report = c
        .cancel_many(&Selector::ids(["a", "b", "c"]), &BulkOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(report.requests_sent, 2);
    assert_eq!((report.cancelled, report.not_active), (0, 0));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].runs.len(), 3);
    assert!(matches!(report.aborted, Some(CancelError::Unauthenticated { .. })));
    assert_eq!(report.accounted(), 3);
}

// ---------------------------------------------------------------------------------------------
// 2. A single cancel answering 0 is sent once more.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_cancel_the_server_could_not_do_the_first_time_is_cancelled() {
    let emu = emulator().await;
    emu.seed(UpstashRun::new("wfr_once", URL).uncancellable_once());
    let c = client(&emu.url(), emu.token(), retrying());
    emu.reset_stats();
    assert_eq!(
        c.cancel(&RunRef::new("wfr_once")).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(emu.requests(), 2);
    assert_eq!(emu.state("wfr_once"), Some(UpstashState::Canceled));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_cancel_of_an_unknown_or_finished_run_is_not_active_on_the_servers_word() {
    let emu = emulator().await;
    emu.seed(UpstashRun::new("wfr_done", URL).state(UpstashState::Success));
    emu.seed(UpstashRun::new("wfr_live", URL));
    let c = client(&emu.url(), emu.token(), retrying());
    for id in ["wfr_nobody", "wfr_done"] {
        emu.reset_stats();
        assert_eq!(
            c.cancel(&RunRef::new(id)).await.unwrap(),
            CancelOutcome::NotActive(Inactive::Unspecified),
            "{id}"
        );
        assert_eq!(
            emu.requests(),
            1,
            "{id}: one request, whose 404 is about this run alone"
        );
    }
    emu.reset_stats();
    assert_eq!(
        c.cancel(&RunRef::new("wfr_live")).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(emu.requests(), 1, "a 1 needs no confirmation");
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Filter, cancel-all and async rounds are not repeated once they may have reached the server.

/// A mock answering `status` to every call on the bulk endpoint with this query.
async fn always(server: &mut ServerGuard, query: &str, status: usize, expect: usize) -> mockito::Mock {
    server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Exact(query.to_owned()))
        .with_status(status)
        .with_body(r#"{"error":"upstream"}"#)
        .expect(expect)
        .create_async()
        .await
}

#[tokio::test]
async fn a_filter_round_answering_5xx_or_408_is_not_retried_and_ends_the_drain() {
    for status in [500, 502, 503, 504, 408] {
        let mut server = Server::new_async().await;
        let m = always(&mut server, "label=x&count=100", status, 1).await;
        let c = client(&server.url(), "tok", retrying());
        let report = c
            .cancel_many(
                &Selector::filter(RunFilter::new().label("x")),
                &BulkOptions::new().drain(true),
            )
            .await
            .unwrap();
        m.assert_async().await;
        assert_eq!(
            (report.rounds, report.requests_sent, report.drained),
            (1, 1, false),
            "{status}"
        );
        assert_eq!(report.failed.len(), 1, "{status}");
        assert_eq!(report.failed[0].round, Some(1));
        assert_eq!(report.failed[0].error.status(), Some(status as u16));
    }
}

#[tokio::test]
async fn cancel_all_and_async_calls_answering_503_are_not_retried() {
    let mut server = Server::new_async().await;
    let all = always(&mut server, "count=100", 503, 1).await;
    let bg = always(&mut server, "label=x&async=true", 503, 1).await;
    let c = client(&server.url(), "tok", retrying());
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert_eq!((report.requests_sent, report.failed.len()), (1, 1));
    let report = c
        .cancel_many_async(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(
        (report.requests_sent, report.failed.len(), report.action_id),
        (1, 1, None)
    );
    all.assert_async().await;
    bg.assert_async().await;
}

/// A 429 is refused before anything is done: a round is retried after it.
#[tokio::test]
async fn a_filter_round_answering_429_is_retried() {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (calls.clone(), calls.clone());
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Exact("label=x&count=100".into()))
        .with_status_code_from_request(move |_| {
            if c1.fetch_add(1, Ordering::SeqCst) == 0 {
                429
            } else {
                200
            }
        })
        .with_header("retry-after", "0")
        .with_body_from_request(move |_| {
            if c2.load(Ordering::SeqCst) == 1 {
                br#"{"error":"slow down"}"#.to_vec()
            } else {
                br#"{"cancelled":3}"#.to_vec()
            }
        })
        .expect(2)
        .create_async()
        .await;
    let c = client(&server.url(), "tok", retrying());
    let report = c
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (3, 1, 1));
    assert!(report.is_success());
}

/// A chunk of ids is harmless to repeat and keeps the retrying send.
#[tokio::test]
async fn a_chunk_of_ids_answering_503_is_retried() {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (calls.clone(), calls.clone());
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Exact("workflowRunIds=a&workflowRunIds=b".into()))
        .with_status_code_from_request(move |_| {
            if c1.fetch_add(1, Ordering::SeqCst) == 0 {
                503
            } else {
                200
            }
        })
        .with_body_from_request(move |_| {
            if c2.load(Ordering::SeqCst) == 1 {
                b"busy".to_vec()
            } else {
                br#"{"cancelled":2}"#.to_vec()
            }
        })
        .expect(2)
        .create_async()
        .await;
    let c = client(&server.url(), "tok", retrying());
    let report = c
        .cancel_many(&Selector::ids(["a", "b"]), &BulkOptions::new())
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!((report.cancelled, report.not_active, report.requests_sent), (2, 0, 1));
}

fn trickle_once() -> ScenarioRule {
    ScenarioRule::new(Scenario::Trickle {
        interval: Duration::from_millis(400),
    })
    .method("DELETE")
    .path_suffix("/v2/workflows/runs")
    .times(1)
}

fn short_timeout() -> HttpConfig {
    retrying().request_timeout(Duration::from_millis(300))
}

/// The server acts, then its answer is lost (here: too slow). Repeating the round would cancel
/// up to `count` more runs for one round: it is not repeated, and the drain ends on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_round_whose_answer_is_lost_is_not_repeated() {
    let emu = emulator().await;
    for id in ids("wfr_lost", 10) {
        emu.seed(UpstashRun::new(id, URL).label("lost"));
    }
    let c = client(&emu.url(), emu.token(), short_timeout());
    emu.faults().add_scenario(trickle_once());
    emu.reset_stats();
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().label("lost")),
            &BulkOptions::new().page_size(4).drain(true),
        )
        .await
        .unwrap();
    assert_eq!(emu.requests(), 1, "sent once");
    assert_eq!(emu.active_count(), 6, "one round's count, not two");
    assert_eq!((report.rounds, report.requests_sent, report.drained), (1, 1, false));
    assert_eq!(report.failed.len(), 1);
    assert!(
        matches!(report.failed[0].error, CancelError::Timeout { .. }),
        "{}",
        report.failed[0].error
    );
    emu.shutdown().await;
}

/// A chunk whose answer was lost after the server acted is retried (harmless), and the retried
/// answer (0: the lost attempt cancelled them all) is not taken alone as "not active": every
/// run's state is read. Nothing is left running and every id is accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_answer_is_lost_is_retried_and_confirmed() {
    let emu = emulator().await;
    let ids = ids("wfr_chunklost", 6);
    for id in &ids {
        emu.seed(UpstashRun::new(id, URL));
    }
    let c = client(&emu.url(), emu.token(), short_timeout());
    emu.faults().add_scenario(trickle_once());
    emu.reset_stats();
    let report = c
        .cancel_many(&Selector::ids(ids.iter().cloned()), &BulkOptions::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failed);
    assert_eq!(emu.active_count(), 0);
    // Attempt 1 (lost) + its retry answering 0, then one state read per run.
    assert_eq!(report.requests_sent, 1 + 6);
    assert_eq!(emu.requests(), 2 + 6);
    // The lost attempt's count is unknown: those runs are counted as no longer active.
    assert_eq!((report.cancelled, report.not_active), (0, 6));
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. 429: the SDK's family order, the spent family wins, its own reset.

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One 429 to a single cancel, with a retrying client: how many requests, and the error.
async fn rate_limited(headers: &[(&str, String)]) -> (usize, CancelError) {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let c1 = calls.clone();
    let mut m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}")))
        .with_status(429)
        .with_body_from_request(move |_| {
            c1.fetch_add(1, Ordering::SeqCst);
            br#"{"error":"limited"}"#.to_vec()
        });
    for (k, v) in headers {
        m = m.with_header(*k, v);
    }
    let _m = m.create_async().await;
    let http = retrying().retry(
        RetryPolicy::default()
            .max_attempts(3)
            .initial_backoff(Duration::from_millis(1))
            .total_deadline(Duration::from_secs(20)),
    );
    let err = client(&server.url(), "tok", http)
        .cancel(&RunRef::new("wfr_429"))
        .await
        .unwrap_err();
    (calls.load(Ordering::SeqCst), err)
}

/// The daily quota is spent, the burst window is not: a daily limit with the daily reset ten
/// hours away, which is not waited for (one request, at once). The old order said "burst" and
/// retried after the burst reset, to be refused again.
#[tokio::test]
async fn a_spent_daily_quota_with_burst_headers_is_daily_and_not_retried() {
    let now = unix_now();
    let headers = vec![
        ("RateLimit-Limit", "500".to_owned()),
        ("RateLimit-Remaining", "0".to_owned()),
        ("RateLimit-Reset", (now + 36_000).to_string()),
        ("Burst-RateLimit-Limit", "100".to_owned()),
        ("Burst-RateLimit-Remaining", "57".to_owned()),
        ("Burst-RateLimit-Reset", (now + 1).to_string()),
    ];
    let t0 = std::time::Instant::now();
    let (calls, err) = rate_limited(&headers).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(calls, 1, "a reset hours away is past the deadline");
    match err {
        CancelError::RateLimited {
            retry_after: Some(d),
            limit: RateLimitKind::Daily,
            ..
        } => assert!(d > Duration::from_secs(35_000), "{d:?}"),
        other => panic!("{other:?}"),
    }
}

/// The burst window is spent, the daily quota is not: burst, with the burst reset (the SDK
/// would call it daily because `RateLimit-Limit` is present).
#[tokio::test]
async fn a_spent_burst_window_with_daily_headers_is_burst_with_its_own_reset() {
    let now = unix_now();
    let headers = vec![
        ("RateLimit-Limit", "500".to_owned()),
        ("RateLimit-Remaining", "400".to_owned()),
        ("RateLimit-Reset", (now + 36_000).to_string()),
        ("Burst-RateLimit-Limit", "100".to_owned()),
        ("Burst-RateLimit-Remaining", "0".to_owned()),
        ("Burst-RateLimit-Reset", (now + 30).to_string()),
    ];
    let (calls, err) = rate_limited(&headers).await;
    assert_eq!(calls, 1, "30 s is past the 20 s deadline");
    match err {
        CancelError::RateLimited {
            retry_after: Some(d),
            limit: RateLimitKind::Burst,
            ..
        } => assert!(d > Duration::from_secs(27) && d <= Duration::from_secs(30), "{d:?}"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 5. A 404 on the cancel endpoints is a wrong base URL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_path_prefix_is_not_found_other_naming_qstash_url() {
    let emu = emulator().await;
    emu.seed(UpstashRun::new("wfr_p", URL));
    let c = client(
        &format!("{}/wrong/prefix", emu.url()),
        emu.token(),
        HttpConfig::default().retry(RetryPolicy::none()),
    );
    let check = |err: CancelError| match err {
        CancelError::NotFound {
            what: NotFoundKind::Other,
            id: None,
            message,
            ..
        } => assert!(message.contains("QSTASH_URL"), "{message}"),
        other => panic!("{other:?}"),
    };
    check(c.cancel(&RunRef::new("wfr_p")).await.unwrap_err());
    check(c.status(&RunRef::new("wfr_p")).await.unwrap_err());
    let report = c
        .cancel_many(&Selector::ids(["wfr_p"]), &BulkOptions::new())
        .await
        .unwrap();
    check(report.failed[0].error.clone());
    let report = c
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap();
    check(report.failed[0].error.clone());
    assert_eq!(emu.state("wfr_p"), Some(UpstashState::Started));
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Waiting on a bulk action returns other states at once.

async fn action_mock(
    server: &mut ServerGuard,
    id: &str,
    states: Vec<&'static str>,
) -> (mockito::Mock, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c1 = calls.clone();
    let id2 = id.to_owned();
    let m = server
        .mock("GET", format!("/v2/workflows/bulkActions/{id}").as_str())
        .with_body_from_request(move |_| {
            let n = c1.fetch_add(1, Ordering::SeqCst);
            let state = states[n.min(states.len() - 1)];
            format!(r#"{{"actionId":"{id2}","state":"{state}","total":5}}"#).into_bytes()
        })
        .create_async()
        .await;
    (m, calls)
}

#[tokio::test]
async fn a_terminal_state_other_than_finished_is_returned_at_once() {
    let mut server = Server::new_async().await;
    let c = client(&server.url(), "tok", HttpConfig::default().retry(RetryPolicy::none()));
    let opts = WaitOptions::with_timeout(Duration::from_secs(5)).initial_interval(Duration::from_millis(5));
    for state in ["FAILED", "CANCELED", "canceled"] {
        let id = format!("act_{}", state.to_ascii_lowercase());
        let (_m, calls) = action_mock(&mut server, &id, vec![state]).await;
        let t0 = std::time::Instant::now();
        let a = c.wait_for_bulk_action(&id, opts).await.unwrap();
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{state}");
        assert_eq!(a.state, BulkActionState::Other(state.to_owned()));
        assert!(!a.is_finished() && !a.is_in_progress());
    }
}

#[tokio::test]
async fn pending_and_created_are_waited_on_like_in_progress() {
    let mut server = Server::new_async().await;
    let (_m, calls) = action_mock(
        &mut server,
        "act_p",
        vec!["CREATED", "PENDING", "IN_PROGRESS", "FINISHED"],
    )
    .await;
    let c = client(&server.url(), "tok", HttpConfig::default().retry(RetryPolicy::none()));
    let opts = WaitOptions::with_timeout(Duration::from_secs(5)).initial_interval(Duration::from_millis(5));
    let a = c.wait_for_bulk_action("act_p", opts).await.unwrap();
    assert!(a.is_finished());
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

// ---------------------------------------------------------------------------------------------
// 7. The last progress after an abort accounts for the untried ids.

#[tokio::test]
async fn the_last_progress_after_an_abort_has_done_equal_to_total() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Any)
        .with_status(401)
        .with_body(r#"{"error":"invalid token"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = UpstashCanceller::builder()
        .token("tok")
        .base_url(server.url())
        .max_url_bytes(150)
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let runs: Vec<RunRef> = (0..30).map(|i| RunRef::new(format!("wfr_{i:03}"))).collect();
    let (opts, log) = progress_log(BulkOptions::new().concurrency(1));
    let report = c.cancel_many(&Selector::Ids(runs), &opts).await.unwrap();
    m.assert_async().await;
    assert!(report.aborted.is_some() && !report.not_attempted.is_empty());
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2, "after the chunk, then once more after the abort");
    assert!(log[0].done < 30);
    let last = log.last().unwrap();
    assert_eq!((last.done, last.total), (30, Some(30)));
    assert_eq!(last.failed_requests, 1);
}
