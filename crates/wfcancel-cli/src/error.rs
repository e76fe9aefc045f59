//! A failure that ends the command, with its exit code and a hint for the user.

use wfcancel::CancelError;

use crate::output::{EXIT_FAILURE, EXIT_USAGE, is_usage_error};

/// What went wrong, how to say it, and which exit code it means.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The exit code (1 or 2).
    pub code: u8,
    /// `ErrorKind` name (`config`, `invalid_input`, `transport`, …) or `usage`.
    pub kind: String,
    /// One line a person can act on. Never a token.
    pub message: String,
    /// What to do about it, when there is more to say.
    pub hint: Option<String>,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            kind: "usage".into(),
            message: message.into(),
            hint: None,
        }
    }

    /// A configuration error (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            kind: "config".into(),
            message: message.into(),
            hint: None,
        }
    }

    /// An error reading the input (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            kind: "invalid_input".into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `error: ...` and, when there is one, `hint: ...` on the next line.
    pub fn render(&self) -> String {
        match &self.hint {
            Some(h) => format!("error: {}\nhint: {h}", self.message),
            None => format!("error: {}", self.message),
        }
    }
}

impl From<CancelError> for Failure {
    fn from(e: CancelError) -> Self {
        let code = if is_usage_error(&e) { EXIT_USAGE } else { EXIT_FAILURE };
        Failure {
            code,
            kind: e.kind().as_str().to_owned(),
            message: e.to_string(),
            hint: None,
        }
    }
}
