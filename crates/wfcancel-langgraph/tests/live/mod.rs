//! The live LangGraph tests' server: a real `langgraph dev` from the pinned PyPI packages of
//! `tools/langgraph-live/`, on a free 127.0.0.1 port, killed (and its folder removed) by a
//! guard. Shared through `#[path]` by `live_langgraph.rs` and the CLI's live test (each test
//! binary starts its own servers). The including crate declares `mod support;`
//! (`tests/support/mod.rs`) at its root and depends on `wfcancel-core`, `wfcancel-langgraph`,
//! `reqwest`, `serde_json` and `tokio`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use wfcancel_core::RetryPolicy;
use wfcancel_core::http::HttpConfig;
use wfcancel_langgraph::LangGraphCanceller;

use crate::support;
pub use crate::support::free_port;

/// The API key the auth-checking server accepts (`WFCANCEL_LIVE_API_KEY`).
pub const LIVE_KEY: &str = "wfc-live-RIGHT-key-7c1e";

pub fn venv() -> Option<PathBuf> {
    let tools = support::root().join("tools/langgraph-live");
    for f in [
        "setup.sh",
        "run_server.sh",
        "requirements.txt",
        "graph/graph.py",
        "graph/auth.py",
        "graph/langgraph.json",
        "graph/langgraph-auth.json",
    ] {
        assert!(tools.join(f).is_file(), "{} is missing", tools.join(f).display());
    }
    let venv = std::env::var_os("WFCANCEL_LANGGRAPH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::owned_dir("langgraph-venv"));
    if !support::have("python3") {
        let why = format!(
            "python3 is not on PATH, so the langgraph venv at {} cannot be built (install Python 3.10+)",
            venv.display()
        );
        if support::in_ci() {
            panic!("live LangGraph test cannot run in CI: {why}");
        }
        support::skip("live_langgraph", &why);
        return None;
    }
    support::run_setup(&tools.join("setup.sh"), &venv, support::SETUP_TIMEOUT);
    assert!(
        venv.join("bin/langgraph").exists(),
        "setup.sh left no bin/langgraph in {}",
        venv.display()
    );
    Some(venv)
}

/// Stops the process group `child` leads (see [`support::stop_group`]).
pub fn kill(child: &mut Child) {
    support::stop_group(child, Duration::from_secs(6));
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One `langgraph dev`; killed (and its folder removed) when dropped.
pub struct Live {
    pub server: Child,
    pub dir: PathBuf,
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        kill(&mut self.server);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    pub async fn launch(venv: &Path, auth: bool) -> Self {
        let tools = support::root().join("tools/langgraph-live");
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("wfcancel-langgraph-live-{}-{nanos}", std::process::id()));
        fs::create_dir_all(dir.join("progress")).expect("dir");
        let port = free_port();
        let mut cmd = Command::new(tools.join("run_server.sh"));
        cmd.arg(venv).arg(port.to_string()).arg(&dir);
        if auth {
            cmd.arg("auth");
        }
        cmd.env("WFCANCEL_PROGRESS_DIR", dir.join("progress"))
            .env("WFCANCEL_LIVE_API_KEY", LIVE_KEY)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("server.log")).expect("log"))
            .stderr(fs::File::create(dir.join("server.err")).expect("log"));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let server = cmd.spawn().expect("spawn langgraph dev");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .expect("client");
        let mut live = Live {
            server,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            http,
        };
        // Bounded: ready in a few seconds here. `langgraph dev` moves to another port silently
        // when its port is taken: the banner must name ours.
        let deadline = Instant::now() + Duration::from_secs(90);
        let want = format!("API: http://127.0.0.1:{port}");
        loop {
            if let Ok(Some(status)) = live.server.try_wait() {
                panic!("langgraph dev exited ({status}): {}", live.logs());
            }
            let banner = strip_ansi(&live.logs());
            if let Some(line) = banner.lines().find(|l| l.contains("API: http")) {
                assert!(line.contains(&want), "langgraph dev moved off port {port}: {line}");
                if let Ok(r) = live.http.get(format!("{}/ok", live.base)).send().await {
                    if r.status().is_success() {
                        break;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "langgraph dev was not ready within 90 s: {}",
                live.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        live
    }

    pub fn logs(&self) -> String {
        let read = |n: &str| fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!("{}\n{}", read("server.log"), read("server.err"))
    }

    pub fn canceller(&self, key: Option<&str>) -> LangGraphCanceller {
        let b = LangGraphCanceller::builder().base_url(&self.base).http_config(
            HttpConfig::default().retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50))),
        );
        match key {
            Some(k) => b.api_key(k),
            None => b,
        }
        .build()
        .expect("canceller")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-api-key", LIVE_KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("post");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn new_thread(&self) -> String {
        self.post("/threads", json!({})).await["thread_id"]
            .as_str()
            .expect("thread_id")
            .to_owned()
    }

    /// Starts a run of the test graph on `thread` without waiting; returns its id.
    pub async fn start(&self, thread: &str, input: Value, enqueue: bool) -> String {
        let mut body = json!({"assistant_id": "agent", "input": input});
        if enqueue {
            body["multitask_strategy"] = json!("enqueue");
        }
        self.post(&format!("/threads/{thread}/runs"), body).await["run_id"]
            .as_str()
            .expect("run_id")
            .to_owned()
    }

    /// The server's own run status, `None` for a 404.
    pub async fn state(&self, thread: &str, run: &str) -> Option<String> {
        let r = self
            .http
            .get(format!("{}/threads/{thread}/runs/{run}", self.base))
            .header("x-api-key", LIVE_KEY)
            .send()
            .await
            .expect("get");
        if r.status().as_u16() == 404 {
            return None;
        }
        assert!(r.status().is_success(), "GET run: {}", r.status());
        let json: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
        Some(json["status"].as_str().expect("status").to_owned())
    }

    /// Waits (bounded) until the server's status of the run is `want`.
    pub async fn wait_state(&self, thread: &str, run: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.state(thread, run).await;
            if got.as_deref() == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "run {run}: expected {want}, still {got:?}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// The progress counter the graph's node wrote for `tag`.
    pub fn progress(&self, tag: &str) -> u64 {
        fs::read_to_string(self.dir.join("progress").join(tag))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// A new thread with one long run, read `running` by the server.
    pub async fn running(&self, tag: &str) -> (String, String) {
        let t = self.new_thread().await;
        let r = self.start(&t, long(tag), false).await;
        self.wait_state(&t, &r, "running").await;
        (t, r)
    }
}

/// Input of a run that takes 600 s (6000 steps of 0.1 s) unless stopped.
pub fn long(tag: &str) -> Value {
    json!({"tag": tag, "steps": 6000, "step_seconds": 0.1})
}

pub fn uuid() -> String {
    let hi = fastrand_u64();
    let lo = fastrand_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xfff,
        lo >> 52,
        lo & 0xffff_ffff_ffff
    )
}

pub fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
