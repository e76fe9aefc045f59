//! Item 9: a real Restate server (`restate-server` 1.7.12 and the TypeScript SDK service of
//! `tools/restate-live/`), 1,000 running invocations of one service cancelled until all are over,
//! by `RestateCanceller::cancel_many` (filter by service, drain) and by the official CLI
//! (`restate invocations cancel <service> --yes`, `@restatedev/restate` 1.7.12, pinned in
//! `scripts/restate-cli/`). Both sides start from freshly started running invocations of the
//! same slow handler on the same server, in pairs in alternating order; each is timed from its
//! start until the server's `sys_invocation` shows every one of them completed, read by the same
//! poller (one SQL count every 50 ms) running beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use wfcancel_core::{BulkOptions, BulkReport, RunFilter, Selector, WorkflowCanceller};
use wfcancel_restate::RestateCanceller;

use crate::external::{self, Paths};
use crate::live::{self, Proc, TempDir};
use crate::report::{Met, Row, thousands};
use crate::{Opts, Results};

/// The row's number in the table.
pub const ITEM: &str = "9";
const SERVICE: &str = "WfcSlow";
const GOAL: f64 = 3.0;
/// How often the poller reads `sys_invocation`.
const POLL: Duration = Duration::from_millis(50);
/// One step of the slow handler lasts 10 minutes: each invocation stays `running` (inside a
/// durable `ctx.run`) without writing to its journal until it is cancelled.
const STEP_MS: u64 = 600_000;
/// How many invocations are started at once.
const START_CONCURRENCY: usize = 32;
/// In flight for the bare raw-reqwest client (diagnostic).
const RAW_CONCURRENCY: usize = 64;

fn what(n: usize) -> String {
    format!(
        "Restate (restate-server 1.7.12, TypeScript SDK service, same server): {} running invocations of one service \
         cancelled until `sys_invocation` shows all completed: `RestateCanceller::cancel_many(Filter service, drain)` (defaults: pages of 1000, 64 in flight) \
         vs the official CLI `restate invocations cancel {SERVICE} --yes --limit {n}` (@restatedev/restate 1.7.12)",
        thousands(n as f64)
    )
}

/// Measures the row and adds it (or a "skipped: why" row) to `res`.
pub fn run(o: &Opts, p: &Paths, res: &mut Results) {
    let n = o.n(1_000);
    if !o.official {
        res.rows.push(Row::skipped(ITEM, what(n), "skipped: --no-official"));
        return;
    }
    if let Err(why) = measure(o, p, n, res) {
        eprintln!("bench: item {ITEM} (Restate) skipped: {why}");
        res.rows.push(Row::skipped(ITEM, what(n), format!("skipped: {why}")));
    }
}

/// The server and the service, killed (service first) and their folder removed when dropped.
struct Server {
    service: Option<Proc>,
    server: Option<Proc>,
    dir: TempDir,
    admin: String,
    ingress: String,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.service.take());
        drop(self.server.take());
    }
}

impl Server {
    async fn launch(p: &Paths, install: &Path) -> Result<Server, String> {
        let tools = p.root.join("tools/restate-live");
        let dir = TempDir::new("wfcancel-bench-restate")?;
        let (admin, ingress, node) = (live::free_port()?, live::free_port()?, live::free_port()?);
        let server = Proc::spawn(
            Command::new(tools.join("run_server.sh"))
                .arg(install)
                .arg(dir.join("base"))
                .args([admin.to_string(), ingress.to_string(), node.to_string()])
                .stdin(Stdio::null())
                .stdout(dir.file("server.log")?)
                .stderr(dir.file("server.err")?),
            "restate-server",
        )?;
        let mut s = Server {
            service: None,
            server: Some(server),
            dir,
            admin: format!("http://127.0.0.1:{admin}"),
            ingress: format!("http://127.0.0.1:{ingress}"),
            http: live::http()?,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = s.server.as_mut().and_then(Proc::exited) {
                return Err(format!(
                    "restate-server exited ({status}): {}",
                    s.dir.tail("server.err")
                ));
            }
            if let Ok(r) = s.http.get(format!("{}/health", s.admin)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "restate-server was not ready within 60 s: {}",
                    s.dir.tail("server.err")
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ready = s.dir.join("service.ready");
        s.service = Some(Proc::spawn(
            Command::new(tools.join("run_service.sh"))
                .arg(install)
                .arg(&ready)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(s.dir.file("service.err")?),
            "the Restate service",
        )?);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Some(status) = s.service.as_mut().and_then(Proc::exited) {
                return Err(format!("the service exited ({status}): {}", s.dir.tail("service.err")));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the service was not ready within 60 s: {}",
                    s.dir.tail("service.err")
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let port = std::fs::read_to_string(&ready).map_err(|e| e.to_string())?;
        let (status, body) = live::post_json(
            &s.http,
            &format!("{}/deployments", s.admin),
            &json!({ "uri": format!("http://127.0.0.1:{}", port.trim()) }),
        )
        .await?;
        if !(200..300).contains(&status) {
            return Err(format!("registering the service: {status} {body}"));
        }
        Ok(s)
    }

    /// A count over `sys_invocation`.
    async fn count(&self, condition: &str) -> Result<u64, String> {
        let (status, body) = live::post_json(
            &self.http,
            &format!("{}/query", self.admin),
            &json!({ "query": format!("SELECT count(*) AS n FROM sys_invocation WHERE {condition}") }),
        )
        .await?;
        if status != 200 {
            return Err(format!("query: {status} {body}"));
        }
        Ok(body["rows"][0]["n"].as_u64().unwrap_or(0))
    }

    /// Invocations of the service that are not completed.
    async fn active(&self) -> Result<u64, String> {
        self.count(&format!("target_service_name = '{SERVICE}' AND status <> 'completed'"))
            .await
    }

    /// Invocations of the service that completed as cancelled.
    async fn cancelled(&self) -> Result<u64, String> {
        self.count(&format!(
            "target_service_name = '{SERVICE}' AND completion_failure = '[409] Cancelled'"
        ))
        .await
    }

    /// Starts `n` slow invocations and waits (bounded) until the server reads all `running`.
    async fn start(&self, n: usize) -> Result<Duration, String> {
        let t0 = Instant::now();
        let url = format!("{}/{SERVICE}/run/send", self.ingress);
        let input = json!({ "steps": 1000, "step_ms": STEP_MS });
        let failures = futures::stream::iter(0..n)
            .map(|_| live::post_json(&self.http, &url, &input))
            .buffer_unordered(START_CONCURRENCY)
            .filter(|r| std::future::ready(!matches!(r, Ok((202 | 200, _)))))
            .collect::<Vec<_>>()
            .await;
        if let Some(f) = failures.first() {
            return Err(format!("{} invocations did not start: {f:?}", failures.len()));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let running = self
                .count(&format!("target_service_name = '{SERVICE}' AND status = 'running'"))
                .await?;
            if running == n as u64 && self.active().await? == n as u64 {
                return Ok(t0.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{running} of {n} invocations running after 120 s: {}",
                    self.dir.tail("service.err")
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls every [`POLL`] until none of the service's invocations is active (bounded): the
    /// time since `t0` at which it was first seen.
    async fn over(&self, t0: Instant, limit: Duration) -> Result<Duration, String> {
        loop {
            let left = self.active().await?;
            if left == 0 {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > limit {
                return Err(format!("{left} invocations still active after {} s", limit.as_secs()));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// One side's run.
struct Side {
    /// Start to all over.
    over: f64,
    /// Start to the tool's return (the CLI's exit, `cancel_many`'s return).
    returned: f64,
    /// What the tool said.
    detail: String,
    /// Invocations read cancelled afterwards (of the `n` started).
    cancelled: u64,
}

async fn ours(s: &Server, c: &RestateCanceller, opts: &BulkOptions) -> Result<Side, String> {
    let before = s.cancelled().await?;
    let selector = Selector::filter(RunFilter::new().workflow(SERVICE));
    let t0 = Instant::now();
    let limit = Duration::from_secs(120);
    let bulk = async {
        let r = tokio::time::timeout(limit, c.cancel_many(&selector, opts)).await;
        (r, t0.elapsed())
    };
    let (over, (report, returned)) = tokio::join!(s.over(t0, limit), bulk);
    let over = over?;
    let report: BulkReport = report
        .map_err(|_| "cancel_many still running after 120 s".to_owned())?
        .map_err(|e| format!("cancel_many: {e}"))?;
    if !report.is_success() || !report.drained {
        return Err(format!("cancel_many did not drain cleanly: {report:?}"));
    }
    Ok(Side {
        over: over.as_secs_f64(),
        returned: returned.as_secs_f64(),
        detail: format!(
            "{} requested, {} rounds, {} requests",
            report.requested + report.cancelled,
            report.rounds,
            report.requests_sent
        ),
        cancelled: s.cancelled().await? - before,
    })
}

/// A bare client, for the findings (the least client work, not a bound on the time to all over): the ids read before the clock starts, then one bare `PATCH
/// /invocations/{id}/cancel` each, [`RAW_CONCURRENCY`] in flight (raw reqwest, no query, no
/// checks, no drain).
async fn raw(s: &Server) -> Result<Side, String> {
    let before = s.cancelled().await?;
    let (status, body) = live::post_json(
        &s.http,
        &format!("{}/query", s.admin),
        &json!({ "query": format!(
            "SELECT id FROM sys_invocation WHERE target_service_name = '{SERVICE}' AND status <> 'completed'"
        ) }),
    )
    .await?;
    if status != 200 {
        return Err(format!("query: {status} {body}"));
    }
    let ids: Vec<String> = body["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    let send = async {
        let bad = futures::stream::iter(&ids)
            .map(|id| async move {
                let r = s
                    .http
                    .patch(format!("{}/invocations/{id}/cancel", s.admin))
                    .send()
                    .await;
                matches!(r, Ok(r) if r.status().as_u16() == 202)
            })
            .buffer_unordered(RAW_CONCURRENCY)
            .filter(|ok| std::future::ready(!ok))
            .count()
            .await;
        (bad, t0.elapsed())
    };
    let (over, (bad, returned)) = tokio::join!(s.over(t0, limit), send);
    Ok(Side {
        over: over?.as_secs_f64(),
        returned: returned.as_secs_f64(),
        detail: format!("{} PATCHes, {bad} not 202", ids.len()),
        cancelled: s.cancelled().await? - before,
    })
}

async fn official(s: &Server, cli: &Path, n: usize, log: &Path) -> Result<Side, String> {
    let before = s.cancelled().await?;
    let home = s.dir.join("cli-config");
    let cwd = s.dir.join("cli-cwd"); // no .env file there
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&cwd).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(cli);
    cmd.args(["invocations", "cancel", SERVICE, "--yes", "--limit", &n.to_string()])
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(log.with_extension("err")).map_err(|e| e.to_string())?);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("RESTATE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RESTATE_ADMIN_URL", &s.admin)
        .env("RESTATE_CLI_CONFIG_HOME", &home)
        .env("DO_NOT_TRACK", "1")
        .env_remove("CI");
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    let mut child = Proc::spawn(&mut cmd, "the restate CLI")?;
    let wait_exit = async {
        loop {
            if let Some(status) = child.exited() {
                return Ok((status, t0.elapsed()));
            }
            if t0.elapsed() > limit {
                return Err(format!("the CLI was still running after {} s", limit.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (over, exit) = tokio::join!(s.over(t0, limit), wait_exit);
    let (status, returned) = exit?;
    let over = over?;
    let out = std::fs::read_to_string(log).unwrap_or_default();
    let last = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if status != "exit status: 0" {
        return Err(format!("the CLI failed ({status}): {last}"));
    }
    Ok(Side {
        over: over.as_secs_f64(),
        returned: returned.as_secs_f64(),
        detail: last.to_owned(),
        cancelled: s.cancelled().await? - before,
    })
}

/// The CLI's native binary, which the npm package's `restate` wrapper (a node script) runs.
fn cli_binary(dir: &Path) -> PathBuf {
    let native = dir.join(format!(
        "node_modules/@restatedev/restate-{}-{}/bin/restate",
        std::env::consts::OS,
        match std::env::consts::ARCH {
            "x86_64" => "x64",
            "aarch64" => "arm64",
            other => other,
        }
    ));
    if native.is_file() {
        native
    } else {
        dir.join("node_modules/.bin/restate")
    }
}

fn measure(o: &Opts, p: &Paths, n: usize, res: &mut Results) -> Result<(), String> {
    if !external::have("node") || !external::have("npm") {
        return Err("node/npm not found on PATH (the server, its service and the CLI come from npm)".to_owned());
    }
    let install = p.target.join("live/restate");
    let cli_dir = p.target.join("live/restate-cli");
    eprintln!("bench: item {ITEM}: tools/restate-live/setup.sh, scripts/restate-cli/setup.sh ...");
    let t_setup = Instant::now();
    live::setup(
        &p.root.join("tools/restate-live/setup.sh"),
        &install,
        &p.bench_dir().join("restate-setup.log"),
        live::SETUP_TIMEOUT,
    )?;
    live::setup(
        &p.scripts().join("restate-cli/setup.sh"),
        &cli_dir,
        &p.bench_dir().join("restate-cli-setup.log"),
        live::SETUP_TIMEOUT,
    )?;
    let setup_secs = t_setup.elapsed().as_secs_f64();
    let cli = cli_binary(&cli_dir);
    let reps = if o.quick { 1 } else { 3 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (mut w, mut off, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut big, mut floor) = (Vec::new(), Vec::new());
    rt.block_on(async {
        let s = Server::launch(p, &install).await?;
        let c = RestateCanceller::builder()
            .admin_url(&s.admin)
            .build()
            .map_err(|e| e.to_string())?;
        let defaults = BulkOptions::new().drain(true);
        // The core defaults (pages of 100, 32 in flight), which Restate's bulk used before it read
        // larger pages with more cancels in flight and the next page during the cancels.
        let core_defaults = BulkOptions::new()
            .drain(true)
            .page_size(wfcancel_core::DEFAULT_PAGE_SIZE)
            .concurrency(wfcancel_core::DEFAULT_CONCURRENCY);
        for rep in 0..reps {
            // The pair (alternating order), then the two diagnostics.
            let pair = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in pair.into_iter().chain([2, 3]) {
                eprintln!(
                    "bench: item {ITEM}: rep {}: {n} invocations, {}",
                    rep + 1,
                    [
                        "wfcancel",
                        "restate CLI",
                        "wfcancel, pages of 100, 32 in flight",
                        "bare client"
                    ][side]
                );
                starts.push(s.start(n).await?.as_secs_f64());
                match side {
                    0 => w.push(ours(&s, &c, &defaults).await?),
                    1 => {
                        let log = p.bench_dir().join(format!("restate-cli-{rep}.log"));
                        off.push(official(&s, &cli, n, &log).await?);
                    }
                    2 => big.push(ours(&s, &c, &core_defaults).await?),
                    _ => floor.push(raw(&s).await?),
                }
            }
        }
        Ok::<(), String>(())
    })?;
    report(n, &w, &off, &starts, setup_secs, res);
    let over = |v: &[Side]| v.iter().map(|s| s.over).collect::<Vec<_>>();
    let speedup = |v: &[Side]| {
        live::median_secs(
            &v.iter()
                .zip(&off)
                .map(|(a, b)| if a.over > 0.0 { b.over / a.over } else { 0.0 })
                .collect::<Vec<_>>(),
        )
    };
    res.diagnostics.push(format!(
        "Restate (item {ITEM}), the same {n} running invocations, in each rep after the pair: \
          `cancel_many(Filter service, drain)` with the core's defaults set explicitly (`page_size(100)`, `concurrency(32)`; \
          the default for Restate is pages of 1000, 64 in flight): median {:.2} s to all \
          over (reps {}; returned after {} s; {}), {:.2}× the CLI; a bare client, raw reqwest with the ids read before the \
          clock starts and one bare `PATCH /invocations/{{id}}/cancel` each, {RAW_CONCURRENCY} in flight: median {:.2} s \
          to all over (reps {}; the last answer after {} s; {}), {:.2}× the CLI.",
        live::median_secs(&over(&big)),
        live::list_secs(&over(&big)),
        live::list_secs(&big.iter().map(|s| s.returned).collect::<Vec<_>>()),
        big.last().map_or("", |s| s.detail.as_str()),
        speedup(&big),
        live::median_secs(&over(&floor)),
        live::list_secs(&over(&floor)),
        live::list_secs(&floor.iter().map(|s| s.returned).collect::<Vec<_>>()),
        floor.last().map_or("", |s| s.detail.as_str()),
        speedup(&floor),
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
    let clean = w.iter().chain(off).all(|s| s.cancelled == n as u64);
    let rate = |secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    res.rows.push(Row::new(
        ITEM,
        what(n),
        format!(
            "wfcancel: median {w_over:.2} s to all over ({} runs/s; reps {}), `cancel_many` returned after {} s ({}); \
             official CLI: median {off_over:.2} s to all over ({} runs/s; reps {}), the command exited after {} s ({}); \
             cancelled per rep (server's count): {}",
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
                .map(|s| s.cancelled.to_string())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        format!(
            "speed-up {speedup:.2}× (the CLI's time / wfcancel's, median of {} paired ratios; > 1: wfcancel faster)",
            w.len()
        ),
        format!("≥ {GOAL}×"),
        Met::from(speedup >= GOAL && clean),
    ));
    if speedup < GOAL {
        res.misses.push(format!(
            "item {ITEM}, Restate: {speedup:.2}× the official CLI (wfcancel {w_over:.2} s, CLI {off_over:.2} s to all \
             {n} over; see Findings, item 9)"
        ));
    }
    if !clean {
        res.notes.push(format!(
            "item {ITEM}: not every rep ended with all {n} invocations cancelled (see the row)"
        ));
    }
    res.notes.push(format!(
        "item {ITEM}: each side starts from {n} invocations of `{SERVICE}/run` freshly started through the ingress \
         ({START_CONCURRENCY} at a time) and read `running` ({} s each, median), inside a {} s durable step; the time \
         runs from the call (the CLI's spawn) until a `SELECT count(*) … status <> 'completed'` polled every {} ms \
         beside it reads 0. The CLI is the native binary that the npm package's `restate` wrapper runs, with \
         `RESTATE_ADMIN_URL` set to the server's admin API and an empty config folder; `--limit {n}` because its default \
         limit is 500 invocations per call. Set-up (`tools/restate-live/setup.sh`, `scripts/restate-cli/setup.sh`, \
         `npm ci` when not yet installed): {setup_secs:.1} s.",
        format_args!("{:.1}", live::median_secs(starts)),
        STEP_MS / 1000,
        POLL.as_millis()
    ));
}
