//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;

/// A client for loopback tests: no proxy, no redirects, bounded.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Status and body text.
pub async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Status and JSON body.
pub async fn send_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let (status, text) = send(req).await;
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

/// Polls `f` every 10 ms until it returns true, for at most `max`.
pub async fn eventually(max: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + max;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
