//! Building a [`LangGraphCanceller`]: deployment URL, API key, HTTP settings, environment.

use wfcancel_core::http::{HttpClient, HttpConfig};
use wfcancel_core::{CancelError, SecretToken};

use crate::{BACKEND, LangGraphCanceller};

/// The deployment URL used when none is given: `langgraph dev`'s default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:2024";

/// The environment variable holding the deployment URL: the name the LangGraph server itself
/// reads for its public URL (`langgraph dev` sets it to its local address). LangGraph's Python
/// SDK takes the URL as an argument only; it reads no variable for it.
pub const ENV_URL: &str = "LANGGRAPH_API_URL";

/// The environment variables holding the API key, in the order LangGraph's own SDK reads them
/// (`langgraph_sdk`'s `_get_api_key`): the first that is set and not blank wins. The key is sent
/// as `x-api-key: <key>`.
pub const ENV_API_KEYS: [&str; 3] = ["LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"];

/// The header that carries the API key (LangGraph Platform's, as its SDK sends it).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Builds a [`LangGraphCanceller`].
///
/// ```
/// use wfcancel_langgraph::LangGraphCanceller;
/// let c = LangGraphCanceller::builder()
///     .base_url("https://my-deployment.us.langgraph.app")
///     .api_key("lsv2_sk_secret")
///     .build()?;
/// assert!(c.has_api_key());
/// assert!(!format!("{c:?} {c}").contains("lsv2_sk_secret"));
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Clone, Default)]
pub struct LangGraphCancellerBuilder {
    base_url: Option<String>,
    api_key: Option<SecretToken>,
    http_config: HttpConfig,
}

impl std::fmt::Debug for LangGraphCancellerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangGraphCancellerBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("http_config", &self.http_config)
            .finish()
    }
}

impl LangGraphCancellerBuilder {
    /// A builder with every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder filled from the process environment: `LANGGRAPH_API_URL` (default
    /// `http://127.0.0.1:2024`) and the API key from `LANGGRAPH_API_KEY`, else
    /// `LANGSMITH_API_KEY`, else `LANGCHAIN_API_KEY` (optional: a local `langgraph dev` needs
    /// none). Blank values count as unset; surrounding quotes of a key are dropped, as the SDK
    /// does.
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use wfcancel_langgraph::LangGraphCancellerBuilder;
    /// let c = LangGraphCancellerBuilder::from_env_with(|name| match name {
    ///     "LANGGRAPH_API_URL" => Some("http://127.0.0.1:8123".to_owned()),
    ///     "LANGSMITH_API_KEY" => Some("key".to_owned()),
    ///     _ => None,
    /// })
    /// .build()?;
    /// assert_eq!(c.base_url().as_str(), "http://127.0.0.1:8123/");
    /// assert!(c.has_api_key());
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn from_env_with<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base_url = read(ENV_URL).map(|u| u.trim().to_owned());
        let api_key = ENV_API_KEYS
            .iter()
            .find_map(|name| read(name))
            .map(|k| SecretToken::new(k.trim().trim_matches('"').trim_matches('\'')));
        LangGraphCancellerBuilder {
            base_url,
            api_key,
            ..Self::default()
        }
    }

    /// The deployment URL (`https://….langgraph.app`, or a local `langgraph dev`). Plain
    /// `http://` only for loopback hosts unless [`HttpConfig::allow_insecure_http`] is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key (a LangSmith key), sent as `x-api-key: <key>`.
    pub fn api_key(mut self, key: impl Into<SecretToken>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Timeouts, retries, body cap and the plain-HTTP opt-in.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// Checks the settings and builds the canceller: [`CancelError::Config`] for a malformed
    /// URL, plain `http://` to a host that is not loopback (unless allowed), or a blank key.
    pub fn build(self) -> Result<LangGraphCanceller, CancelError> {
        let base = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let http =
            HttpClient::with_token_header(BACKEND, base, self.api_key.as_ref(), API_KEY_HEADER, self.http_config)?;
        Ok(LangGraphCanceller::from_parts(http, self.api_key.is_some()))
    }
}
