//! Prometheus exporter of gitlab-runner-rs: the `gitlab_runner_*` metric families with
//! upstream's names, labels and buckets, `process_*` metrics read from `/proc`, and the
//! embedded HTTP server (`/metrics`, `/debug/jobs/list`, `/debug/process/state`,
//! `/health/ready`, `/debug/pprof/`).
//!
//! Start from [`Metrics::new`]: the binary owns the [`Registry`], registers the families once,
//! and passes the cheap [`Metrics`] clones to whatever records values. [`MetricsServer::start`]
//! serves the registry on a [`ListenAddress`] parsed with the seed's `[host]:<port>` rules.
//!
//! What this crate does not do: it reads no environment or configuration file, installs no
//! tracing subscriber and no signal handler, and knows nothing of the coordinator API or the
//! executors; the binary translates its events into calls on [`Metrics`]. It exports no Go
//! runtime metrics (`go_*`), which a Rust process has no honest values for.
//!
//! ```
//! use runner_metrics::{BuildInfo, Format, Metrics, Registry, RunnerLabels};
//!
//! let mut registry = Registry::default();
//! let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
//! let runner = RunnerLabels::new("abcdefghi", "shell-1", "s_0123456789ab");
//! metrics.runner_seen(&runner);
//! let job = metrics.jobs().job_started(&runner, "https://gitlab.example.com/p/-/jobs/9");
//! let text = runner_metrics::encode(&registry, Format::Prometheus)?;
//! assert!(text.contains("gitlab_runner_jobs_running_total{runner=\"abcdefghi\""));
//! drop(job);
//! # Ok::<(), runner_metrics::Error>(())
//! ```

mod address;
mod api;
mod build_info;
mod error;
mod exposition;
mod go_duration;
mod job_tracker;
mod jobs;
mod labels;
mod metrics;
mod process;
mod process_state;
mod profile;
mod rendered_labels;
mod routes;
mod server;
#[cfg(feature = "test-util")]
pub mod test_util;
mod tls;
mod worker;

pub use address::{AddressError, AddressErrorKind, ListenAddress};
pub use api::{API_REQUEST_DURATION_BUCKETS, ApiMetrics};
pub use build_info::BuildInfo;
pub use error::{Error, Result};
pub use exposition::{Format, encode};
pub use job_tracker::{JobLister, ListedJob};
pub use jobs::{JOB_DURATION_BUCKETS, JobMetrics, QUEUE_DURATION_BUCKETS, QueueInfo, RunningJob};
pub use labels::{
    ApiEndpoint, ErrorLevel, ExecutionMode, FailureReason, JobState, RunnerLabels, WorkerFailure,
};
pub use metrics::Metrics;
pub use process_state::ProcessState;
pub use prometheus_client::registry::Registry;
pub use routes::ServerState;
pub use server::MetricsServer;
pub use tls::TlsOptions;
pub use worker::WorkerMetrics;
