//! [`Secret`]: a string that never shows up in `Debug` or `Display` output; the one secret
//! type of the runner (configuration tokens and keys, job tokens, registry and cloud
//! credentials).

use std::fmt;

/// A secret value: a runner token, a job token, a password, a cloud key.
///
/// `Debug` and `Display` print `[MASKED]` (upstream's marker in its debug dump), so a secret
/// can sit in a struct that is logged without leaking. The value is only reachable through
/// [`Secret::expose`], which makes every place that handles the clear text easy to find.
/// With the `serde` feature, serialization is transparent: a secret reads and writes as a
/// plain string (a TOML string in `config.toml`).
///
/// ```
/// use runner_core::Secret;
///
/// let token = Secret::new("glrt-abcdefghijklmnop");
/// assert_eq!(format!("{token:?}"), "Secret([MASKED])");
/// assert_eq!(token.to_string(), "[MASKED]");
/// assert_eq!(token.expose(), "glrt-abcdefghijklmnop");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Secret(String);

impl Secret {
    /// Wraps a clear-text value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear-text value. Call this only where the value is really needed (an HTTP
    /// header, a child process), never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string (upstream's "not set").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Consumes the secret and returns the clear-text value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([MASKED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[MASKED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret:#?}").contains("hunter2"));
        assert!(!secret.to_string().contains("hunter2"));
    }
}
