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
    /// A thread (LangGraph: a run belongs to a thread).
    Thread,
}

impl OwnerKind {
    /// Lower-case name, e.g. `"workflow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Workflow => "workflow",
            OwnerKind::Agent => "agent",
            OwnerKind::Team => "team",
            OwnerKind::Thread => "thread",
        }
    }

    /// The kind named `name` (`"workflow"`, `"agent"`, `"team"`, `"thread"`).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            OwnerKind::Workflow,
            OwnerKind::Agent,
            OwnerKind::Team,
            OwnerKind::Thread,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
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

/// A reference to one run: its id, plus what some providers need to find it — a scope (Temporal
/// namespace), an owner (Agno workflow, agent or team; LangGraph thread), a session, a second id
/// under the first (Temporal's run id under a workflow id) — and, optionally, the backend that
/// runs it.
///
/// ```
/// use wfcancel_core::RunRef;
/// let upstash = RunRef::new("wfr_123");
/// let agno = RunRef::new("run-9").workflow("nightly-report").session("sess-1");
/// assert_eq!(agno.owner().map(|o| &*o.id), Some("nightly-report"));
/// let temporal = RunRef::new("order-42").scope("default").sub_id("7f3c");
/// assert_eq!((temporal.scope_id(), temporal.sub_id_str()), (Some("default"), Some("7f3c")));
/// # let _ = upstash;
/// ```
///
/// # Its address: one string
///
/// A run with its backend named is written as one string that round-trips exactly
/// (`Display` / `FromStr`), so an app can store it beside its own record and cancel the run
/// later without knowing which orchestrator runs it:
///
/// ```text
/// backend:[//scope/][owner-kind/owner-id/]run-id[?session=…][&sub=…]
/// upstash:wfr_123
/// agno:workflow/nightly/run-9?session=s-1
/// temporal://default/order-42?sub=7f3c
/// langgraph:thread/5e3f…/1ef0…
/// ```
///
/// Every part is percent-encoded (all but `A–Z a–z 0–9 - . _ ~`), so any id — `/`, `?`, `#`,
/// `%`, `:`, spaces, non-ASCII — round-trips. The backend name is lower-case letters, digits and
/// `-`, starting with a letter. Without a backend, `Display` writes the same form without the
/// `backend:` prefix, which parses back too.
///
/// ```
/// use wfcancel_core::RunRef;
/// let run = RunRef::new("run 9/a?b").workflow("nightly").session("s-1").backend("agno");
/// let text = run.to_string();
/// assert_eq!(text, "agno:workflow/nightly/run%209%2Fa%3Fb?session=s-1");
/// assert_eq!(text.parse::<RunRef>().unwrap(), run);
/// assert!("agno:workflow//r".parse::<RunRef>().is_err(), "empty parts are refused");
/// ```
///
/// Its strings are shared (`Arc<str>`), so cloning a `RunRef` (as bulk reports do for every run)
/// allocates nothing. Two `RunRef`s are the same run when every part is equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunRef {
    run_id: Arc<str>,
    owner: Option<Owner>,
    session_id: Option<Arc<str>>,
    scope: Option<Arc<str>>,
    sub_id: Option<Arc<str>>,
    backend: Option<Arc<str>>,
}

impl RunRef {
    /// A run known by its id alone (enough for Upstash).
    pub fn new(run_id: impl AsRef<str>) -> Self {
        RunRef {
            run_id: Arc::from(run_id.as_ref()),
            owner: None,
            session_id: None,
            scope: None,
            sub_id: None,
            backend: None,
        }
    }

    /// The run lives in this scope (Temporal: its namespace).
    pub fn scope(mut self, scope: impl AsRef<str>) -> Self {
        self.scope = Some(Arc::from(scope.as_ref()));
        self
    }

    /// A second id under the run id (Temporal: the run id under a workflow id; without it, the
    /// current run).
    pub fn sub_id(mut self, id: impl AsRef<str>) -> Self {
        self.sub_id = Some(Arc::from(id.as_ref()));
        self
    }

    /// The backend that runs it (`"upstash"`, `"agno"`, …): what a router sends it to, and the
    /// prefix of its address.
    pub fn backend(mut self, name: impl AsRef<str>) -> Self {
        self.backend = Some(Arc::from(name.as_ref()));
        self
    }

    /// The run belongs to this thread (LangGraph).
    pub fn thread(self, id: impl AsRef<str>) -> Self {
        self.owned_by(OwnerKind::Thread, id)
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

    /// The scope (Temporal namespace), if given.
    pub fn scope_id(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The second id under the run id, if given.
    pub fn sub_id_str(&self) -> Option<&str> {
        self.sub_id.as_deref()
    }

    /// The backend named in the run's address, if any.
    pub fn backend_name(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// Checks the run id, owner id, session, scope and second id: none may be empty or blank
    /// or contain control characters; a backend name must be lower-case letters, digits and
    /// `-`, starting with a letter. Every backend calls this before sending anything.
    pub fn validate(&self, backend: &'static str) -> Result<(), CancelError> {
        validate_id(backend, "run_id", &self.run_id)?;
        if let Some(owner) = &self.owner {
            validate_id(backend, "owner_id", &owner.id)?;
        }
        if let Some(session) = &self.session_id {
            validate_id(backend, "session_id", session)?;
        }
        if let Some(scope) = &self.scope {
            validate_id(backend, "scope", scope)?;
        }
        if let Some(sub) = &self.sub_id {
            validate_id(backend, "sub_id", sub)?;
        }
        if let Some(name) = &self.backend {
            if !is_backend_name(name) {
                return Err(CancelError::invalid_input(
                    backend,
                    "backend",
                    format!(
                        "{name:?} is not a backend name (lower-case letters, digits and '-', starting with a letter)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `name` can name a backend in an address.
fn is_backend_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Why a string is not a run's address ([`RunRef`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a run address: {message} (expected backend:[//scope/][owner-kind/owner-id/]run-id[?session=…][&sub=…])")]
pub struct AddressError {
    message: String,
}

impl AddressError {
    fn new(message: impl Into<String>) -> Self {
        AddressError {
            message: message.into(),
        }
    }
}

/// Everything but `A–Z a–z 0–9 - . _ ~` is percent-encoded in an address.
const ADDRESS_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(part: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(part, ADDRESS_PART)
}

fn decode(part: &str, what: &str) -> Result<Arc<str>, AddressError> {
    if part.is_empty() {
        return Err(AddressError::new(format!("the {what} is empty")));
    }
    let decoded = percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map_err(|_| AddressError::new(format!("the {what} is not UTF-8 once decoded")))?;
    Ok(Arc::from(decoded.as_ref()))
}

impl std::str::FromStr for RunRef {
    type Err = AddressError;

    /// Parses a run's address (see [`RunRef`]); the `backend:` prefix may be left out.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The backend: up to the first ':' (never in an encoded part).
        let (backend, rest) = match s.split_once(':') {
            Some((name, rest)) => {
                if !is_backend_name(name) {
                    return Err(AddressError::new(format!("{name:?} is not a backend name")));
                }
                (Some(Arc::from(name)), rest)
            }
            None => (None, s),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let (scope, path) = match path.strip_prefix("//") {
            Some(after) => {
                let (scope, path) = after
                    .split_once('/')
                    .ok_or_else(|| AddressError::new("a scope (//scope/) must be followed by the run"))?;
                (Some(decode(scope, "scope")?), path)
            }
            None => (None, path),
        };
        let segments: Vec<&str> = path.split('/').collect();
        let (owner, run_id) = match segments.as_slice() {
            [id] => (None, decode(id, "run id")?),
            [kind, owner, id] => {
                let kind = OwnerKind::from_name(kind).ok_or_else(|| {
                    AddressError::new(format!("{kind:?} is not an owner kind (workflow, agent, team, thread)"))
                })?;
                (
                    Some(Owner {
                        kind,
                        id: decode(owner, "owner id")?,
                    }),
                    decode(id, "run id")?,
                )
            }
            _ => return Err(AddressError::new("the path is run-id or owner-kind/owner-id/run-id")),
        };
        let mut session_id = None;
        let mut sub_id = None;
        if let Some(query) = query {
            for pair in query.split('&') {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| AddressError::new(format!("{pair:?} is not key=value")))?;
                let slot = match key {
                    "session" => &mut session_id,
                    "sub" => &mut sub_id,
                    other => return Err(AddressError::new(format!("unknown part {other:?} (session, sub)"))),
                };
                if slot.is_some() {
                    return Err(AddressError::new(format!("{key} is given twice")));
                }
                *slot = Some(decode(value, key)?);
            }
        }
        Ok(RunRef {
            run_id,
            owner,
            session_id,
            scope,
            sub_id,
            backend,
        })
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

/// The run's address (see [`RunRef`]): `backend:…` when the backend is named.
impl std::fmt::Display for RunRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(backend) = &self.backend {
            write!(f, "{backend}:")?;
        }
        if let Some(scope) = &self.scope {
            write!(f, "//{}/", encode(scope))?;
        }
        if let Some(owner) = &self.owner {
            write!(f, "{}/{}/", owner.kind, encode(&owner.id))?;
        }
        write!(f, "{}", encode(&self.run_id))?;
        let mut sep = '?';
        if let Some(session) = &self.session_id {
            write!(f, "{sep}session={}", encode(session))?;
            sep = '&';
        }
        if let Some(sub) = &self.sub_id {
            write!(f, "{sep}sub={}", encode(sub))?;
        }
        Ok(())
    }
}

/// Whether `s` holds a control character (`char::is_control`: U+0000–U+001F, U+007F–U+009F),
/// read by bytes: every id of every request is checked.
pub(crate) fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    // Printable ASCII only (nearly every id): no control, checked a word at a time.
    if b.iter().fold(true, |ok, &x| ok & (0x20..0x7f).contains(&x)) {
        return false;
    }
    // U+0080–U+009F are 0xC2 0x80–0x9F in UTF-8; 0xC2 leads no other control.
    b.iter()
        .zip(b.iter().skip(1).map(Some).chain([None]))
        .any(|(&x, next)| x < 0x20 || x == 0x7f || (x == 0xc2 && next.is_some_and(|n| (0x80..=0x9f).contains(n))))
}

/// Checks one identifier: not empty, not blank, no control characters.
pub fn validate_id(backend: &'static str, field: &'static str, value: &str) -> Result<(), CancelError> {
    // Printable ASCII with one non-space (nearly every id, checked once per run per request):
    // neither empty, blank nor holding a control character.
    let b = value.as_bytes();
    if b.iter().fold(true, |ok, &x| ok & (0x20..0x7f).contains(&x)) && b.iter().any(|&x| x != b' ') {
        return Ok(());
    }
    if value.is_empty() {
        return Err(CancelError::invalid_input(backend, field, "must not be empty"));
    }
    if value.trim().is_empty() {
        return Err(CancelError::invalid_input(backend, field, "must not be blank"));
    }
    if !has_control(value) {
        return Ok(());
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
///
/// ```
/// use wfcancel_core::{CancelOutcome, Inactive};
///
/// let outcome = CancelOutcome::NotActive(Inactive::Finished);
/// assert!(outcome.is_not_active());
/// assert_eq!(outcome.inactive(), Some(Inactive::Finished));
/// assert_eq!(outcome.as_str(), "not_active");
/// assert_eq!(outcome.to_string(), "not active (finished)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The provider says the run is cancelled.
    Cancelled,
    /// The provider accepted the request; the run stops cooperatively later
    /// (use [`crate::WorkflowCancellerExt::cancel_and_wait`] to wait for it).
    Requested,
    /// There was nothing to cancel, on the provider's word or a state read; [`Inactive`] says
    /// why, as far as the provider tells.
    NotActive(Inactive),
}

impl CancelOutcome {
    /// snake_case name, e.g. `"not_active"` (whatever the [`Inactive`] reason).
    pub fn as_str(self) -> &'static str {
        match self {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::Requested => "requested",
            CancelOutcome::NotActive(_) => "not_active",
        }
    }

    /// Whether there was nothing to cancel (any [`Inactive`] reason).
    pub fn is_not_active(self) -> bool {
        matches!(self, CancelOutcome::NotActive(_))
    }

    /// Why there was nothing to cancel, for [`CancelOutcome::NotActive`].
    pub fn inactive(self) -> Option<Inactive> {
        match self {
            CancelOutcome::NotActive(why) => Some(why),
            _ => None,
        }
    }
}

impl std::fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelOutcome::NotActive(why) => write!(f, "not active ({})", why.describe()),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Why a cancel found nothing to cancel.
///
/// Providers differ: Temporal, Restate and LangGraph tell a run that is over from one they never
/// had; Upstash's single cancel answers the same `404` for both, and AgentOS answers `200 {}` to
/// everything. A backend says [`Inactive::Unspecified`] when the provider does not tell, rather
/// than guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Inactive {
    /// The run exists and is over (completed, failed, cancelled, terminated, timed out): the
    /// provider said so, or a state read showed it.
    Finished,
    /// The provider says it has no such run (never started, in another scope, or forgotten after
    /// its retention).
    NoSuchRun,
    /// The provider says there is nothing to cancel without telling "finished" from "no such run".
    Unspecified,
}

impl Inactive {
    /// snake_case name: `"finished"`, `"no_such_run"` or `"unspecified"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Inactive::Finished => "finished",
            Inactive::NoSuchRun => "no_such_run",
            Inactive::Unspecified => "unspecified",
        }
    }

    /// Every reason, for parsers and tests.
    pub const ALL: [Inactive; 3] = [Inactive::Finished, Inactive::NoSuchRun, Inactive::Unspecified];

    /// Words for people: `"finished"`, `"no such run"`, `"finished or unknown: the provider does
    /// not say which"`.
    pub fn describe(self) -> &'static str {
        match self {
            Inactive::Finished => "finished",
            Inactive::NoSuchRun => "no such run",
            Inactive::Unspecified => "finished or unknown: the provider does not say which",
        }
    }
}

impl std::fmt::Display for Inactive {
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
    /// A cancel was requested and the run has not stopped yet (Temporal `cancelRequested`,
    /// Prefect `CANCELLING`, Dagster `CANCELING`).
    Cancelling,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Stopped at once, without cleanup (Temporal terminated, Restate killed).
    Terminated,
    /// Ended by a timeout.
    TimedOut,
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

    /// Whether the run is over: completed, failed, cancelled, terminated or timed out, or an
    /// unknown state its backend classified as terminal.
    pub fn is_terminal(&self) -> bool {
        match self {
            RunState::Completed
            | RunState::Failed
            | RunState::Cancelled
            | RunState::Terminated
            | RunState::TimedOut => true,
            RunState::Unknown { terminal, .. } => *terminal,
            _ => false,
        }
    }

    /// Whether the run is not over yet and a cancel could still stop it (pending, running,
    /// paused, or cancelling: a forced cancel may still stop a run whose graceful cancel is under
    /// way).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunState::Pending | RunState::Running | RunState::Paused | RunState::Cancelling
        )
    }

    /// snake_case name, e.g. `"cancelled"`; an unknown state keeps the provider's name.
    pub fn as_str(&self) -> &str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Cancelling => "cancelling",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Terminated => "terminated",
            RunState::TimedOut => "timed_out",
            RunState::Unknown { name, .. } => name,
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod control_tests {
    #[test]
    fn has_control_agrees_with_char_is_control() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(super::has_control(&s), c.is_control(), "U+{:04X}", c as u32);
        }
        assert!(!super::has_control("é€😀 ¡"));
        assert!(super::has_control("x\u{85}"));
    }
}
