//! When and how long to wait before trying a request again.

use std::time::Duration;

/// How failed requests are retried: transport errors, timeouts, 408, 429 and 5xx are retried
/// with exponential backoff (and jitter), honouring the provider's retry hints, until
/// `max_attempts` or `total_deadline`, whichever comes first. Nothing ever sleeps past the deadline,
/// and no retry starts unless a useful time is left for it (see [`RetryPolicy::pause_within`]).
///
/// ```
/// use std::time::Duration;
/// use wfcancel_core::RetryPolicy;
/// let p = RetryPolicy::default().max_attempts(3).total_deadline(Duration::from_secs(10));
/// assert_eq!(p.max_attempts, 3);
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5; 1 means no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry (default 100 ms); it doubles each time.
    pub initial_backoff: Duration,
    /// Longest backoff (default 5 s).
    pub max_backoff: Duration,
    /// Randomise each backoff between half and all of its value (default on).
    pub jitter: bool,
    /// No retry starts, and no sleep lasts, past this long after the first attempt (default 60 s).
    /// A value too large to add to the clock (e.g. `Duration::MAX`) means no deadline.
    ///
    /// It bounds a whole call (every request a trait method sends, state reads and
    /// confirmations included), not each request.
    pub total_deadline: Duration,
    /// The longest wait a server's retry hint (`Retry-After`, a rate limit's reset) is honoured
    /// for (default 5 minutes). A server asking for more is not waited for, whatever the
    /// deadline: its answer (typically a 429) is returned at once with its retry time, for the
    /// caller to decide. This also keeps a call without a deadline from sleeping for decades.
    pub max_retry_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            jitter: true,
            total_deadline: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The least time a retry is given (see [`min_attempt_window`](Self::min_attempt_window)): 100 ms.
    pub const MIN_ATTEMPT_WINDOW: Duration = Duration::from_millis(100);

    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// Attempts in all.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// First backoff.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Longest backoff.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Jitter on or off.
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Total deadline.
    pub fn total_deadline(mut self, d: Duration) -> Self {
        self.total_deadline = d;
        self
    }

    /// The longest server-requested wait honoured.
    pub fn max_retry_wait(mut self, d: Duration) -> Self {
        self.max_retry_wait = d;
        self
    }

    /// The backoff before retry number `retry` (1 for the first retry), without a provider hint.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        let base = self.initial_backoff.saturating_mul(1u32 << exp).min(self.max_backoff);
        if self.jitter && !base.is_zero() {
            let half = base / 2;
            half + Duration::from_nanos(fastrand::u64(
                0..=u64::try_from((base - half).as_nanos()).unwrap_or(u64::MAX),
            ))
        } else {
            base
        }
    }

    /// The pause before retry number `retry`: the backoff, or the provider's hint when that is
    /// longer (a hint is "no sooner than": `Retry-After: 0` still backs off). `None` when the
    /// pause would end past `remaining` (the time left before the deadline), which means: do not
    /// retry.
    ///
    /// This accepts a pause that leaves almost no time for the attempt after it; a caller that
    /// knows how long an attempt needs uses [`pause_within`](Self::pause_within).
    pub fn pause(&self, retry: u32, hint: Option<Duration>, remaining: Duration) -> Option<Duration> {
        self.pause_within(retry, hint, remaining, Duration::ZERO)
    }

    /// Like [`pause`](Self::pause), but `None` also when less than `window` would be left for the
    /// attempt after the pause: a retry that cannot get a useful amount of time would only
    /// replace a real answer by a timeout. The HTTP plumbing passes
    /// [`min_attempt_window`](Self::min_attempt_window).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wfcancel_core::RetryPolicy;
    /// let p = RetryPolicy::default().jitter(false).max_attempts(2).initial_backoff(Duration::from_millis(850));
    /// let ms = Duration::from_millis;
    /// assert_eq!(p.pause_within(1, None, ms(900), ms(200)), None);
    /// assert_eq!(p.pause_within(1, None, ms(1100), ms(200)), Some(ms(850)));
    /// ```
    pub fn pause_within(
        &self,
        retry: u32,
        hint: Option<Duration>,
        remaining: Duration,
        window: Duration,
    ) -> Option<Duration> {
        if retry >= self.max_attempts {
            return None;
        }
        // A hint is "no sooner than": a zero or past one (`Retry-After: 0`) still backs off.
        let backoff = self.backoff(retry);
        let pause = hint.map_or(backoff, |h| h.max(backoff));
        (pause < remaining && remaining - pause >= window).then_some(pause)
    }

    /// The least time worth giving a retry: twice what the last attempt took, at least
    /// [`MIN_ATTEMPT_WINDOW`](Self::MIN_ATTEMPT_WINDOW), at most `request_timeout` (an attempt never gets more anyway).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wfcancel_core::RetryPolicy;
    /// let ms = Duration::from_millis;
    /// assert_eq!(RetryPolicy::min_attempt_window(ms(10), ms(30_000)), ms(100));
    /// assert_eq!(RetryPolicy::min_attempt_window(ms(400), ms(30_000)), ms(800));
    /// assert_eq!(RetryPolicy::min_attempt_window(ms(400), ms(500)), ms(500));
    /// ```
    pub fn min_attempt_window(last_attempt: Duration, request_timeout: Duration) -> Duration {
        last_attempt
            .saturating_mul(2)
            .max(Self::MIN_ATTEMPT_WINDOW)
            .min(request_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default()
            .jitter(false)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
        assert_eq!(p.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let p = RetryPolicy::default().initial_backoff(Duration::from_millis(100));
        for _ in 0..200 {
            let b = p.backoff(1);
            assert!(
                b >= Duration::from_millis(50) && b <= Duration::from_millis(100),
                "{b:?}"
            );
        }
    }

    #[test]
    fn pause_respects_attempts_and_deadline() {
        let p = RetryPolicy::default().jitter(false).max_attempts(3);
        assert!(p.pause(1, None, Duration::from_secs(10)).is_some());
        assert!(
            p.pause(3, None, Duration::from_secs(10)).is_none(),
            "attempts exhausted"
        );
        assert_eq!(
            p.pause(1, Some(Duration::from_secs(2)), Duration::from_secs(10)),
            Some(Duration::from_secs(2))
        );
        assert!(
            p.pause(1, Some(Duration::from_secs(20)), Duration::from_secs(10))
                .is_none(),
            "hint past deadline"
        );
    }

    #[test]
    fn pause_within_leaves_room_for_the_attempt() {
        let ms = Duration::from_millis;
        let p = RetryPolicy::default()
            .jitter(false)
            .max_attempts(2)
            .initial_backoff(ms(850));
        // The reviewer's case: 100 ms for the first answer, 900 ms left, 850 ms of backoff.
        let window = RetryPolicy::min_attempt_window(ms(100), ms(30_000));
        assert_eq!(window, ms(200));
        assert_eq!(p.pause_within(1, None, ms(900), window), None);
        assert_eq!(p.pause_within(1, None, ms(1050), window), Some(ms(850)));
        assert_eq!(p.pause_within(1, None, ms(1049), window), None);
        // The plain `pause` keeps its old contract.
        assert_eq!(p.pause(1, None, ms(900)), Some(ms(850)));
        // Huge values never overflow.
        assert_eq!(
            RetryPolicy::min_attempt_window(Duration::MAX, Duration::MAX),
            Duration::MAX
        );
        assert_eq!(p.pause_within(1, None, Duration::MAX, Duration::MAX), None);
        assert_eq!(p.pause_within(1, None, Duration::MAX, ms(100)), Some(ms(850)));
    }
}
