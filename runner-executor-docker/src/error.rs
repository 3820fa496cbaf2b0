//! [`Error`]: why the Docker executor could not prepare, run or clean up a job.
//!
//! A failing job script is not an error (the stage returns its exit code). Every variant here is
//! a failure of the runner's side: the engine, an image, the configuration. Messages reproduce
//! what users of the official runner search for (executors.md §7.2, §7.9, seed D3 and D4).

use runner_executor::FailureReason;

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed foreign cause, so bollard's error type stays inside the crate.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Failures of the Docker executor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine's socket exists but the runner may not open it (D3).
    #[error(
        "permission denied while trying to connect to the Docker daemon socket at {socket}: \
         check that the runner's user may read and write the socket (its owner and group, \
         usually `docker`) and that SELinux does not deny the access (look for AVC denials \
         in the audit log)"
    )]
    PermissionDenied {
        /// The socket, as `unix://<path>`.
        socket: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No engine answers at `host` (socket missing, connection refused, wrong address).
    #[error("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")]
    Unreachable {
        /// The configured `host`.
        host: String,
        /// The underlying failure.
        #[source]
        source: Cause,
    },
    /// `host`, `tls_cert_path` or the engine itself is not usable as configured.
    #[error("invalid docker configuration: {message}")]
    Connection {
        /// What is wrong, naming the setting or the engine fact.
        message: String,
    },
    /// A setting of `[runners.docker]` or of the job has an invalid value.
    #[error("{message}")]
    Config {
        /// The upstream wording, e.g. `unsupported pull_policy config: "sometimes"`.
        message: String,
    },
    /// The job requested pull policies that `allowed_pull_policies` forbids (D4).
    #[error(
        "invalid pull policy for image '{image}': pull_policy ([{requested}]) defined in {source_name} \
         is not one of the allowed_pull_policies ([{allowed}])"
    )]
    PullPolicyNotAllowed {
        /// The image name as the job wrote it.
        image: String,
        /// Requested policies, space separated.
        requested: String,
        /// Where the requested list came from: `GitLab pipeline config`, `Runner config` or
        /// `Runner config (default)`.
        source_name: &'static str,
        /// Allowed policies, space separated.
        allowed: String,
    },
    /// No job image and no `[runners.docker] image`.
    #[error("no Docker image specified to run the build in")]
    NoImage,
    /// The job's image or a service is not on `allowed_images` / `allowed_services`
    /// (upstream retries it like any system failure).
    #[error("disallowed image")]
    DisallowedImage,
    /// The image is neither present nor pullable: the registry does not know it, or the policy
    /// `never` forbids pulling it.
    #[error("failed to pull image \"{image}\" with specified policies [{policies}]: {cause}")]
    ImageNotFound {
        /// Image reference.
        image: String,
        /// The effective policies, space separated.
        policies: String,
        /// The last attempt's failure, as the engine worded it.
        cause: String,
    },
    /// The registry refused the pull (credentials missing or wrong).
    #[error("failed to pull image \"{image}\" with specified policies [{policies}]: {cause}")]
    PullDenied {
        /// Image reference.
        image: String,
        /// The effective policies, space separated.
        policies: String,
        /// The registry's refusal.
        cause: String,
    },
    /// Pulling failed for another reason (registry down, network, disk).
    #[error("failed to pull image \"{image}\" with specified policies [{policies}]: {cause}")]
    PullFailed {
        /// Image reference.
        image: String,
        /// The effective policies, space separated.
        policies: String,
        /// The last attempt's failure.
        cause: String,
        /// Whether the cause was a network failure (`runner_external_dependency_failure`).
        network: bool,
    },
    /// An engine call failed.
    #[error("{operation}: {message}")]
    Api {
        /// What we were doing, e.g. `creating container runner-...-build`.
        operation: String,
        /// The engine's answer (`Error response from daemon: ...`).
        message: String,
        /// Whether the engine rejected the request as invalid (HTTP 400): a configuration error.
        invalid_request: bool,
    },
    /// A stage's container disappeared while the stage ran.
    #[error("Container \"{container}\" not found or removed")]
    ContainerGone {
        /// Container name.
        container: String,
    },
    /// The job was canceled (or timed out) while the executor waited on the engine.
    #[error("canceled")]
    Canceled,
}

impl Error {
    /// The failure reason upstream reports for this error (executors.md §1.8, §7.2).
    pub fn failure_reason(&self) -> FailureReason {
        match self {
            Self::Config { .. } | Self::PullPolicyNotAllowed { .. } => {
                FailureReason::RunnerConfigurationError
            }
            Self::ImageNotFound { .. } | Self::PullDenied { .. } => {
                FailureReason::RunnerConfigurationError
            }
            Self::PullFailed { network: true, .. } => {
                FailureReason::RunnerExternalDependencyFailure
            }
            Self::PullFailed { network: false, .. } => FailureReason::ImagePullFailure,
            Self::Api {
                invalid_request: true,
                ..
            } => FailureReason::RunnerConfigurationError,
            Self::Canceled => FailureReason::JobCanceled,
            Self::PermissionDenied { .. }
            | Self::Unreachable { .. }
            | Self::Connection { .. }
            | Self::NoImage
            | Self::DisallowedImage
            | Self::Api { .. }
            | Self::ContainerGone { .. } => FailureReason::RunnerSystemFailure,
        }
    }

    /// Whether upstream treats it as a "build error" that stops preparation retries at once
    /// (executors.md §1.1 step 7). Everything else is retried up to three times.
    pub fn is_build_error(&self) -> bool {
        !matches!(self.failure_reason(), FailureReason::RunnerSystemFailure)
    }

    /// Whether the engine could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::PermissionDenied { .. }
        )
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_message_is_the_seeds() {
        let error = Error::PullPolicyNotAllowed {
            image: "image-name:latest".to_owned(),
            requested: "always".to_owned(),
            source_name: "GitLab pipeline config",
            allowed: String::new(),
        };
        assert_eq!(
            error.to_string(),
            "invalid pull policy for image 'image-name:latest': pull_policy ([always]) defined in \
             GitLab pipeline config is not one of the allowed_pull_policies ([])"
        );
        assert!(error.is_build_error());
    }

    #[test]
    fn permission_denied_names_socket_group_and_selinux() {
        let error = Error::PermissionDenied {
            socket: "unix:///var/run/docker.sock".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let text = error.to_string();
        assert!(text.contains("unix:///var/run/docker.sock"), "{text}");
        assert!(text.contains("group"), "{text}");
        assert!(text.contains("SELinux"), "{text}");
        assert_eq!(error.failure_reason(), FailureReason::RunnerSystemFailure);
        assert!(!error.is_build_error());
    }

    #[test]
    fn pull_failures_are_distinct() {
        let not_found = Error::ImageNotFound {
            image: "alpine:nope".to_owned(),
            policies: "never".to_owned(),
            cause: "No such image: alpine:nope".to_owned(),
        };
        let network = Error::PullFailed {
            image: "a".to_owned(),
            policies: "always".to_owned(),
            cause: "dial tcp: connection refused".to_owned(),
            network: true,
        };
        assert_eq!(
            not_found.to_string(),
            "failed to pull image \"alpine:nope\" with specified policies [never]: No such image: alpine:nope"
        );
        assert_eq!(
            network.failure_reason(),
            FailureReason::RunnerExternalDependencyFailure
        );
    }
}
