//! Configuration, concurrency, worker-pool and error-count families (spec 4.1 and
//! `gitlab_runner_errors_total`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::labels::{ErrorLevel, RunnerLabels, WorkerFailure};
use crate::rendered_labels::RenderedLabels;

/// Handles of the configuration and worker-pool families; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct WorkerMetrics {
    concurrent: Gauge,
    limit: Family<RunnerLabels, Gauge>,
    slots: Gauge,
    /// Keyed by `operation`.
    slot_operations: Family<RenderedLabels, Counter>,
    feeds: Family<RunnerLabels, Counter>,
    feed_failures: Family<RunnerLabels, Counter>,
    /// Keyed by `processing_failure_labels`.
    processing_failures: Family<RenderedLabels, Counter>,
    health_check_failures: Family<RunnerLabels, Counter>,
    config_loaded: Counter,
    config_loading_errors: Counter,
    config_saved: Counter,
    config_saving_errors: Counter,
    /// Keyed by `level`.
    errors: Family<RenderedLabels, Counter>,
}

impl WorkerMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let r = registry;
        r.register(
            "gitlab_runner_concurrent",
            "The current value of concurrent setting",
            metrics.concurrent.clone(),
        );
        r.register(
            "gitlab_runner_limit",
            "The current value of limit setting of each runner entry",
            metrics.limit.clone(),
        );
        r.register(
            "gitlab_runner_worker_slots_number",
            "The current number of worker slots in the pool",
            metrics.slots.clone(),
        );
        r.register(
            "gitlab_runner_worker_slot_operations",
            "Worker slots started and stopped",
            metrics.slot_operations.clone(),
        );
        r.register(
            "gitlab_runner_worker_feeds",
            "Times a runner entry was handed to the worker pool",
            metrics.feeds.clone(),
        );
        r.register(
            "gitlab_runner_worker_feed_failures",
            "Times a runner entry was not handed to the worker pool (empty token or unhealthy)",
            metrics.feed_failures.clone(),
        );
        r.register(
            "gitlab_runner_worker_processing_failures",
            "Errors returned while a worker processed a runner, by failure type",
            metrics.processing_failures.clone(),
        );
        r.register(
            "gitlab_runner_worker_health_check_failures",
            "Unhealthy job-request results counted towards unhealthy_requests_limit",
            metrics.health_check_failures.clone(),
        );
        r.register(
            "gitlab_runner_configuration_loaded",
            "Successful loads of config.toml",
            metrics.config_loaded.clone(),
        );
        r.register(
            "gitlab_runner_configuration_loading_error",
            "Failed loads of config.toml",
            metrics.config_loading_errors.clone(),
        );
        r.register(
            "gitlab_runner_configuration_saved",
            "Successful writes of config.toml",
            metrics.config_saved.clone(),
        );
        r.register(
            "gitlab_runner_configuration_saving_error",
            "Failed writes of config.toml",
            metrics.config_saving_errors.clone(),
        );
        r.register(
            "gitlab_runner_errors",
            "The number of caught errors",
            metrics.errors.clone(),
        );
        for operation in ["started", "stopped"] {
            let _ = metrics
                .slot_operations
                .get_or_create(&operation_labels(operation));
        }
        for level in ErrorLevel::ALL {
            let _ = metrics.errors.get_or_create(&level_labels(level));
        }
        metrics
    }

    /// Sets `gitlab_runner_concurrent`.
    pub fn set_concurrent(&self, concurrent: i64) {
        self.concurrent.set(concurrent);
    }

    /// Replaces every `gitlab_runner_limit` series by the entries of the current config, so
    /// removed runners disappear.
    pub fn set_limits<'a>(&self, limits: impl IntoIterator<Item = (&'a RunnerLabels, i64)>) {
        self.limit.clear();
        for (runner, limit) in limits {
            self.limit.get_or_create(runner).set(limit);
        }
    }

    /// Sets `gitlab_runner_limit` of one runner (0 = unlimited).
    pub fn set_limit(&self, runner: &RunnerLabels, limit: i64) {
        self.limit.get_or_create(runner).set(limit);
    }

    /// Creates the zero series of a runner entry (feeds, feed failures, processing failures of
    /// every type, health-check failures), so `increase()` works from the start.
    pub fn runner_seen(&self, runner: &RunnerLabels) {
        let _ = self.feeds.get_or_create(runner);
        let _ = self.feed_failures.get_or_create(runner);
        let _ = self.health_check_failures.get_or_create(runner);
        for failure in WorkerFailure::ALL {
            let _ = self
                .processing_failures
                .get_or_create(&processing_failure_labels(failure, runner));
        }
    }

    /// Sets `gitlab_runner_worker_slots_number`.
    pub fn set_worker_slots(&self, slots: i64) {
        self.slots.set(slots);
    }

    /// Counts a worker slot started.
    pub fn worker_slot_started(&self) {
        self.slot_operations
            .get_or_create(&operation_labels("started"))
            .inc();
    }

    /// Counts a worker slot stopped.
    pub fn worker_slot_stopped(&self) {
        self.slot_operations
            .get_or_create(&operation_labels("stopped"))
            .inc();
    }

    /// Counts a runner entry handed to the worker pool.
    pub fn worker_fed(&self, runner: &RunnerLabels) {
        self.feeds.get_or_create(runner).inc();
    }

    /// Counts a runner entry not handed over (empty token, unhealthy).
    pub fn worker_feed_failed(&self, runner: &RunnerLabels) {
        self.feed_failures.get_or_create(runner).inc();
    }

    /// Counts an error while a worker processed a runner.
    pub fn worker_processing_failed(&self, runner: &RunnerLabels, failure: WorkerFailure) {
        self.processing_failures
            .get_or_create(&processing_failure_labels(failure, runner))
            .inc();
    }

    /// Counts an unhealthy job-request result (HTTP 403 or transport error).
    pub fn health_check_failed(&self, runner: &RunnerLabels) {
        self.health_check_failures.get_or_create(runner).inc();
    }

    /// Counts a successful load of `config.toml`.
    pub fn config_loaded(&self) {
        self.config_loaded.inc();
    }

    /// Counts a failed load of `config.toml`.
    pub fn config_loading_failed(&self) {
        self.config_loading_errors.inc();
    }

    /// Counts a successful write of `config.toml`.
    pub fn config_saved(&self) {
        self.config_saved.inc();
    }

    /// Counts a failed write of `config.toml`.
    pub fn config_saving_failed(&self) {
        self.config_saving_errors.inc();
    }

    /// Counts a log entry at `level` (`gitlab_runner_errors_total`).
    pub fn error(&self, level: ErrorLevel) {
        self.errors.get_or_create(&level_labels(level)).inc();
    }
}

fn operation_labels(operation: &str) -> RenderedLabels {
    RenderedLabels::new(&[("operation", operation)])
}

fn level_labels(level: ErrorLevel) -> RenderedLabels {
    RenderedLabels::new(&[("level", level.as_str())])
}

/// `failure_type` first, then the runner's labels, as upstream writes them.
fn processing_failure_labels(failure: WorkerFailure, runner: &RunnerLabels) -> RenderedLabels {
    RenderedLabels::new(&[
        ("failure_type", failure.as_str()),
        ("runner", &runner.runner),
        ("runner_name", &runner.runner_name),
        ("system_id", &runner.system_id),
    ])
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;

    use super::*;
    use crate::rendered_labels::testing::{AWKWARD, exposition};

    /// The label set as it was derived before it was rendered: the reference.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ProcessingFailureLabels {
        failure_type: &'static str,
        #[prometheus(flatten)]
        runner: RunnerLabels,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct LevelLabels {
        level: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct OperationLabels {
        operation: &'static str,
    }

    #[test]
    fn rendered_label_sets_match_the_derived_ones() {
        for (i, value) in AWKWARD.iter().enumerate() {
            let runner = RunnerLabels::new("t", *value, AWKWARD[(i + 7) % AWKWARD.len()]);
            let failure = WorkerFailure::ALL[i % WorkerFailure::ALL.len()];
            assert_eq!(
                exposition(processing_failure_labels(failure, &runner)),
                exposition(ProcessingFailureLabels {
                    failure_type: failure.as_str(),
                    runner,
                })
            );
            assert_eq!(
                exposition(operation_labels(value)),
                exposition(OperationLabels { operation: value })
            );
        }
        for level in ErrorLevel::ALL {
            assert_eq!(
                exposition(level_labels(level)),
                exposition(LevelLabels {
                    level: level.as_str()
                })
            );
        }
    }
}
