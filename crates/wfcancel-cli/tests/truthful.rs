//! `wfcancel cancel` says "not active" only on the provider's word: a server that answers
//! `{"cancelled":0}` while its logs say `RUN_STARTED` (and cannot cancel the run by its path
//! either) makes it exit 1, never "not-active".

use mockito::{Matcher, Server};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_for_a_running_run_is_a_failure_not_not_active() {
    let mut server = Server::new_async().await;
    let _bulk = server
        .mock("DELETE", "/v2/workflows/runs")
        .match_query(Matcher::Any)
        .with_body(r#"{"cancelled":0}"#)
        .create_async()
        .await;
    let _path = server
        .mock("DELETE", Matcher::Regex("^/v2/workflows/runs/".into()))
        .with_status(500)
        .with_body(r#"{"error":"failed to cancel workflow run"}"#)
        .create_async()
        .await;
    let _logs = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::Any)
        .with_body_from_request(|req| {
            let q = req.path_and_query().split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
            let id = url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "workflowRunId")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            format!(r#"{{"cursor":"","runs":[{{"workflowRunId":"{id}","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1}}]}}"#)
                .into_bytes()
        })
        .create_async()
        .await;
    for args in [
        vec!["cancel", "wfr_running"],
        vec!["cancel", ".."],
        vec!["cancel", "wfr_a", "wfr_b"],
        vec!["--json", "cancel", "wfr_running"],
    ] {
        let out = tokio::process::Command::new(BIN)
            .env_clear()
            .env("WFCANCEL_BACKEND", "upstash")
            .env("QSTASH_URL", server.url())
            .env("QSTASH_TOKEN", "tok-truthful-1")
            .args(["--retries", "0"])
            .args(&args)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{stdout}\n{stderr}");
        assert!(
            !stdout.lines().any(|l| l.starts_with("not-active")),
            "{args:?}: {stdout}"
        );
        assert!(!stdout.contains("not_active\":\""), "{args:?}: {stdout}");
    }
}
