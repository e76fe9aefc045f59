//! A canceller over several backends, sending each run to the backend its address names.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    BulkFailure, BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities, FilterCapabilities,
    RunRef, RunState, Selector, WorkflowCanceller,
};

/// The name a [`Router`] reports as its backend.
pub const ROUTER: &str = "router";

/// Holds several backends and sends each run to the one its address names
/// ([`RunRef::backend_name`]): the canceller of an app that moves from one orchestrator to
/// another and has runs in both. Runs stored as address strings (`upstash:wfr_1`,
/// `agno:workflow/nightly/run-9?session=s-1`) are parsed back with `str::parse::<RunRef>()` and
/// cancelled through one `Arc<dyn WorkflowCanceller>`.
///
/// A run whose address names no backend, or one the router does not hold, is
/// [`CancelError::InvalidInput`] before any request; a bulk by ids checks every run first, then
/// sends each backend its own runs (concurrently) and adds the reports up. Filters and "all"
/// name no backend: they go through when the router holds exactly one backend, and are
/// `Unsupported` otherwise (use that backend's canceller).
///
/// ```
/// # #[cfg(feature = "memory")]
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use wfcancel_core::{CancelOutcome, InMemoryCanceller, MemoryRun, RunRef, Router, WorkflowCanceller};
///
/// let old = InMemoryCanceller::new(); // stands for the orchestrator before the migration
/// old.insert(MemoryRun::new("run-1"));
/// let router: Arc<dyn WorkflowCanceller> = Arc::new(Router::new().with(Arc::new(old)));
/// let stored = "memory:run-1"; // kept beside the app's own record
/// let run: RunRef = stored.parse().unwrap();
/// assert_eq!(router.cancel(&run).await.unwrap(), CancelOutcome::Cancelled);
/// assert!(router.cancel(&"upstash:wfr_9".parse().unwrap()).await.is_err(), "not held here");
/// # }
/// # #[cfg(not(feature = "memory"))] fn main() {}
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: BTreeMap<&'static str, Arc<dyn WorkflowCanceller>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.routes.iter()).finish()
    }
}

impl Router {
    /// A router holding no backend yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also holds `canceller`, for the runs whose address names its
    /// [`backend`](WorkflowCanceller::backend) (replacing one held for that name).
    pub fn with(mut self, canceller: Arc<dyn WorkflowCanceller>) -> Self {
        self.routes.insert(canceller.backend(), canceller);
        self
    }

    /// The names of the backends it holds, in order.
    pub fn backends(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.routes.keys().copied()
    }

    /// The canceller that `run`'s address names.
    pub fn route(&self, run: &RunRef) -> Result<&Arc<dyn WorkflowCanceller>, CancelError> {
        let held = || self.backends().collect::<Vec<_>>().join(", ");
        let Some(name) = run.backend_name() else {
            return Err(CancelError::invalid_input(
                ROUTER,
                "backend",
                format!(
                    "run {:?} names no backend: give its address (backend:…, e.g. {}:{}); held here: {}",
                    run.run_id(),
                    self.backends().next().unwrap_or("upstash"),
                    run,
                    held()
                ),
            ));
        };
        self.routes.get(name).ok_or_else(|| {
            CancelError::invalid_input(
                ROUTER,
                "backend",
                format!(
                    "run {run} names backend {name:?}, which this router does not hold (held: {})",
                    held()
                ),
            )
        })
    }

    /// The only backend held, for selectors that name none.
    fn only(&self, what: &str) -> Result<&Arc<dyn WorkflowCanceller>, CancelError> {
        let mut all = self.routes.values();
        match (all.next(), all.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(CancelError::unsupported(
                ROUTER,
                format!("{what}: it names no backend and this router holds several; use that backend's canceller"),
            )),
        }
    }
}

#[async_trait]
impl WorkflowCanceller for Router {
    fn backend(&self) -> &'static str {
        ROUTER
    }

    /// What every held backend can do (a filter, a native query or "all" only with exactly one
    /// backend held).
    fn capabilities(&self) -> Capabilities {
        let all: Vec<Capabilities> = self.routes.values().map(|c| c.capabilities()).collect();
        let mut caps = Capabilities {
            cancel: all.iter().all(|c| c.cancel),
            bulk_ids: all.iter().all(|c| c.bulk_ids),
            status: !all.is_empty() && all.iter().all(|c| c.status),
            cancel_confirms: all.iter().all(|c| c.cancel_confirms),
            needs_owner: all.iter().any(|c| c.needs_owner),
            status_needs_session: all.iter().any(|c| c.status_needs_session),
            ..Capabilities::default()
        };
        if let [one] = all.as_slice() {
            caps.filter = one.filter.clone();
            caps.cancel_all = one.cancel_all;
            caps.background_actions = one.background_actions;
            caps.native_query = one.native_query;
        } else {
            caps.filter = FilterCapabilities::default();
        }
        // A mode or a reason only where every backend has it (a run's backend is known only
        // per run; the router's check comes first).
        caps.graceful = all.iter().all(|c| c.graceful);
        caps.forced = !all.is_empty() && all.iter().all(|c| c.forced);
        caps.reason = !all.is_empty() && all.iter().all(|c| c.reason);
        caps
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        self.route(run)?.cancel_with(run, opts).await
    }

    /// Checks that every run names a backend held here, then sends each backend its runs (in
    /// their order), the backends concurrently, and adds the reports up.
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        let runs = match selector {
            Selector::Ids(runs) => runs,
            Selector::Filter(_) => return self.only("a filter")?.cancel_many(selector, opts).await,
            Selector::All(_) => return self.only("cancelling all runs")?.cancel_many(selector, opts).await,
            Selector::Query(_) => return self.only("a native query")?.cancel_many(selector, opts).await,
        };
        Selector::validate_ids(ROUTER, runs)?;
        let mut groups: BTreeMap<&'static str, Vec<RunRef>> = BTreeMap::new();
        for (i, run) in runs.iter().enumerate() {
            let c = self.route(run).map_err(|e| e.with_context(format!("run #{i}")))?;
            groups.entry(c.backend()).or_default().push(run.clone());
        }
        let reports = futures::future::join_all(groups.into_iter().map(|(name, runs)| async move {
            let c = &self.routes[name];
            let report = c.cancel_many(&Selector::Ids(runs.clone()), opts).await;
            (name, runs, report)
        }))
        .await;
        // A backend that refuses its runs (before sending anything: its answer is `Err`) fails
        // them in the report when other backends did their part; when every backend refused,
        // the bulk is refused as a whole.
        if reports.iter().all(|(_, _, r)| r.is_err()) {
            if let Some((name, _, Err(e))) = reports.into_iter().next() {
                return Err(e.with_context(format!("the runs of {name}")));
            }
            return Ok(BulkReport::new(ROUTER));
        }
        let mut total = BulkReport::new(ROUTER);
        for (name, runs, report) in reports {
            match report {
                Ok(r) => total.merge(r),
                Err(e) => total.record_failure(BulkFailure::new(runs, e.with_context(format!("the runs of {name}")))),
            }
        }
        Ok(total)
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        self.route(run)?.status(run).await
    }
}
