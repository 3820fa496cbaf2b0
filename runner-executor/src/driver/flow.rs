//! The stage sequence after `prepare_executor` (executors.md §1.3–§1.6).

use tokio::time::sleep;

use crate::backend::{Backend, Target};
use crate::driver::Run;
use crate::driver::stage_run::{Interrupt, Limits, OnGraceful, StageResult, canceled};
use crate::duration::deadline_after;
use crate::job::{
    CACHE_DIR_VARIABLE, HELPER_BINARY_VARIABLE, JOB_TOKEN_VARIABLE, dependency_token_variable,
};
use crate::layout::project_slug;
use crate::outcome::{FailureReason, JobFailure};
use crate::stage::Stage;
use crate::variables::JobVariables;

const PROFILE_HINT: &str = super::SHELL_PROFILE_HINT;

/// How long `cleanup_file_variables` may take once the job itself has ended.
const CLEANUP_AFTER_END: std::time::Duration = std::time::Duration::from_secs(60);

impl<B: Backend> Run<'_, B> {
    /// Runs the stages; `Ok` means the job succeeded. File variables are removed on every
    /// way out, an abort and a timeout included: they hold secrets.
    pub(super) async fn stages(
        &mut self,
        session: &mut B::Session,
        variables: &mut JobVariables,
        scrub_git_config: bool,
    ) -> Result<(), JobFailure> {
        match self.job_stages(session, variables, scrub_git_config).await {
            Ok(error) => {
                self.cleanup_file_variables(session, variables).await?;
                error.map_or(Ok(()), Err)
            }
            Err(ended) => {
                // Only when the job's context ended (abort, job timeout): a failed prepare
                // left its session unusable, and upstream runs nothing more there either.
                let context_ended = self.cancel.abort.is_cancelled()
                    || tokio::time::Instant::now() >= self.job_deadline;
                if context_ended {
                    self.cleanup_file_variables_after_end(session, variables)
                        .await;
                }
                Err(ended)
            }
        }
    }

    /// Every stage up to the uploads. `Err` ends the job at once (abort, timeout, a failed
    /// prepare); `Ok(Some)` is a job error after which the remaining stages still ran.
    async fn job_stages(
        &mut self,
        session: &mut B::Session,
        variables: &mut JobVariables,
        scrub_git_config: bool,
    ) -> Result<Option<JobFailure>, JobFailure> {
        // 1. prepare_script: any failure ends the job at once.
        let prepare_timeout =
            super::clamp_timeout(self.job.runner.prepare_timeout, self.job.timeout);
        let body = self.context(variables).prepare_script();
        let limits = self.limits(Some(deadline_after(prepare_timeout)), OnGraceful::Abort);
        match self
            .stage(session, Stage::PrepareScript, Target::Helper, body, limits)
            .await
        {
            StageResult::Passed => {}
            StageResult::Failed(mut failure) => {
                // The shell-profile hint (J8) fits a prepare script that exited non-zero, and
                // any prepare failure on the host's own shell; a container backend's own
                // error (a pod that never started) reads as the seed prints it, without it.
                let host_shell = self.backend.defaults(self.job).shared_environment;
                if failure.exit_code.is_some() || (host_shell && !failure.bare) {
                    failure.message =
                        format!("prepare environment: {}. {PROFILE_HINT}", failure.message);
                } else if !failure.bare {
                    failure.message = format!("prepare environment: {}", failure.message);
                }
                return Err(failure);
            }
            StageResult::Interrupted(Interrupt::StageTimeout) => {
                return Err(timeout_failure("prepare", prepare_timeout));
            }
            StageResult::Interrupted(interrupt) => return Err(self.interrupt_failure(interrupt)),
        }

        // 2. get_sources with its attempts; 3-4. restore_cache and download_artifacts.
        let mut error = self
            .get_sources(session, variables, scrub_git_config)
            .await?;
        if error.is_none() {
            let attempts = self.settings.restore_cache_attempts;
            error = self
                .transfer_stage(session, variables, Stage::RestoreCache, attempts)
                .await?;
        }
        if error.is_none() {
            let attempts = self.settings.artifact_download_attempts;
            error = self
                .transfer_stage(session, variables, Stage::DownloadArtifacts, attempts)
                .await?;
        }

        // 5. user steps, then after_script.
        if error.is_none() {
            error = self.user_steps_and_after_script(session, variables).await?;
        }

        // 6. cache archive and artifact upload, chosen by "is there an error so far"; the
        // first job error wins, then the cache stage's, then the upload stage's (§1.3.7).
        let (cache_stage, upload_stage) = if error.is_some() {
            (
                Stage::ArchiveCacheOnFailure,
                Stage::UploadArtifactsOnFailure,
            )
        } else {
            (Stage::ArchiveCache, Stage::UploadArtifactsOnSuccess)
        };
        let cache_error = self
            .transfer_stage(session, variables, cache_stage, 1)
            .await?;
        let upload_error = self
            .transfer_stage(session, variables, upload_stage, 1)
            .await?;
        Ok(error.or(cache_error).or(upload_error))
    }

    /// 8. `cleanup_file_variables`: failures only reach the runner's log.
    async fn cleanup_file_variables(
        &mut self,
        session: &mut B::Session,
        variables: &JobVariables,
    ) -> Result<(), JobFailure> {
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
        Ok(())
    }

    /// `cleanup_file_variables` once the job was aborted or timed out: the job's own signals
    /// and deadline have fired, so the stage runs detached from them, on a short deadline.
    /// Its output is discarded: the job's log ends as upstream's does, with the failure line.
    async fn cleanup_file_variables_after_end(
        &mut self,
        session: &mut B::Session,
        variables: &JobVariables,
    ) {
        let body = self.context(variables).cleanup_file_variables();
        let detached = super::Cancellation::default();
        let limits = Limits {
            job_deadline: deadline_after(CLEANUP_AFTER_END),
            stage_deadline: None,
            graceful: OnGraceful::Ignore,
        };
        let stage =
            super::stage_run::script(Stage::CleanupFileVariables, Target::Helper, body, false);
        let (sink, _) = tokio::sync::mpsc::channel(1);
        let mut discarded = crate::trace::writer::TraceWriter::builder(sink).build();
        let result = super::stage_run::run_stage(
            self.backend,
            session,
            &mut discarded,
            &detached,
            self.markers,
            stage,
            limits,
        )
        .await;
        if result != StageResult::Passed {
            tracing::warn!(job_id = self.job.id, result = ?result, "cleanup_file_variables after the job ended did not pass");
        }
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
        let deadline = deadline_after(timeout);
        let mut last_error = None;
        for attempt in 1..=self.settings.get_sources_attempts {
            if attempt > 1 {
                self.trace.warning("Retrying...").await;
                let backoff = retry_backoff(attempt);
                tokio::select! {
                    biased;
                    () = self.cancel.abort.cancelled() => return Err(self.cancel.failure()),
                    () = self.cancel.graceful.cancelled() => return Err(self.cancel.failure()),
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
        let script_deadline = self.settings.script_timeout.map(deadline_after);
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
        let deadline = deadline_after(self.settings.after_script_timeout);
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

    /// A cache or artifact stage from [`crate::JobSpec::transfer`], tried up to `attempts`
    /// times; skipped when its list is empty. `Err` ends the job at once (abort, job timeout;
    /// a graceful cancel too before the user steps); `Ok(Some)` is the stage's error.
    async fn transfer_stage(
        &mut self,
        session: &mut B::Session,
        variables: &JobVariables,
        stage: Stage,
        attempts: u32,
    ) -> Result<Option<JobFailure>, JobFailure> {
        let transfer = &self.job.transfer;
        let (lines, graceful) = match stage {
            Stage::RestoreCache => (&transfer.restore_cache, OnGraceful::Abort),
            Stage::DownloadArtifacts => (&transfer.download_artifacts, OnGraceful::Abort),
            Stage::ArchiveCache => (&transfer.archive_cache, OnGraceful::Ignore),
            Stage::ArchiveCacheOnFailure => {
                (&transfer.archive_cache_on_failure, OnGraceful::Ignore)
            }
            Stage::UploadArtifactsOnSuccess => {
                (&transfer.upload_artifacts_on_success, OnGraceful::Ignore)
            }
            Stage::UploadArtifactsOnFailure => {
                (&transfer.upload_artifacts_on_failure, OnGraceful::Ignore)
            }
            _ => return Ok(None),
        };
        if lines.is_empty() {
            return Ok(None);
        }
        let lines = lines.clone();
        let exports = self.transfer_exports(stage == Stage::DownloadArtifacts);
        let mut last_error = None;
        for attempt in 1..=attempts.max(1) {
            if attempt > 1 {
                self.trace.warning("Retrying...").await;
                let backoff = retry_backoff(attempt);
                tokio::select! {
                    biased;
                    () = self.cancel.abort.cancelled() => return Err(self.cancel.failure()),
                    () = self.cancel.graceful.cancelled(), if graceful == OnGraceful::Abort => return Err(self.cancel.failure()),
                    () = tokio::time::sleep_until(self.job_deadline) => return Err(self.interrupt_failure(Interrupt::JobTimeout)),
                    () = sleep(backoff) => {}
                }
            }
            let body = self.context(variables).transfer(&lines, &exports);
            let limits = self.limits(None, graceful);
            match self
                .stage(session, stage.clone(), Target::Helper, body, limits)
                .await
            {
                StageResult::Passed => return Ok(None),
                StageResult::Failed(failure) => last_error = Some(failure),
                StageResult::Interrupted(interrupt) => {
                    return Err(self.interrupt_failure(interrupt));
                }
            }
        }
        Ok(last_error)
    }

    /// The variables [`crate::TransferScripts`] documents.
    fn transfer_exports(&self, dependency_tokens: bool) -> Vec<(String, String)> {
        let cache_dir = format!(
            "{}/{}",
            self.layout.cache_dir.trim_end_matches('/'),
            project_slug(&self.job.git.repo_url, self.job.project_id)
        );
        let mut exports = vec![
            (
                HELPER_BINARY_VARIABLE.to_owned(),
                self.backend.helper_binary(self.job),
            ),
            (CACHE_DIR_VARIABLE.to_owned(), cache_dir),
            (
                JOB_TOKEN_VARIABLE.to_owned(),
                self.job.token.expose().to_owned(),
            ),
        ];
        if dependency_tokens {
            exports.extend(self.job.dependencies.iter().map(|dependency| {
                (
                    dependency_token_variable(dependency.id),
                    dependency.token.expose().to_owned(),
                )
            }));
        }
        exports
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
