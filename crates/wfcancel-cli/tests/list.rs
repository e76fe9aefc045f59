//! `wfcancel list`: the runs a filter hits, as a table or JSON lines, and `--count`; against the
//! Upstash emulator and mockito servers (the exact requests); a backend that cannot list or count
//! is refused before any request, with exit 2.

use std::process::{Command, Stdio};

use mockito::Matcher;
use serde_json::{Value, json};
use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun, UpstashState};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const TOKEN: &str = "list-SECRET-tok-5e7";

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

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect()
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wfcancel");
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

async fn upstash() -> UpstashEmulator {
    let emu = UpstashEmulator::start(UpstashConfig::default().with_token(TOKEN))
        .await
        .expect("start upstash emulator");
    emu.seed(UpstashRun::new("wfr_a", "https://app.example.com/api/wf").label("nightly"));
    emu.seed(UpstashRun::new("wfr_b", "https://app.example.com/api/wf").label("nightly"));
    emu.seed(
        UpstashRun::new("wfr_c", "https://app.example.com/api/wf")
            .label("nightly")
            .state(UpstashState::Success),
    );
    emu.seed(UpstashRun::new("wfr_d", "https://other.example.com/wf").label("adhoc"));
    emu
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_lists_a_filter_as_a_table_and_as_json_lines() {
    let emu = upstash().await;
    let url = emu.url();
    let env = [
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", url.as_str()),
        ("QSTASH_TOKEN", TOKEN),
    ];
    let args = ["list", "--label", "nightly"];
    let text = run(&args, &env);
    text.expect(0);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(
        lines[0].starts_with("RUN") && lines[0].contains("WORKFLOW") && lines[0].contains("CREATED"),
        "{}",
        text.stdout
    );
    assert_eq!(lines.len(), 4, "{}", text.stdout);
    let c = lines.iter().find(|l| l.starts_with("wfr_c")).expect("wfr_c");
    assert!(
        c.contains("completed") && c.contains("https://app.example.com/api/wf"),
        "{c}"
    );
    assert!(!text.stdout.contains("wfr_d"), "{}", text.stdout);
    assert!(text.stderr.contains("3 runs listed"), "{}", text.stderr);

    let json = run(
        &[
            "--json", "list", "--label", "nightly", "--state", "running", "--limit", "5",
        ],
        &env,
    );
    json.expect(0);
    let lines = json.json_lines();
    let runs: Vec<&Value> = lines.iter().filter(|l| l["type"] == "run").collect();
    let mut ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["wfr_a", "wfr_b"]);
    for r in &runs {
        assert_eq!(r["state"], "running");
        assert!(r["created"].as_str().is_some_and(|t| t.ends_with('Z')), "{r}");
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (summary["summary"]["listed"].as_u64(), &summary["summary"]["next"]),
        (Some(2), &Value::Null)
    );

    // Upstash cannot count (its logs only page) nor filter its logs by workflow name: exit 2.
    let e = run(&["list", "--count"], &env);
    e.expect(2);
    assert!(e.stderr.contains("cannot count runs on upstash"), "{}", e.stderr);
    let e = run(&["list", "--workflow", "nightly"], &env);
    e.expect(2);
    assert!(e.stderr.contains("--workflow"), "{}", e.stderr);
    emu.shutdown().await;
}

#[test]
fn temporal_list_and_count_send_the_escaped_visibility_query() {
    let mut server = mockito::Server::new();
    let query = r#"WorkflowType IN ("Slow") AND ExecutionStatus IN ("Running")"#;
    let list = server
        .mock("GET", "/api/v1/namespaces/orders/workflows")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("query".into(), query.into()),
            Matcher::UrlEncoded("pageSize".into(), "2".into()),
        ]))
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .with_body(
            json!({"executions": [
                {"execution": {"workflowId": "w1", "runId": "0193a3c0-1111-7000-8000-000000000001"},
                 "type": {"name": "Slow"}, "startTime": "2026-11-27T10:00:00Z",
                 "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"}
            ], "nextPageToken": "tok2"})
            .to_string(),
        )
        .expect(1)
        .create();
    let count = server
        .mock("GET", "/api/v1/namespaces/orders/workflow-count")
        .match_query(Matcher::UrlEncoded("query".into(), query.into()))
        .with_body(r#"{"count":"12"}"#)
        .expect(2)
        .create();
    let base = server.url();
    let env = [
        ("WFCANCEL_BACKEND", "temporal"),
        ("TEMPORAL_HTTP_ADDRESS", base.as_str()),
        ("TEMPORAL_API_KEY", TOKEN),
    ];
    let flags = ["--workflow", "Slow", "--state", "running", "--namespace", "orders"];
    let mut args = vec!["--json", "list", "--limit", "2"];
    args.extend(flags);
    let out = run(&args, &env);
    out.expect(0);
    let lines = out.json_lines();
    assert_eq!(lines[0]["type"], "run");
    assert_eq!(
        (
            &lines[0]["id"],
            &lines[0]["workflow"],
            &lines[0]["state"],
            &lines[0]["created"]
        ),
        (
            &json!("w1"),
            &json!("Slow"),
            &json!("running"),
            &json!("2026-11-27T10:00:00Z")
        )
    );
    assert_eq!(lines[1]["type"], "summary");
    assert_eq!(lines[1]["summary"]["next"], "tok2");
    let mut args = vec!["--json", "list", "--count"];
    args.extend(flags);
    let out = run(&args, &env);
    out.expect(0);
    assert_eq!(
        out.json_lines(),
        [json!({"type": "count", "backend": "temporal", "count": 12})]
    );
    let mut args = vec!["list", "--count"];
    args.extend(flags);
    assert_eq!(run(&args, &env).expect(0).stdout.trim(), "12");
    list.assert();
    count.assert();
}

#[test]
fn refusals_send_nothing_and_exit_2() {
    let mut server = mockito::Server::new();
    let none = server.mock("GET", Matcher::Any).expect(0).create();
    let base = server.url();
    // Agno lists by workflow: without one it says so.
    let agno = [
        ("WFCANCEL_BACKEND", "agno"),
        ("AGENTOS_URL", base.as_str()),
        ("OS_SECURITY_KEY", TOKEN),
    ];
    let e = run(&["list"], &agno);
    e.expect(2);
    assert!(e.stderr.contains("workflow"), "{}", e.stderr);
    let e = run(&["list", "--count", "--workflow", "w"], &agno);
    e.expect(2);
    assert!(e.stderr.contains("cannot count runs on agno"), "{}", e.stderr);
    let e = run(&["list", "--agent", "a"], &agno);
    e.expect(2);
    // Temporal's visibility has no "cancelling" state; LangGraph cannot filter by label.
    let temporal = [
        ("WFCANCEL_BACKEND", "temporal"),
        ("TEMPORAL_HTTP_ADDRESS", base.as_str()),
    ];
    let e = run(&["list", "--state", "cancelling"], &temporal);
    e.expect(2);
    assert!(e.stderr.contains("filter.states"), "{}", e.stderr);
    let langgraph = [("WFCANCEL_BACKEND", "langgraph"), ("LANGGRAPH_API_URL", base.as_str())];
    let e = run(&["list", "--label", "x"], &langgraph);
    e.expect(2);
    assert!(
        e.stderr.contains("cannot list runs filtered on --label"),
        "{}",
        e.stderr
    );
    let e = run(&["list", "--limit", "0"], &langgraph);
    e.expect(2);
    none.assert();
}
