//! What an emulator counts: requests per endpoint, answers per status, injected faults, runs cancelled.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The endpoint a request was addressed to, classified from its method, path and query keys
/// before any fault is applied (so a request answered `503` by fault injection still counts
/// for the endpoint it was sent to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Upstash `DELETE /v2/workflows/runs/{workflowRunId}`.
    UpstashCancelRun,
    /// Upstash `DELETE /v2/workflows/runs` with `workflowRunIds`.
    UpstashBulkCancelIds,
    /// Upstash `DELETE /v2/workflows/runs` with at least one filter key (and no ids).
    UpstashBulkCancelFilter,
    /// Upstash `DELETE /v2/workflows/runs` with neither ids nor filter keys: cancels everything.
    UpstashBulkCancelAll,
    /// Upstash `GET /v2/workflows/logs`.
    UpstashLogs,
    /// Upstash `GET /v2/workflows/bulkActions/{actionId}`.
    UpstashBulkActionGet,
    /// Upstash `GET /v2/workflows/bulkActions`.
    UpstashBulkActionList,
    /// Agno `POST /{workflows|agents|teams}/{id}/runs/{run_id}/cancel`.
    AgnoCancel,
    /// Agno `GET /{workflows|agents|teams}/{id}/runs/{run_id}`.
    AgnoRunStatus,
    /// Agno `POST /{workflows|agents|teams}/{id}/runs`.
    AgnoStartRun,
    /// Agno `GET /health`.
    AgnoHealth,
    /// Anything else (unknown path or method).
    Other,
}

impl Endpoint {
    /// Every endpoint, in order.
    pub const ALL: [Endpoint; 12] = [
        Endpoint::UpstashCancelRun,
        Endpoint::UpstashBulkCancelIds,
        Endpoint::UpstashBulkCancelFilter,
        Endpoint::UpstashBulkCancelAll,
        Endpoint::UpstashLogs,
        Endpoint::UpstashBulkActionGet,
        Endpoint::UpstashBulkActionList,
        Endpoint::AgnoCancel,
        Endpoint::AgnoRunStatus,
        Endpoint::AgnoStartRun,
        Endpoint::AgnoHealth,
        Endpoint::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A kind of fault the emulator injected (or a protective answer it gave, such as `414`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// The connection was closed without any response.
    Dropped,
    /// `429` because the per-second rate limit was exceeded.
    RateLimited,
    /// `429` chosen at random ([`crate::Faults::throttle_rate`]).
    Throttled,
    /// A `5xx` chosen at random ([`crate::Faults::error_rate`]).
    ServerError,
    /// The answer was delayed ([`crate::Faults::latency`] / [`crate::Faults::jitter`]).
    Delayed,
    /// A [`crate::Scenario`] rule answered instead of the endpoint.
    Scenario,
    /// `414 URI Too Long`.
    UriTooLong,
    /// The endpoint handled the request (its state changes happened), then the answer was thrown
    /// away and the connection closed without a response ([`crate::Faults::drop_after_rate`] or
    /// [`crate::Scenario::DropAfterHandling`]).
    DroppedAfterHandling,
}

impl FaultKind {
    /// Every kind, in order.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Dropped,
        FaultKind::RateLimited,
        FaultKind::Throttled,
        FaultKind::ServerError,
        FaultKind::Delayed,
        FaultKind::Scenario,
        FaultKind::UriTooLong,
        FaultKind::DroppedAfterHandling,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A snapshot of an emulator's counters ([`crate::UpstashEmulator::stats`],
/// [`crate::AgnoEmulator::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received (every request that reached the service, faulted or not). Requests that
    /// hyper refused before the service saw them (a request head over 1 MiB) are not counted.
    pub requests: u64,
    /// Requests per endpoint (classified before faults; zero counts are left out).
    pub by_endpoint: BTreeMap<Endpoint, u64>,
    /// Responses per HTTP status (dropped connections have no status and are not here).
    pub by_status: BTreeMap<u16, u64>,
    /// Faults injected per kind (zero counts are left out).
    pub faults: BTreeMap<FaultKind, u64>,
    /// Runs the server cancelled. Upstash: runs turned `RUN_CANCELED`. Agno: active runs that
    /// accepted a cancel intent and will stop (each run counted once; a run marked
    /// `never_stops` is not counted).
    pub cancelled: u64,
    /// Requests refused with `401`.
    pub unauthorized: u64,
    /// Requests that carried the token in the URL (`qstash_token=`), which a client must never do.
    pub token_in_query: u64,
}

impl Stats {
    /// Requests sent to `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> u64 {
        self.by_endpoint.get(&endpoint).copied().unwrap_or(0)
    }

    /// Responses with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Faults of `kind` injected.
    pub fn fault(&self, kind: FaultKind) -> u64 {
        self.faults.get(&kind).copied().unwrap_or(0)
    }

    /// All faults injected, every kind together.
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// Lock-free counters behind [`Stats`].
#[derive(Debug)]
pub(crate) struct Counters {
    requests: AtomicU64,
    endpoints: [AtomicU64; Endpoint::ALL.len()],
    statuses: Box<[AtomicU64]>,
    faults: [AtomicU64; FaultKind::ALL.len()],
    cancelled: AtomicU64,
    unauthorized: AtomicU64,
    token_in_query: AtomicU64,
}

const STATUS_SLOTS: usize = 600;

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            endpoints: std::array::from_fn(|_| AtomicU64::new(0)),
            statuses: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            faults: std::array::from_fn(|_| AtomicU64::new(0)),
            cancelled: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            token_in_query: AtomicU64::new(0),
        }
    }
}

fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn request(&self, endpoint: Endpoint) {
        bump(&self.requests, 1);
        bump(&self.endpoints[endpoint.index()], 1);
    }

    pub(crate) fn status(&self, status: u16) {
        if let Some(slot) = self.statuses.get(usize::from(status)) {
            bump(slot, 1);
        }
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        bump(&self.faults[kind.index()], 1);
    }

    pub(crate) fn cancelled(&self, n: u64) {
        bump(&self.cancelled, n);
    }

    pub(crate) fn unauthorized(&self) {
        bump(&self.unauthorized, 1);
    }

    pub(crate) fn token_in_query(&self) {
        bump(&self.token_in_query, 1);
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn cancelled_total(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: load(&self.requests),
            by_endpoint: Endpoint::ALL
                .iter()
                .map(|e| (*e, load(&self.endpoints[e.index()])))
                .filter(|(_, n)| *n > 0)
                .collect(),
            by_status: self
                .statuses
                .iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    let n = load(a);
                    (n > 0).then(|| (u16::try_from(i).unwrap_or(u16::MAX), n))
                })
                .collect(),
            faults: FaultKind::ALL
                .iter()
                .map(|k| (*k, load(&self.faults[k.index()])))
                .filter(|(_, n)| *n > 0)
                .collect(),
            cancelled: load(&self.cancelled),
            unauthorized: load(&self.unauthorized),
            token_in_query: load(&self.token_in_query),
        }
    }

    pub(crate) fn reset(&self) {
        let zero = |a: &AtomicU64| a.store(0, Ordering::Relaxed);
        zero(&self.requests);
        self.endpoints.iter().for_each(zero);
        self.statuses.iter().for_each(zero);
        self.faults.iter().for_each(zero);
        zero(&self.cancelled);
        zero(&self.unauthorized);
        zero(&self.token_in_query);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_and_reset() {
        let c = Counters::default();
        c.request(Endpoint::AgnoCancel);
        c.request(Endpoint::AgnoCancel);
        c.status(200);
        c.status(9999);
        c.fault(FaultKind::Dropped);
        c.cancelled(3);
        let s = c.snapshot();
        assert_eq!(s.requests, 2);
        assert_eq!(s.endpoint(Endpoint::AgnoCancel), 2);
        assert_eq!(s.endpoint(Endpoint::UpstashLogs), 0);
        assert_eq!(s.status(200), 1);
        assert_eq!(s.fault(FaultKind::Dropped), 1);
        assert_eq!(s.faults_total(), 1);
        assert_eq!(s.cancelled, 3);
        c.reset();
        assert_eq!(c.snapshot(), Stats::default());
    }
}
