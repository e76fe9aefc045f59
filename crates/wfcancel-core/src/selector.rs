//! What a bulk cancel applies to: a list of runs, a filter, or (explicitly) everything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::run::validate_id;
use crate::{CancelError, RunRef};

/// How a filter matches the workflow URL of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UrlMatch {
    /// The run's workflow URL equals this one.
    Exact(String),
    /// The run's workflow URL starts with this prefix.
    Prefix(String),
}

impl UrlMatch {
    /// The URL or prefix.
    pub fn value(&self) -> &str {
        match self {
            UrlMatch::Exact(u) | UrlMatch::Prefix(u) => u,
        }
    }

    /// Whether `url` matches.
    pub fn matches(&self, url: &str) -> bool {
        match self {
            UrlMatch::Exact(u) => url == u,
            UrlMatch::Prefix(p) => url.starts_with(p.as_str()),
        }
    }
}

/// Which runs a filtered bulk cancel applies to.
///
/// Values inside one field are alternatives (OR); fields are combined with AND. Time bounds are
/// inclusive. A field left `None` does not filter; a field set to an empty list is an error,
/// and so is a filter with no field set (use [`Selector::cancel_all_runs`] to mean everything).
///
/// ```
/// use wfcancel_core::RunFilter;
/// let f = RunFilter::new().url_prefix("https://api.example.com/wf/").label("nightly").label("adhoc");
/// assert!(f.validate("memory").is_ok());
/// assert!(RunFilter::new().validate("memory").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RunFilter {
    /// Workflow URL, exact or prefix.
    pub url: Option<UrlMatch>,
    /// Labels (any of).
    pub labels: Option<Vec<String>>,
    /// Created at or after.
    pub from: Option<SystemTime>,
    /// Created at or before.
    pub to: Option<SystemTime>,
    /// Caller IP addresses (any of).
    pub caller_ips: Option<Vec<String>>,
    /// Flow-control keys (any of).
    pub flow_control_keys: Option<Vec<String>>,
}

fn push(field: &mut Option<Vec<String>>, value: String) {
    field.get_or_insert_with(Vec::new).push(value);
}

impl RunFilter {
    /// An empty filter, to be narrowed with the setters below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Match runs whose workflow URL equals `url`.
    pub fn url_exact(mut self, url: impl Into<String>) -> Self {
        self.url = Some(UrlMatch::Exact(url.into()));
        self
    }

    /// Match runs whose workflow URL starts with `prefix`.
    pub fn url_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.url = Some(UrlMatch::Prefix(prefix.into()));
        self
    }

    /// Add a label (runs with any of the labels match).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        push(&mut self.labels, label.into());
        self
    }

    /// Add a caller IP (runs from any of the IPs match).
    pub fn caller_ip(mut self, ip: impl Into<String>) -> Self {
        push(&mut self.caller_ips, ip.into());
        self
    }

    /// Add a flow-control key (runs with any of the keys match).
    pub fn flow_control_key(mut self, key: impl Into<String>) -> Self {
        push(&mut self.flow_control_keys, key.into());
        self
    }

    /// Match runs created at or after `t`.
    pub fn from(mut self, t: SystemTime) -> Self {
        self.from = Some(t);
        self
    }

    /// Match runs created at or before `t`.
    pub fn to(mut self, t: SystemTime) -> Self {
        self.to = Some(t);
        self
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.url.is_none()
            && self.labels.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.caller_ips.is_none()
            && self.flow_control_keys.is_none()
    }

    /// Checks the filter before any request: not empty, no empty list, no blank value,
    /// no control characters, `from` not after `to`, times not before 1970.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        if self.is_empty() {
            return Err(CancelError::invalid_input(
                backend,
                "filter",
                "the filter is empty; set at least one field, or use Selector::cancel_all_runs() to cancel everything",
            ));
        }
        if let Some(url) = &self.url {
            let field = match url {
                UrlMatch::Exact(_) => "filter.url_exact",
                UrlMatch::Prefix(_) => "filter.url_prefix",
            };
            validate_id(backend, field, url.value())?;
        }
        validate_list(backend, "filter.labels", &self.labels)?;
        validate_list(backend, "filter.caller_ips", &self.caller_ips)?;
        validate_list(backend, "filter.flow_control_keys", &self.flow_control_keys)?;
        for (field, t) in [("filter.from", self.from), ("filter.to", self.to)] {
            if let Some(t) = t {
                if t.duration_since(UNIX_EPOCH).is_err() {
                    return Err(CancelError::invalid_input(
                        backend,
                        field,
                        "must not be before 1970-01-01",
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(CancelError::invalid_input(
                    backend,
                    "filter.from",
                    format!(
                        "`from` ({} ms) is after `to` ({} ms)",
                        epoch_millis(from),
                        epoch_millis(to)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether a run with these attributes matches the filter (the contract's semantics, used by
    /// the in-memory canceller and the emulators).
    pub fn matches(
        &self,
        url: &str,
        labels: &[String],
        created_at: SystemTime,
        caller_ip: Option<&str>,
        flow_control_key: Option<&str>,
    ) -> bool {
        if let Some(m) = &self.url {
            if !m.matches(url) {
                return false;
            }
        }
        if let Some(want) = &self.labels {
            if !want.iter().any(|l| labels.contains(l)) {
                return false;
            }
        }
        if let Some(from) = self.from {
            if created_at < from {
                return false;
            }
        }
        if let Some(to) = self.to {
            if created_at > to {
                return false;
            }
        }
        if let Some(ips) = &self.caller_ips {
            if !caller_ip.is_some_and(|ip| ips.iter().any(|i| i == ip)) {
                return false;
            }
        }
        if let Some(keys) = &self.flow_control_keys {
            if !flow_control_key.is_some_and(|k| keys.iter().any(|x| x == k)) {
                return false;
            }
        }
        true
    }
}

fn validate_list(backend: &'static str, field: &'static str, list: &Option<Vec<String>>) -> Result<(), CancelError> {
    if let Some(values) = list {
        if values.is_empty() {
            return Err(CancelError::invalid_input(
                backend,
                field,
                "the list is empty; leave the field unset to not filter on it",
            ));
        }
        for v in values {
            validate_id(backend, field, v)?;
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch (negative before 1970).
pub fn epoch_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_epoch_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Proof that the caller asked to cancel every run. Only [`Selector::cancel_all_runs`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllRuns {
    _private: (),
}

/// What a bulk cancel applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// These runs.
    Ids(Vec<RunRef>),
    /// Every active run that matches the filter.
    Filter(RunFilter),
    /// Every active run. Made only by [`Selector::cancel_all_runs`].
    All(AllRuns),
}

impl Selector {
    /// Cancel these runs.
    pub fn ids<I, R>(ids: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RunRef>,
    {
        Selector::Ids(ids.into_iter().map(Into::into).collect())
    }

    /// Cancel every active run matching the filter.
    pub fn filter(filter: RunFilter) -> Self {
        Selector::Filter(filter)
    }

    /// Cancel EVERY active run the credentials can reach. There is no undo.
    pub fn cancel_all_runs() -> Self {
        Selector::All(AllRuns { _private: () })
    }

    /// Checks the selector before any request: a non-empty id list of valid ids, or a valid filter.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        match self {
            Selector::Ids(ids) => Self::validate_ids(backend, ids),
            Selector::Filter(f) => f.validate(backend),
            Selector::All(_) => Ok(()),
        }
    }

    /// Checks a list of runs: not empty, each run valid.
    pub fn validate_ids(backend: &'static str, ids: &[RunRef]) -> Result<(), CancelError> {
        if ids.is_empty() {
            return Err(CancelError::invalid_input(
                backend,
                "ids",
                "the list of run ids is empty",
            ));
        }
        ids.iter().try_for_each(|r| r.validate(backend))
    }
}
