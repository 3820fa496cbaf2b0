//! Running one stage under the job's deadlines and cancel signals.

use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, StageExit, StageScript, Target};
use crate::driver::Cancellation;
use crate::duration::format_go_duration;
use crate::outcome::{FailureReason, JobFailure};
use crate::script::bash::GeneratedScript;
use crate::stage::Stage;
use crate::trace::writer::TraceWriter;

/// Why a stage was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// The job was aborted.
    Abort,
    /// A graceful cancel during user steps.
    Graceful,
    /// The job timeout expired.
    JobTimeout,
    /// The stage's own deadline expired (prepare, get_sources, script or after_script timeout).
    StageTimeout,
}

/// The result of one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StageResult {
    Passed,
    Failed(JobFailure),
    Interrupted(Interrupt),
}

/// What a graceful cancel does to a stage (§1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnGraceful {
    /// Before the user steps: the cancel still targets the whole job.
    Abort,
    /// During the user steps: only the script stops.
    StopScript,
    /// After the user steps: no effect.
    Ignore,
}

/// Deadlines and signals that apply to one stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) job_deadline: Instant,
    pub(crate) stage_deadline: Option<Instant>,
    pub(crate) graceful: OnGraceful,
}

impl Limits {
    fn graceful_interrupt(self) -> Option<Interrupt> {
        match self.graceful {
            OnGraceful::Abort => Some(Interrupt::Abort),
            OnGraceful::StopScript => Some(Interrupt::Graceful),
            OnGraceful::Ignore => None,
        }
    }
}

/// Runs `script` as `stage` inside its section.
pub(crate) async fn run_stage<B: Backend>(
    backend: &B,
    session: &mut B::Session,
    trace: &mut TraceWriter,
    cancel: &Cancellation,
    markers: bool,
    script: StageScript,
    limits: Limits,
) -> StageResult {
    if let Some(interrupt) = interrupted(cancel, limits) {
        return StageResult::Interrupted(interrupt);
    }
    let id = script.stage.id();
    trace
        .section_start(&id, &script.stage.header(), markers)
        .await;
    let stop = CancellationToken::new();
    let mut reason = None;
    let stage_deadline = limits
        .stage_deadline
        .unwrap_or(limits.job_deadline)
        .min(limits.job_deadline);
    let result = {
        let future = backend.run_stage(session, &script, trace, stop.clone());
        tokio::pin!(future);
        loop {
            tokio::select! {
                biased;
                () = cancel.abort.cancelled(), if reason.is_none() => {
                    reason = Some(Interrupt::Abort);
                    stop.cancel();
                }
                () = cancel.graceful.cancelled(), if reason.is_none() && limits.graceful != OnGraceful::Ignore => {
                    reason = limits.graceful_interrupt();
                    stop.cancel();
                }
                () = sleep_until(stage_deadline), if reason.is_none() => {
                    reason = Some(if stage_deadline >= limits.job_deadline {
                        Interrupt::JobTimeout
                    } else {
                        Interrupt::StageTimeout
                    });
                    stop.cancel();
                }
                result = &mut future => break result,
            }
        }
    };
    if matches!(
        reason,
        Some(Interrupt::JobTimeout | Interrupt::StageTimeout)
    ) {
        trace
            .warning(&format!(
                "{id} could not run to completion because the timeout was exceeded. For more control over job \
                 and script timeouts see: https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts"
            ))
            .await;
    }
    trace.section_end(&id, markers).await;
    match (result, reason) {
        (Ok(StageExit::Success), _) => StageResult::Passed,
        (_, Some(interrupt)) => StageResult::Interrupted(interrupt),
        (Ok(StageExit::Stopped), None) => StageResult::Interrupted(Interrupt::Abort),
        (Ok(StageExit::Failed { exit_code, message }), None) => StageResult::Failed(JobFailure {
            reason: FailureReason::ScriptFailure,
            exit_code: Some(exit_code),
            message,
            bare: false,
        }),
        (Err(error), None) => {
            let reason = backend
                .failure_reason(&error)
                .unwrap_or(FailureReason::RunnerSystemFailure);
            match backend.bare_message(&error) {
                Some(message) => StageResult::Failed(JobFailure {
                    bare: true,
                    ..JobFailure::new(reason, message)
                }),
                None => StageResult::Failed(JobFailure::new(reason, error_chain(&error))),
            }
        }
    }
}

/// Whether the stage must be skipped because its context already ended.
pub(crate) fn interrupted(cancel: &Cancellation, limits: Limits) -> Option<Interrupt> {
    let now = Instant::now();
    if cancel.abort.is_cancelled() {
        Some(Interrupt::Abort)
    } else if now >= limits.job_deadline {
        Some(Interrupt::JobTimeout)
    } else if cancel.graceful.is_cancelled() && limits.graceful_interrupt().is_some() {
        limits.graceful_interrupt()
    } else if limits.stage_deadline.is_some_and(|d| now >= d) {
        Some(Interrupt::StageTimeout)
    } else {
        None
    }
}

/// `error: source: source...`, like Go's wrapped errors.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Job failed: canceled`.
pub(crate) fn canceled() -> JobFailure {
    JobFailure::new(FailureReason::JobCanceled, "canceled")
}

/// `execution took longer than 1h0m0s seconds`.
pub(crate) fn job_timeout(timeout: std::time::Duration) -> JobFailure {
    JobFailure::new(
        FailureReason::JobExecutionTimeout,
        format!(
            "execution took longer than {} seconds",
            format_go_duration(timeout)
        ),
    )
}

/// A stage script for `stage`.
pub(crate) fn script(
    stage: Stage,
    target: Target,
    generated: GeneratedScript,
    needs_helper_tools: bool,
) -> StageScript {
    StageScript {
        stage,
        target,
        script: generated.script,
        plan: generated.plan,
        needs_helper_tools,
    }
}
