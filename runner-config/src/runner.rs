//! [`RunnerConfig`]: one `[[runners]]` entry and its small sub-tables.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cache::CacheConfig;
use crate::docker::DockerConfig;
use crate::duration::GoDuration;
use crate::executor::Executor;
use crate::kubernetes::KubernetesConfig;
use crate::other_executors::{
    AutoscalerConfig, CustomConfig, DockerMachine, InstanceConfig, ParallelsConfig, SshConfig,
    VirtualBoxConfig,
};
use crate::runner_sections::{
    ArtifactConfig, CustomBuildDir, Monitoring, Referees, RunnerExperimental,
};
use crate::secret::Secret;
use crate::skip::{is_default, is_false, is_zero};
use crate::timestamp::Timestamp;

/// One `[[runners]]` entry: a runner registered with GitLab and how it runs jobs.
///
/// Fields are in upstream's declaration order, which is the order `register` writes them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerConfig {
    /// Free text stored only locally; the `runner_name` label and the selector of
    /// `unregister --name`. Default: empty (`register` writes the host name).
    pub name: String,
    /// Maximum jobs of this entry at once (a slot is held from before the job request).
    /// Default: `0`, unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: i64,
    /// Maximum job log size in kilobytes. Default: `0`, which means 4096 (4 MiB).
    #[serde(skip_serializing_if = "is_zero")]
    pub output_limit: i64,
    /// Maximum job requests in flight for this entry. Default: `0`, which means 1.
    #[serde(skip_serializing_if = "is_zero")]
    pub request_concurrency: i64,
    /// Wait for the next `check_interval` turn after receiving a job instead of asking again
    /// at once. Default: unset, which means `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_check_interval: Option<bool>,
    /// Consecutive unhealthy job requests after which the runner is skipped. Default: `0`,
    /// which means 3 (values below 1 too).
    #[serde(skip_serializing_if = "is_zero")]
    pub unhealthy_requests_limit: i64,
    /// How long an unhealthy runner is skipped. Default: unset, which means 60 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_interval: Option<GoDuration>,
    /// Attempts to send the final job state. Default: `0`, which means 10 (values below 1
    /// too).
    #[serde(skip_serializing_if = "is_zero")]
    pub job_status_final_update_retry_limit: i64,
    /// `[runners.experimental]`: per-runner experiments. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<RunnerExperimental>,
    /// Base URL of GitLab; `$VAR` is expanded by [`crate::Config::expand_env`].
    /// Required in practice. Default: empty.
    pub url: String,
    /// Runner ID assigned by GitLab (written by `register`). Default: `0`.
    pub id: i64,
    /// Runner authentication token (`glrt-...`). Default: empty, which makes upstream skip
    /// the runner with a warning.
    pub token: Secret,
    /// When the token was obtained. Default: the zero time, "not known".
    pub token_obtained_at: Timestamp,
    /// When the token expires. Default: the zero time, "never".
    pub token_expires_at: Timestamp,
    /// PEM bundle that verifies GitLab's certificate. Default: empty, which means
    /// `<config dir>/certs/<host>.crt` when it exists.
    #[serde(rename = "tls-ca-file", skip_serializing_if = "String::is_empty")]
    pub tls_ca_file: String,
    /// Client certificate for mutual TLS. Default: empty (fallback
    /// `<config dir>/certs/<host>.auth.crt`).
    #[serde(rename = "tls-cert-file", skip_serializing_if = "String::is_empty")]
    pub tls_cert_file: String,
    /// Client private key for mutual TLS. Default: empty (fallback
    /// `<config dir>/certs/<host>.auth.key`).
    #[serde(rename = "tls-key-file", skip_serializing_if = "String::is_empty")]
    pub tls_key_file: String,
    /// Runner labels, merged over the global `labels`. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The executor. Default: unset (a warning at load; upstream marks such a runner
    /// unhealthy). An unknown name is an error at load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<Executor>,
    /// Base directory of checkouts. Default: empty, the executor's default (shell
    /// `<working dir>/builds`, containers `/builds`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub builds_dir: String,
    /// Base directory of the local cache. Default: empty, the executor's default.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cache_dir: String,
    /// Replaces scheme and host of the URL used by `git clone`/`fetch`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clone_url: String,
    /// Extra job variables, `"KEY=VALUE"` each (entries without `=` are ignored). A job
    /// variable of the same name wins. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    /// Experimental: run commands through the helper binary. Default: unset, `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_exec: Option<bool>,
    /// Script run before the repository is fetched. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pre_get_sources_script: String,
    /// Script run after fetch and submodules. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub post_get_sources_script: String,
    /// Script run before `before_script`/`script`, in the same shell. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pre_build_script: String,
    /// Script run after `script`, in the same shell. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub post_build_script: String,
    /// Bound of the prepare stages. Default: unset, the job timeout (as are zero and values
    /// above the job timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepare_timeout: Option<GoDuration>,
    /// Bound of the get-sources stage. Default: unset, the job timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_sources_timeout: Option<GoDuration>,
    /// Ignore `CI_DEBUG_TRACE=true` in jobs. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub debug_trace_disabled: bool,
    /// Add a git `safe.directory` entry for the job directory. Default: unset, the
    /// executor's default (shell `false`, containers `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe_directory_checkout: Option<bool>,
    /// Delete `.git/config` and hooks around the job. Default: unset, `true` except for
    /// the shell executor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clean_git_config: Option<bool>,
    /// Shell of the job scripts: `bash`, `sh`, `pwsh`, `powershell`. Default: empty, the
    /// executor's default (`bash` on Linux).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// `[runners.custom_build_dir]`. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub custom_build_dir: CustomBuildDir,
    /// `[runners.referees]` (docker+machine only). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referees: Option<Referees>,
    /// `[runners.cache]`: the distributed cache. Default: none, local cache only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// `[runners.artifact]`: artifact upload timeouts. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub artifact: ArtifactConfig,
    /// `[runners.feature_flags]`: `FF_NAME = true/false`; a flag set here cannot be
    /// overridden by a job. Default: none (each flag has its built-in default).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_flags: BTreeMap<String, bool>,
    /// `[runners.monitoring]`: job queueing-time counters. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// Put jobs in per-slot cgroups. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub use_slot_cgroups: bool,
    /// Cgroup name template; `${slot}` is replaced. Default: empty, which means
    /// `gitlab-runner/slot-${slot}`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub slot_cgroup_template: String,
    /// `[runners.instance]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceConfig>,
    /// `[runners.ssh]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshConfig>,
    /// `[runners.docker]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerConfig>,
    /// `[runners.parallels]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallels: Option<ParallelsConfig>,
    /// `[runners.virtualbox]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtualbox: Option<VirtualBoxConfig>,
    /// `[runners.machine]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<DockerMachine>,
    /// `[runners.kubernetes]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesConfig>,
    /// `[runners.custom]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomConfig>,
    /// `[runners.autoscaler]`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<AutoscalerConfig>,
    /// Image that provides the step-runner binary. Default: empty, the built-in one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub step_runner_image: String,
}

impl RunnerConfig {
    /// Fallback of `output_limit` (in kilobytes) when it is zero.
    pub const DEFAULT_OUTPUT_LIMIT_KB: i64 = 4096;
    /// Fallback of `request_concurrency` when it is below 1.
    pub const DEFAULT_REQUEST_CONCURRENCY: i64 = 1;
    /// Largest `limit` accepted at load, for the reason of [`crate::Config::MAX_CONCURRENT`]
    /// (the binary sizes a semaphore with it; a larger limit could never be reached anyway,
    /// `concurrent` caps it).
    pub const MAX_LIMIT: i64 = 100_000;
    /// Largest `request_concurrency` accepted at load. Each unit is a task that keeps a job
    /// request (a long poll) open against GitLab; `4294967295` would spawn billions of
    /// tasks and connections. Upstream's own adaptive limit stays far below 1000, and 1000
    /// simultaneous requests from one runner entry is already a flood.
    pub const MAX_REQUEST_CONCURRENCY: i64 = 1_000;
    /// Fallback of `unhealthy_requests_limit` when it is below 1.
    pub const DEFAULT_UNHEALTHY_REQUESTS_LIMIT: i64 = 3;
    /// Fallback of `unhealthy_interval` when it is absent.
    pub const DEFAULT_UNHEALTHY_INTERVAL: Duration = Duration::from_secs(60 * 60);
    /// Fallback of `job_status_final_update_retry_limit` when it is below 1.
    pub const DEFAULT_JOB_STATUS_FINAL_UPDATE_RETRY_LIMIT: i64 = 10;

    /// The "short token" upstream uses in logs, in the `runner` metric label and in build
    /// paths: the first 9 characters of the token after stripping a known prefix
    /// (`glrt-`, `glrt-t1_`..`t3_`, `t1_`..`t3_`, `glrtr-`, `glcbt-`, `GR` + 7 hex digits).
    ///
    /// `list` prints this instead of the whole token.
    ///
    /// ```
    /// use runner_config::{RunnerConfig, Secret};
    ///
    /// let runner = RunnerConfig { token: Secret::new("glrt-t1_t9Wkyj-HGRkqQ-VWTGAr"), ..Default::default() };
    /// assert_eq!(runner.short_token(), "t9Wkyj-HG");
    /// ```
    pub fn short_token(&self) -> &str {
        runner_core::short_token(self.token.expose())
    }

    /// The job log limit in bytes (`output_limit` kilobytes, 4 MiB when zero or negative).
    pub fn effective_output_limit_bytes(&self) -> u64 {
        let kilobytes = if self.output_limit > 0 {
            self.output_limit
        } else {
            Self::DEFAULT_OUTPUT_LIMIT_KB
        };
        u64::try_from(kilobytes).unwrap_or(0).saturating_mul(1024)
    }

    /// Requests in flight allowed: `request_concurrency`, 1 when below 1, at most
    /// [`RunnerConfig::MAX_REQUEST_CONCURRENCY`] (a loaded file is already within bounds;
    /// the clamp covers entries built in code, such as `run-single`'s).
    pub fn effective_request_concurrency(&self) -> u32 {
        let value = if self.request_concurrency < 1 {
            Self::DEFAULT_REQUEST_CONCURRENCY
        } else {
            self.request_concurrency.min(Self::MAX_REQUEST_CONCURRENCY)
        };
        // Within 1..=1000.
        value as u32
    }

    /// Consecutive unhealthy requests tolerated: 3 when below 1.
    pub fn effective_unhealthy_requests_limit(&self) -> u32 {
        u32::try_from(self.unhealthy_requests_limit)
            .ok()
            .filter(|value| *value >= 1)
            .unwrap_or(Self::DEFAULT_UNHEALTHY_REQUESTS_LIMIT as u32)
    }

    /// How long an unhealthy runner is skipped: 60 minutes when absent (a negative value
    /// counts as zero).
    pub fn effective_unhealthy_interval(&self) -> Duration {
        match self.unhealthy_interval {
            None => Self::DEFAULT_UNHEALTHY_INTERVAL,
            Some(interval) => interval.to_std().unwrap_or(Duration::ZERO),
        }
    }

    /// Attempts to send the final job state: 10 when below 1.
    pub fn effective_job_status_final_update_retry_limit(&self) -> u32 {
        u32::try_from(self.job_status_final_update_retry_limit)
            .ok()
            .filter(|value| *value >= 1)
            .unwrap_or(Self::DEFAULT_JOB_STATUS_FINAL_UPDATE_RETRY_LIMIT as u32)
    }

    /// The limit of concurrent jobs, `None` when unlimited (`limit` zero or negative), at
    /// most [`RunnerConfig::MAX_LIMIT`] (the clamp covers entries built in code).
    pub fn effective_limit(&self) -> Option<u32> {
        // Within 1..=100000.
        (self.limit > 0).then(|| self.limit.min(Self::MAX_LIMIT) as u32)
    }

    /// Whether a feature flag is set in `[runners.feature_flags]` (`None` when absent, in
    /// which case the flag's built-in default or a job variable decides).
    pub fn feature_flag(&self, name: &str) -> Option<bool> {
        self.feature_flags.get(name).copied()
    }

    /// The `environment` entries as `(name, value)` pairs, dropping entries without `=`
    /// as upstream does.
    pub fn environment_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.environment
            .iter()
            .filter_map(|entry| entry.split_once('='))
    }

    /// Whether the URL carries the legacy `/ci` suffix (stripped when building API URLs).
    pub fn has_legacy_ci_suffix(&self) -> bool {
        self.url.trim_end_matches('/').ends_with("/ci")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_values_apply_upstream_fallbacks() {
        let runner = RunnerConfig::default();
        assert_eq!(runner.effective_output_limit_bytes(), 4 * 1024 * 1024);
        assert_eq!(runner.effective_request_concurrency(), 1);
        assert_eq!(runner.effective_unhealthy_requests_limit(), 3);
        assert_eq!(
            runner.effective_unhealthy_interval(),
            Duration::from_secs(3600)
        );
        assert_eq!(runner.effective_job_status_final_update_retry_limit(), 10);
        assert_eq!(runner.effective_limit(), None);
        let runner = RunnerConfig {
            output_limit: 16,
            request_concurrency: 4,
            limit: 2,
            unhealthy_interval: Some(GoDuration::from_mins(15)),
            ..RunnerConfig::default()
        };
        assert_eq!(runner.effective_output_limit_bytes(), 16 * 1024);
        assert_eq!(runner.effective_request_concurrency(), 4);
        assert_eq!(runner.effective_limit(), Some(2));
        assert_eq!(
            runner.effective_unhealthy_interval(),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn environment_pairs_drop_entries_without_equals() {
        let runner = RunnerConfig {
            environment: vec!["A=1".into(), "BROKEN".into(), "B=x=y".into()],
            ..RunnerConfig::default()
        };
        let pairs: Vec<_> = runner.environment_pairs().collect();
        assert_eq!(pairs, [("A", "1"), ("B", "x=y")]);
    }
}
