//! The closed set of executors this binary can run, chosen per `[[runners]]` entry.
//!
//! Dispatch is static (STYLE 2.5): every backend is visible here, and a new one is a new
//! variant plus its crate. Shell, Docker, Kubernetes and custom are wired; the others are not built.

use futures_util::future::BoxFuture;
use runner_config::{Executor as ExecutorName, RunnerConfig};
use runner_executor::{
    Cancellation, FailureReason, JobFailure, JobSpec, Outcome, TraceWriter, run_job,
};
use runner_executor_custom::CustomExecutor;
use runner_executor_docker::DockerExecutor;
use runner_executor_k8s::{ClusterAccess, KubernetesExecutor, Settings as KubernetesSettings};
pub use runner_executor_shell::JobUser;
use runner_executor_shell::ShellExecutor;

/// One job's executor.
#[derive(Debug)]
pub enum JobExecutor {
    /// `executor = "shell"`: bash on this host.
    Shell(ShellExecutor),
    /// `executor = "kubernetes"`: a build pod per job. The API client is made per job,
    /// so a changed kubeconfig or token is picked up by the next job.
    Kubernetes(Box<(ClusterAccess, KubernetesSettings)>),
    /// `executor = "docker"`: containers on a Docker engine, or why this runner's jobs cannot
    /// run (no `[runners.docker]`, an allow-list this build cannot enforce).
    Docker(Result<DockerExecutor, String>),
    /// `executor = "custom"`: the `[runners.custom]` driver executables.
    Custom(CustomExecutor),
    /// An executor this build does not have. Jobs are never requested for such a runner;
    /// should one arrive anyway it fails as a system failure rather than run elsewhere.
    Unsupported(String),
}

impl JobExecutor {
    /// Whether this build can run jobs of `executor`. The job loop does not ask the
    /// coordinator for jobs it could not run.
    pub fn supports(executor: Option<ExecutorName>) -> bool {
        matches!(
            executor,
            Some(
                ExecutorName::Shell
                    | ExecutorName::Kubernetes
                    | ExecutorName::Docker
                    | ExecutorName::Custom
            )
        )
    }

    /// The executor for `runner`, running shell jobs as the runner's own user.
    pub fn for_runner(runner: &RunnerConfig) -> Self {
        Self::for_runner_as(runner, None)
    }

    /// The executor for `runner`; a shell executor runs every stage as `shell_user` when given
    /// (`run --user`; the other executors ignore it, as upstream's do).
    pub fn for_runner_as(runner: &RunnerConfig, shell_user: Option<&JobUser>) -> Self {
        let working_directory = std::env::current_dir().unwrap_or_else(|_| std::env::temp_dir());
        match runner.executor {
            Some(ExecutorName::Shell) => {
                let mut shell = ShellExecutor::new(working_directory);
                // The cache and artifact stages call this very binary in its helper modes.
                if let Ok(helper) = std::env::current_exe() {
                    shell = shell.with_helper_binary(helper);
                }
                if let Some(user) = shell_user {
                    shell = shell.with_user(user.clone());
                }
                Self::Shell(shell)
            }
            Some(ExecutorName::Kubernetes) => {
                let config = runner.kubernetes.clone().unwrap_or_default();
                Self::Kubernetes(Box::new((
                    cluster_access(&config),
                    KubernetesSettings::from_config(&config),
                )))
            }
            Some(ExecutorName::Docker) => Self::Docker(runner_executor_docker::docker_executor(
                runner,
                runner_executor_docker::process_env,
            )),
            Some(ExecutorName::Custom) => Self::Custom(
                CustomExecutor::new(
                    runner
                        .custom
                        .as_ref()
                        .map(runner_executor_custom::Settings::from_config),
                    std::env::temp_dir(),
                )
                .with_custom_build_dir(runner.custom_build_dir.enabled.unwrap_or(false)),
            ),
            Some(other) => Self::Unsupported(other.as_str().to_owned()),
            None => Self::Unsupported(String::new()),
        }
    }

    /// Why every job of this executor would fail before starting (a `[runners.docker]`
    /// setting this build cannot enforce, a missing section), for the runner's log at start-up
    /// and reload.
    pub fn configuration_problem(&self) -> Option<&str> {
        match self {
            Self::Docker(Err(message)) => Some(message),
            _ => None,
        }
    }

    /// Runs `job` with upstream's stage order; always returns how it ended.
    ///
    /// Boxed per executor: their futures differ in size (Docker's is about 35 KB, the
    /// shell's 10 KB in a release build), and one future over all of them would make every
    /// running job hold the largest.
    pub fn run(
        &self,
        job: Box<JobSpec>,
        trace: TraceWriter,
        cancel: Cancellation,
    ) -> BoxFuture<'_, Outcome> {
        match self {
            Self::Shell(shell) => Box::pin(run_job(shell, job, trace, cancel)),
            Self::Kubernetes(access_and_settings) => Box::pin(async move {
                let (access, settings) = access_and_settings.as_ref();
                match KubernetesExecutor::connect(access, settings.clone()).await {
                    Ok(kubernetes) => run_job(&kubernetes, job, trace, cancel).await,
                    Err(error) => {
                        fail_before_start(trace, format!("prepare environment: {error}")).await
                    }
                }
            }),
            Self::Docker(Ok(docker)) => Box::pin(async move {
                let outcome = run_job(docker, job, trace, cancel).await;
                // A job dropped before its cleanup hands the removal to a background task; the
                // job is not over, nor may the process exit, until that has finished (D6).
                docker.wait_for_background_cleanups().await;
                outcome
            }),
            Self::Custom(custom) => Box::pin(async move {
                let outcome = run_job(custom, job, trace, cancel).await;
                // A preparation attempt given up on hands cleanup_exec to a background task.
                custom.wait_for_background_cleanups().await;
                outcome
            }),
            Self::Docker(Err(message)) => Box::pin(fail_before_start(
                trace,
                format!("prepare environment: {message}"),
            )),
            Self::Unsupported(name) => Box::pin(fail_before_start(
                trace,
                format!("prepare environment: executor {name:?} is not supported by this build"),
            )),
        }
    }
}

/// Reports a job that could not start as a system failure, with upstream's final line.
async fn fail_before_start(mut trace: TraceWriter, message: String) -> Outcome {
    let failure = JobFailure::new(FailureReason::RunnerSystemFailure, message);
    trace.error(&failure.trace_line()).await;
    trace.finish().await;
    Outcome::Failed(failure)
}

/// How to reach the cluster: `host` and credentials from config, else the in-cluster service
/// account when running in a pod, else the kubeconfig (`$KUBECONFIG` or `~/.kube/config`).
/// The binary reads the environment so the executor crate does not have to.
fn cluster_access(config: &runner_config::KubernetesConfig) -> ClusterAccess {
    if config.host.is_empty() {
        if let (Ok(host), Ok(port)) = (
            std::env::var("KUBERNETES_SERVICE_HOST"),
            std::env::var("KUBERNETES_SERVICE_PORT"),
        ) {
            if std::env::var_os("KUBECONFIG").is_none() {
                return ClusterAccess::InCluster {
                    host: format!("https://{host}:{port}"),
                    service_account_dir: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
                };
            }
        }
    }
    let kubeconfig = std::env::var_os("KUBECONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".kube/config"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from(".kube/config"));
    ClusterAccess::from_config(config, kubeconfig)
}
