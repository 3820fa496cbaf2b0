//! Command-line definition: upstream's commands, flags and environment variables
//! (cli.md), parsed with clap.
//!
//! Only parsing lives here; each command's behaviour is in `commands/`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand};

/// Parses `arguments` (the program name first) and reports problems in upstream's words
/// (cli.md 1.1): an unknown command is `FATAL: Command <name> not found.`, a flag error
/// `Incorrect Usage: <reason>` followed by the usage; both exit 1. `--help` prints and exits 0.
pub(crate) fn parse(arguments: Vec<OsString>) -> Result<Cli, ExitCode> {
    Cli::try_parse_from(without_lone_booleans(arguments)).map_err(report)
}

/// A lone `true`/`false` after a flag (`--debug true`) is not a value: upstream warns and,
/// as Go's flag parsing stops at the first argument that is not a flag, drops it and
/// everything after it.
fn without_lone_booleans(mut arguments: Vec<OsString>) -> Vec<OsString> {
    let lone = arguments
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(index, argument)| {
            let previous = arguments.get(index - 1)?.to_str()?;
            let is_boolean = matches!(argument.to_str(), Some("true" | "false"));
            (is_boolean && previous.starts_with('-') && !previous.contains('=')).then(|| {
                (
                    index,
                    previous.to_owned(),
                    argument.to_string_lossy().into_owned(),
                )
            })
        });
    if let Some((index, flag, value)) = lone {
        #[expect(
            clippy::print_stderr,
            reason = "logging is not set up before the command line is parsed"
        )]
        {
            eprintln!(
                "\x1b[0;33mWARNING: boolean parameters must be passed in the command line with {flag}={value}\x1b[0;m"
            );
            eprintln!("\x1b[0;33mWARNING: parameters after this may be ignored\x1b[0;m");
        }
        arguments.truncate(index);
    }
    arguments
}

fn report(error: clap::Error) -> ExitCode {
    let context = |kind: ContextKind| match error.get(kind) {
        Some(ContextValue::String(text)) => text.clone(),
        Some(ContextValue::Strings(texts)) => texts.join(" "),
        _ => String::new(),
    };
    let rendered = error.render().to_string();
    let usage = rendered
        .split_once("\n\n")
        .map_or("", |(_, rest)| rest)
        .trim_end();
    #[expect(
        clippy::print_stderr,
        reason = "logging is not set up before the command line is parsed"
    )]
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::InvalidSubcommand => {
            let name = context(ContextKind::InvalidSubcommand);
            eprintln!("\x1b[31;1mFATAL: Command {name} not found.\x1b[0;m");
            ExitCode::FAILURE
        }
        kind => {
            let reason = if kind == ErrorKind::UnknownArgument {
                let argument = context(ContextKind::InvalidArg);
                if argument.starts_with('-') {
                    format!(
                        "flag provided but not defined: -{}",
                        argument.trim_start_matches('-')
                    )
                } else {
                    format!("unexpected argument {argument}")
                }
            } else {
                rendered
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_owned()
            };
            eprintln!("Incorrect Usage: {reason}\n\n{usage}");
            ExitCode::FAILURE
        }
    }
}

/// A GitLab Runner written in Rust.
#[derive(Debug, Parser)]
#[command(
    name = "gitlab-runner-rs",
    about = "a GitLab Runner written in Rust",
    disable_version_flag = true
)]
pub(crate) struct Cli {
    /// Debug logging (wins over --log-level and the config file).
    #[arg(long, global = true, env = "RUNNER_DEBUG")]
    pub(crate) debug: bool,
    /// Log level: debug, info, warn, error, fatal, panic.
    #[arg(short = 'l', long, global = true, env = "LOG_LEVEL")]
    pub(crate) log_level: Option<String>,
    /// Log format: runner, text, json.
    #[arg(long, global = true, env = "LOG_FORMAT")]
    pub(crate) log_format: Option<String>,
    /// Accepted for compatibility with upstream; Rust builds write no Go CPU profile.
    #[arg(long, global = true, env = "CPU_PROFILE", hide = true)]
    pub(crate) cpuprofile: Option<String>,
    /// Print the version block and exit.
    #[arg(short = 'v', long)]
    pub(crate) version: bool,
    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// The commands of the runner.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the multi-runner service: poll GitLab for every [[runners]] entry and run jobs.
    Run(RunArgs),
    /// Run jobs for a single runner given on the command line.
    RunSingle(Box<RunSingleArgs>),
    /// Register a new runner and append it to the config file.
    Register(Box<RegisterArgs>),
    /// Unregister runners from GitLab and remove them from the config file.
    Unregister(UnregisterArgs),
    /// Check that the registered runners can talk to GitLab.
    Verify(VerifyArgs),
    /// List the runners in the config file (tokens shortened).
    List(ConfigArgs),
    /// Validate a config file.
    Lint(ConfigArgs),
    /// Rotate a runner's authentication token.
    ResetToken(ResetTokenArgs),
    /// Run the jobs of the project's .gitlab-ci.yml locally, without GitLab.
    Exec(ExecArgs),
    /// Install the runner as a system service (systemd unit, or an init script without systemd).
    Install(InstallArgs),
    /// Uninstall the service.
    Uninstall(ServiceArgs),
    /// Start the service.
    Start(ServiceArgs),
    /// Stop the service.
    Stop(ServiceArgs),
    /// Restart the service.
    Restart(ServiceArgs),
    /// Get the status of the service.
    Status(ServiceArgs),
    /// Helper mode (inside jobs): archive and upload artifacts.
    #[command(hide = true)]
    ArtifactsUploader(crate::helper_commands::ArtifactsUploaderArgs),
    /// Helper mode (inside jobs): download and extract a dependency's artifacts.
    #[command(hide = true)]
    ArtifactsDownloader(crate::helper_commands::ArtifactsDownloaderArgs),
    /// Helper mode (inside jobs): archive and upload the cache.
    #[command(hide = true)]
    CacheArchiver(crate::helper_commands::CacheArchiverArgs),
    /// Helper mode (inside jobs): download and extract the cache.
    #[command(hide = true)]
    CacheExtractor(crate::helper_commands::CacheExtractorArgs),
    /// Helper mode (inside jobs): wait until a service answers on TCP.
    #[command(hide = true)]
    HealthCheck(crate::health_check::HealthCheckArgs),
}

/// `-c/--config`, shared by every command that reads the file.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ConfigArgs {
    /// Config file (default: /etc/gitlab-runner/config.toml as root, ~/.gitlab-runner/config.toml otherwise).
    #[arg(short = 'c', long = "config", env = "CONFIG_FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// Flags of every service command (cli.md 10).
#[derive(Debug, Args, Clone)]
pub(crate) struct ServiceArgs {
    /// Service name; several services with different configs can coexist.
    #[arg(short = 'n', long, default_value = "gitlab-runner")]
    pub(crate) service: String,
    /// Manage a systemd user unit (~/.config/systemd/user, systemctl --user).
    #[arg(long)]
    pub(crate) user_service: bool,
}

/// Flags of `install` (cli.md 10).
#[derive(Debug, Args, Clone)]
pub(crate) struct InstallArgs {
    /// Service name and mode.
    #[command(flatten)]
    pub(crate) service: ServiceArgs,
    /// Passed to `run --working-directory` (default: the current directory).
    #[arg(short = 'd', long)]
    pub(crate) working_directory: Option<PathBuf>,
    /// Passed to `run --config`; created with the defaults when missing.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Add `--syslog` to `run` (default: yes, except with systemd, which keeps the journal).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) syslog: Option<bool>,
    /// Jobs of the shell executor run as this user (`run --user`); the service stays root.
    #[arg(short = 'u', long)]
    pub(crate) user: Option<String>,
    /// The service itself runs as this user (`User=` in the unit).
    #[arg(short = 'i', long)]
    pub(crate) init_user: Option<String>,
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The config file.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Metrics and debug server address; overrides listen_address in the file.
    #[arg(long, env = "LISTEN_ADDRESS")]
    pub(crate) listen_address: Option<String>,
    /// Service name (accepted for compatibility).
    #[arg(short = 'n', long, default_value = "gitlab-runner")]
    pub(crate) service: String,
    /// Change to this directory before loading the config.
    #[arg(short = 'd', long)]
    pub(crate) working_directory: Option<PathBuf>,
    /// Run shell-executor job scripts as this user.
    #[arg(short = 'u', long)]
    pub(crate) user: Option<String>,
    /// Log to syslog (accepted for compatibility; logs stay on stderr).
    #[arg(long, env = "LOG_SYSLOG")]
    pub(crate) syslog: bool,
}

/// The runner definition given by flags (register, run-single); cli.md 3.2.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RunnerArgs {
    /// GitLab instance URL.
    #[arg(short = 'u', long, env = "CI_SERVER_URL")]
    pub(crate) url: Option<String>,
    /// Runner authentication token (glrt-...).
    #[arg(short = 't', long, env = "CI_SERVER_TOKEN")]
    pub(crate) token: Option<String>,
    /// Runner name (default: the host name).
    #[arg(long, alias = "description", env = "RUNNER_NAME")]
    pub(crate) name: Option<String>,
    /// Executor: shell, docker, kubernetes.
    #[arg(long, env = "RUNNER_EXECUTOR")]
    pub(crate) executor: Option<String>,
    /// Shell used for job scripts.
    #[arg(long, env = "RUNNER_SHELL")]
    pub(crate) shell: Option<String>,
    /// Maximum concurrent jobs of this runner (0 = unlimited).
    #[arg(long, env = "RUNNER_LIMIT")]
    pub(crate) limit: Option<i64>,
    /// Maximum concurrent job requests of this runner.
    #[arg(long, env = "RUNNER_REQUEST_CONCURRENCY")]
    pub(crate) request_concurrency: Option<i64>,
    /// Maximum job log size in KiB.
    #[arg(long, env = "RUNNER_OUTPUT_LIMIT")]
    pub(crate) output_limit: Option<i64>,
    /// Directory for builds.
    #[arg(long, env = "RUNNER_BUILDS_DIR")]
    pub(crate) builds_dir: Option<String>,
    /// Directory for the local cache.
    #[arg(long, env = "RUNNER_CACHE_DIR")]
    pub(crate) cache_dir: Option<String>,
    /// Extra environment for jobs, KEY=VALUE (repeat).
    #[arg(long = "env", env = "RUNNER_ENV", value_delimiter = ',')]
    pub(crate) env: Vec<String>,
    /// Script run before sources are fetched.
    #[arg(long, env = "RUNNER_PRE_GET_SOURCES_SCRIPT")]
    pub(crate) pre_get_sources_script: Option<String>,
    /// Script run after sources are fetched.
    #[arg(long, env = "RUNNER_POST_GET_SOURCES_SCRIPT")]
    pub(crate) post_get_sources_script: Option<String>,
    /// Script run before the build script.
    #[arg(long, env = "RUNNER_PRE_BUILD_SCRIPT")]
    pub(crate) pre_build_script: Option<String>,
    /// Script run after the build script.
    #[arg(long, env = "RUNNER_POST_BUILD_SCRIPT")]
    pub(crate) post_build_script: Option<String>,
    /// CA certificate file for the GitLab connection.
    #[arg(long, env = "CI_SERVER_TLS_CA_FILE")]
    pub(crate) tls_ca_file: Option<PathBuf>,
    /// Client certificate file for the GitLab connection.
    #[arg(long, env = "CI_SERVER_TLS_CERT_FILE")]
    pub(crate) tls_cert_file: Option<PathBuf>,
    /// Client key file for the GitLab connection.
    #[arg(long, env = "CI_SERVER_TLS_KEY_FILE")]
    pub(crate) tls_key_file: Option<PathBuf>,
    /// URL used for git clones instead of the project's.
    #[arg(long, env = "CLONE_URL")]
    pub(crate) clone_url: Option<String>,
    /// Feature flags, FF_NAME:true (repeat).
    #[arg(long = "feature-flags", env = "FEATURE_FLAGS", value_delimiter = ',')]
    pub(crate) feature_flags: Vec<String>,
    /// `[runners.docker]` flags.
    #[command(flatten)]
    pub(crate) docker: crate::section_flags::DockerFlags,
    /// `[runners.kubernetes]` flags.
    #[command(flatten)]
    pub(crate) kubernetes: crate::section_flags::KubernetesFlags,
    /// `[runners.cache]` flags.
    #[command(flatten)]
    pub(crate) cache: crate::section_flags::CacheFlags,
    /// `[runners.custom]` flags.
    #[command(flatten)]
    pub(crate) custom: crate::custom_flags::CustomFlags,
}

/// Flags of `register` (cli.md 3).
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// The config file.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The runner definition.
    #[command(flatten)]
    pub(crate) runner: RunnerArgs,
    /// TOML template with one [[runners]] entry filling fields still empty.
    #[arg(long, env = "TEMPLATE_CONFIG_FILE")]
    pub(crate) template_config: Option<PathBuf>,
    /// Never prompt; missing values are errors.
    #[arg(short = 'n', long, env = "REGISTER_NON_INTERACTIVE")]
    pub(crate) non_interactive: bool,
    /// Do not delete the runner in GitLab if registration fails afterwards.
    #[arg(long, env = "REGISTER_LEAVE_RUNNER")]
    pub(crate) leave_runner: bool,
    /// Legacy registration token (deprecated).
    #[arg(short = 'r', long, env = "REGISTRATION_TOKEN")]
    pub(crate) registration_token: Option<String>,
    /// Comma-separated tags (legacy flow only).
    #[arg(long, env = "RUNNER_TAG_LIST")]
    pub(crate) tag_list: Option<String>,
    /// Run untagged jobs (legacy flow only).
    #[arg(long, env = "REGISTER_RUN_UNTAGGED")]
    pub(crate) run_untagged: Option<bool>,
    /// Lock the runner to the project (legacy flow only).
    #[arg(long, env = "REGISTER_LOCKED")]
    pub(crate) locked: Option<bool>,
    /// not_protected or ref_protected.
    #[arg(long, env = "REGISTER_ACCESS_LEVEL")]
    pub(crate) access_level: Option<String>,
    /// Maximum job timeout in seconds (legacy flow only).
    #[arg(long, env = "REGISTER_MAXIMUM_TIMEOUT")]
    pub(crate) maximum_timeout: Option<i64>,
    /// Register paused (legacy flow only).
    #[arg(long, env = "REGISTER_PAUSED")]
    pub(crate) paused: bool,
    /// Maintenance note (legacy flow only).
    #[arg(long, env = "REGISTER_MAINTENANCE_NOTE")]
    pub(crate) maintenance_note: Option<String>,
}

/// Flags of `unregister` (cli.md 4).
#[derive(Debug, Args)]
pub(crate) struct UnregisterArgs {
    /// The config file.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Select by name.
    #[arg(short = 'n', long)]
    pub(crate) name: Option<String>,
    /// Accepted, not used for selection.
    #[arg(short = 'u', long, env = "CI_SERVER_URL")]
    pub(crate) url: Option<String>,
    /// Select by token.
    #[arg(short = 't', long, env = "CI_SERVER_TOKEN")]
    pub(crate) token: Option<String>,
    /// Unregister every runner in the file.
    #[arg(long)]
    pub(crate) all_runners: bool,
}

/// Flags of `verify` (cli.md 5).
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The config file.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Only runners with this name.
    #[arg(short = 'n', long)]
    pub(crate) name: Option<String>,
    /// With --token: also match the URL.
    #[arg(short = 'u', long)]
    pub(crate) url: Option<String>,
    /// Only runners with this token.
    #[arg(short = 't', long)]
    pub(crate) token: Option<String>,
    /// Remove runners that GitLab reports as gone.
    #[arg(long)]
    pub(crate) delete: bool,
}

/// Flags of `reset-token` (cli.md 8).
#[derive(Debug, Args)]
pub(crate) struct ResetTokenArgs {
    /// The config file.
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Runner by name.
    #[arg(short = 'n', long)]
    pub(crate) name: Option<String>,
    /// Runner by URL (with --id).
    #[arg(short = 'u', long)]
    pub(crate) url: Option<String>,
    /// Runner by GitLab runner ID (with --url).
    #[arg(short = 'i', long)]
    pub(crate) id: Option<i64>,
    /// Personal access token for already-expired runner tokens.
    #[arg(long)]
    pub(crate) pat: Option<String>,
    /// Reset every runner in the file.
    #[arg(long)]
    pub(crate) all_runners: bool,
}

/// Flags of `exec`: run `.gitlab-ci.yml` jobs locally through a local coordinator.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The executor: shell (docker once this build has it).
    pub(crate) executor: String,
    /// Jobs to run (a `parallel` job's name selects all its instances); all when none.
    pub(crate) jobs: Vec<String>,
    /// A variable for every job, KEY=VALUE (repeat); wins over the file's variables.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// A file of KEY=VALUE lines (repeat); --env wins over it.
    #[arg(long = "var-file", value_name = "PATH")]
    pub(crate) var_file: Vec<PathBuf>,
    /// Mask this user variable's value in the job log (repeat).
    #[arg(long = "mask", value_name = "NAME")]
    pub(crate) mask: Vec<String>,
    /// The pipeline file, relative to the project directory.
    #[arg(long = "file", default_value = ".gitlab-ci.yml")]
    pub(crate) file: PathBuf,
    /// The project directory (default: the current directory).
    #[arg(short = 'C', long = "directory", value_name = "DIR")]
    pub(crate) directory: Option<PathBuf>,
    /// Where jobs are checked out (default: <project>/.gitlab-runner-rs/builds).
    #[arg(long)]
    pub(crate) builds_dir: Option<PathBuf>,
    /// docker: the image of jobs that name none.
    #[arg(long, default_value = "alpine:latest")]
    pub(crate) docker_image: String,
    /// docker: the helper image (default: this version's registry image).
    #[arg(long)]
    pub(crate) docker_helper_image: Option<String>,
    /// docker: always, if-not-present or never.
    #[arg(long, default_value = "if-not-present")]
    pub(crate) docker_pull_policy: String,
    /// custom: the `[runners.custom]` drivers (`--custom-run-exec` etc.).
    #[command(flatten)]
    pub(crate) custom: crate::custom_flags::CustomFlags,
}

/// Flags of `run-single` (cli.md 9).
#[derive(Debug, Args)]
pub(crate) struct RunSingleArgs {
    /// The config file (only used with --runner).
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The runner definition.
    #[command(flatten)]
    pub(crate) runner: RunnerArgs,
    /// Take the runner entry with this name from the config file.
    #[arg(short = 'r', long = "runner")]
    pub(crate) runner_name: Option<String>,
    /// Exit after this many jobs (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    pub(crate) max_builds: u64,
    /// Exit when no job arrived for this many seconds (0 = forever).
    #[arg(long, default_value_t = 0)]
    pub(crate) wait_timeout: u64,
    /// Seconds to wait for an aborted job to report before exiting.
    #[arg(long, default_value_t = 30)]
    pub(crate) shutdown_timeout: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_come_before_the_command() {
        let cli = Cli::try_parse_from(["gitlab-runner-rs", "--debug", "list", "-c", "/tmp/x.toml"])
            .unwrap();
        assert!(cli.debug);
        assert!(matches!(
            cli.command,
            Some(Command::List(ConfigArgs { config: Some(_) }))
        ));
    }

    fn arguments(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn unknown_commands_and_flags_are_errors_not_panics() {
        assert!(parse(arguments(&["gitlab-runner-rs", "frobnicate"])).is_err());
        assert!(parse(arguments(&["gitlab-runner-rs", "list", "--bogus"])).is_err());
        assert!(parse(arguments(&["gitlab-runner-rs", "list", "-c", "x.toml"])).is_ok());
    }

    #[test]
    fn a_lone_boolean_ends_the_parsed_arguments() {
        assert_eq!(
            without_lone_booleans(arguments(&[
                "gitlab-runner-rs",
                "register",
                "--non-interactive",
                "true",
                "--url",
                "x"
            ])),
            arguments(&["gitlab-runner-rs", "register", "--non-interactive"])
        );
        let kept = arguments(&["gitlab-runner-rs", "register", "--non-interactive=true"]);
        assert_eq!(without_lone_booleans(kept.clone()), kept);
    }
}
