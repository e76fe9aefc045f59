//! The HTTP plumbing every HTTP backend shares (feature `http`).
//!
//! One [`HttpClient`] per backend instance: a pooled `reqwest` client built once, connect and
//! request timeouts, no redirects, a capped response body, percent-encoded path segments,
//! `User-Agent: wfcancel/<version>`, a bearer token that never shows (not even when a server
//! echoes it back: see [`HttpClient::send_with`]), and a [`RetryPolicy`] that
//! retries transport errors, timeouts, 408, 429 and 5xx while honouring `Retry-After` and the
//! backend's own hints, never sleeping past its deadline.
//!
//! A backend builds its request URL with [`HttpClient::endpoint`], sends it with
//! [`HttpClient::send`], and turns the [`HttpResponse`] into an outcome or a [`CancelError`] in
//! its one mapping function.

mod response;

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
pub use reqwest::header::{HeaderMap, HeaderValue};
pub use reqwest::{Method, Url};
use tracing::Instrument;

pub use response::{HttpResponse, readable_body};

use crate::{CancelError, RetryPolicy, SecretToken};

/// The `User-Agent` every request carries.
pub const USER_AGENT_VALUE: &str = concat!("wfcancel/", env!("CARGO_PKG_VERSION"));

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout for one attempt (connect, send, and read the whole answer).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Settings of an [`HttpClient`].
///
/// ```
/// use std::time::Duration;
/// use wfcancel_core::http::HttpConfig;
/// use wfcancel_core::RetryPolicy;
/// let cfg = HttpConfig::default()
///     .request_timeout(Duration::from_secs(10))
///     .retry(RetryPolicy::default().max_attempts(3));
/// assert_eq!(cfg.max_body_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Timeout of one attempt, body included (default 30 s).
    pub request_timeout: Duration,
    /// Largest response body read (default 1 MiB). A larger 2xx body is a [`CancelError::Decode`];
    /// the body of any other answer is cut at the cap.
    pub max_body_bytes: usize,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Allow plain `http://` to hosts that are not loopback (default: refused).
    pub allow_insecure_http: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            allow_insecure_http: false,
        }
    }
}

impl HttpConfig {
    /// Connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Timeout of one attempt.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Largest response body read.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Retry policy.
    pub fn retry(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }

    /// Allow plain `http://` to hosts that are not loopback.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

/// What a backend says about retrying one answer (see [`HttpClient::send_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// The shared rule: retry 408, 429 and 5xx, honouring `Retry-After`.
    Default,
    /// Retry (if the status is retryable), no sooner than this.
    After(Duration),
    /// Never retry this answer (it means something definite, e.g. "nothing to cancel").
    Never,
}

/// The HTTP client a backend uses. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpClient {
    backend: &'static str,
    client: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
    /// The token's bytes, scrubbed from every answer (see [`MIN_SCRUBBED_TOKEN_LEN`]).
    scrub: Option<Box<[u8]>>,
    config: HttpConfig,
}

/// Tokens at least this long are scrubbed from answers; shorter ones would match ordinary text.
pub const MIN_SCRUBBED_TOKEN_LEN: usize = 8;

/// The mask a scrubbed token is replaced with.
const SCRUB_MASK: &[u8] = b"***";

/// `bytes` with every occurrence of `secret` replaced by `***`, or `None` when there is none.
fn scrub(bytes: &[u8], secret: &[u8]) -> Option<Vec<u8>> {
    if secret.is_empty() || bytes.len() < secret.len() || !bytes.windows(secret.len()).any(|w| w == secret) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(secret) {
            out.extend_from_slice(SCRUB_MASK);
            i += secret.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("backend", &self.backend)
            .field("base_url", &self.base.as_str())
            .field("auth", &self.auth.as_ref().map(|_| "Bearer ***"))
            .field("config", &self.config)
            .finish()
    }
}

/// Whether `host` is a loopback name or address.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

impl HttpClient {
    /// Builds the client once: checks the base URL (absolute, `http`/`https`, no credentials,
    /// no query; plain `http://` only to loopback unless allowed), strips a trailing `/`.
    pub fn new(
        backend: &'static str,
        base_url: &str,
        token: Option<&SecretToken>,
        config: HttpConfig,
    ) -> Result<Self, CancelError> {
        let base = parse_base_url(backend, base_url, config.allow_insecure_http)?;
        let auth = match token {
            Some(t) if t.is_blank() => return Err(CancelError::config(backend, "the token is empty")),
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                    CancelError::config(backend, "the token contains characters not allowed in an HTTP header")
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let scrub = token
            .map(|t| t.expose().as_bytes())
            .filter(|t| t.len() >= MIN_SCRUBBED_TOKEN_LEN)
            .map(Box::from);
        let mut builder = reqwest::Client::builder();
        if base.host().is_some_and(|h| is_loopback_host(&h)) {
            // A loopback base URL is why plain http is allowed: never send its requests (and
            // their token) to an HTTP_PROXY / HTTPS_PROXY / ALL_PROXY from the environment.
            builder = builder.no_proxy();
        }
        let client = builder
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT_VALUE)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CancelError::config(backend, format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            backend,
            client,
            base,
            auth,
            scrub,
            config,
        })
    }

    /// The backend name this client reports in its errors.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The base URL (no trailing `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The base URL followed by `segments`, each percent-encoded as exactly one path segment
    /// (`/`, `?`, `#`, `%`, spaces and non-ASCII included). A segment that is empty, `.` or `..`
    /// is refused ([`CancelError::InvalidInput`] naming `field`), since no encoding keeps it one
    /// segment; so is one holding a control character (`\t`, `\r`, `\n`, NUL, …), which the URL
    /// parser would otherwise drop silently, naming another resource than the one asked for.
    /// Query parameters are added by the caller with `query_pairs_mut()`.
    ///
    /// ```
    /// use wfcancel_core::http::{HttpClient, HttpConfig};
    /// let c = HttpClient::new("test", "http://127.0.0.1:1/api/", None, HttpConfig::default()).unwrap();
    /// let url = c.endpoint(&[("path", "runs"), ("run_id", "a/b?c#d e%")]).unwrap();
    /// assert_eq!(url.as_str(), "http://127.0.0.1:1/api/runs/a%2Fb%3Fc%23d%20e%25");
    /// ```
    pub fn endpoint(&self, segments: &[(&'static str, &str)]) -> Result<Url, CancelError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| CancelError::config(self.backend, "the base URL cannot have a path"))?;
            path.pop_if_empty();
            for (field, segment) in segments {
                if segment.is_empty() || *segment == "." || *segment == ".." {
                    return Err(CancelError::invalid_input(
                        self.backend,
                        field,
                        format!("{segment:?} cannot be sent as a URL path segment"),
                    ));
                }
                if segment.chars().any(char::is_control) {
                    return Err(CancelError::invalid_input(
                        self.backend,
                        field,
                        format!("{segment:?} contains a control character"),
                    ));
                }
                path.push(segment);
            }
        }
        Ok(url)
    }

    /// Sends a request with the shared retry rule. See [`HttpClient::send_with`].
    pub async fn send(&self, operation: &'static str, method: Method, url: Url) -> Result<HttpResponse, CancelError> {
        self.send_with(operation, method, url, &|_| RetryDecision::Default)
            .await
    }

    /// Sends a request (no body) and reads the answer, retrying as the [`RetryPolicy`] says.
    ///
    /// Answers with any status come back as `Ok(HttpResponse)` for the backend to map, including
    /// the last retryable one when retries ran out. `Err` is reserved for what never produced a
    /// readable answer: [`CancelError::Transport`], [`CancelError::Timeout`], a redirect
    /// ([`CancelError::Provider`]; never followed, so the token never reaches another host) and
    /// a successful (2xx) body over the cap ([`CancelError::Decode`]). The body of any other
    /// answer is cut at the cap instead (a proxy's large 502 page keeps its status and is
    /// retried like any 502).
    ///
    /// A retry starts only when, after its pause, at least
    /// [`RetryPolicy::min_attempt_window`] is left before the deadline (twice what the last
    /// attempt took, at least 100 ms, at most the request timeout), so the last attempt is never
    /// starved into a timeout. When a retry fails without an answer (timeout, transport error)
    /// after an earlier attempt got one, that earlier answer is returned (its `attempts` counts
    /// every attempt made), not the error.
    ///
    /// The token (when at least [`MIN_SCRUBBED_TOKEN_LEN`] bytes long) is replaced by `***` in
    /// every answer's body and header values and in a redirect's location before anything reads
    /// them, so a server or proxy that echoes the `Authorization` header back cannot make an
    /// error or a `{:?}` show it. Requests to a loopback base URL never go through a proxy from
    /// the environment (`HTTP_PROXY`, …).
    ///
    /// `hint` lets the backend refine the rule for an answer: a provider-specific retry time, or
    /// "never retry this one".
    pub async fn send_with(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &(dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> Result<HttpResponse, CancelError> {
        self.send_loop(operation, method, url, hint, false).await
    }

    /// Like `send_with`, for requests that must not be repeated once they may have reached the
    /// server (a filtered bulk cancel capped by `count`, a background action): it retries only
    /// failures where the request surely never arrived (connection refused / could not connect)
    /// and answers for which `hint` does not say `Never` (the backend returns `Never` for 5xx/408
    /// there; 429 is safe). A timeout or a connection lost after sending is returned at once.
    ///
    /// Everything else is as in [`send_with`](Self::send_with), except that an error after which
    /// the request may have been carried out is always returned as is, never replaced by an
    /// earlier answer (which would say it was not).
    pub async fn send_unrepeatable(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &(dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> Result<HttpResponse, CancelError> {
        self.send_loop(operation, method, url, hint, true).await
    }

    /// The retry loop of [`send_with`](Self::send_with) and
    /// [`send_unrepeatable`](Self::send_unrepeatable): with `unrepeatable`, a failure that may
    /// have happened after the request was sent is never retried.
    async fn send_loop(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &(dyn Fn(&HttpResponse) -> RetryDecision + Sync),
        unrepeatable: bool,
    ) -> Result<HttpResponse, CancelError> {
        let policy = self.config.retry;
        // `None`: a deadline too far to add to the clock (e.g. `Duration::MAX`), i.e. none.
        let deadline = Instant::now().checked_add(policy.total_deadline);
        let remaining = || match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        // The last answer a retried attempt got, returned if later attempts get none.
        let mut earlier: Option<HttpResponse> = None;
        let mut attempt: u32 = 1;
        loop {
            let timeout = self
                .config
                .request_timeout
                .min(remaining().max(Duration::from_millis(1)));
            let span = tracing::debug_span!(
                "wfcancel.request",
                backend = self.backend,
                operation,
                method = %method,
                path = url.path(),
                attempt,
                status = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
            let t0 = Instant::now();
            let result = self.attempt(&method, &url, timeout).instrument(span.clone()).await;
            let took = t0.elapsed();
            span.record("elapsed_ms", took.as_millis() as u64);
            let remaining = remaining();
            let window = RetryPolicy::min_attempt_window(took, self.config.request_timeout);
            match result {
                Ok(mut resp) => {
                    span.record("status", resp.status);
                    resp.attempts = attempt;
                    if !is_retryable_status(resp.status) {
                        return Ok(resp);
                    }
                    let wait = match hint(&resp) {
                        RetryDecision::Never => return Ok(resp),
                        RetryDecision::After(d) => Some(d),
                        RetryDecision::Default => resp
                            .headers
                            .get(RETRY_AFTER)
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    };
                    match policy.pause_within(attempt, wait, remaining, window) {
                        Some(pause) => {
                            tracing::debug!(parent: &span, status = resp.status, pause_ms = pause.as_millis() as u64, "retrying");
                            earlier = Some(resp);
                            tokio::time::sleep(pause).await;
                        }
                        None => return Ok(resp),
                    }
                }
                Err(AttemptError::Final(e)) => return Err(e),
                // The request may have been carried out: repeating it, or answering with an
                // earlier answer that says it was not, would both be wrong.
                Err(AttemptError::MaybeSent(e)) if unrepeatable => return Err(e),
                Err(AttemptError::NotSent(e) | AttemptError::MaybeSent(e)) => {
                    match policy.pause_within(attempt, None, remaining, window) {
                        Some(pause) => {
                            tracing::debug!(parent: &span, error = %e, pause_ms = pause.as_millis() as u64, "retrying");
                            tokio::time::sleep(pause).await;
                        }
                        None => {
                            return match earlier {
                                Some(mut resp) => {
                                    tracing::debug!(parent: &span, error = %e, status = resp.status, "no answer this time; returning the earlier one");
                                    resp.attempts = attempt;
                                    Ok(resp)
                                }
                                None => Err(e),
                            };
                        }
                    }
                }
            }
            attempt += 1;
        }
    }

    async fn attempt(&self, method: &Method, url: &Url, timeout: Duration) -> Result<HttpResponse, AttemptError> {
        let mut req = self.client.request(method.clone(), url.clone()).timeout(timeout);
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(e, method, url, timeout))?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| match Url::parse(l).or_else(|_| url.join(l)) {
                    Ok(u) => format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or(""), u.path()),
                    Err(_) => "an unreadable location".to_owned(),
                })
                .unwrap_or_else(|| "no location".to_owned());
            let to = self.scrubbed_text(&to);
            return Err(AttemptError::Final(CancelError::Provider {
                backend: self.backend,
                status: Some(status),
                message: format!(
                    "{method} {} answered a redirect to {to}; redirects are never followed",
                    url.path()
                ),
            }));
        }
        let cap = self.config.max_body_bytes;
        // A successful answer must be read whole to mean anything; any other is kept (cut at
        // the cap) so that its status still counts and its start can still be shown.
        let must_fit = (200..300).contains(&status);
        let too_large = || {
            AttemptError::Final(CancelError::Decode {
                backend: self.backend,
                message: format!("the answer (HTTP {status}) is larger than the {cap}-byte cap"),
            })
        };
        if must_fit && resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_large());
        }
        let mut headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(e, method, url, timeout))?
        {
            if body.len() + chunk.len() > cap {
                if must_fit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk[..cap - body.len()]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        // Dropping `resp` unread closes the connection instead of reading the rest.
        drop(resp);
        if let Some(secret) = self.scrub.as_deref() {
            if let Some(scrubbed) = scrub(&body, secret) {
                body = scrubbed;
            }
            if truncated {
                // The cut may have split a token: its start must not show either.
                let keep = body.len() - trailing_token_prefix(&body, secret);
                body.truncate(keep);
            }
            for value in headers.values_mut() {
                if let Some(scrubbed) = scrub(value.as_bytes(), secret) {
                    let mut clean = HeaderValue::from_bytes(&scrubbed).unwrap_or(HeaderValue::from_static("***"));
                    clean.set_sensitive(true);
                    *value = clean;
                }
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body: body.into(),
            attempts: 1,
        })
    }

    /// `text` with the token scrubbed.
    fn scrubbed_text(&self, text: &str) -> String {
        match self.scrub.as_deref().and_then(|secret| scrub(text.as_bytes(), secret)) {
            Some(scrubbed) => String::from_utf8_lossy(&scrubbed).into_owned(),
            None => text.to_owned(),
        }
    }

    fn transport_error(&self, e: reqwest::Error, method: &Method, url: &Url, timeout: Duration) -> AttemptError {
        let what = format!("{method} {}", url.path());
        let e = e.without_url();
        // A connect error (refused, unreachable, DNS, TLS handshake, connect timeout) means the
        // request never left: safe to repeat whatever it does.
        let not_sent = e.is_connect();
        let error = if e.is_timeout() {
            CancelError::Timeout {
                backend: self.backend,
                message: format!("{what}: no complete answer within {:.1}s", timeout.as_secs_f64()),
            }
        } else {
            let mut message = format!("{what}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            CancelError::Transport {
                backend: self.backend,
                message,
            }
        };
        if not_sent {
            AttemptError::NotSent(error)
        } else {
            AttemptError::MaybeSent(error)
        }
    }
}

/// How long a proper prefix of `secret` (1 to `secret.len() - 1` bytes) `bytes` ends with: 0 when none.
fn trailing_token_prefix(bytes: &[u8], secret: &[u8]) -> usize {
    (1..secret.len())
        .rev()
        .find(|&k| bytes.ends_with(&secret[..k]))
        .unwrap_or(0)
}

enum AttemptError {
    /// The request surely never reached the server (could not connect): always safe to retry.
    NotSent(CancelError),
    /// Failed after the request may have been sent (timeout, connection lost): retried only
    /// when the request may be repeated.
    MaybeSent(CancelError),
    /// Not retried.
    Final(CancelError),
}

/// Whether the shared rule retries this status: 408, 429 and 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// The longest wait a `Retry-After` can ask for (about 31 years): larger values are capped so
/// that adding one to an instant can never overflow.
const MAX_RETRY_AFTER_SECS: u64 = 1_000_000_000;

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (relative to `now`; a date in the
/// past means zero). `None` when it is neither.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use wfcancel_core::http::{parse_retry_after, HeaderValue};
/// assert_eq!(parse_retry_after(&HeaderValue::from_static("3"), SystemTime::now()), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after(&HeaderValue::from_static("soon"), SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let s = value.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER_SECS as f64)));
    }
    let when = httpdate::parse_http_date(s).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_base_url(backend: &'static str, raw: &str, allow_insecure: bool) -> Result<Url, CancelError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CancelError::config(backend, "the base URL is empty"));
    }
    let mut url = Url::parse(raw).map_err(|e| CancelError::config(backend, format!("invalid base URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = url.host().is_some_and(|h| is_loopback_host(&h));
            if !loopback && !allow_insecure {
                return Err(CancelError::config(
                    backend,
                    format!(
                        "refusing plain http:// to non-loopback host {}; use https:// or opt in with allow_insecure_http",
                        url.host_str().unwrap_or("")
                    ),
                ));
            }
        }
        other => {
            return Err(CancelError::config(
                backend,
                format!("unsupported URL scheme {other:?}; use https://"),
            ));
        }
    }
    if url.host().is_none() {
        return Err(CancelError::config(backend, "the base URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CancelError::config(
            backend,
            "the base URL must not carry credentials; pass a token instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CancelError::config(
            backend,
            "the base URL must not have a query or fragment",
        ));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn scrub_replaces_every_occurrence_and_only_those() {
        let s = b"tok-12345678";
        assert_eq!(scrub(b"nothing here", s), None);
        assert_eq!(scrub(b"", s), None);
        assert_eq!(
            scrub(b"Bearer tok-12345678 and tok-12345678tok-12345678!", s).as_deref(),
            Some(&b"Bearer *** and ******!"[..])
        );
        assert_eq!(scrub(b"tok-1234567", s), None, "a prefix is not the token");
        assert_eq!(scrub(b"abc", b""), None);
    }
}
