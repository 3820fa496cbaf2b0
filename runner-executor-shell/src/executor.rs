//! [`ShellExecutor`]: the [`Backend`] that runs each stage with `bash -l` (or `sh -l`) on this host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_executor::{
    Backend, BackendDefaults, CancellationToken, JobSpec, ScriptShell, StageExit, StageScript,
    TraceWriter, run_plan_locally,
};

use crate::error::Error;
use crate::process::{StageProcess, run_stage_process};
use crate::user::{JobUser, create_dir_all_owned};

/// Runs jobs with bash, or `sh` when the runner's `shell` is `sh`, on the runner's host
/// (executors.md §6, upstream-details.md §8).
///
/// Each stage is a fresh `bash -l` or `sh -l` (a login shell, so profile files are read) in its
/// own process group, with the script on stdin and stdout and stderr streamed into the trace as they arrive.
/// A stage ends when its bash exits, even if background processes still hold the output pipes;
/// those leftovers are killed. Cancel and timeouts send SIGTERM to the group, then SIGKILL.
/// With [`ShellExecutor::with_user`] every stage runs through `su` as that user.
#[derive(Debug, Clone)]
pub struct ShellExecutor {
    working_directory: PathBuf,
    bash: PathBuf,
    sh: PathBuf,
    su: PathBuf,
    user: Option<JobUser>,
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
            su: find_in_path("su").unwrap_or_else(|| PathBuf::from("su")),
            user: None,
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

    /// Runs every stage as `user` (`run --user`): `su -s /bin/bash <user> -c "bash -l"`, or
    /// `su -s /bin/sh <user> -c "sh -l"` with `shell = "sh"` (upstream's command lines; the
    /// runner must be root). The builds and cache roots, when the executor creates them, belong
    /// to `user`; stages that could run in-process run in the shell instead, so everything the
    /// job creates is `user`'s.
    #[must_use]
    pub fn with_user(mut self, user: JobUser) -> Self {
        self.user = Some(user);
        self
    }

    /// The user stages run as, when not the runner's own.
    pub fn user(&self) -> Option<&JobUser> {
        self.user.as_ref()
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

    /// The program and arguments of a stage: upstream's `GetConfiguration` on Linux.
    fn stage_command(&self, shell: ScriptShell) -> (&Path, Vec<OsString>) {
        match &self.user {
            None => (self.program(shell), vec![OsString::from("-l")]),
            Some(user) => (
                &self.su,
                vec![
                    OsString::from("-s"),
                    OsString::from(format!("/bin/{}", shell.name())),
                    OsString::from(user.name()),
                    OsString::from("-c"),
                    OsString::from(format!("{} -l", shell.name())),
                ],
            ),
        }
    }

    fn cache_root(&self, job: &JobSpec) -> Option<PathBuf> {
        match &job.runner.cache_dir {
            Some(dir) if dir.is_empty() => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => Some(self.working_directory.join("cache")),
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
        match &self.user {
            None => tokio::fs::create_dir_all(&builds_root)
                .await
                .map_err(|source| Error::CreateDir {
                    path: builds_root.clone(),
                    source,
                })?,
            Some(user) => {
                // The stages run as `user`: the roots they create their directories in
                // (project, `.tmp`, cache entries) must be theirs.
                let mut roots = vec![builds_root.clone()];
                roots.extend(self.cache_root(job));
                let user = user.clone();
                tokio::task::spawn_blocking(move || {
                    roots.iter().try_for_each(|root| {
                        create_dir_all_owned(root, &user).map_err(|source| Error::CreateDir {
                            path: root.clone(),
                            source,
                        })
                    })
                })
                .await
                .map_err(|join| Error::CreateDir {
                    path: builds_root.clone(),
                    source: std::io::Error::other(join),
                })??;
            }
        }
        Ok(ShellSession { builds_root, shell })
    }

    async fn run_stage(
        &self,
        session: &mut ShellSession,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> Result<StageExit, Error> {
        // In-process operations would run as the runner's user, not the job's.
        if let Some(plan) = script.plan.as_ref().filter(|_| self.user.is_none()) {
            // The job's filesystem is this machine's: a stage that only prints notices,
            // creates directories or removes files needs no login shell (see
            // `runner_executor::PlannedOp`), which halves the processes of a trivial job.
            tracing::debug!(stage = %script.stage, "running planned stage in-process");
            return Ok(run_plan_locally(plan, &session.builds_root, trace).await);
        }
        tracing::debug!(stage = %script.stage, shell = session.shell.name(), "running stage");
        let (program, arguments) = self.stage_command(session.shell);
        let process = StageProcess {
            program,
            arguments,
            switches_user: self.user.is_some(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn command(executor: &ShellExecutor, shell: ScriptShell) -> (PathBuf, Vec<String>) {
        let (program, arguments) = executor.stage_command(shell);
        let arguments = arguments
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        (program.to_path_buf(), arguments)
    }

    #[test]
    fn a_user_runs_stages_through_su_with_upstreams_arguments() {
        let executor = ShellExecutor::new("/w")
            .with_bash("/usr/bin/bash")
            .with_sh("/usr/bin/sh")
            .with_user(JobUser::lookup("root").unwrap());
        let (program, arguments) = command(&executor, ScriptShell::Bash);
        assert_eq!(program.file_name().unwrap(), "su");
        assert_eq!(arguments, ["-s", "/bin/bash", "root", "-c", "bash -l"]);
        let (_, arguments) = command(&executor, ScriptShell::Sh);
        assert_eq!(arguments, ["-s", "/bin/sh", "root", "-c", "sh -l"]);
    }

    #[test]
    fn without_a_user_stages_are_login_shells() {
        let executor = ShellExecutor::new("/w").with_bash("/usr/bin/bash");
        assert_eq!(
            command(&executor, ScriptShell::Bash),
            (PathBuf::from("/usr/bin/bash"), vec!["-l".to_owned()])
        );
    }
}
