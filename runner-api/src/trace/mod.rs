//! The job log sender: incremental PATCHes, keep-alives, cancellation and the final update (§9–§11).

mod final_update;
mod sender;
mod store;

pub use sender::{FinalOutcome, JobResult, JobTrace, TraceOptions};
pub use store::trace_checksum;
