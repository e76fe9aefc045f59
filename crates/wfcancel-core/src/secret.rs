//! A token that never shows itself.

/// A secret (API token, security key). Its `Debug` and `Display` print a fixed mask; the value is
/// reachable only through [`SecretToken::expose`].
///
/// ```
/// use wfcancel_core::SecretToken;
/// let t = SecretToken::new("sk-live-123");
/// assert_eq!(format!("{t} {t:?}"), "*** SecretToken(***)");
/// assert_eq!(t.expose(), "sk-live-123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretToken(value.into())
    }

    /// The secret itself. Call it only where the value is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty or blank.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

impl std::fmt::Display for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for SecretToken {
    fn from(s: String) -> Self {
        SecretToken(s)
    }
}

impl From<&str> for SecretToken {
    fn from(s: &str) -> Self {
        SecretToken(s.to_owned())
    }
}
