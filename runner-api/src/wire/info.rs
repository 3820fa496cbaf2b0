//! The `info` object sent with register, verify, job requests and job updates (§4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::identity::{go_arch, go_os};

/// Facts about this runner sent to the coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerInfo {
    /// Always `gitlab-runner`, the name GitLab expects.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Runner version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Source revision (`HEAD` when unknown).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision: String,
    /// Operating system in Go naming (`linux`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub platform: String,
    /// CPU architecture in Go naming (`amd64`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    /// Executor name (`shell`, `docker`, `kubernetes`); empty for registration.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub executor: String,
    /// Shell (`bash`, `sh`, `pwsh`); empty for registration.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// What this runner implements; every key is always sent.
    pub features: Features,
    /// Always present: `{"gpus": ""}` unless GPUs are configured.
    pub config: RunnerConfigInfo,
    /// Runner labels; omitted when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for RunnerInfo {
    fn default() -> Self {
        Self::new("", "", Features::network_client())
    }
}

impl RunnerInfo {
    /// Info for `executor` and `shell` advertising `features`; version and
    /// platform are filled in for this build.
    pub fn new(executor: impl Into<String>, shell: impl Into<String>, features: Features) -> Self {
        Self {
            name: "gitlab-runner".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            revision: "HEAD".to_owned(),
            platform: go_os().to_owned(),
            architecture: go_arch().to_owned(),
            executor: executor.into(),
            shell: shell.into(),
            features,
            config: RunnerConfigInfo::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// The `config` member of [`RunnerInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerConfigInfo {
    /// Docker `gpus` setting, empty when unset.
    pub gpus: String,
}

/// Capabilities advertised in `info.features` (§4.2). Advertise only what is implemented:
/// the server relies on each `true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors GitLab's feature map"
)]
pub struct Features {
    /// Job `variables` are honoured.
    pub variables: bool,
    /// `image:` is supported.
    pub image: bool,
    /// `services:` are supported.
    pub services: bool,
    /// Artifacts upload and download.
    pub artifacts: bool,
    /// `cache:` is supported.
    pub cache: bool,
    /// `cache:fallback_keys` is supported.
    pub fallback_cache_keys: bool,
    /// Jobs run on a shared host.
    pub shared: bool,
    /// More than one artifacts entry per job.
    pub upload_multiple_artifacts: bool,
    /// Non-zip artifact formats.
    pub upload_raw_artifacts: bool,
    /// A session server can be hosted.
    pub session: bool,
    /// Interactive web terminal.
    pub terminal: bool,
    /// `git_info.refspecs` is honoured.
    pub refspecs: bool,
    /// `masked` variables are hidden in the log.
    pub masking: bool,
    /// Service proxying through the session server.
    pub proxy: bool,
    /// The `raw` variable flag is honoured.
    pub raw_variables: bool,
    /// `artifacts:exclude` is supported.
    pub artifacts_exclude: bool,
    /// Steps other than `script`/`after_script`.
    pub multi_build_steps: bool,
    /// The log can be resent from offset 0 (412).
    pub trace_reset: bool,
    /// Final update carries `output.checksum`.
    pub trace_checksum: bool,
    /// Updates carry `output.bytesize`.
    pub trace_size: bool,
    /// `secrets` are resolved.
    pub vault_secrets: bool,
    /// Aborts on `Job-Status: canceled`/`failed`.
    pub cancelable: bool,
    /// Failed updates carry `exit_code`.
    pub return_exit_code: bool,
    /// Per-service `variables`.
    pub service_variables: bool,
    /// Several aliases per service.
    pub service_multiple_aliases: bool,
    /// Image `executor_opts` honoured.
    pub image_executor_opts: bool,
    /// Service `executor_opts` honoured.
    pub service_executor_opts: bool,
    /// Understands `Job-Status: canceling` and still runs `after_script`.
    pub cancel_gracefully: bool,
    /// The `run:` keyword is executed natively.
    pub native_steps_integration: bool,
    /// A received job is acknowledged with `PUT state=running`.
    pub two_phase_job_commit: bool,
    /// The `inputs` payload field is understood.
    pub job_inputs: bool,
}

impl Features {
    /// The features this crate's client itself implements: log reset, checksum and
    /// size, cancellation (hard and graceful) and the two-phase commit.
    ///
    /// `cancel_gracefully` and `two_phase_job_commit` oblige the caller to run
    /// `after_script` on [`crate::JobTrace::cancel_token`] and to call
    /// [`crate::Client::commit_job`] right after a job arrives.
    pub fn network_client() -> Self {
        Self {
            trace_reset: true,
            trace_checksum: true,
            trace_size: true,
            cancelable: true,
            cancel_gracefully: true,
            two_phase_job_commit: true,
            ..Self::default()
        }
    }
}
