//! Misbehaving servers, for each backend: one that never answers, one that answers a byte at a
//! time, a 10 MB body (announced, and chunked without a length), a body that is not JSON, an
//! HTML error page, a redirect to another host, and nothing listening. Each ends in the right
//! `CancelError` within the configured time, the token never reaches the other host, and every
//! error and the whole TRACE output are scanned for the token.
//!
//! Client settings: 500 ms per attempt, 3 attempts, backoff 5 ms doubling, 5 s deadline per call;
//! so a call that keeps timing out must end within 3 × 500 ms plus the backoffs.
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use wfcancel::Inactive;

use reliability_support as rs;
use wfcancel::HttpConfig;
use wfcancel::{BulkOptions, CancelError, CancelOutcome, NotFoundKind, RunRef, RunState, Selector, WorkflowCanceller};
use wfcancel_emulator::{
    AgnoEmulator, AgnoRun, AgnoStatus, Endpoint, FaultKind, Faults, Scenario, ScenarioRule, UpstashEmulator,
    UpstashRun, UpstashState,
};

const ATTEMPT: Duration = Duration::from_millis(500);
const ATTEMPTS: u32 = 3;
const DEADLINE: Duration = Duration::from_secs(5);
/// What a call that times out on every attempt may take: every attempt's timeout, the backoffs
/// (≤ 5 + 10 ms), and 1 s of scheduling slack (CI shares 2 cores between the tests).
const BOUND: Duration = Duration::from_millis(500 * 3 + 1000);
/// The test's own limit around each scenario.
const LIMIT: Duration = Duration::from_secs(10);

fn cfg() -> HttpConfig {
    rs::http(ATTEMPT, ATTEMPTS, DEADLINE)
}

const UP_RUN: &str = "wfr_scenario";
const UP_PATH: &str = "/v2/workflows/runs";

fn agno_run() -> RunRef {
    RunRef::new("run-scenario").workflow("wf")
}

async fn upstash(rule: Option<ScenarioRule>) -> UpstashEmulator {
    let emu = rs::upstash_emulator(Faults::none()).await;
    emu.seed(UpstashRun::new(UP_RUN, "https://app.example.com/api/wf"));
    if let Some(rule) = rule {
        emu.faults().add_scenario(rule);
    }
    emu
}

async fn agno(rule: Option<ScenarioRule>) -> AgnoEmulator {
    let emu = rs::agno_emulator(Faults::none()).await;
    emu.seed(AgnoRun::workflow("wf", "run-scenario"));
    if let Some(rule) = rule {
        emu.faults().add_scenario(rule);
    }
    emu
}

/// Cancels the run through `client`, bounded, with the error scanned; prints the summary line.
async fn cancel(
    label: &str,
    client: &dyn WorkflowCanceller,
    run: &RunRef,
    calls: impl Fn() -> u64,
) -> (Result<CancelOutcome, CancelError>, Duration) {
    let (r, elapsed) = rs::within(label, LIMIT, client.cancel(run)).await;
    rs::scan_result(label, &r);
    let error = match &r {
        Ok(o) => format!("ok:{o}"),
        Err(e) => e.kind().to_string(),
    };
    rs::summary(
        label,
        &[
            ("result", error),
            ("calls", calls().to_string()),
            ("time", rs::secs(elapsed)),
            ("leaks", rs::leak_figures().3.to_string()),
        ],
    );
    (r, elapsed)
}

fn assert_timeout(label: &str, r: &Result<CancelOutcome, CancelError>, elapsed: Duration) {
    assert!(matches!(r, Err(CancelError::Timeout { .. })), "{label}: {r:?}");
    assert!(
        elapsed >= ATTEMPT && elapsed <= BOUND,
        "{label}: took {elapsed:?}, configured {ATTEMPTS} × {ATTEMPT:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Never answers / a byte at a time

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_on_every_attempt() {
    rs::capture_tracing();
    let rule = || ScenarioRule::new(Scenario::Hang);

    let emu = upstash(Some(rule().path_prefix(UP_PATH))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, t) = cancel("upstash/hang", &client, &RunRef::new(UP_RUN), || emu.requests()).await;
    assert_timeout("upstash hang", &r, t);
    assert_eq!(emu.requests(), u64::from(ATTEMPTS), "one request per attempt");
    assert_eq!(emu.state(UP_RUN), Some(UpstashState::Started));
    emu.shutdown().await;

    let emu = agno(Some(rule().method("POST"))).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, t) = cancel("agno/hang", &client, &agno_run(), || emu.requests()).await;
    assert_timeout("agno hang", &r, t);
    assert_eq!(emu.requests(), u64::from(ATTEMPTS));
    assert!(!emu.cancel_requested("run-scenario"));
    emu.shutdown().await;
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_answers_a_byte_at_a_time_times_out() {
    rs::capture_tracing();
    // Headers at once, then one body byte per second: each attempt hits its timeout mid-body.
    let rule = || {
        ScenarioRule::new(Scenario::Trickle {
            interval: Duration::from_secs(1),
        })
    };

    let emu = upstash(Some(rule().path_prefix(UP_PATH))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, t) = cancel("upstash/trickle", &client, &RunRef::new(UP_RUN), || emu.requests()).await;
    assert_timeout("upstash trickle", &r, t);
    // A trickled answer is handled normally first: the run was cancelled by the first attempt,
    // and the client, which never read an answer, does not claim it (an error, never a false
    // "cancelled").
    assert_eq!(emu.state(UP_RUN), Some(UpstashState::Canceled));
    assert_eq!(emu.requests(), u64::from(ATTEMPTS));
    emu.shutdown().await;

    let emu = agno(Some(rule().method("POST"))).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, t) = cancel("agno/trickle", &client, &agno_run(), || emu.requests()).await;
    assert_timeout("agno trickle", &r, t);
    assert_eq!(emu.requests(), u64::from(ATTEMPTS));
    emu.shutdown().await;
    rs::assert_no_leaks();
}

/// The trickle happens once, then the server answers normally: the retry of
/// `DELETE /v2/workflows/runs/{id}` finds the run already cancelled by the attempt whose answer
/// was lost, and gets Upstash's `404 {"error":"workflowRun not found"}`. The client reports
/// `NotActive` (it cannot know the earlier attempt worked): an under-count, never an over-count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_then_a_retry_under_counts_and_never_over_counts() {
    rs::capture_tracing();
    let emu = upstash(Some(
        ScenarioRule::new(Scenario::Trickle {
            interval: Duration::from_secs(1),
        })
        .path_prefix(UP_PATH)
        .times(1),
    ))
    .await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, _) = cancel("upstash/lost-answer-then-retry", &client, &RunRef::new(UP_RUN), || {
        emu.requests()
    })
    .await;
    assert_eq!(r, Ok(CancelOutcome::NotActive(Inactive::Unspecified)));
    assert_eq!(emu.state(UP_RUN), Some(UpstashState::Canceled));
    assert_eq!(emu.cancelled(), 1, "the server cancelled it once");
    // The lost attempt and its retry (answered 404: the path endpoint's answer is about this run
    // alone, so nothing needs confirming).
    assert_eq!(emu.requests(), 2);
    let s = emu.stats();
    assert_eq!(s.endpoint(Endpoint::UpstashCancelRun), 2, "{s:?}");
    assert_eq!(s.status(404), 1, "{s:?}");
    emu.shutdown().await;
    rs::assert_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Bodies: 10 MB, not JSON, an HTML error page

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_body_is_refused_at_the_cap_without_retrying() {
    rs::capture_tracing();
    let rule = || ScenarioRule::new(Scenario::huge_body());

    let emu = upstash(Some(rule().path_prefix(UP_PATH))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, t) = cancel("upstash/10mb-body", &client, &RunRef::new(UP_RUN), || emu.requests()).await;
    assert!(
        matches!(&r, Err(CancelError::Decode { message, .. }) if message.contains("cap")),
        "{r:?}"
    );
    assert!(t < ATTEMPT, "{t:?}");
    assert_eq!(emu.requests(), 1, "a body over the cap is not retried");
    emu.shutdown().await;

    let emu = agno(Some(rule().method("POST"))).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, t) = cancel("agno/10mb-body", &client, &agno_run(), || emu.requests()).await;
    assert!(matches!(&r, Err(CancelError::Decode { .. })), "{r:?}");
    assert!(t < ATTEMPT, "{t:?}");
    assert_eq!(emu.requests(), 1);
    emu.shutdown().await;
    rs::assert_no_leaks();
}

/// A raw loopback HTTP/1.1 server that answers every request with 10 MB of JSON-looking bytes in
/// chunked encoding, with no `Content-Length` (so the cap must be enforced while reading, not
/// from the header). It stops writing when the client goes away.
async fn chunked_10mb_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
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
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let first = b"{\"cancelled\":1,\"pad\":\"";
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
async fn a_not_json_body_is_a_decode_error_where_a_body_means_something() {
    rs::capture_tracing();
    let rule = || ScenarioRule::new(Scenario::not_json());

    // A single cancel goes to `DELETE /v2/workflows/runs/{id}`, whose 2xx body is Upstash's plain
    // text `OK` (not JSON, and not decoded as JSON); any other 2xx body is not Upstash's word that
    // the run is cancelled (a wrong base URL, a proxy), so it is a decode error, not `Cancelled`.
    let emu = upstash(Some(rule().path_prefix(UP_PATH))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, _) = cancel("upstash/not-json", &client, &RunRef::new(UP_RUN), || emu.requests()).await;
    assert!(
        matches!(&r, Err(CancelError::Decode { message, .. }) if message.contains("this is not json")),
        "{r:?}"
    );
    assert_eq!(emu.requests(), 1, "a 200 that cannot be read is not retried");
    assert_eq!(emu.stats().endpoint(Endpoint::UpstashCancelRun), 1);
    // The bulk endpoint's answer must be its JSON count: for a chunk of ids, and for a single
    // cancel of `..` (not a path segment, so it goes there too).
    let (report, _) = rs::within(
        "upstash bulk not json",
        LIMIT,
        client.cancel_many(&Selector::ids([UP_RUN]), &BulkOptions::new()),
    )
    .await;
    rs::scan_result("upstash bulk not json", &report);
    let report = report.expect("a report");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        matches!(report.failed[0].error, CancelError::Decode { .. }),
        "{report:?}"
    );
    assert_eq!((report.cancelled, report.not_active), (0, 0), "{report:?}");
    let (r, _) = cancel("upstash/not-json-dotdot", &client, &RunRef::new(".."), || {
        emu.requests()
    })
    .await;
    assert!(matches!(&r, Err(CancelError::Decode { .. })), "{r:?}");
    assert_eq!(emu.stats().endpoint(Endpoint::UpstashBulkCancelIds), 2);
    assert_eq!(emu.requests(), 3, "none of them retried");
    // The same answer to a status read.
    emu.faults().add_scenario(rule().path_prefix("/v2/workflows/logs"));
    let s = rs::within("upstash status", LIMIT, client.status(&RunRef::new(UP_RUN)))
        .await
        .0;
    rs::scan_result("upstash status not json", &s);
    assert!(matches!(&s, Err(CancelError::Decode { .. })), "{s:?}");
    emu.shutdown().await;

    // Agno: AgentOS answers a cancel `{}`; a 200 whose body is not JSON came from something
    // else (a wrong base URL, a proxy), so it is a decode error too, and so is the status read.
    let emu = agno(Some(rule())).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, _) = cancel("agno/not-json", &client, &agno_run(), || emu.requests()).await;
    assert!(
        matches!(&r, Err(CancelError::Decode { message, .. }) if message.contains("AGENTOS_URL")),
        "{r:?}"
    );
    let s = rs::within(
        "agno status",
        LIMIT,
        client.status(&agno_run().session("sess-run-scenario")),
    )
    .await
    .0;
    rs::scan_result("agno status not json", &s);
    assert!(matches!(&s, Err(CancelError::Decode { .. })), "{s:?}");
    rs::summary(
        "agno/not-json-status",
        &[("result", s.err().map(|e| e.kind().to_string()).unwrap_or_default())],
    );
    emu.shutdown().await;
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_10_mb_body_without_a_length_is_cut_at_the_cap() {
    rs::capture_tracing();
    let (addr, task) = chunked_10mb_server().await;
    let url = format!("http://{addr}");
    let client = rs::upstash_client(&url, cfg());
    let (r, t) = cancel("upstash/10mb-chunked", &client, &RunRef::new(UP_RUN), || 0).await;
    assert!(matches!(&r, Err(CancelError::Decode { .. })), "{r:?}");
    assert!(t < ATTEMPT * 2, "{t:?}");
    let client = rs::agno_client(&url, cfg());
    let (r, _) = cancel("agno/10mb-chunked", &client, &agno_run(), || 0).await;
    assert!(matches!(&r, Err(CancelError::Decode { .. })), "{r:?}");
    task.abort();
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_page_is_a_provider_error_with_its_title() {
    rs::capture_tracing();
    let rule = || ScenarioRule::new(Scenario::html_error(502));

    let emu = upstash(Some(rule().path_prefix(UP_PATH))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, t) = cancel("upstash/html-502", &client, &RunRef::new(UP_RUN), || emu.requests()).await;
    match &r {
        Err(
            e @ CancelError::Provider {
                status: Some(502),
                message,
                ..
            },
        ) => {
            assert_eq!(message, "502 Error");
            assert!(!e.to_string().contains('<'), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(t < BOUND);
    assert_eq!(emu.requests(), u64::from(ATTEMPTS), "a 502 is retried");
    assert_eq!(emu.state(UP_RUN), Some(UpstashState::Started));
    emu.shutdown().await;

    let emu = agno(Some(rule())).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, _) = cancel("agno/html-502", &client, &agno_run(), || emu.requests()).await;
    assert!(
        matches!(&r, Err(CancelError::Provider { status: Some(502), message, .. }) if message == "502 Error"),
        "{r:?}"
    );
    assert_eq!(emu.requests(), u64::from(ATTEMPTS));
    emu.shutdown().await;

    // An HTML 404 from a proxy in front of AgentOS: not found, and it says to check the URL.
    let emu = agno(Some(ScenarioRule::new(Scenario::html_error(404)))).await;
    let client = rs::agno_client(&emu.url(), cfg());
    let (r, _) = cancel("agno/html-404", &client, &agno_run(), || emu.requests()).await;
    assert!(
        matches!(
            &r,
            Err(CancelError::NotFound {
                what: NotFoundKind::Other,
                ..
            })
        ),
        "{r:?}"
    );
    emu.shutdown().await;
    rs::assert_no_leaks();
}

// ---------------------------------------------------------------------------------------------
// Redirects to another host; nothing listening

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
    for status in [301u16, 302, 303, 307, 308] {
        let to = format!("{}/v2/workflows/runs?workflowRunIds={UP_RUN}", other.url());
        let emu = upstash(Some(ScenarioRule::new(redirect(status, to)))).await;
        let client = rs::upstash_client(&emu.url(), cfg());
        let label = format!("upstash/redirect-{status}");
        let (r, _) = cancel(&label, &client, &RunRef::new(UP_RUN), || emu.requests()).await;
        match &r {
            Err(CancelError::Provider {
                status: Some(s),
                message,
                ..
            }) => {
                assert_eq!(*s, status);
                assert!(message.contains("never followed"), "{message}");
            }
            other => panic!("{label}: {other:?}"),
        }
        assert_eq!(emu.requests(), 1, "{label}: a redirect is final");
        emu.shutdown().await;

        let to = format!("{}/workflows/wf/runs/run-scenario/cancel", other.url());
        let emu = agno(Some(ScenarioRule::new(redirect(status, to)))).await;
        let client = rs::agno_client(&emu.url(), cfg());
        let label = format!("agno/redirect-{status}");
        let (r, _) = cancel(&label, &client, &agno_run(), || emu.requests()).await;
        assert!(
            matches!(&r, Err(CancelError::Provider { status: Some(s), .. }) if *s == status),
            "{label}: {r:?}"
        );
        let st = rs::within("agno status", LIMIT, client.status(&agno_run().session("s")))
            .await
            .0;
        rs::scan_result("agno status redirect", &st);
        assert!(matches!(&st, Err(CancelError::Provider { .. })), "{st:?}");
        emu.shutdown().await;
    }
    // Also a redirect to another host under a path prefix, and a relative one.
    let emu = upstash(Some(ScenarioRule::new(Scenario::redirect("//127.0.0.2:9/x")))).await;
    let client = rs::upstash_client(&emu.url(), cfg());
    let (r, _) = cancel(
        "upstash/redirect-scheme-relative",
        &client,
        &RunRef::new(UP_RUN),
        || emu.requests(),
    )
    .await;
    assert!(
        matches!(&r, Err(CancelError::Provider { status: Some(302), .. })),
        "{r:?}"
    );
    emu.shutdown().await;

    assert_eq!(other.connections(), 0, "the other host was contacted");
    let received = other.received.lock().map(|b| b.len()).unwrap_or(usize::MAX);
    assert_eq!(received, 0);
    rs::summary(
        "both/redirect/other-host",
        &[
            ("statuses", "301,302,303,307,308".into()),
            ("other_host_connections", other.connections().to_string()),
        ],
    );
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_transport_error_within_the_bound() {
    rs::capture_tracing();
    // A port that was just free: bind, read it, close.
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let client = rs::upstash_client(&url, cfg());
    let (r, t) = cancel("upstash/connection-refused", &client, &RunRef::new(UP_RUN), || 0).await;
    assert!(matches!(&r, Err(CancelError::Transport { .. })), "{r:?}");
    assert!(t < BOUND, "{t:?}");
    let client = rs::agno_client(&url, cfg());
    let (r, t) = cancel("agno/connection-refused", &client, &agno_run(), || 0).await;
    assert!(matches!(&r, Err(CancelError::Transport { .. })), "{r:?}");
    assert!(t < BOUND, "{t:?}");
    rs::assert_no_leaks();
}

/// Dropped connections and 5xx on the status read: retried like cancels, and the state read
/// right in the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_survive_the_same_faults() {
    rs::capture_tracing();
    let faults = Faults::none().errors(0.3).drops(0.2).seed(21);
    let emu = rs::upstash_emulator(faults.clone()).await;
    emu.seed(UpstashRun::new(UP_RUN, "https://app.example.com/api/wf").state(UpstashState::Canceled));
    let client = rs::upstash_client(&emu.url(), rs::http(ATTEMPT, 16, DEADLINE));
    for _ in 0..50 {
        let (s, _) = rs::within("upstash status", LIMIT, client.status(&RunRef::new(UP_RUN))).await;
        rs::scan_result("upstash status", &s);
        assert_eq!(s, Ok(RunState::Cancelled));
    }
    let up = emu.stats();
    emu.shutdown().await;

    let emu = rs::agno_emulator(faults).await;
    emu.seed(AgnoRun::workflow("wf", "run-scenario").status(AgnoStatus::Completed));
    let client = rs::agno_client(&emu.url(), rs::http(ATTEMPT, 16, DEADLINE));
    let run = agno_run().session("sess-run-scenario");
    for _ in 0..50 {
        let (s, _) = rs::within("agno status", LIMIT, client.status(&run)).await;
        rs::scan_result("agno status", &s);
        assert_eq!(s, Ok(RunState::Completed));
    }
    let ag = emu.stats();
    emu.shutdown().await;
    rs::summary(
        "both/status/50-reads-under-faults",
        &[
            ("calls", format!("{}+{}", up.requests, ag.requests)),
            (
                "faults",
                format!(
                    "{}+{}",
                    up.fault(FaultKind::ServerError) + up.fault(FaultKind::Dropped),
                    ag.fault(FaultKind::ServerError) + ag.fault(FaultKind::Dropped)
                ),
            ),
            ("lost", "0".into()),
        ],
    );
    rs::assert_no_leaks();
}
