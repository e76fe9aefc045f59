//! Replays the fuzz inputs kept in the repository (`fuzz/seeds/<target>/` and the crashes found
//! so far in `fuzz/regressions/<target>/`) through exactly the checks the cargo-fuzz targets run
//! (`fuzz/fuzz_targets/checks.rs`), on stable, in every `cargo test`: deterministic, no
//! libFuzzer, no nightly. `scripts/fuzz.sh` does the fuzzing itself.
#![cfg(all(feature = "upstash", feature = "agno"))]

#[allow(dead_code)]
#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

use std::path::PathBuf;

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
