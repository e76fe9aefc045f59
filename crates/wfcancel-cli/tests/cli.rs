//! The `wfcancel` binary as a subprocess, against emulators started in this test process.
//!
//! Every subprocess runs with a cleared environment (PATH only, plus what the test passes), a
//! time limit, and has its stdout and stderr scanned for the tokens used here.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
#[cfg(feature = "emulator")]
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, Endpoint, Faults, Scenario, ScenarioRule, UpstashConfig,
    UpstashEmulator, UpstashRun, UpstashState,
};

/// Recognisable secrets: no output may ever contain them.
const UPSTASH_TOKEN: &str = "qstash-SECRET-tok-4d1e9b";
const AGNO_KEY: &str = "agno-SECRET-key-77c0a2";

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const LIMIT: Duration = Duration::from_secs(60);

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}\n{}", self.stdout)))
            .collect()
    }

    fn summary(&self) -> Value {
        let lines = self.json_lines();
        let last = lines
            .last()
            .unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr));
        last.get("summary")
            .cloned()
            .unwrap_or_else(|| panic!("last line is not a summary: {last}"))
    }

    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd
}

/// Runs the binary to the end with `stdin`, checks that no token shows, returns what it printed.
async fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = command(args, env);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wfcancel");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin");
        tokio::spawn(async move {
            // The command may stop reading early (that is what some tests check).
            let _ = pipe.write_all(&data).await;
            let _ = pipe.shutdown().await;
        })
    });
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("wfcancel {args:?} did not finish within {LIMIT:?}"))
        .expect("wait for wfcancel");
    if let Some(w) = writer {
        let _ = w.await;
    }
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for secret in [UPSTASH_TOKEN, AGNO_KEY] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "a token was printed by {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
    }
    out
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    run_with(args, env, None).await
}

async fn upstash() -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token(UPSTASH_TOKEN))
        .await
        .expect("start upstash emulator")
}

async fn agno() -> AgnoEmulator {
    let cfg = AgnoConfig::default()
        .with_security_key(AGNO_KEY)
        .with_cancel_delay(Duration::from_millis(30));
    AgnoEmulator::start(cfg).await.expect("start agno emulator")
}

fn upstash_env(emu: &UpstashEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("WFCANCEL_BACKEND", "upstash".into()),
        ("QSTASH_URL", emu.url()),
        ("QSTASH_TOKEN", UPSTASH_TOKEN.into()),
    ]
}

fn agno_env(emu: &AgnoEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("WFCANCEL_BACKEND", "agno".into()),
        ("AGENTOS_URL", emu.url()),
        ("OS_SECURITY_KEY", AGNO_KEY.into()),
    ]
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Cancel requests the emulator received (reads, such as a preview's listing, are not counted).
fn cancels_sent(emu: &UpstashEmulator) -> u64 {
    let s = emu.stats();
    [
        Endpoint::UpstashCancelRun,
        Endpoint::UpstashBulkCancelIds,
        Endpoint::UpstashBulkCancelFilter,
        Endpoint::UpstashBulkCancelAll,
    ]
    .into_iter()
    .map(|e| s.endpoint(e))
    .sum()
}

/// The first JSON record of this type.
fn record(out: &Out, kind: &str) -> Value {
    out.json_lines()
        .into_iter()
        .find(|l| l["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} record in\n{}", out.stdout))
}

fn seed_upstash(emu: &UpstashEmulator, ids: &[&str]) {
    for id in ids {
        emu.seed(UpstashRun::new(*id, "https://app.example.com/api/wf").label("nightly"));
    }
}

// ---------------------------------------------------------------------------------------------
// cancel

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_one_upstash_run_then_again_is_not_active() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_1"]);
    let env = upstash_env(&emu);
    let out = run(&["cancel", "wfr_1"], &pairs(&env)).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "cancelled  wfr_1");
    assert_eq!(emu.state("wfr_1"), Some(UpstashState::Canceled));

    let out = run(&["--json", "cancel", "wfr_1"], &pairs(&env)).await;
    out.expect(0);
    let lines = out.json_lines();
    assert_eq!(lines[0]["run"], "wfr_1");
    assert_eq!(lines[0]["outcome"], serde_json::json!({"not_active": "unspecified"}));
    assert_eq!(lines[0]["backend"], "upstash");
    let s = out.summary();
    assert_eq!(
        (s["cancelled"].as_u64(), s["not_active"].as_u64(), s["failed"].as_u64()),
        (Some(0), Some(1), Some(0))
    );
    assert_eq!(s["requests"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_several_upstash_runs_prints_one_line_per_run() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_a", "wfr_b"]);
    let env = upstash_env(&emu);
    let out = run(&["cancel", "wfr_a", "wfr_b", "wfr_unknown"], &pairs(&env)).await;
    out.expect(0);
    let mut lines: Vec<&str> = out.stdout.lines().take(3).collect();
    lines.sort();
    assert_eq!(
        lines,
        ["cancelled  wfr_a", "cancelled  wfr_b", "not-active wfr_unknown"],
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("total      cancelled 2, requested 0, not-active 1, failed 0 (3 requests)"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.cancelled(), 2);
    // One cancel per run, sent concurrently (not one bulk call). The Upstash backend confirms a
    // `{"cancelled":0}` answer with a second request, so the unknown run may cost two.
    assert!(
        (3..=4).contains(&emu.requests()),
        "one cancel per run: {} requests",
        emu.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_agno_runs_with_owner_and_wait_until_terminal() {
    let emu = agno().await;
    emu.seed(AgnoRun::workflow("nightly", "run-9").session("s-9"));
    emu.seed(AgnoRun::agent("helper", "run-7"));
    let env = agno_env(&emu);
    let out = run(&["cancel", "run-7", "--agent", "helper"], &pairs(&env)).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "requested  run-7 (agent helper)");
    assert!(emu.cancel_requested("run-7"));

    let out = run(
        &[
            "--json",
            "cancel",
            "run-9",
            "--workflow",
            "nightly",
            "--session",
            "s-9",
            "--wait",
            "--wait-timeout",
            "10",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    let lines = out.json_lines();
    assert_eq!(lines[0]["outcome"], "requested");
    assert_eq!(lines[0]["state"], "cancelled");
    assert_eq!(lines[0]["workflow"], "nightly");
    assert_eq!(lines[0]["session"], "s-9");
    assert_eq!(out.summary()["requested"], 1);
    assert_eq!(emu.status("run-9"), Some(AgnoStatus::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_wait_text_prints_the_terminal_state_and_times_out_with_exit_1() {
    let emu = agno().await;
    emu.seed(AgnoRun::workflow("w", "r1").session("s1"));
    emu.seed(AgnoRun::workflow("w", "stuck").session("s2").never_stops());
    let env = agno_env(&emu);
    let out = run(
        &["cancel", "r1", "--workflow", "w", "--session", "s1", "--wait"],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "requested  r1 (workflow w, session s1) -> cancelled");

    let out = run(
        &[
            "cancel",
            "stuck",
            "--workflow",
            "w",
            "--session",
            "s2",
            "--wait",
            "--wait-timeout",
            "0.5",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(1);
    assert!(
        out.stdout
            .starts_with("failed     stuck (workflow w, session s2): timed out"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// status

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_upstash_and_agno_runs() {
    let up = upstash().await;
    seed_upstash(&up, &["wfr_s"]);
    let out = run(&["status", "wfr_s"], &pairs(&upstash_env(&up))).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "running    wfr_s");

    let ag = agno().await;
    ag.seed(AgnoRun::team("t", "r").session("s").status(AgnoStatus::Completed));
    let out = run(
        &["--json", "status", "r", "--team", "t", "--session", "s"],
        &pairs(&agno_env(&ag)),
    )
    .await;
    out.expect(0);
    let l = &out.json_lines()[0];
    assert_eq!(
        (l["run"].as_str(), l["state"].as_str(), l["terminal"].as_bool()),
        (Some("r"), Some("completed"), Some(true))
    );

    let out = run(&["status", "r", "--team", "t"], &pairs(&agno_env(&ag))).await;
    out.expect(2);
    assert!(out.stderr.contains("--session"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// bulk

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_filter_with_drain_prints_a_line_per_round() {
    let emu = upstash().await;
    for i in 0..250 {
        emu.seed(UpstashRun::new(format!("wfr_n{i}"), "https://app.example.com/api/wf/orders").label("nightly"));
    }
    for i in 0..10 {
        emu.seed(UpstashRun::new(format!("wfr_o{i}"), "https://app.example.com/api/wf/orders").label("other"));
    }
    let env = upstash_env(&emu);
    // A line per round with -v (quiet by default: see tests/confirm.rs).
    let out = run(
        &[
            "-v",
            "bulk",
            "--label",
            "nightly",
            "--url-prefix",
            "https://app.example.com/",
            "--drain",
            "--yes",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "round 1    cancelled 100",
            "round 2    cancelled 100",
            "round 3    cancelled 50",
            // One zero is not proof that nothing is left (Upstash stops a round at the first run
            // it cannot cancel): the drain confirms it with a state read of the logs (the 5th
            // request), which finds no matching run still running.
            "round 4    cancelled 0",
            "total      cancelled 250, requested 0, not-active 0, failed 0 (5 requests, 4 rounds, drained)"
        ]
    );
    assert!(
        !out.stderr.contains("draining") && !out.stderr.contains('\r'),
        "no progress bar when stderr is not a terminal: {:?}",
        out.stderr
    );
    assert_eq!(emu.cancelled(), 250);
    assert_eq!(emu.active_count(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_filter_json_with_page_size_and_time_range() {
    let emu = upstash().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for i in 0..30 {
        emu.seed(UpstashRun::new(format!("wfr_new{i}"), "https://a.example.com/wf").created_at(now - 60_000));
        emu.seed(UpstashRun::new(format!("wfr_old{i}"), "https://a.example.com/wf").created_at(now - 3 * 3_600_000));
    }
    let env = upstash_env(&emu);
    let out = run(
        &[
            "--json",
            "-v",
            "bulk",
            "--yes",
            "--from",
            "1h",
            "--to",
            "0s",
            "--page-size",
            "20",
            "--drain",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    let lines = out.json_lines();
    assert_eq!(lines[0]["round"], 1);
    assert_eq!(lines[0]["cancelled"], 20);
    let s = out.summary();
    assert_eq!(s["cancelled"], 30);
    assert_eq!(s["rounds"], 3, "20 + 10 + 0, confirmed by a state read");
    assert_eq!(s["requests"], 4, "3 rounds and the read");
    assert_eq!(s["drained"], true);
    assert_eq!(s["action_id"], Value::Null);
    assert_eq!(emu.state("wfr_old0"), Some(UpstashState::Started));

    // RFC 3339 with an offset and epoch milliseconds are accepted too.
    let from = "2000-01-01T01:00:00+01:00";
    let to = (now - 2 * 3_600_000).to_string();
    let out = run(
        &["--json", "bulk", "--from", from, "--to", &to, "--drain", "--yes"],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    assert_eq!(out.summary()["cancelled"], 30);
    assert_eq!(emu.active_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_by_host_and_path_repeatable() {
    let emu = upstash().await;
    let runs = [
        ("wfr_a1", "https://a.example.com/api/wf"),
        ("wfr_a2", "https://A.example.com:8443/api/wf?x=1"),
        ("wfr_a3", "https://a.example.com/api/other"),
        ("wfr_b1", "https://b.example.com/jobs"),
        ("wfr_b2", "https://b.example.com/api/wf/step"),
        ("wfr_c1", "https://c.example.com/api/wf"),
    ];
    for (id, url) in runs {
        emu.seed(UpstashRun::new(id, url));
    }
    let env = upstash_env(&emu);

    // The request: repeated `host` and `path` keys, in the SDK's order.
    let out = run(
        &[
            "--json",
            "bulk",
            "--host",
            "a.example.com",
            "--host",
            "b.example.com",
            "--path",
            "/api/wf",
            "--path",
            "/jobs",
            "--dry-run",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    assert_eq!(
        record(&out, "plan")["query"],
        "host=a.example.com&host=b.example.com&path=%2Fapi%2Fwf&path=%2Fjobs&count=100"
    );
    assert_eq!(cancels_sent(&emu), 0);

    // Host in {a, b} AND path in {/api/wf, /jobs}: a1, a2 (any case, any port, any query), b1.
    let out = run(
        &[
            "--json",
            "bulk",
            "--host",
            "a.example.com",
            "--host",
            "b.example.com",
            "--path",
            "/api/wf",
            "--path",
            "/jobs",
            "--drain",
            "--yes",
        ],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    assert_eq!(out.summary()["cancelled"], 3);
    for (id, want) in [
        ("wfr_a1", UpstashState::Canceled),
        ("wfr_a2", UpstashState::Canceled),
        ("wfr_a3", UpstashState::Started),
        ("wfr_b1", UpstashState::Canceled),
        ("wfr_b2", UpstashState::Started),
        ("wfr_c1", UpstashState::Started),
    ] {
        assert_eq!(emu.state(id), Some(want), "{id}");
    }

    // One flag alone filters too; a comma is refused, naming the flag's field.
    let out = run(&["--json", "bulk", "--path", "/api/wf", "--yes"], &pairs(&env)).await;
    out.expect(0);
    assert_eq!(out.summary()["cancelled"], 1);
    assert_eq!(emu.state("wfr_c1"), Some(UpstashState::Canceled));
    let out = run(
        &["bulk", "--host", "a.example.com,c.example.com", "--yes"],
        &pairs(&env),
    )
    .await;
    out.expect(2);
    assert!(out.stderr.contains("filter.hosts"), "{}", out.stderr);

    // Both flags conflict with --ids-file and --all, like every filter flag.
    for flag in ["--host", "--path"] {
        run(&["bulk", "--all", "--yes", flag, "x"], &pairs(&env))
            .await
            .expect(2);
        run_with(
            &["bulk", "--ids-file", "-", flag, "x"],
            &pairs(&env),
            Some(b"wfr_a3\n".to_vec()),
        )
        .await
        .expect(2);
    }
    assert_eq!(emu.state("wfr_a3"), Some(UpstashState::Started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_all_is_refused_without_yes_and_done_with_it() {
    let emu = upstash().await;
    emu.seed_random(50, Some(1));
    let active = emu.active_count();
    let env = upstash_env(&emu);
    let out = run(&["bulk", "--all", "--drain"], &pairs(&env)).await;
    out.expect(2);
    assert!(
        out.stderr.contains("refusing to cancel EVERY active run"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("DELETE /v2/workflows/runs?count=100"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(cancels_sent(&emu), 0, "nothing may be sent without --yes");

    let out = run(&["--json", "bulk", "--all", "--yes", "--drain"], &pairs(&env)).await;
    out.expect(0);
    assert_eq!(out.summary()["cancelled"].as_u64(), Some(active as u64));
    assert_eq!(emu.active_count(), 0);

    // --all conflicts with filters and ids; --yes confirms a filter as well (every backend).
    run(&["bulk", "--all", "--yes", "--label", "x"], &pairs(&env))
        .await
        .expect(2);
    run(&["bulk", "--all", "--yes", "--ids-file", "-"], &pairs(&env))
        .await
        .expect(2);
    run(&["bulk", "--yes", "--label", "x"], &pairs(&env)).await.expect(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_ids_from_a_file_skips_blanks_and_comments() {
    let emu = agno().await;
    for id in ["r1", "r2", "r3"] {
        emu.seed(AgnoRun::workflow("nightly", id));
    }
    let dir = std::env::temp_dir().join(format!("wfcancel-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ids.txt");
    std::fs::write(&file, "# runs to stop\nr1\n\n   r2   \n\t# r9\nr3\n").unwrap();
    let path = file.to_string_lossy().into_owned();
    let out = run(
        &[
            "--json",
            "bulk",
            "--ids-file",
            &path,
            "--workflow",
            "nightly",
            "--concurrency",
            "2",
        ],
        &pairs(&agno_env(&emu)),
    )
    .await;
    out.expect(0);
    let mut runs: Vec<String> = out
        .json_lines()
        .iter()
        .filter_map(|l| l["run"].as_str().map(str::to_owned))
        .collect();
    runs.sort();
    assert_eq!(runs, ["r1", "r2", "r3"]);
    assert!(
        out.json_lines()
            .iter()
            .filter(|l| l.get("run").is_some())
            .all(|l| l["outcome"] == "requested")
    );
    assert_eq!(out.summary()["requested"], 3);
    assert_eq!(emu.stats().requests, 3);

    let out = run(
        &["bulk", "--ids-file", "/nonexistent/ids.txt", "--workflow", "w"],
        &pairs(&agno_env(&emu)),
    )
    .await;
    out.expect(2);
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_of_100_000_ids_from_stdin() {
    let emu = upstash().await;
    let ids: Vec<String> = (0..100_000).map(|i| format!("wfr_bulk_{i:07}")).collect();
    emu.seed_many(
        ids.iter()
            .map(|id| UpstashRun::new(id.clone(), "https://app.example.com/api/wf")),
    );
    let mut input = String::with_capacity(ids.len() * 20);
    for id in &ids {
        input.push_str(id);
        input.push('\n');
    }
    let started = Instant::now();
    let out = run_with(
        &["--json", "bulk", "--ids-file", "-"],
        &pairs(&upstash_env(&emu)),
        Some(input.into_bytes()),
    )
    .await;
    out.expect(0);
    let s = out.summary();
    assert_eq!(s["cancelled"], 100_000, "{s}");
    assert_eq!(s["not_active"], 0);
    assert_eq!(s["failed"], 0);
    assert_eq!(emu.cancelled(), 100_000, "the server's own count");
    assert_eq!(emu.active_count(), 0);
    // One line per request (chunk), each within the URL limit: far fewer than one per id.
    let chunks: Vec<Value> = out
        .json_lines()
        .into_iter()
        .filter(|l| l.get("chunk").is_some())
        .collect();
    assert_eq!(chunks.len() as u64, s["requests"].as_u64().unwrap());
    assert_eq!(chunks.iter().map(|c| c["ids"].as_u64().unwrap()).sum::<u64>(), 100_000);
    assert_eq!(emu.requests(), s["requests"].as_u64().unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_ids_with_a_bad_line_stops_with_exit_2() {
    let emu = upstash().await;
    let out = run_with(
        &["bulk", "--ids-file", "-"],
        &pairs(&upstash_env(&emu)),
        Some(b"wfr_1\nwfr\x07bad\n".to_vec()),
    )
    .await;
    out.expect(2);
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("control character"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_with_empty_input_does_nothing() {
    let emu = upstash().await;
    let out = run_with(
        &["bulk", "--ids-file", "-"],
        &pairs(&upstash_env(&emu)),
        Some(b"\n# nothing\n".to_vec()),
    )
    .await;
    out.expect(0);
    assert!(out.stderr.contains("no run ids"), "{}", out.stderr);
    assert_eq!(emu.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// --dry-run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_requests_and_sends_nothing() {
    let up = upstash().await;
    seed_upstash(&up, &["wfr_1", "wfr_2"]);
    let env = upstash_env(&up);
    let out = run_with(
        &["bulk", "--ids-file", "-", "--dry-run"],
        &pairs(&env),
        Some(b"wfr_1\nwfr_2\n".to_vec()),
    )
    .await;
    out.expect(0);
    assert_eq!(
        out.stdout.trim(),
        "DELETE /v2/workflows/runs?workflowRunIds=wfr_1&workflowRunIds=wfr_2"
    );
    assert!(out.stderr.contains("nothing was sent"), "{}", out.stderr);

    let out = run(
        &["--json", "bulk", "--label", "nightly", "--drain", "--dry-run"],
        &pairs(&env),
    )
    .await;
    out.expect(0);
    let l = &record(&out, "plan");
    assert_eq!(
        (l["method"].as_str(), l["path"].as_str()),
        (Some("DELETE"), Some("/v2/workflows/runs"))
    );
    assert_eq!(l["query"], "label=nightly&count=100");
    assert_eq!(l["dry_run"], true);
    assert_eq!(out.summary()["dry_run"], true);

    let out = run(&["bulk", "--all", "--yes", "--dry-run"], &pairs(&env)).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "DELETE /v2/workflows/runs?count=100");

    // 20,000 ids: several chunked requests, printed without sending.
    let big: String = (0..20_000).map(|i| format!("wfr_{i:08}\n")).collect();
    let out = run_with(
        &["bulk", "--ids-file", "-", "--dry-run"],
        &pairs(&env),
        Some(big.into_bytes()),
    )
    .await;
    out.expect(0);
    let reqs: Vec<&str> = out.stdout.lines().collect();
    assert!(reqs.len() > 10, "{} requests", reqs.len());
    assert!(
        reqs.iter()
            .all(|r| r.starts_with("DELETE /v2/workflows/runs?workflowRunIds=") && r.len() < 8192)
    );
    assert_eq!(
        reqs.iter().map(|r| r.matches("workflowRunIds=").count()).sum::<usize>(),
        20_000
    );
    assert_eq!(cancels_sent(&up), 0, "a dry run sends no cancel");

    let ag = agno().await;
    let out = run_with(
        &[
            "bulk",
            "--ids-file",
            "-",
            "--agent",
            "a/b",
            "--session",
            "s 1",
            "--dry-run",
        ],
        &pairs(&agno_env(&ag)),
        Some(b"r1\n".to_vec()),
    )
    .await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "POST /agents/a%2Fb/runs/r1/cancel?session_id=s+1");
    assert_eq!(ag.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// exit codes 1 and 3

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_a_transport_failure() {
    let env = [("QSTASH_URL", "http://127.0.0.1:1"), ("QSTASH_TOKEN", UPSTASH_TOKEN)];
    let out = run(
        &["--backend", "upstash", "--retries", "0", "--json", "cancel", "wfr_1"],
        &env,
    )
    .await;
    out.expect(1);
    let l = &out.json_lines()[0];
    assert_eq!(l["error"]["kind"], "transport");
    assert_eq!(l["run"], "wfr_1");
    assert_eq!(out.summary()["failed"], 1);

    let out = run(
        &[
            "--backend",
            "agno",
            "--url",
            "http://127.0.0.1:1",
            "--retries",
            "0",
            "cancel",
            "r",
            "--team",
            "t",
        ],
        &[],
    )
    .await;
    out.expect(1);
    assert!(
        out.stdout.starts_with("failed     r (team t): transport error"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_5xx_with_no_retries_is_exit_1() {
    let emu = upstash().await;
    emu.faults().set(Faults::none().errors(1.0));
    let env = upstash_env(&emu);
    let out = run(&["--retries", "0", "--json", "cancel", "wfr_1"], &pairs(&env)).await;
    out.expect(1);
    assert_eq!(out.json_lines()[0]["error"]["kind"], "provider");
    assert_eq!(emu.requests(), 1, "--retries 0 sends once");

    let out = run(
        &["--retries", "0", "bulk", "--label", "x", "--drain", "--yes"],
        &pairs(&env),
    )
    .await;
    out.expect(1);
    assert!(
        out.stdout.contains("failed     round 1: provider error (HTTP 503)"),
        "{}",
        out.stdout
    );

    // With retries, the client tries again: 1 + 2 attempts.
    emu.reset_stats();
    let out = run(&["--retries", "2", "--timeout", "5", "cancel", "wfr_1"], &pairs(&env)).await;
    out.expect(1);
    assert_eq!(emu.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_unauthenticated_exit_1() {
    let emu = upstash().await;
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", &emu.url()),
        ("OTHER_TOKEN", "wrong-SECRET-token"),
    ];
    let url = emu.url();
    let env = [env[0], ("QSTASH_URL", url.as_str()), env[2]];
    let out = run(&["--json", "--token-env", "OTHER_TOKEN", "cancel", "wfr_1"], &env).await;
    out.expect(1);
    assert_eq!(out.json_lines()[0]["error"]["kind"], "unauthenticated");
    assert!(!out.stdout.contains("wrong-SECRET-token") && !out.stderr.contains("wrong-SECRET-token"));
    assert_eq!(emu.stats().unauthorized, 1);

    // Bulk stops at the first answer that would fail every call.
    let out = run_with(
        &["--token-env", "OTHER_TOKEN", "bulk", "--ids-file", "-"],
        &env,
        Some(b"a\nb\n".to_vec()),
    )
    .await;
    out.expect(1);
    assert!(out.stderr.contains("unauthenticated"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agno_bulk_where_some_runs_fail_is_exit_3() {
    let emu = agno().await;
    for id in ["ok-1", "ok-2", "bad-1", "ok-3"] {
        emu.seed(AgnoRun::workflow("nightly", id));
    }
    emu.faults().add_scenario(
        ScenarioRule::new(Scenario::respond(500, "application/json", r#"{"detail":"boom"}"#))
            .path_suffix("/runs/bad-1/cancel"),
    );
    let env = agno_env(&emu);
    let input = b"ok-1\nok-2\nbad-1\nok-3\n".to_vec();
    let out = run_with(
        &[
            "--retries",
            "0",
            "--json",
            "bulk",
            "--ids-file",
            "-",
            "--workflow",
            "nightly",
        ],
        &pairs(&env),
        Some(input),
    )
    .await;
    out.expect(3);
    let lines = out.json_lines();
    let bad: Vec<&Value> = lines.iter().filter(|l| l.get("error").is_some()).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["run"], "bad-1");
    assert_eq!(bad[0]["error"]["kind"], "provider");
    assert!(bad[0]["error"]["message"].as_str().unwrap().contains("boom"));
    let s = out.summary();
    assert_eq!((s["requested"].as_u64(), s["failed"].as_u64()), (Some(3), Some(1)));

    // `cancel` with several ids follows the same rule.
    let out = run(
        &["--retries", "0", "cancel", "ok-1", "bad-1", "--workflow", "nightly"],
        &pairs(&env),
    )
    .await;
    out.expect(3);
    assert!(
        out.stdout
            .contains("failed     bad-1 (workflow nightly): provider error (HTTP 500): boom"),
        "{}",
        out.stdout
    );

    // An unknown owner fails every run: exit 1.
    let out = run(
        &["--retries", "0", "cancel", "ok-1", "ok-2", "--workflow", "nope"],
        &pairs(&env),
    )
    .await;
    out.expect(1);
    assert!(out.stdout.contains("workflow not found (nope)"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_bulk_ids_with_one_failed_chunk_is_exit_3() {
    let emu = upstash().await;
    let ids: Vec<String> = (0..2_000).map(|i| format!("wfr_part_{i:05}")).collect();
    emu.seed_many(
        ids.iter()
            .map(|id| UpstashRun::new(id.clone(), "https://a.example.com/wf")),
    );
    emu.faults().add_scenario(
        ScenarioRule::new(Scenario::respond(500, "application/json", r#"{"error":"boom"}"#))
            .method("DELETE")
            .times(1),
    );
    let input: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let out = run_with(
        &[
            "--retries",
            "0",
            "--json",
            "bulk",
            "--ids-file",
            "-",
            "--concurrency",
            "1",
        ],
        &pairs(&upstash_env(&emu)),
        Some(input.into_bytes()),
    )
    .await;
    out.expect(3);
    let s = out.summary();
    let failed = s["failed"].as_u64().unwrap();
    assert!(failed > 0 && failed < 2_000, "{s}");
    assert_eq!(s["cancelled"].as_u64().unwrap() + failed, 2_000);
    assert_eq!(emu.cancelled(), 2_000 - failed);
    let failed_lines = out.json_lines().iter().filter(|l| l.get("error").is_some()).count() as u64;
    assert_eq!(failed_lines, failed, "one line per failed run");
}

// ---------------------------------------------------------------------------------------------
// exit code 2: a clear error for each bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_configuration_errors_are_exit_2_with_a_clear_message() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let url = emu.url();

    // Unknown backend, by flag (clap) and by variable.
    let out = run(&["--backend", "prefect", "cancel", "x"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("prefect") && out.stderr.contains("upstash") && out.stderr.contains("temporal"),
        "{}",
        out.stderr
    );
    let out = run(&["cancel", "x"], &[("WFCANCEL_BACKEND", "prefect")]).await;
    out.expect(2);
    assert!(
        out.stderr.contains("unknown backend \"prefect\" in WFCANCEL_BACKEND"),
        "{}",
        out.stderr
    );

    // No backend at all.
    let out = run(&["cancel", "x"], &[]).await;
    out.expect(2);
    assert!(out.stderr.contains("--backend"), "{}", out.stderr);

    // Missing token: name the variable.
    let out = run(
        &["--backend", "upstash", "cancel", "x"],
        &[("QSTASH_URL", url.as_str())],
    )
    .await;
    out.expect(2);
    assert!(out.stderr.contains("QSTASH_TOKEN"), "{}", out.stderr);
    let out = run(&["--backend", "upstash", "--token-env", "MY_TOKEN", "cancel", "x"], &[]).await;
    out.expect(2);
    assert!(out.stderr.contains("MY_TOKEN is not set"), "{}", out.stderr);
    let out = run(&["--backend", "upstash", "--json", "cancel", "x"], &[]).await;
    out.expect(2);
    assert_eq!(out.json_lines()[0]["error"]["kind"], "config");

    // Bad TIME: say the accepted forms.
    let out = run(&["bulk", "--from", "yesterday"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("RFC 3339") && out.stderr.contains("epoch milliseconds") && out.stderr.contains("2h"),
        "{}",
        out.stderr
    );
    let out = run(&["bulk", "--to", "2026-11-21T10:00:00"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("time zone"), "{}", out.stderr);

    // Conflicting URL flags.
    let out = run(
        &["bulk", "--url-exact", "https://a/x", "--url-prefix", "https://a/"],
        &env,
    )
    .await;
    out.expect(2);
    assert!(
        out.stderr.contains("--url-exact") && out.stderr.contains("--url-prefix"),
        "{}",
        out.stderr
    );

    // Ids and filters together.
    let out = run(&["bulk", "--ids-file", "-", "--label", "x"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);

    // Flags without effect on Upstash.
    let out = run(&["cancel", "wfr_1", "--session", "s"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--session has no effect with upstash"),
        "{}",
        out.stderr
    );
    let out = run(&["cancel", "wfr_1", "--workflow", "w"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("--workflow has no effect"), "{}", out.stderr);
    let out = run(&["bulk", "--label", "x", "--session", "s"], &env).await;
    out.expect(2);
    let out = run(&["bulk", "--ids-file", "-", "--drain"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("--drain has no effect"), "{}", out.stderr);

    // Nothing to cancel; several owners; invalid numbers; unknown flag.
    let out = run(&["bulk"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--ids-file") && out.stderr.contains("--all --yes"),
        "{}",
        out.stderr
    );
    run(&["cancel", "x", "--workflow", "a", "--agent", "b"], &env)
        .await
        .expect(2);
    run(&["bulk", "--label", "x", "--page-size", "0"], &env).await.expect(2);
    run(&["--timeout", "-1", "cancel", "x"], &env).await.expect(2);
    run(&["cancel"], &env).await.expect(2);
    run(&["cancel", "x", "--bogus"], &env).await.expect(2);
    run(&["--wait-timeout", "3", "cancel", "x"], &env).await.expect(2);
    let out = run(&["cancel", "x", "--wait-timeout", "3"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--wait-timeout has no effect without --wait"),
        "{}",
        out.stderr
    );

    // Invalid ids, refused before sending.
    let out = run(&["cancel", " "], &env).await;
    out.expect(2);
    assert!(out.stdout.contains("invalid input"), "{}", out.stdout);

    assert_eq!(emu.requests(), 0, "no bad input reached the server");

    // --help and --version are not errors.
    let out = run(&["--help"], &[]).await;
    out.expect(0);
    assert!(out.stdout.contains("Exit codes"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agno_specific_usage_errors() {
    let emu = agno().await;
    let env = agno_env(&emu);
    let env = pairs(&env);

    // Missing owner id: say which flags to pass.
    let out = run(&["cancel", "r1"], &env).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--workflow ID, --agent ID or --team ID"),
        "{}",
        out.stderr
    );
    let out = run_with(&["bulk", "--ids-file", "-"], &env, Some(b"r1\n".to_vec())).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--workflow ID, --agent ID or --team ID"),
        "{}",
        out.stderr
    );

    // No filters, no "all".
    let out = run(&["bulk", "--label", "x"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("agno cannot cancel by filter"), "{}", out.stderr);
    let out = run(&["bulk", "--all", "--yes"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("agno cannot cancel all runs"), "{}", out.stderr);

    // --wait needs the session.
    let out = run(&["cancel", "r1", "--workflow", "w", "--wait"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("--session"), "{}", out.stderr);

    // memory cannot be reached from a command line.
    let out = run(&["cancel", "r1"], &[("WFCANCEL_BACKEND", "memory")]).await;
    out.expect(2);
    assert!(out.stderr.contains("memory"), "{}", out.stderr);

    assert_eq!(emu.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// -v never shows a token

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_requests_but_never_the_token() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_v"]);
    let out = run(&["-vv", "cancel", "wfr_v"], &pairs(&upstash_env(&emu))).await;
    out.expect(0);
    assert!(
        out.stderr.contains("wfcancel.request") || out.stderr.contains("DEBUG"),
        "{}",
        out.stderr
    );
    // run() already checked that the token appears nowhere.
    let ag = agno().await;
    ag.seed(AgnoRun::workflow("w", "r"));
    let out = run(
        &["-vv", "--json", "cancel", "r", "--workflow", "w"],
        &pairs(&agno_env(&ag)),
    )
    .await;
    out.expect(0);
    assert!(!out.stderr.is_empty());
}

// ---------------------------------------------------------------------------------------------
// emulate

/// Starts `wfcancel emulate ...`, returns the child and the first `lines` lines of its stdout.
#[cfg(feature = "emulator")]
async fn start_emulate(args: &[&str], lines: usize) -> (tokio::process::Child, Vec<String>) {
    start_emulate_with(args, &[], lines).await
}

/// [`start_emulate`] with environment variables.
#[cfg(feature = "emulator")]
async fn start_emulate_with(args: &[&str], env: &[(&str, &str)], lines: usize) -> (tokio::process::Child, Vec<String>) {
    let mut cmd = command(args, env);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wfcancel emulate");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout).lines();
    let mut got = Vec::new();
    while got.len() < lines {
        match tokio::time::timeout(Duration::from_secs(20), reader.next_line()).await {
            Ok(Ok(Some(l))) => got.push(l),
            other => panic!("emulate printed {got:?} then {other:?}"),
        }
    }
    (child, got)
}

#[cfg(feature = "emulator")]
async fn terminate(mut child: tokio::process::Child) -> i32 {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("stops on SIGTERM")
        .expect("wait");
    status.code().unwrap_or(-1)
}

#[cfg(feature = "emulator")]
fn parse_exports(line: &str) -> Vec<(String, String)> {
    let rest = line
        .strip_prefix("export ")
        .unwrap_or_else(|| panic!("not an export line: {line}"));
    rest.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("NAME=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_upstash_prints_exports_serves_and_stops_on_sigterm() {
    // The emulator's token comes from the environment, never the command line.
    let (child, lines) = start_emulate_with(
        &["emulate", "upstash", "--port", "0", "--seed", "3"],
        &[("WFCANCEL_EMULATOR_TOKEN", "emu-tok-1")],
        5,
    )
    .await;
    let exports = parse_exports(&lines[0]);
    let get = |k: &str| {
        exports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("WFCANCEL_BACKEND"), "upstash");
    assert_eq!(get("QSTASH_TOKEN"), "emu-tok-1");
    assert!(get("QSTASH_URL").starts_with("http://127.0.0.1:"));
    assert!(lines[1].contains("3 runs seeded"), "{lines:?}");
    let first_run = lines[2]
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let env: Vec<(&str, String)> = exports.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(&["--json", "cancel", &first_run], &env).await;
    out.expect(0);
    let outcome = &out.json_lines()[0]["outcome"];
    assert!(outcome == "cancelled" || outcome["not_active"].is_string(), "{outcome}");
    assert_eq!(terminate(child).await, 0);
}

#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_agno_json_then_cancel_a_seeded_run() {
    let (child, lines) = start_emulate(&["--json", "emulate", "agno", "--seed", "4"], 1).await;
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    let url = v["env"]["AGENTOS_URL"].as_str().unwrap().to_owned();
    let key = v["env"]["OS_SECURITY_KEY"].as_str().unwrap().to_owned();
    assert_eq!(v["token"].as_str(), Some(key.as_str()));
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let r = &runs[0];
    let (kind, owner) = ["workflow", "agent", "team"]
        .iter()
        .find_map(|k| r[*k].as_str().map(|o| (*k, o.to_owned())))
        .expect("an owner");
    let flag = format!("--{kind}");
    let out = run(
        &["--json", "cancel", r["run"].as_str().unwrap(), &flag, &owner],
        &[
            ("WFCANCEL_BACKEND", "agno"),
            ("AGENTOS_URL", &url),
            ("OS_SECURITY_KEY", &key),
        ],
    )
    .await;
    out.expect(0);
    assert_eq!(out.json_lines()[0]["outcome"], "requested");
    assert!(!out.stdout.contains(&key) && !out.stderr.contains(&key));
    assert_eq!(terminate(child).await, 0);
}

#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_on_a_busy_port_is_exit_2() {
    let emu = upstash().await;
    let port = emu.addr().port().to_string();
    let out = run(&["emulate", "upstash", "--port", &port], &[]).await;
    out.expect(2);
    assert!(out.stderr.contains("cannot listen"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// configuration: --url, --timeout, regional variables

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_is_exit_1_with_kind_timeout() {
    let emu = upstash().await;
    emu.faults().add_scenario(ScenarioRule::new(Scenario::Hang));
    let started = Instant::now();
    let out = run(
        &["--timeout", "0.3", "--retries", "0", "--json", "cancel", "wfr_1"],
        &pairs(&upstash_env(&emu)),
    )
    .await;
    out.expect(1);
    assert_eq!(out.json_lines()[0]["error"]["kind"], "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_flag_and_regional_variables() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_r1", "wfr_r2"]);
    let url = emu.url();
    // --url overrides QSTASH_URL.
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", "http://127.0.0.1:1"),
        ("QSTASH_TOKEN", UPSTASH_TOKEN),
    ];
    run(&["--url", &url, "cancel", "wfr_r1"], &env).await.expect(0);
    // QSTASH_REGION selects the regional pair, as the official SDK does.
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_REGION", "us-east-1"),
        ("US_EAST_1_QSTASH_URL", url.as_str()),
        ("US_EAST_1_QSTASH_TOKEN", UPSTASH_TOKEN),
        ("QSTASH_TOKEN", "eu-SECRET-unused"),
    ];
    let out = run(&["cancel", "wfr_r2"], &env).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "cancelled  wfr_r2");
    assert!(!out.stdout.contains("eu-SECRET") && !out.stderr.contains("eu-SECRET"));
    // A malformed or insecure URL is a configuration error.
    let out = run(
        &["--url", "ftp://example.com", "cancel", "x"],
        &[("WFCANCEL_BACKEND", "agno")],
    )
    .await;
    out.expect(2);
    assert!(out.stderr.contains("--url"), "{}", out.stderr);
    let out = run(
        &["--url", "http://example.com", "cancel", "x", "--team", "t"],
        &[("WFCANCEL_BACKEND", "agno")],
    )
    .await;
    out.expect(2);
    assert!(out.stderr.contains("http://"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// regressions

/// `--token-env "$QSTASH_TOKEN"` (the token instead of a variable name) is refused without
/// echoing the value, in text and in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_env_given_a_token_never_echoes_it() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let token_like = "eyJVc2VySUQiOiI3ZDFlIiwiUGFzc3dvcmQiOiJTRUNSRVQifQ==";
    for args in [
        vec!["--token-env", token_like, "cancel", "x"],
        vec!["--json", "--token-env", token_like, "cancel", "x"],
        vec![&format!("--token-env={token_like}"), "cancel", "x"],
        vec![
            "--token-env",
            "qstash_SECRET_but_far_too_long_to_be_a_variable_name_0123456789abcdef",
            "cancel",
            "x",
        ],
    ]
    .iter()
    {
        let args: Vec<&str> = args.iter().map(|a| &**a).collect();
        let out = run(&args, &env).await;
        out.expect(2);
        assert!(
            out.stderr
                .contains("the value given to --token-env is not a variable name (not shown: it may be a token)"),
            "{}",
            out.stderr
        );
        for shown in [&out.stdout, &out.stderr] {
            assert!(
                !shown.contains("eyJVc2VySUQ") && !shown.contains("SECRET"),
                "echoed: {shown}"
            );
        }
    }
    assert_eq!(emu.requests(), 0);
}

/// `emulate` installs its signal handlers before it starts: a SIGTERM sent as soon as the
/// export line shows always stops it cleanly (exit 0 and the "stopping" line).
#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_stops_cleanly_on_an_immediate_sigterm() {
    for i in 0..10 {
        let provider = if i % 2 == 0 { "upstash" } else { "agno" };
        let mut cmd = command(&["emulate", provider, "--seed", "2"], &[]);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn wfcancel emulate");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("an export line within 20 s")
            .expect("read stdout")
            .expect("a first line");
        assert!(first.starts_with("export "), "{first}");
        let pid = child.id().expect("pid").to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        let mut stderr = child.stderr.take().expect("stderr");
        let drain = tokio::spawn(async move { while lines.next_line().await.is_ok_and(|l| l.is_some()) {} });
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("stops on SIGTERM")
            .expect("wait");
        let mut err = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err)
            .await
            .expect("read stderr");
        let _ = drain.await;
        assert_eq!(
            status.code(),
            Some(0),
            "round {i} ({provider}): {status:?}; stderr: {err}"
        );
        assert!(err.contains("stopping"), "round {i} ({provider}): {err}");
    }
}

/// An ids file saved with a byte order mark and CRLF line ends: the BOM is not part of the
/// first id; an invisible format character inside an id is refused with its line number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_with_a_bom_and_crlf_and_zero_width_characters() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_bom1", "wfr_bom2"]);
    let env = upstash_env(&emu);
    let out = run_with(
        &["--json", "bulk", "--ids-file", "-"],
        &pairs(&env),
        Some("\u{FEFF}wfr_bom1\r\nwfr_bom2\r\n".as_bytes().to_vec()),
    )
    .await;
    out.expect(0);
    assert_eq!(out.summary()["cancelled"], 2, "{}", out.stdout);
    assert_eq!(emu.state("wfr_bom1"), Some(UpstashState::Canceled));
    assert_eq!(emu.state("wfr_bom2"), Some(UpstashState::Canceled));

    let before = emu.requests();
    for (input, line, code) in [
        ("\u{FEFF}wfr_a\r\nwfr_\u{200B}b\r\n", 2, "U+200B"),
        ("wfr_a\r\n# x\r\n\u{FEFF}wfr_c\r\n", 3, "U+FEFF"),
    ] {
        let out = run_with(
            &["bulk", "--ids-file", "-"],
            &pairs(&env),
            Some(input.as_bytes().to_vec()),
        )
        .await;
        out.expect(2);
        assert!(
            out.stderr.contains(&format!("line {line}:")) && out.stderr.contains(code),
            "{}",
            out.stderr
        );
    }
    assert_eq!(emu.requests(), before, "nothing sent for a refused input");
}

/// `--all --dry-run` needs no `--yes` (the refusal's own hint suggests it) and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_dry_run_needs_no_yes() {
    let emu = upstash().await;
    emu.seed_random(5, Some(2));
    let out = run(&["bulk", "--all", "--dry-run"], &pairs(&upstash_env(&emu))).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "DELETE /v2/workflows/runs?count=100");
    assert!(out.stderr.contains("nothing was sent"), "{}", out.stderr);
    assert_eq!(cancels_sent(&emu), 0);
}

/// An Upstash dry run needs no token: it plans with a placeholder it never sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_dry_run_needs_no_token() {
    let emu = upstash().await;
    let url = emu.url();
    let env = [("WFCANCEL_BACKEND", "upstash"), ("QSTASH_URL", url.as_str())];
    let out = run(&["bulk", "--label", "nightly", "--dry-run"], &env).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "DELETE /v2/workflows/runs?label=nightly&count=100");
    assert!(out.stderr.contains("QSTASH_TOKEN"), "{}", out.stderr);
    assert!(!out.stdout.contains("placeholder") && !out.stderr.contains("placeholder"));
    let out = run_with(
        &["--json", "bulk", "--ids-file", "-", "--dry-run"],
        &env,
        Some(b"wfr_1\n".to_vec()),
    )
    .await;
    out.expect(0);
    assert_eq!(out.summary()["dry_run"], true);
    // Without --dry-run the token is still required, and nothing is sent.
    let out = run(&["bulk", "--label", "nightly"], &env).await;
    out.expect(2);
    assert!(out.stderr.contains("QSTASH_TOKEN"), "{}", out.stderr);
    assert_eq!(emu.requests(), 0);
}

/// When a streamed bulk stops early (a wrong token fails every call), the ids after the stop
/// are still read, never sent, and counted: the summary accounts for every input id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_bulk_counts_every_unread_id() {
    let emu = upstash().await;
    let n = 12_345u64;
    let input: String = (0..n).map(|i| format!("wfr_ab_{i:06}\n")).collect();
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", &*emu.url()),
        ("QSTASH_TOKEN", "qstash-wrong-token"),
    ];
    let out = run_with(
        &[
            "--retries",
            "0",
            "--json",
            "bulk",
            "--ids-file",
            "-",
            "--concurrency",
            "1",
        ],
        &env,
        Some(input.into_bytes()),
    )
    .await;
    out.expect(1);
    let s = out.summary();
    let total: u64 = ["cancelled", "requested", "not_active", "failed", "not_attempted"]
        .iter()
        .map(|k| s[*k].as_u64().unwrap())
        .sum();
    assert_eq!(total, n, "every input id accounted for: {s}");
    assert_eq!(s["aborted"]["kind"], "unauthenticated", "{s}");
    assert!(emu.requests() <= 2, "stopped sending: {} requests", emu.requests());
    assert!(out.stderr.contains("not attempted"), "{}", out.stderr);
}

/// With `--json`, an input error is printed before the summary, which stays the last line and
/// repeats it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_input_error_keeps_the_summary_last() {
    let emu = upstash().await;
    seed_upstash(&emu, &["wfr_j1"]);
    let out = run_with(
        &["--json", "bulk", "--ids-file", "-"],
        &pairs(&upstash_env(&emu)),
        Some(b"wfr_j1\nwfr\x07bad\n".to_vec()),
    )
    .await;
    out.expect(2);
    let lines = out.json_lines();
    let s = out.summary();
    assert_eq!(s["input_error"]["kind"], "invalid_input", "{s}");
    let err_at = lines
        .iter()
        .position(|l| l.get("error").is_some())
        .unwrap_or_else(|| panic!("an error line: {}", out.stdout));
    assert_eq!(
        err_at,
        lines.len() - 2,
        "the error right before the summary: {}",
        out.stdout
    );
    assert!(
        lines[err_at]["error"]["message"].as_str().unwrap().contains("line 2"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("control character"), "{}", out.stderr);
}

/// Epoch milliseconds past 9999-12-31T23:59:59.999Z are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_millis_past_year_9999_are_refused() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let out = run(&["bulk", "--from", "253402300800000", "--dry-run"], &pairs(&env)).await;
    out.expect(2);
    assert!(out.stderr.contains("9999-12-31T23:59:59.999Z"), "{}", out.stderr);
    run(&["bulk", "--to", "253402300799999", "--dry-run"], &pairs(&env))
        .await
        .expect(0);
    assert_eq!(cancels_sent(&emu), 0);
}

/// Plain http:// to a host that is not loopback needs `--allow-insecure-http` (or
/// `WFCANCEL_ALLOW_INSECURE_HTTP=1`), and the refusal says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_insecure_http_reaches_a_plain_http_agentos() {
    let base = [
        ("WFCANCEL_BACKEND", "agno"),
        ("AGENTOS_URL", "http://agentos.internal:7777"),
        ("OS_SECURITY_KEY", AGNO_KEY),
    ];
    let args = ["bulk", "--ids-file", "-", "--workflow", "w", "--dry-run"];
    let out = run_with(&args, &base, Some(b"r1\n".to_vec())).await;
    out.expect(2);
    assert!(
        out.stderr.contains("--allow-insecure-http") && out.stderr.contains("WFCANCEL_ALLOW_INSECURE_HTTP=1"),
        "{}",
        out.stderr
    );
    let with_flag: Vec<&str> = std::iter::once("--allow-insecure-http").chain(args).collect();
    let out = run_with(&with_flag, &base, Some(b"r1\n".to_vec())).await;
    out.expect(0);
    assert_eq!(out.stdout.trim(), "POST /workflows/w/runs/r1/cancel");
    assert!(out.stderr.contains("http://agentos.internal:7777"), "{}", out.stderr);
    let mut env = base.to_vec();
    env.push(("WFCANCEL_ALLOW_INSECURE_HTTP", "1"));
    run_with(&args, &env, Some(b"r1\n".to_vec())).await.expect(0);
}

/// `emulate proxy`: the fault layer in front of another server. Every request answered 503 by
/// the proxy never reaches the emulator behind it (exit 1, run still active); without faults
/// the same cancel goes through (exit 0, run cancelled on the emulator).
#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_proxy_injects_faults_in_front_of_another_server() {
    let emu = UpstashEmulator::start(UpstashConfig::default().with_token("up-tok"))
        .await
        .unwrap();
    // Two running runs (`seed_random` leaves about one in ten finished: the cancel through the
    // clean proxy would then be "not active").
    let ids = vec!["wfr_proxy_1".to_owned(), "wfr_proxy_2".to_owned()];
    for id in &ids {
        emu.seed(UpstashRun::new(id.as_str(), "https://app.example.com/api/wf"));
    }
    let start_proxy = |faults: &'static [&'static str]| {
        let upstream = emu.url();
        async move {
            let mut args = vec![
                "--json",
                "emulate",
                "proxy",
                "--upstream",
                upstream.as_str(),
                "--flavor",
                "upstash",
            ];
            args.extend_from_slice(faults);
            let (child, lines) = start_emulate(&args, 1).await;
            let v: Value = serde_json::from_str(&lines[0]).unwrap();
            assert_eq!(v["type"], "emulator", "{v}");
            assert_eq!(v["upstream"].as_str(), Some(upstream.as_str()));
            (child, v["url"].as_str().unwrap().to_owned())
        }
    };
    let (child, url) = start_proxy(&["--errors", "100%", "--fault-seed", "3"]).await;
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", url.as_str()),
        ("QSTASH_TOKEN", "up-tok"),
    ];
    let out = run(&["--retries", "0", "cancel", &ids[0]], &env).await;
    out.expect(1);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("503"),
        "{} {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(emu.cancelled(), 0, "a fault answer never reaches the upstream");
    assert_eq!(terminate(child).await, 0);

    let (child, url) = start_proxy(&[]).await;
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", url.as_str()),
        ("QSTASH_TOKEN", "up-tok"),
    ];
    let out = run(&["--json", "cancel", &ids[0]], &env).await;
    out.expect(0);
    assert_eq!(out.json_lines()[0]["outcome"], "cancelled", "{}", out.stdout);
    assert_eq!(emu.cancelled(), 1);
    assert_eq!(terminate(child).await, 0);
    emu.shutdown().await;
}

/// The proxy's flags go with `proxy` only; `proxy` needs `--upstream` (http) and `--flavor`; a
/// fraction is 0..1 or a percentage. Each refusal is exit 2 and names the flag.
#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_proxy_flags_are_checked() {
    for (args, needle) in [
        (
            vec!["emulate", "upstash", "--errors", "0.2"],
            "--errors goes with emulate proxy only",
        ),
        (vec!["emulate", "proxy", "--flavor", "temporal"], "needs --upstream"),
        (
            vec!["emulate", "proxy", "--upstream", "http://127.0.0.1:9"],
            "needs --flavor",
        ),
        (
            vec![
                "emulate",
                "proxy",
                "--upstream",
                "https://x.example",
                "--flavor",
                "restate",
            ],
            "plain http://",
        ),
        (
            vec![
                "emulate",
                "proxy",
                "--upstream",
                "http://127.0.0.1:9",
                "--flavor",
                "restate",
                "--errors",
                "1.5",
            ],
            "out of range",
        ),
        (
            vec![
                "emulate",
                "proxy",
                "--upstream",
                "http://127.0.0.1:9",
                "--flavor",
                "restate",
                "--drops",
                "lots",
            ],
            "not a fraction",
        ),
    ] {
        let out = run(&args, &[]).await;
        out.expect(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}
