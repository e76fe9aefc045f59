//! [wfcancel](https://docs.rs/wfcancel) backend for [Agno AgentOS](https://docs.agno.com):
//! cancel workflow, agent and team runs through the AgentOS HTTP API.
//!
//! ```no_run
//! use std::time::Duration;
//! use wfcancel_agno::AgnoCanceller;
//! use wfcancel_core::{CancelOutcome, RunRef, RunState, WaitOptions, WorkflowCanceller, WorkflowCancellerExt};
//!
//! # async fn demo() -> Result<(), wfcancel_core::CancelError> {
//! // AGENTOS_URL (default http://localhost:7777) and OS_SECURITY_KEY (optional).
//! let agno = AgnoCanceller::from_env()?;
//! let run = RunRef::new("3f1c…").workflow("nightly-report").session("9ab0…");
//!
//! // Agno cancels cooperatively: "requested", the run stops at its next checkpoint
//! // (or "not active" when it is already over).
//! let outcome = agno.cancel(&run).await?;
//! assert!(matches!(outcome, CancelOutcome::Requested | CancelOutcome::NotActive(_)));
//!
//! // Or cancel and wait for the terminal state (needs the session id).
//! let done = agno.cancel_and_wait(&run, WaitOptions::with_timeout(Duration::from_secs(30))).await?;
//! println!("{} then {}", done.outcome, done.state); // "requested then cancelled"
//! # Ok(()) }
//! ```
//!
//! ## What Agno needs in a [`RunRef`]
//! - always the owner: [`RunRef::workflow`], [`RunRef::agent`] or [`RunRef::team`]
//!   (`POST /workflows/{id}/runs/{run_id}/cancel`, `/agents/…`, `/teams/…`);
//! - the session ([`RunRef::session`]) to read a run's status, and to cancel on servers that
//!   isolate users (it is sent as the `session_id` query parameter whenever given).
//!
//! Missing pieces are refused with [`CancelError::InvalidInput`] before any request.
//!
//! ## What the answers mean
//! - A cancel answered 200 is [`CancelOutcome::Requested`], never "stopped": AgentOS records the
//!   intent and the run stops between steps.
//! - AgentOS answers 200 for unknown and finished runs too, so by default a cancel cannot tell
//!   them apart and says `Requested`. Opt in to
//!   [`AgnoCancellerBuilder::check_state_before_cancel`] to read the run's state first (when the
//!   [`RunRef`] carries the session): a run the status read positively shows over (completed,
//!   failed, cancelled, regenerated) is then [`CancelOutcome::NotActive`] and gets no cancel, at
//!   the price of one more request per cancel. A status read answered `404 Run not found` proves
//!   nothing (AgentOS says so for a wrong session or owner too, while the cancel intent is keyed
//!   by run id alone and does stop the run): the cancel is sent and its own outcome stands.
//! - Servers 2.0 to 2.4 answered `500 Failed to cancel run…` for runs not in progress: that is
//!   [`CancelOutcome::NotActive`], and it is not retried.
//! - AgentOS has no bulk or filtered cancel: `cancel_many` fans ids out over single cancels
//!   (32 in flight by default) and refuses filters and "all" with [`CancelError::Unsupported`].
//!
//! One function turns every answer into these shared types; the table is on [`AgnoCanceller`].
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
#[doc(hidden)]
pub mod fuzz;
mod mapping;
mod request;

use wfcancel_core::http::{Call, HttpClient};
use wfcancel_core::{
    BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities, FilterCapabilities, Inactive,
    ListOptions, ListedRun, RunFilter, RunPage, RunRef, RunState, Selector, WorkflowCanceller, async_trait, fan_out,
};

pub use config::{AgnoCancellerBuilder, DEFAULT_BASE_URL, ENV_SECURITY_KEY, ENV_URL};
pub use request::PlannedRequest;

use mapping::{Answer, Context};
use request::Op;

/// The backend name, as reported by [`WorkflowCanceller::backend`] and in every error.
pub const BACKEND: &str = "agno";

/// Cancels Agno AgentOS runs (workflows, agents, teams) over its HTTP API.
///
/// Build it with [`AgnoCanceller::builder`] or [`AgnoCanceller::from_env`]; it holds one pooled
/// HTTP client and is cheap to clone. Its `Debug` and `Display` never show the security key.
///
/// How answers map (one function does it):
///
/// | answer | result |
/// |---|---|
/// | cancel 2xx | `Ok(Requested)` (`NotActive` without a cancel when the state check read a run already over) |
/// | status 2xx | the `status` field: `PENDING`, `RUNNING`, `PAUSED`, `COMPLETED`, `CANCELLED`, `ERROR` (→ `Failed`), `REGENERATED` (→ `Completed`), else `Unknown`; a `null` body → `NotFound{Run}` |
/// | 404 `Workflow not found` / `Agent not found` / `Team not found` | `NotFound` of that kind, with the owner id |
/// | 404 `Run not found` | `NotFound{Run}`, with the run id |
/// | other 404 | `NotFound` of the id containing `/` if any (AgentOS decodes `%2F` before routing), else `NotFound{Other}` (check the base URL) |
/// | 401 / 403 | `Unauthenticated` / `PermissionDenied` |
/// | 400, 422, other 4xx | `InvalidRequest` with the detail (`query.session_id: Field required`) |
/// | 429 | `RateLimited` with `Retry-After` |
/// | 501 | `Unsupported` |
/// | cancel 500 `Failed to cancel run…` (2.x servers) | `Ok(NotActive)`, not retried |
/// | 405, 408, other 5xx | `Provider` (408 and 5xx retried first) |
///
/// Bodies that are not JSON (a proxy's HTML page, plain text, nothing) still give a readable
/// message; unknown fields (`error_code`, `error_id`, …) are ignored.
///
/// ```
/// use wfcancel_agno::AgnoCanceller;
/// use wfcancel_core::{CancelError, RunRef, WorkflowCanceller};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let agno = AgnoCanceller::builder().build().unwrap();
/// assert_eq!(agno.backend(), "agno");
/// // No owner: refused before any request.
/// let err = agno.cancel(&RunRef::new("run-1")).await.unwrap_err();
/// assert!(matches!(err, CancelError::InvalidInput { field: "owner", .. }));
/// # }
/// ```
#[derive(Clone)]
pub struct AgnoCanceller {
    http: HttpClient,
    has_key: bool,
    check_state: bool,
}

impl std::fmt::Debug for AgnoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgnoCanceller")
            .field("base_url", &self.http.base_url().as_str())
            .field("security_key", &self.has_key.then_some("***"))
            .field("check_state_before_cancel", &self.check_state)
            .field("http_config", self.http.config())
            .finish()
    }
}

impl std::fmt::Display for AgnoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agno AgentOS at {} ({})",
            self.http.base_url(),
            if self.has_key {
                "security key set"
            } else {
                "no security key"
            }
        )
    }
}

impl AgnoCanceller {
    /// A builder with every setting at its default (see [`AgnoCancellerBuilder`]).
    pub fn builder() -> AgnoCancellerBuilder {
        AgnoCancellerBuilder::new()
    }

    /// A canceller configured from the process environment: `AGENTOS_URL` (default
    /// `http://localhost:7777`) and `OS_SECURITY_KEY` (optional).
    ///
    /// ```no_run
    /// let agno = wfcancel_agno::AgnoCanceller::from_env()?;
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env() -> Result<Self, CancelError> {
        AgnoCancellerBuilder::from_env().build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// let agno = wfcancel_agno::AgnoCanceller::from_env_with(|_| None)?;
    /// assert_eq!(agno.base_url().as_str(), "http://localhost:7777/");
    /// assert!(!agno.has_security_key());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env_with<F>(lookup: F) -> Result<Self, CancelError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        AgnoCancellerBuilder::from_env_with(lookup).build()
    }

    pub(crate) fn from_parts(http: HttpClient, has_key: bool, check_state: bool) -> Self {
        AgnoCanceller {
            http,
            has_key,
            check_state,
        }
    }

    /// The AgentOS base URL.
    pub fn base_url(&self) -> &wfcancel_core::http::Url {
        self.http.base_url()
    }

    /// Whether a security key is sent with each request.
    pub fn has_security_key(&self) -> bool {
        self.has_key
    }

    /// The request [`cancel`](WorkflowCanceller::cancel) sends for `run`, without sending it:
    /// `POST /{workflows|agents|teams}/{owner}/runs/{run}/cancel[?session_id=…]`.
    /// Validates exactly as `cancel` does.
    ///
    /// ```
    /// use wfcancel_agno::AgnoCanceller;
    /// use wfcancel_core::RunRef;
    /// let agno = AgnoCanceller::builder().build()?;
    /// let req = agno.cancel_request(&RunRef::new("r/1").agent("helper"))?;
    /// assert_eq!(req.to_string(), "POST http://localhost:7777/agents/helper/runs/r%2F1/cancel");
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn cancel_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        request::build(&self.http, Op::Cancel, run)
    }

    /// The request [`status`](WorkflowCanceller::status) sends for `run`, without sending it:
    /// `GET /{workflows|agents|teams}/{owner}/runs/{run}?session_id=…`.
    ///
    /// ```
    /// use wfcancel_agno::AgnoCanceller;
    /// use wfcancel_core::RunRef;
    /// let agno = AgnoCanceller::builder().build()?;
    /// let req = agno.status_request(&RunRef::new("r1").team("t").session("s"))?;
    /// assert_eq!(req.to_string(), "GET http://localhost:7777/teams/t/runs/r1?session_id=s");
    /// // Agno needs the session to read a run.
    /// assert!(agno.status_request(&RunRef::new("r1").team("t")).is_err());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn status_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        request::build(&self.http, Op::Status, run)
    }

    /// The cancel requests [`cancel_many`](WorkflowCanceller::cancel_many) would send for
    /// `selector`, in order, without sending them (for a dry run). Validates exactly as
    /// `cancel_many` does: filters and "all" are [`CancelError::Unsupported`]. (With the state
    /// check on, each run that carries a session is first read with its
    /// [`status_request`](Self::status_request), and a run already over is not sent its cancel.)
    ///
    /// ```
    /// use wfcancel_agno::AgnoCanceller;
    /// use wfcancel_core::{RunRef, Selector};
    /// let agno = AgnoCanceller::builder().build()?;
    /// let plan = agno.plan(&Selector::Ids(vec![RunRef::new("a").workflow("w"), RunRef::new("b").workflow("w")]))?;
    /// assert_eq!(plan.len(), 2);
    /// assert!(agno.plan(&Selector::cancel_all_runs()).is_err());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn plan(&self, selector: &Selector) -> Result<Vec<PlannedRequest>, CancelError> {
        match selector {
            Selector::Ids(runs) => {
                Selector::validate_ids(BACKEND, runs)?;
                runs.iter()
                    .enumerate()
                    .map(|(i, run)| self.cancel_request(run).map_err(|e| in_list(e, i)))
                    .collect()
            }
            Selector::Filter(_) => Err(CancelError::unsupported(
                BACKEND,
                "cancel by filter: AgentOS has no filtered or bulk cancel; list the runs and pass their ids",
            )),
            Selector::All(_) => Err(CancelError::unsupported(
                BACKEND,
                "cancel all runs: AgentOS has no bulk cancel; list the runs and pass their ids",
            )),
            _ => Err(CancelError::unsupported(BACKEND, "this kind of selector")),
        }
    }

    async fn send(&self, call: &Call<'_>, op: Op, run: &RunRef, retry: bool) -> Result<Answer, CancelError> {
        let req = request::build(&self.http, op, run)?;
        self.send_built(call, req, op, run, retry).await
    }

    /// Sends a request already built by [`request::build`] (built once per call: see
    /// BENCHMARKS.md) within `call`'s deadline; without `retry`, one attempt and no retry at all.
    async fn send_built(
        &self,
        call: &Call<'_>,
        req: PlannedRequest,
        op: Op,
        run: &RunRef,
        retry: bool,
    ) -> Result<Answer, CancelError> {
        let ctx = Context {
            op,
            run,
            key_sent: self.has_key,
        };
        let resp = if retry {
            call.send_with(op.name(), req.method, req.url, &|resp| {
                mapping::retry_decision(&ctx, resp)
            })
            .await?
        } else {
            call.send_once(op.name(), req.method, req.url).await?
        };
        // The one place answers become shared types; what it built from the answer is masked
        // for the key as well (the answer itself already is).
        let answer = self.http.scrub_result(mapping::map_answer(&ctx, &resp));
        tracing::debug!(
            backend = BACKEND,
            operation = op.name(),
            status = resp.status,
            attempts = resp.attempts,
            ok = answer.is_ok(),
            "agno answer"
        );
        answer
    }

    /// Reads the run's state before cancelling it (when enabled and the session is known):
    /// `Some(state)` when AgentOS answered one, `None` when not checked or the read failed in any
    /// way, `404 Run not found` included (AgentOS answers that for a wrong session or owner as
    /// well, while the cancel reaches the run by its id alone: only a state read positively can
    /// spare the cancel). One attempt, no retries of any kind: it only refines the outcome, and
    /// it shares the cancel's deadline.
    async fn state_before_cancel(&self, call: &Call<'_>, run: &RunRef) -> Option<RunState> {
        if !self.check_state || run.session_id().is_none() {
            return None;
        }
        match self.send(call, Op::Status, run, false).await {
            Ok(Answer::State(s)) => Some(s),
            _ => None,
        }
    }
}

impl AgnoCanceller {
    async fn list_page(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let workflow = match filter.workflows.as_deref() {
            Some([one]) => one.as_str(),
            Some(_) => {
                return Err(CancelError::invalid_input(
                    BACKEND,
                    "filter.workflows",
                    "AgentOS lists the runs of one workflow at a time: name exactly one (RunFilter::workflow)",
                ));
            }
            None => {
                return Err(CancelError::invalid_input(
                    BACKEND,
                    "filter.workflows",
                    "listing Agno runs needs the workflow that owns them (RunFilter::workflow(id)): AgentOS lists \
                     runs per workflow",
                ));
            }
        };
        let server_status = match filter.states.as_deref() {
            Some([one]) => server_status(one),
            _ => None,
        };
        let (mut session_pos, mut run_pos) = match &opts.cursor {
            None => (0usize, 0usize),
            Some(c) => c
                .split_once('.')
                .and_then(|(s, r)| Some((s.parse().ok()?, r.parse().ok()?)))
                .ok_or_else(|| CancelError::invalid_input(BACKEND, "cursor", "not a cursor this backend gave"))?,
        };
        let call = self.http.call();
        let mut out: Vec<ListedRun> = Vec::new();
        loop {
            let listing = RunRef::new("(listing)").workflow(workflow);
            let req = request::sessions(&self.http, workflow, SESSION_PAGE, session_pos / SESSION_PAGE + 1)?;
            let (sessions, more) = match self.send_built(&call, req, Op::Sessions, &listing, true).await? {
                Answer::Sessions(ids, more) => (ids, more),
                other => return Err(unexpected(Op::Sessions, other)),
            };
            let skip = session_pos % SESSION_PAGE;
            for session in sessions.iter().skip(skip) {
                let listing = RunRef::new("(listing)").workflow(workflow).session(session);
                let req = request::session_runs(&self.http, workflow, session, server_status)?;
                let runs = match self.send_built(&call, req, Op::Runs, &listing, true).await {
                    Ok(Answer::Runs(runs)) => runs,
                    // The session was deleted since the session list: no run of it to list.
                    Err(CancelError::NotFound { .. }) => Vec::new(),
                    Ok(other) => return Err(unexpected(Op::Runs, other)),
                    Err(e) => return Err(e),
                };
                for (i, run) in runs.into_iter().enumerate().skip(run_pos) {
                    if filter.states.as_ref().is_none_or(|s| s.contains(&run.state)) {
                        out.push(run);
                    }
                    if out.len() == opts.limit {
                        return Ok(RunPage::new(out, Some(format!("{session_pos}.{}", i + 1))));
                    }
                }
                session_pos += 1;
                run_pos = 0;
            }
            if !more || sessions.len() <= skip {
                return Ok(RunPage::new(out, None));
            }
        }
    }
}

/// Sessions per page of a listing.
const SESSION_PAGE: usize = 100;

/// The one status name AgentOS stores a state under, when there is one (`COMPLETED` is not:
/// a regenerated run reads `REGENERATED` and maps to completed too).
fn server_status(state: &RunState) -> Option<&'static str> {
    match state {
        RunState::Pending => Some("PENDING"),
        RunState::Running => Some("RUNNING"),
        RunState::Paused => Some("PAUSED"),
        RunState::Cancelled => Some("CANCELLED"),
        RunState::Failed => Some("ERROR"),
        _ => None,
    }
}

/// Names the position of a refused run in a list.
fn in_list(e: CancelError, index: usize) -> CancelError {
    match e {
        CancelError::InvalidInput {
            backend,
            field,
            message,
            ..
        } => CancelError::invalid_input(backend, field, format!("run #{index}: {message}")),
        other => other,
    }
}

fn unexpected(op: Op, answer: Answer) -> CancelError {
    CancelError::provider(BACKEND, None, format!("internal: {} mapped to {answer:?}", op.name()))
}

#[async_trait]
impl WorkflowCanceller for AgnoCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Single cancel, status; no native bulk, no filters; a cancel is only "requested"; every run
    /// needs its owner, and a status read its session.
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.cancel = true;
        caps.bulk_ids = false;
        caps.cancel_all = false;
        caps.status = true;
        caps.cancel_confirms = false;
        caps.needs_owner = true;
        caps.status_needs_session = true;
        caps.background_actions = false;
        caps.list = true;
        let mut list_filter = FilterCapabilities::default();
        list_filter.workflows = true;
        list_filter.states = true;
        caps.list_filter = list_filter;
        caps
    }

    /// The runs of one workflow (the filter must name exactly one: AgentOS lists runs per
    /// workflow and session): its sessions oldest first (`GET /sessions?type=workflow&component_id=…`),
    /// then each session's runs (`GET /workflows/{id}/runs?session_id=…`, with `status=` when
    /// the filter names one state AgentOS stores under one name), until the page is full; the
    /// cursor says where it stopped. Each run is addressed with its workflow and session, so it
    /// can be cancelled and its status read.
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        self.list_page(filter, opts).await
    }

    /// `POST /{workflows|agents|teams}/{owner}/runs/{run}/cancel[?session_id=…]`:
    /// `Requested` on 200 (the run stops cooperatively), `NotActive` on a 2.x server's
    /// "Failed to cancel run". With the session known (and the check on), the run's state is
    /// read first, and a run it shows over is `NotActive` without a cancel; any other answer to
    /// the read (`404 Run not found` included: a wrong session or owner answers that too) leaves
    /// the decision to the cancel.
    async fn cancel_run(&self, run: &RunRef, _opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        // Graceful only, no reason: core refused anything else before this.
        // Refuse bad input before any request, the state check included; the request is built
        // once and sent as built.
        let req = request::build(&self.http, Op::Cancel, run)?;
        // One deadline for the whole call: the state read and the cancel with its retries.
        let call = self.http.call();
        if self
            .state_before_cancel(&call, run)
            .await
            .is_some_and(|s| s.is_terminal())
        {
            return Ok(CancelOutcome::NotActive(Inactive::Finished));
        }
        match self.send_built(&call, req, Op::Cancel, run, true).await? {
            Answer::Outcome(o) => Ok(o),
            other => Err(unexpected(Op::Cancel, other)),
        }
    }

    /// Fans `Selector::Ids` out over [`cancel`](Self::cancel), `opts.concurrency` in flight
    /// (default 32), after checking every run; filters and "all" are `Unsupported`.
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) => {
                // Every run is checked before the first request, without building its URL (the
                // fan-out builds each request once, when it sends it); core checked the ids.
                for (i, run) in runs.iter().enumerate() {
                    request::check(Op::Cancel, run).map_err(|e| in_list(e, i))?;
                }
                fan_out(self, runs, opts).await
            }
            other => {
                // `plan` refuses filters and "all", saying why.
                self.plan(other)?;
                Err(CancelError::unsupported(BACKEND, "this selector"))
            }
        }
    }

    /// `GET /{workflows|agents|teams}/{owner}/runs/{run}?session_id=…` and its `status` field.
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        match self.send(&self.http.call(), Op::Status, run, true).await? {
            Answer::State(s) => Ok(s),
            other => Err(unexpected(Op::Status, other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let c = AgnoCanceller::builder().build().unwrap().capabilities();
        assert!(c.cancel && c.status && c.needs_owner && c.status_needs_session);
        assert!(!c.bulk_ids && !c.cancel_all && !c.cancel_confirms && !c.filter.any() && !c.background_actions);
    }
}
