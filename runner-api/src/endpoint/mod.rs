//! One module per endpoint group; each adds methods to [`crate::Client`].

mod artifacts;
mod job;
mod runner;
mod status;
mod trace;

pub use artifacts::ArtifactUpload;
pub use job::{CommitOutcome, JobRequestOutcome};
pub use status::{UpdateOutcome, UpdateResponse};
pub use trace::{PatchOutcome, PatchResponse};
