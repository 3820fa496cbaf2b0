//! The result of a job as the coordinator needs it: success, or a failure reason and exit code.

use std::fmt;

/// How a job ended. A failing script is an `Outcome`, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage passed: final update `state=success`.
    Success,
    /// The job failed: final update `state=failed` with [`JobFailure::reason`].
    Failed(JobFailure),
}

impl Outcome {
    /// Whether the job succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// The failure, if the job failed.
    pub fn failure(&self) -> Option<&JobFailure> {
        match self {
            Self::Success => None,
            Self::Failed(failure) => Some(failure),
        }
    }
}

/// Why and how a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// The runner-internal failure reason; map it with [`FailureReason::to_wire`].
    pub reason: FailureReason,
    /// The script's exit code, for `exit_code` in the final update (`None` or `Some(0)`: omit the field).
    pub exit_code: Option<i32>,
    /// The text after `Job failed: ` in the trace, e.g. `exit status 3`.
    pub message: String,
    /// Set when the backend asked for the message to stand without a stage name
    /// ([`crate::Backend::bare_message`]); the driver then adds no prefix.
    pub(crate) bare: bool,
}

impl JobFailure {
    /// A failure with no exit code.
    pub fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            exit_code: None,
            message: message.into(),
            bare: false,
        }
    }

    /// The final trace line text without colours, as upstream prints it.
    pub fn trace_line(&self) -> String {
        if self.reason == FailureReason::RunnerSystemFailure {
            format!("Job failed (system failure): {}", self.message)
        } else {
            format!("Job failed: {}", self.message)
        }
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.trace_line())
    }
}

/// Runner-internal failure reasons (executors.md §1.8, coordinator-api.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The user script failed (also the default when nothing is known).
    ScriptFailure,
    /// The runner or executor failed.
    RunnerSystemFailure,
    /// A runner-enforced timeout expired.
    JobExecutionTimeout,
    /// Pulling an image failed.
    ImagePullFailure,
    /// Classification impossible.
    UnknownFailure,
    /// A configuration problem only the runner can detect.
    RunnerConfigurationError,
    /// A registry, git host or other service failed.
    RunnerExternalDependencyFailure,
    /// The runner process was told to stop.
    RunnerInterrupted,
    /// The job was canceled.
    JobCanceled,
}

impl FailureReason {
    /// The wire string, e.g. `script_failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScriptFailure => "script_failure",
            Self::RunnerSystemFailure => "runner_system_failure",
            Self::JobExecutionTimeout => "job_execution_timeout",
            Self::ImagePullFailure => "image_pull_failure",
            Self::UnknownFailure => "unknown_failure",
            Self::RunnerConfigurationError => "runner_configuration_error",
            Self::RunnerExternalDependencyFailure => "runner_external_dependency_failure",
            Self::RunnerInterrupted => "runner_interrupted",
            Self::JobCanceled => "job_canceled",
        }
    }

    /// The reason to send, given the payload's `features.failure_reasons` (coordinator-api.md §12):
    /// as-is when accepted, else along the compatibility chain, else `unknown_failure`.
    ///
    /// ```
    /// use runner_executor::FailureReason;
    /// assert_eq!(FailureReason::ImagePullFailure.to_wire(&[]), "runner_system_failure");
    /// assert_eq!(FailureReason::JobCanceled.to_wire(&[]), "unknown_failure");
    /// assert_eq!(FailureReason::JobCanceled.to_wire(&["job_canceled".to_owned()]), "job_canceled");
    /// ```
    pub fn to_wire(self, accepted: &[String]) -> &'static str {
        let mut reason = self;
        loop {
            let always = matches!(
                reason,
                Self::ScriptFailure | Self::RunnerSystemFailure | Self::JobExecutionTimeout
            );
            if always || accepted.iter().any(|a| a == reason.as_str()) {
                return reason.as_str();
            }
            reason = match reason {
                Self::ImagePullFailure | Self::RunnerExternalDependencyFailure => {
                    Self::RunnerSystemFailure
                }
                Self::RunnerConfigurationError => Self::ScriptFailure,
                _ => return Self::UnknownFailure.as_str(),
            };
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
