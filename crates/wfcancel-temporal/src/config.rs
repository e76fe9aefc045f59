//! Building a [`TemporalCanceller`]: HTTP API address, namespace, API key, identity, HTTP settings.

use wfcancel_core::http::{HttpClient, HttpConfig};
use wfcancel_core::{CancelError, SecretToken, validate_id};

use crate::{BACKEND, TemporalCanceller};

/// The HTTP API base URL used when none is given (the dev server's default `--http-port`).
pub const DEFAULT_BASE_URL: &str = "http://localhost:7243";

/// The namespace used when none is given (as the Temporal CLI).
pub const DEFAULT_NAMESPACE: &str = "default";

/// The environment variable holding the base URL of Temporal's HTTP API, e.g.
/// `https://my-ns.a1b2c.tmprl.cloud` or `http://localhost:7243`. (The Temporal CLI's
/// `TEMPORAL_ADDRESS` is the gRPC `host:port`, another port: it is not read.)
pub const ENV_HTTP_ADDRESS: &str = "TEMPORAL_HTTP_ADDRESS";

/// The environment variable holding the namespace (the Temporal CLI's own).
pub const ENV_NAMESPACE: &str = "TEMPORAL_NAMESPACE";

/// The environment variable holding the API key (the Temporal CLI's own), sent as
/// `Authorization: Bearer <key>`.
pub const ENV_API_KEY: &str = "TEMPORAL_API_KEY";

/// Builds a [`TemporalCanceller`].
///
/// ```
/// use wfcancel_temporal::TemporalCanceller;
/// let c = TemporalCanceller::builder()
///     .base_url("http://127.0.0.1:7243")
///     .namespace("orders")
///     .api_key("secret-key")
///     .identity("billing-service")
///     .build()?;
/// assert_eq!(c.namespace(), "orders");
/// assert!(!format!("{c:?} {c}").contains("secret-key"));
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Clone, Default)]
pub struct TemporalCancellerBuilder {
    base_url: Option<String>,
    namespace: Option<String>,
    api_key: Option<SecretToken>,
    identity: Option<String>,
    http_config: HttpConfig,
}

impl std::fmt::Debug for TemporalCancellerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalCancellerBuilder")
            .field("base_url", &self.base_url)
            .field("namespace", &self.namespace)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("identity", &self.identity)
            .field("http_config", &self.http_config)
            .finish()
    }
}

impl TemporalCancellerBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder filled from the process environment: `TEMPORAL_HTTP_ADDRESS` (default
    /// `http://localhost:7243`), `TEMPORAL_NAMESPACE` (default `default`) and `TEMPORAL_API_KEY`
    /// (optional). Empty values count as unset.
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use wfcancel_temporal::TemporalCancellerBuilder;
    /// let c = TemporalCancellerBuilder::from_env_with(|name| match name {
    ///     "TEMPORAL_HTTP_ADDRESS" => Some("http://127.0.0.1:7243".to_owned()),
    ///     "TEMPORAL_NAMESPACE" => Some("orders".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert_eq!((c.base_url().as_str(), c.namespace()), ("http://127.0.0.1:7243/", "orders"));
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env_with<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        TemporalCancellerBuilder {
            base_url: read(ENV_HTTP_ADDRESS),
            namespace: read(ENV_NAMESPACE).map(|n| n.trim().to_owned()),
            api_key: read(ENV_API_KEY).map(SecretToken::new),
            ..Self::default()
        }
    }

    /// The base URL of Temporal's HTTP API (the frontend's HTTP port, not the gRPC one). Plain
    /// `http://` only for loopback hosts unless [`HttpConfig::allow_insecure_http`] is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The namespace of runs whose [`RunRef`](wfcancel_core::RunRef) names none (its scope),
    /// and of filtered cancels.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// The API key, sent as `Authorization: Bearer <key>` (Temporal Cloud).
    pub fn api_key(mut self, key: impl Into<SecretToken>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The identity recorded with each cancel, terminate and batch operation (default
    /// `wfcancel/<version>`).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }

    /// Timeouts, retries, body cap and the plain-HTTP opt-in.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// Checks the settings and builds the canceller: [`CancelError::Config`] for a malformed
    /// base URL, plain `http://` to a host that is not loopback (unless allowed), a blank key, or
    /// a blank namespace or identity.
    pub fn build(self) -> Result<TemporalCanceller, CancelError> {
        let base = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let http = HttpClient::new(BACKEND, base, self.api_key.as_ref(), self.http_config)?;
        let namespace = self.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        validate_id(BACKEND, "namespace", &namespace)
            .map_err(|e| CancelError::config(BACKEND, format!("the namespace is invalid: {}", e.message())))?;
        let identity = self
            .identity
            .unwrap_or_else(|| concat!("wfcancel/", env!("CARGO_PKG_VERSION")).to_owned());
        validate_id(BACKEND, "identity", &identity)
            .map_err(|e| CancelError::config(BACKEND, format!("the identity is invalid: {}", e.message())))?;
        Ok(TemporalCanceller::from_parts(
            http,
            namespace,
            identity,
            self.api_key.is_some(),
        ))
    }
}
