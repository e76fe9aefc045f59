//! The portable contract: `AgnoCanceller` against the Agno AgentOS emulator, through
//! `wfcancel_core::conformance::run_all`.

mod common;

use std::time::Duration;

use wfcancel_agno::AgnoCanceller;
use wfcancel_core::conformance::{Harness, SeedRun, run_all};
use wfcancel_core::{RunRef, RunState, async_trait};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus};

const WORKFLOW: &str = "conformance-wf";
const KEY: &str = "conformance-key";

/// Seeds runs of one workflow on the emulator, each in a session of its own.
struct AgnoHarness {
    emu: AgnoEmulator,
}

fn session_of(run_id: &str) -> String {
    format!("sess-{run_id}")
}

fn agno_status(state: &RunState) -> AgnoStatus {
    match state {
        RunState::Pending => AgnoStatus::Pending,
        RunState::Paused => AgnoStatus::Paused,
        RunState::Completed => AgnoStatus::Completed,
        RunState::Failed => AgnoStatus::Error,
        RunState::Cancelled => AgnoStatus::Cancelled,
        _ => AgnoStatus::Running,
    }
}

#[async_trait]
impl Harness for AgnoHarness {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let session = session_of(&run.id);
        self.emu.seed(
            AgnoRun::workflow(WORKFLOW, run.id.clone())
                .session(session.clone())
                .status(agno_status(&run.state)),
        );
        RunRef::new(run.id).workflow(WORKFLOW).session(session)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        self.emu.status(run.run_id()).map(RunState::from)
    }

    fn unknown_run(&self, id: &str) -> RunRef {
        RunRef::new(id).workflow(WORKFLOW).session(session_of(id))
    }
}

async fn harness(config: AgnoConfig) -> AgnoHarness {
    let emu = AgnoEmulator::start(config.with_security_key(KEY))
        .await
        .expect("emulator");
    emu.seed_owner(wfcancel_emulator::OwnerKind::Workflow, WORKFLOW);
    AgnoHarness { emu }
}

fn canceller(h: &AgnoHarness, check_state: bool) -> AgnoCanceller {
    AgnoCanceller::builder()
        .base_url(h.emu.url())
        .security_key(KEY)
        .http_config(common::fast_retries(3))
        .check_state_before_cancel(check_state)
        .build()
        .expect("canceller")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_against_the_emulator() {
    let h = harness(AgnoConfig::default()).await;
    let summary = run_all(&canceller(&h, true), &h).await;
    println!("{summary}");
    for check in [
        "validation",
        "idempotent_cancel",
        "not_active",
        "bulk_ids_accounting",
        "status",
    ] {
        assert!(summary.ran.contains(&check), "{check} did not run: {summary}");
    }
    h.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_against_a_2x_server_without_the_state_check() {
    // A 2.x server says "Failed to cancel run" for runs that are not active: the cancel's own
    // answer is enough to tell, with one request per cancel.
    let h = harness(
        AgnoConfig::default()
            .with_legacy_2x(true)
            .with_cancel_delay(Duration::from_millis(20)),
    )
    .await;
    let summary = run_all(&canceller(&h, false), &h).await;
    println!("{summary}");
    assert!(summary.ran.contains(&"not_active"), "{summary}");
    h.emu.shutdown().await;
}
