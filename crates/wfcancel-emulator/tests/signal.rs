//! `ShutdownSignal` registers its handlers when it is made, not when first polled: a signal that
//! arrives in between resolves it instead of killing the process. (Its own test binary: the
//! handlers stay installed for the life of the process.)
#![cfg(unix)]

use std::time::Duration;

use wfcancel_emulator::{AgnoConfig, AgnoEmulator, ShutdownSignal};

fn raise(signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(std::process::id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// One test, so that nothing else in this process receives these signals meanwhile (every
/// installed handler sees each signal).
#[tokio::test]
async fn a_signal_sent_before_the_first_poll_is_not_lost() {
    // No signal: it stays pending.
    let idle = ShutdownSignal::install();
    assert!(tokio::time::timeout(Duration::from_millis(100), idle).await.is_err());

    for signal in ["TERM", "INT"] {
        let stop = ShutdownSignal::install();
        // Work happens between installing and awaiting (the emulator starts, runs are seeded).
        let emu = AgnoEmulator::start(AgnoConfig::default()).await.expect("emulator");
        raise(signal);
        // Without an early install, SIGTERM would have killed this test process right here.
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::time::timeout(Duration::from_secs(5), stop)
            .await
            .unwrap_or_else(|_| panic!("SIG{signal} was not seen"));
        emu.shutdown().await;
    }
    // The free function registers at call time too.
    let stop = wfcancel_emulator::shutdown_signal();
    raise("TERM");
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("SIGTERM was not seen");
}
