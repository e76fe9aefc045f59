//! Quickstart: cancel workflow runs on Upstash Workflow and Agno AgentOS through one portable API,
//! with no account, no network (loopback only) and no configuration.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts both providers' emulators in this process, seeds some runs, and for each provider
//! builds a `Box<dyn WorkflowCanceller>` chosen at run time the way an application does: through
//! the facade's `wfcancel::build(backend, &lookup)`, with a `lookup` that answers the variables
//! the backend reads (`QSTASH_URL`/`QSTASH_TOKEN`, `AGENTOS_URL`/`OS_SECURITY_KEY`) with the
//! emulator's URL and token. Then the same code cancels one run, runs a bulk cancel, and cancels a
//! run and waits until it is over.
//!
//! The backends are Cargo features of `wfcancel` (`upstash`, `agno`). A plain
//! `cargo run --example quickstart` builds the crate with its default features, so the facade's
//! `build` knows neither backend; the example then calls the very constructor the facade would
//! (`UpstashCanceller::from_env_with` / `AgnoCanceller::from_env_with`, from the backend crates,
//! which are dev-dependencies). With `--features upstash,agno` it goes through the facade.

use std::collections::HashMap;
use std::time::Duration;

use wfcancel::{
    Backend, BulkOptions, CancelError, RunFilter, RunRef, Selector, WaitOptions, WorkflowCanceller,
    WorkflowCancellerExt,
};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, UpstashConfig, UpstashEmulator, UpstashRun};

/// The workflow that owns the Agno runs, and their session (Agno needs both).
const AGNO_WORKFLOW: &str = "nightly-report";
const AGNO_SESSION: &str = "quickstart-session";

/// `wfcancel::build` when the backend's feature is on; otherwise the same constructor the facade
/// would call, from the backend crate.
fn build(backend: Backend, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Box<dyn WorkflowCanceller>, CancelError> {
    if backend.is_compiled() {
        return wfcancel::build(backend, lookup);
    }
    match backend {
        Backend::Upstash => Ok(Box::new(wfcancel_upstash::UpstashCanceller::from_env_with(lookup)?)),
        Backend::Agno => Ok(Box::new(wfcancel_agno::AgnoCanceller::from_env_with(lookup)?)),
        _ => wfcancel::build(backend, lookup),
    }
}

/// A run as this backend needs it: Upstash knows runs by id; Agno also needs the owner and session.
fn run_ref(c: &dyn WorkflowCanceller, id: &str) -> RunRef {
    let run = RunRef::new(id);
    if c.capabilities().needs_owner {
        run.workflow(AGNO_WORKFLOW).session(AGNO_SESSION)
    } else {
        run
    }
}

fn step(what: &str, result: impl std::fmt::Display) {
    println!("  {what:<30} -> {result}");
}

/// What the application does, whatever the provider: the same code for both.
async fn demo(c: &dyn WorkflowCanceller, prefix: &str) -> Result<(), CancelError> {
    // 1. Cancel one run.
    let one = run_ref(c, &format!("{prefix}-one"));
    let outcome = c.cancel(&one).await?;
    step(&format!("cancel {}", one.run_id()), outcome);

    // 2. A bulk cancel: by filter with drain where the provider filters, else by ids.
    let caps = c.capabilities();
    if caps.filter.labels {
        let filter = RunFilter::new().label("nightly");
        let report = c
            .cancel_many(
                &Selector::filter(filter),
                &BulkOptions::new().page_size(100).drain(true),
            )
            .await?;
        step(
            "bulk label=nightly, drain",
            format!(
                "cancelled {} runs in {} requests (drained: {})",
                report.cancelled, report.requests_sent, report.drained
            ),
        );
    } else {
        println!("  (AgentOS has no filtered or bulk cancel endpoint: a bulk takes ids, sent concurrently)");
        let runs: Vec<RunRef> = (0..5).map(|i| run_ref(c, &format!("{prefix}-batch-{i}"))).collect();
        let report = c
            .cancel_many(&Selector::Ids(runs), &BulkOptions::new().concurrency(8))
            .await?;
        step(
            "bulk by ids (5 runs)",
            format!(
                "requested {}, cancelled {}, failed {}",
                report.requested,
                report.cancelled,
                report.failed_runs()
            ),
        );
    }

    // 3. Cancel and wait until the run is really over.
    let slow = run_ref(c, &format!("{prefix}-wait"));
    let done = c
        .cancel_and_wait(&slow, WaitOptions::with_timeout(Duration::from_secs(10)))
        .await?;
    step(
        &format!("cancel_and_wait {}", slow.run_id()),
        format!("{}, then {}", done.outcome, done.state),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    quickstart().await.map(|_| ())
}

/// What the emulators saw, for the test below.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    upstash_cancelled: u64,
    upstash_active: usize,
    agno_cancelled: u64,
}

async fn quickstart() -> Result<Seen, Box<dyn std::error::Error>> {
    println!("wfcancel quickstart: two local emulators, one portable API");
    println!();

    // Upstash: a run to cancel, one to wait for, 250 labelled "nightly", 20 others.
    let upstash = UpstashEmulator::start(UpstashConfig::default()).await?;
    let url = "https://app.example.com/api/workflow/reports";
    upstash.seed_many(
        ["wfr_qs-one", "wfr_qs-wait"]
            .into_iter()
            .map(|id| UpstashRun::new(id, url))
            .chain((0..250).map(|i| UpstashRun::new(format!("wfr_nightly_{i:03}"), url).label("nightly")))
            .chain((0..20).map(|i| UpstashRun::new(format!("wfr_adhoc_{i:03}"), url).label("adhoc"))),
    );

    // Agno: runs of one workflow, in one session; cancels take effect cooperatively.
    let agno = AgnoEmulator::start(
        AgnoConfig::default()
            .with_security_key("quickstart-key")
            .with_cancel_delay(Duration::from_millis(100)),
    )
    .await?;
    let agno_ids = ["run-qs-one", "run-qs-wait"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..5).map(|i| format!("run-qs-batch-{i}")));
    agno.seed_many(agno_ids.map(|id| AgnoRun::workflow(AGNO_WORKFLOW, id).session(AGNO_SESSION)));

    let backends = [
        (
            Backend::Upstash,
            "wfr_qs",
            HashMap::from([
                ("QSTASH_URL", upstash.url()),
                ("QSTASH_TOKEN", upstash.token().to_owned()),
            ]),
        ),
        (
            Backend::Agno,
            "run-qs",
            HashMap::from([
                ("AGENTOS_URL", agno.url()),
                ("OS_SECURITY_KEY", "quickstart-key".to_owned()),
            ]),
        ),
    ];
    for (backend, prefix, vars) in backends {
        // What an application does with its own configuration: pick the backend at run time.
        let at = vars
            .get("QSTASH_URL")
            .or(vars.get("AGENTOS_URL"))
            .cloned()
            .unwrap_or_default();
        let lookup = move |name: &str| vars.get(name).cloned();
        let canceller = build(backend, &lookup)?;
        let confirms = if canceller.capabilities().cancel_confirms {
            "a cancel confirms"
        } else {
            "a cancel is a request"
        };
        println!("{} emulator at {at} ({confirms})", canceller.backend());
        demo(canceller.as_ref(), prefix).await?;
        println!();
    }

    println!(
        "upstash emulator: {} requests, {} runs cancelled, {} still active",
        upstash.requests(),
        upstash.cancelled(),
        upstash.active_count()
    );
    println!(
        "agno emulator:    {} requests, {} runs stopping or stopped",
        agno.requests(),
        agno.cancelled()
    );
    println!("\nNext: `cargo run -p wfcancel-cli -- emulate upstash` serves an emulator for the `wfcancel` command.");
    let seen = Seen {
        upstash_cancelled: upstash.cancelled(),
        upstash_active: upstash.active_count(),
        agno_cancelled: agno.cancelled(),
    };
    upstash.shutdown().await;
    agno.shutdown().await;
    Ok(seen)
}

#[cfg(test)]
mod tests {
    /// The README's first command keeps working: every step succeeds, and the emulators agree
    /// with what the quickstart says it did.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_quickstart_does_what_it_says() {
        let seen = super::quickstart().await.expect("the quickstart runs");
        assert_eq!(
            seen,
            super::Seen {
                upstash_cancelled: 252,
                upstash_active: 20,
                agno_cancelled: 7
            }
        );
    }
}
