//! Jobs currently held by the process: the source of `gitlab_runner_jobs`,
//! `gitlab_runner_jobs_running_total` (computed at scrape, like upstream) and of
//! `/debug/jobs/list`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::MetricType;

use crate::go_duration;
use crate::labels::{JobState, RunnerLabels};

/// One line of `/debug/jobs/list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedJob {
    /// Web URL of the job.
    pub url: String,
    /// Current state.
    pub state: JobState,
    /// Current build stage (`get_sources`, `step_script`, ...), empty before the first.
    pub stage: String,
    /// Current executor stage (`prepare`, `docker_run`, ...).
    pub executor_stage: String,
    /// Time since the job started.
    pub duration: Duration,
}

/// Source of `/debug/jobs/list`. [`Metrics`](crate::Metrics) implements it from the jobs
/// recorded with [`JobMetrics::job_started`](crate::JobMetrics::job_started); the binary may
/// pass its own.
pub trait JobLister: Send + Sync + 'static {
    /// The jobs currently held by the process.
    fn list_jobs(&self) -> Vec<ListedJob>;
}

/// Renders jobs in upstream's `X-List-Version: 2` text format, one line per job.
pub(crate) fn render_list(jobs: &[ListedJob]) -> String {
    let mut out = String::new();
    for job in jobs {
        out.push_str(&format!(
            "url={} state={} stage={} executor_stage={} duration={}\n",
            job.url,
            job.state.as_str(),
            job.stage,
            job.executor_stage,
            go_duration::format(job.duration)
        ));
    }
    out
}

#[derive(Debug)]
struct JobEntry {
    runner: RunnerLabels,
    url: String,
    state: JobState,
    stage: String,
    executor_stage: String,
    started: Instant,
}

#[derive(Debug, Default)]
struct TrackerState {
    next_key: u64,
    jobs: HashMap<u64, JobEntry>,
    /// Every runner ever seen, for the `idle` series that keeps the family alive.
    runners: BTreeSet<RunnerLabels>,
}

/// Shared table of running jobs.
#[derive(Debug, Default)]
pub(crate) struct JobTracker {
    state: Mutex<TrackerState>,
}

/// Which field of a tracked job to change.
pub(crate) enum JobUpdate<'a> {
    State(JobState),
    Stage(&'a str),
    ExecutorStage(&'a str),
}

impl JobTracker {
    fn lock(&self) -> MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a runner so its `idle` series exists before its first job.
    pub(crate) fn add_runner(&self, runner: &RunnerLabels) {
        let mut state = self.lock();
        if !state.runners.contains(runner) {
            state.runners.insert(runner.clone());
        }
    }

    pub(crate) fn add(&self, runner: &RunnerLabels, url: String) -> u64 {
        let mut state = self.lock();
        let key = state.next_key;
        state.next_key += 1;
        if !state.runners.contains(runner) {
            state.runners.insert(runner.clone());
        }
        state.jobs.insert(
            key,
            JobEntry {
                runner: runner.clone(),
                url,
                state: JobState::Running,
                stage: String::new(),
                executor_stage: "created".to_owned(),
                started: Instant::now(),
            },
        );
        key
    }

    pub(crate) fn update(&self, key: u64, update: JobUpdate<'_>) {
        let mut state = self.lock();
        if let Some(job) = state.jobs.get_mut(&key) {
            match update {
                JobUpdate::State(new_state) => job.state = new_state,
                JobUpdate::Stage(stage) => stage.clone_into(&mut job.stage),
                JobUpdate::ExecutorStage(stage) => stage.clone_into(&mut job.executor_stage),
            }
        }
    }

    pub(crate) fn remove(&self, key: u64) {
        self.lock().jobs.remove(&key);
    }

    pub(crate) fn list(&self) -> Vec<ListedJob> {
        let state = self.lock();
        let mut jobs: Vec<(u64, ListedJob)> = state
            .jobs
            .iter()
            .map(|(key, job)| {
                let listed = ListedJob {
                    url: job.url.clone(),
                    state: job.state,
                    stage: job.stage.clone(),
                    executor_stage: job.executor_stage.clone(),
                    duration: job.started.elapsed(),
                };
                (*key, listed)
            })
            .collect();
        jobs.sort_by_key(|(key, _)| *key);
        jobs.into_iter().map(|(_, job)| job).collect()
    }
}

impl Collector for JobTracker {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = self.lock();
        let mut combinations: BTreeMap<(&RunnerLabels, &str, &str, &str), i64> = BTreeMap::new();
        let mut running: BTreeMap<&RunnerLabels, i64> =
            state.runners.iter().map(|runner| (runner, 0)).collect();
        for job in state.jobs.values() {
            let key = (
                &job.runner,
                job.state.as_str(),
                job.stage.as_str(),
                job.executor_stage.as_str(),
            );
            *combinations.entry(key).or_default() += 1;
            if job.state == JobState::Running {
                *running.entry(&job.runner).or_default() += 1;
            }
        }

        let mut jobs = encoder.encode_descriptor(
            "gitlab_runner_jobs",
            "The current number of running builds.",
            None,
            MetricType::Gauge,
        )?;
        for runner in &state.runners {
            let labels = JobLabels::new(runner, "idle", "idle", "idle");
            jobs.encode_family(&labels)?.encode_gauge(&0_i64)?;
        }
        for ((runner, job_state, stage, executor_stage), count) in &combinations {
            let labels = JobLabels::new(runner, job_state, stage, executor_stage);
            jobs.encode_family(&labels)?.encode_gauge(count)?;
        }

        let mut running_total = encoder.encode_descriptor(
            "gitlab_runner_jobs_running_total",
            "The current number of jobs in state running, per runner.",
            None,
            MetricType::Gauge,
        )?;
        for (runner, count) in &running {
            running_total.encode_family(*runner)?.encode_gauge(count)?;
        }
        Ok(())
    }
}

/// Labels of a `gitlab_runner_jobs` series: the runner's, then the job's position. Borrowed,
/// because the collector builds one per series at every scrape.
struct JobLabels<'a> {
    runner: &'a RunnerLabels,
    job: [(&'static str, &'a str); 3],
}

impl<'a> JobLabels<'a> {
    fn new(
        runner: &'a RunnerLabels,
        state: &'a str,
        stage: &'a str,
        executor_stage: &'a str,
    ) -> Self {
        Self {
            runner,
            job: [
                ("state", state),
                ("stage", stage),
                ("executor_stage", executor_stage),
            ],
        }
    }
}

impl EncodeLabelSet for JobLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        self.runner.encode(encoder)?;
        self.job.encode(encoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_renders_upstream_format() {
        let jobs = [ListedJob {
            url: "https://gitlab.example.com/g/p/-/jobs/7".into(),
            state: JobState::Running,
            stage: "step_script".into(),
            executor_stage: "docker_run".into(),
            duration: Duration::from_secs(75),
        }];
        assert_eq!(
            render_list(&jobs),
            "url=https://gitlab.example.com/g/p/-/jobs/7 state=running stage=step_script \
             executor_stage=docker_run duration=1m15s\n"
        );
        assert_eq!(render_list(&[]), "");
    }

    /// One `gitlab_runner_jobs`-like series, with [`JobLabels`] or with six plain labels.
    #[derive(Debug)]
    struct OneSeries {
        runner: RunnerLabels,
        stage: String,
        plain: bool,
    }

    impl Collector for OneSeries {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            let mut metric = encoder.encode_descriptor("j", "J", None, MetricType::Gauge)?;
            if self.plain {
                let mut labels = vec![
                    ("runner", self.runner.runner.as_str()),
                    ("runner_name", self.runner.runner_name.as_str()),
                    ("system_id", self.runner.system_id.as_str()),
                ];
                labels.extend([("state", "running"), ("stage", &self.stage)]);
                labels.push(("executor_stage", "x\ny"));
                metric.encode_family(&labels)?.encode_gauge(&1_i64)
            } else {
                let labels = JobLabels::new(&self.runner, "running", &self.stage, "x\ny");
                metric.encode_family(&labels)?.encode_gauge(&1_i64)
            }
        }
    }

    #[test]
    fn job_labels_encode_like_six_plain_labels() {
        use crate::rendered_labels::testing::AWKWARD;
        for value in AWKWARD {
            let text = |plain| {
                let mut registry = prometheus_client::registry::Registry::default();
                registry.register_collector(Box::new(OneSeries {
                    runner: RunnerLabels::new(value, "r\"1", value),
                    stage: value.to_owned(),
                    plain,
                }));
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
                text
            };
            assert_eq!(text(false), text(true));
        }
    }

    #[test]
    fn tracker_updates_and_removes_jobs() {
        let tracker = JobTracker::default();
        let runner = RunnerLabels::new("abc", "r", "s_1");
        let key = tracker.add(&runner, "u1".into());
        tracker.update(key, JobUpdate::Stage("get_sources"));
        tracker.update(key, JobUpdate::State(JobState::Failed));
        let listed = tracker.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].stage, "get_sources");
        assert_eq!(listed[0].state, JobState::Failed);
        tracker.remove(key);
        assert!(tracker.list().is_empty());
    }
}
