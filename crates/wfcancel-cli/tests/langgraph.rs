//! `wfcancel --backend langgraph` against a mockito server standing in for the Agent Server
//! API: the exact requests, exit codes, text and `--json` output, dry runs, and the usage errors
//! that send nothing (exit 2). The real server is in `live_langgraph_cli.rs`.

use std::io::Write;
use std::process::{Command, Stdio};

use mockito::Matcher;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const KEY: &str = "langgraph-SECRET-key-6f1";
const T1: &str = "1ef4a9b0-0000-6000-8000-000000000001";
const T2: &str = "1ef4a9b0-0000-6000-8000-000000000002";
const R1: &str = "1ef4a9b8-7c2d-6e3f-8a1b-000000000001";
const R2: &str = "1ef4a9b8-7c2d-6e3f-8a1b-000000000002";
const R3: &str = "1ef4a9b8-7c2d-6e3f-8a1b-000000000003";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "--- stdout\n{}\n--- stderr\n{}",
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
}

/// Runs the binary with a cleared environment holding LangGraph's variables (and `extra`).
fn run_with(base: &str, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WFCANCEL_BACKEND", "langgraph")
        .env("LANGGRAPH_API_URL", base)
        .env("LANGGRAPH_API_KEY", KEY)
        .envs(extra.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run wfcancel");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("output");
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!o.stdout.contains(KEY) && !o.stderr.contains(KEY), "the key shows");
    o
}

fn run(base: &str, args: &[&str]) -> Out {
    run_with(base, args, &[], None)
}

fn run_body(thread: &str, run: &str, status: &str) -> String {
    json!({"run_id": run, "thread_id": thread, "assistant_id": "agent", "status": status}).to_string()
}

fn read(server: &mut mockito::Server, thread: &str, run: &str, status: &str) -> mockito::Mock {
    server
        .mock("GET", format!("/threads/{thread}/runs/{run}").as_str())
        .match_header("x-api-key", KEY)
        .with_body(run_body(thread, run, status))
        .expect(1)
        .create()
}

/// No request at all reaches the server.
fn nothing(server: &mut mockito::Server) -> Vec<mockito::Mock> {
    ["GET", "POST", "PATCH", "DELETE"]
        .into_iter()
        .map(|m| server.mock(m, Matcher::Any).expect(0).create())
        .collect()
}

#[test]
fn cancel_with_thread_interrupts_the_run_with_the_key_in_x_api_key() {
    let mut server = mockito::Server::new();
    let cancel = server
        .mock("POST", format!("/threads/{T1}/runs/{R1}/cancel").as_str())
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("wait".into(), "false".into()),
            Matcher::UrlEncoded("action".into(), "interrupt".into()),
        ]))
        .match_header("x-api-key", KEY)
        .match_header("authorization", Matcher::Missing)
        .with_status(202)
        .expect(1)
        .create();
    let o = run(&server.url(), &["cancel", R1, "--thread", T1]);
    o.expect(0);
    assert_eq!(o.stdout.trim(), format!("requested  {R1} (thread {T1})"));
    cancel.assert();
}

#[test]
fn cancel_wait_reads_until_interrupted_and_status_reads_the_run() {
    let mut server = mockito::Server::new();
    let cancel = server
        .mock("POST", format!("/threads/{T1}/runs/{R1}/cancel").as_str())
        .match_query(Matcher::Any)
        .with_status(202)
        .expect(1)
        .create();
    let interrupted = server
        .mock("GET", format!("/threads/{T1}/runs/{R1}").as_str())
        .match_header("x-api-key", KEY)
        .with_body(run_body(T1, R1, "interrupted"))
        .expect_at_least(1)
        .create();
    let o = run(
        &server.url(),
        &["--json", "cancel", R1, "--thread", T1, "--wait", "--wait-timeout", "10"],
    );
    o.expect(0);
    let lines = o.json();
    assert_eq!(lines[0]["run"], R1, "{}", o.stdout);
    assert_eq!(lines[0]["thread"], T1, "{}", o.stdout);
    assert_eq!(lines[0]["address"], format!("thread/{T1}/{R1}"), "{}", o.stdout);
    assert_eq!(
        (&lines[0]["outcome"], &lines[0]["state"]),
        (&json!("requested"), &json!("cancelled")),
        "{}",
        o.stdout
    );
    cancel.assert();
    interrupted.assert();
    interrupted.remove();
    let running = read(&mut server, T2, R2, "running");
    let o = run(&server.url(), &["status", R2, "--thread", T2]);
    o.expect(0);
    assert_eq!(o.stdout.trim(), format!("running    {R2} (thread {T2})"));
    running.assert();
}

#[test]
fn nothing_to_cancel_is_told_apart_by_a_read() {
    let mut server = mockito::Server::new();
    let cancel = server
        .mock("POST", format!("/threads/{T1}/runs/{R1}/cancel").as_str())
        .match_query(Matcher::Any)
        .with_status(404)
        .with_body(r#"{"detail":"No matching runs to cancel."}"#)
        .expect(1)
        .create();
    let done = read(&mut server, T1, R1, "success");
    let o = run(&server.url(), &["cancel", &format!("langgraph:thread/{T1}/{R1}")]);
    o.expect(0);
    assert_eq!(o.stdout.trim(), format!("not-active {R1} (thread {T1}) (finished)"));
    cancel.assert();
    done.assert();
}

#[test]
fn bulk_ids_file_of_addresses_across_two_threads_sends_one_cancel_per_thread() {
    let mut server = mockito::Server::new();
    // T1 has two runs: each read, then one cancel naming both; T2 has one: its own cancel, no read.
    let reads = [
        read(&mut server, T1, R1, "running"),
        read(&mut server, T1, R2, "pending"),
    ];
    let no_read_of_r3 = server
        .mock("GET", format!("/threads/{T2}/runs/{R3}").as_str())
        .expect(0)
        .create();
    let t1 = server
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_header("x-api-key", KEY)
        .match_body(Matcher::Json(json!({"thread_id": T1, "run_ids": [R1, R2]})))
        .with_status(204)
        .expect(1)
        .create();
    let t2 = server
        .mock("POST", format!("/threads/{T2}/runs/{R3}/cancel").as_str())
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_header("x-api-key", KEY)
        .with_status(202)
        .expect(1)
        .create();
    let input = format!(
        "langgraph:thread/{T1}/{R1}\n# the second thread\nlanggraph:thread/{T2}/{R3}\nlanggraph:thread/{T1}/{R2}\n"
    );
    let o = run_with(&server.url(), &["bulk", "--ids-file", "-"], &[], Some(&input));
    o.expect(0);
    for (t, r) in [(T1, R1), (T1, R2), (T2, R3)] {
        assert!(
            o.stdout.contains(&format!("requested  {r} (thread {t})")),
            "{}",
            o.stdout
        );
    }
    assert!(!o.stdout.contains("request 1"), "per-run lines only: {}", o.stdout);
    for m in reads {
        m.assert();
    }
    t1.assert();
    t2.assert();
    no_read_of_r3.assert();

    // Plain run ids take --thread; the dry run shows the reads and the one cancel.
    let none = nothing(&mut server);
    let o = run_with(
        &server.url(),
        &["--json", "bulk", "--ids-file", "-", "--thread", T1, "--dry-run"],
        &[],
        Some(&format!("{R1}\n{R2}\n")),
    );
    o.expect(0);
    let lines = o.json();
    let shown: Vec<(String, String)> = lines[..3]
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap().to_owned(),
                l["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("GET".to_owned(), format!("/threads/{T1}/runs/{R1}")),
            ("GET".to_owned(), format!("/threads/{T1}/runs/{R2}")),
            ("POST".to_owned(), "/runs/cancel".to_owned()),
        ],
        "{}",
        o.stdout
    );
    assert_eq!(
        lines[2]["body"],
        json!({"thread_id": T1, "run_ids": [R1, R2]}),
        "{}",
        o.stdout
    );
    for m in none {
        m.assert();
    }
}

#[test]
fn bulk_by_state_lists_then_cancels_with_yes() {
    let mut server = mockito::Server::new();
    let search = server
        .mock("POST", "/threads/search")
        .match_header("x-api-key", KEY)
        .with_body(json!([{"thread_id": T1}]).to_string())
        .expect(1)
        .create();
    let list = server
        .mock("GET", format!("/threads/{T1}/runs").as_str())
        .match_query(Matcher::UrlEncoded("status".into(), "running".into()))
        .with_body(json!([{"run_id": R1, "status": "running"}]).to_string())
        .expect(1)
        .create();
    let cancel = server
        .mock("POST", "/runs/cancel")
        .match_query(Matcher::UrlEncoded("action".into(), "interrupt".into()))
        .match_body(Matcher::Json(json!({"status": "running"})))
        .with_status(204)
        .expect(1)
        .create();
    let o = run(&server.url(), &["--json", "bulk", "--state", "running", "--yes"]);
    o.expect(0);
    let summary = o.json().last().unwrap()["summary"].clone();
    assert_eq!(summary["requested"], 1, "{}", o.stdout);
    assert_eq!(summary["requests"], 3, "{}", o.stdout);
    search.assert();
    list.assert();
    cancel.assert();
    for m in [search, list, cancel] {
        m.remove();
    }

    // Without --yes: refused, the cancel shown, nothing sent; --all too. The preview lists the
    // runs (reads only: the search of threads, then their runs).
    let search = server
        .mock("POST", "/threads/search")
        .with_body(json!([{"thread_id": T1}]).to_string())
        .expect_at_least(1)
        .create();
    let list = server
        .mock("GET", format!("/threads/{T1}/runs").as_str())
        .match_query(Matcher::Any)
        .with_body(json!([{"run_id": R1, "status": "running"}]).to_string())
        .expect_at_least(1)
        .create();
    let none = vec![
        server
            .mock("POST", "/runs/cancel")
            .match_query(Matcher::Any)
            .expect(0)
            .create(),
        server.mock("PATCH", Matcher::Any).expect(0).create(),
        server.mock("DELETE", Matcher::Any).expect(0).create(),
    ];
    let o = run(&server.url(), &["bulk", "--state", "running"]);
    o.expect(2);
    assert!(o.stderr.contains("without --yes"), "{}", o.stderr);
    assert!(o.stderr.contains("1 run matches on langgraph"), "{}", o.stderr);
    assert!(o.stderr.contains(R1), "{}", o.stderr);
    assert!(o.stderr.contains(r#"{"status":"running"}"#), "{}", o.stderr);
    let o = run(&server.url(), &["bulk", "--all"]);
    o.expect(2);
    assert!(o.stderr.contains(r#"{"status":"all"}"#), "{}", o.stderr);
    let o = run(&server.url(), &["bulk", "--state", "pending", "--dry-run"]);
    o.expect(0);
    assert!(
        o.stdout
            .contains(r#"POST /runs/cancel?action=interrupt {"status":"pending"}"#),
        "{}",
        o.stdout
    );
    search.assert();
    list.assert();
    for m in none {
        m.assert();
    }
}

#[test]
fn token_env_sends_that_variable_as_x_api_key() {
    let mut server = mockito::Server::new();
    let other = "langgraph-OTHER-key-0aa";
    let m = server
        .mock("POST", format!("/threads/{T1}/runs/{R1}/cancel").as_str())
        .match_query(Matcher::Any)
        .match_header("x-api-key", other)
        .with_status(202)
        .expect(1)
        .create();
    let o = run_with(
        &server.url(),
        &["--token-env", "MY_LG_KEY", "cancel", R1, "--thread", T1],
        &[("MY_LG_KEY", other)],
        None,
    );
    o.expect(0);
    assert!(!o.stdout.contains(other) && !o.stderr.contains(other));
    m.assert();
}

#[test]
fn usage_errors_are_exit_2_before_any_request() {
    let mut server = mockito::Server::new();
    let none = nothing(&mut server);
    let url = server.url();
    for (args, says) in [
        (vec!["cancel", R1], "needs the thread of each run"),
        (vec!["status", R1], "needs the thread of each run"),
        (
            vec!["cancel", R1, "--thread", T1, "--force"],
            "--force is not available with langgraph",
        ),
        (
            vec!["bulk", "--state", "running", "--yes", "--force"],
            "--force is not available with langgraph",
        ),
        (
            vec!["cancel", R1, "--thread", T1, "--reason", "x"],
            "--reason is not available with langgraph",
        ),
        (
            vec!["cancel", "run-1", "--thread", T1],
            "run id \"run-1\" is not a UUID",
        ),
        (
            vec!["cancel", R1, R2, "--thread", "t-1"],
            "thread id \"t-1\" is not a UUID",
        ),
        (vec!["cancel", R1, "--thread", T1, "not-a-run"], "is not a UUID"),
        (vec!["cancel", &format!("langgraph:{R1}")], "needs the thread"),
        (
            vec!["cancel", R1, "--workflow", "w"],
            "--workflow has no effect with langgraph",
        ),
        (
            vec!["cancel", R1, "--thread", T1, "--session", "s"],
            "--session has no effect with langgraph",
        ),
        (
            vec!["cancel", R1, "--thread", T1, "--namespace", "n"],
            "--namespace has no effect with langgraph",
        ),
        (
            vec!["bulk", "--state", "completed", "--yes"],
            "pending or running runs only",
        ),
        (
            vec!["bulk", "--state", "pending", "--state", "running", "--yes"],
            "cancel_all_runs",
        ),
        (vec!["bulk", "--workflow", "w", "--yes"], "--workflow has no effect"),
        (vec!["bulk", "--from", "1h", "--yes"], "cannot filter on --from/--to"),
        (vec!["bulk", "--handler", "h", "--yes"], "cannot filter on --handler"),
        (
            vec!["bulk", "--state", "running", "--thread", T1, "--yes"],
            "--thread has no effect with a filter",
        ),
        (
            vec!["bulk", "--state", "running", "--yes", "--drain", "--wait"],
            "--wait has no effect with langgraph",
        ),
    ] {
        let o = run(&url, &args);
        o.expect(2);
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
    for (input, says) in [
        (format!("langgraph:thread/{T1}/{R1}\n{R2}\n"), "needs the thread"),
        (
            format!("langgraph:thread/{T1}/{R1}\nlanggraph:thread/{T1}/x\n"),
            "run id \"x\" is not a UUID",
        ),
    ] {
        let o = run_with(&url, &["bulk", "--ids-file", "-"], &[], Some(&input));
        o.expect(2);
        assert!(o.stderr.contains(says), "{input:?}: {}", o.stderr);
    }
    for m in none {
        m.assert();
    }
}

#[test]
fn other_backends_refuse_the_langgraph_flags() {
    for (args, says) in [
        (
            vec!["--backend", "upstash", "cancel", "wfr_1", "--thread", T1],
            "--thread has no effect with upstash",
        ),
        (
            vec!["--backend", "agno", "cancel", "r", "--thread", T1],
            "--thread has no effect with agno",
        ),
        (
            vec!["--backend", "upstash", "bulk", "--state", "running"],
            "cannot filter on --state",
        ),
    ] {
        let o = Command::new(BIN)
            .args(&args)
            .env_clear()
            .env("QSTASH_TOKEN", "t")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
