//! Fault injection shared by both emulators: random errors, throttling, rate limits, latency,
//! dropped connections, and per-path [`Scenario`] overrides. Changeable at run time through a
//! [`FaultHandle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::Method;

use crate::util::{lock, now_secs};

/// Fault knobs. All off by default ([`Faults::none`]).
///
/// Per request, in this order: latency is added; then a connection may be dropped
/// (`drop_rate`); then the per-second rate limit applies (`rate_limit_per_sec`); then a random
/// `429` (`throttle_rate`); then a random `5xx` (`error_rate`). These faults are decided and
/// answered before the request reaches the endpoint, so such a faulted request never changes
/// state. The one exception is `drop_after_rate` ([`Faults::drop_after`]): a request it picks
/// (among those no other fault stopped) is handled by the endpoint as usual, state changes
/// included, and then its answer is thrown away and the connection closed without a response:
/// "the server did it, the client never heard". Counted as [`crate::FaultKind::DroppedAfterHandling`].
///
/// ```
/// use std::time::Duration;
/// use wfcancel_emulator::Faults;
/// let f = Faults::none().errors(0.1).throttle(0.05).latency(Duration::from_millis(5)).seed(42);
/// assert_eq!(f.error_status, 503);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Requests allowed per wall-clock second (a fixed window aligned on Unix seconds); past it,
    /// `429` with the provider's rate-limit headers. `None`: no limit.
    pub rate_limit_per_sec: Option<u32>,
    /// Fraction (0.0–1.0) of requests answered `429` at random, with `Retry-After`.
    pub throttle_rate: f64,
    /// `Retry-After` (seconds) sent with random `429`s.
    pub retry_after_secs: u64,
    /// Fraction (0.0–1.0) of requests answered with [`Faults::error_status`] at random.
    pub error_rate: f64,
    /// The status of random errors (default `503`).
    pub error_status: u16,
    /// Fraction (0.0–1.0) of requests whose connection is closed without any response, before
    /// the endpoint sees them (nothing changes).
    pub drop_rate: f64,
    /// Fraction (0.0–1.0) of requests handled by the endpoint (their state changes happen) whose
    /// answer is then dropped with the connection: the client sees a connection error for a
    /// request that took effect.
    pub drop_after_rate: f64,
    /// Fixed latency added to every request.
    pub latency: Duration,
    /// Random extra latency, uniform in `0..=jitter`, added to every request.
    pub jitter: Duration,
    /// Seed for the fault RNG, for reproducible runs (the same sequence of decisions for the same
    /// sequence of requests). `None`: seeded from the environment.
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults {
            rate_limit_per_sec: None,
            throttle_rate: 0.0,
            retry_after_secs: 1,
            error_rate: 0.0,
            error_status: 503,
            drop_rate: 0.0,
            drop_after_rate: 0.0,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: None,
        }
    }

    /// Allow at most `per_sec` requests per second.
    pub fn rate_limit(mut self, per_sec: u32) -> Self {
        self.rate_limit_per_sec = Some(per_sec);
        self
    }

    /// Answer this fraction of requests `429` at random.
    pub fn throttle(mut self, rate: f64) -> Self {
        self.throttle_rate = rate;
        self
    }

    /// `Retry-After` seconds for random `429`s.
    pub fn retry_after_secs(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Answer this fraction of requests with a `5xx` at random.
    pub fn errors(mut self, rate: f64) -> Self {
        self.error_rate = rate;
        self
    }

    /// The status of random errors.
    pub fn error_status(mut self, status: u16) -> Self {
        self.error_status = status;
        self
    }

    /// Close this fraction of connections without a response.
    pub fn drops(mut self, rate: f64) -> Self {
        self.drop_rate = rate;
        self
    }

    /// Let the endpoint handle this fraction of requests (state changes happen), then close the
    /// connection without sending its answer. The decision is made after every other fault:
    /// only requests that would otherwise have been answered by the endpoint are picked.
    ///
    /// ```
    /// use wfcancel_emulator::Faults;
    /// let f = Faults::none().drop_after(0.2).seed(7);
    /// assert_eq!(f.drop_after_rate, 0.2);
    /// assert!(!f.is_none());
    /// ```
    pub fn drop_after(mut self, rate: f64) -> Self {
        self.drop_after_rate = rate;
        self
    }

    /// Add this latency to every request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Add a random extra latency up to `jitter`.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Seed the fault RNG.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether no fault is configured.
    pub fn is_none(&self) -> bool {
        self.rate_limit_per_sec.is_none()
            && self.throttle_rate <= 0.0
            && self.error_rate <= 0.0
            && self.drop_rate <= 0.0
            && self.drop_after_rate <= 0.0
            && self.latency.is_zero()
            && self.jitter.is_zero()
    }
}

/// A canned misbehaviour that replaces an endpoint's answer, for reliability tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scenario {
    /// Never answer: the request stays pending until the client gives up (or the emulator shuts
    /// down, which closes the connection).
    Hang,
    /// Close the connection without any response (the endpoint never sees the request).
    Drop,
    /// Let the endpoint handle the request (state changes happen), then close the connection
    /// without sending its answer: the request took effect, the client sees a connection error.
    /// Counted as [`crate::FaultKind::DroppedAfterHandling`] (not as
    /// [`crate::FaultKind::Scenario`]).
    DropAfterHandling,
    /// Handle the request normally (state changes happen), then send the body one byte per
    /// `interval`.
    Trickle {
        /// Delay between bytes.
        interval: Duration,
    },
    /// `200` with a JSON body of exactly `bytes` bytes (`{"cancelled":0,"padding":"xxx…"}`), streamed.
    HugeBody {
        /// Body size in bytes.
        bytes: usize,
    },
    /// A fixed answer.
    Respond {
        /// Status code.
        status: u16,
        /// `Content-Type`.
        content_type: String,
        /// Body.
        body: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// `status` with a JSON body (`application/json`) that echoes the request's credential, the
    /// way a careless server's error page might: the value of its `Authorization` header, else
    /// of its `X-Api-Key` header, else an empty string, in several spellings at once, so that a
    /// client's scrubbing of what it prints can be tested against every one of them:
    ///
    /// ```text
    /// {"message":"bad credentials: <raw, JSON-escaped as usual>",
    ///  "escaped":"<JSON-escaped, with \/ for />",
    ///  "unicode":"<every character but ASCII letters and digits as \uXXXX, e.g. \u002F>",
    ///  "encoded":"<percent-encoded, every byte but A-Z a-z 0-9 - . _ ~>"}
    /// ```
    ///
    /// plus an `x-echo` header carrying the raw value (when it is a valid header value, which it
    /// is whenever it came in as one). The endpoint never sees the request.
    EchoCredential {
        /// Status code (e.g. `401`).
        status: u16,
    },
}

impl Scenario {
    /// A fixed answer.
    pub fn respond(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Scenario::Respond {
            status,
            content_type: content_type.into(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// `200` whose body is not JSON.
    pub fn not_json() -> Self {
        Scenario::respond(200, "application/json", "<<this is not json>>")
    }

    /// An HTML error page with `status`, as a proxy in front of a provider might send.
    pub fn html_error(status: u16) -> Self {
        Scenario::respond(
            status,
            "text/html; charset=utf-8",
            format!(
                "<html><head><title>{status} Error</title></head><body><center><h1>{status} Error</h1></center>\
                 <hr><center>nginx</center></body></html>\n"
            ),
        )
    }

    /// `302 Found` to `location` (e.g. another host).
    pub fn redirect(location: impl Into<String>) -> Self {
        Scenario::Respond {
            status: 302,
            content_type: "text/html; charset=utf-8".into(),
            body: "<a href=\"elsewhere\">Found</a>.\n".into(),
            headers: vec![("location".into(), location.into())],
        }
    }

    /// `status` with a JSON body echoing the request's credential in several spellings (and an
    /// `x-echo` header carrying it raw): see [`Scenario::EchoCredential`].
    ///
    /// ```
    /// use wfcancel_emulator::{Scenario, ScenarioRule};
    /// // Every cancel is answered 401 with the token echoed back.
    /// let rule = ScenarioRule::new(Scenario::echo_credential(401)).path_suffix("/cancel");
    /// # let _ = rule;
    /// ```
    pub fn echo_credential(status: u16) -> Self {
        Scenario::EchoCredential { status }
    }

    /// A 10 MB JSON body.
    pub fn huge_body() -> Self {
        Scenario::HugeBody {
            bytes: 10 * 1024 * 1024,
        }
    }
}

/// Which requests a [`Scenario`] applies to, and how many times.
///
/// ```
/// use wfcancel_emulator::{Scenario, ScenarioRule};
/// // The first two cancels hang, then the endpoint behaves normally.
/// let rule = ScenarioRule::new(Scenario::Hang).method("POST").path_suffix("/cancel").times(2);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioRule {
    scenario: Scenario,
    method: Option<Method>,
    prefix: String,
    suffix: String,
    remaining: Option<u64>,
}

impl ScenarioRule {
    /// A rule applying `scenario` to every request, forever (narrow it with the setters).
    pub fn new(scenario: Scenario) -> Self {
        ScenarioRule {
            scenario,
            method: None,
            prefix: String::new(),
            suffix: String::new(),
            remaining: None,
        }
    }

    /// Only requests with this method (e.g. `"DELETE"`). An invalid method name matches nothing.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(Method::from_bytes(method.as_bytes()).unwrap_or(Method::CONNECT));
        self
    }

    /// Only requests whose path (without the query) starts with `prefix`.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Only requests whose path (without the query) ends with `suffix`.
    pub fn path_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// Apply to the first `n` matching requests only, then remove the rule.
    pub fn times(mut self, n: u64) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && path.starts_with(&self.prefix)
            && path.ends_with(&self.suffix)
    }
}

/// What the rate limit says about one request (for the provider's headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Unix seconds when the window resets.
    pub(crate) reset: u64,
}

/// The fault decided for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    Pass(Option<RateInfo>),
    /// Handle the request, then drop its answer and the connection.
    DropAfter(Option<RateInfo>),
    Drop,
    RateLimited(RateInfo),
    Throttled {
        retry_after: u64,
        limit: Option<u32>,
    },
    ServerError(u16),
}

#[derive(Debug)]
struct FaultState {
    config: RwLock<Arc<Faults>>,
    rng: Mutex<fastrand::Rng>,
    /// (Unix second, requests admitted in it).
    window: Mutex<(u64, u32)>,
    rules: Mutex<Vec<ScenarioRule>>,
    has_rules: AtomicBool,
}

/// A handle to an emulator's fault knobs; clones share them. Changes apply to the next request.
#[derive(Debug, Clone)]
pub struct FaultHandle {
    inner: Arc<FaultState>,
}

impl FaultHandle {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = faults.seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        FaultHandle {
            inner: Arc::new(FaultState {
                config: RwLock::new(Arc::new(faults)),
                rng: Mutex::new(rng),
                window: Mutex::new((0, 0)),
                rules: Mutex::new(Vec::new()),
                has_rules: AtomicBool::new(false),
            }),
        }
    }

    /// The current knobs.
    pub fn get(&self) -> Faults {
        Faults::clone(&self.config())
    }

    /// Replaces the knobs (and reseeds the RNG when `faults.seed` is set).
    pub fn set(&self, faults: Faults) {
        if let Some(seed) = faults.seed {
            *lock(&self.inner.rng) = fastrand::Rng::with_seed(seed);
        }
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(faults);
    }

    /// Changes the knobs in place.
    pub fn update(&self, f: impl FnOnce(&mut Faults)) {
        let mut faults = self.get();
        f(&mut faults);
        self.set(faults);
    }

    /// Turns every fault off and removes every scenario rule.
    pub fn clear(&self) {
        self.set(Faults::none());
        self.clear_scenarios();
    }

    /// Adds a scenario rule. Rules are tried in the order they were added; the first that
    /// matches a request answers it.
    pub fn add_scenario(&self, rule: ScenarioRule) {
        let mut rules = lock(&self.inner.rules);
        rules.push(rule);
        self.inner.has_rules.store(true, Ordering::Release);
    }

    /// Removes every scenario rule.
    pub fn clear_scenarios(&self) {
        let mut rules = lock(&self.inner.rules);
        rules.clear();
        self.inner.has_rules.store(false, Ordering::Release);
    }

    fn config(&self) -> Arc<Faults> {
        Arc::clone(
            &self
                .inner
                .config
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The scenario for this request, if a rule matches (consuming one use of it).
    pub(crate) fn take_scenario(&self, method: &Method, path: &str) -> Option<Scenario> {
        if !self.inner.has_rules.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = lock(&self.inner.rules);
        let i = rules.iter().position(|r| r.matches(method, path))?;
        let scenario = rules[i].scenario.clone();
        if let Some(n) = rules[i].remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                rules.remove(i);
            }
        }
        self.inner.has_rules.store(!rules.is_empty(), Ordering::Release);
        Some(scenario)
    }

    /// Decides the latency and the fault for one request.
    pub(crate) fn decide(&self) -> (Duration, Verdict) {
        let cfg = self.config();
        if cfg.is_none() {
            return (Duration::ZERO, Verdict::Pass(None));
        }
        let mut delay = cfg.latency;
        let (drop, throttle, error, drop_after) = {
            let mut rng = lock(&self.inner.rng);
            if !cfg.jitter.is_zero() {
                let nanos = u64::try_from(cfg.jitter.as_nanos()).unwrap_or(u64::MAX);
                delay += Duration::from_nanos(rng.u64(0..=nanos));
            }
            let mut roll = |rate: f64| rate > 0.0 && rng.f64() < rate;
            // Rolled last, and only when set, so that seeded sequences of the other faults
            // stay as they were.
            (
                roll(cfg.drop_rate),
                roll(cfg.throttle_rate),
                roll(cfg.error_rate),
                roll(cfg.drop_after_rate),
            )
        };
        if drop {
            return (delay, Verdict::Drop);
        }
        let rate = match cfg.rate_limit_per_sec {
            Some(limit) => match self.admit(limit) {
                Ok(info) => Some(info),
                Err(info) => return (delay, Verdict::RateLimited(info)),
            },
            None => None,
        };
        if throttle {
            return (
                delay,
                Verdict::Throttled {
                    retry_after: cfg.retry_after_secs,
                    limit: cfg.rate_limit_per_sec,
                },
            );
        }
        if error {
            return (delay, Verdict::ServerError(cfg.error_status));
        }
        if drop_after {
            return (delay, Verdict::DropAfter(rate));
        }
        (delay, Verdict::Pass(rate))
    }

    /// Fixed one-second window: admits the request or says when the window resets.
    fn admit(&self, limit: u32) -> Result<RateInfo, RateInfo> {
        let now = now_secs();
        let mut w = lock(&self.inner.window);
        if w.0 != now {
            *w = (now, 0);
        }
        let reset = now + 1;
        if w.1 >= limit {
            return Err(RateInfo {
                limit,
                remaining: 0,
                reset,
            });
        }
        w.1 += 1;
        Ok(RateInfo {
            limit,
            remaining: limit - w.1,
            reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_decisions_repeat() {
        let run = || {
            let h = FaultHandle::new(Faults::none().errors(0.3).drops(0.1).throttle(0.1).seed(7));
            (0..200).map(|_| h.decide().1).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|v| matches!(v, Verdict::ServerError(503))));
        assert!(a.iter().any(|v| matches!(v, Verdict::Drop)));
        assert!(a.iter().any(|v| matches!(v, Verdict::Pass(None))));
    }

    #[test]
    fn drop_after_is_decided_last_and_leaves_other_sequences_alone() {
        let verdicts = |f: Faults| {
            let h = FaultHandle::new(f.seed(11));
            (0..300).map(|_| h.decide().1).collect::<Vec<_>>()
        };
        let all = verdicts(Faults::none().drop_after(1.0));
        assert!(all.iter().all(|v| *v == Verdict::DropAfter(None)), "{all:?}");
        // Another fault answers first: only requests that reach the endpoint are picked.
        let mixed = verdicts(Faults::none().errors(0.5).drop_after(1.0));
        assert!(mixed.iter().any(|v| matches!(v, Verdict::ServerError(_))));
        assert!(mixed.iter().any(|v| matches!(v, Verdict::DropAfter(_))));
        assert!(!mixed.iter().any(|v| matches!(v, Verdict::Pass(_))));
        // Turned off, it draws nothing from the RNG: the other faults repeat exactly.
        let plain = verdicts(Faults::none().errors(0.3).drops(0.1));
        let with_zero = verdicts(Faults::none().errors(0.3).drops(0.1).drop_after(0.0));
        assert_eq!(plain, with_zero);
        assert!(Faults::none().drop_after(0.0).is_none());
    }

    #[test]
    fn no_faults_pass() {
        let h = FaultHandle::new(Faults::none());
        assert_eq!(h.decide(), (Duration::ZERO, Verdict::Pass(None)));
    }

    #[test]
    fn rate_window() {
        let h = FaultHandle::new(Faults::none().rate_limit(3));
        let verdicts: Vec<_> = (0..3).map(|_| h.decide().1).collect();
        // Three admitted unless the second boundary passed in between (then even more are).
        assert!(verdicts.iter().all(|v| matches!(v, Verdict::Pass(Some(_)))));
    }

    #[test]
    fn rules_consume() {
        let h = FaultHandle::new(Faults::none());
        h.add_scenario(
            ScenarioRule::new(Scenario::Hang)
                .method("GET")
                .path_prefix("/a")
                .times(2),
        );
        assert_eq!(h.take_scenario(&Method::POST, "/a/x"), None);
        assert_eq!(h.take_scenario(&Method::GET, "/b"), None);
        assert_eq!(h.take_scenario(&Method::GET, "/a/x"), Some(Scenario::Hang));
        assert_eq!(h.take_scenario(&Method::GET, "/a"), Some(Scenario::Hang));
        assert_eq!(h.take_scenario(&Method::GET, "/a"), None);
    }
}
