//! The loopback servers' runtime, and the minimal server that answers like the providers.
//!
//! The minimal server is a bare hyper HTTP/1.1 server (keep-alive, `TCP_NODELAY`) answering
//! - `DELETE /v2/workflows/runs?workflowRunIds=…` with `200 {"cancelled":N}`, N the number of
//!   `workflowRunIds` keys (Upstash's answer when every id was active);
//! - `DELETE /v2/workflows/runs/{id}` with `200 OK` (Upstash's single cancel of an active run);
//! - `POST /{workflows|agents|teams}/{id}/runs/{run}/cancel` with `200 {}` (AgentOS 2.5+);
//! - anything else with `404 {"detail":"Not Found"}`.
//!
//! It keeps no state and checks no token, so that it costs as little as possible: it is the
//! ceiling every client is measured against.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// The runtime every loopback server of the benchmark runs on: its own worker thread(s), apart
/// from the client's current-thread runtime on the main thread.
pub struct ServerRuntime {
    rt: Runtime,
    threads: usize,
}

impl ServerRuntime {
    /// A multi-thread runtime with `threads` workers named `bench-server`.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bench-server")
            .enable_all()
            .build()?;
        Ok(ServerRuntime { rt, threads })
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` to completion on this runtime (its spawned tasks stay on the workers). Only
    /// from synchronous code, never from inside the client runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// A running minimal server.
pub struct MinimalServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl MinimalServer {
    /// Binds a free port on 127.0.0.1 and serves on `rt`.
    pub fn start(rt: &ServerRuntime) -> std::io::Result<Self> {
        let listener = rt.block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let task = rt.rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        answer(req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(MinimalServer { addr, requests, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for MinimalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The run id every running Temporal workflow of the minimal server has.
pub const BENCH_RUN_ID: &str = "0193a3c0-1111-7000-8000-0000000000b1";

/// A describe of a running workflow, as Temporal's HTTP API answers it (the fields wfcancel reads).
const TEMPORAL_RUNNING: &str = concat!(
    r#"{"workflowExecutionInfo":{"execution":{"workflowId":"tp","runId":"0193a3c0-1111-7000-8000-0000000000b1"},"#,
    r#""status":"WORKFLOW_EXECUTION_STATUS_RUNNING"},"workflowExtendedInfo":{"cancelRequested":false}}"#
);

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    Ok(match *req.method() {
        Method::DELETE if path == "/v2/workflows/runs" => {
            let n = req.uri().query().map_or(0, |q| q.matches("workflowRunIds=").count());
            let body = if n == 1 {
                Bytes::from_static(b"{\"cancelled\":1}")
            } else {
                Bytes::from(format!("{{\"cancelled\":{n}}}"))
            };
            json(StatusCode::OK, body)
        }
        Method::DELETE if path.starts_with("/v2/workflows/runs/") && path.len() > "/v2/workflows/runs/".len() => {
            let mut resp = Response::new(Full::new(Bytes::from_static(b"OK")));
            resp.headers_mut()
                .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
            resp
        }
        Method::POST if is_agno_cancel(path) => json(StatusCode::OK, Bytes::from_static(b"{}")),
        // Restate: `PATCH /invocations/{id}/cancel` → 202 (the cancel was accepted).
        Method::PATCH if path.starts_with("/invocations/inv_") && path.ends_with("/cancel") => {
            json(StatusCode::ACCEPTED, Bytes::new())
        }
        // LangGraph: `POST /threads/{t}/runs/{r}/cancel` → 202.
        Method::POST if path.starts_with("/threads/") && path.ends_with("/cancel") => {
            json(StatusCode::ACCEPTED, Bytes::new())
        }
        // Temporal: a visibility list lists nothing running; a describe answers the gRPC
        // NotFound of an unknown workflow (no such run: nothing more is sent).
        Method::GET if path == "/api/v1/namespaces/default/workflows" => json(StatusCode::OK, Bytes::from_static(b"{}")),
        // Temporal, items 1, 2 and 4: `tp-…` workflows describe as running; their cancel is 200 {}.
        Method::GET if path.starts_with("/api/v1/namespaces/default/workflows/tp-") => {
            json(StatusCode::OK, Bytes::from_static(TEMPORAL_RUNNING.as_bytes()))
        }
        Method::POST if path.starts_with("/api/v1/namespaces/default/workflows/") && path.ends_with("/cancel") => {
            json(StatusCode::OK, Bytes::from_static(b"{}"))
        }
        Method::GET if path.starts_with("/api/v1/namespaces/default/workflows/") => json(
            StatusCode::NOT_FOUND,
            Bytes::from_static(
                b"{\"code\":5,\"message\":\"workflow not found\",\"details\":[{\"@type\":\"type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure\"}]}",
            ),
        ),
        _ => json(StatusCode::NOT_FOUND, Bytes::from_static(b"{\"detail\":\"Not Found\"}")),
    })
}

/// `/{workflows|agents|teams}/{id}/runs/{run}/cancel`.
fn is_agno_cancel(path: &str) -> bool {
    let mut parts = path.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(""), Some("workflows" | "agents" | "teams"), Some(o), Some("runs"), Some(r), Some("cancel"), None)
            if !o.is_empty() && !r.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agno_cancel_paths() {
        assert!(is_agno_cancel("/workflows/w/runs/r/cancel"));
        assert!(is_agno_cancel("/teams/t/runs/r%2F1/cancel"));
        assert!(!is_agno_cancel("/workflows/w/runs/r"));
        assert!(!is_agno_cancel("/workflows//runs/r/cancel"));
        assert!(!is_agno_cancel("/workflows/w/runs/r/cancel/x"));
        assert!(!is_agno_cancel("/sessions/w/runs/r/cancel"));
    }

    #[test]
    fn answers_like_the_providers() {
        let rt = ServerRuntime::new(1).unwrap();
        let server = MinimalServer::start(&rt).unwrap();
        let base = server.url();
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        client.block_on(async {
            let http = reqwest::Client::new();
            let r = http
                .delete(format!("{base}/v2/workflows/runs?workflowRunIds=a&workflowRunIds=b"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), r#"{"cancelled":2}"#);
            let r = http
                .post(format!("{base}/workflows/w/runs/r/cancel"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), "{}");
            let r = http.get(format!("{base}/health")).send().await.unwrap();
            assert_eq!(r.status(), 404);
        });
        assert_eq!(server.requests(), 3);
    }
}
