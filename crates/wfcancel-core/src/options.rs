//! How to cancel: gracefully or by force, and why.

use crate::{CancelError, Capabilities};

/// How a run is stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelMode {
    /// The run may clean up (Temporal cancel, Restate cancel, Upstash, Agno, LangGraph
    /// interrupt). The default.
    #[default]
    Graceful,
    /// Stop now, no cleanup (Temporal terminate, Restate kill).
    Forced,
}

impl CancelMode {
    /// `"graceful"` or `"forced"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelMode::Graceful => "graceful",
            CancelMode::Forced => "forced",
        }
    }
}

impl std::fmt::Display for CancelMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to cancel one run (or each run of a bulk): the mode, and a reason recorded where the
/// provider records one. A mode or a reason the backend cannot honour is refused
/// ([`CancelError::Unsupported`]) before any request — never swapped for another.
///
/// ```
/// use wfcancel_core::{CancelMode, CancelOptions};
/// let opts = CancelOptions::forced().reason("deploy 4711 rolled back");
/// assert_eq!(opts.mode, CancelMode::Forced);
/// assert_eq!(CancelOptions::default().mode, CancelMode::Graceful);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CancelOptions {
    /// Graceful (default) or forced.
    pub mode: CancelMode,
    /// Why, recorded with the cancel where the provider records one.
    pub reason: Option<String>,
}

impl CancelOptions {
    /// Graceful, no reason: what [`crate::WorkflowCanceller::cancel`] uses.
    pub fn graceful() -> Self {
        Self::default()
    }

    /// Forced, no reason.
    pub fn forced() -> Self {
        CancelOptions {
            mode: CancelMode::Forced,
            reason: None,
        }
    }

    /// Another mode.
    pub fn mode(mut self, mode: CancelMode) -> Self {
        self.mode = mode;
        self
    }

    /// A reason, recorded with the cancel.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Checks the options against what the backend can do: its modes, and whether a reason
    /// reaches the provider; a reason must not be blank or hold control characters other than
    /// newlines and tabs. Core calls this before the backend sees the call.
    pub fn check(&self, backend: &'static str, caps: &Capabilities) -> Result<(), CancelError> {
        let supported = match self.mode {
            CancelMode::Graceful => caps.graceful,
            CancelMode::Forced => caps.forced,
        };
        if !supported {
            return Err(CancelError::unsupported(
                backend,
                format!("a {} cancel: {backend} has no such mode", self.mode),
            ));
        }
        if let Some(reason) = &self.reason {
            if !caps.reason {
                return Err(CancelError::unsupported(
                    backend,
                    format!("a reason: {backend} records none (it would be dropped)"),
                ));
            }
            if reason.trim().is_empty() {
                return Err(CancelError::invalid_input(backend, "reason", "must not be blank"));
            }
            if reason.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(CancelError::invalid_input(
                    backend,
                    "reason",
                    "must not contain control characters",
                ));
            }
        }
        Ok(())
    }
}
