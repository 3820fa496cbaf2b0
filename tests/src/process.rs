//! The runner under test as a child process, with its log captured to a file.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::binary::runner_binary;

/// A running `gitlab-runner-rs`.
#[derive(Debug)]
pub struct RunnerProcess {
    child: Child,
    log: PathBuf,
}

impl RunnerProcess {
    /// Starts `gitlab-runner-rs <args>` in `dir`, logging to `dir/runner-<n>.log`.
    pub fn start(dir: &Path, args: &[&str]) -> RunnerProcess {
        RunnerProcess::start_with_env(dir, args, &[])
    }

    /// Like [`RunnerProcess::start`], with extra environment variables for the runner.
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> RunnerProcess {
        RunnerProcess::start_wrapped(dir, &[], &runner_binary(), args, env)
    }

    /// Starts `<wrapper...> <binary> <args>`, e.g. the runner under valgrind; the pid is the
    /// wrapper's, which for valgrind is the runner's own.
    pub fn start_wrapped(
        dir: &Path,
        wrapper: &[&str],
        binary: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> RunnerProcess {
        let log = unique_log(dir);
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let child = command
            .args(args)
            .current_dir(dir)
            .env("RUNNER_TEST_MARKER", "1")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().expect("log file clone"))
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("gitlab-runner-rs starts");
        RunnerProcess { child, log }
    }

    /// The runner's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `signal` to the runner.
    pub fn signal(&self, signal: Signal) {
        if let Some(id) = self.child.id() {
            let _ = kill(Pid::from_raw(i32::try_from(id).unwrap_or(0)), signal);
        }
    }

    /// Waits for the process to exit, at most `timeout`; `None` if it is still running.
    pub async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Everything the runner logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`, at most `timeout`; returns whether it did.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            // Polling a log file: there is no event to wait on across the process boundary.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `gitlab-runner-rs <args>` to completion; returns its status and combined output.
pub async fn run_to_end(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    let output = run_with_env(dir, args, &[]).await;
    let mut text = output.stdout;
    text.push_str(&output.stderr);
    (output.status, text)
}

/// What a finished `gitlab-runner-rs` printed, stream by stream.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `gitlab-runner-rs <args>` to completion with extra environment variables.
pub async fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let output = Command::new(runner_binary())
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("gitlab-runner-rs runs");
    Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn unique_log(dir: &Path) -> PathBuf {
    (0..)
        .map(|n| dir.join(format!("runner-{n}.log")))
        .find(|path| !path.exists())
        .unwrap_or_else(|| dir.join("runner.log"))
}
