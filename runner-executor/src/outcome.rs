//! The result of a job as the coordinator needs it: success, or a failure reason and exit code.

use std::fmt;

pub use runner_core::FailureReason;

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
