//! serde (feature `serde`): what an app stores or prints round-trips; reports serialize whole.
#![cfg(feature = "serde")]

use serde_json::json;
use wfcancel_core::Inactive;
use wfcancel_core::{BulkFailure, BulkReport, CancelError, CancelOutcome, RunRef, RunState};

#[test]
fn addresses_outcomes_and_states_round_trip() {
    let run = RunRef::new("run 9").workflow("nightly").session("s-1").backend("agno");
    let v = serde_json::to_value(&run).unwrap();
    assert_eq!(v, json!("agno:workflow/nightly/run%209?session=s-1"));
    assert_eq!(serde_json::from_value::<RunRef>(v).unwrap(), run);
    assert!(serde_json::from_value::<RunRef>(json!("agno:workflow//r")).is_err());

    for o in [CancelOutcome::Cancelled, CancelOutcome::Requested] {
        let v = serde_json::to_value(o).unwrap();
        assert_eq!(v, json!(o.as_str()));
        assert_eq!(serde_json::from_value::<CancelOutcome>(v).unwrap(), o);
    }
    for why in Inactive::ALL {
        let o = CancelOutcome::NotActive(why);
        let v = serde_json::to_value(o).unwrap();
        assert_eq!(v, json!({ "not_active": why.as_str() }));
        assert_eq!(serde_json::from_value::<CancelOutcome>(v).unwrap(), o);
        assert_eq!(serde_json::from_value::<Inactive>(json!(why.as_str())).unwrap(), why);
    }
    assert!(serde_json::from_value::<CancelOutcome>(json!("not_active")).is_err());
    assert!(serde_json::from_value::<CancelOutcome>(json!({ "not_active": "gone" })).is_err());
    for s in [
        RunState::Pending,
        RunState::Running,
        RunState::Paused,
        RunState::Cancelling,
        RunState::Completed,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Terminated,
        RunState::TimedOut,
        RunState::unknown("ARCHIVED", true),
        RunState::unknown("running", false),
    ] {
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<RunState>(v.clone()).unwrap(), s, "{v}");
    }
    assert_eq!(serde_json::to_value(RunState::TimedOut).unwrap(), json!("timed_out"));
    assert_eq!(
        serde_json::to_value(RunState::unknown("ARCHIVED", true)).unwrap(),
        json!({"unknown": "ARCHIVED", "terminal": true})
    );
}

#[test]
fn a_report_serializes_whole() {
    let mut r = BulkReport::new("upstash");
    r.record(RunRef::new("a").backend("upstash"), CancelOutcome::Cancelled, true);
    r.record_failure(BulkFailure::new(
        vec![RunRef::new("b")],
        CancelError::rate_limited(
            "upstash",
            wfcancel_core::RateLimitKind::Burst,
            Some(std::time::Duration::from_secs(2)),
            "slow down",
        ),
    ));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["cancelled"], 1);
    assert_eq!(v["failed_runs"], 1);
    assert_eq!(v["outcomes"][0], json!({"run": "upstash:a", "outcome": "cancelled"}));
    assert_eq!(v["failed"][0]["runs"], json!(["b"]));
    assert_eq!(v["failed"][0]["error"]["kind"], "rate_limited");
    assert_eq!(v["failed"][0]["error"]["status"], 429);
    assert_eq!(v["failed"][0]["error"]["retry_after_secs"], 2.0);
    assert_eq!(v["interrupted"], serde_json::Value::Null);
}
