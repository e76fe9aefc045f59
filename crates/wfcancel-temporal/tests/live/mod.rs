//! The live Temporal tests' server and worker: a real `temporal server start-dev` and the Python
//! worker of `tools/temporal-live/`, on free 127.0.0.1 ports, killed (and their folder removed)
//! by a guard. Shared through `#[path]` by `live_temporal.rs` and the CLI's live test (each test
//! binary starts one server). The including crate declares `mod support;`
//! (`tests/support/mod.rs`) at its root.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::support;
pub use crate::support::{free_port, spawn_group as spawn};

pub const QUEUE: &str = "wfcancel-live";
pub const NO_WORKER: &str = "wfcancel-no-worker";

pub fn venv() -> Option<PathBuf> {
    let tools = support::root().join("tools/temporal-live");
    for f in [
        "setup.sh",
        "run_server.sh",
        "run_worker.sh",
        "worker.py",
        "requirements.txt",
    ] {
        assert!(tools.join(f).is_file(), "{} is missing", tools.join(f).display());
    }
    let venv = std::env::var_os("WFCANCEL_TEMPORAL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::owned_dir("temporal-venv"));
    if !support::have("python3") {
        let why = format!(
            "python3 is not on PATH, so the temporal venv at {} cannot be built (install Python 3.10+)",
            venv.display()
        );
        if support::in_ci() {
            panic!("live Temporal test cannot run in CI: {why}");
        }
        support::skip("live_temporal", &why);
        return None;
    }
    support::run_setup(&tools.join("setup.sh"), &venv, support::SETUP_TIMEOUT);
    assert!(
        venv.join("bin/temporal").exists(),
        "setup.sh left no bin/temporal in {}",
        venv.display()
    );
    Some(venv)
}

/// Stops the process group `child` leads (see [`support::stop_group`]).
pub fn kill(child: &mut Child) {
    support::stop_group(child, Duration::from_secs(5));
}

/// The dev server and the worker; both killed (and the folder removed) when dropped.
pub struct Live {
    pub server: Child,
    pub worker: Option<Child>,
    pub dir: PathBuf,
    /// The HTTP API's base URL, `http://127.0.0.1:<port>`.
    pub base: String,
    /// The gRPC address, `127.0.0.1:<port>`.
    pub grpc: String,
    /// The venv holding `bin/temporal`.
    pub venv: PathBuf,
    pub http: reqwest::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(w) = &mut self.worker {
            kill(w);
        }
        kill(&mut self.server);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    pub async fn launch(venv: &Path) -> Self {
        let tools = support::root().join("tools/temporal-live");
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("wfcancel-temporal-live-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let (grpc, http_port, metrics) = (free_port(), free_port(), free_port());
        let server = spawn(
            Command::new(tools.join("run_server.sh"))
                .arg(venv)
                .args([grpc.to_string(), http_port.to_string(), metrics.to_string()])
                .arg(dir.join("temporal.db"))
                .stdout(fs::File::create(dir.join("server.log")).expect("log"))
                .stderr(fs::File::create(dir.join("server.err")).expect("log")),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut live = Live {
            server,
            worker: None,
            dir,
            base: format!("http://127.0.0.1:{http_port}"),
            grpc: format!("127.0.0.1:{grpc}"),
            venv: venv.to_path_buf(),
            http,
        };
        // Bounded: the dev server is ready in under 8 s here.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = live.server.try_wait() {
                panic!("the dev server exited ({status}): {}", live.log("server.err"));
            }
            let url = format!("{}/api/v1/namespaces/other/workflows", live.base);
            if let Ok(r) = live.http.get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the dev server was not ready within 60 s: {}",
                live.log("server.err")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ready = live.dir.join("worker.ready");
        live.worker = Some(spawn(
            Command::new(tools.join("run_worker.sh"))
                .arg(venv)
                .arg(format!("127.0.0.1:{grpc}"))
                .args(["default", QUEUE])
                .arg(&ready)
                .env("WFCANCEL_STEP_LOG", live.dir.join("steps.log"))
                .stdout(Stdio::null())
                .stderr(fs::File::create(live.dir.join("worker.err")).expect("log")),
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Some(Ok(Some(status))) = live.worker.as_mut().map(Child::try_wait) {
                panic!("the worker exited ({status}): {}", live.log("worker.err"));
            }
            assert!(
                Instant::now() < deadline,
                "the worker was not ready within 60 s: {}",
                live.log("worker.err")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        live
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    pub fn url(&self, ns: &str, rest: &str) -> String {
        format!("{}/api/v1/namespaces/{ns}/{rest}", self.base)
    }

    /// Starts a workflow through the HTTP API (the test's own client, not the canceller).
    pub async fn start(&self, ns: &str, id: &str, wf_type: &str, queue: &str, input: Value) {
        let body = json!({
            "workflowType": {"name": wf_type},
            "taskQueue": {"name": queue},
            "input": [input],
        });
        let r = self
            .http
            .post(self.url(ns, &format!("workflows/{id}")))
            .body(body.to_string())
            .send()
            .await
            .expect("start");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "start {id}: {status} {text}");
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        let r = self.http.get(url).send().await.expect("get");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The server's own describe: (status, cancelRequested), `None` for a 404.
    pub async fn describe(&self, ns: &str, id: &str) -> Option<(String, bool)> {
        let (status, json) = self.get(&self.url(ns, &format!("workflows/{id}"))).await;
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "describe {id}: {json}");
        let s = json["workflowExecutionInfo"]["status"]
            .as_str()
            .expect("status")
            .to_owned();
        let requested = json["workflowExtendedInfo"]["cancelRequested"]
            .as_bool()
            .unwrap_or(false);
        Some((s.trim_start_matches("WORKFLOW_EXECUTION_STATUS_").to_owned(), requested))
    }

    /// Waits (bounded) until the server's describe shows `status`.
    pub async fn wait_status(&self, ns: &str, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.describe(ns, id).await;
            if got.as_ref().is_some_and(|(s, _)| s == status) {
                return;
            }
            assert!(Instant::now() < deadline, "{id}: expected {status}, still {got:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a workflow through the official CLI (gRPC): the HTTP API cannot address a workflow
    /// id holding `/`, so ids like `order/42` are started this way.
    pub fn start_grpc(&self, ns: &str, id: &str, wf_type: &str, queue: &str) {
        let mut cmd = Command::new(self.venv.join("bin/temporal"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TEMPORAL_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .args(["workflow", "start", "--address", &self.grpc, "--namespace", ns])
            .args(["--workflow-id", id, "--type", wf_type, "--task-queue", queue])
            .args(["--input", "{}"])
            .stdin(Stdio::null())
            .output()
            .expect("temporal workflow start");
        assert!(
            out.status.success(),
            "temporal workflow start {id}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server's state of `id` read through a visibility list query (works for every id):
    /// (status, run id), `None` when no execution has this id. Visibility lags a little: wait
    /// with [`Live::wait_listed`].
    pub async fn listed(&self, ns: &str, id: &str) -> Option<(String, String)> {
        let mut url = reqwest::Url::parse(&self.url(ns, "workflows")).expect("url");
        let q = format!("WorkflowId = \"{}\"", id.replace('\\', "\\\\").replace('"', "\\\""));
        url.query_pairs_mut().append_pair("query", &q);
        let (status, json) = self.get(url.as_str()).await;
        assert_eq!(status, 200, "list {id}: {json}");
        let e = json["executions"].as_array()?.first()?.clone();
        Some((
            e["status"]
                .as_str()?
                .trim_start_matches("WORKFLOW_EXECUTION_STATUS_")
                .to_owned(),
            e["execution"]["runId"].as_str()?.to_owned(),
        ))
    }

    /// Waits (bounded) until visibility lists `id` with `status`.
    pub async fn wait_listed(&self, ns: &str, id: &str, status: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.listed(ns, id).await;
            if let Some((s, run_id)) = &got {
                if s == status {
                    return run_id.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{id}: expected {status} in visibility, got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's history events of `id`.
    pub async fn history(&self, ns: &str, id: &str) -> Vec<Value> {
        let (status, json) = self.get(&self.url(ns, &format!("workflows/{id}/history"))).await;
        assert_eq!(status, 200, "history {id}: {json}");
        json["history"]["events"].as_array().cloned().unwrap_or_default()
    }

    /// The lines the worker's activities logged for workflow `id`.
    pub fn steps_of(&self, id: &str) -> Vec<String> {
        let prefix = format!("{id} ");
        self.log("steps.log")
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| rest.split_once(' ').map_or(rest, |(_, s)| s).to_owned())
            .collect()
    }

    /// Counts workflows through visibility, waiting (bounded) until it reads `want`.
    pub async fn wait_count(&self, ns: &str, query: &str, want: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut url = reqwest::Url::parse(&self.url(ns, "workflow-count")).expect("url");
            url.query_pairs_mut().append_pair("query", query);
            let (status, json) = self.get(url.as_str()).await;
            assert_eq!(status, 200, "count {query}: {json}");
            let n: u64 = json["count"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            if n == want {
                return;
            }
            assert!(Instant::now() < deadline, "count of {query}: expected {want}, is {n}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn unique(p: &str) -> String {
    format!("{p}-{:08x}", fastrand_u32())
}

fn fastrand_u32() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}
