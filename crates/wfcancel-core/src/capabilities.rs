//! What a backend can do natively.

use crate::{RunFilter, UrlMatch};

/// Which filter fields a backend supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FilterCapabilities {
    /// Exact workflow URL.
    pub url_exact: bool,
    /// Workflow URL prefix.
    pub url_prefix: bool,
    /// Labels.
    pub labels: bool,
    /// Creation-time range.
    pub created_range: bool,
    /// Caller IPs.
    pub caller_ips: bool,
    /// Flow-control keys.
    pub flow_control_keys: bool,
    /// Workflow URL hosts.
    pub hosts: bool,
    /// Workflow URL paths.
    pub paths: bool,
}

impl FilterCapabilities {
    /// Every field.
    pub fn all() -> Self {
        FilterCapabilities {
            url_exact: true,
            url_prefix: true,
            labels: true,
            created_range: true,
            caller_ips: true,
            flow_control_keys: true,
            hosts: true,
            paths: true,
        }
    }

    /// Whether any filter field is supported.
    pub fn any(&self) -> bool {
        self.url_exact
            || self.url_prefix
            || self.labels
            || self.created_range
            || self.caller_ips
            || self.flow_control_keys
            || self.hosts
            || self.paths
    }

    /// The first field of `filter` this backend cannot filter on, if any.
    pub fn unsupported_field(&self, filter: &RunFilter) -> Option<&'static str> {
        match &filter.url {
            Some(UrlMatch::Exact(_)) if !self.url_exact => return Some("filter.url_exact"),
            Some(UrlMatch::Prefix(_)) if !self.url_prefix => return Some("filter.url_prefix"),
            _ => {}
        }
        if filter.labels.is_some() && !self.labels {
            return Some("filter.labels");
        }
        if (filter.from.is_some() || filter.to.is_some()) && !self.created_range {
            return Some("filter.from/to");
        }
        if filter.caller_ips.is_some() && !self.caller_ips {
            return Some("filter.caller_ips");
        }
        if filter.flow_control_keys.is_some() && !self.flow_control_keys {
            return Some("filter.flow_control_keys");
        }
        if filter.hosts.is_some() && !self.hosts {
            return Some("filter.hosts");
        }
        if filter.paths.is_some() && !self.paths {
            return Some("filter.paths");
        }
        None
    }
}

/// What a backend does natively, for callers that adapt to the provider behind the trait.
///
/// ```
/// use wfcancel_core::Capabilities;
/// let caps = Capabilities::default();
/// assert!(caps.cancel && !caps.cancel_all && !caps.filter.any());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// Cancel one run.
    pub cancel: bool,
    /// A native bulk-by-ids call (otherwise ids are fanned out over single cancels).
    pub bulk_ids: bool,
    /// Filter fields supported by `cancel_many(Selector::Filter)`.
    pub filter: FilterCapabilities,
    /// `Selector::All`.
    pub cancel_all: bool,
    /// `status()`.
    pub status: bool,
    /// Whether a successful cancel means the run is cancelled (`true`) or only that the request
    /// was accepted and the run stops cooperatively later (`false`).
    pub cancel_confirms: bool,
    /// Whether the owner (workflow, agent or team) id is required in a [`crate::RunRef`].
    pub needs_owner: bool,
    /// Whether a session id is required to read a run's status.
    pub status_needs_session: bool,
    /// Whether filtered bulk cancels can run as tracked background actions.
    pub background_actions: bool,
}

impl Default for Capabilities {
    /// Single cancel only: what a backend gets from the trait's default methods.
    fn default() -> Self {
        Capabilities {
            cancel: true,
            bulk_ids: false,
            filter: FilterCapabilities::default(),
            cancel_all: false,
            status: false,
            cancel_confirms: true,
            needs_owner: false,
            status_needs_session: false,
            background_actions: false,
        }
    }
}
