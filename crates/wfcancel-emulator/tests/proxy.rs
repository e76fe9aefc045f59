//! The fault proxy: forwards faithfully when no fault fires, injects each fault in the
//! upstream's error shape, and the "answer lost" faults reach the upstream while the client
//! hears nothing.

mod common;

use common::{client, send, send_json};
use serde_json::json;
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, FaultKind, FaultProxy, Faults, ProxyConfig, ProxyFlavor, Scenario,
    ScenarioRule,
};

const KEY: &str = "proxy-test-key";

async fn upstream() -> AgnoEmulator {
    let e = AgnoEmulator::start(AgnoConfig::default().with_security_key(KEY))
        .await
        .expect("upstream");
    e.seed(AgnoRun::workflow("wf", "r1").session("s1"));
    e
}

async fn proxy_to(e: &AgnoEmulator, flavor: ProxyFlavor) -> FaultProxy {
    FaultProxy::start(ProxyConfig::new(e.url(), flavor))
        .await
        .expect("proxy")
}

#[tokio::test]
async fn without_faults_requests_and_answers_pass_unchanged() {
    let e = upstream().await;
    let p = proxy_to(&e, ProxyFlavor::Agno).await;
    let c = client();
    // Method, path, query and the Authorization header reach the upstream; its answer comes back.
    let (status, body) = send_json(
        c.get(format!("{}/workflows/wf/runs/r1?session_id=s1", p.url()))
            .bearer_auth(KEY),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["run_id"].as_str(), body["status"].as_str()),
        (Some("r1"), Some("RUNNING"))
    );
    // A wrong key: the upstream's own 401, body and all.
    let (status, body) = send_json(
        c.post(format!("{}/workflows/wf/runs/r1/cancel", p.url()))
            .bearer_auth("nope"),
    )
    .await;
    assert_eq!((status, body), (401, json!({"detail": "Invalid authentication token"})));
    // A POST with its body and query.
    let resp = c
        .post(format!("{}/workflows/wf/runs/r1/cancel?session_id=s1", p.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("cancel");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(resp.text().await.unwrap(), "{}");
    assert!(e.cancel_requested("r1"));
    // An unknown path: the upstream's 404.
    let (status, _) = send(c.get(format!("{}/nope", p.url())).bearer_auth(KEY)).await;
    assert_eq!(status, 404);
    assert_eq!(e.requests(), 4, "every request reached the upstream once");
    assert_eq!(p.stats().requests, 4);
    assert_eq!(p.stats().faults_total(), 0);
}

#[tokio::test]
async fn faults_are_answered_by_the_proxy_and_never_reach_the_upstream() {
    let e = upstream().await;
    let p = proxy_to(&e, ProxyFlavor::Agno).await;
    let c = client();
    let cancel = || {
        c.post(format!("{}/workflows/wf/runs/r1/cancel", p.url()))
            .bearer_auth(KEY)
    };

    p.faults().set(Faults::none().errors(1.0).seed(1));
    let (status, body) = send_json(cancel()).await;
    assert_eq!((status, body), (503, json!({"detail": "Service Unavailable"})));

    p.faults().set(Faults::none().throttle(1.0).retry_after_secs(3).seed(1));
    let resp = cancel().send().await.expect("answer");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );

    p.faults().set(Faults::none().drops(1.0).seed(1));
    let err = cancel().send().await.expect_err("the connection is dropped");
    assert!(!err.is_status(), "{err}");

    assert_eq!(e.requests(), 0, "no faulted request reached the upstream");
    assert!(!e.cancel_requested("r1"));
    let s = p.stats();
    assert_eq!(
        (
            s.fault(FaultKind::ServerError),
            s.fault(FaultKind::Throttled),
            s.fault(FaultKind::Dropped)
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_lost_answer_reaches_the_upstream_while_the_client_hears_nothing() {
    let e = upstream().await;
    let p = proxy_to(&e, ProxyFlavor::Agno).await;
    p.faults().set(Faults::none().drop_after(1.0).seed(1));
    let err = client()
        .post(format!("{}/workflows/wf/runs/r1/cancel", p.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect_err("no answer");
    assert!(!err.is_status(), "{err}");
    assert!(e.cancel_requested("r1"), "the upstream acted on it");
    assert_eq!(p.stats().fault(FaultKind::DroppedAfterHandling), 1);
    // Scenarios apply too, per path.
    p.faults().clear();
    p.faults()
        .add_scenario(ScenarioRule::new(Scenario::respond(200, "text/html", "<html>proxy</html>")).times(1));
    let (status, body) = send(
        client()
            .get(format!("{}/workflows/wf/runs/r1?session_id=s1", p.url()))
            .bearer_auth(KEY),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "<html>proxy</html>"));
    let (status, _) = send(
        client()
            .get(format!("{}/workflows/wf/runs/r1?session_id=s1", p.url()))
            .bearer_auth(KEY),
    )
    .await;
    assert_eq!(status, 200);
    assert!(matches!(
        e.status("r1"),
        Some(AgnoStatus::Running | AgnoStatus::Cancelled)
    ));
}

#[tokio::test]
async fn fault_answers_take_the_upstreams_error_shape() {
    let e = upstream().await;
    for (flavor, want) in [
        (
            ProxyFlavor::Temporal,
            json!({"code": 14, "message": "Service Unavailable", "details": []}),
        ),
        (ProxyFlavor::Restate, json!({"message": "Service Unavailable"})),
        (ProxyFlavor::LangGraph, json!({"detail": "Service Unavailable"})),
        (ProxyFlavor::Upstash, json!({"error": "service unavailable"})),
    ] {
        let p = FaultProxy::start(ProxyConfig::new(e.url(), flavor).faults(Faults::none().errors(1.0).seed(3)))
            .await
            .expect("proxy");
        let (status, body) = send_json(client().get(format!("{}/health", p.url()))).await;
        assert_eq!((status, &body), (503, &want), "{flavor:?}");
        let p2 = FaultProxy::start(ProxyConfig::new(e.url(), flavor).faults(Faults::none().throttle(1.0).seed(3)))
            .await
            .expect("proxy");
        let (status, _) = send(client().get(format!("{}/health", p2.url()))).await;
        assert_eq!(status, 429, "{flavor:?}");
    }
    assert_eq!(e.requests(), 0);
}

#[tokio::test]
async fn an_unreachable_upstream_is_the_proxys_502_and_bad_upstreams_are_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = FaultProxy::start(ProxyConfig::new(
        format!("http://127.0.0.1:{port}"),
        ProxyFlavor::Restate,
    ))
    .await
    .expect("proxy");
    let (status, body) = send(client().get(format!("{}/query", p.url()))).await;
    assert_eq!(status, 502);
    assert!(body.starts_with("wfcancel fault proxy: "), "{body}");
    for bad in ["https://example.com", "ftp://127.0.0.1:1", "not a url", ""] {
        let err = FaultProxy::start(ProxyConfig::new(bad, ProxyFlavor::Agno))
            .await
            .expect_err(bad);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    }
}

#[tokio::test]
async fn a_path_in_the_upstream_url_prefixes_every_forwarded_path() {
    let e = upstream().await;
    // The upstream "lives" under /api: the proxy adds it, so /workflows/… reaches /api/workflows/…,
    // which the emulator does not serve (404), while /health without the prefix would (200).
    let p = FaultProxy::start(ProxyConfig::new(format!("{}/api/", e.url()), ProxyFlavor::Agno))
        .await
        .expect("proxy");
    let (status, _) = send(client().get(format!("{}/health", p.url()))).await;
    assert_eq!(status, 404, "forwarded to /api/health");
    let direct = FaultProxy::start(ProxyConfig::new(e.url(), ProxyFlavor::Agno))
        .await
        .expect("proxy");
    let (status, _) = send(client().get(format!("{}/health", direct.url()))).await;
    assert_eq!(status, 200);
}

/// `Scenario::EchoCredential`: the request's credential comes back in every spelling (raw,
/// `\/`, `\u`, percent-encoded) and raw in `x-echo`; the upstream never sees the request.
#[tokio::test]
async fn echo_credential_echoes_the_token_in_every_spelling() {
    let e = upstream().await;
    let p = proxy_to(&e, ProxyFlavor::Upstash).await;
    p.faults()
        .add_scenario(ScenarioRule::new(Scenario::echo_credential(401)).path_prefix("/v2/"));
    let c = client();
    let resp = c
        .delete(format!("{}/v2/workflows/runs/r1", p.url()))
        .header("authorization", "Bearer tok/abc+x=")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        resp.headers().get("x-echo").and_then(|v| v.to_str().ok()),
        Some("Bearer tok/abc+x=")
    );
    let body = resp.text().await.unwrap();
    for spelling in [
        "tok/abc+x=",
        r"tok\/abc+x=",
        r"tok\u002Fabc\u002Bx\u003D",
        "tok%2Fabc%2Bx%3D",
    ] {
        assert!(body.contains(spelling), "{spelling:?} in {body}");
    }
    // Valid JSON, and every spelling decodes back to the token.
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["message"], "bad credentials: Bearer tok/abc+x=");
    assert_eq!(v["escaped"], "Bearer tok/abc+x=");
    assert_eq!(v["unicode"], "Bearer tok/abc+x=");
    assert_eq!(v["encoded"], "Bearer%20tok%2Fabc%2Bx%3D");
    // X-Api-Key when there is no Authorization; an empty echo (and no x-echo) without either.
    let (status, v) = send_json(c.get(format!("{}/v2/x", p.url())).header("x-api-key", "k/1")).await;
    assert_eq!((status, v["escaped"].as_str()), (401, Some("k/1")));
    let resp = c.get(format!("{}/v2/x", p.url())).send().await.unwrap();
    assert!(resp.headers().get("x-echo").is_none());
    let v: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(v["message"], "bad credentials: ");
    assert_eq!(v["encoded"], "");
    // The echoed requests never reached the upstream.
    assert_eq!(e.requests(), 0);
    assert_eq!(p.stats().fault(FaultKind::Scenario), 3);
}
