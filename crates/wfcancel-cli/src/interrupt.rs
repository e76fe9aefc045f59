//! Ctrl-C (SIGINT) and SIGTERM during `bulk` and a multi-id `cancel`: the first one stops the
//! bulk (no new request starts, requests in flight finish, every line and the summary are
//! printed) and the command exits 130 (SIGINT) or 143 (SIGTERM); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use wfcancel::StopHandle;

use crate::error::Failure;

/// Exit code after a stop by Ctrl-C (128 + SIGINT).
pub const EXIT_SIGINT: u8 = 130;
/// Exit code after a stop by SIGTERM (128 + SIGTERM).
pub const EXIT_SIGTERM: u8 = 143;

/// The stop handle the signals pull, and which signal pulled it.
#[derive(Debug, Clone)]
pub struct Interrupt {
    stop: StopHandle,
    /// The exit code of the first signal received (0: none yet).
    code: Arc<AtomicU8>,
}

impl Interrupt {
    /// Starts listening for both signals now (a signal that arrives later never takes its
    /// default action, which would end the process with nothing printed).
    pub fn install() -> Result<Self, Failure> {
        let me = Interrupt {
            stop: StopHandle::new(),
            code: Arc::new(AtomicU8::new(0)),
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let fail = |what: &str, e: std::io::Error| Failure::config(format!("cannot listen for {what}: {e}"));
            let mut int = signal(SignalKind::interrupt()).map_err(|e| fail("Ctrl-C", e))?;
            let mut term = signal(SignalKind::terminate()).map_err(|e| fail("SIGTERM", e))?;
            let task = me.clone();
            tokio::spawn(async move {
                loop {
                    let code = tokio::select! {
                        _ = int.recv() => EXIT_SIGINT,
                        _ = term.recv() => EXIT_SIGTERM,
                    };
                    task.received(code);
                }
            });
        }
        #[cfg(not(unix))]
        {
            let task = me.clone();
            tokio::spawn(async move {
                loop {
                    if tokio::signal::ctrl_c().await.is_err() {
                        return;
                    }
                    task.received(EXIT_SIGINT);
                }
            });
        }
        Ok(me)
    }

    fn received(&self, code: u8) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            eprintln!(
                "stopping: no new request starts; waiting for the requests in flight, then printing the summary \
                 (press Ctrl-C again to exit at once)"
            );
            self.stop.stop();
        } else {
            // The second signal: exit now, whatever is in flight.
            eprintln!("exiting at once; the summary was not printed");
            std::process::exit(i32::from(self.code.load(Ordering::Acquire)));
        }
    }

    /// The handle to give the bulk.
    pub fn handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The exit code: the signal's when one stopped the command, else `code`.
    pub fn exit_code(&self, code: u8) -> u8 {
        match self.code.load(Ordering::Acquire) {
            0 => code,
            signal => signal,
        }
    }
}
