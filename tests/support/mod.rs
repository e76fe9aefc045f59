//! Shared helpers of the live tests: CI detection, visible skips, owned folders, bounded set-up.
//!
//! Used by the facade's tests (`mod support;`) and, through `#[path]`, by the live AgentOS test
//! of `wfcancel-agno`, so it depends on nothing but `std` and on no crate's manifest folder.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a set-up script (`npm ci`, a Python venv) may take before it is killed.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether this run is CI (`CI` is `true` or `1`, any case): live tests must then run, never skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// Says that a live test was skipped, where a person sees it: straight to the process's stderr.
/// libtest captures only `print!`/`eprint!` output of passing tests; a direct write to the stderr
/// handle is not captured, so the line shows in a plain `cargo test` run, next to the test's `ok`.
/// (cargo-nextest captures the whole process's output, and shows it with `--no-capture`.)
pub fn skip(test: &str, why: &str) {
    let line = format!("\nSKIPPED live test {test}: {why} (it runs, and is required, when CI=true)\n");
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// Decides whether a live test can run. Returns `false` (after a visible skip line) when a tool
/// is missing locally; panics in CI, where a live test must never be skipped.
pub fn live_gate(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("missing {} on PATH", missing.join(", "));
    if in_ci() {
        panic!("live test {test}: {why}; CI must run every live test");
    }
    skip(test, &why);
    false
}

/// Whether `tool --version` runs and succeeds.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The workspace root: the nearest folder above the including crate's manifest that holds
/// `Cargo.lock` (the facade's tests and the Agno crate's tests both find the same one).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// A folder a live test owns, `<target>/live/<name>`, kept between runs as a cache. The target
/// folder is the parent of `CARGO_TARGET_TMPDIR` (`<target>/tmp`, which cargo sets for
/// integration tests), so `CARGO_TARGET_DIR`, relative or not, is already accounted for.
pub fn owned_dir(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().unwrap_or(tmp);
    let dir = target.join("live").join(name);
    std::fs::create_dir_all(&dir).expect("create the live test's folder");
    dir
}

/// Runs one of the project's set-up scripts (`bash <script> <dir>`), bounded by `timeout`: on
/// timeout its whole process group (npm, pip and their children) is killed. Fails the test with
/// the script's output when it fails or times out.
pub fn run_setup(script: &Path, dir: &Path, timeout: Duration) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let log_path = std::env::temp_dir().join(format!("wfcancel-setup-{}-{nanos}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("create the set-up log");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let deadline = Instant::now() + timeout;
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                break Err(format!("did not finish within {timeout:?} and was killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => {
                kill_group(&mut child);
                break Err(format!("waiting for it failed: {e}"));
            }
        }
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    match outcome {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{} {} failed ({status}):\n{output}", script.display(), dir.display()),
        Err(why) => panic!("{} {} {why}:\n{output}", script.display(), dir.display()),
    }
}

/// Kills the set-up script and everything it started (its own process group), then reaps it.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A free port on 127.0.0.1 (bound, then released: a server started on it may still lose it to
/// another process, so live tests retry a start that fails).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `cmd` as the leader of a process group of its own (stdin closed), so that
/// [`stop_group`] stops whatever it starts too.
pub fn spawn_group(cmd: &mut Command) -> std::process::Child {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    cmd.stdin(Stdio::null()).spawn().expect("spawn")
}

/// Stops a process group started by [`spawn_group`]: `TERM`, up to `grace` for the leader to
/// exit, then `KILL` to the whole group (a server's workers may outlive the leader), then reaps
/// the leader.
pub fn stop_group(child: &mut std::process::Child, grace: Duration) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    kill_group(child);
}
