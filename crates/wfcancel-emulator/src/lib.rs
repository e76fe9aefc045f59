//! Stateful local emulators of the Upstash Workflow and Agno AgentOS cancel APIs, for tests,
//! demos and benchmarks.
//!
//! - [`UpstashEmulator`]: `DELETE /v2/workflows/runs/{id}`, bulk cancel (ids, filters, all,
//!   `async=true` bulk actions), `GET /v2/workflows/logs`, `GET /v2/workflows/bulkActions[/{id}]`,
//!   bearer-token auth, `414` on long URIs.
//! - [`AgnoEmulator`]: `POST /{workflows|agents|teams}/{id}/runs/{run_id}/cancel` with cooperative,
//!   delayed cancellation and stored intents, `GET …/runs/{run_id}?session_id=`, `POST …/runs`,
//!   `GET /health`, optional security key, a 2.x compatibility mode.
//! - [`Faults`] / [`FaultHandle`]: random `5xx` and `429`, per-second rate limits with the
//!   provider's headers, latency, dropped connections, and per-path [`Scenario`]s (hang, trickle,
//!   huge body, not JSON, HTML error page, redirect), all changeable while the server runs and
//!   all applied before a request can change state; except the "answer lost" faults
//!   ([`Faults::drop_after`], [`Scenario::DropAfterHandling`]), which let the endpoint handle the
//!   request (state changes happen) and then close the connection without a response.
//! - [`FaultProxy`]: the same fault layer in front of any upstream HTTP server (a real Temporal,
//!   Restate, LangGraph or AgentOS server, or an emulator), faults answered in that upstream's
//!   error shape ([`ProxyFlavor`]).
//! - [`Stats`]: what the server saw and did, to compare with a client's own report; and per run,
//!   how many cancel requests named it ([`UpstashEmulator::cancel_requests`],
//!   [`AgnoEmulator::cancel_requests`]), to prove a client never sent one twice.
//!
//! Both listen on `127.0.0.1` only, on the port asked for or a free one.
//!
//! ```no_run
//! use wfcancel_emulator::{Faults, UpstashConfig, UpstashEmulator};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let emu = UpstashEmulator::start(UpstashConfig::default()).await?;
//! let ids = emu.seed_random(1_000, Some(7));
//! println!("QSTASH_URL={} QSTASH_TOKEN={}", emu.url(), emu.token());
//! emu.faults().set(Faults::none().errors(0.05).seed(1));
//! // ... run a client against it ...
//! println!("server cancelled {} of {} runs", emu.cancelled(), ids.len());
//! wfcancel_emulator::ShutdownSignal::install().await; // Ctrl-C or SIGTERM
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # How a request is handled
//! Every request is counted and classified ([`Endpoint`]); a request target longer than the
//! configured maximum gets `414`; then a matching [`ScenarioRule`] answers, or else latency is
//! added and the fault knobs may drop the connection, answer `429` or a `5xx`; only then do auth
//! and the endpoint run; last, [`Faults::drop_after_rate`] may throw the endpoint's answer away
//! and drop the connection (the request took effect, the client cannot know it). A dropped
//! connection is made by the service returning an error to hyper,
//! which closes the connection without writing a response: the client sees a connection error
//! (e.g. "connection closed before message completed"), never a status. (Over HTTP/2 the same
//! error resets the stream instead.)
//!
//! # Choices made where the reference is silent
//! Upstash:
//! - unknown, finished or already-cancelled run on `DELETE /v2/workflows/runs/{id}`:
//!   `404 {"error":"workflowRun not found"}`; missing token `401 {"error":"authorization header is missing"}`,
//!   wrong token `401 {"error":"invalid token"}`; unknown path `404` text `404 page not found`;
//!   wrong method `405 {"error":"method not allowed"}`.
//! - bulk: `workflowRunIds` present → only those ids (other filters, `count` and `async` ignored,
//!   no cap); else any filter key → filter (default `count` 100); else (only `count`, or nothing
//!   at all, or an empty JSON body `{}`) → cancel everything, up to `count` (default 100), like the
//!   documented legacy "empty body cancels all". Runs are cancelled oldest first.
//! - multi-values: `workflowRunIds`, `label`, `callerIp`, `flowControlKey`, `host`, `path` accept
//!   repeated keys and comma-separated values (for `host` and `path` assumed, like the others);
//!   `workflowUrl` accepts repeated keys only (URLs may contain commas).
//! - `host` and `path` match the workflow URL's host and path exactly, as
//!   [`wfcancel_core::RunFilter::matches`] does (host ASCII case-insensitive, without the port;
//!   path without query or fragment, `/` when empty): the real server's exact comparison is not
//!   confirmed.
//! - a JSON body is decoded like the Go server's `CancelWorkflowRunsRequest` (list fields are
//!   `[]string`): `{"workflowUrl":"..."}` → `400` with Go's type error; a well-typed body is merged
//!   into the query. Bad numbers/bools → `400 {"error":"invalid fromDate: strconv.ParseInt: …"}`;
//!   `count` ≤ 0 → `400`.
//! - `async=true` with a filter: `200 {"actionId":"act_…"}`; `GET /v2/workflows/bulkActions/{id}` →
//!   `{"actionId","kind":"cancel","state","total","cancelled","createdAt","finishedAt"?}`; unknown →
//!   `404 {"error":"bulk action not found"}`. `count` caps an action only when given. The list
//!   answers `{"cursor","actions":[…]}`.
//! - a run marked [`UpstashRun::uncancellable_once`]: a single cancel answers
//!   `500 {"error":"failed to cancel workflow run"}` once; a bulk cancel stops before it and
//!   answers the count so far; the next attempt succeeds.
//! - logs: unknown id → `{"cursor":"","runs":[]}`; `workflowRunCompletedAt`, `workflowRunCallerIp`,
//!   `label`, `flowControlKey` only when set. Without `workflowRunId`: newest first, `count`
//!   (default 10) and `cursor`.
//! - `414` body is plain text `URI Too Long`; the limit counts path + query bytes.
//!
//! Agno:
//! - status of an unknown run, a run of another owner, or a wrong `session_id`:
//!   `404 {"detail":"Run not found"}` (as AgentOS 3.1.10's route does); unknown path
//!   `404 {"detail":"Not Found"}`.
//! - a cancel intent is keyed by run id alone (like AgentOS without RBAC): a cancel through any
//!   existing owner of the right kind reaches the run.
//! - intents for unknown run ids are kept up to [`AgnoConfig::max_intents`] (default
//!   [`DEFAULT_MAX_INTENTS`]), the oldest dropped first (a real AgentOS keeps them all in memory).
//! - a run marked `never_stops` accepts the cancel (`200 {}`) and stays `RUNNING` until
//!   [`AgnoEmulator::set_status`] ends it.
//! - `POST /{kind}/{id}/runs`: `background=true` → `202 {"run_id","session_id","status":"PENDING"}`
//!   and a `RUNNING` run; otherwise `200` with the run, already `COMPLETED` (streaming is not emulated).
//!
//! Faults: random `5xx` bodies are `{"error":"service unavailable"}` (Upstash, lower-case reason)
//! or `{"detail":"Service Unavailable"}` (Agno); rate-limit `429`s are
//! `{"error":"Exceeded burst rate limit. …"}` with `Burst-RateLimit-*` and `Retry-After`
//! (Upstash) or `{"detail":"Rate limit exceeded"}` with `Retry-After` (Agno).
#![warn(missing_docs)]

mod agno;
mod faults;
mod proxy;
mod server;
mod stats;
mod upstash;
mod util;

pub use agno::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, DEFAULT_CANCEL_DELAY, DEFAULT_MAX_INTENTS, LEGACY_CANCEL_FAILED,
};
pub use faults::{FaultHandle, Faults, Scenario, ScenarioRule};
pub use proxy::{FaultProxy, MAX_PROXIED_BODY, ProxyConfig, ProxyFlavor};
pub use stats::{Endpoint, FaultKind, Stats};
pub use upstash::{
    BulkAction, BulkActionState, DEFAULT_BULK_COUNT, DEFAULT_MAX_URI_LEN, DEFAULT_SHUTDOWN_GRACE, UpstashConfig,
    UpstashEmulator, UpstashRun, UpstashState,
};
/// Re-exported: the owner kinds of Agno runs.
pub use wfcancel_core::OwnerKind;

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM handlers, installed when this value is made: a
/// future that resolves when the process receives either signal, for a command that serves an
/// emulator until it is told to stop.
///
/// [`install`](Self::install) registers the handlers at once, synchronously, so a signal that
/// arrives after it returns (while the emulator starts, say) is not lost and does not kill the
/// process: it resolves the future, however late it is first polled. Install it first, then
/// start serving, then await it. If a handler cannot be installed (no signal driver in the
/// runtime), that signal is simply not waited for.
///
/// ```no_run
/// use wfcancel_emulator::{AgnoConfig, AgnoEmulator, ShutdownSignal};
/// # async fn demo() -> std::io::Result<()> {
/// let stop = ShutdownSignal::install(); // handlers in place from here on
/// let emu = AgnoEmulator::start(AgnoConfig::default()).await?;
/// stop.await;
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a ShutdownSignal does nothing unless awaited"]
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
}

impl ShutdownSignal {
    /// Registers the handlers now (Ctrl-C, and SIGTERM on Unix) and returns the future that
    /// resolves on the first of them.
    ///
    /// # Panics
    /// Outside a Tokio runtime (like [`tokio::signal`] itself).
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            ShutdownSignal {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(windows)]
        {
            ShutdownSignal {
                ctrl_c: tokio::signal::windows::ctrl_c().ok(),
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            ShutdownSignal {}
        }
    }
}

/// Polls one installed handler: whether its signal came. A handler whose driver is gone is
/// dropped (that signal can no longer come).
macro_rules! signal_came {
    ($slot:expr, $cx:expr) => {
        match $slot.as_mut().map(|sig| sig.poll_recv($cx)) {
            Some(std::task::Poll::Ready(Some(()))) => true,
            Some(std::task::Poll::Ready(None)) => {
                *$slot = None;
                false
            }
            _ => false,
        }
    };
}

impl std::future::Future for ShutdownSignal {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let this = self.get_mut();
        #[cfg(unix)]
        let came = {
            // Poll both, so that both wakers are registered.
            let interrupt = signal_came!(&mut this.interrupt, cx);
            let terminate = signal_came!(&mut this.terminate, cx);
            interrupt || terminate
        };
        #[cfg(windows)]
        let came = signal_came!(&mut this.ctrl_c, cx);
        #[cfg(not(any(unix, windows)))]
        let came = {
            let _ = (this, cx);
            false
        };
        if came {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

/// Resolves when the process receives Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are
/// registered when this function is called, not when the future is first polled: see
/// [`ShutdownSignal`] (which this returns), and call it before starting to serve.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn shutdown_signal() -> ShutdownSignal {
    ShutdownSignal::install()
}
