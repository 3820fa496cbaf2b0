//! [`CustomExecutor`]: the [`Backend`] that hands every step of a job to driver executables
//! (upstream-details.md §1.3).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use runner_executor::{
    Backend, BackendDefaults, CancellationToken, JobEnvironment, JobSpec, PreparedJob, Stage,
    StageExit, StageScript, TraceWriter,
};
use tokio_util::task::TaskTracker;

use crate::config_output::ConfigOutput;
use crate::environment::{custom_env, response_json, runner_variables};
use crate::error::Error;
use crate::exit::{Mapped, map};
use crate::process::{self, Call, Sink};
use crate::session::{CustomSession, create_temp_dir};
use crate::settings::{DriverCommand, Settings};

/// Upstream's warning for the stage name it still passes for `step_script`.
const BUILD_SCRIPT_WARNING: &str = "Starting with version 17.0 the 'build_script' stage will be replaced with 'step_script': https://gitlab.com/groups/gitlab-org/-/epics/6112";

/// Runs jobs through the driver executables of a `[runners.custom]` section.
///
/// Each preparation attempt creates `<temp root>/custom-executor<digits>`, writes the job to
/// `response.json` there, runs `config_exec` and `prepare_exec`; every stage script is written
/// to a file and passed to `run_exec` with the stage's name; `cleanup_exec` runs on every
/// path, also after a failed attempt, a cancel or a timeout. Every call is its own process
/// group with that directory as working directory; a stop (cancel, timeout) sends SIGTERM to
/// the group, SIGKILL after `graceful_kill_timeout`, and gives up after `force_kill_timeout`.
#[derive(Debug, Clone)]
pub struct CustomExecutor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) settings: Option<Settings>,
    pub(crate) temp_root: PathBuf,
    pub(crate) helper_binary: String,
    pub(crate) custom_build_dir: bool,
    pub(crate) drain_grace: Duration,
    /// Owns the driver calls and the cleanups of sessions dropped before their cleanup.
    pub(crate) tasks: TaskTracker,
}

impl CustomExecutor {
    /// An executor for `settings` (`None`: the runner has no `[runners.custom]` section and
    /// every job fails with `custom executor not configured`), creating its per-job
    /// directories under `temp_root` (the runner passes its temporary directory).
    pub fn new(settings: Option<Settings>, temp_root: impl Into<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                temp_root: temp_root.into(),
                helper_binary: "gitlab-runner-rs".to_owned(),
                custom_build_dir: false,
                drain_grace: Duration::from_secs(2),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The helper binary the cache and artifact stages call, as it is named where the driver
    /// runs them (default: `gitlab-runner-rs`, found through `PATH` there).
    #[must_use]
    pub fn with_helper_binary(self, helper_binary: impl Into<String>) -> Self {
        self.map_inner(|inner| inner.helper_binary = helper_binary.into())
    }

    /// Allows `GIT_CLONE_PATH` (`[runners.custom_build_dir] enabled`; default off).
    #[must_use]
    pub fn with_custom_build_dir(self, enabled: bool) -> Self {
        self.map_inner(|inner| inner.custom_build_dir = enabled)
    }

    /// How long output is still read after a driver executable exited, for processes it left
    /// behind that keep the pipes open (default 2 s).
    #[must_use]
    pub fn with_drain_grace(self, grace: Duration) -> Self {
        self.map_inner(|inner| inner.drain_grace = grace)
    }

    /// Waits until the driver calls and cleanups of jobs dropped before their cleanup have
    /// finished (the driver's `cleanup_exec` still runs for them).
    pub async fn wait_for_background_cleanups(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.tasks.reopen();
    }

    fn map_inner(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            settings: shared.settings.clone(),
            temp_root: shared.temp_root.clone(),
            helper_binary: shared.helper_binary.clone(),
            custom_build_dir: shared.custom_build_dir,
            drain_grace: shared.drain_grace,
            tasks: shared.tasks.clone(),
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    fn settings(&self) -> Result<&Settings, Error> {
        let settings = self.inner.settings.as_ref().ok_or(Error::NotConfigured)?;
        if settings.run.program.is_empty() {
            return Err(Error::MissingRunExec);
        }
        Ok(settings)
    }

    /// `config_exec`, the startup line, the layout and `prepare_exec` (§1.3 steps 5-8).
    async fn prepare_session(
        &self,
        settings: &Settings,
        session: &mut CustomSession,
        job: &JobSpec,
        trace: &mut TraceWriter,
    ) -> Result<(), Error> {
        let response = session.tmp.join("response.json");
        let mut text = response_json(job).to_string();
        text.push('\n');
        write_private(&response, text.as_bytes()).await?;

        let output = match &settings.config {
            Some(command) => {
                let env = config_exec_env(job, &self.defaults(job), &session.tmp);
                let finished = self
                    .call(settings, command, Vec::new(), env, &session.tmp)
                    .with_stdout(Sink::Capture)
                    .run(trace, &CancellationToken::new(), &session.calls)
                    .await?;
                check(finished.status, &session.tmp)?;
                ConfigOutput::parse(&finished.stdout)?
            }
            None => ConfigOutput::default(),
        };
        trace.plain(&output.startup_line()).await;
        session.job_env = output
            .job_env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        session.prepared = output.prepared_job();

        let (job, defaults) = session.prepared.apply(job, &self.defaults(job));
        let environment = JobEnvironment::new(&job, &defaults).map_err(Error::Layout)?;
        if !matches!(job.runner.shell.as_str(), "" | "bash" | "sh") {
            return Err(Error::UnknownShell {
                shell: job.runner.shell.clone(),
            });
        }
        session.custom_env = custom_env(&job, &environment.variables);

        if let Some(command) = &settings.prepare {
            let env = session.env();
            let finished = self
                .call(settings, command, Vec::new(), env, &session.tmp)
                .run(trace, &CancellationToken::new(), &session.calls)
                .await?;
            check(finished.status, &session.tmp)?;
        }
        Ok(())
    }

    fn call(
        &self,
        settings: &Settings,
        command: &DriverCommand,
        extra_args: Vec<String>,
        env: Vec<(String, String)>,
        working_directory: &Path,
    ) -> CallBuilder {
        let mut args = command.args.clone();
        args.extend(extra_args);
        CallBuilder(Call {
            program: command.program.clone(),
            args,
            env,
            working_directory: working_directory.to_path_buf(),
            timeout: command.timeout,
            graceful_kill: settings.graceful_kill_timeout,
            force_kill: settings.force_kill_timeout,
            stdout: Sink::Trace,
            stderr: Sink::Trace,
            kill_leftovers: false,
            drain_grace: self.inner.drain_grace,
        })
    }
}

/// A [`Call`] under construction.
struct CallBuilder(Call);

impl CallBuilder {
    fn with_stdout(mut self, sink: Sink) -> Self {
        self.0.stdout = sink;
        self
    }

    async fn run(
        self,
        trace: &mut TraceWriter,
        stop: &CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<process::Finished, Error> {
        process::run(self.0, Some(trace), stop, tasks).await
    }
}

/// The environment of `config_exec`: the builds and project dirs are not known yet, so their
/// `CUSTOM_ENV_` variables are empty (upstream computes them from an unset builds dir).
fn config_exec_env(job: &JobSpec, defaults: &BackendDefaults, tmp: &Path) -> Vec<(String, String)> {
    let placeholder = |dir: &Option<String>| match dir.as_deref() {
        Some(dir) if !dir.is_empty() => dir.to_owned(),
        _ => "/".to_owned(),
    };
    let provisional = PreparedJob {
        builds_dir: Some(placeholder(&job.runner.builds_dir)),
        cache_dir: Some(placeholder(&job.runner.cache_dir)),
        ..PreparedJob::default()
    };
    let (job, defaults) = provisional.apply(job, defaults);
    let mut env = runner_variables(tmp);
    if let Ok(environment) = JobEnvironment::new(&job, &defaults) {
        let mut variables = environment.variables;
        for variable in &mut variables {
            if variable.key == "CI_BUILDS_DIR" || variable.key == "CI_PROJECT_DIR" {
                variable.value.clear();
            }
        }
        env.extend(custom_env(&job, &variables));
    }
    env
}

/// A preparation call's status as a result: exit 1 is a build failure, anything but 0 an error.
fn check(status: std::process::ExitStatus, tmp: &Path) -> Result<(), Error> {
    match map(status, &tmp.join("build_exit_code")) {
        Mapped::Success => Ok(()),
        Mapped::BuildFailure(exit_code) => Err(Error::BuildFailure { exit_code }),
        Mapped::System(error) => Err(error),
    }
}

/// Writes `contents` to a new file readable only by the runner's user (it holds the token).
async fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    use tokio::io::AsyncWriteExt;
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(io_error)?;
    file.write_all(contents).await.map_err(io_error)?;
    file.flush().await.map_err(io_error)
}

impl Backend for CustomExecutor {
    type Error = Error;
    type Session = CustomSession;

    fn defaults(&self, _job: &JobSpec) -> BackendDefaults {
        BackendDefaults {
            name: "custom".to_owned(),
            // No defaults: `config.toml` or `config_exec` must say (§1.1).
            builds_dir: String::new(),
            cache_dir: String::new(),
            shared_builds_dir: false,
            custom_build_dir: self.inner.custom_build_dir,
            shared_environment: true,
            scrub_git_config: false,
        }
    }

    fn helper_binary(&self, _job: &JobSpec) -> String {
        self.inner.helper_binary.clone()
    }

    fn layout_after_prepare(&self) -> bool {
        true
    }

    fn prepared_job(&self, session: &CustomSession) -> Option<PreparedJob> {
        Some(session.prepared.clone())
    }

    fn failure_reason(&self, error: &Error) -> Option<runner_executor::FailureReason> {
        error.failure_reason()
    }

    async fn prepare(
        &self,
        job: &JobSpec,
        trace: &mut TraceWriter,
    ) -> Result<CustomSession, Error> {
        let settings = self.settings()?;
        let tmp = create_temp_dir(&self.inner.temp_root).await?;
        let mut session = CustomSession::new(Arc::clone(&self.inner), tmp);
        match self
            .prepare_session(settings, &mut session, job, trace)
            .await
        {
            Ok(()) => Ok(session),
            Err(error) => {
                // Upstream cleans up after every failed attempt, so `cleanup_exec` runs once
                // per attempt and the next one starts from a fresh directory.
                session.clean_up(Some(trace)).await;
                Err(error)
            }
        }
    }

    async fn run_stage(
        &self,
        session: &mut CustomSession,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> Result<StageExit, Error> {
        let settings = self.settings()?;
        // The driver owns the job's filesystem: planned stages run as scripts too.
        let stage_name = match &script.stage {
            Stage::Step(name) if name == "script" => {
                trace.warning(BUILD_SCRIPT_WARNING).await;
                "build_script".to_owned()
            }
            stage => stage.id(),
        };
        let path = session.write_script(&script.script).await?;
        let mut call = self
            .call(
                settings,
                &settings.run,
                vec![path.to_string_lossy().into_owned(), stage_name],
                session.env(),
                &session.tmp,
            )
            .0;
        call.kill_leftovers = true;
        let finished = process::run(call, Some(trace), &stop, &session.calls).await?;
        if finished.stopped {
            return Ok(StageExit::Stopped);
        }
        match map(finished.status, &session.tmp.join("build_exit_code")) {
            Mapped::Success => Ok(StageExit::Success),
            Mapped::BuildFailure(exit_code) => Ok(StageExit::Failed {
                exit_code,
                message: format!("exit status {exit_code}"),
            }),
            Mapped::System(error) => Err(error),
        }
    }

    async fn cleanup(&self, mut session: CustomSession, trace: &mut TraceWriter) {
        session.clean_up(Some(trace)).await;
    }
}
