//! Implement your own backend: the provider here is a small job table standing in for any
//! orchestrator's API. The backend implements `backend`, `capabilities` and the hooks; core
//! checks every call against the capabilities before a hook runs; the conformance suite (its
//! test below) shows it behaves like every other backend.
//!
//! ```sh
//! cargo run --example custom_backend --features conformance
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wfcancel::conformance::{Harness, SeedRun, run_all};
use wfcancel::{
    CancelError, CancelOptions, CancelOutcome, Capabilities, Inactive, NotFoundKind, RunRef, RunState,
    WorkflowCanceller, async_trait,
};

/// The "provider": jobs by id, each in a state. A real backend would send HTTP requests here
/// (see `wfcancel::backend::http`).
#[derive(Debug, Default, Clone)]
struct JobTable(Arc<Mutex<HashMap<String, RunState>>>);

/// The backend.
#[derive(Debug, Clone)]
struct JobsCanceller {
    table: JobTable,
}

#[async_trait]
impl WorkflowCanceller for JobsCanceller {
    fn backend(&self) -> &'static str {
        "jobs"
    }

    /// Graceful and forced cancels, status reads; bulks by id fanned out over `cancel_run`.
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.status = true;
        c.forced = true;
        c.inactive_reasons = true; // the table tells "over" from "never seen"
        c
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        run.validate(self.backend())?; // refuse bad input before any request
        let mut jobs = self
            .table
            .0
            .lock()
            .map_err(|_| CancelError::config("jobs", "poisoned"))?;
        Ok(match jobs.get_mut(run.run_id()) {
            Some(state) if state.is_active() => {
                *state = match opts.mode {
                    wfcancel::CancelMode::Forced => RunState::Terminated,
                    _ => RunState::Cancelled,
                };
                CancelOutcome::Cancelled
            }
            // Over, or never seen: nothing to cancel, on the table's word.
            Some(_) => CancelOutcome::NotActive(Inactive::Finished),
            None => CancelOutcome::NotActive(Inactive::NoSuchRun),
        })
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        run.validate(self.backend())?;
        let jobs = self
            .table
            .0
            .lock()
            .map_err(|_| CancelError::config("jobs", "poisoned"))?;
        jobs.get(run.run_id()).cloned().ok_or_else(|| {
            CancelError::not_found("jobs", NotFoundKind::Run, Some(run.run_id().to_owned()), "no such job")
        })
    }
}

/// What the conformance suite needs: seed runs on the provider, read their true state.
#[async_trait]
impl Harness for JobTable {
    async fn seed(&self, run: SeedRun) -> RunRef {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.insert(run.id.clone(), run.state.clone());
        }
        RunRef::new(run.id)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        self.0.lock().ok()?.get(run.run_id()).cloned()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let table = JobTable::default();
    let c = JobsCanceller { table: table.clone() };
    let summary = run_all(&c, &table).await;
    println!("{summary}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_custom_backend_passes_the_conformance_suite() {
        let table = JobTable::default();
        let c = JobsCanceller { table: table.clone() };
        let summary = run_all(&c, &table).await;
        for check in [
            "modes",
            "capability_check",
            "addresses",
            "duplicates",
            "bulk_stop_and_deadline",
            "status",
        ] {
            assert!(summary.ran.contains(&check), "{check} ran: {summary}");
        }
    }
}
