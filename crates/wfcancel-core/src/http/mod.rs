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
mod scrub;

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

pub use bytes::Bytes;
use futures::FutureExt as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, Url};
use tracing::Instrument;

pub use response::{HttpResponse, readable_body};

use crate::{CancelError, ConfigProblem, ConfigSetting, RetryPolicy, SecretToken};
use scrub::Scrubber;

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
    /// The header that carries the token (`Authorization: Bearer …` unless the backend names
    /// another, e.g. `x-api-key`), its value marked sensitive.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Masks the token in every answer, in every spelling (see [`HttpClient::send_with`]).
    scrubber: Option<Scrubber>,
    config: HttpConfig,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("backend", &self.backend)
            .field("base_url", &self.base.as_str())
            .field(
                "auth",
                &self.auth.as_ref().map(|(name, _)| match *name {
                    AUTHORIZATION => "Bearer ***".to_owned(),
                    ref other => format!("{other}: ***"),
                }),
            )
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
        Self::build(backend, base_url, token, None, config)
    }

    /// Like [`new`](Self::new), sending the token as the whole value of the header `header`
    /// (e.g. `x-api-key: <token>`, LangGraph Platform's) instead of `Authorization: Bearer
    /// <token>`. The value is marked sensitive, and answers are scrubbed of the token exactly as
    /// with a bearer token. A header name that is not a valid HTTP header name is a
    /// configuration error.
    ///
    /// ```
    /// use wfcancel_core::SecretToken;
    /// use wfcancel_core::http::{HttpClient, HttpConfig};
    /// let key = SecretToken::new("lsv2-secret");
    /// let c = HttpClient::with_token_header("test", "http://127.0.0.1:1", Some(&key), "x-api-key", HttpConfig::default())?;
    /// let shown = format!("{c:?}");
    /// assert!(shown.contains("x-api-key: ***") && !shown.contains("lsv2-secret"));
    /// # Ok::<(), wfcancel_core::CancelError>(())
    /// ```
    pub fn with_token_header(
        backend: &'static str,
        base_url: &str,
        token: Option<&SecretToken>,
        header: &str,
        config: HttpConfig,
    ) -> Result<Self, CancelError> {
        let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            CancelError::config_of(
                backend,
                ConfigSetting::Token,
                ConfigProblem::Invalid,
                format!("{header:?} is not a valid HTTP header name for the token"),
            )
        })?;
        Self::build(backend, base_url, token, Some(name), config)
    }

    fn build(
        backend: &'static str,
        base_url: &str,
        token: Option<&SecretToken>,
        header: Option<HeaderName>,
        config: HttpConfig,
    ) -> Result<Self, CancelError> {
        let base = parse_base_url(backend, base_url, config.allow_insecure_http)?;
        let auth = match token {
            Some(t) if t.is_blank() => {
                return Err(CancelError::config_of(
                    backend,
                    ConfigSetting::Token,
                    ConfigProblem::Missing,
                    "the token is empty",
                ));
            }
            Some(t) => {
                let value = match &header {
                    Some(_) => t.expose().to_owned(),
                    None => format!("Bearer {}", t.expose()),
                };
                let mut v = HeaderValue::from_str(&value).map_err(|_| {
                    CancelError::config_of(
                        backend,
                        ConfigSetting::Token,
                        ConfigProblem::Invalid,
                        "the token contains characters not allowed in an HTTP header",
                    )
                })?;
                v.set_sensitive(true);
                Some((header.clone().unwrap_or(AUTHORIZATION), v))
            }
            None => None,
        };
        let scrubber = token.and_then(|t| Scrubber::new(t.expose()));
        let mut builder = reqwest::Client::builder();
        if base.host().is_some_and(|h| is_loopback_host(&h)) {
            // A loopback base URL is why plain http is allowed: never send its requests (and
            // their token) to an HTTP_PROXY / HTTPS_PROXY / ALL_PROXY from the environment.
            builder = builder.no_proxy();
        }
        let client = builder
            .connect_timeout(config.connect_timeout)
            // No reqwest timeout: each attempt is timed by `attempt` itself (one timer per
            // attempt, not a boxed one per request on top of it).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT_VALUE)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                CancelError::config_of(
                    backend,
                    ConfigSetting::Http,
                    ConfigProblem::Invalid,
                    format!("cannot build the HTTP client: {e}"),
                )
                .with_source(e)
            })?;
        Ok(HttpClient {
            backend,
            client,
            base,
            auth,
            scrubber,
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
            let mut path = url.path_segments_mut().map_err(|_| {
                CancelError::config_of(
                    self.backend,
                    ConfigSetting::BaseUrl,
                    ConfigProblem::Invalid,
                    "the base URL cannot have a path",
                )
            })?;
            path.pop_if_empty();
            for (field, segment) in segments {
                if segment.is_empty() || *segment == "." || *segment == ".." {
                    return Err(CancelError::invalid_input(
                        self.backend,
                        field,
                        format!("{segment:?} cannot be sent as a URL path segment"),
                    ));
                }
                if crate::run::has_control(segment) {
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

    /// One call's budget: every request sent through the returned [`Call`] shares one deadline,
    /// [`RetryPolicy::total_deadline`] from now, retries and pauses included.
    ///
    /// A trait method that sends more than one request (a state read before a cancel, a
    /// confirmation after it, the re-sends of a chunk) makes one `Call` and sends everything
    /// through it, so that the caller's deadline holds for the whole call, not for each request.
    pub fn call(&self) -> Call<'_> {
        Call {
            http: self,
            deadline: Instant::now().checked_add(self.config.retry.total_deadline),
        }
    }

    /// Sends one request in a call of its own. See [`Call::send_with`].
    pub fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + '_ {
        self.call().send(operation, method, url)
    }

    /// Sends one request in a call of its own. See [`Call::send_with`].
    pub fn send_with<'a>(
        &'a self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &'a (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + 'a {
        self.call().send_with(operation, method, url, hint)
    }

    /// Sends one request in a call of its own. See [`Call::send_unrepeatable`].
    pub fn send_unrepeatable<'a>(
        &'a self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &'a (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + 'a {
        self.call().send_unrepeatable(operation, method, url, hint)
    }

    /// `error` with the token masked in every text it carries, in every spelling (raw,
    /// JSON-escaped, percent-encoded). Answers are masked before a backend reads them; a
    /// backend's mapping function passes what it built from them through here too, so that a
    /// string decoded from an answer can never show the token either.
    pub fn scrub_error(&self, error: CancelError) -> CancelError {
        match &self.scrubber {
            Some(s) => error.map_text(|t| s.scrub_str(&t)),
            None => error,
        }
    }

    /// `result` with its error passed through [`scrub_error`](Self::scrub_error).
    pub fn scrub_result<T>(&self, result: Result<T, CancelError>) -> Result<T, CancelError> {
        result.map_err(|e| self.scrub_error(e))
    }

    /// The retry loop of every send: `mode` says which failures may be retried.
    // One private loop behind every public send: its arguments are the request and the mode.
    #[allow(clippy::too_many_arguments)]
    // A plain fn returning an `async move` block, not an `async fn`: an `async fn` keeps its
    // arguments twice in its state (as captured and as locals), and this future is part of
    // every cancel's (boxed) future, whose size is paid on every request.
    #[allow(clippy::manual_async_fn)]
    fn send_loop<'a>(
        &'a self,
        deadline: Option<Instant>,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &'a (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
        mode: SendMode,
        body: Option<&'a Bytes>,
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + 'a {
        async move {
            let policy = &self.config.retry;
            // What is left of the call at `now` (the clock is read once per attempt and once
            // after it: each read costs, and a bulk sends tens of thousands of these).
            let remaining_at = |now: Instant| match deadline {
                Some(d) => d.saturating_duration_since(now),
                None => Duration::MAX,
            };
            // The last answer a retried attempt got, returned if later attempts get none (boxed:
            // it is rarely there, and the future stays small without it).
            let mut earlier: Option<Box<HttpResponse>> = None;
            // Whether an attempt failed after its request may have reached the server: a later
            // attempt that could not even connect must not make the error say "never sent".
            let mut maybe_sent_before = false;
            let mut attempt: u32 = 1;
            loop {
                let t0 = Instant::now();
                let left = remaining_at(t0);
                if left.is_zero() {
                    return match earlier {
                        Some(resp) => Ok(*resp),
                        None => Err(CancelError::timeout(
                            self.backend,
                            format!(
                                "{method} {}: not sent, the call's deadline ({:.1}s) had passed",
                                url.path(),
                                policy.total_deadline.as_secs_f64()
                            ),
                        )),
                    };
                }
                let timeout = self.config.request_timeout.min(left);
                // Everything about this attempt lives in this block, and only the pause leaves
                // it: nothing else is kept in the future's state while it sleeps.
                let pause = {
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
                    let result = if span.is_disabled() {
                        self.attempt(&method, &url, timeout, body).await
                    } else {
                        self.attempt(&method, &url, timeout, body)
                            .instrument(span.clone())
                            .await
                    };
                    let now = Instant::now();
                    let took = now.saturating_duration_since(t0);
                    if !span.is_disabled() {
                        span.record("elapsed_ms", took.as_millis() as u64);
                    }
                    self.log_attempt(&method, &url, attempt, took, &result);
                    let remaining = remaining_at(now);
                    let window = RetryPolicy::min_attempt_window(took, self.config.request_timeout);
                    let retries = mode != SendMode::Once;
                    match result {
                        Ok(mut resp) => {
                            if !span.is_disabled() {
                                span.record("status", resp.status);
                            }
                            resp.attempts = attempt;
                            if !retries || !is_retryable_status(resp.status) {
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
                            if wait.is_some_and(|w| w > policy.max_retry_wait) {
                                tracing::debug!(target: "wfcancel::retry", parent: &span, status = resp.status, "the server asks for a wait longer than max_retry_wait: not retrying");
                                return Ok(resp);
                            }
                            match policy.pause_within(attempt, wait, remaining, window) {
                                Some(pause) => {
                                    tracing::debug!(target: "wfcancel::retry", parent: &span, status = resp.status, pause_ms = pause.as_millis() as u64, "{method} {}: HTTP {}, retrying in {} ms", self.loggable(&url), resp.status, pause.as_millis());
                                    earlier = Some(Box::new(resp));
                                    pause
                                }
                                None => return Ok(resp),
                            }
                        }
                        Err(AttemptError::Final(e)) => return Err(e),
                        Err(AttemptError::NotSent(e) | AttemptError::MaybeSent(e)) if !retries => return Err(e),
                        // The request may have been carried out: repeating it, or answering with an
                        // earlier answer that says it was not, would both be wrong.
                        Err(AttemptError::MaybeSent(e)) if mode == SendMode::Unrepeatable => return Err(e),
                        Err(failed @ (AttemptError::NotSent(_) | AttemptError::MaybeSent(_))) => {
                            let e = match failed {
                                AttemptError::MaybeSent(e) => {
                                    maybe_sent_before = true;
                                    e
                                }
                                AttemptError::NotSent(e) | AttemptError::Final(e) => e,
                            };
                            match policy.pause_within(attempt, None, remaining, window) {
                                Some(pause) => {
                                    tracing::debug!(target: "wfcancel::retry", parent: &span, error = %e, pause_ms = pause.as_millis() as u64, "{method} {}: {e}; retrying in {} ms", self.loggable(&url), pause.as_millis());
                                    pause
                                }
                                None => {
                                    return match earlier {
                                        Some(mut resp) => {
                                            tracing::debug!(target: "wfcancel::retry", parent: &span, error = %e, status = resp.status, "no answer this time; returning the earlier one");
                                            resp.attempts = attempt;
                                            Ok(*resp)
                                        }
                                        // A request an earlier attempt may have delivered
                                        // may have been carried out, whatever this one met.
                                        None if maybe_sent_before => Err(e.maybe_delivered()),
                                        None => Err(e),
                                    };
                                }
                            }
                        }
                    }
                };
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
        }
    }

    /// The URL as logged: no token can be in it (the token only ever travels in a header), but
    /// it is masked all the same.
    fn loggable(&self, url: &Url) -> String {
        self.scrubbed_text(url.as_str())
    }

    /// One line per attempt at DEBUG on target `wfcancel::request`: method, URL, status (or the
    /// error), attempt and elapsed time (the CLI's `-v`).
    fn log_attempt(
        &self,
        method: &Method,
        url: &Url,
        attempt: u32,
        took: Duration,
        result: &Result<HttpResponse, AttemptError>,
    ) {
        if !tracing::enabled!(target: "wfcancel::request", tracing::Level::DEBUG) {
            return;
        }
        let ms = took.as_secs_f64() * 1000.0;
        let url = self.loggable(url);
        match result {
            Ok(resp) => tracing::debug!(
                target: "wfcancel::request",
                backend = self.backend,
                "{method} {url} -> {} (attempt {attempt}, {ms:.1} ms)",
                resp.status
            ),
            Err(AttemptError::Final(e) | AttemptError::NotSent(e) | AttemptError::MaybeSent(e)) => tracing::debug!(
                target: "wfcancel::request",
                backend = self.backend,
                "{method} {url} -> {} (attempt {attempt}, {ms:.1} ms)",
                e.kind()
            ),
        }
    }

    /// One attempt, timed: the timeout is applied around it (not with reqwest's per-request
    /// timeout, which boxes a timer for every request on top), and covers connecting, sending
    /// and reading the whole answer, as reqwest's would. A plain fn returning an `async move`
    /// block, as [`send_loop`](Self::send_loop).
    fn attempt<'a>(
        &'a self,
        method: &'a Method,
        url: &'a Url,
        timeout: Duration,
        body: Option<&'a Bytes>,
    ) -> impl Future<Output = Result<HttpResponse, AttemptError>> + Send + 'a {
        // `map`, not an `async` block awaiting the timed future: that would keep the future
        // twice in its state.
        tokio::time::timeout(timeout, self.attempt_untimed(method, url, timeout, body)).map(move |timed| match timed {
            Ok(result) => result,
            // The request may have been sent: only a repeatable one is tried again.
            Err(_) => Err(AttemptError::MaybeSent(CancelError::timeout(
                self.backend,
                format!(
                    "{method} {}: no complete answer within {:.1}s",
                    url.path(),
                    timeout.as_secs_f64()
                ),
            ))),
        })
    }

    // Not an `async fn`, as `send_loop`.
    #[allow(clippy::manual_async_fn)]
    fn attempt_untimed<'a>(
        &'a self,
        method: &'a Method,
        url: &'a Url,
        timeout: Duration,
        body: Option<&'a Bytes>,
    ) -> impl Future<Output = Result<HttpResponse, AttemptError>> + Send + 'a {
        async move {
            let mut req = self.client.request(method.clone(), url.clone());
            if let Some((name, value)) = &self.auth {
                req = req.header(name.clone(), value.clone());
            }
            if let Some(body) = body {
                // A JSON request asks for a JSON answer: some APIs answer another format by default
                // (Restate's `/query` answers an Arrow stream unless asked for JSON).
                req = req
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .body(body.clone());
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
                    // Masked before parsing: the parser lower-cases a host, which would hide a
                    // token echoed there from the (case-sensitive) mask.
                    .map(|l| self.scrubbed_text(l))
                    .map(|l| match Url::parse(&l).or_else(|_| url.join(&l)) {
                        Ok(u) => format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or(""), u.path()),
                        Err(_) => "an unreadable location".to_owned(),
                    })
                    .unwrap_or_else(|| "no location".to_owned());
                let to = self.scrubbed_text(&to);
                return Err(AttemptError::Final(CancelError::provider(
                    self.backend,
                    Some(status),
                    format!(
                        "{method} {} answered a redirect to {to}; redirects are never followed",
                        url.path()
                    ),
                )));
            }
            let cap = self.config.max_body_bytes;
            // A successful answer must be read whole to mean anything; any other is kept (cut at
            // the cap) so that its status still counts and its start can still be shown.
            let must_fit = (200..300).contains(&status);
            let too_large = || {
                AttemptError::Final(CancelError::decode(
                    self.backend,
                    format!("the answer (HTTP {status}) is larger than the {cap}-byte cap"),
                ))
            };
            if must_fit && resp.content_length().is_some_and(|n| n > cap as u64) {
                return Err(too_large());
            }
            // Most answers come in one chunk, kept as it came (no copy); a second one starts a
            // buffer.
            let mut first: Option<Bytes> = None;
            let mut buf: Vec<u8> = Vec::new();
            let mut len = 0;
            let mut truncated = false;
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| self.transport_error(e, method, url, timeout))?
            {
                if len + chunk.len() > cap {
                    if must_fit {
                        return Err(too_large());
                    }
                    let keep = cap - len;
                    if let Some(f) = first.take() {
                        buf.extend_from_slice(&f);
                    }
                    buf.extend_from_slice(&chunk[..keep]);
                    truncated = true;
                    break;
                }
                len += chunk.len();
                match first.take() {
                    None if buf.is_empty() => first = Some(chunk),
                    None => buf.extend_from_slice(&chunk),
                    Some(f) => {
                        buf.reserve(len);
                        buf.extend_from_slice(&f);
                        buf.extend_from_slice(&chunk);
                    }
                }
            }
            // Taken only now: not kept in the future's state across the reads above.
            let mut headers = std::mem::take(resp.headers_mut());
            // Dropping `resp` unread closes the connection instead of reading the rest.
            drop(resp);
            let mut body: Bytes = match first {
                Some(f) => f,
                None => buf.into(),
            };
            if let Some(scrubber) = &self.scrubber {
                if truncated {
                    // The cut may have split a token: no start of one may show either, in any
                    // spelling.
                    let cut = scrubber.trailing_partial(&body);
                    body.truncate(body.len() - cut);
                }
                if let Some(scrubbed) = scrubber.scrub_bytes(&body) {
                    body = scrubbed.into();
                }
                // Spellings that only show once the JSON is decoded (an escape inside an escape).
                if let Some(scrubbed) = scrubber.scrub_json(&body) {
                    body = scrubbed.into();
                }
                for value in headers.values_mut() {
                    if let Some(scrubbed) = scrubber.scrub_bytes(value.as_bytes()) {
                        let mut clean = HeaderValue::from_bytes(&scrubbed).unwrap_or(HeaderValue::from_static("***"));
                        clean.set_sensitive(true);
                        *value = clean;
                    }
                }
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
                attempts: 1,
            })
        }
    }

    /// `text` with the token scrubbed.
    fn scrubbed_text(&self, text: &str) -> String {
        match &self.scrubber {
            Some(s) => s.scrub_str(text),
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
            CancelError::timeout(
                self.backend,
                format!("{what}: no complete answer within {:.1}s", timeout.as_secs_f64()),
            )
            .with_source(e)
        } else {
            let mut message = format!("{what}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            CancelError::transport(self.backend, message).with_source(e)
        };
        if not_sent {
            AttemptError::NotSent(error)
        } else {
            AttemptError::MaybeSent(error.maybe_delivered())
        }
    }
}

/// Which failures a send may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendMode {
    /// Any retryable failure (the request is harmless to repeat).
    Repeatable,
    /// Only failures where the request surely never arrived, and answers the hint allows.
    Unrepeatable,
    /// None: one attempt.
    Once,
}

/// One call's share of the plumbing: the requests sent through it share one deadline (see
/// [`HttpClient::call`]). Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    http: &'a HttpClient,
    deadline: Option<Instant>,
}

impl<'a> Call<'a> {
    /// The same call, ending at `deadline` when that is earlier (a bulk's own deadline);
    /// `None` changes nothing.
    pub fn until(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = match (self.deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }

    /// When the call's time is up (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sends a request with the shared retry rule. See [`send_with`](Self::send_with).
    pub fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a> {
        self.send_with(operation, method, url, &|_| RetryDecision::Default)
    }

    /// Sends a request (no body) and reads the answer, retrying as the [`RetryPolicy`] says,
    /// within the call's deadline (shared with every other request of the call).
    ///
    /// Answers with any status come back as `Ok(HttpResponse)` for the backend to map, including
    /// the last retryable one when retries ran out. `Err` is reserved for what never produced a
    /// readable answer: [`CancelError::Transport`], [`CancelError::Timeout`] (also when the
    /// call's deadline had passed before this request: it is then not sent), a redirect
    /// ([`CancelError::Provider`]; never followed, so the token never reaches another host) and
    /// a successful (2xx) body over the cap ([`CancelError::Decode`]). The body of any other
    /// answer is cut at the cap instead (a proxy's large 502 page keeps its status and is
    /// retried like any 502).
    ///
    /// A retry starts only when, after its pause, at least
    /// [`RetryPolicy::min_attempt_window`] is left before the deadline (twice what the last
    /// attempt took, at least 100 ms, at most the request timeout), so the last attempt is never
    /// starved into a timeout. A server asking (`Retry-After`, or the backend's hint) for a
    /// longer wait than [`RetryPolicy::max_retry_wait`] is not waited for: its answer is
    /// returned. When a retry fails without an answer (timeout, transport error) after an
    /// earlier attempt got one, that earlier answer is returned (its `attempts` counts every
    /// attempt made), not the error.
    ///
    /// The token is replaced by `***` in every answer's body and header values and in a
    /// redirect's location before anything reads them, in every spelling a server may echo it
    /// in (raw, JSON-escaped — `\/`, `\u002F` —, percent-encoded, or a mix), whatever its
    /// length, so a server or proxy that echoes the `Authorization` header back cannot make an
    /// error or a `{:?}` show it. Requests to a loopback base URL never go through a proxy from
    /// the environment (`HTTP_PROXY`, …).
    ///
    /// Each attempt is logged at DEBUG on the target `wfcancel::request` (method, URL, status,
    /// attempt, elapsed), and each retry with its pause on `wfcancel::retry`.
    ///
    /// `hint` lets the backend refine the rule for an answer: a provider-specific retry time, or
    /// "never retry this one".
    pub fn send_with<'h>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &'h (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a, 'h>
    where
        'a: 'h,
    {
        self.http
            .send_loop(self.deadline, operation, method, url, hint, SendMode::Repeatable, None)
    }

    /// Like [`send_with`](Self::send_with), for requests that must not be repeated once they
    /// may have reached the server (a filtered bulk cancel capped by `count`, a background
    /// action): it retries only failures where the request surely never arrived (connection
    /// refused / could not connect) and answers for which `hint` does not say `Never` (the
    /// backend returns `Never` for 5xx/408 there; 429 is safe). A timeout or a connection lost
    /// after sending is returned at once.
    ///
    /// Everything else is as in [`send_with`](Self::send_with), except that an error after which
    /// the request may have been carried out is always returned as is, never replaced by an
    /// earlier answer (which would say it was not).
    pub fn send_unrepeatable<'h>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        hint: &'h (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a, 'h>
    where
        'a: 'h,
    {
        self.http.send_loop(
            self.deadline,
            operation,
            method,
            url,
            hint,
            SendMode::Unrepeatable,
            None,
        )
    }

    /// One attempt, never retried, within the call's deadline: for a request that only refines
    /// an answer (a state read before a cancel) and must not cost the call its time.
    pub fn send_once(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a> {
        self.http.send_loop(
            self.deadline,
            operation,
            method,
            url,
            &|_| RetryDecision::Never,
            SendMode::Once,
            None,
        )
    }

    /// Like [`send_with`](Self::send_with), with a JSON body (`Content-Type: application/json`,
    /// and `Accept: application/json`), sent again as is by every retry: for requests that are
    /// safe to repeat because the body makes them idempotent (a request id the provider
    /// de-duplicates on, a job id it refuses to start twice, a read-only query).
    ///
    /// The body is the caller's: it is never logged, and it must not hold the token (which
    /// travels in the `Authorization` header only).
    pub fn send_json_with<'h>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Bytes,
        hint: &'h (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a, 'h>
    where
        'a: 'h,
    {
        let (http, deadline) = (self.http, self.deadline);
        async move {
            http.send_loop(
                deadline,
                operation,
                method,
                url,
                hint,
                SendMode::Repeatable,
                Some(&body),
            )
            .await
        }
    }

    /// Like [`send_unrepeatable`](Self::send_unrepeatable), with a JSON body (see
    /// [`send_json_with`](Self::send_json_with)).
    pub fn send_json_unrepeatable<'h>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Bytes,
        hint: &'h (dyn Fn(&HttpResponse) -> RetryDecision + Sync),
    ) -> impl Future<Output = Result<HttpResponse, CancelError>> + Send + use<'a, 'h>
    where
        'a: 'h,
    {
        let (http, deadline) = (self.http, self.deadline);
        async move {
            http.send_loop(
                deadline,
                operation,
                method,
                url,
                hint,
                SendMode::Unrepeatable,
                Some(&body),
            )
            .await
        }
    }
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
/// past means zero), either capped at about 31 years so that no sum overflows. `None` when it is
/// neither. (How long the plumbing is willing to wait is [`RetryPolicy::max_retry_wait`].)
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
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(MAX_RETRY_AFTER_SECS)),
    )
}

fn parse_base_url(backend: &'static str, raw: &str, allow_insecure: bool) -> Result<Url, CancelError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CancelError::config_of(
            backend,
            ConfigSetting::BaseUrl,
            ConfigProblem::Missing,
            "the base URL is empty",
        ));
    }
    let bad = |problem, message: String| CancelError::config_of(backend, ConfigSetting::BaseUrl, problem, message);
    let mut url =
        Url::parse(raw).map_err(|e| bad(ConfigProblem::Invalid, format!("invalid base URL: {e}")).with_source(e))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = url.host().is_some_and(|h| is_loopback_host(&h));
            if !loopback && !allow_insecure {
                return Err(bad(
                    ConfigProblem::InsecureHttp,
                    format!(
                        "refusing plain http:// to non-loopback host {}; use https:// or opt in with allow_insecure_http",
                        url.host_str().unwrap_or("")
                    ),
                ));
            }
        }
        other => {
            return Err(bad(
                ConfigProblem::Invalid,
                format!("unsupported URL scheme {other:?}; use https://"),
            ));
        }
    }
    if url.host().is_none() {
        return Err(bad(ConfigProblem::Invalid, "the base URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            ConfigProblem::Invalid,
            "the base URL must not carry credentials; pass a token instead".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            ConfigProblem::Invalid,
            "the base URL must not have a query or fragment".into(),
        ));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}
