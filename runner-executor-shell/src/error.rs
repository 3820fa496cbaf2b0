//! Failures of the shell executor itself (a failing script is not one of them).

use std::io;
use std::path::PathBuf;

/// Shell executor failures; the driver reports them as `runner_system_failure`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stage's shell could not be started (bash missing, not executable).
    #[error("failed to start process")]
    Spawn {
        /// The program that failed to start.
        program: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The configured `shell` is not one this executor runs.
    #[error("shell {shell:?} is not supported by the shell executor, use bash or sh")]
    UnsupportedShell {
        /// The configured shell.
        shell: String,
    },
    /// The builds or cache directory could not be created (or given to the job's user).
    #[error("could not create the directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The user jobs should run as (`run --user`) is not in the user database.
    #[error("user {user:?} does not exist")]
    UnknownUser {
        /// The user name.
        user: String,
    },
    /// The user database could not be read.
    #[error("could not look up user {user:?}")]
    LookupUser {
        /// The user name.
        user: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The stage survived SIGTERM and SIGKILL.
    #[error("failed to kill process PID={pid}, likely process is dormant")]
    Dormant {
        /// The stage's process id.
        pid: u32,
    },
    /// Waiting for the stage process failed.
    #[error("waiting for process PID={pid}")]
    Wait {
        /// The stage's process id.
        pid: u32,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Whether the error means the shell program could not be started.
    pub fn is_spawn(&self) -> bool {
        matches!(self, Self::Spawn { .. })
    }

    /// Whether the error means the user jobs should run as does not exist.
    pub fn is_unknown_user(&self) -> bool {
        matches!(self, Self::UnknownUser { .. })
    }
}
