//! See before you cancel: what a filtered, `--query` or `--all` bulk would hit (a count where the
//! provider counts, else the first page of runs), and the question asked on a terminal before
//! anything is sent.

use std::io::Write;
use std::time::Duration;

use serde_json::{Map, Value, json};
use wfcancel::{CancelError, ListOptions, ListedRun, RunFilter, RunState, Selector, StopHandle};

use crate::error::Failure;
use crate::output::{Output, TYPE_PREVIEW, plural, printable};
use crate::setup::Client;

/// Runs shown in a preview.
pub const SHOWN: usize = 10;
/// Runs read from a backend that cannot count: one page; a next page makes it "at least".
pub const PAGE: usize = 100;
/// How long a preview may take when `--timeout` is not given: an unreachable server must not
/// hold the question for the whole retry budget.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(10);

/// What the provider said a bulk would hit, or why it could not say.
#[derive(Debug, Default)]
pub struct Preview {
    /// How many runs match (with `exact` false: at least that many).
    pub count: Option<u64>,
    /// Whether `count` is the whole count (else the first page's).
    pub exact: bool,
    /// The first few runs (at most [`SHOWN`]).
    pub runs: Vec<ListedRun>,
    /// Why there is no count: (kind, message).
    pub unavailable: Option<(String, String)>,
}

impl Preview {
    /// A preview that could not be made, and why.
    pub fn unavailable(kind: &str, message: impl Into<String>) -> Self {
        Preview {
            unavailable: Some((kind.to_owned(), message.into())),
            ..Preview::default()
        }
    }

    /// The exact count, when there is one.
    pub fn exact_count(&self) -> Option<u64> {
        self.count.filter(|_| self.exact)
    }

    /// `12 runs`, `at least 100 runs`, or `None` when unknown.
    pub fn how_many(&self, noun: &str) -> Option<String> {
        let n = self.count?;
        Some(if self.exact {
            plural(n, noun)
        } else {
            format!("at least {}", plural(n, noun))
        })
    }
}

/// The states a bulk targets when its filter names none, per backend: what it can cancel.
fn active_states(backend: &str) -> &'static [RunState] {
    match backend {
        "upstash" => &[RunState::Running],
        "langgraph" => &[RunState::Pending, RunState::Running],
        _ => &[RunState::Pending, RunState::Running, RunState::Paused],
    }
}

/// The listing filter of the runs a bulk by `selector` would hit: its filter, in the states the
/// bulk targets when it names none. `None`: the selector is no filter (ids, a native query).
fn listing_filter(backend: &str, selector: &Selector) -> Option<RunFilter> {
    let mut f = match selector {
        Selector::Filter(f) => f.clone(),
        Selector::All(_) => RunFilter::new(),
        _ => return None,
    };
    if f.states.is_none() {
        for s in active_states(backend) {
            f = f.state(s.clone());
        }
    }
    Some(f)
}

/// Asks the provider what a bulk by `selector` would hit: the count where it counts (Temporal:
/// the batch's own visibility query; Restate), else the first page of runs; `with_runs`: also
/// the first few runs. Bounded by `limit`; a stop (Ctrl-C) ends it.
pub async fn gather(
    client: &Client,
    selector: &Selector,
    with_runs: bool,
    limit: Duration,
    stop: Option<&StopHandle>,
) -> Preview {
    let read = tokio::time::timeout(limit, read(client, selector, with_runs));
    let answer = match stop {
        Some(stop) => tokio::select! {
            a = read => a,
            () = stop.stopped() => return Preview::unavailable("stopped", "stopped before the provider answered"),
        },
        None => read.await,
    };
    match answer {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => Preview::unavailable(e.kind().as_str(), e.to_string()),
        Err(_) => Preview::unavailable(
            "timeout",
            format!("{} did not answer within {}s", client.name(), limit.as_secs_f32()),
        ),
    }
}

async fn read(client: &Client, selector: &Selector, with_runs: bool) -> Result<Preview, CancelError> {
    if let Some(t) = client.temporal() {
        let q = t.batch_query(selector)?;
        let n = t.count_runs_matching(&q).await?;
        let runs = if with_runs && n > 0 {
            t.list_runs_matching(&q, &ListOptions::new().limit(SHOWN)).await?.runs
        } else {
            Vec::new()
        };
        return Ok(Preview {
            count: Some(n),
            exact: true,
            runs,
            unavailable: None,
        });
    }
    let c = client.canceller();
    let backend = c.backend();
    let caps = c.capabilities();
    let Some(filter) = listing_filter(backend, selector) else {
        return Err(CancelError::unsupported(backend, "this selection cannot be counted"));
    };
    if caps.count {
        let n = c.count_runs(&filter).await?;
        let runs = if with_runs && n > 0 {
            c.list_runs(&filter, &ListOptions::new().limit(SHOWN)).await?.runs
        } else {
            Vec::new()
        };
        Ok(Preview {
            count: Some(n),
            exact: true,
            runs,
            unavailable: None,
        })
    } else if caps.list {
        let page = c.list_runs(&filter, &ListOptions::new().limit(PAGE)).await?;
        let mut runs = page.runs;
        let n = runs.len() as u64;
        runs.truncate(if with_runs { SHOWN } else { 0 });
        Ok(Preview {
            count: Some(n),
            exact: page.next.is_none(),
            runs,
            unavailable: None,
        })
    } else {
        Err(CancelError::unsupported(
            backend,
            format!("{backend} can neither count nor list runs"),
        ))
    }
}

/// The number alone, for a progress bar's total (where the provider counts; `None` otherwise or
/// on any failure: the bar is then a spinner).
pub async fn total(client: &Client, selector: &Selector, limit: Duration, stop: Option<&StopHandle>) -> Option<u64> {
    let counts = client.temporal().is_some() || client.canceller().capabilities().count;
    if !counts {
        return None;
    }
    gather(client, selector, false, limit, stop).await.exact_count()
}

/// Prints a preview: text to stderr (a line, then a table of the first runs), or one
/// `{"type": "preview", …}` record on stdout with `-o json`.
pub fn print(out: &Output, p: &Preview, client: &Client, noun: &str) {
    let backend = client.name();
    if out.json {
        let mut m = Map::new();
        m.insert("count".into(), json!(p.count));
        m.insert("exact".into(), json!(p.exact));
        m.insert(
            "runs".into(),
            Value::Array(
                p.runs
                    .iter()
                    .map(|r| {
                        let mut run = crate::list::run_json(backend, r);
                        run.remove("type");
                        run.remove("backend");
                        Value::Object(run)
                    })
                    .collect(),
            ),
        );
        m.insert(
            "error".into(),
            p.unavailable.as_ref().map_or(
                Value::Null,
                |(kind, message)| json!({ "kind": kind, "message": message }),
            ),
        );
        out.object(TYPE_PREVIEW, m);
        return;
    }
    let at = format!("{backend} at {}", client.base_url());
    match (&p.unavailable, p.how_many(noun)) {
        (Some((_, why)), _) => out.note(&format!("could not count the {noun}s this selects on {at}: {why}")),
        (None, Some(n)) if p.exact => out.note(&format!(
            "{n} {} on {at}{}",
            if p.count == Some(1) { "matches" } else { "match" },
            if p.runs.is_empty() { "" } else { ":" }
        )),
        (None, Some(n)) => out.note(&format!(
            "{n} match on {at} (one page read: {backend} cannot count){}",
            if p.runs.is_empty() { "" } else { ":" }
        )),
        (None, None) => {}
    }
    if !p.runs.is_empty() {
        for line in crate::list::table_lines(&p.runs) {
            out.note(&format!("  {line}"));
        }
        let more = p.count.unwrap_or(0).saturating_sub(p.runs.len() as u64);
        if more > 0 {
            out.note(&format!(
                "  … and {}{more} more",
                if p.exact { "" } else { "at least " }
            ));
        }
    }
}

/// The question: `Cancel these 12 runs on upstash? [y/N] ` (with the verb of the mode:
/// terminate, kill).
pub fn question(verb: &str, p: &Preview, noun: &str, backend: &str) -> String {
    let mut verb = verb.to_owned();
    if let Some(first) = verb.get(0..1) {
        verb = format!("{}{}", first.to_uppercase(), &verb[1..]);
    }
    match (p.exact_count(), p.count) {
        (Some(n), _) => format!(
            "{verb} {} {} on {backend}? [y/N] ",
            if n == 1 { "this" } else { "these" },
            plural(n, noun)
        ),
        (None, Some(n)) => format!("{verb} these {n}+ {noun}s (at least {n}) on {backend}? [y/N] "),
        (None, None) => format!("{verb} every {noun} this selects on {backend} (count unknown)? [y/N] "),
    }
}

/// Asks `question` on stderr and reads the answer from the terminal (stdin): true only for `y`
/// or `yes` (any case). End of input, anything else, or a stop (Ctrl-C) is no.
pub async fn confirm(question: &str, stop: Option<&StopHandle>) -> Result<bool, Failure> {
    {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", printable(question));
        let _ = err.flush();
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("wfcancel-confirm".into())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().read_line(&mut line);
            let _ = tx.send(read.map(|n| (n, line)));
        })
        .map_err(|e| Failure::config(format!("cannot read the answer: {e}")))?;
    let answer = match stop {
        Some(stop) => tokio::select! {
            a = rx => a,
            () = stop.stopped() => {
                eprintln!();
                return Ok(false);
            }
        },
        None => rx.await,
    };
    match answer {
        Ok(Ok((n, line))) => {
            if n == 0 {
                // End of input (Ctrl-D): the cursor is still on the question's line.
                eprintln!();
            }
            let a = line.trim().to_ascii_lowercase();
            Ok(a == "y" || a == "yes")
        }
        Ok(Err(e)) => Err(Failure::input(format!("cannot read the answer: {e}"))),
        Err(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_says_how_many_and_where() {
        let exact = Preview {
            count: Some(12),
            exact: true,
            ..Preview::default()
        };
        assert_eq!(
            question("cancel", &exact, "run", "upstash"),
            "Cancel these 12 runs on upstash? [y/N] "
        );
        let one = Preview {
            count: Some(1),
            exact: true,
            ..Preview::default()
        };
        assert_eq!(
            question("terminate", &one, "workflow", "temporal"),
            "Terminate this 1 workflow on temporal? [y/N] "
        );
        let page = Preview {
            count: Some(100),
            exact: false,
            ..Preview::default()
        };
        assert_eq!(
            question("cancel", &page, "run", "upstash"),
            "Cancel these 100+ runs (at least 100) on upstash? [y/N] "
        );
        let unknown = Preview::unavailable("transport", "down");
        assert_eq!(
            question("kill", &unknown, "invocation", "restate"),
            "Kill every invocation this selects on restate (count unknown)? [y/N] "
        );
        assert_eq!(page.how_many("run").as_deref(), Some("at least 100 runs"));
    }

    #[test]
    fn a_listing_filter_targets_what_the_bulk_can_cancel() {
        let f = listing_filter("upstash", &Selector::filter(RunFilter::new().label("x"))).unwrap();
        assert_eq!(f.states, Some(vec![RunState::Running]));
        let f = listing_filter("restate", &Selector::cancel_all_runs()).unwrap();
        assert_eq!(f.states.as_ref().map(Vec::len), Some(3));
        let named = RunFilter::new().state(RunState::Pending);
        let f = listing_filter("langgraph", &Selector::filter(named)).unwrap();
        assert_eq!(f.states, Some(vec![RunState::Pending]));
        assert!(listing_filter("temporal", &Selector::native_query("temporal", "x")).is_none());
    }
}
