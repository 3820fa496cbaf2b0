//! [`Secret`] is `runner_core::Secret`: the one secret type of the runner (cloud keys).

pub use runner_core::Secret;
