//! The shared vocabulary of all executors: the job model, the trace writer with secret masking,
//! bash and POSIX sh script generation, and one generic driver with upstream GitLab Runner's stage order.
//!
//! Start from [`JobSpec`] (build one with [`JobSpec::builder`]) and [`TraceWriter`]; run a job
//! with an executor crate's type through [`Executor::run`], or with [`run_job`] when graceful
//! cancellation is needed. An executor implements [`Backend`] (prepare, run one stage script,
//! cleanup) and gets [`Executor`] for free; [`run_job`] supplies everything upstream does around
//! it: header, `prepare_executor` retries, `prepare_script`, `get_sources` (clone/fetch/none/empty,
//! depth, refspecs, submodules, hooks), user steps, `after_script`, cleanup, timeouts, cancel,
//! masking, and the final `Job succeeded` / `ERROR: Job failed: ...` line.
//!
//! What this crate does *not* do: talk to GitLab (`runner-api`), read `config.toml`
//! (`runner-config`), start processes or containers (the executor crates), or decide how cache
//! and artifacts move: the caller renders those stages' lines into [`JobSpec::transfer`]
//! (the binary calls its own helper modes) and the driver runs them in upstream's order. It reads no environment
//! variables and keeps no global state.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use runner_executor::{JobSpec, TraceWriter, Variable};
//!
//! let job = JobSpec::builder(7, "glcbt-secret-token")
//!     .variable(Variable::masked("PASSWORD", "hunter22"))
//!     .script(["echo $PASSWORD"])
//!     .build();
//! let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
//! let mut trace = TraceWriter::builder(sender).job(&job).build();
//! trace.write(b"the password is hunter22, the token glcbt-secret-token\n").await;
//! trace.finish().await;
//! let chunk = receiver.recv().await.unwrap();
//! assert_eq!(&chunk[..], b"the password is [MASKED], the token [MASKED]\n");
//! # });
//! ```

pub mod allow_list;
mod backend;
mod driver;
mod duration;
mod environment;
mod job;
mod job_builder;
mod layout;
mod outcome;
mod plan;
mod registry;
mod runner_settings;
pub mod script;
mod secret;
mod settings;
mod stage;
#[cfg(feature = "test-util")]
pub mod test_util;
mod trace;
mod variables;

pub use backend::{Backend, BackendDefaults, Executor, StageExit, StageScript, Target};
pub use driver::{Cancellation, Interruption, run_job, write_header};
pub use environment::{JobEnvironment, PreparedJob};
pub use job::{
    Artifact, CACHE_DIR_VARIABLE, Cache, DEFAULT_JOB_TIMEOUT, Dependency, GitSource,
    HELPER_BINARY_VARIABLE, Image, JOB_TOKEN_VARIABLE, JobHooks, JobSpec, RegistryCredential,
    RunnerSettings, ServerFeatures, Step, TransferScripts, Variable, When,
    dependency_token_variable,
};
pub use job_builder::JobSpecBuilder;
pub use layout::{Layout, short_token};
pub use outcome::{FailureReason, JobFailure, Outcome};
pub use plan::{PlannedOp, run_plan_locally};
pub use registry::{registry_host, same_registry};
pub use script::dialect::ScriptShell;
pub use secret::Secret;
pub use stage::Stage;
pub use tokio_util::sync::CancellationToken;
pub use trace::mask::DEFAULT_TOKEN_PREFIXES;
pub use trace::writer::{TraceWriter, TraceWriterBuilder};
pub use variables::expand;
