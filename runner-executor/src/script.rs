//! Bash script generation for every stage (executors.md §4).

mod bash;
mod escape;
mod git;
pub(crate) mod stages;

pub use escape::escape;
