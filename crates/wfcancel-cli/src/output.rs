//! What the command prints: one line (or JSON object) per result, a summary, and the exit code.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};
use wfcancel::{BulkReport, CancelError, CancelOutcome, ErrorKind, Inactive, RunRef, RunState};

use crate::error::Failure;

/// Exit code: everything ended cancelled, requested or not active.
pub const EXIT_OK: u8 = 0;
/// Exit code: a provider or transport failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage, configuration or invalid input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a bulk where some runs succeeded and some failed.
pub const EXIT_PARTIAL: u8 = 3;

/// JSON record types (`"type"` of every object printed with `-o json`); README.md, "The
/// command", documents them.
/// One run's outcome (`cancel`, `bulk`): `outcome` is `cancelled`, `requested`, `not_active`,
/// `failed` (with `error`) or `not_attempted`.
pub const TYPE_RESULT: &str = "result";
/// A run's state (`status`).
pub const TYPE_STATUS: &str = "status";
/// Counts of a request or round that answers counts, not runs.
pub const TYPE_PROGRESS: &str = "progress";
/// A request a dry run would send.
pub const TYPE_PLAN: &str = "plan";
/// An error that is not one run's outcome (a failed round, a refused command).
pub const TYPE_ERROR: &str = "error";
/// The last record of `cancel` and `bulk`.
pub const TYPE_SUMMARY: &str = "summary";
/// What a filtered or `--all` bulk would hit, before it is confirmed (and in a dry run).
pub const TYPE_PREVIEW: &str = "preview";
/// `emulate`: where the emulator listens.
#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
pub const TYPE_EMULATOR: &str = "emulator";

/// The text label of an outcome, padded so that run ids line up.
fn outcome_label(o: CancelOutcome) -> &'static str {
    match o {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        CancelOutcome::NotActive(_) => "not-active",
        _ => "done",
    }
}

/// `run-9 (workflow nightly, session s1)`. Ids are printed escaped when they hold control
/// characters, so an id can never drive the terminal (escape sequences, carriage returns).
pub fn run_text(run: &RunRef) -> String {
    let mut extra = Vec::new();
    if let Some(o) = run.owner() {
        extra.push(format!("{} {}", o.kind, printable(&o.id)));
    }
    if let Some(s) = run.session_id() {
        extra.push(format!("session {}", printable(s)));
    }
    if extra.is_empty() {
        printable(run.run_id()).into_owned()
    } else {
        format!("{} ({})", printable(run.run_id()), extra.join(", "))
    }
}

/// `s` as is, or escaped (`\u{1b}`, `\r` …) when it holds a control character.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        std::borrow::Cow::Owned(s.escape_debug().to_string())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `{"run": "run-9", "workflow": "nightly", "session": "s1"}` (fields only when known).
/// `{"run": id, "workflow"|"agent"|…: owner, "session": …, "address": "<the run's address>"}`
/// (the address from the library's serde: store it to cancel the run later).
fn run_json(run: &RunRef) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("run".into(), Value::String(run.run_id().to_owned()));
    m.insert("address".into(), serde_json::to_value(run).unwrap_or(Value::Null));
    if let Some(o) = run.owner() {
        m.insert(o.kind.as_str().into(), Value::String(o.id.to_string()));
    }
    if let Some(s) = run.session_id() {
        m.insert("session".into(), Value::String(s.to_owned()));
    }
    m
}

/// `{"kind": "unauthenticated", "backend": …, "message": "...", "status"?, "retryable"}`: the
/// library's serde of the error.
pub fn error_json(e: &CancelError) -> Value {
    serde_json::to_value(e).unwrap_or_else(|_| json!({ "kind": e.kind().as_str(), "message": e.message() }))
}

/// Totals across everything a command did, for the summary and the exit code.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub cancelled: u64,
    pub requested: u64,
    pub not_active: u64,
    pub failed: u64,
    pub not_attempted: u64,
    pub requests: u64,
    pub rounds: u64,
    pub drained: bool,
    pub action_id: Option<String>,
    /// Failures that are not runs (a filtered round, a refused request).
    pub failed_calls: u64,
    /// The kind of every failure seen (to tell usage errors from provider failures).
    pub only_usage_failures: Option<bool>,
    /// The error that stopped the work early, if any.
    pub aborted: Option<CancelError>,
    /// An error reading the input (kind, message) that ended the command; repeated in the
    /// summary so that the last JSON line tells the whole story.
    pub input_error: Option<(String, String)>,
    /// Repeated runs dropped before sending.
    pub duplicates: u64,
    /// Why the bulk ended early (a stop, a deadline), if it did.
    pub interrupted: Option<wfcancel::Interruption>,
    /// Why a drain could not confirm nothing is left, if it could not.
    pub not_confirmed: Option<String>,
    /// With `--journal`: runs skipped as done by an earlier run of the job (the counts above
    /// then cover the whole job).
    pub already_done: Option<u64>,
}

impl Totals {
    /// Counts one error's kind.
    pub fn saw_error(&mut self, e: &CancelError) {
        let usage = is_usage_error(e);
        self.only_usage_failures = Some(self.only_usage_failures.unwrap_or(true) && usage);
    }

    /// Adds a bulk report's figures.
    pub fn add_report(&mut self, r: &BulkReport) {
        self.duplicates += r.duplicates_dropped;
        if self.interrupted.is_none() {
            self.interrupted = r.interrupted;
        }
        if r.not_confirmed.is_some() {
            self.not_confirmed.clone_from(&r.not_confirmed);
        }
        self.cancelled += r.cancelled;
        self.requested += r.requested;
        self.not_active += r.not_active;
        self.not_attempted += r.not_attempted.len() as u64;
        self.requests += r.requests_sent;
        self.rounds += u64::from(r.rounds);
        self.drained |= r.drained;
        if self.action_id.is_none() {
            self.action_id.clone_from(&r.action_id);
        }
        for f in &r.failed {
            if f.runs.is_empty() {
                self.failed_calls += 1;
            } else {
                self.failed += f.runs.len() as u64;
            }
            self.saw_error(&f.error);
        }
        if let Some(e) = &r.aborted {
            self.saw_error(e);
            if self.aborted.is_none() {
                self.aborted = Some(e.clone());
            }
        }
    }

    fn succeeded(&self) -> u64 {
        self.cancelled + self.requested + self.not_active
    }

    fn any_failure(&self) -> bool {
        self.failed > 0
            || self.not_attempted > 0
            || self.failed_calls > 0
            || self.aborted.is_some()
            || self.interrupted.is_some()
    }

    /// 0 when nothing failed; 3 when some runs succeeded and some failed; else 2 when every
    /// failure was a usage error, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if !self.any_failure() {
            EXIT_OK
        } else if self.succeeded() > 0 {
            EXIT_PARTIAL
        } else if self.only_usage_failures == Some(true) {
            EXIT_USAGE
        } else {
            EXIT_FAILURE
        }
    }

    fn summary_json(&self, backend: Option<&str>, dry_run: bool) -> Value {
        let mut s = json!({
            "cancelled": self.cancelled,
            "requested": self.requested,
            "not_active": self.not_active,
            "failed": self.failed,
            "not_attempted": self.not_attempted,
            "requests": self.requests,
            "rounds": self.rounds,
            "drained": self.drained,
            "action_id": self.action_id,
            "backend": backend,
        });
        if let Some(map) = s.as_object_mut() {
            map.insert("duplicates_dropped".into(), json!(self.duplicates));
            if let Some(i) = self.interrupted {
                map.insert("interrupted".into(), serde_json::to_value(i).unwrap_or(Value::Null));
            }
            if let Some(why) = &self.not_confirmed {
                map.insert("not_confirmed".into(), json!(why));
            }
            if self.failed_calls > 0 {
                map.insert("failed_requests".into(), json!(self.failed_calls));
            }
            if let Some(e) = &self.aborted {
                map.insert("aborted".into(), error_json(e));
            }
            if let Some((kind, message)) = &self.input_error {
                map.insert("input_error".into(), json!({ "kind": kind, "message": message }));
            }
            if dry_run {
                map.insert("dry_run".into(), Value::Bool(true));
            }
            if let Some(n) = self.already_done {
                map.insert("already_done".into(), json!(n));
            }
        }
        s
    }

    fn summary_text(&self) -> String {
        let mut parts = vec![
            format!("cancelled {}", self.cancelled),
            format!("requested {}", self.requested),
            format!("not-active {}", self.not_active),
            format!("failed {}", self.failed),
        ];
        if self.not_attempted > 0 {
            parts.push(format!("not attempted {}", self.not_attempted));
        }
        let mut s = format!("total      {}", parts.join(", "));
        let mut tail = vec![plural(self.requests, "request")];
        if self.rounds > 0 {
            tail.push(plural(self.rounds, "round"));
        }
        if self.drained {
            tail.push("drained".into());
        }
        if self.duplicates > 0 {
            tail.push(format!("{} dropped", plural(self.duplicates, "repeated id")));
        }
        if let Some(i) = self.interrupted {
            tail.push(format!("interrupted: {i}"));
        }
        if let Some(why) = &self.not_confirmed {
            tail.push(format!("not confirmed drained: {why}"));
        }
        if self.failed_calls > 0 {
            tail.push(format!("{} failed", plural(self.failed_calls, "request")));
        }
        if let Some(id) = &self.action_id {
            tail.push(format!("bulk action {id}"));
        }
        if let Some(n) = self.already_done.filter(|n| *n > 0) {
            tail.push(format!("{n} already done by an earlier run (journal)"));
        }
        s.push_str(&format!(" ({})", tail.join(", ")));
        s
    }
}

/// A bar with its total, rate and time left; a spinner with the count so far.
fn bar_style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{spinner} {prefix} [{bar:30}] {pos}/{len} runs ({per_sec}, ETA {eta}) {msg}"
    } else {
        "{spinner} {elapsed} {prefix}: {pos} runs {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// An outcome label's colour: cancelled green, requested cyan, not active yellow, failed red,
/// not attempted dimmed.
fn label_style(label: &str) -> anstyle::Style {
    use anstyle::{AnsiColor, Style};
    match label {
        "cancelled" => Style::new().fg_color(Some(AnsiColor::Green.into())),
        "requested" => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
        "not-active" => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        "failed" => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        "skipped" => Style::new().dimmed(),
        _ => Style::new(),
    }
}

/// `1 request`, `3 requests`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Whether the error is the caller's doing (bad input, configuration, an operation the backend
/// cannot do): exit code 2.
pub fn is_usage_error(e: &CancelError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::InvalidInput | ErrorKind::Config | ErrorKind::Unsupported
    )
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colours when stdout is a terminal and `NO_COLOR` is not set (to any value).
    #[default]
    Auto,
    /// Colours even into a pipe or a file, and despite `NO_COLOR`.
    Always,
    /// No colours.
    Never,
}

impl ColorChoice {
    /// Whether outcome labels are coloured: `auto` colours only a terminal's stdout, never with
    /// `NO_COLOR` set (any value, even empty) or `TERM=dumb`.
    pub fn enabled(self, stdout_tty: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && env("NO_COLOR").is_none() && env("TERM").as_deref() != Some("dumb"),
        }
    }
}

/// Prints results, in text or JSON, keeping the progress bar (if any) out of the way.
#[derive(Debug, Clone)]
pub struct Output {
    pub json: bool,
    /// The backend's name, once known.
    pub backend: Option<&'static str>,
    bar: ProgressBar,
    /// Whether stdout is a terminal (lines then interrupt the bar, which is redrawn after).
    stdout_tty: bool,
    /// Outcome labels in colour (text only; see [`ColorChoice::enabled`]).
    pub color: bool,
    /// `-v`: also a line per drain round.
    pub verbose: u8,
}

impl Output {
    pub fn new(json: bool, backend: Option<&'static str>) -> Self {
        Output {
            json,
            backend,
            bar: ProgressBar::hidden(),
            stdout_tty: std::io::stdout().is_terminal(),
            color: false,
            verbose: 0,
        }
    }

    /// With `--color` applied (never in JSON) and `-v`'s count.
    pub fn styled(mut self, color: ColorChoice, verbose: u8) -> Self {
        let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        self.color = !self.json && color.enabled(self.stdout_tty, &env);
        self.verbose = verbose;
        self
    }

    /// Moves the progress bar (nothing when there is none).
    pub fn set_progress(&self, pos: u64, total: u64) {
        if total > 0 && self.bar.length() != Some(total) {
            self.bar.set_length(total);
            self.bar.set_style(bar_style(true));
        }
        self.bar.set_position(pos);
    }

    /// Whether a progress bar would be drawn: stderr is a terminal, and the output is not JSON.
    pub fn shows_progress(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }

    /// Starts a progress bar on stderr (a spinner when `total` is unknown), with its rate and
    /// time left, only when stderr is a terminal and the output is not JSON.
    pub fn start_progress_of(&mut self, what: &str, total: Option<u64>) -> ProgressBar {
        if self.shows_progress() {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            bar.set_style(bar_style(total.is_some()));
            bar.set_prefix(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = bar;
        }
        self.bar.clone()
    }

    /// Removes the progress bar.
    pub fn finish_progress(&self) {
        self.bar.finish_and_clear();
    }

    /// An outcome label padded to 10 columns, in its colour when colours are on (the padding
    /// outside the escapes, so that columns line up either way).
    fn label(&self, label: &str) -> String {
        let pad = " ".repeat(10usize.saturating_sub(label.len()));
        if self.color {
            let style = label_style(label);
            format!("{style}{label}{style:#}{pad}")
        } else {
            format!("{label}{pad}")
        }
    }

    /// Writes one line to stdout. A closed pipe (`| head`) is not an error worth reporting.
    pub fn line(&self, s: &str) {
        let write = || {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
        };
        if self.stdout_tty && !self.bar.is_hidden() {
            self.bar.suspend(write)
        } else {
            write()
        }
    }

    /// Writes one line to stderr.
    pub fn note(&self, s: &str) {
        self.bar.suspend(|| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{s}");
        });
    }

    /// Writes one JSON record: its `type` first, its fields, and the backend.
    pub fn object(&self, kind: &str, fields: Map<String, Value>) {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(kind.to_owned()));
        m.extend(fields);
        m.insert(
            "backend".into(),
            self.backend.map_or(Value::Null, |b| Value::String(b.to_owned())),
        );
        self.line(&Value::Object(m).to_string());
    }

    /// One run's outcome; `state` is its terminal state after `--wait`.
    pub fn outcome(&self, run: &RunRef, outcome: CancelOutcome, state: Option<&RunState>) {
        if self.json {
            let mut m = run_json(run);
            m.insert("outcome".into(), serde_json::to_value(outcome).unwrap_or(Value::Null));
            if let Some(s) = state {
                m.insert("state".into(), serde_json::to_value(s).unwrap_or(Value::Null));
            }
            self.object(TYPE_RESULT, m);
        } else {
            // Why there was nothing to cancel, when the provider told.
            let why = match outcome.inactive() {
                Some(w @ (Inactive::Finished | Inactive::NoSuchRun)) => format!(" ({})", w.describe()),
                _ => String::new(),
            };
            match state {
                Some(s) => self.line(&format!(
                    "{} {}{why} -> {s}",
                    self.label(outcome_label(outcome)),
                    run_text(run)
                )),
                None => self.line(&format!(
                    "{} {}{why}",
                    self.label(outcome_label(outcome)),
                    run_text(run)
                )),
            }
        }
    }

    /// One run that failed.
    pub fn run_failed(&self, run: &RunRef, e: &CancelError) {
        if self.json {
            let mut m = run_json(run);
            m.insert("outcome".into(), Value::String("failed".into()));
            m.insert("error".into(), error_json(e));
            self.object(TYPE_RESULT, m);
        } else {
            self.line(&format!("{} {}: {}", self.label("failed"), run_text(run), e.message()));
        }
    }

    /// An error about one run that is not a cancel's outcome (`status`): to stderr, and an
    /// `error` record on stdout with `-o json`.
    pub fn run_error(&self, run: &RunRef, e: &CancelError) {
        if self.json {
            let mut m = run_json(run);
            m.insert("error".into(), error_json(e));
            self.object(TYPE_ERROR, m);
        }
        self.note(&format!("error: {}: {}", run_text(run), e.message()));
    }

    /// One run never tried because the bulk stopped early.
    pub fn run_not_attempted(&self, run: &RunRef) {
        if self.json {
            let mut m = run_json(run);
            m.insert("outcome".into(), Value::String("not_attempted".into()));
            self.object(TYPE_RESULT, m);
        } else {
            self.line(&format!("{} {}: not attempted", self.label("skipped"), run_text(run)));
        }
    }

    /// A failure that concerns no run in particular (a filtered round, a whole request).
    pub fn call_failed(&self, what: &str, e: &CancelError) {
        if self.json {
            let mut m = Map::new();
            m.insert("request".into(), Value::String(what.to_owned()));
            m.insert("error".into(), error_json(e));
            self.object(TYPE_ERROR, m);
        } else {
            self.line(&format!("{} {what}: {}", self.label("failed"), e.message()));
        }
    }

    /// A run's state.
    pub fn state(&self, run: &RunRef, state: &RunState) {
        if self.json {
            let mut m = run_json(run);
            m.insert("state".into(), serde_json::to_value(state).unwrap_or(Value::Null));
            m.insert("terminal".into(), Value::Bool(state.is_terminal()));
            self.object(TYPE_STATUS, m);
        } else {
            self.line(&format!("{:<10} {}", state.as_str(), run_text(run)));
        }
    }

    /// A line of counts, for backends that answer counts rather than per-run outcomes.
    pub fn counts(&self, what: &str, fields: Map<String, Value>, text: &str) {
        if self.json {
            self.object(TYPE_PROGRESS, fields);
        } else {
            self.line(&format!("{what:<10} {text}"));
        }
    }

    /// One planned request of a dry run.
    pub fn planned(&self, method: &str, path: &str, query: Option<&str>, sends: Option<u32>, body: Option<&str>) {
        if self.json {
            let mut m = Map::new();
            m.insert("dry_run".into(), Value::Bool(true));
            m.insert("method".into(), Value::String(method.to_owned()));
            m.insert("path".into(), Value::String(path.to_owned()));
            m.insert(
                "query".into(),
                query.map_or(Value::Null, |q| Value::String(q.to_owned())),
            );
            if let Some(n) = sends {
                m.insert("repeat_up_to".into(), json!(n));
            }
            if let Some(b) = body {
                m.insert(
                    "body".into(),
                    serde_json::from_str(b).unwrap_or_else(|_| Value::String(b.to_owned())),
                );
            }
            self.object(TYPE_PLAN, m);
        } else {
            let q = query.map(|q| format!("?{q}")).unwrap_or_default();
            let q = match body {
                Some(b) => format!("{q} {b}"),
                None => q,
            };
            match sends {
                Some(n) => self.line(&format!(
                    "{method} {path}{q}  (repeated until nothing is left: two calls in a row that cancel nothing; at most {n} times)"
                )),
                None => self.line(&format!("{method} {path}{q}")),
            }
        }
    }

    /// Every per-run line of a bulk report (successes, failures, runs not attempted).
    pub fn report_runs(&self, r: &BulkReport) {
        for o in &r.outcomes {
            self.outcome(&o.run, o.outcome, None);
        }
        for f in &r.failed {
            if f.runs.is_empty() {
                let what = match (f.round, f.chunk) {
                    (Some(round), _) => format!("round {round}"),
                    (None, Some(chunk)) => format!("request {chunk}"),
                    (None, None) => "request".to_owned(),
                };
                self.call_failed(&what, &f.error);
            } else {
                for run in &f.runs {
                    self.run_failed(run, &f.error);
                }
            }
        }
        for run in &r.not_attempted {
            self.run_not_attempted(run);
        }
    }

    /// Every per-run line of a bulk report, in the order of `order` (the command's arguments);
    /// failures that concern no run in particular come last.
    pub fn report_runs_in_order(&self, r: &BulkReport, order: &[RunRef]) {
        enum Line<'a> {
            Outcome(&'a RunRef, CancelOutcome),
            Failed(&'a RunRef, &'a CancelError),
            NotAttempted(&'a RunRef),
            Call(String, &'a CancelError),
        }
        let mut index = std::collections::HashMap::new();
        for (i, run) in order.iter().enumerate() {
            index.entry(run).or_insert(i);
        }
        let at = |run: &RunRef| index.get(run).copied().unwrap_or(usize::MAX - 1);
        let mut lines: Vec<(usize, Line<'_>)> = Vec::new();
        for o in &r.outcomes {
            lines.push((at(&o.run), Line::Outcome(&o.run, o.outcome)));
        }
        for f in &r.failed {
            if f.runs.is_empty() {
                let what = match (f.round, f.chunk) {
                    (Some(round), _) => format!("round {round}"),
                    (None, Some(chunk)) => format!("request {chunk}"),
                    (None, None) => "request".to_owned(),
                };
                lines.push((usize::MAX, Line::Call(what, &f.error)));
            } else {
                for run in &f.runs {
                    lines.push((at(run), Line::Failed(run, &f.error)));
                }
            }
        }
        for run in &r.not_attempted {
            lines.push((at(run), Line::NotAttempted(run)));
        }
        // A stable sort: lines of one position keep the report's order.
        lines.sort_by_key(|(i, _)| *i);
        for (_, line) in lines {
            match line {
                Line::Outcome(run, o) => self.outcome(run, o, None),
                Line::Failed(run, e) => self.run_failed(run, e),
                Line::NotAttempted(run) => self.run_not_attempted(run),
                Line::Call(what, e) => self.call_failed(&what, e),
            }
        }
    }

    /// The summary object (JSON) or line (text).
    pub fn summary(&self, t: &Totals, dry_run: bool) {
        if self.json {
            let mut m = Map::new();
            m.insert("type".into(), Value::String(TYPE_SUMMARY.into()));
            m.insert("summary".into(), t.summary_json(self.backend, dry_run));
            self.line(&Value::Object(m).to_string());
        } else if !dry_run {
            self.line(&t.summary_text());
        }
        if let Some(e) = &t.aborted {
            self.note(&format!("error: stopped early: {e}"));
        }
    }

    /// Reports a failure that ends the command: to stderr, and as a JSON object on stdout
    /// with `--json`.
    pub fn fatal(&self, f: &Failure) {
        if self.json {
            let mut m = Map::new();
            m.insert("error".into(), json!({ "kind": f.kind, "message": f.message }));
            self.object(TYPE_ERROR, m);
        }
        self.note(&f.render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_text_forms() {
        assert_eq!(run_text(&RunRef::new("wfr_1")), "wfr_1");
        assert_eq!(
            run_text(&RunRef::new("run-9").workflow("nightly")),
            "run-9 (workflow nightly)"
        );
        assert_eq!(
            run_text(&RunRef::new("r").agent("a").session("s")),
            "r (agent a, session s)"
        );
    }

    #[test]
    fn exit_codes() {
        let mut t = Totals::default();
        assert_eq!(t.exit_code(), EXIT_OK);
        t.not_active = 1;
        assert_eq!(t.exit_code(), EXIT_OK);
        t.failed = 1;
        t.saw_error(&CancelError::transport("x", "down"));
        assert_eq!(t.exit_code(), EXIT_PARTIAL);
        t.not_active = 0;
        assert_eq!(t.exit_code(), EXIT_FAILURE);
        let mut u = Totals {
            failed: 2,
            ..Default::default()
        };
        u.saw_error(&CancelError::invalid_input("x", "run_id", "blank"));
        assert_eq!(u.exit_code(), EXIT_USAGE);
    }
}
