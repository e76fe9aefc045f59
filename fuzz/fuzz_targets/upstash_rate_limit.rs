//! Upstash's rate-limit headers (`Retry-After`, `Burst-RateLimit-Reset`, `RateLimit-Reset`) and
//! reset values in seconds, milliseconds, deltas, or garbage.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::upstash_rate_limit(data));
