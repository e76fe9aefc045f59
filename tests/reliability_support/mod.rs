//! Shared pieces of the reliability suite (`tests/reliability_*.rs`): recognisable tokens and
//! the leak scan, a TRACE-level tracing capture, emulators and clients configured for fault
//! injection, a loopback "other host", a recording server, and the summary lines copied into
//! RELIABILITY.md.
//!
//! Everything listens on 127.0.0.0/8 only, and every wait is bounded.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wfcancel::HttpConfig;
use wfcancel::{AgnoCanceller, RetryPolicy, UpstashCanceller};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, Faults, UpstashConfig, UpstashEmulator};

/// The Upstash token every scenario uses. Its middle part is what the scan looks for.
pub const UPSTASH_TOKEN: &str = "qstash-CANARY-9f2e7d31-do-not-print";
/// The Agno security key every scenario uses.
pub const AGNO_KEY: &str = "agno-CANARY-5b8c0a44-do-not-print";
/// The Temporal API key every scenario uses.
pub const TEMPORAL_KEY: &str = "temporal-CANARY-3d9a61c7-do-not-print";
/// The Restate bearer token every scenario uses.
pub const RESTATE_TOKEN: &str = "restate-CANARY-e4b7902f-do-not-print";
/// The LangGraph API key every scenario uses.
pub const LANGGRAPH_KEY: &str = "langgraph-CANARY-71c5d8ae-do-not-print";
/// What the leak scan looks for: a part of each secret that nothing else contains, so a
/// truncated or re-framed token (`Bearer …`, a JSON string) is still caught.
pub const CANARIES: [&str; 5] = ["9f2e7d31", "5b8c0a44", "3d9a61c7", "e4b7902f", "71c5d8ae"];

// ---------------------------------------------------------------------------------------------
// Leak scan

#[derive(Default)]
struct LeakBook {
    /// Texts scanned through [`scan`] (Debug, Display, errors, reports, captured output).
    texts: AtomicU64,
    /// Bytes of tracing output scanned.
    trace_bytes: AtomicU64,
    /// Tracing lines scanned.
    trace_lines: AtomicU64,
    /// Every leak found: where, and the offending text.
    leaks: Mutex<Vec<String>>,
}

fn book() -> &'static LeakBook {
    static BOOK: OnceLock<LeakBook> = OnceLock::new();
    BOOK.get_or_init(LeakBook::default)
}

fn contains_canary(bytes: &[u8]) -> bool {
    CANARIES
        .iter()
        .any(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes()))
}

/// Scans one text (a `Debug`, a `Display`, an error, a report, captured output) for the tokens.
pub fn scan(what: &str, text: &str) {
    book().texts.fetch_add(1, Ordering::Relaxed);
    if contains_canary(text.as_bytes()) {
        let mut leaks = book().leaks.lock().unwrap_or_else(|e| e.into_inner());
        leaks.push(format!("{what}: {text}"));
    }
}

/// Scans `Debug` (`{:?}` and `{:#?}`) of a value.
pub fn scan_debug<T: std::fmt::Debug + ?Sized>(what: &str, value: &T) {
    scan(what, &format!("{value:?}"));
    scan(what, &format!("{value:#?}"));
}

/// Scans `Debug` and `Display` of a value.
pub fn scan_both<T: std::fmt::Debug + std::fmt::Display + ?Sized>(what: &str, value: &T) {
    scan_debug(what, value);
    scan(what, &value.to_string());
}

/// Scans a result's `Debug`, and its error's `Display` and `message()` when it failed.
pub fn scan_result<T: std::fmt::Debug>(what: &str, r: &Result<T, wfcancel::CancelError>) {
    scan_debug(what, r);
    if let Err(e) = r {
        scan(what, &e.to_string());
        scan(what, &e.message());
    }
}

/// (texts scanned, tracing lines scanned, tracing bytes scanned, leaks found).
pub fn leak_figures() -> (u64, u64, u64, usize) {
    let b = book();
    (
        b.texts.load(Ordering::Relaxed),
        b.trace_lines.load(Ordering::Relaxed),
        b.trace_bytes.load(Ordering::Relaxed),
        b.leaks.lock().unwrap_or_else(|e| e.into_inner()).len(),
    )
}

/// Fails the test if any text or tracing line scanned so far held a token.
pub fn assert_no_leaks() {
    let leaks = book().leaks.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(leaks.is_empty(), "{} token leak(s):\n{}", leaks.len(), leaks.join("\n"));
}

/// A tracing writer that scans every line for the tokens and keeps nothing else.
struct ScanWriter;

impl Write for ScanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let b = book();
        b.trace_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        let lines = buf.iter().filter(|c| **c == b'\n').count() as u64;
        b.trace_lines.fetch_add(lines.max(1), Ordering::Relaxed);
        if contains_canary(buf) {
            let mut leaks = b.leaks.lock().unwrap_or_else(|e| e.into_inner());
            leaks.push(format!("tracing: {}", String::from_utf8_lossy(buf)));
        }
        if std::env::var_os("RELIABILITY_TRACE_STDERR").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per test process, a subscriber at TRACE for every target (ours, reqwest's
/// `log` records through the bridge, hyper, axum, the emulator) whose whole output, span
/// closes with their recorded fields included, goes through the leak scan. Set
/// `RELIABILITY_TRACE_STDERR=1` to see it.
pub fn capture_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(|| ScanWriter)
            .try_init();
    });
}

// ---------------------------------------------------------------------------------------------
// Time bounds and summaries

/// Runs `fut`, failing the test if it takes longer than `limit`. Returns its output and how long it took.
pub async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> (T, Duration) {
    let t0 = Instant::now();
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => (v, t0.elapsed()),
        Err(_) => panic!("{what}: did not finish within {limit:?}"),
    }
}

/// Prints one summary line (run with `--nocapture` to see them; RELIABILITY.md copies them).
pub fn summary(scenario: &str, fields: &[(&str, String)]) {
    let mut line = format!("RELIABILITY {scenario:<40}");
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
}

/// `1.23s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Emulators and clients

/// An Upstash emulator with the suite's token and these faults.
pub async fn upstash_emulator(faults: Faults) -> UpstashEmulator {
    UpstashEmulator::start(
        UpstashConfig::default()
            .with_token(UPSTASH_TOKEN)
            .with_faults(faults)
            .with_shutdown_grace(Duration::from_millis(200)),
    )
    .await
    .expect("start the Upstash emulator")
}

/// An Agno emulator with the suite's key, immediate cancellation, and these faults.
pub async fn agno_emulator(faults: Faults) -> AgnoEmulator {
    AgnoEmulator::start(
        AgnoConfig::default()
            .with_security_key(AGNO_KEY)
            .with_cancel_delay(Duration::ZERO)
            .with_faults(faults)
            .with_shutdown_grace(Duration::from_millis(200)),
    )
    .await
    .expect("start the Agno emulator")
}

/// HTTP settings: this per-attempt timeout, this many attempts, short backoffs (5 ms doubling
/// to 100 ms, jittered) and this total deadline per call.
pub fn http(timeout: Duration, attempts: u32, deadline: Duration) -> HttpConfig {
    HttpConfig::default()
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .request_timeout(timeout)
        .retry(
            RetryPolicy::default()
                .max_attempts(attempts)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(100))
                .jitter(true)
                .total_deadline(deadline),
        )
}

/// An Upstash builder for `base_url` with the suite's token.
pub fn upstash_builder(base_url: &str, cfg: HttpConfig) -> wfcancel::upstash::UpstashBuilder {
    let b = UpstashCanceller::builder()
        .base_url(base_url)
        .token(UPSTASH_TOKEN)
        .http_config(cfg);
    scan_debug("UpstashBuilder", &b);
    b
}

/// An Upstash canceller for `base_url` with the suite's token.
pub fn upstash_client(base_url: &str, cfg: HttpConfig) -> UpstashCanceller {
    let c = upstash_builder(base_url, cfg)
        .build()
        .expect("build the Upstash canceller");
    scan_debug("UpstashCanceller", &c);
    c
}

/// An Agno canceller for `base_url` with the suite's key.
pub fn agno_client(base_url: &str, cfg: HttpConfig) -> AgnoCanceller {
    let c = AgnoCanceller::builder()
        .base_url(base_url)
        .security_key(AGNO_KEY)
        .http_config(cfg)
        .build()
        .expect("build the Agno canceller");
    scan_both("AgnoCanceller", &c);
    c
}

/// A Temporal canceller (HTTP API) for `base_url` with the suite's API key.
#[cfg(feature = "temporal")]
pub fn temporal_client(base_url: &str, cfg: HttpConfig) -> wfcancel::TemporalCanceller {
    let c = wfcancel::TemporalCanceller::builder()
        .base_url(base_url)
        .api_key(TEMPORAL_KEY)
        .http_config(cfg)
        .build()
        .expect("build the Temporal canceller");
    scan_both("TemporalCanceller", &c);
    c
}

/// A Restate canceller (admin API) for `base_url` with the suite's token.
#[cfg(feature = "restate")]
pub fn restate_client(base_url: &str, cfg: HttpConfig) -> wfcancel::RestateCanceller {
    let c = wfcancel::RestateCanceller::builder()
        .admin_url(base_url)
        .auth_token(RESTATE_TOKEN)
        .http_config(cfg)
        .build()
        .expect("build the Restate canceller");
    scan_both("RestateCanceller", &c);
    c
}

/// A LangGraph canceller (Agent Server API) for `base_url` with the suite's key.
#[cfg(feature = "langgraph")]
pub fn langgraph_client(base_url: &str, cfg: HttpConfig) -> wfcancel::LangGraphCanceller {
    let c = wfcancel::LangGraphCanceller::builder()
        .base_url(base_url)
        .api_key(LANGGRAPH_KEY)
        .http_config(cfg)
        .build()
        .expect("build the LangGraph canceller");
    scan_both("LangGraphCanceller", &c);
    c
}

// ---------------------------------------------------------------------------------------------
// "Another host": a raw TCP listener on another loopback address that counts connections

/// A loopback listener standing for another host (127.0.0.2 when the system allows binding it,
/// else another port of 127.0.0.1). It counts every connection and every byte it receives, and
/// answers whatever arrives with `200 OK` so that a client that followed a redirect would
/// succeed (and the test would see it).
pub struct OtherHost {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicU64>,
    pub received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl OtherHost {
    pub async fn start() -> OtherHost {
        let listener = match TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), 0)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind the other host"),
        };
        let addr = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicU64::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (Arc::clone(&connections), Arc::clone(&received));
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let r = Arc::clone(&r);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
                        r.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"cancelled\":1}")
                        .await;
                });
            }
        });
        OtherHost {
            addr,
            connections,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// A recording server

/// One request as the recording server saw it: raw and decoded.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub raw_path: String,
    /// The raw query, if any.
    pub raw_query: Option<String>,
    /// The path split on `/` and each segment percent-decoded (as axum's `Path` decodes it).
    pub segments: Vec<String>,
    /// The query decoded as `application/x-www-form-urlencoded` (as both emulators decode it).
    pub query: Vec<(String, String)>,
    /// The `Authorization` header was present.
    pub authorized: bool,
    /// Header names, lower case.
    pub header_names: Vec<String>,
    pub body_len: usize,
}

/// A loopback HTTP server that records every request and answers like a provider that
/// succeeded: `OK` (plain text) for a DELETE of one run's path (Upstash's
/// `/v2/workflows/runs/{id}`), `{"cancelled": <ids sent, or 1>}` for another DELETE (Upstash's
/// bulk endpoint), `{"runs":[…RUN_STARTED]}` for the logs, `{}` for a POST (Agno cancel),
/// `{"status":"RUNNING"}` for other GETs (Agno status).
pub struct Recorder {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

fn decode_segment(s: &str) -> String {
    // Percent-decoding of one path segment, as axum's `Path` extractor does it (lossy for
    // bytes that are not UTF-8, which the clients never produce from a `&str`).
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Recorder {
    pub async fn start() -> Recorder {
        use axum::body::Bytes;
        use axum::http::{Request, StatusCode, header};
        use axum::response::IntoResponse;

        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&requests);
        let app = axum::Router::new().fallback(move |req: Request<axum::body::Body>| {
            let store = Arc::clone(&store);
            async move {
                let (parts, body) = req.into_parts();
                let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                let raw_path = parts.uri.path().to_owned();
                let raw_query = parts.uri.query().map(str::to_owned);
                let segments = raw_path
                    .split('/')
                    .skip(1)
                    .map(decode_segment)
                    .collect::<Vec<_>>();
                let query = url::form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect::<Vec<_>>();
                let method = parts.method.to_string();
                let rec = Recorded {
                    method: method.clone(),
                    raw_path: raw_path.clone(),
                    raw_query,
                    segments,
                    query: query.clone(),
                    authorized: parts.headers.contains_key(header::AUTHORIZATION),
                    header_names: parts.headers.keys().map(|k| k.as_str().to_owned()).collect(),
                    body_len: body.len(),
                };
                store.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
                if method == "DELETE" && raw_path.starts_with("/v2/workflows/runs/") {
                    // Upstash's answer to a cancel of one run by its path.
                    return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "OK").into_response();
                }
                let body = match method.as_str() {
                    // Every id was running: a chunk of ids answers its size (an answer below
                    // it is sent again, as a stop part way); a filter round answers 1.
                    "DELETE" => serde_json::json!({
                        "cancelled": query.iter().filter(|(k, _)| k == "workflowRunIds").count().max(1)
                    }),
                    "POST" => serde_json::json!({}),
                    _ if raw_path.ends_with("/v2/workflows/logs") => {
                        let id = query
                            .iter()
                            .find(|(k, _)| k == "workflowRunId")
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        serde_json::json!({ "cursor": "", "runs": [ { "workflowRunId": id, "workflowState": "RUN_STARTED" } ] })
                    }
                    _ => serde_json::json!({ "status": "RUNNING" }),
                };
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response()
            }
        });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the recorder");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { addr, requests, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes the requests recorded so far.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts of something, printed as `k1:v1,k2:v2`.
pub fn counts<K: std::fmt::Debug>(m: &BTreeMap<K, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k:?}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}
