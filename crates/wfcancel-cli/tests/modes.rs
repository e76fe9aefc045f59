//! `--force` and `--reason`, refused with exit 2 and no request by a backend that cannot honour
//! them (Upstash and Agno have graceful cancels only, and record no reason).

use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_the_backend_lacks_is_refused_before_any_request() {
    let emu = UpstashEmulator::start(UpstashConfig::default()).await.unwrap();
    emu.seed(UpstashRun::new("wfr_1", "https://x/wf"));
    emu.reset_stats();
    for args in [
        vec!["cancel", "wfr_1", "--force"],
        vec!["cancel", "wfr_1", "--reason", "rollback"],
        vec!["cancel", "wfr_1", "wfr_2", "--force"],
        vec!["bulk", "--label", "x", "--force"],
        vec!["bulk", "--ids-file", "-", "--reason", "rollback"],
    ] {
        let out = tokio::process::Command::new(BIN)
            .env_clear()
            .env("WFCANCEL_BACKEND", "upstash")
            .env("QSTASH_URL", emu.url())
            .env("QSTASH_TOKEN", emu.token())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("upstash"), "names the backend: {stderr}");
    }
    assert_eq!(emu.requests(), 0);
    assert_eq!(emu.active_count(), 1);
}
