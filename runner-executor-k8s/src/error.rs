//! [`Error`]: everything that stops the Kubernetes executor, worded as the Go runner words it.
//!
//! Upstream prints one flat string per failure (`setting up build pod: etcdserver: request timed
//! out`), and users search for exactly those strings (seed 001). So each variant's `Display`
//! already contains its cause, and no variant exposes the cause again through `source()`: the
//! driver prints `Display`, and an `{:#}` chain can never repeat the cause.

use std::fmt;

use runner_executor::FailureReason;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures of the Kubernetes executor. A failing script is a `StageExit`, not an `Error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig or the `host`/`cert_file`/... settings could not be turned into a client config.
    #[error("getting Kubernetes config: {0}")]
    Config(String),
    /// The client could not be built from a valid config.
    #[error("creating Kubernetes client: {0}")]
    Client(String),
    /// A setting or job value is invalid (pull policy, overwrite, volume...); not retried.
    #[error("{0}")]
    Configuration(String),
    /// A job variable overwrite was refused (executors.md §8.2).
    #[error("couldn't prepare overwrites: {0}")]
    Overwrite(String),
    /// Creating the job's own namespace (`namespace_per_job`) failed.
    #[error("setting up build namespace: {0}")]
    Namespace(ApiError),
    /// Creating the image-pull secret failed.
    #[error("setting up credentials: {0}")]
    Credentials(ApiError),
    /// Creating the build pod failed.
    #[error("setting up build pod: {0}")]
    BuildPod(ApiError),
    /// The pod did not become ready (timeout, API error, terminal container state).
    #[error("waiting for pod running: {0}")]
    WaitPodRunning(String),
    /// The pod went away or broke while a stage ran (evicted, deleted, container died).
    #[error("{0}")]
    PodLost(String),
    /// The job's image or a service is not on `allowed_images` / `allowed_services`; the
    /// trace already lists the patterns (upstream retries it like any system failure).
    #[error("disallowed image")]
    DisallowedImage,
    /// An exec into the pod failed before or while running a stage.
    #[error("{0}")]
    Exec(String),
}

impl Error {
    /// The failure reason the job reports: configuration problems are
    /// `runner_configuration_error`, everything else a runner system failure.
    pub fn failure_reason(&self) -> Option<FailureReason> {
        match self {
            Self::Configuration(_) | Self::Overwrite(_) | Self::Config(_) => {
                Some(FailureReason::RunnerConfigurationError)
            }
            _ => None,
        }
    }

    /// Whether the error comes from configuration rather than the cluster (never retried).
    pub fn is_configuration(&self) -> bool {
        self.failure_reason().is_some()
    }
}

/// One failed Kubernetes API call: the API server's `Status` message when there was one, the
/// transport failure otherwise, or `context deadline exceeded` when the runner's own deadline fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The text users see, e.g. `etcdserver: request timed out`.
    pub message: String,
    /// HTTP status code from the `Status` body; 0 for transport failures and deadlines.
    pub code: u16,
    /// The `Status` reason, e.g. `NotFound`.
    pub reason: String,
}

impl ApiError {
    /// The runner's own deadline fired (Go's `context.DeadlineExceeded`).
    pub fn deadline_exceeded() -> Self {
        Self {
            message: "context deadline exceeded".to_owned(),
            code: 0,
            reason: "Timeout".to_owned(),
        }
    }

    /// Whether the object does not exist (404 / `NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.reason == "NotFound" || (self.code == 404 && self.reason.is_empty())
    }

    /// Whether the object already exists (409 `AlreadyExists`).
    pub fn is_already_exists(&self) -> bool {
        self.reason == "AlreadyExists"
    }

    pub(crate) fn from_kube(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => {
                let message = if status.message.is_empty() {
                    status.reason.clone()
                } else {
                    status.message.clone()
                };
                Self {
                    message,
                    code: status.code,
                    reason: status.reason.clone(),
                }
            }
            other => Self {
                message: error_chain(&other),
                code: 0,
                reason: String::new(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// Joins an error and its sources with `: `, skipping sources whose text is already included
/// (kube's terse `Display` hides the OS error, e.g. `Connection refused`, in the chain).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Runs an API call under `timeout`; expiry reads `context deadline exceeded` like Go's context.
pub(crate) async fn deadline<T>(
    timeout: std::time::Duration,
    call: impl std::future::Future<Output = std::result::Result<T, kube::Error>>,
) -> std::result::Result<T, ApiError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(ApiError::from_kube),
        Err(_elapsed) => Err(ApiError::deadline_exceeded()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_cause() {
        let cause = ApiError {
            message: "etcdserver: request timed out".to_owned(),
            code: 500,
            reason: String::new(),
        };
        assert_eq!(
            Error::BuildPod(cause.clone()).to_string(),
            "setting up build pod: etcdserver: request timed out"
        );
        assert_eq!(
            Error::Credentials(ApiError::deadline_exceeded()).to_string(),
            "setting up credentials: context deadline exceeded"
        );
        assert!(!cause.is_not_found());
    }

    #[test]
    fn configuration_errors_are_classified() {
        assert!(Error::Configuration("x".to_owned()).is_configuration());
        assert!(!Error::PodLost("x".to_owned()).is_configuration());
    }
}
