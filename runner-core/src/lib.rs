//! The words every crate of gitlab-runner-rs shares, defined once: why a job failed
//! ([`FailureReason`]), how a runner is named without its token ([`short_token`]), and Go
//! durations ([`parse_go_duration`], [`format_go_duration`]).
//!
//! A vocabulary crate, not a grab-bag (STYLE 2.1): plain types and pure functions that
//! several crates must agree on, no I/O, no dependencies.

mod failure_reason;
mod go_duration;
mod token;

pub use failure_reason::FailureReason;
pub use go_duration::{format_go_duration, parse_go_duration};
pub use token::short_token;
