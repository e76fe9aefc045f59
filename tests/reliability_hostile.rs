//! The hostile-server cases of `reliability_scenarios.rs` for the Temporal, Restate and LangGraph
//! cancellers: a server that never answers, one that answers a byte at a time, a 10 MB body
//! (announced, and chunked without a length), a body that is not JSON, an HTML error page, a
//! redirect to another host, and nothing listening. Each ends in the right `CancelError` within
//! the configured time, the token never reaches the other host, and every error and the whole
//! TRACE output are scanned for the tokens.
//!
//! The misbehaviour comes from a [`FaultProxy`] (its scenarios are answered before anything is
//! forwarded) in front of a small stub that answers like each provider for a running run, so
//! that a request the scenario lets through gets a real-looking answer.
//!
//! Client settings: 500 ms per attempt, 3 attempts, backoff 5 ms doubling, 5 s deadline per call.
#![cfg(all(feature = "temporal", feature = "restate", feature = "langgraph"))]

mod reliability_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use reliability_support as rs;
use wfcancel::HttpConfig;
use wfcancel::{CancelError, CancelOutcome, RunRef, RunState, WorkflowCanceller};
use wfcancel_emulator::{FaultProxy, Faults, ProxyConfig, ProxyFlavor, Scenario, ScenarioRule};

const ATTEMPT: Duration = Duration::from_millis(500);
const ATTEMPTS: u32 = 3;
const DEADLINE: Duration = Duration::from_secs(5);
/// What a call that times out on every attempt may take: every attempt's timeout, the backoffs,
/// and 1 s of scheduling slack (CI shares 2 cores between the tests).
const BOUND: Duration = Duration::from_millis(500 * 3 + 1000);
/// The test's own limit around each scenario.
const LIMIT: Duration = Duration::from_secs(10);

const TEMPORAL_WF: &str = "wf-scenario";
const RESTATE_INV: &str = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
const LG_THREAD: &str = "1ef4a9b0-0000-6000-8000-000000000001";
const LG_RUN: &str = "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b";

fn cfg() -> HttpConfig {
    rs::http(ATTEMPT, ATTEMPTS, DEADLINE)
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Temporal,
    Restate,
    LangGraph,
}

const BACKENDS: [Backend; 3] = [Backend::Temporal, Backend::Restate, Backend::LangGraph];

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Temporal => "temporal",
            Backend::Restate => "restate",
            Backend::LangGraph => "langgraph",
        }
    }

    fn flavor(self) -> ProxyFlavor {
        match self {
            Backend::Temporal => ProxyFlavor::Temporal,
            Backend::Restate => ProxyFlavor::Restate,
            Backend::LangGraph => ProxyFlavor::LangGraph,
        }
    }

    fn client(self, url: &str) -> Box<dyn WorkflowCanceller> {
        match self {
            Backend::Temporal => Box::new(rs::temporal_client(url, cfg())),
            Backend::Restate => Box::new(rs::restate_client(url, cfg())),
            Backend::LangGraph => Box::new(rs::langgraph_client(url, cfg())),
        }
    }

    fn run(self) -> RunRef {
        match self {
            Backend::Temporal => RunRef::new(TEMPORAL_WF),
            Backend::Restate => RunRef::new(RESTATE_INV),
            Backend::LangGraph => RunRef::new(LG_RUN).thread(LG_THREAD),
        }
    }

    /// Requests one cancel of a running run sends to a well-behaved server: Temporal describes
    /// the workflow first (for the run id and its state), the others cancel at once.
    fn cancel_requests(self) -> u64 {
        match self {
            Backend::Temporal => 2,
            Backend::Restate | Backend::LangGraph => 1,
        }
    }
}

/// A stub answering like each provider for a running run (Temporal's HTTP API, Restate's admin
/// API, LangGraph's Agent Server): a describe / state read says running, a cancel is accepted.
async fn stub() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use axum::http::{Method, Request, StatusCode, header};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(|req: Request<axum::body::Body>| async move {
        let path = req.uri().path().to_owned();
        let json = |status: StatusCode, body: serde_json::Value| {
            (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        };
        let m = req.method().clone();
        if path.starts_with("/api/v1/namespaces/") {
            if m == Method::GET {
                return json(
                    StatusCode::OK,
                    serde_json::json!({"workflowExecutionInfo": {
                        "execution": {"workflowId": TEMPORAL_WF, "runId": "0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"},
                        "status": "WORKFLOW_EXECUTION_STATUS_RUNNING"}}),
                );
            }
            return json(StatusCode::OK, serde_json::json!({}));
        }
        if path.starts_with("/invocations/") {
            return StatusCode::ACCEPTED.into_response();
        }
        if path == "/query" {
            return json(
                StatusCode::OK,
                serde_json::json!({"rows": [{"id": RESTATE_INV, "target_service_name": "Svc",
                    "target_handler_name": "run", "status": "running", "created_at": "2026-01-01T00:00:00.000Z"}]}),
            );
        }
        if path.starts_with("/threads/") && m == Method::POST {
            return StatusCode::ACCEPTED.into_response();
        }
        if path.starts_with("/threads/") {
            return json(
                StatusCode::OK,
                serde_json::json!({"run_id": LG_RUN, "thread_id": LG_THREAD, "status": "running"}),
            );
        }
        json(StatusCode::NOT_FOUND, serde_json::json!({"detail": "Not Found"}))
    });
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the stub");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// The stub behind a fault proxy of the backend's flavour, with `rule` (if any) installed.
struct Front {
    proxy: FaultProxy,
    stub: tokio::task::JoinHandle<()>,
}

impl Front {
    async fn start(b: Backend, rule: Option<ScenarioRule>) -> Front {
        let (addr, stub) = stub().await;
        let proxy = FaultProxy::start(ProxyConfig::new(format!("http://{addr}"), b.flavor()).faults(Faults::none()))
            .await
            .expect("start the proxy");
        if let Some(rule) = rule {
            proxy.faults().add_scenario(rule);
        }
        Front { proxy, stub }
    }

    fn requests(&self) -> u64 {
        self.proxy.stats().requests
    }

    async fn stop(self) {
        self.proxy.shutdown().await;
        self.stub.abort();
    }
}

/// Cancels the backend's run through `client`, bounded, with the error scanned; prints the
/// summary line.
async fn cancel(
    label: &str,
    client: &dyn WorkflowCanceller,
    run: &RunRef,
    calls: impl Fn() -> u64,
) -> (Result<CancelOutcome, CancelError>, Duration) {
    let (r, elapsed) = rs::within(label, LIMIT, client.cancel(run)).await;
    rs::scan_result(label, &r);
    let result = match &r {
        Ok(o) => format!("ok:{o}"),
        Err(e) => e.kind().to_string(),
    };
    rs::summary(
        label,
        &[
            ("result", result),
            ("calls", calls().to_string()),
            ("time", rs::secs(elapsed)),
            ("leaks", rs::leak_figures().3.to_string()),
        ],
    );
    (r, elapsed)
}

/// A status read of the backend's run, bounded, scanned.
async fn read_state(label: &str, client: &dyn WorkflowCanceller, run: &RunRef) -> Result<RunState, CancelError> {
    let (r, _) = rs::within(label, LIMIT, client.status(run)).await;
    rs::scan_result(label, &r);
    r
}

fn assert_timeout(label: &str, r: &Result<CancelOutcome, CancelError>, elapsed: Duration) {
    assert!(matches!(r, Err(CancelError::Timeout { .. })), "{label}: {r:?}");
    assert!(
        elapsed >= ATTEMPT && elapsed <= BOUND,
        "{label}: took {elapsed:?}, configured {ATTEMPTS} × {ATTEMPT:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stub_answers_like_a_well_behaved_server() {
    // The baseline the scenarios change: through the proxy without faults, each cancel is
    // requested in the number of requests the backend sends, and the state reads running.
    rs::capture_tracing();
    for b in BACKENDS {
        let front = Front::start(b, None).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/well-behaved", b.name());
        let (r, _) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert_eq!(r, Ok(CancelOutcome::Requested), "{label}");
        assert_eq!(front.requests(), b.cancel_requests(), "{label}");
        assert_eq!(
            read_state(&label, client.as_ref(), &b.run()).await,
            Ok(RunState::Running),
            "{label}"
        );
        front.stop().await;
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_on_every_attempt() {
    rs::capture_tracing();
    for b in BACKENDS {
        let front = Front::start(b, Some(ScenarioRule::new(Scenario::Hang))).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/hang", b.name());
        let (r, t) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert_timeout(&label, &r, t);
        assert_eq!(
            front.requests(),
            u64::from(ATTEMPTS),
            "{label}: one request per attempt"
        );
        let s = read_state(&label, client.as_ref(), &b.run()).await;
        assert!(matches!(s, Err(CancelError::Timeout { .. })), "{label}: {s:?}");
        front.stop().await;
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_a_byte_at_a_time_times_out() {
    rs::capture_tracing();
    for b in BACKENDS {
        // Headers at once, then one body byte per second: each attempt hits its timeout mid-body.
        let rule = ScenarioRule::new(Scenario::Trickle {
            interval: Duration::from_secs(1),
        });
        let front = Front::start(b, Some(rule)).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/trickle", b.name());
        let (r, t) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        match b {
            // The describe's body trickles.
            Backend::Temporal => {
                assert_timeout(&label, &r, t);
                assert_eq!(front.requests(), u64::from(ATTEMPTS), "{label}");
            }
            // The cancel's answer is a bare 202 (as the real servers send it): nothing to
            // trickle, the answer is whole at once and stands.
            Backend::Restate | Backend::LangGraph => {
                assert_eq!(r, Ok(CancelOutcome::Requested), "{label}");
                assert_eq!(front.requests(), 1, "{label}");
            }
        }
        // A state read's body (JSON) trickles for every backend.
        front.proxy.reset_stats();
        let label = format!("{}/trickle-status", b.name());
        let (s, t) = rs::within(&label, LIMIT, client.status(&b.run())).await;
        rs::scan_result(&label, &s);
        rs::summary(
            &label,
            &[
                (
                    "result",
                    s.as_ref().map_or_else(|e| e.kind().to_string(), |s| format!("ok:{s}")),
                ),
                ("calls", front.requests().to_string()),
                ("time", rs::secs(t)),
            ],
        );
        assert!(matches!(s, Err(CancelError::Timeout { .. })), "{label}: {s:?}");
        assert!(t >= ATTEMPT && t <= BOUND, "{label}: {t:?}");
        assert_eq!(front.requests(), u64::from(ATTEMPTS), "{label}");
        front.stop().await;
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_body_is_refused_at_the_cap_without_retrying() {
    rs::capture_tracing();
    for b in BACKENDS {
        let front = Front::start(b, Some(ScenarioRule::new(Scenario::huge_body()))).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/10mb-body", b.name());
        let (r, t) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert!(matches!(&r, Err(CancelError::Decode { .. })), "{label}: {r:?}");
        assert!(t < BOUND, "{label}: {t:?}");
        assert_eq!(front.requests(), 1, "{label}: a body over the cap is not retried");
        let s = read_state(&label, client.as_ref(), &b.run()).await;
        assert!(matches!(s, Err(CancelError::Decode { .. })), "{label}: {s:?}");
        front.stop().await;
    }
    rs::assert_no_leaks();
}

/// A raw loopback HTTP/1.1 server that answers every request with 10 MB of JSON-looking bytes in
/// chunked encoding, with no `Content-Length` (the cap must hold while reading). Its status is
/// `status` (200, or a 202 for the backends whose cancel answers 202).
async fn chunked_10mb_server(status: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let first = b"{\"status\":\"running\",\"pad\":\"";
                let _ = stream.write_all(format!("{:x}\r\n", first.len()).as_bytes()).await;
                let _ = stream.write_all(first).await;
                let _ = stream.write_all(b"\r\n").await;
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..160 {
                    let frame = [
                        format!("{:x}\r\n", chunk.len()).into_bytes(),
                        chunk.clone(),
                        b"\r\n".to_vec(),
                    ]
                    .concat();
                    if stream.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                let _ = stream.write_all(b"2\r\n\"}\r\n0\r\n\r\n").await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_10_mb_body_without_a_length_is_cut_at_the_cap() {
    rs::capture_tracing();
    for status_line in ["200 OK", "202 Accepted"] {
        let (addr, task) = chunked_10mb_server(status_line).await;
        let url = format!("http://{addr}");
        for b in BACKENDS {
            let client = b.client(&url);
            let label = format!("{}/10mb-chunked-{}", b.name(), &status_line[..3]);
            let (r, t) = cancel(&label, client.as_ref(), &b.run(), || 0).await;
            assert!(matches!(&r, Err(CancelError::Decode { .. })), "{label}: {r:?}");
            assert!(t < BOUND, "{label}: {t:?}");
        }
        task.abort();
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_json_body_is_never_taken_for_an_answer() {
    rs::capture_tracing();
    for b in BACKENDS {
        // On every request: the first one a cancel sends (Temporal's describe, the others'
        // cancel) and the state read.
        let front = Front::start(b, Some(ScenarioRule::new(Scenario::not_json()))).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/not-json", b.name());
        let (r, _) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert!(matches!(&r, Err(CancelError::Decode { .. })), "{label}: {r:?}");
        assert_eq!(front.requests(), 1, "{label}: a 200 that cannot be read is not retried");
        let s = read_state(&label, client.as_ref(), &b.run()).await;
        assert!(matches!(s, Err(CancelError::Decode { .. })), "{label}: {s:?}");
        front.stop().await;

        // On the cancel request alone (a catch-all page answering 200 where the cancel goes):
        // not the provider's word that the run stops.
        let rule = ScenarioRule::new(Scenario::not_json()).path_suffix("/cancel");
        let front = Front::start(b, Some(rule)).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/not-json-cancel", b.name());
        let (r, _) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert!(
            matches!(&r, Err(CancelError::Decode { message, .. }) if message.contains("not JSON")),
            "{label}: {r:?}"
        );
        assert_eq!(front.requests(), b.cancel_requests(), "{label}: not retried");
        front.stop().await;
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_page_is_a_provider_error_with_its_title() {
    rs::capture_tracing();
    for b in BACKENDS {
        let front = Front::start(b, Some(ScenarioRule::new(Scenario::html_error(502)))).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/html-502", b.name());
        let (r, t) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        match &r {
            Err(
                e @ CancelError::Provider {
                    status: Some(502),
                    message,
                    ..
                },
            ) => {
                assert!(message.contains("502 Error"), "{label}: {message}");
                assert!(!e.to_string().contains('<'), "{label}: {e}");
            }
            other => panic!("{label}: {other:?}"),
        }
        assert!(t < BOUND, "{label}: {t:?}");
        assert_eq!(front.requests(), u64::from(ATTEMPTS), "{label}: a 502 is retried");
        front.stop().await;
    }
    rs::assert_no_leaks();
}

fn redirect(status: u16, location: String) -> Scenario {
    Scenario::Respond {
        status,
        content_type: "text/html".into(),
        body: "moved".into(),
        headers: vec![("location".into(), location)],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_never_followed_and_the_token_never_gets_there() {
    rs::capture_tracing();
    let other = rs::OtherHost::start().await;
    for b in BACKENDS {
        for status in [301u16, 302, 303, 307, 308] {
            let to = format!("{}/elsewhere", other.url());
            let front = Front::start(b, Some(ScenarioRule::new(redirect(status, to)))).await;
            let client = b.client(&front.proxy.url());
            let label = format!("{}/redirect-{status}", b.name());
            let (r, _) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
            match &r {
                Err(CancelError::Provider {
                    status: Some(s),
                    message,
                    ..
                }) => {
                    assert_eq!(*s, status, "{label}");
                    assert!(message.contains("never followed"), "{label}: {message}");
                }
                other => panic!("{label}: {other:?}"),
            }
            assert_eq!(front.requests(), 1, "{label}: a redirect is final");
            let s = read_state(&label, client.as_ref(), &b.run()).await;
            assert!(matches!(&s, Err(CancelError::Provider { .. })), "{label}: {s:?}");
            front.stop().await;
        }
        // Scheme-relative, to another host.
        let front = Front::start(b, Some(ScenarioRule::new(Scenario::redirect("//127.0.0.2:9/x")))).await;
        let client = b.client(&front.proxy.url());
        let label = format!("{}/redirect-scheme-relative", b.name());
        let (r, _) = cancel(&label, client.as_ref(), &b.run(), || front.requests()).await;
        assert!(
            matches!(&r, Err(CancelError::Provider { status: Some(302), .. })),
            "{label}: {r:?}"
        );
        front.stop().await;
    }
    assert_eq!(other.connections(), 0, "the other host was contacted");
    let received = other.received.lock().map(|b| b.len()).unwrap_or(usize::MAX);
    assert_eq!(received, 0);
    rs::summary(
        "temporal+restate+langgraph/redirect/other-host",
        &[
            ("statuses", "301,302,303,307,308,scheme-relative".into()),
            ("other_host_connections", other.connections().to_string()),
        ],
    );
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_transport_error_within_the_bound() {
    rs::capture_tracing();
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    for b in BACKENDS {
        let client = b.client(&url);
        let label = format!("{}/connection-refused", b.name());
        let (r, t) = cancel(&label, client.as_ref(), &b.run(), || 0).await;
        assert!(matches!(&r, Err(CancelError::Transport { .. })), "{label}: {r:?}");
        assert!(t < BOUND, "{label}: {t:?}");
        let s = read_state(&label, client.as_ref(), &b.run()).await;
        assert!(matches!(&s, Err(CancelError::Transport { .. })), "{label}: {s:?}");
    }
    rs::assert_no_leaks();
}
