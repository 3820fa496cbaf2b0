//! Running one received job to its final update: commit, build the `JobSpec`, stream the
//! trace, execute, report. Whatever happens after the job was received, the coordinator
//! hears how it ended (ARCHITECTURE.md, "nothing is lost").

use std::sync::Arc;
use std::time::Instant;

use runner_api::{
    Client, CommitOutcome, JobResponse, JobResult, JobTrace, RunnerInfo, TraceOptions,
};
use runner_config::RunnerConfig;
use runner_executor::{Cancellation, CancellationToken, FailureReason, Outcome, TraceWriter};
use runner_metrics::{Metrics, RunnerLabels};
use tracing::Instrument;

use crate::executors::JobExecutor;
use crate::job_spec::{self, RunnerIdentity};

/// Everything a job needs from the runner entry that received it.
#[derive(Clone)]
pub(crate) struct JobContext {
    /// The coordinator client of the runner entry.
    pub(crate) client: Client,
    /// The `info` object of the runner entry.
    pub(crate) info: RunnerInfo,
    /// The runner entry as it was when the job was received.
    pub(crate) runner: Arc<RunnerConfig>,
    /// This runner manager's system id.
    pub(crate) system_id: String,
    /// Fired on SIGTERM/SIGINT: running jobs are aborted and reported.
    pub(crate) abort: CancellationToken,
    /// Metrics of the process, with this runner's labels.
    pub(crate) metrics: Option<(Metrics, RunnerLabels)>,
}

/// How a job ended, for the caller's log and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobEnd {
    /// The coordinator dropped the job at commit (403, 404, canceled): nothing ran.
    Dropped,
    /// The job ran and succeeded.
    Succeeded,
    /// The job failed with this wire failure reason.
    Failed(String),
}

/// Runs `job` to its final update. `concurrent_id` is the job's slot number.
pub(crate) async fn process(context: JobContext, job: JobResponse, concurrent_id: u32) -> JobEnd {
    let span = tracing::info_span!("job", job = job.id, runner = %context.runner.short_token());
    process_in_span(context, job, concurrent_id)
        .instrument(span)
        .await
}

async fn process_in_span(context: JobContext, job: JobResponse, concurrent_id: u32) -> JobEnd {
    let started = Instant::now();
    let job_id = job.id;
    tracing::info!(
        job = job_id,
        runner = %context.runner.short_token(),
        project = job.job_info.project_id,
        repo_url = %strip_userinfo(&job.git_info.repo_url),
        "Added job to processing list"
    );
    let end = match context
        .client
        .commit_job(job.id, &job.token, &context.info)
        .await
    {
        CommitOutcome::Abort => JobEnd::Dropped,
        CommitOutcome::Canceling => {
            report_without_running(&context, &job, FailureReason::JobCanceled).await
        }
        CommitOutcome::Run => run(&context, &job, concurrent_id).await,
    };
    let duration = started.elapsed();
    match &end {
        JobEnd::Succeeded => tracing::info!(
            job = job_id,
            duration_s = duration.as_secs_f64(),
            "Job succeeded"
        ),
        JobEnd::Failed(reason) => {
            tracing::warn!(job = job_id, failure_reason = %reason, "Job failed")
        }
        JobEnd::Dropped => tracing::info!(job = job_id, "Job was canceled before it started"),
    }
    tracing::info!(job = job_id, "Removed job from processing list");
    end
}

/// Executes a committed job and sends its final update.
async fn run(context: &JobContext, job: &JobResponse, concurrent_id: u32) -> JobEnd {
    let started = Instant::now();
    let identity = RunnerIdentity {
        system_id: context.system_id.clone(),
        concurrent_id,
    };
    let spec = job_spec::from_wire(job, &context.runner, &identity);
    let running = context.metrics.as_ref().map(|(metrics, labels)| {
        metrics
            .jobs()
            .job_started(labels, job_url(&context.runner.url, job))
    });
    let (output, receiver) = tokio::sync::mpsc::channel(64);
    let trace = JobTrace::start(
        context.client.clone(),
        job,
        context.info.clone(),
        receiver,
        TraceOptions::default(),
    );
    let writer = TraceWriter::builder(output).job(&spec).build();

    // The job stops on the coordinator's abort (canceled, 403) and on the runner's own
    // SIGTERM/SIGINT; `canceling` only stops the user script (after_script still runs).
    let abort = context.abort.child_token();
    let forward = forward_cancel(trace.abort_token(), abort.clone());
    let cancellation = Cancellation {
        abort: abort.clone(),
        graceful: trace.cancel_token(),
    };
    let executor = JobExecutor::for_runner(&context.runner);
    let outcome = executor.run(spec, writer, cancellation).await;
    abort.cancel();
    let _ = forward.await;

    let (result, end) = match &outcome {
        Outcome::Success => (JobResult::success(), JobEnd::Succeeded),
        Outcome::Failed(failure) => {
            let reason = if context.abort.is_cancelled() {
                FailureReason::RunnerInterrupted
            } else {
                failure.reason
            };
            let wire_reason = reason.to_wire(&job.features.failure_reasons).to_owned();
            (
                JobResult::failed(wire_reason.clone(), failure.exit_code),
                JobEnd::Failed(wire_reason),
            )
        }
    };
    send_final_update(trace, job.id, result).await;
    if let Some(running) = running {
        let reason = match &end {
            JobEnd::Failed(reason) => Some(metrics_reason(reason)),
            _ => None,
        };
        running.finish(reason, started.elapsed());
    }
    end
}

/// Reports a job that must not run (canceled before it started) through the normal
/// final-update path, so the coordinator still receives a trace and a state.
async fn report_without_running(
    context: &JobContext,
    job: &JobResponse,
    reason: FailureReason,
) -> JobEnd {
    let (output, receiver) = tokio::sync::mpsc::channel(4);
    let trace = JobTrace::start(
        context.client.clone(),
        job,
        context.info.clone(),
        receiver,
        TraceOptions::default(),
    );
    drop(output);
    let wire_reason = reason.to_wire(&job.features.failure_reasons).to_owned();
    send_final_update(trace, job.id, JobResult::failed(wire_reason.clone(), None)).await;
    JobEnd::Failed(wire_reason)
}

/// Sends the final update; a failure here is logged, the job is over either way.
async fn send_final_update(trace: JobTrace, job_id: u64, result: JobResult) {
    if let Err(error) = trace.finish(result).await {
        tracing::error!(job = job_id, error = %error, "Final job update failed");
    }
}

/// Cancels `to` when `from` fires; ends when either has fired.
async fn forward_cancel(from: CancellationToken, to: CancellationToken) {
    tokio::select! {
        _ = from.cancelled() => to.cancel(),
        _ = to.cancelled() => {}
    }
}

fn job_url(base: &str, job: &JobResponse) -> String {
    format!(
        "{}/{}/-/jobs/{}",
        base.trim_end_matches('/'),
        job.job_info.project_full_path,
        job.id
    )
}

fn metrics_reason(wire: &str) -> runner_metrics::FailureReason {
    use runner_metrics::FailureReason as Reason;
    match wire {
        "runner_system_failure" => Reason::RunnerSystemFailure,
        "job_execution_timeout" => Reason::JobExecutionTimeout,
        "image_pull_failure" => Reason::ImagePullFailure,
        "script_failure" => Reason::ScriptFailure,
        _ => Reason::UnknownFailure,
    }
}

/// A repository URL without its `user:password@` part, for logs.
pub(crate) fn strip_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => String::from("<invalid url>"),
    }
}
