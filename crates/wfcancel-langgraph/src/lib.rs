//! [wfcancel](https://docs.rs/wfcancel) backend for [LangGraph Platform](https://langchain-ai.github.io/langgraph/concepts/langgraph_platform/)
//! (the Agent Server API, also what `langgraph dev` serves): interrupt runs one by one, by thread,
//! by state or all at once, and read their state.
//!
//! ```no_run
//! use std::time::Duration;
//! use wfcancel_core::{RunRef, WaitOptions, WorkflowCanceller, WorkflowCancellerExt};
//! use wfcancel_langgraph::LangGraphCanceller;
//!
//! # async fn demo() -> Result<(), wfcancel_core::CancelError> {
//! // LANGGRAPH_API_URL (default http://127.0.0.1:2024) and the API key from LANGGRAPH_API_KEY,
//! // LANGSMITH_API_KEY or LANGCHAIN_API_KEY (optional), sent as `x-api-key`.
//! let lg = LangGraphCanceller::from_env()?;
//! // A run is a run id in a thread (both UUIDs).
//! let run = RunRef::new("1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b").thread("1ef4a9b0-0000-6000-8000-000000000001");
//! let outcome = lg.cancel(&run).await?; // Requested: the run is interrupted
//! let done = lg.cancel_and_wait(&run, WaitOptions::with_timeout(Duration::from_secs(30))).await?;
//! # let _ = (outcome, done); Ok(()) }
//! ```
//!
//! ## Addressing
//! A run is its run id ([`RunRef::new`]) in its thread ([`RunRef::thread`]): both must be UUIDs
//! (8-4-4-4-12 or 32 hex digits). Anything else — no thread, another owner kind, a scope, a
//! session, a second id, an id that is visibly not a UUID — is [`CancelError::InvalidInput`]
//! before any request (the server would answer 422).
//!
//! ## Modes
//! Graceful only: `action=interrupt` (the run stops; its checkpoints stay). There is no forced
//! mode: `action=rollback` deletes the run and its checkpoints — "cancel and erase", not "stop
//! now" — so it is never sent, and [`CancelOptions::forced`](wfcancel_core::CancelOptions::forced)
//! is `Unsupported` before any request. A reason is not sent either (the server records its own).
//!
//! **The server's limit:** an interrupt stops an async node at its next `await`; a synchronous
//! (blocking) node is not stopped: the run reads `interrupted` at once, while the node's code runs
//! to its end. Write slow nodes as `async def`.
//!
//! ## Outcomes: what the server's answers are made to say
//! - `POST /threads/{t}/runs/{r}/cancel?wait=false&action=interrupt` → **202**: `Requested`.
//! - **404**: nothing to cancel. The run is then read (`GET /threads/{t}/runs/{r}`): a 404 read
//!   (no such run or no such thread) → `NotActive(NoSuchRun)`; a finished state →
//!   `NotActive(Finished)`. When the read itself fails, the 404's detail text decides
//!   (`No matching runs to cancel…` → finished, `No runs found to cancel.` → no such run; any
//!   other text → `Unspecified`). A 404 that answers a *retried* cancel (an earlier attempt,
//!   whose answer was lost, may have interrupted the run) with a read `interrupted` →
//!   `Cancelled`. A read that still shows the run pending or running (a cancel
//!   that raced the run's start) sends the cancel once more; if the server still answers 404,
//!   the answer is a `Provider` error, never a `NotActive` the state contradicts.
//! - **422** cannot happen for ids this crate sends (checked before); any 422 is
//!   `InvalidRequest` with the server's detail.
//!
//! ## Bulk
//! - **By ids**: the runs are grouped by thread (at most [`MAX_RUNS_PER_REQUEST`] per group).
//!   Each run's state is read first; then **one** `POST /runs/cancel {thread_id, run_ids}` per
//!   group names the runs read pending or running. The server answers `204` whether all, some or
//!   none of the ids it is given are known, so per-run outcomes come from the reads: a run read
//!   404 → `NotActive(NoSuchRun)`, read finished → `NotActive(Finished)`, read active → in the
//!   request, `Requested` on a 204 (`NotActive(Finished)` when the server answers 404 because
//!   they all finished meanwhile; when that 404 answers a retried request, each is read again:
//!   `interrupted` → `Cancelled`). A run whose read failed is reported failed and not sent.
//!   A group of one run is sent that run's own cancel instead (`POST /threads/{t}/runs/{r}/cancel`,
//!   whose `202` or `404` is about that run alone, a `404` then read as for a single cancel): one
//!   request where a read and a thread cancel would be two.
//! - **By state** ([`RunFilter::state`](wfcancel_core::RunFilter::state) `Pending` or
//!   `Running`) and **all** ([`Selector::cancel_all_runs`] only: a filter naming both states is
//!   refused as "all"): `POST /runs/cancel {"status": "pending" | "running" | "all"}`. Its 204
//!   has no count, so each round first lists the runs it will hit (the threads from
//!   `POST /threads/search` — all of them: a thread's own status is no guide, one with a running
//!   run reads `idle` once another of its runs was interrupted — then each thread's runs in that
//!   state, up to 10,000 threads): those are the per-run
//!   outcomes (`Requested`; `NotActive(Finished)` for a listed run when the server answers 404).
//!   A run that starts between the listing and the cancel is stopped without being counted.
//!   With [`BulkOptions::drain`], rounds repeat until the server answers
//!   `404 No runs found to cancel.` (its word that no run is left in that state): `drained`.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod mapping;
mod request;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use wfcancel_core::http::{Bytes, Call, HttpClient};
use wfcancel_core::{
    BulkControl, BulkFailure, BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities,
    FilterCapabilities, Inactive, ListOptions, ListedRun, RunFilter, RunPage, RunRef, RunState, Selector,
    WorkflowCanceller, async_trait, drive, unique_runs,
};

pub use config::{API_KEY_HEADER, DEFAULT_BASE_URL, ENV_API_KEYS, ENV_URL, LangGraphCancellerBuilder};
pub use request::{PlannedRequest, is_uuid};

use mapping::{Answer, Context};
use request::{Op, Planned};

/// The backend name, as reported by [`WorkflowCanceller::backend`] and in every error.
pub const BACKEND: &str = "langgraph";

/// The most run ids one `POST /runs/cancel` names: a thread with more runs in a bulk is sent
/// in several requests.
pub const MAX_RUNS_PER_REQUEST: usize = 100;

/// Page size of thread searches and run lists.
const PAGE: usize = 100;
/// The most pages of threads one listing reads (10,000 threads).
const MAX_THREAD_PAGES: usize = 100;
/// The most pages of runs one thread's listing reads.
const MAX_RUN_PAGES: usize = 10;

/// Interrupts LangGraph Platform runs over the Agent Server API.
///
/// Build it with [`LangGraphCanceller::builder`] or [`LangGraphCanceller::from_env`]; it holds
/// one pooled HTTP client and is cheap to clone. Its `Debug` and `Display` never show the API
/// key.
///
/// ```
/// use wfcancel_core::{CancelError, RunRef, WorkflowCanceller};
/// use wfcancel_langgraph::LangGraphCanceller;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let lg = LangGraphCanceller::builder().build().unwrap();
/// // No thread: refused before any request.
/// let err = lg.cancel(&RunRef::new("1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b")).await.unwrap_err();
/// assert!(matches!(err, CancelError::InvalidInput { field: "owner", .. }));
/// # }
/// ```
#[derive(Clone)]
pub struct LangGraphCanceller {
    http: HttpClient,
    has_key: bool,
}

impl std::fmt::Debug for LangGraphCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangGraphCanceller")
            .field("base_url", &self.http.base_url().as_str())
            .field("api_key", &self.has_key.then_some("***"))
            .field("http_config", self.http.config())
            .finish()
    }
}

impl std::fmt::Display for LangGraphCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "langgraph deployment at {} ({})",
            self.http.base_url(),
            if self.has_key { "API key set" } else { "no API key" }
        )
    }
}

/// What one group of runs (one thread) came to in a bulk by ids.
#[derive(Default)]
struct GroupResult {
    outcomes: Vec<(RunRef, CancelOutcome)>,
    failures: Vec<BulkFailure>,
    sent: u64,
}

impl LangGraphCanceller {
    /// A builder with every setting at its default (see [`LangGraphCancellerBuilder`]).
    pub fn builder() -> LangGraphCancellerBuilder {
        LangGraphCancellerBuilder::new()
    }

    /// A canceller configured from the process environment: `LANGGRAPH_API_URL`, and
    /// `LANGGRAPH_API_KEY` / `LANGSMITH_API_KEY` / `LANGCHAIN_API_KEY` (see
    /// [`LangGraphCancellerBuilder::from_env`]).
    pub fn from_env() -> Result<Self, CancelError> {
        LangGraphCancellerBuilder::from_env().build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_env_with<F>(lookup: F) -> Result<Self, CancelError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        LangGraphCancellerBuilder::from_env_with(lookup).build()
    }

    pub(crate) fn from_parts(http: HttpClient, has_key: bool) -> Self {
        LangGraphCanceller { http, has_key }
    }

    /// The deployment URL.
    pub fn base_url(&self) -> &wfcancel_core::http::Url {
        self.http.base_url()
    }

    /// Whether an API key is sent with each request.
    pub fn has_api_key(&self) -> bool {
        self.has_key
    }

    /// Checks a run address as every call does, without sending anything: a run id and its
    /// thread, both UUIDs, and nothing else ([`CancelError::InvalidInput`] naming the field).
    ///
    /// ```
    /// use wfcancel_core::RunRef;
    /// use wfcancel_langgraph::LangGraphCanceller;
    /// let run = "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b";
    /// assert!(LangGraphCanceller::check_run(&RunRef::new(run).thread(run)).is_ok());
    /// assert!(LangGraphCanceller::check_run(&RunRef::new(run)).is_err()); // no thread
    /// assert!(LangGraphCanceller::check_run(&RunRef::new("run-1").thread(run)).is_err());
    /// ```
    pub fn check_run(run: &RunRef) -> Result<(), CancelError> {
        request::check(run).map(|_| ())
    }

    /// The request a cancel of `run` sends first, without sending it (a 404 answer is then
    /// refined by a read of the run). Validates as `cancel` does.
    pub fn cancel_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        let (thread, run_id) = request::check(run)?;
        request::cancel(&self.http, thread, run_id)
    }

    /// The request a status read sends, without sending it. Validates as `status` does.
    pub fn status_request(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        let (thread, run_id) = request::check(run)?;
        request::read(&self.http, thread, run_id)
    }

    /// The requests `cancel_many(selector, …)` sends, without sending them, as far as they are
    /// known beforehand. By ids: a read of each run, then one `POST /runs/cancel` per thread
    /// (at most [`MAX_RUNS_PER_REQUEST`] runs each) naming every run, as if all were read
    /// active (the reads decide which are named); a thread with one run: that run's own cancel. By state or all: the first page of the thread
    /// search (each thread's runs are then listed, a page per thread), then the one
    /// `POST /runs/cancel {status}`. Validates as `cancel_many` does.
    ///
    /// ```
    /// use wfcancel_core::{RunFilter, RunState, Selector};
    /// use wfcancel_langgraph::LangGraphCanceller;
    /// let c = LangGraphCanceller::builder().build()?;
    /// let plan = c.plan(&Selector::filter(RunFilter::new().state(RunState::Running)))?;
    /// assert_eq!(plan.last().unwrap().to_string(), r#"POST http://127.0.0.1:2024/runs/cancel?action=interrupt {"status":"running"}"#);
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn plan(&self, selector: &Selector) -> Result<Vec<PlannedRequest>, CancelError> {
        let by_status = |status: &str| -> Result<Vec<PlannedRequest>, CancelError> {
            Ok(vec![
                request::search_threads(&self.http, PAGE, 0)?,
                request::cancel_by_status(&self.http, status)?,
            ])
        };
        match selector {
            Selector::Ids(runs) => {
                Selector::validate_ids(BACKEND, runs)?;
                let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
                let (runs, _) = unique_runs(runs);
                for run in runs.iter() {
                    let (thread, run_id) = request::check(run)?;
                    match groups
                        .iter_mut()
                        .rev()
                        .find(|(t, ids)| *t == thread && ids.len() < MAX_RUNS_PER_REQUEST)
                    {
                        Some((_, ids)) => ids.push(run_id),
                        None => groups.push((thread, vec![run_id])),
                    }
                }
                let mut out = Vec::with_capacity(runs.len() + groups.len());
                for (thread, ids) in &groups {
                    if ids.len() > 1 {
                        for run_id in ids {
                            out.push(request::read(&self.http, thread, run_id)?);
                        }
                    }
                }
                for (thread, ids) in &groups {
                    match ids.as_slice() {
                        [run_id] => out.push(request::cancel(&self.http, thread, run_id)?),
                        _ => out.push(request::cancel_thread_runs(&self.http, thread, ids)?),
                    }
                }
                Ok(out)
            }
            Selector::Filter(f) => {
                f.validate(BACKEND)?;
                by_status(status_of(f)?)
            }
            Selector::All(_) => by_status("all"),
            _ => Err(CancelError::unsupported(
                BACKEND,
                "this selector: LangGraph cancels by ids, by state or all",
            )),
        }
    }

    fn ctx<'a>(&self, op: Op, thread_id: Option<&'a str>, run_id: Option<&'a str>) -> Context<'a> {
        Context {
            op,
            run_id,
            thread_id,
            key_sent: self.has_key,
        }
    }

    /// Sends `req` within `call` and maps the answer.
    async fn send(&self, call: &Call<'_>, ctx: &Context<'_>, req: Planned) -> Result<Answer, CancelError> {
        self.send_counted(call, ctx, req).await.map(|(answer, _)| answer)
    }

    /// [`Self::send`], with the attempts the answer took (more than one: an earlier attempt,
    /// whose answer was lost, may have reached the server).
    async fn send_counted(
        &self,
        call: &Call<'_>,
        ctx: &Context<'_>,
        req: Planned,
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
            "langgraph answer"
        );
        answer.map(|a| (a, resp.attempts))
    }

    /// Reads one run (`op`: `Read` to refine a cancel, `Status` for a status read).
    async fn read(&self, call: &Call<'_>, thread: &str, run: &str, op: Op) -> Result<Answer, CancelError> {
        let req = request::read(&self.http, thread, run)?;
        self.send(call, &self.ctx(op, Some(thread), Some(run)), req).await
    }

    async fn cancel_one(&self, run: &RunRef) -> Result<CancelOutcome, CancelError> {
        let call = self.http.call();
        self.cancel_one_in(&call, run, &mut 0).await
    }

    /// [`Self::cancel_one`] within `call`, counting in `sent` the requests it sends.
    async fn cancel_one_in(&self, call: &Call<'_>, run: &RunRef, sent: &mut u64) -> Result<CancelOutcome, CancelError> {
        let (thread, run_id) = request::check(run)?;
        let mut sent_again = false;
        loop {
            let req = request::cancel(&self.http, thread, run_id)?;
            *sent += 1;
            let (hint, retried) = match self
                .send_counted(call, &self.ctx(Op::Cancel, Some(thread), Some(run_id)), req)
                .await?
            {
                (Answer::Accepted, _) => return Ok(CancelOutcome::Requested),
                (Answer::NothingToCancel(hint), attempts) => (hint, attempts > 1),
                (other, _) => return Err(unexpected(Op::Cancel, other)),
            };
            *sent += 1;
            match self.read(call, thread, run_id, Op::Read).await {
                Ok(Answer::NoSuchRun) => return Ok(CancelOutcome::NotActive(Inactive::NoSuchRun)),
                // A retried cancel: the attempt whose answer was lost may have interrupted it.
                Ok(Answer::State(RunState::Cancelled)) if retried => return Ok(CancelOutcome::Cancelled),
                Ok(Answer::State(s)) if s.is_terminal() => return Ok(CancelOutcome::NotActive(Inactive::Finished)),
                Ok(Answer::State(_)) if !sent_again => sent_again = true,
                Ok(Answer::State(s)) => {
                    return Err(CancelError::provider(
                        BACKEND,
                        Some(404),
                        format!(
                            "the server answered the cancel of run {run_id} with 404 twice, while the run reads {s}"
                        ),
                    ));
                }
                // The read failed: the 404's own detail text is what is left to go by.
                Ok(_) | Err(_) => return Ok(CancelOutcome::NotActive(hint)),
            }
        }
    }

    /// Reads each run of one thread, then cancels those read active in one request.
    async fn cancel_group(
        &self,
        thread: &str,
        runs: &[RunRef],
        control: &BulkControl,
        concurrency: usize,
    ) -> GroupResult {
        let call = self.http.call().until(control.deadline());
        let mut result = GroupResult::default();
        // A thread with one run: that run's own cancel answers for it alone (202, or 404 and a
        // state read), so no read is needed first: one request where a read and a thread cancel
        // would be two.
        if let [run] = runs {
            let mut sent = 0;
            match self.cancel_one_in(&call, run, &mut sent).await {
                Ok(outcome) => result.outcomes.push((run.clone(), outcome)),
                Err(e) => result.failures.push(BulkFailure::new(vec![run.clone()], e)),
            }
            result.sent += sent;
            return result;
        }
        let mut reads: Vec<(&RunRef, Result<Answer, CancelError>)> = Vec::with_capacity(runs.len());
        for chunk in runs.chunks(concurrency.max(1)) {
            let mut pending = Vec::with_capacity(chunk.len());
            for run in chunk {
                pending.push(self.read(&call, thread, run.run_id(), Op::Read));
            }
            reads.extend(chunk.iter().zip(futures::future::join_all(pending).await));
        }
        let mut active: Vec<&RunRef> = Vec::new();
        for (run, read) in reads {
            match read {
                Ok(Answer::NoSuchRun) => {
                    result.sent += 1;
                    result
                        .outcomes
                        .push((run.clone(), CancelOutcome::NotActive(Inactive::NoSuchRun)));
                }
                Ok(Answer::State(s)) if s.is_terminal() => {
                    result.sent += 1;
                    result
                        .outcomes
                        .push((run.clone(), CancelOutcome::NotActive(Inactive::Finished)));
                }
                Ok(Answer::State(_)) => {
                    result.sent += 1;
                    active.push(run);
                }
                Ok(other) => {
                    result.sent += 1;
                    result
                        .failures
                        .push(BulkFailure::new(vec![run.clone()], unexpected(Op::Read, other)));
                }
                Err(e) => {
                    if !matches!(e, CancelError::InvalidInput { .. } | CancelError::Config { .. }) {
                        result.sent += 1;
                    }
                    result.failures.push(BulkFailure::new(vec![run.clone()], e));
                }
            }
        }
        if active.is_empty() {
            return result;
        }
        let ids: Vec<&str> = active.iter().map(|r| r.run_id()).collect();
        let answer = match request::cancel_thread_runs(&self.http, thread, &ids) {
            Ok(req) => {
                result.sent += 1;
                self.send_counted(&call, &self.ctx(Op::CancelThreadRuns, Some(thread), None), req)
                    .await
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok((Answer::Accepted, _)) => {
                for run in active {
                    result.outcomes.push((run.clone(), CancelOutcome::Requested));
                }
            }
            // A retried request found none of them active: the attempt whose answer was lost
            // may have interrupted them. Each is read: interrupted → cancelled; anything else
            // (or a failed read) → as the 404 says.
            Ok((Answer::NothingToCancel(hint), attempts)) if attempts > 1 && hint != Inactive::NoSuchRun => {
                let mut pending = Vec::with_capacity(active.len());
                for run in &active {
                    pending.push(self.read(&call, thread, run.run_id(), Op::Read));
                }
                let reads = futures::future::join_all(pending).await;
                for (run, read) in active.into_iter().zip(reads) {
                    result.sent += 1;
                    let outcome = match read {
                        Ok(Answer::State(RunState::Cancelled)) => CancelOutcome::Cancelled,
                        _ => CancelOutcome::NotActive(Inactive::Finished),
                    };
                    result.outcomes.push((run.clone(), outcome));
                }
            }
            // They were read pending or running; the server now has none of them to cancel.
            Ok((Answer::NothingToCancel(hint), _)) => {
                let why = if hint == Inactive::NoSuchRun {
                    Inactive::NoSuchRun
                } else {
                    Inactive::Finished
                };
                for run in active {
                    result.outcomes.push((run.clone(), CancelOutcome::NotActive(why)));
                }
            }
            Ok((other, _)) => result.failures.push(BulkFailure::new(
                active.into_iter().cloned().collect(),
                unexpected(Op::CancelThreadRuns, other),
            )),
            Err(e) => result
                .failures
                .push(BulkFailure::new(active.into_iter().cloned().collect(), e)),
        }
        result
    }

    async fn cancel_ids(&self, runs: &[RunRef], opts: &BulkOptions) -> BulkReport {
        let control = opts.control();
        let (runs, duplicates) = unique_runs(runs);
        let mut report = BulkReport::new(BACKEND);
        report.duplicates_dropped = duplicates;
        // Groups by thread, in the order threads first appear; at most MAX_RUNS_PER_REQUEST each.
        let mut groups: Vec<(String, Vec<RunRef>)> = Vec::new();
        let mut open: HashMap<String, usize> = HashMap::new();
        for run in runs.iter() {
            let thread = run.owner().map(|o| o.id.to_string()).unwrap_or_default();
            let i = match open.get(&thread) {
                Some(&i) if groups[i].1.len() < MAX_RUNS_PER_REQUEST => i,
                _ => {
                    groups.push((thread.clone(), Vec::new()));
                    open.insert(thread, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[i].1.push(run.clone());
        }
        let total = runs.len() as u64;
        let mut failed_runs = 0u64;
        let driven = drive(
            groups.len(),
            opts.concurrency,
            &control,
            |i| self.cancel_group(&groups[i].0, &groups[i].1, &control, opts.concurrency),
            |i, group: GroupResult| {
                report.requests_sent += group.sent;
                for (run, outcome) in group.outcomes {
                    report.record(run, outcome, true);
                }
                let mut go_on = true;
                for failure in group.failures {
                    failed_runs += failure.runs.len() as u64;
                    go_on &= !failure.error.fails_every_call();
                    report.record_failure(failure.chunk(i));
                }
                if opts.progress.is_some() {
                    opts.report_progress(&report.progress_with(Some(total), failed_runs));
                }
                go_on
            },
        )
        .await;
        report.finish_driven(BACKEND, &driven, |i| &groups[i].1, true);
        report
    }

    /// One page of [`list_runs`](WorkflowCanceller::list_runs): see `read_runs`.
    async fn list_page(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let wanted: Option<Vec<&'static str>> = match &filter.states {
            None => None,
            Some(states) => Some(states.iter().map(listed_status).collect::<Result<_, _>>()?),
        };
        let server_status = match wanted.as_deref() {
            Some([one]) => Some(*one),
            _ => None,
        };
        let (mut thread_pos, mut run_pos) = match &opts.cursor {
            None => (0, 0),
            Some(c) => parse_cursor(c)?,
        };
        let call = self.http.call();
        let mut out: Vec<ListedRun> = Vec::new();
        loop {
            let req = request::search_threads_oldest_first(&self.http, PAGE, thread_pos)?;
            let threads = match self.send(&call, &self.ctx(Op::SearchThreads, None, None), req).await? {
                Answer::Threads(ids) => ids,
                other => return Err(unexpected(Op::SearchThreads, other)),
            };
            let last_thread_page = threads.len() < PAGE;
            for thread in &threads {
                loop {
                    let req = request::list_runs(&self.http, thread, server_status, PAGE, run_pos)?;
                    let items = match self.send(&call, &self.ctx(Op::ListPage, Some(thread), None), req).await {
                        Ok(Answer::Listed(items)) => items,
                        // The thread was deleted since the search: no run of it to list.
                        Err(CancelError::NotFound { .. }) => Vec::new(),
                        Ok(other) => return Err(unexpected(Op::ListPage, other)),
                        Err(e) => return Err(e),
                    };
                    let last_run_page = items.len() < PAGE;
                    for (i, run) in items.into_iter().enumerate() {
                        let keep = match &wanted {
                            None => true,
                            Some(names) => names.iter().any(|n| listed_status(&run.state).ok() == Some(*n)),
                        };
                        if keep {
                            out.push(run);
                        }
                        if out.len() == opts.limit {
                            return Ok(RunPage::new(out, Some(format!("{thread_pos}.{}", run_pos + i + 1))));
                        }
                    }
                    if last_run_page {
                        break;
                    }
                    run_pos += PAGE;
                }
                thread_pos += 1;
                run_pos = 0;
            }
            if last_thread_page {
                return Ok(RunPage::new(out, None));
            }
        }
    }

    /// The runs of every thread that are in `status` (`pending`, `running`; `all`: both),
    /// and how many requests the listing took.
    async fn list_active(&self, call: &Call<'_>, status: &str) -> Result<(Vec<RunRef>, u64), CancelError> {
        let mut sent = 0u64;
        let mut threads: Vec<String> = Vec::new();
        for page in 0..MAX_THREAD_PAGES {
            let req = request::search_threads(&self.http, PAGE, page * PAGE)?;
            sent += 1;
            match self.send(call, &self.ctx(Op::SearchThreads, None, None), req).await? {
                Answer::Threads(ids) => {
                    let last = ids.len() < PAGE;
                    threads.extend(ids);
                    if last {
                        break;
                    }
                }
                other => return Err(unexpected(Op::SearchThreads, other)),
            }
        }
        let wanted = |s: &RunState| match status {
            "pending" => *s == RunState::Pending,
            "running" => *s == RunState::Running,
            _ => matches!(s, RunState::Pending | RunState::Running),
        };
        let filter = match status {
            "pending" | "running" => Some(status),
            _ => None,
        };
        let mut runs = Vec::new();
        let mut seen_threads = HashSet::new();
        for thread in threads {
            if !seen_threads.insert(thread.clone()) {
                continue;
            }
            for page in 0..MAX_RUN_PAGES {
                let req = request::list_runs(&self.http, &thread, filter, PAGE, page * PAGE)?;
                sent += 1;
                match self.send(call, &self.ctx(Op::ListRuns, Some(&thread), None), req).await {
                    Ok(Answer::Runs(items)) => {
                        let last = items.len() < PAGE;
                        runs.extend(
                            items
                                .into_iter()
                                .filter(|(_, s)| wanted(s))
                                .map(|(id, _)| RunRef::new(id).thread(&thread)),
                        );
                        if last {
                            break;
                        }
                    }
                    // The thread was deleted since the search: it has no run to cancel.
                    Err(CancelError::NotFound { .. }) => break,
                    Ok(other) => return Err(unexpected(Op::ListRuns, other)),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((runs, sent))
    }

    /// `POST /runs/cancel {"status": status}`, counted by listing first; with drain, round after
    /// round until the server says no run is left in that state.
    async fn cancel_by_status(&self, status: &'static str, opts: &BulkOptions) -> BulkReport {
        let control = opts.control();
        let mut report = BulkReport::new(BACKEND);
        let mut counted: HashSet<RunRef> = HashSet::new();
        let rounds = if opts.drain { opts.max_rounds.max(1) } else { 1 };
        let mut pause = Duration::from_millis(50);
        for round in 1..=rounds {
            if let Some(why) = control.interrupted() {
                report.interrupted = Some(why);
                break;
            }
            report.rounds = round;
            let call = self.http.call().until(control.deadline());
            let listed = match control.within_deadline(self.list_active(&call, status)).await {
                Ok(Ok((runs, sent))) => {
                    report.requests_sent += sent;
                    runs
                }
                Ok(Err(e)) => {
                    report.record_failure(BulkFailure::new(Vec::new(), e).round(round));
                    break;
                }
                Err(why) => {
                    report.interrupted = Some(why);
                    break;
                }
            };
            let answer = match request::cancel_by_status(&self.http, status) {
                Ok(req) => {
                    report.requests_sent += 1;
                    self.send(&call, &self.ctx(Op::CancelByStatus, None, None), req).await
                }
                Err(e) => Err(e),
            };
            match answer {
                Ok(Answer::Accepted) => {
                    for run in listed {
                        if counted.insert(run.clone()) {
                            report.record(run, CancelOutcome::Requested, true);
                        }
                    }
                }
                Ok(Answer::NothingToCancel(_)) => {
                    // Listed active a moment ago; the server has none left in that state.
                    for run in listed {
                        if counted.insert(run.clone()) {
                            report.record(run, CancelOutcome::NotActive(Inactive::Finished), true);
                        }
                    }
                    report.drained = true;
                    break;
                }
                Ok(other) => {
                    report.record_failure(
                        BulkFailure::new(Vec::new(), unexpected(Op::CancelByStatus, other)).round(round),
                    );
                    break;
                }
                Err(e) => {
                    report.record_failure(BulkFailure::new(Vec::new(), e).round(round));
                    break;
                }
            }
            opts.report_progress(&report.progress(None));
            if !opts.drain || round == rounds {
                break;
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
        if opts.drain && !report.drained && report.not_confirmed.is_none() {
            report.not_confirmed = Some(format!(
                "the server did not say that no {status} run is left (after {} rounds)",
                report.rounds
            ));
        }
        report
    }
}

/// The `status` of `POST /runs/cancel` a filter asks for.
fn status_of(filter: &RunFilter) -> Result<&'static str, CancelError> {
    let states = filter.states.as_deref().unwrap_or_default();
    let mut pending = false;
    let mut running = false;
    for s in states {
        match s {
            RunState::Pending => pending = true,
            RunState::Running => running = true,
            other => {
                return Err(CancelError::invalid_input(
                    BACKEND,
                    "filter.states",
                    format!("LangGraph cancels pending or running runs only; a {other} run cannot be selected"),
                ));
            }
        }
    }
    match (pending, running) {
        (true, false) => Ok("pending"),
        (false, true) => Ok("running"),
        (true, true) => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            "pending and running are every state LangGraph can cancel: this filter matches every run; to cancel \
             everything, say so with Selector::cancel_all_runs()",
        )),
        (false, false) => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            "LangGraph filters on the run state only: name pending or running",
        )),
    }
}

fn unexpected(op: Op, answer: Answer) -> CancelError {
    CancelError::provider(BACKEND, None, format!("internal: {} mapped to {answer:?}", op.name()))
}

#[async_trait]
impl WorkflowCanceller for LangGraphCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Graceful only (interrupt), no reason; status; ids grouped by thread natively; a filter on
    /// the state (pending or running) and "all"; a cancel is only "requested"; a cancel with
    /// nothing to cancel tells finished from unknown (a state read, else the server's detail).
    fn capabilities(&self) -> Capabilities {
        let mut filter = FilterCapabilities::default();
        filter.states = true;
        let mut caps = Capabilities::default();
        caps.cancel = true;
        caps.bulk_ids = true;
        caps.filter = filter;
        caps.cancel_all = true;
        caps.status = true;
        caps.cancel_confirms = false;
        caps.needs_owner = true;
        caps.status_needs_session = false;
        caps.background_actions = false;
        caps.graceful = true;
        caps.forced = false;
        caps.reason = false;
        caps.inactive_reasons = true;
        caps.list = true;
        let mut list_filter = FilterCapabilities::default();
        list_filter.states = true;
        caps.list_filter = list_filter;
        caps
    }

    /// Threads oldest first (`POST /threads/search`), then each thread's runs
    /// (`GET /threads/{t}/runs`, with `status=` when the filter names one state), until the page
    /// is full; the cursor says where it stopped (thread position, run position). Each run is
    /// addressed by its thread, with its assistant, state and creation time as the server
    /// lists them.
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        self.list_page(filter, opts).await
    }

    async fn cancel_run(&self, run: &RunRef, _opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        // Core refused a forced mode and a reason before this hook (neither is in the capabilities).
        self.cancel_one(run).await
    }

    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        match selector {
            Selector::Ids(runs) => {
                Selector::validate_ids(BACKEND, runs)?;
                for run in runs {
                    request::check(run)?;
                }
                Ok(self.cancel_ids(runs, opts).await)
            }
            Selector::Filter(f) => {
                f.validate(BACKEND)?;
                let status = status_of(f)?;
                Ok(self.cancel_by_status(status, opts).await)
            }
            Selector::All(_) => Ok(self.cancel_by_status("all", opts).await),
            _ => Err(CancelError::unsupported(
                BACKEND,
                "this selector: LangGraph cancels by ids, by state or all",
            )),
        }
    }

    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        let (thread, run_id) = request::check(run)?;
        let call = self.http.call();
        match self.read(&call, thread, run_id, Op::Status).await? {
            Answer::State(s) => Ok(s),
            other => Err(unexpected(Op::Status, other)),
        }
    }
}

/// The server's run `status` a listing asks for: every state [`mapping::parse_state`] names.
fn listed_status(state: &RunState) -> Result<&'static str, CancelError> {
    Ok(match state {
        RunState::Pending => "pending",
        RunState::Running => "running",
        RunState::Completed => "success",
        RunState::Failed => "error",
        RunState::TimedOut => "timeout",
        RunState::Cancelled => "interrupted",
        other => {
            return Err(CancelError::invalid_input(
                BACKEND,
                "filter.states",
                format!(
                    "LangGraph cannot list {other} runs: its runs are pending, running, success, error, timeout or \
                     interrupted"
                ),
            ));
        }
    })
}

/// A listing cursor: `<thread position>.<run position>`.
fn parse_cursor(c: &str) -> Result<(usize, usize), CancelError> {
    c.split_once('.')
        .and_then(|(t, r)| Some((t.parse().ok()?, r.parse().ok()?)))
        .ok_or_else(|| CancelError::invalid_input(BACKEND, "cursor", "not a cursor this backend gave"))
}
