//! The `mockall` mock of the trait, used as a user's test would.
#![cfg(feature = "mock")]

use std::sync::Arc;

use mockall::Sequence;
use mockall::predicate::eq;
use wfcancel_core::{
    BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities, MockWorkflowCanceller, RunRef,
    RunState, Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt,
};

#[tokio::test]
async fn scripted_answers_through_a_trait_object() {
    let mut mock = MockWorkflowCanceller::new();
    mock.expect_backend().return_const("mock");
    mock.expect_capabilities().return_const(Capabilities::default());
    mock.expect_cancel_run()
        .with(eq(RunRef::new("a")), eq(CancelOptions::default()))
        .times(1)
        .returning(|_, _| Ok(CancelOutcome::Cancelled));
    mock.expect_cancel_run()
        .withf(|r, _| r == &RunRef::new("b"))
        .times(1)
        .returning(|_, _| Err(CancelError::unauthenticated("mock", "expired")));
    let c: Arc<dyn WorkflowCanceller> = Arc::new(mock);
    assert_eq!(c.backend(), "mock");
    assert_eq!(c.cancel(&RunRef::new("a")).await.unwrap(), CancelOutcome::Cancelled);
    assert!(matches!(
        c.cancel(&RunRef::new("b")).await,
        Err(CancelError::Unauthenticated { .. })
    ));
    assert_eq!(format!("{c:?}"), "MockWorkflowCanceller");
}

#[tokio::test]
async fn cancel_and_wait_with_a_sequence() {
    let mut mock = MockWorkflowCanceller::new();
    let mut seq = Sequence::new();
    let mut caps = Capabilities::default();
    caps.status = true;
    mock.expect_capabilities().return_const(caps);
    mock.expect_backend().return_const("mock");
    mock.expect_cancel_run()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(CancelOutcome::Requested));
    mock.expect_read_status()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(RunState::Running));
    mock.expect_read_status()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(RunState::Cancelled));
    let opts = WaitOptions::default().initial_interval(std::time::Duration::from_millis(1));
    let done = mock.cancel_and_wait(&RunRef::new("r"), opts).await.unwrap();
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::Requested, RunState::Cancelled)
    );
}

#[tokio::test]
async fn bulk_reports_can_be_scripted() {
    let mut mock = MockWorkflowCanceller::new();
    mock.expect_backend().return_const("mock");
    mock.expect_capabilities().return_const(Capabilities::default());
    mock.expect_cancel_runs()
        .withf(|sel, opts| matches!(sel, Selector::Ids(ids) if ids.len() == 2) && opts.concurrency == 8)
        .returning(|_, _| {
            let mut r = BulkReport::new("mock");
            r.cancelled = 2;
            Ok(r)
        });
    let report = mock
        .cancel_many(&Selector::ids(["a", "b"]), &BulkOptions::new().concurrency(8))
        .await
        .unwrap();
    assert_eq!(report.cancelled, 2);
}
