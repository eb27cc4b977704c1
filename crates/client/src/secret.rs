//! Secrets that must not leak into logs, errors or `Debug` output.

use std::fmt;

/// A secret string (an auth string such as `user:pass`, an API key).
///
/// Its `Debug` output is `***`, and it has no `Display`, so it cannot end up in a log line or an
/// error message by accident; [`SecretString::expose`] is the one way to read it.
///
/// ```
/// use prefab_client::SecretString;
///
/// let auth = SecretString::from("admin:hunter2");
/// assert_eq!(format!("{auth:?}"), "***");
/// assert_eq!(auth.expose(), "admin:hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for SecretString {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
