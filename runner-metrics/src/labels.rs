//! Label values shared by the metric families: who a series belongs to and the closed sets of
//! label values (endpoints, failure reasons, states) that upstream dashboards filter on.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

use crate::rendered_labels::{RenderedLabels, write_escaped};

/// Identity of one `[[runners]]` entry, as upstream puts it on per-runner series.
///
/// `runner` is the *short token* (the token without its `glrt-`/`t1_`... prefix, cut to nine
/// characters), never the token itself; `runner_name` is the entry's `name`; `system_id` is the
/// content of `.runner_system_id`. The binary computes these; this crate only exports them.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunnerLabels {
    /// Short token of the runner (first nine characters after the prefix).
    pub runner: String,
    /// The `name` key of the `[[runners]]` entry.
    pub runner_name: String,
    /// The runner's system id (`s_...`/`r_...`), `unknown` when the binary does not know it.
    pub system_id: String,
}

impl RunnerLabels {
    /// Builds the labels of one runner entry.
    ///
    /// ```
    /// let labels = runner_metrics::RunnerLabels::new("xYz123abc", "docker-1", "s_0123456789ab");
    /// assert_eq!(labels.runner, "xYz123abc");
    /// ```
    pub fn new(
        runner: impl Into<String>,
        runner_name: impl Into<String>,
        system_id: impl Into<String>,
    ) -> Self {
        Self {
            runner: runner.into(),
            runner_name: runner_name.into(),
            system_id: system_id.into(),
        }
    }
}

/// The text `#[derive(EncodeLabelSet)]` writes for these fields, in 8 writes instead of 14:
/// most per-runner series carry these labels, and a scrape is dominated by small writes.
impl EncodeLabelSet for RunnerLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> std::fmt::Result {
        let mut label = encoder.encode_label();
        let mut key = label.encode_label_key()?;
        key.write_str("runner=\"")?;
        write_escaped(&mut key, &self.runner)?;
        key.write_str("\",runner_name=\"")?;
        write_escaped(&mut key, &self.runner_name)?;
        key.write_str("\",system_id")?;
        let mut value = key.encode_label_value()?;
        value.write_str(&self.system_id)?;
        value.finish()
    }
}

/// Coordinator endpoints counted by `gitlab_runner_api_request_statuses_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ApiEndpoint {
    /// `POST /api/v4/jobs/request`.
    RequestJob,
    /// `PUT /api/v4/jobs/:id`.
    UpdateJob,
    /// `PATCH /api/v4/jobs/:id/trace`.
    PatchTrace,
    /// `POST /api/v4/runners/reset_authentication_token`.
    ResetToken,
    /// Job Router discovery.
    Discovery,
}

impl ApiEndpoint {
    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestJob => "request_job",
            Self::UpdateJob => "update_job",
            Self::PatchTrace => "patch_trace",
            Self::ResetToken => "reset_token",
            Self::Discovery => "discovery",
        }
    }
}

/// Runner-side reason of a failed job, the `failure_reason` label of
/// `gitlab_runner_failed_jobs_total`: the one definition the executors and the agent use.
pub use runner_core::FailureReason;

/// How a job is executed, the `mode` label.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub enum ExecutionMode {
    /// Classic `script:` execution.
    #[default]
    Traditional,
    /// CI steps.
    Steps,
    /// Not decided (yet).
    Unknown,
}

impl ExecutionMode {
    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Traditional => "traditional",
            Self::Steps => "steps",
            Self::Unknown => "unknown",
        }
    }
}

/// State of a job held by the process, the `state` label of `gitlab_runner_jobs`.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub enum JobState {
    /// Received, not yet running.
    #[default]
    Pending,
    /// Executing.
    Running,
    /// Finished successfully, not yet released.
    Success,
    /// Finished with a failure, not yet released.
    Failed,
    /// Canceled by the user.
    Canceled,
    /// Stopped by the runner (shutdown).
    Terminated,
    /// Hit its timeout.
    Timedout,
}

impl JobState {
    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Terminated => "terminated",
            Self::Timedout => "timedout",
        }
    }
}

/// Log level counted by `gitlab_runner_errors_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ErrorLevel {
    /// A panic.
    Panic,
    /// A fatal error (the process exits).
    Fatal,
    /// An error an operator must look at.
    Error,
    /// A warning.
    Warning,
}

impl ErrorLevel {
    /// Every level; all four series exist from the start.
    pub const ALL: [ErrorLevel; 4] = [Self::Panic, Self::Fatal, Self::Error, Self::Warning];

    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Fatal => "fatal",
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// Why a worker could not process a runner, the `failure_type` label of
/// `gitlab_runner_worker_processing_failures_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum WorkerFailure {
    /// Anything not covered below.
    Other,
    /// No executor capacity was free.
    NoFreeExecutor,
    /// The job itself failed with a build error.
    JobFailure,
}

impl WorkerFailure {
    /// Every type; all are pre-initialised per runner.
    pub const ALL: [WorkerFailure; 3] = [Self::Other, Self::NoFreeExecutor, Self::JobFailure];

    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Other => "other",
            Self::NoFreeExecutor => "no_free_executor",
            Self::JobFailure => "job_failure",
        }
    }
}

/// `runner` and `system_id` only: the label set of the request-concurrency families.
pub(crate) fn runner_id_labels(labels: &RunnerLabels) -> RenderedLabels {
    RenderedLabels::new(&[("runner", &labels.runner), ("system_id", &labels.system_id)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rendered_labels::testing::{AWKWARD, exposition};

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct DerivedRunnerLabels {
        runner: String,
        runner_name: String,
        system_id: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Flattening {
        failure_type: &'static str,
        #[prometheus(flatten)]
        runner: RunnerLabels,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct DerivedFlattening {
        failure_type: &'static str,
        #[prometheus(flatten)]
        runner: DerivedRunnerLabels,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct RunnerIdLabels {
        runner: String,
        system_id: String,
    }

    #[test]
    fn runner_id_labels_match_the_derived_ones() {
        for (i, value) in AWKWARD.iter().enumerate() {
            let runner = RunnerLabels::new(*value, "n", AWKWARD[(i + 1) % AWKWARD.len()]);
            assert_eq!(
                exposition(runner_id_labels(&runner)),
                exposition(RunnerIdLabels {
                    runner: runner.runner.clone(),
                    system_id: runner.system_id.clone(),
                })
            );
        }
    }

    #[test]
    fn runner_labels_encode_like_the_derived_impl() {
        for (i, runner) in AWKWARD.iter().enumerate() {
            for runner_name in AWKWARD {
                let system_id = AWKWARD[(i + 4) % AWKWARD.len()];
                let labels = RunnerLabels::new(*runner, runner_name, system_id);
                let derived = DerivedRunnerLabels {
                    runner: labels.runner.clone(),
                    runner_name: labels.runner_name.clone(),
                    system_id: labels.system_id.clone(),
                };
                assert_eq!(exposition(labels.clone()), exposition(derived.clone()));
                assert_eq!(
                    exposition(Flattening {
                        failure_type: "other",
                        runner: labels,
                    }),
                    exposition(DerivedFlattening {
                        failure_type: "other",
                        runner: derived,
                    })
                );
            }
        }
    }
}
