//! [wfcancel](https://docs.rs/wfcancel) backend for [Upstash Workflow](https://upstash.com/docs/workflow)
//! (its REST API over QStash).
//!
//! [`UpstashCanceller`] implements [`WorkflowCanceller`]: cancel one run, cancel many by id
//! (chunked, concurrent), by filter or all (draining), read a run's state, and follow
//! background bulk actions.
//!
//! ```no_run
//! use wfcancel_core::{BulkOptions, RunFilter, RunRef, Selector, WorkflowCanceller};
//! use wfcancel_upstash::UpstashCanceller;
//!
//! # async fn demo() -> Result<(), wfcancel_core::CancelError> {
//! let upstash = UpstashCanceller::from_env()?; // QSTASH_URL, QSTASH_TOKEN, QSTASH_REGION
//! upstash.cancel(&RunRef::new("wfr_123")).await?;
//! let report = upstash
//!     .cancel_many(&Selector::filter(RunFilter::new().label("nightly")), &BulkOptions::new().drain(true))
//!     .await?;
//! println!("cancelled {}, drained: {}", report.cancelled, report.drained);
//! # Ok(()) }
//! ```
//!
//! # What is sent
//!
//! Every cancel uses the bulk endpoint `DELETE /v2/workflows/runs` with query parameters and no
//! body, as the official SDK (`@upstash/workflow` 1.3.3) does:
//!
//! - **One run** — `?workflowRunIds=<id>`, exactly the SDK's `client.cancel("<id>")`. The answer
//!   `{"cancelled": 1}` is [`CancelOutcome::Cancelled`]. `{"cancelled": 0}` is sent once more
//!   (the server also answers 0 when it could not cancel the run this time; the next call goes
//!   past it): a second 0 is [`CancelOutcome::NotActive`] (the server skips unknown and
//!   finished runs silently), a 1 is `Cancelled`. So a run that is not active costs two
//!   requests.
//!   `DELETE /v2/workflows/runs/{id}` is not used: its `404` does not tell an unknown run from a
//!   finished one, its `200` body is plain text, and an id such as `..` cannot be a path segment,
//!   while any id is safe as a query value.
//! - **Many runs by id** — repeated `workflowRunIds`, split into chunks whose whole URL stays
//!   within [`UpstashBuilder::max_url_bytes`] (the SDK puts every id into one URL, which servers
//!   answer with `414` past a few thousand ids). Chunks are sent `BulkOptions::concurrency` at a
//!   time. The server answers one count per chunk, so the report has counts, not per-run
//!   outcomes. The server also **stops at the first run it cannot cancel** and answers the
//!   count so far, so a count below the chunk's size may mean "stopped part way": the chunk is
//!   then sent again (runs already cancelled, unknown or finished are skipped) and the counts
//!   added up until they reach the size or [`DRAIN_ZERO_ROUNDS`] answers in a row are 0. Only
//!   then is the rest booked as not active: `cancelled` is the sum of the counts and
//!   `not_active` each successful chunk's size minus its sum. The cost: **two extra requests
//!   for every chunk holding an unknown, finished or already cancelled id** (answers 7, 0, 0
//!   for a chunk of 10 holding 3 finished runs), and `requests_sent` counts them; a stop part
//!   way costs one more (4, 3, 0, 0). The loop is bounded: every answer above 0 cancels at least
//!   one of the chunk's runs and two zeros in a row end it, so a chunk of `n` ids takes at most
//!   `2n` requests even if each of its runs stops a call once. A failed chunk
//!   (including a failed re-send) is listed whole in `failed` with its ids and index; runs an
//!   earlier answer of that chunk counted are then not in `cancelled`, since which ones they
//!   were is unknown (cancelling the chunk again is harmless).
//! - **Filter** — `label`, `fromDate`, `toDate` (epoch ms), `callerIp`, `flowControlKey`,
//!   `host`, `path` (repeated keys), `workflowUrl` (+ `workflowUrlExactMatch=true` for an exact
//!   match), then `count` (= `BulkOptions::page_size`). `host` and `path` filter on the workflow
//!   URL's host and path; how exactly the server compares them is not confirmed (the contract,
//!   the emulator and the in-memory canceller assume an exact match, the host ASCII
//!   case-insensitive: see `RunFilter::hosts`). With `BulkOptions::drain` the call is repeated (see
//!   [Draining](#draining)).
//! - **All** ([`Selector::cancel_all_runs`]) — only `count`, drained the same way.
//!
//! Values are form-urlencoded, so ids and filter values with `/`, `?`, `#`, `%`, `&`, `=`, `+`,
//! spaces or non-ASCII stay one query value. The token goes in `Authorization: Bearer`, never
//! in the URL. [`UpstashCanceller::plan`] shows the requests without sending them.
//!
//! # Draining
//!
//! Each filtered (or cancel-all) call cancels at most `count` runs and answers how many it
//! cancelled. The server also **stops at the first run it cannot cancel** and answers the count
//! so far; the next call goes past that run. So a call answering `{"cancelled": 0}` does not
//! prove that nothing is left: when the run it stopped at was the first of the round, it
//! answers 0 with matching runs still running.
//!
//! A drain therefore ends only after [`DRAIN_ZERO_ROUNDS`] (two) calls **in a row** answer 0;
//! a round that cancels something in between starts the count again. That costs exactly one
//! request more per drain than stopping at the first 0 (answers 3, 3, 1, 0, 0 for 7 runs with a
//! page size of 3: five requests, not four). Only then is `BulkReport::drained` true. The drain
//! is still bounded by `BulkOptions::max_rounds` (default 10,000) requests: reaching it ends
//! the drain with `drained = false`, as does a failed round (listed in `failed` with its round
//! number) or an answer that carries a background action id. `BulkReport::rounds` and
//! `requests_sent` count every call, the confirming one included, and the progress callback
//! runs after every round. Without `drain` one call is sent and `drained` is always false: one
//! call cannot tell.
//!
//! The answer does not tell a stop from an empty match, so two runs the server cannot cancel,
//! each at the head of consecutive rounds, would still end a drain early; the confirming round
//! covers the single stop the reference describes ("running it again continues").
//!
//! # Retries
//!
//! A single cancel, a chunk of ids and a read are harmless to repeat (ids already cancelled are
//! skipped), so they get the shared retry rule ([`HttpConfig`]'s `RetryPolicy`: transport
//! errors, timeouts, `408`, `429`, `5xx`). A `429` waits for the reset of the rate limit it hit.
//! An answer that came after a retry may leave out runs a lost earlier attempt cancelled; such
//! runs end up counted as not active (they are no longer running, but this call stopped them).
//!
//! A filter or cancel-all round cancels up to `count` runs *per call*, and an `async=true` call
//! starts a background action: repeating one whose answer was lost could cancel more than
//! `count` runs for one round or start a second action. These are retried only when the request
//! surely never reached the server (the connection could not be made) or on a `429` (refused
//! before anything was done); a `5xx`, a `408`, a timeout or a connection lost after sending is
//! **not** retried and fails the round. With `drain`, that ends the drain with the failed round
//! in `failed` and `drained = false`, as any failed round does; run the drain again to go on.
//!
//! # Errors worth knowing
//!
//! - A `404` from the cancel endpoint or the run logs is `NotFound { what: Other }` asking to
//!   check `QSTASH_URL`: those endpoints answer unknown runs without a 404, so it means a wrong
//!   base URL or path prefix. An unknown bulk action is `NotFound { what: Action }`.
//! - A `429` is classified as the official SDK does (chat limit headers, then `RateLimit-*` =
//!   daily, else `Burst-RateLimit-*` = burst), except that when several families are present
//!   the one whose `-Remaining` is 0 wins; the retry time is `Retry-After`, else that same
//!   family's reset. A daily quota resetting hours away is not waited for: the plumbing never
//!   sleeps past its deadline, so the call fails with [`CancelError::RateLimited`] at once.
//!
//! # Commas
//!
//! The server splits `workflowRunIds`, `label`, `callerIp` and `flowControlKey` values on
//! commas after decoding them (it accepts one comma-separated value in place of repeated keys).
//! Percent-encoding does not help: cancelling the id `a,victim` would also cancel the run
//! `victim`, and the label `nightly,prod` every `prod` run. Whether `host` and `path` are split
//! the same way is not confirmed; they are treated alike to be safe. A `,` in a run id, label,
//! caller IP, flow-control key, host or path is therefore refused with
//! [`CancelError::InvalidInput`] (field `run_id`, `ids`, `filter.labels`, `filter.caller_ips`,
//! `filter.flow_control_keys`, `filter.hosts` or `filter.paths`) before anything is sent, by [`cancel`](WorkflowCanceller::cancel), [`cancel_many`](WorkflowCanceller::cancel_many),
//! [`status`](WorkflowCanceller::status) and the `plan*` methods alike. (The official SDK sends
//! such values as they are, and so widens the cancel.) Workflow URLs are not split and may hold
//! commas.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
mod answer;
mod config;
#[doc(hidden)]
pub mod fuzz;
mod plan;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use wfcancel_core::http::{HttpClient, HttpConfig, HttpResponse, Method, Url};
use wfcancel_core::{
    BulkFailure, BulkOptions, BulkReport, CancelError, CancelOutcome, Capabilities, FilterCapabilities, Polled, RunRef,
    RunState, Selector, WaitOptions, WorkflowCanceller, poll_until, validate_id,
};

pub use action::{BulkAction, BulkActionState};
pub use config::{DEFAULT_BASE_URL, DEFAULT_MAX_URL_BYTES, Region, US_EAST_1_BASE_URL, UpstashBuilder};
pub use plan::PlannedRequest;

use answer::{Op, answer, decode_bulk, decode_bulk_action, decode_status};
use plan::{BulkPlan, RUN_IDS_KEY};

/// The backend name, as [`WorkflowCanceller::backend`] and every error report it.
pub const BACKEND: &str = "upstash";

/// How many rounds in a row must cancel nothing before a drain ends with `drained = true`.
///
/// Two, because one is not proof: the server stops a bulk cancel at the first run it cannot
/// cancel and answers the count so far, so a round whose first run is such a run answers
/// `{"cancelled": 0}` while matching runs remain; the next round goes past it. See
/// [Draining](crate#draining).
pub const DRAIN_ZERO_ROUNDS: u32 = 2;

/// Cancels Upstash Workflow runs. Cheap to clone (the connection pool is shared).
///
/// Build it with [`UpstashCanceller::builder`] or [`UpstashCanceller::from_env`]. Its `Debug`
/// never shows the token.
///
/// ```
/// use wfcancel_core::{RunRef, WorkflowCanceller};
/// use wfcancel_upstash::UpstashCanceller;
/// let c = UpstashCanceller::builder().token("secret").build().unwrap();
/// assert_eq!(c.backend(), "upstash");
/// assert_eq!(
///     c.plan_cancel(&RunRef::new("wfr_1")).unwrap().to_string(),
///     "DELETE /v2/workflows/runs?workflowRunIds=wfr_1"
/// );
/// ```
#[derive(Clone)]
pub struct UpstashCanceller {
    http: HttpClient,
    runs_url: Url,
    region: Option<Region>,
    max_url_bytes: usize,
    background: bool,
}

impl std::fmt::Debug for UpstashCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstashCanceller")
            .field("base_url", &self.http.base_url().as_str())
            .field("region", &self.region)
            .field("token", &"***")
            .field("max_url_bytes", &self.max_url_bytes)
            .field("background_bulk_actions", &self.background)
            .field("http", self.http.config())
            .finish()
    }
}

impl UpstashCanceller {
    /// A builder; see [`UpstashBuilder`].
    pub fn builder() -> UpstashBuilder {
        UpstashBuilder::new()
    }

    /// A canceller configured from the environment the official SDK reads (`QSTASH_URL`,
    /// `QSTASH_TOKEN`, `QSTASH_REGION` and the regional pairs; see [`UpstashBuilder::from_env`]).
    /// A missing token is a [`CancelError::Config`] naming the variable.
    pub fn from_env() -> Result<Self, CancelError> {
        UpstashBuilder::from_env().build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get`.
    ///
    /// ```
    /// use wfcancel_upstash::UpstashCanceller;
    /// let err = UpstashCanceller::from_env_with(|_| None).unwrap_err();
    /// assert!(err.to_string().contains("QSTASH_TOKEN"));
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, CancelError> {
        UpstashBuilder::from_env_with(get).build()
    }

    pub(crate) fn from_parts(
        http: HttpClient,
        region: Option<Region>,
        max_url_bytes: usize,
        background: bool,
    ) -> Result<Self, CancelError> {
        let runs_url = http.endpoint(&[("path", "v2"), ("path", "workflows"), ("path", "runs")])?;
        let least = runs_url.as_str().len() + 1 + RUN_IDS_KEY.len() + 2;
        if max_url_bytes < least {
            return Err(CancelError::config(
                BACKEND,
                format!("max_url_bytes ({max_url_bytes}) is too small: with this base URL it must be at least {least}"),
            ));
        }
        Ok(UpstashCanceller {
            http,
            runs_url,
            region,
            max_url_bytes,
            background,
        })
    }

    /// The base URL (a trailing `/` of a path prefix stripped; a bare host keeps its root `/`).
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The region, when one was configured.
    pub fn region(&self) -> Option<Region> {
        self.region
    }

    /// The longest request URL sent.
    pub fn max_url_bytes(&self) -> usize {
        self.max_url_bytes
    }

    /// The HTTP settings.
    pub fn http_config(&self) -> &HttpConfig {
        self.http.config()
    }

    /// Whether filtered bulk cancels run as background bulk actions
    /// (see [`UpstashBuilder::background_bulk_actions`]).
    pub fn background_bulk_actions(&self) -> bool {
        self.background
    }

    /// The requests [`cancel_many`](WorkflowCanceller::cancel_many) would send for `selector`,
    /// without sending anything: one per chunk for ids; one (repeated up to `max_sends` times
    /// when draining) for a filter or all. Validates exactly as `cancel_many` does. The send path
    /// builds its requests with the same functions, so the two cannot drift.
    ///
    /// ```
    /// use wfcancel_core::{BulkOptions, Selector};
    /// use wfcancel_upstash::UpstashCanceller;
    /// let c = UpstashCanceller::builder().token("t").max_url_bytes(100).build().unwrap();
    /// let plan = c.plan(&Selector::ids(["wfr_a", "wfr_b", "wfr_c"]), &BulkOptions::new()).unwrap();
    /// assert!(plan.iter().all(|r| r.url.as_str().len() <= 100));
    /// assert_eq!(plan.iter().map(|r| r.run_ids).sum::<usize>(), 3);
    /// ```
    pub fn plan(&self, selector: &Selector, opts: &BulkOptions) -> Result<Vec<PlannedRequest>, CancelError> {
        self.plan_with(selector, opts, self.background)
    }

    /// The request [`cancel_many_async`](Self::cancel_many_async) would send.
    pub fn plan_async(&self, selector: &Selector, opts: &BulkOptions) -> Result<Vec<PlannedRequest>, CancelError> {
        refuse_unless_filter(selector)?;
        self.plan_with(selector, opts, true)
    }

    fn plan_with(
        &self,
        selector: &Selector,
        opts: &BulkOptions,
        background: bool,
    ) -> Result<Vec<PlannedRequest>, CancelError> {
        Ok(
            match plan::bulk_plan(&self.runs_url, selector, opts, self.max_url_bytes, background)? {
                BulkPlan::Chunks { runs, ranges } => ranges
                    .into_iter()
                    .map(|r| {
                        PlannedRequest::once(Method::DELETE, plan::ids_url(&self.runs_url, &runs[r.clone()]), r.len())
                    })
                    .collect(),
                BulkPlan::Rounds { url, drain, max_rounds } => {
                    let mut req = PlannedRequest::once(Method::DELETE, url, 0);
                    if drain {
                        req.max_sends = max_rounds;
                    }
                    vec![req]
                }
            },
        )
    }

    /// The request [`cancel`](WorkflowCanceller::cancel) would send for `run`.
    pub fn plan_cancel(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        plan::validate_run(run)?;
        let url = plan::ids_url(&self.runs_url, std::slice::from_ref(run));
        if url.as_str().len() > self.max_url_bytes {
            return Err(CancelError::invalid_input(
                BACKEND,
                "run_id",
                format!(
                    "the request URL for this id would be {} bytes, over max_url_bytes ({})",
                    url.as_str().len(),
                    self.max_url_bytes
                ),
            ));
        }
        Ok(PlannedRequest::once(Method::DELETE, url, 1))
    }

    /// The request [`status`](WorkflowCanceller::status) would send for `run`.
    pub fn plan_status(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        plan::validate_run(run)?;
        let mut url = self
            .http
            .endpoint(&[("path", "v2"), ("path", "workflows"), ("path", "logs")])?;
        url.query_pairs_mut().append_pair("workflowRunId", run.run_id());
        Ok(PlannedRequest::once(Method::GET, url, 0))
    }

    /// A filtered bulk cancel run as a background bulk action, whatever the builder says: one
    /// call with the filter and `async=true` (no `count`: the action cancels every match),
    /// whose answer's `actionId` lands in [`BulkReport::action_id`]. Follow it with
    /// [`bulk_action`](Self::bulk_action) or [`wait_for_bulk_action`](Self::wait_for_bulk_action).
    /// A server that ignores `async` answers a count instead: that is reported as a round, and
    /// with `opts.drain` the call is repeated as in any drain. Only `Selector::Filter` is
    /// accepted (`InvalidInput` otherwise): bulk actions are filter-based.
    pub async fn cancel_many_async(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        refuse_unless_filter(selector)?;
        self.bulk(selector, opts, true).await
    }

    /// Reads a background bulk action: `GET /v2/workflows/bulkActions/{actionId}`.
    /// An unknown id is `NotFound` (what: action).
    pub async fn bulk_action(&self, action_id: &str) -> Result<BulkAction, CancelError> {
        validate_id(BACKEND, "action_id", action_id)?;
        let url = self.http.endpoint(&[
            ("path", "v2"),
            ("path", "workflows"),
            ("path", "bulkActions"),
            ("action_id", action_id),
        ])?;
        let op = Op::BulkAction(action_id);
        let resp = self.send(op, Method::GET, url).await?;
        answer(op, &resp, |r| decode_bulk_action(r, action_id))
    }

    /// Polls [`bulk_action`](Self::bulk_action) with growing intervals while the action is in
    /// progress ([`BulkAction::is_in_progress`]: `IN_PROGRESS`, `PENDING` or `CREATED`), or
    /// fails with [`CancelError::Timeout`] at the deadline. Any other state is returned at
    /// once: `FINISHED`, and also a state this library does not know (`FAILED`, `CANCELED`…),
    /// which may be final; check [`BulkAction::is_finished`] on the result.
    pub async fn wait_for_bulk_action(&self, action_id: &str, opts: WaitOptions) -> Result<BulkAction, CancelError> {
        let polled = poll_until(
            opts,
            || self.bulk_action(action_id),
            |a: &BulkAction| !a.is_in_progress(),
        )
        .await?;
        let (last, what) = match polled {
            Polled::Done(action) => return Ok(action),
            Polled::TimedOut {
                last: Some(a),
                read_pending: false,
            } => (Some(a), "still"),
            Polled::TimedOut { last, .. } => (last, "unanswered at the deadline; last read"),
        };
        let state = match &last {
            Some(action) => {
                let progress = match (action.processed.or(action.cancelled), action.total) {
                    (Some(p), Some(t)) => format!(", {p} of {t} processed"),
                    _ => String::new(),
                };
                format!("{what} {}{progress}", action.state)
            }
            None => "never read".to_owned(),
        };
        Err(CancelError::Timeout {
            backend: BACKEND,
            message: format!(
                "bulk action {action_id} {state} after {:.1}s",
                opts.timeout.as_secs_f64()
            ),
        })
    }

    /// Sends a call that is harmless to repeat (a single cancel, a chunk of ids, a read), with
    /// the shared retry rule.
    async fn send(&self, op: Op<'_>, method: Method, url: Url) -> Result<HttpResponse, CancelError> {
        self.http.send_with(op.name(), method, url, &answer::retry_hint).await
    }

    /// Sends a call that must not run twice (a filter or cancel-all round, capped by `count`, or
    /// an `async=true` call, which starts an action): retried only when it surely never reached
    /// the server, or on a `429`; never on a `5xx`, a `408` or a timeout.
    async fn send_unrepeatable(&self, op: Op<'_>, method: Method, url: Url) -> Result<HttpResponse, CancelError> {
        self.http
            .send_unrepeatable(op.name(), method, url, &answer::unrepeatable_retry_hint)
            .await
    }

    async fn bulk(&self, selector: &Selector, opts: &BulkOptions, background: bool) -> Result<BulkReport, CancelError> {
        match plan::bulk_plan(&self.runs_url, selector, opts, self.max_url_bytes, background)? {
            BulkPlan::Chunks { runs, ranges } => Ok(self.cancel_chunks(runs, ranges, opts).await),
            BulkPlan::Rounds { url, drain, max_rounds } => Ok(self.cancel_rounds(url, drain, max_rounds, opts).await),
        }
    }

    /// Sends the chunks `opts.concurrency` at a time; stops starting new ones after an error that
    /// fails every call.
    async fn cancel_chunks(&self, runs: &[RunRef], ranges: Vec<Range<usize>>, opts: &BulkOptions) -> BulkReport {
        let total = runs.len() as u64;
        let stop = AtomicBool::new(false);
        let mut report = BulkReport::new(BACKEND);
        let mut pending = ranges.into_iter().enumerate();
        let mut skipped: Vec<(usize, Range<usize>)> = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < opts.concurrency && !stop.load(Ordering::Acquire) {
                match pending.next() {
                    Some((index, range)) => in_flight.push(self.send_chunk(runs, index, range, &stop)),
                    None => break,
                }
            }
            let Some((index, range, result)) = in_flight.next().await else {
                break;
            };
            match result {
                None => skipped.push((index, range)),
                Some(ChunkResult {
                    requests,
                    cancelled,
                    error: None,
                }) => {
                    report.requests_sent += requests;
                    report.cancelled += cancelled;
                    report.not_active += range.len() as u64 - cancelled;
                }
                Some(ChunkResult {
                    requests,
                    cancelled,
                    error: Some(error),
                }) => {
                    report.requests_sent += requests;
                    if cancelled > 0 {
                        tracing::warn!(
                            backend = BACKEND,
                            chunk = index,
                            ids = range.len(),
                            cancelled,
                            error = %error,
                            "a re-send of a chunk failed after earlier answers counted cancelled runs; \
                             the whole chunk is reported failed (which of its runs are still running is unknown)"
                        );
                    }
                    report.record_failure(BulkFailure::new(runs[range].to_vec(), error).chunk(index));
                }
            }
            if opts.progress.is_some() {
                opts.report_progress(&report.progress(Some(total)));
            }
        }
        skipped.extend(pending);
        skipped.sort_by_key(|(index, _)| *index);
        let stopped_early = !skipped.is_empty();
        for (_, range) in skipped {
            report.not_attempted.extend_from_slice(&runs[range]);
        }
        report.failed.sort_by_key(|f| f.chunk);
        if stopped_early && opts.progress.is_some() {
            // The untried ids are accounted for now: one last callback, with done == total.
            opts.report_progress(&report.progress(Some(total)));
        }
        report
    }

    /// Cancels one chunk of ids. The server stops a bulk cancel at the first run it cannot
    /// cancel and answers the count so far, so an answer below the chunk's size does not prove
    /// that the rest were not active: the same chunk is sent again (the runs already cancelled,
    /// unknown or finished are skipped by the server) and the counts added up, until the sum
    /// reaches the size or [`DRAIN_ZERO_ROUNDS`] answers in a row are 0. Only then is the rest
    /// booked as not active. Each non-zero answer cancels at least one run and a zero is
    /// followed by a non-zero answer or ends the loop with a second zero, so a chunk of `n` ids
    /// takes at most `2n` sends; `2n + 2` is enforced as a cap against a server that miscounts.
    ///
    /// The same loop covers an answer that took more than one attempt: a lost earlier attempt
    /// may have cancelled runs whose count the retried answer leaves out, so no answer alone is
    /// taken as proof that runs were not active.
    async fn send_chunk(
        &self,
        runs: &[RunRef],
        index: usize,
        range: Range<usize>,
        stop: &AtomicBool,
    ) -> (usize, Range<usize>, Option<ChunkResult>) {
        if stop.load(Ordering::Acquire) {
            return (index, range, None);
        }
        let size = range.len() as u64;
        let max_sends = 2 * size + u64::from(DRAIN_ZERO_ROUNDS);
        let url = plan::ids_url(&self.runs_url, &runs[range.clone()]);
        let mut chunk = ChunkResult {
            requests: 0,
            cancelled: 0,
            error: None,
        };
        let mut zeros = 0u32;
        loop {
            chunk.requests += 1;
            let result = match self.send(Op::CancelMany, Method::DELETE, url.clone()).await {
                Ok(resp) => answer(Op::CancelMany, &resp, decode_bulk).and_then(|a| {
                    a.cancelled.ok_or_else(|| CancelError::Decode {
                        backend: BACKEND,
                        message: "a bulk cancel by ids answered an action id instead of a count".to_owned(),
                    })
                }),
                Err(e) => Err(e),
            };
            let count = match result {
                Ok(count) => count,
                Err(e) => {
                    if e.fails_every_call() {
                        stop.store(true, Ordering::Release);
                    }
                    chunk.error = Some(e);
                    break;
                }
            };
            let left = size - chunk.cancelled;
            if count > left {
                tracing::warn!(
                    backend = BACKEND,
                    chunk = index,
                    ids = size,
                    cancelled = chunk.cancelled + count,
                    "the server counted more cancelled runs than ids sent; counting the chunk as all cancelled"
                );
            }
            chunk.cancelled += count.min(left);
            zeros = if count == 0 { zeros + 1 } else { 0 };
            if chunk.cancelled >= size || zeros >= DRAIN_ZERO_ROUNDS {
                break;
            }
            if chunk.requests >= max_sends {
                tracing::warn!(
                    backend = BACKEND,
                    chunk = index,
                    ids = size,
                    requests = chunk.requests,
                    "a chunk kept answering counts without reaching its size; booking the rest as not active"
                );
                break;
            }
        }
        (index, range, Some(chunk))
    }

    /// Sends a filtered (or cancel-all) call once, or, when draining, until
    /// [`DRAIN_ZERO_ROUNDS`] calls in a row cancel nothing or `max_rounds` calls were made.
    /// A failed round stops the drain: it is recorded in `failed` with its round number (and in
    /// `aborted` when it fails every call). `drained` is true only when the drain ended on
    /// those zero rounds; the progress callback runs after every round.
    async fn cancel_rounds(&self, url: Url, drain: bool, max_rounds: u32, opts: &BulkOptions) -> BulkReport {
        let mut report = BulkReport::new(BACKEND);
        // Rounds in a row that cancelled nothing. One zero is not proof that nothing is left:
        // the server stops at the first run it cannot cancel, and when that run heads the
        // round it answers `{"cancelled":0}`; the next call goes past it.
        let mut zero_rounds = 0u32;
        loop {
            let round = report.rounds + 1;
            report.rounds = round;
            report.requests_sent += 1;
            let result = match self
                .send_unrepeatable(Op::CancelMany, Method::DELETE, url.clone())
                .await
            {
                Ok(resp) => answer(Op::CancelMany, &resp, decode_bulk),
                Err(e) => Err(e),
            };
            let mut last_round_cancelled = 0;
            let mut again = false;
            match result {
                Ok(a) => {
                    if a.action_id.is_some() {
                        report.action_id = a.action_id;
                    }
                    if let Some(n) = a.cancelled {
                        report.cancelled += n;
                        last_round_cancelled = n;
                        if report.action_id.is_none() {
                            zero_rounds = if n == 0 { zero_rounds + 1 } else { 0 };
                            report.drained = drain && zero_rounds >= DRAIN_ZERO_ROUNDS;
                            again = drain && !report.drained;
                        }
                    }
                }
                Err(error) => {
                    report.record_failure(BulkFailure::new(Vec::new(), error).round(round));
                }
            }
            if opts.progress.is_some() {
                let mut p = report.progress(None);
                p.done = u64::from(round);
                p.last_round_cancelled = last_round_cancelled;
                opts.report_progress(&p);
            }
            if !again {
                break;
            }
            if round >= max_rounds {
                tracing::warn!(
                    backend = BACKEND,
                    rounds = round,
                    cancelled = report.cancelled,
                    zero_rounds_in_a_row = zero_rounds,
                    "drain stopped at max_rounds before two rounds in a row cancelled nothing; the report says drained = false"
                );
                break;
            }
        }
        report
    }
}

/// What the sends of one chunk of ids came to.
struct ChunkResult {
    /// Requests sent for the chunk (the first and its re-sends).
    requests: u64,
    /// Runs the answers counted as cancelled, capped at the chunk's size.
    cancelled: u64,
    /// The error that ended the chunk, if one did.
    error: Option<CancelError>,
}

fn refuse_unless_filter(selector: &Selector) -> Result<(), CancelError> {
    if !matches!(selector, Selector::Filter(_)) {
        return Err(CancelError::invalid_input(
            BACKEND,
            "selector",
            "background bulk actions are filter-based; cancel runs by id, or all runs, with cancel_many",
        ));
    }
    Ok(())
}

#[async_trait]
impl WorkflowCanceller for UpstashCanceller {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.cancel = true;
        c.bulk_ids = true;
        c.filter = FilterCapabilities::all();
        c.cancel_all = true;
        c.status = true;
        c.cancel_confirms = true;
        c.needs_owner = false;
        c.status_needs_session = false;
        c.background_actions = true;
        c
    }

    /// `DELETE /v2/workflows/runs?workflowRunIds=<id>`: `{"cancelled":1}` → `Cancelled`.
    /// `{"cancelled":0}` is sent once more, as a chunk of one (the server answers 0 too when it
    /// could not cancel the run this time; the next call goes past it): 0 again → `NotActive`
    /// (unknown, finished or already cancelled), 1 → `Cancelled`.
    async fn cancel(&self, run: &RunRef) -> Result<CancelOutcome, CancelError> {
        let planned = self.plan_cancel(run)?;
        let op = Op::Cancel;
        for _ in 0..DRAIN_ZERO_ROUNDS {
            let resp = self.send(op, planned.method.clone(), planned.url.clone()).await?;
            if answer(op, &resp, decode_bulk).and_then(answer::cancel_outcome)? == CancelOutcome::Cancelled {
                return Ok(CancelOutcome::Cancelled);
            }
        }
        Ok(CancelOutcome::NotActive)
    }

    /// See the [crate documentation](crate#what-is-sent). Validates the selector and options
    /// before any request; per-run outcomes are not reported (the server answers counts).
    async fn cancel_many(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        self.bulk(selector, opts, self.background).await
    }

    /// `GET /v2/workflows/logs?workflowRunId=<id>`: the first run with that id;
    /// `RUN_STARTED` → `Running`, `RUN_SUCCESS` → `Completed`, `RUN_FAILED` → `Failed`,
    /// `RUN_CANCELED` → `Cancelled`, anything else → `Unknown`; no such run → `NotFound`.
    async fn status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        let planned = self.plan_status(run)?;
        let op = Op::Status;
        let resp = self.send(op, planned.method, planned.url).await?;
        answer(op, &resp, |r| decode_status(r, run.run_id()))
    }
}
