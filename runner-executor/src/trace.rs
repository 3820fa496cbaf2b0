//! The job log: masking, size limit and runner message formatting.

pub(crate) mod mask;
pub(crate) mod pattern;
pub(crate) mod writer;
