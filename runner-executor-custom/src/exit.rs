//! A driver executable's exit status → what it means for the job (upstream-details.md §1.7).

use std::path::Path;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

use crate::error::Error;

/// `BUILD_FAILURE_EXIT_CODE`.
pub(crate) const BUILD_FAILURE_EXIT_CODE: i32 = 1;
/// `SYSTEM_FAILURE_EXIT_CODE`.
pub(crate) const SYSTEM_FAILURE_EXIT_CODE: i32 = 2;

/// How a driver call ended, mapped.
#[derive(Debug)]
pub(crate) enum Mapped {
    /// Exit 0.
    Success,
    /// `BUILD_FAILURE_EXIT_CODE`, with the code the driver reported (or 1).
    BuildFailure(i32),
    /// Anything else: a system failure.
    System(Error),
}

/// Maps `status`; `exit_code_file` is `BUILD_EXIT_CODE_FILE`, read only on a build failure.
///
/// The file is never deleted between calls (as upstream), so a code written by an earlier
/// stage is read again by any later call that exits with 1.
pub(crate) fn map(status: ExitStatus, exit_code_file: &Path) -> Mapped {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Mapped::Success,
        (Some(BUILD_FAILURE_EXIT_CODE), _) => match std::fs::read_to_string(exit_code_file) {
            Err(_) => Mapped::BuildFailure(BUILD_FAILURE_EXIT_CODE),
            Ok(text) => match text.lines().next().map(str::trim).map(str::parse::<i32>) {
                Some(Ok(code)) => Mapped::BuildFailure(code),
                // Upstream's quirk: an unreadable code is reported as "exit code 2".
                _ => Mapped::System(Error::UnknownExitCode {
                    code: SYSTEM_FAILURE_EXIT_CODE,
                    status: format!("exit status {BUILD_FAILURE_EXIT_CODE}"),
                }),
            },
        },
        (Some(SYSTEM_FAILURE_EXIT_CODE), _) => Mapped::System(Error::SystemFailure),
        (Some(code), _) => Mapped::System(Error::UnknownExitCode {
            code,
            status: format!("exit status {code}"),
        }),
        (None, signal) => Mapped::System(Error::UnknownExitCode {
            code: -1,
            status: format!("signal: {}", signal_name(signal)),
        }),
    }
}

/// Go's names for the signals a driver is usually stopped with.
fn signal_name(signal: Option<i32>) -> String {
    match signal.and_then(|s| Signal::try_from(s).ok()) {
        Some(Signal::SIGKILL) => "killed".to_owned(),
        Some(Signal::SIGTERM) => "terminated".to_owned(),
        Some(Signal::SIGINT) => "interrupt".to_owned(),
        Some(Signal::SIGHUP) => "hangup".to_owned(),
        Some(Signal::SIGQUIT) => "quit".to_owned(),
        Some(Signal::SIGABRT) => "aborted".to_owned(),
        Some(Signal::SIGSEGV) => "segmentation fault".to_owned(),
        Some(other) => other.as_str().to_lowercase(),
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn check(raw_status: i32, file: Option<&str>, expected: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build_exit_code");
        if let Some(content) = file {
            std::fs::write(&path, content).unwrap();
        }
        let text = match map(ExitStatus::from_raw(raw_status), &path) {
            Mapped::Success => "success".to_owned(),
            Mapped::BuildFailure(code) => format!("build failure {code}"),
            Mapped::System(error) => format!("system: {error}"),
        };
        assert_eq!(text, expected);
    }

    #[test]
    fn exit_statuses_map_as_upstream() {
        check(0, None, "success");
        check(1 << 8, None, "build failure 1");
        check(1 << 8, Some("3\n"), "build failure 3");
        check(
            1 << 8,
            Some("42 foo"),
            "system: unknown Custom executor executable exit code 2; executable execution terminated with: exit status 1",
        );
        check(
            1 << 8,
            Some(""),
            "system: unknown Custom executor executable exit code 2; executable execution terminated with: exit status 1",
        );
        check(2 << 8, Some("3"), "system: exit status 2");
        check(
            7 << 8,
            None,
            "system: unknown Custom executor executable exit code 7; executable execution terminated with: exit status 7",
        );
        check(
            9,
            None,
            "system: unknown Custom executor executable exit code -1; executable execution terminated with: signal: killed",
        );
    }
}
