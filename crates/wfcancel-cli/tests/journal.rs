//! `bulk --ids-file … --journal FILE` survives `kill -9`: re-running the same command with the
//! same journal finishes the job, never sends a cancel for a run whose outcome was journaled,
//! and ends with the summary of a run that never crashed (issue 16).
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, Faults, UpstashConfig, UpstashEmulator, UpstashRun, UpstashState,
};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const RUNS: usize = 20_000;
const KILLS: usize = 10;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn command(env: &[(&str, String)], args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(BIN);
    c.env_clear().envs(env.iter().map(|(k, v)| (*k, v.as_str()))).args(args);
    c.kill_on_drop(true);
    c
}

/// Runs the command to its end (bounded): exit code, stdout, stderr.
async fn run_to_end(env: &[(&str, String)], args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        command(env, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the command ends within 60 s")
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(stdout: &str) -> Value {
    let last = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|_| panic!("no summary: {last}"));
    v["summary"].clone()
}

/// The job's counts: what must equal between a resumed job and one that never crashed.
fn counts(s: &Value) -> Vec<(&'static str, Value)> {
    [
        "cancelled",
        "requested",
        "not_active",
        "failed",
        "not_attempted",
        "duplicates_dropped",
    ]
    .into_iter()
    .map(|k| (k, s[k].clone()))
    .collect()
}

/// The runs the journal records as done (complete lines only), and whether its last line was
/// torn.
fn journal_done(path: &Path) -> (HashSet<String>, bool) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let torn = !bytes.is_empty() && bytes.last() != Some(&b'\n');
    let mut done = HashSet::new();
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(run) = v["run"].as_str() {
            if v["outcome"] != "failed" {
                assert!(done.insert(run.to_owned()), "{run} journaled done twice");
            }
        } else if let Some(runs) = v["runs"].as_array() {
            for r in runs {
                assert!(done.insert(r.as_str().unwrap().to_owned()), "{r} journaled done twice");
            }
        }
    }
    (done, torn)
}

/// The kill-and-resume drill against one emulator; `per_run` reads its per-run cancel counts.
/// Returns the final summary and, per kill, (runs journaled, whether the tail was torn).
async fn drill(
    env: &[(&str, String)],
    args: &[&str],
    journal: &Path,
    seed: u64,
    (early_ms, after_ms): (std::ops::Range<u64>, std::ops::Range<u64>),
    per_run: impl Fn() -> HashMap<String, u64>,
    address: impl Fn(&str) -> String,
) -> (Value, String, Vec<(usize, bool)>, usize) {
    // Runs a killed process had sent (the server counted a request) without journaling them.
    let mut unjournaled_sent: HashSet<String> = HashSet::new();
    let mut rng = fastrand::Rng::with_seed(seed);
    // The count of cancel requests each run had when its outcome was first seen journaled.
    let mut at_journal: HashMap<String, u64> = HashMap::new();
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        let mut child = command(env, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A random point of the run: half of the kills at a random time from the start (which
        // may be while it reads the journal, or sends its first batch); the others a random
        // time after this run journaled its first batch (so that every run makes progress).
        let done_at_start = journal_done(journal).0.len();
        if rng.bool() {
            tokio::time::sleep(Duration::from_millis(rng.u64(early_ms.clone()))).await;
        } else {
            let deadline = Instant::now() + Duration::from_secs(30);
            // Outcomes, not the `sending` line written before a batch goes out.
            while journal_done(journal).0.len() <= done_at_start {
                assert!(Instant::now() < deadline, "no batch journaled within 30 s");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.u64(after_ms.clone()))).await;
        }
        child.start_kill().unwrap(); // SIGKILL
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("killed process reaped")
            .unwrap();
        assert!(
            status.code().is_none(),
            "the process ended before its kill: lengthen the run ({status:?})"
        );
        let (done, torn) = journal_done(journal);
        let counts = per_run();
        for run in &done {
            let id = run
                .rsplit('/')
                .next()
                .unwrap()
                .trim_start_matches("upstash:")
                .to_owned();
            at_journal
                .entry(run.clone())
                .or_insert_with(|| counts.get(&id).copied().unwrap_or(0));
        }
        let journaled_ids: HashSet<&str> = done
            .iter()
            .map(|r| r.rsplit('/').next().unwrap().trim_start_matches("upstash:"))
            .collect();
        for id in counts.keys() {
            if !journaled_ids.contains(id.as_str()) {
                unjournaled_sent.insert(id.clone());
            }
        }
        kills.push((done.len(), torn));
    }
    let (code, stdout, stderr) = run_to_end(env, args).await;
    assert_eq!(code, 0, "{stderr}\n{}", stdout.lines().last().unwrap_or_default());
    // No run was sent again after its outcome was journaled.
    let counts = per_run();
    let mut resent_after = Vec::new();
    for (run, n) in &at_journal {
        let id = run.rsplit('/').next().unwrap().trim_start_matches("upstash:");
        let now = counts.get(id).copied().unwrap_or(0);
        assert!(*n >= 1, "{run} journaled done with no request seen");
        if now != *n {
            resent_after.push((run.clone(), *n, now));
        }
    }
    assert!(
        resent_after.is_empty(),
        "sent again after being journaled: {:?}",
        &resent_after[..resent_after.len().min(5)]
    );
    let (done, _) = journal_done(journal);
    assert_eq!(done.len(), RUNS, "every run is journaled done at the end");
    for run in &done {
        assert_eq!(
            *run,
            address(run.rsplit('/').next().unwrap().trim_start_matches("upstash:"))
        );
    }
    (summary(&stdout), stderr, kills, unjournaled_sent.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agno_bulk_survives_ten_sigkills() {
    let t0 = Instant::now();
    let dir = scratch("agno");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("run-{i:05}")).collect();
    let ids_file = dir.join("ids.txt");
    std::fs::write(&ids_file, ids.iter().map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let start = || async {
        let emu = AgnoEmulator::start(AgnoConfig::default().with_cancel_delay(Duration::ZERO))
            .await
            .unwrap();
        emu.seed_many(ids.iter().map(|id| AgnoRun::workflow("wf", id.clone())));
        emu
    };
    let journal = dir.join("job.journal");
    let ids_arg = ids_file.to_str().unwrap();
    let journal_arg = journal.to_str().unwrap();
    // A slow pace, so that ten random kills land while the job runs.
    let args = [
        "--json",
        "bulk",
        "--ids-file",
        ids_arg,
        "--workflow",
        "wf",
        "--concurrency",
        "4",
        "--journal",
        journal_arg,
    ];

    // The reference: the same job, never interrupted, on an emulator of its own.
    let reference = start().await;
    let env = vec![
        ("WFCANCEL_BACKEND", "agno".to_owned()),
        ("AGENTOS_URL", reference.url()),
    ];
    let reference_journal = dir.join("reference.journal");
    let mut ref_args = args;
    ref_args[9] = reference_journal.to_str().unwrap();
    let t_ref = Instant::now();
    let (code, stdout, stderr) = run_to_end(&env, &ref_args).await;
    let ref_secs = t_ref.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{stderr}");
    let want = summary(&stdout);
    assert_eq!(want["requested"], RUNS as u64, "{want}");
    assert_eq!(want["already_done"], 0, "{want}");
    reference.shutdown().await;

    let emu = start().await;
    let env = vec![("WFCANCEL_BACKEND", "agno".to_owned()), ("AGENTOS_URL", emu.url())];
    let (got, _stderr, kills, _) = drill(
        &env,
        &args,
        &journal,
        16,
        (50..500, 0..300),
        || emu.cancel_requests_per_run(),
        |id| format!("agno:workflow/wf/{id}"),
    )
    .await;
    assert_eq!(counts(&got), counts(&want), "resumed {got}\nnever crashed {want}");
    let before_last = kills.last().unwrap().0 as u64;
    assert_eq!(got["already_done"], before_last, "{got}");
    // Every run is cancelled on the emulator, and was sent at least once.
    assert_eq!(emu.active_count(), 0);
    let per_run = emu.cancel_requests_per_run();
    let mut resent = 0;
    for id in &ids {
        assert_eq!(emu.status(id), Some(AgnoStatus::Cancelled), "{id}");
        let n = per_run.get(id).copied().unwrap_or(0);
        assert!(n >= 1, "{id} never sent");
        resent += u64::from(n > 1);
    }
    // Progress between kills: the journal grew.
    assert!(kills.windows(2).all(|w| w[0].0 <= w[1].0), "{kills:?}");
    assert!(kills.iter().filter(|k| k.0 > 0).count() >= KILLS / 2, "{kills:?}");
    eprintln!(
        "agno: {RUNS} runs, reference {ref_secs:.1} s; journaled after each kill {:?} (torn tails: {}); \
         {resent} runs sent twice (in flight at a kill); final run skipped {} as done; total {:.1} s",
        kills.iter().map(|k| k.0).collect::<Vec<_>>(),
        kills.iter().filter(|k| k.1).count(),
        got["already_done"],
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same drill on Upstash, whose bulk by ids answers counts per request: the journal holds a
/// line per batch. A run whose request was in flight at a kill is sent again and answered "not
/// active" (it is cancelled already), so the resumed job counts it there: cancelled + not active
/// equals the uninterrupted job's cancelled, and "not active" stays within the runs in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_bulk_survives_ten_sigkills() {
    let t0 = Instant::now();
    let dir = scratch("upstash");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("wfr_{i:05}")).collect();
    let ids_file = dir.join("ids.txt");
    std::fs::write(&ids_file, ids.iter().map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    // Each request takes 50 ms: a slow enough pace for ten random kills to land mid-job. (A
    // resumed batch first settles the runs in flight at the kill: re-sent, answered 0, then
    // each run's state read, since a count cannot say which runs it covered.)
    let cfg = UpstashConfig::default()
        .with_token("t0ken")
        .with_faults(Faults::none().latency(Duration::from_millis(50)));
    let emu = UpstashEmulator::start(cfg).await.unwrap();
    emu.seed_many(
        ids.iter()
            .map(|id| UpstashRun::new(id.clone(), "https://app.example.com/api/wf")),
    );
    let env = vec![
        ("WFCANCEL_BACKEND", "upstash".to_owned()),
        ("QSTASH_URL", emu.url()),
        ("QSTASH_TOKEN", "t0ken".to_owned()),
    ];
    let journal = dir.join("job.journal");
    let args = [
        "--json",
        "bulk",
        "--ids-file",
        ids_file.to_str().unwrap(),
        "--concurrency",
        "1",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let (got, _stderr, kills, in_flight) = drill(
        &env,
        &args,
        &journal,
        61,
        (20..400, 0..150),
        || emu.cancel_requests_per_run(),
        |id| format!("upstash:{id}"),
    )
    .await;
    assert_eq!(got["failed"], 0, "{got}");
    assert_eq!(got["not_attempted"], 0, "{got}");
    let cancelled = got["cancelled"].as_u64().unwrap();
    let not_active = got["not_active"].as_u64().unwrap();
    // The same as a run that never crashed: every run cancelled, none "not active" (a run whose
    // answer a kill lost is read, and read cancelled, on the re-run: not sent a second time).
    assert_eq!(
        (cancelled, not_active),
        (RUNS as u64, 0),
        "{got}: {in_flight} runs were in flight at a kill"
    );
    assert_eq!(got["already_done"], kills.last().unwrap().0 as u64, "{got}");
    assert_eq!(emu.active_count(), 0);
    for id in &ids {
        assert_eq!(emu.state(id), Some(UpstashState::Canceled), "{id}");
    }
    assert_eq!(emu.cancelled(), RUNS as u64);
    eprintln!(
        "upstash: {RUNS} runs; journaled after each kill {:?} (torn tails: {}); {in_flight} in flight at a kill; \
         final summary cancelled {cancelled}, not active {not_active}; total {:.1} s",
        kills.iter().map(|k| k.0).collect::<Vec<_>>(),
        kills.iter().filter(|k| k.1).count(),
        t0.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--journal` is refused, before any request, where it cannot be made correct, and a journal
/// written for another command is refused (exit 2), not mixed.
#[tokio::test]
async fn journal_refusals() {
    let dir = scratch("refusals");
    let emu = AgnoEmulator::start(AgnoConfig::default()).await.unwrap();
    emu.seed(AgnoRun::workflow("wf", "run-1"));
    let env = vec![("WFCANCEL_BACKEND", "agno".to_owned()), ("AGENTOS_URL", emu.url())];
    let journal = dir.join("j");
    let j = journal.to_str().unwrap();
    let ids = dir.join("ids.txt");
    std::fs::write(&ids, "run-1\n").unwrap();
    let ids = ids.to_str().unwrap();

    let env_up = vec![
        ("WFCANCEL_BACKEND", "upstash".to_owned()),
        ("QSTASH_URL", "http://127.0.0.1:9".to_owned()),
        ("QSTASH_TOKEN", "t".to_owned()),
    ];
    let (code, _, stderr) = run_to_end(&env_up, &["bulk", "--label", "x", "--journal", j]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--journal applies to --ids-file"), "{stderr}");
    assert!(!journal.exists());

    // A dry run reads the journal (none yet) and writes nothing.
    let (code, stdout, stderr) = run_to_end(
        &env,
        &[
            "bulk",
            "--ids-file",
            ids,
            "--workflow",
            "wf",
            "--journal",
            j,
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("/workflows/wf/runs/run-1/cancel"), "{stdout}");
    assert!(!journal.exists());

    let (code, stdout, stderr) = run_to_end(
        &env,
        &["--json", "bulk", "--ids-file", ids, "--workflow", "wf", "--journal", j],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary(&stdout)["requested"], 1);
    assert_eq!(emu.cancel_requests("run-1"), 1);
    // The same command again: nothing sent, the job's counts.
    let (code, stdout, stderr) = run_to_end(
        &env,
        &["--json", "bulk", "--ids-file", ids, "--workflow", "wf", "--journal", j],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let s = summary(&stdout);
    assert_eq!(
        (
            s["requested"].as_u64(),
            s["already_done"].as_u64(),
            s["requests"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(emu.cancel_requests("run-1"), 1);
    // Text output says it too.
    let (_, stdout, stderr) = run_to_end(&env, &["bulk", "--ids-file", ids, "--workflow", "wf", "--journal", j]).await;
    assert!(
        stdout.contains("1 already done by an earlier run (journal)"),
        "{stdout}"
    );
    assert!(stderr.contains("1 runs already done are skipped"), "{stderr}");
    // A line cut by a crash is ignored and cut off before the journal grows again.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
        f.write_all(br#"{"outcome":"requested","run":"agno:workflow/wf/run-"#)
            .unwrap();
    }
    std::fs::write(dir.join("ids.txt"), "run-1\nrun-2\n").unwrap();
    emu.seed(AgnoRun::workflow("wf", "run-2"));
    let (code, stdout, stderr) = run_to_end(
        &env,
        &["--json", "bulk", "--ids-file", ids, "--workflow", "wf", "--journal", j],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ignored an incomplete last line"), "{stderr}");
    let s = summary(&stdout);
    assert_eq!(
        (s["requested"].as_u64(), s["already_done"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.ends_with('\n') && text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{text}"
    );
    // The header and the two outcomes (and the `sending` line before each batch).
    assert_eq!(
        text.lines().filter(|l| !l.starts_with(r#"{"sending""#)).count(),
        3,
        "{text}"
    );
    assert_eq!((emu.cancel_requests("run-1"), emu.cancel_requests("run-2")), (1, 1));

    // Another backend (or URL, or --force) with that journal: refused.
    let other = vec![
        ("WFCANCEL_BACKEND", "agno".to_owned()),
        ("AGENTOS_URL", "http://127.0.0.1:9".to_owned()),
    ];
    let (code, _, stderr) = run_to_end(&other, &["bulk", "--ids-file", ids, "--workflow", "wf", "--journal", j]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("was written for another command"), "{stderr}");
    let (code, _, stderr) = run_to_end(&env_up, &["bulk", "--ids-file", ids, "--journal", j]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("upstash") && stderr.contains("agno"), "{stderr}");
    assert_eq!(emu.cancel_requests("run-1"), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
