//! [`Settings`]: the `[runners.custom]` section as the executor uses it, with upstream's
//! defaults (upstream-details.md §1.1).

use std::time::Duration;

use runner_config::CustomConfig;

/// Deadline of `config_exec`, `prepare_exec` and `cleanup_exec` when none is configured.
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(3600);
/// Wait after SIGTERM before SIGKILL when none is configured.
const DEFAULT_GRACEFUL_KILL_TIMEOUT: Duration = Duration::from_secs(600);
/// Wait after SIGKILL before giving up when none is configured.
const DEFAULT_FORCE_KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// One driver executable: the program, its arguments and its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverCommand {
    /// The executable (a path or a name found through `PATH`).
    pub program: String,
    /// Arguments placed before any the runner adds.
    pub args: Vec<String>,
    /// How long the call may take (`run_exec` has none: the stage's deadlines apply).
    pub timeout: Option<Duration>,
}

/// The custom executor's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `config_exec` / `config_args` / `config_exec_timeout`; `None`: the step is skipped.
    pub config: Option<DriverCommand>,
    /// `prepare_exec` / `prepare_args` / `prepare_exec_timeout`; `None`: skipped.
    pub prepare: Option<DriverCommand>,
    /// `run_exec` / `run_args`; an empty program fails every job with
    /// `custom executor is missing RunExec`.
    pub run: DriverCommand,
    /// `cleanup_exec` / `cleanup_args` / `cleanup_exec_timeout`; `None`: skipped.
    pub cleanup: Option<DriverCommand>,
    /// `graceful_kill_timeout`: wait after SIGTERM to the call's process group (600 s).
    pub graceful_kill_timeout: Duration,
    /// `force_kill_timeout`: wait after SIGKILL before giving up (10 s).
    pub force_kill_timeout: Duration,
}

impl Settings {
    /// The settings of a `[runners.custom]` section; absent, zero or negative timeouts take
    /// upstream's defaults.
    ///
    /// ```
    /// let config = runner_config::CustomConfig {
    ///     run_exec: "/opt/driver/run.sh".to_owned(),
    ///     run_args: vec!["--verbose".to_owned()],
    ///     graceful_kill_timeout: Some(5),
    ///     ..Default::default()
    /// };
    /// let settings = runner_executor_custom::Settings::from_config(&config);
    /// assert_eq!(settings.run.args, ["--verbose"]);
    /// assert_eq!(settings.graceful_kill_timeout.as_secs(), 5);
    /// assert_eq!(settings.force_kill_timeout.as_secs(), 10);
    /// assert!(settings.config.is_none());
    /// ```
    pub fn from_config(config: &CustomConfig) -> Self {
        let command = |program: &str, args: &[String], timeout: Option<i64>| {
            (!program.is_empty()).then(|| DriverCommand {
                program: program.to_owned(),
                args: args.to_vec(),
                timeout: Some(seconds(timeout, DEFAULT_EXEC_TIMEOUT)),
            })
        };
        Self {
            config: command(
                &config.config_exec,
                &config.config_args,
                config.config_exec_timeout,
            ),
            prepare: command(
                &config.prepare_exec,
                &config.prepare_args,
                config.prepare_exec_timeout,
            ),
            run: DriverCommand {
                program: config.run_exec.clone(),
                args: config.run_args.clone(),
                timeout: None,
            },
            cleanup: command(
                &config.cleanup_exec,
                &config.cleanup_args,
                config.cleanup_exec_timeout,
            ),
            graceful_kill_timeout: seconds(
                config.graceful_kill_timeout,
                DEFAULT_GRACEFUL_KILL_TIMEOUT,
            ),
            force_kill_timeout: seconds(config.force_kill_timeout, DEFAULT_FORCE_KILL_TIMEOUT),
        }
    }
}

/// A configured number of seconds; absent, zero or negative means `default` (no upper clamp).
fn seconds(configured: Option<i64>, default: Duration) -> Duration {
    match configured.and_then(|value| u64::try_from(value).ok()) {
        Some(value) if value > 0 => Duration::from_secs(value),
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_timeouts_take_the_defaults() {
        let config = CustomConfig {
            config_exec: "config".to_owned(),
            config_exec_timeout: Some(0),
            prepare_exec: "prepare".to_owned(),
            prepare_exec_timeout: Some(-5),
            cleanup_exec: "cleanup".to_owned(),
            cleanup_exec_timeout: Some(7),
            run_exec: "run".to_owned(),
            ..CustomConfig::default()
        };
        let settings = Settings::from_config(&config);
        let timeout = |command: &Option<DriverCommand>| command.as_ref().and_then(|c| c.timeout);
        assert_eq!(timeout(&settings.config), Some(DEFAULT_EXEC_TIMEOUT));
        assert_eq!(timeout(&settings.prepare), Some(DEFAULT_EXEC_TIMEOUT));
        assert_eq!(timeout(&settings.cleanup), Some(Duration::from_secs(7)));
        assert_eq!(
            settings.graceful_kill_timeout,
            DEFAULT_GRACEFUL_KILL_TIMEOUT
        );
        assert_eq!(settings.run.timeout, None);
    }
}
