//! [`JobTrace`]: streams job output to the coordinator while the job runs.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::client::Client;
use crate::endpoint::{PatchOutcome, UpdateOutcome};
use crate::error::{Error, Result};
use crate::secret::Token;
use crate::trace::store::LogStore;
use crate::wire::{JobResponse, JobState, JobUpdate, OutputInfo, RunnerInfo};

/// Settings of a [`JobTrace`]; `Default` gives the reference's values.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Send PATCHes with `debug_trace=true` (also set when the job has `CI_DEBUG_TRACE`).
    pub debug_trace: bool,
    /// Initial update interval (3 s); the server may change it.
    pub update_interval: Duration,
    /// Keep-alive PUT after this long without contact (30 s).
    pub force_send_interval: Duration,
    /// Largest PATCH body (1 MiB).
    pub max_patch_size: usize,
    /// Unacknowledged bytes held before the output channel is no longer read (2 MiB: the
    /// 1 MiB PATCH in flight and the next one, read while it travels).
    pub max_buffered: u64,
    /// Final-update tries (10).
    pub final_update_tries: u32,
    /// Total deadline of the final phase (1 h; Beyond: the reference has none).
    pub final_update_deadline: Duration,
    /// Directory for a spill file of acknowledged bytes; `None` keeps them in memory.
    pub spill_dir: Option<PathBuf>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            debug_trace: false,
            update_interval: Duration::from_secs(3),
            force_send_interval: Duration::from_secs(30),
            max_patch_size: 1024 * 1024,
            max_buffered: 2 * 1024 * 1024,
            final_update_tries: 10,
            final_update_deadline: Duration::from_secs(3600),
            spill_dir: None,
        }
    }
}

/// How the job ended, for the final `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// `Success` or `Failed`.
    pub state: JobState,
    /// Failure reason (only with `Failed`).
    pub failure_reason: Option<String>,
    /// Script exit code; 0 is not sent.
    pub exit_code: Option<i32>,
    /// Suspend/resume environment key, when set.
    pub runtime_environment_key: Option<String>,
}

impl JobResult {
    /// The job succeeded.
    pub fn success() -> Self {
        Self {
            state: JobState::Success,
            failure_reason: None,
            exit_code: None,
            runtime_environment_key: None,
        }
    }

    /// The job failed with `reason` (e.g. `script_failure`) and an optional exit code.
    pub fn failed(reason: impl Into<String>, exit_code: Option<i32>) -> Self {
        Self {
            state: JobState::Failed,
            failure_reason: Some(reason.into()),
            exit_code,
            runtime_environment_key: None,
        }
    }
}

/// How the final update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalOutcome {
    /// The coordinator accepted the final state (200).
    Accepted,
    /// The job was already over server-side (403, 404, `canceled`/`failed`).
    Aborted,
}

/// Streams a job's log while it runs and sends its final state.
///
/// Output arrives on an `mpsc` channel of [`Bytes`] and is never dropped: when the
/// coordinator is slow the channel is simply not read (backpressure), so memory stays
/// bounded by [`TraceOptions::max_buffered`].
#[derive(Debug)]
pub struct JobTrace {
    finish: Option<oneshot::Sender<JobResult>>,
    task: Option<JoinHandle<Result<FinalOutcome>>>,
    cancel: CancellationToken,
    abort: CancellationToken,
    _stop: DropGuard,
}

impl JobTrace {
    /// Starts sending the log of `job`. Must be called inside a tokio runtime.
    pub fn start(
        client: Client,
        job: &JobResponse,
        info: RunnerInfo,
        output: mpsc::Receiver<Bytes>,
        mut options: TraceOptions,
    ) -> Self {
        options.debug_trace |= job.is_debug_trace();
        let cancel = CancellationToken::new();
        let abort = CancellationToken::new();
        let stop = CancellationToken::new();
        let (finish, finish_receiver) = oneshot::channel();
        let sender = Sender {
            client,
            job_id: job.id,
            job_token: job.token.clone(),
            info,
            interval: options.update_interval,
            options,
            cancel: cancel.clone(),
            abort: abort.clone(),
            output,
            output_open: true,
            last_contact: None,
        };
        let task = tokio::spawn(sender.run(finish_receiver, stop.clone()));
        Self {
            finish: Some(finish),
            task: Some(task),
            cancel,
            abort,
            _stop: stop.drop_guard(),
        }
    }

    /// Fires once when the coordinator asks to cancel (`Job-Status: canceling`), and on
    /// any hard abort: stop the user script, still run `after_script`.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Fires on a hard abort (`Job-Status: canceled`/`failed`, 403 on PATCH/PUT):
    /// stop everything, no `after_script`.
    pub fn abort_token(&self) -> CancellationToken {
        self.abort.clone()
    }

    /// Stops reading new output once the channel is drained, makes sure the whole log
    /// arrived, and sends the final `PUT` with checksum and size, retrying per §10.3.
    pub async fn finish(mut self, result: JobResult) -> Result<FinalOutcome> {
        if let Some(finish) = self.finish.take() {
            let _ = finish.send(result);
        }
        let Some(task) = self.task.take() else {
            return Err(Error::Cancelled);
        };
        match task.await {
            Ok(outcome) => outcome,
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(_) => Err(Error::Cancelled),
        }
    }
}

/// The state of the sending task.
pub(crate) struct Sender {
    pub(crate) client: Client,
    pub(crate) job_id: u64,
    pub(crate) job_token: Token,
    pub(crate) info: RunnerInfo,
    pub(crate) options: TraceOptions,
    pub(crate) interval: Duration,
    pub(crate) cancel: CancellationToken,
    pub(crate) abort: CancellationToken,
    pub(crate) output: mpsc::Receiver<Bytes>,
    pub(crate) output_open: bool,
    last_contact: Option<Instant>,
}

impl Sender {
    async fn run(
        mut self,
        mut finish: oneshot::Receiver<JobResult>,
        stop: CancellationToken,
    ) -> Result<FinalOutcome> {
        let mut store = LogStore::new(self.options.spill_dir.as_deref(), self.job_id).await?;
        let mut next_tick = Instant::now() + self.interval;
        let result = loop {
            // Beyond: a full PATCH is sent at once instead of waiting for the tick, so a fast
            // producer is limited by the coordinator, not by 1 MiB per interval.
            // The job's output is still read while such a PATCH is in flight, so producing the
            // log and sending it overlap instead of taking turns.
            while !self.abort.is_cancelled() && store.unsent() >= self.options.max_patch_size as u64
            {
                if !matches!(
                    self.patch_reading_output(&mut store).await?,
                    Ok(PatchOutcome::Accepted { .. })
                ) {
                    break;
                }
            }
            let can_read = self.output_open && store.buffered() < self.options.max_buffered;
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    store.remove().await;
                    return Ok(FinalOutcome::Aborted);
                }
                result = &mut finish => match result {
                    Ok(result) => break result,
                    Err(_) => {
                        store.remove().await;
                        return Ok(FinalOutcome::Aborted);
                    }
                },
                chunk = self.output.recv(), if can_read => match chunk {
                    Some(chunk) => store.push(chunk),
                    None => self.output_open = false,
                },
                () = tokio::time::sleep_until(next_tick) => {
                    if !self.abort.is_cancelled() {
                        self.tick(&mut store).await?;
                    }
                    next_tick = Instant::now() + self.interval;
                }
            }
        };
        self.output.close();
        let outcome = self.final_phase(&mut store, result).await;
        store.remove().await;
        outcome
    }

    /// One incremental step (§10.1): a PATCH if output is pending, then a keep-alive if due.
    async fn tick(&mut self, store: &mut LogStore) -> Result<()> {
        // An empty tick counts as a success for the keep-alive check.
        let succeeded = store.unsent() == 0
            || matches!(
                self.patch(store).await?,
                Ok(PatchOutcome::Accepted { .. } | PatchOutcome::RangeMismatch { .. })
            );
        let due = self
            .last_contact
            .is_none_or(|contact| contact.elapsed() > self.options.force_send_interval);
        if succeeded && due && !self.abort.is_cancelled() {
            let update = self.update(JobState::Running, store, None);
            match self.client.update_job(self.job_id, &update).await {
                Ok(response) => {
                    self.observe(response.cancel_requested, response.update_interval);
                    match response.outcome {
                        UpdateOutcome::Abort => self.hard_abort(),
                        _ => self.last_contact = Some(Instant::now()),
                    }
                }
                Err(error) => tracing::warn!(job = self.job_id, %error, "keep-alive update failed"),
            }
        }
        Ok(())
    }

    /// Sends one PATCH; the inner error is a failed request (already logged), the outer
    /// one a local I/O failure of the spill file.
    pub(crate) async fn patch(&mut self, store: &mut LogStore) -> Result<Result<PatchOutcome>> {
        let Some((offset, chunks)) = store.next_chunks(self.options.max_patch_size) else {
            return Ok(Ok(PatchOutcome::Accepted {
                next_offset: store.total(),
            }));
        };
        let response = self
            .client
            .patch_trace_chunks(
                self.job_id,
                &self.job_token,
                offset,
                chunks,
                self.options.debug_trace,
            )
            .await;
        self.patched(store, response).await
    }

    /// [`Self::patch`], reading the job's output into `store` (within `max_buffered`) while
    /// the request is in flight. The request holds its own handles on the bytes it sends, and
    /// new output only appends to `store`, so the two never touch the same bytes.
    async fn patch_reading_output(&mut self, store: &mut LogStore) -> Result<Result<PatchOutcome>> {
        let Some((offset, chunks)) = store.next_chunks(self.options.max_patch_size) else {
            return Ok(Ok(PatchOutcome::Accepted {
                next_offset: store.total(),
            }));
        };
        let response = {
            let request = self.client.patch_trace_chunks(
                self.job_id,
                &self.job_token,
                offset,
                chunks,
                self.options.debug_trace,
            );
            tokio::pin!(request);
            loop {
                let can_read = self.output_open && store.buffered() < self.options.max_buffered;
                tokio::select! {
                    biased;
                    response = &mut request => break response,
                    chunk = self.output.recv(), if can_read => match chunk {
                        Some(chunk) => store.push(chunk),
                        None => self.output_open = false,
                    },
                }
            }
        };
        self.patched(store, response).await
    }

    /// Applies a PATCH's answer to `store` and to the job's state.
    async fn patched(
        &mut self,
        store: &mut LogStore,
        response: Result<crate::endpoint::PatchResponse>,
    ) -> Result<Result<PatchOutcome>> {
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(job = self.job_id, %error, "Appending trace to coordinator... error");
                return Ok(Err(error));
            }
        };
        self.observe(response.cancel_requested, response.update_interval);
        match response.outcome {
            PatchOutcome::Accepted { next_offset } => {
                store.acknowledge(next_offset).await?;
                self.last_contact = Some(Instant::now());
            }
            PatchOutcome::RangeMismatch { resume_at } => {
                store.rewind(resume_at).await?;
                self.last_contact = Some(Instant::now());
            }
            PatchOutcome::Abort => self.hard_abort(),
            PatchOutcome::NotFound => {}
        }
        Ok(Ok(response.outcome))
    }

    pub(crate) fn update(
        &self,
        state: JobState,
        store: &LogStore,
        result: Option<&JobResult>,
    ) -> JobUpdate {
        let checksum = store.checksum();
        JobUpdate {
            token: self.job_token.clone(),
            info: self.info.clone(),
            state,
            failure_reason: result
                .and_then(|result| result.failure_reason.clone())
                .filter(|_| state == JobState::Failed),
            exit_code: result
                .and_then(|result| result.exit_code)
                .filter(|code| *code != 0),
            checksum: result.map(|_| checksum.clone()),
            output: OutputInfo {
                checksum,
                bytesize: store.total(),
            },
            runtime_environment_key: result
                .and_then(|result| result.runtime_environment_key.clone()),
        }
    }

    pub(crate) fn observe(&mut self, cancel_requested: bool, interval: Option<Duration>) {
        if cancel_requested && !self.cancel.is_cancelled() {
            tracing::info!(job = self.job_id, "job cancel requested by the coordinator");
            self.cancel.cancel();
        }
        if let Some(interval) = interval {
            self.interval = interval;
        }
    }

    pub(crate) fn hard_abort(&mut self) {
        if !self.abort.is_cancelled() {
            tracing::warn!(job = self.job_id, "job aborted by the coordinator");
        }
        self.abort.cancel();
        self.cancel.cancel();
    }
}
