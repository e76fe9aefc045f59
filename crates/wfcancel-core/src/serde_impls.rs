//! serde for the types an app stores or prints (feature `serde`): a run's address as its string,
//! outcomes, states, interruptions and error kinds as their snake_case names; bulk reports and
//! errors serialized as plain objects.

use serde::de::Error as _;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    BulkFailure, BulkReport, CancelError, CancelOutcome, ErrorKind, Inactive, Interruption, ListOptions, ListedRun,
    RunOutcome, RunPage, RunRef, RunState, epoch_millis, from_epoch_millis,
};

/// As its address string (see [`RunRef`]).
impl Serialize for RunRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// `Cancelled` and `Requested` as `"cancelled"` and `"requested"`; `NotActive` as
/// `{"not_active": "finished"}` (or `"no_such_run"`, `"unspecified"`), the shape of an unnamed
/// [`RunState`].
impl Serialize for CancelOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CancelOutcome::NotActive(why) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("not_active", why.as_str())?;
                m.end()
            }
            other => s.serialize_str(other.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for CancelOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Named(String),
            NotActive { not_active: String },
        }
        match Repr::deserialize(d)? {
            Repr::Named(text) => [CancelOutcome::Cancelled, CancelOutcome::Requested]
                .into_iter()
                .find(|o| o.as_str() == text)
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "unknown outcome {text:?} (\"not_active\" is an object: {{\"not_active\": \"finished\"}})"
                    ))
                }),
            Repr::NotActive { not_active } => Inactive::ALL
                .into_iter()
                .find(|w| w.as_str() == not_active)
                .map(CancelOutcome::NotActive)
                .ok_or_else(|| D::Error::custom(format!("unknown not_active reason {not_active:?}"))),
        }
    }
}

/// As its name: `"finished"`, `"no_such_run"` or `"unspecified"`.
impl Serialize for Inactive {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Inactive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Inactive::ALL
            .into_iter()
            .find(|w| w.as_str() == text)
            .ok_or_else(|| D::Error::custom(format!("unknown not_active reason {text:?}")))
    }
}

/// A named state as its name (`"running"`, `"timed_out"`, …); a state the backend could not
/// name as `{"unknown": "<provider's name>", "terminal": <bool>}`.
impl Serialize for RunState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RunState::Unknown { name, terminal } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("unknown", name)?;
                m.serialize_entry("terminal", terminal)?;
                m.end()
            }
            named => s.serialize_str(named.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for RunState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Named(String),
            Unknown { unknown: String, terminal: bool },
        }
        match Repr::deserialize(d)? {
            Repr::Named(name) => NAMED
                .iter()
                .find(|s| s.as_str() == name)
                .cloned()
                .ok_or_else(|| D::Error::custom(format!("unknown state {name:?} (an unnamed one is an object)"))),
            Repr::Unknown { unknown, terminal } => Ok(RunState::unknown(unknown, terminal)),
        }
    }
}

/// Every state with a name of its own.
const NAMED: [RunState; 9] = [
    RunState::Pending,
    RunState::Running,
    RunState::Paused,
    RunState::Cancelling,
    RunState::Completed,
    RunState::Failed,
    RunState::Cancelled,
    RunState::Terminated,
    RunState::TimedOut,
];

/// As `"stopped"` or `"deadline"`.
impl Serialize for Interruption {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Interruption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        [Interruption::Stopped, Interruption::Deadline]
            .into_iter()
            .find(|i| i.as_str() == text)
            .ok_or_else(|| D::Error::custom(format!("unknown interruption {text:?}")))
    }
}

/// As its snake_case name (`"rate_limited"`).
impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// As `{"kind", "backend", "message", "status"?, "retry_after_secs"?, "retryable"}`: `message` is
/// the text without the backend prefix. Never holds a token (no error does).
impl Serialize for CancelError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", &self.kind())?;
        m.serialize_entry("backend", self.backend())?;
        m.serialize_entry("message", &self.message())?;
        if let Some(status) = self.status() {
            m.serialize_entry("status", &status)?;
        }
        if let Some(after) = self.retry_after() {
            m.serialize_entry("retry_after_secs", &after.as_secs_f64())?;
        }
        m.serialize_entry("retryable", &self.is_retryable())?;
        if let Some((setting, problem)) = self.config_problem() {
            m.serialize_entry("setting", setting.as_str())?;
            m.serialize_entry("problem", problem.as_str())?;
        }
        m.end()
    }
}

impl Serialize for RunOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RunOutcome", 2)?;
        st.serialize_field("run", &self.run)?;
        st.serialize_field("outcome", &self.outcome)?;
        st.end()
    }
}

impl Serialize for BulkFailure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("BulkFailure", 4)?;
        st.serialize_field("runs", &self.runs)?;
        st.serialize_field("chunk", &self.chunk)?;
        st.serialize_field("round", &self.round)?;
        st.serialize_field("error", &self.error)?;
        st.end()
    }
}

/// Every field, plus `failed_runs` (the runs named in `failed`), runs as address strings.
impl Serialize for BulkReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("BulkReport", 16)?;
        st.serialize_field("backend", self.backend)?;
        st.serialize_field("cancelled", &self.cancelled)?;
        st.serialize_field("requested", &self.requested)?;
        st.serialize_field("not_active", &self.not_active)?;
        st.serialize_field("failed_runs", &self.failed_runs())?;
        st.serialize_field("duplicates_dropped", &self.duplicates_dropped)?;
        st.serialize_field("outcomes", &self.outcomes)?;
        st.serialize_field("failed", &self.failed)?;
        st.serialize_field("not_attempted", &self.not_attempted)?;
        st.serialize_field("aborted", &self.aborted)?;
        st.serialize_field("interrupted", &self.interrupted)?;
        st.serialize_field("requests_sent", &self.requests_sent)?;
        st.serialize_field("rounds", &self.rounds)?;
        st.serialize_field("drained", &self.drained)?;
        st.serialize_field("not_confirmed", &self.not_confirmed)?;
        st.serialize_field("action_id", &self.action_id)?;
        st.end()
    }
}

/// As `{"run": "<address>", "workflow": ..., "state": ..., "created_ms": <epoch ms>}`, `workflow`
/// and `created_ms` `null` when unknown.
impl Serialize for ListedRun {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ListedRun", 4)?;
        st.serialize_field("run", &self.run)?;
        st.serialize_field("workflow", &self.workflow)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("created_ms", &self.created.map(epoch_millis))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for ListedRun {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            run: RunRef,
            #[serde(default)]
            workflow: Option<String>,
            state: RunState,
            #[serde(default)]
            created_ms: Option<u64>,
        }
        let r = Repr::deserialize(d)?;
        Ok(ListedRun {
            run: r.run,
            workflow: r.workflow,
            state: r.state,
            created: r.created_ms.map(from_epoch_millis),
        })
    }
}

/// As `{"runs": [...], "next": "<cursor>" | null}`.
impl Serialize for RunPage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RunPage", 2)?;
        st.serialize_field("runs", &self.runs)?;
        st.serialize_field("next", &self.next)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for RunPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            runs: Vec<ListedRun>,
            #[serde(default)]
            next: Option<String>,
        }
        let r = Repr::deserialize(d)?;
        Ok(RunPage::new(r.runs, r.next))
    }
}

/// As `{"limit": n, "cursor": "..." | null}`.
impl Serialize for ListOptions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ListOptions", 2)?;
        st.serialize_field("limit", &self.limit)?;
        st.serialize_field("cursor", &self.cursor)?;
        st.end()
    }
}
