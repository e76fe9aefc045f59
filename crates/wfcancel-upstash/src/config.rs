//! Configuration: the builder, regions and the environment the official SDK reads.

use std::str::FromStr;

use wfcancel_core::http::{HttpClient, HttpConfig};
use wfcancel_core::{CancelError, ConfigProblem, ConfigSetting, SecretToken};

use crate::{BACKEND, UpstashCanceller};

/// Default base URL (the EU region), as in the official SDK.
pub const DEFAULT_BASE_URL: &str = "https://qstash.upstash.io";
/// Base URL of the US region (`us-east-1`).
pub const US_EAST_1_BASE_URL: &str = "https://qstash-us-east-1.upstash.io";
/// Default limit on the length of one request URL: bulk cancels by id are split into chunks
/// whose URL stays within it (8 KiB, which ordinary HTTP servers and proxies accept).
pub const DEFAULT_MAX_URL_BYTES: usize = 8 * 1024;

/// An Upstash region, as `QSTASH_REGION` names it.
///
/// Parsing follows the official SDK: `-` becomes `_`, then upper case; only `EU_CENTRAL_1` and
/// `US_EAST_1` are known.
///
/// ```
/// use wfcancel_upstash::Region;
/// assert_eq!("us-east-1".parse::<Region>().unwrap(), Region::UsEast1);
/// assert_eq!(Region::EuCentral1.as_str(), "EU_CENTRAL_1");
/// assert!("mars-1".parse::<Region>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// `EU_CENTRAL_1` (the default region, `https://qstash.upstash.io`).
    EuCentral1,
    /// `US_EAST_1` (`https://qstash-us-east-1.upstash.io`).
    UsEast1,
}

impl Region {
    /// The name as the SDK spells it, which is also the prefix of the regional variables
    /// (`US_EAST_1_QSTASH_TOKEN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Region::EuCentral1 => "EU_CENTRAL_1",
            Region::UsEast1 => "US_EAST_1",
        }
    }

    /// The region's public base URL, used when no base URL is given.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Region::EuCentral1 => DEFAULT_BASE_URL,
            Region::UsEast1 => US_EAST_1_BASE_URL,
        }
    }

    /// Parses a region name the way the SDK does; `None` when it is not a known region.
    pub fn parse(name: &str) -> Option<Region> {
        match name.trim().replace('-', "_").to_ascii_uppercase().as_str() {
            "EU_CENTRAL_1" => Some(Region::EuCentral1),
            "US_EAST_1" => Some(Region::UsEast1),
            _ => None,
        }
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = CancelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s).ok_or_else(|| {
            CancelError::config_of(
                BACKEND,
                ConfigSetting::Scope,
                ConfigProblem::Invalid,
                format!("unknown Upstash region {s:?}; expected EU_CENTRAL_1 or US_EAST_1"),
            )
        })
    }
}

/// Builds an [`UpstashCanceller`].
///
/// ```
/// use wfcancel_upstash::UpstashCanceller;
/// let c = UpstashCanceller::builder()
///     .token("qstash-token")
///     .base_url("http://127.0.0.1:8080/")
///     .max_url_bytes(16 * 1024)
///     .build()
///     .unwrap();
/// assert_eq!(c.base_url().as_str(), "http://127.0.0.1:8080/");
/// assert!(!format!("{c:?}").contains("qstash-token"));
/// ```
#[derive(Clone)]
pub struct UpstashBuilder {
    token: Option<SecretToken>,
    base_url: Option<String>,
    region: Option<String>,
    http: HttpConfig,
    max_url_bytes: usize,
    background: bool,
    /// Where the token was expected to come from, for the "missing token" message.
    token_source: String,
}

impl Default for UpstashBuilder {
    fn default() -> Self {
        UpstashBuilder {
            token: None,
            base_url: None,
            region: None,
            http: HttpConfig::default(),
            max_url_bytes: DEFAULT_MAX_URL_BYTES,
            background: false,
            token_source: "QSTASH_TOKEN".to_owned(),
        }
    }
}

impl std::fmt::Debug for UpstashBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstashBuilder")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("region", &self.region)
            .field("http", &self.http)
            .field("max_url_bytes", &self.max_url_bytes)
            .field("background_bulk_actions", &self.background)
            .finish()
    }
}

/// What the environment yields, following the official SDK (`@upstash/qstash` 2.12.0,
/// `getClientCredentials`).
struct EnvCredentials {
    base_url: Option<String>,
    token: Option<String>,
    region: Option<Region>,
    token_source: String,
}

fn read_env(get: &dyn Fn(&str) -> Option<String>) -> EnvCredentials {
    // Empty values count as unset (the SDK tests them for truthiness).
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let raw_region = var("QSTASH_REGION");
    let region = raw_region.as_deref().and_then(|r| {
        let parsed = Region::parse(r);
        if parsed.is_none() {
            tracing::warn!(
                backend = BACKEND,
                region = r,
                "QSTASH_REGION is not EU_CENTRAL_1 or US_EAST_1; ignoring it (as the official SDK does)"
            );
        }
        parsed
    });
    if let Some(region) = region {
        let url = var(&format!("{region}_QSTASH_URL"));
        let token = var(&format!("{region}_QSTASH_TOKEN"));
        if let (Some(url), Some(token)) = (url, token) {
            return EnvCredentials {
                base_url: Some(url),
                token: Some(token),
                region: Some(region),
                token_source: format!("{region}_QSTASH_TOKEN"),
            };
        }
        tracing::warn!(
            backend = BACKEND,
            region = region.as_str(),
            "QSTASH_REGION is set but {region}_QSTASH_URL and {region}_QSTASH_TOKEN are not both set; \
             falling back to QSTASH_URL and QSTASH_TOKEN (as the official SDK does)"
        );
        return EnvCredentials {
            base_url: var("QSTASH_URL"),
            token: var("QSTASH_TOKEN"),
            region: None,
            token_source: format!("{region}_QSTASH_URL and {region}_QSTASH_TOKEN, or QSTASH_TOKEN"),
        };
    }
    EnvCredentials {
        base_url: var("QSTASH_URL"),
        token: var("QSTASH_TOKEN"),
        region: None,
        token_source: "QSTASH_TOKEN".to_owned(),
    }
}

impl UpstashBuilder {
    /// A builder with the defaults: base URL `https://qstash.upstash.io`, no token,
    /// [`HttpConfig::default`], URLs up to [`DEFAULT_MAX_URL_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from the process environment, as the official SDK reads it:
    /// `QSTASH_URL` and `QSTASH_TOKEN`; when `QSTASH_REGION` names a known region (`EU_CENTRAL_1`,
    /// `US_EAST_1`; `-` becomes `_`, case is ignored) and both `{REGION}_QSTASH_URL` and
    /// `{REGION}_QSTASH_TOKEN` are set, those two instead. Empty values count as unset.
    /// A missing token is reported by [`build`](Self::build), naming the variable.
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` instead of the
    /// process environment (for tests, or configuration from elsewhere).
    ///
    /// ```
    /// use wfcancel_upstash::{Region, UpstashBuilder};
    /// let env = |name: &str| match name {
    ///     "QSTASH_REGION" => Some("us-east-1".to_owned()),
    ///     "US_EAST_1_QSTASH_URL" => Some("https://qstash-us-east-1.upstash.io".to_owned()),
    ///     "US_EAST_1_QSTASH_TOKEN" => Some("us-token".to_owned()),
    ///     "QSTASH_TOKEN" => Some("eu-token".to_owned()),
    ///     _ => None,
    /// };
    /// let c = UpstashBuilder::from_env_with(env).build().unwrap();
    /// assert_eq!(c.region(), Some(Region::UsEast1));
    /// assert_eq!(c.base_url().as_str(), "https://qstash-us-east-1.upstash.io/");
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Self {
        let env = read_env(&get);
        let mut b = Self::new();
        b.token = env.token.map(SecretToken::from);
        b.base_url = env.base_url;
        b.region = env.region.map(|r| r.as_str().to_owned());
        b.token_source = env.token_source;
        b
    }

    /// The QStash token (sent as `Authorization: Bearer <token>`, never in the URL).
    pub fn token(mut self, token: impl Into<SecretToken>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The base URL (default `https://qstash.upstash.io`, or the region's when a region is set).
    /// A trailing `/` is stripped; plain `http://` is accepted only for loopback hosts unless
    /// [`HttpConfig::allow_insecure_http`] is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The region (`EU_CENTRAL_1`, `US_EAST_1`, or `eu-central-1`, `us-east-1`). It chooses the
    /// base URL when none is given; an unknown name fails [`build`](Self::build).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Timeouts, retries, body cap and the `http://` opt-in.
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http = config;
        self
    }

    /// The longest request URL sent (default [`DEFAULT_MAX_URL_BYTES`]). Bulk cancels by id are
    /// split into chunks whose URL stays within it.
    pub fn max_url_bytes(mut self, n: usize) -> Self {
        self.max_url_bytes = n;
        self
    }

    /// Run filtered bulk cancels as background bulk actions (`async=true`, no `count`): the
    /// server answers an action id at once (in [`wfcancel_core::BulkReport::action_id`]) and
    /// cancels every match in the background; follow it with [`UpstashCanceller::bulk_action`]
    /// or [`UpstashCanceller::wait_for_bulk_action`]. Default off. Bulk cancels by id and of all
    /// runs never run in the background (Upstash's bulk actions are filter-based).
    pub fn background_bulk_actions(mut self, on: bool) -> Self {
        self.background = on;
        self
    }

    /// Builds the canceller: checks the token, region, base URL and URL limit, and builds the
    /// HTTP client once.
    pub fn build(self) -> Result<UpstashCanceller, CancelError> {
        let token = match self.token {
            Some(t) if !t.is_blank() => t,
            Some(_) => {
                return Err(CancelError::config_of(
                    BACKEND,
                    ConfigSetting::Token,
                    ConfigProblem::Missing,
                    format!(
                        "the token is empty; set {} or pass a token to the builder",
                        self.token_source
                    ),
                ));
            }
            None => {
                return Err(CancelError::config_of(
                    BACKEND,
                    ConfigSetting::Token,
                    ConfigProblem::Missing,
                    format!("no token; set {} or pass a token to the builder", self.token_source),
                ));
            }
        };
        let region = self.region.as_deref().map(str::parse::<Region>).transpose()?;
        let base_url = match (&self.base_url, region) {
            (Some(url), _) => canonical_base_url(url),
            (None, Some(region)) => region.default_base_url().to_owned(),
            (None, None) => DEFAULT_BASE_URL.to_owned(),
        };
        let http = HttpClient::new(BACKEND, &base_url, Some(&token), self.http)?;
        UpstashCanceller::from_parts(http, region, self.max_url_bytes, self.background)
    }
}

/// The SDK maps the old publish URL back to the base URL; so do we.
fn canonical_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed == "https://qstash.upstash.io/v2/publish" {
        DEFAULT_BASE_URL.to_owned()
    } else {
        url.to_owned()
    }
}
