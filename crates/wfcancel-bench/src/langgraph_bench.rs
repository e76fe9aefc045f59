//! Item 10: a real LangGraph Agent Server (`langgraph dev` from the pinned venv of
//! `tools/langgraph-live/`, its async test graph), 200 running runs (one per thread) cancelled
//! until every one is over, by `LangGraphCanceller::cancel_many` by ids (run addresses with their
//! thread) and by the official Python SDK (`langgraph_sdk`, `client.runs.cancel` for each, asyncio)
//! at the same concurrency. Both sides start from freshly started running runs on the same
//! server, in pairs in alternating order; each is timed from the first cancel until the server
//! reads every run finished (`GET /threads/{t}/runs/{r}`, the runs not yet seen finished, read
//! again as soon as a round ends, the same reader for both).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use wfcancel_core::{BulkOptions, CancelOutcome, RunRef, Selector, WorkflowCanceller};
use wfcancel_langgraph::LangGraphCanceller;

use crate::external::{self, Paths};
use crate::live::{self, Proc, TempDir};
use crate::report::{Met, Row, thousands};
use crate::{Opts, Results};

/// The row's number in the table.
pub const ITEM: &str = "10";
const GOAL: f64 = 3.0;
/// Cancels in flight, both sides (the benchmark's concurrency elsewhere too).
const CONCURRENCY: usize = crate::CONCURRENCY;
/// Runs started (and states read) at once.
const START_CONCURRENCY: usize = 32;

fn what(n: usize) -> String {
    format!(
        "LangGraph (`langgraph dev`: langgraph-api 0.16.7, in-memory, same server): {n} running runs (one per thread) \
         cancelled until the server reads all over: `LangGraphCanceller::cancel_many(Selector::Ids)`, concurrency \
         {CONCURRENCY}, vs the official Python SDK `langgraph_sdk` `client.runs.cancel` for each (asyncio, \
         {CONCURRENCY} in flight)"
    )
}

/// Measures the row and adds it (or a "skipped: why" row) to `res`.
pub fn run(o: &Opts, p: &Paths, res: &mut Results) {
    let n = o.n(200);
    if !o.official {
        res.rows.push(Row::skipped(ITEM, what(n), "skipped: --no-official"));
        return;
    }
    if let Err(why) = measure(o, p, n, res) {
        eprintln!("bench: item {ITEM} (LangGraph) skipped: {why}");
        res.rows.push(Row::skipped(ITEM, what(n), format!("skipped: {why}")));
    }
}

/// One `langgraph dev`, killed and its folder removed when dropped.
struct Server {
    server: Option<Proc>,
    dir: TempDir,
    base: String,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

impl Server {
    async fn launch(p: &Paths, venv: &Path, jobs: usize) -> Result<Server, String> {
        let dir = TempDir::new("wfcancel-bench-langgraph")?;
        std::fs::create_dir_all(dir.join("progress")).map_err(|e| e.to_string())?;
        let port = live::free_port()?;
        let server = Proc::spawn(
            Command::new(p.root.join("tools/langgraph-live/run_server.sh"))
                .arg(venv)
                .arg(port.to_string())
                .arg(dir.path())
                .env("WFCANCEL_LANGGRAPH_JOBS", jobs.to_string())
                .env_remove("WFCANCEL_PROGRESS_DIR")
                .stdin(Stdio::null())
                .stdout(dir.file("server.log")?)
                .stderr(dir.file("server.err")?),
            "langgraph dev",
        )?;
        let mut s = Server {
            server: Some(server),
            dir,
            base: format!("http://127.0.0.1:{port}"),
            http: live::http()?,
        };
        // `langgraph dev` moves to another port silently when its port is taken: the banner
        // must name ours.
        let want = format!("API: http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let logs = || format!("{}\n{}", s.dir.tail("server.log"), s.dir.tail("server.err"));
            if let Some(status) = s.server.as_mut().and_then(Proc::exited) {
                return Err(format!("langgraph dev exited ({status}): {}", logs()));
            }
            let banner = live::strip_ansi(&logs());
            if let Some(line) = banner.lines().find(|l| l.contains("API: http")) {
                if !line.contains(&want) {
                    return Err(format!("langgraph dev moved off port {port}: {line}"));
                }
                if let Ok(r) = s.http.get(format!("{}/ok", s.base)).send().await {
                    if r.status().is_success() {
                        return Ok(s);
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!("langgraph dev was not ready within 90 s: {}", logs()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let (status, v) = live::post_json(&self.http, &format!("{}{path}", self.base), &body).await?;
        if !(200..300).contains(&status) {
            return Err(format!("POST {path}: {status} {v}"));
        }
        Ok(v)
    }

    /// A new thread with one run of the test graph that takes 600 s unless stopped.
    async fn start_one(&self) -> Result<(String, String), String> {
        let t = self.post("/threads", json!({})).await?["thread_id"]
            .as_str()
            .ok_or("no thread_id")?
            .to_owned();
        let input = json!({"tag": "", "steps": 6000, "step_seconds": 0.1});
        let r = self
            .post(
                &format!("/threads/{t}/runs"),
                json!({"assistant_id": "agent", "input": input}),
            )
            .await?["run_id"]
            .as_str()
            .ok_or("no run_id")?
            .to_owned();
        Ok((t, r))
    }

    /// The server's status of a run.
    async fn state(&self, (t, r): &(String, String)) -> Result<String, String> {
        let url = format!("{}/threads/{t}/runs/{r}", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET {url}: {status}"));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        Ok(v["status"].as_str().unwrap_or("?").to_owned())
    }

    /// The runs of `runs` whose state is one of `states` (each read once, `START_CONCURRENCY`
    /// at a time), and the other runs' states.
    async fn split(
        &self,
        runs: Vec<(String, String)>,
        states: &[&str],
    ) -> Result<(Vec<(String, String)>, Vec<String>), String> {
        let read: Vec<_> = futures::stream::iter(runs)
            .map(|run| async move {
                let s = self.state(&run).await;
                (run, s)
            })
            .buffer_unordered(START_CONCURRENCY)
            .collect()
            .await;
        let (mut hit, mut other) = (Vec::new(), Vec::new());
        for (run, s) in read {
            let s = s?;
            if states.contains(&s.as_str()) {
                hit.push(run);
            } else {
                other.push(s);
            }
        }
        Ok((hit, other))
    }

    /// Starts `n` runs, one per thread, and waits (bounded) until the server reads all running.
    async fn start(&self, n: usize) -> Result<(Vec<(String, String)>, Duration), String> {
        let t0 = Instant::now();
        let started: Vec<_> = futures::stream::iter(0..n)
            .map(|_| self.start_one())
            .buffer_unordered(START_CONCURRENCY)
            .collect()
            .await;
        let runs = started.into_iter().collect::<Result<Vec<_>, _>>()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (not_yet, other) = self.split(runs.clone(), &["pending"]).await?;
            if let Some(s) = other.iter().find(|s| s.as_str() != "running") {
                return Err(format!("a run read {s:?} before any cancel"));
            }
            if not_yet.is_empty() {
                return Ok((runs, t0.elapsed()));
            }
            if Instant::now() > deadline {
                return Err(format!("{} of {n} runs still pending after 120 s", not_yet.len()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads the runs not yet seen over, again and again, until none is left (bounded): the time
    /// since `t0` at which the last was seen over, and how many ended `interrupted`.
    async fn over(&self, t0: Instant, runs: &[(String, String)], limit: Duration) -> Result<(Duration, u64), String> {
        let mut left = runs.to_vec();
        let mut interrupted = 0u64;
        loop {
            let (active, ended) = self.split(left, &["pending", "running"]).await?;
            interrupted += ended.iter().filter(|s| s.as_str() == "interrupted").count() as u64;
            if active.is_empty() {
                return Ok((t0.elapsed(), interrupted));
            }
            if t0.elapsed() > limit {
                return Err(format!(
                    "{} runs still active after {} s",
                    active.len(),
                    limit.as_secs()
                ));
            }
            left = active;
        }
    }
}

/// One side's run.
struct Side {
    /// First cancel to all over.
    over: f64,
    /// First cancel to the last cancel's answer.
    returned: f64,
    /// Runs read `interrupted` at the end.
    interrupted: u64,
    /// What the tool said.
    detail: String,
}

async fn ours(s: &Server, c: &LangGraphCanceller, runs: &[(String, String)]) -> Result<Side, String> {
    let selector = Selector::Ids(runs.iter().map(|(t, r)| RunRef::new(r).thread(t)).collect());
    let opts = BulkOptions::new().concurrency(CONCURRENCY);
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    let report = tokio::time::timeout(limit, c.cancel_many(&selector, &opts))
        .await
        .map_err(|_| "cancel_many still running after 120 s".to_owned())?
        .map_err(|e| format!("cancel_many: {e}"))?;
    let returned = t0.elapsed();
    if !report.is_success() || report.requested != runs.len() as u64 {
        return Err(format!("cancel_many did not request every cancel: {report:?}"));
    }
    let (over, interrupted) = s.over(t0, runs, limit).await?;
    Ok(Side {
        over: over.as_secs_f64(),
        returned: returned.as_secs_f64(),
        interrupted,
        detail: format!("{} requested, {} requests", report.requested, report.requests_sent),
    })
}

/// A bare client, for the findings (the least client work): one bare `POST /threads/{t}/runs/{r}/cancel?wait=false&action=interrupt`
/// per run, [`CONCURRENCY`] in flight (raw reqwest: no read, no check).
async fn raw(s: &Server, runs: &[(String, String)]) -> Result<Side, String> {
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    let bad = futures::stream::iter(runs)
        .map(|(t, r)| async move {
            let url = format!("{}/threads/{t}/runs/{r}/cancel?wait=false&action=interrupt", s.base);
            matches!(s.http.post(url).send().await, Ok(r) if r.status().as_u16() == 202)
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let returned = t0.elapsed();
    let (over, interrupted) = s.over(t0, runs, limit).await?;
    Ok(Side {
        over: over.as_secs_f64(),
        returned: returned.as_secs_f64(),
        interrupted,
        detail: format!("{} POSTs, {bad} not 202", runs.len()),
    })
}

async fn official(
    s: &Server,
    python: &Path,
    script: &Path,
    runs: &[(String, String)],
    log: &Path,
) -> Result<Side, String> {
    let list = s.dir.join("runs.txt");
    let text: String = runs.iter().map(|(t, r)| format!("{t} {r}\n")).collect();
    std::fs::write(&list, text).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(&s.base)
        .arg(&list)
        .arg(CONCURRENCY.to_string())
        .env_remove("LANGGRAPH_API_KEY")
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGCHAIN_API_KEY")
        .env("LANGSMITH_TRACING", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).map_err(|e| e.to_string())?);
    let mut proc = Proc::spawn(&mut cmd, "the langgraph_sdk script")?;
    let stdout = proc.child().stdout.take().ok_or("no stdout")?;
    let mut stdin = proc.child().stdin.take().ok_or("no stdin")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // A line from the script (bounded; the script's death ends the wait too).
    let next_line = |limit: Duration| {
        let rx = &rx;
        async move {
            let deadline = Instant::now() + limit;
            loop {
                match rx.try_recv() {
                    Ok(line) => return Ok(line),
                    Err(mpsc::TryRecvError::Disconnected) => {
                        return Err(format!("the script ended early; see {}", log.display()));
                    }
                    Err(mpsc::TryRecvError::Empty) if Instant::now() > deadline => {
                        return Err(format!("no answer from the script within {} s", limit.as_secs()));
                    }
                    Err(mpsc::TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
        }
    };
    loop {
        if next_line(Duration::from_secs(120)).await?.trim() == "ready" {
            break;
        }
    }
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    stdin
        .write_all(b"go\n")
        .and_then(|()| stdin.flush())
        .map_err(|e| e.to_string())?;
    let out = loop {
        let line = next_line(limit).await?;
        if line.trim_start().starts_with('{') {
            break line;
        }
    };
    let returned = t0.elapsed();
    let (over, interrupted) = s.over(t0, runs, limit).await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("unreadable script output {out:?}: {e}"))?;
    let errors = v["errors"].as_u64().unwrap_or(0);
    if errors > 0 {
        return Err(format!(
            "the SDK failed {errors} cancels (first: {})",
            v["first_error"].as_str().unwrap_or("?")
        ));
    }
    drop(proc);
    Ok(Side {
        over: over.as_secs_f64(),
        returned: returned.as_secs_f64(),
        interrupted,
        detail: format!(
            "{}; its own timing {:.2} s, process CPU {:.0} µs per cancel",
            v["client"].as_str().unwrap_or("?"),
            v["secs"].as_f64().unwrap_or(0.0),
            v["cpu_secs"].as_f64().unwrap_or(0.0) * 1e6 / runs.len().max(1) as f64
        ),
    })
}

fn measure(o: &Opts, p: &Paths, n: usize, res: &mut Results) -> Result<(), String> {
    if !external::have("python3") {
        return Err("python3 not found on PATH (langgraph dev and the SDK run in a venv)".to_owned());
    }
    let venv = p.target.join("live/langgraph-venv");
    eprintln!("bench: item {ITEM}: tools/langgraph-live/setup.sh ...");
    let t_setup = Instant::now();
    live::setup(
        &p.root.join("tools/langgraph-live/setup.sh"),
        &venv,
        &p.bench_dir().join("langgraph-setup.log"),
        live::SETUP_TIMEOUT,
    )?;
    let setup_secs = t_setup.elapsed().as_secs_f64();
    let python = venv.join("bin/python");
    let script = p.scripts().join("langgraph_sdk_cancel.py");
    let reps = if o.quick { 1 } else { 3 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (mut w, mut off, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor = Vec::new();
    rt.block_on(async {
        // Room for every run at once (the live tests' default is 64).
        let s = Server::launch(p, &venv, n + 64).await?;
        let c = LangGraphCanceller::builder()
            .base_url(&s.base)
            .build()
            .map_err(|e| e.to_string())?;
        // Warm-up: the canceller's connections (a run that does not exist).
        let unknown =
            RunRef::new("00000000-0000-4000-8000-000000000001").thread("00000000-0000-4000-8000-000000000002");
        match c.cancel(&unknown).await {
            Ok(CancelOutcome::NotActive(_)) => {}
            other => return Err(format!("warm-up cancel: {other:?}")),
        }
        for rep in 0..reps {
            // The pair (alternating order), then the diagnostic.
            let pair = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in pair.into_iter().chain([2]) {
                eprintln!(
                    "bench: item {ITEM}: rep {}: {n} runs, {}",
                    rep + 1,
                    ["wfcancel", "langgraph_sdk", "bare client"][side]
                );
                let (runs, took) = s.start(n).await?;
                starts.push(took.as_secs_f64());
                match side {
                    0 => w.push(ours(&s, &c, &runs).await?),
                    1 => {
                        let log = p.bench_dir().join(format!("langgraph-sdk-{rep}.log"));
                        off.push(official(&s, &python, &script, &runs, &log).await?);
                    }
                    _ => floor.push(raw(&s, &runs).await?),
                }
            }
        }
        Ok::<(), String>(())
    })?;
    report(n, &w, &off, &starts, setup_secs, res);
    let over = floor.iter().map(|s| s.over).collect::<Vec<_>>();
    let speedup = live::median_secs(
        &floor
            .iter()
            .zip(&off)
            .map(|(a, b)| if a.over > 0.0 { b.over / a.over } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    res.diagnostics.push(format!(
        "LangGraph (item {ITEM}), the same {n} running runs, in each rep after the pair: a bare client, raw reqwest with one \
         bare `POST /threads/{{t}}/runs/{{r}}/cancel?wait=false&action=interrupt` per run, {CONCURRENCY} in flight: \
         median {:.2} s to all over (reps {}; the last answer after {} s; {}), {speedup:.2}× the SDK.",
        live::median_secs(&over),
        live::list_secs(&over),
        live::list_secs(&floor.iter().map(|s| s.returned).collect::<Vec<_>>()),
        floor.last().map_or("", |s| s.detail.as_str()),
    ));
    Ok(())
}

fn report(n: usize, w: &[Side], off: &[Side], starts: &[f64], setup_secs: f64, res: &mut Results) {
    let over = |v: &[Side]| v.iter().map(|s| s.over).collect::<Vec<_>>();
    let returned = |v: &[Side]| v.iter().map(|s| s.returned).collect::<Vec<_>>();
    let (w_over, off_over) = (live::median_secs(&over(w)), live::median_secs(&over(off)));
    let speedup = live::median_secs(
        &w.iter()
            .zip(off)
            .map(|(a, b)| if a.over > 0.0 { b.over / a.over } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    let clean = w.iter().chain(off).all(|s| s.interrupted == n as u64);
    let rate = |secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    res.rows.push(Row::new(
        ITEM,
        what(n),
        format!(
            "wfcancel: median {w_over:.2} s to all over ({} runs/s; reps {}), `cancel_many` returned after {} s ({}); \
             official SDK: median {off_over:.2} s to all over ({} runs/s; reps {}), its last cancel answered after {} s \
             ({}); runs read interrupted per rep: {}",
            thousands(rate(w_over)),
            live::list_secs(&over(w)),
            live::list_secs(&returned(w)),
            w.last().map_or("", |s| s.detail.as_str()),
            thousands(rate(off_over)),
            live::list_secs(&over(off)),
            live::list_secs(&returned(off)),
            off.last().map_or("", |s| s.detail.as_str()),
            w.iter()
                .chain(off)
                .map(|s| s.interrupted.to_string())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        format!(
            "speed-up {speedup:.2}× (the SDK's time / wfcancel's, median of {} paired ratios; > 1: wfcancel faster)",
            w.len()
        ),
        format!("≥ {GOAL}×"),
        Met::from(speedup >= GOAL && clean),
    ));
    if speedup < GOAL {
        res.misses.push(format!(
            "item {ITEM}, LangGraph: {speedup:.2}× the official SDK (wfcancel {w_over:.2} s, SDK {off_over:.2} s to all \
             {n} over; see Findings, item 10)"
        ));
    }
    if !clean {
        res.notes.push(format!(
            "item {ITEM}: not every rep ended with all {n} runs interrupted (see the row)"
        ));
    }
    res.notes.push(format!(
        "item {ITEM}: each side starts from {n} fresh runs of the test graph (an async node of 6,000 steps of 0.1 s), \
         one per thread, read `running` ({:.1} s to start them, median), on `langgraph dev` with \
         `--n-jobs-per-worker {}`; the time runs from the first cancel (for the SDK: the line that releases the script, \
         after Python's start, the imports and a warm-up request) until reads of the runs not yet seen finished \
         ({START_CONCURRENCY} at a time, round after round, the same for both sides, started when the side's last \
         cancel was answered) find none left. Set-up (`tools/langgraph-live/setup.sh`, a venv when not yet built): \
         {setup_secs:.1} s.",
        live::median_secs(starts),
        n + 64
    ));
}
