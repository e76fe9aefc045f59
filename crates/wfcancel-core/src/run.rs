//! Runs, what a cancel did to them, and their states.

use std::sync::Arc;

use crate::CancelError;

/// The kind of thing that owns a run: some providers (Agno) need it to find the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OwnerKind {
    /// A workflow definition.
    Workflow,
    /// An agent.
    Agent,
    /// A team of agents.
    Team,
}

impl OwnerKind {
    /// Lower-case name, e.g. `"workflow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Workflow => "workflow",
            OwnerKind::Agent => "agent",
            OwnerKind::Team => "team",
        }
    }
}

impl std::fmt::Display for OwnerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The workflow, agent or team that owns a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// What kind of owner.
    pub kind: OwnerKind,
    /// Its id (shared: cloning a [`RunRef`] allocates nothing).
    pub id: Arc<str>,
}

/// A reference to one run: its id, plus what some providers need to find it.
///
/// ```
/// use wfcancel_core::RunRef;
/// let upstash = RunRef::new("wfr_123");
/// let agno = RunRef::new("run-9").workflow("nightly-report").session("sess-1");
/// assert_eq!(agno.owner().map(|o| &*o.id), Some("nightly-report"));
/// # let _ = upstash;
/// ```
///
/// Its strings are shared (`Arc<str>`), so cloning a `RunRef` (as bulk reports do for every run)
/// allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunRef {
    run_id: Arc<str>,
    owner: Option<Owner>,
    session_id: Option<Arc<str>>,
}

impl RunRef {
    /// A run known by its id alone (enough for Upstash).
    pub fn new(run_id: impl AsRef<str>) -> Self {
        RunRef {
            run_id: Arc::from(run_id.as_ref()),
            owner: None,
            session_id: None,
        }
    }

    /// The run belongs to this workflow (Agno: `/workflows/{id}/runs/...`).
    pub fn workflow(self, id: impl AsRef<str>) -> Self {
        self.owned_by(OwnerKind::Workflow, id)
    }

    /// The run belongs to this agent (Agno: `/agents/{id}/runs/...`).
    pub fn agent(self, id: impl AsRef<str>) -> Self {
        self.owned_by(OwnerKind::Agent, id)
    }

    /// The run belongs to this team (Agno: `/teams/{id}/runs/...`).
    pub fn team(self, id: impl AsRef<str>) -> Self {
        self.owned_by(OwnerKind::Team, id)
    }

    /// The run belongs to an owner of the given kind.
    pub fn owned_by(mut self, kind: OwnerKind, id: impl AsRef<str>) -> Self {
        self.owner = Some(Owner {
            kind,
            id: Arc::from(id.as_ref()),
        });
        self
    }

    /// The session the run belongs to (Agno needs it to read a run's status).
    pub fn session(mut self, id: impl AsRef<str>) -> Self {
        self.session_id = Some(Arc::from(id.as_ref()));
        self
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The owner, if given.
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// The session id, if given.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Checks the run id, owner id and session id: none may be empty or blank or contain
    /// control characters. Every backend calls this before sending anything.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        validate_id(backend, "run_id", &self.run_id)?;
        if let Some(owner) = &self.owner {
            validate_id(backend, "owner_id", &owner.id)?;
        }
        if let Some(session) = &self.session_id {
            validate_id(backend, "session_id", session)?;
        }
        Ok(())
    }
}

impl From<&str> for RunRef {
    fn from(id: &str) -> Self {
        RunRef::new(id)
    }
}

impl From<String> for RunRef {
    fn from(id: String) -> Self {
        RunRef::new(id)
    }
}

impl std::fmt::Display for RunRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(owner) = &self.owner {
            write!(f, "{}/{}/", owner.kind, owner.id)?;
        }
        f.write_str(&self.run_id)?;
        if let Some(session) = &self.session_id {
            write!(f, " (session {session})")?;
        }
        Ok(())
    }
}

/// Checks one identifier: not empty, not blank, no control characters.
pub fn validate_id(backend: &'static str, field: &'static str, value: &str) -> Result<(), CancelError> {
    if value.is_empty() {
        return Err(CancelError::invalid_input(backend, field, "must not be empty"));
    }
    if value.trim().is_empty() {
        return Err(CancelError::invalid_input(backend, field, "must not be blank"));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(CancelError::invalid_input(
            backend,
            field,
            format!("must not contain control characters (found U+{:04X})", c as u32),
        ));
    }
    Ok(())
}

/// What a successful cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The provider says the run is cancelled.
    Cancelled,
    /// The provider accepted the request; the run stops cooperatively later
    /// (use [`crate::WorkflowCancellerExt::cancel_and_wait`] to wait for it).
    Requested,
    /// There was nothing to cancel: the run is unknown, finished or already cancelled.
    NotActive,
}

impl CancelOutcome {
    /// snake_case name, e.g. `"not_active"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::Requested => "requested",
            CancelOutcome::NotActive => "not_active",
        }
    }
}

impl std::fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a run, as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunState {
    /// Accepted, not yet started.
    Pending,
    /// Running.
    Running,
    /// Paused (waiting for input or an event).
    Paused,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// A state this library does not name, as the provider named it, classified by the backend
    /// as terminal (the run is over: a wait ends on it) or not.
    Unknown {
        /// The provider's name for the state.
        name: String,
        /// Whether the run is over in this state (the backend decides: from another field of
        /// the answer where the provider has one, else from the name; see
        /// [`RunState::name_looks_terminal`]).
        terminal: bool,
    },
}

impl RunState {
    /// A state this library does not name, classified as terminal or not.
    ///
    /// ```
    /// use wfcancel_core::RunState;
    /// assert!(RunState::unknown("ARCHIVED", true).is_terminal());
    /// assert!(!RunState::unknown("WARMING_UP", false).is_terminal());
    /// ```
    pub fn unknown(name: impl Into<String>, terminal: bool) -> Self {
        RunState::Unknown {
            name: name.into(),
            terminal,
        }
    }

    /// Whether a provider's state name that this library does not know reads as "over": one of
    /// its words (split at `_`, `-`, spaces, dots and lower-to-upper case changes, compared
    /// without case) is a finished form — `CANCELLED`/`CANCELED`, `FAILED`/`FAILURE`, `ERROR`/
    /// `ERRORED`, `COMPLETED`/`COMPLETE`, `SUCCEEDED`/`SUCCESS`, `DONE`, `FINISHED`,
    /// `TERMINATED`, `TIMEOUT`/`TIMEDOUT` (and `TIMED OUT`), `ABORTED`, `EXPIRED`, `KILLED`,
    /// `CRASHED`, `STOPPED` — and none is an ongoing form (a word ending in `ING`, or
    /// `REQUESTED`/`PENDING`): `CANCELLING`, `CANCEL_REQUESTED` and `RETRYING_AFTER_ERROR` are
    /// not over. For backends whose answer has no better sign (such as a completion time).
    ///
    /// ```
    /// use wfcancel_core::RunState;
    /// assert!(RunState::name_looks_terminal("RUN_ABORTED"));
    /// assert!(RunState::name_looks_terminal("timedOut"));
    /// assert!(!RunState::name_looks_terminal("QUEUED"));
    /// assert!(!RunState::name_looks_terminal("CANCELLING"));
    /// assert!(!RunState::name_looks_terminal("CANCEL_REQUESTED"));
    /// assert!(!RunState::name_looks_terminal("RETRYING_AFTER_ERROR"));
    /// ```
    pub fn name_looks_terminal(name: &str) -> bool {
        const OVER: [&str; 22] = [
            "CANCELLED",
            "CANCELED",
            "FAILED",
            "FAILURE",
            "ERROR",
            "ERRORED",
            "COMPLETED",
            "COMPLETE",
            "SUCCEEDED",
            "SUCCESS",
            "DONE",
            "FINISHED",
            "TERMINATED",
            "TIMEOUT",
            "TIMEDOUT",
            "ABORTED",
            "EXPIRED",
            "KILLED",
            "CRASHED",
            "STOPPED",
            "SUCCESSFUL",
            "DEAD",
        ];
        let mut words: Vec<String> = Vec::new();
        let mut word = String::new();
        let mut prev_lower = false;
        for c in name.chars() {
            if !c.is_alphanumeric() {
                words.push(std::mem::take(&mut word));
                prev_lower = false;
                continue;
            }
            if c.is_uppercase() && prev_lower {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_lowercase();
            word.extend(c.to_uppercase());
        }
        words.push(word);
        words.retain(|w| !w.is_empty());
        let ongoing = words
            .iter()
            .any(|w| w.ends_with("ING") || w == "REQUESTED" || w == "PENDING");
        let timed_out = words.windows(2).any(|p| p[0] == "TIMED" && p[1] == "OUT");
        !ongoing && (timed_out || words.iter().any(|w| OVER.contains(&w.as_str())))
    }

    /// Whether the run is over: completed, failed or cancelled, or an unknown state its backend
    /// classified as terminal.
    pub fn is_terminal(&self) -> bool {
        match self {
            RunState::Completed | RunState::Failed | RunState::Cancelled => true,
            RunState::Unknown { terminal, .. } => *terminal,
            _ => false,
        }
    }

    /// Whether a cancel could still stop the run (pending, running or paused).
    pub fn is_active(&self) -> bool {
        matches!(self, RunState::Pending | RunState::Running | RunState::Paused)
    }

    /// snake_case name, e.g. `"cancelled"`; an unknown state keeps the provider's name.
    pub fn as_str(&self) -> &str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Unknown { name, .. } => name,
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
