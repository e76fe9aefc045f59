//! The shared conformance suite, and the Upstash-only extras (chunking, background bulk actions,
//! faults), against the Upstash emulator.

use std::time::{Duration, UNIX_EPOCH};

use wfcancel_core::conformance::{Harness, SeedRun, run_all};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, RetryPolicy, RunFilter, RunRef, RunState, Selector, WaitOptions, WorkflowCanceller,
    async_trait,
};
use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun, UpstashState};
use wfcancel_upstash::UpstashCanceller;

struct EmulatorHarness<'a> {
    emu: &'a UpstashEmulator,
}

fn upstash_state(s: &RunState) -> UpstashState {
    match s {
        RunState::Completed => UpstashState::Success,
        RunState::Failed => UpstashState::Failed,
        RunState::Cancelled => UpstashState::Canceled,
        // Upstash has one active state: pending, running and paused runs are all RUN_STARTED.
        _ => UpstashState::Started,
    }
}

#[async_trait]
impl Harness for EmulatorHarness<'_> {
    async fn seed(&self, run: SeedRun) -> RunRef {
        let created_ms = run
            .created_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut r = UpstashRun::new(run.id.clone(), run.url).created_at(created_ms);
        // An Upstash run carries one label (the SDK's trigger takes `label?: string`).
        if let Some(label) = run.labels.last() {
            r = r.label(label.clone());
        }
        if let Some(ip) = run.caller_ip {
            r = r.caller_ip(ip);
        }
        if let Some(key) = run.flow_control_key {
            r = r.flow_control_key(key);
        }
        self.emu.seed(r.state(upstash_state(&run.state)));
        RunRef::new(run.id)
    }

    async fn true_state(&self, run: &RunRef) -> Option<RunState> {
        self.emu.state(run.run_id()).map(RunState::from)
    }
}

async fn start(config: UpstashConfig) -> (UpstashEmulator, UpstashCanceller) {
    let emu = UpstashEmulator::start(config).await.unwrap();
    let c = UpstashCanceller::builder()
        .token(emu.token())
        .base_url(emu.url())
        .build()
        .unwrap();
    (emu, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    let (emu, c) = start(UpstashConfig::default()).await;
    let summary = run_all(&c, &EmulatorHarness { emu: &emu }).await;
    println!("{summary}");
    assert!(summary.skipped.is_empty(), "{summary}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_ids_are_chunked_below_the_servers_uri_limit() {
    // The SDK's one-URL form of 10,000 ids is ~490 KB: the server answers 414. Chunked, it works.
    let (emu, _) = start(UpstashConfig::default().with_max_uri_len(4096)).await;
    let c = UpstashCanceller::builder()
        .token(emu.token())
        .base_url(emu.url())
        .max_url_bytes(4000)
        .build()
        .unwrap();
    let ids = emu.seed_random(10_000, Some(7));
    let active_before = emu.active_count() as u64;
    let report = c
        .cancel_many(&Selector::ids(ids.iter().cloned()), &BulkOptions::new().concurrency(8))
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failed.first());
    assert_eq!(report.cancelled, active_before);
    assert_eq!(report.cancelled + report.not_active, 10_000);
    assert_eq!(emu.active_count(), 0);
    assert_eq!(emu.cancelled(), active_before);
    assert!(report.requests_sent > 1);

    // With a limit above the server's, the server's 414 is reported for each chunk.
    let big = UpstashCanceller::builder()
        .token(emu.token())
        .base_url(emu.url())
        .max_url_bytes(64 * 1024)
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let report = big
        .cancel_many(&Selector::ids(ids.iter().take(2000).cloned()), &BulkOptions::new())
        .await
        .unwrap();
    assert!(!report.failed.is_empty());
    assert!(
        report
            .failed
            .iter()
            .all(|f| matches!(f.error, CancelError::Provider { status: Some(414), .. })),
        "{:?}",
        report.failed[0].error
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_bulk_action_is_followed_to_the_end() {
    let (emu, c) = start(UpstashConfig::default().with_bulk_action_delay(Duration::from_millis(100))).await;
    let label = format!("bg-{}", fastrand_suffix());
    for i in 0..250 {
        emu.seed(UpstashRun::new(format!("{label}-{i}"), "https://app.example/wf").label(label.clone()));
    }
    let report = c
        .cancel_many_async(&Selector::filter(RunFilter::new().label(&label)), &BulkOptions::new())
        .await
        .unwrap();
    let action_id = report.action_id.clone().expect("an action id");
    let first = c.bulk_action(&action_id).await.unwrap();
    assert_eq!(first.action_id, action_id);
    let done = c
        .wait_for_bulk_action(
            &action_id,
            WaitOptions::with_timeout(Duration::from_secs(10)).initial_interval(Duration::from_millis(20)),
        )
        .await
        .unwrap();
    assert!(done.is_finished());
    assert_eq!(done.total, Some(250));
    for i in 0..250 {
        assert_eq!(emu.state(&format!("{label}-{i}")), Some(UpstashState::Canceled));
    }
    let err = c.bulk_action("no-such-action").await.unwrap_err();
    assert!(matches!(err, CancelError::NotFound { .. }), "{err}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_unauthenticated_and_aborts_a_bulk() {
    let (emu, _) = start(UpstashConfig::default()).await;
    let c = UpstashCanceller::builder()
        .token("wrong")
        .base_url(emu.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let ids = emu.seed_random(50, Some(1));
    let err = c.cancel(&RunRef::new(ids[0].as_str())).await.unwrap_err();
    assert!(matches!(err, CancelError::Unauthenticated { .. }), "{err}");
    let err = c.status(&RunRef::new(ids[0].as_str())).await.unwrap_err();
    assert!(matches!(err, CancelError::Unauthenticated { .. }), "{err}");
    let report = c
        .cancel_many(&Selector::ids(ids.iter().cloned()), &BulkOptions::new())
        .await
        .unwrap();
    assert!(matches!(report.aborted, Some(CancelError::Unauthenticated { .. })));
    assert_eq!(report.accounted(), 50);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_the_emulator() {
    let (emu, c) = start(UpstashConfig::default()).await;
    emu.seed(UpstashRun::new("wfr_s1", "https://app.example/wf"));
    emu.seed(UpstashRun::new("wfr_s2", "https://app.example/wf").state(UpstashState::Success));
    assert_eq!(c.status(&RunRef::new("wfr_s1")).await.unwrap(), RunState::Running);
    assert_eq!(c.status(&RunRef::new("wfr_s2")).await.unwrap(), RunState::Completed);
    c.cancel(&RunRef::new("wfr_s1")).await.unwrap();
    assert_eq!(c.status(&RunRef::new("wfr_s1")).await.unwrap(), RunState::Cancelled);
    let err = c.status(&RunRef::new("wfr_unknown")).await.unwrap_err();
    assert!(matches!(err, CancelError::NotFound { .. }), "{err}");
    emu.shutdown().await;
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
