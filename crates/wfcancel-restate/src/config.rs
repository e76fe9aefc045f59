//! Building a [`RestateCanceller`]: the admin API's base URL, an optional bearer token, HTTP
//! settings.

use wfcancel_core::http::{HttpClient, HttpConfig};
use wfcancel_core::{CancelError, SecretToken};

use crate::{BACKEND, RestateCanceller};

/// The admin API base URL used when none is given (the server's default admin port on the
/// Restate CLI's default host).
pub const DEFAULT_ADMIN_URL: &str = "http://localhost:9070";

/// The admin API's default port, used with [`ENV_HOST`] (as the Restate CLI does).
pub const DEFAULT_ADMIN_PORT: u16 = 9070;

/// The environment variable holding the admin API's full base URL, scheme, host and port (the
/// Restate CLI's own), e.g. `http://localhost:9070` or a Restate Cloud environment's admin URL.
pub const ENV_ADMIN_URL: &str = "RESTATE_ADMIN_URL";

/// The environment variable holding the bearer token (the Restate CLI's own): a Restate Cloud
/// API key, sent as `Authorization: Bearer <token>`. (The open-source server has no
/// authentication and ignores it.)
pub const ENV_AUTH_TOKEN: &str = "RESTATE_AUTH_TOKEN";

/// The environment variable holding the server's host name (the Restate CLI's own), used with
/// port 9070 when [`ENV_ADMIN_URL`] is not set.
pub const ENV_HOST: &str = "RESTATE_HOST";

/// The environment variable holding the scheme (`http` or `https`, the Restate CLI's own) used
/// with [`ENV_HOST`].
pub const ENV_HOST_SCHEME: &str = "RESTATE_HOST_SCHEME";

/// Builds a [`RestateCanceller`].
///
/// ```
/// use wfcancel_restate::RestateCanceller;
/// let c = RestateCanceller::builder()
///     .admin_url("http://127.0.0.1:9070")
///     .auth_token("secret-key")
///     .build()?;
/// assert_eq!(c.admin_url().as_str(), "http://127.0.0.1:9070/");
/// assert!(!format!("{c:?} {c}").contains("secret-key"));
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Clone, Default)]
pub struct RestateCancellerBuilder {
    admin_url: Option<String>,
    auth_token: Option<SecretToken>,
    http_config: HttpConfig,
}

impl std::fmt::Debug for RestateCancellerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestateCancellerBuilder")
            .field("admin_url", &self.admin_url)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "***"))
            .field("http_config", &self.http_config)
            .finish()
    }
}

impl RestateCancellerBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder filled from the process environment, with the names the Restate CLI reads:
    /// `RESTATE_ADMIN_URL` (the admin API's base URL); without it, `RESTATE_HOST_SCHEME`
    /// (default `http`) and `RESTATE_HOST` (default `localhost`) with port 9070; and
    /// `RESTATE_AUTH_TOKEN` (optional). Empty values count as unset.
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use wfcancel_restate::RestateCancellerBuilder;
    /// let c = RestateCancellerBuilder::from_env_with(|name| match name {
    ///     "RESTATE_HOST" => Some("restate.internal".to_owned()),
    ///     "RESTATE_HOST_SCHEME" => Some("https".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert_eq!(c.admin_url().as_str(), "https://restate.internal:9070/");
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env_with<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let admin_url = read(ENV_ADMIN_URL).map(|u| u.trim().to_owned()).or_else(|| {
            let host = read(ENV_HOST);
            let scheme = read(ENV_HOST_SCHEME);
            (host.is_some() || scheme.is_some()).then(|| {
                format!(
                    "{}://{}:{DEFAULT_ADMIN_PORT}",
                    scheme.as_deref().map_or("http", str::trim),
                    host.as_deref().map_or("localhost", str::trim)
                )
            })
        });
        RestateCancellerBuilder {
            admin_url,
            auth_token: read(ENV_AUTH_TOKEN).map(SecretToken::new),
            ..Self::default()
        }
    }

    /// The base URL of Restate's admin API (port 9070 by default; not the ingress). Plain
    /// `http://` only for loopback hosts unless [`HttpConfig::allow_insecure_http`] is set.
    pub fn admin_url(mut self, url: impl Into<String>) -> Self {
        self.admin_url = Some(url.into());
        self
    }

    /// The bearer token, sent as `Authorization: Bearer <token>` (a Restate Cloud API key).
    pub fn auth_token(mut self, token: impl Into<SecretToken>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Timeouts, retries, body cap and the plain-HTTP opt-in.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// Checks the settings and builds the canceller: [`CancelError::Config`] for a malformed
    /// admin URL, plain `http://` to a host that is not loopback (unless allowed), or a blank
    /// token.
    pub fn build(self) -> Result<RestateCanceller, CancelError> {
        let base = self.admin_url.as_deref().unwrap_or(DEFAULT_ADMIN_URL);
        let http = HttpClient::new(BACKEND, base, self.auth_token.as_ref(), self.http_config)?;
        Ok(RestateCanceller::from_parts(http, self.auth_token.is_some()))
    }
}
