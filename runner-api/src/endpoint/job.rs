//! `POST jobs/request` (long polling) and `PUT jobs/:id` (commit, keep-alive, final) (§5, §7, §8).

use http::Method;

use crate::client::Client;
use crate::endpoint::status::{
    RemoteStatus, UpdateOutcome, UpdateResponse, remote_status, update_interval,
};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, ApiResponse};
use crate::secret::Token;
use crate::wire::{
    DecodeJobError, JobRequest, JobResponse, JobState, JobUpdate, PartialJob, RunnerInfo,
};

/// The result of one `jobs/request` poll.
#[derive(Debug)]
pub enum JobRequestOutcome {
    /// 201 with a decodable job: send [`Client::commit_job`] next.
    Job(Box<JobResponse>),
    /// 204: no job now.
    NoJob,
    /// 201 whose payload failed to decode. When `partial` names the job, report it failed
    /// with [`Client::fail_job`] so it does not stay stuck (§5.5 Beyond).
    Undecodable(DecodeJobError),
}

/// What to do with a job after the commit `PUT` (§7 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Run the job (200, and also transport failures or 5xx after retries).
    Run,
    /// `Job-Status: canceling`: run nothing; finish the job as `failed` / `job_canceled`.
    Canceling,
    /// 403, 404, `canceled`/`failed`: drop the job silently, send nothing more.
    Abort,
}

impl Client {
    /// Polls for a job (§5). The server may hold the request up to ~50 s (long polling);
    /// the `X-GitLab-Last-Update` value is remembered per runner token and echoed.
    ///
    /// 403 is [`Error::InvalidRunnerToken`]; 503 gives [`Error::is_unavailable`].
    pub async fn request_job(&self, mut request: JobRequest) -> Result<JobRequestOutcome> {
        const ENDPOINT: &str = "request_job";
        if request.last_update.is_none() {
            request.last_update = self.last_update(&request.token);
        }
        let api_request = ApiRequest::new(
            ENDPOINT,
            Method::POST,
            self.endpoint_url("jobs/request")?,
            self.inner.timeouts.long_poll,
        )
        .secret_header("runner-token", request.token.expose())?
        .header("accept", "application/json")?
        .json(&request)?;
        let response = self.send(&api_request).await?;
        self.remember_last_update(&request.token, &response);
        match response.status {
            201 if response.is_json() => match JobResponse::from_json(&response.body) {
                Ok(job) => {
                    tracing::info!(job = job.id, "Checking for jobs... received");
                    Ok(JobRequestOutcome::Job(Box::new(job)))
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Checking for jobs... failed");
                    Ok(JobRequestOutcome::Undecodable(error))
                }
            },
            201 => {
                tracing::warn!("Checking for jobs... failed");
                Err(Error::Decode {
                    endpoint: ENDPOINT,
                    source: "job response is not application/json".into(),
                })
            }
            204 => {
                tracing::debug!("Checking for jobs...no content");
                Ok(JobRequestOutcome::NoJob)
            }
            403 => {
                tracing::error!(short_token = %request.token.short(), "Checking for jobs... forbidden");
                Err(Error::InvalidRunnerToken { endpoint: ENDPOINT })
            }
            503 => {
                tracing::warn!("Checking for jobs... GitLab instance currently unavailable");
                Err(response.into_error(ENDPOINT))
            }
            _ => {
                let error = response.into_error(ENDPOINT);
                tracing::warn!(status = %error, "Checking for jobs... failed");
                Err(error)
            }
        }
    }

    /// Acknowledges a received job with `PUT state=running` (two-phase commit, §7).
    pub async fn commit_job(
        &self,
        job_id: u64,
        job_token: &Token,
        info: &RunnerInfo,
    ) -> CommitOutcome {
        match self
            .update_job(job_id, &JobUpdate::commit(job_token.clone(), info.clone()))
            .await
        {
            Ok(response) if response.outcome == UpdateOutcome::Abort => CommitOutcome::Abort,
            Ok(response) if response.cancel_requested => CommitOutcome::Canceling,
            Ok(_) => CommitOutcome::Run,
            Err(error) if error.is_client_error() => CommitOutcome::Abort,
            Err(error) => {
                tracing::warn!(job = job_id, error = %error, "job commit failed; running the job anyway");
                CommitOutcome::Run
            }
        }
    }

    /// Sends `PUT jobs/:id` (§8). 202, 412 and abort answers are outcomes, not errors;
    /// other statuses (after retries) and transport failures are errors.
    pub async fn update_job(&self, job_id: u64, update: &JobUpdate) -> Result<UpdateResponse> {
        const ENDPOINT: &str = "update_job";
        let url = self.endpoint_url(&format!("jobs/{job_id}"))?;
        let api_request = ApiRequest::new(ENDPOINT, Method::PUT, url, self.inner.timeouts.request)
            .secret_header("job-token", update.token.expose())?
            .json(update)?;
        tracing::info!(job = job_id, checksum = %update.output.checksum, bytesize = update.output.bytesize, "Updating job...");
        let response = self.send(&api_request).await?;
        interpret_update(job_id, &response)
    }

    /// Reports a job failed (`runner_system_failure` unless `failure_reason` says otherwise),
    /// e.g. for a payload that did not decode ([`JobRequestOutcome::Undecodable`]).
    pub async fn fail_job(
        &self,
        job: &PartialJob,
        info: &RunnerInfo,
        failure_reason: Option<&str>,
    ) -> Result<UpdateResponse> {
        let update = JobUpdate {
            state: JobState::Failed,
            failure_reason: Some(failure_reason.unwrap_or("runner_system_failure").to_owned()),
            ..JobUpdate::commit(job.token.clone(), info.clone())
        };
        self.update_job(job.id, &update).await
    }

    fn last_update(&self, token: &Token) -> Option<String> {
        let map = self.inner.last_update.lock().ok()?;
        map.get(token.expose()).cloned()
    }

    pub(crate) fn remember_last_update(&self, token: &Token, response: &ApiResponse) {
        if let Some(value) = response
            .header("x-gitlab-last-update")
            .filter(|value| !value.is_empty())
        {
            if let Ok(mut map) = self.inner.last_update.lock() {
                map.insert(token.expose().to_owned(), value.to_owned());
            }
        }
    }
}

fn interpret_update(job_id: u64, response: &ApiResponse) -> Result<UpdateResponse> {
    let remote = remote_status(response);
    let outcome = if remote == RemoteStatus::Abort || response.status == 403 {
        tracing::warn!(job = job_id, "Submitting job to coordinator... job failed");
        UpdateOutcome::Abort
    } else {
        match response.status {
            200 => {
                tracing::info!(job = job_id, "Submitting job to coordinator...ok");
                UpdateOutcome::Ok
            }
            202 => {
                tracing::info!(
                    job = job_id,
                    "Submitting job to coordinator...accepted, but not yet completed"
                );
                UpdateOutcome::Accepted
            }
            412 => {
                tracing::warn!(
                    job = job_id,
                    "Submitting job to coordinator...trace validation failed"
                );
                UpdateOutcome::TraceValidationFailed
            }
            404 => {
                tracing::warn!(job = job_id, "Submitting job to coordinator... not found");
                UpdateOutcome::Abort
            }
            _ => {
                tracing::warn!(
                    job = job_id,
                    status = response.status,
                    "Submitting job to coordinator... failed"
                );
                return Err(Error::Status {
                    endpoint: "update_job",
                    status: response.status,
                    message: response.message(),
                });
            }
        }
    };
    Ok(UpdateResponse {
        outcome,
        cancel_requested: remote == RemoteStatus::Canceling,
        update_interval: update_interval(response),
        status: response.status,
    })
}
