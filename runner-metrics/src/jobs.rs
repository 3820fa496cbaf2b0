//! Job families (spec 4.2): counters and histograms recorded by the binary, plus the
//! [`RunningJob`] handle that keeps a job in the scrape-time gauges while it runs.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::job_tracker::{JobTracker, JobUpdate};
use crate::labels::{ExecutionMode, FailureReason, JobState, RunnerLabels};
use crate::rendered_labels::RenderedLabels;

/// Upstream's buckets of `gitlab_runner_job_duration_seconds`.
pub const JOB_DURATION_BUCKETS: [f64; 10] = [
    30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 10800.0, 18000.0, 36000.0,
];

/// Upstream's buckets of the queue and stage duration histograms.
pub const QUEUE_DURATION_BUCKETS: [f64; 10] = [
    1.0, 3.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// What GitLab said about the queue when it handed out a job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueInfo {
    /// `time_in_queue_seconds` of the job payload.
    pub time_in_queue: Duration,
    /// `project_jobs_running_on_instance_runners` as GitLab sent it.
    pub project_jobs_running: String,
    /// Queue size reported with the job.
    pub queue_size: i64,
    /// Queue search depth reported with the job.
    pub queue_depth: i64,
    /// True when the queue time exceeded the active `[runners.monitoring]` threshold.
    pub acceptable_duration_exceeded: bool,
}

/// Handles of the job families; cheap to clone.
#[derive(Clone, Debug)]
pub struct JobMetrics {
    jobs_total: Family<RunnerLabels, Counter>,
    /// Keyed by `failed_labels`.
    failed: Family<RenderedLabels, Counter>,
    /// Keyed by `mode_labels`.
    execution_mode: Family<RenderedLabels, Counter>,
    /// Keyed by `runner_labels_and(runner, "mode", ..)`.
    duration: HistogramFamily<RenderedLabels>,
    /// Keyed by `runner_labels_and(runner, "project_jobs_running", ..)`.
    queue_duration: HistogramFamily<RenderedLabels>,
    queue_size: Family<RunnerLabels, Gauge>,
    queue_depth: Family<RunnerLabels, Gauge>,
    queuing_exceeded: Family<RunnerLabels, Counter>,
    /// Keyed by `runner_labels_and(runner, "stage", ..)`.
    stage_duration: HistogramFamily<RenderedLabels>,
    interpolations: Counter,
    /// Keyed by `error_type_labels`.
    interpolation_failures: Family<RenderedLabels, Counter>,
    tracker: Arc<JobTracker>,
}

impl JobMetrics {
    pub(crate) fn register(registry: &mut Registry, tracker: Arc<JobTracker>) -> Self {
        let m = Self {
            jobs_total: Family::default(),
            failed: Family::default(),
            execution_mode: Family::default(),
            duration: Family::new_with_constructor(job_duration_histogram),
            queue_duration: Family::new_with_constructor(queue_duration_histogram),
            queue_size: Family::default(),
            queue_depth: Family::default(),
            queuing_exceeded: Family::default(),
            stage_duration: Family::new_with_constructor(queue_duration_histogram),
            interpolations: Counter::default(),
            interpolation_failures: Family::default(),
            tracker,
        };
        let r = registry;
        r.register_collector(Box::new(Arc::clone(&m.tracker)));
        r.register(
            "gitlab_runner_jobs",
            "Jobs received and started",
            m.jobs_total.clone(),
        );
        r.register(
            "gitlab_runner_failed_jobs",
            "Jobs that ended as failed, by failure reason",
            m.failed.clone(),
        );
        r.register(
            "gitlab_runner_job_execution_mode",
            "Jobs by execution mode and executor",
            m.execution_mode.clone(),
        );
        r.register(
            "gitlab_runner_job_duration_seconds",
            "Histogram of job durations",
            m.duration.clone(),
        );
        r.register(
            "gitlab_runner_job_queue_duration_seconds",
            "Time jobs waited in GitLab's queue before this runner received them",
            m.queue_duration.clone(),
        );
        r.register(
            "gitlab_runner_job_queue_size",
            "Queue size reported by GitLab with the last received job",
            m.queue_size.clone(),
        );
        r.register(
            "gitlab_runner_job_queue_depth",
            "Queue search depth reported by GitLab with the last received job",
            m.queue_depth.clone(),
        );
        r.register(
            "gitlab_runner_acceptable_job_queuing_duration_exceeded",
            "Jobs whose queue time exceeded the configured acceptable duration",
            m.queuing_exceeded.clone(),
        );
        r.register(
            "gitlab_runner_job_stage_duration_seconds",
            "Duration of build stages (jobs with FF_EXPORT_HIGH_CARDINALITY_METRICS only)",
            m.stage_duration.clone(),
        );
        r.register(
            "gitlab_runner_job_inputs_interpolations",
            "Job input interpolations that changed a value",
            m.interpolations.clone(),
        );
        r.register(
            "gitlab_runner_job_inputs_interpolation_failures",
            "Failed job input interpolations, by error type",
            m.interpolation_failures.clone(),
        );
        m
    }

    /// Records the queue facts GitLab sent with a job.
    pub fn job_received(&self, runner: &RunnerLabels, queue: &QueueInfo) {
        self.queue_duration
            .get_or_create(&runner_labels_and(
                runner,
                "project_jobs_running",
                &queue.project_jobs_running,
            ))
            .observe(queue.time_in_queue.as_secs_f64());
        self.queue_size.get_or_create(runner).set(queue.queue_size);
        self.queue_depth
            .get_or_create(runner)
            .set(queue.queue_depth);
        let exceeded = self.queuing_exceeded.get_or_create(runner);
        if queue.acceptable_duration_exceeded {
            exceeded.inc();
        }
    }

    /// Counts a started job and tracks it in `gitlab_runner_jobs{state="running"}` and
    /// `gitlab_runner_jobs_running_total` until the returned handle is finished or dropped.
    pub fn job_started(&self, runner: &RunnerLabels, url: impl Into<String>) -> RunningJob {
        self.jobs_total.get_or_create(runner).inc();
        let key = self.tracker.add(runner, url.into());
        RunningJob {
            metrics: self.clone(),
            runner: runner.clone(),
            key,
            mode: ExecutionMode::default(),
        }
    }

    /// Makes a runner's zero series exist (`jobs_total` and the `idle` jobs series).
    pub fn runner_seen(&self, runner: &RunnerLabels) {
        let _ = self.jobs_total.get_or_create(runner);
        self.tracker.add_runner(runner);
    }

    /// Counts a job whose execution mode was decided; an empty executor becomes `unknown`.
    pub fn execution_mode(&self, mode: ExecutionMode, executor: &str) {
        let executor = if executor.is_empty() {
            "unknown"
        } else {
            executor
        };
        self.execution_mode
            .get_or_create(&mode_labels(mode, executor))
            .inc();
    }

    /// Counts a job-input interpolation that changed a value.
    pub fn input_interpolated(&self) {
        self.interpolations.inc();
    }

    /// Counts a failed job-input interpolation (`parse`, `evaluation`,
    /// `sensitive_unsupported`).
    pub fn input_interpolation_failed(&self, error_type: &'static str) {
        self.interpolation_failures
            .get_or_create(&error_type_labels(error_type))
            .inc();
    }
}

/// A job held by the process. Dropping it without [`finish`](Self::finish) removes it from the
/// gauges without observing its duration.
#[derive(Debug)]
pub struct RunningJob {
    metrics: JobMetrics,
    runner: RunnerLabels,
    key: u64,
    mode: ExecutionMode,
}

impl RunningJob {
    /// Sets the job's state (`gitlab_runner_jobs{state}`).
    pub fn set_state(&self, state: JobState) {
        self.metrics
            .tracker
            .update(self.key, JobUpdate::State(state));
    }

    /// Sets the build stage (`gitlab_runner_jobs{stage}`), e.g. `get_sources`.
    pub fn set_stage(&self, stage: &str) {
        self.metrics
            .tracker
            .update(self.key, JobUpdate::Stage(stage));
    }

    /// Sets the executor stage (`gitlab_runner_jobs{executor_stage}`), e.g. `docker_run`.
    pub fn set_executor_stage(&self, executor_stage: &str) {
        self.metrics
            .tracker
            .update(self.key, JobUpdate::ExecutorStage(executor_stage));
    }

    /// Sets the `mode` label used when the job finishes.
    pub fn set_mode(&mut self, mode: ExecutionMode) {
        self.mode = mode;
    }

    /// Observes a stage duration; the caller decides whether
    /// `FF_EXPORT_HIGH_CARDINALITY_METRICS` is on.
    pub fn observe_stage(&self, stage: &str, duration: Duration) {
        self.metrics
            .stage_duration
            .get_or_create(&runner_labels_and(&self.runner, "stage", stage))
            .observe(duration.as_secs_f64());
    }

    /// Releases the job: observes its total duration and, when it failed, counts it in
    /// `gitlab_runner_failed_jobs_total` under `failure_reason`.
    pub fn finish(self, failure_reason: Option<FailureReason>, duration: Duration) {
        let metrics = &self.metrics;
        metrics
            .duration
            .get_or_create(&runner_labels_and(&self.runner, "mode", self.mode.as_str()))
            .observe(duration.as_secs_f64());
        if let Some(reason) = failure_reason {
            metrics
                .failed
                .get_or_create(&failed_labels(&self.runner, reason, self.mode))
                .inc();
        }
    }
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.metrics.tracker.remove(self.key);
    }
}

fn job_duration_histogram() -> Histogram {
    Histogram::new(JOB_DURATION_BUCKETS)
}

fn queue_duration_histogram() -> Histogram {
    Histogram::new(QUEUE_DURATION_BUCKETS)
}

/// The labels of `runner` followed by one more, in the order upstream writes them.
fn runner_labels_and(runner: &RunnerLabels, key: &str, value: &str) -> RenderedLabels {
    RenderedLabels::new(&[
        ("runner", &runner.runner),
        ("runner_name", &runner.runner_name),
        ("system_id", &runner.system_id),
        (key, value),
    ])
}

/// Labels of `gitlab_runner_failed_jobs_total`: no `system_id`, as upstream.
fn failed_labels(
    runner: &RunnerLabels,
    reason: FailureReason,
    mode: ExecutionMode,
) -> RenderedLabels {
    RenderedLabels::new(&[
        ("runner", &runner.runner),
        ("runner_name", &runner.runner_name),
        ("failure_reason", reason.as_str()),
        ("mode", mode.as_str()),
    ])
}

fn mode_labels(mode: ExecutionMode, executor: &str) -> RenderedLabels {
    RenderedLabels::new(&[("mode", mode.as_str()), ("executor", executor)])
}

fn error_type_labels(error_type: &str) -> RenderedLabels {
    RenderedLabels::new(&[("error_type", error_type)])
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;

    use super::*;
    use crate::rendered_labels::testing::{AWKWARD, exposition};

    /// The label sets as they were derived before they were rendered: the reference.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct FailedLabels {
        runner: String,
        runner_name: String,
        failure_reason: &'static str,
        mode: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ModeLabels {
        mode: &'static str,
        executor: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct RunnerModeLabels {
        #[prometheus(flatten)]
        runner: RunnerLabels,
        mode: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct QueueLabels {
        #[prometheus(flatten)]
        runner: RunnerLabels,
        project_jobs_running: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ErrorTypeLabels {
        error_type: &'static str,
    }

    #[test]
    fn rendered_label_sets_match_the_derived_ones() {
        for (i, value) in AWKWARD.iter().enumerate() {
            let runner = RunnerLabels::new(*value, AWKWARD[(i + 3) % AWKWARD.len()], "s_1");
            let reason = FailureReason::ALL[i % FailureReason::ALL.len()];
            assert_eq!(
                exposition(failed_labels(&runner, reason, ExecutionMode::Steps)),
                exposition(FailedLabels {
                    runner: runner.runner.clone(),
                    runner_name: runner.runner_name.clone(),
                    failure_reason: reason.as_str(),
                    mode: "steps",
                })
            );
            assert_eq!(
                exposition(mode_labels(ExecutionMode::Unknown, value)),
                exposition(ModeLabels {
                    mode: "unknown",
                    executor: (*value).into(),
                })
            );
            assert_eq!(
                exposition(runner_labels_and(&runner, "mode", "traditional")),
                exposition(RunnerModeLabels {
                    runner: runner.clone(),
                    mode: "traditional",
                })
            );
            // `stage_duration` keys the same way, with `stage` for the last label.
            assert_eq!(
                exposition(runner_labels_and(&runner, "project_jobs_running", value)),
                exposition(QueueLabels {
                    runner: runner.clone(),
                    project_jobs_running: (*value).into(),
                })
            );
            assert_eq!(
                exposition(error_type_labels(value)),
                exposition(ErrorTypeLabels { error_type: value })
            );
        }
    }
}
