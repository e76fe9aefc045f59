//! Live test against a real AgentOS (agno 3.1.10) served from `tools/agno-live/server.py`.
//!
//! Needs a venv made by `tools/agno-live/setup.sh <venv>`, which this test always runs (it
//! installs agno 3.1.10 from PyPI the first time, 10-20 s, and again when
//! `tools/agno-live/requirements.txt` changes; otherwise it returns at once) into a folder it
//! owns, `<target>/live/agno-venv`, or the one `WFCANCEL_AGNO_VENV=<dir>` names.
//!
//! Without python3 the test writes a visible `SKIPPED` line to stderr and passes, unless
//! `CI=true` (or `1`): then it fails. A failing or hanging `setup.sh` fails the test, locally too.
//!
//! ```text
//! cargo test -p wfcancel-agno --test live_agentos -- --nocapture
//! ```

mod common;
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wfcancel_core::Inactive;

use futures::StreamExt;
use futures::future::join_all;
use wfcancel_agno::AgnoCanceller;
use wfcancel_core::RetryPolicy;
use wfcancel_core::conformance;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, ListOptions, ListedRun, NotFoundKind, RunFilter, RunRef, RunState,
    Selector, WaitOptions, WorkflowCanceller, WorkflowCancellerExt,
};
use wfcancel_emulator::{FaultKind, FaultProxy, Faults, ProxyConfig, ProxyFlavor};

const KEY: &str = "wfcancel-live-key";
const WORKFLOW: &str = "slow-steps";
const STEPS: usize = 5;

/// The venv's folder, made or brought up to date by `setup.sh`; `None` (after a visible skip
/// line) only when python3 is missing locally. Panics in CI without python3, and whenever
/// `setup.sh` fails or takes more than 10 minutes.
fn venv() -> Option<PathBuf> {
    let tools = support::root().join("tools/agno-live");
    for f in ["setup.sh", "run_server.sh", "server.py", "requirements.txt"] {
        assert!(tools.join(f).is_file(), "{} is missing", tools.join(f).display());
    }
    let venv = std::env::var_os("WFCANCEL_AGNO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::owned_dir("agno-venv"));
    if !support::have("python3") {
        let why = format!(
            "python3 is not on PATH, so the agno venv at {} cannot be built (install Python 3.10+)",
            venv.display()
        );
        if support::in_ci() {
            panic!("live AgentOS test cannot run in CI: {why}");
        }
        support::skip("live_agentos", &why);
        return None;
    }
    // Idempotent: returns at once when the venv matches requirements.txt, rebuilds it otherwise.
    support::run_setup(&tools.join("setup.sh"), &venv, support::SETUP_TIMEOUT);
    assert!(
        venv.join("bin/python").exists(),
        "setup.sh succeeded but {} has no bin/python",
        venv.display()
    );
    Some(venv)
}

/// The AgentOS process; killed (and its files removed) when dropped, panics included.
struct LiveServer {
    child: Child,
    dir: PathBuf,
    base: String,
    step_log: PathBuf,
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl LiveServer {
    /// Starts the server on a free loopback port and waits (bounded) for `/health`.
    async fn start(venv: &Path) -> Result<Self, String> {
        Self::start_with(venv, &[]).await
    }

    /// [`LiveServer::start`] with more `server.py` flags.
    async fn start_with(venv: &Path, extra: &[&str]) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!("wfcancel-agno-live-{}-{nanos}", std::process::id()));
            fs::create_dir_all(dir.join("db")).map_err(|e| e.to_string())?;
            let step_log = dir.join("steps.log");
            let stderr = fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
            let child = Command::new(support::root().join("tools/agno-live/run_server.sh"))
                .arg(venv)
                .arg(port.to_string())
                .arg(dir.join("db"))
                .args(["--steps", &STEPS.to_string()])
                .args(extra)
                .env("OS_SECURITY_KEY", KEY)
                .env("WFCANCEL_STEP_LOG", &step_log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("cannot start the server: {e}"))?;
            let mut server = LiveServer {
                child,
                dir,
                base: format!("http://127.0.0.1:{port}"),
                step_log,
            };
            match server.wait_healthy(Duration::from_secs(60)).await {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn wait_healthy(&mut self, within: Duration) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
                return Err(format!("the server exited ({status}): {err}"));
            }
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("no healthy answer from {}/health within {within:?}", self.base))
    }

    fn canceller(&self, key: Option<&str>) -> AgnoCanceller {
        // The state check is opt-in; the live test turns it on to show NotActive for runs that
        // are over (one check below shows the default, unchecked answer).
        let b = AgnoCanceller::builder()
            .base_url(&self.base)
            .http_config(common::fast_retries(3))
            .check_state_before_cancel(true);
        match key {
            Some(k) => b.security_key(k),
            None => b,
        }
        .build()
        .expect("canceller")
    }

    /// Starts a background run of `workflow`; its `RunRef` carries workflow and session.
    async fn start_run(&self, http: &reqwest::Client, workflow: &str) -> RunRef {
        let resp = http
            .post(format!("{}/workflows/{workflow}/runs", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("message=x&stream=false&background=true")
            .send()
            .await
            .expect("start run");
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 202, "start run: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("202 body");
        let run_id = json["run_id"].as_str().expect("run_id");
        let session = json["session_id"].as_str().expect("session_id");
        RunRef::new(run_id).workflow(workflow).session(session)
    }

    /// The steps the run has logged so far.
    fn steps_of(&self, run: &RunRef) -> Vec<String> {
        let prefix = format!("{} ", run.run_id());
        fs::read_to_string(&self.step_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }
}

/// Every page of a listing, `limit` a page, no run twice.
async fn list_all(agno: &AgnoCanceller, filter: &RunFilter, limit: usize) -> Vec<ListedRun> {
    let mut out: Vec<ListedRun> = Vec::new();
    let mut opts = ListOptions::new().limit(limit);
    loop {
        let page = agno.list_runs(filter, &opts).await.expect("list_runs");
        assert!(page.runs.len() <= limit, "{page:?}");
        for l in page.runs {
            assert!(!out.iter().any(|o| o.run == l.run), "listed twice: {l:?}");
            out.push(l);
        }
        match page.next {
            Some(next) => opts = ListOptions::new().limit(limit).cursor(next),
            None => return out,
        }
    }
}

/// 2,000 runs of `long-steps` (60 steps of 5 s: they stay active for 5 minutes) on an AgentOS of
/// their own, cancelled by ids through [`FaultProxy`], 20 % of requests answered `503`, 5 % `429`
/// with `Retry-After`, 2 % dropped before they reach the server. AgentOS runs 32 background runs
/// at once; the others wait `PENDING`: both are active runs to cancel. The canceller reads each
/// run's state first (as the live test's canceller does; one attempt, no retry: a faulted read
/// falls back to the cancel). Nothing lost: every run is accounted for exactly once; each the
/// report calls requested ends `CANCELLED` on the server's own word (read from the server, not
/// through the proxy); each it names as failed is pending, running or cancelled there.
async fn storm(venv: &Path) {
    const N: usize = 2000;
    let server = match LiveServer::start_with(venv, &["--step-seconds", "5"]).await {
        Ok(s) => s,
        Err(why) => panic!("the storm's AgentOS did not start: {why}"),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let started = Instant::now();
    let runs: Vec<RunRef> = futures::stream::iter(0..N)
        .map(|_| server.start_run(&http, "long-steps"))
        .buffer_unordered(32)
        .collect()
        .await;
    let start_time = started.elapsed();
    assert_eq!(runs.iter().map(RunRef::run_id).collect::<HashSet<_>>().len(), N);
    eprintln!("live_agentos: storm: started {N} runs in {start_time:?}");
    let proxy = FaultProxy::start(ProxyConfig::new(&server.base, ProxyFlavor::Agno))
        .await
        .expect("proxy");
    proxy.faults().set(
        Faults::none()
            .errors(0.20)
            .throttle(0.05)
            .retry_after_secs(1)
            .drops(0.02)
            .seed(16),
    );
    let c = AgnoCanceller::builder()
        .base_url(proxy.url())
        .security_key(KEY)
        .check_state_before_cancel(true)
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(8)
                    .initial_backoff(Duration::from_millis(20)),
            ),
        )
        .build()
        .expect("canceller");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(180),
        c.cancel_many(&Selector::Ids(runs.clone()), &BulkOptions::new().concurrency(32)),
    )
    .await
    .expect("the storm ends in bounded time")
    .expect("a report");
    let cancel_time = started.elapsed();
    proxy.faults().clear();
    let s = proxy.stats();
    let failed = report.failed.iter().map(|f| f.runs.len()).sum::<usize>();
    eprintln!(
        "live_agentos: storm of {N} through the proxy in {cancel_time:?} (starting them took {start_time:?}): \
         {} requests ({} sent by the client), {} faults (503 {}, 429 {}, dropped {}); requested {}, cancelled {}, \
         not active {}, failed {failed}, not attempted {}",
        s.requests,
        report.requests_sent,
        s.faults_total(),
        s.fault(FaultKind::ServerError),
        s.fault(FaultKind::Throttled),
        s.fault(FaultKind::Dropped),
        report.requested,
        report.cancelled,
        report.not_active,
        report.not_attempted.len(),
    );
    assert!(
        s.fault(FaultKind::ServerError) > 100 && s.fault(FaultKind::Throttled) > 20 && s.fault(FaultKind::Dropped) > 5,
        "the storm happened: {s:?}"
    );
    let mut seen = std::collections::HashMap::new();
    for o in &report.outcomes {
        assert!(
            seen.insert(o.run.run_id().to_owned(), Some(o.outcome)).is_none(),
            "{} twice",
            o.run
        );
    }
    for f in &report.failed {
        for r in &f.runs {
            assert!(seen.insert(r.run_id().to_owned(), None).is_none(), "{r} twice");
        }
    }
    assert!(report.not_attempted.is_empty(), "{:?}", report.not_attempted.first());
    assert_eq!(seen.len(), N, "every run accounted for");
    assert_eq!(report.accounted(), N as u64);
    assert_eq!(report.not_active, 0, "every run was active: {report:?}");
    // On the server's word, read without the proxy.
    let harness = LiveHarness {
        server: &server,
        http: http.clone(),
    };
    let (harness, seen) = (&harness, &seen);
    let checked: Vec<()> = futures::stream::iter(runs.iter())
        .map(|run| async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let state = harness.raw_status(run).await;
                match (seen[run.run_id()], state.as_deref()) {
                    (Some(CancelOutcome::Requested | CancelOutcome::Cancelled), Some("CANCELLED")) => break,
                    (None, Some("PENDING" | "RUNNING" | "CANCELLED")) => break,
                    (Some(CancelOutcome::Requested), Some("PENDING" | "RUNNING")) => {}
                    (outcome, other) => panic!("{run}: the report says {outcome:?}, the server {other:?}"),
                }
                assert!(Instant::now() < deadline, "{run} still {state:?} after the storm");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), N);
    eprintln!("live_agentos: storm: every run's state read on the server agrees with the report");
    proxy.shutdown().await;

    // Lost answers: 200 more runs, 30 % of the answers dropped after AgentOS acted (the state
    // read's or the cancel's). A retried cancel is answered `200 {}` again (AgentOS's cancel is
    // idempotent): every run requested, none failed or not active, all CANCELLED there.
    const LOST: usize = 200;
    let runs: Vec<RunRef> = futures::stream::iter(0..LOST)
        .map(|_| server.start_run(&http, "long-steps"))
        .buffer_unordered(32)
        .collect()
        .await;
    let proxy = FaultProxy::start(
        ProxyConfig::new(&server.base, ProxyFlavor::Agno).faults(Faults::none().drop_after(0.30).seed(17)),
    )
    .await
    .expect("proxy");
    let c = AgnoCanceller::builder()
        .base_url(proxy.url())
        .security_key(KEY)
        .check_state_before_cancel(true)
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(8)
                    .initial_backoff(Duration::from_millis(20)),
            ),
        )
        .build()
        .expect("canceller");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        c.cancel_many(&Selector::Ids(runs.clone()), &BulkOptions::new().concurrency(32)),
    )
    .await
    .expect("the bulk ends in bounded time")
    .expect("a report");
    let s = proxy.stats();
    eprintln!(
        "live_agentos: lost answers: {LOST} runs in {:?}: {} requests, {} answers lost after the server acted; \
         requested {}, cancelled {}, not active {}, failed {}",
        started.elapsed(),
        s.requests,
        s.fault(FaultKind::DroppedAfterHandling),
        report.requested,
        report.cancelled,
        report.not_active,
        report.failed.iter().map(|f| f.runs.len()).sum::<usize>(),
    );
    assert!(
        s.fault(FaultKind::DroppedAfterHandling) > 10,
        "answers were lost: {s:?}"
    );
    assert_eq!(
        (report.requested, report.accounted()),
        (LOST as u64, LOST as u64),
        "{report:?}"
    );
    let checked: Vec<()> = futures::stream::iter(runs.iter())
        .map(|run| async move {
            harness.wait_for(run, "CANCELLED").await;
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(checked.len(), LOST);
    proxy.shutdown().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_agentos_cancels_for_real() {
    let Some(venv) = venv() else {
        return;
    };
    let server = match LiveServer::start(&venv).await {
        Ok(s) => s,
        Err(why) => panic!("the live AgentOS did not start: {why}"),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let agno = server.canceller(Some(KEY));
    let wait = WaitOptions::with_timeout(Duration::from_secs(30)).initial_interval(Duration::from_millis(50));

    // 1. Cancel mid-run: Requested, then CANCELLED; the steps after the running one never run.
    let run = server.start_run(&http, WORKFLOW).await;
    // Wait (bounded) until step1 has run, so that the cancel lands mid-run on a slow machine too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.steps_of(&run).iter().any(|s| s == "step1") {
        assert!(
            Instant::now() < deadline,
            "step1 of run {run} was not logged within 20 s; steps: {:?}",
            server.steps_of(&run)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = agno.status(&run).await.expect("status before cancel");
    assert_eq!(before, RunState::Running);
    let done = agno.cancel_and_wait(&run, wait).await.expect("cancel_and_wait");
    assert_eq!(done.outcome, CancelOutcome::Requested);
    assert_eq!(done.state, RunState::Cancelled);
    let at_terminal = server.steps_of(&run);
    // Longer than the remaining steps would have taken.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = server.steps_of(&run);
    assert_eq!(later, at_terminal, "no step ran after the run was cancelled");
    assert!(
        later.len() < STEPS && !later.contains(&format!("step{STEPS}")),
        "steps run: {later:?}"
    );
    assert!(later.first().is_some_and(|s| s == "step1"), "steps run: {later:?}");
    eprintln!("live_agentos: cancelled mid-run after steps {later:?}");

    // 2. A second cancel of the cancelled run is NotActive (the state check sees it is over);
    //    without the check, AgentOS's bare 200 is all there is: Requested.
    assert_eq!(
        agno.cancel(&run).await,
        Ok(CancelOutcome::NotActive(Inactive::Finished))
    );
    let unchecked = AgnoCanceller::builder()
        .base_url(&server.base)
        .security_key(KEY)
        .check_state_before_cancel(false)
        .build()
        .expect("canceller");
    assert_eq!(unchecked.cancel(&run).await, Ok(CancelOutcome::Requested));
    assert_eq!(agno.status(&run).await, Ok(RunState::Cancelled));

    // 3. A run that completed stays completed, and cancel_and_wait says so.
    let quick = server.start_run(&http, "quick").await;
    let state = agno.wait_until_terminal(&quick, wait).await.expect("quick run");
    assert_eq!(state, RunState::Completed);
    let done = agno.cancel_and_wait(&quick, wait).await.expect("cancel completed run");
    assert_eq!(
        (done.outcome, done.state),
        (CancelOutcome::NotActive(Inactive::Finished), RunState::Completed)
    );

    // 3b. See runs: the workflow's runs listed, each addressed with its session and in the
    //     state the server reads for it.
    let listed = list_all(&agno, &RunFilter::new().workflow("quick"), 50).await;
    let q = listed
        .iter()
        .find(|l| l.run.run_id() == quick.run_id())
        .expect("quick listed");
    assert_eq!((&q.run, &q.state), (&quick, &RunState::Completed), "{q:?}");
    let listed = list_all(&agno, &RunFilter::new().workflow(WORKFLOW), 50).await;
    let first = listed
        .iter()
        .find(|l| l.run.run_id() == run.run_id())
        .expect("run listed");
    assert_eq!(first.run, run);
    assert_eq!(agno.status(&first.run).await.as_ref(), Ok(&first.state));
    assert_eq!(first.state, RunState::Cancelled);
    eprintln!("live_agentos: list_runs saw the cancelled and the completed run");

    // 4. Authentication.
    let err = server.canceller(Some("wrong-key")).cancel(&run).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Unauthenticated { message, .. } if message == "Invalid authentication token"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-key"));
    let err = server.canceller(None).cancel(&run).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::Unauthenticated { message, .. } if message.contains("Authorization header required")),
        "{err:?}"
    );

    // 5. Unknown owners and runs.
    let err = agno
        .cancel(&RunRef::new("r").workflow("no-such-workflow"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Workflow, id: Some(i), .. } if i == "no-such-workflow"),
        "{err:?}"
    );
    let err = agno.cancel(&RunRef::new("r").agent("no-such-agent")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            CancelError::NotFound {
                what: NotFoundKind::Agent,
                ..
            }
        ),
        "{err:?}"
    );
    let err = agno.cancel(&RunRef::new("r").team("no-such-team")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            CancelError::NotFound {
                what: NotFoundKind::Team,
                ..
            }
        ),
        "{err:?}"
    );
    let err = agno
        .status(&RunRef::new("no-such-run").workflow(WORKFLOW).session("s"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), .. } if i == "no-such-run"),
        "{err:?}"
    );
    // An unknown run id is accepted by cancel (AgentOS stores the intent anyway): Requested,
    // with or without a session. The state check's `404 Run not found` proves nothing (AgentOS
    // answers it for a wrong session too, while the cancel reaches the run by id), so the cancel
    // is sent and its answer stands.
    assert_eq!(
        agno.cancel(&RunRef::new("no-such-run").workflow(WORKFLOW)).await,
        Ok(CancelOutcome::Requested)
    );
    assert_eq!(
        agno.cancel(&RunRef::new("no-such-run").workflow(WORKFLOW).session("s"))
            .await,
        Ok(CancelOutcome::Requested)
    );
    // Hostile ids stay one segment: the server sees an unknown run, not another path.
    let hostile = RunRef::new("..?x=1#frag 100% ü")
        .workflow(WORKFLOW)
        .session("a b/ü&c=d");
    assert_eq!(agno.cancel(&hostile).await, Ok(CancelOutcome::Requested));
    let err = agno.status(&hostile).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Run, message, .. } if message == "Run not found"),
        "{err:?}"
    );
    // With a `/`, AgentOS (Starlette) decodes `%2F` before routing and finds no route at all:
    // still a not-found of that run, never another endpoint.
    let slash = RunRef::new("../../health").workflow(WORKFLOW).session("s");
    for err in [
        agno.cancel(&slash).await.unwrap_err(),
        agno.status(&slash).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), .. } if i == "../../health"),
            "{err:?}"
        );
    }

    // 6. 50 runs through cancel_many, all reaching CANCELLED.
    let runs: Vec<RunRef> = join_all((0..50).map(|_| server.start_run(&http, WORKFLOW))).await;
    assert_eq!(runs.iter().map(RunRef::run_id).collect::<HashSet<_>>().len(), 50);
    let report = agno
        .cancel_many(&Selector::Ids(runs.clone()), &BulkOptions::new())
        .await
        .expect("cancel_many");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        (report.requested, report.accounted(), report.requests_sent),
        (50, 50, 50)
    );
    let wait_long = WaitOptions::with_timeout(Duration::from_secs(60)).initial_interval(Duration::from_millis(100));
    let finals = join_all(runs.iter().map(|r| agno.wait_until_terminal(r, wait_long))).await;
    for (r, f) in runs.iter().zip(&finals) {
        assert_eq!(f, &Ok(RunState::Cancelled), "run {r}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for r in &runs {
        let steps = server.steps_of(r);
        assert!(steps.len() <= 2, "run {r} ran {steps:?}");
    }
    // The listing, seven a page, shows the 50 cancelled, as each status read says.
    let cancelled = list_all(
        &agno,
        &RunFilter::new().workflow(WORKFLOW).state(RunState::Cancelled),
        7,
    )
    .await;
    for r in &runs {
        let l = cancelled.iter().find(|l| &l.run == r).expect("listed cancelled");
        assert_eq!(l.state, RunState::Cancelled, "{l:?}");
    }
    eprintln!("live_agentos: 50 runs cancelled through cancel_many");

    // 7. The conformance suite on the real server: the canceller as the live test builds it
    //    (state check on), then with the builder's default (no state check).
    let harness = LiveHarness {
        server: &server,
        http: http.clone(),
    };
    for checked in [true, false] {
        let c = AgnoCanceller::builder()
            .base_url(&server.base)
            .security_key(KEY)
            .http_config(common::fast_retries(3))
            .check_state_before_cancel(checked)
            .build()
            .expect("canceller");
        let summary = conformance::run_all(&c, &harness).await;
        eprintln!("live_agentos: conformance (state check {checked}): {summary}");
        for check in [
            "idempotent_cancel",
            "not_active",
            "bulk_ids_accounting",
            "modes",
            "duplicates",
        ] {
            assert!(summary.ran.contains(&check), "{check} did not run: {summary}");
        }
    }
    drop(server);

    // 8. A storm through the fault proxy (20 % 503, 5 % 429, 2 % dropped connections), on an
    //    AgentOS of its own whose long runs stay active for minutes.
    storm(&venv).await;
}

/// Seeds runs on the live AgentOS for the conformance suite: a running run is a `long-steps` run
/// (60 one-second steps) seen `RUNNING`; a completed one a `quick` run, a failed one a `failing`
/// run, a cancelled one a `long-steps` run cancelled through the raw API, each waited for. The
/// server picks run ids, so the seed's id names nothing; states the server cannot be put in on
/// demand (pending, paused) are seeded running, which the checks treat alike (active).
struct LiveHarness<'a> {
    server: &'a LiveServer,
    http: reqwest::Client,
}

impl LiveHarness<'_> {
    /// The run's status as AgentOS reports it (`None` on 404), read without the canceller.
    async fn raw_status(&self, run: &RunRef) -> Option<String> {
        let owner = run.owner().expect("live runs have an owner");
        let resp = self
            .http
            .get(format!(
                "{}/workflows/{}/runs/{}",
                self.server.base,
                owner.id,
                run.run_id()
            ))
            .query(&[("session_id", run.session_id().unwrap_or_default())])
            .bearer_auth(KEY)
            .send()
            .await
            .expect("status read");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(resp.status().is_success(), "status read of {run}: {}", resp.status());
        let body = resp.bytes().await.expect("status body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("status JSON");
        json["status"].as_str().map(str::to_owned)
    }

    /// Polls (bounded) until the run's status is `want`.
    async fn wait_for(&self, run: &RunRef, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.raw_status(run).await;
            if now.as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} did not reach {want} within 30 s (last: {now:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[wfcancel_core::async_trait]
impl conformance::Harness for LiveHarness<'_> {
    async fn seed(&self, seed: conformance::SeedRun) -> RunRef {
        let (workflow, want) = match seed.state {
            RunState::Completed => ("quick", "COMPLETED"),
            RunState::Failed => ("failing", "ERROR"),
            _ => ("long-steps", "RUNNING"),
        };
        let run = self.server.start_run(&self.http, workflow).await;
        self.wait_for(&run, want).await;
        if seed.state == RunState::Cancelled {
            let resp = self
                .http
                .post(format!(
                    "{}/workflows/long-steps/runs/{}/cancel",
                    self.server.base,
                    run.run_id()
                ))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("raw cancel");
            assert!(resp.status().is_success(), "raw cancel: {}", resp.status());
            self.wait_for(&run, "CANCELLED").await;
        }
        run
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        self.raw_status(run).await.map(|s| match s.as_str() {
            "PENDING" => RunState::Pending,
            "RUNNING" => RunState::Running,
            "PAUSED" => RunState::Paused,
            "COMPLETED" => RunState::Completed,
            "CANCELLED" => RunState::Cancelled,
            "ERROR" => RunState::Failed,
            other => RunState::unknown(other, false),
        })
    }

    fn unknown_run(&self, id: &str) -> RunRef {
        RunRef::new(id).workflow("long-steps").session(format!("{id}-session"))
    }
}
