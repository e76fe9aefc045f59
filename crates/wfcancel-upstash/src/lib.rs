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
//! A single cancel uses the run's own REST path; bulks use the bulk endpoint
//! `DELETE /v2/workflows/runs` with query parameters and no body, as the official SDK
//! (`@upstash/workflow` 1.3.3) does:
//!
//! - **One run** — `DELETE /v2/workflows/runs/{id}` (the id percent-encoded as one path
//!   segment), whose answer is about that run alone: `200 OK` is [`CancelOutcome::Cancelled`],
//!   Upstash's `404` ("no such active run": unknown, finished or already cancelled) is
//!   [`CancelOutcome::NotActive`] on the server's word, anything else an error (a `500`, "could
//!   not cancel it now", is retried first). (The SDK's `client.cancel(id)` calls the bulk
//!   endpoint with one id, whose `{"cancelled":0}` does not tell "not active" from "could not
//!   cancel it now".) An id that cannot be a path segment (`.` or `..`) goes to the bulk
//!   endpoint with that one id; a `0` there is checked against the run's state (the logs): over
//!   or unknown → `NotActive`, still active → an error saying so.
//! - **Many runs by id** — repeated `workflowRunIds`, split into chunks whose whole URL stays
//!   within [`UpstashBuilder::max_url_bytes`] (the SDK puts every id into one URL, which servers
//!   answer with `414` past a few thousand ids), repeated ids sent once
//!   (`BulkReport::duplicates_dropped`). Chunks are sent `BulkOptions::concurrency` at a time.
//!   The server answers one count per chunk, so the report has counts, not per-run outcomes.
//!   The server also **stops at the first run it cannot cancel** and answers the count so far,
//!   and answers 0 for such a run as for one that is over, so a count below the chunk's size
//!   proves nothing about the rest: the chunk is sent again while answers cancel something
//!   (each such answer cancels at least one run: at most `n + 1` sends). After an answer of 0
//!   with runs unaccounted for, **every run of the chunk has its state read** (the logs
//!   endpoint, 8 at a time): runs over or unknown are booked (`cancelled` up to the counted
//!   sum, the rest `not_active`); runs still active are cancelled one by one through their
//!   path (above); a run whose state cannot be read, or that is still active after that, is
//!   listed in `failed` with why — never "not active". The cost: one read per run of every
//!   chunk that holds an unknown, finished or already cancelled id (all active: one request
//!   per chunk). A failed chunk is listed whole in `failed` with its ids and index. Every send
//!   and read of one chunk shares one deadline ([`HttpConfig`]'s `total_deadline`).
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
//! prove that nothing is left.
//!
//! After a round that cancels nothing, a drain therefore reads the logs
//! (`GET /v2/workflows/logs?state=RUN_STARTED&count=1000`, paged, with `workflowUrl` for an
//! exact URL filter) and matches the filter against each active run: none matching →
//! `BulkReport::drained` is true and the drain ends; one matching → one more round (it may go
//! past the run that stopped the last one), and after two empty rounds in a row the drain ends
//! with `drained = false` and `BulkReport::not_confirmed` naming the run still active. When the
//! logs cannot tell — a filter on a field they do not show (a flow-control key or caller IP
//! missing from an entry), more than 100,000 active runs to check, a failed read — the drain
//! behaves the same and `not_confirmed` says why. The reads count in `requests_sent`.
//!
//! The drain is bounded by `BulkOptions::max_rounds` (default 10,000) rounds: reaching it ends
//! the drain with `drained = false`, as does a failed round (listed in `failed` with its round
//! number), an answer that carries a background action id, a stop or the bulk's deadline
//! (`BulkReport::interrupted`). `BulkReport::rounds` counts the rounds, and the progress
//! callback runs after every round (`Progress::done` counts runs, `Progress::rounds` rounds).
//! Without `drain` one call is sent and `drained` is always false: one call cannot tell.
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

use async_trait::async_trait;
use futures::StreamExt;
use wfcancel_core::http::{Call, HttpClient, HttpConfig, HttpResponse, Method, Url};
use wfcancel_core::{
    BulkControl, BulkFailure, BulkOptions, BulkReport, CancelError, CancelOptions, CancelOutcome, Capabilities,
    ConfigProblem, ConfigSetting, FilterCapabilities, Inactive, Interruption, ListOptions, ListedRun, NotFoundKind,
    Polled, RunFilter, RunPage, RunRef, RunState, Selector, UrlMatch, WaitOptions, WorkflowCanceller, drive,
    from_epoch_millis, poll_until, validate_id,
};

pub use action::{BulkAction, BulkActionState};
pub use config::{DEFAULT_BASE_URL, DEFAULT_MAX_URL_BYTES, Region, US_EAST_1_BASE_URL, UpstashBuilder};
pub use plan::PlannedRequest;

use answer::{Op, answer, decode_bulk, decode_bulk_action, decode_status};
use plan::{BulkPlan, RUN_IDS_KEY};

/// The backend name, as [`WorkflowCanceller::backend`] and every error report it.
pub const BACKEND: &str = "upstash";

/// How many rounds in a row that cancel nothing end a drain whose state read still finds (or
/// cannot rule out) a matching active run: it then ends with `drained = false` and
/// `not_confirmed` saying why.
///
/// One is not enough: the server stops a bulk cancel at the first run it cannot cancel and
/// answers the count so far, so a round whose first run is such a run answers
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
///     "DELETE /v2/workflows/runs/wfr_1"
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
            return Err(CancelError::config_of(
                BACKEND,
                ConfigSetting::Http,
                ConfigProblem::Invalid,
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
                BulkPlan::Chunks { runs, ranges, .. } => ranges
                    .into_iter()
                    .map(|r| {
                        PlannedRequest::once(Method::DELETE, plan::ids_url(&self.runs_url, &runs[r.clone()]), r.len())
                    })
                    .collect(),
                BulkPlan::Rounds {
                    url, drain, max_rounds, ..
                } => {
                    let mut req = PlannedRequest::once(Method::DELETE, url, 0);
                    if drain {
                        req.max_sends = max_rounds;
                    }
                    vec![req]
                }
            },
        )
    }

    /// The request [`cancel`](WorkflowCanceller::cancel) sends first for `run`:
    /// `DELETE /v2/workflows/runs/{id}`, or, for an id that cannot be a path segment (`.` and
    /// `..`), the bulk endpoint with that one id (`run_ids` is 1 then, 0 for the path form).
    ///
    /// ```
    /// use wfcancel_core::RunRef;
    /// use wfcancel_upstash::UpstashCanceller;
    /// let c = UpstashCanceller::builder().token("t").build().unwrap();
    /// assert_eq!(c.plan_cancel(&RunRef::new("wfr/1")).unwrap().to_string(), "DELETE /v2/workflows/runs/wfr%2F1");
    /// assert_eq!(c.plan_cancel(&RunRef::new("..")).unwrap().to_string(), "DELETE /v2/workflows/runs?workflowRunIds=..");
    /// ```
    pub fn plan_cancel(&self, run: &RunRef) -> Result<PlannedRequest, CancelError> {
        plan::validate_run(run)?;
        let (url, run_ids) = if plan::fits_path(run.run_id()) {
            (self.path_url(run.run_id())?, 0)
        } else {
            (plan::ids_url(&self.runs_url, std::slice::from_ref(run)), 1)
        };
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
        Ok(PlannedRequest::once(Method::DELETE, url, run_ids))
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
        wfcancel_core::check_bulk(BACKEND, &self.capabilities(), selector, opts)?;
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
        self.answered(op, &resp, |r| decode_bulk_action(r, action_id))
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
        Err(CancelError::timeout(
            BACKEND,
            format!(
                "bulk action {action_id} {state} after {:.1}s",
                opts.timeout.as_secs_f64()
            ),
        ))
    }

    /// Sends a call that is harmless to repeat (a single cancel, a chunk of ids, a read), with
    /// the shared retry rule.
    async fn send(&self, op: Op<'_>, method: Method, url: Url) -> Result<HttpResponse, CancelError> {
        self.http.send_with(op.name(), method, url, &answer::retry_hint).await
    }

    async fn bulk(&self, selector: &Selector, opts: &BulkOptions, background: bool) -> Result<BulkReport, CancelError> {
        match plan::bulk_plan(&self.runs_url, selector, opts, self.max_url_bytes, background)? {
            BulkPlan::Chunks {
                runs,
                ranges,
                duplicates,
            } => {
                let mut report = self.cancel_chunks(&runs, ranges, opts).await;
                report.duplicates_dropped = duplicates;
                Ok(report)
            }
            BulkPlan::Rounds {
                url,
                filter,
                drain,
                max_rounds,
            } => Ok(self.cancel_rounds(url, filter, drain, max_rounds, opts).await),
        }
    }

    /// Sends the chunks `opts.concurrency` at a time; stops starting new ones after an error that
    /// fails every call, a stop, or the bulk's deadline (chunks in flight then are abandoned).
    async fn cancel_chunks(&self, runs: &[RunRef], ranges: Vec<Range<usize>>, opts: &BulkOptions) -> BulkReport {
        let total = runs.len() as u64;
        let control = opts.control();
        let mut report = BulkReport::new(BACKEND);
        let driven = drive(
            ranges.len(),
            opts.concurrency,
            &control,
            |index| self.send_chunk(runs, index, ranges[index].clone(), &control),
            |index, chunk: ChunkResult| {
                report.requests_sent += chunk.requests;
                let range = ranges[index].clone();
                let go_on = match chunk.error {
                    None => {
                        report.cancelled += chunk.cancelled;
                        report.not_active += chunk.not_active;
                        let mut go_on = true;
                        for (run, error) in chunk.failures {
                            go_on &= !error.fails_every_call();
                            report.record_failure(BulkFailure::new(vec![run], error).chunk(index));
                        }
                        go_on
                    }
                    Some(error) => {
                        if chunk.cancelled > 0 {
                            tracing::warn!(
                                backend = BACKEND,
                                chunk = index,
                                ids = range.len(),
                                cancelled = chunk.cancelled,
                                error = %error,
                                "a re-send of a chunk failed after earlier answers counted cancelled runs; \
                                 the whole chunk is reported failed (which of its runs are still running is unknown)"
                            );
                        }
                        let go_on = !error.fails_every_call();
                        report.record_failure(BulkFailure::new(runs[range].to_vec(), error).chunk(index));
                        go_on
                    }
                };
                if opts.progress.is_some() {
                    opts.report_progress(&report.progress(Some(total)));
                }
                go_on
            },
        )
        .await;
        report.finish_driven(BACKEND, &driven, |i| &runs[ranges[i].clone()], true);
        report.failed.sort_by_key(|f| f.chunk);
        if opts.progress.is_some() && (!driven.not_started.is_empty() || !driven.abandoned.is_empty()) {
            // The untried ids are accounted for now: one last callback, with done == total.
            opts.report_progress(&report.progress(Some(total)));
        }
        report
    }

    /// Cancels one chunk of ids, all its sends and reads within one call's deadline (and the
    /// bulk's).
    ///
    /// The server stops a bulk cancel at the first run it cannot cancel and answers the count so
    /// far, and answers `{"cancelled": 0}` for such a run as it does for one that is over, so a
    /// count below the chunk's size proves nothing about the rest. The chunk is sent again while
    /// answers cancel something (each such answer cancels at least one run: at most `n + 1`
    /// sends). When an answer is 0 with runs unaccounted for, each run of the chunk has its state
    /// read (the logs endpoint): a run that is over or unknown is booked (cancelled by the
    /// counts, or not active); a run still active is cancelled by itself through
    /// `DELETE /v2/workflows/runs/{id}`, whose answer is about that run alone; and a run whose
    /// state could not be read, or that is still active after that, is a failure naming why —
    /// never "not active".
    async fn send_chunk(
        &self,
        runs: &[RunRef],
        index: usize,
        range: Range<usize>,
        control: &BulkControl,
    ) -> ChunkResult {
        let call = self.http.call().until(control.deadline());
        let chunk_runs = &runs[range];
        let size = chunk_runs.len() as u64;
        let url = plan::ids_url(&self.runs_url, chunk_runs);
        let mut chunk = ChunkResult::default();
        let mut counted = 0u64;
        loop {
            if chunk.requests > 0 {
                if let Some(why) = control.interrupted() {
                    // Stopped between two sends of the chunk: which of its runs the counts
                    // covered is unknown, so the whole chunk is failed (never counted cancelled).
                    chunk.cancelled = counted;
                    chunk.error = Some(interrupted(
                        why,
                        "before its runs were all accounted for; its cancel reached the server",
                    ));
                    return chunk;
                }
            }
            chunk.requests += 1;
            let result = match call
                .send_with(Op::CancelMany.name(), Method::DELETE, url.clone(), &answer::retry_hint)
                .await
            {
                Ok(resp) => self
                    .answered(Op::CancelMany, &resp, decode_bulk)
                    .and_then(answer::cancelled_count),
                Err(e) => Err(e),
            };
            let count = match result {
                Ok(count) => count,
                Err(e) => {
                    chunk.cancelled = counted;
                    chunk.error = Some(e);
                    return chunk;
                }
            };
            let left = size - counted;
            if count > left {
                tracing::warn!(
                    backend = BACKEND,
                    chunk = index,
                    ids = size,
                    cancelled = counted + count,
                    "the server counted more cancelled runs than ids sent; counting the chunk as all cancelled"
                );
            }
            counted += count.min(left);
            if counted >= size {
                chunk.cancelled = size;
                return chunk;
            }
            if count == 0 || chunk.requests > size {
                break;
            }
        }
        // Some runs are unaccounted for: read every run's state, then settle each.
        // Indices, not references, go into the stream: a closure over references makes the
        // future not `Send` for every lifetime (a known limit of the compiler).
        let call = &call;
        let reads = futures::stream::iter(0..chunk_runs.len())
            .map(|i| async move {
                if let Some(why) = control.interrupted() {
                    let e = interrupted(
                        why,
                        "before this run's state was read; the chunk's cancel may have reached it",
                    );
                    return (i, Err(e));
                }
                let state = self.read_state(call, chunk_runs[i].run_id()).await;
                (i, state)
            })
            .buffer_unordered(STATE_READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        let mut over = 0u64;
        let mut active: Vec<(usize, RunState)> = Vec::new();
        for (i, state) in reads {
            chunk.requests += 1;
            let run = &chunk_runs[i];
            match state {
                Ok(None) => over += 1,
                // Over by the server's word; a state it cannot name but does not call over
                // (`Unknown { terminal: false }`) is treated as still running.
                Ok(Some(s)) if s.is_terminal() => over += 1,
                Ok(Some(s)) => active.push((i, s)),
                Err(e) => chunk.failures.push((
                    run.clone(),
                    e.with_context("the chunk's cancel answered 0 and this run's state could not be read to tell whether it is still active"),
                )),
            }
        }
        let by_counts = counted.min(over);
        chunk.cancelled = by_counts;
        chunk.not_active = over - by_counts;
        // Still active after the server answered 0 for it: cancel it by itself.
        let singles = futures::stream::iter(active)
            .map(|(i, state)| async move {
                let run = &chunk_runs[i];
                // `sent`: whether a request went out for it (the outcome of one, or its error).
                let (sent, result) = if let Some(why) = control.interrupted() {
                    let why = interrupted(why, "before this run, still running, was cancelled by itself");
                    (false, Err(why))
                } else if plan::fits_path(run.run_id()) {
                    (true, self.cancel_by_path(call, run).await)
                } else {
                    (false, Err(still_active(run.run_id(), &state)))
                };
                (run, state, sent, result)
            })
            .buffer_unordered(STATE_READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        for (run, state, sent, result) in singles {
            chunk.requests += u64::from(sent);
            match result {
                Ok(CancelOutcome::Cancelled) => chunk.cancelled += 1,
                Ok(_) => chunk.not_active += 1,
                // An error of the single cancel, about a run still running.
                Err(e) if sent => chunk.failures.push((
                    run.clone(),
                    e.with_context(format!("still {state} after the chunk's cancel answered 0")),
                )),
                // `still_active` and `interrupted` already say so.
                Err(e) => chunk.failures.push((run.clone(), e)),
            }
        }
        chunk
    }

    /// `DELETE /v2/workflows/runs/{id}` within `call`: `Cancelled`, `NotActive` (the server's
    /// 404), or an error.
    async fn cancel_by_path(&self, call: &Call<'_>, run: &RunRef) -> Result<CancelOutcome, CancelError> {
        let url = self.path_url(run.run_id())?;
        self.cancel_at(call, url).await
    }

    /// `DELETE` of a run's own path `url` (built by [`path_url`](Self::path_url)).
    async fn cancel_at(&self, call: &Call<'_>, url: Url) -> Result<CancelOutcome, CancelError> {
        let resp = call
            .send_with(Op::Cancel.name(), Method::DELETE, url, &answer::retry_hint)
            .await?;
        self.http.scrub_result(answer::path_cancel_outcome(&resp))
    }

    /// [`answer`]'s mapping of `resp`, with what it built from the answer masked for the token:
    /// the one place Upstash's answers become shared types.
    fn answered<T>(
        &self,
        op: Op<'_>,
        resp: &HttpResponse,
        decode: impl FnOnce(&HttpResponse) -> Result<T, CancelError>,
    ) -> Result<T, CancelError> {
        self.http.scrub_result(answer(op, resp, decode))
    }

    fn path_url(&self, id: &str) -> Result<Url, CancelError> {
        self.http
            .endpoint(&[("path", "v2"), ("path", "workflows"), ("path", "runs"), ("run_id", id)])
    }

    /// A run's state from the logs endpoint within `call`: `None` when the logs know no run with
    /// that id.
    async fn read_state(&self, call: &Call<'_>, id: &str) -> Result<Option<RunState>, CancelError> {
        let mut url = self.logs_url()?;
        url.query_pairs_mut().append_pair("workflowRunId", id);
        let resp = call
            .send_with(Op::Status.name(), Method::GET, url, &answer::retry_hint)
            .await?;
        match self.answered(Op::Status, &resp, |r| decode_status(r, id)) {
            Ok(state) => Ok(Some(state)),
            Err(CancelError::NotFound {
                what: NotFoundKind::Run,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The request of one page of [`list_runs`](WorkflowCanceller::list_runs), without sending
    /// it (see `read_runs`).
    ///
    /// ```
    /// use wfcancel_core::{ListOptions, RunFilter, RunState};
    /// use wfcancel_upstash::UpstashCanceller;
    /// let c = UpstashCanceller::builder().token("t").build()?;
    /// let req = c.list_request(&RunFilter::new().url_exact("https://a.example/wf?x=1").state(RunState::Running), &ListOptions::new().limit(20))?;
    /// assert_eq!(
    ///     req.url.as_str(),
    ///     "https://qstash.upstash.io/v2/workflows/logs?count=20&state=RUN_STARTED&workflowUrl=https%3A%2F%2Fa.example%2Fwf%3Fx%3D1"
    /// );
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn list_request(&self, filter: &RunFilter, opts: &ListOptions) -> Result<PlannedRequest, CancelError> {
        opts.validate(BACKEND)?;
        if !filter.is_empty() {
            filter.validate(BACKEND)?;
        }
        let mut url = self.logs_url()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("count", &opts.limit.to_string());
            if let Some(states) = &filter.states {
                let mut names = Vec::new();
                for s in states {
                    let name = answer::log_state_name(s).ok_or_else(|| {
                        CancelError::invalid_input(
                            BACKEND,
                            "filter.states",
                            format!(
                                "Upstash's logs cannot list {s} runs: they show running, completed, failed and cancelled ones"
                            ),
                        )
                    })?;
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                if let [one] = names.as_slice() {
                    q.append_pair("state", one);
                }
            }
            if let Some(UrlMatch::Exact(u)) = &filter.url {
                q.append_pair("workflowUrl", u);
            }
            if let Some(c) = &opts.cursor {
                q.append_pair("cursor", c);
            }
        }
        Ok(PlannedRequest::once(Method::GET, url, 0))
    }

    async fn list_logs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        let req = self.list_request(filter, opts)?;
        let call = self.http.call();
        let resp = call
            .send_with(Op::Status.name(), Method::GET, req.url, &answer::retry_hint)
            .await?;
        let (entries, next) = self.answered(Op::Status, &resp, answer::decode_logs_page)?;
        let mut runs = Vec::with_capacity(entries.len());
        for entry in &entries {
            let text = |k: &str| entry.get(k).and_then(serde_json::Value::as_str);
            let id = text("workflowRunId").filter(|id| !id.is_empty()).ok_or_else(|| {
                CancelError::decode(BACKEND, "a run of the workflow logs has no workflowRunId".to_owned())
            })?;
            let state = answer::log_state(entry).ok_or_else(|| {
                CancelError::decode(BACKEND, format!("run {id} of the workflow logs has no workflowState"))
            })?;
            if filter.states.as_ref().is_some_and(|s| !s.contains(&state)) {
                continue;
            }
            if !filter.is_empty() {
                match logs_entry_matches(filter, entry) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(field) => {
                        return Err(CancelError::unsupported(
                            BACKEND,
                            format!(
                                "listing runs filtered on the {field}: the logs do not show it for run {id}, so whether it matches is unknown"
                            ),
                        ));
                    }
                }
            }
            let mut run = ListedRun::new(RunRef::new(id), state);
            if let Some(url) = text("workflowUrl") {
                run = run.workflow(url);
            }
            if let Some(ms) = entry.get("workflowRunCreatedAt").and_then(answer::as_count) {
                run = run.created(from_epoch_millis(ms));
            }
            runs.push(run);
        }
        Ok(RunPage::new(runs, next))
    }

    fn logs_url(&self) -> Result<Url, CancelError> {
        self.http
            .endpoint(&[("path", "v2"), ("path", "workflows"), ("path", "logs")])
    }

    /// Sends a filtered (or cancel-all) call once, or, when draining, until a state read finds
    /// no active run matching the filter, `max_rounds` calls were made, a stop, or the bulk's
    /// deadline. A failed round stops the drain: it is recorded in `failed` with its round number
    /// (and in `aborted` when it fails every call).
    ///
    /// A round that cancels nothing proves nothing by itself (the server stops at the first run
    /// it cannot cancel and answers the count so far), so after such a round the logs are read
    /// for active runs matching the filter: none → `drained = true`; some → one more round (it
    /// may go past the run that stopped the last one), and after two empty rounds in a row the
    /// drain ends with `drained = false` and `not_confirmed` saying which run is still active;
    /// when the logs cannot tell (a filter on a field they do not show, too many active runs to
    /// check, a failed read) the same, with the reason.
    async fn cancel_rounds(
        &self,
        url: Url,
        filter: Option<&RunFilter>,
        drain: bool,
        max_rounds: u32,
        opts: &BulkOptions,
    ) -> BulkReport {
        let mut report = BulkReport::new(BACKEND);
        let control = opts.control();
        let mut zero_rounds = 0u32;
        loop {
            if let Some(why) = control.interrupted() {
                report.interrupted = Some(why);
                break;
            }
            let round = report.rounds + 1;
            report.rounds = round;
            report.requests_sent += 1;
            let call = self.http.call().until(control.deadline());
            let sent = control
                .within_deadline(call.send_unrepeatable(
                    Op::CancelMany.name(),
                    Method::DELETE,
                    url.clone(),
                    &answer::unrepeatable_retry_hint,
                ))
                .await;
            let result = match sent {
                Ok(Ok(resp)) => self.answered(Op::CancelMany, &resp, decode_bulk),
                Ok(Err(e)) => Err(e),
                Err(why) => {
                    report.interrupted = Some(why);
                    Err(CancelError::timeout(
                        BACKEND,
                        "round abandoned at the bulk's deadline without an answer; it may have cancelled runs"
                            .to_owned(),
                    ))
                }
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
                        if report.action_id.is_none() && drain {
                            if n > 0 {
                                zero_rounds = 0;
                                again = true;
                                // What an earlier read found may be cancelled by now.
                                report.not_confirmed = None;
                            } else {
                                zero_rounds += 1;
                                let (confirmed, reads) = self.confirm_drained(&call, filter, &control).await;
                                report.requests_sent += reads;
                                match confirmed {
                                    Ok(()) => {
                                        report.drained = true;
                                        report.not_confirmed = None;
                                    }
                                    Err(why) => {
                                        again = zero_rounds < DRAIN_ZERO_ROUNDS;
                                        report.not_confirmed = Some(why);
                                    }
                                }
                            }
                        }
                    }
                }
                Err(error) => {
                    report.record_failure(BulkFailure::new(Vec::new(), error).round(round));
                }
            }
            if opts.progress.is_some() {
                let mut p = report.progress(None);
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
                    "drain stopped at max_rounds before a state read found nothing left; the report says drained = false"
                );
                if report.not_confirmed.is_none() {
                    report.not_confirmed = Some(format!(
                        "the drain reached max_rounds ({max_rounds}) while rounds were still cancelling runs"
                    ));
                }
                break;
            }
        }
        report
    }

    /// Reads the logs for a run still active (`RUN_STARTED`) that `filter` matches (any active
    /// run for cancel-all): `Ok(())` when there is none, else why the drain cannot be called
    /// done. Also returns how many reads it sent.
    async fn confirm_drained(
        &self,
        call: &Call<'_>,
        filter: Option<&RunFilter>,
        control: &BulkControl,
    ) -> (Result<(), String>, u64) {
        let mut reads = 0u64;
        let mut cursor: Option<String> = None;
        let mut unknown: Option<&'static str> = None;
        for _ in 0..CONFIRM_MAX_PAGES {
            if let Some(why) = control.interrupted() {
                return (
                    Err(format!(
                        "the bulk was {} before the logs were read to confirm",
                        past(why)
                    )),
                    reads,
                );
            }
            let mut url = match self.logs_url() {
                Ok(u) => u,
                Err(e) => return (Err(format!("could not read the logs: {e}")), reads),
            };
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("state", "RUN_STARTED");
                q.append_pair("count", &CONFIRM_PAGE_SIZE.to_string());
                if let Some(UrlMatch::Exact(u)) = filter.and_then(|f| f.url.as_ref()) {
                    q.append_pair("workflowUrl", u);
                }
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            reads += 1;
            let page = match call
                .send_with(Op::Status.name(), Method::GET, url, &answer::retry_hint)
                .await
            {
                Ok(resp) => self.answered(Op::Status, &resp, answer::decode_logs_page),
                Err(e) => Err(e),
            };
            let (runs, next) = match page {
                Ok(p) => p,
                Err(e) => {
                    return (
                        Err(format!("could not read the logs to confirm nothing is left: {e}")),
                        reads,
                    );
                }
            };
            for run in &runs {
                if run.get("workflowState").and_then(serde_json::Value::as_str) != Some("RUN_STARTED") {
                    continue;
                }
                let id = run
                    .get("workflowRunId")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?");
                match filter.map_or(Ok(true), |f| logs_entry_matches(f, run)) {
                    Ok(true) => {
                        return (
                            Err(format!("run {id} matches the filter and is still RUN_STARTED")),
                            reads,
                        );
                    }
                    Ok(false) => {}
                    Err(field) => unknown = unknown.or(Some(field)),
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => {
                    return match unknown {
                        None => (Ok(()), reads),
                        Some(field) => (
                            Err(format!(
                                "the logs do not show the {field} of some active runs, so whether they match the filter is unknown"
                            )),
                            reads,
                        ),
                    };
                }
            }
        }
        (
            Err(format!(
                "more than {} active runs to check in the logs",
                CONFIRM_MAX_PAGES * CONFIRM_PAGE_SIZE
            )),
            reads,
        )
    }
}

/// State reads (and single cancels) a chunk has in flight at once.
const STATE_READS_IN_FLIGHT: usize = 8;
/// Runs per logs page read to confirm a drain.
const CONFIRM_PAGE_SIZE: usize = 1000;
/// Pages read at most to confirm a drain.
const CONFIRM_MAX_PAGES: usize = 100;

/// Whether an entry of the logs matches `filter`; `Err(field)` when the entry does not show a
/// field the filter needs.
fn logs_entry_matches(
    filter: &RunFilter,
    run: &serde_json::Map<String, serde_json::Value>,
) -> Result<bool, &'static str> {
    let text = |key: &str| run.get(key).and_then(serde_json::Value::as_str);
    let url = match text("workflowUrl") {
        Some(u) => u,
        None if filter.url.is_some() || filter.hosts.is_some() || filter.paths.is_some() => return Err("workflow URL"),
        None => "",
    };
    let created = match run.get("workflowRunCreatedAt").and_then(answer::as_count) {
        Some(ms) => from_epoch_millis(ms),
        None if filter.from.is_some() || filter.to.is_some() => return Err("creation time"),
        None => std::time::UNIX_EPOCH,
    };
    let labels: Vec<String> = text("label").map(|l| vec![l.to_owned()]).unwrap_or_default();
    let caller_ip = text("workflowRunCallerIp");
    if filter.caller_ips.is_some() && caller_ip.is_none() {
        return Err("caller IP");
    }
    let flow_control_key = text("flowControlKey");
    if filter.flow_control_keys.is_some() && flow_control_key.is_none() {
        return Err("flow-control key");
    }
    Ok(filter.matches(url, &labels, created, caller_ip, flow_control_key))
}

/// The error for a part of a bulk left unsettled by a stop or the bulk's deadline.
fn interrupted(why: Interruption, what: &str) -> CancelError {
    CancelError::interrupted(BACKEND, format!("the bulk was {} {what}", past(why)))
}

/// `stopped` or `past its deadline`.
fn past(why: Interruption) -> &'static str {
    match why {
        Interruption::Stopped => "stopped",
        _ => "past its deadline",
    }
}

/// The error for a run the server answered 0 for while its state says it is still active.
fn still_active(id: &str, state: &RunState) -> CancelError {
    CancelError::provider(
        BACKEND,
        None,
        format!(
            "run {id} is still {state} although the cancel answered {{\"cancelled\":0}}: the server could not cancel it now; try again"
        ),
    )
}

/// What the sends and reads of one chunk of ids came to.
#[derive(Default)]
struct ChunkResult {
    /// Requests sent for the chunk (its sends, state reads and single cancels).
    requests: u64,
    /// Runs cancelled (by the counts, capped at what the state reads allow, and by single cancels).
    cancelled: u64,
    /// Runs over or unknown that this chunk did not cancel.
    not_active: u64,
    /// Runs that failed one by one, with why.
    failures: Vec<(RunRef, CancelError)>,
    /// The error that failed the whole chunk, if one did.
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
        c.filter = FilterCapabilities::upstash_fields();
        c.cancel_all = true;
        c.status = true;
        c.cancel_confirms = true;
        c.needs_owner = false;
        c.status_needs_session = false;
        c.background_actions = true;
        c.list = true;
        let mut list_filter = FilterCapabilities::upstash_fields();
        list_filter.states = true;
        c.list_filter = list_filter;
        c
    }

    /// One page of the workflow logs (`GET /v2/workflows/logs?count=<limit>`, with `state=`
    /// for one state, `workflowUrl=` for an exact URL, `cursor=` to resume), the other filter
    /// fields applied here to each run the page shows; the next cursor is the server's. A page
    /// may therefore hold fewer runs than the limit while more follow. A run whose log entry does
    /// not show a field the filter needs (a caller IP, a flow-control key) is an error rather
    /// than a guess. Counting is not offered: the logs have no count, only pages to read through.
    async fn read_runs(&self, filter: &RunFilter, opts: &ListOptions) -> Result<RunPage, CancelError> {
        self.list_logs(filter, opts).await
    }

    /// `DELETE /v2/workflows/runs/{id}`, whose answer is about that run alone: `200 OK` →
    /// `Cancelled`; Upstash's `404` (no such active run: unknown, finished or already
    /// cancelled) → `NotActive`; anything else an error (a `500`, "could not cancel it now", is
    /// retried first).
    ///
    /// An id that cannot be a path segment (`.` or `..`) goes to the bulk endpoint instead:
    /// `{"cancelled":1}` → `Cancelled`; `{"cancelled":0}` proves nothing by itself (the server
    /// answers 0 too for a run it cannot cancel now), so the run's state is read (the logs
    /// endpoint): over or unknown → `NotActive`; still active → an error saying so. Every
    /// request of the call shares one deadline.
    async fn cancel_run(&self, run: &RunRef, _opts: &CancelOptions) -> Result<CancelOutcome, CancelError> {
        // Graceful only, no reason: core refused anything else before this.
        let planned = self.plan_cancel(run)?;
        let call = self.http.call();
        if planned.run_ids == 0 {
            // The planned request is the run's own path: sent as planned (not built again).
            return self.cancel_at(&call, planned.url).await;
        }
        let resp = call
            .send_with(Op::Cancel.name(), planned.method, planned.url, &answer::retry_hint)
            .await?;
        let count = self
            .answered(Op::Cancel, &resp, decode_bulk)
            .and_then(answer::cancelled_count)?;
        if count > 0 {
            return Ok(CancelOutcome::Cancelled);
        }
        match self.read_state(&call, run.run_id()).await? {
            Some(state) if !state.is_terminal() => Err(still_active(run.run_id(), &state)),
            Some(_) => Ok(CancelOutcome::NotActive(Inactive::Finished)),
            None => Ok(CancelOutcome::NotActive(Inactive::NoSuchRun)),
        }
    }

    /// See the [crate documentation](crate#what-is-sent). Validates the selector and options
    /// before any request; per-run outcomes are not reported (the server answers counts).
    async fn cancel_runs(&self, selector: &Selector, opts: &BulkOptions) -> Result<BulkReport, CancelError> {
        self.bulk(selector, opts, self.background).await
    }

    /// `GET /v2/workflows/logs?workflowRunId=<id>`: the first run with that id;
    /// `RUN_STARTED` → `Running`, `RUN_SUCCESS` → `Completed`, `RUN_FAILED` → `Failed`,
    /// `RUN_CANCELED` → `Cancelled`, anything else → `Unknown`; no such run → `NotFound`.
    async fn read_status(&self, run: &RunRef) -> Result<RunState, CancelError> {
        let planned = self.plan_status(run)?;
        let op = Op::Status;
        let resp = self.send(op, planned.method, planned.url).await?;
        self.answered(op, &resp, |r| decode_status(r, run.run_id()))
    }

    /// [`bulk_action`](Self::bulk_action) as the portable [`wfcancel_core::BulkActionState`]:
    /// over unless still in progress; Upstash's `total`, `processed` and `cancelled`.
    async fn read_bulk_action(&self, id: &str) -> Result<wfcancel_core::BulkActionState, CancelError> {
        let a = self.bulk_action(id).await?;
        Ok(
            wfcancel_core::BulkActionState::new(a.action_id.clone(), a.state.as_str(), !a.is_in_progress()).counts(
                a.total,
                a.processed,
                a.cancelled,
                None,
            ),
        )
    }
}
