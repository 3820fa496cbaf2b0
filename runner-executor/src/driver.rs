//! [`run_job`]: upstream's stage order and failure rules (executors.md §1), shared by all backends.

mod stage_run;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Target};
use crate::driver::stage_run::{
    Interrupt, Limits, OnGraceful, StageResult, canceled, error_chain, job_timeout, run_stage,
    script,
};
use crate::duration::{deadline_after, format_go_duration};
use crate::environment::Computed;
use crate::job::{JobSpec, Step};
use crate::layout::Layout;
use crate::outcome::{FailureReason, JobFailure, Outcome};
use crate::script::bash::GeneratedScript;
use crate::script::dialect::ScriptShell;
use crate::script::stages::ScriptContext;
use crate::settings::{GitStrategy, Settings};
use crate::stage::Stage;
use crate::trace::writer::TraceWriter;
use crate::variables::JobVariables;

/// The two cancel signals of a job (§1.6).
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    /// Abort (`Job-Status: canceled`, 403, runner shutdown): the current stage is stopped and
    /// nothing else runs except the backend's cleanup.
    pub abort: CancellationToken,
    /// Graceful cancel (`Job-Status: canceling`): stops the user steps only; after_script,
    /// on-failure uploads and cleanup still run. Before the user steps it acts as an abort.
    pub graceful: CancellationToken,
    /// Set when the abort comes from the runner process itself (SIGTERM/SIGINT): the job
    /// then fails with `aborted: <signal>` and reason `runner_interrupted`, not `canceled`.
    pub interruption: Interruption,
}

impl Cancellation {
    /// Only an abort token; graceful cancel never fires.
    pub fn abort_only(abort: CancellationToken) -> Self {
        Self {
            abort,
            graceful: CancellationToken::new(),
            interruption: Interruption::default(),
        }
    }

    /// The failure of a job stopped by a cancel or an abort: `aborted: terminated` when the
    /// runner process was interrupted (cli.md §2.3), otherwise `canceled`.
    pub(crate) fn failure(&self) -> JobFailure {
        match self.interruption.signal() {
            Some(signal) => JobFailure::new(
                FailureReason::RunnerInterrupted,
                format!("aborted: {signal}"),
            ),
            None => canceled(),
        }
    }
}

/// The signal that interrupted the runner process, shared by all its jobs: Go's name of
/// the signal (`terminated`, `interrupt`), recorded before the jobs' abort tokens fire.
#[derive(Debug, Clone, Default)]
pub struct Interruption(Arc<OnceLock<&'static str>>);

impl Interruption {
    /// Records `signal` (the first one wins).
    pub fn record(&self, signal: &'static str) {
        let _ = self.0.set(signal);
    }

    /// The recorded signal name, if the runner was interrupted.
    pub fn signal(&self) -> Option<&'static str> {
        self.0.get().copied()
    }
}

const PREPARE_ATTEMPTS: u32 = 3;
const SHELL_PROFILE_HINT: &str =
    "Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information";

/// Runs `job` on `backend`: header, `prepare_executor`, every stage in upstream's order, the
/// backend's cleanup, then the final `Job succeeded` / `ERROR: Job failed...` line; flushes `trace`.
///
/// Not an `async fn`: one keeps each by-value argument twice in its state (the argument
/// and its moved local) for as long as the job runs; here the spec is boxed (a caller's box
/// is kept) and the block holds it and the writer once.
pub fn run_job<B: Backend>(
    backend: &B,
    job: impl Into<Box<JobSpec>>,
    mut trace: TraceWriter,
    cancel: Cancellation,
) -> impl Future<Output = Outcome> + '_ {
    let job: Box<JobSpec> = job.into();
    async move {
        let job_deadline = deadline_after(job.timeout);
        if !trace.header_written() {
            write_header(&job, &mut trace).await;
        }
        let result = execute(backend, &job, &mut trace, &cancel, job_deadline).await;
        let outcome = match result {
            Ok(()) => {
                trace.info("Job succeeded").await;
                Outcome::Success
            }
            Err(failure) => {
                trace.error(&failure.trace_line()).await;
                Outcome::Failed(failure)
            }
        };
        trace.finish().await;
        outcome
    }
}

/// Writes the log's `Running with gitlab-runner-rs ...` header and sets it written. For a
/// caller with work to log before the executor starts, as upstream logs secrets resolution
/// after the header: it then gives [`run_job`] a writer built with
/// [`TraceWriterBuilder::header_written`](crate::TraceWriterBuilder::header_written).
pub async fn write_header(job: &JobSpec, trace: &mut TraceWriter) {
    let runner = &job.runner;
    trace
        .plain(&format!(
            "Running with gitlab-runner-rs {} ({})",
            runner.version, runner.revision
        ))
        .await;
    let mut on = format!("  on {} {}", runner.name, runner.short_token);
    if !runner.system_id.is_empty() {
        on.push_str(&format!(", system ID: {}", runner.system_id));
    }
    trace.plain(&on).await;
    if !runner.feature_flags.is_empty() {
        let flags: Vec<String> = runner
            .feature_flags
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        trace
            .plain(&format!("  feature flags: {}", flags.join(", ")))
            .await;
    }
    trace.set_header_written();
}

/// Everything between the header and the final line.
async fn execute<B: Backend>(
    backend: &B,
    job: &JobSpec,
    trace: &mut TraceWriter,
    cancel: &Cancellation,
    job_deadline: Instant,
) -> Result<(), JobFailure> {
    let defaults = backend.defaults(job);
    // A backend whose preparation decides the layout may leave it unconfigured until then.
    let initial = match Computed::new(job, &defaults) {
        Ok(computed) => Some(computed),
        Err(_) if backend.layout_after_prepare() => None,
        Err(failure) => return Err(failure),
    };
    if let Some(computed) = &initial {
        for warning in &computed.settings.warnings {
            trace.warning(warning).await;
        }
    }
    let markers = job.features.trace_sections;
    trace
        .section_start(
            "prepare_executor",
            &format!("Preparing the \"{}\" executor", defaults.name),
            markers,
        )
        .await;
    let prepared = prepare(backend, job, trace, cancel, job_deadline).await;
    trace.section_end("prepare_executor", markers).await;
    let mut session = prepared?;
    let adjusted = backend
        .prepared_job(&session)
        .map(|prepared| (prepared.apply(job, &defaults), prepared.hostname));
    let (job, computed) = match (&adjusted, initial) {
        (Some(((adjusted_job, adjusted_defaults), hostname)), _) => {
            match Computed::new(adjusted_job, adjusted_defaults) {
                Ok(mut computed) => {
                    computed.layout.hostname = hostname.clone().filter(|h| !h.is_empty());
                    (adjusted_job, computed)
                }
                Err(failure) => {
                    backend.cleanup(session, trace).await;
                    return Err(failure);
                }
            }
        }
        (None, Some(computed)) => (job, computed),
        (None, None) => {
            let failure = Computed::new(job, &defaults).err();
            backend.cleanup(session, trace).await;
            return Err(failure.unwrap_or_else(|| {
                JobFailure::new(
                    FailureReason::RunnerConfigurationError,
                    "the builds_dir is not configured",
                )
            }));
        }
    };
    let Computed {
        layout,
        mut variables,
        settings,
    } = computed;
    let mut run = Run {
        backend,
        job,
        trace,
        cancel,
        job_deadline,
        markers,
        layout: &layout,
        settings: &settings,
        shell: backend.script_shell(job),
    };
    let result = run
        .stages(&mut session, &mut variables, defaults.scrub_git_config)
        .await;
    backend.cleanup(session, trace).await;
    result
}

async fn prepare<B: Backend>(
    backend: &B,
    job: &JobSpec,
    trace: &mut TraceWriter,
    cancel: &Cancellation,
    job_deadline: Instant,
) -> Result<B::Session, JobFailure> {
    let prepare_timeout = clamp_timeout(job.runner.prepare_timeout, job.timeout);
    let prepare_deadline = deadline_after(prepare_timeout).min(job_deadline);
    let timeout_failure = || {
        JobFailure::new(
            FailureReason::JobExecutionTimeout,
            format!(
                "prepare timeout: exceeded timeout of {}",
                format_go_duration(prepare_timeout)
            ),
        )
    };
    let mut attempt = 1;
    loop {
        let result = tokio::select! {
            biased;
            () = cancel.abort.cancelled() => return Err(cancel.failure()),
            () = cancel.graceful.cancelled() => return Err(cancel.failure()),
            () = sleep_until(prepare_deadline) => return Err(timeout_failure()),
            result = backend.prepare(job, trace) => result,
        };
        let error = match result {
            Ok(session) => return Ok(session),
            Err(error) => error,
        };
        let message = error_chain(&error);
        if let Some(reason) = backend.failure_reason(&error) {
            return Err(JobFailure::new(reason, message));
        }
        // Like upstream, every failed attempt is reported and waited for, the last one too
        // (scenario 48 shows three `Preparation failed` lines before the job fails).
        trace.error(&format!("Preparation failed: {message}")).await;
        let delay = job.runner.prepare_retry_delay;
        trace
            .plain(&format!(
                "Will be retried in {} ...",
                format_go_duration(delay)
            ))
            .await;
        tokio::select! {
            biased;
            () = cancel.abort.cancelled() => return Err(cancel.failure()),
            () = cancel.graceful.cancelled() => return Err(cancel.failure()),
            () = sleep_until(prepare_deadline) => return Err(timeout_failure()),
            () = sleep(delay) => {}
        }
        if attempt >= PREPARE_ATTEMPTS {
            return Err(JobFailure::new(FailureReason::RunnerSystemFailure, message));
        }
        attempt += 1;
    }
}

/// `None`, zero or longer than the job: the job timeout.
fn clamp_timeout(configured: Option<Duration>, job_timeout: Duration) -> Duration {
    match configured {
        Some(timeout) if !timeout.is_zero() && timeout <= job_timeout => timeout,
        _ => job_timeout,
    }
}

/// State shared by the stages of one job.
struct Run<'a, B: Backend> {
    backend: &'a B,
    job: &'a JobSpec,
    trace: &'a mut TraceWriter,
    cancel: &'a Cancellation,
    job_deadline: Instant,
    markers: bool,
    layout: &'a Layout,
    settings: &'a Settings,
    shell: ScriptShell,
}

mod flow;

impl<B: Backend> Run<'_, B> {
    fn context<'v>(&'v self, variables: &'v JobVariables) -> ScriptContext<'v> {
        ScriptContext {
            job: self.job,
            layout: self.layout,
            variables,
            settings: self.settings,
            shell: self.shell,
        }
    }

    fn limits(&self, stage_deadline: Option<Instant>, graceful: OnGraceful) -> Limits {
        Limits {
            job_deadline: self.job_deadline,
            stage_deadline,
            graceful,
        }
    }

    async fn stage(
        &mut self,
        session: &mut B::Session,
        stage: Stage,
        target: Target,
        body: GeneratedScript,
        limits: Limits,
    ) -> StageResult {
        let needs_helper_tools = self.needs_helper_tools(&stage);
        run_stage(
            self.backend,
            session,
            self.trace,
            self.cancel,
            self.markers,
            script(stage, target, body, needs_helper_tools),
            limits,
        )
        .await
    }

    /// Whether `stage` runs git or the helper binary: sources fetched with git, and the cache
    /// and artifact stages. Everything else only needs a shell.
    fn needs_helper_tools(&self, stage: &Stage) -> bool {
        match stage {
            Stage::GetSources => matches!(
                self.settings.git_strategy,
                GitStrategy::Fetch | GitStrategy::Clone
            ),
            Stage::RestoreCache
            | Stage::DownloadArtifacts
            | Stage::ArchiveCache
            | Stage::ArchiveCacheOnFailure
            | Stage::UploadArtifactsOnSuccess
            | Stage::UploadArtifactsOnFailure => true,
            _ => false,
        }
    }

    /// The failure that ends the job when a whole-job interrupt happened.
    fn interrupt_failure(&self, interrupt: Interrupt) -> JobFailure {
        match interrupt {
            Interrupt::JobTimeout => job_timeout(self.job.timeout),
            Interrupt::Abort => self.cancel.failure(),
            Interrupt::Graceful | Interrupt::StageTimeout => canceled(),
        }
    }

    fn user_steps(&self) -> impl Iterator<Item = &Step> {
        self.job.steps.iter().filter(|s| s.name != "after_script")
    }
}
