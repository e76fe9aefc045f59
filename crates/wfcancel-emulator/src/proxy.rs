//! A fault-injecting reverse proxy: the emulators' fault layer ([`Faults`], [`Scenario`]s, the
//! request and fault counters) in front of any upstream HTTP server, real or emulated.
//!
//! Every request goes through the same front as the emulators' own (counted, `414` past the URI
//! cap, a matching [`ScenarioRule`](crate::ScenarioRule) or the random faults first); a request no
//! fault stopped is forwarded to the upstream as it came (method, path, query, headers but the
//! hop-by-hop ones, body) and the upstream's answer is returned as it came. The "answer lost"
//! faults ([`Faults::drop_after`], [`Scenario::DropAfterHandling`]) forward the request, so the
//! upstream acts on it, then close the client's connection without an answer.
//!
//! Faults answer in the upstream's error shape ([`ProxyFlavor`]), so that a client maps them as it
//! would the real server's own `429` or `503`.
//!
//! ```no_run
//! use wfcancel_emulator::{Faults, FaultProxy, ProxyConfig, ProxyFlavor};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let proxy = FaultProxy::start(ProxyConfig::new("http://127.0.0.1:7243", ProxyFlavor::Temporal)).await?;
//! proxy.faults().set(Faults::none().errors(0.2).throttle(0.05).drops(0.02).seed(7));
//! println!("point the client at {}", proxy.url());
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::Response;

use crate::faults::{FaultHandle, Faults};
use crate::server::{self, Flavor, FrontConfig, ServerHandle};
use crate::stats::{Endpoint, Stats};
use crate::upstash::{DEFAULT_MAX_URI_LEN, DEFAULT_SHUTDOWN_GRACE};

/// The largest request or answer body the proxy forwards (larger ones are refused with `502`).
pub const MAX_PROXIED_BODY: usize = 64 * 1024 * 1024;

/// Whose error shape the proxy's own fault answers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFlavor {
    /// `{"error": …}` and Upstash's burst rate-limit headers.
    Upstash,
    /// `{"detail": …}` (AgentOS, and LangGraph's Agent Server, both FastAPI).
    Agno,
    /// `{"detail": …}`, as [`ProxyFlavor::Agno`].
    LangGraph,
    /// `{"code": <gRPC code>, "message": …}` (Temporal's HTTP API, grpc-gateway).
    Temporal,
    /// `{"message": …}` (Restate's admin API).
    Restate,
}

impl ProxyFlavor {
    fn flavor(self) -> Flavor {
        match self {
            ProxyFlavor::Upstash => Flavor::Upstash,
            ProxyFlavor::Agno | ProxyFlavor::LangGraph => Flavor::Agno,
            ProxyFlavor::Temporal => Flavor::GrpcGateway,
            ProxyFlavor::Restate => Flavor::Message,
        }
    }

    /// Parses `upstash`, `agno`, `langgraph`, `temporal` or `restate`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "upstash" => Some(ProxyFlavor::Upstash),
            "agno" => Some(ProxyFlavor::Agno),
            "langgraph" => Some(ProxyFlavor::LangGraph),
            "temporal" => Some(ProxyFlavor::Temporal),
            "restate" => Some(ProxyFlavor::Restate),
            _ => None,
        }
    }
}

/// How to start a [`FaultProxy`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// The upstream's base URL (`http://127.0.0.1:7243`; plain http); a path in it prefixes
    /// every forwarded path.
    pub upstream: String,
    /// Whose error shape fault answers take.
    pub flavor: ProxyFlavor,
    /// Port to listen on (`0`: any free port), on `127.0.0.1`.
    pub port: u16,
    /// The fault knobs at start (changeable later through [`FaultProxy::faults`]).
    pub faults: Faults,
    /// Request targets longer than this get `414` from the proxy.
    pub max_uri_len: usize,
    /// How long the upstream may take to answer one request before the proxy answers `504`.
    pub upstream_timeout: Duration,
    /// How long in-flight requests may run on at shutdown.
    pub shutdown_grace: Duration,
}

impl ProxyConfig {
    /// A proxy to `upstream` on a free port, no faults.
    pub fn new(upstream: impl Into<String>, flavor: ProxyFlavor) -> Self {
        ProxyConfig {
            upstream: upstream.into(),
            flavor,
            port: 0,
            faults: Faults::none(),
            max_uri_len: DEFAULT_MAX_URI_LEN,
            upstream_timeout: Duration::from_secs(60),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }

    /// Listens on `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts with these faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

struct Upstream {
    base: url::Url,
    client: reqwest::Client,
}

/// A running fault-injecting proxy. Stops when dropped (or with [`FaultProxy::shutdown`]).
pub struct FaultProxy {
    server: ServerHandle,
    common: Arc<server::Common>,
    upstream: String,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.server.addr())
            .field("upstream", &self.upstream)
            .finish()
    }
}

impl FaultProxy {
    /// Binds `127.0.0.1:{config.port}` and starts forwarding to `config.upstream`. Call from
    /// inside a Tokio runtime. An upstream URL that cannot be parsed, or is not `http://`, is an
    /// `InvalidInput` error.
    pub async fn start(config: ProxyConfig) -> std::io::Result<Self> {
        let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
        let base = url::Url::parse(config.upstream.trim())
            .map_err(|e| invalid(format!("upstream {:?}: {e}", config.upstream)))?;
        // Plain http only: the proxy sits between a client and a local server (this crate
        // carries no TLS stack).
        if base.scheme() != "http" || base.host().is_none() {
            return Err(invalid(format!(
                "upstream {:?}: expected http://host[:port]",
                config.upstream
            )));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.upstream_timeout)
            .no_proxy()
            .build()
            .map_err(|e| invalid(format!("cannot build the upstream client: {e}")))?;
        let faults = FaultHandle::new(config.faults.clone());
        let (common, shutdown_tx) = server::common(faults);
        let upstream = Arc::new(Upstream { base, client });
        let router = Router::new().fallback(forward).with_state(upstream);
        let front = FrontConfig {
            flavor: config.flavor.flavor(),
            max_uri_len: config.max_uri_len,
            classify: |_, _, _| Endpoint::Other,
        };
        let server = server::serve(
            config.port,
            Arc::clone(&common),
            shutdown_tx,
            router,
            front,
            config.shutdown_grace,
        )
        .await?;
        Ok(FaultProxy {
            server,
            common,
            upstream: config.upstream,
        })
    }

    /// The proxy's base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The fault knobs, changeable while the proxy runs.
    pub fn faults(&self) -> FaultHandle {
        self.common.faults.clone()
    }

    /// What the proxy saw: requests, the faults it injected, the statuses it answered.
    pub fn stats(&self) -> Stats {
        self.common.counters.snapshot()
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.common.counters.reset();
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then closes.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy sets itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !hop_by_hop(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn forward(State(up): State<Arc<Upstream>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut url = up.base.clone();
    let prefix = up.base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{}", parts.uri.path()));
    url.set_query(parts.uri.query());
    let body = match axum::body::to_bytes(body, MAX_PROXIED_BODY).await {
        Ok(b) => b,
        Err(e) => return bad_gateway(StatusCode::BAD_GATEWAY, &format!("request body: {e}")),
    };
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(Method::GET);
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    let sent = up.client.request(method, url).headers(headers).body(body).send().await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return bad_gateway(StatusCode::GATEWAY_TIMEOUT, "the upstream did not answer in time");
        }
        Err(e) => {
            return bad_gateway(
                StatusCode::BAD_GATEWAY,
                &format!("the upstream failed: {}", e.without_url()),
            );
        }
    };
    let status = resp.status();
    let mut out_headers = HeaderMap::new();
    copy_headers(resp.headers(), &mut out_headers);
    let bytes: Bytes = match resp.bytes().await {
        Ok(b) if b.len() <= MAX_PROXIED_BODY => b,
        Ok(_) => return bad_gateway(StatusCode::BAD_GATEWAY, "the upstream's answer is too large to proxy"),
        Err(e) => {
            return bad_gateway(
                StatusCode::BAD_GATEWAY,
                &format!("the upstream's answer broke off: {}", e.without_url()),
            );
        }
    };
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    *out.headers_mut() = out_headers;
    out
}

/// The proxy's own answer when the upstream cannot be reached: plain text, marked as the
/// proxy's so it is never taken for the upstream's.
fn bad_gateway(status: StatusCode, why: &str) -> Response {
    let mut resp = Response::new(Body::from(format!("wfcancel fault proxy: {why}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
