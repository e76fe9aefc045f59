//! Child processes: the `wfcancel` CLI streaming ids from stdin (peak RSS), and the official
//! clients' driver scripts (node, python).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where things are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root.
    pub root: PathBuf,
    /// The cargo target directory.
    pub target: PathBuf,
}

impl Paths {
    /// From this crate's manifest dir and `CARGO_TARGET_DIR`.
    pub fn detect() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        Paths { root, target }
    }

    /// `target/bench`, the folder the benchmark owns.
    pub fn bench_dir(&self) -> PathBuf {
        self.target.join("bench")
    }

    /// This crate's scripts.
    pub fn scripts(&self) -> PathBuf {
        self.root.join("crates/wfcancel-bench/scripts")
    }
}

/// Runs `cmd` to completion with a time limit, output to `log`; answers whether it succeeded.
fn run_logged(mut cmd: Command, log: &Path, limit: Duration) -> Result<(), String> {
    let file = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{status}; see {}", log.display())),
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "still running after {}s; see {}",
                    limit.as_secs(),
                    log.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Whether `program --version` runs.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds the CLI in release (`cargo build -p wfcancel-cli --release`) and answers its path.
pub fn build_cli(p: &Paths) -> Result<(PathBuf, Duration), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&p.root)
        .args(["build", "-p", "wfcancel-cli", "--release"])
        .env("CARGO_TARGET_DIR", &p.target);
    let t0 = Instant::now();
    std::fs::create_dir_all(p.bench_dir()).map_err(|e| e.to_string())?;
    run_logged(cmd, &p.bench_dir().join("cli-build.log"), Duration::from_secs(900))?;
    let bin = p.target.join("release/wfcancel");
    if !bin.is_file() {
        return Err(format!("{} was not built", bin.display()));
    }
    Ok((bin, t0.elapsed()))
}

/// What the CLI run measured.
#[derive(Debug, Clone, Default)]
pub struct CliRun {
    /// Ids written to its stdin.
    pub ids: u64,
    /// Wall time from spawn to exit.
    pub secs: f64,
    /// `VmHWM` of the child read from `/proc/<pid>/status` when it stopped at its exit (ptrace
    /// exit stop): its peak resident set size (bytes), `None` if the stop was not seen.
    pub hwm_at_exit: Option<u64>,
    /// The highest `VmHWM` read by polling while it ran (bytes).
    pub hwm_polled: u64,
    /// `ru_maxrss` from `wait4` (bytes). On Linux this is inherited across fork and exec (the
    /// kernel keeps the largest of the forked copy and the new image), so it shows the
    /// benchmark's own peak, not the CLI's: reported only to say so.
    pub ru_maxrss: u64,
    /// Exit status (`None`: killed by a signal).
    pub exit: Option<i32>,
    /// The CLI's JSON summary (its last stdout line).
    pub summary: Option<serde_json::Value>,
}

impl CliRun {
    /// The CLI's peak resident set size: VmHWM at exit, else the last polled VmHWM.
    pub fn peak(&self) -> u64 {
        self.hwm_at_exit.unwrap_or(self.hwm_polled)
    }
}

fn vm_hwm(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Streams `n` ids into `wfcancel --backend upstash --json bulk --ids-file -` and measures the
/// child's peak resident memory. `env` carries QSTASH_URL and QSTASH_TOKEN.
///
/// The child asks to be traced (`PTRACE_TRACEME` before exec) and is continued at once with
/// `PTRACE_O_TRACEEXIT`, so it stops once more when it exits, with its memory still mapped:
/// `VmHWM` read then is its exact peak. Nothing else about it is traced or changed.
pub fn cli_stream(bin: &Path, n: u64, env: &[(&str, String)], log: &Path, limit: Duration) -> Result<CliRun, String> {
    cli_stream_with(
        bin,
        &["--backend", "upstash", "--json", "bulk", "--ids-file", "-"],
        n,
        |i| format!("wfr_cli_{i:016}"),
        env,
        log,
        limit,
    )
}

/// [`cli_stream`] with the command's arguments and the `i`-th stdin line given.
pub fn cli_stream_with(
    bin: &Path,
    args: &[&str],
    n: u64,
    line: fn(u64) -> String,
    env: &[(&str, String)],
    log: &Path,
    limit: Duration,
) -> Result<CliRun, String> {
    use std::os::unix::process::CommandExt;

    let stderr = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("WFCANCEL_BACKEND")
        .env_remove("QSTASH_REGION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: between fork and exec only the async-signal-safe ptrace syscall runs.
    unsafe {
        cmd.pre_exec(|| {
            let rc = libc::ptrace(
                libc::PTRACE_TRACEME,
                0,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            );
            if rc == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let pid = child.id() as i32;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let writer = std::thread::spawn(move || {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut stdin);
        let mut written = 0u64;
        for i in 0..n {
            if writeln!(w, "{}", line(i)).is_err() {
                break;
            }
            written += 1;
        }
        let _ = w.flush();
        written
    });
    // Keep only the last line: constant memory whatever the CLI prints.
    let reader = std::thread::spawn(move || {
        let mut last = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !line.trim().is_empty() {
                last = line;
            }
        }
        last
    });
    let cont = |sig: i32| {
        // SAFETY: plain ptrace request on our own stopped tracee.
        unsafe {
            libc::ptrace(
                libc::PTRACE_CONT,
                pid,
                std::ptr::null_mut::<libc::c_void>(),
                sig as usize as *mut libc::c_void,
            )
        }
    };
    let mut polled = 0u64;
    let mut at_exit = None;
    let mut started = false;
    let mut killed = false;
    let (status, ru) = loop {
        if let Some(h) = vm_hwm(pid) {
            polled = polled.max(h);
        }
        let mut status = 0i32;
        // SAFETY: plain syscall with valid pointers; the pid is our child, reaped only here.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r < 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        if r == pid {
            if libc::WIFSTOPPED(status) {
                let sig = libc::WSTOPSIG(status);
                if sig == libc::SIGTRAP && (status >> 16) == libc::PTRACE_EVENT_EXIT {
                    at_exit = vm_hwm(pid);
                    cont(0);
                } else if sig == libc::SIGTRAP && !started {
                    // The stop at exec: ask for the exit stop (and for the child to be killed
                    // if we die), then let it run.
                    started = true;
                    let opts = libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL;
                    // SAFETY: plain ptrace request on our own stopped tracee.
                    unsafe {
                        libc::ptrace(
                            libc::PTRACE_SETOPTIONS,
                            pid,
                            std::ptr::null_mut::<libc::c_void>(),
                            opts as usize as *mut libc::c_void,
                        );
                    }
                    cont(0);
                } else {
                    cont(sig); // deliver the signal it stopped on
                }
                continue;
            }
            break (status, ru);
        }
        if t0.elapsed() > limit && !killed {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let secs = t0.elapsed().as_secs_f64();
    let ids = writer.join().unwrap_or(0);
    let last = reader.join().unwrap_or_default();
    if killed {
        return Err(format!(
            "the CLI was still running after {}s and was killed",
            limit.as_secs()
        ));
    }
    let exit = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let summary = serde_json::from_str::<serde_json::Value>(&last)
        .ok()
        .and_then(|v| v.get("summary").cloned());
    Ok(CliRun {
        ids,
        secs,
        hwm_at_exit: at_exit,
        hwm_polled: polled,
        ru_maxrss: ru.ru_maxrss.max(0) as u64 * 1024,
        exit,
        summary,
    })
}

/// What an official client's driver reported.
#[derive(Debug, Clone)]
pub struct Official {
    /// Its name and version.
    pub client: String,
    /// Cancels done.
    pub n: u64,
    /// Cancels that failed.
    pub errors: u64,
    /// Wall time.
    pub secs: f64,
    /// Its process CPU time during the timed part.
    pub cpu_secs: f64,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// The cancel requests alone, when the driver also waits for something after them.
    pub cancel_secs: Option<f64>,
}

impl Official {
    /// Cancels per second.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.n as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Installs the official Upstash SDK with tools/upstash-sdk/setup.sh into `target/bench/upstash-sdk`.
pub fn setup_node(p: &Paths) -> Result<PathBuf, String> {
    let dir = p.bench_dir().join("upstash-sdk");
    let mut cmd = Command::new("bash");
    cmd.arg(p.root.join("tools/upstash-sdk/setup.sh")).arg(&dir);
    run_logged(
        cmd,
        &p.bench_dir().join("upstash-sdk-setup.log"),
        Duration::from_secs(300),
    )?;
    Ok(dir)
}

/// Builds the agno venv with tools/agno-live/setup.sh into `target/bench/agno-venv`.
pub fn setup_python(p: &Paths) -> Result<PathBuf, String> {
    let venv = p.bench_dir().join("agno-venv");
    let mut cmd = Command::new("bash");
    cmd.arg(p.root.join("tools/agno-live/setup.sh")).arg(&venv);
    run_logged(cmd, &p.bench_dir().join("agno-setup.log"), Duration::from_secs(600))?;
    Ok(venv.join("bin/python"))
}

/// Runs a driver script and parses its JSON line.
pub fn run_driver(mut cmd: Command, log: &Path, limit: Duration) -> Result<Official, String> {
    let stderr = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut last = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim_start().starts_with('{') {
                last = line;
            }
        }
        last
    });
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {}s; see {}", limit.as_secs(), log.display()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let last = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{status}; see {}", log.display()));
    }
    let v: serde_json::Value =
        serde_json::from_str(&last).map_err(|e| format!("unreadable driver output {last:?}: {e}"))?;
    Ok(Official {
        client: v["client"].as_str().unwrap_or("?").to_owned(),
        n: v["n"].as_u64().unwrap_or(0),
        errors: v["errors"].as_u64().unwrap_or(0),
        secs: v["secs"].as_f64().unwrap_or(0.0),
        cpu_secs: v["cpu_secs"].as_f64().unwrap_or(0.0),
        first_error: v["first_error"].as_str().map(str::to_owned),
        cancel_secs: v["cancel_secs"].as_f64(),
    })
}
