//! The `wfcancel` binary against a real Restate server and service (the same scripts and helpers
//! as `wfcancel-restate`'s live test: `tools/restate-live/`,
//! `crates/wfcancel-restate/tests/live/mod.rs`). One server for this test binary, one test
//! function. Without node or npm the test writes a visible `SKIPPED` line and passes, unless
//! `CI=true`: then it fails.
//!
//! ```text
//! cargo test -p wfcancel-cli --test live_restate_cli -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

#[path = "../../wfcancel-restate/tests/live/mod.rs"]
mod live;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wfcancel_core::RunState;

use live::{Live, install};

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
}

/// Runs `wfcancel --backend restate --url <admin> <args>` with a cleared environment (PATH
/// only), bounded by 60 s.
fn wfcancel(live: &Live, args: &[&str]) -> Out {
    let mut child = Command::new(BIN)
        .args(["--backend", "restate", "--url", &live.admin])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wfcancel");
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
async fn live_restate_cli() {
    let Some(install) = install() else {
        return;
    };
    let started = Instant::now();
    let live = Live::launch(&install).await;

    // 1. A running invocation: status reads it running.
    let id = live.running("WfcSlow/run").await;
    let out = wfcancel(&live, &["status", &id]);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("running    {id}"));

    // 1b. list sees it running, as a JSON line, and counts it (with every other running one).
    let out = wfcancel(
        &live,
        &["--json", "list", "--workflow", "WfcSlow", "--state", "running"],
    );
    out.expect(0);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let listed = lines
        .iter()
        .find(|l| l["type"] == "run" && l["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {}", out.stdout));
    assert_eq!(
        (&listed["state"], &listed["workflow"]),
        (&Value::from("running"), &Value::from("WfcSlow"))
    );
    let runs = lines.iter().filter(|l| l["type"] == "run").count();
    assert_eq!(
        lines.last().map(|l| &l["type"]),
        Some(&Value::from("summary")),
        "{}",
        out.stdout
    );
    let out = wfcancel(
        &live,
        &["list", "--workflow", "WfcSlow", "--state", "running", "--count"],
    );
    out.expect(0);
    assert_eq!(out.stdout.trim(), runs.to_string(), "{}", out.stderr);
    // A bulk by service without --yes (no terminal here): the preview counts on the real server
    // what it would hit (its invocations not completed: the running one at least), then refuses;
    // nothing is cancelled (checked below: the invocation is still running).
    let out = wfcancel(&live, &["-o", "json", "bulk", "--workflow", "WfcSlow"]);
    out.expect(2);
    let preview: Value = serde_json::from_str(out.stdout.lines().next().unwrap_or("{}")).unwrap();
    assert_eq!(preview["type"], "preview", "{}", out.stdout);
    assert!(preview["count"].as_u64().is_some_and(|n| n >= 1), "{}", out.stdout);
    assert_eq!(preview["exact"], true, "{}", out.stdout);

    // 2. A malformed id next to it: exit 2, nothing sent (the running one is left running).
    for args in [
        vec!["cancel", id.as_str(), "inv_not-an-id"],
        vec!["cancel", "wfr_123"],
        vec!["status", "inv_1' OR '1'='1"],
    ] {
        let out = wfcancel(&live, &args);
        out.expect(2);
        assert!(
            out.stderr.contains("is not a Restate invocation id"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = live.row(&id).await.expect("row");
    assert_eq!(row.state(), RunState::Running, "{row:?}");
    assert!(!live.steps_of(&id).iter().any(|s| s == "compensated"));

    // 3. cancel --wait: requested, then the server's row reads cancelled; the service ran its
    // compensation (a graceful cancel, not a kill).
    let out = wfcancel(&live, &["--json", "cancel", &id, "--wait", "--wait-timeout", "30"]);
    out.expect(0);
    let first: Value = serde_json::from_str(out.stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["run"], id.as_str(), "{}", out.stdout);
    assert_eq!(first["outcome"], "requested", "{}", out.stdout);
    assert_eq!(first["state"], "cancelled", "{}", out.stdout);
    let row = live.row(&id).await.expect("row");
    assert!(row.is("completed", Some("failure"), Some("[409] Cancelled")), "{row:?}");
    assert!(
        live.steps_of(&id).iter().any(|s| s == "compensated"),
        "{:?}",
        live.steps_of(&id)
    );

    let out = wfcancel(&live, &["list", "--workflow", "WfcSlow", "--state", "cancelled"]);
    out.expect(0);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(id.as_str()) && l.contains("cancelled")),
        "{}",
        out.stdout
    );

    // 4. Again: nothing to cancel, and the address form reaches the same invocation.
    let out = wfcancel(&live, &["cancel", &format!("restate:{id}")]);
    out.expect(0);
    assert!(out.stdout.contains("(finished)"), "{}", out.stdout);
    eprintln!(
        "live_restate_cli: malformed ids exit 2 with nothing sent; cancel --wait -> cancelled ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    drop(live);
}
