//! The `wfcancel` binary against a real LangGraph Agent Server, `langgraph dev` (the same scripts
//! and helpers as `wfcancel-langgraph`'s live test: `tools/langgraph-live/`,
//! `crates/wfcancel-langgraph/tests/live/mod.rs`). One server for this test binary, one test
//! function. Without python3 the test writes a visible `SKIPPED` line and passes, unless
//! `CI=true`: then it fails.
//!
//! ```text
//! cargo test -p wfcancel-cli --test live_langgraph_cli -- --nocapture
//! ```

#[path = "../../../tests/support/mod.rs"]
mod support;

#[path = "../../wfcancel-langgraph/tests/live/mod.rs"]
mod live;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use live::{Live, uuid, venv};

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

/// Runs `wfcancel --backend langgraph --url <live> <args>` with a cleared environment (PATH
/// only) and `stdin`, bounded by 60 s.
fn wfcancel(live: &Live, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(BIN)
        .args(["--backend", "langgraph", "--url", &live.base])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wfcancel");
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
async fn live_langgraph_cli() {
    let Some(venv) = venv() else {
        return;
    };
    let started = Instant::now();
    let live = Live::launch(&venv, false).await;

    // 1. cancel --thread --wait: requested, then the server reads the run interrupted and the
    // graph's progress stops.
    let (t, r) = live.running("cli-wait").await;
    let out = wfcancel(&live, &["status", &r, "--thread", &t], None);
    out.expect(0);
    assert_eq!(out.stdout.trim(), format!("running    {r} (thread {t})"));
    // Without --thread: exit 2, nothing sent (the run goes on).
    let out = wfcancel(&live, &["cancel", &r], None);
    out.expect(2);
    assert!(out.stderr.contains("--thread"), "{}", out.stderr);
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("running"));
    let out = wfcancel(
        &live,
        &["--json", "cancel", &r, "--thread", &t, "--wait", "--wait-timeout", "30"],
        None,
    );
    out.expect(0);
    let first: Value = serde_json::from_str(out.stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["outcome"], "requested", "{}", out.stdout);
    assert_eq!(first["state"], "cancelled", "{}", out.stdout);
    assert_eq!(live.state(&t, &r).await.as_deref(), Some("interrupted"));
    let stopped_at = live.progress("cli-wait");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        live.progress("cli-wait"),
        stopped_at,
        "the graph went on after the interrupt"
    );

    // 2. bulk --ids-file - of addresses across two threads (plus a finished and an unknown run).
    let (t1, r1) = live.running("cli-bulk-1").await;
    let (t2, r2) = live.running("cli-bulk-2").await;
    let unknown = uuid();
    let input = format!(
        "# two threads\nlanggraph:thread/{t1}/{r1}\nlanggraph:thread/{t2}/{r2}\nlanggraph:thread/{t}/{r}\n\
         langgraph:thread/{t2}/{unknown}\n"
    );
    let out = wfcancel(&live, &["bulk", "--ids-file", "-"], Some(&input));
    out.expect(0);
    for (tt, rr) in [(&t1, &r1), (&t2, &r2)] {
        assert!(
            out.stdout.contains(&format!("requested  {rr} (thread {tt})")),
            "{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains(&format!("not-active {r} (thread {t}) (finished)")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("not-active {unknown} (thread {t2}) (no such run)")),
        "{}",
        out.stdout
    );
    live.wait_state(&t1, &r1, "interrupted").await;
    live.wait_state(&t2, &r2, "interrupted").await;
    eprintln!(
        "live_langgraph_cli: cancel --thread --wait -> cancelled; bulk --ids-file across two threads ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    drop(live);
}
