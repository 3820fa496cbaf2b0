//! Helpers of the end-to-end tests: the real `gitlab-runner-rs` binary started as a child
//! process against the fake coordinator of `runner-api`, with real git repositories served
//! over smart HTTP on loopback and real bash running the jobs.
//!
//! The tests themselves live in `it/`, one module per area; `src/bin/startup-order.rs`
//! regenerates the release binary's start-up order file with the same fake coordinator.

mod binary;
mod git_server;
mod job;
mod process;
pub mod startup_order;
mod system_user;
mod workspace;

pub use binary::{runner_binary, static_runner_binary};
pub use git_server::GitServer;
pub use job::JobBuilder;
pub use process::{Finished, RunnerProcess, run_to_end, run_with_env};
pub use system_user::{TEST_USER, test_user};
pub use workspace::Workspace;
