//! Asking the coordinator for jobs on behalf of one `[[runners]]` entry.
//!
//! Each entry gets `request_concurrency` request loops. A loop takes a unit of the global
//! `concurrent` and of the runner's `limit` before it asks (upstream counts requests in
//! flight against both, config-toml.md §6.1), hands a received job to a job task that keeps
//! both units until the job is reported, and asks again at once; an empty answer waits
//! `check_interval`. Consecutive unhealthy answers (403, a client that cannot be built) pause
//! the entry for `unhealthy_interval` (coordinator-api.md §5.6).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

use runner_api::{JobRequest, JobRequestOutcome, JobResponse, Token};
use runner_config::RunnerConfig;
use runner_executor::{FailureReason, JobFailure};
use runner_metrics::{Metrics, RunnerLabels};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job_runner::{self, JobContext, JobNumbers};
use crate::limiter::{Limiter, Permit};
use crate::slots::{RunnerSlots, Slot};

/// Upstream's defaults for runner health (§5.6).
const DEFAULT_UNHEALTHY_REQUESTS_LIMIT: u32 = 3;
const DEFAULT_UNHEALTHY_INTERVAL: Duration = Duration::from_secs(3600);

/// What the request loops of one runner entry share.
#[derive(Clone)]
pub(crate) struct Poller {
    /// The job context handed to every received job.
    pub(crate) context: JobContext,
    /// Global `concurrent`.
    pub(crate) concurrent: Limiter,
    /// This runner's `limit` and slot numbers.
    pub(crate) slots: RunnerSlots,
    /// Pause after an empty answer.
    pub(crate) check_interval: Duration,
    /// Fired on reload: finish the current request (never drop a job the coordinator
    /// already assigned), then stop.
    pub(crate) retire: CancellationToken,
    /// Fired on shutdown: stop now, cancelling a pending request.
    pub(crate) stop: CancellationToken,
    /// Owner of the job tasks; awaited at shutdown.
    pub(crate) jobs: TaskTracker,
    /// Counts jobs taken, for `run-single --max-builds`.
    pub(crate) taken: Arc<AtomicU32>,
    /// Stop after this many jobs (0 = no limit).
    pub(crate) max_jobs: u32,
}

impl Poller {
    /// Starts the request loops of this runner entry on `tracker`.
    pub(crate) fn spawn(self, tracker: &TaskTracker) {
        let loops = self.context.runner.effective_request_concurrency().max(1);
        let health = Arc::new(Health::new(&self.context.runner));
        let in_flight = InFlight::new(&self.context, loops);
        for _ in 0..loops {
            let poller = self.clone();
            let health = Arc::clone(&health);
            let in_flight = in_flight.clone();
            tracker.spawn(async move { poller.request_loop(&health, &in_flight).await });
        }
    }

    /// Runs a taken job as its own task, holding its slot and its `concurrent` permit.
    ///
    /// Not inlined into the request loop: the job's future is large, and built in the loop's
    /// frame it would make every idle poll touch (and keep resident) that much worker stack.
    #[inline(never)]
    fn spawn_job(&self, job: Box<JobResponse>, mut slot: Slot, global: Permit) {
        let context = self.context.clone();
        self.jobs.spawn(async move {
            let numbers = JobNumbers {
                concurrent_id: slot.id(),
                concurrent_project_id: slot.join_project(job.job_info.project_id),
            };
            job_runner::process_contained(&context, job, numbers).await;
            drop(slot);
            drop(global);
        });
    }

    async fn request_loop(self, health: &Health, in_flight: &InFlight) {
        let runner = Arc::clone(&self.context.runner);
        let token = Token::new(runner.token.expose());
        loop {
            if self.retire.is_cancelled() || self.stop.is_cancelled() || self.reached_max_jobs() {
                return;
            }
            if let Some(pause) = health.pause_needed() {
                tracing::warn!(
                    "Runner \"{}{}\" is unhealthy and will be disabled for {} seconds!",
                    runner.url,
                    runner.short_token(),
                    runner_config::GoDuration::from_std(pause)
                );
                if !self.sleep(pause).await {
                    return;
                }
                tracing::warn!(
                    "Runner \"{}{}\" is not healthy, but check for a new job will be forced!",
                    runner.url,
                    runner.short_token()
                );
                health.reset();
            }
            let global = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                _ = self.retire.cancelled() => return,
                permit = self.concurrent.acquire() => permit,
            };
            let slot = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                _ = self.retire.cancelled() => return,
                slot = self.slots.acquire() => slot,
            };
            let request = JobRequest {
                info: self.context.info.clone(),
                token: token.clone(),
                system_id: self.context.system_id.clone(),
                last_update: None,
                session: None,
            };
            // Only shutdown cancels a pending request; a reload lets it finish.
            let request = in_flight.track(self.context.client.request_job(request));
            let answer = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                answer = request => answer,
            };
            match answer {
                Ok(JobRequestOutcome::Job(job)) => {
                    health.healthy();
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    self.spawn_job(job, slot, global);
                    // A busy queue drains faster than check_interval: ask again at once.
                    continue;
                }
                Ok(JobRequestOutcome::NoJob) => health.healthy(),
                Ok(JobRequestOutcome::Undecodable(error)) => {
                    health.healthy();
                    fail_undecodable(&self.context, &error).await;
                }
                Err(error) if error.is_auth() => health.unhealthy(),
                Err(_) => health.healthy(),
            }
            drop(slot);
            drop(global);
            if !self.sleep(self.check_interval).await {
                return;
            }
        }
    }

    fn reached_max_jobs(&self) -> bool {
        self.max_jobs > 0 && self.taken.load(Ordering::SeqCst) >= self.max_jobs
    }

    /// Sleeps unless retired or stopped first; returns whether to go on.
    async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            _ = self.retire.cancelled() => false,
            () = tokio::time::sleep(duration) => true,
        }
    }
}

/// A 201 whose payload did not decode: report the job failed, with a log that says what did
/// not decode, instead of leaving it stuck (coordinator-api.md §5.5, "Beyond").
async fn fail_undecodable(context: &JobContext, error: &runner_api::wire::DecodeJobError) {
    let Some(partial) = &error.partial else {
        tracing::error!(error = %error, "job payload could not be decoded and names no job");
        return;
    };
    let failure = JobFailure::new(FailureReason::RunnerSystemFailure, error.to_string());
    job_runner::report_failure(context, partial, &failure).await;
}

/// Job requests in flight for one runner entry: `gitlab_runner_request_concurrency`.
///
/// Each of the entry's `request_concurrency` loops has at most one request in flight, so a
/// request is never skipped for lack of room and
/// `gitlab_runner_request_concurrency_exceeded_total` stays 0; it is exported all the same,
/// with the hard and used limits, so dashboards built for upstream find their series.
#[derive(Clone)]
struct InFlight {
    count: Arc<AtomicI64>,
    metrics: Option<(Metrics, RunnerLabels)>,
}

impl InFlight {
    fn new(context: &JobContext, loops: u32) -> Self {
        let limit = i64::from(loops);
        if let Some((metrics, labels)) = &context.metrics {
            let api = metrics.api();
            api.set_request_concurrency(labels, 0);
            api.request_concurrency_exceeded_by(labels, 0);
            #[expect(
                clippy::cast_precision_loss,
                reason = "request_concurrency is at most 1000"
            )]
            api.set_request_concurrency_limits(labels, limit, 0.0, limit as f64);
        }
        Self {
            count: Arc::default(),
            metrics: context.metrics.clone(),
        }
    }

    /// Counts `request` as in flight until it completes or is dropped.
    async fn track<T>(&self, request: impl Future<Output = T>) -> T {
        let _in_flight = InFlightGuard::enter(self);
        request.await
    }

    fn publish(&self, count: i64) {
        if let Some((metrics, labels)) = &self.metrics {
            metrics.api().set_request_concurrency(labels, count);
        }
    }
}

struct InFlightGuard<'a>(&'a InFlight);

impl<'a> InFlightGuard<'a> {
    fn enter(in_flight: &'a InFlight) -> Self {
        in_flight.publish(in_flight.count.fetch_add(1, Ordering::SeqCst) + 1);
        Self(in_flight)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0
            .publish(self.0.count.fetch_sub(1, Ordering::SeqCst) - 1);
    }
}

/// Consecutive unhealthy answers of one runner entry.
#[derive(Debug)]
struct Health {
    failures: AtomicU32,
    limit: u32,
    interval: Duration,
}

impl Health {
    fn new(runner: &RunnerConfig) -> Self {
        let limit = u32::try_from(runner.unhealthy_requests_limit)
            .ok()
            .filter(|limit| *limit > 0)
            .unwrap_or(DEFAULT_UNHEALTHY_REQUESTS_LIMIT);
        let interval = runner
            .unhealthy_interval
            .and_then(|interval| interval.to_std())
            .unwrap_or(DEFAULT_UNHEALTHY_INTERVAL);
        Self {
            failures: AtomicU32::new(0),
            limit,
            interval,
        }
    }

    fn healthy(&self) {
        self.failures.store(0, Ordering::SeqCst);
    }

    fn unhealthy(&self) {
        self.failures.fetch_add(1, Ordering::SeqCst);
    }

    fn reset(&self) {
        self.failures.store(0, Ordering::SeqCst);
    }

    fn pause_needed(&self) -> Option<Duration> {
        (self.failures.load(Ordering::SeqCst) >= self.limit).then_some(self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_unhealthy_answers_pause_the_runner() {
        let health = Health::new(&RunnerConfig::default());
        health.unhealthy();
        health.unhealthy();
        assert_eq!(health.pause_needed(), None);
        health.unhealthy();
        assert_eq!(health.pause_needed(), Some(DEFAULT_UNHEALTHY_INTERVAL));
        health.healthy();
        assert_eq!(health.pause_needed(), None);
    }
}
