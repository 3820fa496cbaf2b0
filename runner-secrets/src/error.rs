//! Failures of secret resolution, worded as upstream's (upstream-details.md §6.7) so job logs
//! read the same: every message starts with `resolving secrets: `. Messages never contain a
//! secret value, the JWT or a Vault token.

/// How a resolution failure is reported to GitLab (§6.7's status classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// 400, 401, 403, 404 from Vault: `runner_configuration_error` (`ERROR: Job failed:`).
    Configuration,
    /// 5xx from Vault: `runner_external_dependency_failure`.
    ExternalDependency,
    /// Everything else: `runner_system_failure` (`ERROR: Job failed (system failure):`).
    System,
}

/// Why the job's secrets could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// A `secrets` entry does not decode (our own check; upstream fails decoding the job).
    #[error("resolving secrets: decoding secret {name}: {reason}")]
    InvalidDefinition {
        /// The variable.
        name: String,
        /// What did not decode, without values.
        reason: String,
    },
    /// The server URL is empty or not a URL.
    #[error(
        "resolving secrets: initializing Vault service: preparing authenticated client: creating new Vault client: {reason}"
    )]
    InvalidServerUrl {
        /// Why (never the URL's credentials).
        reason: String,
    },
    /// `auth.name` is not `jwt`.
    #[error(
        "resolving secrets: initializing Vault service: preparing authenticated client: initializing auth method factory: factory for auth method {name:?} is not registered"
    )]
    UnknownAuthMethod {
        /// The auth method name.
        name: String,
    },
    /// `auth.data` has no `jwt` key.
    #[error(
        "resolving secrets: initializing Vault service: preparing authenticated client: initializing auth method adapter: filtering auth method configuration: missing required auth method configuration key \"jwt\""
    )]
    MissingJwt,
    /// Vault refused the login.
    #[error(
        "resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: writing to Vault: {detail}"
    )]
    Login {
        /// HTTP status, when Vault answered.
        status: Option<u16>,
        /// `api error: status code <c>: <errors>`, or the transport failure.
        detail: String,
    },
    /// The login answer had no client token.
    #[error(
        "resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: no result from Vault"
    )]
    NoLoginResult,
    /// `engine.name` is not `kv-v2`, `kv-v1` or `generic`.
    #[error(
        "resolving secrets: requesting SecretEngine factory: factory for secret engine {name:?} is not registered"
    )]
    UnknownEngine {
        /// The engine name.
        name: String,
    },
    /// Vault refused the read.
    #[error("resolving secrets: reading secret: reading from Vault: {detail}")]
    Read {
        /// HTTP status, when Vault answered.
        status: Option<u16>,
        /// `api error: status code <c>: <errors>`, or the transport failure.
        detail: String,
    },
    /// A KV v2 `data.data` that is not an object.
    #[error(
        "resolving secrets: reading secret: data for key {path} cannot be coerced to 'map[string]any'"
    )]
    NotAnObject {
        /// The secret path.
        path: String,
    },
    /// The secret or its field does not exist.
    #[error("resolving secrets: secret not found: {name}")]
    NotFound {
        /// The variable.
        name: String,
    },
}

impl SecretsError {
    /// How GitLab should see the failure.
    pub fn failure_class(&self) -> FailureClass {
        let status = match self {
            Self::Login { status, .. } | Self::Read { status, .. } => *status,
            _ => None,
        };
        match status {
            Some(400 | 401 | 403 | 404) => FailureClass::Configuration,
            Some(status) if status >= 500 => FailureClass::ExternalDependency,
            _ => FailureClass::System,
        }
    }

    /// Whether the job fails as a configuration error (`ERROR: Job failed: ...`).
    pub fn is_configuration(&self) -> bool {
        self.failure_class() == FailureClass::Configuration
    }
}

/// `Result` with this crate's [`SecretsError`].
pub type Result<T, E = SecretsError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_statuses_are_classified_as_upstream() {
        let read = |status| SecretsError::Read {
            status,
            detail: String::new(),
        };
        for status in [400, 401, 403, 404] {
            assert_eq!(
                read(Some(status)).failure_class(),
                FailureClass::Configuration
            );
        }
        assert_eq!(
            read(Some(503)).failure_class(),
            FailureClass::ExternalDependency
        );
        assert_eq!(read(Some(429)).failure_class(), FailureClass::System);
        assert_eq!(read(None).failure_class(), FailureClass::System);
        assert_eq!(
            SecretsError::NotFound { name: "X".into() }.failure_class(),
            FailureClass::System
        );
    }
}
