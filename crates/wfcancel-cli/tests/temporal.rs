//! `wfcancel --backend temporal` against a mockito server: the exact requests, and the usage
//! errors that send nothing (exit 2). The real server is in `live_temporal_cli.rs`.

use std::process::{Command, Stdio};

use mockito::Matcher;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const KEY: &str = "temporal-SECRET-key-19c";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(base: &str, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WFCANCEL_BACKEND", "temporal")
        .env("TEMPORAL_HTTP_ADDRESS", base)
        .env("TEMPORAL_API_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .expect("run wfcancel");
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!o.stdout.contains(KEY) && !o.stderr.contains(KEY), "the key shows");
    o
}

fn expect(o: &Out, code: i32) {
    assert_eq!(o.code, code, "--- stdout\n{}\n--- stderr\n{}", o.stdout, o.stderr);
}

const RUNNING: &str = r#"{"workflowExecutionInfo":{"execution":{"workflowId":"w1","runId":"0193a3c0-1111-7000-8000-000000000001"},"status":"WORKFLOW_EXECUTION_STATUS_RUNNING"},"workflowExtendedInfo":{}}"#;

#[test]
fn cancel_describes_then_cancels_the_described_run_in_the_namespace() {
    let mut server = mockito::Server::new();
    let describe = server
        .mock("GET", "/api/v1/namespaces/orders/workflows/w1")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_body(RUNNING)
        .expect(1)
        .create();
    let cancel = server
        .mock("POST", "/api/v1/namespaces/orders/workflows/w1/cancel")
        .match_body(Matcher::PartialJson(json!({
            "reason": "why",
            "identity": format!("wfcancel/{}", env!("CARGO_PKG_VERSION")),
            "workflowExecution": {"workflowId": "w1", "runId": "0193a3c0-1111-7000-8000-000000000001"},
        })))
        .with_body("{}")
        .expect(1)
        .create();
    let o = run(
        &server.url(),
        &["cancel", "w1", "--namespace", "orders", "--reason", "why"],
    );
    expect(&o, 0);
    assert_eq!(o.stdout.trim(), "requested  w1");
    describe.assert();
    cancel.assert();
}

#[test]
fn force_terminates_a_given_run_and_status_reads_it() {
    let mut server = mockito::Server::new();
    let terminate = server
        .mock("POST", "/api/v1/namespaces/default/workflows/w1/terminate")
        .match_body(Matcher::PartialJson(json!({
            "workflowExecution": {"workflowId": "w1", "runId": "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"},
        })))
        .with_body("{}")
        .expect(1)
        .create();
    let o = run(
        &server.url(),
        &[
            "cancel",
            "w1",
            "--run-id",
            "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e",
            "--force",
        ],
    );
    expect(&o, 0);
    assert_eq!(o.stdout.trim(), "cancelled  w1");
    terminate.assert();
    let status = server
        .mock("GET", "/api/v1/namespaces/default/workflows/w1")
        .match_query(Matcher::UrlEncoded(
            "execution.runId".into(),
            "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e".into(),
        ))
        .with_body(RUNNING.replace("RUNNING", "TERMINATED"))
        .expect(1)
        .create();
    let o = run(
        &server.url(),
        &["status", "w1", "--run-id", "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"],
    );
    expect(&o, 0);
    assert_eq!(o.stdout.trim(), "terminated w1");
    status.assert();
}

#[test]
fn bulk_by_type_starts_one_batch_with_yes_and_waits_with_wait() {
    let mut server = mockito::Server::new();
    let start = server
        .mock(
            "POST",
            Matcher::Regex(r"^/api/v1/namespaces/default/batch-operations/wfcancel-[0-9a-f-]{36}$".into()),
        )
        .match_body(Matcher::PartialJson(json!({
            "visibilityQuery": r#"WorkflowType IN ("Nightly") AND ExecutionStatus = "Running""#,
            "reason": "cleanup",
            "cancellationOperation": {},
        })))
        .with_body("{}")
        .expect(1)
        .create();
    let describe = server
        .mock(
            "GET",
            Matcher::Regex(r"^/api/v1/namespaces/default/batch-operations/wfcancel-".into()),
        )
        .with_body(
            r#"{"state":"BATCH_OPERATION_STATE_COMPLETED","totalOperationCount":"3","completeOperationCount":"3"}"#,
        )
        .expect(1)
        .create();
    let o = run(
        &server.url(),
        &[
            "--json",
            "bulk",
            "--workflow",
            "Nightly",
            "--yes",
            "--wait",
            "--reason",
            "cleanup",
        ],
    );
    expect(&o, 0);
    let summary: serde_json::Value = serde_json::from_str(o.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["requested"], 3, "{}", o.stdout);
    assert_eq!(summary["summary"]["drained"], true, "{}", o.stdout);
    start.assert();
    describe.assert();
}

#[test]
fn bulk_query_without_yes_is_refused_and_sends_nothing() {
    let mut server = mockito::Server::new();
    // The preview counts what the batch's query selects (a read), then lists them.
    let count = server
        .mock("GET", "/api/v1/namespaces/default/workflow-count")
        .match_query(Matcher::UrlEncoded("query".into(), r#"WorkflowType = "A""#.into()))
        .with_body(r#"{"count":"3"}"#)
        .expect(2)
        .create();
    let listed = server
        .mock("GET", "/api/v1/namespaces/default/workflows")
        .match_query(Matcher::Any)
        .with_body(r#"{"executions":[]}"#)
        .expect(2)
        .create();
    let any = server.mock("POST", Matcher::Any).expect(0).create();
    let o = run(&server.url(), &["bulk", "--query", r#"WorkflowType = "A""#]);
    expect(&o, 2);
    assert!(o.stderr.contains("without --yes"), "{}", o.stderr);
    assert!(o.stderr.contains("3 workflows match on temporal"), "{}", o.stderr);
    assert!(
        o.stderr.contains(r#""visibilityQuery":"WorkflowType = \"A\"""#),
        "{}",
        o.stderr
    );
    let o = run(
        &server.url(),
        &["--json", "bulk", "--query", r#"WorkflowType = "A""#, "--dry-run"],
    );
    expect(&o, 0);
    let first: serde_json::Value = serde_json::from_str(o.stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        first["body"]["visibilityQuery"], r#"WorkflowType = "A""#,
        "{}",
        o.stdout
    );
    count.assert();
    listed.assert();
    any.assert();
}

#[test]
fn usage_errors_are_exit_2_before_any_request() {
    let mut server = mockito::Server::new();
    let any = server.mock("GET", Matcher::Any).expect(0).create();
    let any_post = server.mock("POST", Matcher::Any).expect(0).create();
    let url = server.url();
    for (args, says) in [
        (vec!["cancel", "a", "b", "--run-id", "r"], "exactly one WORKFLOW_ID"),
        (
            vec!["cancel", "a", "--workflow", "w"],
            "--workflow has no effect with temporal",
        ),
        (vec!["cancel", "a", "--session", "s"], "--session has no effect"),
        (vec!["cancel", "a", "--namespace", " "], "namespace"),
        (
            vec!["bulk", "--workflow", "T", "--page-size", "10", "--yes"],
            "--page-size has no effect",
        ),
        (
            vec!["bulk", "--ids-file", "-", "--yes"],
            "--yes has no effect with --ids-file",
        ),
        (
            vec!["bulk", "--workflow", "T", "--agent", "x", "--yes"],
            "cannot be used with",
        ),
        (vec!["bulk", "--query", "  ", "--yes"], "query"),
        (
            vec!["bulk", "--workflow", "T", "--label", "x", "--yes"],
            "cannot filter on --label",
        ),
        (
            vec!["bulk", "--query", "Q", "--workflow", "T", "--yes"],
            "cannot be used with",
        ),
        (
            vec!["status", "a", "--agent", "x"],
            "--agent has no effect with temporal",
        ),
    ] {
        let o = run(&url, &args);
        expect(&o, 2);
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
    // A run id that is not a UUID: the run's line says why, exit 2, nothing sent.
    let o = run(&url, &["cancel", "a", "--run-id", "not-a-uuid"]);
    expect(&o, 2);
    assert!(o.stdout.contains("is not a UUID"), "{}", o.stdout);
    any.assert();
    any_post.assert();
}

#[test]
fn other_backends_refuse_the_temporal_flags() {
    let o = Command::new(BIN)
        .args(["--backend", "upstash", "status", "x", "--namespace", "n"])
        .env_clear()
        .env("QSTASH_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--namespace has no effect with upstash"));
    for args in [
        vec!["--backend", "upstash", "cancel", "x", "--run-id", "r"],
        vec!["--backend", "upstash", "bulk", "--label", "l", "--wait"],
        vec!["--backend", "upstash", "bulk", "--query", "q", "--yes"],
    ] {
        let o = Command::new(BIN)
            .args(&args)
            .env_clear()
            .env("QSTASH_TOKEN", "t")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn temporal_addresses_reach_temporal_from_another_backend() {
    let mut server = mockito::Server::new();
    let describe = server
        .mock("GET", "/api/v1/namespaces/orders/workflows/w1")
        .match_query(Matcher::UrlEncoded(
            "execution.runId".into(),
            "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e".into(),
        ))
        .with_body(RUNNING.replace("RUNNING", "COMPLETED"))
        .expect(1)
        .create();
    // The configured backend is Upstash; the address names Temporal, built from its variables.
    let out = Command::new(BIN)
        .args([
            "--backend",
            "upstash",
            "--json",
            "status",
            "temporal://orders/w1?sub=0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e",
        ])
        .env_clear()
        .env("QSTASH_TOKEN", "t")
        .env("TEMPORAL_HTTP_ADDRESS", server.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["state"], "completed", "{stdout}");
    assert_eq!(
        line["address"], "temporal://orders/w1?sub=0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e",
        "{stdout}"
    );
    describe.assert();
}
