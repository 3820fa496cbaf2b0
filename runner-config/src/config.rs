//! [`Config`]: the whole file, its global section and the global sub-tables.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::logging::{LogFormat, LogLevel};
use crate::runner::RunnerConfig;
use crate::seconds::positive_seconds;
use crate::secret::Secret;
use crate::skip::{is_default, is_false};

/// The whole `config.toml`: the global section and every `[[runners]]` entry.
///
/// Fields hold what the file says, with upstream's convention that zero means "unset";
/// the `effective_*` methods apply upstream's fallbacks (for example `check_interval = 0`
/// means 3 seconds). Field order is upstream's declaration order, which is the order in
/// which keys are written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address of the metrics and debug HTTP server (`[host]:port`). Default: empty,
    /// the server is disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub listen_address: String,
    /// The interactive web terminal server. Default: `session_timeout = 1800`, no listener.
    pub session_server: SessionServer,
    /// Default labels of every runner (string to string). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Upper bound on jobs running (plus job requests in flight) over all runners.
    /// Default: `1`. A value below 1 is rejected at load.
    pub concurrent: i64,
    /// Seconds between job-polling cycles over all runners. Default: `0` in the model,
    /// which means 3 s (see [`Config::effective_check_interval`]); negative also means 3 s.
    pub check_interval: i64,
    /// Level of the runner's own log. Default: unset, which means `info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Format of the runner's own log. Default: unset, which means `runner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// User the shell executor runs jobs as; normally injected by `run --user`, not
    /// written by hand. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// The `[[runners]]` entries, in file order. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runners: Vec<RunnerConfig>,
    /// Sentry DSN for error reporting. Default: unset; the binary then falls back to the
    /// `SENTRY_DSN` environment variable (this crate reads no environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentry_dsn: Option<Secret>,
    /// Maximum age of a keep-alive connection to GitLab. Default: unset, which means
    /// 15 minutes (see [`Config::effective_connection_max_age`]); zero or negative means
    /// "as long as possible".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_max_age: Option<GoDuration>,
    /// Global settings of the `docker+machine` provider. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineConfig>,
    /// Experimental global features. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Experimental>,
    /// Seconds allowed for the forceful shutdown. Default: `0` in the model, which means
    /// 30 s (see [`Config::effective_shutdown_timeout`]); negative also means 30 s.
    pub shutdown_timeout: i64,
}

impl Default for Config {
    /// What upstream uses when a key is absent: `concurrent = 1`, `session_timeout = 1800`,
    /// everything else zero or empty.
    fn default() -> Self {
        Self {
            listen_address: String::new(),
            session_server: SessionServer::default(),
            labels: BTreeMap::new(),
            concurrent: 1,
            check_interval: 0,
            log_level: None,
            log_format: None,
            user: String::new(),
            runners: Vec::new(),
            sentry_dsn: None,
            connection_max_age: None,
            machine: None,
            experimental: None,
            shutdown_timeout: 0,
        }
    }
}

impl Config {
    /// Fallback of `check_interval` when it is zero or negative.
    pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(3);
    /// Fallback of `shutdown_timeout` when it is zero or negative.
    pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
    /// Fallback of `connection_max_age` when it is absent.
    pub const DEFAULT_CONNECTION_MAX_AGE: Duration = Duration::from_secs(15 * 60);
    /// Largest `concurrent` accepted at load. The binary sizes a tokio semaphore with it,
    /// which panics above `Semaphore::MAX_PERMITS` (about 2^61, less than `i64::MAX`), and
    /// each unit is a job the host may run at once: 100000 is beyond any real host and
    /// far from the panic.
    pub const MAX_CONCURRENT: i64 = 100_000;

    /// The size of the worker pool: `concurrent` within 1 and [`Config::MAX_CONCURRENT`].
    /// A loaded file is already within these bounds; the clamp covers configurations built
    /// in code (`run-single`).
    pub fn effective_concurrent(&self) -> usize {
        // Both bounds fit in usize.
        self.concurrent.clamp(1, Self::MAX_CONCURRENT) as usize
    }

    /// The polling period: `check_interval` seconds, or 3 s when it is zero or negative.
    /// Like every integer-seconds key, a value above 100 years is read as 100 years, so
    /// that no sleep or deadline built from it can overflow.
    pub fn effective_check_interval(&self) -> Duration {
        positive_seconds(self.check_interval).unwrap_or(Self::DEFAULT_CHECK_INTERVAL)
    }

    /// The forceful-shutdown deadline: `shutdown_timeout` seconds, or 30 s when it is zero
    /// or negative.
    pub fn effective_shutdown_timeout(&self) -> Duration {
        positive_seconds(self.shutdown_timeout).unwrap_or(Self::DEFAULT_SHUTDOWN_TIMEOUT)
    }

    /// The keep-alive connection lifetime: `None` means "keep connections as long as
    /// possible" (a zero or negative value in the file); absent means 15 minutes.
    pub fn effective_connection_max_age(&self) -> Option<Duration> {
        match self.connection_max_age {
            None => Some(Self::DEFAULT_CONNECTION_MAX_AGE),
            Some(age) if age.as_nanos() > 0 => age.to_std(),
            Some(_) => None,
        }
    }

    /// The log level, `info` when unset.
    pub fn effective_log_level(&self) -> LogLevel {
        self.log_level.unwrap_or(LogLevel::Info)
    }

    /// The log format, `runner` when unset.
    pub fn effective_log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(LogFormat::Runner)
    }

    /// The runner entry with this name (the first one, as upstream's lookups do).
    pub fn runner_by_name(&self, name: &str) -> Option<&RunnerConfig> {
        self.runners.iter().find(|runner| runner.name == name)
    }

    /// The labels of `runner` as upstream computes them: the global `labels`, overlaid by
    /// the runner's own `labels`.
    pub fn computed_labels(&self, runner: &RunnerConfig) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.extend(
            runner
                .labels
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        labels
    }

    /// Expands `$VAR` and `${VAR}` in every runner's `url` and `token`, as upstream does at
    /// load, with `lookup` standing in for the process environment (undefined variables
    /// become empty strings). This crate reads no environment itself; the binary passes
    /// `|name| std::env::var(name).ok()`.
    ///
    /// ```
    /// let mut config = runner_config::load_str(
    ///     "[[runners]]\nurl = \"https://${HOST}\"\ntoken = \"$TOKEN\"\nexecutor = \"shell\"\n",
    ///     "config.toml",
    /// )?
    /// .config;
    /// config.expand_env(|name| match name {
    ///     "HOST" => Some("gitlab.example.com".to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(config.runners[0].url, "https://gitlab.example.com");
    /// assert_eq!(config.runners[0].token.expose(), "");
    /// # Ok::<(), runner_config::LoadError>(())
    /// ```
    pub fn expand_env(&mut self, mut lookup: impl FnMut(&str) -> Option<String>) {
        for runner in &mut self.runners {
            runner.url = crate::env::expand(&runner.url, &mut lookup);
            runner.token = Secret::new(crate::env::expand(runner.token.expose(), &mut lookup));
        }
    }
}

/// `[session_server]`: the interactive web terminal and service proxy server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionServer {
    /// `host:port` the session server binds to. Default: empty, the server is disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub listen_address: String,
    /// `host:port` GitLab is told to connect to, without scheme. Default: empty, which
    /// means `listen_address`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise_address: String,
    /// Seconds a terminal session may stay open after the job finished. Default: `1800`;
    /// zero or negative also means 1800.
    pub session_timeout: i64,
}

impl Default for SessionServer {
    /// No listener, `session_timeout = 1800`.
    fn default() -> Self {
        Self {
            listen_address: String::new(),
            advertise_address: String::new(),
            session_timeout: 1800,
        }
    }
}

impl SessionServer {
    /// Fallback of `session_timeout` when it is zero or negative.
    pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(1800);

    /// The session timeout, 30 minutes when zero or negative.
    pub fn effective_session_timeout(&self) -> Duration {
        positive_seconds(self.session_timeout).unwrap_or(Self::DEFAULT_SESSION_TIMEOUT)
    }
}

/// `[machine]`: global settings of the `docker+machine` provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineConfig {
    /// `[machine.shutdown_drain]`: removal of idle machines at shutdown. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_drain: Option<MachineShutdownDrain>,
}

/// `[machine.shutdown_drain]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineShutdownDrain {
    /// Remove idle machines during shutdown. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Machines removed concurrently. Default: `0`, which means 3.
    pub concurrency: i64,
    /// Removal attempts per machine. Default: `0`, which means 3.
    pub max_retries: i64,
    /// Base backoff between attempts, multiplied by the attempt number. Default: zero,
    /// which means 5 s.
    pub retry_backoff: GoDuration,
}

/// `[experimental]`: experimental global features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Experimental {
    /// `[experimental.usage_logger]`. Default: disabled.
    pub usage_logger: UsageLogger,
}

/// `[experimental.usage_logger]`: one usage record per finished job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageLogger {
    /// Whether usage records are written. Default: `false`.
    pub enabled: bool,
    /// Writers: `logrotate` and/or `snowplow_billing`. Default: empty, which means
    /// `["logrotate"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<String>,
    /// `[experimental.usage_logger.logrotate]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub logrotate: LogrotateConfig,
    /// `[experimental.usage_logger.snowplow_billing]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub snowplow_billing: SnowplowConfig,
    /// Deprecated fallback of `logrotate.log_dir`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_dir: String,
    /// Deprecated fallback of `logrotate.max_backup_files`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backup_files: Option<i64>,
    /// Deprecated fallback of `logrotate.max_rotation_age`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rotation_age: Option<GoDuration>,
    /// Deprecated fallback of `logrotate.labels`. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `[experimental.usage_logger.logrotate]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogrotateConfig {
    /// Directory of the usage log. Default: empty, which means `<config dir>/usage-log`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_dir: String,
    /// Rotated files kept. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backup_files: Option<i64>,
    /// Rotation age. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rotation_age: Option<GoDuration>,
    /// Labels added to every record. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `[experimental.usage_logger.snowplow_billing]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnowplowConfig {
    /// Collector endpoint, required for this writer. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub collector_uri: String,
    /// Application ID. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_id: String,
    /// Event category. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Realm (SaaS, Dedicated or SM). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub realm: String,
    /// Deployment type. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deployment_type: String,
    /// Extra metadata. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Authenticate with OIDC. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_oidc: bool,
    /// Histogram buckets of batch delivery durations. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batch_delivery_duration_buckets: Vec<f64>,
    /// Skip OIDC on clouds that do not support it. Default: unset, which means `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_oidc_if_unsupported_cloud: Option<bool>,
    /// Skip jobs that ended in a runner system failure. Default: unset, which means `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_runner_system_failure: Option<bool>,
}
