//! Fault knobs and scenarios, each observed by a client, and the counters that record them.

mod common;

use std::time::{Duration, Instant};

use common::{client, send, send_json};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, FaultKind, Faults, Scenario, ScenarioRule, UpstashConfig,
    UpstashEmulator, UpstashRun, UpstashState,
};

const URL: &str = "https://app.example.com/api/wf";

async fn upstash(faults: Faults) -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token("tok").with_faults(faults))
        .await
        .unwrap()
}

async fn agno(faults: Faults) -> AgnoEmulator {
    AgnoEmulator::start(
        AgnoConfig::default()
            .with_cancel_delay(Duration::ZERO)
            .with_faults(faults),
    )
    .await
    .unwrap()
}

fn cancel_req(e: &UpstashEmulator, id: &str) -> reqwest::RequestBuilder {
    client()
        .delete(format!("{}/v2/workflows/runs/{id}", e.url()))
        .bearer_auth("tok")
}

fn agno_cancel(e: &AgnoEmulator, run: &str) -> reqwest::RequestBuilder {
    client().post(format!("{}/workflows/wf/runs/{run}/cancel", e.url()))
}

#[tokio::test]
async fn server_errors_happen_before_any_state_change() {
    let e = upstash(Faults::none().errors(1.0)).await;
    e.seed(UpstashRun::new("a", URL));
    for _ in 0..3 {
        let (status, body) = send_json(cancel_req(&e, "a")).await;
        assert_eq!((status, body), (503, json!({"error": "service unavailable"})));
    }
    let (status, _) = send(
        client()
            .delete(format!("{}/v2/workflows/runs?count=10", e.url()))
            .bearer_auth("tok"),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    let s = e.stats();
    assert_eq!((s.fault(FaultKind::ServerError), s.status(503), s.cancelled), (4, 4, 0));

    let a = agno(Faults::none().errors(1.0).error_status(500)).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    let (status, body) = send_json(agno_cancel(&a, "r")).await;
    assert_eq!((status, body), (500, json!({"detail": "Internal Server Error"})));
    assert!(!a.cancel_requested("r"));
    assert_eq!(a.status("r"), Some(AgnoStatus::Running));
}

#[tokio::test]
async fn seeded_error_fraction_is_reproducible_and_counted() {
    async fn run_once() -> (u64, u64) {
        let e = upstash(Faults::none().errors(0.3).seed(1234)).await;
        e.seed_many((0..100).map(|i| UpstashRun::new(format!("r{i}"), URL)));
        let mut client_errors = 0;
        for i in 0..100 {
            let (status, _) = send(cancel_req(&e, &format!("r{i}"))).await;
            match status {
                200 => {}
                503 => client_errors += 1,
                other => panic!("unexpected {other}"),
            }
        }
        let s = e.stats();
        assert_eq!(s.fault(FaultKind::ServerError), client_errors);
        assert_eq!(s.cancelled, 100 - client_errors);
        assert_eq!(e.active_count() as u64, client_errors);
        (client_errors, s.cancelled)
    }
    let first = run_once().await;
    assert!(first.0 > 10 && first.0 < 50, "{first:?}");
    assert_eq!(first, run_once().await);
}

#[tokio::test]
async fn random_429_carries_retry_after_and_burst_headers() {
    let e = upstash(Faults::none().throttle(1.0).retry_after_secs(2)).await;
    e.seed(UpstashRun::new("a", URL));
    let resp = cancel_req(&e, "a").send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let h = resp.headers();
    assert_eq!(h["retry-after"], "2");
    assert_eq!(h["burst-ratelimit-remaining"], "0");
    assert!(h.contains_key("burst-ratelimit-limit"));
    let reset: u64 = h["burst-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset >= now && reset <= now + 3, "{reset} vs {now}");
    assert!(resp.text().await.unwrap().contains("\"error\""));
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    assert_eq!(e.stats().fault(FaultKind::Throttled), 1);

    let a = agno(Faults::none().throttle(1.0)).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    let resp = agno_cancel(&a, "r").send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(!resp.headers().contains_key("burst-ratelimit-limit"));
    assert_eq!(json_of(resp).await, json!({"detail": "Rate limit exceeded"}));
    assert!(!a.cancel_requested("r"));
}

async fn json_of(resp: reqwest::Response) -> serde_json::Value {
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn rate_limit_per_second_with_provider_headers() {
    let e = upstash(Faults::none().rate_limit(5)).await;
    e.seed_many((0..30).map(|i| UpstashRun::new(format!("r{i}"), URL)));
    let (mut ok, mut limited) = (0u64, 0u64);
    let unix_secs = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let first_second = unix_secs();
    for i in 0..30 {
        let resp = cancel_req(&e, &format!("r{i}")).send().await.unwrap();
        let h = resp.headers();
        assert_eq!(h["burst-ratelimit-limit"], "5");
        assert!(h.contains_key("burst-ratelimit-reset"));
        match resp.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert_eq!(h["burst-ratelimit-remaining"], "0");
                let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=2).contains(&retry));
            }
            other => panic!("{other}"),
        }
    }
    // At most 5 pass per one-second window, however slowly a loaded machine sends them.
    let windows = unix_secs() - first_second + 1;
    assert_eq!(ok + limited, 30);
    assert!(ok <= 5 * windows, "ok {ok} in {windows} one-second windows");
    if windows < 6 {
        assert!(limited > 0, "30 requests in {windows} windows of 5 must meet the limit");
    }
    let s = e.stats();
    assert_eq!((s.fault(FaultKind::RateLimited), s.cancelled), (limited, ok));

    let a = agno(Faults::none().rate_limit(1)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(send(client().get(format!("{}/health", a.url()))).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn latency_and_jitter_delay_answers() {
    let e = upstash(
        Faults::none()
            .latency(Duration::from_millis(120))
            .jitter(Duration::from_millis(30)),
    )
    .await;
    let t = Instant::now();
    assert_eq!(send(cancel_req(&e, "x")).await.0, 404);
    let elapsed = t.elapsed();
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert_eq!(e.stats().fault(FaultKind::Delayed), 1);
}

#[tokio::test]
async fn dropped_connections_are_connection_errors_without_state_change() {
    let e = upstash(Faults::none().drops(1.0)).await;
    e.seed(UpstashRun::new("a", URL));
    let err = cancel_req(&e, "a").send().await.unwrap_err();
    assert!(err.status().is_none());
    assert!(err.is_request() || err.is_connect() || err.is_body(), "{err:?}");
    assert!(!err.is_timeout());
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    let s = e.stats();
    assert_eq!((s.requests, s.fault(FaultKind::Dropped), s.by_status.len()), (1, 1, 0));

    // On the wire: the request is read, then the socket is closed with no byte of response.
    let mut sock = tokio::net::TcpStream::connect(e.addr()).await.unwrap();
    sock.write_all(b"DELETE /v2/workflows/runs/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(
        read.is_err() || buf.is_empty(),
        "got a response: {:?}",
        String::from_utf8_lossy(&buf)
    );

    // Agno too.
    let a = agno(Faults::none().drops(1.0)).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    assert!(agno_cancel(&a, "r").send().await.is_err());
    assert!(!a.cancel_requested("r"));
}

#[tokio::test]
async fn knobs_change_at_run_time() {
    let e = upstash(Faults::none()).await;
    e.seed_many((0..3).map(|i| UpstashRun::new(format!("r{i}"), URL)));
    let faults = e.faults();
    assert_eq!(send(cancel_req(&e, "r0")).await.0, 200);
    faults.set(Faults::none().errors(1.0).error_status(502));
    assert_eq!(faults.get().error_status, 502);
    assert_eq!(send(cancel_req(&e, "r1")).await.0, 502);
    faults.update(|f| f.error_rate = 0.0);
    assert_eq!(send(cancel_req(&e, "r1")).await.0, 200);
    faults.set(Faults::none().drops(1.0));
    assert!(cancel_req(&e, "r2").send().await.is_err());
    faults.clear();
    assert_eq!(send(cancel_req(&e, "r2")).await.0, 200);
    let s = e.stats();
    assert_eq!((s.requests, s.cancelled, s.faults_total()), (5, 3, 2));
}

#[tokio::test]
async fn scenario_hang_until_the_client_gives_up() {
    let e = upstash(Faults::none()).await;
    e.seed(UpstashRun::new("a", URL));
    e.faults().add_scenario(
        ScenarioRule::new(Scenario::Hang)
            .method("DELETE")
            .path_prefix("/v2/workflows/runs/")
            .times(1),
    );
    let t = Instant::now();
    let err = cancel_req(&e, "a")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(e.state("a"), Some(UpstashState::Started));
    // The rule was for one request only.
    assert_eq!(send(cancel_req(&e, "a")).await.0, 200);
    assert_eq!(e.stats().fault(FaultKind::Scenario), 1);
}

#[tokio::test]
async fn scenario_trickle_sends_the_real_answer_a_byte_at_a_time() {
    let e = upstash(Faults::none()).await;
    e.seed(UpstashRun::new("a", URL));
    e.faults().add_scenario(ScenarioRule::new(Scenario::Trickle {
        interval: Duration::from_millis(60),
    }));
    let t = Instant::now();
    let resp = cancel_req(&e, "a").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "OK");
    assert!(t.elapsed() >= Duration::from_millis(60));
    // Trickle handles the request for real.
    assert_eq!(e.state("a"), Some(UpstashState::Canceled));
}

#[tokio::test]
async fn scenario_huge_body() {
    let e = upstash(Faults::none()).await;
    e.faults()
        .add_scenario(ScenarioRule::new(Scenario::huge_body()).path_prefix("/v2/workflows/runs"));
    let resp = client()
        .delete(format!("{}/v2/workflows/runs?count=1", e.url()))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(10 * 1024 * 1024));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), 10 * 1024 * 1024);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["cancelled"], 0);
}

#[tokio::test]
async fn scenario_not_json_html_and_redirect() {
    let a = agno(Faults::none()).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    let f = a.faults();
    f.add_scenario(ScenarioRule::new(Scenario::not_json()).path_suffix("/cancel").times(1));
    f.add_scenario(
        ScenarioRule::new(Scenario::html_error(502))
            .path_suffix("/cancel")
            .times(1),
    );
    f.add_scenario(
        ScenarioRule::new(Scenario::redirect("http://127.0.0.2:9/elsewhere"))
            .path_suffix("/cancel")
            .times(1),
    );

    let (status, body) = send(agno_cancel(&a, "r")).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    let resp = agno_cancel(&a, "r").send().await.unwrap();
    assert_eq!(resp.status(), 502);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("<html>"));
    let resp = agno_cancel(&a, "r").send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "http://127.0.0.2:9/elsewhere");
    assert!(!a.cancel_requested("r"));
    // Rules used up: the endpoint answers again.
    assert_eq!(send_json(agno_cancel(&a, "r")).await, (200, json!({})));
    assert_eq!(a.stats().fault(FaultKind::Scenario), 3);
}

#[tokio::test]
async fn scenario_drop_and_custom_answer() {
    let e = upstash(Faults::none()).await;
    let f = e.faults();
    f.add_scenario(ScenarioRule::new(Scenario::Drop).method("GET"));
    f.add_scenario(ScenarioRule::new(Scenario::respond(418, "text/plain", "teapot")).method("DELETE"));
    assert!(
        client()
            .get(format!("{}/v2/workflows/logs", e.url()))
            .send()
            .await
            .is_err()
    );
    assert_eq!(send(cancel_req(&e, "x")).await, (418, "teapot".to_owned()));
    f.clear_scenarios();
    assert_eq!(send(cancel_req(&e, "x")).await.0, 404);
}

#[tokio::test]
async fn many_concurrent_requests_with_mixed_faults_add_up() {
    let e = upstash(Faults::none().errors(0.1).throttle(0.1).drops(0.05).seed(99)).await;
    let ids = e.seed_random(2000, Some(3));
    let c = client();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(100) {
        let c = c.clone();
        let base = e.url();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other, mut dropped) = (0u64, 0u64, 0u64);
            for id in chunk {
                match c
                    .delete(format!("{base}/v2/workflows/runs/{id}"))
                    .bearer_auth("tok")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(_) => other += 1,
                    Err(_) => dropped += 1,
                }
            }
            (ok, other, dropped)
        }));
    }
    let (mut ok, mut other, mut dropped) = (0, 0, 0);
    for t in tasks {
        let (a, b, c) = t.await.unwrap();
        ok += a;
        other += b;
        dropped += c;
    }
    let s = e.stats();
    assert_eq!(s.requests, 2000);
    assert_eq!(s.cancelled, ok);
    assert_eq!(s.fault(FaultKind::Dropped), dropped);
    assert_eq!(
        s.fault(FaultKind::ServerError) + s.fault(FaultKind::Throttled) + s.status(404),
        other
    );
    assert!(dropped > 0 && s.fault(FaultKind::ServerError) > 0 && s.fault(FaultKind::Throttled) > 0);
}

#[tokio::test]
async fn shutdown_releases_a_hanging_request() {
    let e = upstash(Faults::none()).await;
    e.faults().add_scenario(ScenarioRule::new(Scenario::Hang));
    let req = cancel_req(&e, "a").timeout(Duration::from_secs(10)).send();
    let pending = tokio::spawn(req);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    e.shutdown().await;
    let res = pending.await.unwrap();
    assert!(res.is_err_and(|err| !err.is_timeout()));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

/// "The server did it, the client never heard": the endpoint handles the request (the run is
/// cancelled), then the connection closes without a byte of response.
#[tokio::test]
async fn drop_after_handling_changes_state_then_loses_the_answer() {
    let e = upstash(Faults::none().drop_after(1.0)).await;
    e.seed(UpstashRun::new("a", URL));
    e.seed(UpstashRun::new("b", URL));
    let err = cancel_req(&e, "a").send().await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(e.state("a"), Some(UpstashState::Canceled));
    let s = e.stats();
    assert_eq!(
        (
            s.requests,
            s.cancelled,
            s.fault(FaultKind::DroppedAfterHandling),
            s.fault(FaultKind::Dropped),
            s.by_status.len()
        ),
        (1, 1, 1, 0, 0),
        "{s:?}"
    );

    // On the wire: the request is handled, then the socket is closed with no response at all.
    let mut sock = tokio::net::TcpStream::connect(e.addr()).await.unwrap();
    sock.write_all(b"DELETE /v2/workflows/runs/b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(
        read.is_err() || buf.is_empty(),
        "got a response: {:?}",
        String::from_utf8_lossy(&buf)
    );
    assert_eq!(e.state("b"), Some(UpstashState::Canceled));

    // Agno: the cancel intent is recorded and the run stops, though the client saw an error.
    let a = agno(Faults::none().drop_after(1.0)).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    assert!(agno_cancel(&a, "r").send().await.is_err());
    assert!(a.cancel_requested("r"));
    assert_eq!(a.status("r"), Some(AgnoStatus::Cancelled));
    let s = a.stats();
    assert_eq!((s.cancelled, s.fault(FaultKind::DroppedAfterHandling)), (1, 1));
}

#[tokio::test]
async fn scenario_drop_after_handling_once_then_normal() {
    let a = agno(Faults::none()).await;
    a.seed(AgnoRun::workflow("wf", "r"));
    a.faults().add_scenario(
        ScenarioRule::new(Scenario::DropAfterHandling)
            .method("POST")
            .path_suffix("/cancel")
            .times(1),
    );
    assert!(agno_cancel(&a, "r").send().await.is_err());
    assert!(a.cancel_requested("r"));
    // The retry a client would send: answered, and the run is already over.
    let (status, body) = send_json(agno_cancel(&a, "r")).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(a.status("r"), Some(AgnoStatus::Cancelled));
    let s = a.stats();
    assert_eq!(
        (
            s.requests,
            s.cancelled,
            s.fault(FaultKind::DroppedAfterHandling),
            s.fault(FaultKind::Scenario),
            s.status(200)
        ),
        (2, 1, 1, 0, 1),
        "{s:?}"
    );
}

#[tokio::test]
async fn drop_after_fraction_every_request_took_effect_and_losses_add_up() {
    let e = upstash(Faults::none().drop_after(0.3).seed(21)).await;
    e.seed_many((0..200).map(|i| UpstashRun::new(format!("r{i}"), URL)));
    let (mut ok, mut lost) = (0u64, 0u64);
    for i in 0..200 {
        match cancel_req(&e, &format!("r{i}")).send().await {
            Ok(r) if r.status() == 200 => ok += 1,
            Ok(r) => panic!("unexpected {}", r.status()),
            Err(_) => lost += 1,
        }
    }
    let s = e.stats();
    // Every cancel took effect, answered or not.
    assert_eq!((s.requests, s.cancelled), (200, 200));
    assert_eq!(s.fault(FaultKind::DroppedAfterHandling), lost);
    assert_eq!(s.status(200), ok);
    assert!(lost > 20 && ok > 100, "lost {lost}, ok {ok}");
    assert_eq!(e.active_count(), 0);
}
