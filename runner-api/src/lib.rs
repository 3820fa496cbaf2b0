//! Client for GitLab's runner API v4: register, verify, poll for jobs, report job state,
//! stream the job log, and move artifacts.
//!
//! Start from [`ClientBuilder`]. The crate speaks HTTP/1.1 over hyper and rustls (ring),
//! retries 408/429/5xx as the coordinator spec and the seeds require (429: the first
//! attempt plus at most 5 retries, honouring `RateLimit-ResetTime` then `Retry-After`),
//! and never logs a token.
//!
//! What it does *not* do: read environment variables or `config.toml` (the binary resolves
//! proxies, TLS paths and tokens and passes plain values), decide runner health, or run jobs.
//! Wire types live in [`wire`] and carry no HTTP.
//!
//! ```no_run
//! use runner_api::{ClientBuilder, Features, JobRequest, JobRequestOutcome, JobResult, JobTrace,
//!     ProxySettings, RunnerInfo, Token, TraceOptions, CommitOutcome};
//!
//! # async fn run() -> runner_api::Result<()> {
//! let client = ClientBuilder::new("https://gitlab.example.com/")
//!     .proxy(ProxySettings::from_lookup(|name| std::env::var(name).ok()))
//!     .build()?;
//! let token = Token::new("glrt-t1_example");
//! let info = RunnerInfo::new("shell", "bash", Features { variables: true, ..Features::network_client() });
//! let system_id = runner_api::generate_system_id(&mut rand::rng());
//! client.verify_runner(&token, &system_id, &info).await?;
//!
//! let request = JobRequest { info: info.clone(), token, system_id, last_update: None, session: None };
//! if let JobRequestOutcome::Job(job) = client.request_job(request).await? {
//!     if client.commit_job(job.id, &job.token, &info).await == CommitOutcome::Run {
//!         let (output, receiver) = tokio::sync::mpsc::channel(64);
//!         let trace = JobTrace::start(client.clone(), &job, info, receiver, TraceOptions::default());
//!         output.send(bytes::Bytes::from_static(b"hello\n")).await.ok();
//!         drop(output);
//!         trace.finish(JobResult::success()).await?;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod backoff;
mod client;
mod clock;
mod endpoint;
mod error;
mod http;
mod identity;
pub mod multipart;
mod retry;
mod secret;
mod trace;
mod transport;
pub mod wire;

#[cfg(feature = "test-util")]
pub mod fake;

pub use backoff::Backoff;
pub use client::{Client, ClientBuilder, JitterSource, ResponseEvent, ResponseObserver};
pub use clock::{Clock, Sleep, TokioClock};
pub use endpoint::{
    ArtifactUpload, CommitOutcome, JobRequestOutcome, PatchOutcome, PatchResponse, UpdateOutcome,
    UpdateResponse,
};
pub use error::{Error, Result};
pub use identity::{generate_system_id, go_arch, go_os, is_valid_system_id, user_agent};
pub use secret::Token;
pub use trace::{FinalOutcome, JobResult, JobTrace, TraceOptions, trace_checksum};
pub use transport::ProxySettings;
pub use wire::{Features, JobRequest, JobResponse, JobState, JobUpdate, PartialJob, RunnerInfo};
