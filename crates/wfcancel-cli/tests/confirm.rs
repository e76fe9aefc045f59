//! See before you cancel (issue 15): a bulk by filter, `--query` or `--all` previews what it
//! hits and asks on a terminal, refuses without `--yes` otherwise; `--dry-run` shows the runs;
//! outcome colours; the progress bar; drain rounds only with `-v`. The `wfcancel` binary as a
//! subprocess against the Upstash emulator; `script` (util-linux) gives it a real terminal.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use wfcancel_emulator::{Endpoint, Faults, UpstashConfig, UpstashEmulator, UpstashRun};

const UPSTASH_TOKEN: &str = "qstash-SECRET-tok-4d1e9b";
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

    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn stderr_has(&self, parts: &[&str]) -> &Self {
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr lacks {p:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }
}

/// Runs the binary with stdin, stdout and stderr not terminals.
async fn run(args: &[&str], env: &[(&str, String)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("wfcancel {args:?} did not finish within {LIMIT:?}"))
        .expect("run wfcancel");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !out.stdout.contains(UPSTASH_TOKEN) && !out.stderr.contains(UPSTASH_TOKEN),
        "a token was printed by {args:?}"
    );
    out
}

fn has_script() -> bool {
    let ok = std::process::Command::new("script").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipped: no `script` (util-linux) to give the command a terminal");
    }
    ok
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs `shell_line` (the binary is `wfcancel` on its PATH) under `script`: a terminal for
/// stdin, stdout and stderr. Once the output shows `wait_for`, types `typed`. Returns the exit
/// code and everything the terminal showed (stdout and stderr together).
async fn in_terminal(shell_line: &str, env: &[(&str, String)], wait_for: Option<&str>, typed: &[u8]) -> (i32, String) {
    let bin_dir = std::path::Path::new(BIN)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", shell_line, "/dev/null"])
        .env_clear()
        .env(
            "PATH",
            format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        })
    };
    if let Some(w) = wait_for {
        let start = std::time::Instant::now();
        loop {
            if String::from_utf8_lossy(&seen.lock().unwrap()).contains(w) {
                break;
            }
            assert!(
                start.elapsed() < LIMIT,
                "{w:?} never showed: {}",
                String::from_utf8_lossy(&seen.lock().unwrap())
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if !typed.is_empty() {
        stdin.write_all(typed).await.unwrap();
        stdin.flush().await.unwrap();
    }
    let status = tokio::time::timeout(LIMIT, child.wait())
        .await
        .expect("finished")
        .unwrap();
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    let all = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(!all.contains(UPSTASH_TOKEN), "a token was printed");
    (status.code().unwrap_or(-1), all)
}

async fn upstash() -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token(UPSTASH_TOKEN))
        .await
        .expect("start upstash emulator")
}

fn upstash_env(emu: &UpstashEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("WFCANCEL_BACKEND", "upstash".into()),
        ("QSTASH_URL", emu.url()),
        ("QSTASH_TOKEN", UPSTASH_TOKEN.into()),
    ]
}

fn seed(emu: &UpstashEmulator, label: &str, n: usize) {
    for i in 0..n {
        emu.seed(UpstashRun::new(format!("wfr_{label}_{i}"), "https://app.example.com/api/wf").label(label));
    }
}

/// Cancel requests the emulator received (a preview's reads are not counted).
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

// ---------------------------------------------------------------------------------------------
// 1. one rule: a filtered or --all bulk is confirmed; without a terminal, --yes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_a_filtered_bulk_shows_what_it_hits_and_refuses_without_yes() {
    let emu = upstash().await;
    seed(&emu, "nightly", 3);
    seed(&emu, "other", 2);
    let env = upstash_env(&emu);
    let out = run(&["bulk", "--label", "nightly"], &env).await;
    out.expect(2).stderr_has(&[
        "3 runs match on upstash",
        "wfr_nightly_0",
        "RUN ",
        "refusing to cancel every run this selects on upstash",
        "without --yes",
        "DELETE /v2/workflows/runs?label=nightly&count=100",
        "hint: add --yes",
    ]);
    assert!(out.stdout.is_empty(), "text goes to stderr: {}", out.stdout);
    assert_eq!(cancels_sent(&emu), 0, "nothing sent without --yes");
    assert_eq!(emu.active_count(), 5);

    // JSON: the preview record, then the error record, each with its type.
    let out = run(&["-o", "json", "bulk", "--label", "nightly"], &env).await;
    out.expect(2);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["type"], "preview");
    assert_eq!(lines[0]["count"], 3);
    assert_eq!(lines[0]["exact"], true);
    assert_eq!(lines[0]["runs"].as_array().map(Vec::len), Some(3));
    assert_eq!(lines[0]["runs"][0]["state"], "running");
    assert!(lines[0]["error"].is_null());
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines[1]["error"]["kind"], "usage");
    assert_eq!(cancels_sent(&emu), 0);

    // --all: the same rule, in its own words.
    run(&["bulk", "--all"], &env)
        .await
        .expect(2)
        .stderr_has(&["5 runs match", "EVERY active run", "--yes"]);
    assert_eq!(cancels_sent(&emu), 0);

    // --yes: no question, no preview; cancelled.
    let out = run(&["bulk", "--label", "nightly", "--yes"], &env).await;
    out.expect(0);
    assert!(!out.stderr.contains("match"), "{}", out.stderr);
    assert!(out.stdout.contains("total      cancelled 3,"), "{}", out.stdout);
    assert_eq!(emu.active_count(), 2);

    // A bulk by ids needs no confirmation, and --yes is refused with it.
    let dir = std::env::temp_dir().join(format!("wfcancel-confirm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ids.txt");
    std::fs::write(&file, "wfr_other_0\n").unwrap();
    let path = file.to_string_lossy().into_owned();
    run(&["bulk", "--ids-file", &path], &env).await.expect(0);
    run(&["bulk", "--ids-file", &path, "--yes"], &env)
        .await
        .expect(2)
        .stderr_has(&["--yes has no effect with --ids-file"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A backend that cannot count (Upstash) says "at least N" when more than a page matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_page_is_at_least_n() {
    let emu = upstash().await;
    seed(&emu, "big", 130);
    let out = run(&["-o", "json", "bulk", "--label", "big"], &upstash_env(&emu)).await;
    out.expect(2);
    let preview = &out.json_lines()[0];
    assert_eq!(preview["type"], "preview");
    assert_eq!(preview["count"], 100);
    assert_eq!(preview["exact"], false);
    assert_eq!(preview["runs"].as_array().map(Vec::len), Some(10));
    run(&["bulk", "--label", "big"], &upstash_env(&emu))
        .await
        .expect(2)
        .stderr_has(&[
            "at least 100 runs match",
            "upstash cannot count",
            "… and at least 90 more",
        ]);
    assert_eq!(cancels_sent(&emu), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. --dry-run: never --yes nor a token; shows the runs where it can

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_shows_the_runs_and_the_requests_or_says_why_it_cannot() {
    let emu = upstash().await;
    seed(&emu, "nightly", 2);
    let env = upstash_env(&emu);
    let out = run(
        &[
            "bulk",
            "--label",
            "nightly",
            "--from",
            "2026-01-01T00:00:00Z",
            "--dry-run",
        ],
        &env,
    )
    .await;
    out.expect(0).stderr_has(&[
        "2 runs match on upstash",
        "wfr_nightly_1",
        "selection: --label nightly --from 2026-01-01T00:00:00Z",
        "nothing was sent",
    ]);
    assert_eq!(
        out.stdout.trim(),
        "DELETE /v2/workflows/runs?label=nightly&fromDate=1767225600000&count=100"
    );
    let out = run(&["--json", "bulk", "--label", "nightly", "--dry-run"], &env).await;
    out.expect(0);
    let types: Vec<String> = out
        .json_lines()
        .iter()
        .map(|l| l["type"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(types, ["preview", "plan", "summary"], "{}", out.stdout);
    assert_eq!(out.json_lines()[0]["count"], 2);
    assert_eq!(cancels_sent(&emu), 0);
    assert_eq!(emu.active_count(), 2);

    // No token: the requests still, and why the runs are not shown.
    let no_token = [("WFCANCEL_BACKEND", "upstash".to_owned()), ("QSTASH_URL", emu.url())];
    let out = run(&["bulk", "--label", "nightly", "--dry-run"], &no_token).await;
    out.expect(0)
        .stderr_has(&["could not count the runs this selects on upstash", "QSTASH_TOKEN"]);
    assert!(
        out.stdout.contains("DELETE /v2/workflows/runs?label=nightly"),
        "{}",
        out.stdout
    );

    // No server: the requests still, and why the runs are not shown.
    let down = [
        ("WFCANCEL_BACKEND", "upstash".to_owned()),
        ("QSTASH_URL", "http://127.0.0.1:1".to_owned()),
        ("QSTASH_TOKEN", UPSTASH_TOKEN.to_owned()),
    ];
    let out = run(
        &[
            "--retries",
            "0",
            "-o",
            "json",
            "bulk",
            "--label",
            "nightly",
            "--dry-run",
        ],
        &down,
    )
    .await;
    out.expect(0);
    let lines = out.json_lines();
    assert_eq!(lines[0]["type"], "preview");
    assert!(lines[0]["count"].is_null());
    assert_eq!(lines[0]["error"]["kind"], "transport", "{}", out.stdout);
    assert_eq!(lines[1]["type"], "plan");
    assert_eq!(lines.last().unwrap()["type"], "summary");
}

// ---------------------------------------------------------------------------------------------
// 3. the question on a terminal

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_bulk_asks_and_only_yes_cancels() {
    if !has_script() {
        return;
    }
    let emu = upstash().await;
    seed(&emu, "nightly", 3);
    seed(&emu, "other", 1);
    let env = upstash_env(&emu);
    let question = "Cancel these 3 runs on upstash? [y/N] ";
    // n: exit 2, nothing sent.
    for answer in ["n\n", "\n", "maybe\n"] {
        let (code, all) = in_terminal("wfcancel bulk --label nightly", &env, Some(question), answer.as_bytes()).await;
        assert_eq!(code, 2, "{answer:?}: {all}");
        assert!(all.contains("3 runs match on upstash"), "{all}");
        assert!(all.contains("not confirmed: nothing was sent to upstash"), "{all}");
        assert_eq!(cancels_sent(&emu), 0, "{answer:?}: nothing may be sent");
    }
    // Ctrl-D (end of input) is no too.
    let (code, all) = in_terminal("wfcancel bulk --label nightly", &env, Some(question), b"\x04").await;
    assert_eq!(code, 2, "{all}");
    assert_eq!(cancels_sent(&emu), 0);
    assert_eq!(emu.active_count(), 4);
    // y: cancelled.
    let (code, all) = in_terminal("wfcancel bulk --label nightly", &env, Some(question), b"y\n").await;
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("total      cancelled 3,"), "{all}");
    assert_eq!(emu.active_count(), 1);
    // --yes on a terminal: no question.
    let (code, all) = in_terminal("wfcancel bulk --label other --yes", &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("[y/N]"), "{all}");
    assert_eq!(emu.active_count(), 0);
    // Nothing matches now: nothing to ask, nothing sent.
    emu.reset_stats();
    let (code, all) = in_terminal("wfcancel bulk --label nightly", &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("0 runs match") && all.contains("nothing to cancel"),
        "{all}"
    );
    assert_eq!(cancels_sent(&emu), 0);
}

/// A count that fails is said, and the question is still asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_count_is_said_and_the_question_still_asked() {
    if !has_script() {
        return;
    }
    let env = [
        ("WFCANCEL_BACKEND", "upstash".to_owned()),
        ("QSTASH_URL", "http://127.0.0.1:1".to_owned()),
        ("QSTASH_TOKEN", UPSTASH_TOKEN.to_owned()),
    ];
    let (code, all) = in_terminal(
        "wfcancel --retries 0 bulk --label nightly",
        &env,
        Some("(count unknown)? [y/N]"),
        b"n\n",
    )
    .await;
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("could not count the runs this selects on upstash"),
        "{all}"
    );
    assert!(all.contains("not confirmed"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 4. colours and the progress bar, on a terminal only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_coloured_on_a_terminal_only() {
    if !has_script() {
        return;
    }
    let emu = upstash().await;
    seed(&emu, "c", 6);
    let env = upstash_env(&emu);
    let green = "\x1b[32mcancelled";
    let (code, all) = in_terminal("wfcancel cancel wfr_c_0", &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(all.contains(green), "{all:?}");
    // Not active: yellow.
    let (_, all) = in_terminal("wfcancel cancel wfr_c_0", &env, None, b"").await;
    assert!(all.contains("\x1b[33mnot-active"), "{all:?}");
    // NO_COLOR (any value, even empty), --color never, stdout not a terminal: none.
    let mut no_color = env.clone();
    no_color.push(("NO_COLOR", String::new()));
    let (_, all) = in_terminal("wfcancel cancel wfr_c_1", &no_color, None, b"").await;
    assert!(all.contains("cancelled  wfr_c_1") && !all.contains('\x1b'), "{all:?}");
    let (_, all) = in_terminal("wfcancel --color never cancel wfr_c_2", &env, None, b"").await;
    assert!(
        all.contains("cancelled  wfr_c_2") && !all.contains("\x1b[32m"),
        "{all:?}"
    );
    let (_, all) = in_terminal("wfcancel cancel wfr_c_3 | cat", &env, None, b"").await;
    assert!(
        all.contains("cancelled  wfr_c_3") && !all.contains("\x1b[32m"),
        "{all:?}"
    );
    // --color always: even into a pipe; never in JSON.
    let out = run(&["--color", "always", "cancel", "wfr_c_4"], &env).await;
    out.expect(0);
    assert!(out.stdout.contains(green), "{:?}", out.stdout);
    let out = run(&["--color", "always", "-o", "json", "cancel", "wfr_c_5"], &env).await;
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
    run(&["--color", "sometimes", "cancel", "x"], &env).await.expect(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_bar_on_a_terminal_never_in_json_nor_into_a_pipe() {
    if !has_script() {
        return;
    }
    // Each request takes a while, so that the bar is drawn.
    let emu = UpstashEmulator::start(
        UpstashConfig::default()
            .with_token(UPSTASH_TOKEN)
            .with_faults(Faults::none().latency(Duration::from_millis(400))),
    )
    .await
    .unwrap();
    let ids: Vec<String> = (0..30).map(|i| format!("wfr_p_{i}")).collect();
    for id in &ids {
        emu.seed(UpstashRun::new(id.clone(), "https://app.example.com/api/wf"));
    }
    let dir = std::env::temp_dir().join(format!("wfcancel-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ids.txt");
    std::fs::write(&file, format!("# ids\n{}\n\n", ids[..20].join("\n"))).unwrap();
    let path = shell_quote(&file.to_string_lossy());
    let env = upstash_env(&emu);
    // An ids file: its total is known (20 ids: comments and blank lines are not counted).
    let (code, all) = in_terminal(&format!("wfcancel bulk --ids-file {path}"), &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("/20 runs"), "no bar with its total: {all:?}");
    assert!(all.contains("ETA"), "{all:?}");
    assert!(all.contains("total      cancelled 20,"), "{all}");
    // JSON on a terminal: no bar.
    std::fs::write(&file, format!("{}\n", ids[20..25].join("\n"))).unwrap();
    let (code, all) = in_terminal(&format!("wfcancel -o json bulk --ids-file {path}"), &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("runs (") && !all.contains("cancelling"), "{all:?}");
    // stderr not a terminal: no bar.
    std::fs::write(&file, format!("{}\n", ids[25..].join("\n"))).unwrap();
    let (code, all) = in_terminal(&format!("wfcancel bulk --ids-file {path} 2>/dev/null"), &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("cancelling"), "{all:?}");
    assert!(all.contains("total      cancelled 5,"), "{all}");
    // A filter on a backend that cannot count: a spinner with the runs done so far; a drain's
    // rounds are not printed without -v.
    for i in 0..3 {
        emu.seed(UpstashRun::new(format!("wfr_s_{i}"), "https://app.example.com/api/wf").label("s"));
    }
    let (code, all) = in_terminal("wfcancel bulk --label s --drain --yes", &env, None, b"").await;
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("draining: "), "no spinner: {all:?}");
    assert!(!all.contains("round 1    cancelled"), "{all:?}");
    assert!(all.contains("total      cancelled 3,"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 5. a drain is quiet by default: a line per round only with -v

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_prints_its_rounds_only_with_verbose() {
    let emu = upstash().await;
    seed(&emu, "d", 150);
    let env = upstash_env(&emu);
    let out = run(&["bulk", "--label", "d", "--drain", "--yes"], &env).await;
    out.expect(0);
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["total      cancelled 150, requested 0, not-active 0, failed 0 (4 requests, 3 rounds, drained)"]
    );
    let out = run(&["-o", "json", "bulk", "--label", "d", "--drain", "--yes"], &env).await;
    out.expect(0);
    let types: Vec<Value> = out.json_lines().iter().map(|l| l["type"].clone()).collect();
    assert_eq!(types, ["summary"], "{}", out.stdout);
    seed(&emu, "e", 150);
    let out = run(&["-v", "bulk", "--label", "e", "--drain", "--yes"], &env).await;
    out.expect(0);
    assert!(out.stdout.starts_with("round 1    cancelled 100\n"), "{}", out.stdout);
}

/// The same rule on a backend that counts (Temporal, against mockito): the count of the batch's
/// own query, the forced verb in the question; n sends no batch, y starts exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_counts_the_batch_query_and_asks_in_its_words() {
    if !has_script() {
        return;
    }
    use mockito::Matcher;
    let mut server = mockito::Server::new_async().await;
    let query = r#"WorkflowType IN ("Nightly") AND ExecutionStatus = "Running""#;
    let count = server
        .mock("GET", "/api/v1/namespaces/default/workflow-count")
        .match_query(Matcher::UrlEncoded("query".into(), query.into()))
        .with_body(r#"{"count":"3"}"#)
        .expect(2)
        .create_async()
        .await;
    let listed = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::Any)
        .with_body(r#"{"executions":[]}"#)
        .expect(2)
        .create_async()
        .await;
    let start = server
        .mock(
            "POST",
            Matcher::Regex(r"^/api/v1/namespaces/default/batch-operations/wfcancel-[0-9a-f-]{36}$".into()),
        )
        .match_body(Matcher::PartialJson(
            serde_json::json!({ "visibilityQuery": query, "terminationOperation": {} }),
        ))
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let env = vec![
        ("WFCANCEL_BACKEND", "temporal".to_owned()),
        ("TEMPORAL_HTTP_ADDRESS", server.url()),
    ];
    let line = "wfcancel bulk --workflow Nightly --force";
    let question = "Terminate these 3 workflows on temporal? [y/N] ";
    let (code, all) = in_terminal(line, &env, Some(question), b"n\n").await;
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("3 workflows match on temporal"), "{all}");
    let (code, all) = in_terminal(line, &env, Some(question), b"y\n").await;
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("started bulk action wfcancel-"), "{all}");
    count.assert_async().await;
    listed.assert_async().await;
    start.assert_async().await;
}
