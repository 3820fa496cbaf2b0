//! The final phase (§10.3): drain the output, flush the log, send the final `PUT`, retry.

use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::endpoint::{PatchOutcome, UpdateOutcome};
use crate::error::{Error, Result};
use crate::trace::sender::{FinalOutcome, JobResult, Sender};
use crate::trace::store::LogStore;
use crate::wire::JobState;

/// Pause between failed tries: 1 s doubling, capped at 60 min, no jitter.
const TRY_BACKOFF: Backoff =
    Backoff::new_const(Duration::from_secs(1), Duration::from_secs(3600), 2);

/// How one try ended.
enum TryEnd {
    Done(FinalOutcome),
    Failed(Error),
}

impl Sender {
    pub(crate) async fn final_phase(
        &mut self,
        store: &mut LogStore,
        result: JobResult,
    ) -> Result<FinalOutcome> {
        let deadline = Instant::now() + self.options.final_update_deadline;
        let tries = self.options.final_update_tries.max(1);
        let mut last_error = Error::Cancelled;
        for attempt in 0..tries {
            if attempt > 0 {
                // Jitter 1.0 selects the top of the step: exactly 1 s, 2 s, 4 s, ...
                tokio::time::sleep(TRY_BACKOFF.delay(attempt - 1, 1.0)).await;
            }
            self.interval = self.options.update_interval;
            match self.one_try(store, &result, deadline).await? {
                TryEnd::Done(outcome) => return Ok(outcome),
                TryEnd::Failed(error) => last_error = error,
            }
            if Instant::now() >= deadline {
                tracing::error!(job = self.job_id, "final update deadline expired");
                break;
            }
        }
        let label = if result.state == JobState::Success {
            "Success"
        } else {
            "Fail"
        };
        tracing::error!(job = self.job_id, error = %last_error, "Job trace termination \"{label}\" failed");
        Err(last_error)
    }

    async fn one_try(
        &mut self,
        store: &mut LogStore,
        result: &JobResult,
        deadline: Instant,
    ) -> Result<TryEnd> {
        loop {
            if Instant::now() >= deadline {
                return Ok(TryEnd::Failed(Error::Cancelled));
            }
            if let Some(failure) = self.flush(store, deadline).await? {
                tokio::time::sleep(self.interval).await;
                return Ok(TryEnd::Failed(failure));
            }
            let update = self.update(result.state, store, Some(result));
            match self.client.update_job(self.job_id, &update).await {
                Ok(response) => {
                    self.observe(response.cancel_requested, response.update_interval);
                    // A 200 stored the final state even when `Job-Status` already says
                    // `failed`/`canceled` (GitLab echoes the new state).
                    if response.status == 200 {
                        return Ok(TryEnd::Done(FinalOutcome::Accepted));
                    }
                    match response.outcome {
                        UpdateOutcome::Ok => return Ok(TryEnd::Done(FinalOutcome::Accepted)),
                        UpdateOutcome::Abort => return Ok(TryEnd::Done(FinalOutcome::Aborted)),
                        UpdateOutcome::Accepted => tokio::time::sleep(self.interval).await,
                        UpdateOutcome::TraceValidationFailed => {
                            store.rewind(0).await?;
                            tokio::time::sleep(self.interval).await;
                        }
                    }
                }
                Err(error) => {
                    tokio::time::sleep(self.interval).await;
                    return Ok(TryEnd::Failed(error));
                }
            }
        }
    }

    /// Sends every remaining byte, reading the (closed) output channel as memory allows.
    /// Returns the failure that ends this try, if any.
    async fn flush(&mut self, store: &mut LogStore, deadline: Instant) -> Result<Option<Error>> {
        loop {
            while self.output_open && store.buffered() < self.options.max_buffered {
                match self.output.recv().await {
                    Some(chunk) => store.push(chunk),
                    None => self.output_open = false,
                }
            }
            if store.unsent() == 0 {
                if self.output_open {
                    continue;
                }
                return Ok(None);
            }
            if Instant::now() >= deadline {
                return Ok(Some(Error::Cancelled));
            }
            match self.patch(store).await? {
                Ok(PatchOutcome::Accepted { .. }) => {}
                Ok(PatchOutcome::RangeMismatch { .. }) => tokio::time::sleep(self.interval).await,
                Ok(PatchOutcome::Abort | PatchOutcome::NotFound) => {
                    // The rest of the log cannot be stored: drain the channel so the producer
                    // is not blocked, then go on to the PUT.
                    while self.output.recv().await.is_some() {}
                    self.output_open = false;
                    return Ok(None);
                }
                Err(error) => return Ok(Some(error)),
            }
        }
    }
}
