//! The job log: masking, size limit and runner message formatting.

pub(crate) mod mask;
#[cfg(test)]
mod mask_properties;
pub(crate) mod pattern;
pub(crate) mod writer;
