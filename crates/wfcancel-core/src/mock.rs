//! [`MockWorkflowCanceller`]: a `mockall` mock of [`WorkflowCanceller`].

use crate::{
    BulkActionState, BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities, ListOptions,
    RunFilter, RunPage, RunRef, RunState, Selector,
};
use crate::{WorkflowCanceller, async_trait};

mockall::mock! {
    /// A [`mockall`] mock of [`WorkflowCanceller`], for tests that want to script exact answers
    /// and assert exact calls. For tests that want a canceller that behaves like an orchestrator,
    /// prefer `InMemoryCanceller` (feature `memory`).
    ///
    /// It mocks the backend's side of the trait: `backend()`, `capabilities()` and the hooks
    /// (`cancel_run`, `cancel_runs`, `read_status`, `read_bulk_action`, `read_runs`, `read_count`); the
    /// calling methods (`cancel`, `cancel_with`, `cancel_many`, `status`, `list_runs`, `count_runs`) check against the mocked capabilities
    /// and then call the hooks, as with any backend. Every mocked method the code under test
    /// reaches needs an expectation. It implements `Debug` (as the trait requires; `mockall` generates one
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
    /// mock.expect_backend().return_const("mock");
    /// mock.expect_capabilities().returning(Default::default);
    /// mock.expect_cancel_run()
    ///     .withf(|run, _opts| run.run_id() == "wfr_1")
    ///     .times(1)
    ///     .returning(|_, _| Ok(CancelOutcome::Cancelled));
    /// assert!(stop(&mock, "wfr_1").await);
    /// # }
    /// ```
    #[derive(Debug)]
    pub WorkflowCanceller {}

    #[async_trait]
    impl WorkflowCanceller for WorkflowCanceller {
        fn backend(&self) -> &'static str;
        fn capabilities(&self) -> Capabilities;
        async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError>;
        async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError>;
        async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError>;
        async fn read_bulk_action(&self, id: &str) -> Result<BulkActionState, CancelError>;
        async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError>;
        async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError>;
    }
}
