//! What a bulk cancel applies to: a list of runs, a filter, or (explicitly) everything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::run::validate_id;
use crate::{CancelError, RunRef, RunState};

/// How a filter matches the workflow URL of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
/// inclusive. `hosts` and `paths` match parts of the workflow URL (see [`url_host`] and
/// [`url_path`]). A field left `None` does not filter; a field set to an empty list is an error,
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
    /// Workflow URL hosts (any of): the run's URL host equals one of them, compared ASCII
    /// case-insensitively, without the port (see [`url_host`]).
    ///
    /// Upstash's exact server-side semantics are not confirmed; exact match is assumed.
    pub hosts: Option<Vec<String>>,
    /// Workflow URL paths (any of): the run's URL path equals one of them exactly, without the
    /// query or fragment, `"/"` when the URL has none (see [`url_path`]).
    ///
    /// Upstash's exact server-side semantics are not confirmed; exact match is assumed.
    pub paths: Option<Vec<String>>,
    /// The workflow's name or type (any of): Temporal workflow type, Restate service,
    /// LangGraph assistant or graph, Agno workflow.
    pub workflows: Option<Vec<String>>,
    /// The states to target (any of); without it, every active state.
    pub states: Option<Vec<RunState>>,
    /// Provider-specific fields by name (a Temporal search attribute, …): refused by every
    /// backend that does not list the name ([`FilterCapabilities::custom`](crate::FilterCapabilities::custom)).
    pub custom: Option<std::collections::BTreeMap<String, String>>,
}

/// One field of a [`RunFilter`], as capabilities name it. Every field of `RunFilter` maps to one
/// ([`RunFilter::fields`]), and a backend supports only the ones it lists
/// ([`FilterCapabilities::supports`](crate::FilterCapabilities::supports)): a field added later is refused by every backend until it
/// opts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FilterField {
    /// [`RunFilter::url_exact`].
    UrlExact,
    /// [`RunFilter::url_prefix`].
    UrlPrefix,
    /// [`RunFilter::label`].
    Labels,
    /// [`RunFilter::from`] / [`RunFilter::to`].
    CreatedRange,
    /// [`RunFilter::caller_ip`].
    CallerIps,
    /// [`RunFilter::flow_control_key`].
    FlowControlKeys,
    /// [`RunFilter::host`].
    Hosts,
    /// [`RunFilter::path`].
    Paths,
    /// [`RunFilter::workflow`].
    Workflows,
    /// [`RunFilter::state`].
    States,
    /// [`RunFilter::custom_field`], by name.
    Custom(String),
}

impl FilterField {
    /// The field's name in errors: `filter.labels`, `filter.custom.<name>`, …
    pub fn name(&self) -> String {
        match self {
            FilterField::UrlExact => "filter.url_exact".into(),
            FilterField::UrlPrefix => "filter.url_prefix".into(),
            FilterField::Labels => "filter.labels".into(),
            FilterField::CreatedRange => "filter.from/to".into(),
            FilterField::CallerIps => "filter.caller_ips".into(),
            FilterField::FlowControlKeys => "filter.flow_control_keys".into(),
            FilterField::Hosts => "filter.hosts".into(),
            FilterField::Paths => "filter.paths".into(),
            FilterField::Workflows => "filter.workflows".into(),
            FilterField::States => "filter.states".into(),
            FilterField::Custom(name) => format!("filter.custom.{name}"),
        }
    }
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

    /// Add a workflow URL host, e.g. `api.example.com` (runs whose URL has any of the hosts
    /// match; compared ASCII case-insensitively, without the port).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        push(&mut self.hosts, host.into());
        self
    }

    /// Add a workflow URL path, e.g. `/api/workflow` (runs whose URL path equals any of the
    /// paths match; the query and fragment are not part of the path).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        push(&mut self.paths, path.into());
        self
    }

    /// Add a workflow name or type (runs of any of them match): Temporal workflow type, Restate
    /// service, LangGraph assistant or graph, Agno workflow.
    pub fn workflow(mut self, name: impl Into<String>) -> Self {
        push(&mut self.workflows, name.into());
        self
    }

    /// Add a state to target (runs in any of them match).
    pub fn state(mut self, state: RunState) -> Self {
        self.states.get_or_insert_with(Vec::new).push(state);
        self
    }

    /// Set a provider-specific field (refused by backends that do not list `name`).
    pub fn custom_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom
            .get_or_insert_with(Default::default)
            .insert(name.into(), value.into());
        self
    }

    /// Every field this filter sets, as capabilities name them. Written so that a field added
    /// to `RunFilter` without a `FilterField` does not compile.
    pub fn fields(&self) -> Vec<FilterField> {
        let RunFilter {
            url,
            labels,
            from,
            to,
            caller_ips,
            flow_control_keys,
            hosts,
            paths,
            workflows,
            states,
            custom,
        } = self;
        let mut out = Vec::new();
        match url {
            Some(UrlMatch::Exact(_)) => out.push(FilterField::UrlExact),
            Some(UrlMatch::Prefix(_)) => out.push(FilterField::UrlPrefix),
            None => {}
        }
        for (set, field) in [
            (labels.is_some(), FilterField::Labels),
            (from.is_some() || to.is_some(), FilterField::CreatedRange),
            (caller_ips.is_some(), FilterField::CallerIps),
            (flow_control_keys.is_some(), FilterField::FlowControlKeys),
            (hosts.is_some(), FilterField::Hosts),
            (paths.is_some(), FilterField::Paths),
            (workflows.is_some(), FilterField::Workflows),
            (states.is_some(), FilterField::States),
        ] {
            if set {
                out.push(field);
            }
        }
        if let Some(custom) = custom {
            out.extend(custom.keys().map(|k| FilterField::Custom(k.clone())));
        }
        out
    }

    /// Whether the filter cannot tell any run apart: every field it sets would match every run
    /// (a URL prefix of `https://` or `http://` or shorter, a time range from 1970 to the year
    /// 9999). Such a filter is "all", and [`crate::check_bulk`] asks for
    /// [`Selector::cancel_all_runs`] instead.
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use wfcancel_core::RunFilter;
    /// assert!(RunFilter::new().url_prefix("https://").matches_every_run());
    /// assert!(RunFilter::new().from(UNIX_EPOCH).matches_every_run());
    /// assert!(!RunFilter::new().url_prefix("https://api.example.com/").matches_every_run());
    /// ```
    pub fn matches_every_run(&self) -> bool {
        let fields = self.fields();
        if fields.is_empty() {
            return false;
        }
        fields.iter().all(|f| match f {
            FilterField::UrlPrefix => self.url.as_ref().is_some_and(|u| {
                let p = u.value().to_ascii_lowercase();
                "https://".starts_with(&p) || "http://".starts_with(&p)
            }),
            FilterField::CreatedRange => {
                let far = UNIX_EPOCH + Duration::from_secs(253_402_300_799); // 9999-12-31
                self.from.is_none_or(|t| t <= UNIX_EPOCH + Duration::from_millis(1)) && self.to.is_none_or(|t| t >= far)
            }
            _ => false,
        })
    }

    /// Whether a run of workflow `workflow` in `state` matches the workflow and state fields.
    pub fn matches_workflow_and_state(&self, workflow: Option<&str>, state: &RunState) -> bool {
        let workflow_ok = self
            .workflows
            .as_ref()
            .is_none_or(|w| workflow.is_some_and(|name| w.iter().any(|x| x == name)));
        let state_ok = self.states.as_ref().is_none_or(|s| s.contains(state));
        workflow_ok && state_ok
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
            && self.hosts.is_none()
            && self.paths.is_none()
            && self.workflows.is_none()
            && self.states.is_none()
            && self.custom.is_none()
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
        validate_list(backend, "filter.hosts", &self.hosts)?;
        validate_list(backend, "filter.paths", &self.paths)?;
        validate_list(backend, "filter.workflows", &self.workflows)?;
        if self.states.as_ref().is_some_and(Vec::is_empty) {
            return Err(CancelError::invalid_input(
                backend,
                "filter.states",
                "the list is empty",
            ));
        }
        if let Some(custom) = &self.custom {
            if custom.is_empty() {
                return Err(CancelError::invalid_input(backend, "filter.custom", "the map is empty"));
            }
            for (k, v) in custom {
                validate_id(backend, "filter.custom", k)?;
                validate_id(backend, "filter.custom", v)?;
            }
        }
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
    ///
    /// `hosts` and `paths` are matched against the host ([`url_host`]) and path ([`url_path`])
    /// of `url`; a URL without `scheme://` has no host, so a host filter never matches it.
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
        if let Some(hosts) = &self.hosts {
            if !url_host(url).is_some_and(|h| hosts.iter().any(|x| x.eq_ignore_ascii_case(h))) {
                return false;
            }
        }
        if let Some(paths) = &self.paths {
            let path = url_path(url);
            if !paths.iter().any(|p| p == path) {
                return false;
            }
        }
        true
    }
}

/// The part of `url` after `scheme://`, or `None` when it has no scheme (a scheme is a letter
/// followed by letters, digits, `+`, `-` or `.`).
fn after_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).then_some(rest)
}

/// The host of a workflow URL as [`RunFilter::hosts`] matches it: after `scheme://`, up to the
/// next `/`, `?`, `#` or `:` (the port); user info (`user@`) is skipped and a bracketed IPv6
/// host (`[::1]`) is kept whole, brackets included. `None` without `scheme://` or when the host
/// is empty. Not lower-cased: the filter compares hosts ASCII case-insensitively.
///
/// ```
/// use wfcancel_core::url_host;
/// assert_eq!(url_host("https://API.example.com:8443/wf?x=1"), Some("API.example.com"));
/// assert_eq!(url_host("http://[::1]:3000/wf"), Some("[::1]"));
/// assert_eq!(url_host("/no/scheme"), None);
/// ```
pub fn url_host(url: &str) -> Option<&str> {
    let rest = after_scheme(url)?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.find(']').map_or(host_port, |end| &host_port[..=end])
    } else {
        &host_port[..host_port.find(':').unwrap_or(host_port.len())]
    };
    (!host.is_empty()).then_some(host)
}

/// The path of a workflow URL as [`RunFilter::paths`] matches it: from the first `/` after the
/// authority (`scheme://host:port`) up to `?` or `#`, and `"/"` when that is empty. Taken as
/// written: not percent-decoded, no trailing `/` added or removed. A URL without `scheme://` is
/// all path (up to `?` or `#`).
///
/// ```
/// use wfcancel_core::url_path;
/// assert_eq!(url_path("https://example.com/api/wf?x=1#f"), "/api/wf");
/// assert_eq!(url_path("https://example.com?x=1"), "/");
/// assert_eq!(url_path("https://example.com/api/wf/"), "/api/wf/");
/// ```
pub fn url_path(url: &str) -> &str {
    let rest = match after_scheme(url) {
        Some(rest) => rest.find(['/', '?', '#']).map_or("", |i| &rest[i..]),
        None => url,
    };
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    if path.is_empty() { "/" } else { path }
}

impl RunFilter {
    /// Refuses values that can never match a workflow URL or caller as they are recorded, so that
    /// a filter with a typo is an error rather than a bulk that cancels nothing: a URL without
    /// `http://` or `https://`, a host with a scheme, path or port, a path not starting with `/`
    /// (or holding `?` or `#`), a caller IP that is not one.
    ///
    /// Not part of [`RunFilter::validate`]: a provider may match values this library cannot
    /// foresee, and the library sends what it is given. The `wfcancel` command calls it for
    /// the filters typed on its command line; an application may too.
    ///
    /// ```
    /// use wfcancel_core::RunFilter;
    /// assert!(RunFilter::new().host("api.example.com:443").check_can_match("upstash").is_err());
    /// assert!(RunFilter::new().host("api.example.com").check_can_match("upstash").is_ok());
    /// ```
    pub fn check_can_match(&self, backend: &'static str) -> Result<(), CancelError> {
        let bad = |field: &'static str, why: String| Err(CancelError::invalid_input(backend, field, why));
        match &self.url {
            Some(UrlMatch::Exact(u)) if url_host(u).is_none() || !has_http_scheme(u) => {
                return bad(
                    "filter.url_exact",
                    format!(
                        "{u:?} is not a workflow URL: expected http:// or https:// and a host (e.g. https://api.example.com/api/wf)"
                    ),
                );
            }
            Some(UrlMatch::Prefix(p)) => {
                let lower = p.to_ascii_lowercase();
                let scheme_prefix = "https://".starts_with(&lower) || "http://".starts_with(&lower);
                if !scheme_prefix && !has_http_scheme(p) {
                    return bad(
                        "filter.url_prefix",
                        format!(
                            "{p:?} can never match: workflow URLs start with http:// or https:// (e.g. https://{p})"
                        ),
                    );
                }
            }
            _ => {}
        }
        for host in self.hosts.iter().flatten() {
            let bracketed = host.starts_with('[') && host.ends_with(']');
            let why = if host.contains("://") {
                Some("a host has no scheme")
            } else if host.contains(['/', '?', '#']) {
                Some("a host has no path, query or fragment")
            } else if host.contains('@') {
                Some("a host has no user info")
            } else if !bracketed && host.contains(':') {
                Some("a host has no port (an IPv6 address goes in brackets: [::1])")
            } else if host.chars().any(char::is_whitespace) {
                Some("a host has no spaces")
            } else {
                None
            };
            if let Some(why) = why {
                let full = if host.contains("://") {
                    host.clone()
                } else {
                    format!("x://{host}")
                };
                let bare = url_host(&full).unwrap_or("api.example.com").to_owned();
                return bad("filter.hosts", format!("{host:?} can never match: {why} (e.g. {bare})"));
            }
        }
        for path in self.paths.iter().flatten() {
            if !path.starts_with('/') {
                return bad(
                    "filter.paths",
                    format!("{path:?} can never match: a workflow URL's path starts with / (e.g. /{path})"),
                );
            }
            if path.contains(['?', '#']) {
                return bad(
                    "filter.paths",
                    format!("{path:?} can never match: a path ends before ? or #"),
                );
            }
        }
        for ip in self.caller_ips.iter().flatten() {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return bad(
                    "filter.caller_ips",
                    format!("{ip:?} is not an IP address (e.g. 203.0.113.7 or 2001:db8::1)"),
                );
            }
        }
        Ok(())
    }
}

fn has_http_scheme(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
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
    // A time the platform cannot hold (a hostile answer's `u64::MAX`) saturates rather than
    // panics.
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .or_else(|| UNIX_EPOCH.checked_add(Duration::from_secs(i32::MAX as u64)))
        .unwrap_or(UNIX_EPOCH)
}

/// Proof that the caller asked to cancel every run. Only [`Selector::cancel_all_runs`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllRuns {
    _private: (),
}

/// What a bulk cancel applies to (`#[non_exhaustive]`: providers to come may add ways to select).
///
/// ```
/// use wfcancel_core::{RunFilter, RunRef, Selector};
/// // These runs (repeats are cancelled once).
/// let ids = Selector::ids(["wfr_1", "wfr_2"]);
/// let owned = Selector::Ids(vec![RunRef::new("run-9").workflow("nightly")]);
/// // Every active run that matches (fields combine with AND, values within one with OR).
/// let bad_release = Selector::filter(RunFilter::new().label("v1.2.3").url_prefix("https://api.example.com/"));
/// // Everything: only through the explicit constructor, and only where the backend can.
/// let all = Selector::cancel_all_runs();
/// assert!(ids.validate("memory").is_ok() && owned.validate("memory").is_ok());
/// assert!(bad_release.validate("memory").is_ok() && all.validate("memory").is_ok());
/// // An empty filter is an error, never "all".
/// assert!(Selector::filter(RunFilter::new()).validate("memory").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
// A selector is built once per bulk and passed by reference: its size does not matter, and a
// box would only make `Selector::Filter(f)` clumsier to build and match.
#[allow(clippy::large_enum_variant)]
pub enum Selector {
    /// These runs.
    Ids(Vec<RunRef>),
    /// Every active run that matches the filter.
    Filter(RunFilter),
    /// Every active run. Made only by [`Selector::cancel_all_runs`].
    All(AllRuns),
    /// Every run a query in the provider's own language selects (a Temporal visibility query):
    /// for what [`RunFilter`]'s portable fields cannot say. Refused, before any request, by every
    /// backend whose [`Capabilities::native_query`](crate::Capabilities::native_query) does not
    /// name the query's dialect.
    Query(NativeQuery),
}

/// A query in one provider's own language ([`Selector::native_query`]), sent to that provider
/// as written: its dialect names the provider language it is written in (`"temporal"` for a
/// Temporal visibility query), and only a backend that lists that dialect accepts it.
///
/// ```
/// use wfcancel_core::{NativeQuery, Selector};
/// let q = NativeQuery::new("temporal", r#"WorkflowType = "Nightly" AND BuildIds IS NULL"#);
/// assert_eq!((q.dialect(), q.query()), ("temporal", r#"WorkflowType = "Nightly" AND BuildIds IS NULL"#));
/// assert!(Selector::Query(q).validate("memory").is_ok());
/// assert!(Selector::native_query("temporal", "  ").validate("memory").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NativeQuery {
    dialect: String,
    query: String,
}

impl NativeQuery {
    /// A query written in `dialect` (e.g. `"temporal"`).
    pub fn new(dialect: impl Into<String>, query: impl Into<String>) -> Self {
        NativeQuery {
            dialect: dialect.into(),
            query: query.into(),
        }
    }

    /// The provider language it is written in.
    pub fn dialect(&self) -> &str {
        &self.dialect
    }

    /// The query text, as written.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Checks the query before any request: not blank, no control characters but newlines and
    /// tabs.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        if self.query.trim().is_empty() {
            return Err(CancelError::invalid_input(backend, "query", "must not be blank"));
        }
        if let Some(c) = self
            .query
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t' && *c != '\r')
        {
            return Err(CancelError::invalid_input(
                backend,
                "query",
                format!("must not contain control characters (found U+{:04X})", c as u32),
            ));
        }
        Ok(())
    }
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

    /// Every run `query`, written in the provider language `dialect`, selects (see
    /// [`Selector::Query`]).
    pub fn native_query(dialect: impl Into<String>, query: impl Into<String>) -> Self {
        Selector::Query(NativeQuery::new(dialect, query))
    }

    /// Checks the selector before any request: a non-empty id list of valid ids, a valid filter,
    /// or a query that is not blank.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        match self {
            Selector::Ids(ids) => Self::validate_ids(backend, ids),
            Selector::Filter(f) => f.validate(backend),
            Selector::All(_) => Ok(()),
            Selector::Query(q) => q.validate(backend),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that can never match are refused before any request, naming the field and what
    /// is expected; values that can match pass.
    #[test]
    fn filters_that_can_never_match_are_refused() {
        let refused = |f: RunFilter, field: &str, hint: &str| {
            let e = f.check_can_match("memory").unwrap_err();
            match &e {
                CancelError::InvalidInput {
                    field: got, message, ..
                } => {
                    assert_eq!(*got, field, "{e}");
                    assert!(message.contains(hint), "{e}");
                }
                other => panic!("{other:?}"),
            }
        };
        refused(
            RunFilter::new().host("api.example.com:443"),
            "filter.hosts",
            "(e.g. api.example.com)",
        );
        refused(
            RunFilter::new().host("https://api.example.com"),
            "filter.hosts",
            "(e.g. api.example.com)",
        );
        refused(RunFilter::new().host("api.example.com/wf"), "filter.hosts", "no path");
        refused(RunFilter::new().host("me@api.example.com"), "filter.hosts", "user info");
        refused(
            RunFilter::new().path("api/orders"),
            "filter.paths",
            "(e.g. /api/orders)",
        );
        refused(RunFilter::new().path("/api?x=1"), "filter.paths", "before ? or #");
        refused(
            RunFilter::new().caller_ip("notanip"),
            "filter.caller_ips",
            "not an IP address",
        );
        refused(
            RunFilter::new().caller_ip("10.0.0.1/8"),
            "filter.caller_ips",
            "not an IP address",
        );
        refused(
            RunFilter::new().url_prefix("api.example.com"),
            "filter.url_prefix",
            "https://api.example.com",
        );
        refused(
            RunFilter::new().url_exact("api.example.com/wf"),
            "filter.url_exact",
            "http:// or https://",
        );
        refused(RunFilter::new().url_exact("https://"), "filter.url_exact", "and a host");
        for ok in [
            RunFilter::new()
                .host("api.example.com")
                .host("[::1]")
                .host("Ünï.example"),
            RunFilter::new().path("/").path("/api/wf/"),
            RunFilter::new().caller_ip("203.0.113.7").caller_ip("2001:db8::1"),
            RunFilter::new().url_prefix("HTTPS://api.example.com/"),
            RunFilter::new().url_prefix("http"),
            RunFilter::new().url_exact("http://127.0.0.1:3000/wf?x=1"),
        ] {
            assert_eq!(ok.check_can_match("memory"), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn url_host_and_path_follow_the_hand_parser() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("https://example.com/api/wf", Some("example.com"), "/api/wf"),
            (
                "https://Example.COM:8443/api/wf?x=1&y=/z#frag",
                Some("Example.COM"),
                "/api/wf",
            ),
            ("https://example.com", Some("example.com"), "/"),
            ("https://example.com/", Some("example.com"), "/"),
            ("https://example.com?x=/a", Some("example.com"), "/"),
            ("https://example.com#/a", Some("example.com"), "/"),
            ("https://example.com:80", Some("example.com"), "/"),
            ("https://user:pw@example.com:80/a", Some("example.com"), "/a"),
            ("http://[::1]:3000/wf", Some("[::1]"), "/wf"),
            ("http://127.0.0.1:3000/wf/", Some("127.0.0.1"), "/wf/"),
            ("https://e.x/a%2Fb/c", Some("e.x"), "/a%2Fb/c"),
            ("https:///path", None, "/path"),
            ("https://:8080/p", None, "/p"),
            ("/api/wf?x=1", None, "/api/wf"),
            ("example.com/api", None, "example.com/api"),
            ("", None, "/"),
            ("/p?u=https://h/q", None, "/p"),
            ("1http://h/p", None, "1http://h/p"),
        ];
        for (url, host, path) in cases {
            assert_eq!(url_host(url), *host, "host of {url:?}");
            assert_eq!(url_path(url), *path, "path of {url:?}");
        }
    }

    #[test]
    fn hosts_and_paths_match_exactly_any_of_and_combine_with_and() {
        let at = UNIX_EPOCH;
        let m = |f: &RunFilter, url: &str| f.matches(url, &[], at, None, None);
        let hosts = RunFilter::new().host("api.example.com").host("b.example");
        assert!(m(&hosts, "https://api.example.com/wf"));
        assert!(m(&hosts, "https://API.Example.com:8443/x?y=1"));
        assert!(m(&hosts, "http://b.example"));
        assert!(!m(&hosts, "https://sub.api.example.com/wf"));
        assert!(!m(&hosts, "https://api.example.com.evil/wf"));
        assert!(!m(&hosts, "https://other.example/api.example.com"));
        assert!(!m(&hosts, "api.example.com/wf"), "no scheme, no host");
        assert!(m(&RunFilter::new().host("EXAMPLE.com"), "https://example.COM/"));

        let paths = RunFilter::new().path("/api/wf").path("/");
        assert!(m(&paths, "https://e.x/api/wf"));
        assert!(m(&paths, "https://e.x/api/wf?x=1#f"));
        assert!(m(&paths, "https://e.x"));
        assert!(m(&paths, "https://e.x/?q"));
        assert!(!m(&paths, "https://e.x/api/wf/"));
        assert!(!m(&paths, "https://e.x/api/wf/step"));
        assert!(!m(&paths, "https://e.x/API/wf"), "paths are case-sensitive");

        let both = RunFilter::new().host("e.x").path("/a").label("l");
        let labels = ["l".to_owned()];
        assert!(both.matches("https://e.x/a", &labels, at, None, None));
        assert!(!both.matches("https://e.x/a", &[], at, None, None));
        assert!(!both.matches("https://f.x/a", &labels, at, None, None));
        assert!(!both.matches("https://e.x/b", &labels, at, None, None));
    }

    #[test]
    fn hosts_and_paths_count_as_fields_and_are_validated() {
        assert!(!RunFilter::new().host("e.x").is_empty());
        assert!(!RunFilter::new().path("/a").is_empty());
        assert!(RunFilter::new().host("e.x").path("/a").validate("memory").is_ok());
        let field = |f: RunFilter| match f.validate("memory") {
            Err(CancelError::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        };
        let mut f = RunFilter::new();
        f.hosts = Some(Vec::new());
        assert_eq!(field(f), "filter.hosts");
        let mut f = RunFilter::new();
        f.paths = Some(Vec::new());
        assert_eq!(field(f), "filter.paths");
        assert_eq!(field(RunFilter::new().host("")), "filter.hosts");
        assert_eq!(field(RunFilter::new().host("e.x").path(" \t")), "filter.paths");
        assert_eq!(field(RunFilter::new().path("/a\u{0}")), "filter.paths");
    }
}
