//! The one error type shared by every backend.

use std::sync::Arc;
use std::time::Duration;

/// What a [`CancelError::NotFound`] could not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotFoundKind {
    /// The workflow (definition) that owns the run.
    Workflow,
    /// The agent that owns the run.
    Agent,
    /// The team that owns the run.
    Team,
    /// The run itself.
    Run,
    /// A background bulk action.
    Action,
    /// The provider did not say.
    Other,
}

impl NotFoundKind {
    /// Lower-case name, e.g. `"workflow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotFoundKind::Workflow => "workflow",
            NotFoundKind::Agent => "agent",
            NotFoundKind::Team => "team",
            NotFoundKind::Run => "run",
            NotFoundKind::Action => "bulk action",
            NotFoundKind::Other => "resource",
        }
    }
}

impl std::fmt::Display for NotFoundKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which limit a [`CancelError::RateLimited`] hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitKind {
    /// A short per-second burst limit (Upstash `Burst-RateLimit-*`).
    Burst,
    /// A daily or longer quota window (Upstash `RateLimit-*`).
    Daily,
    /// The provider did not say which.
    Unspecified,
}

impl std::fmt::Display for RateLimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RateLimitKind::Burst => "burst",
            RateLimitKind::Daily => "daily",
            RateLimitKind::Unspecified => "unspecified",
        })
    }
}

/// A stable, copyable name for each [`CancelError`] variant (useful in logs, metrics and JSON output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`CancelError::InvalidInput`].
    InvalidInput,
    /// See [`CancelError::Config`].
    Config,
    /// See [`CancelError::NotFound`].
    NotFound,
    /// See [`CancelError::Unauthenticated`].
    Unauthenticated,
    /// See [`CancelError::PermissionDenied`].
    PermissionDenied,
    /// See [`CancelError::InvalidRequest`].
    InvalidRequest,
    /// See [`CancelError::RateLimited`].
    RateLimited,
    /// See [`CancelError::QuotaExceeded`].
    QuotaExceeded,
    /// See [`CancelError::Unsupported`].
    Unsupported,
    /// See [`CancelError::Provider`].
    Provider,
    /// See [`CancelError::Timeout`].
    Timeout,
    /// See [`CancelError::Transport`].
    Transport,
    /// See [`CancelError::Decode`].
    Decode,
    /// See [`CancelError::Interrupted`].
    Interrupted,
}

impl ErrorKind {
    /// snake_case name, e.g. `"invalid_input"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Config => "config",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Provider => "provider",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The setting a [`CancelError::Config`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSetting {
    /// Which backend to use (`WFCANCEL_BACKEND`, a Cargo feature).
    Backend,
    /// The provider's base URL (`QSTASH_URL`, `AGENTOS_URL`, …).
    BaseUrl,
    /// The token or API key (`QSTASH_TOKEN`, `OS_SECURITY_KEY`, …).
    Token,
    /// The scope runs live in (a Temporal namespace, an Upstash region).
    Scope,
    /// A limit or HTTP setting (timeouts, retries, URL and body caps, the HTTP client itself).
    Http,
    /// Another setting, named in the message.
    Other,
}

impl ConfigSetting {
    /// snake_case name, e.g. `"base_url"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSetting::Backend => "backend",
            ConfigSetting::BaseUrl => "base_url",
            ConfigSetting::Token => "token",
            ConfigSetting::Scope => "scope",
            ConfigSetting::Http => "http",
            ConfigSetting::Other => "other",
        }
    }
}

/// What is wrong with a setting, in a [`CancelError::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Not set, or set to nothing (an empty or blank token).
    Missing,
    /// Set to a value that cannot be used (an unparsable URL, a token with characters no HTTP
    /// header may hold, two backends at once).
    Invalid,
    /// Plain `http://` to a host that is not loopback, which sends the token unencrypted; allowed
    /// only on request (`HttpConfig::allow_insecure_http`).
    InsecureHttp,
    /// The backend it names is not compiled in (its Cargo feature is off).
    NotCompiledIn,
}

impl ConfigProblem {
    /// snake_case name, e.g. `"insecure_http"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigProblem::Missing => "missing",
            ConfigProblem::Invalid => "invalid",
            ConfigProblem::InsecureHttp => "insecure_http",
            ConfigProblem::NotCompiledIn => "not_compiled_in",
        }
    }
}

/// The underlying error of a [`CancelError`] ([`std::error::Error::source`]): the HTTP client's
/// error for a transport failure or a timeout, the JSON parser's for an answer that could not be
/// decoded. Shared, so a `CancelError` stays `Clone`.
///
/// It never takes part in equality: two errors that say the same are equal whatever their
/// sources. Errors put here hold no token (the HTTP client's errors are kept without their URL,
/// and tokens travel only in headers).
#[derive(Clone)]
pub struct ErrorSource(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl ErrorSource {
    /// Wraps an error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ErrorSource(Arc::new(e))
    }

    /// The error inside, for `downcast_ref`.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

/// Always equal: a source never decides whether two errors are the same.
impl PartialEq for ErrorSource {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ErrorSource {}

/// Every way a cancel, bulk cancel or status call can fail, for every backend.
///
/// Each variant carries the name of the backend that produced it (`"upstash"`, `"agno"`,
/// `"memory"`, …). Its `Display` is one line a person can act on. No variant ever holds a token.
///
/// Variants and their fields may grow: match with `..`, build with the constructors.
///
/// ```
/// use wfcancel_core::{CancelError, ErrorKind};
/// let e = CancelError::timeout("memory", "no answer within 5s");
/// assert!(matches!(&e, CancelError::Timeout { message, .. } if message.contains("5s")));
/// assert_eq!((e.kind(), e.is_retryable()), (ErrorKind::Timeout, true));
/// ```
///
/// A literal cannot be written outside this crate, so a new field is not a breaking change:
///
/// ```compile_fail
/// let e = wfcancel_core::CancelError::Timeout { backend: "memory", message: String::new(), source: None };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelError {
    /// The caller's input was rejected before any request was sent (empty id, bad filter, …).
    /// Fix the input; retrying cannot help.
    #[non_exhaustive]
    InvalidInput {
        /// Backend name.
        backend: &'static str,
        /// The offending field, e.g. `"run_id"` or `"filter.labels"`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The client is misconfigured (missing token, bad URL, feature not compiled in, …).
    #[non_exhaustive]
    Config {
        /// Backend name.
        backend: &'static str,
        /// Which setting is wrong ([`ConfigSetting::Other`] when none in particular).
        setting: ConfigSetting,
        /// What is wrong with it.
        problem: ConfigProblem,
        /// What is wrong, for people (may name the environment variable it was read from).
        message: String,
        /// The underlying error, when there is one (building the HTTP client).
        source: Option<ErrorSource>,
    },
    /// The provider does not know the workflow, agent, team or run named in the request.
    #[non_exhaustive]
    NotFound {
        /// Backend name.
        backend: &'static str,
        /// What was not found.
        what: NotFoundKind,
        /// Its id, when known.
        id: Option<String>,
        /// The provider's message.
        message: String,
    },
    /// The token is missing, wrong or expired (HTTP 401).
    #[non_exhaustive]
    Unauthenticated {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The token is valid but not allowed to do this (HTTP 403).
    #[non_exhaustive]
    PermissionDenied {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The provider refused the request as malformed (HTTP 400/422), with its message.
    #[non_exhaustive]
    InvalidRequest {
        /// Backend name.
        backend: &'static str,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The provider is rate limiting this client (HTTP 429); retry after `retry_after` if given.
    #[non_exhaustive]
    RateLimited {
        /// Backend name.
        backend: &'static str,
        /// When trying again may succeed.
        retry_after: Option<Duration>,
        /// Which limit was hit.
        limit: RateLimitKind,
        /// The provider's message.
        message: String,
    },
    /// The account's plan quota is used up (Upstash HTTP 412). Retrying will not help.
    #[non_exhaustive]
    QuotaExceeded {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The backend cannot do this operation (see [`crate::Capabilities`]).
    #[non_exhaustive]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// What was asked for, and why it cannot be done.
        operation: String,
    },
    /// The provider failed (HTTP 5xx) or answered something unexpected.
    #[non_exhaustive]
    Provider {
        /// Backend name.
        backend: &'static str,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// The provider's message, or a description of the unexpected answer.
        message: String,
        /// The underlying error, when there is one ([`std::error::Error::source`]).
        source: Option<ErrorSource>,
    },
    /// No answer arrived within the configured time.
    #[non_exhaustive]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// What timed out, and after how long.
        message: String,
        /// The underlying error, when there is one ([`std::error::Error::source`]).
        source: Option<ErrorSource>,
    },
    /// The connection failed (refused, reset, DNS, TLS …).
    #[non_exhaustive]
    Transport {
        /// Backend name.
        backend: &'static str,
        /// What failed.
        message: String,
        /// The underlying error, when there is one ([`std::error::Error::source`]).
        source: Option<ErrorSource>,
        /// Whether the request may have reached the provider: a connection broke after the
        /// request was sent, on this attempt or an earlier one (`false` when no attempt got
        /// past connecting: refused, DNS, TLS handshake). See
        /// [`may_have_been_delivered`](CancelError::may_have_been_delivered).
        maybe_delivered: bool,
    },
    /// The provider's answer could not be read (bad JSON, over the body size cap, …).
    #[non_exhaustive]
    Decode {
        /// Backend name.
        backend: &'static str,
        /// What could not be decoded.
        message: String,
        /// The underlying error, when there is one ([`std::error::Error::source`]).
        source: Option<ErrorSource>,
    },
    /// A bulk was stopped ([`crate::StopHandle`]) or reached its deadline while this part of it
    /// was under way: its request may have reached the provider, and what it did is unknown.
    /// Run the bulk again for these runs.
    #[non_exhaustive]
    Interrupted {
        /// Backend name.
        backend: &'static str,
        /// What was under way.
        message: String,
    },
}

impl std::fmt::Display for CancelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelError::InvalidInput {
                backend,
                field,
                message,
                ..
            } => write!(f, "{backend}: invalid input: {field}: {message}"),
            CancelError::Config { backend, message, .. } => write!(f, "{backend}: configuration error: {message}"),
            CancelError::NotFound {
                backend,
                what,
                id,
                message,
                ..
            } => write!(
                f,
                "{backend}: {what} not found{}: {message}",
                id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default()
            ),
            CancelError::Unauthenticated { backend, message, .. } => {
                write!(f, "{backend}: unauthenticated: {message} (check the token)")
            }
            CancelError::PermissionDenied { backend, message, .. } => {
                write!(f, "{backend}: permission denied: {message}")
            }
            CancelError::InvalidRequest {
                backend,
                status,
                message,
                ..
            } => write!(f, "{backend}: request refused (HTTP {status}): {message}"),
            CancelError::RateLimited {
                backend,
                retry_after,
                limit,
                message,
                ..
            } => write!(
                f,
                "{backend}: rate limited ({limit} limit){}: {message}",
                retry_after
                    .map(|d| format!(", retry in {:.1}s", d.as_secs_f64()))
                    .unwrap_or_default()
            ),
            CancelError::QuotaExceeded { backend, message, .. } => write!(f, "{backend}: quota exceeded: {message}"),
            CancelError::Unsupported { backend, operation, .. } => write!(f, "{backend}: unsupported: {operation}"),
            CancelError::Provider {
                backend,
                status,
                message,
                ..
            } => write!(
                f,
                "{backend}: provider error{}: {message}",
                status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            ),
            CancelError::Timeout { backend, message, .. } => write!(f, "{backend}: timed out: {message}"),
            CancelError::Transport { backend, message, .. } => write!(f, "{backend}: transport error: {message}"),
            CancelError::Decode { backend, message, .. } => {
                write!(f, "{backend}: could not decode the answer: {message}")
            }
            CancelError::Interrupted { backend, message, .. } => write!(f, "{backend}: interrupted: {message}"),
        }
    }
}

/// The chain: the underlying error itself (the HTTP client's, the JSON parser's), then its own
/// sources, for the variants that carry one.
impl std::error::Error for CancelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CancelError::Config { source, .. }
            | CancelError::Provider { source, .. }
            | CancelError::Timeout { source, .. }
            | CancelError::Transport { source, .. }
            | CancelError::Decode { source, .. } => {
                source.as_ref().map(|s| s.get() as &(dyn std::error::Error + 'static))
            }
            _ => None,
        }
    }
}

impl CancelError {
    /// The backend that produced this error.
    pub fn backend(&self) -> &'static str {
        match self {
            CancelError::InvalidInput { backend, .. }
            | CancelError::Config { backend, .. }
            | CancelError::NotFound { backend, .. }
            | CancelError::Unauthenticated { backend, .. }
            | CancelError::PermissionDenied { backend, .. }
            | CancelError::InvalidRequest { backend, .. }
            | CancelError::RateLimited { backend, .. }
            | CancelError::QuotaExceeded { backend, .. }
            | CancelError::Unsupported { backend, .. }
            | CancelError::Provider { backend, .. }
            | CancelError::Timeout { backend, .. }
            | CancelError::Transport { backend, .. }
            | CancelError::Decode { backend, .. }
            | CancelError::Interrupted { backend, .. } => backend,
        }
    }

    /// The variant's stable name.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CancelError::InvalidInput { .. } => ErrorKind::InvalidInput,
            CancelError::Config { .. } => ErrorKind::Config,
            CancelError::NotFound { .. } => ErrorKind::NotFound,
            CancelError::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            CancelError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            CancelError::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            CancelError::RateLimited { .. } => ErrorKind::RateLimited,
            CancelError::QuotaExceeded { .. } => ErrorKind::QuotaExceeded,
            CancelError::Unsupported { .. } => ErrorKind::Unsupported,
            CancelError::Provider { .. } => ErrorKind::Provider,
            CancelError::Timeout { .. } => ErrorKind::Timeout,
            CancelError::Transport { .. } => ErrorKind::Transport,
            CancelError::Decode { .. } => ErrorKind::Decode,
            CancelError::Interrupted { .. } => ErrorKind::Interrupted,
        }
    }

    /// Whether trying the same call again later may succeed
    /// (rate limits, provider faults, timeouts, connection failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            CancelError::RateLimited { .. }
            | CancelError::Timeout { .. }
            | CancelError::Transport { .. }
            | CancelError::Interrupted { .. } => true,
            CancelError::Provider { status, .. } => match status {
                Some(s) => *s == 408 || *s >= 500,
                None => true,
            },
            _ => false,
        }
    }

    /// Whether this error will fail every further call with the same client, whatever run it
    /// names: [`Unauthenticated`](Self::Unauthenticated) (bad or missing token),
    /// [`Config`](Self::Config) (misconfigured client) and
    /// [`QuotaExceeded`](Self::QuotaExceeded) (the account's quota is used up).
    /// Bulk operations stop early on such errors and say so (`BulkReport::aborted`).
    ///
    /// [`PermissionDenied`](Self::PermissionDenied) and [`Unsupported`](Self::Unsupported) are
    /// not in the set: a provider may answer them for one resource only (a token scoped to some
    /// workflows, an agent that cannot cancel its runs), so a bulk over many owners lists them
    /// per run and goes on.
    ///
    /// ```
    /// use wfcancel_core::CancelError;
    /// assert!(CancelError::config("memory", "no token").fails_every_call());
    /// assert!(!CancelError::unsupported("memory", "cancel_run for this agent").fails_every_call());
    /// ```
    pub fn fails_every_call(&self) -> bool {
        matches!(
            self,
            CancelError::Unauthenticated { .. } | CancelError::Config { .. } | CancelError::QuotaExceeded { .. }
        )
    }

    /// The HTTP status this variant corresponds to: the status of the provider's answer for
    /// [`InvalidRequest`](Self::InvalidRequest) and [`Provider`](Self::Provider) (when there was
    /// one), and the status the contract maps to the variant for the others (401
    /// `Unauthenticated`, 403 `PermissionDenied`, 404 `NotFound`, 412 `QuotaExceeded`, 429
    /// `RateLimited`). It is not necessarily what a provider answered: a backend may map another
    /// answer to one of these variants. `None` for errors that do not correspond to an HTTP
    /// status (invalid input, configuration, unsupported, timeout, transport, decode).
    pub fn status(&self) -> Option<u16> {
        match self {
            CancelError::NotFound { .. } => Some(404),
            CancelError::Unauthenticated { .. } => Some(401),
            CancelError::PermissionDenied { .. } => Some(403),
            CancelError::InvalidRequest { status, .. } => Some(*status),
            CancelError::RateLimited { .. } => Some(429),
            CancelError::QuotaExceeded { .. } => Some(412),
            CancelError::Provider { status, .. } => *status,
            _ => None,
        }
    }

    /// When the provider said to try again, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CancelError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A human-readable message without the backend prefix.
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.backend());
        full.strip_prefix(&prefix).map(str::to_owned).unwrap_or(full)
    }

    /// The text of the variant: its message (the operation for `Unsupported`).
    fn message_mut(&mut self) -> &mut String {
        match self {
            CancelError::InvalidInput { message, .. }
            | CancelError::Config { message, .. }
            | CancelError::NotFound { message, .. }
            | CancelError::Unauthenticated { message, .. }
            | CancelError::PermissionDenied { message, .. }
            | CancelError::InvalidRequest { message, .. }
            | CancelError::RateLimited { message, .. }
            | CancelError::QuotaExceeded { message, .. }
            | CancelError::Provider { message, .. }
            | CancelError::Timeout { message, .. }
            | CancelError::Transport { message, .. }
            | CancelError::Decode { message, .. }
            | CancelError::Interrupted { message, .. } => message,
            CancelError::Unsupported { operation, .. } => operation,
        }
    }

    /// The same error with `f` applied to every text it carries that may hold what a server
    /// said (messages, ids). Used by the HTTP plumbing to mask a token echoed back.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn map_text(mut self, f: impl Fn(String) -> String) -> Self {
        let message = self.message_mut();
        *message = f(std::mem::take(message));
        if let CancelError::NotFound { id: Some(id), .. } = &mut self {
            *id = f(std::mem::take(id));
        }
        self
    }

    /// The same error, its message preceded by `context` (`"<context>: <message>"`): what the
    /// caller was doing when it happened. The variant, and so `kind()` and `is_retryable()`, stay.
    ///
    /// ```
    /// use wfcancel_core::CancelError;
    /// let e = CancelError::config("memory", "no token").with_context("run #3");
    /// assert_eq!(e.to_string(), "memory: configuration error: run #3: no token");
    /// ```
    pub fn with_context(mut self, context: impl std::fmt::Display) -> Self {
        let message = self.message_mut();
        *message = format!("{context}: {message}");
        self
    }

    /// [`CancelError::InvalidInput`]: `field` of the caller's input is wrong.
    pub fn invalid_input(backend: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        CancelError::InvalidInput {
            backend,
            field,
            message: message.into(),
        }
    }

    /// [`CancelError::Config`] about no setting in particular ([`ConfigSetting::Other`],
    /// [`ConfigProblem::Invalid`]); see [`CancelError::config_of`] to say which.
    pub fn config(backend: &'static str, message: impl Into<String>) -> Self {
        Self::config_of(backend, ConfigSetting::Other, ConfigProblem::Invalid, message)
    }

    /// [`CancelError::Config`]: `setting` has `problem`.
    ///
    /// ```
    /// use wfcancel_core::{CancelError, ConfigProblem, ConfigSetting};
    /// let e = CancelError::config_of("upstash", ConfigSetting::Token, ConfigProblem::Missing, "QSTASH_TOKEN is not set");
    /// assert_eq!(e.config_problem(), Some((ConfigSetting::Token, ConfigProblem::Missing)));
    /// ```
    pub fn config_of(
        backend: &'static str,
        setting: ConfigSetting,
        problem: ConfigProblem,
        message: impl Into<String>,
    ) -> Self {
        CancelError::Config {
            backend,
            setting,
            problem,
            message: message.into(),
            source: None,
        }
    }

    /// [`CancelError::NotFound`]: the provider does not know `what` (with its id, when known).
    pub fn not_found(
        backend: &'static str,
        what: NotFoundKind,
        id: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        CancelError::NotFound {
            backend,
            what,
            id,
            message: message.into(),
        }
    }

    /// [`CancelError::Unauthenticated`].
    pub fn unauthenticated(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Unauthenticated {
            backend,
            message: message.into(),
        }
    }

    /// [`CancelError::PermissionDenied`].
    pub fn permission_denied(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::PermissionDenied {
            backend,
            message: message.into(),
        }
    }

    /// [`CancelError::InvalidRequest`]: the provider refused the request with HTTP `status`.
    pub fn invalid_request(backend: &'static str, status: u16, message: impl Into<String>) -> Self {
        CancelError::InvalidRequest {
            backend,
            status,
            message: message.into(),
        }
    }

    /// [`CancelError::RateLimited`].
    pub fn rate_limited(
        backend: &'static str,
        limit: RateLimitKind,
        retry_after: Option<Duration>,
        message: impl Into<String>,
    ) -> Self {
        CancelError::RateLimited {
            backend,
            retry_after,
            limit,
            message: message.into(),
        }
    }

    /// [`CancelError::QuotaExceeded`].
    pub fn quota_exceeded(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::QuotaExceeded {
            backend,
            message: message.into(),
        }
    }

    /// [`CancelError::Unsupported`].
    pub fn unsupported(backend: &'static str, operation: impl Into<String>) -> Self {
        CancelError::Unsupported {
            backend,
            operation: operation.into(),
        }
    }

    /// [`CancelError::Provider`]: the provider failed (HTTP `status`, when there was one).
    pub fn provider(backend: &'static str, status: Option<u16>, message: impl Into<String>) -> Self {
        CancelError::Provider {
            backend,
            status,
            message: message.into(),
            source: None,
        }
    }

    /// [`CancelError::Timeout`].
    pub fn timeout(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Timeout {
            backend,
            message: message.into(),
            source: None,
        }
    }

    /// [`CancelError::Transport`] (not delivered: see
    /// [`maybe_delivered`](CancelError::maybe_delivered)).
    pub fn transport(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Transport {
            backend,
            message: message.into(),
            source: None,
            maybe_delivered: false,
        }
    }

    /// The same error, saying that its request may have reached the provider (a
    /// [`Transport`](CancelError::Transport) error whose connection broke after sending);
    /// other errors are returned unchanged.
    pub fn maybe_delivered(mut self) -> Self {
        if let CancelError::Transport { maybe_delivered, .. } = &mut self {
            *maybe_delivered = true;
        }
        self
    }

    /// Whether this is a [`Transport`](CancelError::Transport) error whose request may have
    /// reached the provider and been carried out although no answer came back (the connection
    /// broke after sending, on some attempt). A backend reads the run's state then, rather
    /// than report a failure the provider may not have had.
    ///
    /// ```
    /// use wfcancel_core::CancelError;
    /// let refused = CancelError::transport("x", "connection refused");
    /// assert!(!refused.may_have_been_delivered());
    /// assert!(refused.maybe_delivered().may_have_been_delivered());
    /// ```
    pub fn may_have_been_delivered(&self) -> bool {
        matches!(
            self,
            CancelError::Transport {
                maybe_delivered: true,
                ..
            }
        )
    }

    /// [`CancelError::Decode`].
    pub fn decode(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Decode {
            backend,
            message: message.into(),
            source: None,
        }
    }

    /// [`CancelError::Interrupted`].
    pub fn interrupted(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Interrupted {
            backend,
            message: message.into(),
        }
    }

    /// The same error with `source` as its [`std::error::Error::source`], for the variants that
    /// carry one ([`Config`](Self::Config), [`Provider`](Self::Provider),
    /// [`Timeout`](Self::Timeout), [`Transport`](Self::Transport), [`Decode`](Self::Decode));
    /// the others are returned unchanged. The source must hold no secret.
    ///
    /// ```
    /// use std::error::Error as _;
    /// use wfcancel_core::CancelError;
    /// let parse = serde_json::from_str::<u32>("x").unwrap_err();
    /// let e = CancelError::decode("memory", "not a number").with_source(parse);
    /// assert!(e.source().is_some_and(|s| s.to_string().contains("expected value")));
    /// ```
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        match &mut self {
            CancelError::Config { source: s, .. }
            | CancelError::Provider { source: s, .. }
            | CancelError::Timeout { source: s, .. }
            | CancelError::Transport { source: s, .. }
            | CancelError::Decode { source: s, .. } => *s = Some(ErrorSource::new(source)),
            _ => {}
        }
        self
    }

    /// For a [`CancelError::Config`], which setting is wrong and how; `None` for other errors.
    /// What a program checks, instead of reading the message.
    pub fn config_problem(&self) -> Option<(ConfigSetting, ConfigProblem)> {
        match self {
            CancelError::Config { setting, problem, .. } => Some((*setting, *problem)),
            _ => None,
        }
    }
}
