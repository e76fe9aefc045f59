//! Every Upstash answer parser on any status, headers and body: the error mapping, the bulk
//! count / action id, the logs (run status), the bulk action, and the retry hint.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::upstash_answers(data));
