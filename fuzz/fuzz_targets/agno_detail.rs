//! AgentOS error bodies: FastAPI's `detail` (a string, or a 422 array of objects), other
//! message fields, non-JSON bodies.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::agno_detail(data));
