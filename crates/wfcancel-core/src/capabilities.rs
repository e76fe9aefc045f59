//! What a backend can do natively.

use crate::{FilterField, RunFilter};

/// Which filter fields a backend supports. Each is off unless the backend turns it on, so a
/// field added later is refused by every backend until it lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
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
    /// The workflow's name or type.
    pub workflows: bool,
    /// The states to target.
    pub states: bool,
    /// The provider-specific fields it understands, by name.
    pub custom: Vec<String>,
}

impl FilterCapabilities {
    /// The fields Upstash Workflow filters on: URL (exact or prefix), labels, creation time,
    /// caller IPs, flow-control keys, hosts and paths.
    pub fn upstash_fields() -> Self {
        FilterCapabilities {
            url_exact: true,
            url_prefix: true,
            labels: true,
            created_range: true,
            caller_ips: true,
            flow_control_keys: true,
            hosts: true,
            paths: true,
            ..Default::default()
        }
    }

    /// Whether any filter field is supported.
    pub fn any(&self) -> bool {
        let FilterCapabilities {
            url_exact,
            url_prefix,
            labels,
            created_range,
            caller_ips,
            flow_control_keys,
            hosts,
            paths,
            workflows,
            states,
            custom,
        } = self;
        *url_exact
            || *url_prefix
            || *labels
            || *created_range
            || *caller_ips
            || *flow_control_keys
            || *hosts
            || *paths
            || *workflows
            || *states
            || !custom.is_empty()
    }

    /// Whether the backend filters on `field`.
    pub fn supports(&self, field: &FilterField) -> bool {
        match field {
            FilterField::UrlExact => self.url_exact,
            FilterField::UrlPrefix => self.url_prefix,
            FilterField::Labels => self.labels,
            FilterField::CreatedRange => self.created_range,
            FilterField::CallerIps => self.caller_ips,
            FilterField::FlowControlKeys => self.flow_control_keys,
            FilterField::Hosts => self.hosts,
            FilterField::Paths => self.paths,
            FilterField::Workflows => self.workflows,
            FilterField::States => self.states,
            FilterField::Custom(name) => self.custom.iter().any(|c| c == name),
        }
    }

    /// The name of the first field of `filter` this backend cannot filter on, if any.
    pub fn unsupported_field(&self, filter: &RunFilter) -> Option<String> {
        filter
            .fields()
            .into_iter()
            .find(|f| !self.supports(f))
            .map(|f| f.name())
    }
}

/// What a backend does natively, for callers that adapt to the provider behind the trait.
///
/// ```
/// use wfcancel_core::Capabilities;
/// let caps = Capabilities::default();
/// assert!(caps.cancel && !caps.cancel_all && !caps.filter.any());
/// assert!(!caps.list && !caps.count);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// A graceful cancel ([`crate::CancelMode::Graceful`]: the run may clean up).
    pub graceful: bool,
    /// A forced cancel ([`crate::CancelMode::Forced`]: stop now, no cleanup).
    pub forced: bool,
    /// Whether a reason ([`crate::CancelOptions::reason`]) reaches the provider.
    pub reason: bool,
    /// Whether a cancel with nothing to cancel tells a finished run from one the provider does
    /// not have ([`crate::Inactive::Finished`] / [`crate::Inactive::NoSuchRun`]); when `false`
    /// it may answer [`crate::Inactive::Unspecified`], and says one of the two only when the
    /// provider or a state read told it.
    pub inactive_reasons: bool,
    /// The dialect of the native queries [`crate::Selector::Query`] it accepts (`"temporal"`
    /// for Temporal visibility queries), if any (default none: every native query is refused).
    pub native_query: Option<&'static str>,
    /// Listing runs ([`crate::WorkflowCanceller::list_runs`]).
    pub list: bool,
    /// Counting runs ([`crate::WorkflowCanceller::count_runs`]).
    pub count: bool,
    /// Filter fields a listing or count can narrow on (the empty filter, every run, needs
    /// none). Off unless listed, like [`Capabilities::filter`], from which it may differ: a
    /// provider may read runs by fields it cannot cancel by.
    pub list_filter: FilterCapabilities,
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
            graceful: true,
            forced: false,
            reason: false,
            inactive_reasons: false,
            native_query: None,
            list: false,
            count: false,
            list_filter: FilterCapabilities::default(),
        }
    }
}
