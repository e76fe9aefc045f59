//! The 0.2 contract, across every backend: modes and reasons, the capability check before any
//! request (fail closed), a filter that matches everything, bulk jobs.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use wfcancel::{
    AgnoCanceller, BulkOptions, CancelError, CancelMode, CancelOptions, CancelOutcome, InMemoryCanceller, MemoryCall,
    MemoryRun, Router, RunFilter, RunRef, RunState, Selector, UpstashCanceller, WorkflowCanceller,
};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, UpstashConfig, UpstashEmulator};

struct Backends {
    upstash: UpstashEmulator,
    agno: AgnoEmulator,
    all: Vec<(Arc<dyn WorkflowCanceller>, RunRef)>,
}

async fn backends() -> Backends {
    let upstash = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    let agno = AgnoEmulator::start(AgnoConfig::default()).await.unwrap();
    let u: Arc<dyn WorkflowCanceller> = Arc::new(
        UpstashCanceller::builder()
            .base_url(upstash.url())
            .token(upstash.token())
            .build()
            .unwrap(),
    );
    let a: Arc<dyn WorkflowCanceller> = Arc::new(AgnoCanceller::builder().base_url(agno.url()).build().unwrap());
    let m: Arc<dyn WorkflowCanceller> = Arc::new(InMemoryCanceller::new());
    let router: Arc<dyn WorkflowCanceller> = Arc::new(Router::new().with(u.clone()).with(a.clone()));
    let all = vec![
        (u, RunRef::new("wfr_1")),
        (a, RunRef::new("run-1").workflow("w").session("s")),
        (m, RunRef::new("r1")),
        (router, RunRef::new("wfr_1").backend("upstash")),
    ];
    Backends { upstash, agno, all }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_or_reason_the_backend_lacks_is_refused_before_any_request() {
    let b = backends().await;
    b.upstash.reset_stats();
    for (c, run) in &b.all {
        let caps = c.capabilities();
        for opts in [CancelOptions::forced(), CancelOptions::graceful().reason("rollback")] {
            let wanted = match opts.mode {
                CancelMode::Forced => caps.forced,
                _ => caps.reason,
            };
            let result = c.cancel_with(run, &opts).await;
            if wanted {
                assert!(result.is_ok(), "{}: {opts:?}: {result:?}", c.backend());
            } else {
                assert!(
                    matches!(result, Err(CancelError::Unsupported { .. })),
                    "{}: {opts:?}: {result:?}",
                    c.backend()
                );
                let bulk = c
                    .cancel_many(
                        &Selector::Ids(vec![run.clone()]),
                        &BulkOptions::new().cancel_options(opts.clone()),
                    )
                    .await;
                assert!(
                    matches!(bulk, Err(CancelError::Unsupported { .. })),
                    "{}: {bulk:?}",
                    c.backend()
                );
            }
        }
    }
    assert_eq!(b.upstash.requests(), 0, "nothing reached Upstash");
    assert_eq!(b.agno.requests(), 0, "nothing reached AgentOS");
}

#[tokio::test]
async fn the_in_memory_canceller_has_both_modes_and_records_the_reason() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("g"));
    m.insert(MemoryRun::new("f").never_stops());
    let opts = CancelOptions::graceful().reason("deploy rolled back");
    assert_eq!(
        m.cancel_with(&RunRef::new("g"), &opts).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(m.status(&RunRef::new("g")).await.unwrap(), RunState::Cancelled);
    // A run that ignores a graceful cancel still stops when forced.
    assert_eq!(
        m.cancel_with(&RunRef::new("f"), &CancelOptions::forced())
            .await
            .unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(m.status(&RunRef::new("f")).await.unwrap(), RunState::Terminated);
    assert!(
        m.calls().contains(&MemoryCall::Cancel(RunRef::new("g"), opts)),
        "the reason is recorded: {:?}",
        m.calls()
    );
}

/// Fail closed: a filter field no backend lists (here a provider-specific field by name) is
/// refused by every backend before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_field_no_backend_lists_is_refused_by_every_backend() {
    let b = backends().await;
    b.upstash.reset_stats();
    let filter = Selector::filter(
        RunFilter::new()
            .label("nightly")
            .custom_field("x-field-from-the-future", "1"),
    );
    for (c, _) in &b.all {
        let err = c.cancel_many(&filter, &BulkOptions::new()).await.unwrap_err();
        assert!(matches!(err, CancelError::Unsupported { .. }), "{}: {err}", c.backend());
    }
    // The workflow name and the states, which Upstash does not filter on, likewise.
    let upstash = &b.all[0].0;
    for f in [
        RunFilter::new().workflow("orders"),
        RunFilter::new().state(RunState::Running),
    ] {
        let err = upstash
            .cancel_many(&Selector::filter(f), &BulkOptions::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("upstash cannot"), "{err}");
    }
    assert_eq!(b.upstash.requests(), 0);
}

/// A filter that can match every run is "all": it must be said with `cancel_all_runs()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_matches_everything_is_refused_as_all() {
    let b = backends().await;
    b.upstash.reset_stats();
    let upstash = &b.all[0].0;
    for f in [
        RunFilter::new().url_prefix("https://"),
        RunFilter::new().url_prefix("http"),
        RunFilter::new().from(UNIX_EPOCH),
    ] {
        let err = upstash
            .cancel_many(&Selector::filter(f.clone()), &BulkOptions::new().drain(true))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CancelError::InvalidInput { field: "filter", .. }),
            "{f:?}: {err}"
        );
    }
    assert_eq!(b.upstash.requests(), 0);
}

#[tokio::test]
async fn workflow_and_state_filters_on_the_in_memory_canceller() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("a").workflow("orders"));
    m.insert(MemoryRun::new("b").workflow("emails"));
    m.insert(MemoryRun::new("c").workflow("orders").state(RunState::Paused));
    let report = m
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("orders").state(RunState::Running)),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(report.cancelled, 1);
    assert_eq!(m.status(&RunRef::new("a")).await.unwrap(), RunState::Cancelled);
    assert_eq!(m.status(&RunRef::new("b")).await.unwrap(), RunState::Running);
    assert_eq!(m.status(&RunRef::new("c")).await.unwrap(), RunState::Paused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_jobs_are_read_where_the_provider_runs_them() {
    let b = backends().await;
    let (agno, memory) = (&b.all[1].0, &b.all[2].0);
    for c in [agno, memory] {
        let err = c.bulk_action("job-1").await.unwrap_err();
        assert!(matches!(err, CancelError::Unsupported { .. }), "{}: {err}", c.backend());
    }
    let upstash = &b.all[0].0;
    let err = upstash.bulk_action("no-such-action").await.unwrap_err();
    assert!(matches!(err, CancelError::NotFound { .. }), "{err}");
}
