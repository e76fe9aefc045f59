//! [wfcancel](https://docs.rs/wfcancel) backend for [Temporal](https://temporal.io): cancel
//! (graceful) or terminate (forced) workflow executions, read their state, and cancel many at
//! once through a server-side batch operation, over Temporal's HTTP API (no gRPC dependency).
//!
//! ```no_run
//! use std::time::Duration;
//! use wfcancel_core::{CancelOptions, RunRef, WaitOptions, WorkflowCanceller, WorkflowCancellerExt};
//! use wfcancel_temporal::TemporalCanceller;
//!
//! # async fn demo() -> Result<(), wfcancel_core::CancelError> {
//! // TEMPORAL_HTTP_ADDRESS (default http://localhost:7243), TEMPORAL_NAMESPACE (default
//! // "default"), TEMPORAL_API_KEY (optional).
//! let temporal = TemporalCanceller::from_env()?;
//! // A workflow id, in a namespace (else the canceller's), with an optional run id.
//! let run = RunRef::new("order-42").scope("orders");
//! let outcome = temporal.cancel(&run).await?; // Requested: the workflow handles the cancel
//! let forced = temporal.cancel_with(&RunRef::new("order-43"), &CancelOptions::forced().reason("bad deploy")).await?;
//! let done = temporal.cancel_and_wait(&run, WaitOptions::with_timeout(Duration::from_secs(30))).await?;
//! # let _ = (outcome, forced, done); Ok(()) }
//! ```
//!
//! ## Addressing
//! A run is a workflow id ([`RunRef::new`]) in a namespace ([`RunRef::scope`], default the
//! canceller's), with an optional run id ([`RunRef::sub_id`]; none = the current run). An owner
//! or a session is refused.
//!
//! A workflow id holding `/` (`order/42`) cannot be put in a path of the HTTP API (its gateway
//! decodes `%2F` before it routes: a bare 404). Such a workflow is read through a visibility list
//! query (`WorkflowId = "order/42"`: its open execution, else the latest), and cancelled or
//! terminated through a batch operation that names the execution read there in its body, read
//! until it is over ([`BATCH_WAIT`]). Visibility is eventually consistent (a workflow started a
//! moment ago may not be listed yet: `NotActive(NoSuchRun)`) and has no "cancel requested" flag
//! (such a workflow reads `Running`, and a second cancel sends a second, harmless, request). An
//! id holding `/` and a `"` or `\` is refused (`Unsupported`): such values match nothing in the
//! dev server's visibility.
//!
//! ## Outcomes: what the server's answers are made to say
//! Temporal answers `200 {}` to a cancel whether the workflow runs or is closed, so a graceful
//! cancel first **describes** the workflow (a state read), then:
//! - unknown workflow or run id (404) → `NotActive` (no such run), nothing sent;
//! - closed (completed, failed, cancelled, terminated, timed out, continued as new) → `NotActive`
//!   (finished), nothing sent;
//! - running with a cancel already requested → `Requested`, nothing sent (the server would
//!   ignore a second request);
//! - running → `POST …/cancel` for **the run just described** (its run id pinned, so a run
//!   started meanwhile under the same workflow id is never hit), with a `requestId` kept across
//!   retries (the server de-duplicates on it) → `Requested`. A 404 there → `NotActive` (no such
//!   run). The one window left: a workflow that closes between the describe and the cancel is
//!   reported `Requested` (the server's `200` cannot tell); a wait then reads its final state.
//!   When no attempt of the cancel was answered because each connection broke after the
//!   request left (the server may have recorded any of them), the run just described is read
//!   again: cancel requested (or closed cancelled) → `Requested`; otherwise the transport error
//!   stands. Attempts that timed out are not followed by a read (a server that does not answer
//!   would make it wait as long again): the timeout stands.
//!
//! A forced cancel is `POST …/terminate` alone (terminate answers for itself): `200` →
//! `Cancelled`; `404 … already completed` → `NotActive` (finished); another 404 → `NotActive` (no
//! such run). When that "already completed" answers a *retried* terminate (an earlier attempt may
//! have reached the server and terminated it), the state is read: `Terminated` → `Cancelled`;
//! likewise when no attempt of the terminate was answered at all (else its error stands).
//!
//! An unknown namespace is an error (`NotFound` naming the namespace), never "not active".
//!
//! ## Bulk
//! - By ids: each run cancelled as above, 32 at a time by default (per-run outcomes are exact;
//!   a batch operation over `executions` would count unknown ids as completed). A graceful bulk
//!   first reads which of its workflows run through visibility, one list request per
//!   [`RUNNING_READ_CHUNK`] ids (`WorkflowId IN (…) AND ExecutionStatus = "Running"`, every id
//!   quoted), and cancels those at once, the listed run id pinned, instead of describing each:
//!   half the requests, which is what a busy server feels. Every run the list does not show as
//!   running (closed, unknown, not yet visible: visibility is eventually consistent) takes the
//!   describe path above, so `NotActive` still rests on a describe; a list that fails only
//!   sends its runs down that path. The window is the one above, a little wider: a workflow
//!   that closed shortly before the bulk may still be listed running, and is then reported
//!   `Requested` (the server's `200` to its cancel cannot tell).
//! - By filter ([`RunFilter::workflow`](wfcancel_core::RunFilter::workflow), `from`/`to` on the
//!   start time, `state(Running)`), "all", or a raw visibility query
//!   ([`Selector::native_query`]`("temporal", …)`): **one batch operation** over the visibility
//!   query, every value quoted and escaped ([`quote`]). Its job id is chosen by the client
//!   (`wfcancel-<uuid>`) before the first attempt, so a retried start cannot start a second batch
//!   (the server answers 409 for a used job id: on a retried attempt that means the first one
//!   started it). The report carries the job id in `action_id`; [`bulk_action`] reads its
//!   progress; with `drain`, `cancel_many` waits until the batch is over and reports its counts
//!   (`requested` for a cancel batch, `cancelled` for a terminate batch).
//!
//! [`bulk_action`]: WorkflowCanceller::bulk_action
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod mapping;
mod query;
mod request;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use wfcancel_core::http::{Bytes, Call, HttpClient};
use wfcancel_core::{
    BulkActionState, BulkControl, BulkFailure, BulkOptions, BulkReport, CancelError, CancelMode, CancelOptions,
    CancelOutcome, Capabilities, FilterCapabilities, Inactive, ListOptions, NotFoundKind, RunFilter, RunPage, RunRef,
    RunState, Selector, WorkflowCanceller, async_trait, fan_out,
};

pub use config::{
    DEFAULT_BASE_URL, DEFAULT_NAMESPACE, ENV_API_KEY, ENV_HTTP_ADDRESS, ENV_NAMESPACE, TemporalCancellerBuilder,
};
pub use query::{filter_query, list_query, quote, rfc3339};
pub use request::PlannedRequest;

use mapping::{Answer, Context};
use request::Op;

/// The backend name, as reported by [`WorkflowCanceller::backend`] and in every error.
pub const BACKEND: &str = "temporal";

/// The dialect name of Temporal visibility queries in [`Selector::native_query`].
pub const QUERY_DIALECT: &str = "temporal";

/// The reason a batch operation records when the caller gives none (Temporal requires one).
pub const DEFAULT_BATCH_REASON: &str = "cancelled with wfcancel";

/// How long a cancel of a workflow id holding `/` (a batch operation over that one execution)
/// reads the batch before it answers `Requested` without its end.
pub const BATCH_WAIT: Duration = Duration::from_secs(20);

/// How many workflow ids one visibility read of a bulk by ids names (see the crate docs, Bulk).
pub const RUNNING_READ_CHUNK: usize = 100;

/// A bulk's visibility reads: namespace → workflow id → the run id of its open execution
/// (looked up by `&str`, nothing allocated per run).
type Running = HashMap<String, HashMap<String, String>>;

/// How many of a bulk's visibility reads are in flight at once.
const RUNNING_READ_CONCURRENCY: usize = 4;

/// A run that was not active: finished (closed), on a describe.
fn finished() -> CancelOutcome {
    CancelOutcome::NotActive(Inactive::Finished)
}

/// A run that was not active: the namespace has no such workflow or run.
fn no_such_run() -> CancelOutcome {
    CancelOutcome::NotActive(Inactive::NoSuchRun)
}

/// Cancels and terminates Temporal workflow executions over Temporal's HTTP API.
///
/// Build it with [`TemporalCanceller::builder`] or [`TemporalCanceller::from_env`]; it holds one
/// pooled HTTP client and is cheap to clone. Its `Debug` and `Display` never show the API key.
#[derive(Clone)]
pub struct TemporalCanceller {
    http: HttpClient,
    namespace: Arc<str>,
    identity: Arc<str>,
    has_key: bool,
}

impl std::fmt::Debug for TemporalCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalCanceller")
            .field("base_url", &self.http.base_url().as_str())
            .field("namespace", &&*self.namespace)
            .field("identity", &&*self.identity)
            .field("api_key", &self.has_key.then_some("***"))
            .field("http_config", self.http.config())
            .finish()
    }
}

impl std::fmt::Display for TemporalCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "temporal HTTP API at {}, namespace {} ({})",
            self.http.base_url(),
            self.namespace,
            if self.has_key { "API key set" } else { "no API key" }
        )
    }
}

impl TemporalCanceller {
    /// A builder with every setting at its default (see [`TemporalCancellerBuilder`]).
    pub fn builder() -> TemporalCancellerBuilder {
        TemporalCancellerBuilder::new()
    }

    /// A canceller configured from the process environment: `TEMPORAL_HTTP_ADDRESS`,
    /// `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY` (see [`TemporalCancellerBuilder::from_env`]).
    pub fn from_env() -> Result<Self, CancelError> {
        TemporalCancellerBuilder::from_env().build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_env_with<F>(lookup: F) -> Result<Self, CancelError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        TemporalCancellerBuilder::from_env_with(lookup).build()
    }

    pub(crate) fn from_parts(http: HttpClient, namespace: String, identity: String, has_key: bool) -> Self {
        TemporalCanceller {
            http,
            namespace: Arc::from(namespace),
            identity: Arc::from(identity),
            has_key,
        }
    }

    /// The HTTP API's base URL.
    pub fn base_url(&self) -> &wfcancel_core::http::Url {
        self.http.base_url()
    }

    /// The namespace of runs that name none, and of filtered cancels.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The identity recorded with each cancel.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether an API key is sent with each request.
    pub fn has_api_key(&self) -> bool {
        self.has_key
    }

    fn ns<'a>(&'a self, run: &'a RunRef) -> &'a str {
        run.scope_id().unwrap_or(&self.namespace)
    }

    /// The describe request [`status`](WorkflowCanceller::status) sends (and a graceful cancel
    /// sends first), without sending it.
    /// A workflow id holding `/` is read through a visibility list query instead.
    pub fn describe_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        if request::needs_visibility(run) {
            return request::list_executions(&self.http, self.ns(run), run);
        }
        request::describe(&self.http, self.ns(run), run)
    }

    /// The cancel (graceful) or terminate (forced) request for `run`, without sending it. A
    /// graceful cancel sends it only after a describe showed the run running (with the run id
    /// read there); the `requestId` here is a fresh one.
    ///
    /// ```
    /// use wfcancel_core::{CancelOptions, RunRef};
    /// use wfcancel_temporal::TemporalCanceller;
    /// let c = TemporalCanceller::builder().identity("me").build()?;
    /// let req = c.cancel_request(&RunRef::new("w1").scope("orders"), &CancelOptions::forced().reason("why"))?;
    /// assert_eq!(
    ///     req.to_string(),
    ///     r#"POST http://localhost:7243/api/v1/namespaces/orders/workflows/w1/terminate {"identity":"me","reason":"why"}"#
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn cancel_request(&self, run: &RunRef, opts: &CancelOptions) -> Result<PlannedRequest, CancelError> {
        let op = match opts.mode {
            CancelMode::Forced => Op::Terminate,
            _ => Op::Cancel,
        };
        if request::needs_visibility(run) {
            request::check(run)?;
            return request::batch_start_execution(
                &self.http,
                self.ns(run),
                &format!("wfcancel-{}", request::uuid_v4()),
                run.run_id(),
                run.sub_id_str(),
                op == Op::Terminate,
                opts.reason.as_deref().unwrap_or(DEFAULT_BATCH_REASON),
                &self.identity,
            );
        }
        request::stop(
            &self.http,
            self.ns(run),
            run,
            None,
            op,
            opts.reason.as_deref(),
            &self.identity,
            &request::uuid_v4(),
        )
    }

    /// The visibility query a bulk by filter, "all" or native query runs its batch operation
    /// over, without sending anything. Validates as `cancel_many` does.
    ///
    /// ```
    /// use wfcancel_core::{RunFilter, Selector};
    /// use wfcancel_temporal::TemporalCanceller;
    /// let c = TemporalCanceller::builder().build()?;
    /// let q = c.batch_query(&Selector::filter(RunFilter::new().workflow(r#"Evil" OR "1"="1"#)))?;
    /// assert_eq!(q, r#"WorkflowType IN ("Evil\" OR \"1\"=\"1") AND ExecutionStatus = "Running""#);
    /// assert_eq!(c.batch_query(&Selector::cancel_all_runs())?, r#"ExecutionStatus = "Running""#);
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn batch_query(&self, selector: &Selector) -> Result<String, CancelError> {
        match selector {
            Selector::Filter(f) => {
                f.validate(BACKEND)?;
                filter_query(f)
            }
            Selector::All(_) => Ok(query::RUNNING.to_owned()),
            Selector::Query(q) if q.dialect() == QUERY_DIALECT => {
                q.validate(BACKEND)?;
                Ok(q.query().to_owned())
            }
            Selector::Query(q) => Err(CancelError::unsupported(
                BACKEND,
                format!(
                    "a query in the {:?} dialect: Temporal takes {QUERY_DIALECT:?} queries",
                    q.dialect()
                ),
            )),
            _ => Err(CancelError::unsupported(
                BACKEND,
                "this selector has no visibility query: cancel the runs by id",
            )),
        }
    }

    /// The batch-operation start a bulk by filter, "all" or native query sends, without sending
    /// it. Its job id is a fresh `wfcancel-<uuid>`: a real bulk chooses its own, once, before
    /// the first attempt.
    ///
    /// ```
    /// use wfcancel_core::{CancelOptions, Selector};
    /// use wfcancel_temporal::TemporalCanceller;
    /// let c = TemporalCanceller::builder().identity("me").build()?;
    /// let req = c.batch_request(&Selector::native_query("temporal", "WorkflowType = \"A\""), &CancelOptions::forced())?;
    /// assert!(req.path().starts_with("/api/v1/namespaces/default/batch-operations/wfcancel-"));
    /// let body = req.body.as_ref().unwrap();
    /// assert_eq!(body["visibilityQuery"], "WorkflowType = \"A\"");
    /// assert_eq!(body["terminationOperation"]["identity"], "me");
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn batch_request(&self, selector: &Selector, opts: &CancelOptions) -> Result<PlannedRequest, CancelError> {
        let query = self.batch_query(selector)?;
        let job_id = format!("wfcancel-{}", request::uuid_v4());
        request::batch_start(
            &self.http,
            &self.namespace,
            &job_id,
            &query,
            opts.mode == CancelMode::Forced,
            opts.reason.as_deref().unwrap_or(DEFAULT_BATCH_REASON),
            &self.identity,
        )
    }

    /// The request of one page of [`list_runs`](WorkflowCanceller::list_runs), without sending
    /// it: the visibility query of [`list_query`] in the configured namespace, `pageSize` the
    /// limit, `nextPageToken` the cursor.
    ///
    /// ```
    /// use wfcancel_core::{ListOptions, RunFilter, RunState};
    /// use wfcancel_temporal::TemporalCanceller;
    /// let c = TemporalCanceller::builder().build()?;
    /// let req = c.list_request(&RunFilter::new().workflow("Slow").state(RunState::Running), &ListOptions::new().limit(10))?;
    /// assert_eq!(
    ///     req.to_string(),
    ///     "GET http://localhost:7243/api/v1/namespaces/default/workflows?query=WorkflowType+IN+%28%22Slow%22%29+AND+ExecutionStatus+IN+%28%22Running%22%29&pageSize=10"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn list_request(&self, filter: &RunFilter, opts: &ListOptions) -> Result<PlannedRequest, CancelError> {
        opts.validate(BACKEND)?;
        if !filter.is_empty() {
            filter.validate(BACKEND)?;
        }
        let query = list_query(filter)?;
        request::list_page(&self.http, &self.namespace, &query, opts.limit, opts.cursor.as_deref())
    }

    /// One page of the workflows a visibility query of your own selects (Temporal's native
    /// query language, e.g. `WorkflowType = "Nightly" AND ExecutionStatus = "Running"`), as
    /// [`list_runs`](WorkflowCanceller::list_runs) answers a filter: what `cancel_many` with
    /// [`Selector::native_query`] would hit. The query is sent as given (it is yours: quote its
    /// values with [`quote`]); a blank one, or one with control characters other than line breaks
    /// and tabs, is refused before any request.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wfcancel_core::CancelError> {
    /// use wfcancel_core::ListOptions;
    /// use wfcancel_temporal::{TemporalCanceller, quote};
    /// let c = TemporalCanceller::from_env()?;
    /// let q = format!("WorkflowType = {} AND ExecutionStatus = \"Running\"", quote("Nightly"));
    /// let page = c.list_runs_matching(&q, &ListOptions::new()).await?;
    /// println!("{} running", page.runs.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_runs_matching(&self, query: &str, opts: &ListOptions) -> Result<RunPage, CancelError> {
        opts.validate(BACKEND)?;
        Selector::native_query(QUERY_DIALECT, query).validate(BACKEND)?;
        let req = request::list_page(&self.http, &self.namespace, query, opts.limit, opts.cursor.as_deref())?;
        let ns: &str = &self.namespace;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::ListRuns, None, ns, None), req).await?.0 {
            Answer::Page(page) => Ok(page),
            other => Err(unexpected(Op::ListRuns, other)),
        }
    }

    /// How many workflows a visibility query of your own selects (see
    /// [`list_runs_matching`](Self::list_runs_matching)).
    pub async fn count_runs_matching(&self, query: &str) -> Result<u64, CancelError> {
        Selector::native_query(QUERY_DIALECT, query).validate(BACKEND)?;
        let req = request::count(&self.http, &self.namespace, query)?;
        let ns: &str = &self.namespace;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::Count, None, ns, None), req).await?.0 {
            Answer::Count(n) => Ok(n),
            other => Err(unexpected(Op::Count, other)),
        }
    }

    /// The request of [`count_runs`](WorkflowCanceller::count_runs), without sending it.
    ///
    /// ```
    /// use wfcancel_core::RunFilter;
    /// use wfcancel_temporal::TemporalCanceller;
    /// let c = TemporalCanceller::builder().build()?;
    /// assert_eq!(
    ///     c.count_request(&RunFilter::new())?.to_string(),
    ///     "GET http://localhost:7243/api/v1/namespaces/default/workflow-count"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn count_request(&self, filter: &RunFilter) -> Result<PlannedRequest, CancelError> {
        if !filter.is_empty() {
            filter.validate(BACKEND)?;
        }
        let query = list_query(filter)?;
        request::count(&self.http, &self.namespace, &query)
    }

    /// Sends `req` within `call` and maps the answer; returns it with the attempts it took.
    async fn send(
        &self,
        call: &Call<'_>,
        ctx: &Context<'_>,
        req: PlannedRequest,
    ) -> Result<(Answer, u32), CancelError> {
        let hint = |resp: &wfcancel_core::http::HttpResponse| mapping::retry_decision(ctx, resp);
        let resp = match &req.body {
            Some(body) => {
                let bytes = Bytes::from(
                    serde_json::to_vec(body)
                        .map_err(|e| CancelError::decode(BACKEND, format!("cannot encode the request: {e}")))?,
                );
                call.send_json_with(ctx.op.name(), req.method, req.url, bytes, &hint)
                    .await?
            }
            None => call.send_with(ctx.op.name(), req.method, req.url, &hint).await?,
        };
        let answer = self.http.scrub_result(mapping::map_answer(ctx, &resp));
        tracing::debug!(
            backend = BACKEND,
            operation = ctx.op.name(),
            status = resp.status,
            attempts = resp.attempts,
            ok = answer.is_ok(),
            "temporal answer"
        );
        answer.map(|a| (a, resp.attempts))
    }

    fn ctx<'a>(&self, op: Op, run: Option<&'a RunRef>, namespace: &'a str, job_id: Option<&'a str>) -> Context<'a> {
        Context {
            op,
            run,
            namespace,
            job_id,
            key_sent: self.has_key,
        }
    }

    /// Describes `run` (`op`: `Describe` before a cancel, `Status` for a status read). A workflow
    /// id holding `/` is read through a visibility list instead (no path can name it).
    async fn describe(&self, call: &Call<'_>, run: &RunRef, op: Op) -> Result<Answer, CancelError> {
        let ns = self.ns(run);
        if request::needs_visibility(run) {
            let list_op = if op == Op::Status { Op::ListStatus } else { Op::List };
            let req = request::list_executions(&self.http, ns, run)?;
            return match self.send(call, &self.ctx(list_op, Some(run), ns, None), req).await?.0 {
                Answer::Listed(Some(d)) => Ok(Answer::Described(d)),
                Answer::Listed(None) if op == Op::Status => Err(CancelError::not_found(
                    BACKEND,
                    NotFoundKind::Run,
                    Some(run.run_id().to_owned()),
                    format!(
                        "visibility lists no execution of workflow id {:?} in namespace {ns:?}",
                        run.run_id()
                    ),
                )),
                Answer::Listed(None) => Ok(Answer::NoSuchRun),
                other => Ok(other),
            };
        }
        let req = request::describe(&self.http, ns, run)?;
        Ok(self.send(call, &self.ctx(op, Some(run), ns, None), req).await?.0)
    }

    /// Cancels or terminates one execution of a workflow id that no path can name, through a
    /// batch operation naming it in its body (job id chosen here, kept across retries), then
    /// reads the batch until it is over (about 250 ms on the dev server), within [`BATCH_WAIT`]:
    /// `Requested` (cancel) or `Cancelled` (terminate) once it completed without failure;
    /// `Requested` when it still runs at the end of the wait (the server accepted it); an error
    /// when it failed.
    async fn stop_by_batch(
        &self,
        call: &Call<'_>,
        run: &RunRef,
        run_id: Option<&str>,
        forced: bool,
        reason: Option<&str>,
    ) -> Result<CancelOutcome, CancelError> {
        let ns = self.ns(run);
        let job_id = format!("wfcancel-{}", request::uuid_v4());
        let req = request::batch_start_execution(
            &self.http,
            ns,
            &job_id,
            run.run_id(),
            run_id,
            forced,
            reason.unwrap_or(DEFAULT_BATCH_REASON),
            &self.identity,
        )?;
        match self
            .send(call, &self.ctx(Op::BatchStart, Some(run), ns, Some(&job_id)), req)
            .await?
        {
            (Answer::BatchStarted { existed: false }, _) => {}
            // A retry of this very start found the job its earlier attempt started.
            (Answer::BatchStarted { existed: true }, attempts) if attempts > 1 => {}
            (Answer::BatchStarted { existed: true }, _) => {
                return Err(CancelError::invalid_request(
                    BACKEND,
                    409,
                    format!("batch job id {job_id} is already in use"),
                ));
            }
            (other, _) => return Err(unexpected(Op::BatchStart, other)),
        }
        let give_up = tokio::time::Instant::now() + BATCH_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            let req = request::batch_describe(&self.http, ns, &job_id)?;
            let state = match self
                .send(call, &self.ctx(Op::BatchDescribe, None, ns, Some(&job_id)), req)
                .await?
                .0
            {
                Answer::Batch(state) => state,
                other => return Err(unexpected(Op::BatchDescribe, other)),
            };
            if state.finished {
                let failed = state.failed.unwrap_or(0);
                if state.state != "completed" || failed > 0 {
                    return Err(CancelError::provider(
                        BACKEND,
                        None,
                        format!(
                            "batch operation {job_id} ({} of workflow {:?}) ended {} with {failed} failure(s)",
                            if forced { "terminate" } else { "cancel" },
                            run.run_id(),
                            state.state
                        ),
                    ));
                }
                return Ok(if forced {
                    CancelOutcome::Cancelled
                } else {
                    CancelOutcome::Requested
                });
            }
            if tokio::time::Instant::now() + pause > give_up {
                return Ok(CancelOutcome::Requested);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    async fn graceful(&self, run: &RunRef, reason: Option<&str>) -> Result<CancelOutcome, CancelError> {
        request::check(run)?;
        let call = self.http.call();
        let described = match self.describe(&call, run, Op::Describe).await? {
            Answer::NoSuchRun => return Ok(no_such_run()),
            Answer::Described(d) => d,
            other => return Err(unexpected(Op::Describe, other)),
        };
        if described.state.is_terminal() {
            return Ok(finished());
        }
        if described.state == RunState::Cancelling {
            return Ok(CancelOutcome::Requested);
        }
        if request::needs_visibility(run) {
            return self
                .stop_by_batch(&call, run, described.run_id.as_deref(), false, reason)
                .await;
        }
        self.cancel_execution(&call, run, described.run_id.as_deref(), reason)
            .await
    }

    /// `POST …/cancel` for one execution (`run_id` pinned when known), with a fresh `requestId`
    /// kept across retries: `Requested`, or `NotActive` (no such run) on a 404.
    async fn cancel_execution(
        &self,
        call: &Call<'_>,
        run: &RunRef,
        run_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<CancelOutcome, CancelError> {
        let ns = self.ns(run);
        let req = request::stop(
            &self.http,
            ns,
            run,
            run_id,
            Op::Cancel,
            reason,
            &self.identity,
            &request::uuid_v4(),
        )?;
        let answer = match self.send(call, &self.ctx(Op::Cancel, Some(run), ns, None), req).await {
            Ok((answer, _)) => answer,
            // No attempt was answered, yet each may have been carried out: the server's own
            // word settles it. A cancel it recorded reads cancel-requested (or closed, cancelled).
            Err(e) if unanswered(&e) => {
                return match self.read_after_unanswered(call, run, run_id).await {
                    Some(RunState::Cancelling | RunState::Cancelled) => Ok(CancelOutcome::Requested),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        match answer {
            Answer::Accepted => Ok(CancelOutcome::Requested),
            Answer::NoSuchRun => Ok(no_such_run()),
            other => Err(unexpected(Op::Cancel, other)),
        }
    }

    /// The state of `run` (the execution `run_id` when known), read after a cancel or
    /// terminate none of whose attempts was answered; `None` when this read fails too.
    async fn read_after_unanswered(&self, call: &Call<'_>, run: &RunRef, run_id: Option<&str>) -> Option<RunState> {
        let pinned;
        let run = match run_id {
            Some(id) if run.sub_id_str().is_none() => {
                pinned = run.clone().sub_id(id);
                &pinned
            }
            _ => run,
        };
        match self.describe(call, run, Op::Describe).await {
            Ok(Answer::Described(d)) => Some(d.state),
            _ => None,
        }
    }

    /// Which of `runs` visibility lists as running, with the run id of the open execution: one
    /// list request per [`RUNNING_READ_CHUNK`] workflow ids of a namespace (a few at a time),
    /// instead of one describe per run. Only runs a path can name are read (ids holding `/`
    /// take their own path); a run given with a run id is kept only when that is the open one.
    /// A list that fails, or that the bulk's deadline or stop cuts short, leaves its runs out:
    /// they are then described one by one, as without this read. Returns the map and the
    /// number of list requests sent.
    async fn read_running(&self, runs: &[RunRef], opts: &BulkOptions) -> (Running, u64) {
        let control = opts.control();
        let mut by_ns: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for run in runs {
            if request::needs_visibility(run) || request::check(run).is_err() {
                continue;
            }
            let ns = self.ns(run);
            if seen.insert((ns, run.run_id())) {
                by_ns.entry(ns).or_default().push(run.run_id());
            }
        }
        let mut chunks: Vec<(&str, &[&str])> = Vec::new();
        for (ns, ids) in &by_ns {
            let mut start = 0;
            let mut bytes = 0;
            for (i, id) in ids.iter().enumerate() {
                // Keep each query short enough for any URL limit: at most RUNNING_READ_CHUNK
                // ids or about 6 KB of ids, whichever comes first.
                if i > start && (i - start >= RUNNING_READ_CHUNK || bytes + id.len() > 6_000) {
                    chunks.push((ns, &ids[start..i]));
                    start = i;
                    bytes = 0;
                }
                bytes += id.len() + 4;
            }
            if start < ids.len() {
                chunks.push((ns, &ids[start..]));
            }
        }
        let mut sent = 0;
        let mut running = Running::new();
        let mut pending = chunks.into_iter();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        loop {
            while in_flight.len() < RUNNING_READ_CONCURRENCY {
                let Some((ns, ids)) = pending.next() else { break };
                in_flight.push(self.read_running_chunk(&control, ns, ids));
            }
            match in_flight.next().await {
                Some(Some(found)) => {
                    sent += 1;
                    if let Some((ns, found)) = found {
                        running.entry(ns).or_default().extend(found);
                    }
                }
                Some(None) => {}
                None => break,
            }
        }
        (running, sent)
    }

    /// One visibility read of [`read_running`](Self::read_running): `None` when nothing was
    /// sent (the bulk was stopped or its deadline passed); `Some(None)` when it failed or the
    /// deadline cut it short; else the namespace and the (workflow id, run id) listed running.
    async fn read_running_chunk(
        &self,
        control: &BulkControl,
        ns: &str,
        ids: &[&str],
    ) -> Option<Option<(String, Vec<(String, String)>)>> {
        if control.interrupted().is_some() {
            return None;
        }
        let req = request::list_running(&self.http, ns, ids).ok()?;
        let call = self.http.call().until(control.deadline());
        match control
            .within_deadline(self.send(&call, &self.ctx(Op::ListRunning, None, ns, None), req))
            .await
        {
            Ok(Ok((Answer::Running(found), _))) => Some(Some((ns.to_owned(), found))),
            _ => Some(None),
        }
    }

    async fn forced(&self, run: &RunRef, reason: Option<&str>) -> Result<CancelOutcome, CancelError> {
        request::check(run)?;
        let call = self.http.call();
        let ns = self.ns(run);
        if request::needs_visibility(run) {
            // A batch cannot tell an unknown or closed workflow (it counts it completed): read first.
            let described = match self.describe(&call, run, Op::Describe).await? {
                Answer::NoSuchRun => return Ok(no_such_run()),
                Answer::Described(d) => d,
                other => return Err(unexpected(Op::Describe, other)),
            };
            if described.state.is_terminal() {
                return Ok(finished());
            }
            return self
                .stop_by_batch(&call, run, described.run_id.as_deref(), true, reason)
                .await;
        }
        let req = request::stop(&self.http, ns, run, None, Op::Terminate, reason, &self.identity, "")?;
        let answer = match self
            .send(&call, &self.ctx(Op::Terminate, Some(run), ns, None), req)
            .await
        {
            Ok(answer) => answer,
            // No attempt was answered, yet each may have terminated it: read the state.
            Err(e) if unanswered(&e) => {
                return match self.read_after_unanswered(&call, run, None).await {
                    Some(RunState::Terminated) => Ok(CancelOutcome::Cancelled),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        match answer {
            (Answer::Accepted, _) => Ok(CancelOutcome::Cancelled),
            (Answer::NoSuchRun, _) => Ok(no_such_run()),
            (Answer::AlreadyClosed, 1) => Ok(finished()),
            // A retried terminate: an earlier attempt may have terminated it. Read the state.
            (Answer::AlreadyClosed, _) => match self.describe(&call, run, Op::Describe).await? {
                Answer::Described(d) if d.state == RunState::Terminated => Ok(CancelOutcome::Cancelled),
                _ => Ok(finished()),
            },
            (other, _) => Err(unexpected(Op::Terminate, other)),
        }
    }

    /// Starts one batch operation over `query` in the canceller's namespace, with a job id chosen
    /// here; with `opts.drain`, waits until it is over. Always a report once the start was sent.
    async fn batch(&self, query: &str, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        let control = opts.control();
        let mut report = BulkReport::new(BACKEND);
        if let Some(why) = control.interrupted() {
            report.interrupted = Some(why);
            return Ok(report);
        }
        let ns: &str = &self.namespace;
        let job_id = format!("wfcancel-{}", request::uuid_v4());
        let forced = opts.cancel.mode == CancelMode::Forced;
        let reason = opts.cancel.reason.as_deref().unwrap_or(DEFAULT_BATCH_REASON);
        let req = request::batch_start(&self.http, ns, &job_id, query, forced, reason, &self.identity)?;
        let call = self.http.call().until(control.deadline());
        report.rounds = 1;
        let ctx = self.ctx(Op::BatchStart, None, ns, Some(&job_id));
        match self.send(&call, &ctx, req).await {
            Ok((Answer::BatchStarted { existed: false }, _)) => {}
            // A retry of this very start found the job its earlier attempt started.
            Ok((Answer::BatchStarted { existed: true }, attempts)) if attempts > 1 => {}
            Ok((Answer::BatchStarted { existed: true }, _)) => {
                report.requests_sent = 1;
                report.record_failure(
                    BulkFailure::new(
                        Vec::new(),
                        CancelError::invalid_request(BACKEND, 409, format!("batch job id {job_id} is already in use")),
                    )
                    .round(1),
                );
                return Ok(report);
            }
            Ok((other, _)) => return Err(unexpected(Op::BatchStart, other)),
            Err(e) => {
                if !matches!(e, CancelError::InvalidInput { .. } | CancelError::Config { .. }) {
                    report.requests_sent = 1;
                }
                report.record_failure(BulkFailure::new(Vec::new(), e).round(1));
                return Ok(report);
            }
        }
        report.requests_sent = 1;
        report.action_id = Some(job_id.clone());
        if !opts.drain {
            report.not_confirmed = Some(format!(
                "batch operation {job_id} runs on the server; read it with bulk_action"
            ));
            return Ok(report);
        }
        let mut pause = Duration::from_millis(100);
        loop {
            if let Some(why) = control.interrupted() {
                report.interrupted = Some(why);
                report.not_confirmed = Some(format!("batch operation {job_id} was still running ({why})"));
                return Ok(report);
            }
            let call = self.http.call().until(control.deadline());
            let req = request::batch_describe(&self.http, ns, &job_id)?;
            let ctx = self.ctx(Op::BatchDescribe, None, ns, Some(&job_id));
            let state = match control.within_deadline(self.send(&call, &ctx, req)).await {
                Ok(Ok((Answer::Batch(state), _))) => state,
                Ok(Ok((other, _))) => return Err(unexpected(Op::BatchDescribe, other)),
                Ok(Err(e)) if control.interrupted().is_some() => {
                    report.interrupted = control.interrupted();
                    report.not_confirmed = Some(format!("batch operation {job_id}: {e}"));
                    return Ok(report);
                }
                Ok(Err(e)) => {
                    report.not_confirmed = Some(format!("batch operation {job_id} could not be read: {e}"));
                    report.record_failure(BulkFailure::new(Vec::new(), e).round(1));
                    return Ok(report);
                }
                Err(why) => {
                    report.interrupted = Some(why);
                    report.not_confirmed = Some(format!("batch operation {job_id} was still running ({why})"));
                    return Ok(report);
                }
            };
            report.requests_sent += 1;
            let done = state.cancelled.unwrap_or(0);
            let failed = state.failed.unwrap_or(0);
            let mut progress = BulkReport::new(BACKEND);
            if forced {
                progress.cancelled = done;
            } else {
                progress.requested = done;
            }
            opts.report_progress(&progress.progress(state.total));
            if state.finished {
                report.cancelled = progress.cancelled;
                report.requested = progress.requested;
                if failed > 0 {
                    report.record_failure(
                        BulkFailure::new(
                            Vec::new(),
                            CancelError::provider(
                                BACKEND,
                                None,
                                format!(
                                    "batch operation {job_id}: {failed} of {} workflows failed",
                                    state.total.unwrap_or(done + failed)
                                ),
                            ),
                        )
                        .round(1),
                    );
                }
                report.drained = state.state == "completed" && failed == 0;
                if !report.drained {
                    report.not_confirmed = Some(format!("batch operation {job_id} ended {}", state.state));
                }
                return Ok(report);
            }
            let stop = async {
                match &opts.stop {
                    Some(s) => s.stopped().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop => {}
                () = control.deadline_reached() => {}
            }
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// The canceller as a graceful bulk by ids uses it: a run that the bulk's visibility read listed
/// as running is cancelled at once (its run id pinned); any other run takes the whole path
/// (describe, then cancel or not).
#[derive(Debug)]
struct ReadFirst<'a> {
    inner: &'a TemporalCanceller,
    running: Running,
}

#[async_trait]
impl WorkflowCanceller for ReadFirst<'_> {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        if !matches!(opts.mode, CancelMode::Forced)
            && let Some(open) = self.running.get(self.inner.ns(run)).and_then(|m| m.get(run.run_id()))
            && run.sub_id_str().is_none_or(|asked| asked == open)
        {
            request::check(run)?;
            let call = self.inner.http.call();
            return self
                .inner
                .cancel_execution(&call, run, Some(open), opts.reason.as_deref())
                .await;
        }
        self.inner.cancel_run(run, opts).await
    }
}

/// Whether `e` says that no attempt of a request was answered although one may have reached the
/// server and been carried out: a connection broke after sending
/// ([`CancelError::may_have_been_delivered`]; not when every attempt failed to connect: nothing
/// was sent, and a run someone else stopped must not read as stopped by this call). Not a
/// timeout either: a server that did not answer in time would make the state read wait as long
/// again, and the call's time is bounded.
fn unanswered(e: &CancelError) -> bool {
    e.may_have_been_delivered()
}

fn unexpected(op: Op, answer: Answer) -> CancelError {
    CancelError::provider(BACKEND, None, format!("internal: {} mapped to {answer:?}", op.name()))
}

#[async_trait]
impl WorkflowCanceller for TemporalCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Graceful (cancel) and forced (terminate), with a reason; status; filters on workflow
    /// type, start time and the running state, "all" and native visibility queries, each as one
    /// batch operation (a background action); a graceful cancel is only "requested".
    fn capabilities(&self) -> Capabilities {
        let mut filter = FilterCapabilities::default();
        filter.workflows = true;
        filter.states = true;
        filter.created_range = true;
        let mut caps = Capabilities::default();
        caps.cancel = true;
        caps.bulk_ids = false;
        caps.filter = filter;
        caps.cancel_all = true;
        caps.status = true;
        caps.cancel_confirms = false;
        caps.needs_owner = false;
        caps.status_needs_session = false;
        caps.background_actions = true;
        caps.graceful = true;
        caps.forced = true;
        caps.reason = true;
        caps.inactive_reasons = true;
        caps.native_query = Some(QUERY_DIALECT);
        caps.list = true;
        caps.count = true;
        let mut list_filter = FilterCapabilities::default();
        list_filter.workflows = true;
        list_filter.states = true;
        list_filter.created_range = true;
        caps.list_filter = list_filter;
        caps
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        match opts.mode {
            CancelMode::Forced => self.forced(run, opts.reason.as_deref()).await,
            _ => self.graceful(run, opts.reason.as_deref()).await,
        }
    }

    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) => {
                Selector::validate_ids(BACKEND, runs)?;
                for run in runs {
                    request::check(run)?;
                }
                if matches!(opts.cancel.mode, CancelMode::Forced) || runs.len() < 2 {
                    return fan_out(self, runs, opts).await;
                }
                opts.validate(BACKEND)?;
                let (running, lists) = self.read_running(runs, opts).await;
                let mut report = fan_out(&ReadFirst { inner: self, running }, runs, opts).await?;
                report.requests_sent += lists;
                Ok(report)
            }
            other => {
                let query = self.batch_query(other)?;
                self.batch(&query, opts).await
            }
        }
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        request::check(run)?;
        let call = self.http.call();
        match self.describe(&call, run, Op::Status).await? {
            Answer::Described(d) => Ok(d.state),
            other => Err(unexpected(Op::Status, other)),
        }
    }

    /// `GET …/namespaces/{ns}/workflows?query=…&pageSize=…&nextPageToken=…` over
    /// [`list_query`]; each run addressed by workflow id and run id, its state the listed status.
    /// Visibility does not show a cancel request: a workflow asked to cancel and still running
    /// lists as running (its [`status`](WorkflowCanceller::status) reads `Cancelling`).
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let req = self.list_request(filter, opts)?;
        let ns: &str = &self.namespace;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::ListRuns, None, ns, None), req).await?.0 {
            Answer::Page(page) => Ok(page),
            other => Err(unexpected(Op::ListRuns, other)),
        }
    }

    /// `GET …/namespaces/{ns}/workflow-count?query=…` over [`list_query`].
    async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError> {
        let req = self.count_request(filter)?;
        let ns: &str = &self.namespace;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::Count, None, ns, None), req).await?.0 {
            Answer::Count(n) => Ok(n),
            other => Err(unexpected(Op::Count, other)),
        }
    }

    async fn read_bulk_action(&self, id: &str) -> Result<BulkActionState, CancelError> {
        let ns: &str = &self.namespace;
        let req = request::batch_describe(&self.http, ns, id)?;
        let call = self.http.call();
        match self
            .send(&call, &self.ctx(Op::BatchDescribe, None, ns, Some(id)), req)
            .await?
            .0
        {
            Answer::Batch(state) => Ok(state),
            other => Err(unexpected(Op::BatchDescribe, other)),
        }
    }
}
