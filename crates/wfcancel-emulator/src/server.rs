//! The HTTP plumbing both emulators share: our own accept loop (so that a request can be
//! answered by closing the connection), the front service that counts requests, checks the URI
//! length and injects faults before handing the request to the provider's axum router, and
//! graceful shutdown.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::faults::{FaultHandle, RateInfo, Scenario, Verdict};
use crate::stats::{Counters, Endpoint, FaultKind};
use crate::util::{json_response, now_secs, text_response};

/// The largest request head (request line + headers) hyper reads before refusing the request
/// with `431`. Large enough for any URI up to hyper's own URI cap (65,534 bytes) to be parsed
/// and answered `414`.
const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// Which provider's conventions (error body shape, rate-limit headers) the front answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Upstash,
    Agno,
    /// gRPC-gateway errors: `{"code": <gRPC code>, "message": …}` (Temporal's HTTP API).
    GrpcGateway,
    /// `{"message": …}` (Restate's admin API).
    Message,
}

impl Flavor {
    /// An error body in the provider's shape.
    pub(crate) fn error(self, status: StatusCode, message: &str) -> Response {
        let body = match self {
            Flavor::Upstash => serde_json::json!({ "error": message }),
            Flavor::Agno => serde_json::json!({ "detail": message }),
            Flavor::GrpcGateway => {
                // The gRPC code the gateway maps back to this status.
                let code = match status.as_u16() {
                    429 => 8,        // RESOURCE_EXHAUSTED
                    503 | 502 => 14, // UNAVAILABLE
                    504 => 4,        // DEADLINE_EXCEEDED
                    _ => 13,         // INTERNAL
                };
                serde_json::json!({ "code": code, "message": message, "details": [] })
            }
            Flavor::Message => serde_json::json!({ "message": message }),
        };
        json_response(status, &body)
    }
}

/// State every request handler of either emulator can reach.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) counters: Counters,
    pub(crate) faults: FaultHandle,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Classifies a request for the per-endpoint counters.
pub(crate) type Classifier = fn(&Method, &str, Option<&str>) -> Endpoint;

/// What the front needs besides the router.
pub(crate) struct FrontConfig {
    pub(crate) flavor: Flavor,
    pub(crate) max_uri_len: usize,
    pub(crate) classify: Classifier,
}

struct Front {
    common: Arc<Common>,
    router: Router,
    cfg: FrontConfig,
}

/// The error a request's service returns to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// A running server: its address and what stops it.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    grace: Duration,
}

/// Makes the shutdown channel and the [`Common`] state; the sender goes to [`serve`].
pub(crate) fn common(faults: FaultHandle) -> (Arc<Common>, watch::Sender<bool>) {
    let (tx, rx) = watch::channel(false);
    (
        Arc::new(Common {
            counters: Counters::default(),
            faults,
            shutdown: rx,
        }),
        tx,
    )
}

/// Binds `127.0.0.1:port` (0: any free port) and serves `router` behind the front.
pub(crate) async fn serve(
    port: u16,
    common: Arc<Common>,
    shutdown_tx: watch::Sender<bool>,
    router: Router,
    cfg: FrontConfig,
    grace: Duration,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let shutdown = common.shutdown.clone();
    let front = Arc::new(Front { common, router, cfg });
    let task = tokio::spawn(accept_loop(listener, front, shutdown, grace));
    Ok(ServerHandle {
        addr,
        shutdown_tx,
        task: Some(task),
        grace,
    })
}

impl ServerHandle {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then closes
    /// whatever is left.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(self.grace + Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            // Aborting the accept loop drops its JoinSet, which aborts every connection task.
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, front: Arc<Front>, mut shutdown: watch::Receiver<bool>, grace: Duration) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve_connection(stream, Arc::clone(&front), front.common.shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off a little and go on.
                    tracing::warn!(error = %e, "emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.shutdown().await;
    }
}

async fn serve_connection(stream: TcpStream, front: Arc<Front>, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().max_buf_size(MAX_HEAD_BYTES);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let front = Arc::clone(&front);
        async move { front.handle(req).await }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopped(&mut shutdown) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

impl Front {
    async fn handle(&self, req: Request<Incoming>) -> Result<Response, DropConnection> {
        let common = &self.common;
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        common
            .counters
            .request((self.cfg.classify)(&method, &path, req.uri().query()));

        let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_len > self.cfg.max_uri_len {
            common.counters.fault(FaultKind::UriTooLong);
            return Ok(self.finish(text_response(StatusCode::URI_TOO_LONG, "URI Too Long\n")));
        }

        if let Some(scenario) = common.faults.take_scenario(&method, &path) {
            // Handled, then dropped: counted as such (the endpoint did answer), not as a scenario.
            if scenario != Scenario::DropAfterHandling {
                common.counters.fault(FaultKind::Scenario);
            }
            return self.scenario(scenario, req).await.map(|r| self.finish(r));
        }

        let (delay, verdict) = common.faults.decide();
        if !delay.is_zero() {
            common.counters.fault(FaultKind::Delayed);
            tokio::time::sleep(delay).await;
        }
        let (rate, drop_after) = match verdict {
            Verdict::Pass(rate) => (rate, false),
            Verdict::DropAfter(rate) => (rate, true),
            Verdict::Drop => {
                common.counters.fault(FaultKind::Dropped);
                return Err(DropConnection);
            }
            Verdict::RateLimited(info) => {
                common.counters.fault(FaultKind::RateLimited);
                return Ok(self.finish(self.rate_limited(info)));
            }
            Verdict::Throttled { retry_after, limit } => {
                common.counters.fault(FaultKind::Throttled);
                let info = RateInfo {
                    limit: limit.unwrap_or(1000),
                    remaining: 0,
                    reset: now_secs() + retry_after,
                };
                let mut resp = self.rate_limited(info);
                set_header(&mut resp, header::RETRY_AFTER, &retry_after.to_string());
                return Ok(self.finish(resp));
            }
            Verdict::ServerError(status) => {
                common.counters.fault(FaultKind::ServerError);
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let message = status.canonical_reason().unwrap_or("Server Error");
                let message = match self.cfg.flavor {
                    Flavor::Upstash => message.to_ascii_lowercase(),
                    _ => message.to_owned(),
                };
                return Ok(self.finish(self.cfg.flavor.error(status, &message)));
            }
        };

        let mut resp = self.route(req).await;
        if drop_after {
            return Err(self.drop_after_handling(resp));
        }
        if let (Some(info), Flavor::Upstash) = (rate, self.cfg.flavor) {
            burst_headers(&mut resp, info);
        }
        Ok(self.finish(resp))
    }

    async fn route(&self, req: Request<Incoming>) -> Response {
        match self.router.clone().oneshot(req.map(Body::new)).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }

    /// The endpoint has answered (its state changes are done): throws the answer away and has
    /// the connection closed without a response.
    fn drop_after_handling(&self, resp: Response) -> DropConnection {
        drop(resp);
        self.common.counters.fault(FaultKind::DroppedAfterHandling);
        DropConnection
    }

    fn finish(&self, resp: Response) -> Response {
        self.common.counters.status(resp.status().as_u16());
        resp
    }

    fn rate_limited(&self, info: RateInfo) -> Response {
        let retry_after = info.reset.saturating_sub(now_secs()).max(1);
        let mut resp = match self.cfg.flavor {
            Flavor::Upstash => {
                let msg = format!(
                    "Exceeded burst rate limit. Limit: {} requests per second, Remaining: {}, Reset: {}",
                    info.limit, info.remaining, info.reset
                );
                let mut resp = self.cfg.flavor.error(StatusCode::TOO_MANY_REQUESTS, &msg);
                burst_headers(&mut resp, info);
                resp
            }
            other => other.error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded"),
        };
        set_header(&mut resp, header::RETRY_AFTER, &retry_after.to_string());
        resp
    }

    async fn scenario(&self, scenario: Scenario, req: Request<Incoming>) -> Result<Response, DropConnection> {
        match scenario {
            Scenario::Hang => {
                stopped(&mut self.common.shutdown.clone()).await;
                Err(DropConnection)
            }
            Scenario::Drop => Err(DropConnection),
            Scenario::DropAfterHandling => {
                let resp = self.route(req).await;
                Err(self.drop_after_handling(resp))
            }
            Scenario::Trickle { interval } => {
                let resp = self.route(req).await;
                let (mut parts, body) = resp.into_parts();
                let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                    Ok(b) => b,
                    Err(_) => Bytes::new(),
                };
                parts.headers.remove(header::CONTENT_LENGTH);
                let stream = futures::stream::unfold((bytes, 0usize), move |(bytes, i)| async move {
                    if i >= bytes.len() {
                        return None;
                    }
                    if i > 0 {
                        tokio::time::sleep(interval).await;
                    }
                    Some((Ok::<_, Infallible>(bytes.slice(i..=i)), (bytes, i + 1)))
                });
                Ok(Response::from_parts(parts, Body::from_stream(stream)))
            }
            Scenario::HugeBody { bytes } => Ok(huge_body(bytes)),
            Scenario::Respond {
                status,
                content_type,
                body,
                headers,
            } => {
                let mut resp = Response::new(Body::from(body));
                *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if let Ok(v) = HeaderValue::from_str(&content_type) {
                    resp.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                for (name, value) in headers {
                    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                        resp.headers_mut().append(n, v);
                    }
                }
                Ok(resp)
            }
            Scenario::EchoCredential { status } => Ok(echo_credential(status, req.headers())),
        }
    }
}

/// [`Scenario::EchoCredential`]'s answer: the request's credential, echoed in several spellings.
fn echo_credential(status: u16, headers: &axum::http::HeaderMap) -> Response {
    let value = headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("x-api-key"))
        .cloned();
    let raw = value
        .as_ref()
        .map_or_else(String::new, |v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut resp = Response::new(Body::from(echo_body(&raw)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = value {
        resp.headers_mut().insert(HeaderName::from_static("x-echo"), v);
    }
    resp
}

/// The JSON body echoing `raw`: as is (JSON-escaped as usual), with `\/` for `/`, with every
/// character but ASCII letters and digits `\u`-escaped, and percent-encoded.
fn echo_body(raw: &str) -> String {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let message = quoted(&format!("bad credentials: {raw}"));
    let escaped = quoted(raw).replace('/', "\\/");
    let mut unicode = String::with_capacity(raw.len() * 6);
    let mut units = [0u16; 2];
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            unicode.push(c);
        } else {
            for u in c.encode_utf16(&mut units) {
                unicode.push_str(&format!("\\u{:04X}", *u));
            }
        }
    }
    let mut encoded = String::with_capacity(raw.len() * 3);
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(r#"{{"message":{message},"escaped":{escaped},"unicode":"{unicode}","encoded":"{encoded}"}}"#)
}

/// Resolves once shutdown was signalled (or the signal's sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

fn set_header(resp: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn burst_headers(resp: &mut Response, info: RateInfo) {
    set_header(
        resp,
        HeaderName::from_static("burst-ratelimit-limit"),
        &info.limit.to_string(),
    );
    set_header(
        resp,
        HeaderName::from_static("burst-ratelimit-remaining"),
        &info.remaining.to_string(),
    );
    set_header(
        resp,
        HeaderName::from_static("burst-ratelimit-reset"),
        &info.reset.to_string(),
    );
}

static PADDING: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// `200` with a streamed JSON body of exactly `total` bytes (at least the JSON frame's length).
fn huge_body(total: usize) -> Response {
    const HEAD: &[u8] = b"{\"cancelled\":0,\"padding\":\"";
    const TAIL: &[u8] = b"\"}";
    let mut pad = total.saturating_sub(HEAD.len() + TAIL.len());
    let mut chunks = vec![Bytes::from_static(HEAD)];
    while pad > 0 {
        let n = pad.min(PADDING.len());
        chunks.push(Bytes::from_static(&PADDING[..n]));
        pad -= n;
    }
    chunks.push(Bytes::from_static(TAIL));
    let len: usize = chunks.iter().map(Bytes::len).sum();
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    resp
}
