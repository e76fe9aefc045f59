//! `wfcancel --backend restate` against a mockito server standing in for Restate's admin API:
//! the exact requests, exit codes, text and `--json` output, dry runs, and the usage errors
//! that send nothing (exit 2). The real server is in `live_restate_cli.rs`.

use std::io::Write;
use std::process::{Command, Stdio};

use mockito::Matcher;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const TOKEN: &str = "restate-SECRET-token-3b7";
const A: &str = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
const B: &str = "inv_13T0Wqr2hMqr3A1HtJrHacNkCHambB2yWG";

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

/// Runs the binary with a cleared environment holding Restate's variables (and `extra`), `stdin`
/// piped in when given.
fn run_with(base: &str, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WFCANCEL_BACKEND", "restate")
        .env("RESTATE_ADMIN_URL", base)
        .env("RESTATE_AUTH_TOKEN", TOKEN)
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
    assert!(
        !o.stdout.contains(TOKEN) && !o.stderr.contains(TOKEN),
        "the token shows"
    );
    o
}

fn run(base: &str, args: &[&str]) -> Out {
    run_with(base, args, &[], None)
}

fn patch(server: &mut mockito::Server, id: &str, action: &str, status: usize, body: &str) -> mockito::Mock {
    server
        .mock("PATCH", format!("/invocations/{id}/{action}").as_str())
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_status(status)
        .with_body(body)
        .expect(1)
        .create()
}

fn status_query(id: &str) -> Value {
    json!({
        "query": format!(
            "SELECT id, status, completion_result, completion_failure FROM sys_invocation WHERE id = '{id}'"
        )
    })
}

/// No request at all reaches the server.
fn nothing(server: &mut mockito::Server) -> Vec<mockito::Mock> {
    ["GET", "POST", "PATCH", "DELETE"]
        .into_iter()
        .map(|m| server.mock(m, Matcher::Any).expect(0).create())
        .collect()
}

#[test]
fn cancel_patches_cancel_and_force_patches_kill() {
    let mut server = mockito::Server::new();
    let cancel = patch(&mut server, A, "cancel", 202, "");
    let o = run(&server.url(), &["cancel", A]);
    o.expect(0);
    assert_eq!(o.stdout.trim(), format!("requested  {A}"));
    cancel.assert();
    let kill = patch(&mut server, A, "kill", 200, "");
    let o = run(&server.url(), &["--json", "cancel", A, "--force"]);
    o.expect(0);
    let lines = o.json();
    assert_eq!(lines[0]["run"], A, "{}", o.stdout);
    assert_eq!(lines[0]["outcome"], "cancelled", "{}", o.stdout);
    assert_eq!(lines[0]["address"], A, "{}", o.stdout);
    assert_eq!(lines.last().unwrap()["summary"]["cancelled"], 1, "{}", o.stdout);
    kill.assert();
}

#[test]
fn finished_and_unknown_invocations_are_not_active_and_exit_0() {
    let mut server = mockito::Server::new();
    let done = patch(
        &mut server,
        A,
        "cancel",
        409,
        &format!(r#"{{"message":"The invocation '{A}' was already completed.","restate_code":null}}"#),
    );
    let unknown = patch(
        &mut server,
        B,
        "cancel",
        404,
        &format!(r#"{{"message":"The requested invocation '{B}' does not exist","restate_code":null}}"#),
    );
    let o = run(&server.url(), &["cancel", A, B]);
    o.expect(0);
    assert!(o.stdout.contains(&format!("not-active {A} (finished)")), "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!("not-active {B} (no such run)")),
        "{}",
        o.stdout
    );
    done.assert();
    unknown.assert();
}

#[test]
fn status_reads_sys_invocation_and_wait_waits_for_the_cancelled_state() {
    let mut server = mockito::Server::new();
    let read = server
        .mock("POST", "/query")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(Matcher::Json(status_query(A)))
        .with_body(format!(r#"{{"rows":[{{"id":"{A}","status":"running"}}]}}"#))
        .expect(1)
        .create();
    let o = run(&server.url(), &["status", A]);
    o.expect(0);
    assert_eq!(o.stdout.trim(), format!("running    {A}"));
    read.assert();
    read.remove();

    let cancel = patch(&mut server, A, "cancel", 202, "");
    let cancelled = server
        .mock("POST", "/query")
        .match_body(Matcher::Json(status_query(A)))
        .with_body(format!(
            r#"{{"rows":[{{"id":"{A}","status":"completed","completion_result":"failure","completion_failure":"[409] Cancelled"}}]}}"#
        ))
        .expect_at_least(1)
        .create();
    let o = run(
        &server.url(),
        &["--json", "cancel", A, "--wait", "--wait-timeout", "10"],
    );
    o.expect(0);
    let lines = o.json();
    assert_eq!(
        (&lines[0]["outcome"], &lines[0]["state"]),
        (&json!("requested"), &json!("cancelled")),
        "{}",
        o.stdout
    );
    cancel.assert();
    cancelled.assert();
}

#[test]
fn bulk_ids_file_takes_ids_and_addresses_and_reports_each() {
    let mut server = mockito::Server::new();
    let a = patch(&mut server, A, "cancel", 202, "");
    let b = patch(&mut server, B, "cancel", 200, "");
    let o = run_with(
        &server.url(),
        &["bulk", "--ids-file", "-"],
        &[],
        Some(&format!("# two invocations\n{A}\nrestate:{B}\n{A}\n")),
    );
    o.expect(0);
    assert!(o.stdout.contains(&format!("requested  {A}")), "{}", o.stdout);
    assert!(o.stdout.contains(&format!("cancelled  {B}")), "{}", o.stdout);
    assert!(o.stdout.contains("1 repeated id dropped"), "{}", o.stdout);
    a.assert();
    b.assert();
}

#[test]
fn bulk_by_service_and_time_queries_then_cancels_each_match_with_yes() {
    let mut server = mockito::Server::new();
    let sql = "SELECT id FROM sys_invocation WHERE target_service_name IN ('Checkout') \
               AND created_at >= '2026-11-01T00:00:00.000Z' AND created_at <= '2026-11-02T00:00:00.000Z' \
               AND status != 'completed' ORDER BY id LIMIT 1000";
    let page = server
        .mock("POST", "/query")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(Matcher::Json(json!({ "query": sql })))
        .with_body(format!(r#"{{"rows":[{{"id":"{B}"}},{{"id":"{A}"}}]}}"#))
        .expect(1)
        .create();
    let a = patch(&mut server, A, "cancel", 202, "");
    let b = patch(&mut server, B, "cancel", 202, "");
    let args = [
        "--json",
        "bulk",
        "--workflow",
        "Checkout",
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-02T00:00:00Z",
        "--yes",
    ];
    let o = run(&server.url(), &args);
    o.expect(0);
    let summary = o.json().last().unwrap()["summary"].clone();
    assert_eq!(summary["requested"], 2, "{}", o.stdout);
    assert_eq!(summary["requests"], 3, "{}", o.stdout);
    page.assert();
    a.assert();
    b.assert();

    // Without --yes: refused, the query shown, nothing sent; --dry-run shows the same request.
    for m in [page, a, b] {
        m.remove();
    }
    // The preview counts what the bulk would hit (invocations not completed), then lists a few.
    let count = server
        .mock("POST", "/query")
        .match_body(Matcher::Regex(
            r"count\(\*\) AS count FROM sys_invocation WHERE target_service_name IN \('Checkout'\) AND created_at >= .* AND \(status IN \('pending', 'scheduled', 'ready'\) OR status IN \('running', 'backing-off'\) OR status IN \('suspended', 'paused'\)\)".into(),
        ))
        .with_body(r#"{"rows":[{"count":2}]}"#)
        .expect(2)
        .create();
    let listed = server
        .mock("POST", "/query")
        .match_body(Matcher::Regex("SELECT id, target_service_name".into()))
        .with_body(r#"{"rows":[]}"#)
        .expect(2)
        .create();
    let none = nothing(&mut server);
    let o = run(&server.url(), &args[1..args.len() - 1]);
    o.expect(2);
    assert!(o.stderr.contains("without --yes"), "{}", o.stderr);
    assert!(o.stderr.contains("2 invocations match on restate"), "{}", o.stderr);
    assert!(o.stderr.contains("target_service_name IN ('Checkout')"), "{}", o.stderr);
    let mut dry: Vec<&str> = args[..args.len() - 1].to_vec();
    dry.push("--dry-run");
    let o = run(&server.url(), &dry);
    o.expect(0);
    let lines = o.json();
    assert_eq!(lines[0]["type"], "preview", "{}", o.stdout);
    assert_eq!(lines[0]["count"], 2, "{}", o.stdout);
    assert_eq!(lines[1]["method"], "POST", "{}", o.stdout);
    assert_eq!(lines[1]["path"], "/query", "{}", o.stdout);
    assert_eq!(lines[1]["body"]["query"], sql, "{}", o.stdout);
    count.assert();
    listed.assert();
    assert_eq!(lines.last().unwrap()["summary"]["dry_run"], true, "{}", o.stdout);
    for m in none {
        m.assert();
    }
}

#[test]
fn a_dry_run_of_ids_shows_each_patch() {
    let mut server = mockito::Server::new();
    let none = nothing(&mut server);
    let o = run_with(
        &server.url(),
        &["bulk", "--ids-file", "-", "--force", "--dry-run"],
        &[],
        Some(&format!("{A}\n{B}\n")),
    );
    o.expect(0);
    assert!(
        o.stdout.contains(&format!("PATCH /invocations/{A}/kill")),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains(&format!("PATCH /invocations/{B}/kill")),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("nothing was sent"), "{}", o.stderr);
    for m in none {
        m.assert();
    }
}

#[test]
fn token_env_sends_that_variable_as_the_bearer_token() {
    let mut server = mockito::Server::new();
    let other = "restate-OTHER-token-51c";
    let m = server
        .mock("PATCH", format!("/invocations/{A}/cancel").as_str())
        .match_header("authorization", format!("Bearer {other}").as_str())
        .with_status(202)
        .expect(1)
        .create();
    let o = run_with(
        &server.url(),
        &["--token-env", "MY_RESTATE_TOKEN", "cancel", A],
        &[("MY_RESTATE_TOKEN", other)],
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
        (vec!["cancel", "wfr_1"], "is not a Restate invocation id"),
        // One malformed id among good ones: nothing is sent, not even for the good ones.
        (
            vec!["cancel", A, "inv_x'y", B],
            "\"inv_x'y\" is not a Restate invocation id",
        ),
        (vec!["cancel", "restate:inv_"], "is not a Restate invocation id"),
        (vec!["status", "inv_a-b"], "is not a Restate invocation id"),
        (
            vec!["cancel", A, "--reason", "why"],
            "--reason is not available with restate",
        ),
        (
            vec!["bulk", "--workflow", "S", "--yes", "--reason", "why"],
            "--reason is not available with restate",
        ),
        (
            vec!["cancel", A, "--thread", "t"],
            "--thread has no effect with restate",
        ),
        (
            vec!["cancel", A, "--workflow", "w"],
            "--workflow has no effect with restate",
        ),
        (
            vec!["cancel", A, "--session", "s"],
            "--session has no effect with restate",
        ),
        (
            vec!["cancel", A, "--namespace", "n"],
            "--namespace has no effect with restate",
        ),
        (
            vec!["cancel", A, "--run-id", "r"],
            "--run-id has no effect with restate",
        ),
        (vec!["bulk", "--label", "x", "--yes"], "cannot filter on --label"),
        (
            vec!["bulk", "--workflow", "S", "--wait", "--yes"],
            "--wait has no effect with restate",
        ),
        (
            vec!["bulk", "--state", "completed", "--yes"],
            "not completed can be cancelled",
        ),
        (vec!["bulk", "--query", "q", "--yes"], "takes no native query"),
    ] {
        let o = run(&url, &args);
        o.expect(2);
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
    // Without --yes (and no terminal to ask on): refused after the preview's count (a read);
    // no cancel is sent.
    for m in none {
        m.remove();
    }
    let reads = server
        .mock("POST", "/query")
        .match_body(Matcher::Regex(r"count\(\*\)".into()))
        .with_body(r#"{"rows":[{"count":0}]}"#)
        .expect(2)
        .create();
    let none = nothing(&mut server);
    for args in [vec!["bulk", "--all"], vec!["bulk", "--handler", "run"]] {
        let o = run(&url, &args);
        o.expect(2);
        assert!(o.stderr.contains("without --yes"), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("0 invocations match"), "{args:?}: {}", o.stderr);
    }
    reads.assert();
    for m in none {
        m.remove();
    }
    let none = nothing(&mut server);
    // A malformed line of --ids-file: nothing is sent.
    let o = run_with(
        &url,
        &["bulk", "--ids-file", "-"],
        &[],
        Some(&format!("{A}\nnot-an-id\n")),
    );
    o.expect(2);
    assert!(
        o.stderr.contains("\"not-an-id\" is not a Restate invocation id"),
        "{}",
        o.stderr
    );
    for m in none {
        m.assert();
    }
}

#[test]
fn restate_addresses_reach_restate_from_another_configured_backend() {
    let mut server = mockito::Server::new();
    let m = patch(&mut server, A, "cancel", 202, "");
    let o = Command::new(BIN)
        .args(["--backend", "langgraph", "--json", "cancel", &format!("restate:{A}")])
        .env_clear()
        .env("LANGGRAPH_API_URL", "http://127.0.0.1:1")
        .env("RESTATE_ADMIN_URL", server.url())
        .env("RESTATE_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["address"], format!("restate:{A}"), "{stdout}");
    assert_eq!(first["outcome"], "requested", "{stdout}");
    m.assert();
    // A malformed restate address: exit 2, nothing sent.
    m.remove();
    let none = nothing(&mut server);
    let o = Command::new(BIN)
        .args(["--backend", "langgraph", "cancel", "restate:inv_!"])
        .env_clear()
        .env("RESTATE_ADMIN_URL", server.url())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    for m in none {
        m.assert();
    }
}

#[test]
fn other_backends_refuse_the_restate_flags() {
    for (args, says) in [
        (
            vec!["--backend", "upstash", "bulk", "--handler", "run"],
            "cannot filter on --handler",
        ),
        (
            vec!["--backend", "upstash", "bulk", "--key", "k"],
            "cannot filter on --key",
        ),
        (
            vec!["--backend", "temporal", "bulk", "--key", "k", "--yes"],
            "cannot filter on --key",
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
