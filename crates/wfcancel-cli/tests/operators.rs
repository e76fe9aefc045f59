//! The command for operators (issue 15): durations and times, filters that can never match,
//! the `--all` guard, unknown runs, `--reason` / `--force`, `-o json`, completions and the man
//! page. The `wfcancel` binary as a subprocess against the emulators, as in `cli.rs`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, Endpoint, UpstashConfig, UpstashEmulator, UpstashRun};

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

    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts stderr holds every one of `parts`.
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

async fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wfcancel");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
            let _ = pipe.shutdown().await;
        });
    }
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("wfcancel {args:?} did not finish within {LIMIT:?}"))
        .expect("wait for wfcancel");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for secret in [UPSTASH_TOKEN, AGNO_KEY] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "a token was printed by {args:?}"
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
    AgnoEmulator::start(AgnoConfig::default().with_security_key(AGNO_KEY))
        .await
        .expect("start agno emulator")
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

fn seed(emu: &UpstashEmulator, ids: &[&str]) {
    for id in ids {
        emu.seed(UpstashRun::new(*id, "https://app.example.com/api/wf").label("nightly"));
    }
}

// ---------------------------------------------------------------------------------------------
// 1. durations and times

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_take_units_and_bare_seconds() {
    let emu = upstash().await;
    seed(&emu, &["wfr_1", "wfr_2", "wfr_3"]);
    let env = upstash_env(&emu);
    let env = pairs(&env);
    // A unit, a friendly span, and a bare number of seconds (today's scripts).
    run(&["--timeout", "30s", "cancel", "wfr_1"], &env).await.expect(0);
    run(&["--timeout", "1m30s", "cancel", "wfr_2"], &env).await.expect(0);
    run(&["--timeout", "30", "cancel", "wfr_3"], &env).await.expect(0);
    let out = run(&["cancel", "wfr_1", "--wait", "--wait-timeout", "5m"], &env).await;
    out.expect(0);
    // A bad duration names the flag and shows an accepted example, before any request.
    let before = emu.requests();
    for (flag, bad) in [
        ("--timeout", "5x"),
        ("--wait-timeout", "soon"),
        ("--timeout", "5m ago"),
        ("--timeout", "0"),
    ] {
        let args: Vec<&str> = if flag == "--timeout" {
            vec![flag, bad, "cancel", "wfr_1"]
        } else {
            vec!["cancel", "wfr_1", "--wait", flag, bad]
        };
        run(&args, &env).await.expect(2).stderr_has(&[flag, "30s", "1h30m"]);
    }
    assert_eq!(emu.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_rfc3339_or_an_age() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let env = pairs(&env);
    // 2026-11-27T10:00:00Z is 1795773600000 ms.
    let out = run(&["bulk", "--from", "2026-11-27T10:00:00Z", "--dry-run"], &env).await;
    out.expect(0);
    assert!(out.stdout.contains("fromDate=1795773600000"), "{}", out.stdout);
    let out = run(&["bulk", "--from", "2026-11-27T12:00:00+02:00", "--dry-run"], &env).await;
    assert!(out.stdout.contains("fromDate=1795773600000"), "{}", out.stdout);
    // An age: that long ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (age, ms) in [("2h", 7_200_000i64), ("1h30m", 5_400_000), ("90s", 90_000)] {
        let out = run(&["bulk", "--from", age, "--dry-run"], &env).await;
        out.expect(0);
        let from: i64 = out
            .stdout
            .split("fromDate=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}", out.stdout));
        let expected = now - ms;
        assert!((from - expected).abs() < 20_000, "{age}: {from} vs {expected}");
    }
    run(&["bulk", "--from", "yesterday"], &env)
        .await
        .expect(2)
        .stderr_has(&["--from", "RFC 3339", "2h"]);
    assert_eq!(cancels_sent(&emu), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. filters that can never match

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_that_can_never_match_are_refused_in_flag_terms() {
    let emu = upstash().await;
    seed(&emu, &["wfr_1"]);
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--host", "api.example.com:443"],
            &["--host", "api.example.com:443", "no port", "e.g. api.example.com"],
        ),
        (
            &["--host", "https://api.example.com"],
            &["--host", "no scheme", "e.g. api.example.com"],
        ),
        (&["--path", "api/orders"], &["--path", "api/orders", "e.g. /api/orders"]),
        (
            &["--caller-ip", "notanip"],
            &["--caller-ip", "notanip", "not an IP address"],
        ),
        (
            &["--url-prefix", "api.example.com"],
            &["--url-prefix", "e.g. https://api.example.com"],
        ),
        (&["--url-exact", "app.example.com/api/wf"], &["--url-exact", "https://"]),
    ];
    for (flags, says) in cases {
        for extra in [&[][..], &["--dry-run"][..], &["--yes", "--drain"][..]] {
            let mut args = vec!["bulk"];
            args.extend_from_slice(flags);
            args.extend_from_slice(extra);
            let out = run(&args, &env).await;
            out.expect(2).stderr_has(says);
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
            // Library terms stay out of the user's sight.
            assert!(!out.stderr.contains("filter."), "{args:?}: {}", out.stderr);
            let out = run(&[&["--json"][..], &args].concat(), &env).await;
            out.expect(2);
            let lines = out.json_lines();
            assert_eq!(lines[0]["type"], "error", "{}", out.stdout);
            assert_eq!(lines[0]["error"]["kind"], "invalid_input", "{}", out.stdout);
        }
    }
    // A valid filter next to them still runs (the checks are not blanket refusals).
    run(
        &["bulk", "--host", "app.example.com", "--path", "/api/wf", "--dry-run"],
        &env,
    )
    .await
    .expect(0);
    assert_eq!(cancels_sent(&emu), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_after_to_is_said_with_the_flags_and_rfc3339_times() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let out = run(&["bulk", "--from", "1h", "--to", "2h"], &env).await;
    out.expect(2).stderr_has(&["--from", "--to", "is after", "Z)"]);
    assert!(!out.stderr.contains(" ms"), "{}", out.stderr);
    let out = run(
        &[
            "bulk",
            "--from",
            "2026-11-27T10:00:00Z",
            "--to",
            "2026-11-27T09:00:00Z",
            "--dry-run",
        ],
        &env,
    )
    .await;
    out.expect(2)
        .stderr_has(&["--from (2026-11-27T10:00:00Z) is after --to (2026-11-27T09:00:00Z)"]);
    assert!(!out.stderr.contains("1795773600000"), "{}", out.stderr);
    assert_eq!(emu.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. the --all guard

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_matches_everything_is_guarded_as_all() {
    let emu = upstash().await;
    seed(&emu, &["wfr_1", "wfr_2"]);
    let env = upstash_env(&emu);
    let env = pairs(&env);
    for flags in [
        &["--from", "1", "--drain"][..],
        &["--url-prefix", "https://"][..],
        &["--url-prefix", "http"][..],
        &["--url-prefix", "HTTPS://", "--drain"][..],
        &["--from", "1970-01-01T00:00:00Z"][..],
    ] {
        let args = [&["bulk"][..], flags].concat();
        let out = run(&args, &env).await;
        out.expect(2)
            .stderr_has(&["selects every run", "--all", "EVERY active run", "--yes"]);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    assert_eq!(cancels_sent(&emu), 0);
    // With --yes it is --all: every run is cancelled.
    let out = run(
        &["--json", "bulk", "--url-prefix", "https://", "--drain", "--yes"],
        &env,
    )
    .await;
    out.expect(0);
    let summary = out.json_lines().pop().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["summary"]["cancelled"], 2, "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// 4. unknown runs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_an_unknown_run_is_an_error_on_stderr_not_a_state() {
    let emu = upstash().await;
    seed(&emu, &["wfr_1"]);
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let out = run(&["status", "nosuch"], &env).await;
    out.expect(1).stderr_has(&["error: nosuch", "not found"]);
    assert!(out.stdout.is_empty(), "the state column holds an error: {}", out.stdout);
    let out = run(&["-o", "json", "status", "nosuch"], &env).await;
    out.expect(1);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["run"], "nosuch");
    assert_eq!(lines[0]["error"]["kind"], "not_found");
    assert!(lines[0].get("state").is_none());
    // A known run: its state, on stdout.
    let out = run(&["status", "wfr_1"], &env).await;
    out.expect(0);
    assert!(out.stdout.starts_with("running"), "{}", out.stdout);
    let out = run(&["-o", "json", "status", "wfr_1"], &env).await;
    assert_eq!(out.json_lines()[0]["type"], "status");
    assert_eq!(out.json_lines()[0]["state"], "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_an_unknown_run_says_the_same_with_and_without_wait() {
    let emu = upstash().await;
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let plain = run(&["cancel", "nosuch"], &env).await;
    let waited = run(&["cancel", "nosuch", "--wait", "--wait-timeout", "5s"], &env).await;
    plain.expect(0);
    waited.expect(plain.code);
    assert_eq!(plain.stdout, waited.stdout);
    assert!(plain.stdout.starts_with("not-active nosuch"), "{}", plain.stdout);
    let plain = run(&["--json", "cancel", "nosuch"], &env).await;
    let waited = run(&["--json", "cancel", "nosuch", "--wait"], &env).await;
    waited.expect(plain.code);
    assert_eq!(plain.json_lines()[0]["outcome"], waited.json_lines()[0]["outcome"]);
    assert_eq!(waited.json_lines()[0]["type"], "result");
}

// ---------------------------------------------------------------------------------------------
// 7. -o json: one schema, results in argument order

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_results_come_in_argument_order_each_with_a_type() {
    let emu = upstash().await;
    seed(&emu, &["wfr_a", "wfr_b", "wfr_c", "wfr_d"]);
    emu.faults().add_scenario(
        wfcancel_emulator::ScenarioRule::new(wfcancel_emulator::Scenario::respond(
            500,
            "application/json",
            r#"{"error":"boom"}"#,
        ))
        .path_suffix("/runs/wfr_bad"),
    );
    let env = upstash_env(&emu);
    let env = pairs(&env);
    let ids = ["wfr_bad", "wfr_c", "wfr_a", "gone", "wfr_d", "wfr_b"];
    for wait in [false, true] {
        for flag in [&["-o", "json"][..], &["--json"][..], &["--output", "json"][..]] {
            let mut args = flag.to_vec();
            args.extend(["--retries", "0", "cancel"]);
            args.extend(ids);
            if wait {
                args.push("--wait");
            }
            let out = run(&args, &env).await;
            out.expect(3);
            let lines = out.json_lines();
            let runs: Vec<&str> = lines
                .iter()
                .filter(|l| l["type"] == "result")
                .map(|l| l["run"].as_str().unwrap())
                .collect();
            assert_eq!(runs, ids, "{}", out.stdout);
            for l in &lines {
                let t = l["type"].as_str().unwrap_or_else(|| panic!("no type: {l}"));
                assert!(["result", "summary"].contains(&t), "{l}");
                assert!(l.get("backend").is_some() || t == "summary", "{l}");
            }
            assert_eq!(lines[0]["outcome"], "failed");
            assert_eq!(lines.last().unwrap()["type"], "summary");
        }
    }
    // -o text is the default.
    let out = run(&["-o", "text", "cancel", "wfr_a"], &env).await;
    out.expect(0);
    assert!(out.stdout.starts_with("not-active wfr_a"), "{}", out.stdout);
    run(&["-o", "yaml", "cancel", "wfr_a"], &env).await.expect(2);
}

// ---------------------------------------------------------------------------------------------
// 5. --ids-file - from a terminal

/// `script` gives the command a terminal for stdin; the command says what it waits for, and
/// reads what is typed until Ctrl-D.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_from_a_terminal_say_what_they_wait_for() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to give the command a terminal");
        return;
    }
    let emu = upstash().await;
    seed(&emu, &["wfr_1"]);
    let env = upstash_env(&emu);
    // Ctrl-D (0x04) at the start of a line ends a terminal's input.
    let typed = b"wfr_1\n\x04".to_vec();
    let cmdline = format!("{BIN} bulk --ids-file -");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &cmdline, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn script");
    let mut stdin = child.stdin.take().unwrap();
    // Wait a little so the prompt comes before the input is echoed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stdin.write_all(&typed).await.unwrap();
    stdin.flush().await.unwrap();
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("finished")
        .unwrap();
    // Through a terminal, stdout and stderr both reach script's stdout.
    let all = String::from_utf8_lossy(&output.stdout);
    assert!(
        all.contains("reading run ids from standard input, one per line; end with Ctrl-D"),
        "{all}"
    );
    assert!(all.contains("total      cancelled 1,"), "{all}");
    assert_eq!(emu.active_count(), 0);

    // Piped input: no prompt.
    let out = run_with(&["bulk", "--ids-file", "-"], &pairs(&env), Some(b"wfr_2\n".to_vec())).await;
    assert!(!out.stderr.contains("reading run ids"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// 6. --reason and --force

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reason_and_force_are_refused_by_agno_naming_it_before_any_request() {
    let emu = agno().await;
    emu.seed(wfcancel_emulator::AgnoRun::workflow("nightly", "r1"));
    let env = agno_env(&emu);
    let env = pairs(&env);
    let before = emu.requests();
    for (args, flag) in [
        (&["cancel", "r1", "--workflow", "nightly", "--force"][..], "--force"),
        (
            &["cancel", "r1", "--workflow", "nightly", "--reason", "rollback"][..],
            "--reason",
        ),
        (
            &["bulk", "--ids-file", "-", "--workflow", "nightly", "--force"][..],
            "--force",
        ),
        (
            &["bulk", "--ids-file", "-", "--workflow", "nightly", "--reason", "x"][..],
            "--reason",
        ),
    ] {
        let out = run_with(args, &env, Some(b"r1\n".to_vec())).await;
        out.expect(2).stderr_has(&[flag, "agno", "not available"]);
        let out = run_with(&[&["-o", "json"][..], args].concat(), &env, Some(b"r1\n".to_vec())).await;
        out.expect(2);
        assert_eq!(out.json_lines()[0]["type"], "error");
    }
    assert_eq!(emu.requests(), before);
    // Graceful is the default: the same cancel without them goes through.
    run(&["cancel", "r1", "--workflow", "nightly"], &env).await.expect(0);
}

// ---------------------------------------------------------------------------------------------
// 8. completions, man page, examples, emulate's own flags

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_man_page_print_to_stdout() {
    for (shell, marker) in [
        ("bash", "_wfcancel()"),
        ("zsh", "#compdef wfcancel"),
        ("fish", "complete -c wfcancel"),
    ] {
        let out = run(&["completions", shell], &[]).await;
        out.expect(0);
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..out.stdout.len().min(300)]
        );
        assert!(
            out.stdout.contains("bulk") && out.stdout.contains("ids-file"),
            "{shell}"
        );
        assert!(out.stderr.is_empty(), "{}", out.stderr);
    }
    run(&["completions", "tcsh"], &[]).await.expect(2);
    let out = run(&["man"], &[]).await;
    out.expect(0);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH wfcancel"),
        "{}",
        &out.stdout[..200]
    );
    for part in [
        ".TH wfcancel",
        "WFCANCEL CANCEL",
        "WFCANCEL BULK",
        "WFCANCEL STATUS",
        "ids\\-file",
        "Examples:",
    ] {
        assert!(out.stdout.contains(part), "man page lacks {part:?}");
    }
    // Nothing reached a provider: no configuration needed.
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_help_has_examples() {
    for sub in ["cancel", "bulk", "status", "emulate", "completions", "man"] {
        let out = run(&[sub, "--help"], &[]).await;
        out.expect(0);
        let examples = out
            .stdout
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub}: {}", out.stdout));
        assert!(examples.contains(&format!("wfcancel {sub}")), "{sub}: {examples}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulate_shows_only_its_flags_and_takes_no_token() {
    let out = run(&["emulate", "--help"], &[]).await;
    out.expect(0);
    for flag in [
        "--token-env",
        "--retries",
        "--timeout",
        "--backend",
        "--url",
        "--allow-insecure-http",
        "--token ",
    ] {
        assert!(
            !out.stdout.contains(flag),
            "emulate --help shows {flag}:\n{}",
            out.stdout
        );
    }
    for flag in ["--port", "--seed", "--output"] {
        assert!(out.stdout.contains(flag), "emulate --help lacks {flag}");
    }
    #[cfg(feature = "emulator")]
    run(&["emulate", "upstash", "--token", "sekrit"], &[])
        .await
        .expect(2)
        .stderr_has(&["no token on its command line", "WFCANCEL_EMULATOR_TOKEN"]);
    for args in [
        &["--retries", "2", "emulate", "upstash"][..],
        &["--token-env", "X", "emulate", "upstash"][..],
        &["emulate", "upstash", "--timeout", "5s"][..],
    ] {
        let out = run(args, &[]).await;
        out.expect(2);
        assert!(out.stderr.contains("emulate"), "{args:?}: {}", out.stderr);
    }
    // The other subcommands keep them, before or after the subcommand name.
    let emu = upstash().await;
    seed(&emu, &["wfr_1", "wfr_2"]);
    let env = [("QSTASH_URL", emu.url()), ("MY_TOKEN", UPSTASH_TOKEN.to_owned())];
    let env = pairs(&env);
    run(
        &[
            "--backend",
            "upstash",
            "--token-env",
            "MY_TOKEN",
            "--retries",
            "0",
            "cancel",
            "wfr_1",
        ],
        &env,
    )
    .await
    .expect(0);
    run(
        &[
            "cancel",
            "wfr_2",
            "--backend",
            "upstash",
            "--token-env",
            "MY_TOKEN",
            "--timeout",
            "10s",
        ],
        &env,
    )
    .await
    .expect(0);
    let out = run(
        &[
            "status",
            "wfr_2",
            "--backend=upstash",
            "--token-env=MY_TOKEN",
            "-o",
            "json",
        ],
        &env,
    )
    .await;
    out.expect(0);
    assert_eq!(out.json_lines()[0]["state"], "cancelled");
    // After the subcommand wins over before it.
    run(
        &[
            "--backend",
            "agno",
            "status",
            "wfr_2",
            "--backend",
            "upstash",
            "--token-env",
            "MY_TOKEN",
        ],
        &env,
    )
    .await
    .expect(0);
}

// ---------------------------------------------------------------------------------------------
// 9. packaging: without the `emulator` feature, `emulate` answers clearly

#[cfg(not(feature = "emulator"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_emulator_feature_emulate_says_how_to_get_it() {
    run(&["emulate", "upstash"], &[])
        .await
        .expect(2)
        .stderr_has(&["built without the emulator", "cargo install wfcancel-cli"]);
}

#[cfg(feature = "emulator")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_emulator_feature_emulate_serves() {
    let mut child = Command::new(BIN)
        .args(["-o", "json", "emulate", "agno", "--seed", "1"])
        .env_clear()
        .env("WFCANCEL_EMULATOR_TOKEN", "emu-key-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["type"], "emulator");
    assert_eq!(v["token"], "emu-key-1");
    child.kill().await.unwrap();
}
