//! Bodies of the runner lifecycle endpoints: register, verify, unregister, reset token (§3).

use serde::{Deserialize, Serialize};

use crate::secret::Token;
use crate::wire::RunnerInfo;

/// `POST runners` body (legacy registration with a registration token).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegisterRunnerRequest {
    /// Registration token; filled in by the client.
    #[serde(skip_serializing_if = "Token::is_empty")]
    pub token: Token,
    /// Runner description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Maintenance note.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub maintenance_note: String,
    /// Comma-separated tags.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag_list: String,
    /// Whether untagged jobs are picked.
    pub run_untagged: bool,
    /// Whether the runner is locked to its projects.
    pub locked: bool,
    /// `not_protected` or `ref_protected`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_level: String,
    /// Maximum job timeout in seconds, omitted when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub maximum_timeout: u64,
    /// Whether the runner starts paused.
    pub paused: bool,
    /// Runner info (network-level features only).
    pub info: RunnerInfo,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The runner created by register or confirmed by verify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RegisteredRunner {
    /// Runner id; 0 when an old server answered verify without JSON.
    pub id: i64,
    /// The runner authentication token to store.
    pub token: Token,
    /// RFC 3339 expiry, `None` when the token never expires.
    pub token_expires_at: Option<String>,
}

/// `POST runners/verify` body.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyRunnerRequest {
    /// Full runner info, so the server records this manager's features.
    pub info: RunnerInfo,
    /// Runner token.
    pub token: Token,
    /// This machine's `system_id`, omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_id: String,
}

/// `DELETE runners` and `DELETE runners/managers` body.
#[derive(Debug, Clone, Serialize)]
pub struct UnregisterRequest {
    /// Runner token.
    pub token: Token,
    /// Present (even empty) only for `runners/managers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_id: Option<String>,
}

/// `POST runners/reset_authentication_token` body.
#[derive(Debug, Clone, Serialize)]
pub struct ResetTokenRequest {
    /// The current runner token.
    pub token: Token,
}

/// A rotated runner token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ResetTokenResponse {
    /// The new token.
    pub token: Token,
    /// RFC 3339 expiry, `None` when it never expires.
    pub token_expires_at: Option<String>,
}
