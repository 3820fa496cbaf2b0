//! The stage sequence after `prepare_executor` (executors.md §1.3–§1.6).

use tokio::time::{Instant, sleep};

use crate::backend::{Backend, Target};
use crate::driver::Run;
use crate::driver::stage_run::{Interrupt, OnGraceful, StageResult, canceled};
use crate::outcome::{FailureReason, JobFailure};
use crate::stage::Stage;
use crate::variables::JobVariables;

const PROFILE_HINT: &str = super::SHELL_PROFILE_HINT;

impl<B: Backend> Run<'_, B> {
    /// Runs the stages; `Ok` means the job succeeded.
    pub(super) async fn stages(
        &mut self,
        session: &mut B::Session,
        variables: &mut JobVariables,
        scrub_git_config: bool,
    ) -> Result<(), JobFailure> {
        // 1. prepare_script: any failure ends the job at once.
        let started = Instant::now();
        let prepare_timeout =
            super::clamp_timeout(self.job.runner.prepare_timeout, self.job.timeout);
        let body = self.context(variables).prepare_script();
        let limits = self.limits(Some(started + prepare_timeout), OnGraceful::Abort);
        match self
            .stage(session, Stage::PrepareScript, Target::Helper, body, limits)
            .await
        {
            StageResult::Passed => {}
            StageResult::Failed(mut failure) => {
                failure.message =
                    format!("prepare environment: {}. {PROFILE_HINT}", failure.message);
                return Err(failure);
            }
            StageResult::Interrupted(Interrupt::StageTimeout) => {
                return Err(timeout_failure("prepare", prepare_timeout));
            }
            StageResult::Interrupted(interrupt) => return Err(self.interrupt_failure(interrupt)),
        }

        // 2. get_sources with its attempts; 3-4. cache and artifacts (issue #5).
        let mut error = self
            .get_sources(session, variables, scrub_git_config)
            .await?;
        if error.is_none() {
            self.not_supported(
                Stage::RestoreCache,
                self.job.cache.iter().any(|c| c.has_content()),
                "Restoring cache",
            )
            .await?;
            let has_dependencies = self
                .job
                .dependencies
                .iter()
                .any(|d| !d.artifacts_filename.is_empty());
            self.not_supported(
                Stage::DownloadArtifacts,
                has_dependencies,
                "Downloading artifacts",
            )
            .await?;
        }

        // 5. user steps, then after_script.
        if error.is_none() {
            error = self.user_steps_and_after_script(session, variables).await?;
        }

        // 6. cache archive and artifact upload, chosen by "is there an error so far".
        let failed = error.is_some();
        let (cache_stage, upload_stage) = if failed {
            (
                Stage::ArchiveCacheOnFailure,
                Stage::UploadArtifactsOnFailure,
            )
        } else {
            (Stage::ArchiveCache, Stage::UploadArtifactsOnSuccess)
        };
        let caches = self
            .job
            .cache
            .iter()
            .any(|c| c.has_content() && c.when.applies(failed) && c.policy != "pull");
        self.not_supported(cache_stage, caches, "Saving cache")
            .await?;
        let uploads = self
            .job
            .artifacts
            .iter()
            .any(|a| a.has_content() && a.when.applies(failed));
        self.not_supported(upload_stage, uploads, "Uploading artifacts")
            .await?;

        // 8. cleanup_file_variables: failures only reach the runner's log.
        let body = self.context(variables).cleanup_file_variables();
        let limits = self.limits(None, OnGraceful::Ignore);
        match self
            .stage(
                session,
                Stage::CleanupFileVariables,
                Target::Helper,
                body,
                limits,
            )
            .await
        {
            StageResult::Passed => {}
            StageResult::Failed(failure) => {
                tracing::warn!(job_id = self.job.id, error = %failure.message, "cleanup_file_variables failed");
            }
            StageResult::Interrupted(Interrupt::Graceful | Interrupt::StageTimeout) => {}
            StageResult::Interrupted(interrupt) => return Err(self.interrupt_failure(interrupt)),
        }
        error.map_or(Ok(()), Err)
    }

    /// `get_sources` (and `clear_worktree` before a retry). `Err` ends the job; `Ok(Some)` is a
    /// job error after which the on-failure stages still run.
    async fn get_sources(
        &mut self,
        session: &mut B::Session,
        variables: &JobVariables,
        scrub_git_config: bool,
    ) -> Result<Option<JobFailure>, JobFailure> {
        let timeout = super::clamp_timeout(self.job.runner.get_sources_timeout, self.job.timeout);
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        for attempt in 1..=self.settings.get_sources_attempts {
            if attempt > 1 {
                self.trace.warning("Retrying...").await;
                let backoff = retry_backoff(attempt);
                tokio::select! {
                    biased;
                    () = self.cancel.abort.cancelled() => return Err(canceled()),
                    () = self.cancel.graceful.cancelled() => return Err(canceled()),
                    () = tokio::time::sleep_until(deadline) => return Err(timeout_failure("get sources", timeout)),
                    () = sleep(backoff) => {}
                }
                let body = self.context(variables).clear_worktree();
                let limits = self.limits(Some(deadline), OnGraceful::Abort);
                if let StageResult::Interrupted(interrupt) = self
                    .stage(session, Stage::ClearWorktree, Target::Helper, body, limits)
                    .await
                {
                    return Err(self.get_sources_interrupt(interrupt, timeout));
                }
            }
            let body = self.context(variables).get_sources(scrub_git_config);
            let limits = self.limits(Some(deadline), OnGraceful::Abort);
            match self
                .stage(session, Stage::GetSources, Target::Helper, body, limits)
                .await
            {
                StageResult::Passed => return Ok(None),
                StageResult::Failed(failure) => last_error = Some(failure),
                StageResult::Interrupted(interrupt) => {
                    return Err(self.get_sources_interrupt(interrupt, timeout));
                }
            }
        }
        Ok(last_error)
    }

    fn get_sources_interrupt(
        &self,
        interrupt: Interrupt,
        timeout: std::time::Duration,
    ) -> JobFailure {
        match interrupt {
            Interrupt::StageTimeout => timeout_failure("get sources", timeout),
            other => self.interrupt_failure(other),
        }
    }

    /// User steps (§1.5 for after_script). `Err` ends the job at once (abort, job timeout).
    async fn user_steps_and_after_script(
        &mut self,
        session: &mut B::Session,
        variables: &mut JobVariables,
    ) -> Result<Option<JobFailure>, JobFailure> {
        let script_deadline = self.settings.script_timeout.map(|t| Instant::now() + t);
        let mut error = None;
        let mut status = "success";
        let steps: Vec<_> = self.user_steps().cloned().collect();
        for step in &steps {
            let body = self.context(variables).user_step(step);
            let limits = self.limits(script_deadline, OnGraceful::StopScript);
            match self
                .stage(
                    session,
                    Stage::Step(step.name.clone()),
                    Target::Build,
                    body,
                    limits,
                )
                .await
            {
                StageResult::Passed => continue,
                StageResult::Failed(failure) => {
                    error = Some(failure);
                    status = "failed";
                }
                StageResult::Interrupted(Interrupt::Graceful) => {
                    self.trace
                        .warning("script canceled externally (UI, API)")
                        .await;
                    error = Some(canceled());
                    status = "canceled";
                }
                StageResult::Interrupted(Interrupt::StageTimeout) => {
                    error = Some(JobFailure::new(
                        FailureReason::JobExecutionTimeout,
                        "script timeout: context deadline exceeded",
                    ));
                    status = "timedout";
                }
                StageResult::Interrupted(interrupt) => {
                    return Err(self.interrupt_failure(interrupt));
                }
            }
            break;
        }
        let Some(after) = self.job.steps.iter().find(|s| s.name == "after_script") else {
            return Ok(error);
        };
        if after.script.iter().all(|line| line.trim().is_empty()) {
            return Ok(error);
        }
        variables.set("CI_JOB_STATUS", status);
        let body = self.context(variables).after_script(after);
        let deadline = Instant::now() + self.settings.after_script_timeout;
        let limits = self.limits(Some(deadline), OnGraceful::Ignore);
        let after_error = match self
            .stage(session, Stage::AfterScript, Target::Build, body, limits)
            .await
        {
            StageResult::Passed => None,
            StageResult::Failed(failure) => Some(failure),
            StageResult::Interrupted(Interrupt::StageTimeout | Interrupt::Graceful) => {
                Some(JobFailure::new(
                    FailureReason::JobExecutionTimeout,
                    "context deadline exceeded",
                ))
            }
            StageResult::Interrupted(interrupt) => return Err(self.interrupt_failure(interrupt)),
        };
        if let Some(after_error) = after_error {
            if self.settings.after_script_ignore_errors {
                let text = format!(
                    "after_script failed, but job will continue unaffected: {}",
                    after_error.message
                );
                self.trace.warning(&text).await;
            } else if error.is_none() {
                error = Some(after_error);
            }
        }
        Ok(error)
    }

    /// Cache and artifact stages: not implemented by this build yet.
    async fn not_supported(
        &mut self,
        stage: Stage,
        applies: bool,
        what: &str,
    ) -> Result<(), JobFailure> {
        if !applies {
            return Ok(());
        }
        if let Some(interrupt) =
            super::stage_run::interrupted(self.cancel, self.limits(None, OnGraceful::Ignore))
        {
            if matches!(interrupt, Interrupt::Abort | Interrupt::JobTimeout) {
                return Err(self.interrupt_failure(interrupt));
            }
        }
        // TODO(#5): run the cache and artifact helpers here instead of warning.
        let id = stage.id();
        self.trace
            .section_start(&id, &stage.header(), self.markers)
            .await;
        self.trace
            .warning(&format!(
                "{what} is not supported by this build of gitlab-runner-rs yet; skipping"
            ))
            .await;
        self.trace.section_end(&id, self.markers).await;
        Ok(())
    }
}

/// `<what> timeout: exceeded timeout of <d>`.
fn timeout_failure(what: &str, timeout: std::time::Duration) -> JobFailure {
    JobFailure::new(
        FailureReason::JobExecutionTimeout,
        format!(
            "{what} timeout: exceeded timeout of {}",
            crate::duration::format_go_duration(timeout)
        ),
    )
}

/// Exponential backoff between stage attempts: 5 s, 10 s, 20 s... capped at 5 min.
fn retry_backoff(attempt: u32) -> std::time::Duration {
    let exponent = attempt.saturating_sub(2).min(6);
    std::time::Duration::from_secs(5u64 << exponent).min(std::time::Duration::from_secs(300))
}
