//! [`MockWorkflowCanceller`]: a `mockall` mock of [`WorkflowCanceller`].

use crate::{BulkOptions, BulkReport, CancelError, CancelOutcome, Capabilities, RunRef, RunState, Selector};
use crate::{WorkflowCanceller, async_trait};

mockall::mock! {
    /// A [`mockall`] mock of [`WorkflowCanceller`], for tests that want to script exact answers
    /// and assert exact calls. For tests that want a canceller that behaves like an orchestrator,
    /// prefer `InMemoryCanceller` (feature `memory`).
    ///
    /// Every method, `backend()` and `capabilities()` included, needs an expectation if the code
    /// under test calls it. It implements `Debug` (as the trait requires; `mockall` generates one
    /// that prints only the name when asked to derive it).
    ///
    /// ```
    /// use wfcancel_core::{CancelOutcome, MockWorkflowCanceller, RunRef, WorkflowCanceller};
    ///
    /// async fn stop(c: &dyn WorkflowCanceller, id: &str) -> bool {
    ///     matches!(c.cancel(&RunRef::new(id)).await, Ok(CancelOutcome::Cancelled | CancelOutcome::Requested))
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut mock = MockWorkflowCanceller::new();
    /// mock.expect_cancel()
    ///     .withf(|run| run.run_id() == "wfr_1")
    ///     .times(1)
    ///     .returning(|_| Ok(CancelOutcome::Cancelled));
    /// assert!(stop(&mock, "wfr_1").await);
    /// # }
    /// ```
    #[derive(Debug)]
    pub WorkflowCanceller {}

    #[async_trait]
    impl WorkflowCanceller for WorkflowCanceller {
        fn backend(&self) -> &'static str;
        fn capabilities(&self) -> Capabilities;
        async fn cancel(&self, run: &RunRef) -> Result<CancelOutcome, CancelError>;
        async fn cancel_many(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError>;
        async fn status(&self, run: &RunRef) -> Result<RunState, CancelError>;
    }
}
