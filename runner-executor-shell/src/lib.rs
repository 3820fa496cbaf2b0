//! The shell executor: runs every stage of a job with bash (or POSIX `sh`) on the runner's own host.
//!
//! Start from [`ShellExecutor`]. It implements [`runner_executor::Backend`], so it is an
//! [`runner_executor::Executor`] too: [`runner_executor::Executor::run`] (abort-only cancel) or
//! [`runner_executor::run_job`] (abort and graceful cancel) run a [`runner_executor::JobSpec`]
//! with upstream's stage order. Each stage is a fresh `bash -l` (`sh -l` for a runner with
//! `shell = "sh"`, with POSIX scripts) in its own process group under
//! `<builds_dir>/<short token>/<concurrent project id>/<namespace>/<project>`; output is streamed
//! into the [`runner_executor::TraceWriter`] as it arrives.
//!
//! With [`ShellExecutor::with_user`] (the runner's `run --user`) every stage runs as that
//! [`JobUser`] through `su`, as upstream does.
//!
//! What it does not do: run PowerShell, isolate jobs from each
//! other or from the host, or implement the cache/artifact helper commands: the stages call the
//! binary given to [`ShellExecutor::with_helper_binary`] (the runner passes itself).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use runner_executor::{CancellationToken, Executor, JobSpec, TraceWriter, Variable};
//! use runner_executor_shell::ShellExecutor;
//!
//! let dir = std::env::temp_dir().join(format!("shell-doc-{}", std::process::id()));
//! let job = JobSpec::builder(1, "token")
//!     .variable(Variable::new("GIT_STRATEGY", "none"))
//!     .script(["echo hello from bash"])
//!     .build();
//! let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
//! let trace = TraceWriter::builder(sender).job(&job).build();
//! let executor = ShellExecutor::new(&dir);
//! let (outcome, log) = tokio::join!(executor.run(job, trace, CancellationToken::new()), async {
//!     let mut log = Vec::new();
//!     while let Some(chunk) = receiver.recv().await {
//!         log.extend_from_slice(&chunk);
//!     }
//!     String::from_utf8_lossy(&log).into_owned()
//! });
//! assert!(outcome.unwrap().is_success());
//! assert!(log.contains("hello from bash"));
//! # let _ = std::fs::remove_dir_all(dir);
//! # });
//! ```

mod error;
mod executor;
mod process;
mod user;

pub use error::Error;
pub use executor::{ShellExecutor, ShellSession};
pub use user::JobUser;
