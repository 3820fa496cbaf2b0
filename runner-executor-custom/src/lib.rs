//! The custom executor: every step of a job goes through driver executables the user provides
//! (`[runners.custom]`), so jobs run wherever the driver puts them (a container, a VM, a
//! remote machine), with upstream GitLab Runner's protocol so existing drivers work.
//!
//! Start from [`CustomExecutor`] with [`Settings::from_config`]. It implements
//! [`runner_executor::Backend`]: [`runner_executor::run_job`] or
//! [`runner_executor::Executor::run`] run a [`runner_executor::JobSpec`] with upstream's stage
//! order, and the driver is called as upstream calls it: `config_exec` (its JSON output sets
//! the builds and cache dirs, the hostname, the driver's name and `job_env`), `prepare_exec`,
//! `run_exec <run_args> <script file> <stage name>` per stage, and `cleanup_exec` always.
//! Job variables reach the driver as `CUSTOM_ENV_<NAME>`; a driver reports a failing build
//! with `BUILD_FAILURE_EXIT_CODE` (and the code in `BUILD_EXIT_CODE_FILE`), a failing system
//! with `SYSTEM_FAILURE_EXIT_CODE`.
//!
//! What it does not do: isolate anything itself (the driver does), generate other scripts
//! than bash, or run PowerShell. It reads no environment variables: the driver calls inherit
//! the runner's environment, and the caller passes the temporary directory.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use runner_executor::{CancellationToken, Executor, JobSpec, TraceWriter, Variable};
//! use runner_executor_custom::{CustomExecutor, Settings};
//!
//! // A driver that runs every stage script with bash on this host.
//! let dir = tempfile::tempdir().unwrap();
//! let run = dir.path().join("run.sh");
//! std::fs::write(&run, "#!/usr/bin/env bash\nexec bash \"$1\"\n").unwrap();
//! std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
//! let config = runner_config::CustomConfig {
//!     run_exec: run.to_string_lossy().into_owned(),
//!     ..Default::default()
//! };
//! let executor = CustomExecutor::new(Some(Settings::from_config(&config)), dir.path());
//!
//! let mut job = JobSpec::builder(1, "token")
//!     .variable(Variable::new("GIT_STRATEGY", "none"))
//!     .script(["echo hello from the driver"])
//!     .build();
//! job.runner.builds_dir = Some(dir.path().join("builds").to_string_lossy().into_owned());
//! job.runner.cache_dir = Some(dir.path().join("cache").to_string_lossy().into_owned());
//! let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
//! let trace = TraceWriter::builder(sender).job(&job).build();
//! let (outcome, log) = tokio::join!(executor.run(job, trace, CancellationToken::new()), async {
//!     let mut log = Vec::new();
//!     while let Some(chunk) = receiver.recv().await {
//!         log.extend_from_slice(&chunk);
//!     }
//!     String::from_utf8_lossy(&log).into_owned()
//! });
//! assert!(outcome.unwrap().is_success(), "{log}");
//! assert!(log.contains("Using Custom executor..."));
//! assert!(log.contains("hello from the driver"));
//! # });
//! ```

mod config_output;
mod environment;
mod error;
mod executor;
mod exit;
mod process;
mod session;
mod settings;

pub use error::Error;
pub use executor::CustomExecutor;
pub use session::CustomSession;
pub use settings::{DriverCommand, Settings};
