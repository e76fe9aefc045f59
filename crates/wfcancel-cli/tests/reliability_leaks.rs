//! The reliability suite's command-line part: the `wfcancel` binary, run with recognisable
//! tokens against emulators under faults and misbehaving answers, at `-vv` with `RUST_LOG=trace`
//! and in JSON, never prints a token; hostile ids and filter values reach the server intact;
//! control characters and bytes that are not UTF-8 (on stdin and in arguments) are refused with
//! a clear error and exit 2 before anything is sent.
//!
//! Every subprocess runs with a cleared environment (PATH only, plus what the test passes) and a
//! time limit; everything listens on 127.0.0.1.

use std::ffi::OsString;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, Faults, Scenario, ScenarioRule, UpstashConfig, UpstashEmulator,
    UpstashRun, UpstashState,
};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const LIMIT: Duration = Duration::from_secs(60);
const UPSTASH_TOKEN: &str = "qstash-CANARY-9f2e7d31-do-not-print";
const AGNO_KEY: &str = "agno-CANARY-5b8c0a44-do-not-print";
const CANARIES: [&str; 2] = ["9f2e7d31", "5b8c0a44"];

static RUNS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (which may hold bytes that are not UTF-8) and `stdin`, bounded;
/// fails if a token shows in anything it printed.
async fn run_os(args: &[OsString], env: &[(&str, String)], stdin: Option<Vec<u8>>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
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
    RUNS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add((output.stdout.len() + output.stderr.len()) as u64, Ordering::Relaxed);
    for c in CANARIES {
        assert!(
            !out.stdout.contains(c) && !out.stderr.contains(c),
            "wfcancel {args:?} printed a token\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
    }
    out
}

async fn run(args: &[&str], env: &[(&str, String)], stdin: Option<Vec<u8>>) -> Out {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    run_os(&args, env, stdin).await
}

fn expect(out: &Out, code: i32, what: &str) {
    assert_eq!(
        out.code, code,
        "{what}: exit code\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

async fn upstash(faults: Faults) -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token(UPSTASH_TOKEN).with_faults(faults))
        .await
        .expect("start")
}

async fn agno(faults: Faults) -> AgnoEmulator {
    AgnoEmulator::start(
        AgnoConfig::default()
            .with_security_key(AGNO_KEY)
            .with_cancel_delay(Duration::ZERO)
            .with_faults(faults),
    )
    .await
    .expect("start")
}

fn upstash_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WFCANCEL_BACKEND", "upstash".into()),
        ("QSTASH_URL", url.into()),
        ("QSTASH_TOKEN", UPSTASH_TOKEN.into()),
        ("RUST_LOG", "trace".into()),
    ]
}

fn agno_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WFCANCEL_BACKEND", "agno".into()),
        ("AGENTOS_URL", url.into()),
        ("OS_SECURITY_KEY", AGNO_KEY.into()),
        ("RUST_LOG", "trace".into()),
    ]
}

fn storm() -> Faults {
    Faults::none()
        .errors(0.20)
        .throttle(0.05)
        .retry_after_secs(1)
        .drops(0.02)
        .latency(Duration::from_millis(1))
        .jitter(Duration::from_millis(4))
        .seed(99)
}

fn summary(scenario: &str, fields: &[(&str, String)]) {
    let mut line = format!("RELIABILITY {scenario:<40}");
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
}

// ---------------------------------------------------------------------------------------------
// Leaks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_prints_a_token_under_faults_and_misbehaving_servers() {
    // A fault storm: 2,000 ids from stdin, and single cancels, at -vv with RUST_LOG=trace.
    let emu = upstash(Faults::none()).await;
    let ids = emu.seed_random(2000, Some(5));
    emu.faults().set(storm());
    let env = upstash_env(&emu.url());
    let input = ids.join("\n").into_bytes();
    let out = run(
        &["-vv", "--retries", "15", "bulk", "--ids-file", "-"],
        &env,
        Some(input.clone()),
    )
    .await;
    expect(&out, 0, "upstash bulk under faults");
    assert!(out.stderr.contains("wfcancel.request"), "tracing went to stderr");
    let out = run(
        &["-vv", "--json", "--retries", "15", "bulk", "--ids-file", "-"],
        &env,
        Some(input),
    )
    .await;
    expect(&out, 0, "upstash bulk again, JSON");
    let out = run(
        &["-vv", "--retries", "15", "cancel", &ids[0], &ids[1], &ids[2]],
        &env,
        None,
    )
    .await;
    expect(&out, 0, "upstash cancel under faults");
    let out = run(&["-vv", "--retries", "15", "status", &ids[0]], &env, None).await;
    expect(&out, 0, "upstash status under faults");
    // A filtered round is not retried on a 5xx or a lost answer (repeating it could cancel more
    // than one page for one round), so under the storm a drain may stop at a failed round with
    // exit 1; running it again goes on. Each attempt must still print no token.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = run(
            &[
                "-vv",
                "--retries",
                "15",
                "bulk",
                "--label",
                "nightly",
                "--drain",
                "--page-size",
                "50",
                "--yes",
            ],
            &env,
            None,
        )
        .await;
        if out.code == 0 {
            break;
        }
        expect(&out, 1, "upstash drain under faults (a failed round)");
        assert!(out.stdout.contains("failed     round"), "{}", out.stdout);
        assert!(attempts < 40, "the drain never finished under the storm");
    }
    let out = run(&["-vv", "bulk", "--all", "--yes", "--dry-run"], &env, None).await;
    expect(&out, 0, "dry run");
    assert_eq!(emu.active_count(), 0);
    emu.shutdown().await;

    let emu = agno(Faults::none()).await;
    for i in 0..300 {
        emu.seed(AgnoRun::workflow("wf", format!("run-{i}")));
    }
    emu.faults().set(storm());
    let env = agno_env(&emu.url());
    let input = (0..300).map(|i| format!("run-{i}\n")).collect::<String>().into_bytes();
    let out = run(
        &["-vv", "--retries", "15", "bulk", "--ids-file", "-", "--workflow", "wf"],
        &env,
        Some(input),
    )
    .await;
    expect(&out, 0, "agno bulk under faults");
    let out = run(
        &[
            "-vv",
            "--json",
            "--retries",
            "15",
            "cancel",
            "run-1",
            "--workflow",
            "wf",
            "--session",
            "sess-run-1",
            "--wait",
        ],
        &env,
        None,
    )
    .await;
    expect(&out, 0, "agno cancel --wait under faults");
    assert_eq!(emu.status("run-299"), Some(AgnoStatus::Cancelled));
    emu.shutdown().await;

    // Misbehaving answers: each error printed (text and JSON) without the token.
    let other = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let other_url = format!("http://{}", other.local_addr().expect("addr"));
    let scenarios = [
        ("html-502", Scenario::html_error(502), 1),
        ("not-json", Scenario::not_json(), 1),
        ("redirect", Scenario::redirect(format!("{other_url}/steal")), 1),
        ("huge", Scenario::huge_body(), 1),
        ("hang", Scenario::Hang, 1),
        (
            "echo-401",
            Scenario::respond(401, "application/json", r#"{"error":"invalid token"}"#),
            1,
        ),
    ];
    for (name, scenario, code) in scenarios {
        let ue = upstash(Faults::none()).await;
        ue.faults().add_scenario(ScenarioRule::new(scenario.clone()));
        let ae = agno(Faults::none()).await;
        ae.faults().add_scenario(ScenarioRule::new(scenario));
        for json in [false, true] {
            let mut args = vec!["-vv", "--timeout", "1", "--retries", "1"];
            if json {
                args.push("--json");
            }
            let mut a = args.clone();
            a.extend(["cancel", "wfr_x"]);
            let out = run(&a, &upstash_env(&ue.url()), None).await;
            expect(&out, code, &format!("upstash {name}"));
            let mut a = args.clone();
            a.extend(["status", "r", "--workflow", "wf", "--session", "s"]);
            let out = run(&a, &agno_env(&ae.url()), None).await;
            expect(&out, code, &format!("agno {name}"));
        }
        ue.shutdown().await;
        ae.shutdown().await;
    }
    // The other host was never contacted.
    let contacted = tokio::time::timeout(Duration::from_millis(50), other.accept())
        .await
        .is_ok();
    assert!(!contacted, "a redirect was followed");

    // A wrong token at the server: 401, exit 1, the token not printed.
    let ue = UpstashEmulator::start(UpstashConfig::default().with_token("another"))
        .await
        .expect("start");
    let out = run(&["-vv", "cancel", "wfr_x"], &upstash_env(&ue.url()), None).await;
    expect(&out, 1, "upstash wrong token");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("unauthenticated"),
        "{}",
        out.stdout
    );
    // --token-env: the token from another variable.
    let mut env = upstash_env(&ue.url());
    env.retain(|(k, _)| *k != "QSTASH_TOKEN");
    env.push(("MY_TOKEN", UPSTASH_TOKEN.into()));
    let out = run(&["-vv", "--token-env", "MY_TOKEN", "cancel", "wfr_x"], &env, None).await;
    expect(&out, 1, "upstash wrong token via --token-env");
    ue.shutdown().await;

    summary(
        "cli/leaks/faults-and-scenarios",
        &[
            ("invocations", RUNS.load(Ordering::Relaxed).to_string()),
            ("bytes_scanned", BYTES.load(Ordering::Relaxed).to_string()),
            ("leaks", "0".into()),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Injection through the command line

/// Hostile ids that the command passes through unchanged (no control characters, no comma, no
/// surrounding blanks, which an ids file trims by design). The first 11 go as arguments, the rest
/// through stdin; the bidi override U+202E is among the arguments, since an ids file refuses
/// invisible format characters (tests/cli.rs).
const HOSTILE: [&str; 22] = [
    "../",
    "../../v2/workflows/runs",
    "%2e%2e/",
    "%2F",
    "?x=",
    "?workflowRunIds=victim",
    "#",
    "#fragment",
    "a&workflowRunIds=victim",
    "\u{202E}evil",
    "+",
    "a b",
    "%",
    "%00",
    "/",
    "\\",
    "a/b?c#d",
    "ü日本",
    "a=b",
    "'; DROP TABLE runs; --",
    "${QSTASH_TOKEN}",
    "--json",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_reach_exactly_their_runs_through_arguments_and_stdin() {
    let emu = upstash(Faults::none()).await;
    let url = "https://app.example.com/api/wf";
    emu.seed(UpstashRun::new("victim", url));
    emu.seed(UpstashRun::new("a", url));
    for h in HOSTILE {
        emu.seed(UpstashRun::new(h, url));
    }
    let env = upstash_env(&emu.url());
    // Arguments: after `--`, so that an id like `--json` is an id.
    let mut args = vec!["--json", "cancel", "--"];
    args.extend(&HOSTILE[..11]);
    let out = run(&args, &env, None).await;
    expect(&out, 0, "hostile ids as arguments");
    // Stdin: one per line.
    let input = HOSTILE[11..]
        .iter()
        .map(|h| format!("{h}\n"))
        .collect::<String>()
        .into_bytes();
    let out = run(&["--json", "bulk", "--ids-file", "-"], &env, Some(input)).await;
    expect(&out, 0, "hostile ids on stdin");
    for h in HOSTILE {
        assert_eq!(emu.state(h), Some(UpstashState::Canceled), "{h:?} not cancelled");
    }
    assert_eq!(
        emu.state("victim"),
        Some(UpstashState::Started),
        "another run was reached"
    );
    assert_eq!(emu.state("a"), Some(UpstashState::Started), "another run was reached");
    assert_eq!(emu.cancelled(), HOSTILE.len() as u64);
    emu.shutdown().await;

    // Agno: hostile run ids and owner ids as one path segment each.
    let emu = agno(Faults::none()).await;
    let owner = "team/../x?y#z";
    for h in HOSTILE {
        emu.seed(AgnoRun::team(owner, h));
    }
    emu.seed(AgnoRun::team(owner, "victim"));
    let env = agno_env(&emu.url());
    let mut args = vec!["cancel", "--team", owner, "--"];
    args.extend(HOSTILE);
    let out = run(&args, &env, None).await;
    expect(&out, 0, "agno hostile ids");
    for h in HOSTILE {
        assert!(emu.cancel_requested(h), "{h:?} not reached");
    }
    assert!(!emu.cancel_requested("victim"));

    // A hostile filter value stays one label.
    let emu = upstash(Faults::none()).await;
    emu.seed(UpstashRun::new("hit", url).label("a&label=prod"));
    emu.seed(UpstashRun::new("miss", url).label("prod"));
    let out = run(
        &["bulk", "--label", "a&label=prod", "--yes"],
        &upstash_env(&emu.url()),
        None,
    )
    .await;
    expect(&out, 0, "hostile label");
    assert_eq!(emu.state("hit"), Some(UpstashState::Canceled));
    assert_eq!(emu.state("miss"), Some(UpstashState::Started));
    emu.shutdown().await;
    summary(
        "cli/injection/hostile-ids",
        &[("ids", HOSTILE.len().to_string()), ("reached_other_runs", "0".into())],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_and_bytes_that_are_not_utf8_are_refused_with_exit_2() {
    use std::os::unix::ffi::OsStringExt;
    let emu = upstash(Faults::none()).await;
    emu.seed(UpstashRun::new("wfr_ok", "https://app.example.com/api/wf"));
    let env = upstash_env(&emu.url());
    let mut refused = 0;

    // Not UTF-8 on stdin: the line is named, nothing is sent (not even the good line before it).
    for input in [
        b"wfr_ok\n\xff\xfe\n".to_vec(),
        b"\xc3\x28\n".to_vec(),
        b"wfr_\xe2\x82\n".to_vec(),
        b"\xed\xa0\x80surrogate\n".to_vec(),
    ] {
        let out = run(&["bulk", "--ids-file", "-"], &env, Some(input.clone())).await;
        expect(&out, 2, &format!("stdin {input:?}"));
        assert!(out.stderr.contains("not valid UTF-8"), "{}", out.stderr);
        let out = run(&["--json", "bulk", "--ids-file", "-"], &env, Some(input)).await;
        expect(&out, 2, "stdin, JSON");
        assert!(
            out.stdout.contains("UTF-8") || out.stderr.contains("UTF-8"),
            "{}{}",
            out.stdout,
            out.stderr
        );
        refused += 2;
    }
    // Control characters on stdin (NUL included).
    for input in [&b"wfr\0x\n"[..], b"wfr\x1b[31m\n", b"a\rb\n", b"wfr\x7f\n"] {
        let out = run(&["bulk", "--ids-file", "-"], &env, Some(input.to_vec())).await;
        expect(&out, 2, &format!("stdin {input:?}"));
        assert!(out.stderr.contains("control character"), "{}", out.stderr);
        refused += 1;
    }
    // Not UTF-8 in an argument (an id, a label, a URL).
    for args in [
        vec![OsString::from("cancel"), OsString::from_vec(b"wfr_\xff".to_vec())],
        vec![
            OsString::from("bulk"),
            OsString::from("--label"),
            OsString::from_vec(b"\xfe\xff".to_vec()),
        ],
        vec![
            OsString::from("--url"),
            OsString::from_vec(b"http://127.0.0.1:1/\xff".to_vec()),
            OsString::from("cancel"),
            OsString::from("x"),
        ],
    ] {
        let out = run_os(&args, &env, None).await;
        expect(&out, 2, &format!("{args:?}"));
        assert!(out.stderr.to_lowercase().contains("utf-8"), "{}", out.stderr);
        refused += 1;
    }
    // Control characters in arguments: refused as invalid input.
    for id in ["a\rb", "a\nb", "tab\there", "esc\u{1b}", "del\u{7f}", "nel\u{85}"] {
        let out = run(&["cancel", id], &env, None).await;
        expect(&out, 2, &format!("cancel {id:?}"));
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("invalid input") && all.contains("control characters"),
            "{all}"
        );
        let out = run(&["bulk", "--label", id], &env, None).await;
        expect(&out, 2, &format!("bulk --label {id:?}"));
        refused += 2;
    }
    assert_eq!(emu.requests(), 0, "a refused input was sent");
    assert_eq!(emu.state("wfr_ok"), Some(UpstashState::Started));
    emu.shutdown().await;
    summary(
        "cli/injection/refused-before-sending",
        &[
            ("inputs", refused.to_string()),
            ("requests_sent", "0".into()),
            ("exit", "2".into()),
        ],
    );
}

/// KNOWN BUG (RELIABILITY.md, "Findings"): a run id refused for its control characters is echoed
/// raw in the `failed` line (`crates/wfcancel-cli/src/output.rs`, `run_text`), so an id holding
/// `ESC [ 31 m` (or a CR that overwrites the line) drives the terminal. Proposed fix: print ids
/// that hold control characters escaped (`escape_debug`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_id_is_never_echoed_raw_to_the_terminal() {
    let emu = upstash(Faults::none()).await;
    let out = run(&["cancel", "x\u{1b}[2J\rfake"], &upstash_env(&emu.url()), None).await;
    expect(&out, 2, "control characters");
    let raw = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !raw.contains('\u{1b}') && !raw.contains('\r'),
        "raw control characters printed: {raw:?}"
    );
    emu.shutdown().await;
}
