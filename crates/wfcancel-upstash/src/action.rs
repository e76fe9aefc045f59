//! Background bulk actions (`async=true` filter cancels) and their progress.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The state of a background bulk action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BulkActionState {
    /// `IN_PROGRESS`: still cancelling in the background.
    InProgress,
    /// `FINISHED`: done.
    Finished,
    /// A state this library does not know, as the server named it.
    Other(String),
}

impl BulkActionState {
    pub(crate) fn from_wire(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "IN_PROGRESS" => BulkActionState::InProgress,
            "FINISHED" => BulkActionState::Finished,
            _ => BulkActionState::Other(s.to_owned()),
        }
    }

    /// Whether the action is still to run or running: `IN_PROGRESS`, and the not yet started
    /// `PENDING` and `CREATED` (not documented; read as in progress to be safe). `FINISHED` and
    /// any other state (`FAILED`, `CANCELED`…, which may be final) are not.
    pub fn is_in_progress(&self) -> bool {
        match self {
            BulkActionState::InProgress => true,
            BulkActionState::Finished => false,
            BulkActionState::Other(s) => matches!(s.trim().to_ascii_uppercase().as_str(), "PENDING" | "CREATED"),
        }
    }

    /// The server's name: `IN_PROGRESS`, `FINISHED`, or the unknown one.
    pub fn as_str(&self) -> &str {
        match self {
            BulkActionState::InProgress => "IN_PROGRESS",
            BulkActionState::Finished => "FINISHED",
            BulkActionState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for BulkActionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A background bulk action, as `GET /v2/workflows/bulkActions/{actionId}` describes it.
///
/// Decoded tolerantly: only `state` is required. Upstash documents `actionId`, `kind`, `state`
/// and `total`; `processed`, `createdAt` and `completedAt` appear in its newest documentation,
/// `cancelled` and `finishedAt` in other answers; each is read when present (numbers or numeric
/// strings). The whole answer is kept in [`raw`](Self::raw).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkAction {
    /// `actionId` (the id asked for, when the answer leaves it out).
    pub action_id: String,
    /// `kind`, e.g. `cancel`.
    pub kind: Option<String>,
    /// `state`.
    pub state: BulkActionState,
    /// `total`: runs that matched the filter when the action was created.
    pub total: Option<u64>,
    /// `processed`: runs the action has handled so far.
    pub processed: Option<u64>,
    /// `cancelled`: runs the action has cancelled so far, where the server reports it.
    pub cancelled: Option<u64>,
    /// `createdAt`, Unix milliseconds.
    pub created_at_ms: Option<u64>,
    /// `completedAt` (or `finishedAt`), Unix milliseconds (once finished).
    pub completed_at_ms: Option<u64>,
    /// The whole answer.
    pub raw: serde_json::Value,
}

impl BulkAction {
    /// Whether the action has finished (`FINISHED`).
    pub fn is_finished(&self) -> bool {
        self.state == BulkActionState::Finished
    }

    /// Whether the action is still in progress (see [`BulkActionState::is_in_progress`]).
    /// [`UpstashCanceller::wait_for_bulk_action`](crate::UpstashCanceller::wait_for_bulk_action)
    /// waits while this is true.
    pub fn is_in_progress(&self) -> bool {
        self.state.is_in_progress()
    }

    /// `createdAt` as a time.
    pub fn created_at(&self) -> Option<SystemTime> {
        self.created_at_ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// `completedAt` as a time.
    pub fn completed_at(&self) -> Option<SystemTime> {
        self.completed_at_ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
    }
}
