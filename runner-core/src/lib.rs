//! The words every crate of gitlab-runner-rs shares, defined once: why a job failed
//! ([`FailureReason`]), when a step, artifact or cache entry applies ([`When`]), how a runner is named without its token ([`short_token`]), and Go
//! durations ([`parse_go_duration`], [`format_go_duration`]), `$VAR` expansion
//! ([`expand_variables`], [`expand_os`]), and a value that never prints
//! ([`Secret`]).
//!
//! A vocabulary crate, not a grab-bag (STYLE 2.1): plain types and pure functions that
//! several crates must agree on, no I/O, no dependencies (serde only behind the `serde`
//! feature, for `config.toml`).

mod expand;
mod failure_reason;
mod go_duration;
mod secret;
mod token;
mod when;

pub use expand::{expand_os, expand_variables};
pub use failure_reason::FailureReason;
pub use go_duration::{format_go_duration, parse_go_duration};
pub use secret::Secret;
pub use token::short_token;
pub use when::When;
