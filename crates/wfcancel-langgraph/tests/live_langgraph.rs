//! Live test against a real LangGraph Agent Server: `langgraph dev` (in-memory runtime) from the
//! pinned PyPI packages of `tools/langgraph-live/`, on a free 127.0.0.1 port, with a fresh state
//! folder, killed by a guard. One server serves every scenario and the conformance suite; a
//! second one, with an auth handler, serves the wrong-key scenario.
//!
//! Needs a venv made by `tools/langgraph-live/setup.sh <venv>`, which this test always runs (it
//! installs the pinned packages from PyPI the first time, about 40 s; otherwise it returns at
//! once) into `<target>/live/langgraph-venv`, or the one `WFCANCEL_LANGGRAPH_VENV=<dir>` names.
//! Without python3 the test writes a visible `SKIPPED` line and passes, unless `CI=true`: then
//! it fails.
//!
//! ```text
//! cargo test -p wfcancel-langgraph --test live_langgraph -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use wfcancel_core::conformance::{self, Harness, SeedRun};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, Inactive, NotFoundKind, RetryPolicy, RunFilter, RunRef, RunState,
    Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt, async_trait, validate_id,
};
use wfcancel_langgraph::LangGraphCanceller;

const LIVE_KEY: &str = "wfc-live-RIGHT-key-7c1e";
const WRONG_KEY: &str = "wfc-live-WRONG-key-93ab";

fn venv() -> Option<PathBuf> {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Kills a process group (the child was started as its own group leader), then reaps it.
fn kill(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The server's workers may outlive the leader: the whole group goes.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn strip_ansi(s: &str) -> String {
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
struct Live {
    server: Child,
    dir: PathBuf,
    base: String,
    http: reqwest::Client,
}

impl Drop for Live {
    fn drop(&mut self) {
        kill(&mut self.server);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Live {
    async fn launch(venv: &Path, auth: bool) -> Self {
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

    fn logs(&self) -> String {
        let read = |n: &str| fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!("{}\n{}", read("server.log"), read("server.err"))
    }

    fn canceller(&self, key: Option<&str>) -> LangGraphCanceller {
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

    async fn post(&self, path: &str, body: Value) -> Value {
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

    async fn new_thread(&self) -> String {
        self.post("/threads", json!({})).await["thread_id"]
            .as_str()
            .expect("thread_id")
            .to_owned()
    }

    /// Starts a run of the test graph on `thread` without waiting; returns its id.
    async fn start(&self, thread: &str, input: Value, enqueue: bool) -> String {
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
    async fn state(&self, thread: &str, run: &str) -> Option<String> {
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
    async fn wait_state(&self, thread: &str, run: &str, want: &str) {
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
    fn progress(&self, tag: &str) -> u64 {
        fs::read_to_string(self.dir.join("progress").join(tag))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// A new thread with one long run, read `running` by the server.
    async fn running(&self, tag: &str) -> (String, String) {
        let t = self.new_thread().await;
        let r = self.start(&t, long(tag), false).await;
        self.wait_state(&t, &r, "running").await;
        (t, r)
    }
}

/// Input of a run that takes 600 s (6000 steps of 0.1 s) unless stopped.
fn long(tag: &str) -> Value {
    json!({"tag": tag, "steps": 6000, "step_seconds": 0.1})
}

fn uuid() -> String {
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

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The conformance harness: seeds runs of the test graph on the real server, each on a thread of
/// its own: running (a long run; it stands for paused too, which LangGraph runs do not have),
/// pending (enqueued behind a long run on its thread), completed (zero steps), failed (`fail`),
/// cancelled (a long run interrupted).
struct LiveHarness<'a> {
    live: &'a Live,
}

#[async_trait]
impl Harness for LiveHarness<'_> {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let l = self.live;
        let (t, r) = match run.state {
            RunState::Completed => {
                let t = l.new_thread().await;
                let r = l.start(&t, json!({"steps": 0}), false).await;
                l.wait_state(&t, &r, "success").await;
                (t, r)
            }
            RunState::Failed => {
                let t = l.new_thread().await;
                let r = l.start(&t, json!({"fail": true}), false).await;
                l.wait_state(&t, &r, "error").await;
                (t, r)
            }
            RunState::Cancelled => {
                let (t, r) = l.running(&run.id).await;
                let resp = l
                    .http
                    .post(format!("{}/threads/{t}/runs/{r}/cancel?action=interrupt", l.base))
                    .send()
                    .await
                    .expect("cancel");
                assert_eq!(resp.status().as_u16(), 202);
                l.wait_state(&t, &r, "interrupted").await;
                (t, r)
            }
            RunState::Pending => {
                let (t, _blocker) = l.running(&format!("{}-blocker", run.id)).await;
                let r = l.start(&t, long(&run.id), true).await;
                l.wait_state(&t, &r, "pending").await;
                (t, r)
            }
            _ => l.running(&run.id).await,
        };
        RunRef::new(r).thread(t)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        let thread = run.owner().map(|o| o.id.to_string())?;
        let s = self.live.state(&thread, run.run_id()).await?;
        Some(match s.as_str() {
            "pending" => RunState::Pending,
            "running" => RunState::Running,
            "success" => RunState::Completed,
            "error" => RunState::Failed,
            "interrupted" => RunState::Cancelled,
            "timeout" => RunState::TimedOut,
            other => RunState::unknown(other, true),
        })
    }

    /// A run the server never saw: fresh UUIDs for a usable id; an id that is itself invalid
    /// (the validation checks) is kept as is, in a fresh thread.
    fn unknown_run(&self, id: &str) -> RunRef {
        if validate_id("langgraph", "run_id", id).is_ok() {
            RunRef::new(uuid()).thread(uuid())
        } else {
            RunRef::new(id).thread(uuid())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_langgraph() {
    let Some(venv) = venv() else {
        return;
    };
    let live = Live::launch(&venv, false).await;
    let lg = live.canceller(None);
    let wait = WaitOptions::with_timeout(Duration::from_secs(30)).initial_interval(Duration::from_millis(50));

    // 1. A running run: Requested, then the wait reads cancelled, the server says interrupted,
    //    and the node stopped: its progress counter stops.
    let (t, r) = live.running("mid-run").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while live.progress("mid-run") < 3 {
        assert!(Instant::now() < deadline, "the node never progressed: {}", live.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = RunRef::new(&r).thread(&t);
    assert_eq!(lg.status(&run).await, Ok(RunState::Running));
    assert_eq!(lg.cancel(&run).await, Ok(CancelOutcome::Requested));
    assert_eq!(lg.wait_until_terminal(&run, wait).await, Ok(RunState::Cancelled));
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("interrupted"));
    let at_stop = live.progress("mid-run");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = live.progress("mid-run");
    assert!(
        later <= at_stop + 1 && later < 100,
        "the node went on after the interrupt: {at_stop} then {later}"
    );
    eprintln!("live_langgraph: interrupted at step {at_stop} (later {later})");
    // Again: finished (interrupted) → NotActive(Finished), nothing changes.
    assert_eq!(lg.cancel(&run).await, Ok(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("interrupted"));

    // 2. A finished run → NotActive(Finished); unknown runs → NotActive(NoSuchRun).
    let t2 = live.new_thread().await;
    let done = live.start(&t2, json!({"steps": 1, "step_seconds": 0.01}), false).await;
    live.wait_state(&t2, &done, "success").await;
    assert_eq!(
        lg.cancel(&RunRef::new(&done).thread(&t2)).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    assert_eq!(live.state(&t2, &done).await.as_deref(), Some("success"));
    assert_eq!(
        lg.status(&RunRef::new(&done).thread(&t2)).await,
        Ok(RunState::Completed)
    );
    for unknown in [RunRef::new(uuid()).thread(&t2), RunRef::new(uuid()).thread(uuid())] {
        assert_eq!(
            lg.cancel(&unknown).await,
            Ok(CancelOutcome::NotActive(Inactive::NoSuchRun)),
            "{unknown}"
        );
        let e = lg.status(&unknown).await.unwrap_err();
        assert!(
            matches!(
                e,
                CancelError::NotFound {
                    what: NotFoundKind::Run,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    let e = lg.cancel(&RunRef::new("not-a-uuid").thread(&t2)).await.unwrap_err();
    assert!(matches!(e, CancelError::InvalidInput { field: "run_id", .. }), "{e:?}");

    // 3. A bulk across threads: running, finished, unknown and pending runs, and an unknown
    //    thread; each reported as the server's own states say.
    let (ta, ra1) = live.running("bulk-a1").await;
    let ra2 = live.start(&ta, json!({"steps": 0}), true).await; // runs after ra1: stays pending
    live.wait_state(&ta, &ra2, "pending").await;
    let tb = live.new_thread().await;
    let rb1 = live.start(&tb, json!({"steps": 0}), false).await;
    live.wait_state(&tb, &rb1, "success").await;
    let rb2 = live.start(&tb, long("bulk-b2"), false).await;
    live.wait_state(&tb, &rb2, "running").await;
    let (tc, rc1) = live.running("bulk-c1").await; // not in the bulk: must stay running
    let rc2 = live.start(&tc, long("bulk-c2"), true).await;
    live.wait_state(&tc, &rc2, "pending").await;
    let unknown_in_b = uuid();
    let (unknown_t, unknown_r) = (uuid(), uuid());
    let ids = vec![
        RunRef::new(&ra1).thread(&ta),
        RunRef::new(&rb1).thread(&tb),
        RunRef::new(&unknown_in_b).thread(&tb),
        RunRef::new(&rc2).thread(&tc),
        RunRef::new(&ra2).thread(&ta),
        RunRef::new(&unknown_r).thread(&unknown_t),
        RunRef::new(&rb2).thread(&tb),
    ];
    let report = lg
        .cancel_many(&Selector::Ids(ids), &BulkOptions::new())
        .await
        .expect("bulk");
    assert!(report.is_success(), "{report:?}");
    let outcome = |r: &str| report.outcomes.iter().find(|o| o.run.run_id() == r).map(|o| o.outcome);
    for r in [&ra1, &ra2, &rb2, &rc2] {
        assert_eq!(outcome(r), Some(CancelOutcome::Requested), "{r}: {report:?}");
    }
    assert_eq!(outcome(&rb1), Some(CancelOutcome::NotActive(Inactive::Finished)));
    assert_eq!(
        outcome(&unknown_in_b),
        Some(CancelOutcome::NotActive(Inactive::NoSuchRun))
    );
    assert_eq!(outcome(&unknown_r), Some(CancelOutcome::NotActive(Inactive::NoSuchRun)));
    assert_eq!((report.requested, report.not_active, report.accounted()), (4, 3, 7));
    for (t, r) in [(&ta, &ra1), (&ta, &ra2), (&tb, &rb2), (&tc, &rc2)] {
        live.wait_state(t, r, "interrupted").await;
    }
    assert_eq!(live.state(&tb, &rb1).await.as_deref(), Some("success"));
    assert_eq!(live.state(&tb, &unknown_in_b).await, None);
    assert_eq!(
        live.state(&tc, &rc1).await.as_deref(),
        Some("running"),
        "not in the bulk"
    );
    eprintln!("live_langgraph: bulk across threads: {report:?}");

    // 4. By state: every running run (only rc1 by now), drained on the server's word.
    let report = lg
        .cancel_many(
            &Selector::filter(RunFilter::new().state(RunState::Running)),
            &BulkOptions::new().drain(true),
        )
        .await
        .expect("by state");
    assert!(report.is_success() && report.drained, "{report:?}");
    assert_eq!(
        report
            .outcomes
            .iter()
            .filter(|o| o.outcome == CancelOutcome::Requested)
            .map(|o| o.run.run_id().to_owned())
            .collect::<Vec<_>>(),
        vec![rc1.clone()],
        "{report:?}"
    );
    live.wait_state(&tc, &rc1, "interrupted").await;

    // 5. With an auth handler: a wrong key is Unauthenticated and never shows; the right one
    //    gets in (an unknown run reads NotFound, not 401).
    {
        let secured = Live::launch(&venv, true).await;
        let wrong = secured.canceller(Some(WRONG_KEY));
        let run = RunRef::new(uuid()).thread(uuid());
        let e = wrong.cancel(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
        let shown = format!("{e} {e:?} {wrong} {wrong:?}");
        assert!(!shown.contains(WRONG_KEY) && !shown.contains("WRONG"), "{shown}");
        let e = secured.canceller(None).status(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
        let right = secured.canceller(Some(LIVE_KEY));
        let e = right.status(&run).await.unwrap_err();
        assert!(matches!(e, CancelError::NotFound { .. }), "{e:?}");
        assert_eq!(
            right.cancel(&run).await,
            Ok(CancelOutcome::NotActive(Inactive::NoSuchRun))
        );
        assert!(!secured.logs().contains(WRONG_KEY), "the server logged the key");
    }

    // 6. The conformance suite on the real server, every check that applies but the two filter
    //    drains: they need a field that sets seeded runs apart (a label, a URL), and the state —
    //    LangGraph's only filter — cannot (scenario 4 covers the state filter). cancel_all last.
    let h = LiveHarness { live: &live };
    let c: &dyn WorkflowCanceller = &lg;
    conformance::check_backend_name(c, &h).await;
    conformance::check_validation(c, &h).await;
    conformance::check_idempotent_cancel(c, &h).await;
    conformance::check_not_active(c, &h).await;
    conformance::check_bulk_ids_accounting(c, &h).await;
    conformance::check_status(c, &h).await;
    conformance::check_modes(c, &h).await;
    conformance::check_capability_check(c, &h).await;
    conformance::check_addresses(c, &h).await;
    conformance::check_duplicates(c, &h).await;
    conformance::check_bulk_stop_and_deadline(c, &h).await;
    conformance::check_cancel_all(c, &h).await;
    eprintln!("live_langgraph: conformance checks passed");
    drop(live);
}
