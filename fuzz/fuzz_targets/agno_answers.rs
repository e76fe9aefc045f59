//! Every AgentOS answer on a cancel and a status read: the one mapping function and the retry
//! decision, for any status, headers and body.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::agno_answers(data));
