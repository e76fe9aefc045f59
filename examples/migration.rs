//! An app moving from Upstash Workflow to Agno AgentOS, with runs in both.
//!
//! When the app starts a run it stores the run's address — one string naming the backend, e.g.
//! `upstash:wfr_1` or `agno:workflow/nightly/run-9?session=s-1` — beside its own record. Later,
//! to stop runs, it parses the strings back and cancels them through one
//! `Arc<dyn WorkflowCanceller>`: a [`Router`] holding both backends, which sends each run to the
//! backend its address names. The code that cancels does not know (or care) which orchestrator
//! ran what.
//!
//! Runs here against the local emulators of both providers (no account, no config):
//!
//! ```sh
//! cargo run --example migration --features upstash,agno
//! ```

use std::sync::Arc;

use wfcancel::{
    AgnoCanceller, BulkOptions, BulkReport, CancelError, Router, RunRef, Selector, UpstashCanceller, WorkflowCanceller,
};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, UpstashConfig, UpstashEmulator, UpstashRun};

/// The app's code: cancels the runs whose addresses it stored, whatever runs them.
async fn stop(c: &dyn WorkflowCanceller, stored: &[String]) -> Result<BulkReport, CancelError> {
    let runs = stored
        .iter()
        .map(|address| {
            address
                .parse::<RunRef>()
                .map_err(|e| CancelError::invalid_input("app", "address", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    c.cancel_many(&Selector::Ids(runs), &BulkOptions::new()).await
}

/// What the example did, for its test.
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Outcome {
    report: BulkReport,
    upstash_active: usize,
    agno_stopping: usize,
}

async fn run() -> Result<Outcome, Box<dyn std::error::Error>> {
    // Before the migration: runs on Upstash.
    let upstash = UpstashEmulator::start(UpstashConfig::default()).await?;
    let mut stored = Vec::new();
    for i in 0..3 {
        let id = format!("wfr_before_{i}");
        upstash.seed(UpstashRun::new(&id, "https://app.example.com/api/wf"));
        // What the app keeps beside its record when it starts the run.
        stored.push(RunRef::new(&id).backend("upstash").to_string());
    }
    // After it: runs on Agno, owned by a workflow, in a session.
    let agno = AgnoEmulator::start(AgnoConfig::default()).await?;
    for i in 0..2 {
        let id = format!("run-after-{i}");
        agno.seed(AgnoRun::workflow("nightly", &id).session("s-1"));
        stored.push(
            RunRef::new(&id)
                .workflow("nightly")
                .session("s-1")
                .backend("agno")
                .to_string(),
        );
    }
    println!("stored addresses:");
    for address in &stored {
        println!("  {address}");
    }

    // One canceller for both: in production, each backend from its own environment
    // (`UpstashCanceller::from_env()`, `AgnoCanceller::from_env()`).
    let canceller: Arc<dyn WorkflowCanceller> = Arc::new(
        Router::new()
            .with(Arc::new(
                UpstashCanceller::builder()
                    .base_url(upstash.url())
                    .token(upstash.token())
                    .build()?,
            ))
            .with(Arc::new(AgnoCanceller::builder().base_url(agno.url()).build()?)),
    );
    let report = stop(canceller.as_ref(), &stored).await?;
    println!(
        "cancelled {}, requested {}, not active {}, failed {}",
        report.cancelled,
        report.requested,
        report.not_active,
        report.failed_runs()
    );
    let outcome = Outcome {
        report,
        upstash_active: upstash.active_count(),
        agno_stopping: (0..2)
            .filter(|i| agno.cancel_requested(&format!("run-after-{i}")))
            .count(),
    };
    upstash.shutdown().await;
    agno.shutdown().await;
    Ok(outcome)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_both_orchestrators_stop_through_one_canceller() {
        let o = super::run().await.unwrap();
        assert_eq!(o.report.cancelled, 3, "the Upstash runs: {:?}", o.report);
        assert_eq!(o.report.requested, 2, "the Agno runs (cooperative): {:?}", o.report);
        assert!(o.report.is_success());
        assert_eq!(o.upstash_active, 0);
        assert_eq!(o.agno_stopping, 2);
    }
}
