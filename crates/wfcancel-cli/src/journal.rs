//! `bulk --ids-file … --journal FILE`: a bulk by ids that survives the operator's machine.
//!
//! The journal is an append-only file of JSON lines:
//!
//! ```text
//! {"wfcancel_journal":1,"backend":"agno","base_url":"http://127.0.0.1:8000/","selector":"ids","mode":"graceful","source":"ids.txt"}
//! {"run":"agno:workflow/nightly/run-1","outcome":"requested"}
//! {"run":"agno:workflow/nightly/run-2","outcome":"failed","error":"…"}
//! {"runs":["upstash:wfr_1","upstash:wfr_2"],"cancelled":1,"requested":0,"not_active":1}
//! ```
//!
//! - The first line names the command's identity (backend, base URL, selector kind, mode); a
//!   journal written by another command is refused (exit 2), never mixed.
//! - Then one line per run outcome, written after each batch of ids ([`JOURNAL_BATCH`]) as one
//!   `write` followed by `sync_data`. A backend whose bulk by ids answers counts per request
//!   rather than outcomes per run (Upstash) gets one line per batch instead: the runs it settled
//!   and their counts (which run was cancelled and which was already over is not told).
//! - On a re-run, every run with a terminal outcome recorded (cancelled, requested, not active)
//!   is skipped and never sent again; failed runs, and runs with nothing recorded, are tried.
//! - A crash can cut the last line: an incomplete tail (no newline, or lines that do not parse
//!   after the last good one) is ignored and cut off before anything is appended. A bad line
//!   followed by good ones is corruption: refused.
//! - Before each batch is sent, a `{"sending":[…]}` line names its runs (synced). A run named
//!   there without an outcome had its cancel in flight when the process died: a re-run reads its
//!   state first (where the backend can read one). Read cancelled (or stopping) → the outcome
//!   that cancel would have had (`cancelled` where the backend's cancel confirms, or with
//!   `--force`; else `requested`), on the strength of that state read and the cancel this job
//!   sent; anything else, or no state to read → sent again (harmless: a second cancel is never
//!   an error). So a resumed job's summary equals an uninterrupted one's.
//! - Memory: the runs already done are held as 128-bit keyed hashes of their address (16 bytes a
//!   run in a hash set, about 40 MB at most for a million runs); two runs share a hash with a
//!   probability of about n²/2¹²⁹. The ids themselves keep streaming in bounded batches.
//! - One process at a time per journal (no lock is taken).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde_json::{Map, Value, json};
use wfcancel::{BulkReport, CancelOutcome, RunRef};

use crate::error::Failure;
use crate::output::{EXIT_FAILURE, Totals};

/// Ids per batch with a journal: the outcomes of a batch are written when it is over, so a
/// smaller batch than [`crate::ids::BATCH`] loses less work to a crash (at most this many runs
/// are sent again).
pub const JOURNAL_BATCH: usize = 500;

/// The journal format's version (the header's `wfcancel_journal`).
const VERSION: u64 = 1;

/// What a journal was written for: a re-run must be the same command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub backend: String,
    pub base_url: String,
    /// `ids` (the only kind journaled).
    pub selector: String,
    /// `graceful` or `forced`.
    pub mode: String,
    /// The ids file (or `-`), recorded for the reader; not compared (a file may move).
    pub source: String,
}

impl Identity {
    fn header(&self) -> Value {
        json!({
            "wfcancel_journal": VERSION,
            "backend": self.backend,
            "base_url": self.base_url,
            "selector": self.selector,
            "mode": self.mode,
            "source": self.source,
        })
    }

    fn from_header(v: &Value) -> Option<Identity> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        if v.get("wfcancel_journal").and_then(Value::as_u64) != Some(VERSION) {
            return None;
        }
        Some(Identity {
            backend: s("backend")?,
            base_url: s("base_url")?,
            selector: s("selector")?,
            mode: s("mode")?,
            source: s("source").unwrap_or_default(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} at {}, bulk by {}, {} cancel",
            self.backend, self.base_url, self.selector, self.mode
        )
    }
}

/// Terminal outcomes recorded by earlier runs of the job.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Prior {
    pub cancelled: u64,
    pub requested: u64,
    pub not_active: u64,
}

/// An open journal: what is done, and the file to append to (none for a dry run).
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    backend: &'static str,
    done: DoneSet,
    /// Runs a `sending` line names: their cancel was sent (or about to be) by an earlier
    /// invocation; those not in `done` were in flight when it stopped.
    sending: DoneSet,
    prior: Prior,
    /// Runs skipped as done by this invocation.
    skipped: u64,
}

/// Runs done, as 128-bit keyed hashes of their address.
#[derive(Default)]
struct DoneSet {
    set: HashSet<u128>,
    a: std::collections::hash_map::RandomState,
    b: std::collections::hash_map::RandomState,
}

impl DoneSet {
    fn hash(&self, key: &str) -> u128 {
        (u128::from(self.a.hash_one(key)) << 64) | u128::from(self.b.hash_one(key))
    }
    fn insert(&mut self, key: &str) -> bool {
        let h = self.hash(key);
        self.set.insert(h)
    }
    fn contains(&self, key: &str) -> bool {
        self.set.contains(&self.hash(key))
    }
}

fn journal_failure(path: &Path, what: &str, e: &std::io::Error) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        kind: "journal".into(),
        message: format!("--journal {}: {what}: {e}", path.display()),
        hint: None,
    }
}

/// `--journal` is for a bulk by ids: refused elsewhere, with the reason.
pub fn precheck(journal: Option<&str>, ids_file: bool) -> Result<(), Failure> {
    if journal.is_some() && !ids_file {
        return Err(Failure::usage(
            "--journal applies to --ids-file: a filter, --query or --all selects only runs still active, \
             so running the same command again is already its resume",
        )
        .hint("add --drain to repeat a filtered cancel until nothing is left; or list the runs (wfcancel list) and cancel them by id with --journal"));
    }
    Ok(())
}

/// The journal `bulk` names (`--journal`), opened for this command: `None` without the flag.
pub fn open(client: &crate::setup::Client, a: &crate::cli::BulkArgs, source: &str) -> Result<Option<Journal>, Failure> {
    let Some(path) = a.journal.as_deref() else {
        return Ok(None);
    };
    let id = Identity {
        backend: client.name().to_owned(),
        base_url: client.base_url(),
        selector: "ids".into(),
        mode: if a.mode.force { "forced" } else { "graceful" }.into(),
        source: source.to_owned(),
    };
    Journal::open(path, &id, client.name(), !a.dry_run).map(Some)
}

/// A run's key in the journal: its address, naming the configured backend when the run was
/// given as a plain id.
pub fn key(run: &RunRef, backend: &str) -> String {
    match run.backend_name() {
        Some(_) => run.to_string(),
        None => format!("{backend}:{run}"),
    }
}

fn outcome_name(o: CancelOutcome) -> &'static str {
    match o {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        _ => "not_active",
    }
}

impl Journal {
    /// Opens (or creates) the journal, reads what is done, checks it was written for this
    /// command, cuts off a torn last line. `write: false` (a dry run): reads only, creates
    /// nothing.
    pub fn open(path: &str, id: &Identity, backend: &'static str, write: bool) -> Result<Journal, Failure> {
        let path = PathBuf::from(path);
        let file = if write {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)
                .map(Some)
        } else {
            match File::open(&path) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }
        .map_err(|e| journal_failure(&path, "cannot open it", &e))?;
        let mut j = Journal {
            path,
            file: None,
            backend,
            done: DoneSet::default(),
            sending: DoneSet::default(),
            prior: Prior::default(),
            skipped: 0,
        };
        let Some(mut file) = file else {
            return Ok(j);
        };
        let (header, valid_end, len) = j.load(&file)?;
        match header {
            Some(h)
                if h != Identity {
                    source: h.source.clone(),
                    ..id.clone()
                } =>
            {
                return Err(Failure::usage(format!(
                    "--journal {} was written for another command ({}); this one is {}: not mixing them",
                    j.path.display(),
                    h.describe(),
                    id.describe()
                ))
                .hint("use another journal file for this command (or delete that one to start over)"));
            }
            _ => {}
        }
        let done = j.prior.cancelled + j.prior.requested + j.prior.not_active;
        if done > 0 {
            eprintln!(
                "resuming from --journal {}: {done} runs already done are skipped (never sent again)",
                j.path.display()
            );
        }
        if !write {
            return Ok(j);
        }
        if valid_end < len {
            file.set_len(valid_end)
                .map_err(|e| journal_failure(&j.path, "cannot cut its torn last line", &e))?;
            eprintln!(
                "note: --journal {}: ignored an incomplete last line ({} bytes; the process writing it was stopped)",
                j.path.display(),
                len - valid_end
            );
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| journal_failure(&j.path, "cannot seek", &e))?;
        if header.is_none() {
            let line = format!("{}\n", id.header());
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| journal_failure(&j.path, "cannot write its header", &e))?;
            // The new file's name is durable too.
            if let Some(dir) = j.path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
        }
        j.file = Some(file);
        Ok(j)
    }

    /// Reads the journal: its header, the runs done, and the offset after the last good line
    /// (and the file's length).
    fn load(&mut self, file: &File) -> Result<(Option<Identity>, u64, u64), Failure> {
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut header = None;
        let mut buf = Vec::new();
        let mut offset: u64 = 0;
        let mut valid_end: u64 = 0;
        let mut bad_line: Option<u64> = None;
        let mut line_no: u64 = 0;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| journal_failure(&self.path, "cannot read it", &e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            offset += n as u64;
            let complete = buf.last() == Some(&b'\n');
            let parsed = if complete {
                serde_json::from_slice::<Value>(&buf).ok()
            } else {
                None
            };
            if header.is_none() {
                // The first line: the header, or a header cut by a crash while it was written
                // (all the file holds, no newline). Anything else is not a journal: refused,
                // never cut off or appended to.
                match parsed.as_ref().and_then(Identity::from_header) {
                    Some(h) => {
                        header = Some(h);
                        valid_end = offset;
                        continue;
                    }
                    None if !complete && buf.first() == Some(&b'{') => break,
                    None => {
                        return Err(Failure::usage(format!(
                            "--journal {}: not a wfcancel journal (its first line names no command)",
                            self.path.display()
                        ))
                        .hint("give a new file, or the journal an earlier run of this command wrote"));
                    }
                }
            }
            let ok = match parsed {
                Some(v) => self.read_record(&v),
                None => false,
            };
            if ok {
                if let Some(bad) = bad_line {
                    return Err(Failure::usage(format!(
                        "--journal {}: line {bad} is damaged and lines after it are not: not resuming from it",
                        self.path.display()
                    )));
                }
                valid_end = offset;
            } else if bad_line.is_none() {
                bad_line = Some(line_no);
            }
        }
        Ok((header, valid_end, offset))
    }

    /// Takes in one record; false if it is not one.
    fn read_record(&mut self, v: &Value) -> bool {
        if let Some(runs) = v.get("sending").and_then(Value::as_array) {
            for run in runs {
                let Some(run) = run.as_str() else { return false };
                self.sending.insert(run);
            }
            return true;
        }
        if let Some(run) = v.get("run").and_then(Value::as_str) {
            let Some(outcome) = v.get("outcome").and_then(Value::as_str) else {
                return false;
            };
            let slot = match outcome {
                "cancelled" => Some(&mut self.prior.cancelled),
                "requested" => Some(&mut self.prior.requested),
                "not_active" => Some(&mut self.prior.not_active),
                "failed" => None,
                _ => return false,
            };
            if let Some(slot) = slot {
                if self.done.insert(run) {
                    *slot += 1;
                }
            }
            return true;
        }
        if let Some(runs) = v.get("runs").and_then(Value::as_array) {
            let n = |k: &str| v.get(k).and_then(Value::as_u64);
            let (Some(c), Some(r), Some(na)) = (n("cancelled"), n("requested"), n("not_active")) else {
                return false;
            };
            let mut fresh = 0;
            for run in runs {
                let Some(run) = run.as_str() else { return false };
                fresh += u64::from(self.done.insert(run));
            }
            // Written whole, after the runs it counts were sent once: fresh unless the same
            // runs were written twice (then counted once).
            if fresh == runs.len() as u64 {
                self.prior.cancelled += c;
                self.prior.requested += r;
                self.prior.not_active += na;
            }
            return true;
        }
        false
    }

    /// Whether an earlier invocation sent `run`'s cancel (a `sending` line) and recorded no
    /// outcome for it: its answer was lost when that invocation stopped.
    pub fn was_in_flight(&self, run: &RunRef) -> bool {
        let k = key(run, self.backend);
        self.sending.contains(&k) && !self.done.contains(&k)
    }

    /// Appends a `sending` line naming `runs` and syncs it, before their cancels are sent: a
    /// re-run after a crash then knows which runs' answers it lost (and reads their state
    /// rather than taking a second cancel's "not active" for the outcome).
    pub fn mark_sending(&mut self, runs: &[RunRef]) -> Result<(), Failure> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let keys: Vec<String> = runs.iter().map(|r| key(r, self.backend)).collect();
        let mut line = json!({ "sending": keys }).to_string();
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| journal_failure(&self.path, "cannot write it", &e))?;
        for k in &keys {
            self.sending.insert(k);
        }
        Ok(())
    }

    /// `runs` without those already done (counted as skipped).
    pub fn skip_done(&mut self, runs: Vec<RunRef>) -> Vec<RunRef> {
        let before = runs.len();
        let kept: Vec<RunRef> = runs
            .into_iter()
            .filter(|r| !self.done.contains(&key(r, self.backend)))
            .collect();
        self.skipped += (before - kept.len()) as u64;
        kept
    }

    /// Appends the outcomes of one batch (`sent`: the runs it sent) and syncs them to disk.
    pub fn record(&mut self, sent: &[RunRef], report: &BulkReport) -> Result<(), Failure> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let backend = self.backend;
        let mut lines = String::new();
        let mut accounted: HashSet<String> = HashSet::new();
        let mut per_run = Prior::default();
        let mut new_done = Vec::new();
        for o in &report.outcomes {
            let k = key(&o.run, backend);
            match o.outcome {
                CancelOutcome::Cancelled => per_run.cancelled += 1,
                CancelOutcome::Requested => per_run.requested += 1,
                _ => per_run.not_active += 1,
            }
            lines.push_str(&json!({ "run": k, "outcome": outcome_name(o.outcome) }).to_string());
            lines.push('\n');
            new_done.push(k.clone());
            accounted.insert(k);
        }
        for f in &report.failed {
            for run in &f.runs {
                let k = key(run, backend);
                let mut m = Map::new();
                m.insert("run".into(), Value::String(k.clone()));
                m.insert("outcome".into(), Value::String("failed".into()));
                m.insert("error".into(), Value::String(f.error.to_string()));
                lines.push_str(&Value::Object(m).to_string());
                lines.push('\n');
                accounted.insert(k);
            }
        }
        for run in &report.not_attempted {
            accounted.insert(key(run, backend));
        }
        // Runs settled without an outcome of their own (a backend that answers counts).
        let rest: Vec<String> = sent
            .iter()
            .map(|r| key(r, backend))
            .filter(|k| !accounted.contains(k))
            .collect();
        if !rest.is_empty() {
            let counts = Prior {
                cancelled: report.cancelled.saturating_sub(per_run.cancelled),
                requested: report.requested.saturating_sub(per_run.requested),
                not_active: report.not_active.saturating_sub(per_run.not_active),
            };
            // Only when the counts cover exactly these runs: otherwise their fate is unknown
            // (say, a failure that named no run), and they are left to be tried again.
            if counts.cancelled + counts.requested + counts.not_active == rest.len() as u64 {
                lines.push_str(
                    &json!({
                        "runs": rest,
                        "cancelled": counts.cancelled,
                        "requested": counts.requested,
                        "not_active": counts.not_active,
                    })
                    .to_string(),
                );
                lines.push('\n');
                new_done.extend(rest);
            } else {
                tracing::warn!(
                    runs = rest.len(),
                    "a batch's counts do not cover its runs without an outcome; they are not journaled"
                );
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        file.write_all(lines.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| {
                journal_failure(&self.path, "cannot write it", &e).hint(
                    "stopped: the last batch's runs were sent but not recorded; a re-run sends them again (harmless)",
                )
            })?;
        // Counted in the summary through this invocation's report; `prior` keeps what earlier
        // invocations did.
        for k in new_done {
            self.done.insert(&k);
        }
        Ok(())
    }

    /// Adds what earlier invocations did to the summary, and how many runs were skipped.
    pub fn add_to(&self, totals: &mut Totals) {
        totals.cancelled += self.prior.cancelled;
        totals.requested += self.prior.requested;
        totals.not_active += self.prior.not_active;
        totals.already_done = Some(self.skipped);
    }
}

/// Runs whose cancel an earlier invocation sent and whose answer it lost (a crash): each is read
/// (where the backend can read its state), and one read cancelled, terminated or stopping gets
/// the outcome that cancel would have answered (`Cancelled` with `--force` or where a cancel
/// confirms, else `Requested`): the job's summary then equals an uninterrupted one's. The others
/// (still running, another state, no state to read, a failed read) are returned to be sent again.
pub async fn settle_lost(
    c: &dyn wfcancel::WorkflowCanceller,
    lost: Vec<RunRef>,
    opts: &wfcancel::BulkOptions,
) -> (BulkReport, Vec<RunRef>) {
    let caps = c.capabilities();
    let outcome = if opts.cancel.mode == wfcancel::CancelMode::Forced || caps.cancel_confirms {
        CancelOutcome::Cancelled
    } else {
        CancelOutcome::Requested
    };
    let (can_read, needs_session) = (caps.status, caps.status_needs_session);
    let read = futures::stream::iter(lost)
        .map(|run| async move {
            let state = if can_read && !(needs_session && run.session_id().is_none()) {
                c.status(&run).await.ok()
            } else {
                None
            };
            (run, state)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut report = BulkReport::new(c.backend());
    let mut resend = Vec::new();
    for (run, state) in read {
        match state {
            Some(wfcancel::RunState::Cancelled | wfcancel::RunState::Terminated | wfcancel::RunState::Cancelling) => {
                report.record(run, outcome, true)
            }
            _ => resend.push(run),
        }
    }
    (report, resend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfcancel::{BulkFailure, CancelError, Inactive};

    fn id(backend: &str) -> Identity {
        Identity {
            backend: backend.into(),
            base_url: "http://127.0.0.1:9/".into(),
            selector: "ids".into(),
            mode: "graceful".into(),
            source: "ids.txt".into(),
        }
    }

    fn path(name: &str) -> String {
        let p = std::env::temp_dir().join(format!("wfcancel-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p.to_string_lossy().into_owned()
    }

    fn runs(ids: &[&str]) -> Vec<RunRef> {
        ids.iter().map(|i| RunRef::new(*i).workflow("wf")).collect()
    }

    /// Per-run outcomes are journaled; failures are not done; a reopened journal skips the
    /// done runs and brings back their counts.
    #[test]
    fn per_run_outcomes_resume() {
        let p = path("per-run");
        let mut j = Journal::open(&p, &id("agno"), "agno", true).unwrap();
        let sent = runs(&["a", "b", "c", "d"]);
        let mut r = BulkReport::new("agno");
        r.record(sent[0].clone(), CancelOutcome::Requested, true);
        r.record(sent[1].clone(), CancelOutcome::NotActive(Inactive::Finished), true);
        r.record_failure(BulkFailure::new(
            vec![sent[2].clone()],
            CancelError::transport("agno", "down"),
        ));
        r.not_attempted.push(sent[3].clone());
        j.record(&sent, &r).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains(r#"{"outcome":"requested","run":"agno:workflow/wf/a"}"#),
            "{text}"
        );
        let mut j = Journal::open(&p, &id("agno"), "agno", true).unwrap();
        let left = j.skip_done(runs(&["a", "b", "c", "d", "e"]));
        let left: Vec<&str> = left.iter().map(RunRef::run_id).collect();
        assert_eq!(left, ["c", "d", "e"]);
        let mut t = Totals::default();
        j.add_to(&mut t);
        assert_eq!(
            (t.requested, t.not_active, t.cancelled, t.already_done),
            (1, 1, 0, Some(2))
        );
        let _ = std::fs::remove_file(&p);
    }

    /// A backend that answers counts: one line for the batch's settled runs with its counts.
    #[test]
    fn counts_only_batches_are_one_line() {
        let p = path("counts");
        let mut j = Journal::open(&p, &id("upstash"), "upstash", true).unwrap();
        let sent: Vec<RunRef> = ["w1", "w2", "w3"].iter().map(|i| RunRef::new(*i)).collect();
        let mut r = BulkReport::new("upstash");
        r.cancelled = 1;
        r.not_active = 1;
        r.record_failure(BulkFailure::new(
            vec![sent[2].clone()],
            CancelError::transport("upstash", "down"),
        ));
        j.record(&sent, &r).unwrap();
        // Counts that do not cover the runs left: nothing recorded for them.
        let more: Vec<RunRef> = ["w4", "w5"].iter().map(|i| RunRef::new(*i)).collect();
        let mut r = BulkReport::new("upstash");
        r.cancelled = 1;
        j.record(&more, &r).unwrap();
        drop(j);
        let mut j = Journal::open(&p, &id("upstash"), "upstash", true).unwrap();
        let all: Vec<RunRef> = ["w1", "w2", "w3", "w4", "w5"].iter().map(|i| RunRef::new(*i)).collect();
        let left: Vec<String> = j.skip_done(all).iter().map(|r| r.run_id().to_owned()).collect();
        assert_eq!(left, ["w3", "w4", "w5"]);
        let mut t = Totals::default();
        j.add_to(&mut t);
        assert_eq!((t.cancelled, t.not_active), (1, 1));
        let _ = std::fs::remove_file(&p);
    }

    /// A torn last line is ignored and cut off; appending after it gives a clean journal.
    #[test]
    fn a_torn_last_line_is_cut_off() {
        let p = path("torn");
        let mut j = Journal::open(&p, &id("agno"), "agno", true).unwrap();
        let sent = runs(&["a"]);
        let mut r = BulkReport::new("agno");
        r.record(sent[0].clone(), CancelOutcome::Requested, true);
        j.record(&sent, &r).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"run":"agno:workflow/wf/b","outc"#).unwrap();
        drop(f);
        let mut j = Journal::open(&p, &id("agno"), "agno", true).unwrap();
        assert_eq!(j.skip_done(runs(&["a", "b"])).len(), 1);
        let sent = runs(&["b"]);
        let mut r = BulkReport::new("agno");
        r.record(sent[0].clone(), CancelOutcome::Requested, true);
        j.record(&sent, &r).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{text}");
        let mut j = Journal::open(&p, &id("agno"), "agno", false).unwrap();
        assert!(j.skip_done(runs(&["a", "b"])).is_empty());
        // A dry run reads a journal and writes nothing, and a missing one is empty.
        assert!(Journal::open(&path("missing"), &id("agno"), "agno", false).is_ok());
        assert!(!Path::new(&path("missing")).exists());
        let _ = std::fs::remove_file(&p);
    }

    /// A journal that cannot be written stops the bulk (exit 1), saying what a re-run does.
    #[test]
    fn a_write_failure_is_an_error() {
        let p = path("readonly");
        let mut j = Journal::open(&p, &id("agno"), "agno", true).unwrap();
        j.file = Some(File::open(&p).unwrap()); // read-only: writes fail
        let sent = runs(&["a"]);
        let mut r = BulkReport::new("agno");
        r.record(sent[0].clone(), CancelOutcome::Requested, true);
        let e = j.record(&sent, &r).err().unwrap();
        assert_eq!(e.code, EXIT_FAILURE);
        assert!(e.message.contains("cannot write it"), "{}", e.message);
        assert!(e.hint.unwrap().contains("sends them again"));
        // Not recorded: not done.
        assert_eq!(j.skip_done(runs(&["a"])).len(), 1);
        let _ = std::fs::remove_file(&p);
    }

    /// A damaged line followed by good ones, another command's journal, and a file that is no
    /// journal are refused (exit 2).
    #[test]
    fn refusals() {
        let p = path("refusals");
        drop(Journal::open(&p, &id("agno"), "agno", true).unwrap());
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"run\":\nnot json\n{\"run\":\"agno:x\",\"outcome\":\"requested\"}\n")
            .unwrap();
        drop(f);
        let e = Journal::open(&p, &id("agno"), "agno", true).err().unwrap();
        assert!(e.message.contains("line 2 is damaged"), "{}", e.message);
        assert_eq!(e.code, crate::output::EXIT_USAGE);

        let p = path("other");
        drop(Journal::open(&p, &id("agno"), "agno", true).unwrap());
        let mut other = id("agno");
        other.base_url = "http://127.0.0.1:10/".into();
        let e = Journal::open(&p, &other, "agno", true).err().unwrap();
        assert!(e.message.contains("another command"), "{}", e.message);
        assert!(
            e.message.contains("127.0.0.1:9") && e.message.contains("127.0.0.1:10"),
            "{}",
            e.message
        );
        assert_eq!(e.code, crate::output::EXIT_USAGE);
        other = id("agno");
        other.mode = "forced".into();
        assert!(Journal::open(&p, &other, "agno", true).is_err());
        // Another source file is the same command (a file may move).
        other = id("agno");
        other.source = "moved.txt".into();
        assert!(Journal::open(&p, &other, "agno", true).is_ok());

        let p = path("not-a-journal");
        std::fs::write(&p, "run-1\nrun-2\n").unwrap();
        let e = Journal::open(&p, &id("agno"), "agno", true).err().unwrap();
        assert!(e.message.contains("not a wfcancel journal"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "run-1\nrun-2\n", "left as it was");
        // A header cut by a crash, alone in the file: written anew.
        std::fs::write(&p, r#"{"backend":"ag"#).unwrap();
        drop(Journal::open(&p, &id("agno"), "agno", true).unwrap());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with(r#"{"backend":"agno""#) && text.ends_with("}\n"),
            "{text}"
        );
        let _ = std::fs::remove_file(&p);
    }
}
