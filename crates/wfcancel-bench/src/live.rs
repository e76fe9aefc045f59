//! Real servers for the live rows (Restate, LangGraph): the habits of the live tests'
//! harnesses (`crates/wfcancel-{restate,langgraph}/tests/live_*.rs`), copied here so that the
//! benchmark depends on no test file. Free 127.0.0.1 ports, every wait bounded, every process in
//! its own process group and killed with it by a guard, installs made by the project's own set-up
//! scripts into `<target>/live/<name>`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long a set-up script (`npm ci`, a Python venv) may take before it is killed.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(600);

/// A free TCP port on 127.0.0.1 (the OS's pick, released at once).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A child process started as its own process-group leader; the whole group is killed (TERM,
/// then KILL after a bounded wait) and reaped when the guard is dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Starts `cmd` in a new process group (stdin from /dev/null unless set by the caller).
    pub fn spawn(cmd: &mut Command, what: &str) -> Result<Proc, String> {
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {what}: {e}"))?;
        Ok(Proc { child })
    }

    /// Whether it exited already (with how).
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The child itself (to take its pipes).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        kill_group(&mut self.child, Duration::from_secs(6));
    }
}

/// TERM to the child's process group, a bounded wait, then KILL to the group; reaps the child.
fn kill_group(child: &mut Child, grace: Duration) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-TERM", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Workers may outlive the leader: the whole group goes.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs one of the project's set-up scripts (`bash <script> <dir>`) with its output in `log`,
/// bounded by `timeout` (its whole process group is killed then).
pub fn setup(script: &Path, dir: &Path, log: &Path, timeout: Duration) -> Result<(), String> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(dir).stdin(Stdio::null()).stdout(file).stderr(err);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!("{} failed ({status}); see {}", script.display(), log.display()));
            }
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child, Duration::ZERO);
                return Err(format!(
                    "{} did not finish within {} s and was killed; see {}",
                    script.display(),
                    timeout.as_secs(),
                    log.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => {
                kill_group(&mut child, Duration::ZERO);
                return Err(e.to_string());
            }
        }
    }
}

/// A fresh folder under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `<tmp>/<prefix>-<pid>-<nanos>`.
    pub fn new(prefix: &str) -> Result<TempDir, String> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A file (or folder) in it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A file in it, created for a child's output.
    pub fn file(&self, name: &str) -> Result<std::fs::File, String> {
        std::fs::File::create(self.join(name)).map_err(|e| format!("cannot create {name}: {e}"))
    }

    /// The text of a file in it (empty if none), for error messages: its last 2,000 bytes.
    pub fn tail(&self, name: &str) -> String {
        let s = std::fs::read_to_string(self.join(name)).unwrap_or_default();
        let mut from = s.len().saturating_sub(2000);
        while !s.is_char_boundary(from) {
            from += 1;
        }
        s[from..].to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Drops ANSI escape sequences (a server's coloured banner).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A plain HTTP client for the benchmark's own calls (starting runs, reading the server's state).
pub fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())
}

/// POSTs a JSON body; the status and the parsed answer (`Null` when it is not JSON).
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value), String> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| format!("POST {url}: {e}"))?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    ))
}

/// The median of durations in seconds.
pub fn median_secs(v: &[f64]) -> f64 {
    crate::measure::median(v.to_vec())
}

/// `a / b / c` with two decimals.
pub fn list_secs(v: &[f64]) -> String {
    v.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(" / ")
}

/// `--only restate,langgraph`: only the live rows named, their table printed and written to
/// `--out` (default `target/bench/BENCHMARKS.only.md`; BENCHMARKS.md is written by full runs only).
pub fn run_only(o: &crate::Opts, p: &crate::external::Paths, only: &[String]) -> Result<(), String> {
    let mut res = crate::Results::default();
    let t0 = Instant::now();
    for name in only {
        match name.as_str() {
            "restate" => crate::restate_bench::run(o, p, &mut res),
            "langgraph" => crate::langgraph_bench::run(o, p, &mut res),
            other => return Err(format!("--only: unknown row {other:?} (restate, langgraph)")),
        }
    }
    res.rows.sort_by_key(|r| crate::report::item_order(r.item));
    let table = crate::report::markdown(&res.rows);
    println!("\n{table}");
    for d in &res.diagnostics {
        println!("diagnostic: {d}");
    }
    for m in &res.misses {
        println!("missed: {m}");
    }
    for n in &res.notes {
        println!("note: {n}");
    }
    let out = o
        .out
        .clone()
        .unwrap_or_else(|| p.bench_dir().join("BENCHMARKS.only.md"));
    let mut md = format!(
        "# wfcancel benchmarks: live rows only\n\nCommand: `{}`\n\nMeasured in {:.0} s.\n\n{table}\n",
        o.command_line(),
        t0.elapsed().as_secs_f64()
    );
    for (title, items) in [
        ("Diagnostics", &res.diagnostics),
        ("Targets missed", &res.misses),
        ("Run notes", &res.notes),
    ] {
        md.push_str(&format!("## {title}\n\n"));
        for i in items {
            md.push_str(&format!("- {i}\n"));
        }
        md.push('\n');
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, md).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("bench: wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(
            strip_ansi("- API: \u{1b}[36mhttp://127.0.0.1:1\u{1b}[0m"),
            "- API: http://127.0.0.1:1"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(list_secs(&[1.0, 2.345]), "1.00 / 2.35");
        assert_eq!(median_secs(&[3.0, 1.0, 2.0]), 2.0);
    }
}
