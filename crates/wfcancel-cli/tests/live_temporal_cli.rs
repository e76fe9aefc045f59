//! The `wfcancel` binary against a real Temporal dev server and worker (the same scripts and
//! helpers as `wfcancel-temporal`'s live test: `tools/temporal-live/`,
//! `crates/wfcancel-temporal/tests/live/mod.rs`). One server for this test binary, one test
//! function. Without python3 the test writes a visible `SKIPPED` line and passes, unless
//! `CI=true`: then it fails.
//!
//! ```text
//! cargo test -p wfcancel-cli --test live_temporal_cli -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

#[path = "../../wfcancel-temporal/tests/live/mod.rs"]
mod live;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use live::{Live, NO_WORKER, QUEUE, unique};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect()
    }

    fn summary(&self) -> Value {
        self.json().last().expect("a summary")["summary"].clone()
    }
}

/// Runs `wfcancel --backend temporal --url <live> <args>` with a cleared environment (PATH
/// only) and `stdin`, bounded by 60 s.
fn wfcancel(live: &Live, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(["--backend", "temporal", "--url", &live.base])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wfcancel");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wfcancel {args:?} ran for more than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_temporal_cli() {
    let Some(venv) = live::venv() else {
        return;
    };
    let live = Live::launch(&venv).await;

    // 1. Cancel a running workflow: `requested`; then `--wait` on another: requested -> cancelled.
    let a = unique("cli-a");
    let b = unique("cli-b");
    for id in [&a, &b] {
        live.start(
            "default",
            id,
            "SlowSteps",
            QUEUE,
            json!({"steps": 20, "step_seconds": 1.0}),
        )
        .await;
    }
    let out = wfcancel(&live, &["status", &a], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("running    {a}"));
    let out = wfcancel(&live, &["cancel", &a, "--reason", "cli: graceful"], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("requested  {a}"), "{}", out.stderr);
    let requested = live.describe("default", &a).await.expect("described");
    assert!(requested.1 || requested.0 == "CANCELED", "{requested:?}");
    let out = wfcancel(&live, &["--json", "cancel", &b, "--wait", "--wait-timeout", "30"], None);
    out.expect(0);
    let lines = out.json();
    assert_eq!(lines[0]["outcome"], "requested", "{}", out.stdout);
    assert_eq!(lines[0]["state"], "cancelled", "{}", out.stdout);
    assert_eq!(
        live.describe("default", &b).await.map(|d| d.0).as_deref(),
        Some("CANCELED")
    );
    live.wait_status("default", &a, "CANCELED").await;
    let out = wfcancel(&live, &["cancel", &a, "--wait"], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("not-active {a} (finished) -> cancelled"));
    let history = live.history("default", &a).await;
    let cause: Vec<&Value> = history
        .iter()
        .filter(|e| e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED")
        .map(|e| &e["workflowExecutionCancelRequestedEventAttributes"]["cause"])
        .collect();
    assert_eq!(cause, [&json!("cli: graceful")]);
    eprintln!("live_temporal_cli: cancel -> requested, cancel --wait -> cancelled");

    // 2. --force (terminate) in another namespace, a run id, status; unknown ids and namespaces.
    let t = unique("cli-term");
    live.start("other", &t, "SlowSteps", NO_WORKER, json!({})).await;
    let (_, run_id) = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, json) = live.get(&live.url("other", &format!("workflows/{t}"))).await;
            if status == 200 {
                let rid = json["workflowExecutionInfo"]["execution"]["runId"]
                    .as_str()
                    .expect("run id")
                    .to_owned();
                break (status, rid);
            }
            assert!(Instant::now() < deadline, "{t} never described: {json}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wfcancel(&live, &["status", &t], None).expect(1); // not in `default`
    let out = wfcancel(
        &live,
        &[
            "cancel",
            &t,
            "--namespace",
            "other",
            "--run-id",
            &run_id,
            "--force",
            "--reason",
            "cli: forced",
        ],
        None,
    );
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("cancelled  {t}"));
    assert_eq!(
        live.describe("other", &t).await.map(|d| d.0).as_deref(),
        Some("TERMINATED")
    );
    let out = wfcancel(
        &live,
        &["status", &t, "--namespace", "other", "--run-id", &run_id],
        None,
    );
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("terminated {t}"));
    let out = wfcancel(&live, &["cancel", &unique("nope"), "--namespace", "no-such-ns"], None);
    out.expect(1);
    assert!(
        out.stdout.contains("Namespace no-such-ns is not found"),
        "{}",
        out.stdout
    );
    let out = wfcancel(&live, &["cancel", &unique("nope")], None);
    out.expect(0);
    assert!(out.stdout.contains("(no such run)"), "{}", out.stdout);

    // 3. bulk --workflow TYPE: refused without --yes (nothing sent), then one batch, waited for.
    let ty = unique("CliBatch");
    let mut hits = Vec::new();
    for i in 0..4 {
        let id = unique(&format!("cli-hit{i}"));
        live.start("default", &id, &ty, NO_WORKER, json!({})).await;
        hits.push(id);
    }
    let miss = unique("cli-miss");
    live.start("default", &miss, "SlowSteps", NO_WORKER, json!({})).await;
    live.wait_count("default", &format!("WorkflowType = {}", wfcancel_quote(&ty)), 4)
        .await;
    let out = wfcancel(&live, &["bulk", "--workflow", &ty], None);
    out.expect(2);
    assert!(out.stderr.contains("without --yes"), "{}", out.stderr);
    // The preview: the real server's count of what the batch's query selects, and the runs.
    assert!(out.stderr.contains("4 workflows match on temporal"), "{}", out.stderr);
    assert!(out.stderr.contains(&hits[0]), "{}", out.stderr);
    assert!(!out.stderr.contains(&miss), "{}", out.stderr);
    for id in &hits {
        assert_eq!(live.describe("default", id).await, Some(("RUNNING".to_owned(), false)));
    }
    let out = wfcancel(
        &live,
        &[
            "--json",
            "bulk",
            "--workflow",
            &ty,
            "--from",
            "1h",
            "--yes",
            "--wait",
            "--reason",
            "cli: batch",
        ],
        None,
    );
    out.expect(0);
    let s = out.summary();
    assert_eq!(
        (s["requested"].as_u64(), s["drained"].as_bool()),
        (Some(4), Some(true)),
        "{s}"
    );
    assert!(
        s["action_id"].as_str().is_some_and(|j| j.starts_with("wfcancel-")),
        "{s}"
    );
    for id in &hits {
        assert_eq!(
            live.describe("default", id).await,
            Some(("RUNNING".to_owned(), true)),
            "{id}"
        );
    }
    assert_eq!(
        live.describe("default", &miss).await,
        Some(("RUNNING".to_owned(), false))
    );

    // 4. bulk --query (terminate), and bulk --ids-file - (per-run lines).
    let q = format!(
        "WorkflowType = {} AND ExecutionStatus = \"Running\"",
        wfcancel_quote(&ty)
    );
    let out = wfcancel(&live, &["bulk", "--query", &q, "--force", "--yes", "--wait"], None);
    out.expect(0);
    assert!(out.stdout.contains("cancelled 4"), "{}", out.stdout);
    for id in &hits {
        assert_eq!(
            live.describe("default", id).await.map(|d| d.0).as_deref(),
            Some("TERMINATED")
        );
    }
    let unknown = unique("cli-unknown");
    let out = wfcancel(
        &live,
        &["bulk", "--ids-file", "-"],
        Some(&format!("{miss}\n{}\n{unknown}\n", hits[0])),
    );
    out.expect(0);
    assert!(out.stdout.contains(&format!("requested  {miss}")), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("not-active {} (finished)", hits[0])),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("not-active {unknown} (no such run)")),
        "{}",
        out.stdout
    );
    assert_eq!(
        live.describe("default", &miss).await,
        Some(("RUNNING".to_owned(), true))
    );

    // 5. A workflow id holding '/': status, cancel, then --wait, through the binary.
    let slash = format!("order/{}", unique("cli"));
    live.start_grpc("default", &slash, "SlowSteps", QUEUE);
    live.wait_listed("default", &slash, "RUNNING").await;
    let out = wfcancel(&live, &["status", &slash], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("running    {slash}"));
    let out = wfcancel(&live, &["cancel", &slash, "--reason", "cli: slash"], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("requested  {slash}"), "{}", out.stderr);
    live.wait_listed("default", &slash, "CANCELED").await;
    let out = wfcancel(&live, &["cancel", &slash, "--wait"], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("not-active {slash} (finished) -> cancelled"));
    eprintln!("live_temporal_cli: bulk by type, by query and by ids checked");
    drop(live);
}

/// A visibility string literal (as `wfcancel_temporal::quote`, which this crate does not depend on).
fn wfcancel_quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}
