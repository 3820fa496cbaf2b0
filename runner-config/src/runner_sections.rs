//! The small sub-tables of a `[[runners]]` entry: `[runners.custom_build_dir]`,
//! `[runners.artifact]`, `[runners.experimental]`, `[runners.referees]` and
//! `[runners.monitoring]`.

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::skip::is_false;

/// `[runners.custom_build_dir]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomBuildDir {
    /// Let jobs choose their clone path with `GIT_CLONE_PATH`. Default: unset, `true` for
    /// container-based executors and `false` for shell, ssh and custom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `[runners.artifact]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArtifactConfig {
    /// Bound of a whole artifact upload. Default: unset, which means 1 hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_timeout: Option<GoDuration>,
    /// Wait for response headers after the body was sent. Default: unset, 10 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_header_timeout: Option<GoDuration>,
}

/// `[runners.experimental]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerExperimental {
    /// `[runners.experimental.boot_verify]`: a canary job at start-up. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_verify: Option<BootVerify>,
}

/// `[runners.experimental.boot_verify]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootVerify {
    /// Run the canary. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Deadline of the canary. Default: zero, which means 5 minutes.
    pub timeout: GoDuration,
    /// Minimum backoff between acquire attempts. Default: zero, which means 1 s.
    pub acquire_min_backoff: GoDuration,
    /// Maximum backoff between acquire attempts. Default: zero, which means 10 s.
    pub acquire_max_backoff: GoDuration,
}

/// `[runners.referees]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Referees {
    /// `[runners.referees.metrics]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsReferee>,
}

/// `[runners.referees.metrics]`: Prometheus queries attached to a job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsReferee {
    /// `host:port` of the Prometheus server. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prometheus_address: String,
    /// Query interval in seconds. Default: `0`.
    pub query_interval: i64,
    /// `name:PromQL` queries (`{selector}` and `{interval}` are substituted). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
}

/// `[runners.monitoring]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Monitoring {
    /// `[[runners.monitoring.job_queuing_durations]]`; the last entry whose period contains
    /// "now" is active. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub job_queuing_durations: Vec<JobQueuingDuration>,
}

/// One `[[runners.monitoring.job_queuing_durations]]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobQueuingDuration {
    /// 7-field cron expressions (`[second] [minute] [hour] [dom] [month] [dow] [year]`).
    /// Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<String>,
    /// Time zone of the periods. Default: empty, local time.
    pub timezone: String,
    /// Queueing time above which the counter increments; zero or negative disables the
    /// entry. Default: zero.
    pub threshold: GoDuration,
    /// Regex matched against GitLab's "jobs running for project" value. Default: empty,
    /// matches everything.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jobs_running_for_project: String,
}
