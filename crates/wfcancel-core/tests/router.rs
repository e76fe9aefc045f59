//! The router: each run to the backend its address names; refusals before any request.

use std::sync::{Arc, Mutex};

use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, Capabilities, FilterCapabilities, Router, RunFilter, RunRef, Selector,
    WorkflowCanceller, async_trait,
};

/// A backend named `name` that cancels everything and records what it was sent.
#[derive(Debug)]
struct Named {
    name: &'static str,
    sent: Mutex<Vec<String>>,
}

impl Named {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Named {
            name,
            sent: Mutex::new(Vec::new()),
        })
    }
    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl WorkflowCanceller for Named {
    fn backend(&self) -> &'static str {
        self.name
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.filter = FilterCapabilities::upstash_fields();
        c
    }
    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, CancelError> {
        if run.run_id() == "refused" {
            return Err(CancelError::invalid_input(self.name, "run_id", "refused"));
        }
        self.sent.lock().unwrap().push(run.to_string());
        Ok(CancelOutcome::Cancelled)
    }
    async fn cancel_runs(
        &self,
        selector: &Selector,
        opts: &BulkOptions,
    ) -> Result<wfcancel_core::BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) if runs.iter().any(|r| r.run_id() == "refused") => {
                Err(CancelError::invalid_input(self.name, "run_id", "refused"))
            }
            Selector::Ids(runs) => wfcancel_core::fan_out(self, runs, opts).await,
            _ => {
                self.sent.lock().unwrap().push("filter".to_owned());
                Ok(wfcancel_core::BulkReport::new(self.name))
            }
        }
    }
}

fn addr(s: &str) -> RunRef {
    s.parse().unwrap()
}

#[tokio::test]
async fn each_run_goes_to_the_backend_its_address_names() {
    let (old, new) = (Named::new("old"), Named::new("new"));
    let router: Arc<dyn WorkflowCanceller> = Arc::new(Router::new().with(old.clone()).with(new.clone()));
    assert_eq!(router.cancel(&addr("old:r1")).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(
        router.cancel(&addr("new:workflow/w/r2?session=s")).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(old.sent(), ["old:r1"]);
    assert_eq!(new.sent(), ["new:workflow/w/r2?session=s"]);

    let runs: Vec<RunRef> = ["old:a", "new:b", "old:c", "new:d", "old:a"]
        .into_iter()
        .map(addr)
        .collect();
    let report = router
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(
        (report.cancelled, report.duplicates_dropped, report.accounted()),
        (4, 1, 4)
    );
    assert_eq!(report.backend, "router");
    assert_eq!(old.sent(), ["old:r1", "old:a", "old:c"]);
    assert_eq!(new.sent()[1..], ["new:b", "new:d"]);
}

#[tokio::test]
async fn an_address_the_router_does_not_hold_is_refused_before_any_request() {
    let old = Named::new("old");
    let router = Router::new().with(old.clone());
    for bad in [RunRef::new("no-backend"), addr("upstash:wfr_1")] {
        let err = router.cancel(&bad).await.unwrap_err();
        assert!(
            matches!(err, CancelError::InvalidInput { field: "backend", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("old"), "names what it holds: {err}");
    }
    let runs = vec![addr("old:a"), addr("upstash:wfr_1")];
    let err = router
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("run #1"), "{err}");
    assert!(old.sent().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_backend_that_refuses_its_runs_fails_them_in_the_report() {
    let (old, new) = (Named::new("old"), Named::new("new"));
    let router = Router::new().with(old.clone()).with(new.clone());
    let runs = vec![addr("old:a"), addr("new:refused"), addr("new:b")];
    let report = router
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.failed_runs(), report.accounted()), (1, 2, 3));
    // Every backend refusing: the bulk is refused.
    let err = router
        .cancel_many(&Selector::Ids(vec![addr("new:refused")]), &BulkOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, CancelError::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn filters_need_a_single_backend() {
    let (old, new) = (Named::new("old"), Named::new("new"));
    let two = Router::new().with(old.clone()).with(new.clone());
    let filter = Selector::filter(RunFilter::new().label("x"));
    let err = two.cancel_many(&filter, &BulkOptions::new()).await.unwrap_err();
    assert!(matches!(err, CancelError::Unsupported { .. }), "{err}");
    assert!(!two.capabilities().filter.any());
    let one = Router::new().with(old.clone());
    one.cancel_many(&filter, &BulkOptions::new()).await.unwrap();
    assert_eq!(old.sent(), ["filter"]);
    assert!(one.capabilities().filter.any());
}
