//! Building an [`AgnoCanceller`]: base URL, optional security key, HTTP settings, environment.

use wfcancel_core::http::{HttpClient, HttpConfig};
use wfcancel_core::{CancelError, SecretToken};

use crate::{AgnoCanceller, BACKEND};

/// The base URL used when none is given (AgentOS's default port on this machine).
pub const DEFAULT_BASE_URL: &str = "http://localhost:7777";

/// The environment variable holding the AgentOS base URL.
pub const ENV_URL: &str = "AGENTOS_URL";

/// The environment variable holding the AgentOS security key (the server reads the same name).
pub const ENV_SECURITY_KEY: &str = "OS_SECURITY_KEY";

/// Builds an [`AgnoCanceller`].
///
/// Every setting is optional: the base URL defaults to [`DEFAULT_BASE_URL`], and without a
/// security key no `Authorization` header is sent (an AgentOS started without `OS_SECURITY_KEY`
/// needs none).
///
/// ```
/// use std::time::Duration;
/// use wfcancel_agno::AgnoCanceller;
/// use wfcancel_core::http::HttpConfig;
///
/// let canceller = AgnoCanceller::builder()
///     .base_url("http://127.0.0.1:7777")
///     .security_key("my-os-key")
///     .http_config(HttpConfig::default().request_timeout(Duration::from_secs(10)))
///     .build()?;
/// assert_eq!(canceller.base_url().as_str(), "http://127.0.0.1:7777/");
/// // The key never shows.
/// assert!(!format!("{canceller:?} {canceller}").contains("my-os-key"));
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Clone, Default)]
pub struct AgnoCancellerBuilder {
    base_url: Option<String>,
    security_key: Option<SecretToken>,
    http_config: HttpConfig,
    check_state: bool,
}

impl std::fmt::Debug for AgnoCancellerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgnoCancellerBuilder")
            .field("base_url", &self.base_url)
            .field("security_key", &self.security_key.as_ref().map(|_| "***"))
            .field("http_config", &self.http_config)
            .field("check_state_before_cancel", &self.check_state)
            .finish()
    }
}

impl AgnoCancellerBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder filled from the process environment: `AGENTOS_URL` (default
    /// `http://localhost:7777`) and `OS_SECURITY_KEY` (optional). Empty values count as unset.
    ///
    /// ```no_run
    /// let canceller = wfcancel_agno::AgnoCancellerBuilder::from_env().build()?;
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` instead of the
    /// process environment (for tests, or configuration kept elsewhere).
    ///
    /// ```
    /// use wfcancel_agno::AgnoCancellerBuilder;
    /// let c = AgnoCancellerBuilder::from_env_with(|name| match name {
    ///     "AGENTOS_URL" => Some("http://127.0.0.1:8000".to_owned()),
    ///     "OS_SECURITY_KEY" => Some("k".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert_eq!(c.base_url().as_str(), "http://127.0.0.1:8000/");
    /// assert!(c.has_security_key());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env_with<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        AgnoCancellerBuilder {
            base_url: read(ENV_URL),
            security_key: read(ENV_SECURITY_KEY).map(SecretToken::new),
            ..Self::default()
        }
    }

    /// The AgentOS base URL, e.g. `https://agentos.example.com` or `http://localhost:7777`
    /// (a path prefix such as `https://example.com/agentos` is kept). Plain `http://` is accepted
    /// only for loopback hosts unless [`HttpConfig::allow_insecure_http`] is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The AgentOS security key (`OS_SECURITY_KEY` on the server), sent as
    /// `Authorization: Bearer <key>`. Takes a [`SecretToken`], a `&str` or a `String`.
    pub fn security_key(mut self, key: impl Into<SecretToken>) -> Self {
        self.security_key = Some(key.into());
        self
    }

    /// Sends no `Authorization` header (undoes [`security_key`](Self::security_key) or a key
    /// read from the environment).
    pub fn without_security_key(mut self) -> Self {
        self.security_key = None;
        self
    }

    /// Timeouts, retries, body cap and the plain-HTTP opt-in.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// Whether a cancel first reads the run's state when the [`RunRef`](wfcancel_core::RunRef)
    /// carries its session (default: no: one `POST` per cancel, as fast as the API allows).
    ///
    /// AgentOS answers a cancel with `200 {}` whether the run is running, finished or unknown.
    /// With the check, a cancel can answer [`NotActive`](wfcancel_core::CancelOutcome::NotActive)
    /// as the portable contract wants, but only when the status read positively says the run is
    /// over (`COMPLETED`, `ERROR`, `CANCELLED`, `REGENERATED`): such a run is not sent a cancel at
    /// all. Any other answer to the read leaves the decision to the cancel, whose own outcome is
    /// returned: in particular `404 Run not found`, which AgentOS answers for an unknown run but
    /// also for a wrong `session_id` or a run of another owner, while the cancel intent is keyed
    /// by run id alone and does stop the run. Without a session, or with the check off (the
    /// default), a cancel is one `POST` and a 200 is always `Requested`. The check is one `GET`,
    /// never retried; if it fails, the cancel goes ahead as if it had not been made.
    pub fn check_state_before_cancel(mut self, on: bool) -> Self {
        self.check_state = on;
        self
    }

    /// Checks the settings and builds the canceller (one pooled HTTP client, reused by every call).
    ///
    /// Fails with [`CancelError::Config`] for a malformed base URL, plain `http://` to a host that
    /// is not loopback (unless allowed), or a blank key.
    pub fn build(self) -> Result<AgnoCanceller, CancelError> {
        let base = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let http = HttpClient::new(BACKEND, base, self.security_key.as_ref(), self.http_config)?;
        Ok(AgnoCanceller::from_parts(
            http,
            self.security_key.is_some(),
            self.check_state,
        ))
    }
}
