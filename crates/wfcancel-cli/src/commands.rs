//! `cancel`, `bulk` and `status`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use wfcancel::{
    BulkOptions, CancelError, Capabilities, OwnerKind, Progress, RunFilter, RunRef, Selector, WaitOptions,
    WorkflowCanceller, WorkflowCancellerExt,
};

use crate::cli::{BulkArgs, CancelArgs, FilterArgs, OwnerArgs, StatusArgs};
use crate::error::Failure;
use crate::ids::{BATCH, spawn_reader};
use crate::interrupt::Interrupt;
use crate::output::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Output, Totals, plural};
use crate::setup::{Client, Planned};

/// Default `--wait-timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a run id needs around it for this backend: owner and session, checked against what the
/// backend can use.
#[derive(Debug, Clone)]
struct RunTemplate {
    owner: Option<(OwnerKind, String)>,
    session: Option<String>,
    /// The run under the workflow id (Temporal's `--run-id`).
    sub_id: Option<String>,
}

impl RunTemplate {
    fn run(&self, id: impl AsRef<str>) -> RunRef {
        let mut r = RunRef::new(id);
        if let Some((kind, owner)) = &self.owner {
            r = r.owned_by(*kind, owner.clone());
        }
        if let Some(s) = &self.session {
            r = r.session(s.clone());
        }
        if let Some(s) = &self.sub_id {
            r = r.sub_id(s.clone());
        }
        r
    }
}

/// Checks `--run-id` (`ids`: the ids it would apply to) and sets it on the template.
fn with_run_id(
    client: &Client,
    template: Result<RunTemplate, Failure>,
    run_id: Option<&str>,
    ids: &[String],
) -> Result<RunTemplate, Failure> {
    let Some(rid) = run_id else { return template };
    if !client.takes_run_ids() {
        return Err(Failure::usage(format!(
            "--run-id has no effect with {}: it knows runs by their id alone; leave it out",
            client.name()
        )));
    }
    if ids.len() != 1 {
        return Err(Failure::usage(
            "--run-id names one run of one workflow: give exactly one WORKFLOW_ID with it",
        ));
    }
    if is_address(&ids[0]) {
        return Err(Failure::usage(
            "--run-id does not apply to a run address: write the run id in it (…?sub=RUN_ID)",
        ));
    }
    let mut t = template?;
    t.sub_id = Some(rid.to_owned());
    Ok(t)
}

fn owner_of(o: &OwnerArgs) -> Option<(OwnerKind, String, &'static str)> {
    if let Some(id) = &o.workflow {
        Some((OwnerKind::Workflow, id.clone(), "--workflow"))
    } else if let Some(id) = &o.agent {
        Some((OwnerKind::Agent, id.clone(), "--agent"))
    } else if let Some(id) = &o.thread {
        Some((OwnerKind::Thread, id.clone(), "--thread"))
    } else {
        o.team.as_ref().map(|id| (OwnerKind::Team, id.clone(), "--team"))
    }
}

/// The owner kinds a backend's runs belong to (empty: it knows runs by their id alone).
fn owner_kinds(backend: &str) -> &'static [OwnerKind] {
    match backend {
        "agno" => &[OwnerKind::Workflow, OwnerKind::Agent, OwnerKind::Team],
        "langgraph" => &[OwnerKind::Thread],
        _ => &[],
    }
}

/// Refuses `--force` and `--reason` before any request when the backend cannot honour them,
/// naming the flag and the backend (then the library's own checks: a blank reason, …).
fn check_mode(backend: &'static str, caps: &Capabilities, mode: &crate::cli::ModeArgs) -> Result<(), Failure> {
    if mode.force && !caps.forced {
        let why = match backend {
            "langgraph" => " (its rollback deletes the run and its checkpoints: not a stop)",
            _ => "",
        };
        return Err(Failure::usage(format!(
            "--force is not available with {backend}: it has no forced cancel{why}; leave it out"
        )));
    }
    if mode.reason.is_some() && !caps.reason {
        return Err(Failure::usage(format!(
            "--reason is not available with {backend}: it records no reason, so it would be dropped; leave it out"
        )));
    }
    mode.options().check(backend, caps)?;
    Ok(())
}

/// Whether `text` is a run's address naming a backend the command reaches (`upstash:…`,
/// `agno:…`) rather than a plain run id.
fn is_address(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(prefix, _)| crate::setup::ADDRESS_BACKENDS.contains(&prefix))
}

/// The run `text` names: an address as it says (owner and session flags do not apply to it), a
/// plain id with the owner and session flags (`template`, which may be the reason it cannot).
fn target(text: &str, template: &Result<RunTemplate, Failure>) -> Result<RunRef, Failure> {
    if is_address(text) {
        return text
            .parse::<RunRef>()
            .map_err(|e| Failure::usage(format!("{}: {e}", crate::output::printable(text))));
    }
    match template {
        Ok(t) => Ok(t.run(text)),
        Err(f) => Err(f.clone()),
    }
}

/// Checks the owner and session flags against the backend. `needs_session`: the command reads
/// run states (status, --wait).
fn template(
    backend: &str,
    caps: &Capabilities,
    owner: &OwnerArgs,
    session: Option<&str>,
    needs_session: bool,
) -> Result<RunTemplate, Failure> {
    let owner = owner_of(owner);
    let kinds = owner_kinds(backend);
    match (&owner, caps.needs_owner) {
        (None, true) if backend == "langgraph" => {
            return Err(
                Failure::usage(format!("{backend} needs the thread of each run given by its id")).hint(
                    "pass --thread THREAD_ID, or give each run as its address: langgraph:thread/THREAD_ID/RUN_ID",
                ),
            );
        }
        (None, true) => {
            return Err(Failure::usage(format!("{backend} needs to know what owns the run")).hint(
                "pass --workflow ID, --agent ID or --team ID (AgentOS cancels runs under their workflow, agent or team)",
            ));
        }
        (Some((_, _, flag)), false) => {
            return Err(Failure::usage(format!(
                "{flag} has no effect with {backend}: it knows runs by their id alone; leave it out"
            )));
        }
        (Some((kind, _, flag)), true) if !kinds.contains(kind) => {
            let owners = if backend == "langgraph" {
                "a run belongs to a thread (--thread)"
            } else {
                "a run belongs to a workflow, agent or team (--workflow, --agent, --team)"
            };
            return Err(Failure::usage(format!("{flag} has no effect with {backend}: {owners}")));
        }
        _ => {}
    }
    let session_useful = caps.status_needs_session || backend == "agno";
    if session.is_some() && !session_useful {
        return Err(Failure::usage(format!(
            "--session has no effect with {backend}: it knows runs by their id alone; leave it out"
        )));
    }
    if needs_session && caps.status_needs_session && session.is_none() {
        return Err(
            Failure::usage(format!("{backend} needs the session id to read a run's state"))
                .hint("pass --session ID (AgentOS returns it with the run id when the run starts)"),
        );
    }
    Ok(RunTemplate {
        owner: owner.map(|(k, id, _)| (k, id)),
        session: session.map(str::to_owned),
        sub_id: None,
    })
}

/// `wfcancel cancel RUN_ID...`
pub async fn cancel(
    client: &Client,
    args: &CancelArgs,
    out: &Output,
    interrupt: Option<&Interrupt>,
) -> Result<u8, Failure> {
    let c = client.canceller();
    let caps = c.capabilities();
    if args.wait_timeout.is_some() && !args.wait {
        return Err(Failure::usage("--wait-timeout has no effect without --wait"));
    }
    if args.wait && !caps.status {
        return Err(Failure::usage(format!(
            "--wait needs to read run states, which {} cannot do",
            c.backend()
        )));
    }
    let t = template(c.backend(), &caps, &args.owner, args.session.as_deref(), args.wait);
    let t = match args.temporal.run_id.as_deref() {
        Some(rid) => Ok(with_run_id(client, t, Some(rid), &args.run_ids)?),
        None => t,
    };
    let mut runs: Vec<RunRef> = args.run_ids.iter().map(|id| target(id, &t)).collect::<Result<_, _>>()?;
    // Addresses naming other backends: a router over the configured backend and those.
    let routed = client.for_runs(&mut runs)?;
    let c = routed.as_ref();
    let mode = args.mode.options();
    // --force and --reason are refused, before any request, by a backend that cannot honour them.
    check_mode(c.backend(), &c.capabilities(), &args.mode)?;
    // A malformed run (Restate, LangGraph) is refused before any request, for every run.
    client.check_runs(&runs)?;
    let several = runs.len() > 1;
    let mut totals = Totals::default();
    if args.wait {
        let timeout = args.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT);
        let opts = WaitOptions::with_timeout(timeout);
        // A repeated run is cancelled and waited for once.
        let (runs, repeats) = wfcancel::backend::unique_runs(&runs);
        totals.duplicates = repeats;
        let stop = interrupt.map(Interrupt::handle);
        let mode = &mode;
        let mut results = futures::stream::iter(runs.iter().enumerate())
            .map(|(i, run)| {
                let stop = stop.clone();
                async move {
                    // After a stop, runs not yet started are not attempted.
                    if stop.as_ref().is_some_and(wfcancel::StopHandle::is_stopped) {
                        return (i, run, Waited::NotAttempted);
                    }
                    let outcome = match c.cancel_with(run, mode).await {
                        Ok(o) => o,
                        Err(e) => return (i, run, Waited::Failed(e)),
                    };
                    // The wait sends only reads: a stop ends it at once, the outcome stands.
                    let wait = c.wait_until_terminal(run, opts);
                    let state = match &stop {
                        Some(stop) => tokio::select! {
                            state = wait => Some(state),
                            () = stop.stopped() => None,
                        },
                        None => Some(wait.await),
                    };
                    (i, run, Waited::Done(outcome, state))
                }
            })
            .buffer_unordered(wfcancel::DEFAULT_CONCURRENCY);
        // Results in the order of the arguments, each printed as soon as those before it are.
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0;
        while let Some((i, run, waited)) = results.next().await {
            pending.insert(i, (run, waited));
            while let Some((run, waited)) = pending.remove(&next) {
                next += 1;
                print_waited(run, waited, &mut totals, out);
            }
        }
    } else if let [run] = runs.as_slice() {
        totals.requests = 1;
        match c.cancel_with(run, &mode).await {
            Ok(o) => {
                count_outcome(&mut totals, o);
                out.outcome(run, o, None);
            }
            Err(e) => {
                totals.failed = 1;
                totals.saw_error(&e);
                out.run_failed(run, &e);
            }
        }
    } else {
        // A few ids named on the command line: one cancel per run, concurrently, so that every
        // run gets its own line even from a provider whose bulk call answers only a count.
        let n = runs.len() as u64;
        let progress = ChunkLines::new(out, false, 0, n);
        let mut opts = BulkOptions::new()
            .on_progress(progress.callback())
            .cancel_options(mode.clone());
        if let Some(i) = interrupt {
            opts = opts.stop_handle(i.handle());
        }
        match wfcancel::backend::fan_out(c, &runs, &opts).await {
            Ok(report) => {
                out.report_runs_in_order(&report, &runs);
                totals.add_report(&report);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if out.json || several {
        out.summary(&totals, false);
    }
    Ok(totals.exit_code())
}

/// Prints one run's result of `cancel --wait` and counts it.
fn print_waited(run: &RunRef, waited: Waited, totals: &mut Totals, out: &Output) {
    match waited {
        Waited::NotAttempted => totals.not_attempted += 1,
        Waited::Failed(e) => {
            totals.requests += 1;
            totals.failed += 1;
            totals.saw_error(&e);
            out.run_failed(run, &e);
        }
        Waited::Done(outcome, None) => {
            totals.requests += 1;
            count_outcome(totals, outcome);
            out.outcome(run, outcome, None);
            totals.interrupted.get_or_insert(wfcancel::Interruption::Stopped);
        }
        Waited::Done(outcome, Some(Ok(state))) => {
            totals.requests += 1;
            count_outcome(totals, outcome);
            out.outcome(run, outcome, Some(&state));
        }
        // Nothing to cancel, and no run to read: the same answer as a plain cancel's.
        Waited::Done(outcome @ wfcancel::CancelOutcome::NotActive(_), Some(Err(e)))
            if e.kind() == wfcancel::ErrorKind::NotFound =>
        {
            totals.requests += 1;
            count_outcome(totals, outcome);
            out.outcome(run, outcome, None);
        }
        Waited::Done(outcome, Some(Err(e))) => {
            totals.requests += 1;
            let answered = match outcome {
                wfcancel::CancelOutcome::NotActive(_) => {
                    format!("the cancel answered {outcome}: nothing to cancel")
                }
                _ => format!("the cancel was accepted ({outcome}), then waiting failed"),
            };
            let e = e.with_context(answered);
            totals.failed += 1;
            totals.saw_error(&e);
            out.run_failed(run, &e);
        }
    }
}

/// What cancelling and waiting for one run came to.
enum Waited {
    /// Not started: the command was stopped first.
    NotAttempted,
    /// The cancel failed.
    Failed(CancelError),
    /// The cancel's outcome, then the wait's result (`None`: the command was stopped while
    /// waiting).
    Done(wfcancel::CancelOutcome, Option<Result<wfcancel::RunState, CancelError>>),
}

fn count_outcome(t: &mut Totals, o: wfcancel::CancelOutcome) {
    match o {
        wfcancel::CancelOutcome::Cancelled => t.cancelled += 1,
        wfcancel::CancelOutcome::Requested => t.requested += 1,
        _ => t.not_active += 1,
    }
}

/// Prints a line per provider request for backends that answer counts (Upstash bulk by ids),
/// and moves the progress bar, from a bulk's progress callback.
struct ChunkLines {
    out: Output,
    counts_only: bool,
    /// Ids handled by earlier batches (progress positions are per batch).
    base: u64,
    total: u64,
    prev: Mutex<Progress>,
    chunk: Arc<AtomicU64>,
}

impl ChunkLines {
    fn new(out: &Output, counts_only: bool, base: u64, total: u64) -> Arc<Self> {
        Self::with_counter(out, counts_only, base, total, Arc::new(AtomicU64::new(0)))
    }

    fn with_counter(out: &Output, counts_only: bool, base: u64, total: u64, chunk: Arc<AtomicU64>) -> Arc<Self> {
        Arc::new(ChunkLines {
            out: out.clone(),
            counts_only,
            base,
            total,
            prev: Mutex::new(Progress::default()),
            chunk,
        })
    }

    fn callback(self: &Arc<Self>) -> impl Fn(&Progress) + Send + Sync + 'static {
        let me = Arc::clone(self);
        move |p: &Progress| me.on_progress(p)
    }

    fn on_progress(&self, p: &Progress) {
        self.out.set_progress(self.base + p.done, self.total);
        if !self.counts_only {
            return;
        }
        let mut prev = match self.prev.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let cancelled = p.cancelled.saturating_sub(prev.cancelled);
        let not_active = p.not_active.saturating_sub(prev.not_active);
        *prev = p.clone();
        drop(prev);
        // Failed runs are listed one by one afterwards; a line says what a request settled.
        if cancelled + not_active > 0 {
            let n = self.chunk.fetch_add(1, Ordering::Relaxed) + 1;
            let ids = cancelled + not_active;
            let mut m = Map::new();
            m.insert("chunk".into(), json!(n));
            m.insert("ids".into(), json!(ids));
            m.insert("cancelled".into(), json!(cancelled));
            m.insert("not_active".into(), json!(not_active));
            let text = format!("{}: cancelled {cancelled}, not-active {not_active}", plural(ids, "id"));
            self.out.counts(&format!("request {n}"), m, &text);
        }
    }
}

/// Usage checks that need no configuration.
pub fn precheck_bulk(a: &BulkArgs) -> Result<(), Failure> {
    let has_filter = filter_of(&a.filter, None).is_some();
    if a.ids_file.is_none() && !has_filter && !a.all && a.query.is_none() && a.owner.workflow.is_none() {
        return Err(Failure::usage("bulk needs something to cancel").hint(
            "pass --ids-file PATH (or - for stdin), a filter (--url-exact, --url-prefix, --label, --from, --to, \
             --caller-ip, --flow-control-key, --host, --path; Temporal: --workflow TYPE, --from, --to; \
             Restate: --workflow SERVICE, --handler, --key, --state, --from, --to; LangGraph: --state), \
             a visibility query (Temporal: --query), or --all --yes",
        ));
    }
    crate::journal::precheck(a.journal.as_deref(), a.ids_file.is_some())?;
    // A filter that can never match is refused first, naming its flag: before the configuration
    // is even read, so before any request. (The backend's name is not shown: the flag is.)
    if let Some(f) = filter_of(&a.filter, None).filter(|_| a.ids_file.is_none() && a.query.is_none()) {
        check_filter(a, &f, "wfcancel")?;
    }
    if a.ids_file.is_some() {
        if a.yes {
            return Err(Failure::usage(
                "--yes has no effect with --ids-file: it confirms a bulk by filter, --query or --all (a bulk by \
                 ids needs no confirmation)",
            ));
        }
        if a.drain {
            return Err(Failure::usage(
                "--drain has no effect with --ids-file: every id is cancelled once; it applies to filters and --all",
            ));
        }
        if a.page_size.is_some() {
            return Err(Failure::usage(
                "--page-size has no effect with --ids-file; it applies to filters and --all (runs per request)",
            ));
        }
    }
    Ok(())
}

/// The filter the flags describe; `workflow_type`: the workflow type to match (`--workflow` on
/// a backend that filters by type rather than owning runs by workflow).
pub(crate) fn filter_of(a: &FilterArgs, workflow_type: Option<&str>) -> Option<RunFilter> {
    let mut f = RunFilter::new();
    if let Some(t) = workflow_type {
        f = f.workflow(t.to_owned());
    }
    if let Some(u) = &a.url_exact {
        f = f.url_exact(u.clone());
    }
    if let Some(u) = &a.url_prefix {
        f = f.url_prefix(u.clone());
    }
    for l in &a.labels {
        f = f.label(l.clone());
    }
    if let Some(t) = a.from {
        f = f.from(t);
    }
    if let Some(t) = a.to {
        f = f.to(t);
    }
    for ip in &a.caller_ips {
        f = f.caller_ip(ip.clone());
    }
    for k in &a.flow_control_keys {
        f = f.flow_control_key(k.clone());
    }
    for h in &a.hosts {
        f = f.host(h.clone());
    }
    for p in &a.paths {
        f = f.path(p.clone());
    }
    for s in &a.states {
        f = f.state(s.clone());
    }
    if let Some(h) = &a.handler {
        f = f.custom_field(wfcancel::restate::FIELD_HANDLER, h.clone());
    }
    if let Some(k) = &a.key {
        f = f.custom_field(wfcancel::restate::FIELD_KEY, k.clone());
    }
    (!f.is_empty()).then_some(f)
}

/// The flag that sets each field of a [`RunFilter`], to speak of the command line rather than the
/// library: the core names a field in its errors ([`wfcancel::FilterField::name`]); this maps it.
pub(crate) fn filter_flag(field: &str) -> &'static str {
    use wfcancel::FilterField as F;
    let table = [
        (F::UrlExact, "--url-exact"),
        (F::UrlPrefix, "--url-prefix"),
        (F::Labels, "--label"),
        (F::CreatedRange, "--from/--to"),
        (F::CallerIps, "--caller-ip"),
        (F::FlowControlKeys, "--flow-control-key"),
        (F::Hosts, "--host"),
        (F::Paths, "--path"),
        (F::Workflows, "--workflow"),
        (F::States, "--state"),
        (F::Custom(wfcancel::restate::FIELD_HANDLER.to_owned()), "--handler"),
        (F::Custom(wfcancel::restate::FIELD_KEY.to_owned()), "--key"),
    ];
    match field {
        // The two ends of the range, as `RunFilter::validate` names them.
        "filter.from" => "--from",
        "filter.to" => "--to",
        // A custom field's name or value, as `RunFilter::validate` names it.
        "filter.custom" => "--handler/--key",
        _ => table
            .iter()
            .find(|(f, _)| f.name() == field)
            .map_or("this filter", |(_, flag)| *flag),
    }
}

/// A core error about the filter, said in terms of the flag that set the field.
fn filter_failure(e: CancelError) -> Failure {
    match &e {
        CancelError::InvalidInput { field, message, .. } if field.starts_with("filter") => {
            let flag = filter_flag(field);
            if flag == "this filter" {
                Failure::from(e)
            } else {
                Failure {
                    kind: e.kind().as_str().to_owned(),
                    ..Failure::usage(format!("{flag}: {message}"))
                }
            }
        }
        _ => Failure::from(e),
    }
}

/// Checks, before any request, that the filter can select something: `--from` not after `--to`
/// (said with the user's times, in RFC 3339), and no value that can never match
/// ([`RunFilter::check_can_match`]), each refusal naming its flag.
fn check_filter(a: &BulkArgs, f: &RunFilter, backend: &'static str) -> Result<(), Failure> {
    if let (Some(from), Some(to)) = (a.filter.from, a.filter.to) {
        if from > to {
            return Err(Failure::input(format!(
                "--from ({}) is after --to ({}): no run can match",
                crate::timearg::rfc3339(from),
                crate::timearg::rfc3339(to)
            ))
            .hint("--from is the earlier time; as ages, the longer one (e.g. --from 2h --to 1h)"));
        }
    }
    f.check_can_match(backend).map_err(filter_failure)?;
    f.validate(backend).map_err(filter_failure)
}

/// The selection as typed (`--label nightly --from 2026-11-27T10:00:00Z`; times in RFC 3339),
/// for messages.
fn filter_words(a: &BulkArgs) -> String {
    use crate::output::printable;
    let f = &a.filter;
    let mut w = Vec::new();
    if a.all {
        w.push("--all".to_owned());
    }
    if let Some(t) = &a.owner.workflow {
        w.push(format!("--workflow {}", printable(t)));
    }
    if let Some(u) = &f.url_exact {
        w.push(format!("--url-exact {}", printable(u)));
    }
    if let Some(u) = &f.url_prefix {
        w.push(format!("--url-prefix {}", printable(u)));
    }
    let many = [
        ("--label", &f.labels),
        ("--caller-ip", &f.caller_ips),
        ("--flow-control-key", &f.flow_control_keys),
        ("--host", &f.hosts),
        ("--path", &f.paths),
    ];
    for (flag, values) in many {
        for v in values {
            w.push(format!("{flag} {}", printable(v)));
        }
    }
    if let Some(t) = f.from {
        w.push(format!("--from {}", crate::timearg::rfc3339(t)));
    }
    if let Some(t) = f.to {
        w.push(format!("--to {}", crate::timearg::rfc3339(t)));
    }
    for s in &f.states {
        w.push(format!("--state {s}"));
    }
    if let Some(h) = &f.handler {
        w.push(format!("--handler {}", printable(h)));
    }
    if let Some(k) = &f.key {
        w.push(format!("--key {}", printable(k)));
    }
    if w.is_empty() {
        "this filter".to_owned()
    } else {
        w.join(" ")
    }
}

/// Whether the filter flags select every run (`--url-prefix https://`, `--from 1`): such a bulk
/// is `--all`, and is guarded as `--all` is.
fn filter_is_all(a: &BulkArgs) -> bool {
    a.query.is_none() && a.owner.workflow.is_none() && filter_of(&a.filter, None).is_some_and(|f| f.matches_every_run())
}

/// `wfcancel bulk ...`
pub async fn bulk(
    client: &Client,
    a: &BulkArgs,
    out: &mut Output,
    interrupt: Option<&Interrupt>,
) -> Result<u8, Failure> {
    precheck_bulk(a)?;
    let c = client.canceller();
    let backend = c.backend();
    let caps = c.capabilities();
    let batches = client.runs_batches();
    // A filter that selects every run is --all, with the same guard.
    let all = a.all || filter_is_all(a);
    if a.wait && !batches {
        return Err(Failure::usage(format!(
            "--wait has no effect with {backend}: it waits for a server-side batch (Temporal); use --drain to \
             repeat a filtered cancel until nothing is left"
        )));
    }
    if batches && a.page_size.is_some() {
        return Err(Failure::usage(format!(
            "--page-size has no effect with {backend}: one batch operation covers every match"
        )));
    }
    let mut opts = BulkOptions::new().cancel_options(a.mode.options());
    // --force and --reason are refused, before any request, by a backend that cannot honour them.
    check_mode(backend, &caps, &a.mode)?;
    if let Some(i) = interrupt {
        opts = opts.stop_handle(i.handle());
    }
    if let Some(n) = a.concurrency {
        opts = opts.concurrency(n as usize);
    }
    if let Some(n) = a.page_size {
        opts = opts.page_size(n as usize);
    }
    if let Some(source) = &a.ids_file {
        // Checked when a line is a plain id (lines that are addresses need no flags).
        let t = template(backend, &caps, &a.owner, a.session.as_deref(), false);
        let journal = crate::journal::open(client, a, source)?;
        return bulk_ids(client, source, &t, opts, a.dry_run, journal, out).await;
    }
    // `--workflow` names the workflow type on a backend that filters by type and has no owners.
    let workflow_type = (!caps.needs_owner && caps.filter.workflows)
        .then_some(a.owner.workflow.as_deref())
        .flatten();
    let owner_flag = if workflow_type.is_some() {
        None
    } else {
        owner_of(&a.owner).map(|(_, _, f)| f)
    };
    if let Some(flag) = owner_flag.or(a.session.as_ref().map(|_| "--session")) {
        return Err(Failure::usage(format!(
            "{flag} has no effect with a filter or --all: it applies to runs given by id (--ids-file)"
        )));
    }
    let selector = if let Some(q) = &a.query {
        let Some(dialect) = caps.native_query else {
            return Err(Failure::usage(format!(
                "{backend} takes no native query: --query is for Temporal's visibility queries"
            )));
        };
        let selector = Selector::native_query(dialect, q.clone());
        selector.validate(backend)?;
        selector
    } else {
        match filter_of(&a.filter, workflow_type) {
            Some(f) => {
                if !caps.filter.any() {
                    return Err(Failure::usage(format!(
                        "{backend} cannot cancel by filter: it has no filtered cancel"
                    ))
                    .hint("list the runs and pass their ids with --ids-file PATH (or - for stdin)"));
                }
                if let Some(field) = caps.filter.unsupported_field(&f) {
                    return Err(Failure::usage(format!(
                        "{backend} cannot filter on {}",
                        filter_flag(&field)
                    )));
                }
                check_filter(a, &f, backend)?;
                if all {
                    if !caps.cancel_all {
                        return Err(Failure::usage(format!(
                            "{} selects every run, and {backend} cannot cancel all runs",
                            filter_words(a)
                        ))
                        .hint("list the runs and pass their ids with --ids-file PATH (or - for stdin)"));
                    }
                    Selector::cancel_all_runs()
                } else {
                    Selector::filter(f)
                }
            }
            None if !a.all => {
                return Err(Failure::usage("bulk needs something to cancel").hint(
                    "pass --ids-file PATH (or - for stdin), a filter, or --all --yes (see wfcancel bulk --help)",
                ));
            }
            None => {
                if !caps.cancel_all {
                    return Err(
                        Failure::usage(format!("{backend} cannot cancel all runs: it has no bulk cancel"))
                            .hint("list the runs and pass their ids with --ids-file PATH (or - for stdin)"),
                    );
                }
                Selector::cancel_all_runs()
            }
        }
    };
    let drain = a.drain || a.wait;
    let stop = interrupt.map(Interrupt::handle);
    let limit = client.timeout_flag().unwrap_or(crate::preview::DEFAULT_LIMIT);
    let (verb, noun) = verb_and_noun(backend, a.mode.force);
    // A dry run sends nothing, so it needs no --yes (the refusal below suggests it); it shows
    // the runs where the server can be asked (reads only), and says why when it cannot.
    if a.dry_run {
        let plan = client.plan(&selector, &opts.clone().drain(drain))?;
        let p = match client.planning_only() {
            Some(why) => crate::preview::Preview::unavailable(
                "config",
                format!("{why} (the dry run sends nothing without it; reading the runs needs it)"),
            ),
            None => crate::preview::gather(client, &selector, true, limit, stop.as_ref()).await,
        };
        crate::preview::print(out, &p, client, noun);
        if a.query.is_none() {
            out.note(&format!("selection: {}", filter_words(a)));
        }
        let mut totals = Totals::default();
        for p in &plan {
            out.planned(&p.method, &p.path, p.query.as_deref(), p.repeat, p.body.as_deref());
            totals.requests += 1;
        }
        dry_run_note(out, client, &totals);
        if batches {
            out.note("note: the batch's job id is chosen when it starts");
        }
        match backend {
            "restate" => out.note(&format!(
                "note: each invocation the query finds is then {} (PATCH /invocations/ID/{}); {}",
                if a.mode.force { "killed" } else { "cancelled" },
                if a.mode.force { "kill" } else { "cancel" },
                if drain {
                    "pages are read until a query finds none"
                } else {
                    "one page (add --drain to go on until none is left)"
                }
            )),
            "langgraph" => out.note(
                "note: each thread's runs in that state are listed first (GET /threads/ID/runs), to say which runs \
                 the cancel hits",
            ),
            _ => {}
        }
        out.summary(&totals, true);
        return Ok(EXIT_OK);
    }
    // One rule for every backend: a bulk by filter, query or --all is confirmed before anything
    // is sent: asked on a terminal, --yes otherwise. The plan checks the selector (and the
    // query's values) first.
    let plan = client.plan(&selector, &opts.clone().drain(drain))?;
    refuse_planning_only(client)?;
    let mut total = None;
    if !a.yes {
        let p = crate::preview::gather(client, &selector, true, limit, stop.as_ref()).await;
        crate::preview::print(out, &p, client, noun);
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(refusal(a, client, all, drain, &opts, &plan));
        }
        if p.exact_count() == Some(0) {
            out.note("nothing to cancel: nothing was sent");
            out.summary(&Totals::default(), false);
            return Ok(EXIT_OK);
        }
        let q = crate::preview::question(verb, &p, noun, backend);
        if !crate::preview::confirm(&q, stop.as_ref()).await? {
            return Err(Failure {
                kind: "not_confirmed".into(),
                ..Failure::usage(format!("not confirmed: nothing was sent to {backend}"))
            });
        }
        total = p.exact_count();
    } else if out.shows_progress() {
        // Only for the bar's total (a spinner without it).
        total = crate::preview::total(client, &selector, limit, stop.as_ref()).await;
    }
    bulk_rounds(c, &selector, opts, drain, !batches, total, out).await
}

/// What a bulk does to what, in the backend's words: (`cancel`, `run`), (`terminate`,
/// `workflow`), (`kill`, `invocation`).
fn verb_and_noun(backend: &str, force: bool) -> (&'static str, &'static str) {
    match backend {
        "temporal" => (if force { "terminate" } else { "cancel" }, "workflow"),
        "restate" => (if force { "kill" } else { "cancel" }, "invocation"),
        _ => ("cancel", "run"),
    }
}

/// Why a bulk by filter, query or --all does not start without --yes when stdin is no terminal
/// to ask on, with the requests it would send.
fn refusal(a: &BulkArgs, client: &Client, all: bool, drain: bool, opts: &BulkOptions, plan: &[Planned]) -> Failure {
    let backend = client.name();
    let (what, runs) = verb_and_noun(backend, a.mode.force);
    let why = if client.runs_batches() {
        "a batch operation cannot be undone"
    } else {
        "a cancel cannot be undone"
    };
    let mut msg = if all {
        let mut m = if a.all {
            String::new()
        } else {
            format!("{} selects every run: it is --all; ", filter_words(a))
        };
        m.push_str(&format!(
            "refusing to {what} EVERY active {runs} on {backend} at {} without --yes ({why}); this would send:",
            client.base_url()
        ));
        m
    } else {
        format!(
            "refusing to {what} every {runs} this selects on {backend} at {} without --yes ({why}); this would send:",
            client.base_url()
        )
    };
    for p in plan {
        msg.push_str(&format!("\n  {}", planned_text(p)));
    }
    if !drain && !client.runs_batches() {
        let page = if backend == "restate" {
            opts.page_size_or(wfcancel::restate::BULK_PAGE_SIZE)
        } else {
            opts.page_size
        };
        msg.push_str(&format!(
            "\n  (one round: at most {page} {runs}s; add --drain to repeat until none is left)"
        ));
    }
    Failure::usage(msg).hint(
        "add --yes to confirm (on a terminal, the command asks instead), or use --dry-run to see the requests only",
    )
}

fn planned_text(p: &Planned) -> String {
    let q = p.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
    let body = p.body.as_deref().map(|b| format!(" {b}")).unwrap_or_default();
    match p.repeat {
        Some(n) => format!(
            "{} {}{q}{body}  (repeated until a state read finds nothing left, at most {n} times)",
            p.method, p.path
        ),
        None => format!("{} {}{q}{body}", p.method, p.path),
    }
}

fn dry_run_note(out: &Output, client: &Client, t: &Totals) {
    out.note(&format!(
        "dry run: {} to {} at {}; nothing was sent",
        plural(t.requests, "request"),
        client.name(),
        client.base_url()
    ));
    if let Some(why) = client.planning_only() {
        out.note(&format!("note: {why} (a dry run needs none; a real run will)"));
    }
}

/// A client built with a placeholder token for a dry run must never send.
fn refuse_planning_only(client: &Client) -> Result<(), Failure> {
    match client.planning_only() {
        Some(why) => Err(Failure::config(why.to_owned())),
        None => Ok(()),
    }
}

/// A filtered or cancel-all bulk, with a line per round under `-v`. With `drain`, the backend
/// repeats the call until nothing is left, by its own rule (Upstash: a round that cancels
/// nothing, confirmed by a state read, since one zero may be a stop at a run it cannot cancel),
/// within the round limit. `round_lines`: rounds are worth a line (not for a server-side batch,
/// whose progress reads are not rounds). `total`: how many runs the preview counted, for the
/// progress bar (a spinner without it).
async fn bulk_rounds(
    c: &dyn WorkflowCanceller,
    selector: &Selector,
    opts: BulkOptions,
    drain: bool,
    round_lines: bool,
    total: Option<u64>,
    out: &mut Output,
) -> Result<u8, Failure> {
    let bar = out.start_progress_of(if drain { "draining" } else { "cancelling" }, total);
    // The library runs the rounds and decides when a drain is over (one rule, in one place);
    // this moves the bar, and with -v prints a line per round, from its progress callback.
    let lines = out.clone();
    let round_lines = round_lines && out.verbose > 0;
    let last_failed = AtomicU64::new(0);
    let opts = opts.drain(drain).on_progress(move |p: &Progress| {
        if let Some(n) = p.total.filter(|n| *n > 0 && total.is_none()) {
            lines.set_progress(p.done, n);
        } else {
            bar.set_position(p.done);
        }
        if p.rounds > 0 {
            bar.set_message(format!("round {}", p.rounds));
        }
        if p.failed_requests > last_failed.swap(p.failed_requests, Ordering::Relaxed) {
            return; // a failed round: listed with its error once the bulk returns
        }
        if !round_lines {
            return;
        }
        let mut m = Map::new();
        m.insert("round".into(), json!(p.rounds));
        m.insert("cancelled".into(), json!(p.last_round_cancelled));
        lines.counts(
            &format!("round {}", p.rounds),
            m,
            &format!("cancelled {}", p.last_round_cancelled),
        );
    });
    let report = c.cancel_many(selector, &opts).await;
    out.finish_progress();
    let report = report?;
    for f in &report.failed {
        let round = f.round.unwrap_or(report.rounds);
        out.call_failed(&format!("round {round}"), &f.error);
    }
    if let Some(id) = &report.action_id {
        let mut m = Map::new();
        m.insert("action_id".into(), Value::String(id.clone()));
        let text = if !drain {
            format!("started bulk action {id} (the provider cancels in the background)")
        } else if report.drained {
            format!("{id} is over")
        } else {
            format!(
                "{id}: {}",
                report.not_confirmed.as_deref().unwrap_or("not confirmed over")
            )
        };
        m.insert("over".into(), Value::Bool(drain && report.drained));
        out.counts("bulk action", m, &text);
    }
    if drain && !report.drained && report.action_id.is_none() {
        if let Some(why) = &report.not_confirmed {
            out.note(&format!(
                "warning: not confirmed drained after {}: {why}",
                plural(u64::from(report.rounds), "round")
            ));
        }
    }
    let mut totals = Totals::default();
    totals.add_report(&report);
    out.summary(&totals, false);
    Ok(totals.exit_code())
}

/// A bulk by ids read from a file or stdin, batch by batch, in constant memory.
async fn bulk_ids(
    client: &Client,
    source: &str,
    t: &Result<RunTemplate, Failure>,
    opts: BulkOptions,
    dry_run: bool,
    mut journal: Option<crate::journal::Journal>,
    out: &mut Output,
) -> Result<u8, Failure> {
    let counts_only = client.bulk_counts_only();
    let batch = journal.as_ref().map_or(BATCH, |_| crate::journal::JOURNAL_BATCH);
    let mut rx = spawn_reader(source, batch)?;
    // No spinner over what is being typed at a terminal.
    let typing = source == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let bar = if dry_run || typing {
        indicatif::ProgressBar::hidden()
    } else {
        // A file's ids are counted first for the bar's total (stdin: a spinner).
        let total = if out.shows_progress() {
            let path = source.to_owned();
            tokio::task::spawn_blocking(move || crate::ids::count_ids(&path))
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        out.start_progress_of("cancelling", total)
    };
    if !dry_run {
        refuse_planning_only(client)?;
    }
    let chunk_counter = Arc::new(AtomicU64::new(0));
    let mut totals = Totals::default();
    let mut seen: u64 = 0;
    // Ids read after the bulk stopped early: counted (every input id is accounted for), never sent.
    let mut skipped: u64 = 0;
    let mut input_error = None;
    let mut unread = false;
    // Repeats across batches (each batch drops its own): 8 bytes a run, so a million ids fit.
    let mut seen_runs = crate::ids::SeenRuns::default();
    let stop = opts.stop.clone();
    loop {
        // A stop (Ctrl-C, SIGTERM) also ends the wait for input that may never come.
        let batch = match &stop {
            Some(stop) => tokio::select! {
                batch = rx.recv() => batch,
                () = stop.stopped() => {
                    unread = true;
                    break;
                }
            },
            None => rx.recv().await,
        };
        let Some(batch) = batch else {
            break;
        };
        let ids = match batch {
            Ok(ids) => ids,
            Err(f) => {
                input_error = Some(f);
                break;
            }
        };
        let n = ids.len() as u64;
        if opts.stop.as_ref().is_some_and(wfcancel::StopHandle::is_stopped) {
            // Stopped (Ctrl-C, SIGTERM): what was read is not attempted; nothing more is read.
            skipped += n;
            unread = true;
            break;
        }
        if totals.aborted.is_some() {
            // Keep reading in constant memory, only to count what was not attempted.
            skipped += n;
            continue;
        }
        let runs: Vec<RunRef> = ids.iter().map(|id| target(id, t)).collect::<Result<_, _>>()?;
        // A malformed run (Restate, LangGraph) is refused before this batch sends anything.
        client.check_runs(&runs)?;
        let (mut runs, repeats) = seen_runs.keep_new(runs);
        totals.duplicates += repeats;
        // Runs the journal records as done are never sent again.
        if let Some(j) = journal.as_mut() {
            runs = j.skip_done(runs);
            if runs.is_empty() {
                seen += n;
                bar.set_position(seen);
                continue;
            }
        }
        if dry_run
            && runs
                .iter()
                .any(|r| r.backend_name().is_some_and(|b| b != client.name()))
        {
            return Err(Failure::usage(format!(
                "a dry run plans {}'s requests only; give other backends' runs to a dry run of their own",
                client.name()
            )));
        }
        let routed = client.for_runs(&mut runs)?;
        if !dry_run {
            if let Some(j) = journal.as_mut() {
                // Runs whose cancel an earlier run sent without recording the answer: their
                // state says whether that cancel took (then it is their outcome), else they go
                // out again. The rest are named in a `sending` line before they are sent.
                let (lost, rest): (Vec<RunRef>, Vec<RunRef>) = runs.into_iter().partition(|r| j.was_in_flight(r));
                runs = rest;
                if !lost.is_empty() {
                    let (settled, resend) = crate::journal::settle_lost(routed.as_ref(), lost, &opts).await;
                    if !settled.outcomes.is_empty() {
                        let settled_runs: Vec<RunRef> = settled.outcomes.iter().map(|o| o.run.clone()).collect();
                        j.record(&settled_runs, &settled)?;
                        out.report_runs(&settled);
                        totals.add_report(&settled);
                    }
                    runs.extend(resend);
                }
                j.mark_sending(&runs)?;
                if runs.is_empty() {
                    seen += n;
                    bar.set_position(seen);
                    continue;
                }
            }
        }
        let kept = runs.len() as u64;
        let selector = Selector::Ids(runs);
        if dry_run {
            let plan = client.plan(&selector, &opts)?;
            for p in &plan {
                out.planned(&p.method, &p.path, p.query.as_deref(), p.repeat, p.body.as_deref());
            }
            totals.requests += plan.len() as u64;
            seen += n;
            continue;
        }
        let lines = ChunkLines::with_counter(out, counts_only, seen, 0, Arc::clone(&chunk_counter));
        let batch_opts = opts.clone().on_progress(lines.callback());
        match routed.cancel_many(&selector, &batch_opts).await {
            Ok(report) => {
                if let (Some(j), Selector::Ids(sent)) = (journal.as_mut(), &selector) {
                    j.record(sent, &report)?;
                }
                out.report_runs(&report);
                totals.add_report(&report);
                seen += n;
            }
            Err(e) => {
                out.call_failed(&format!("ids {}..{}", seen + 1, seen + n), &e);
                totals.failed_calls += 1;
                totals.not_attempted += kept;
                totals.saw_error(&e);
                totals.aborted = Some(e);
                seen += n;
            }
        }
        bar.set_position(seen);
    }
    drop(rx);
    out.finish_progress();
    if skipped > 0 {
        totals.not_attempted += skipped;
        out.note(&format!(
            "{} read after the stop were not attempted",
            plural(skipped, "more id")
        ));
    }
    if unread {
        out.note("stopped: the rest of the input was not read");
        totals.interrupted.get_or_insert(wfcancel::Interruption::Stopped);
    }
    if dry_run {
        dry_run_note(out, client, &totals);
    } else if seen == 0 && input_error.is_none() && totals.aborted.is_none() {
        out.note(&format!(
            "no run ids in {}",
            if source == "-" { "stdin" } else { source }
        ));
    }
    if let Some(j) = &journal {
        j.add_to(&mut totals);
    }
    let Some(f) = input_error else {
        out.summary(&totals, dry_run);
        return Ok(totals.exit_code());
    };
    let handled = seen + skipped;
    let f = if handled > 0 {
        Failure {
            message: format!("{} (the {handled} ids before it are in the summary)", f.message),
            ..f
        }
    } else {
        f
    };
    // The error first, then the summary: with --json the summary stays the last line.
    out.fatal(&f);
    totals.input_error = Some((f.kind.clone(), f.message.clone()));
    out.summary(&totals, dry_run);
    Ok(f.code)
}

/// `wfcancel status RUN_ID`
pub async fn status(client: &Client, a: &StatusArgs, out: &Output) -> Result<u8, Failure> {
    let c = client.canceller();
    let caps = c.capabilities();
    if !caps.status {
        return Err(Failure::usage(format!("{} cannot read run states", c.backend())));
    }
    let t = template(c.backend(), &caps, &a.owner, a.session.as_deref(), true);
    let t = match a.temporal.run_id.as_deref() {
        Some(rid) => Ok(with_run_id(client, t, Some(rid), std::slice::from_ref(&a.run_id))?),
        None => t,
    };
    let mut runs = [target(&a.run_id, &t)?];
    client.check_runs(&runs)?;
    let routed = client.for_runs(&mut runs)?;
    let [run] = runs;
    match routed.status(&run).await {
        Ok(state) => {
            out.state(&run, &state);
            Ok(EXIT_OK)
        }
        Err(e) => {
            // Not a state: stderr (and an error record with -o json), never the state column.
            out.run_error(&run, &e);
            Ok(exit_for(&e))
        }
    }
}

fn exit_for(e: &CancelError) -> u8 {
    if crate::output::is_usage_error(e) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfcancel::FilterField;

    /// Every field the core can name in a filter error maps to a flag: a message never falls
    /// back to the library's field names for a flag the command has.
    #[test]
    fn every_filter_field_has_its_flag() {
        for field in [
            FilterField::UrlExact,
            FilterField::UrlPrefix,
            FilterField::Labels,
            FilterField::CreatedRange,
            FilterField::CallerIps,
            FilterField::FlowControlKeys,
            FilterField::Hosts,
            FilterField::Paths,
            FilterField::Workflows,
            FilterField::States,
            FilterField::Custom(wfcancel::restate::FIELD_HANDLER.to_owned()),
            FilterField::Custom(wfcancel::restate::FIELD_KEY.to_owned()),
        ] {
            let flag = filter_flag(&field.name());
            assert!(flag.starts_with("--"), "{field:?} -> {flag}");
        }
        for field in ["filter.from", "filter.to", "filter.custom"] {
            assert!(filter_flag(field).starts_with("--"), "{field}");
        }
        assert_eq!(filter_flag("filter.hosts"), "--host");
        assert_eq!(filter_flag("filter.caller_ips"), "--caller-ip");
    }

    /// The core's own errors, as `check_can_match` and `validate` give them, come out in flag
    /// terms, with the user's value.
    #[test]
    fn core_filter_errors_are_said_with_the_flag() {
        let e = RunFilter::new()
            .host("api.example.com:443")
            .check_can_match("upstash")
            .unwrap_err();
        let f = filter_failure(e);
        assert_eq!(f.code, EXIT_USAGE);
        assert!(
            f.message.starts_with("--host: \"api.example.com:443\""),
            "{}",
            f.message
        );
        assert!(!f.message.contains("filter."), "{}", f.message);
        let e = RunFilter::new().label("").validate("upstash").unwrap_err();
        assert!(filter_failure(e).message.starts_with("--label: "));
        // Not a filter error: left as the core says it.
        let e = CancelError::invalid_input("upstash", "run_id", "blank");
        assert!(filter_failure(e).message.contains("run_id"));
    }
}
