//! Live test against a real Restate server (`restate-server` 1.7.12 from the npm package
//! `@restatedev/restate-server`, whose binary ships inside it) and a service on the TypeScript SDK
//! (`@restatedev/restate-sdk` 1.17.2), both from `tools/restate-live/`, on free 127.0.0.1 ports,
//! with a base directory of their own, killed by a guard. One server and service serve every
//! scenario (one test function); every outcome is checked against the server's `sys_invocation`.
//!
//! Needs node and npm: the test always runs `tools/restate-live/setup.sh` (an `npm ci` of the
//! pinned lock the first time, a few seconds; otherwise it returns at once) into
//! `<target>/live/restate`, or the folder `WFCANCEL_RESTATE_DIR=<dir>` names. Without node or npm
//! the test writes a visible `SKIPPED` line and passes, unless `CI=true`: then it fails.
//!
//! ```text
//! cargo test -p wfcancel-restate --test live_restate -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

mod live;

use live::{Live, install};

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use serde_json::{Value, json};
use wfcancel_core::RetryPolicy;
use wfcancel_core::conformance::{self, Harness, SeedRun};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOptions, CancelOutcome, Inactive, ListOptions, ListedRun, NotFoundKind, RunFilter,
    RunRef, RunState, Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, async_trait,
};
use wfcancel_emulator::{FaultKind, FaultProxy, Faults, ProxyConfig, ProxyFlavor};
use wfcancel_restate::{RestateCanceller, quote};

/// Every page of a listing, `limit` a page, no run twice.
async fn list_all(r: &RestateCanceller, filter: &RunFilter, limit: usize) -> Vec<ListedRun> {
    let mut out: Vec<ListedRun> = Vec::new();
    let mut opts = ListOptions::new().limit(limit);
    loop {
        let page = r.list_runs(filter, &opts).await.expect("list_runs");
        assert!(page.runs.len() <= limit, "{page:?}");
        for l in page.runs {
            assert!(!out.iter().any(|o| o.run == l.run), "listed twice: {l:?}");
            out.push(l);
        }
        match page.next {
            Some(next) => opts = ListOptions::new().limit(limit).cursor(next),
            None => return out,
        }
    }
}

/// 2,000 running invocations cancelled by ids through [`FaultProxy`] in front of the real
/// server's admin API, 20 % of requests answered `503`, 5 % `429` with `Retry-After`, 2 % dropped
/// before they reach the server. Nothing lost: every run is accounted for exactly once; each the
/// report calls requested or cancelled ends cancelled on the server's own word; each it names as
/// failed is still running or cancelled there (never anything else); the server saw the faults.
async fn storm(live: &Live) {
    const N: usize = 2000;
    let proxy = FaultProxy::start(ProxyConfig::new(&live.admin, ProxyFlavor::Restate))
        .await
        .expect("proxy");
    let ids: Vec<String> = futures::stream::iter(0..N)
        .map(|_| live.send("WfcSlow/wait", Value::Null, None))
        .buffer_unordered(32)
        .collect()
        .await;
    proxy.faults().set(
        Faults::none()
            .errors(0.20)
            .throttle(0.05)
            .retry_after_secs(1)
            .drops(0.02)
            .seed(16),
    );
    let c = RestateCanceller::builder()
        .admin_url(proxy.url())
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
        Duration::from_secs(240),
        c.cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new().concurrency(32),
        ),
    )
    .await
    .expect("the storm ends in bounded time")
    .expect("a report");
    proxy.faults().clear();
    let s = proxy.stats();
    eprintln!(
        "live_restate: storm of {N} through the proxy in {:?}: {} requests, {} faults; requested {}, cancelled {}, not active {}, failed {}",
        started.elapsed(),
        s.requests,
        s.faults_total(),
        report.requested,
        report.cancelled,
        report.not_active,
        report.failed.iter().map(|f| f.runs.len()).sum::<usize>()
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
    assert_eq!(seen.len(), N, "every run accounted for");
    assert_eq!(report.accounted(), N as u64);
    // On the server's word: what the report says stopped is cancelled there; what failed is
    // still running or cancelled (a lost answer's request may have landed).
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let state = live.row(id).await.map(|r| r.state());
            match (seen[id], &state) {
                (Some(_), Some(RunState::Cancelled)) => break,
                (None, Some(RunState::Running | RunState::Cancelled)) => break,
                (Some(CancelOutcome::Requested), Some(RunState::Running | RunState::Cancelling)) => {}
                (outcome, other) => panic!("{id}: the report says {outcome:?}, the server {other:?}"),
            }
            assert!(Instant::now() < deadline, "{id} still {state:?} after the storm");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Lost answers: 250 suspended invocations cancelled and 100 more killed, by ids, through
/// [`FaultProxy`] that forwards every request and then, for 30 % of them, closes the connection
/// without the server's answer (the server acted; the client never heard). A retried
/// `PATCH …/cancel` meets its own earlier request: `202` again while the invocation is still
/// stopping (`Requested`), or `409 … already completed` once it has stopped, when the backend
/// reads the state (cancelled) and reports `Cancelled`; a retried kill likewise (`200`, or the
/// `409` and a state read of killed: `Cancelled`). Nothing lost and nothing over-claimed: every
/// run accounted once; none reported not active (each was suspended); each the report calls
/// requested or cancelled ends cancelled (killed for the kills) on the server's own word; each
/// it names as failed is still suspended there, or stopped as asked.
async fn lost_answers(live: &Live) {
    const N: usize = 250;
    const KILLED: usize = 100;
    let ids: Vec<String> = futures::stream::iter(0..N + KILLED)
        .map(|_| live.send("WfcSlow/wait", Value::Null, None))
        .buffer_unordered(32)
        .collect()
        .await;
    for (mode, ids, want) in [
        (CancelOptions::graceful(), &ids[..N], RunState::Cancelled),
        (CancelOptions::forced(), &ids[N..], RunState::Terminated),
    ] {
        let forced = mode.mode == wfcancel_core::CancelMode::Forced;
        let proxy = FaultProxy::start(
            ProxyConfig::new(&live.admin, ProxyFlavor::Restate)
                .faults(Faults::none().drop_after(0.30).seed(if forced { 18 } else { 17 })),
        )
        .await
        .expect("proxy");
        let c = RestateCanceller::builder()
            .admin_url(proxy.url())
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
                &Selector::Ids(ids.iter().map(RunRef::new).collect()),
                &BulkOptions::new().concurrency(32).cancel_options(mode),
            ),
        )
        .await
        .expect("the bulk ends in bounded time")
        .expect("a report");
        let s = proxy.stats();
        let failed: usize = report.failed.iter().map(|f| f.runs.len()).sum();
        eprintln!(
            "live_restate: lost answers: {} invocations {} in {:?}: {} requests, {} answers lost after the server acted; \
             requested {}, cancelled {}, not active {}, failed {failed}",
            ids.len(),
            if forced { "killed" } else { "cancelled" },
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
                    "live_restate: lost answers: {r} failed ({}); the server: {:?}",
                    f.error,
                    live.row(r.run_id()).await
                );
            }
        }
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
            (ids.len(), ids.len() as u64),
            "every run accounted for"
        );
        // Each was suspended: a retry that met its own earlier request is never "not active";
        // a kill is never merely requested.
        assert_eq!(report.not_active, 0, "{report:?}");
        if forced {
            assert_eq!(report.requested, 0, "{report:?}");
        }
        // On the server's word (read from the server, not through the proxy), bounded wait.
        let seen = &seen;
        let want = &want;
        let checked: Vec<()> = futures::stream::iter(ids.iter())
            .map(|id| async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let state = live.row(id).await.map(|r| r.state());
                    match (seen[id], &state) {
                        (Some(CancelOutcome::Requested | CancelOutcome::Cancelled), Some(s)) if s == want => break,
                        (None, Some(s)) if s == want || *s == RunState::Paused => break,
                        // Still stopping (a failed request may have landed too).
                        (Some(CancelOutcome::Requested), Some(RunState::Running | RunState::Paused))
                        | (None, Some(RunState::Running)) => {}
                        (outcome, other) => panic!("{id}: the report says {outcome:?}, the server {other:?}"),
                    }
                    assert!(Instant::now() < deadline, "{id} still {state:?} after the bulk");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        assert_eq!(checked.len(), ids.len());
        proxy.shutdown().await;
    }
}

fn starts(steps: &[String]) -> Vec<String> {
    steps.iter().filter(|s| s.ends_with(" start")).cloned().collect()
}

/// The conformance harness: seeds invocations on the real server through its ingress (slow ones
/// that stay running, quick ones that complete, failing ones, cancelled ones) and reads their
/// true state from `sys_invocation`.
struct LiveHarness<'a> {
    live: &'a Live,
    /// A real invocation id: unknown ids are made from it (same partition key and codec).
    template: String,
}

#[async_trait]
impl Harness for LiveHarness<'_> {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let l = self.live;
        let id = match run.state {
            RunState::Completed => {
                let id = l.send("WfcSlow/quick", Value::Null, None).await;
                l.wait_state(&id, &RunState::Completed).await;
                id
            }
            RunState::Failed => {
                let id = l.send("WfcSlow/fail", Value::Null, None).await;
                l.wait_state(&id, &RunState::Failed).await;
                id
            }
            RunState::Cancelled => {
                let id = l.running("WfcSlow/run").await;
                let r = l
                    .http
                    .patch(format!("{}/invocations/{id}/cancel", l.admin))
                    .send()
                    .await
                    .expect("cancel");
                assert_eq!(r.status().as_u16(), 202);
                l.wait_state(&id, &RunState::Cancelled).await;
                id
            }
            // A running invocation stands for pending and paused ones: a scheduled one is removed
            // by its cancel (no state is left to check), a suspended one cannot be held there.
            _ => l.running("WfcSlow/run").await,
        };
        RunRef::new(id)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        // Only well-formed ids can be asked for (others are never created).
        if wfcancel_restate::INVOCATION_ID_PREFIX.len() >= run.run_id().len()
            || !run.run_id()[4..].bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        self.live.row(run.run_id()).await.map(|r| r.state())
    }

    fn unknown_run(&self, id: &str) -> RunRef {
        if id.trim().is_empty() || id.chars().any(char::is_control) {
            return RunRef::new(id);
        }
        // The template with its last 6 base62 digits replaced by ones derived from `id`.
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut tail = String::new();
        for _ in 0..6 {
            tail.push(DIGITS[(h % 62) as usize] as char);
            h /= 62;
        }
        let t = &self.template;
        RunRef::new(format!("{}{tail}", &t[..t.len() - 6]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_restate() {
    let Some(install) = install() else {
        return;
    };
    let live = Live::launch(&install).await;
    let r = live.canceller();
    let wait = WaitOptions::with_timeout(Duration::from_secs(30)).initial_interval(Duration::from_millis(50));

    // 1. A running invocation: Requested, then cancelled (the wait reads it); its compensation ran
    //    and no later step started.
    let id = live.running("WfcSlow/run").await;
    let run = RunRef::new(&id);
    assert_eq!(r.status(&run).await, Ok(RunState::Running));
    assert_eq!(r.cancel(&run).await, Ok(CancelOutcome::Requested));
    assert_eq!(r.wait_until_terminal(&run, wait).await, Ok(RunState::Cancelled));
    let row = live.row(&id).await.expect("row");
    assert!(row.is("completed", Some("failure"), Some("[409] Cancelled")), "{row:?}");
    let at_end = starts(&live.steps_of(&id));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later = live.steps_of(&id);
    assert_eq!(starts(&later), at_end, "no step started after the cancel: {later:?}");
    assert!(later.iter().any(|s| s == "compensated"), "{later:?}");
    assert_eq!(r.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    eprintln!("live_restate: cancelled after {} steps", at_end.len());
    // The same through cancel_and_wait.
    let id = live.running("WfcSlow/run").await;
    let done = r
        .cancel_and_wait(&RunRef::new(&id), wait)
        .await
        .expect("cancel_and_wait");
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Cancelled)
    );

    // 2. Kill: Cancelled at once, terminated, no compensation.
    let id = live.running("WfcSlow/run").await;
    let run = RunRef::new(&id);
    assert_eq!(
        r.cancel_with(&run, &CancelOptions::forced()).await,
        Ok(CancelOutcome::Cancelled)
    );
    live.wait_state(&id, &RunState::Terminated).await;
    let row = live.row(&id).await.expect("row");
    assert!(row.is("completed", Some("failure"), Some("[409] killed")), "{row:?}");
    assert_eq!(r.status(&run).await, Ok(RunState::Terminated));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !live.steps_of(&id).iter().any(|s| s == "compensated"),
        "a kill runs no compensation"
    );
    assert_eq!(
        r.cancel_with(&run, &CancelOptions::forced()).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );

    // 3. Completed and failed: NotActive (finished), untouched. Unknown: NotActive (no such
    //    run), status NotFound. Malformed: InvalidInput, before any request or from the server's 400.
    let quick = live.send("WfcSlow/quick", Value::Null, None).await;
    live.wait_state(&quick, &RunState::Completed).await;
    let failing = live.send("WfcSlow/fail", Value::Null, None).await;
    live.wait_state(&failing, &RunState::Failed).await;
    for (id, want) in [(&quick, RunState::Completed), (&failing, RunState::Failed)] {
        for opts in [CancelOptions::graceful(), CancelOptions::forced()] {
            assert_eq!(
                r.cancel_with(&RunRef::new(id), &opts).await,
                Ok(CancelOutcome::NotActive(Inactive::Finished)),
                "{id} {opts:?}"
            );
        }
        assert_eq!(r.status(&RunRef::new(id)).await, Ok(want.clone()));
        assert_eq!(live.row(id).await.map(|r| r.state()), Some(want));
    }
    let h = LiveHarness {
        live: &live,
        template: quick.clone(),
    };
    let unknown = h.unknown_run("scenario-3");
    assert!(live.row(unknown.run_id()).await.is_none());
    assert_eq!(
        r.cancel(&unknown).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    assert_eq!(
        r.cancel_with(&unknown, &CancelOptions::forced()).await,
        Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    let e = r.status(&unknown).await.unwrap_err();
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
    for bad in ["not-an-invocation", "inv_1' OR '1'='1", "inv_1;--", "inv_x/*"] {
        let e = r.cancel(&RunRef::new(bad)).await.unwrap_err();
        assert!(
            matches!(e, CancelError::InvalidInput { field: "run_id", .. }),
            "{bad}: {e:?}"
        );
        let e = r.status(&RunRef::new(bad)).await.unwrap_err();
        assert!(
            matches!(e, CancelError::InvalidInput { field: "run_id", .. }),
            "{bad}: {e:?}"
        );
    }
    // Well-formed to the client, refused by the server (unknown codec version, bad length).
    for bad in ["inv_abc", "inv_2gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O"] {
        let e = r.cancel(&RunRef::new(bad)).await.unwrap_err();
        assert!(
            matches!(&e, CancelError::InvalidInput { field: "run_id", message, .. } if message.contains(bad)),
            "{bad}: {e:?}"
        );
    }

    // 4. A scheduled (delayed) invocation: pending, then Cancelled and gone.
    let id = live.send("WfcSlow/run", json!({}), Some("10m")).await;
    let run = RunRef::new(&id);
    assert_eq!(live.row(&id).await.map(|r| r.status), Some("scheduled".to_owned()));
    assert_eq!(r.status(&run).await, Ok(RunState::Pending));
    assert_eq!(r.cancel(&run).await, Ok(CancelOutcome::Cancelled));
    assert_eq!(live.row(&id).await, None, "a cancelled scheduled invocation is gone");
    assert!(matches!(r.status(&run).await, Err(CancelError::NotFound { .. })));
    assert_eq!(r.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::NoSuchRun)));

    // 5. A bulk by service: every invocation of WfcOther that is not completed, none of WfcSlow.
    //    Hostile values select nothing, and the server takes them as literals.
    let mut hits = Vec::new();
    for _ in 0..5 {
        hits.push(live.running("WfcOther/run").await);
    }
    let mut misses = Vec::new();
    for _ in 0..3 {
        misses.push(live.running("WfcSlow/run").await);
    }
    let hostile = [
        "WfcOther' OR '1'='1",
        "WfcOther'; SELECT 1; --",
        "WfcOther\\' OR 1=1 --",
        "WfcOther' /* x */ OR '' = '",
        "Wfc\u{fc}ber\u{1F600}",
        "WfcOther\"",
    ];
    for name in hostile {
        let report = r
            .cancel_many(
                &Selector::filter(RunFilter::new().workflow(name)),
                &BulkOptions::new().drain(true),
            )
            .await
            .expect("hostile bulk");
        assert!(report.is_success() && report.drained, "{name}: {report:?}");
        assert_eq!(
            (report.requested, report.cancelled, report.not_active),
            (0, 0, 0),
            "{name}: {report:?}"
        );
    }
    // The escaping, straight against the server: a literal with every hostile character selects
    // nothing, errs nowhere, and reads back as itself.
    for value in hostile
        .iter()
        .copied()
        .chain(["a\nb -- c", "x\\", "'", "''", "/*", ";"])
    {
        let rows = live
            .query(&format!(
                "SELECT {} AS v, count(*) AS n FROM sys_invocation WHERE target_service_name = {}",
                quote(value),
                quote(value)
            ))
            .await
            .unwrap_or_else(|e| panic!("{value:?}: {e:?}"));
        assert_eq!(rows.len(), 1, "{value:?}: {rows:?}");
        assert_eq!(
            (rows[0]["v"].as_str(), rows[0]["n"].as_u64()),
            (Some(value), Some(0)),
            "{value:?}"
        );
    }
    // A time range that matches nothing yet.
    let future = SystemTime::now() + Duration::from_secs(3600);
    let report = r
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("WfcOther").from(future)),
            &BulkOptions::new().drain(true),
        )
        .await
        .expect("future bulk");
    assert_eq!((report.requested, report.drained), (0, true), "{report:?}");
    for id in hits.iter().chain(&misses) {
        assert_eq!(live.row(id).await.map(|r| r.state()), Some(RunState::Running), "{id}");
    }
    // See before cancelling: count and list (two a page) show exactly the five running WfcOther
    // invocations, each in the state its row holds.
    let running = RunFilter::new().workflow("WfcOther").state(RunState::Running);
    assert_eq!(r.count_runs(&running).await, Ok(5));
    let listed = list_all(&r, &running, 2).await;
    let mut ids: Vec<&str> = listed.iter().map(|l| l.run.run_id()).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = hits.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "{listed:?}");
    for l in &listed {
        assert_eq!(l.workflow.as_deref(), Some("WfcOther"), "{l:?}");
        assert!(l.created.is_some(), "{l:?}");
        assert_eq!(
            live.row(l.run.run_id()).await.map(|r| r.state()).as_ref(),
            Some(&l.state),
            "{l:?}"
        );
    }
    eprintln!("live_restate: list_runs and count_runs saw the 5 running WfcOther invocations");
    let past = SystemTime::now() - Duration::from_secs(3600);
    let report = r
        .cancel_many(
            &Selector::filter(
                RunFilter::new()
                    .workflow("WfcOther")
                    .custom_field("handler", "run")
                    .from(past)
                    .to(SystemTime::now()),
            ),
            &BulkOptions::new().drain(true).page_size(2),
        )
        .await
        .expect("bulk by service");
    assert!(report.is_success() && report.drained, "{report:?}");
    assert_eq!(report.requested, 5, "{report:?}");
    assert!(
        report.rounds >= 4,
        "5 matches, pages of 2, then a query that finds none: {report:?}"
    );
    for id in &hits {
        let row = live.row(id).await.expect("row");
        assert!(
            row.is("completed", Some("failure"), Some("[409] Cancelled")),
            "{id}: {row:?}"
        );
    }
    for id in &misses {
        assert_eq!(live.row(id).await.map(|r| r.state()), Some(RunState::Running), "{id}");
    }
    // After: the listing shows them cancelled, as their rows say; none is left running.
    assert_eq!(r.count_runs(&running).await, Ok(0));
    let cancelled = list_all(
        &r,
        &RunFilter::new().workflow("WfcOther").state(RunState::Cancelled),
        50,
    )
    .await;
    for id in &hits {
        let l = cancelled
            .iter()
            .find(|l| l.run.run_id() == id)
            .expect("listed cancelled");
        assert_eq!(live.row(id).await.map(|r| r.state()).as_ref(), Some(&l.state), "{l:?}");
        assert_eq!(l.state, RunState::Cancelled);
    }
    eprintln!("live_restate: bulk by service in {} rounds", report.rounds);

    // 6. 1,000 invocations by ids.
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..1000)
        .map(|_| live.send("WfcSlow/wait", Value::Null, None))
        .buffer_unordered(32)
        .collect()
        .await;
    eprintln!("live_restate: started 1000 in {:?}", started.elapsed());
    let started = Instant::now();
    let report = r
        .cancel_many(
            &Selector::Ids(ids.iter().map(RunRef::new).collect()),
            &BulkOptions::new(),
        )
        .await
        .expect("1000");
    eprintln!("live_restate: cancelled 1000 by ids in {:?}", started.elapsed());
    assert!(report.is_success(), "{:?}", report.failed.first());
    assert_eq!(
        (report.requested + report.cancelled, report.accounted()),
        (1000, 1000),
        "{report:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = live
            .count("target_handler_name = 'wait' AND completion_failure = '[409] Cancelled'")
            .await;
        if n == 1000 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of 1000 cancelled on the server");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 6b. A storm through the fault proxy (20 % 503, 5 % 429, 2 % dropped connections).
    storm(&live).await;

    // 6c. Lost answers through the fault proxy (30 % of answers dropped after the server acted):
    //     cancels, then kills.
    lost_answers(&live).await;

    // 7. The conformance suite on the real server. The filter checks are not run: they seed runs
    //    with creation times years in the past, and URL and label fields, which Restate cannot
    //    seed (created_at is the server's clock); the scenarios above cover filters.
    let c: &dyn WorkflowCanceller = &r;
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
    // Last: it cancels every invocation on the server that is not completed.
    conformance::check_cancel_all(c, &h).await;
    assert_eq!(live.count("status != 'completed'").await, 0);
    eprintln!("live_restate: conformance checks passed");
    drop(live);
}
