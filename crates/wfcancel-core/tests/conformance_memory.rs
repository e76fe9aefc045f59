//! The conformance suite against the in-memory canceller, in both modes, plus proof that the
//! suite catches broken backends.
#![cfg(all(feature = "memory", feature = "conformance"))]

use std::time::Duration;

use wfcancel_core::conformance::{self, Harness, SeedRun, run_all};
use wfcancel_core::{
    BulkOptions, BulkReport, CancelError, CancelOutcome, Capabilities, InMemoryCanceller, RunRef, RunState, Selector,
    WorkflowCanceller, async_trait,
};

const ALL_CHECKS: usize = 24;

#[tokio::test]
async fn confirming_mode_passes_every_check() {
    let memory = InMemoryCanceller::new();
    let summary = run_all(&memory, &memory).await;
    assert_eq!(summary.backend, "memory");
    assert!(summary.skipped.is_empty(), "{summary}");
    assert_eq!(summary.ran.len(), ALL_CHECKS, "{summary}");
    assert_eq!(summary.ran.last(), Some(&"cancel_all"), "cancel_all runs last");
}

#[tokio::test]
async fn cooperative_mode_passes_every_check() {
    let memory = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(50));
    let summary = run_all(&memory, &memory).await;
    assert!(summary.skipped.is_empty(), "{summary}");
    assert_eq!(summary.ran.len(), ALL_CHECKS, "{summary}");
}

#[tokio::test]
async fn passes_with_latency_and_in_a_multi_threaded_runtime() {
    let memory = InMemoryCanceller::new().with_latency(Duration::from_millis(1));
    let c = memory.clone();
    let summary = tokio::spawn(async move { run_all(&c, &c).await }).await.unwrap();
    assert_eq!(summary.ran.len(), ALL_CHECKS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_can_share_one_server_concurrently() {
    let m = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(20));
    let (c, h): (&dyn WorkflowCanceller, &dyn Harness) = (&m, &m);
    tokio::join!(
        conformance::check_idempotent_cancel(c, h),
        conformance::check_not_active(c, h),
        conformance::check_bulk_ids_accounting(c, h),
        conformance::check_filter_url_exact(c, h),
        conformance::check_filter_url_prefix(c, h),
        conformance::check_filter_labels(c, h),
        conformance::check_filter_created_range(c, h),
        conformance::check_filter_caller_ips(c, h),
        conformance::check_filter_flow_control_keys(c, h),
        conformance::check_filter_hosts(c, h),
        conformance::check_filter_paths(c, h),
        conformance::check_filter_combination(c, h),
        conformance::check_filter_drain(c, h),
        conformance::check_filter_no_drain(c, h),
        conformance::check_status(c, h),
        conformance::check_validation(c, h),
        conformance::check_filter_drain(c, h),
        conformance::check_filter_no_drain(c, h),
    );
}

/// A confirming backend that runs filtered cancels as background actions, like Upstash with
/// `background_bulk_actions`: `cancel_many(filter)` answers at once with an action id and no
/// counts, and the runs stop a little later (all matches, whatever the page size).
#[derive(Debug)]
struct Background(InMemoryCanceller);

#[async_trait]
impl WorkflowCanceller for Background {
    fn backend(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        let mut caps = self.0.capabilities();
        caps.background_actions = true;
        caps
    }
    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        self.0.cancel(run).await
    }
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        if !matches!(selector, Selector::Filter(_)) {
            return self.0.cancel_many(selector, opts).await;
        }
        selector.validate(self.backend())?;
        opts.validate(self.backend())?;
        let (memory, selector) = (self.0.clone(), selector.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = memory.cancel_many(&selector, &BulkOptions::new().drain(true)).await;
        });
        let mut report = BulkReport::new("memory");
        report.requests_sent = 1;
        report.rounds = 1;
        report.action_id = Some("act_1".to_owned());
        Ok(report)
    }
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        self.0.status(run).await
    }
    async fn read_runs(
        &self,
        filter: &wfcancel_core::RunFilter,
        opts: &wfcancel_core::ListOptions,
    ) -> Result<wfcancel_core::RunPage, CancelError> {
        self.0.list_runs(filter, opts).await
    }
    async fn read_count(&self, filter: &wfcancel_core::RunFilter) -> Result<u64, CancelError> {
        self.0.count_runs(filter).await
    }
}

/// After a background action the checks wait for the runs to stop, and do not hold the action
/// to counts or to the page size, even against a confirming backend.
#[tokio::test]
async fn a_confirming_backend_with_background_actions_passes_every_check() {
    let memory = InMemoryCanceller::new();
    let summary = run_all(&Background(memory.clone()), &memory).await;
    assert!(summary.skipped.is_empty(), "{summary}");
    assert_eq!(summary.ran.len(), ALL_CHECKS, "{summary}");
}

#[tokio::test]
async fn seed_run_builder_has_sensible_defaults() {
    let s = SeedRun::new("x");
    assert_eq!(s.state, RunState::Running);
    assert!(s.url.starts_with("https://"));
    assert!(s.labels.is_empty() && s.caller_ip.is_none() && s.flow_control_key.is_none());
    let m = InMemoryCanceller::new();
    let r = m
        .seed(
            SeedRun::new("y")
                .label("l")
                .caller_ip("::1")
                .flow_control_key("k")
                .state(RunState::Paused),
        )
        .await;
    assert_eq!(r, RunRef::new("y"));
    assert_eq!(m.true_state(&r).await, Some(RunState::Paused));
    let run = m.get("y").unwrap();
    assert_eq!(
        (run.labels, run.caller_ip.as_deref(), run.flow_control_key.as_deref()),
        (vec!["l".to_owned()], Some("::1"), Some("k"))
    );
}

#[tokio::test]
async fn summary_lists_skipped_checks_for_a_minimal_backend() {
    #[derive(Debug)]
    struct CancelOnly(InMemoryCanceller);
    #[async_trait]
    impl WorkflowCanceller for CancelOnly {
        fn backend(&self) -> &'static str {
            "cancel-only"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn cancel_run(
            &self,
            run: &RunRef,
            _opts: &wfcancel_core::CancelOptions,
        ) -> Result<CancelOutcome, CancelError> {
            run.validate(self.backend())?;
            self.0.cancel(run).await
        }
    }
    let m = InMemoryCanceller::new();
    let summary = run_all(&CancelOnly(m.clone()), &m).await;
    assert_eq!(
        summary.ran,
        [
            "backend_name",
            "validation",
            "idempotent_cancel",
            "not_active",
            "bulk_ids_accounting",
            "modes",
            "capability_check",
            "addresses",
            "duplicates",
            "bulk_stop_and_deadline"
        ]
    );
    assert_eq!(summary.skipped.len(), ALL_CHECKS - 10);
    assert!(
        summary
            .to_string()
            .contains("skipped: filter_url_exact (needs filter.url_exact)"),
        "{summary}"
    );
}

/// An in-memory canceller with one deliberate defect, to prove the suite notices.
#[derive(Debug)]
struct Broken {
    inner: InMemoryCanceller,
    defect: Defect,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Defect {
    SecondCancelSaysCancelled,
    WrongFieldName,
    IgnoresLabels,
    MiscountsBulk,
    StatusOfUnknownIsOk,
    ForeignBackendName,
}

#[async_trait]
impl WorkflowCanceller for Broken {
    fn backend(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        match self.inner.cancel(run).await {
            Ok(CancelOutcome::NotActive(_)) if self.defect == Defect::SecondCancelSaysCancelled => {
                Ok(CancelOutcome::Cancelled)
            }
            Err(CancelError::InvalidInput { message, .. }) if self.defect == Defect::WrongFieldName => {
                Err(CancelError::invalid_input("memory", "id", message))
            }
            Err(CancelError::InvalidInput { field, message, .. }) if self.defect == Defect::ForeignBackendName => {
                Err(CancelError::invalid_input("upstash", field, message))
            }
            other => other,
        }
    }
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        let selector = match selector {
            Selector::Filter(f) if self.defect == Defect::IgnoresLabels && f.labels.is_some() => {
                let mut f = f.clone();
                f.labels = None;
                if f.is_empty() {
                    Selector::cancel_all_runs()
                } else {
                    Selector::Filter(f)
                }
            }
            s => s.clone(),
        };
        let mut report = self.inner.cancel_many(&selector, opts).await?;
        if self.defect == Defect::MiscountsBulk && matches!(selector, Selector::Ids(_)) {
            report.not_active += 1;
        }
        Ok(report)
    }
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        match self.inner.status(run).await {
            Err(CancelError::NotFound { .. }) if self.defect == Defect::StatusOfUnknownIsOk => {
                Ok(RunState::unknown("gone", false))
            }
            other => other,
        }
    }
}

async fn run_broken(defect: Defect) {
    let inner = InMemoryCanceller::new();
    run_all(
        &Broken {
            inner: inner.clone(),
            defect,
        },
        &inner,
    )
    .await;
}

#[tokio::test]
#[should_panic(expected = "idempotent_cancel")]
async fn catches_a_second_cancel_that_says_cancelled() {
    run_broken(Defect::SecondCancelSaysCancelled).await;
}

#[tokio::test]
#[should_panic(expected = "expected \"run_id\"")]
async fn catches_a_wrong_field_name() {
    run_broken(Defect::WrongFieldName).await;
}

#[tokio::test]
#[should_panic(expected = "names backend \"upstash\"")]
async fn catches_a_foreign_backend_name() {
    run_broken(Defect::ForeignBackendName).await;
}

#[tokio::test]
#[should_panic(expected = "filter_labels")]
async fn catches_a_filter_that_ignores_a_field() {
    let inner = InMemoryCanceller::new();
    let c = Broken {
        inner: inner.clone(),
        defect: Defect::IgnoresLabels,
    };
    conformance::check_filter_labels(&c, &inner).await;
}

#[tokio::test]
#[should_panic(expected = "bulk_ids_accounting")]
async fn catches_a_miscounted_bulk() {
    run_broken(Defect::MiscountsBulk).await;
}

#[tokio::test]
#[should_panic(expected = "expected a NotFound error")]
async fn catches_status_of_unknown_run_that_is_not_an_error() {
    let inner = InMemoryCanceller::new();
    let c = Broken {
        inner: inner.clone(),
        defect: Defect::StatusOfUnknownIsOk,
    };
    conformance::check_status(&c, &inner).await;
}
