//! [`Secret`] is `runner_core::Secret`: the one secret type of the runner (job tokens,
//! registry passwords).

pub use runner_core::Secret;
