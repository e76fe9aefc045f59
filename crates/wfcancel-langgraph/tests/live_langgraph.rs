//! Live test against a real LangGraph Agent Server: `langgraph dev` (in-memory runtime) from the
//! pinned PyPI packages of `tools/langgraph-live/`, on a free 127.0.0.1 port, with a fresh state
//! folder, killed by a guard. One server serves every scenario and the conformance suite; a
//! second one, with an auth handler, serves the wrong-key scenario.
//!
//! Needs a venv made by `tools/langgraph-live/setup.sh <venv>`, which this test always runs (it
//! installs the pinned packages from PyPI the first time, about 40 s; otherwise it returns at
//! once) into `<target>/live/langgraph-venv`, or the one `WFCANCEL_LANGGRAPH_VENV=<dir>` names.
//! Without python3 the test writes a visible `SKIPPED` line and passes, unless `CI=true`: then
//! it fails.
//!
//! ```text
//! cargo test -p wfcancel-langgraph --test live_langgraph -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

mod live;

use live::{LIVE_KEY, Live, long, uuid, venv};

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use wfcancel_core::RetryPolicy;
use wfcancel_core::conformance::{self, Harness, SeedRun};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, Inactive, ListOptions, NotFoundKind, RunFilter, RunRef, RunState,
    Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, async_trait, validate_id,
};
use wfcancel_emulator::{FaultKind, FaultProxy, Faults, ProxyConfig, ProxyFlavor};
use wfcancel_langgraph::LangGraphCanceller;

const WRONG_KEY: &str = "wfc-live-WRONG-key-93ab";

/// The conformance harness: seeds runs of the test graph on the real server, each on a thread of
/// its own: running (a long run; it stands for paused too, which LangGraph runs do not have),
/// pending (enqueued behind a long run on its thread), completed (zero steps), failed (`fail`),
/// cancelled (a long run interrupted).
struct LiveHarness<'a> {
    live: &'a Live,
}

#[async_trait]
impl Harness for LiveHarness<'_> {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let l = self.live;
        let (t, r) = match run.state {
            RunState::Completed => {
                let t = l.new_thread().await;
                let r = l.start(&t, json!({"steps": 0}), false).await;
                l.wait_state(&t, &r, "success").await;
                (t, r)
            }
            RunState::Failed => {
                let t = l.new_thread().await;
                let r = l.start(&t, json!({"fail": true}), false).await;
                l.wait_state(&t, &r, "error").await;
                (t, r)
            }
            RunState::Cancelled => {
                let (t, r) = l.running(&run.id).await;
                let resp = l
                    .http
                    .post(format!("{}/threads/{t}/runs/{r}/cancel?action=interrupt", l.base))
                    .send()
                    .await
                    .expect("cancel");
                assert_eq!(resp.status().as_u16(), 202);
                l.wait_state(&t, &r, "interrupted").await;
                (t, r)
            }
            RunState::Pending => {
                let (t, _blocker) = l.running(&format!("{}-blocker", run.id)).await;
                let r = l.start(&t, long(&run.id), true).await;
                l.wait_state(&t, &r, "pending").await;
                (t, r)
            }
            _ => l.running(&run.id).await,
        };
        RunRef::new(r).thread(t)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        let thread = run.owner().map(|o| o.id.to_string())?;
        let s = self.live.state(&thread, run.run_id()).await?;
        Some(match s.as_str() {
            "pending" => RunState::Pending,
            "running" => RunState::Running,
            "success" => RunState::Completed,
            "error" => RunState::Failed,
            "interrupted" => RunState::Cancelled,
            "timeout" => RunState::TimedOut,
            other => RunState::unknown(other, true),
        })
    }

    /// A run the server never saw: fresh UUIDs for a usable id; an id that is itself invalid
    /// (the validation checks) is kept as is, in a fresh thread.
    fn unknown_run(&self, id: &str) -> RunRef {
        if validate_id("langgraph", "run_id", id).is_ok() {
            RunRef::new(uuid()).thread(uuid())
        } else {
            RunRef::new(id).thread(uuid())
        }
    }
}

/// Runs of the storm: `SINGLES` threads of one run each (cancelled by the run's own path) and
/// `GROUPS` threads of `PER_GROUP` runs each (one running, the rest enqueued behind it: read one
/// by one, then cancelled by one `POST /runs/cancel` per thread).
const SINGLES: usize = 1000;
const GROUPS: usize = 10;
const PER_GROUP: usize = 100;

/// Starts one run of the test graph that stays active for 10 minutes (no tag: no progress file),
/// creating its thread when missing. `langgraph dev` runs `--n-jobs-per-worker` of them at once,
/// the rest wait `pending`: both are active runs to cancel.
async fn start_storm_run(live: &Live, thread: &str) -> String {
    let body = json!({
        "assistant_id": "agent",
        "input": {"steps": 600, "step_seconds": 1.0},
        "if_not_exists": "create",
        "multitask_strategy": "enqueue",
    });
    let v: Value = live.post(&format!("/threads/{thread}/runs"), body).await;
    v["run_id"].as_str().expect("run_id").to_owned()
}

/// 2,000 active runs cancelled by ids through [`FaultProxy`] in front of the real `langgraph dev`,
/// 20 % of requests answered `503`, 5 % `429` with `Retry-After`, 2 % dropped before they reach
/// the server. Nothing lost: every run is accounted for exactly once; each the report calls
/// requested ends `interrupted` on the server's own word (read from the server, not through the
/// proxy); each it names as failed is pending, running or interrupted there (never anything else).
async fn storm(live: &Live) {
    const N: usize = SINGLES + GROUPS * PER_GROUP;
    let proxy = FaultProxy::start(ProxyConfig::new(&live.base, ProxyFlavor::LangGraph))
        .await
        .expect("proxy");
    let started = Instant::now();
    let mut threads: Vec<String> = (0..SINGLES).map(|_| uuid()).collect();
    let groups: Vec<String> = (0..GROUPS).map(|_| uuid()).collect();
    // Each group's first run first, so that its thread exists before the enqueued ones.
    let firsts: Vec<String> = futures::stream::iter(groups.iter())
        .map(|t| start_storm_run(live, t))
        .buffered(GROUPS)
        .collect()
        .await;
    let mut runs: Vec<(String, String)> = groups.iter().cloned().zip(firsts).collect();
    for t in &groups {
        threads.extend(std::iter::repeat_n(t.clone(), PER_GROUP - 1));
    }
    let rest: Vec<(String, String)> = futures::stream::iter(threads)
        .map(|t| async move {
            let r = start_storm_run(live, &t).await;
            (t, r)
        })
        .buffer_unordered(32)
        .collect()
        .await;
    runs.extend(rest);
    assert_eq!(runs.len(), N);
    let start_time = started.elapsed();
    eprintln!("live_langgraph: storm: started {N} runs in {start_time:?}");
    proxy.faults().set(
        Faults::none()
            .errors(0.20)
            .throttle(0.05)
            .retry_after_secs(1)
            .drops(0.02)
            .seed(16),
    );
    let c = LangGraphCanceller::builder()
        .base_url(proxy.url())
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(8)
                    .initial_backoff(Duration::from_millis(20)),
            ),
        )
        .build()
        .expect("canceller");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(180),
        c.cancel_many(
            &Selector::Ids(runs.iter().map(|(t, r)| RunRef::new(r).thread(t)).collect()),
            &BulkOptions::new().concurrency(32),
        ),
    )
    .await
    .expect("the storm ends in bounded time")
    .expect("a report");
    let cancel_time = started.elapsed();
    proxy.faults().clear();
    let s = proxy.stats();
    let failed = report.failed.iter().map(|f| f.runs.len()).sum::<usize>();
    eprintln!(
        "live_langgraph: storm of {N} through the proxy in {cancel_time:?} (starting them took {start_time:?}): \
         {} requests ({} sent by the client), {} faults (503 {}, 429 {}, dropped {}); requested {}, cancelled {}, \
         not active {}, failed {failed}, not attempted {}",
        s.requests,
        report.requests_sent,
        s.faults_total(),
        s.fault(FaultKind::ServerError),
        s.fault(FaultKind::Throttled),
        s.fault(FaultKind::Dropped),
        report.requested,
        report.cancelled,
        report.not_active,
        report.not_attempted.len(),
    );
    assert!(
        s.fault(FaultKind::ServerError) > 100 && s.fault(FaultKind::Throttled) > 20 && s.fault(FaultKind::Dropped) > 5,
        "the storm happened: {s:?}"
    );
    // Every run exactly once: in the outcomes or among the failures.
    let mut seen = std::collections::HashMap::new();
    for o in &report.outcomes {
        assert!(
            seen.insert(o.run.run_id().to_owned(), Some(o.outcome)).is_none(),
            "{} twice",
            o.run
        );
    }
    for f in &report.failed {
        for r in &f.runs {
            assert!(seen.insert(r.run_id().to_owned(), None).is_none(), "{r} twice");
        }
    }
    assert!(report.not_attempted.is_empty(), "{:?}", report.not_attempted.first());
    assert_eq!(seen.len(), N, "every run accounted for");
    assert_eq!(report.accounted(), N as u64);
    // Every run was active: none may be reported not active.
    assert_eq!(report.not_active, 0, "{report:?}");
    // On the server's word: what the report says was requested is interrupted there (bounded
    // wait); what failed is still pending, running or interrupted (a request may have landed).
    let seen = &seen;
    let checked: Vec<()> = futures::stream::iter(runs.iter())
        .map(|(t, r)| async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let state = live.state(t, r).await;
                match (seen[r], state.as_deref()) {
                    (Some(CancelOutcome::Requested | CancelOutcome::Cancelled), Some("interrupted")) => break,
                    (None, Some("pending" | "running" | "interrupted")) => break,
                    (Some(CancelOutcome::Requested), Some("pending" | "running")) => {}
                    (outcome, other) => panic!("{t}/{r}: the report says {outcome:?}, the server {other:?}"),
                }
                assert!(Instant::now() < deadline, "{t}/{r} still {state:?} after the storm");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), N);
    eprintln!("live_langgraph: storm: every run's state read on the server agrees with the report");
    proxy.shutdown().await;
}

/// Lost answers: 200 active runs (100 alone on their threads, 100 in one thread) cancelled by ids
/// through [`FaultProxy`] that forwards every request and then, for 30 % of them, closes the
/// connection without the server's answer (the server acted; the client never heard). Retries
/// then meet their own earlier effect: the server answers 404, the run reads `interrupted`, and a
/// retried cancel reports it `Cancelled` (finding 24). Nothing lost and nothing over-claimed:
/// every run accounted once; a run reported requested or cancelled is interrupted on the server
/// (none is reported not active unless a re-read failed, and then it is interrupted too); none is
/// reported as never having existed.
async fn lost_answers(live: &Live) {
    const ALONE: usize = 100;
    const IN_THREAD: usize = 100;
    const N: usize = ALONE + IN_THREAD;
    let group = uuid();
    let first = start_storm_run(live, &group).await;
    let mut threads: Vec<String> = (0..ALONE).map(|_| uuid()).collect();
    threads.extend(std::iter::repeat_n(group.clone(), IN_THREAD - 1));
    let mut runs: Vec<(String, String)> = futures::stream::iter(threads)
        .map(|t| async move {
            let r = start_storm_run(live, &t).await;
            (t, r)
        })
        .buffer_unordered(32)
        .collect()
        .await;
    runs.push((group, first));
    let proxy = FaultProxy::start(
        ProxyConfig::new(&live.base, ProxyFlavor::LangGraph).faults(Faults::none().drop_after(0.30).seed(17)),
    )
    .await
    .expect("proxy");
    let c = LangGraphCanceller::builder()
        .base_url(proxy.url())
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(8)
                    .initial_backoff(Duration::from_millis(20)),
            ),
        )
        .build()
        .expect("canceller");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        c.cancel_many(
            &Selector::Ids(runs.iter().map(|(t, r)| RunRef::new(r).thread(t)).collect()),
            &BulkOptions::new().concurrency(32),
        ),
    )
    .await
    .expect("the bulk ends in bounded time")
    .expect("a report");
    let s = proxy.stats();
    let failed = report.failed.iter().map(|f| f.runs.len()).sum::<usize>();
    eprintln!(
        "live_langgraph: lost answers: {N} runs in {:?}: {} requests, {} answers lost after the server acted; \
         requested {}, cancelled {}, not active {}, failed {failed}",
        started.elapsed(),
        s.requests,
        s.fault(FaultKind::DroppedAfterHandling),
        report.requested,
        report.cancelled,
        report.not_active,
    );
    assert!(report.cancelled > 0, "retries met their own lost attempts: {report:?}");
    assert!(
        s.fault(FaultKind::DroppedAfterHandling) > 10,
        "answers were lost: {s:?}"
    );
    let mut seen = std::collections::HashMap::new();
    for o in &report.outcomes {
        assert!(
            seen.insert(o.run.run_id().to_owned(), Some(o.outcome)).is_none(),
            "{} twice",
            o.run
        );
    }
    for f in &report.failed {
        for r in &f.runs {
            assert!(seen.insert(r.run_id().to_owned(), None).is_none(), "{r} twice");
        }
    }
    assert_eq!(
        (seen.len(), report.accounted()),
        (N, N as u64),
        "every run accounted for"
    );
    let seen = &seen;
    let checked: Vec<()> = futures::stream::iter(runs.iter())
        .map(|(t, r)| async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let state = live.state(t, r).await;
                match (seen[r], state.as_deref()) {
                    (
                        Some(
                            CancelOutcome::Requested
                            | CancelOutcome::Cancelled
                            | CancelOutcome::NotActive(Inactive::Finished),
                        ),
                        Some("interrupted"),
                    ) => break,
                    (None, Some("pending" | "running" | "interrupted")) => break,
                    (Some(CancelOutcome::Requested), Some("pending" | "running")) => {}
                    (outcome, other) => panic!("{t}/{r}: the report says {outcome:?}, the server {other:?}"),
                }
                assert!(Instant::now() < deadline, "{t}/{r} still {state:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), N);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_langgraph() {
    let Some(venv) = venv() else {
        return;
    };
    let live = Live::launch(&venv, false).await;
    let lg = live.canceller(None);
    let wait = WaitOptions::with_timeout(Duration::from_secs(30)).initial_interval(Duration::from_millis(50));

    // 1. A running run: Requested, then the wait reads cancelled, the server says interrupted,
    //    and the node stopped: its progress counter stops.
    let (t, r) = live.running("mid-run").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while live.progress("mid-run") < 3 {
        assert!(Instant::now() < deadline, "the node never progressed: {}", live.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = RunRef::new(&r).thread(&t);
    assert_eq!(lg.status(&run).await, Ok(RunState::Running));
    assert_eq!(lg.cancel(&run).await, Ok(CancelOutcome::Requested));
    assert_eq!(lg.wait_until_terminal(&run, wait).await, Ok(RunState::Cancelled));
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("interrupted"));
    let at_stop = live.progress("mid-run");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = live.progress("mid-run");
    assert!(
        later <= at_stop + 1 && later < 100,
        "the node went on after the interrupt: {at_stop} then {later}"
    );
    eprintln!("live_langgraph: interrupted at step {at_stop} (later {later})");
    // Again: finished (interrupted) → NotActive(Finished), nothing changes.
    assert_eq!(lg.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("interrupted"));

    // 2. A finished run → NotActive(Finished); unknown runs → NotActive(NoSuchRun).
    let t2 = live.new_thread().await;
    let done = live.start(&t2, json!({"steps": 1, "step_seconds": 0.01}), false).await;
    live.wait_state(&t2, &done, "success").await;
    assert_eq!(
        lg.cancel(&RunRef::new(&done).thread(&t2)).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    assert_eq!(live.state(&t2, &done).await.as_deref(), Some("success"));
    assert_eq!(
        lg.status(&RunRef::new(&done).thread(&t2)).await,
        Ok(RunState::Completed)
    );
    for unknown in [RunRef::new(uuid()).thread(&t2), RunRef::new(uuid()).thread(uuid())] {
        assert_eq!(
            lg.cancel(&unknown).await,
            Ok(CancelOutcome::NotActive(Inactive::NoSuchRun)),
            "{unknown}"
        );
        let e = lg.status(&unknown).await.unwrap_err();
        assert!(
            matches!(
                e,
                CancelError::NotFound {
                    what: NotFoundKind::Run,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    let e = lg.cancel(&RunRef::new("not-a-uuid").thread(&t2)).await.unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "run_id", .. }), "{e:?}");

    // 3. A bulk across threads: running, finished, unknown and pending runs, and an unknown
    //    thread; each reported as the server's own states say.
    let (ta, ra1) = live.running("bulk-a1").await;
    let ra2 = live.start(&ta, json!({"steps": 0}), true).await; // runs after ra1: stays pending
    live.wait_state(&ta, &ra2, "pending").await;
    let tb = live.new_thread().await;
    let rb1 = live.start(&tb, json!({"steps": 0}), false).await;
    live.wait_state(&tb, &rb1, "success").await;
    let rb2 = live.start(&tb, long("bulk-b2"), false).await;
    live.wait_state(&tb, &rb2, "running").await;
    let (tc, rc1) = live.running("bulk-c1").await; // not in the bulk: must stay running
    let rc2 = live.start(&tc, long("bulk-c2"), true).await;
    live.wait_state(&tc, &rc2, "pending").await;
    // See before cancelling: the running and the pending runs, one a page, across threads,
    // each addressed by its thread and in the state the server reads for it.
    for (state, want) in [
        (RunState::Running, vec![&ra1, &rb2, &rc1]),
        (RunState::Pending, vec![&ra2, &rc2]),
    ] {
        let mut listed = Vec::new();
        let mut opts = ListOptions::new().limit(1);
        loop {
            let page = lg
                .list_runs(&RunFilter::new().state(state.clone()), &opts)
                .await
                .expect("list_runs");
            assert!(page.runs.len() <= 1, "{page:?}");
            listed.extend(page.runs);
            match page.next {
                Some(next) => opts = ListOptions::new().limit(1).cursor(next),
                None => break,
            }
        }
        let mut ids: Vec<&str> = listed.iter().map(|l| l.run.run_id()).collect();
        ids.sort_unstable();
        let mut want: Vec<&str> = want.into_iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(ids, want, "{state}: {listed:?}");
        for l in &listed {
            let thread = l.run.owner().map(|o| o.id.to_string()).expect("thread");
            assert_eq!(lg.status(&l.run).await.as_ref(), Ok(&l.state), "{l:?}");
            assert!(live.state(&thread, l.run.run_id()).await.is_some(), "{l:?}");
            assert!(l.created.is_some(), "{l:?}");
        }
    }
    eprintln!("live_langgraph: list_runs saw the running and pending runs across threads");
    let unknown_in_b = uuid();
    let (unknown_t, unknown_r) = (uuid(), uuid());
    let ids = vec![
        RunRef::new(&ra1).thread(&ta),
        RunRef::new(&rb1).thread(&tb),
        RunRef::new(&unknown_in_b).thread(&tb),
        RunRef::new(&rc2).thread(&tc),
        RunRef::new(&ra2).thread(&ta),
        RunRef::new(&unknown_r).thread(&unknown_t),
        RunRef::new(&rb2).thread(&tb),
    ];
    let report = lg
        .cancel_many(&Selector::Ids(ids), &BulkOptions::new())
        .await
        .expect("bulk");
    assert!(report.is_success(), "{report:?}");
    let outcome = |r: &str| report.outcomes.iter().find(|o| o.run.run_id() == r).map(|o| o.outcome);
    for r in [&ra1, &ra2, &rb2, &rc2] {
        assert_eq!(outcome(r), Some(CancelOutcome::Requested), "{r}: {report:?}");
    }
    assert_eq!(outcome(&rb1), Some(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(
        outcome(&unknown_in_b),
        Some(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    assert_eq!(outcome(&unknown_r), Some(CancelOutcome::NotActive(Inactive::NoSuchRun)));
    assert_eq!((report.requested, report.not_active, report.accounted()), (4, 3, 7));
    for (t, r) in [(&ta, &ra1), (&ta, &ra2), (&tb, &rb2), (&tc, &rc2)] {
        live.wait_state(t, r, "interrupted").await;
    }
    assert_eq!(live.state(&tb, &rb1).await.as_deref(), Some("success"));
    assert_eq!(live.state(&tb, &unknown_in_b).await, None);
    assert_eq!(
        live.state(&tc, &rc1).await.as_deref(),
        Some("running"),
        "not in the bulk"
    );
    eprintln!("live_langgraph: bulk across threads: {report:?}");

    // 4. By state: every running run (only rc1 by now), drained on the server's word.
    let report = lg
        .cancel_many(
            &Selector::filter(RunFilter::new().state(RunState::Running)),
            &BulkOptions::new().drain(true),
        )
        .await
        .expect("by state");
    assert!(report.is_success() && report.drained, "{report:?}");
    assert_eq!(
        report
            .outcomes
            .iter()
            .filter(|o| o.outcome == CancelOutcome::Requested)
            .map(|o| o.run.run_id().to_owned())
            .collect::<Vec<_>>(),
        vec![rc1.clone()],
        "{report:?}"
    );
    live.wait_state(&tc, &rc1, "interrupted").await;

    // 5. With an auth handler: a wrong key is Unauthenticated and never shows; the right one
    //    gets in (an unknown run reads NotFound, not 401).
    {
        let secured = Live::launch(&venv, true).await;
        let wrong = secured.canceller(Some(WRONG_KEY));
        let run = RunRef::new(uuid()).thread(uuid());
        let e = wrong.cancel(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
        let shown = format!("{e} {e:?} {wrong} {wrong:?}");
        assert!(!shown.contains(WRONG_KEY) && !shown.contains("WRONG"), "{shown}");
        let e = secured.canceller(None).status(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
        let right = secured.canceller(Some(LIVE_KEY));
        let e = right.status(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::NotFound { .. }), "{e:?}");
        assert_eq!(
            right.cancel(&run).await,
            Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
        );
        assert!(!secured.logs().contains(WRONG_KEY), "the server logged the key");
    }

    // 6. The conformance suite on the real server, every check that applies but the two filter
    //    drains: they need a field that sets seeded runs apart (a label, a URL), and the state —
    //    LangGraph's only filter — cannot (scenario 4 covers the state filter). cancel_all last.
    let h = LiveHarness { live: &live };
    let c: &dyn WorkflowCanceller = &lg;
    conformance::check_backend_name(c, &h).await;
    conformance::check_validation(c, &h).await;
    conformance::check_idempotent_cancel(c, &h).await;
    conformance::check_not_active(c, &h).await;
    conformance::check_bulk_ids_accounting(c, &h).await;
    conformance::check_status(c, &h).await;
    conformance::check_modes(c, &h).await;
    conformance::check_capability_check(c, &h).await;
    conformance::check_addresses(c, &h).await;
    conformance::check_duplicates(c, &h).await;
    conformance::check_bulk_stop_and_deadline(c, &h).await;
    conformance::check_cancel_all(c, &h).await;
    eprintln!("live_langgraph: conformance checks passed");

    // 7. A storm through the fault proxy (20 % 503, 5 % 429, 2 % dropped connections), last:
    //    it leaves 2,000 interrupted runs on the server.
    storm(&live).await;

    // 8. Lost answers (the server acted, the client never heard) through the proxy.
    lost_answers(&live).await;
    drop(live);
}
