//! The conformance suite: what makes "portable" true. Every backend, and the in-memory
//! canceller, passes it.
//!
//! A test for a backend implements [`Harness`] (seed runs on the server behind the canceller, read
//! their true state) and calls [`run_all`], or the individual checks.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{RunRef, RunState};

/// A run to seed on the server behind the canceller under test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedRun {
    /// Run id (unique per test: the checks make their own).
    pub id: String,
    /// Workflow URL.
    pub url: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// Caller IP.
    pub caller_ip: Option<String>,
    /// Flow-control key.
    pub flow_control_key: Option<String>,
    /// Initial state.
    pub state: RunState,
}

/// Seeds runs on the server behind the canceller under test and reads their true state.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Seeds a run; returns the [`RunRef`] with which the canceller under test addresses it
    /// (with owner and session where the backend needs them).
    async fn seed(&self, run: SeedRun) -> RunRef;
    /// The run's true state as the server holds it (`None` when the server does not know it).
    async fn true_state(&self, run: &RunRef) -> Option<RunState>;
    /// A [`RunRef`] for a run id that the server has never seen, addressed as the backend needs.
    fn unknown_run(&self, id: &str) -> RunRef {
        RunRef::new(id)
    }
}
