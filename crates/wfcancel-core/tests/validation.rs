//! Every validation error, with the field it names: through the validators, through the default
//! fan-out, and through the in-memory canceller (before any request).
#![cfg(feature = "memory")]

use std::time::{Duration, UNIX_EPOCH};

use wfcancel_core::{
    BulkOptions, CancelError, InMemoryCanceller, MemoryRun, RunFilter, RunRef, RunState, Selector, WorkflowCanceller,
    validate_id,
};

fn field_of<T: std::fmt::Debug>(r: Result<T, CancelError>) -> &'static str {
    match r {
        Err(CancelError::InvalidInput {
            backend,
            field,
            message,
            ..
        }) => {
            assert!(!message.is_empty());
            assert_eq!(backend, "memory");
            field
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn filter_with(f: impl FnOnce(&mut RunFilter)) -> RunFilter {
    let mut filter = RunFilter::new();
    f(&mut filter);
    filter
}

fn bad_run_refs() -> Vec<(&'static str, RunRef, &'static str)> {
    vec![
        ("empty id", RunRef::new(""), "run_id"),
        ("blank id", RunRef::new(" \t\n "), "run_id"),
        ("control char in id", RunRef::new("run\u{1b}[31m"), "run_id"),
        ("DEL in id", RunRef::new("run\u{7f}"), "run_id"),
        ("empty owner", RunRef::new("r").workflow(""), "owner_id"),
        ("blank agent", RunRef::new("r").agent("  "), "owner_id"),
        ("control char in team", RunRef::new("r").team("t\u{0}"), "owner_id"),
        ("empty session", RunRef::new("r").session(""), "session_id"),
    ]
}

fn bad_selectors() -> Vec<(&'static str, Selector, &'static str)> {
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    vec![
        ("empty id list", Selector::Ids(vec![]), "ids"),
        ("bad id in list", Selector::ids(["ok", ""]), "run_id"),
        ("empty filter", Selector::filter(RunFilter::new()), "filter"),
        (
            "empty labels",
            Selector::filter(filter_with(|f| f.labels = Some(vec![]))),
            "filter.labels",
        ),
        (
            "blank label",
            Selector::filter(RunFilter::new().label(" ")),
            "filter.labels",
        ),
        (
            "empty caller ips",
            Selector::filter(filter_with(|f| f.caller_ips = Some(vec![]))),
            "filter.caller_ips",
        ),
        (
            "empty flow-control keys",
            Selector::filter(filter_with(|f| f.flow_control_keys = Some(vec![]))),
            "filter.flow_control_keys",
        ),
        (
            "empty hosts",
            Selector::filter(filter_with(|f| f.hosts = Some(vec![]))),
            "filter.hosts",
        ),
        (
            "blank host",
            Selector::filter(RunFilter::new().host("example.com").host("\t")),
            "filter.hosts",
        ),
        (
            "control char in host",
            Selector::filter(RunFilter::new().host("exa\u{7}mple.com")),
            "filter.hosts",
        ),
        (
            "empty paths",
            Selector::filter(filter_with(|f| f.paths = Some(vec![]))),
            "filter.paths",
        ),
        (
            "blank path",
            Selector::filter(RunFilter::new().path(" ")),
            "filter.paths",
        ),
        (
            "control char in path",
            Selector::filter(RunFilter::new().label("l").path("/a\nb")),
            "filter.paths",
        ),
        (
            "empty exact url",
            Selector::filter(RunFilter::new().url_exact("")),
            "filter.url_exact",
        ),
        (
            "blank url prefix",
            Selector::filter(RunFilter::new().url_prefix("  ")),
            "filter.url_prefix",
        ),
        (
            "from after to",
            Selector::filter(RunFilter::new().from(t + Duration::from_millis(1)).to(t)),
            "filter.from",
        ),
        (
            "before 1970",
            Selector::filter(RunFilter::new().to(UNIX_EPOCH - Duration::from_secs(1))),
            "filter.to",
        ),
    ]
}

fn bad_options() -> Vec<(&'static str, BulkOptions, &'static str)> {
    vec![
        ("concurrency 0", BulkOptions::new().concurrency(0), "concurrency"),
        ("page size 0", BulkOptions::new().page_size(0), "page_size"),
        ("max rounds 0", BulkOptions::new().max_rounds(0), "max_rounds"),
    ]
}

#[test]
fn validators_name_the_field() {
    for (case, r, field) in bad_run_refs() {
        assert_eq!(field_of(r.validate("memory")), field, "{case}");
    }
    for (case, s, field) in bad_selectors() {
        assert_eq!(field_of(s.validate("memory")), field, "{case}");
    }
    for (case, o, field) in bad_options() {
        assert_eq!(field_of(o.validate("memory")), field, "{case}");
    }
    assert_eq!(field_of(validate_id("memory", "custom", "")), "custom");
    // What is valid stays valid.
    assert!(
        RunRef::new("wfr_01J…ünïcode")
            .workflow("wf")
            .session("s")
            .validate("memory")
            .is_ok()
    );
    assert!(Selector::cancel_all_runs().validate("memory").is_ok());
    let t = UNIX_EPOCH + Duration::from_secs(5);
    assert!(
        RunFilter::new().from(t).to(t).validate("memory").is_ok(),
        "from == to is a valid range"
    );
}

#[test]
fn messages_are_one_actionable_line() {
    let e = Selector::filter(RunFilter::new()).validate("memory").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("memory: invalid input: filter: "), "{text}");
    assert!(
        text.contains("cancel_all_runs"),
        "says how to cancel everything: {text}"
    );
    assert!(!text.contains('\n'));
    let e = RunRef::new("a\u{7}").validate("memory").unwrap_err();
    assert!(e.to_string().contains("U+0007"), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn the_in_memory_canceller_refuses_before_any_request() {
    let m = InMemoryCanceller::new();
    m.insert(MemoryRun::new("ok"));
    m.insert(MemoryRun::new("r").workflow("wf"));
    // A pending fault would be consumed by any request: it must survive every invalid call.
    m.fail_next(1, CancelError::provider("memory", Some(500), "x"));
    for (case, r, field) in bad_run_refs() {
        assert_eq!(field_of(m.cancel(&r).await), field, "cancel: {case}");
        assert_eq!(field_of(m.status(&r).await), field, "status: {case}");
    }
    for (case, s, field) in bad_selectors() {
        assert_eq!(field_of(m.cancel_many(&s, &BulkOptions::new()).await), field, "{case}");
    }
    for (case, o, field) in bad_options() {
        for s in [
            Selector::ids(["ok"]),
            Selector::filter(RunFilter::new().label("l")),
            Selector::cancel_all_runs(),
        ] {
            assert_eq!(field_of(m.cancel_many(&s, &o).await), field, "{case}");
        }
    }
    assert_eq!(m.pending_faults(), 1, "no request was made");
    assert_eq!(m.state_of("ok"), Some(RunState::Running));
    assert_eq!(m.state_of("r"), Some(RunState::Running));
}
