//! One deadline per call: the opt-in state read and the cancel with its retries share the
//! call's `total_deadline`, and the state read is one attempt, never retried. (Issue: the state
//! check was retried and every send got a fresh deadline, so a 2 s deadline became 3.4 s of 8
//! requests.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mockito::{Matcher, Server};
use wfcancel_agno::AgnoCanceller;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{CancelError, RetryPolicy, RunRef, WorkflowCanceller};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_read_and_the_cancel_fit_one_deadline() {
    let mut server = Server::new_async().await;
    let reads = Arc::new(AtomicUsize::new(0));
    let cancels = Arc::new(AtomicUsize::new(0));
    let (r, c) = (reads.clone(), cancels.clone());
    // Every answer is a slow 503 (the read 800 ms, a cancel 300 ms): retryable, so only the
    // deadline ends the call. Before the fix the cancel got a fresh 2 s after the read: 2.8 s.
    let _status = server
        .mock("GET", Matcher::Regex("^/workflows/wf/runs/r1".into()))
        .with_status(503)
        .with_body_from_request(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(800));
            b"busy".to_vec()
        })
        .create_async()
        .await;
    let _cancel = server
        .mock("POST", Matcher::Regex("^/workflows/wf/runs/r1/cancel".into()))
        .with_status(503)
        .with_body_from_request(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            b"busy".to_vec()
        })
        .create_async()
        .await;
    let agno = AgnoCanceller::builder()
        .base_url(server.url())
        .check_state_before_cancel(true)
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(100)
                    .initial_backoff(Duration::from_millis(10))
                    .max_backoff(Duration::from_millis(10))
                    .jitter(false)
                    .total_deadline(Duration::from_secs(2)),
            ),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    let result = agno.cancel(&RunRef::new("r1").workflow("wf").session("s1")).await;
    let took = t0.elapsed();
    assert!(
        matches!(result, Err(CancelError::Provider { status: Some(503), .. })),
        "{result:?}"
    );
    assert!(
        took < Duration::from_millis(2300),
        "one 2 s deadline for the whole call, took {took:?}"
    );
    assert_eq!(reads.load(Ordering::SeqCst), 1, "the state read is never retried");
    let sent = cancels.load(Ordering::SeqCst);
    assert!((1..=4).contains(&sent), "{sent} cancels within the 1.2 s the read left");
}

/// A state read that cannot connect is not retried either (the plumbing used to retry transport
/// errors whatever the hint said).
#[tokio::test]
async fn a_state_read_that_cannot_connect_is_one_attempt() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener); // nothing listens there now
    let agno = AgnoCanceller::builder()
        .base_url(url)
        .check_state_before_cancel(true)
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_backoff(Duration::from_millis(200))
                    .jitter(false),
            ),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    let err = agno
        .cancel(&RunRef::new("r1").workflow("wf").session("s1"))
        .await
        .unwrap_err();
    assert!(matches!(err, CancelError::Transport { .. }), "{err}");
    // The read: one attempt. The cancel: three attempts with 200 + 400 ms of backoff. A retried
    // read would add 600 ms more.
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(1100), "{took:?}");
}
