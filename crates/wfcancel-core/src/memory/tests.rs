use std::sync::Mutex as StdMutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::{ErrorKind, Progress, WorkflowCancellerExt};

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn provider_error() -> CancelError {
    CancelError::provider("memory", Some(503), "injected")
}

fn unauthenticated() -> CancelError {
    CancelError::unauthenticated("memory", "injected")
}

#[test]
fn builder_sets_every_field_and_defaults_are_sensible() {
    let before = SystemTime::now();
    let d = MemoryRun::new("d");
    assert_eq!(d.state, RunState::Running);
    assert!(d.owner.is_none() && d.session.is_none() && d.caller_ip.is_none() && d.flow_control_key.is_none());
    assert!(d.labels.is_empty() && d.url.is_empty() && !d.never_stops);
    assert!(d.created_at >= before);

    let r = MemoryRun::new("r")
        .agent("bot")
        .session("s")
        .url("https://x/wf")
        .label("a")
        .labels(["b", "c"])
        .created_at(t(5))
        .caller_ip("1.2.3.4")
        .flow_control_key("k")
        .state(RunState::Paused)
        .never_stops();
    assert_eq!(
        r.owner,
        Some(Owner {
            kind: OwnerKind::Agent,
            id: "bot".into()
        })
    );
    assert_eq!(r.session.as_deref(), Some("s"));
    assert_eq!(r.labels, ["a", "b", "c"]);
    assert_eq!(r.created_at, t(5));
    assert_eq!(r.caller_ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(r.flow_control_key.as_deref(), Some("k"));
    assert_eq!(r.state, RunState::Paused);
    assert!(r.never_stops);
    assert_eq!(r.run_ref(), RunRef::new("r").agent("bot").session("s"));
    assert_eq!(
        MemoryRun::new("w").workflow("wf").owner.map(|o| o.kind),
        Some(OwnerKind::Workflow)
    );
    assert_eq!(
        MemoryRun::new("w").team("tm").owner.map(|o| o.kind),
        Some(OwnerKind::Team)
    );
}

#[test]
fn insert_state_set_state_runs_len() {
    let m = InMemoryCanceller::new();
    assert!(m.is_empty());
    let r = m.insert(MemoryRun::new("b").workflow("wf"));
    assert_eq!(r, RunRef::new("b").workflow("wf"));
    m.insert_many([MemoryRun::new("a"), MemoryRun::new("c").state(RunState::Completed)]);
    assert_eq!(m.len(), 3);
    let ids: Vec<String> = m.runs().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b", "a", "c"], "runs() is in insertion order");
    assert_eq!(m.state_of("c"), Some(RunState::Completed));
    assert_eq!(m.state_of("zzz"), None);
    assert!(m.set_state("a", RunState::Failed));
    assert!(!m.set_state("zzz", RunState::Failed));
    assert_eq!(m.get("a").map(|r| r.state), Some(RunState::Failed));
    // Replacing keeps the count.
    m.insert(MemoryRun::new("a"));
    assert_eq!(m.len(), 3);
    assert_eq!(m.state_of("a"), Some(RunState::Running));
    m.clear();
    assert!(m.is_empty());
}

#[tokio::test]
async fn cancel_active_runs_then_not_active() {
    let m = InMemoryCanceller::new();
    for (id, s) in [
        ("p", RunState::Pending),
        ("r", RunState::Running),
        ("z", RunState::Paused),
    ] {
        m.insert(MemoryRun::new(id).state(s));
        assert_eq!(m.cancel(&RunRef::new(id)).await.unwrap(), CancelOutcome::Cancelled);
        assert_eq!(m.state_of(id), Some(RunState::Cancelled));
        assert_eq!(
            m.cancel(&RunRef::new(id)).await.unwrap(),
            CancelOutcome::NotActive(Inactive::Finished),
            "idempotent"
        );
    }
    assert!(m.capabilities().cancel_confirms);
}

#[tokio::test]
async fn unknown_and_finished_runs_are_not_active_and_untouched() {
    let m = InMemoryCanceller::new();
    assert_eq!(
        m.cancel(&RunRef::new("nope")).await.unwrap(),
        CancelOutcome::NotActive(Inactive::NoSuchRun)
    );
    assert!(m.is_empty(), "cancel must not create runs");
    for s in [
        RunState::Completed,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Terminated,
        RunState::TimedOut,
        RunState::unknown("weird", true),
        RunState::unknown("weird", false),
    ] {
        m.insert(MemoryRun::new("x").state(s.clone()));
        let why = if s.is_terminal() {
            Inactive::Finished
        } else {
            Inactive::Unspecified
        };
        assert_eq!(
            m.cancel(&RunRef::new("x")).await.unwrap(),
            CancelOutcome::NotActive(why),
            "{s}"
        );
        assert_eq!(m.state_of("x"), Some(s));
    }
}

#[tokio::test]
async fn invalid_input_comes_first_and_consumes_no_fault() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a"));
    m.fail_next(1, provider_error());
    for (r, field) in [
        (RunRef::new(""), "run_id"),
        (RunRef::new("  "), "run_id"),
        (RunRef::new("a\u{0}"), "run_id"),
        (RunRef::new("a").workflow(""), "owner_id"),
        (RunRef::new("a").session("\n"), "session_id"),
    ] {
        match m.cancel(&r).await {
            Err(CancelError::InvalidInput {
                backend: "memory",
                field: f,
                ..
            }) => assert_eq!(f, field),
            other => panic!("{r:?}: {other:?}"),
        }
        match m.status(&r).await {
            Err(CancelError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{r:?}: {other:?}"),
        }
    }
    let e = m
        .cancel_many(&Selector::Ids(vec![]), &BulkOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = m
        .cancel_many(&Selector::filter(RunFilter::new()), &BulkOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "filter", .. }));
    let e = m
        .cancel_many(&Selector::ids(["a"]), &BulkOptions::new().concurrency(0))
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        CancelError::InvalidInput {
            field: "concurrency",
            ..
        }
    ));
    let e = m
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().page_size(0))
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "page_size", .. }));
    assert_eq!(m.pending_faults(), 1, "validation errors consume no fault");
    assert_eq!(m.state_of("a"), Some(RunState::Running));
}

#[tokio::test]
async fn owner_and_session_must_agree_when_both_are_named() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("r1").workflow("wf").session("s1"));
    m.insert(MemoryRun::new("r2").workflow("wf"));
    m.insert(MemoryRun::new("r3"));
    // Another owner id, another owner kind, another session: not that run.
    for r in [
        RunRef::new("r1").workflow("other"),
        RunRef::new("r1").agent("wf"),
        RunRef::new("r1").session("s2"),
    ] {
        assert_eq!(
            m.cancel(&r).await.unwrap(),
            CancelOutcome::NotActive(Inactive::NoSuchRun),
            "{r}"
        );
        assert_eq!(m.status(&r).await.unwrap_err().kind(), ErrorKind::NotFound, "{r}");
    }
    assert_eq!(m.state_of("r1"), Some(RunState::Running));
    assert_eq!(
        m.cancel(&RunRef::new("r1").workflow("wf").session("s1")).await.unwrap(),
        CancelOutcome::Cancelled
    );
    // A reference without owner addresses an owned run; a reference with owner addresses an unowned run.
    assert_eq!(m.cancel(&RunRef::new("r2")).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(
        m.cancel(&RunRef::new("r3").team("t")).await.unwrap(),
        CancelOutcome::Cancelled
    );
}

#[tokio::test(start_paused = true)]
async fn cooperative_mode_requests_then_cancels_after_the_delay() {
    let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(500));
    assert!(!m.capabilities().cancel_confirms);
    assert_eq!(m.cancel_delay(), Some(Duration::from_millis(500)));
    m.insert(MemoryRun::new("a"));
    assert_eq!(m.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Requested);
    assert_eq!(m.state_of("a"), Some(RunState::Running));
    assert!(m.cancel_pending("a"));
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(
        m.cancel(&RunRef::new("a")).await.unwrap(),
        CancelOutcome::Requested,
        "still pending"
    );
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap(), RunState::Running);
    // The delay counts from the first request, not the second.
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap(), RunState::Cancelled);
    assert!(!m.cancel_pending("a"));
    assert_eq!(
        m.cancel(&RunRef::new("a")).await.unwrap(),
        CancelOutcome::NotActive(Inactive::Finished)
    );
}

#[tokio::test(start_paused = true)]
async fn cooperative_run_that_finishes_first_keeps_its_state() {
    let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(100));
    m.insert(MemoryRun::new("a"));
    assert_eq!(m.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Requested);
    assert!(m.set_state("a", RunState::Completed));
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(m.state_of("a"), Some(RunState::Completed));
    // set_state back to running drops the old request: the run is active again.
    m.set_state("a", RunState::Running);
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(m.state_of("a"), Some(RunState::Running));
}

#[tokio::test(start_paused = true)]
async fn never_stopping_runs_ignore_cancel_and_make_waits_time_out() {
    for m in [
        InMemoryCanceller::new(),
        InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(10)),
    ] {
        m.insert(MemoryRun::new("stuck").never_stops());
        m.insert(MemoryRun::new("stuck2"));
        assert!(m.set_never_stops("stuck2", true));
        assert!(!m.set_never_stops("nope", true));
        for id in ["stuck", "stuck2"] {
            assert_eq!(m.cancel(&RunRef::new(id)).await.unwrap(), CancelOutcome::Requested);
            assert_eq!(m.cancel(&RunRef::new(id)).await.unwrap(), CancelOutcome::Requested);
        }
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(m.state_of("stuck"), Some(RunState::Running));
        // Released, the pending request takes effect (at once, or after the delay).
        m.set_never_stops("stuck", false);
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(m.state_of("stuck"), Some(RunState::Cancelled));
    }
}

#[tokio::test]
async fn never_stopping_run_makes_cancel_and_wait_time_out() {
    // wait_until_terminal measures its deadline on the real clock, so this uses real (short) time.
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("stuck").never_stops());
    let opts = crate::WaitOptions::with_timeout(Duration::from_millis(60)).initial_interval(Duration::from_millis(5));
    let e = m.cancel_and_wait(&RunRef::new("stuck"), opts).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert_eq!(e.backend(), "memory");
}

#[tokio::test]
async fn status_reports_state_and_not_found() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a").state(RunState::Paused));
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap(), RunState::Paused);
    match m.status(&RunRef::new("ghost")).await {
        Err(CancelError::NotFound {
            backend: "memory",
            what: NotFoundKind::Run,
            id: Some(id),
            ..
        }) => {
            assert_eq!(id, "ghost")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn fail_next_counts_each_request_and_returns_the_error_as_given() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a"));
    m.fail_next(3, provider_error());
    assert_eq!(m.pending_faults(), 3);
    assert_eq!(m.cancel(&RunRef::new("a")).await.unwrap_err(), provider_error());
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap_err(), provider_error());
    // A filter bulk: its one round is one request.
    let r = m
        .cancel_many(&Selector::filter(RunFilter::new().url_exact("")), &BulkOptions::new())
        .await;
    assert!(r.is_err(), "invalid filter is refused before any request");
    let report = m
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].round, Some(1));
    assert!(report.failed[0].runs.is_empty());
    assert_eq!(report.failed[0].error, provider_error());
    assert!(report.aborted.is_none() && !report.drained && report.cancelled == 0);
    assert_eq!((report.rounds, report.requests_sent), (1, 1));
    assert_eq!(m.pending_faults(), 0);
    assert_eq!(
        m.state_of("a"),
        Some(RunState::Running),
        "a failed request changes nothing"
    );
    assert_eq!(m.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Cancelled);

    // A foreign backend name is kept; n == 0 clears.
    let foreign = CancelError::timeout("upstash", "x");
    m.fail_next(5, foreign.clone());
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap_err(), foreign);
    m.fail_next(0, foreign);
    assert_eq!(m.pending_faults(), 0);
    assert!(m.status(&RunRef::new("a")).await.is_ok());
}

#[tokio::test]
async fn fail_next_applies_per_fanned_out_cancel() {
    let m = InMemoryCanceller::new();
    let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    m.insert_many(ids.iter().map(MemoryRun::new));
    m.fail_next(2, provider_error());
    let report = m
        .cancel_many(&Selector::ids(ids.clone()), &BulkOptions::new().concurrency(1))
        .await
        .unwrap();
    assert_eq!(report.cancelled, 4);
    assert_eq!(report.failed_runs(), 2);
    assert_eq!(report.accounted(), 6);
    assert!(report.aborted.is_none());
    let failed: Vec<&str> = report.failed.iter().map(|f| f.runs[0].run_id()).collect();
    assert_eq!(failed, ["r0", "r1"]);
    assert_eq!(m.state_of("r0"), Some(RunState::Running));
    assert_eq!(m.state_of("r5"), Some(RunState::Cancelled));
}

#[tokio::test]
async fn fan_out_stops_on_an_error_that_fails_every_call() {
    let m = InMemoryCanceller::new();
    let ids: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
    m.insert_many(ids.iter().map(MemoryRun::new));
    m.fail_next(1, unauthenticated());
    let report = m
        .cancel_many(&Selector::ids(ids), &BulkOptions::new().concurrency(1))
        .await
        .unwrap();
    assert_eq!(report.aborted, Some(unauthenticated()));
    assert_eq!(report.failed_runs(), 1);
    assert_eq!(report.not_attempted.len(), 4);
    assert_eq!(report.accounted(), 5);
    assert!(!report.is_success());
}

#[tokio::test]
async fn unauthenticated_round_aborts_a_filter_bulk() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a").label("l"));
    m.fail_next(1, unauthenticated());
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("l")), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(report.aborted, Some(unauthenticated()));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(m.state_of("a"), Some(RunState::Running));
}

#[tokio::test]
async fn bulk_by_ids_accounts_for_every_id_and_records_one_call() {
    let m = InMemoryCanceller::new();
    m.insert_many([
        MemoryRun::new("a"),
        MemoryRun::new("b").state(RunState::Pending),
        MemoryRun::new("c").state(RunState::Completed),
    ]);
    let sel = Selector::ids(["a", "b", "c", "ghost"]);
    let report = m.cancel_many(&sel, &BulkOptions::new()).await.unwrap();
    assert_eq!((report.cancelled, report.not_active, report.accounted()), (2, 2, 4));
    assert_eq!(report.outcomes.len(), 4);
    assert_eq!(report.requests_sent, 4);
    assert_eq!(report.backend, "memory");
    assert_eq!(
        m.calls(),
        vec![MemoryCall::CancelMany(sel)],
        "the fanned-out cancels are not recorded"
    );
}

/// Ten runs labelled "l", created at t(0)..t(9), inserted in a scrambled order, plus others.
fn ten_labelled() -> InMemoryCanceller {
    let m = InMemoryCanceller::new();
    for i in [3u64, 9, 0, 7, 1, 5, 8, 2, 6, 4] {
        m.insert(MemoryRun::new(format!("l{i}")).label("l").created_at(t(i)));
    }
    m.insert(MemoryRun::new("other").label("x").created_at(t(0)));
    m.insert(
        MemoryRun::new("done")
            .label("l")
            .created_at(t(0))
            .state(RunState::Completed),
    );
    m
}

#[tokio::test]
async fn filter_without_drain_cancels_one_page_oldest_first() {
    let m = ten_labelled();
    let report = m
        .cancel_many(
            &Selector::filter(RunFilter::new().label("l")),
            &BulkOptions::new().page_size(3),
        )
        .await
        .unwrap();
    assert_eq!(
        (report.cancelled, report.rounds, report.requests_sent, report.drained),
        (3, 1, 1, false)
    );
    let cancelled: Vec<&str> = report.outcomes.iter().map(|o| o.run.run_id()).collect();
    assert_eq!(cancelled, ["l0", "l1", "l2"]);
    for i in 3..10 {
        assert_eq!(m.state_of(&format!("l{i}")), Some(RunState::Running));
    }
    assert_eq!(m.state_of("other"), Some(RunState::Running));
    assert_eq!(m.state_of("done"), Some(RunState::Completed));
}

#[tokio::test]
async fn filter_drain_repeats_until_a_round_cancels_nothing_and_reports_progress() {
    let m = ten_labelled();
    let seen: Arc<StdMutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    let opts = BulkOptions::new()
        .page_size(3)
        .drain(true)
        .on_progress(move |p| sink.lock().unwrap().push(p.clone()));
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("l")), &opts)
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (10, 5, 5));
    assert!(report.drained && report.is_success());
    let seen = seen.lock().unwrap();
    let per_round: Vec<u64> = seen.iter().map(|p| p.last_round_cancelled).collect();
    assert_eq!(per_round, [3, 3, 3, 1, 0]);
    let rounds: Vec<u32> = seen.iter().map(|p| p.rounds).collect();
    assert_eq!(rounds, [1, 2, 3, 4, 5]);
    assert_eq!(seen.last().map(|p| p.cancelled), Some(10));
    let order: Vec<&str> = report.outcomes.iter().map(|o| o.run.run_id()).collect();
    assert_eq!(order, ["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"]);
    assert_eq!(m.state_of("other"), Some(RunState::Running));
}

#[tokio::test]
async fn filter_drain_stops_at_max_rounds_without_claiming_drained() {
    let m = ten_labelled();
    let opts = BulkOptions::new().page_size(3).drain(true).max_rounds(2);
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("l")), &opts)
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.drained), (6, 2, false));
}

#[tokio::test]
async fn cooperative_drain_does_not_pick_pending_runs_again() {
    let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_secs(60));
    for i in 0..5 {
        m.insert(MemoryRun::new(format!("r{i}")).label("l"));
    }
    let opts = BulkOptions::new().page_size(2).drain(true);
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("l")), &opts)
        .await
        .unwrap();
    assert_eq!(
        (report.requested, report.cancelled, report.rounds, report.drained),
        (5, 0, 4, true)
    );
    assert!((0..5).all(|i| m.cancel_pending(&format!("r{i}"))));
}

#[tokio::test]
async fn filter_fields_follow_the_contract() {
    let m = InMemoryCanceller::new();
    m.insert_many([
        MemoryRun::new("u1").url("https://a/wf").created_at(t(10)),
        MemoryRun::new("u2")
            .url("https://a/wf/x")
            .created_at(t(20))
            .caller_ip("10.0.0.1"),
        MemoryRun::new("u3")
            .url("https://b/wf")
            .created_at(t(30))
            .flow_control_key("k"),
    ]);
    let count = |f: RunFilter| {
        let m = m.clone();
        async move {
            let n = m
                .cancel_many(&Selector::filter(f), &BulkOptions::new())
                .await
                .unwrap()
                .cancelled;
            m.runs().into_iter().for_each(|r| {
                m.set_state(&r.id, RunState::Running);
            });
            n
        }
    };
    assert_eq!(count(RunFilter::new().url_exact("https://a/wf")).await, 1);
    assert_eq!(count(RunFilter::new().url_prefix("https://a/wf")).await, 2);
    assert_eq!(count(RunFilter::new().from(t(10)).to(t(20))).await, 2, "inclusive");
    assert_eq!(count(RunFilter::new().from(t(11))).await, 2);
    assert_eq!(count(RunFilter::new().to(t(29))).await, 2);
    assert_eq!(
        count(RunFilter::new().caller_ip("10.0.0.1").caller_ip("10.0.0.2")).await,
        1
    );
    assert_eq!(count(RunFilter::new().flow_control_key("k")).await, 1);
    assert_eq!(
        count(RunFilter::new().url_prefix("https://a/").flow_control_key("k")).await,
        0,
        "AND"
    );
    assert_eq!(count(RunFilter::new().host("a")).await, 2);
    assert_eq!(
        count(RunFilter::new().host("B").host("c")).await,
        1,
        "hosts ignore case"
    );
    assert_eq!(count(RunFilter::new().path("/wf")).await, 2);
    assert_eq!(count(RunFilter::new().path("/wf/x").path("/nope")).await, 1);
    assert_eq!(count(RunFilter::new().path("/wf/")).await, 0, "exact paths");
    assert_eq!(count(RunFilter::new().host("a").path("/wf")).await, 1, "AND");
}

#[tokio::test]
async fn cancel_all_takes_every_active_run() {
    let m = ten_labelled();
    let report = m
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.drained), (11, 2, true));
    assert_eq!(m.state_of("done"), Some(RunState::Completed));
    assert!(m.runs().iter().all(|r| r.state.is_terminal()));
}

#[tokio::test]
async fn calls_are_recorded_in_order_valid_or_not() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a"));
    let _ = m.cancel(&RunRef::new("a")).await;
    let _ = m.cancel(&RunRef::new("")).await;
    let _ = m.status(&RunRef::new("a")).await;
    let _ = m.cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new()).await;
    assert_eq!(
        m.calls(),
        vec![
            MemoryCall::Cancel(RunRef::new("a"), CancelOptions::default()),
            MemoryCall::Cancel(RunRef::new(""), CancelOptions::default()),
            MemoryCall::Status(RunRef::new("a")),
            MemoryCall::CancelMany(Selector::cancel_all_runs()),
        ]
    );
    m.clear_calls();
    assert!(m.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_request() {
    let m = InMemoryCanceller::new().with_latency(Duration::from_millis(250));
    m.insert(MemoryRun::new("a"));
    let start = tokio::time::Instant::now();
    m.status(&RunRef::new("a")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    let start = tokio::time::Instant::now();
    m.cancel_many(&Selector::ids(["a", "b", "c", "d"]), &BulkOptions::new().concurrency(2))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(500), "4 cancels, 2 at a time");
}

#[tokio::test]
async fn clones_share_state_and_work_across_tasks() {
    let m = InMemoryCanceller::new();
    let other = m.clone();
    other.insert(MemoryRun::new("secret-run-id"));
    assert_eq!(m.len(), 1);
    let task = tokio::spawn(async move { other.cancel(&RunRef::new("secret-run-id")).await });
    assert_eq!(task.await.unwrap().unwrap(), CancelOutcome::Cancelled);
    assert_eq!(m.state_of("secret-run-id"), Some(RunState::Cancelled));
    let debug = format!("{m:?}");
    assert!(debug.contains("runs: 1"), "{debug}");
    assert!(!debug.contains("secret-run-id"), "Debug must not list runs: {debug}");
}

#[test]
fn capabilities_claim_everything_but_native_bulk_ids() {
    let c = InMemoryCanceller::new().capabilities();
    assert!(c.cancel && c.cancel_all && c.status && c.cancel_confirms && !c.bulk_ids);
    assert!(c.filter.supports(&crate::FilterField::Labels) && c.filter.workflows && c.filter.states);
    assert!(c.graceful && c.forced && c.reason);
    assert!(
        !c.filter.supports(&crate::FilterField::Custom("anything".into())),
        "no custom field: fail closed"
    );
    assert!(!c.needs_owner && !c.status_needs_session && !c.background_actions);
    assert_eq!(InMemoryCanceller::new().backend(), "memory");
}

#[tokio::test]
async fn scales_to_100k_runs() {
    let m = InMemoryCanceller::new();
    m.insert_many((0..100_000u64).map(|i| {
        MemoryRun::new(format!("run-{i}"))
            .label(if i % 10 == 0 { "tenth" } else { "rest" })
            .created_at(t(i))
    }));
    assert_eq!(m.len(), 100_000);
    let start = std::time::Instant::now();
    for i in (0..100_000).step_by(100) {
        m.cancel(&RunRef::new(format!("run-{i}"))).await.unwrap();
    }
    let opts = BulkOptions::new().page_size(5_000).drain(true);
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("tenth")), &opts)
        .await
        .unwrap();
    // 10,000 labelled "tenth", 1,000 of which were already cancelled above.
    assert_eq!((report.cancelled, report.rounds, report.drained), (9_000, 3, true));
    let report = m
        .cancel_many(
            &Selector::cancel_all_runs(),
            &BulkOptions::new().page_size(50_000).drain(true),
        )
        .await;
    assert_eq!(report.unwrap().cancelled, 90_000);
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
}

/// The reviewer's case: the cooperative delay belongs to the handle that requests the cancel;
/// a plain handle reading the shared run must not apply its own (zero) delay to it.
#[tokio::test(start_paused = true)]
async fn a_cooperative_cancel_is_due_after_the_requesting_handles_delay_for_every_handle() {
    let mem = InMemoryCanceller::new();
    let coop = mem.clone().with_cancel_delay(Duration::from_secs(60));
    assert_eq!(
        (mem.cancel_delay(), coop.cancel_delay()),
        (None, Some(Duration::from_secs(60)))
    );
    mem.insert(MemoryRun::new("a"));
    mem.insert(MemoryRun::new("b"));
    assert_eq!(coop.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Requested);
    assert_eq!(
        mem.state_of("a"),
        Some(RunState::Running),
        "not collapsed by the plain handle"
    );
    assert_eq!(mem.get("a").map(|r| r.state), Some(RunState::Running));
    assert_eq!(mem.status(&RunRef::new("a")).await.unwrap(), RunState::Running);
    assert!(mem.cancel_pending("a") && coop.cancel_pending("a"));
    assert_eq!(
        mem.cancel(&RunRef::new("a")).await.unwrap(),
        CancelOutcome::Requested,
        "a confirming handle sees the pending request too"
    );
    assert_eq!(mem.runs()[0].state, RunState::Running);
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(mem.state_of("a"), Some(RunState::Running));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(mem.state_of("a"), Some(RunState::Cancelled));
    assert_eq!(coop.state_of("a"), Some(RunState::Cancelled));
    // The other way round: a confirming cancel is seen at once through the cooperative handle.
    assert_eq!(mem.cancel(&RunRef::new("b")).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(coop.state_of("b"), Some(RunState::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn a_huge_cancel_delay_never_takes_effect_and_does_not_panic() {
    let m = InMemoryCanceller::new().with_cancel_delay(Duration::MAX);
    m.insert(MemoryRun::new("a"));
    assert_eq!(m.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Requested);
    tokio::time::advance(Duration::from_secs(86_400 * 365)).await;
    assert_eq!(m.state_of("a"), Some(RunState::Running));
    assert!(m.cancel_pending("a"));
}

/// The ordered index of active runs follows every change: replaced runs, state changes, runs
/// that become active again, `clear`.
#[tokio::test]
async fn bulk_rounds_follow_inserts_replacements_and_state_changes() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a").created_at(t(1)));
    m.insert(MemoryRun::new("b").created_at(t(2)));
    m.insert(MemoryRun::new("c").created_at(t(3)).state(RunState::Completed));
    // Replaced: the old "a" is gone from the index; the new one is finished.
    m.insert(MemoryRun::new("a").created_at(t(0)).state(RunState::Failed));
    // Replaced the other way: "c" is active now.
    m.insert(MemoryRun::new("c").created_at(t(3)));
    let all = || Selector::cancel_all_runs();
    let report = m.cancel_many(&all(), &BulkOptions::new().drain(true)).await.unwrap();
    let order: Vec<&str> = report.outcomes.iter().map(|o| o.run.run_id()).collect();
    assert_eq!(order, ["b", "c"]);
    assert_eq!(m.state_of("a"), Some(RunState::Failed));
    // Active again: picked again, once.
    assert!(m.set_state("b", RunState::Paused));
    assert!(m.set_state("a", RunState::Pending));
    let report = m.cancel_many(&all(), &BulkOptions::new().drain(true)).await.unwrap();
    let order: Vec<&str> = report.outcomes.iter().map(|o| o.run.run_id()).collect();
    assert_eq!(order, ["a", "b"]);
    // Finished by hand: not picked.
    m.insert(MemoryRun::new("d"));
    assert!(m.set_state("d", RunState::Completed));
    // A single cancel takes a run out of the index.
    m.insert(MemoryRun::new("e"));
    assert_eq!(m.cancel(&RunRef::new("e")).await.unwrap(), CancelOutcome::Cancelled);
    let report = m.cancel_many(&all(), &BulkOptions::new()).await.unwrap();
    assert_eq!(report.cancelled, 0);
    m.insert(MemoryRun::new("f"));
    m.clear();
    assert!(m.is_empty());
    let report = m.cancel_many(&all(), &BulkOptions::new()).await.unwrap();
    assert_eq!((report.cancelled, report.rounds), (0, 1));
}

/// A run that joins while a drain is between rounds is still found, even when it is older than
/// where the drain has got to.
#[tokio::test(start_paused = true)]
async fn a_drain_finds_runs_added_between_its_rounds() {
    let m = InMemoryCanceller::new().with_latency(Duration::from_millis(10));
    for i in 0..20u64 {
        let label = if i % 2 == 0 { "l" } else { "x" };
        m.insert(MemoryRun::new(format!("r{i}")).label(label).created_at(t(10 + i)));
    }
    let other = m.clone();
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(25)).await;
        other.insert(MemoryRun::new("late-old").label("l").created_at(t(0)));
        other.insert(MemoryRun::new("late-new").label("l").created_at(t(100)));
    });
    let opts = BulkOptions::new().page_size(2).drain(true);
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("l")), &opts)
        .await
        .unwrap();
    late.await.unwrap();
    assert!(report.drained);
    assert_eq!(report.cancelled, 12, "{:?}", report.outcomes);
    assert_eq!(m.state_of("late-old"), Some(RunState::Cancelled));
    assert_eq!(m.state_of("late-new"), Some(RunState::Cancelled));
    for i in (1..20).step_by(2) {
        assert_eq!(m.state_of(&format!("r{i}")), Some(RunState::Running));
    }
}

/// A drain over a filter whose matches are the newest of many runs: each round used to scan
/// every run (1,000 rounds × 100,000 runs); with the ordered index and the drain's cursor it
/// passes over each non-matching run about once.
#[tokio::test]
async fn a_drain_with_small_pages_over_many_runs_stays_fast() {
    let m = InMemoryCanceller::new();
    m.insert_many((0..100_000u64).map(|i| {
        MemoryRun::new(format!("run-{i}"))
            .label(if i >= 90_000 { "new" } else { "old" })
            .created_at(t(i))
    }));
    let start = std::time::Instant::now();
    let opts = BulkOptions::new().page_size(10).drain(true);
    let report = m
        .cancel_many(&Selector::filter(RunFilter::new().label("new")), &opts)
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.drained), (10_000, 1_001, true));
    let report = m
        .cancel_many(
            &Selector::cancel_all_runs(),
            &BulkOptions::new().page_size(10).drain(true),
        )
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds), (90_000, 9_001));
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
}
