//! The closed set of executors this binary can run, chosen per `[[runners]]` entry.
//!
//! Dispatch is static (STYLE 2.5): every backend is visible here, and a new one is a new
//! variant plus its crate. The Docker and Kubernetes backends join as their crates land.

use runner_config::{Executor as ExecutorName, RunnerConfig};
use runner_executor::{
    Cancellation, FailureReason, JobFailure, JobSpec, Outcome, TraceWriter, run_job,
};
use runner_executor_shell::ShellExecutor;

/// One job's executor.
#[derive(Debug)]
pub enum JobExecutor {
    /// `executor = "shell"`: bash on this host.
    Shell(ShellExecutor),
    /// An executor this build does not have. Jobs are never requested for such a runner;
    /// should one arrive anyway it fails as a system failure rather than run elsewhere.
    Unsupported(String),
}

impl JobExecutor {
    /// Whether this build can run jobs of `executor`. The job loop does not ask the
    /// coordinator for jobs it could not run.
    pub fn supports(executor: Option<ExecutorName>) -> bool {
        matches!(executor, Some(ExecutorName::Shell))
    }

    /// The executor for `runner`.
    pub fn for_runner(runner: &RunnerConfig) -> Self {
        let working_directory = std::env::current_dir().unwrap_or_else(|_| std::env::temp_dir());
        match runner.executor {
            Some(ExecutorName::Shell) => Self::Shell(ShellExecutor::new(working_directory)),
            Some(other) => Self::Unsupported(other.as_str().to_owned()),
            None => Self::Unsupported(String::new()),
        }
    }

    /// Runs `job` with upstream's stage order; always returns how it ended.
    pub async fn run(&self, job: JobSpec, trace: TraceWriter, cancel: Cancellation) -> Outcome {
        match self {
            Self::Shell(shell) => run_job(shell, job, trace, cancel).await,
            Self::Unsupported(name) => {
                let failure = JobFailure::new(
                    FailureReason::RunnerSystemFailure,
                    format!(
                        "prepare environment: executor {name:?} is not supported by this build"
                    ),
                );
                let mut trace = trace;
                trace.error(&failure.trace_line()).await;
                trace.finish().await;
                Outcome::Failed(failure)
            }
        }
    }
}
