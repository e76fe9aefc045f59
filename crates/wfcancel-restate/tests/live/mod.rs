//! The live Restate tests' server and service: a real `restate-server` and the TypeScript
//! service of `tools/restate-live/`, on free 127.0.0.1 ports, killed (and their folder removed)
//! by a guard. Shared through `#[path]` by `live_restate.rs` and the CLI's live test (each test
//! binary starts one server). The including crate declares `mod support;`
//! (`tests/support/mod.rs`) at its root and depends on `wfcancel-core`, `wfcancel-restate`,
//! `reqwest`, `serde_json` and `tokio`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{RetryPolicy, RunState};
use wfcancel_restate::{RestateCanceller, quote};

use crate::support;
pub use crate::support::{free_port, spawn_group as spawn};

pub fn install() -> Option<PathBuf> {
    let tools = support::root().join("tools/restate-live");
    for f in [
        "setup.sh",
        "run_server.sh",
        "run_service.sh",
        "service.mjs",
        "package.json",
        "package-lock.json",
    ] {
        assert!(tools.join(f).is_file(), "{} is missing", tools.join(f).display());
    }
    if !support::live_gate("live_restate", &["node", "npm"]) {
        return None;
    }
    let dir = std::env::var_os("WFCANCEL_RESTATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::owned_dir("restate"));
    support::run_setup(&tools.join("setup.sh"), &dir, support::SETUP_TIMEOUT);
    assert!(
        dir.join("node_modules/.bin/restate-server").exists(),
        "setup.sh left no restate-server in {}",
        dir.display()
    );
    Some(dir)
}

/// Stops the process group `child` leads (see [`support::stop_group`]).
pub fn kill(child: &mut Child) {
    support::stop_group(child, Duration::from_secs(5));
}

/// A row of `sys_invocation`: status, completion result and failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub status: String,
    pub result: Option<String>,
    pub failure: Option<String>,
}

impl Row {
    pub fn is(&self, status: &str, result: Option<&str>, failure: Option<&str>) -> bool {
        self.status == status && self.result.as_deref() == result && self.failure.as_deref() == failure
    }

    /// The state the test reads a row as (written here, independently of the library).
    pub fn state(&self) -> RunState {
        match (self.status.as_str(), self.result.as_deref(), self.failure.as_deref()) {
            ("running" | "backing-off", _, _) => RunState::Running,
            ("suspended" | "paused", _, _) => RunState::Paused,
            ("pending" | "scheduled" | "ready", _, _) => RunState::Pending,
            ("completed", Some("success"), _) => RunState::Completed,
            ("completed", Some("failure"), Some("[409] Cancelled")) => RunState::Cancelled,
            ("completed", Some("failure"), Some("[409] killed")) => RunState::Terminated,
            ("completed", Some("failure"), _) => RunState::Failed,
            (other, _, _) => RunState::unknown(other, other == "completed"),
        }
    }
}

/// The server and the service; both killed (and the folder removed) when dropped.
pub struct Live {
    pub server: Child,
    pub service: Option<Child>,
    pub dir: PathBuf,
    pub admin: String,
    pub ingress: String,
    pub http: reqwest::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(s) = &mut self.service {
            kill(s);
        }
        kill(&mut self.server);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    pub async fn launch(install: &Path) -> Self {
        let tools = support::root().join("tools/restate-live");
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("wfcancel-restate-live-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let (admin, ingress, node) = (free_port(), free_port(), free_port());
        let server = spawn(
            Command::new(tools.join("run_server.sh"))
                .arg(install)
                .arg(dir.join("base"))
                .args([admin.to_string(), ingress.to_string(), node.to_string()])
                .stdout(fs::File::create(dir.join("server.log")).expect("log"))
                .stderr(fs::File::create(dir.join("server.err")).expect("log")),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .expect("client");
        let mut live = Live {
            server,
            service: None,
            dir,
            admin: format!("http://127.0.0.1:{admin}"),
            ingress: format!("http://127.0.0.1:{ingress}"),
            http,
        };
        // Bounded: the server is ready in about 2 s here.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = live.server.try_wait() {
                panic!("the server exited ({status}): {}", live.log("server.err"));
            }
            if let Ok(r) = live.http.get(format!("{}/health", live.admin)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server was not ready within 60 s: {}",
                live.log("server.err")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ready = live.dir.join("service.ready");
        live.service = Some(spawn(
            Command::new(tools.join("run_service.sh"))
                .arg(install)
                .arg(&ready)
                .env("WFCANCEL_STEP_LOG", live.dir.join("steps.log"))
                .stdout(Stdio::null())
                .stderr(fs::File::create(live.dir.join("service.err")).expect("log")),
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Some(Ok(Some(status))) = live.service.as_mut().map(Child::try_wait) {
                panic!("the service exited ({status}): {}", live.log("service.err"));
            }
            assert!(
                Instant::now() < deadline,
                "the service was not ready within 60 s: {}",
                live.log("service.err")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let port = fs::read_to_string(&ready).expect("ready file").trim().to_owned();
        let r = live
            .http
            .post(format!("{}/deployments", live.admin))
            .header("content-type", "application/json")
            .body(json!({ "uri": format!("http://127.0.0.1:{port}") }).to_string())
            .send()
            .await
            .expect("register");
        let status = r.status();
        assert!(
            status.is_success(),
            "register: {status} {}",
            r.text().await.unwrap_or_default()
        );
        live
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    pub fn canceller(&self) -> RestateCanceller {
        RestateCanceller::builder()
            .admin_url(&self.admin)
            .http_config(HttpConfig::default().retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50))))
            .build()
            .expect("canceller")
    }

    /// Starts an invocation through the ingress without waiting (the test's own client).
    pub async fn send(&self, target: &str, input: Value, delay: Option<&str>) -> String {
        let mut url = format!("{}/{target}/send", self.ingress);
        if let Some(d) = delay {
            url = format!("{url}?delay={d}");
        }
        let r = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(input.to_string())
            .send()
            .await
            .expect("send");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "send {target}: {status} {text}");
        let json: Value = serde_json::from_str(&text).expect("json");
        json["invocationId"].as_str().expect("invocationId").to_owned()
    }

    /// Runs SQL on the admin API (the test's own client): the rows, or the status and message.
    pub async fn query(&self, sql: &str) -> Result<Vec<Value>, (u16, String)> {
        let r = self
            .http
            .post(format!("{}/query", self.admin))
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(json!({ "query": sql }).to_string())
            .send()
            .await
            .expect("query");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if status != 200 {
            return Err((status, text));
        }
        let json: Value = serde_json::from_str(&text).expect("json");
        Ok(json["rows"].as_array().cloned().unwrap_or_default())
    }

    /// The server's own row for `id` (`None` when it has none).
    pub async fn row(&self, id: &str) -> Option<Row> {
        let rows = self
            .query(&format!(
                "SELECT status, completion_result, completion_failure FROM sys_invocation WHERE id = {}",
                quote(id)
            ))
            .await
            .expect("row query");
        let row = rows.first()?;
        let s = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Row {
            status: s("status").expect("status"),
            result: s("completion_result"),
            failure: s("completion_failure"),
        })
    }

    /// Waits (bounded) until the server's row of `id` reads as `want`.
    pub async fn wait_state(&self, id: &str, want: &RunState) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.row(id).await;
            if got.as_ref().map(Row::state).as_ref() == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "{id}: expected {want}, still {got:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A count over `sys_invocation`.
    pub async fn count(&self, condition: &str) -> u64 {
        let rows = self
            .query(&format!("SELECT count(*) AS n FROM sys_invocation WHERE {condition}"))
            .await
            .expect("count");
        rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0)
    }

    /// The events the service logged for invocation `id`.
    pub fn steps_of(&self, id: &str) -> Vec<String> {
        let prefix = format!("{id} ");
        self.log("steps.log")
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    /// Starts a slow invocation and waits (bounded) until its first step runs.
    pub async fn running(&self, target: &str) -> String {
        let id = self.send(target, json!({"steps": 100000, "step_ms": 300}), None).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.steps_of(&id).iter().any(|s| s == "step1 start") {
            assert!(
                Instant::now() < deadline,
                "{id} never started: {}",
                self.log("service.err")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.wait_state(&id, &RunState::Running).await;
        id
    }
}
