//! `PATCH jobs/:id/trace`: append a slice of the job log (§9).

use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::client::Client;
use crate::endpoint::status::{RemoteStatus, remote_status, update_interval};
use crate::error::{Error, Result};
use crate::http::{ApiRequest, BodySource};
use crate::secret::Token;

/// What a PATCH answer means (§9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOutcome {
    /// 202: the slice was stored; continue at `next_offset`.
    Accepted {
        /// `offset + len`; the `Range` of a 202 is ignored.
        next_offset: u64,
    },
    /// 416: resume at the server's offset (the number after `-` in `Range`, 0 if absent).
    RangeMismatch {
        /// Where to resume.
        resume_at: u64,
    },
    /// `Job-Status: canceled`/`failed` or 403: abort the job.
    Abort,
    /// 404: try again on the next tick.
    NotFound,
}

/// An answer to a trace PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchResponse {
    /// The outcome.
    pub outcome: PatchOutcome,
    /// `Job-Status: canceling` seen.
    pub cancel_requested: bool,
    /// A valid `X-GitLab-Trace-Update-Interval`.
    pub update_interval: Option<Duration>,
}

impl Client {
    /// Sends `bytes` as the log slice starting at `offset` (`Content-Range: <first>-<last>`,
    /// inclusive, no unit). An empty slice is not sent.
    pub async fn patch_trace(
        &self,
        job_id: u64,
        job_token: &Token,
        offset: u64,
        bytes: Bytes,
        debug_trace: bool,
    ) -> Result<PatchResponse> {
        self.patch_trace_chunks(job_id, job_token, offset, vec![bytes], debug_trace)
            .await
    }

    /// [`Self::patch_trace`] for a slice held in several chunks, sent without copying.
    pub(crate) async fn patch_trace_chunks(
        &self,
        job_id: u64,
        job_token: &Token,
        offset: u64,
        chunks: Vec<Bytes>,
        debug_trace: bool,
    ) -> Result<PatchResponse> {
        const ENDPOINT: &str = "patch_trace";
        let length: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
        if length == 0 {
            tracing::debug!(
                job = job_id,
                "Appending trace to coordinator...skipped due to empty patch"
            );
            return Ok(PatchResponse {
                outcome: PatchOutcome::Accepted {
                    next_offset: offset,
                },
                cancel_requested: false,
                update_interval: None,
            });
        }
        let mut url = self.endpoint_url(&format!("jobs/{job_id}/trace"))?;
        url.set_query(Some(if debug_trace {
            "debug_trace=true"
        } else {
            "debug_trace=false"
        }));
        let mut api_request =
            ApiRequest::new(ENDPOINT, Method::PATCH, url, self.inner.timeouts.request)
                .secret_header("job-token", job_token.expose())?
                .header("content-type", "text/plain")?
                .header(
                    "content-range",
                    &format!("{offset}-{}", offset + length - 1),
                )?;
        api_request.body = match <[Bytes; 1]>::try_from(chunks) {
            Ok([single]) => BodySource::Bytes(single),
            Err(chunks) => BodySource::Chunks(chunks),
        };
        let response = self.send(&api_request).await?;
        let remote = remote_status(&response);
        let outcome = if remote == RemoteStatus::Abort || response.status == 403 {
            tracing::warn!(job = job_id, "Appending trace to coordinator... job failed");
            PatchOutcome::Abort
        } else {
            match response.status {
                202 => PatchOutcome::Accepted {
                    next_offset: offset + length,
                },
                404 => {
                    tracing::warn!(job = job_id, "Appending trace to coordinator... not-found");
                    PatchOutcome::NotFound
                }
                416 => {
                    let resume_at = response
                        .header("range")
                        .and_then(|range| range.rsplit_once('-'))
                        .and_then(|(_, end)| end.trim().parse().ok())
                        .unwrap_or(0);
                    tracing::warn!(
                        job = job_id,
                        resume_at,
                        "Appending trace to coordinator... range mismatch"
                    );
                    PatchOutcome::RangeMismatch { resume_at }
                }
                _ => {
                    tracing::warn!(
                        job = job_id,
                        status = response.status,
                        "Appending trace to coordinator... failed"
                    );
                    return Err(Error::Status {
                        endpoint: ENDPOINT,
                        status: response.status,
                        message: response.message(),
                    });
                }
            }
        };
        Ok(PatchResponse {
            outcome,
            cancel_requested: remote == RemoteStatus::Canceling,
            update_interval: update_interval(&response),
        })
    }
}
