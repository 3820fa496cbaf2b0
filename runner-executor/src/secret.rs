//! A string whose `Debug` output never shows its content: job tokens, masked values.

use std::fmt;

/// A secret string (job token, dependency token).
///
/// `Debug` prints `Secret([REDACTED])`; the value is only reachable through [`Secret::expose`],
/// so a secret never ends up in a log line by accident.
///
/// ```
/// use runner_executor::Secret;
/// let token = Secret::new("glcbt-64_abc");
/// assert_eq!(format!("{token:?}"), "Secret([REDACTED])");
/// assert_eq!(token.expose(), "glcbt-64_abc");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call sites are easy to grep for.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("supersecret123");
        assert!(!format!("{secret:?}").contains("supersecret"));
        assert!(!format!("{:?}", Some(secret)).contains("supersecret"));
    }
}
