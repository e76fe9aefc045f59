//! # wfcancel
//!
//! One portable way for a Rust application to cancel workflow runs, whichever orchestrator
//! runs them: **Upstash Workflow** (feature `upstash`), **Agno AgentOS** (feature `agno`),
//! **Temporal** (feature `temporal`), **Restate** (feature `restate`) and **LangGraph Platform**
//! (feature `langgraph`) today.
//!
//! An application holds an `Arc<dyn WorkflowCanceller>`; a Cargo feature and the environment pick
//! the provider ([`from_env`]); its tests use [`InMemoryCanceller`] (feature `memory`), a real
//! in-memory orchestrator that passes the same [conformance suite](wfcancel_core::conformance)
//! as every backend, or a `mockall` mock (feature `mock`).
//!
//! ```
//! use std::sync::Arc;
//! use wfcancel::{BulkOptions, CancelError, RunFilter, RunRef, Selector, WorkflowCanceller};
//!
//! /// Application code: knows nothing of the provider behind the trait.
//! async fn stop_deploy(c: Arc<dyn WorkflowCanceller>, bad_release: &str) -> Result<u64, CancelError> {
//!     let filter = RunFilter::new().label(bad_release);
//!     let report = c.cancel_many(&Selector::filter(filter), &BulkOptions::new().drain(true)).await?;
//!     Ok(report.cancelled)
//! }
//! ```
//!
//! The contract lives in [`wfcancel_core`]; what an application uses is re-exported here, and
//! what only backend authors need (the HTTP plumbing, the fan-out, the polling loop, report
//! builders) is in [`backend`].
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::str::FromStr;

pub use wfcancel_core::{
    AddressError, AllRuns, BulkActionState, BulkFailure, BulkOptions, BulkReport, CancelError, CancelMode,
    CancelOptions, CancelOutcome, CancelledRun, Capabilities, ConfigProblem, ConfigSetting, DEFAULT_CONCURRENCY,
    DEFAULT_LIST_LIMIT, DEFAULT_MAX_ROUNDS, DEFAULT_PAGE_SIZE, ErrorKind, ErrorSource, FilterCapabilities, FilterField,
    Inactive, Interruption, ListOptions, ListedRun, MAX_LIST_LIMIT, NotFoundKind, Owner, OwnerKind, Progress,
    ProgressFn, ROUTER, RateLimitKind, RetryPolicy, Router, RunFilter, RunOutcome, RunPage, RunRef, RunState,
    SecretToken, Selector, StopHandle, UrlMatch, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, async_trait,
    epoch_millis, format_rfc3339, from_epoch_millis, parse_rfc3339, url_host, url_path,
};

#[cfg(feature = "memory")]
pub use wfcancel_core::{InMemoryCanceller, MemoryCall, MemoryRun};

#[cfg(feature = "mock")]
pub use wfcancel_core::MockWorkflowCanceller;

/// The HTTP settings every HTTP backend's builder takes (timeouts, retries, body cap).
#[cfg(any(feature = "rustls", feature = "native-tls", feature = "upstash", feature = "agno"))]
pub use wfcancel_core::http::HttpConfig;

#[cfg(feature = "conformance")]
pub use wfcancel_core::conformance;

/// For backend authors: what a backend of your own needs beyond the trait — the shared HTTP
/// plumbing ([`http`](backend::http): pooled client, timeouts, retries with the provider's hints,
/// one deadline per call, the token masked in every answer), the bounded, stoppable fan-out over
/// single cancels ([`fan_out`](backend::fan_out), [`drive`](backend::drive)), the polling loop
/// ([`poll_until`](backend::poll_until)), the capability check core runs
/// ([`check_bulk`](backend::check_bulk), [`check_list`](backend::check_list)), and report builders. Applications do not need it.
///
/// Implementing a backend is implementing [`WorkflowCanceller`]'s `backend`, `capabilities` and
/// hooks (`cancel_run`, and where the provider has them `cancel_runs`, `read_status`,
/// `read_bulk_action`), then passing the conformance suite (feature `conformance`;
/// `examples/custom_backend.rs` is a whole backend that passes it):
///
/// ```
/// use wfcancel::{CancelError, CancelOptions, CancelOutcome, Capabilities, RunRef, WorkflowCanceller};
///
/// /// A provider that answers every cancel "accepted": a minimal backend.
/// #[derive(Debug)]
/// struct Echo;
///
/// #[wfcancel::async_trait]
/// impl WorkflowCanceller for Echo {
///     fn backend(&self) -> &'static str {
///         "echo"
///     }
///     fn capabilities(&self) -> Capabilities {
///         let mut c = Capabilities::default(); // graceful cancels of single runs, fanned out for bulks
///         c.cancel_confirms = false;
///         c
///     }
///     async fn cancel_run(&self, run: &RunRef, _opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
///         run.validate(self.backend())?; // refuse bad input before any request
///         Ok(CancelOutcome::Requested)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let c = Echo;
/// assert_eq!(c.cancel(&RunRef::new("r1")).await.unwrap(), CancelOutcome::Requested);
/// // Core refused the forced mode before the hook ran: `Echo` does not list it.
/// assert!(c.cancel_with(&RunRef::new("r1"), &CancelOptions::forced()).await.is_err());
/// # }
/// ```
pub mod backend {
    pub use wfcancel_core::{
        BulkControl, Driven, Polled, check_bulk, check_list, drive, fan_out, poll_until, unique_runs, validate_id,
    };

    /// The HTTP plumbing every HTTP backend shares.
    #[cfg(any(feature = "rustls", feature = "native-tls", feature = "upstash", feature = "agno"))]
    pub use wfcancel_core::http;
}

#[cfg(feature = "agno")]
pub use wfcancel_agno::{self as agno, AgnoCanceller};
#[cfg(feature = "langgraph")]
pub use wfcancel_langgraph::{self as langgraph, LangGraphCanceller};
#[cfg(feature = "restate")]
pub use wfcancel_restate::{self as restate, RestateCanceller};
#[cfg(feature = "temporal")]
pub use wfcancel_temporal::{self as temporal, TemporalCanceller};
#[cfg(feature = "upstash")]
pub use wfcancel_upstash::{self as upstash, UpstashCanceller};

/// The README's example, compiled and run as a doc test.
#[cfg(all(doctest, feature = "memory"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The environment variable that names the backend for [`from_env`].
pub const BACKEND_ENV: &str = "WFCANCEL_BACKEND";

/// A provider this crate can talk to.
///
/// ```
/// use wfcancel::Backend;
/// let b: Backend = "upstash".parse().unwrap();
/// assert_eq!(b.as_str(), "upstash");
/// // Which ones this build holds (Cargo features), e.g. to say what `WFCANCEL_BACKEND` may name.
/// for b in Backend::compiled() {
///     assert!(b.is_compiled());
/// }
/// assert!("prefect".parse::<Backend>().is_err(), "not (yet) a backend");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Upstash Workflow (feature `upstash`).
    Upstash,
    /// Agno AgentOS (feature `agno`).
    Agno,
    /// Temporal (feature `temporal`).
    Temporal,
    /// Restate (feature `restate`).
    Restate,
    /// LangGraph Platform, the Agent Server API (feature `langgraph`).
    LangGraph,
    /// The in-memory orchestrator (feature `memory`), for tests and demos.
    Memory,
}

impl Backend {
    /// Every backend, compiled in or not. A slice, so that adding a backend does not change its type.
    pub const ALL: &'static [Backend] = &[
        Backend::Upstash,
        Backend::Agno,
        Backend::Temporal,
        Backend::Restate,
        Backend::LangGraph,
        Backend::Memory,
    ];

    /// The name used in `WFCANCEL_BACKEND` and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Upstash => "upstash",
            Backend::Agno => "agno",
            Backend::Temporal => "temporal",
            Backend::Restate => "restate",
            Backend::LangGraph => "langgraph",
            Backend::Memory => "memory",
        }
    }

    /// The Cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        self.as_str()
    }

    /// Whether this backend's feature is enabled in this build.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Upstash => cfg!(feature = "upstash"),
            Backend::Agno => cfg!(feature = "agno"),
            Backend::Temporal => cfg!(feature = "temporal"),
            Backend::Restate => cfg!(feature = "restate"),
            Backend::LangGraph => cfg!(feature = "langgraph"),
            Backend::Memory => cfg!(feature = "memory"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.iter().copied().filter(|b| b.is_compiled()).collect()
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = CancelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|b| b.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                CancelError::config_of(
                    "wfcancel",
                    ConfigSetting::Backend,
                    ConfigProblem::Invalid,
                    format!(
                        "unknown backend {t:?}; expected one of: upstash, agno, temporal, restate, langgraph, memory"
                    ),
                )
            })
    }
}

/// Builds the canceller the environment names.
///
/// The backend is `WFCANCEL_BACKEND` (`upstash`, `agno`, `temporal`, `restate`, `langgraph`,
/// `memory`), or else the only real backend compiled in (or `memory` when it is the only one).
/// Then each backend reads its own variables: Upstash `QSTASH_URL`, `QSTASH_TOKEN`,
/// `QSTASH_REGION` and the regional pairs, as the official SDK does; Agno `AGENTOS_URL` (default
/// `http://localhost:7777`) and `OS_SECURITY_KEY`; Temporal `TEMPORAL_HTTP_ADDRESS` (its HTTP
/// API, default `http://localhost:7243`), `TEMPORAL_NAMESPACE` (default `default`) and
/// `TEMPORAL_API_KEY`; Restate `RESTATE_ADMIN_URL` (the admin API, default
/// `http://localhost:9070`; or `RESTATE_HOST_SCHEME` and `RESTATE_HOST`) and `RESTATE_AUTH_TOKEN`;
/// LangGraph `LANGGRAPH_API_URL` (default `http://127.0.0.1:2024`) and the API key from
/// `LANGGRAPH_API_KEY`, `LANGSMITH_API_KEY` or `LANGCHAIN_API_KEY` (sent as `x-api-key`).
/// Naming a backend whose feature is off is a [`CancelError::Config`] that says which feature to
/// enable.
///
/// ```no_run
/// # async fn run() -> Result<(), wfcancel::CancelError> {
/// let canceller: std::sync::Arc<dyn wfcancel::WorkflowCanceller> = wfcancel::from_env()?.into();
/// canceller.cancel(&wfcancel::RunRef::new("wfr_123")).await?;
/// # Ok(()) }
/// ```
pub fn from_env() -> Result<Box<dyn WorkflowCanceller>, CancelError> {
    from_env_with(|name| std::env::var(name).ok())
}

/// [`from_env`] reading variables through `lookup` instead of the process environment.
pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Box<dyn WorkflowCanceller>, CancelError> {
    let backend = match lookup(BACKEND_ENV).filter(|v| !v.trim().is_empty()) {
        Some(name) => {
            let backend: Backend = name.parse()?;
            if !backend.is_compiled() {
                return Err(not_compiled(
                    backend,
                    &format!("{BACKEND_ENV}={backend} names a backend that is not compiled into this build"),
                ));
            }
            backend
        }
        None => default_backend()?,
    };
    build(backend, &lookup)
}

/// The backend used when `WFCANCEL_BACKEND` is not set.
pub fn default_backend() -> Result<Backend, CancelError> {
    let real: Vec<Backend> = Backend::compiled()
        .into_iter()
        .filter(|b| *b != Backend::Memory)
        .collect();
    match real.as_slice() {
        [one] => Ok(*one),
        [] if Backend::Memory.is_compiled() => Ok(Backend::Memory),
        [] => Err(CancelError::config_of(
            "wfcancel",
            ConfigSetting::Backend,
            ConfigProblem::NotCompiledIn,
            "no backend is compiled in; enable the `upstash`, `agno`, `temporal`, `restate`, `langgraph` or `memory` feature",
        )),
        many => Err(CancelError::config_of(
            "wfcancel",
            ConfigSetting::Backend,
            ConfigProblem::Missing,
            format!(
                "several backends are compiled in ({}); set {BACKEND_ENV} to choose one",
                many.iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Builds `backend` from variables read through `lookup`.
///
/// A backend whose feature is off is a [`CancelError::Config`] that names the feature to enable.
pub fn build(
    backend: Backend,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn WorkflowCanceller>, CancelError> {
    if !backend.is_compiled() {
        return Err(not_compiled(
            backend,
            &format!("the {backend} backend is not compiled into this build"),
        ));
    }
    let _ = lookup;
    match backend {
        #[cfg(feature = "upstash")]
        Backend::Upstash => Ok(Box::new(UpstashCanceller::from_env_with(lookup)?)),
        #[cfg(feature = "agno")]
        Backend::Agno => Ok(Box::new(AgnoCanceller::from_env_with(lookup)?)),
        #[cfg(feature = "temporal")]
        Backend::Temporal => Ok(Box::new(TemporalCanceller::from_env_with(lookup)?)),
        #[cfg(feature = "restate")]
        Backend::Restate => Ok(Box::new(RestateCanceller::from_env_with(lookup)?)),
        #[cfg(feature = "langgraph")]
        Backend::LangGraph => Ok(Box::new(LangGraphCanceller::from_env_with(lookup)?)),
        #[cfg(feature = "memory")]
        Backend::Memory => Ok(Box::new(InMemoryCanceller::new())),
        #[allow(unreachable_patterns)]
        _ => Err(CancelError::config_of(
            backend.as_str(),
            ConfigSetting::Backend,
            ConfigProblem::NotCompiledIn,
            "this backend is not compiled in",
        )),
    }
}

fn not_compiled(backend: Backend, what: &str) -> CancelError {
    CancelError::config_of(
        backend.as_str(),
        ConfigSetting::Backend,
        ConfigProblem::NotCompiledIn,
        format!("{what}; enable the `{}` feature of wfcancel", backend.feature()),
    )
}
