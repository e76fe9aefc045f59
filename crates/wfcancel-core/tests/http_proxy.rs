//! A loopback base URL never goes through a proxy from the environment: the token would cross
//! the network in cleartext (plain http is allowed only because the host is loopback).
//!
//! This is its own test binary, with a single test, because it sets `HTTP_PROXY` and friends,
//! which are process-global.
#![cfg(feature = "http")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wfcancel_core::http::{HttpClient, HttpConfig, Method};
use wfcancel_core::{RetryPolicy, SecretToken};

const TOKEN: &str = "tok-SECRET-proxy-7d2a";

/// A fake proxy: counts connections, records what it received, answers 502.
async fn fake_proxy() -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, r) = (connections.clone(), received.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                r.lock().unwrap().extend_from_slice(&head);
                let _ = s
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 5\r\nconnection: close\r\n\r\nproxy")
                    .await;
            });
        }
    });
    (format!("http://{addr}"), connections, received)
}

#[tokio::test]
async fn loopback_requests_bypass_the_environment_proxy() {
    let (proxy, connections, received) = fake_proxy().await;
    // SAFETY: this test binary holds this single test, and nothing else reads the environment
    // while it runs.
    unsafe {
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::set_var(var, &proxy);
        }
        for var in ["NO_PROXY", "no_proxy"] {
            std::env::remove_var(var);
        }
    }
    let token = SecretToken::new(TOKEN);
    let config = HttpConfig::default()
        .request_timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none());

    // The environment is honoured for other hosts: this is what makes the check below mean something.
    let remote = HttpClient::new(
        "test",
        "http://wfcancel-proxy-check.invalid",
        None,
        config.clone().allow_insecure_http(true),
    )
    .unwrap();
    let resp = remote
        .send("op", Method::GET, remote.endpoint(&[("p", "probe")]).unwrap())
        .await
        .unwrap();
    assert_eq!((resp.status, &resp.body[..]), (502, &b"proxy"[..]));
    assert_eq!(connections.load(Ordering::SeqCst), 1, "the proxy env is not in effect");
    connections.store(0, Ordering::SeqCst);
    received.lock().unwrap().clear();

    for host in ["127.0.0.1", "localhost"] {
        let mut server = mockito::Server::new_async().await;
        let m = server
            .mock("DELETE", "/runs/r1")
            .match_header("authorization", format!("Bearer {TOKEN}").as_str())
            .with_status(200)
            .with_body("OK")
            .expect(1)
            .create_async()
            .await;
        let port = server.socket_address().port();
        let c = HttpClient::new("test", &format!("http://{host}:{port}"), Some(&token), config.clone()).unwrap();
        let resp = c
            .send(
                "op",
                Method::DELETE,
                c.endpoint(&[("p", "runs"), ("id", "r1")]).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!((resp.status, &resp.body[..]), (200, &b"OK"[..]), "{host}");
        m.assert_async().await;
        assert_eq!(connections.load(Ordering::SeqCst), 0, "{host}: the proxy was used");
        let seen = String::from_utf8_lossy(&received.lock().unwrap()).into_owned();
        assert!(!seen.contains(TOKEN), "{host}: the token reached the proxy: {seen}");
    }
}
