//! The `config.toml` of gitlab-runner-rs: the official GitLab Runner's configuration file,
//! read, validated, edited and watched.
//!
//! # What it does
//!
//! * [`Config`] models the whole file: the global section, `[session_server]`, every
//!   `[[runners]]` key, `[runners.cache]` with S3/GCS/Azure, `[runners.docker]`,
//!   `[runners.kubernetes]` and the other executors' sections. TOML keys are upstream's,
//!   spelling included (`tls-ca-file`, `MaxUploadedArchiveSize`); durations are
//!   [`GoDuration`]s where upstream uses Go durations and integers where it uses seconds.
//!   Fields hold what the file says, with upstream's "zero means unset"; each field's doc
//!   states the default, and `effective_*` methods apply upstream's fallbacks
//!   ([`Config::effective_check_interval`] is 3 s for `check_interval = 0`).
//! * [`load`] / [`load_str`] report **every** problem at once, each as
//!   `<file>:<line>:<col>: <key>: <message>` with a dotted key such as
//!   `runners[1].docker.memory` (0-based indices): TOML syntax, wrong types, invalid
//!   durations, duplicate keys, unknown executors, bad or missing URLs, `concurrent`
//!   outside 1..=100000, `limit` outside 0..=100000, `request_concurrency` outside
//!   0..=1000, invalid labels. Unknown keys are [`Warning`]s with their path and line,
//!   never fatal and never silently dropped.
//!   Keys that differ only in case are accepted, as upstream's decoder does, with a warning.
//!   [`load_template`] reads a `register --template-config` file, where `url` may be left
//!   to the command line.
//! * Integer-seconds keys (`check_interval`, `poll_timeout`, ...) are read as at most 100
//!   years by their `effective_*` methods, so no deadline built from them can overflow.
//! * [`ConfigDocument`] edits the file through `toml_edit` (what `register`, `unregister`
//!   and token rotation need) so that everything outside the edited entry survives byte for
//!   byte, and saves it atomically with mode 0600.
//! * [`Reloader`] notices a changed file and keeps the last good configuration when the new
//!   one is invalid; [`ConfigLock`] keeps a second process off the same file.
//! * Secrets (tokens, passwords, cloud keys) are [`Secret`]s, masked in `Debug` and
//!   `Display`.
//!
//! # What it does not do
//!
//! * It reads no environment variables: [`Config::expand_env`] takes a lookup function,
//!   [`default_config_path`] takes `is_root` and the home directory, and the `SENTRY_DSN`
//!   fallback is the binary's job.
//! * It is synchronous and spawns nothing: no tokio, no threads, no file-system watches.
//!   The binary calls [`Reloader::poll`] on its own schedule.
//! * It logs nothing: warnings are returned for the caller to log.
//! * It does not check what upstream checks when a job is prepared (pull policy names,
//!   memory sizes, DNS addresses, allowed images); the executors do.
//! * It does not manage `.runner_system_id`.
//!
//! # Where this crate is stricter than upstream
//!
//! Following the seed requirements: unknown keys are reported (upstream ignores them), a
//! bad or missing URL, an unknown executor and `concurrent < 1` fail the load (upstream
//! fails later or never), so do a negative `limit` or `request_concurrency` (upstream reads
//! them as unlimited and 1) and counts above the bounds the binary can honour, a replaced file with an older modification time is still reloaded, and only one
//! process may use a file.
//!
//! # Example
//!
//! Start from [`load`] and [`Config`]; write with [`ConfigDocument`].
//!
//! ```
//! use runner_config::{ConfigDocument, Executor, RunnerSelector, Secret, Timestamp};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("config.toml");
//! std::fs::write(
//!     &path,
//!     r#"# CI hosts, edited by hand
//! concurrent = 4
//!
//! [[runners]]
//!   name = "docker-01"
//!   url = "https://gitlab.example.com"
//!   token = "glrt-t1_abcdefghijklmnop"
//!   executor = "docker"
//!   [runners.docker]
//!     image = "alpine:3.20"
//!     privilegd = true  # a typo: reported, not fatal
//! "#,
//! )?;
//!
//! let loaded = runner_config::load(&path)?;
//! let runner = &loaded.config.runners[0];
//! assert_eq!(runner.executor, Some(Executor::Docker));
//! assert_eq!(runner.short_token(), "abcdefghi");
//! assert_eq!(
//!     loaded.warnings[0].to_string(),
//!     format!("{}:11:5: runners[0].docker.privilegd: unknown key, ignored", path.display())
//! );
//!
//! // Token rotation: only the token keys of that entry change; the comments stay.
//! let mut document = ConfigDocument::open(&path)?;
//! document.update_token(
//!     &RunnerSelector::Name("docker-01"),
//!     &Secret::new("glrt-t1_rotated0000000"),
//!     Timestamp::from_unix(1_772_360_100, 0),
//!     Timestamp::ZERO,
//! )?;
//! document.save()?;
//! let text = std::fs::read_to_string(&path)?;
//! assert!(text.starts_with("# CI hosts, edited by hand\n"));
//! assert!(text.contains("token_obtained_at = 2026-03-01T10:15:00Z"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod config;
mod diagnostic;
mod docker;
mod duration;
mod edit;
mod env;
mod executor;
mod kubernetes;
mod kubernetes_pod;
mod kubernetes_security;
mod kubernetes_volumes;
mod layout;
mod load;
mod lock;
mod logging;
mod other_executors;
mod reload;
mod runner;
mod runner_sections;
mod seconds;
mod secret;
mod skip;
mod source_map;
mod string_or_array;
#[cfg(feature = "test-util")]
pub mod test_util;
mod timestamp;
mod tracked;
mod validate;
mod write;

pub use cache::{CacheAzureConfig, CacheConfig, CacheGcsConfig, CacheS3Config};
pub use config::{
    Config, Experimental, LogrotateConfig, MachineConfig, MachineShutdownDrain, SessionServer,
    SnowplowConfig, UsageLogger,
};
pub use diagnostic::{Location, Problem, ProblemKind, Warning, WarningKind};
pub use docker::{DockerConfig, Service};
pub use duration::{DurationError, GoDuration};
pub use edit::{ConfigDocument, EditError, RunnerSelector};
pub use executor::{Executor, UnknownExecutor};
pub use kubernetes::KubernetesConfig;
pub use kubernetes_pod::{
    ContainerLifecycle, DnsConfig, DnsConfigOption, ExecAction, HostAlias, HttpGetAction,
    HttpHeader, KubernetesAffinity, KubernetesAutoscaler, LabelSelector, LifecycleHandler,
    NodeAffinity, NodeSelector, NodeSelectorTerm, PodAffinity, PodAffinityTerm, PodSpecPatch,
    PreferredSchedulingTerm, SelectorRequirement, TcpSocketAction, WeightedPodAffinityTerm,
};
pub use kubernetes_security::{
    Capabilities, ContainerSecurityContext, PodSecurityContext, SecurityProfile,
};
pub use kubernetes_volumes::{
    ConfigMapVolume, CsiVolume, EmptyDirVolume, HostPathVolume, KubernetesVolumes, NfsVolume,
    PvcVolume, SecretVolume,
};
pub use load::{LoadError, Loaded, default_config_path, load, load_str, load_template};
pub use lock::{ConfigLock, LockError};
pub use logging::{InvalidLogFormat, InvalidLogLevel, LogFormat, LogLevel};
pub use other_executors::{
    AutoscalerConfig, AutoscalerPolicy, ConnectorConfig, CustomConfig, DockerMachine,
    InstanceConfig, MachineAutoscaling, ParallelsConfig, ScaleThrottle, SshConfig, StateStorage,
    VirtualBoxConfig, VmIsolation,
};
pub use reload::{ReloadEvent, Reloader};
pub use runner::RunnerConfig;
pub use runner_sections::{
    ArtifactConfig, BootVerify, CustomBuildDir, JobQueuingDuration, MetricsReferee, Monitoring,
    Referees, RunnerExperimental,
};
pub use secret::Secret;
pub use string_or_array::StringOrArray;
pub use timestamp::Timestamp;
