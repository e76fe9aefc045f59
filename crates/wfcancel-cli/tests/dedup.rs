//! Repeated ids in `--ids-file` are cancelled once, across batches too, and the summary says how
//! many were dropped (issue: `["a","a"]` was cancelled twice and reported as cancelled 1, not
//! active 1).

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_ids_are_cancelled_once_and_counted() {
    let emu = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    for i in 0..6000 {
        emu.seed(UpstashRun::new(format!("wfr_{i}"), "https://x/wf"));
    }
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("WFCANCEL_BACKEND", "upstash")
        .env("QSTASH_URL", emu.url())
        .env("QSTASH_TOKEN", emu.token())
        .args(["--json", "bulk", "--ids-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 6,000 ids with `wfr_7` repeated within the first batch (batches hold 5,000 lines), then
    // the first 1,000 again (in later batches).
    let mut input: String = (0..10).map(|i| format!("wfr_{i}\n")).collect();
    input.push_str("wfr_7\n");
    input.extend((10..6000).map(|i| format!("wfr_{i}\n")));
    input.extend((0..1000).map(|i| format!("wfr_{i}\n")));
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let s = &summary["summary"];
    assert_eq!(s["cancelled"], 6000, "{s}");
    assert_eq!(s["not_active"], 0, "a repeat is not a second cancel: {s}");
    assert_eq!(s["duplicates_dropped"], 1001, "{s}");
    assert_eq!(emu.active_count(), 0);
}
