//! A token whose `Debug` output never shows its value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A runner, registration, job or personal access token.
///
/// `Debug` prints `Token(<short>…)` using only the short form GitLab itself
/// uses in logs (§2 of the coordinator spec), never the whole value. The value
/// travels only in request headers and bodies.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Token(String);

impl Token {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The full token, for a request header or body. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this is a "created runner" authentication token (`glrt-` prefix).
    ///
    /// Such tokens register through verify and unregister only the runner
    /// manager (this machine), not the runner.
    pub fn is_runner_authentication_token(&self) -> bool {
        self.0.starts_with("glrt-")
    }

    /// The short form used in logs and metric labels: known prefixes removed,
    /// then the first 9 characters.
    pub fn short(&self) -> String {
        runner_core::short_token(&self.0).to_owned()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Token({}…)", self.short())
    }
}

impl From<&str> for Token {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Token {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value: Option<String> = Option::deserialize(deserializer)?;
        Ok(Self(value.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(Token::new(input).short(), expected, "short form of {input}");
    }

    #[test]
    fn short_token_strips_known_prefixes() {
        check("glrt-t1_AbCdEfGhIjKlMnOp", "AbCdEfGhI");
        check("glrt-AbCdEfGhIjKlMnOp", "AbCdEfGhI");
        check("t2_AbCdEfGhIjKl", "AbCdEfGhI");
        check("glcbt-64_jobToken", "64_jobTok");
        check("GR1348941abcdefghijkl", "abcdefghi");
        check("short", "short");
    }

    #[test]
    fn debug_never_shows_the_whole_token() {
        let token = Token::new("glrt-t1_AbCdEfGhIjKlMnOpQrSt");
        let printed = format!("{token:?}");
        assert!(!printed.contains("MnOpQrSt"), "{printed}");
        assert!(token.is_runner_authentication_token());
    }

    #[test]
    fn null_deserializes_to_empty() {
        let token: Token = serde_json::from_str("null").unwrap();
        assert!(token.is_empty());
    }
}
