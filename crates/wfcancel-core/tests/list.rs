//! Listing and counting runs: core's checks before a backend sees the call, the in-memory
//! canceller's pages and counts, the mock, and serde.
#![cfg(all(feature = "memory", feature = "mock"))]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use wfcancel_core::{
    CancelError, Capabilities, ErrorKind, FilterCapabilities, InMemoryCanceller, ListOptions, ListedRun, MemoryCall,
    MemoryRun, MockWorkflowCanceller, RunFilter, RunPage, RunRef, RunState, WorkflowCanceller, check_list,
};

fn seeded() -> InMemoryCanceller {
    let m = InMemoryCanceller::new();
    for i in 0..5 {
        m.insert(
            MemoryRun::new(format!("r{i}"))
                .workflow("nightly")
                .label("batch")
                .created_at(UNIX_EPOCH + Duration::from_secs(1_000 + i)),
        );
    }
    m.insert(MemoryRun::new("done").workflow("nightly").state(RunState::Completed));
    m.insert(MemoryRun::new("other").workflow("hourly"));
    m
}

#[tokio::test]
async fn an_empty_filter_lists_every_run_in_every_state() {
    let m = seeded();
    let page = m.list_runs(&RunFilter::new(), &ListOptions::new()).await.unwrap();
    assert_eq!(page.runs.len(), 7);
    assert!(page.is_last());
    let done = page.runs.iter().find(|r| r.run.run_id() == "done").unwrap();
    assert_eq!(done.state, RunState::Completed);
    assert_eq!(done.workflow.as_deref(), Some("nightly"));
    let r0 = &page.runs[0];
    assert_eq!(
        (r0.run.run_id(), &r0.state, r0.created),
        ("r0", &RunState::Running, Some(UNIX_EPOCH + Duration::from_secs(1_000)))
    );
    assert_eq!(m.count_runs(&RunFilter::new()).await.unwrap(), 7);
}

#[tokio::test]
async fn pages_follow_the_cursor_without_duplicates() {
    let m = seeded();
    let filter = RunFilter::new().workflow("nightly");
    let mut seen = Vec::new();
    let mut opts = ListOptions::new().limit(2);
    let mut pages = 0;
    loop {
        let page = m.list_runs(&filter, &opts).await.unwrap();
        pages += 1;
        assert!(page.runs.len() <= 2);
        seen.extend(page.runs.into_iter().map(|r| r.run.run_id().to_owned()));
        match page.next {
            Some(next) => opts = ListOptions::new().limit(2).cursor(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4", "done"]);
}

#[tokio::test]
async fn states_and_counts_follow_the_runs() {
    let m = seeded();
    m.cancel(&RunRef::new("r1")).await.unwrap();
    let running = RunFilter::new().workflow("nightly").state(RunState::Running);
    assert_eq!(m.count_runs(&running).await.unwrap(), 4);
    let cancelled = RunFilter::new().state(RunState::Cancelled);
    let page = m.list_runs(&cancelled, &ListOptions::new()).await.unwrap();
    assert_eq!(page.runs.len(), 1);
    assert_eq!(
        (page.runs[0].run.run_id(), &page.runs[0].state),
        ("r1", &RunState::Cancelled)
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let m = seeded();
    m.clear_calls();
    for (opts, field) in [
        (ListOptions::new().limit(0), "limit"),
        (ListOptions::new().limit(1001), "limit"),
        (ListOptions::new().cursor(" "), "cursor"),
    ] {
        match m.list_runs(&RunFilter::new(), &opts).await {
            Err(CancelError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{opts:?}: {other:?}"),
        }
    }
    // A filter that is set but invalid (an empty list) is refused like for a cancel.
    let mut bad = RunFilter::new();
    bad.labels = Some(Vec::new());
    let e = m.list_runs(&bad, &ListOptions::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(m.count_runs(&bad).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(m.calls().is_empty(), "{:?}", m.calls());
    // A cursor the canceller never gave reaches it, and it says so.
    let e = m
        .list_runs(&RunFilter::new(), &ListOptions::new().cursor("nope"))
        .await
        .unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "cursor", .. }), "{e:?}");
}

#[test]
fn fields_and_abilities_are_checked_fail_closed() {
    let mut caps = Capabilities::default();
    let all = RunFilter::new();
    let e = check_list("x", &caps, &all, Some(&ListOptions::new())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("cannot list runs"), "{e}");
    let e = check_list("x", &caps, &all, None).unwrap_err();
    assert!(e.to_string().contains("cannot count runs"), "{e}");

    caps.list = true;
    caps.count = true;
    let mut f = FilterCapabilities::default();
    f.workflows = true;
    caps.list_filter = f;
    assert!(check_list("x", &caps, &all, Some(&ListOptions::new())).is_ok());
    assert!(check_list("x", &caps, &RunFilter::new().workflow("w"), None).is_ok());
    // The cancel filter capabilities do not count: only list_filter does.
    caps.filter = FilterCapabilities::upstash_fields();
    let e = check_list("x", &caps, &RunFilter::new().label("l"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("filter.labels"), "{e}");
    // A custom field nobody listed.
    let e = check_list("x", &caps, &RunFilter::new().custom_field("k", "v"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn a_backend_without_listing_answers_unsupported_and_the_mock_scripts_pages() {
    let mut mock = MockWorkflowCanceller::new();
    mock.expect_backend().return_const("mock");
    mock.expect_capabilities().returning(Capabilities::default);
    let c: Arc<dyn WorkflowCanceller> = Arc::new(mock);
    let e = c.list_runs(&RunFilter::new(), &ListOptions::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);

    let mut mock = MockWorkflowCanceller::new();
    mock.expect_backend().return_const("mock");
    mock.expect_capabilities().returning(|| {
        let mut caps = Capabilities::default();
        caps.list = true;
        caps
    });
    mock.expect_read_runs().times(1).returning(|_, _| {
        Ok(RunPage::new(
            vec![ListedRun::new(RunRef::new("a"), RunState::Running)],
            None,
        ))
    });
    let page = mock.list_runs(&RunFilter::new(), &ListOptions::new()).await.unwrap();
    assert_eq!(page.runs[0].run.run_id(), "a");
    let m = InMemoryCanceller::new();
    m.list_runs(&RunFilter::new(), &ListOptions::new()).await.unwrap();
    assert!(matches!(m.calls()[0], MemoryCall::List(..)));
}

#[cfg(feature = "serde")]
#[test]
fn listed_runs_round_trip_through_serde() {
    let page = RunPage::new(
        vec![
            ListedRun::new(RunRef::new("a").workflow("wf"), RunState::Running)
                .workflow("wf")
                .created(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            ListedRun::new(RunRef::new("b"), RunState::unknown("odd", true)),
        ],
        Some("c1".to_owned()),
    );
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["runs"][0]["created_ms"], 1_700_000_000_123u64);
    assert_eq!(json["runs"][0]["state"], "running");
    assert_eq!(json["runs"][1]["workflow"], serde_json::Value::Null);
    assert_eq!(json["next"], "c1");
    let back: RunPage = serde_json::from_value(json).unwrap();
    assert_eq!(back, page);
}
