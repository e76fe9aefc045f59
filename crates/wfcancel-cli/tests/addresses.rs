//! Run addresses wherever the command takes run ids: arguments and `--ids-file` lines, each
//! routed to the backend it names (configured from that backend's own environment), so one file
//! can hold runs of several providers.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, UpstashConfig, UpstashEmulator, UpstashRun};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

struct Both {
    upstash: UpstashEmulator,
    agno: AgnoEmulator,
}

async fn both() -> Both {
    let upstash = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    let agno = AgnoEmulator::start(AgnoConfig::default()).await.unwrap();
    for i in 0..3 {
        upstash.seed(UpstashRun::new(format!("wfr_{i}"), "https://x/wf"));
        agno.seed(AgnoRun::workflow("nightly", format!("run-{i}")).session("s-1"));
    }
    Both { upstash, agno }
}

fn command(b: &Both, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("WFCANCEL_BACKEND", "upstash")
        .env("QSTASH_URL", b.upstash.url())
        .env("QSTASH_TOKEN", b.upstash.token())
        .env("AGENTOS_URL", b.agno.url())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_may_be_addresses_of_several_backends() {
    let b = both().await;
    let out = command(
        &b,
        &[
            "--json",
            "cancel",
            "wfr_0",
            "upstash:wfr_1",
            "agno:workflow/nightly/run-0?session=s-1",
        ],
    )
    .output()
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            summary["summary"]["cancelled"].as_u64(),
            summary["summary"]["requested"].as_u64()
        ),
        (Some(2), Some(1))
    );
    // Each line carries the run's address, to store and cancel later.
    assert!(
        stdout.contains(r#""address":"agno:workflow/nightly/run-0?session=s-1""#),
        "{stdout}"
    );
    assert_eq!(b.upstash.active_count(), 1);
    assert!(b.agno.cancel_requested("run-0") && !b.agno.cancel_requested("run-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_may_hold_runs_of_several_providers() {
    let b = both().await;
    let mut child = command(&b, &["--json", "bulk", "--ids-file", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"upstash:wfr_0\nwfr_1\nagno:workflow/nightly/run-1?session=s-1\nagno:workflow/nightly/run-2\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["cancelled"], 2, "{summary}");
    assert_eq!(summary["summary"]["requested"], 2, "{summary}");
    assert_eq!(b.upstash.active_count(), 1);
    assert!(b.agno.cancel_requested("run-1") && b.agno.cancel_requested("run-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_address_is_refused_before_any_request() {
    let b = both().await;
    b.upstash.reset_stats();
    for bad in ["agno:workflow//r", "upstash:wfr?color=red", "agno:pipeline/w/r"] {
        let out = command(&b, &["cancel", "wfr_0", bad]).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("not a run address"), "{bad}: {stderr}");
    }
    assert_eq!(b.upstash.requests(), 0);
    assert_eq!(b.upstash.active_count(), 3);
}
