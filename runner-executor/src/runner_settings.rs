//! [`RunnerSettings`]: what a job needs from the runner's own configuration and build facts.

use std::collections::BTreeMap;
use std::time::Duration;

/// Settings that come from the runner (`config.toml` and build facts), not from GitLab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    /// `[[runners]] name`.
    pub name: String,
    /// Short token (see [`crate::short_token`]).
    pub short_token: String,
    /// System id shown in the header.
    pub system_id: String,
    /// Runner version for the header and `CI_RUNNER_VERSION`.
    pub version: String,
    /// Runner revision (commit) for the header and `CI_RUNNER_REVISION`.
    pub revision: String,
    /// `<os>/<arch>` such as `linux/amd64`.
    pub executable_arch: String,
    /// Value for `git -c http.userAgent=...`.
    pub user_agent: String,
    /// `builds_dir`; `None` means the executor default.
    pub builds_dir: Option<String>,
    /// `cache_dir`; `None` means the executor default.
    pub cache_dir: Option<String>,
    /// `CI_CONCURRENT_ID`.
    pub concurrent_id: u32,
    /// `CI_CONCURRENT_PROJECT_ID`, part of the project directory.
    pub concurrent_project_id: u32,
    /// `environment` entries, `KEY=VALUE`.
    pub environment: Vec<String>,
    /// `pre_get_sources_script`.
    pub pre_get_sources_script: Option<String>,
    /// `post_get_sources_script`.
    pub post_get_sources_script: Option<String>,
    /// `pre_build_script`.
    pub pre_build_script: Option<String>,
    /// `post_build_script`.
    pub post_build_script: Option<String>,
    /// `output_limit` in KiB (default 4096).
    pub output_limit_kib: u64,
    /// `shell` (default `bash`).
    pub shell: String,
    /// `clone_url` override.
    pub clone_url: Option<String>,
    /// `[runners.feature_flags]`.
    pub feature_flags: BTreeMap<String, bool>,
    /// `prepare_timeout`; `None` means the job timeout.
    pub prepare_timeout: Option<Duration>,
    /// `get_sources_timeout`; `None` means the job timeout.
    pub get_sources_timeout: Option<Duration>,
    /// `debug_trace_disabled`.
    pub debug_trace_disabled: bool,
    /// Delay between executor preparation attempts (upstream: 3 s).
    pub prepare_retry_delay: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            short_token: String::new(),
            system_id: String::new(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            revision: "unknown".to_owned(),
            executable_arch: format!("{}/{}", std::env::consts::OS, go_arch()),
            user_agent: format!(
                "gitlab-runner-rs {} {}/{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                go_arch()
            ),
            builds_dir: None,
            cache_dir: None,
            concurrent_id: 0,
            concurrent_project_id: 0,
            environment: Vec::new(),
            pre_get_sources_script: None,
            post_get_sources_script: None,
            pre_build_script: None,
            post_build_script: None,
            output_limit_kib: 4096,
            shell: "bash".to_owned(),
            clone_url: None,
            feature_flags: BTreeMap::new(),
            prepare_timeout: None,
            get_sources_timeout: None,
            debug_trace_disabled: false,
            prepare_retry_delay: Duration::from_secs(3),
        }
    }
}

/// Go's name for the build architecture (`amd64` rather than `x86_64`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
