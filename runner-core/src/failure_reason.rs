//! Why a job failed, one type from the executor's outcome to the coordinator's final update
//! and the `failure_reason` label of `gitlab_runner_failed_jobs_total`.

use std::fmt;

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
    /// Every reason, in upstream's order (the `failure_reason` label values).
    pub const ALL: [FailureReason; 9] = [
        Self::ScriptFailure,
        Self::RunnerSystemFailure,
        Self::JobExecutionTimeout,
        Self::ImagePullFailure,
        Self::UnknownFailure,
        Self::RunnerConfigurationError,
        Self::RunnerExternalDependencyFailure,
        Self::RunnerInterrupted,
        Self::JobCanceled,
    ];

    /// The wire string and metric label, e.g. `script_failure`.
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
    /// use runner_core::FailureReason;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_label() {
        let labels: std::collections::BTreeSet<_> = FailureReason::ALL
            .iter()
            .map(|reason| reason.as_str())
            .collect();
        assert_eq!(labels.len(), FailureReason::ALL.len());
    }
}
