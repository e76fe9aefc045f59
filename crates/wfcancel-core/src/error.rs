//! The one error type shared by every backend.

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

/// Every way a cancel, bulk cancel or status call can fail, for every backend.
///
/// Each variant carries the name of the backend that produced it (`"upstash"`, `"agno"`,
/// `"memory"`, …). Its `Display` is one line a person can act on. No variant ever holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// The caller's input was rejected before any request was sent (empty id, bad filter, …).
    /// Fix the input; retrying cannot help.
    #[error("{backend}: invalid input: {field}: {message}")]
    InvalidInput {
        /// Backend name.
        backend: &'static str,
        /// The offending field, e.g. `"run_id"` or `"filter.labels"`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The client is misconfigured (missing token, bad URL, feature not compiled in, …).
    #[error("{backend}: configuration error: {message}")]
    Config {
        /// Backend name.
        backend: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The provider does not know the workflow, agent, team or run named in the request.
    #[error("{backend}: {what} not found{}: {message}", id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default())]
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
    #[error("{backend}: unauthenticated: {message} (check the token)")]
    Unauthenticated {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The token is valid but not allowed to do this (HTTP 403).
    #[error("{backend}: permission denied: {message}")]
    PermissionDenied {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The provider refused the request as malformed (HTTP 400/422), with its message.
    #[error("{backend}: request refused (HTTP {status}): {message}")]
    InvalidRequest {
        /// Backend name.
        backend: &'static str,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The provider is rate limiting this client (HTTP 429); retry after `retry_after` if given.
    #[error("{backend}: rate limited ({limit} limit){}: {message}", retry_after.map(|d| format!(", retry in {:.1}s", d.as_secs_f64())).unwrap_or_default())]
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
    #[error("{backend}: quota exceeded: {message}")]
    QuotaExceeded {
        /// Backend name.
        backend: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The backend cannot do this operation (see [`crate::Capabilities`]).
    #[error("{backend}: unsupported: {operation}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// What was asked for, and why it cannot be done.
        operation: String,
    },
    /// The provider failed (HTTP 5xx) or answered something unexpected.
    #[error("{backend}: provider error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Provider {
        /// Backend name.
        backend: &'static str,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// The provider's message, or a description of the unexpected answer.
        message: String,
    },
    /// No answer arrived within the configured time.
    #[error("{backend}: timed out: {message}")]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// What timed out, and after how long.
        message: String,
    },
    /// The connection failed (refused, reset, DNS, TLS …).
    #[error("{backend}: transport error: {message}")]
    Transport {
        /// Backend name.
        backend: &'static str,
        /// What failed.
        message: String,
    },
    /// The provider's answer could not be read (bad JSON, over the body size cap, …).
    #[error("{backend}: could not decode the answer: {message}")]
    Decode {
        /// Backend name.
        backend: &'static str,
        /// What could not be decoded.
        message: String,
    },
    /// A bulk was stopped ([`crate::StopHandle`]) or reached its deadline while this part of it
    /// was under way: its request may have reached the provider, and what it did is unknown.
    /// Run the bulk again for these runs.
    #[error("{backend}: interrupted: {message}")]
    Interrupted {
        /// Backend name.
        backend: &'static str,
        /// What was under way.
        message: String,
    },
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

    /// Shorthand for [`CancelError::InvalidInput`].
    pub fn invalid_input(backend: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        CancelError::InvalidInput {
            backend,
            field,
            message: message.into(),
        }
    }

    /// Shorthand for [`CancelError::Config`].
    pub fn config(backend: &'static str, message: impl Into<String>) -> Self {
        CancelError::Config {
            backend,
            message: message.into(),
        }
    }

    /// Shorthand for [`CancelError::Unsupported`].
    pub fn unsupported(backend: &'static str, operation: impl Into<String>) -> Self {
        CancelError::Unsupported {
            backend,
            operation: operation.into(),
        }
    }
}
