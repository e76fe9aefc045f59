//! The portable contract of [wfcancel](https://docs.rs/wfcancel): one way for a Rust application
//! to cancel workflow runs, whichever orchestrator runs them.
//!
//! - [`WorkflowCanceller`]: the trait every backend implements; hold it as `Arc<dyn WorkflowCanceller>`.
//! - [`RunRef`], [`Selector`], [`RunFilter`], [`BulkOptions`]: what to cancel and how.
//! - [`CancelOutcome`], [`BulkReport`], [`RunState`], [`CancelError`]: what happened.
//! - [`ListOptions`], [`RunPage`], [`ListedRun`]: which runs a filter hits, before cancelling.
//! - [`WorkflowCancellerExt`]: `wait_until_terminal` and `cancel_and_wait`.
//! - Feature `http`: the HTTP plumbing every HTTP backend shares (module `http`).
//! - Feature `memory`: `InMemoryCanceller`, a real in-memory orchestrator for tests.
//! - Feature `mock`: `MockWorkflowCanceller`, a `mockall` mock of the trait.
//! - Feature `conformance`: module `conformance`, the suite every backend passes.
//! - Feature `serde`: serde for run addresses, outcomes, states and reports.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bulk;
mod canceller;
mod capabilities;
mod error;
mod list;
mod options;
mod retry;
mod router;
mod run;
mod secret;
mod selector;
#[cfg(feature = "serde")]
mod serde_impls;
mod time;

#[cfg(feature = "http")]
pub mod http;

#[cfg(feature = "memory")]
mod memory;

#[cfg(feature = "mock")]
mod mock;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use bulk::{
    BulkActionState, BulkControl, BulkFailure, BulkOptions, BulkReport, DEFAULT_CONCURRENCY, DEFAULT_MAX_ROUNDS,
    DEFAULT_PAGE_SIZE, Driven, Interruption, Progress, ProgressFn, RunOutcome, StopHandle, drive, fan_out, unique_runs,
};
pub use canceller::{
    CancelledRun, Polled, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, check_bulk, poll_until,
};
pub use capabilities::{Capabilities, FilterCapabilities};
pub use error::{CancelError, ConfigProblem, ConfigSetting, ErrorKind, ErrorSource, NotFoundKind, RateLimitKind};
pub use list::{DEFAULT_LIST_LIMIT, ListOptions, ListedRun, MAX_LIST_LIMIT, RunPage, check_list};
pub use options::{CancelMode, CancelOptions};
pub use retry::RetryPolicy;
pub use router::{ROUTER, Router};
pub use run::{AddressError, CancelOutcome, Inactive, Owner, OwnerKind, RunRef, RunState, validate_id};
pub use secret::SecretToken;
pub use selector::{
    AllRuns, FilterField, NativeQuery, RunFilter, Selector, UrlMatch, epoch_millis, from_epoch_millis, url_host,
    url_path,
};
pub use time::{format_rfc3339, parse_rfc3339};

#[cfg(feature = "memory")]
pub use memory::*;

#[cfg(feature = "mock")]
pub use mock::MockWorkflowCanceller;

/// Re-exported so that implementors and users of the trait need not depend on it themselves.
pub use async_trait::async_trait;
