//! [`ShellExecutor`]: the [`Backend`] that runs each stage with `bash -l` (or `sh -l`) on this host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_executor::{
    Backend, BackendDefaults, CancellationToken, JobSpec, ScriptShell, StageExit, StageScript,
    TraceWriter, run_plan_locally,
};

use crate::error::Error;
use crate::process::{StageProcess, run_stage_process};

/// Runs jobs with bash, or `sh` when the runner's `shell` is `sh`, on the runner's host
/// (executors.md §6, upstream-details.md §8).
///
/// Each stage is a fresh `bash -l` or `sh -l` (a login shell, so profile files are read) in its
/// own process group, with the script on stdin and stdout and stderr streamed into the trace as they arrive.
/// A stage ends when its bash exits, even if background processes still hold the output pipes;
/// those leftovers are killed. Cancel and timeouts send SIGTERM to the group, then SIGKILL.
#[derive(Debug, Clone)]
pub struct ShellExecutor {
    working_directory: PathBuf,
    bash: PathBuf,
    sh: PathBuf,
    kill_grace: Duration,
    force_kill_wait: Duration,
    drain_grace: Duration,
    helper_binary: Option<PathBuf>,
}

impl ShellExecutor {
    /// An executor whose default builds and cache roots are `<working_directory>/builds` and
    /// `<working_directory>/cache` (pass an absolute path: the runner's working directory).
    pub fn new(working_directory: impl Into<PathBuf>) -> Self {
        Self {
            working_directory: working_directory.into(),
            bash: find_in_path("bash").unwrap_or_else(|| PathBuf::from("bash")),
            sh: find_in_path("sh").unwrap_or_else(|| PathBuf::from("sh")),
            kill_grace: Duration::from_secs(600),
            force_kill_wait: Duration::from_secs(10),
            drain_grace: Duration::from_secs(2),
            helper_binary: None,
        }
    }

    /// The binary the cache and artifact stages call in its helper modes (`artifacts-uploader`,
    /// `cache-extractor`...); the runner passes its own executable. Without it the stages call
    /// `gitlab-runner-rs` from `PATH`.
    #[must_use]
    pub fn with_helper_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.helper_binary = Some(path.into());
        self
    }

    /// The bash program to run (default `bash`, found through `PATH` when the executor is
    /// created).
    #[must_use]
    pub fn with_bash(mut self, program: impl Into<PathBuf>) -> Self {
        self.bash = program.into();
        self
    }

    /// The sh program for runners with `shell = "sh"` (default `sh`, found through `PATH`
    /// when the executor is created: dash on Debian).
    #[must_use]
    pub fn with_sh(mut self, program: impl Into<PathBuf>) -> Self {
        self.sh = program.into();
        self
    }

    /// How long a stopped stage may take after SIGTERM before SIGKILL (upstream: 10 minutes).
    #[must_use]
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long output is still read after a stage's bash exited and its leftovers were killed
    /// (only matters for processes that left the group but kept the pipes; default 2 s).
    #[must_use]
    pub fn with_drain_grace(mut self, grace: Duration) -> Self {
        self.drain_grace = grace;
        self
    }

    /// The program for `shell`.
    fn program(&self, shell: ScriptShell) -> &Path {
        match shell {
            ScriptShell::Sh => &self.sh,
            ScriptShell::Bash | ScriptShell::Detected => &self.bash,
        }
    }

    fn builds_root(&self, job: &JobSpec) -> PathBuf {
        job.runner
            .builds_dir
            .as_ref()
            .map_or_else(|| self.working_directory.join("builds"), PathBuf::from)
    }
}

/// State of one job on the shell executor.
#[derive(Debug)]
pub struct ShellSession {
    builds_root: PathBuf,
    shell: ScriptShell,
}

impl ShellSession {
    /// The directory stage processes start in.
    pub fn builds_root(&self) -> &Path {
        &self.builds_root
    }
}

impl Backend for ShellExecutor {
    type Error = Error;
    type Session = ShellSession;

    fn defaults(&self, _job: &JobSpec) -> BackendDefaults {
        BackendDefaults {
            name: "shell".to_owned(),
            builds_dir: absolute(&self.working_directory.join("builds")),
            cache_dir: absolute(&self.working_directory.join("cache")),
            shared_builds_dir: true,
            custom_build_dir: false,
            shared_environment: true,
            scrub_git_config: false,
        }
    }

    fn helper_binary(&self, _job: &JobSpec) -> String {
        self.helper_binary.as_ref().map_or_else(
            || "gitlab-runner-rs".to_owned(),
            |path| path.to_string_lossy().into_owned(),
        )
    }

    fn script_shell(&self, job: &JobSpec) -> ScriptShell {
        // PowerShell is refused in `prepare`; until then its job is generated for bash.
        ScriptShell::for_configured_shell(&job.runner.shell).unwrap_or(ScriptShell::Bash)
    }

    async fn prepare(&self, job: &JobSpec, trace: &mut TraceWriter) -> Result<ShellSession, Error> {
        let Some(shell) = ScriptShell::for_configured_shell(&job.runner.shell) else {
            return Err(Error::UnsupportedShell {
                shell: job.runner.shell.clone(),
            });
        };
        trace
            .plain(&format!("Using Shell ({}) executor...", shell.name()))
            .await;
        let builds_root = self.builds_root(job);
        tokio::fs::create_dir_all(&builds_root)
            .await
            .map_err(|source| Error::CreateDir {
                path: builds_root.clone(),
                source,
            })?;
        Ok(ShellSession { builds_root, shell })
    }

    async fn run_stage(
        &self,
        session: &mut ShellSession,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> Result<StageExit, Error> {
        if let Some(plan) = &script.plan {
            // The job's filesystem is this machine's: a stage that only prints notices,
            // creates directories or removes files needs no login shell (see
            // `runner_executor::PlannedOp`), which halves the processes of a trivial job.
            tracing::debug!(stage = %script.stage, "running planned stage in-process");
            return Ok(run_plan_locally(plan, &session.builds_root, trace).await);
        }
        tracing::debug!(stage = %script.stage, shell = session.shell.name(), "running stage");
        let process = StageProcess {
            program: self.program(session.shell),
            working_directory: &session.builds_root,
            script: script.script.as_bytes(),
            kill_grace: self.kill_grace,
            force_kill_wait: self.force_kill_wait,
            drain_grace: self.drain_grace,
        };
        run_stage_process(process, trace, stop).await
    }

    async fn cleanup(&self, _session: ShellSession, _trace: &mut TraceWriter) {
        // Every stage already killed its leftovers; the project directory persists by design.
    }
}

/// The first executable `name` in `PATH`. Resolving once spares every stage the failed
/// `execve`s of a search through the earlier `PATH` entries (a few percent of a trivial job).
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}
