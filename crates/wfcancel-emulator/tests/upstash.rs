//! The Upstash emulator's endpoints, as a client sees them.

mod common;

use std::time::{Duration, Instant};

use common::{client, eventually, send, send_json};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wfcancel_emulator::{
    BulkActionState, Endpoint, FaultKind, UpstashConfig, UpstashEmulator, UpstashRun, UpstashState,
};

const URL_A: &str = "https://app.example.com/api/a";
const URL_AB: &str = "https://app.example.com/api/a/b";
const URL_C: &str = "https://other.example.com/c";

async fn emu() -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token("tok"))
        .await
        .unwrap()
}

fn del(e: &UpstashEmulator, path_and_query: &str) -> reqwest::RequestBuilder {
    client()
        .delete(format!("{}{}", e.url(), path_and_query))
        .bearer_auth(e.token())
}

fn get(e: &UpstashEmulator, path_and_query: &str) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}{}", e.url(), path_and_query))
        .bearer_auth(e.token())
}

async fn bulk(e: &UpstashEmulator, query: &str) -> u64 {
    let (status, body) = send_json(del(e, &format!("/v2/workflows/runs?{query}"))).await;
    assert_eq!(status, 200, "{body}");
    body["cancelled"].as_u64().unwrap()
}

#[tokio::test]
async fn start_binds_loopback_with_given_or_random_token() {
    let e = emu().await;
    assert!(e.url().starts_with("http://127.0.0.1:"));
    assert_eq!(e.token(), "tok");
    assert!(!format!("{e:?}").contains("tok\""));
    let r = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    assert_eq!(r.token().len(), 32);
    assert_ne!(r.token(), e.token());
}

#[tokio::test]
async fn cancel_one_active_then_not_found() {
    let e = emu().await;
    e.seed(UpstashRun::new("wfr_1", URL_A));
    e.seed(UpstashRun::new("wfr_done", URL_A).state(UpstashState::Success));

    let resp = del(&e, "/v2/workflows/runs/wfr_1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.text().await.unwrap(), "OK");
    assert_eq!(e.state("wfr_1"), Some(UpstashState::Canceled));
    assert!(e.run("wfr_1").unwrap().completed_at.is_some());

    let not_found = json!({"error": "workflowRun not found"});
    for path in [
        "/v2/workflows/runs/wfr_1",
        "/v2/workflows/runs/nope",
        "/v2/workflows/runs/wfr_done",
    ] {
        let (status, body) = send_json(del(&e, path)).await;
        assert_eq!((status, body), (404, not_found.clone()), "{path}");
    }
    assert_eq!(e.state("wfr_done"), Some(UpstashState::Success));
    assert_eq!(e.cancelled(), 1);
}

#[tokio::test]
async fn cancel_one_accepts_cancel_query_and_encoded_ids() {
    let e = emu().await;
    e.seed(UpstashRun::new("wfr_q", URL_A));
    e.seed(UpstashRun::new("a/b?c", URL_A));
    let (status, body) = send(del(&e, "/v2/workflows/runs/wfr_q?cancel=true")).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    let (status, _) = send(del(&e, "/v2/workflows/runs/a%2Fb%3Fc")).await;
    assert_eq!(status, 200);
    assert_eq!(e.state("a/b?c"), Some(UpstashState::Canceled));
}

#[tokio::test]
async fn auth_is_required_and_never_changes_state() {
    let e = emu().await;
    e.seed(UpstashRun::new("wfr_1", URL_A));
    let url = format!("{}/v2/workflows/runs/wfr_1", e.url());

    let (status, body) = send_json(client().delete(&url)).await;
    assert_eq!(
        (status, body),
        (401, json!({"error": "authorization header is missing"}))
    );
    let (status, body) = send_json(client().delete(&url).bearer_auth("wrong")).await;
    assert_eq!((status, body), (401, json!({"error": "invalid token"})));
    let (status, _) = send(client().delete(&url).header("authorization", "Basic tok")).await;
    assert_eq!(status, 401);
    let (status, _) = send(client().get(format!("{}/v2/workflows/logs?workflowRunId=wfr_1", e.url()))).await;
    assert_eq!(status, 401);
    assert_eq!(e.state("wfr_1"), Some(UpstashState::Started));
    assert_eq!(e.stats().unauthorized, 4);

    // The token in the query works (like the real API) but is counted, so tests can forbid it.
    let (status, _) = send(client().delete(format!("{url}?qstash_token=tok"))).await;
    assert_eq!(status, 200);
    assert_eq!(e.stats().token_in_query, 1);
}

#[tokio::test]
async fn bulk_by_ids_repeated_and_comma_separated_skips_unknown_and_finished() {
    let e = emu().await;
    for id in ["a", "b", "c", "d"] {
        e.seed(UpstashRun::new(id, URL_A));
    }
    e.seed(UpstashRun::new("f", URL_A).state(UpstashState::Failed));
    let q = "workflowRunIds=a&workflowRunIds=b,c&workflowRunIds=zzz&workflowRunIds=f&count=1&label=nomatch";
    // Ids win over filters, and `count` does not cap an explicit list.
    assert_eq!(bulk(&e, q).await, 3);
    assert_eq!(bulk(&e, q).await, 0);
    assert_eq!(e.state("d"), Some(UpstashState::Started));
    assert_eq!(e.state("f"), Some(UpstashState::Failed));
    assert_eq!(bulk(&e, "workflowRunIds=d").await, 1);
    assert_eq!(e.stats().endpoint(Endpoint::UpstashBulkCancelIds), 3);
    assert_eq!(e.cancelled(), 4);
}

#[tokio::test]
async fn bulk_by_url_prefix_and_exact() {
    let e = emu().await;
    e.seed(UpstashRun::new("a", URL_A));
    e.seed(UpstashRun::new("ab", URL_AB));
    e.seed(UpstashRun::new("c", URL_C));
    let exact = format!("workflowUrl={}&workflowUrlExactMatch=true", urlenc(URL_A));
    assert_eq!(bulk(&e, &exact).await, 1);
    assert_eq!(e.state("ab"), Some(UpstashState::Started));
    e.seed(UpstashRun::new("a", URL_A));
    // Prefix is the default.
    assert_eq!(bulk(&e, &format!("workflowUrl={}", urlenc(URL_A))).await, 2);
    assert_eq!(e.state("c"), Some(UpstashState::Started));
    // Repeated workflowUrl keys are alternatives.
    e.seed(UpstashRun::new("a", URL_A));
    let two = format!("workflowUrl={}&workflowUrl={}", urlenc(URL_A), urlenc(URL_C));
    assert_eq!(bulk(&e, &two).await, 2);
    assert_eq!(e.stats().endpoint(Endpoint::UpstashBulkCancelFilter), 3);
}

fn urlenc(s: &str) -> String {
    url_escape(s)
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bulk_multi_valued_fields_or_within_and_across() {
    let e = emu().await;
    let run = |id: &str, label: &str, ip: &str, key: &str| {
        UpstashRun::new(id, URL_A)
            .label(label)
            .caller_ip(ip)
            .flow_control_key(key)
    };
    e.seed_many([
        run("1", "x", "10.0.0.1", "k1"),
        run("2", "y", "10.0.0.1", "k2"),
        run("3", "z", "10.0.0.1", "k1"),
        run("4", "x", "10.0.0.2", "k1"),
        run("5", "y", "10.0.0.1", "k3"),
    ]);
    e.seed(UpstashRun::new("nolabel", URL_A).caller_ip("10.0.0.1"));
    // label in {x,y} AND callerIp = 10.0.0.1 AND flowControlKey in {k1,k2}: runs 1 and 2.
    let q = "label=x,y&callerIp=10.0.0.1&flowControlKey=k1&flowControlKey=k2";
    assert_eq!(bulk(&e, q).await, 2);
    for (id, state) in [
        ("1", UpstashState::Canceled),
        ("2", UpstashState::Canceled),
        ("3", UpstashState::Started),
    ] {
        assert_eq!(e.state(id), Some(state), "{id}");
    }
    assert_eq!(e.state("4"), Some(UpstashState::Started));
    assert_eq!(e.state("5"), Some(UpstashState::Started));
    assert_eq!(bulk(&e, "label=x&label=z").await, 2);
    assert_eq!(e.state("nolabel"), Some(UpstashState::Started));
}

/// `host` and `path` match the workflow URL's host (any port, ASCII case-insensitive) and path
/// (without query or fragment) exactly, as `RunFilter::matches` does; repeated keys are OR, and
/// they AND with the other fields.
#[tokio::test]
async fn bulk_host_and_path_match_the_workflow_urls_parts() {
    let e = emu().await;
    e.seed_many([
        UpstashRun::new("a1", "https://a.example/api/wf"),
        UpstashRun::new("a2", "https://A.Example:8443/api/wf?x=1#f").label("l"),
        UpstashRun::new("a3", "https://a.example/api/wf/step"),
        UpstashRun::new("a4", "https://a.example").label("l"),
        UpstashRun::new("b1", "https://b.example/api/wf").label("l"),
        UpstashRun::new("b2", "https://b.example/other"),
        UpstashRun::new("sub", "https://sub.a.example/api/wf"),
        UpstashRun::new("done", "https://a.example/api/wf").state(UpstashState::Success),
    ]);
    let reset = |e: &UpstashEmulator| {
        for id in ["a1", "a2", "a3", "a4", "b1", "b2", "sub"] {
            e.set_state(id, UpstashState::Started);
        }
    };
    let cases: &[(&str, &[&str])] = &[
        ("host=a.example", &["a1", "a2", "a3", "a4"]),
        ("host=A.EXAMPLE&host=b.example", &["a1", "a2", "a3", "a4", "b1", "b2"]),
        ("host=example", &[]),
        ("path=%2Fapi%2Fwf", &["a1", "a2", "b1", "sub"]),
        ("path=%2Fapi%2Fwf&path=%2F", &["a1", "a2", "a4", "b1", "sub"]),
        ("path=%2Fapi", &[]),
        ("host=a.example&path=%2Fapi%2Fwf", &["a1", "a2"]),
        (
            "host=a.example&host=b.example&path=%2Fapi%2Fwf&path=%2F&label=l",
            &["a2", "a4", "b1"],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(bulk(&e, q).await, want.len() as u64, "{q}");
        for id in ["a1", "a2", "a3", "a4", "b1", "b2", "sub"] {
            let expected = if want.contains(&id) {
                UpstashState::Canceled
            } else {
                UpstashState::Started
            };
            assert_eq!(e.state(id), Some(expected), "{q}: {id}");
        }
        assert_eq!(e.state("done"), Some(UpstashState::Success), "{q}");
        reset(&e);
    }
    assert_eq!(
        e.stats().endpoint(Endpoint::UpstashBulkCancelFilter),
        cases.len() as u64
    );
}

#[tokio::test]
async fn bulk_dates_are_inclusive() {
    let e = emu().await;
    for (id, t) in [("t1", 1000), ("t2", 2000), ("t3", 3000), ("t4", 4000)] {
        e.seed(UpstashRun::new(id, URL_A).created_at(t));
    }
    assert_eq!(bulk(&e, "fromDate=2000&toDate=3000").await, 2);
    assert_eq!(e.state("t1"), Some(UpstashState::Started));
    assert_eq!(e.state("t4"), Some(UpstashState::Started));
    assert_eq!(bulk(&e, "fromDate=5000&toDate=1000").await, 0);
    assert_eq!(bulk(&e, "toDate=1000").await, 1);
    assert_eq!(bulk(&e, "fromDate=4000").await, 1);
}

#[tokio::test]
async fn bulk_count_caps_filters_and_all_default_100_and_drain() {
    let e = emu().await;
    e.seed_many((0..250).map(|i| UpstashRun::new(format!("r{i}"), URL_A).created_at(1000 + i)));
    assert_eq!(bulk(&e, &format!("workflowUrl={}&count=7", urlenc(URL_A))).await, 7);
    // Oldest first.
    assert_eq!(e.state("r0"), Some(UpstashState::Canceled));
    assert_eq!(e.state("r7"), Some(UpstashState::Started));
    assert_eq!(bulk(&e, &format!("workflowUrl={}", urlenc(URL_A))).await, 100);
    assert_eq!(e.active_count(), 143);
    // Cancel everything: `count` only, repeated until 0.
    let mut rounds = 0;
    while bulk(&e, "count=50").await > 0 {
        rounds += 1;
        assert!(rounds < 10);
    }
    assert_eq!(rounds, 3);
    assert_eq!(e.active_count(), 0);
    assert_eq!(e.cancelled(), 250);
    assert_eq!(e.stats().endpoint(Endpoint::UpstashBulkCancelAll), 4);
}

#[tokio::test]
async fn bulk_without_any_parameter_cancels_everything_up_to_100() {
    let e = emu().await;
    e.seed_many((0..120).map(|i| UpstashRun::new(format!("r{i}"), URL_A)));
    let (status, body) = send_json(del(&e, "/v2/workflows/runs")).await;
    assert_eq!((status, body), (200, json!({"cancelled": 100})));
    // The legacy empty JSON body is the same call.
    let (status, body) = send_json(del(&e, "/v2/workflows/runs").body("{}")).await;
    assert_eq!((status, body), (200, json!({"cancelled": 20})));
}

#[tokio::test]
async fn bulk_rejects_legacy_json_body_and_bad_values_without_cancelling() {
    let e = emu().await;
    e.seed(UpstashRun::new("a", URL_A));
    let (status, body) = send_json(
        del(&e, "/v2/workflows/runs")
            .header("content-type", "application/json")
            .body(r#"{"workflowUrl":"https://x"}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "json: cannot unmarshal string into Go struct field CancelWorkflowRunsRequest.workflowUrl of type []string"})
    );
    for q in [
        "fromDate=abc",
        "toDate=1.5",
        "count=x",
        "count=0",
        "count=-3",
        "workflowUrlExactMatch=perhaps",
    ] {
        let (status, body) = send_json(del(&e, &format!("/v2/workflows/runs?{q}"))).await;
        assert_eq!(status, 400, "{q}");
        assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()), "{q}: {body}");
    }
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    assert_eq!(e.stats().status(400), 7);
}

#[tokio::test]
async fn bulk_stops_at_first_uncancellable_run_and_continues_next_time() {
    let e = emu().await;
    e.seed_many((0..5).map(|i| {
        let run = UpstashRun::new(format!("r{i}"), URL_A).created_at(1000 + i);
        if i == 2 { run.uncancellable_once() } else { run }
    }));
    assert_eq!(bulk(&e, "label=x&workflowUrl=https").await, 0); // no match: the mark stays
    assert_eq!(bulk(&e, "count=100").await, 2);
    assert_eq!(e.state("r2"), Some(UpstashState::Started));
    assert_eq!(bulk(&e, "count=100").await, 3);
    assert_eq!(e.active_count(), 0);

    // By ids: stops at the marked run too.
    e.seed_many(["x", "y", "z"].map(|id| UpstashRun::new(id, URL_A)));
    assert!(e.mark_uncancellable_once("y"));
    assert_eq!(bulk(&e, "workflowRunIds=x,y,z").await, 1);
    assert_eq!(bulk(&e, "workflowRunIds=x,y,z").await, 2);

    // A single cancel of a marked run fails once with 500, then succeeds.
    e.seed(UpstashRun::new("s", URL_A).uncancellable_once());
    let (status, body) = send_json(del(&e, "/v2/workflows/runs/s")).await;
    assert_eq!((status, body), (500, json!({"error": "failed to cancel workflow run"})));
    assert_eq!(send(del(&e, "/v2/workflows/runs/s")).await.0, 200);
}

#[tokio::test]
async fn logs_report_states_and_unknown_is_empty() {
    let e = emu().await;
    e.seed(
        UpstashRun::new("run", URL_A)
            .created_at(1234)
            .label("nightly")
            .caller_ip("203.0.113.9"),
    );
    e.seed(
        UpstashRun::new("ok", URL_A)
            .created_at(2000)
            .state(UpstashState::Success),
    );
    e.seed(
        UpstashRun::new("bad", URL_A)
            .created_at(3000)
            .state(UpstashState::Failed),
    );

    let (status, body) = send_json(get(&e, "/v2/workflows/logs?workflowRunId=run")).await;
    assert_eq!(status, 200);
    assert_eq!(body["cursor"], "");
    let run = &body["runs"][0];
    assert_eq!(run["workflowRunId"], "run");
    assert_eq!(run["workflowUrl"], URL_A);
    assert_eq!(run["workflowState"], "RUN_STARTED");
    assert_eq!(run["workflowRunCreatedAt"], 1234);
    assert_eq!(run["workflowRunCallerIp"], "203.0.113.9");
    assert_eq!(run["label"], "nightly");
    assert!(run.get("workflowRunCompletedAt").is_none());

    send(del(&e, "/v2/workflows/runs/run")).await;
    let (_, body) = send_json(get(&e, "/v2/workflows/logs?workflowRunId=run&workflowCreatedAt=1234")).await;
    assert_eq!(body["runs"][0]["workflowState"], "RUN_CANCELED");
    assert!(body["runs"][0]["workflowRunCompletedAt"].as_u64().is_some());
    let (_, body) = send_json(get(&e, "/v2/workflows/logs?workflowRunId=run&workflowCreatedAt=999")).await;
    assert_eq!(body, json!({"cursor": "", "runs": []}));
    for (id, state) in [("ok", "RUN_SUCCESS"), ("bad", "RUN_FAILED")] {
        let (_, body) = send_json(get(&e, &format!("/v2/workflows/logs?workflowRunId={id}"))).await;
        assert_eq!(body["runs"][0]["workflowState"], state);
    }
    let (status, body) = send_json(get(&e, "/v2/workflows/logs?workflowRunId=unknown")).await;
    assert_eq!((status, body), (200, json!({"cursor": "", "runs": []})));
}

#[tokio::test]
async fn logs_list_newest_first_with_cursor() {
    let e = emu().await;
    e.seed_many((0..5).map(|i| UpstashRun::new(format!("r{i}"), URL_A).created_at(1000 + i)));
    let (_, page1) = send_json(get(&e, "/v2/workflows/logs?count=3")).await;
    let ids: Vec<_> = page1["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflowRunId"].clone())
        .collect();
    assert_eq!(ids, vec!["r4", "r3", "r2"]);
    let cursor = page1["cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let (_, page2) = send_json(get(&e, &format!("/v2/workflows/logs?count=3&cursor={cursor}"))).await;
    let ids: Vec<_> = page2["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflowRunId"].clone())
        .collect();
    assert_eq!(ids, vec!["r1", "r0"]);
    assert_eq!(page2["cursor"], "");
    let (_, only) = send_json(get(&e, "/v2/workflows/logs?state=RUN_CANCELED")).await;
    assert_eq!(only["runs"], json!([]));
}

#[tokio::test]
async fn async_bulk_cancel_is_a_tracked_action() {
    let cfg = UpstashConfig::default()
        .with_token("tok")
        .with_bulk_action_delay(Duration::from_millis(300));
    let e = UpstashEmulator::start(cfg).await.unwrap();
    e.seed_many((0..2500).map(|i| UpstashRun::new(format!("r{i}"), URL_A).label("bulk")));
    e.seed(UpstashRun::new("other", URL_A).label("keep"));

    let (status, body) = send_json(del(&e, "/v2/workflows/runs?label=bulk&async=true")).await;
    assert_eq!(status, 200);
    let action_id = body["actionId"].as_str().unwrap().to_owned();
    assert!(body.get("cancelled").is_none());

    let (status, a) = send_json(get(&e, &format!("/v2/workflows/bulkActions/{action_id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(a["actionId"], action_id.as_str());
    assert_eq!(a["kind"], "cancel");
    assert_eq!(a["state"], "IN_PROGRESS");
    assert_eq!(a["total"], 2500);
    assert_eq!(a["cancelled"], 0);

    assert!(
        eventually(Duration::from_secs(5), || e.action(&action_id).unwrap().state
            == BulkActionState::Finished)
        .await
    );
    let (_, a) = send_json(get(&e, &format!("/v2/workflows/bulkActions/{action_id}"))).await;
    assert_eq!(a["state"], "FINISHED");
    assert_eq!(a["cancelled"], 2500);
    assert!(a["finishedAt"].as_u64().is_some());
    assert_eq!(e.state("other"), Some(UpstashState::Started));
    assert_eq!(e.cancelled(), 2500);

    let (_, list) = send_json(get(&e, "/v2/workflows/bulkActions?state=FINISHED")).await;
    assert_eq!(list["actions"][0]["actionId"], action_id.as_str());
    assert_eq!(list["cursor"], "");

    let (status, body) = send_json(get(&e, "/v2/workflows/bulkActions/act_nope")).await;
    assert_eq!((status, body), (404, json!({"error": "bulk action not found"})));
    assert_eq!(e.stats().endpoint(Endpoint::UpstashBulkActionGet), 3);
}

#[tokio::test]
async fn async_with_count_caps_the_action() {
    let e = emu().await;
    e.seed_many((0..30).map(|i| UpstashRun::new(format!("r{i}"), URL_A)));
    let (_, body) = send_json(del(
        &e,
        &format!("/v2/workflows/runs?workflowUrl={}&async=true&count=10", urlenc(URL_A)),
    ))
    .await;
    let id = body["actionId"].as_str().unwrap().to_owned();
    assert!(
        eventually(Duration::from_secs(5), || e
            .action(&id)
            .is_some_and(|a| a.state == BulkActionState::Finished))
        .await
    );
    let a = e.action(&id).unwrap();
    assert_eq!((a.total, a.cancelled), (10, 10));
    assert_eq!(e.active_count(), 20);
}

#[tokio::test]
async fn long_uris_get_414() {
    let e = emu().await;
    e.seed(UpstashRun::new("a", URL_A));
    // Over the configured 16 KiB: the emulator's own 414.
    let ids = (0..2000).map(|i| format!("wfr_{i:06}")).collect::<Vec<_>>().join(",");
    let q = format!("/v2/workflows/runs?workflowRunIds=a,{ids}");
    assert!(q.len() > 16 * 1024);
    let (status, body) = send(del(&e, &q)).await;
    assert_eq!((status, body.as_str()), (414, "URI Too Long\n"));
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    assert_eq!(e.stats().fault(FaultKind::UriTooLong), 1);
    // Just under the limit passes.
    let (status, _) = send(del(
        &e,
        &format!("/v2/workflows/runs?workflowRunIds=a,{}", "x".repeat(16_000)),
    ))
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn configurable_uri_limit() {
    let e = UpstashEmulator::start(UpstashConfig::default().with_token("t").with_max_uri_len(100))
        .await
        .unwrap();
    let (status, _) = send(del(
        &e,
        &format!("/v2/workflows/runs?workflowRunIds={}", "x".repeat(100)),
    ))
    .await;
    assert_eq!(status, 414);
}

/// A 500 KB request target: reqwest refuses to build it (`http::Uri` caps URIs at 65,534 bytes),
/// so it is sent on a raw socket: hyper answers `414` itself, before the service sees it.
#[tokio::test]
async fn a_500_kb_uri_is_answered_414() {
    let e = emu().await;
    let target = format!("/v2/workflows/runs?workflowRunIds={}", "x".repeat(500 * 1024));

    let err = client()
        .delete(format!("{}{}", e.url(), target))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_builder(), "reqwest refuses to build a URI over 65,534 bytes");

    let mut sock = tokio::net::TcpStream::connect(e.addr()).await.unwrap();
    let req = format!("DELETE {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nConnection: close\r\n\r\n");
    let write = sock.write_all(req.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 414"), "write: {write:?}, got: {text:?}");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let e = emu().await;
    let (status, body) = send(get(&e, "/v2/nope")).await;
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
    let (status, body) = send_json(get(&e, "/v2/workflows/runs/x")).await;
    assert_eq!((status, body), (405, json!({"error": "method not allowed"})));
}

#[tokio::test]
async fn seed_random_is_reproducible_and_cheap_at_scale() {
    let e = emu().await;
    let t = Instant::now();
    let ids = e.seed_random(20_000, Some(42));
    assert_eq!(ids.len(), 20_000);
    assert_eq!(e.len(), 20_000);
    let again = UpstashEmulator::start(UpstashConfig::default())
        .await
        .unwrap()
        .seed_random(10, Some(42));
    assert_eq!(&ids[..10], &again[..]);
    let active = e.active_count();
    assert!(active > 17_000 && active < 19_000, "{active}");

    // Single cancels and status reads stay cheap with 20,000 runs held.
    let c = client();
    for id in ids.iter().take(200) {
        let r = c
            .delete(format!("{}/v2/workflows/runs/{id}", e.url()))
            .bearer_auth("tok")
            .send()
            .await
            .unwrap();
        assert!(r.status() == 200 || r.status() == 404);
    }
    let (_, body) = send_json(get(&e, &format!("/v2/workflows/logs?workflowRunId={}", ids[0]))).await;
    assert!(body["runs"][0]["workflowState"].as_str().is_some());
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(e.stats().endpoint(Endpoint::UpstashCancelRun), 200);
}

#[tokio::test]
async fn set_state_and_stats() {
    let e = emu().await;
    e.seed(UpstashRun::new("a", URL_A));
    assert!(e.set_state("a", UpstashState::Success));
    assert!(!e.set_state("nope", UpstashState::Success));
    assert_eq!(send(del(&e, "/v2/workflows/runs/a")).await.0, 404);
    let s = e.stats();
    assert_eq!(s.requests, 1);
    assert_eq!(s.status(404), 1);
    assert_eq!(e.requests(), 1);
    e.reset_stats();
    assert_eq!(e.requests(), 0);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let e = emu().await;
    let url = e.url();
    // A pooled keep-alive connection does not hold shutdown up.
    let c = client();
    assert_eq!(
        c.get(format!("{url}/v2/workflows/logs"))
            .bearer_auth("tok")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let t = Instant::now();
    e.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(c.get(format!("{url}/v2/workflows/logs")).send().await.is_err());

    let e = emu().await;
    let url = e.url();
    drop(e);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client().get(format!("{url}/v2/workflows/logs")).send().await.is_err());
}

/// Cancel requests are counted per run: single cancels and bulk cancels by id (whatever they
/// answered), not filtered ones; unknown ids are not held, so not counted.
#[tokio::test]
async fn cancel_requests_are_counted_per_run() {
    let e = emu().await;
    for id in ["a", "b", "c"] {
        e.seed(UpstashRun::new(id, "https://app.example.com/wf"));
    }
    assert_eq!(bulk(&e, "workflowRunIds=a,b&workflowRunIds=zz").await, 2);
    assert_eq!(bulk(&e, "workflowRunIds=a").await, 0);
    assert_eq!(send(del(&e, "/v2/workflows/runs/b")).await.0, 404);
    assert_eq!(bulk(&e, "workflowUrl=https://app.example.com/wf").await, 1);
    assert_eq!(
        (e.cancel_requests("a"), e.cancel_requests("b"), e.cancel_requests("c")),
        (2, 2, 0)
    );
    assert_eq!(e.cancel_requests("zz"), 0);
    let per_run = e.cancel_requests_per_run();
    assert_eq!(per_run.len(), 2);
    assert_eq!(per_run["a"], 2);
}
