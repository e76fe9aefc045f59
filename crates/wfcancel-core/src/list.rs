//! Seeing runs before cancelling them: [`ListOptions`], [`ListedRun`], [`RunPage`], and the check
//! core makes before a backend lists or counts ([`check_list`]).

use std::time::SystemTime;

use crate::{CancelError, Capabilities, RunFilter, RunRef, RunState};

/// Default number of runs in one page of [`crate::WorkflowCanceller::list_runs`].
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// The largest page [`ListOptions::limit`] may ask for.
pub const MAX_LIST_LIMIT: usize = 1000;

/// How to list runs: how many per page, and where to resume.
///
/// ```
/// use wfcancel_core::ListOptions;
/// let first = ListOptions::new().limit(20);
/// assert_eq!((first.limit, first.cursor.as_deref()), (20, None));
/// // With the `next` cursor of the page before:
/// let second = ListOptions::new().limit(20).cursor("opaque-cursor");
/// assert!(second.validate("memory").is_ok());
/// assert!(ListOptions::new().limit(0).validate("memory").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ListOptions {
    /// At most this many runs per page (default [`DEFAULT_LIST_LIMIT`], at most
    /// [`MAX_LIST_LIMIT`]). A page may hold fewer while more follow (a backend that filters some
    /// fields after reading a page from the provider): only [`RunPage::next`] says whether the
    /// listing is over.
    pub limit: usize,
    /// Where to resume: the [`RunPage::next`] of the page before, as the same backend gave it
    /// with the same filter (opaque; `None`: from the start).
    pub cursor: Option<String>,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            limit: DEFAULT_LIST_LIMIT,
            cursor: None,
        }
    }
}

impl ListOptions {
    /// The first page of [`DEFAULT_LIST_LIMIT`] runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Resume after the page that answered this cursor ([`RunPage::next`]).
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Checks the options before any request: a limit from 1 to [`MAX_LIST_LIMIT`], a cursor
    /// that is not blank and has no control characters.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        if self.limit == 0 || self.limit > MAX_LIST_LIMIT {
            return Err(CancelError::invalid_input(
                backend,
                "limit",
                format!("must be from 1 to {MAX_LIST_LIMIT}, not {}", self.limit),
            ));
        }
        if let Some(c) = &self.cursor {
            crate::validate_id(backend, "cursor", c)?;
        }
        Ok(())
    }
}

/// One run as a listing shows it: its address, workflow, state (as the provider reported it)
/// and creation time.
///
/// ```
/// use wfcancel_core::{ListedRun, RunRef, RunState};
/// let run = ListedRun::new(RunRef::new("r1"), RunState::Running).workflow("nightly");
/// assert_eq!(run.workflow.as_deref(), Some("nightly"));
/// assert!(run.created.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedRun {
    /// The run's address, with what the backend needs to cancel it (owner, session, scope).
    pub run: RunRef,
    /// The workflow's name or type (Temporal workflow type, Restate service, LangGraph assistant,
    /// Agno workflow, Upstash workflow URL), when the provider says.
    pub workflow: Option<String>,
    /// The run's state, as the provider reported it.
    pub state: RunState,
    /// When the run was created, when the provider says.
    pub created: Option<SystemTime>,
}

impl ListedRun {
    /// A listed run with no workflow and no creation time.
    pub fn new(run: RunRef, state: RunState) -> Self {
        ListedRun {
            run,
            workflow: None,
            state,
            created: None,
        }
    }

    /// With the workflow's name or type.
    pub fn workflow(mut self, workflow: impl Into<String>) -> Self {
        self.workflow = Some(workflow.into());
        self
    }

    /// With the creation time.
    pub fn created(mut self, created: SystemTime) -> Self {
        self.created = Some(created);
        self
    }
}

/// One page of [`crate::WorkflowCanceller::list_runs`]: at most [`ListOptions::limit`] runs,
/// and the cursor of the next page.
///
/// ```
/// use wfcancel_core::RunPage;
/// let last = RunPage::new(Vec::new(), None);
/// assert!(last.is_last());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunPage {
    /// The runs of this page, in the backend's order.
    pub runs: Vec<ListedRun>,
    /// The cursor to pass as [`ListOptions::cursor`] for the next page; `None` on the last page.
    pub next: Option<String>,
}

impl RunPage {
    /// A page of these runs, with this next cursor.
    pub fn new(runs: Vec<ListedRun>, next: Option<String>) -> Self {
        RunPage { runs, next }
    }

    /// Whether no page follows.
    pub fn is_last(&self) -> bool {
        self.next.is_none()
    }
}

/// What core checks before a backend lists (`opts: Some`) or counts (`opts: None`) runs: the
/// backend can ([`Capabilities::list`] / [`Capabilities::count`]); the options are valid; the
/// filter, unless empty (every run: allowed for seeing, unlike for cancelling), is valid
/// ([`RunFilter::validate`]) and sets only fields in [`Capabilities::list_filter`] (fail closed).
///
/// ```
/// use wfcancel_core::{check_list, Capabilities, ListOptions, RunFilter};
/// let caps = Capabilities::default(); // no listing
/// assert!(check_list("memory", &caps, &RunFilter::new(), Some(&ListOptions::new())).is_err());
/// ```
pub fn check_list(
    backend: &'static str,
    caps: &Capabilities,
    filter: &RunFilter,
    opts: Option<&ListOptions>,
) -> Result<(), CancelError> {
    match opts {
        Some(_) if !caps.list => {
            return Err(CancelError::unsupported(
                backend,
                format!("listing runs: {backend} cannot list runs"),
            ));
        }
        None if !caps.count => {
            return Err(CancelError::unsupported(
                backend,
                format!("counting runs: {backend} cannot count runs"),
            ));
        }
        _ => {}
    }
    if let Some(opts) = opts {
        opts.validate(backend)?;
    }
    if filter.is_empty() {
        return Ok(());
    }
    filter.validate(backend)?;
    if let Some(field) = filter.fields().into_iter().find(|f| !caps.list_filter.supports(f)) {
        return Err(CancelError::unsupported(
            backend,
            format!("listing runs filtered on {}: {backend} cannot", field.name()),
        ));
    }
    Ok(())
}
