//! The `--custom-*` flags of `register`, `run-single` and `exec custom` (upstream-details.md
//! §1.1: `--custom-` + the key with `_` as `-`), and the `[runners.custom]` section they fill.

use runner_config::CustomConfig;

/// `[runners.custom]` from flags.
#[derive(Debug, clap::Args, Clone, Default)]
pub(crate) struct CustomFlags {
    /// Executable whose JSON output configures the job.
    #[arg(long = "custom-config-exec", env = "CUSTOM_CONFIG_EXEC")]
    pub(crate) config_exec: Option<String>,
    /// Arguments of the config executable (repeat).
    #[arg(long = "custom-config-args")]
    pub(crate) config_args: Vec<String>,
    /// Timeout of the config executable, in seconds.
    #[arg(
        long = "custom-config-exec-timeout",
        env = "CUSTOM_CONFIG_EXEC_TIMEOUT"
    )]
    pub(crate) config_exec_timeout: Option<i64>,
    /// Executable that prepares the job's environment.
    #[arg(long = "custom-prepare-exec", env = "CUSTOM_PREPARE_EXEC")]
    pub(crate) prepare_exec: Option<String>,
    /// Arguments of the prepare executable (repeat).
    #[arg(long = "custom-prepare-args")]
    pub(crate) prepare_args: Vec<String>,
    /// Timeout of the prepare executable, in seconds.
    #[arg(
        long = "custom-prepare-exec-timeout",
        env = "CUSTOM_PREPARE_EXEC_TIMEOUT"
    )]
    pub(crate) prepare_exec_timeout: Option<i64>,
    /// Executable that runs each stage script.
    #[arg(long = "custom-run-exec", env = "CUSTOM_RUN_EXEC")]
    pub(crate) run_exec: Option<String>,
    /// Arguments of the run executable, before the script and stage (repeat).
    #[arg(long = "custom-run-args")]
    pub(crate) run_args: Vec<String>,
    /// Executable that tears the environment down.
    #[arg(long = "custom-cleanup-exec", env = "CUSTOM_CLEANUP_EXEC")]
    pub(crate) cleanup_exec: Option<String>,
    /// Arguments of the cleanup executable (repeat).
    #[arg(long = "custom-cleanup-args")]
    pub(crate) cleanup_args: Vec<String>,
    /// Timeout of the cleanup executable, in seconds.
    #[arg(
        long = "custom-cleanup-exec-timeout",
        env = "CUSTOM_CLEANUP_EXEC_TIMEOUT"
    )]
    pub(crate) cleanup_exec_timeout: Option<i64>,
    /// Seconds between SIGTERM and SIGKILL when a call is stopped.
    #[arg(
        long = "custom-graceful-kill-timeout",
        env = "CUSTOM_GRACEFUL_KILL_TIMEOUT"
    )]
    pub(crate) graceful_kill_timeout: Option<i64>,
    /// Seconds to wait after SIGKILL before giving up on a call.
    #[arg(long = "custom-force-kill-timeout", env = "CUSTOM_FORCE_KILL_TIMEOUT")]
    pub(crate) force_kill_timeout: Option<i64>,
}

impl CustomFlags {
    /// The section these flags describe (every other key at its default).
    pub(crate) fn config(&self) -> CustomConfig {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        CustomConfig {
            config_exec: text(&self.config_exec),
            config_args: self.config_args.clone(),
            config_exec_timeout: self.config_exec_timeout,
            prepare_exec: text(&self.prepare_exec),
            prepare_args: self.prepare_args.clone(),
            prepare_exec_timeout: self.prepare_exec_timeout,
            run_exec: text(&self.run_exec),
            run_args: self.run_args.clone(),
            cleanup_exec: text(&self.cleanup_exec),
            cleanup_args: self.cleanup_args.clone(),
            cleanup_exec_timeout: self.cleanup_exec_timeout,
            graceful_kill_timeout: self.graceful_kill_timeout,
            force_kill_timeout: self.force_kill_timeout,
        }
    }

    /// Whether any flag of the section was given.
    pub(crate) fn is_set(&self) -> bool {
        self.config() != CustomConfig::default()
    }
}
