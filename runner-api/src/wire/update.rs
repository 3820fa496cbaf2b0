//! Bodies of `jobs/request` and `PUT jobs/:id` (§5.1, §8.1).

use serde::{Deserialize, Serialize};

use crate::secret::Token;
use crate::wire::RunnerInfo;

/// `POST jobs/request` body.
#[derive(Debug, Clone, Serialize)]
pub struct JobRequest {
    /// Runner info for this runner's executor and shell.
    pub info: RunnerInfo,
    /// Runner token (also sent as `RUNNER-TOKEN`).
    pub token: Token,
    /// Runner-manager id, omitted when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_id: String,
    /// Last seen `X-GitLab-Last-Update`; the client fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update: Option<String>,
    /// Session server details, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
}

/// The `session` object of a job request (§5.7).
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// `<advertise_address>/session/<id>`.
    pub url: String,
    /// PEM of the session server certificate.
    pub certificate: String,
    /// Token GitLab sends back in `Authorization`.
    pub authorization: Token,
}

/// Job state in `PUT jobs/:id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Never sent by runners.
    Pending,
    /// Commit and keep-alive.
    Running,
    /// Final: the job succeeded.
    Success,
    /// Final: the job failed.
    Failed,
}

/// A failure reason (§12). Free-form so new server values pass through.
pub type FailureReason = String;

/// `output` of a job update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputInfo {
    /// `crc32:<8 lowercase hex>` of the whole log.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    /// Total log bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub bytesize: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// `PUT jobs/:id` body.
#[derive(Debug, Clone, Serialize)]
pub struct JobUpdate {
    /// Job token (also sent as `JOB-TOKEN`).
    pub token: Token,
    /// Runner info.
    pub info: RunnerInfo,
    /// The state being reported.
    pub state: JobState,
    /// Only with `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    /// Script exit code, omitted when 0 or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Deprecated duplicate of `output.checksum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Log checksum and size; always present.
    pub output: OutputInfo,
    /// Suspend/resume environment key (final update only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_environment_key: Option<String>,
}

impl JobUpdate {
    /// The commit (`state=running`, empty output) sent right after a job arrives.
    pub fn commit(token: Token, info: RunnerInfo) -> Self {
        Self {
            token,
            info,
            state: JobState::Running,
            failure_reason: None,
            exit_code: None,
            checksum: None,
            output: OutputInfo::default(),
            runtime_environment_key: None,
        }
    }
}
