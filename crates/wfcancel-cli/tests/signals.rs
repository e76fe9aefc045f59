//! Ctrl-C (SIGINT) and SIGTERM during a bulk stop it cleanly: no new request starts, the lines
//! and the summary are printed, and the exit code is 130 or 143. (Issue: a bulk could not be
//! stopped and still report.)
#![cfg(unix)]

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mockito::{Matcher, Server};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

async fn stopped_by(signal: &str, want: i32) {
    let mut server = Server::new_async().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let _m = server
        .mock("POST", Matcher::Regex("^/workflows/wf/runs/.*/cancel$".into()))
        .with_body_from_request(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            b"{}".to_vec()
        })
        .create_async()
        .await;
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("WFCANCEL_BACKEND", "agno")
        .env("AGENTOS_URL", server.url())
        .args([
            "--json",
            "bulk",
            "--ids-file",
            "-",
            "--workflow",
            "wf",
            "--concurrency",
            "2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let ids: String = (0..400).map(|i| format!("run-{i}\n")).collect();
    stdin.write_all(ids.as_bytes()).await.unwrap();
    drop(stdin);
    // Let a few requests go out, then signal.
    tokio::time::timeout(Duration::from_secs(20), async {
        while hits.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("requests started");
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
    // Requests the server had seen when the signal went out: after it, at most the two in flight
    // (`--concurrency 2`) may still arrive.
    let at_signal = hits.load(Ordering::SeqCst) as u64;
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the command ends soon after the signal")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(want), "{signal}\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| panic!("{stdout}"));
    let s = &summary["summary"];
    assert_eq!(s["interrupted"], "stopped", "{last}");
    let requested = s["requested"].as_u64().unwrap();
    let not_attempted = s["not_attempted"].as_u64().unwrap();
    let failed = s["failed"].as_u64().unwrap();
    assert!(requested >= 4 && not_attempted > 0, "{last}");
    assert_eq!(
        requested + failed + not_attempted,
        400,
        "every id accounted for: {last}"
    );
    let lines = stdout
        .lines()
        .filter(|l| l.contains("\"run\"") || l.contains("run-"))
        .count();
    assert!(lines as u64 >= requested, "a line per run it has: {stdout}");
    let sent = hits.load(Ordering::SeqCst) as u64;
    assert_eq!(sent, requested, "every request sent is reported");
    assert!(
        sent <= at_signal + 2,
        "no request started after the stop: {sent} sent, {at_signal} at the signal"
    );
    assert!(stderr.contains("stopping"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_bulk_with_its_summary_and_exit_130() {
    stopped_by("-INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_bulk_with_its_summary_and_exit_143() {
    stopped_by("-TERM", 143).await;
}

/// A second Ctrl-C exits at once, even while requests hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_exits_at_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    let child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("WFCANCEL_BACKEND", "agno")
        .env("AGENTOS_URL", &url)
        .args(["cancel", "r1", "r2", "--workflow", "wf"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while accepted.load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a request went out");
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let t0 = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("exits at once on the second Ctrl-C")
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exiting at once"), "{stderr}");
}
