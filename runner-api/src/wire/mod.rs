//! Plain serde data exchanged with the coordinator; no HTTP in here.
//!
//! Other crates (executors, the binary) may depend on these types without
//! pulling in the transport.

mod info;
mod job;
mod job_parts;
mod runner;
mod update;

pub use info::{Features, RunnerConfigInfo, RunnerInfo};
pub use job::{DecodeJobError, JobResponse, PartialJob};
pub use job_parts::{
    Artifact, ArtifactsFile, Cache, Credential, Dependency, GitInfo, Hook, Image, Input,
    InputValue, JobInfo, JobRunnerInfo, PolicyOptions, Port, ServerFeatures, Step, SuspendOptions,
    Variable,
};
pub use runner::{
    RegisterRunnerRequest, RegisteredRunner, ResetTokenRequest, ResetTokenResponse,
    UnregisterRequest, VerifyRunnerRequest,
};
pub use update::{FailureReason, JobRequest, JobState, JobUpdate, OutputInfo, SessionInfo};
