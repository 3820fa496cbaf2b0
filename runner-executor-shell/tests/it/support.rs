//! Shared helpers: a temp working directory, running a job and collecting its trace.

use std::path::Path;

use runner_executor::test_util::TraceCapture;
use runner_executor::{Cancellation, JobSpec, JobSpecBuilder, Outcome, Variable, run_job};
use runner_executor_shell::ShellExecutor;
use tempfile::TempDir;

/// A finished job: its outcome and its trace (ANSI stripped) and raw bytes.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    pub(crate) text: String,
}

/// A job builder rooted in `dir`, with `GIT_STRATEGY=none` (tests that need git override it).
pub(crate) fn job(dir: &Path) -> JobSpecBuilder {
    JobSpec::builder(42, "glcbt-jobtoken-0123456789")
        .builds_dir(dir.join("builds").to_string_lossy().into_owned())
        .variable(Variable::new("GIT_STRATEGY", "none"))
}

/// A fresh working directory.
pub(crate) fn workdir() -> TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Runs `job` on a shell executor in `dir`.
pub(crate) async fn run(dir: &Path, job: JobSpec) -> Finished {
    run_with(ShellExecutor::new(dir), job, Cancellation::default()).await
}

/// Runs `job` with the given executor and cancel signals.
pub(crate) async fn run_with(
    executor: ShellExecutor,
    job: JobSpec,
    cancel: Cancellation,
) -> Finished {
    let (trace, capture) = TraceCapture::for_job(&job);
    let outcome = run_job(&executor, job, trace, cancel).await;
    let text = capture.text().await;
    Finished { outcome, text }
}

impl Finished {
    /// The failure reason's wire string, or `success`.
    pub(crate) fn reason(&self) -> &'static str {
        self.outcome
            .failure()
            .map_or("success", |f| f.reason.as_str())
    }

    /// The exit code of a failed job.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        self.outcome.failure().and_then(|f| f.exit_code)
    }

    /// Whether a trace line equals `line` exactly.
    pub(crate) fn has_line(&self, line: &str) -> bool {
        self.text.lines().any(|l| l == line)
    }
}
