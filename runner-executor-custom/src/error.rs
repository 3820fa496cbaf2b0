//! Failures of the custom executor and its drivers; the wording is upstream's, because it is
//! what users search for (upstream-details.md §1.7).

use std::io;
use std::path::PathBuf;

use runner_executor::{FailureReason, JobFailure};

/// Custom executor failures. A driver's `BUILD_FAILURE_EXIT_CODE` during a stage is not one
/// of them (it is the stage's exit code); during preparation it is [`Error::BuildFailure`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runner has no `[runners.custom]` section.
    #[error("custom executor not configured")]
    NotConfigured,
    /// `run_exec` is empty.
    #[error("custom executor is missing RunExec")]
    MissingRunExec,
    /// A driver executable exited with `BUILD_FAILURE_EXIT_CODE` during preparation.
    #[error("exit status {exit_code}")]
    BuildFailure {
        /// The code from `BUILD_EXIT_CODE_FILE`, else 1.
        exit_code: i32,
    },
    /// A driver executable exited with `SYSTEM_FAILURE_EXIT_CODE`.
    #[error("exit status 2")]
    SystemFailure,
    /// A driver executable ended in any other way.
    #[error(
        "unknown Custom executor executable exit code {code}; executable execution terminated with: {status}"
    )]
    UnknownExitCode {
        /// The code upstream reports (`-1` for a signal).
        code: i32,
        /// How the process ended: `exit status 7`, `signal: killed`.
        status: String,
    },
    /// A driver executable could not be started.
    #[error("failed to start command")]
    Spawn {
        /// The executable.
        program: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A driver call survived SIGTERM and SIGKILL of its process group.
    #[error("failed to kill process PID={pid}, likely process is dormant")]
    Dormant {
        /// The call's process id.
        pid: u32,
    },
    /// Waiting for a driver call failed.
    #[error("waiting for process PID={pid}")]
    Wait {
        /// The call's process id.
        pid: u32,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// `config_exec` printed something that is not one JSON object.
    #[error("error while parsing JSON output")]
    ConfigOutput {
        /// The decoder's message.
        #[source]
        source: serde_json::Error,
    },
    /// The configured (or `config_exec`'s) shell has no script generation.
    #[error("shell {shell} not found")]
    UnknownShell {
        /// The shell's name.
        shell: String,
    },
    /// The job's directories cannot be computed (`the builds_dir is not configured`).
    #[error("{}", .0.message)]
    Layout(JobFailure),
    /// A file or directory of the job's temporary directory could not be written.
    #[error("could not write {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The failure reason when this is not a plain system failure; classified errors end
    /// preparation without a retry.
    pub fn failure_reason(&self) -> Option<FailureReason> {
        match self {
            Self::NotConfigured | Self::MissingRunExec => {
                Some(FailureReason::RunnerConfigurationError)
            }
            Self::BuildFailure { .. } => Some(FailureReason::ScriptFailure),
            Self::Layout(failure) => Some(failure.reason),
            _ => None,
        }
    }

    /// Whether the error is a driver's `SYSTEM_FAILURE_EXIT_CODE`.
    pub fn is_system_failure_exit(&self) -> bool {
        matches!(self, Self::SystemFailure)
    }
}
