//! [wfcancel](https://docs.rs/wfcancel) backend for [Restate](https://restate.dev): cancel
//! (graceful) or kill (forced) invocations, read their state, and cancel every invocation of a
//! service, through Restate's admin API.
//!
//! ```no_run
//! use std::time::Duration;
//! use wfcancel_core::{BulkOptions, CancelOptions, RunFilter, RunRef, Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt};
//! use wfcancel_restate::RestateCanceller;
//!
//! # async fn demo() -> Result<(), wfcancel_core::CancelError> {
//! // RESTATE_ADMIN_URL (default http://localhost:9070), RESTATE_AUTH_TOKEN (optional).
//! let restate = RestateCanceller::from_env()?;
//! let run = RunRef::new("inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O");
//! let outcome = restate.cancel(&run).await?; // Requested: its compensations run, then it ends
//! let done = restate.cancel_and_wait(&run, WaitOptions::with_timeout(Duration::from_secs(30))).await?;
//! let killed = restate.cancel_with(&RunRef::new("inv_13T0Wqr2hMqr3A1HtJrHacNkCHambB2yWG"), &CancelOptions::forced()).await?;
//! // Every invocation of a service that is not completed, until none is left.
//! let report = restate
//!     .cancel_many(&Selector::filter(RunFilter::new().workflow("Checkout")), &BulkOptions::new().drain(true))
//!     .await?;
//! # let _ = (outcome, done, killed, report); Ok(()) }
//! ```
//!
//! ## Addressing
//! A run is an invocation id ([`RunRef::new`]`("inv_…")`): `inv_` followed by letters and
//! digits. Anything else (another shape, an owner, a session, a scope, a second id) is
//! [`CancelError::InvalidInput`] before any request; the server judges the rest of the id (its
//! `400` is `InvalidInput` naming `run_id` too).
//!
//! ## Outcomes: what the server's answers are made to say
//! - graceful: `PATCH /invocations/{id}/cancel`; forced: `PATCH /invocations/{id}/kill` (never the
//!   deprecated `DELETE /invocations/{id}?mode=…`, which answers `202` even for a completed one);
//! - `202` → `Requested` (a running or suspended invocation: its compensations run, and it
//!   completes with failure `[409] Cancelled` about a second later);
//! - `200` → `Cancelled` (a kill, or a scheduled invocation removed: it is gone);
//! - `409 … already completed` → `NotActive(Finished)`; `404 … does not exist` →
//!   `NotActive(NoSuchRun)`. When that `409` answers a *retried* request (an earlier attempt may
//!   have reached the server), the state is read: cancelled or killed → `Cancelled`. (A retried
//!   cancel of a scheduled invocation that an earlier attempt removed answers `404`: there is no
//!   record left to tell.) When no attempt was answered at all (each connection broke after the
//!   request left), the state is read too: cancelled or killed → `Cancelled`; otherwise the
//!   transport error stands. (Attempts that timed out are not followed by a read: the timeout
//!   stands.)
//!
//! ## Status
//! `POST /query` over `sys_invocation`: `pending`, `scheduled` and `ready` are
//! [`RunState::Pending`]; `running` and `backing-off` (retrying after an error)
//! [`RunState::Running`]; `suspended` (waiting on a timer, a call or an awakeable) and `paused`
//! [`RunState::Paused`]; `completed` is [`RunState::Completed`] (`success`),
//! [`RunState::Cancelled`] (failure `[409] Cancelled`), [`RunState::Terminated`] (failure
//! `[409] killed`) or [`RunState::Failed`] (any other failure). An id the server does not know is
//! [`CancelError::NotFound`]. The id is validated as an invocation id and written as a quoted SQL
//! literal ([`quote`]).
//!
//! ## Bulk
//! - By ids: each invocation cancelled as above, [`BULK_CONCURRENCY`] (64) at a time unless
//!   [`BulkOptions::concurrency`] is set, every outcome exact.
//! - By filter ([`RunFilter::workflow`](wfcancel_core::RunFilter::workflow) = the target service,
//!   custom fields `handler` and `key`, `from`/`to` on `created_at`, states) or "all": a SQL
//!   query over `sys_invocation` ([`filter_conditions`], every value quoted with [`quote`]) for
//!   the ids of matching invocations that are not completed, read **keyset-paged** (`id > last
//!   ORDER BY id LIMIT page_size`, [`BULK_PAGE_SIZE`] (1000) unless
//!   [`BulkOptions::page_size`] is set) and cancelled `concurrency` ([`BULK_CONCURRENCY`]) at a time; the next page is read
//!   while the current one's cancels are in flight, and the cancels flow on across pages without
//!   a pause: memory holds at most two pages, whatever the number of matches. One page is one
//!   round.
//!   Without `drain`, one round. With `drain`, pages until the end, then passes from the start
//!   again until a query finds none (`drained`): invocations whose cancel was requested and that
//!   have not completed yet are neither cancelled nor counted twice (the ids still stopping are
//!   remembered until a pass no longer finds them), and the drain waits for them.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod mapping;
mod request;
mod sql;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use wfcancel_core::http::{Bytes, Call, HttpClient, Url};
use wfcancel_core::{
    BulkFailure, BulkOptions, BulkReport, CancelError, CancelMode, CancelOptions, CancelOutcome, Capabilities,
    FilterCapabilities, Inactive, Interruption, ListOptions, RunFilter, RunPage, RunRef, RunState, Selector,
    WorkflowCanceller, async_trait, fan_out,
};

pub use config::{
    DEFAULT_ADMIN_PORT, DEFAULT_ADMIN_URL, ENV_ADMIN_URL, ENV_AUTH_TOKEN, ENV_HOST, ENV_HOST_SCHEME,
    RestateCancellerBuilder,
};
pub use request::{INVOCATION_ID_PREFIX, PlannedRequest};
pub use sql::{FIELD_HANDLER, FIELD_KEY, filter_conditions, list_conditions, quote, timestamp};

use mapping::{Answer, Context};
use request::Op;

/// The backend name, as reported by [`WorkflowCanceller::backend`] and in every error.
pub const BACKEND: &str = "restate";

/// Ids read per page of a filtered bulk when [`BulkOptions::page_size`] is left at its default
/// ([`BulkOptions::page_size_or`]): an id is about 40 bytes, and each page is a scan of
/// `sys_invocation`, so fewer, larger pages are faster (the official CLI reads up to 500 or its
/// `--limit` in one query). Measured in `wfcancel-bench` (item 9).
pub const BULK_PAGE_SIZE: usize = 1000;

/// Cancels in flight at once when [`BulkOptions::concurrency`] is left at its default
/// ([`BulkOptions::concurrency_or`]): a cancel is a small `PATCH` the server answers without
/// waiting for the invocation, and the server was measured faster with 64 in flight than 32.
pub const BULK_CONCURRENCY: usize = 64;

fn finished() -> CancelOutcome {
    CancelOutcome::NotActive(Inactive::Finished)
}

fn no_such_run() -> CancelOutcome {
    CancelOutcome::NotActive(Inactive::NoSuchRun)
}

/// Cancels and kills Restate invocations through Restate's admin API.
///
/// Build it with [`RestateCanceller::builder`] or [`RestateCanceller::from_env`]; it holds one
/// pooled HTTP client and is cheap to clone. Its `Debug` and `Display` never show the token.
#[derive(Clone)]
pub struct RestateCanceller {
    http: HttpClient,
    has_token: bool,
}

impl std::fmt::Debug for RestateCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestateCanceller")
            .field("admin_url", &self.http.base_url().as_str())
            .field("auth_token", &self.has_token.then_some("***"))
            .field("http_config", self.http.config())
            .finish()
    }
}

impl std::fmt::Display for RestateCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "restate admin API at {} ({})",
            self.http.base_url(),
            if self.has_token { "token set" } else { "no token" }
        )
    }
}

impl RestateCanceller {
    /// A builder with every setting at its default (see [`RestateCancellerBuilder`]).
    pub fn builder() -> RestateCancellerBuilder {
        RestateCancellerBuilder::new()
    }

    /// A canceller configured from the process environment: `RESTATE_ADMIN_URL` (or
    /// `RESTATE_HOST_SCHEME` and `RESTATE_HOST`), `RESTATE_AUTH_TOKEN` (see
    /// [`RestateCancellerBuilder::from_env`]).
    pub fn from_env() -> Result<Self, CancelError> {
        RestateCancellerBuilder::from_env().build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_env_with<F>(lookup: F) -> Result<Self, CancelError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        RestateCancellerBuilder::from_env_with(lookup).build()
    }

    pub(crate) fn from_parts(http: HttpClient, has_token: bool) -> Self {
        RestateCanceller { http, has_token }
    }

    /// The admin API's base URL.
    pub fn admin_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The request a cancel with `opts` sends, without sending it. Validates as `cancel_with`
    /// does.
    pub fn cancel_request(&self, run: &RunRef, opts: &CancelOptions) -> Result<PlannedRequest, CancelError> {
        request::stop(&self.http, run, stop_op(opts.mode))
    }

    /// The request a status read sends, without sending it: a query whose id is a quoted
    /// literal.
    ///
    /// ```
    /// use wfcancel_core::RunRef;
    /// use wfcancel_restate::RestateCanceller;
    /// let c = RestateCanceller::builder().build()?;
    /// let req = c.status_request(&RunRef::new("inv_1a2B"))?;
    /// assert_eq!(
    ///     req.to_string(),
    ///     r#"POST http://localhost:9070/query {"query":"SELECT id, status, completion_result, completion_failure FROM sys_invocation WHERE id = 'inv_1a2B'"}"#
    /// );
    /// assert!(c.status_request(&RunRef::new("inv_1' OR '1'='1")).is_err());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn status_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        request::check(run)?;
        request::query(&self.http, &sql::status_query(run.run_id()))
    }

    /// The `WHERE` conditions a bulk by filter or "all" selects its invocations with, without
    /// sending anything. Validates as `cancel_many` does.
    ///
    /// ```
    /// use wfcancel_core::{RunFilter, Selector};
    /// use wfcancel_restate::RestateCanceller;
    /// let c = RestateCanceller::builder().build()?;
    /// let w = c.bulk_conditions(&Selector::filter(RunFilter::new().workflow("Evil' OR '1'='1")))?;
    /// assert_eq!(w, "target_service_name IN ('Evil'' OR ''1''=''1') AND status != 'completed'");
    /// assert_eq!(c.bulk_conditions(&Selector::cancel_all_runs())?, "status != 'completed'");
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn bulk_conditions(&self, selector: &Selector) -> Result<String, CancelError> {
        match selector {
            Selector::Filter(f) => {
                f.validate(BACKEND)?;
                filter_conditions(f)
            }
            Selector::All(_) => Ok(sql::ACTIVE.to_owned()),
            _ => Err(CancelError::unsupported(
                BACKEND,
                "this selector has no SQL conditions: cancel the runs by id",
            )),
        }
    }

    /// The query of one page of [`list_runs`](WorkflowCanceller::list_runs), without sending it:
    /// [`list_conditions`], keyset-paged by id after the cursor (the last id of the page before),
    /// one row more than the limit to know whether another page follows.
    ///
    /// ```
    /// use wfcancel_core::{ListOptions, RunFilter, RunState};
    /// use wfcancel_restate::RestateCanceller;
    /// let c = RestateCanceller::builder().build()?;
    /// let req = c.list_request(&RunFilter::new().workflow("Checkout").state(RunState::Running), &ListOptions::new().limit(10))?;
    /// assert_eq!(
    ///     req.body.as_ref().unwrap()["query"],
    ///     "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM sys_invocation \
    ///      WHERE target_service_name IN ('Checkout') AND (status IN ('running', 'backing-off')) ORDER BY id LIMIT 11"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn list_request(&self, filter: &RunFilter, opts: &ListOptions) -> Result<PlannedRequest, CancelError> {
        opts.validate(BACKEND)?;
        if let Some(cursor) = &opts.cursor {
            request::check_invocation_id(cursor).map_err(|_| {
                CancelError::invalid_input(BACKEND, "cursor", "not a cursor this backend gave (an invocation id)")
            })?;
        }
        let conditions = self.list_conditions(filter)?;
        request::query(
            &self.http,
            &sql::list_query(&conditions, opts.cursor.as_deref(), opts.limit),
        )
    }

    /// The query of [`count_runs`](WorkflowCanceller::count_runs), without sending it.
    ///
    /// ```
    /// use wfcancel_core::RunFilter;
    /// use wfcancel_restate::RestateCanceller;
    /// let c = RestateCanceller::builder().build()?;
    /// let req = c.count_request(&RunFilter::new().workflow("Checkout"))?;
    /// assert_eq!(
    ///     req.body.as_ref().unwrap()["query"],
    ///     "SELECT count(*) AS count FROM sys_invocation WHERE target_service_name IN ('Checkout')"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn count_request(&self, filter: &RunFilter) -> Result<PlannedRequest, CancelError> {
        let conditions = self.list_conditions(filter)?;
        request::query(&self.http, &sql::count_query(&conditions))
    }

    fn list_conditions(&self, filter: &RunFilter) -> Result<String, CancelError> {
        if !filter.is_empty() {
            filter.validate(BACKEND)?;
        }
        list_conditions(filter)
    }

    /// The first page query of a bulk by filter or "all" (see [`bulk_conditions`](Self::bulk_conditions)).
    ///
    /// ```
    /// use wfcancel_core::{RunFilter, Selector};
    /// use wfcancel_restate::RestateCanceller;
    /// let c = RestateCanceller::builder().build()?;
    /// assert_eq!(
    ///     c.bulk_query(&Selector::filter(RunFilter::new().workflow("Checkout")), 100)?,
    ///     "SELECT id FROM sys_invocation WHERE target_service_name IN ('Checkout') AND status != 'completed' ORDER BY id LIMIT 100"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn bulk_query(&self, selector: &Selector, page_size: usize) -> Result<String, CancelError> {
        Ok(sql::page_query(&self.bulk_conditions(selector)?, None, page_size))
    }

    /// Checks a run address as every call does, without sending anything: an invocation id
    /// (`inv_` then letters and digits) and nothing else ([`CancelError::InvalidInput`]).
    ///
    /// ```
    /// use wfcancel_core::RunRef;
    /// use wfcancel_restate::RestateCanceller;
    /// assert!(RestateCanceller::check_run(&RunRef::new("inv_1a2B")).is_ok());
    /// assert!(RestateCanceller::check_run(&RunRef::new("inv_1' OR '1'='1")).is_err());
    /// assert!(RestateCanceller::check_run(&RunRef::new("wfr_1")).is_err());
    /// ```
    pub fn check_run(run: &RunRef) -> Result<(), CancelError> {
        request::check(run)
    }

    /// The first page query of a bulk by filter or "all" as the request it is sent in
    /// (`POST /query`), without sending it. Validates as `cancel_many` does.
    pub fn bulk_request(&self, selector: &Selector, page_size: usize) -> Result<PlannedRequest, CancelError> {
        request::query(&self.http, &self.bulk_query(selector, page_size)?)
    }

    fn ctx<'a>(&self, op: Op, run: Option<&'a RunRef>) -> Context<'a> {
        Context {
            op,
            run,
            token_sent: self.has_token,
        }
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
                // A query only reads: safe to repeat.
                call.send_json_with(ctx.op.name(), req.method, req.url, bytes, &hint)
                    .await?
            }
            // A cancel or kill sent again answers for itself (409 once it took: see `stop`).
            None => call.send_with(ctx.op.name(), req.method, req.url, &hint).await?,
        };
        let answer = self.http.scrub_result(mapping::map_answer(ctx, &resp));
        tracing::debug!(
            backend = BACKEND,
            operation = ctx.op.name(),
            status = resp.status,
            attempts = resp.attempts,
            ok = answer.is_ok(),
            "restate answer"
        );
        answer.map(|a| (a, resp.attempts))
    }

    async fn state(&self, call: &Call<'_>, run: &RunRef) -> Result<RunState, CancelError> {
        let req = request::query(&self.http, &sql::status_query(run.run_id()))?;
        match self.send(call, &self.ctx(Op::Status, Some(run)), req).await?.0 {
            Answer::State(s) => Ok(s),
            other => Err(unexpected(Op::Status, other)),
        }
    }

    async fn stop(&self, run: &RunRef, mode: CancelMode) -> Result<CancelOutcome, CancelError> {
        let op = stop_op(mode);
        let req = request::stop(&self.http, run, op)?;
        let call = self.http.call();
        let answer = match self.send(&call, &self.ctx(op, Some(run)), req).await {
            Ok(answer) => answer,
            // No attempt was answered (each connection broke), yet each may have been carried
            // out: read the state. An invocation still stopping cannot be told from one never
            // asked: the error stands. Not after timeouts: a server that does not answer would
            // make the read wait as long again.
            // (`may_have_been_delivered`: not when no attempt got past connecting.)
            Err(e) if e.may_have_been_delivered() => {
                return match self.state(&call, run).await {
                    Ok(RunState::Cancelled | RunState::Terminated) => Ok(CancelOutcome::Cancelled),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        match answer {
            (Answer::Accepted, _) => Ok(CancelOutcome::Requested),
            (Answer::Done, _) => Ok(CancelOutcome::Cancelled),
            (Answer::NoSuchRun, _) => Ok(no_such_run()),
            (Answer::AlreadyCompleted, 1) => Ok(finished()),
            // A retried request: an earlier attempt may have stopped it. Read the state.
            (Answer::AlreadyCompleted, _) => match self.state(&call, run).await {
                Ok(RunState::Cancelled | RunState::Terminated) => Ok(CancelOutcome::Cancelled),
                _ => Ok(finished()),
            },
            (other, _) => Err(unexpected(op, other)),
        }
    }

    /// A bulk over the invocations matching `conditions`, keyset-paged (see the crate docs).
    ///
    /// Within a pass the next page is read while the current one's cancels are in flight, and
    /// the cancels run `concurrency` at a time across page boundaries (no pause at the end of a
    /// page): memory holds at most two pages of ids.
    async fn filtered(&self, conditions: &str, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        let control = opts.control();
        let concurrency = opts.concurrency_or(BULK_CONCURRENCY).max(1);
        let page_size = opts.page_size_or(BULK_PAGE_SIZE).max(1);
        let mut report = BulkReport::new(BACKEND);
        let mut failed_runs: u64 = 0;
        // Ids whose cancel was requested in an earlier pass and that had not completed, and
        // those seen or requested in this pass; ids whose cancel failed (reported once).
        let mut stopping_before: HashSet<String> = HashSet::new();
        let mut stopping: HashSet<String> = HashSet::new();
        let mut failed_ids: HashSet<String> = HashSet::new();
        let mut pause = Duration::from_millis(100);
        // Done (cancelled + requested) at the last progress report.
        let mut reported: u64 = 0;
        // Fused: it is never polled again once it has fired.
        let deadline = control.deadline_reached().fuse();
        tokio::pin!(deadline);
        loop {
            // One pass: pages from the start until one that is not full (without `drain`, one page).
            let (mut pass_rows, mut pass_new, mut pass_stopping) = (0u64, 0u64, 0u64);
            let mut cursor: Option<String> = None;
            let mut queue: VecDeque<RunRef> = VecDeque::new();
            let mut flying: Vec<RunRef> = Vec::with_capacity(concurrency);
            let mut in_flight = FuturesUnordered::new();
            let mut page: Option<BoxFuture<'_, Result<(Answer, u32), CancelError>>> = None;
            // Whether another page may follow; whether to go on starting cancels and reading
            // pages; whether the bulk ends with this pass whatever it finds.
            let (mut more, mut go_on, mut last_pass) = (true, true, false);
            let mut round: u32 = 0;
            loop {
                if go_on && more && page.is_none() && queue.len() < page_size {
                    if let Some(why) = control.interrupted() {
                        report.interrupted = Some(why);
                        go_on = false;
                    } else if report.rounds >= opts.max_rounds {
                        report.not_confirmed = Some(format!(
                            "stopped after {} rounds (max_rounds); matching invocations may be left",
                            report.rounds
                        ));
                        more = false;
                        last_pass = true;
                    } else {
                        report.rounds += 1;
                        round = report.rounds;
                        let req =
                            request::query(&self.http, &sql::page_query(conditions, cursor.as_deref(), page_size))?;
                        let until = control.deadline();
                        page = Some(Box::pin(async move {
                            let call = self.http.call().until(until);
                            self.send(&call, &self.ctx(Op::Page, None), req).await
                        }));
                    }
                }
                while go_on && in_flight.len() < concurrency {
                    let Some(run) = queue.pop_front() else { break };
                    if let Some(why) = control.interrupted() {
                        report.interrupted = Some(why);
                        go_on = false;
                        queue.push_front(run);
                        break;
                    }
                    flying.push(run.clone());
                    in_flight.push(async move {
                        let result = self.cancel_run(&run, &opts.cancel).await;
                        (run, result)
                    });
                }
                if in_flight.is_empty() && (page.is_none() || !go_on) {
                    break;
                }
                tokio::select! {
                    biased;
                    Some((run, result)) = in_flight.next() => {
                        if let Some(at) = flying.iter().position(|r| r == &run) {
                            flying.swap_remove(at);
                        }
                        match result {
                            Ok(outcome) => {
                                report.requests_sent += 1;
                                if outcome == CancelOutcome::Requested {
                                    stopping.insert(run.run_id().to_owned());
                                }
                                report.record(run, outcome, false);
                            }
                            Err(error) => {
                                if !matches!(error, CancelError::InvalidInput { .. } | CancelError::Config { .. }) {
                                    report.requests_sent += 1;
                                }
                                failed_runs += 1;
                                failed_ids.insert(run.run_id().to_owned());
                                if error.fails_every_call() {
                                    go_on = false;
                                }
                                report.record_failure(BulkFailure::new(vec![run], error).round(round));
                            }
                        }
                    }
                    answer = async { page.as_mut().expect("guarded by the branch's condition").await }, if page.is_some() && go_on => {
                        page = None;
                        report.requests_sent += 1;
                        match answer {
                            Ok((Answer::Ids(ids), _)) => {
                                more = opts.drain && ids.len() >= page_size;
                                cursor = ids.last().cloned().or(cursor);
                                pass_rows += ids.len() as u64;
                                for id in ids {
                                    if stopping_before.remove(&id) || stopping.contains(&id) {
                                        pass_stopping += 1;
                                        stopping.insert(id);
                                    } else if !failed_ids.contains(&id) {
                                        pass_new += 1;
                                        queue.push_back(RunRef::new(id));
                                    }
                                }
                                let done = report.cancelled + report.requested;
                                let mut progress = report.progress_with(None, failed_runs);
                                progress.last_round_cancelled = done - reported;
                                reported = done;
                                opts.report_progress(&progress);
                            }
                            Ok((other, _)) => return Err(unexpected(Op::Page, other)),
                            Err(e) => {
                                report.not_confirmed = Some(format!("round {round}: the query failed: {e}"));
                                report.record_failure(BulkFailure::new(Vec::new(), e).round(round));
                                more = false;
                                last_pass = true;
                            }
                        }
                    }
                    () = &mut deadline => {
                        report.interrupted = Some(Interruption::Deadline);
                        if page.take().is_some() {
                            report.not_confirmed = Some(format!("round {round}: the query was abandoned (deadline)"));
                        }
                        go_on = false;
                        // The cancels in flight are abandoned: they may have reached the server.
                        drop(std::mem::take(&mut in_flight));
                        let abandoned = std::mem::take(&mut flying);
                        failed_runs += abandoned.len() as u64;
                        for run in abandoned {
                            report.record_failure(BulkFailure::new(
                                vec![run],
                                CancelError::timeout(
                                    BACKEND,
                                    "abandoned at the bulk's deadline without an answer; the cancel may have reached the provider".to_owned(),
                                ),
                            ).round(round));
                        }
                        break;
                    }
                }
            }
            let done = report.cancelled + report.requested;
            if done != reported {
                let mut progress = report.progress_with(None, failed_runs);
                progress.last_round_cancelled = done - reported;
                reported = done;
                opts.report_progress(&progress);
            }
            report.not_attempted.extend(queue);
            if !go_on || last_pass || !report.not_attempted.is_empty() || report.aborted.is_some() {
                break;
            }
            if !opts.drain {
                break;
            }
            // The end of a pass over every match.
            if pass_rows == 0 {
                report.drained = true;
                break;
            }
            if pass_new == 0 && pass_stopping == 0 {
                report.not_confirmed = Some(format!(
                    "{pass_rows} matching invocations are left whose cancel failed (see failed)"
                ));
                break;
            }
            let waiting = pass_new == 0;
            stopping_before = std::mem::take(&mut stopping);
            if waiting {
                // Only invocations still stopping were found: give them time to complete.
                let stop = async {
                    match &opts.stop {
                        Some(s) => s.stopped().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop => {}
                    () = &mut deadline => {}
                }
                pause = (pause * 2).min(Duration::from_secs(1));
            } else {
                pause = Duration::from_millis(100);
            }
        }
        if report.interrupted.is_some() && report.not_confirmed.is_none() && opts.drain {
            report.not_confirmed = Some("the drain was interrupted before a query found none".to_owned());
        }
        Ok(report)
    }
}

fn stop_op(mode: CancelMode) -> Op {
    match mode {
        CancelMode::Forced => Op::Kill,
        _ => Op::Cancel,
    }
}

fn unexpected(op: Op, answer: Answer) -> CancelError {
    CancelError::provider(BACKEND, None, format!("internal: {} mapped to {answer:?}", op.name()))
}

#[async_trait]
impl WorkflowCanceller for RestateCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Graceful (cancel) and forced (kill), no reason (Restate records none); status; filters
    /// on the service, handler and key (custom fields), creation time and states, and "all",
    /// each as SQL then one cancel per invocation; a graceful cancel of a running invocation is
    /// only "requested"; "finished" told from "no such run".
    fn capabilities(&self) -> Capabilities {
        let mut filter = FilterCapabilities::default();
        filter.workflows = true;
        filter.states = true;
        filter.created_range = true;
        filter.custom = vec![FIELD_HANDLER.to_owned(), FIELD_KEY.to_owned()];
        let mut caps = Capabilities::default();
        caps.cancel = true;
        caps.bulk_ids = false;
        caps.filter = filter;
        caps.cancel_all = true;
        caps.status = true;
        caps.cancel_confirms = false;
        caps.needs_owner = false;
        caps.status_needs_session = false;
        caps.background_actions = false;
        caps.graceful = true;
        caps.forced = true;
        caps.reason = false;
        caps.inactive_reasons = true;
        caps.native_query = None;
        caps.list = true;
        caps.count = true;
        let mut list_filter = FilterCapabilities::default();
        list_filter.workflows = true;
        list_filter.states = true;
        list_filter.created_range = true;
        list_filter.custom = vec![FIELD_HANDLER.to_owned(), FIELD_KEY.to_owned()];
        caps.list_filter = list_filter;
        caps
    }

    /// `POST /query` with [`list_request`](RestateCanceller::list_request)'s SQL: each invocation
    /// with its service, state (read from its row) and creation time; the next cursor is the
    /// page's last id when more rows follow.
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let req = self.list_request(filter, opts)?;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::List, None), req).await?.0 {
            Answer::Listed(mut runs) => {
                let more = runs.len() > opts.limit;
                runs.truncate(opts.limit);
                let next = if more {
                    runs.last().map(|r| r.run.run_id().to_owned())
                } else {
                    None
                };
                Ok(RunPage::new(runs, next))
            }
            other => Err(unexpected(Op::List, other)),
        }
    }

    /// `POST /query` with `SELECT count(*)` over [`list_conditions`].
    async fn read_count(&self, filter: &RunFilter) -> Result<u64, CancelError> {
        let req = self.count_request(filter)?;
        let call = self.http.call();
        match self.send(&call, &self.ctx(Op::Count, None), req).await?.0 {
            Answer::Count(n) => Ok(n),
            other => Err(unexpected(Op::Count, other)),
        }
    }

    async fn cancel_run(&self, run: &RunRef, opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        self.stop(run, opts.mode).await
    }

    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) => {
                Selector::validate_ids(BACKEND, runs)?;
                for run in runs {
                    request::check(run)?;
                }
                let opts = opts.clone().concurrency(opts.concurrency_or(BULK_CONCURRENCY));
                fan_out(self, runs, &opts).await
            }
            other => {
                let conditions = self.bulk_conditions(other)?;
                self.filtered(&conditions, opts).await
            }
        }
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        request::check(run)?;
        let call = self.http.call();
        self.state(&call, run).await
    }
}
