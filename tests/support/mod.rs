//! Shared helpers of the facade-level tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this run is CI (`CI=true` or `CI=1`): live tests must then run, never skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Decides whether a live test can run. Returns `false` (after printing a clear message) when a
/// tool is missing locally; panics in CI, where a live test must never be skipped.
pub fn live_gate(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("live test {test}: missing {} on PATH", missing.join(", "));
    if in_ci() {
        panic!("{msg}; CI must run every live test");
    }
    eprintln!("SKIPPED {msg} (set up the toolchain to run it; in CI it is required)");
    false
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder under the target directory that a live test owns (kept between runs as a cache).
pub fn owned_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root().join(target)
    };
    let dir = target.join("live").join(name);
    std::fs::create_dir_all(&dir).expect("create the live test's folder");
    dir
}

/// Runs one of the project's set-up scripts, failing the test with its output on error.
pub fn run_setup(script: &Path, dir: &Path) {
    let out = Command::new("bash")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run the set-up script");
    assert!(
        out.status.success(),
        "{} {} failed:\n{}{}",
        script.display(),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
