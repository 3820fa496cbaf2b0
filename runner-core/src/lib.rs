//! The words every crate of gitlab-runner-rs shares, defined once: why a job failed
//! ([`FailureReason`]) and how a runner is named without its token ([`short_token`]).
//!
//! A vocabulary crate, not a grab-bag (STYLE 2.1): plain types and pure functions that
//! several crates must agree on, no I/O, no dependencies.

mod failure_reason;
mod token;

pub use failure_reason::FailureReason;
pub use token::short_token;
