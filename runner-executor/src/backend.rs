//! The traits executors implement: [`Backend`] (driven by [`crate::run_job`]) and [`Executor`].

use std::convert::Infallible;
use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::driver::{Cancellation, run_job};
use crate::environment::PreparedJob;
use crate::job::JobSpec;
use crate::outcome::{FailureReason, Outcome};
use crate::plan::PlannedOp;
use crate::script::dialect::ScriptShell;
use crate::stage::Stage;
use crate::trace::writer::TraceWriter;

/// Runs a whole job: prepares, runs and always cleans up; output goes to `trace`.
pub trait Executor: Send + Sync {
    /// Backend failure that prevented reporting an [`Outcome`] at all. Executors built on
    /// [`Backend`] turn every failure into an `Outcome`, so theirs is [`Infallible`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs `job`. Firing `cancel` aborts the job (upstream's *abort*: no after_script).
    fn run(
        &self,
        job: JobSpec,
        trace: TraceWriter,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

impl<B: Backend> Executor for B {
    type Error = Infallible;

    async fn run(
        &self,
        job: JobSpec,
        trace: TraceWriter,
        cancel: CancellationToken,
    ) -> Result<Outcome, Infallible> {
        Ok(run_job(self, job, trace, Cancellation::abort_only(cancel)).await)
    }
}

/// Facts about a backend that shape the job's layout and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDefaults {
    /// Name in `Preparing the "<name>" executor`.
    pub name: String,
    /// Builds root when `builds_dir` is not configured.
    pub builds_dir: String,
    /// Cache root when `cache_dir` is not configured.
    pub cache_dir: String,
    /// Whether the project directory includes `<short>/<concurrent project id>` (§3).
    pub shared_builds_dir: bool,
    /// Whether `GIT_CLONE_PATH` is allowed (`custom_build_dir`).
    pub custom_build_dir: bool,
    /// `CI_SHARED_ENVIRONMENT=true` (shell) rather than `CI_DISPOSABLE_ENVIRONMENT=true`.
    pub shared_environment: bool,
    /// Whether `get_sources` deletes `.git/config` and `.git/hooks` first (not for shell).
    pub scrub_git_config: bool,
}

/// Which environment a stage runs in (§1.2): the helper or the build container. The shell
/// executor runs both in the same local shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Helper environment (sources, cache, artifacts, cleanup).
    Helper,
    /// Build environment (user steps, after_script).
    Build,
}

/// One generated script to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageScript {
    /// The stage.
    pub stage: Stage,
    /// Where it runs.
    pub target: Target,
    /// The complete script, for the shell [`Backend::script_shell`] named (feed it to the
    /// shell's stdin). May contain secrets: never log it.
    pub script: String,
    /// The same stage as plain operations, when it consists of nothing else (a `get_sources`
    /// with `GIT_STRATEGY=none`, `cleanup_file_variables`). A backend that sees the job's
    /// filesystem directly may carry them out with [`crate::run_plan_locally`] instead of
    /// starting a shell; the trace reads the same. `None`: run the script.
    pub plan: Option<Vec<PlannedOp>>,
    /// Whether the stage needs the helper environment's own tools (git, the helper binary).
    /// A [`Target::Helper`] stage that does not may run in any environment with a shell, so a
    /// container backend need not start a helper container for it.
    pub needs_helper_tools: bool,
}

/// How a stage process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageExit {
    /// Exit status 0.
    Success,
    /// Non-zero exit: `message` is the backend's wording (shell `exit status 3`, Docker `exit code 3`).
    Failed {
        /// Exit code for the final update (`-1` when killed by a signal).
        exit_code: i32,
        /// Text for `Job failed: <message>`.
        message: String,
    },
    /// The stage was stopped because `stop` fired.
    Stopped,
}

/// What an executor implements; [`crate::run_job`] supplies upstream's stage order and failure rules.
pub trait Backend: Send + Sync {
    /// A backend failure (cannot spawn, daemon gone): reported as a system failure unless
    /// [`Backend::failure_reason`] classifies it.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Per-job state between `prepare` and `cleanup` (containers, a working directory...).
    type Session: Send;

    /// Layout defaults and capabilities.
    fn defaults(&self, job: &JobSpec) -> BackendDefaults;

    /// Creates the job environment; retried up to 3 times unless the error is classified.
    fn prepare(
        &self,
        job: &JobSpec,
        trace: &mut TraceWriter,
    ) -> impl Future<Output = Result<Self::Session, Self::Error>> + Send;

    /// Runs one stage script, streaming its output into `trace`. When `stop` fires the backend
    /// stops the stage (shell: SIGTERM, then SIGKILL to its process group) and returns
    /// [`StageExit::Stopped`] once it is gone.
    fn run_stage(
        &self,
        session: &mut Self::Session,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> impl Future<Output = Result<StageExit, Self::Error>> + Send;

    /// Removes the job environment. Runs on every path, also after a cancel or timeout.
    fn cleanup(
        &self,
        session: Self::Session,
        trace: &mut TraceWriter,
    ) -> impl Future<Output = ()> + Send;

    /// The helper binary the cache and artifact stages call (exported to them as
    /// [`crate::HELPER_BINARY_VARIABLE`]): a path or a command name valid where
    /// [`Target::Helper`] stages run. The default expects `gitlab-runner-rs` on `PATH`.
    fn helper_binary(&self, job: &JobSpec) -> String {
        let _ = job;
        "gitlab-runner-rs".to_owned()
    }

    /// The shell the stage scripts are written for. The default suits a backend whose
    /// shell-detection program runs bash when the environment has it and `sh` otherwise
    /// (upstream's, executors.md §4.11): [`ScriptShell::Detected`], or [`ScriptShell::Sh`]
    /// when the runner's `shell` is `sh` (a POSIX script runs in bash too). A backend that
    /// starts the shell itself names it.
    fn script_shell(&self, job: &JobSpec) -> ScriptShell {
        if job.runner.shell == "sh" {
            ScriptShell::Sh
        } else {
            ScriptShell::Detected
        }
    }

    /// Whether [`Backend::prepare`] decides part of the layout (see [`Backend::prepared_job`]):
    /// the driver then lets a layout it cannot compute yet (no `builds_dir` configured) wait
    /// until after preparing. Default: `false`.
    fn layout_after_prepare(&self) -> bool {
        false
    }

    /// What preparing decided about the job (the custom executor's `config_exec` sets the
    /// builds and cache dirs, the shared layout, the hostname and the shell); the driver
    /// computes the layout and variables again with it. Default: `None`, nothing changed.
    fn prepared_job(&self, session: &Self::Session) -> Option<PreparedJob> {
        let _ = session;
        None
    }

    /// A failure reason for `error` when it is not a plain system failure (for example
    /// `image_pull_failure`); classified preparation errors are not retried.
    fn failure_reason(&self, error: &Self::Error) -> Option<FailureReason> {
        let _ = error;
        None
    }

    /// The whole failure text for an error that upstream reports without the name of the
    /// stage it happened in, or `None` to report it as `<stage>: <cause>`. Users search
    /// for a few such lines word for word, like Kubernetes'
    /// `Job failed (system failure): timed out waiting for pod to start` (seed K1).
    fn bare_message(&self, error: &Self::Error) -> Option<String> {
        let _ = error;
        None
    }
}
