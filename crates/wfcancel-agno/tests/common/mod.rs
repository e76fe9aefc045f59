//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use wfcancel_agno::AgnoCanceller;
use wfcancel_core::RetryPolicy;
use wfcancel_core::http::HttpConfig;

/// Fast retries, so that tests exercising them stay quick.
pub fn fast_retries(attempts: u32) -> HttpConfig {
    HttpConfig::default().request_timeout(Duration::from_secs(10)).retry(
        RetryPolicy::default()
            .max_attempts(attempts)
            .initial_backoff(Duration::from_millis(1))
            .max_backoff(Duration::from_millis(5))
            .jitter(false),
    )
}

/// A canceller for `base` (a mockito or local server), with the key if given and 3 fast attempts.
pub fn canceller(base: &str, key: Option<&str>) -> AgnoCanceller {
    canceller_with(base, key, true)
}

/// Like [`canceller`], with the state check before a cancel on or off.
pub fn canceller_with(base: &str, key: Option<&str>, check_state: bool) -> AgnoCanceller {
    let b = AgnoCanceller::builder()
        .base_url(base)
        .http_config(fast_retries(3))
        .check_state_before_cancel(check_state);
    let b = match key {
        Some(k) => b.security_key(k),
        None => b,
    };
    b.build().expect("canceller")
}
