//! Running one received job to its final update: commit, build the `JobSpec`, stream the
//! trace, execute, report. Whatever happens after the job was received, the coordinator
//! hears how it ended (ARCHITECTURE.md, "nothing is lost").

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use runner_api::{
    Client, CommitOutcome, JobResponse, JobResult, JobTrace, PartialJob, RunnerInfo, TraceOptions,
};
use runner_config::RunnerConfig;
use runner_executor::{
    Cancellation, CancellationToken, FailureReason, Interruption, JobFailure, Outcome, TraceWriter,
    TraceWriterBuilder,
};
use runner_metrics::{Metrics, RunnerLabels};
use tracing::Instrument;

use crate::executors::JobExecutor;
use crate::job_refusal::{self, Refusal};
use crate::job_secrets;
use crate::job_spec::{self, RunnerIdentity};

/// Everything a job needs from the runner entry that received it.
#[derive(Clone)]
pub struct JobContext {
    /// The coordinator client of the runner entry.
    pub client: Client,
    /// The `info` object of the runner entry.
    pub info: RunnerInfo,
    /// The runner entry as it was when the job was received.
    pub runner: Arc<RunnerConfig>,
    /// IAM credentials of the entry's S3 cache (`AuthenticationType = "iam"`), kept with the
    /// entry so they are fetched once and refreshed before they expire.
    pub cache_credentials: Option<Arc<runner_artifacts::CredentialsProvider>>,
    /// The entry's executor, built once from `runner` (at start and on each reload that
    /// changes the entry), so its configuration problems are reported once, not per job.
    pub executor: Arc<JobExecutor>,
    /// This runner manager's system id.
    pub system_id: String,
    /// Fired on SIGTERM/SIGINT: running jobs are aborted and reported.
    pub abort: CancellationToken,
    /// The signal behind `abort`, for the jobs' `aborted: <signal>` line.
    pub interruption: Interruption,
    /// Where each job's log is kept once the coordinator acknowledged it (the runner's
    /// temporary directory), so a long log never sits in memory.
    pub trace_dir: Option<PathBuf>,
    /// Metrics of the process, with this runner's labels.
    pub metrics: Option<(Metrics, RunnerLabels)>,
}

/// How a job ended, for the caller's log and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The coordinator dropped the job at commit (403, 404, canceled): nothing ran.
    Dropped,
    /// The job ran and succeeded.
    Succeeded,
    /// The job failed for this reason (the coordinator may have been sent an older one, see
    /// [`FailureReason::to_wire`]).
    Failed(FailureReason),
}

/// A job's numbers within its runner (upstream-details.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobNumbers {
    /// `CI_CONCURRENT_ID`: the job's slot among the runner's running jobs.
    pub concurrent_id: u32,
    /// `CI_CONCURRENT_PROJECT_ID`: its slot among the runner's running jobs of its project.
    pub concurrent_project_id: u32,
}

/// Runs `job` to its final update.
///
/// The payload is boxed before the future is built: an `async fn` keeps a by-value argument
/// twice in its state (the argument and its moved local), at each layer it is passed down,
/// and every running job holds that state.
pub fn process(
    context: &JobContext,
    job: impl Into<Box<JobResponse>>,
    numbers: JobNumbers,
) -> impl Future<Output = JobEnd> + Send + '_ {
    let job: Box<JobResponse> = job.into();
    let span = tracing::info_span!("job", job = job.id, runner = %context.runner.short_token());
    process_in_span(context, job, numbers).instrument(span)
}

/// [`process`] with a last net under it: a panic outside what `run` contains (the trace
/// sender, the final update) still ends with the job reported failed, the panic in its log.
pub fn process_contained(
    context: &JobContext,
    job: impl Into<Box<JobResponse>>,
    numbers: JobNumbers,
) -> impl Future<Output = JobEnd> + Send + '_ {
    let job: Box<JobResponse> = job.into();
    let partial = PartialJob {
        id: job.id,
        token: job.token.clone(),
    };
    async move {
        match AssertUnwindSafe(process(context, job, numbers))
            .catch_unwind()
            .await
        {
            Ok(end) => end,
            Err(panic) => {
                let failure = panic_failure("processing the job", &*panic);
                Box::pin(report_failure(context, &partial, &failure)).await
            }
        }
    }
}

/// Reports a job that cannot run (its payload did not decode, or its processing panicked):
/// committed like any job, then failed with `failure`'s line as its log, so the user sees
/// why. The line must hold no payload value, since nothing masks it but token prefixes.
pub async fn report_failure(
    context: &JobContext,
    partial: &PartialJob,
    failure: &JobFailure,
) -> JobEnd {
    let job = JobResponse {
        id: partial.id,
        token: partial.token.clone(),
        ..JobResponse::default()
    };
    if context
        .client
        .commit_job(job.id, &job.token, &context.info)
        .await
        == CommitOutcome::Abort
    {
        return JobEnd::Dropped;
    }
    let (output, trace) = start_trace(context, &job, 4, TraceOptions::default());
    write_final_line(TraceWriter::builder(output).build(), failure).await;
    let wire_reason = failure.reason.to_wire(&[]).to_owned();
    send_final_update(
        trace,
        job.id,
        JobResult::failed(wire_reason, failure.exit_code),
    )
    .await;
    JobEnd::Failed(failure.reason)
}

async fn process_in_span(
    context: &JobContext,
    mut job: Box<JobResponse>,
    numbers: JobNumbers,
) -> JobEnd {
    let started = Instant::now();
    let job_id = job.id;
    tracing::info!(
        job = job_id,
        runner = %context.runner.short_token(),
        project = job.job_info.project_id,
        repo_url = %strip_userinfo(&job.git_info.repo_url),
        "Added job to processing list"
    );
    // Checked before the commit, as upstream validates a job at pick-up (coordinator-api.md
    // §13 vector 25: no `state=running` for a job that cannot run).
    let end = match job_refusal::refusal(&job, context.runner.executor) {
        Some(refusal) => report_refused(context, &job, refusal).await,
        None => {
            let commit = context
                .client
                .commit_job(job.id, &job.token, &context.info)
                .await;
            match commit {
                CommitOutcome::Abort => JobEnd::Dropped,
                CommitOutcome::Canceling => {
                    report_without_running(context, &job, FailureReason::JobCanceled).await
                }
                CommitOutcome::Run => run(context, &mut job, numbers).await,
            }
        }
    };
    let duration = started.elapsed();
    match &end {
        JobEnd::Succeeded => tracing::info!(
            job = job_id,
            duration_s = duration.as_secs_f64(),
            "Job succeeded"
        ),
        JobEnd::Failed(reason) => {
            tracing::warn!(job = job_id, failure_reason = reason.as_str(), "Job failed")
        }
        JobEnd::Dropped => tracing::info!(job = job_id, "Job was canceled before it started"),
    }
    tracing::info!(job = job_id, "Removed job from processing list");
    end
}

/// Executes a committed job and sends its final update. A panic anywhere on the way is
/// contained here: the job is reported as a system failure with the panic in its log.
async fn run(context: &JobContext, job: &mut JobResponse, numbers: JobNumbers) -> JobEnd {
    let started = Instant::now();
    let running = context.metrics.as_ref().map(|(metrics, labels)| {
        metrics
            .jobs()
            .job_started(labels, job_url(&context.runner.url, job))
    });
    let (output, trace) = start_trace(context, job, 64, trace_options(context));
    let outcome = prepare_and_execute(context, job, numbers, output, &trace).await;

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
                JobResult::failed(wire_reason, failure.exit_code),
                JobEnd::Failed(reason),
            )
        }
    };
    let mut result = result;
    // Sent back as upstream does; nothing here suspends an environment (see job_refusal).
    let key = &job.suspend_options.runtime_environment_key;
    result.runtime_environment_key = (!key.is_empty()).then(|| key.clone());
    send_final_update(trace, job.id, result).await;
    if let Some(running) = running {
        let reason = match &end {
            JobEnd::Failed(reason) => Some(*reason),
            _ => None,
        };
        running.finish(reason, started.elapsed());
    }
    end
}

/// Builds the job's spec and runs it; a panic while building is a system failure.
async fn prepare_and_execute(
    context: &JobContext,
    job: &mut JobResponse,
    numbers: JobNumbers,
    output: tokio::sync::mpsc::Sender<bytes::Bytes>,
    trace: &JobTrace,
) -> Outcome {
    let identity = RunnerIdentity {
        system_id: context.system_id.clone(),
        concurrent_id: numbers.concurrent_id,
        concurrent_project_id: numbers.concurrent_project_id,
    };
    // Boxed, and the cache settings scoped: what an async fn holds across an await stays
    // in every running job's state (see `process`).
    let built = {
        let cache = cache_settings(context).await;
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            Box::new(job_spec::from_wire_with_cache(
                job,
                &context.runner,
                &identity,
                &cache,
            ))
        }))
    };
    match built {
        Ok(mut spec) => {
            // Only a job with secrets pays for a second writer (its masking tables). As
            // upstream, the log's header comes first, then the secrets' section.
            let header_written = !job.secrets.is_empty();
            if header_written {
                let mut writer = TraceWriter::builder(output.clone()).job(&spec).build();
                runner_executor::write_header(&spec, &mut writer).await;
                if let Err(failure) =
                    Box::pin(job_secrets::resolve_into(job, &mut spec, &mut writer)).await
                {
                    write_final_line(writer, &failure).await;
                    return Outcome::Failed(failure);
                }
                writer.flush().await;
            }
            shed_built_parts(job);
            execute(context, spec, output, trace, header_written).await
        }
        Err(panic) => {
            // Without a spec there is nothing to mask with; the line holds no payload value.
            let failure = panic_failure("preparing the job", &*panic);
            write_final_line(TraceWriter::builder(output).build(), &failure).await;
            Outcome::Failed(failure)
        }
    }
}

/// Frees the payload's parts the spec now holds a copy of, for as long as the job runs: its
/// variables (about a hundred on GitLab, the largest part), steps and dependencies. What
/// is left (id, token, features, suspend options) is what the final update reads.
fn shed_built_parts(job: &mut JobResponse) {
    job.variables = Vec::new();
    job.steps = Vec::new();
    job.dependencies = Vec::new();
}

/// The runner entry's cache settings for a job, with IAM credentials (cached by the entry's
/// provider, fetched again near their expiry) when `[runners.cache.s3]` uses them. A
/// credential failure is logged and leaves the cache without URLs, so the job runs with its
/// cache local, as upstream does when it cannot sign.
async fn cache_settings(context: &JobContext) -> runner_artifacts::CacheSettings {
    let mut settings = crate::transfer_scripts::runner_cache_settings(&context.runner);
    // Boxed, as the secrets' resolution below: a rare path, kept out of every job's task.
    if let Some(provider) = &context.cache_credentials
        && let Err(error) =
            Box::pin(settings.resolve_credentials(provider, std::time::SystemTime::now())).await
    {
        tracing::warn!(runner = %context.runner.short_token(), error = %error, "cache credentials could not be resolved; the cache stays local");
    }
    settings
}

async fn refuse(mut writer: TraceWriter, refusal: Refusal) -> Outcome {
    if refusal.raw {
        writer.plain(&refusal.failure.message).await;
        writer.finish().await;
    } else {
        write_final_line(writer, &refusal.failure).await;
    }
    Outcome::Failed(refusal.failure)
}

/// Runs the job's stages on its executor, writing its log into `output`.
async fn execute(
    context: &JobContext,
    spec: Box<runner_executor::JobSpec>,
    output: tokio::sync::mpsc::Sender<bytes::Bytes>,
    trace: &JobTrace,
    header_written: bool,
) -> Outcome {
    // Kept for a panic: the executor's writer is lost with it, and the line that says why
    // the job failed must still be masked like the rest of the log.
    let after_panic = TraceWriter::builder(output.clone()).job(&spec);
    let mut writer = TraceWriter::builder(output).job(&spec);
    if header_written {
        writer = writer.header_written();
    }
    let writer = writer.build();

    // The job stops on the coordinator's abort (canceled, 403) and on the runner's own
    // SIGTERM/SIGINT; `canceling` only stops the user script (after_script still runs).
    let abort = context.abort.child_token();
    let forward = forward_cancel(trace.abort_token(), abort.clone());
    let cancellation = Cancellation {
        abort: abort.clone(),
        graceful: trace.cancel_token(),
        interruption: context.interruption.clone(),
    };
    let executor = &context.executor;
    // Boxed by `run`, each executor's at its own size: the layers around it stay small.
    let run = executor.run(spec, writer, cancellation);
    let outcome = contain_panics(run, after_panic).await;
    abort.cancel();
    let _ = forward.await;
    outcome
}

/// Awaits a job's run; a panic in it becomes a system failure whose line, written with
/// `after_panic` (masking like the job's own writer), ends the job's log.
async fn contain_panics(
    run: impl Future<Output = Outcome>,
    after_panic: TraceWriterBuilder,
) -> Outcome {
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let failure = panic_failure("running the job", &*panic);
            write_final_line(after_panic.build(), &failure).await;
            Outcome::Failed(failure)
        }
    }
}

/// The system failure for a caught panic: `panic while running the job: <message>`.
fn panic_failure(during: &str, panic: &(dyn Any + Send)) -> JobFailure {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    tracing::error!("a job task panicked; the job is reported failed as a system failure");
    JobFailure::new(
        FailureReason::RunnerSystemFailure,
        format!("panic while {during}: {message}"),
    )
}

/// Writes `ERROR: Job failed (system failure): ...` as the log's last line.
async fn write_final_line(mut writer: TraceWriter, failure: &JobFailure) {
    writer.error(&failure.trace_line()).await;
    writer.finish().await;
}

/// Starts sending `job`'s trace to the coordinator; the returned sender is what the job's
/// writers write into (`capacity` chunks may wait in it).
fn start_trace(
    context: &JobContext,
    job: &JobResponse,
    capacity: usize,
    options: TraceOptions,
) -> (tokio::sync::mpsc::Sender<bytes::Bytes>, JobTrace) {
    let (output, receiver) = tokio::sync::mpsc::channel(capacity);
    let trace = JobTrace::start(
        context.client.clone(),
        job,
        context.info.clone(),
        receiver,
        options,
    );
    (output, trace)
}

/// The trace settings of every job of this process.
fn trace_options(context: &JobContext) -> TraceOptions {
    TraceOptions {
        spill_dir: context.trace_dir.clone(),
        ..TraceOptions::default()
    }
}

/// Reports a job that must not run (canceled before it started) through the normal
/// final-update path, so the coordinator still receives a trace and a state.
/// Fails a job refused at pick-up: its log says why, then the final update, without a
/// `state=running` commit before.
async fn report_refused(context: &JobContext, job: &JobResponse, refusal: Refusal) -> JobEnd {
    let (output, trace) = start_trace(context, job, 4, trace_options(context));
    let exit_code = refusal.failure.exit_code;
    let reason = refusal.failure.reason;
    refuse(TraceWriter::builder(output).build(), refusal).await;
    count_unstarted_failure(context, job, reason);
    let wire_reason = reason.to_wire(&job.features.failure_reasons).to_owned();
    send_final_update(trace, job.id, JobResult::failed(wire_reason, exit_code)).await;
    JobEnd::Failed(reason)
}

async fn report_without_running(
    context: &JobContext,
    job: &JobResponse,
    reason: FailureReason,
) -> JobEnd {
    let (output, trace) = start_trace(context, job, 4, trace_options(context));
    drop(output);
    count_unstarted_failure(context, job, reason);
    let wire_reason = reason.to_wire(&job.features.failure_reasons).to_owned();
    send_final_update(trace, job.id, JobResult::failed(wire_reason, None)).await;
    JobEnd::Failed(reason)
}

/// Counts a job that failed without running (refused at pick-up, canceled at its commit)
/// under its own `failure_reason`, as a job that ran is counted when it ends.
fn count_unstarted_failure(context: &JobContext, job: &JobResponse, reason: FailureReason) {
    if let Some((metrics, labels)) = &context.metrics {
        metrics
            .jobs()
            .job_started(labels, job_url(&context.runner.url, job))
            .finish(Some(reason), std::time::Duration::ZERO);
    }
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

/// A repository URL without its `user:password@` part, for logs.
pub fn strip_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => String::from("<invalid url>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn received(mut receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> String {
        let mut text = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            text.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    #[tokio::test]
    async fn a_panicking_job_becomes_a_system_failure_with_the_panic_in_its_log() {
        let (output, receiver) = tokio::sync::mpsc::channel(8);
        let after_panic = TraceWriter::builder(output).mask_values(["hunter2"]);
        let outcome = contain_panics(
            async { panic!("attempt to add with overflow near hunter2") },
            after_panic,
        )
        .await;
        let Outcome::Failed(failure) = outcome else {
            panic!("a panic must fail the job");
        };
        assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
        assert!(failure.message.contains("attempt to add with overflow"));
        let log = received(receiver).await;
        assert!(
            log.contains("ERROR: Job failed (system failure): panic while running the job"),
            "{log}"
        );
        assert!(
            log.contains("[MASKED]") && !log.contains("hunter2"),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_job_that_does_not_panic_keeps_its_outcome() {
        let (output, receiver) = tokio::sync::mpsc::channel(8);
        let outcome =
            contain_panics(async { Outcome::Success }, TraceWriter::builder(output)).await;
        assert_eq!(outcome, Outcome::Success);
        assert_eq!(received(receiver).await, "");
    }
}
