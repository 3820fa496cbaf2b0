//! A fake GitLab coordinator: a real HTTP server on `127.0.0.1:0` for tests of this crate
//! and end-to-end tests of the binary. Behind the `test-util` feature.
//!
//! Start from [`FakeCoordinator::start`]. It serves register/verify/unregister/reset-token,
//! a queue of jobs with long polling, job updates, trace PATCHes (strict `Content-Range`),
//! artifacts (411 on chunked uploads, as old NGINX), static files under `/repo/`, scripted
//! faults, and waiters built on `Notify`.

mod clock;
mod handlers;
mod server;
mod state;

pub use clock::RecordingClock;
pub use server::{FakeConfig, FakeCoordinator};
pub use state::{
    CancelState, Endpoint, Fault, JobRecord, JobUpdateRecord, RecordedRequest, StoredArtifact,
};
