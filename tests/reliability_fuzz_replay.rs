//! Replays the fuzz inputs kept in the repository (`fuzz/seeds/<target>/` and the crashes found
//! so far in `fuzz/regressions/<target>/`) through exactly the checks the cargo-fuzz targets run
//! (`fuzz/fuzz_targets/checks.rs`), on stable, in every `cargo test`: deterministic, no
//! libFuzzer, no nightly. `scripts/fuzz.sh` does the fuzzing itself.
#![cfg(all(feature = "upstash", feature = "agno"))]

#[allow(dead_code)]
#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

use std::path::PathBuf;
use wfcancel::Inactive;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 6] = [
    ("retry_after", checks::retry_after),
    ("readable_body", checks::readable_body),
    ("upstash_answers", checks::upstash_answers),
    ("upstash_rate_limit", checks::upstash_rate_limit),
    ("agno_detail", checks::agno_detail),
    ("agno_answers", checks::agno_answers),
];

fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|d| (p, d)))
        .collect()
}

#[test]
fn every_seed_and_past_crash_passes_the_fuzz_checks() {
    let mut replayed = 0;
    let mut regressions = 0;
    for (target, check) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for (path, data) in seeds.iter().chain(inputs("regressions", target).iter()) {
            let result = std::panic::catch_unwind(|| check(data));
            assert!(result.is_ok(), "{target}: {} fails the checks", path.display());
            replayed += 1;
        }
        regressions += inputs("regressions", target).len();
    }
    println!(
        "RELIABILITY fuzz/replay                              inputs={replayed} regressions={regressions} failures=0"
    );
}

/// `data` in the fuzz targets' framing: status, headers (index into `HEADER_NAMES`, value),
/// body.
fn frame(status: u16, headers: &[(u8, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut data = (status - 100).to_be_bytes().to_vec();
    data.push(headers.len() as u8);
    for (name, value) in headers {
        data.push(*name);
        data.push(value.len() as u8);
        data.extend_from_slice(value);
    }
    data.extend_from_slice(body);
    data
}

/// The single cancel's answers (`DELETE /v2/workflows/runs/{id}`) that the seeds do not all
/// cover, through the same checks, and what each must map to: a 2xx `OK` (plain text) is
/// `Cancelled`, a 2xx with another body a decode error (not Upstash's answer), Upstash's JSON 404
/// `NotActive`, any other 404 `NotFound` pointing at QSTASH_URL, a 500 an error with its status.
#[test]
fn the_single_cancel_answers_pass_the_checks_and_map_as_documented() {
    use wfcancel::{CancelError, CancelOutcome, NotFoundKind};
    use wfcancel_upstash::fuzz::cancel_answer;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Outcome(CancelOutcome),
        Decode,
        WrongBaseUrl,
        Status,
    }
    const JSON: (u8, &[u8]) = (7, b"application/json");
    const HTML: (u8, &[u8]) = (7, b"text/html");
    const TEXT: (u8, &[u8]) = (7, b"text/plain");
    /// Status, one header (index into `HEADER_NAMES`, value), body, and what it must map to.
    type Case = (u16, (u8, &'static [u8]), &'static [u8], Want);
    let cases: [Case; 11] = [
        (200, TEXT, b"OK", Want::Outcome(CancelOutcome::Cancelled)),
        (200, TEXT, b"ok\n", Want::Outcome(CancelOutcome::Cancelled)),
        (204, JSON, b"", Want::Outcome(CancelOutcome::Cancelled)),
        (200, HTML, b"<html>not json</html>", Want::Decode),
        (200, JSON, br#"{"cancelled":3}"#, Want::Decode),
        (
            404,
            JSON,
            br#"{"error":"workflowRun not found"}"#,
            Want::Outcome(CancelOutcome::NotActive(Inactive::Unspecified)),
        ),
        (
            404,
            HTML,
            b"<html><head><title>404 Not Found</title></head></html>",
            Want::WrongBaseUrl,
        ),
        (404, TEXT, b"404 page not found\n", Want::WrongBaseUrl),
        (404, JSON, br#"{"message":"not found"}"#, Want::WrongBaseUrl),
        (500, JSON, br#"{"error":"failed to cancel workflow run"}"#, Want::Status),
        (429, JSON, br#"{"error":"slow down"}"#, Want::Status),
    ];
    for (status, header, body, want) in cases {
        let data = frame(status, &[header], body);
        let input = checks::Input::parse(&data);
        assert_eq!((input.status, input.body), (status, body), "framing");
        let result = std::panic::catch_unwind(|| checks::upstash_answers(&data));
        assert!(result.is_ok(), "{status} {body:?} fails the checks");
        let got = cancel_answer(status, &input.headers, body, "wfr_1");
        let ok = match (want, &got) {
            (Want::Outcome(o), Ok(g)) => *g == o,
            (Want::Decode, Err(CancelError::Decode { .. })) => true,
            (
                Want::WrongBaseUrl,
                Err(
                    e @ CancelError::NotFound {
                        what: NotFoundKind::Other,
                        ..
                    },
                ),
            ) => e.to_string().contains("QSTASH_URL"),
            (Want::Status, Err(e)) => e.status() == Some(status),
            _ => false,
        };
        assert!(ok, "{status} {body:?}: expected {want:?}, got {got:?}");
    }
}
