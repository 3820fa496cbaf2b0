//! The engine of gitlab-runner-rs as a library: what turns a `config.toml` into running jobs.
//!
//! An [`Agent`] polls the coordinator for every `[[runners]]` entry within `concurrent`,
//! `limit` and `request_concurrency`, runs each job with its executor to the final update (the
//! job is always reported, its whole trace delivered), records metrics, reloads the file
//! without touching running jobs and drains or aborts on [`Shutdown`]. The `gitlab-runner-rs`
//! binary's `run` and `run-single` are an `Agent` plus signals and logging; a custom agent is
//! the same few lines (`examples/custom_agent.rs`):
//!
//! ```no_run
//! # async fn agent() -> Result<(), Box<dyn std::error::Error>> {
//! let config = runner_config::load(std::path::Path::new("config.toml"))?.config;
//! let shutdown = runner_agent::Shutdown::new();
//! runner_agent::Agent::builder(config).build().run(shutdown).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Parts for agents that bring their own loop: [`job_spec::from_wire`] (a wire job plus its
//! `[[runners]]` entry → the executor's `JobSpec`), [`job_runner::process`] (one received job to
//! its final update), [`executors::JobExecutor`] (the executor of an entry; shell jobs run as an
//! [`executors::JobUser`] with [`AgentBuilder::shell_user`], `run --user`) and
//! [`coordinator`] (the client and the `info` a runner sends).

mod agent;
pub mod coordinator;
pub mod executors;
mod job_refusal;
pub mod job_runner;
mod job_secrets;
pub mod job_spec;
mod limiter;
mod poller;
mod shutdown;
mod slots;
mod token_rotation;
mod transfer_scripts;
pub mod version;

pub use agent::{Agent, AgentBuilder, AgentError};
pub use shutdown::Shutdown;
