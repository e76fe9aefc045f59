//! The in-memory canceller passes the conformance suite through the facade, in both of its modes.

use std::time::Duration;

use wfcancel::InMemoryCanceller;
use wfcancel::conformance::run_all;

#[tokio::test]
async fn memory_confirming_passes_the_suite() {
    let memory = InMemoryCanceller::new();
    let summary = run_all(&memory, &memory).await;
    assert!(summary.skipped.is_empty(), "{summary}");
}

#[tokio::test]
async fn memory_cooperative_passes_the_suite() {
    let memory = InMemoryCanceller::new().with_cancel_delay(Duration::from_millis(50));
    let summary = run_all(&memory, &memory).await;
    assert!(summary.skipped.is_empty(), "{summary}");
}
