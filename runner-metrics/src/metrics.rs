//! [`Metrics`]: registration of every family in a caller-owned registry and the handles the
//! binary records through.

use std::sync::Arc;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::ApiMetrics;
use crate::build_info::BuildInfo;
use crate::job_tracker::{JobLister, JobTracker, ListedJob};
use crate::jobs::JobMetrics;
use crate::labels::RunnerLabels;
use crate::process::ProcessCollector;
use crate::process_state::{Lifecycle, ProcessState};
use crate::worker::WorkerMetrics;

/// Every metric family of the runner, registered in one registry. Cloning is cheap: clones
/// share the same series.
///
/// ```
/// use runner_metrics::{ApiEndpoint, BuildInfo, Metrics, Registry, RunnerLabels};
/// use std::time::Duration;
///
/// let mut registry = Registry::default();
/// let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
/// let runner = RunnerLabels::new("abcdefghi", "docker-1", "s_0123456789ab");
/// metrics.workers().set_concurrent(4);
/// metrics.api().api_request(
///     &runner,
///     ApiEndpoint::RequestJob,
///     &http::Method::POST,
///     429,
///     Duration::from_millis(30),
/// );
/// let job = metrics.jobs().job_started(&runner, "https://gitlab.example.com/p/-/jobs/1");
/// job.finish(None, Duration::from_secs(42));
/// let text = runner_metrics::encode(&registry, runner_metrics::Format::Prometheus)?;
/// assert!(text.contains("gitlab_runner_concurrent 4"));
/// # Ok::<(), runner_metrics::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    workers: WorkerMetrics,
    api: ApiMetrics,
    jobs: JobMetrics,
    tracker: Arc<JobTracker>,
    lifecycle: Arc<Lifecycle>,
}

impl Metrics {
    /// Registers every family (and the `/proc` process collector) in `registry`.
    pub fn new(registry: &mut Registry, build: BuildInfo) -> Self {
        let workers = WorkerMetrics::register(registry);
        let api = ApiMetrics::register(registry);
        let tracker = Arc::new(JobTracker::default());
        let jobs = JobMetrics::register(registry, Arc::clone(&tracker));
        let lifecycle = Lifecycle::new();
        registry.register_collector(Box::new(Arc::clone(&lifecycle)));

        let version_info = Family::<BuildInfo, Gauge>::default();
        version_info.get_or_create(&build).set(1);
        registry.register(
            "gitlab_runner_version_info",
            "A metric with a constant '1' value labeled by different build stats fields",
            version_info,
        );
        registry.register_collector(Box::new(ProcessCollector::for_self()));
        Self {
            workers,
            api,
            jobs,
            tracker,
            lifecycle,
        }
    }

    /// Configuration, worker-pool and error-count families.
    pub fn workers(&self) -> &WorkerMetrics {
        &self.workers
    }

    /// Request-concurrency and coordinator API families.
    pub fn api(&self) -> &ApiMetrics {
        &self.api
    }

    /// Job families and running-job tracking.
    pub fn jobs(&self) -> &JobMetrics {
        &self.jobs
    }

    /// Creates every pre-initialised zero series of a runner entry; call it for each entry at
    /// start-up and after a reload.
    pub fn runner_seen(&self, runner: &RunnerLabels) {
        self.workers.runner_seen(runner);
        self.jobs.runner_seen(runner);
    }

    /// Sets the state shown by `gitlab_runner_process_state_info` and `/debug/process/state`.
    pub fn set_process_state(&self, state: ProcessState) {
        self.lifecycle.set_state(state);
    }

    /// The current process state.
    pub fn process_state(&self) -> ProcessState {
        self.lifecycle.state()
    }

    /// Flips `/health/ready` to `200 ready` (true) or `503` (false).
    pub fn set_ready(&self, ready: bool) {
        self.lifecycle.set_ready(ready);
    }

    /// Whether `/health/ready` answers 200.
    pub fn is_ready(&self) -> bool {
        self.lifecycle.is_ready()
    }

    pub(crate) fn lifecycle(&self) -> Arc<Lifecycle> {
        Arc::clone(&self.lifecycle)
    }
}

impl JobLister for Metrics {
    fn list_jobs(&self) -> Vec<ListedJob> {
        self.tracker.list()
    }
}
