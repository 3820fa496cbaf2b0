//! `install`, `uninstall`, `start`, `stop`, `restart` and `status` (cli.md 10, F6): the runner
//! as an operating-system service that starts `run` at boot.
//!
//! With systemd (`/run/systemd/system` exists) the service is a unit driven by `systemctl`;
//! without it, a System V init script with a pid file, the fallback upstream's service
//! library takes too. Both write the same `run` command line.

mod systemd;
mod sysv;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use runner_config::ConfigDocument;

use crate::cli::{InstallArgs, ServiceArgs};
use crate::config_file;
use crate::logging::FATAL;

/// What `start`, `stop` and `restart` ask of the service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

/// The state `status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Stopped,
    NotInstalled,
    Failed,
    Unknown,
}

/// The service as it is installed: its name and the `run` command line it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Definition {
    name: String,
    executable: PathBuf,
    /// `run` and its flags.
    arguments: Vec<String>,
    working_directory: PathBuf,
    /// The user the service itself runs as (`--init-user`).
    init_user: Option<String>,
}

/// Where the system's files are: `/`, or `GITLAB_RUNNER_RS_SERVICE_ROOT` when set, so tests
/// (and image builds) can install into a directory instead of the machine.
#[derive(Debug, Clone)]
struct System {
    root: PathBuf,
}

impl System {
    fn from_env() -> Self {
        let root = std::env::var_os("GITLAB_RUNNER_RS_SERVICE_ROOT")
            .filter(|root| !root.is_empty())
            .map_or_else(|| PathBuf::from("/"), PathBuf::from);
        Self { root }
    }

    /// `absolute` (e.g. `/etc/init.d/x`) under the root.
    fn path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    fn has_systemd(&self) -> bool {
        self.path("/run/systemd/system").is_dir()
    }
}

/// The service manager in charge on this machine.
enum Manager {
    Systemd(systemd::Systemd),
    SysV(sysv::SysV),
}

impl Manager {
    fn detect(args: &ServiceArgs) -> Self {
        let system = System::from_env();
        if args.user_service || system.has_systemd() {
            Self::Systemd(systemd::Systemd::new(
                &system,
                &args.service,
                args.user_service,
            ))
        } else {
            Self::SysV(sysv::SysV::new(&system, &args.service))
        }
    }

    fn is_systemd(&self) -> bool {
        matches!(self, Self::Systemd(_))
    }

    fn install(&self, definition: &Definition) -> Result<(), String> {
        match self {
            Self::Systemd(manager) => manager.install(definition),
            Self::SysV(manager) => manager.install(definition),
        }
    }

    fn uninstall(&self) -> Result<(), String> {
        match self {
            Self::Systemd(manager) => manager.uninstall(),
            Self::SysV(manager) => manager.uninstall(),
        }
    }

    fn control(&self, action: Action) -> Result<(), String> {
        match self {
            Self::Systemd(manager) => manager.control(action),
            Self::SysV(manager) => manager.control(action),
        }
    }

    fn status(&self) -> Status {
        match self {
            Self::Systemd(manager) => manager.status(),
            Self::SysV(manager) => manager.status(),
        }
    }

    /// The unit or init script `install` wrote.
    fn file(&self) -> &Path {
        match self {
            Self::Systemd(manager) => manager.file(),
            Self::SysV(manager) => manager.file(),
        }
    }
}

/// `install`: writes the unit or init script that starts `run`, and creates the config file
/// with the defaults when it does not exist yet.
pub(crate) fn install(args: &InstallArgs) -> ExitCode {
    if args.user.is_some() && args.init_user.is_some() {
        return fatal("Only one of 'user' or 'init-user' can be specified.");
    }
    if args.user.is_none() && args.init_user.is_none() && config_file::is_root() {
        return fatal("Please specify user that will run gitlab-runner service");
    }
    let manager = Manager::detect(&args.service);
    let definition = match definition(args, manager.is_systemd()) {
        Ok(definition) => definition,
        Err(message) => return fatal(&message),
    };
    if let Err(message) = ensure_config(&config_path(&definition)) {
        return fatal(&message);
    }
    finish(manager.install(&definition))
}

/// `uninstall`: removes what `install` wrote.
pub(crate) fn uninstall(args: &ServiceArgs) -> ExitCode {
    finish(Manager::detect(args).uninstall())
}

/// `start`, `stop`, `restart`.
pub(crate) fn control(args: &ServiceArgs, action: Action) -> ExitCode {
    finish(Manager::detect(args).control(action))
}

/// `status`: `<name>: Service is running` on stdout and 0, anything else on stderr and 1.
pub(crate) fn status(args: &ServiceArgs) -> ExitCode {
    let manager = Manager::detect(args);
    let status = manager.status();
    if status != Status::NotInstalled {
        // On stderr, before upstream's status line, which scripts read.
        let text = std::fs::read_to_string(manager.file()).unwrap_or_default();
        match job_user(&text) {
            Some(user) => tracing::info!(user, "Shell executor jobs run as this user"),
            None => tracing::info!("Shell executor jobs run as the service's own user"),
        }
    }
    #[expect(
        clippy::print_stdout,
        clippy::print_stderr,
        reason = "status is the command's output, printed as upstream prints it"
    )]
    match status {
        Status::Running => {
            println!("{}: Service is running", args.service);
            ExitCode::SUCCESS
        }
        other => {
            let description = match other {
                Status::Stopped => "Service has stopped",
                Status::NotInstalled => "the service is not installed",
                Status::Failed => "service in failed state",
                Status::Running | Status::Unknown => "Service status unknown",
            };
            eprintln!("{}: {description}", args.service);
            ExitCode::FAILURE
        }
    }
}

/// The `--user` of the `run` command line in an installed unit (`"--user" "x"`) or init
/// script (`'--user' 'x'`, possibly inside su's quoted command).
fn job_user(installed: &str) -> Option<String> {
    let (_, after) = installed.split_once("--user")?;
    let after = after.trim_start_matches(['"', '\'', '\\', ' ']);
    let user: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '$'))
        .collect();
    (!user.is_empty()).then_some(user)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fatal(&message),
    }
}

fn fatal(message: &str) -> ExitCode {
    tracing::error!(target: FATAL, "{message}");
    ExitCode::FAILURE
}

/// The service definition for `install`: upstream's `run` arguments in upstream's order
/// (`--config`, `--working-directory`, `--service`, then `--syslog` and `--user`).
fn definition(args: &InstallArgs, systemd: bool) -> Result<Definition, String> {
    let config = match (&args.config.config, &args.init_user) {
        (Some(path), _) => path.clone(),
        // The service runs as that user: its config lives in that user's home.
        (None, Some(user)) => home_of(user)?.join("config.toml"),
        (None, None) => config_file::resolve_path(&args.config),
    };
    let working_directory = match &args.working_directory {
        Some(directory) => directory.clone(),
        None => std::env::current_dir()
            .map_err(|error| format!("cannot read the current directory: {error}"))?,
    };
    let executable = std::env::current_exe()
        .map_err(|error| format!("cannot find this program's path: {error}"))?;
    let mut arguments = vec![
        "run".to_owned(),
        "--config".to_owned(),
        config.to_string_lossy().into_owned(),
        "--working-directory".to_owned(),
        working_directory.to_string_lossy().into_owned(),
        "--service".to_owned(),
        args.service.service.clone(),
    ];
    // systemd keeps the service's output in its journal: no syslog unless asked for.
    if args.syslog.unwrap_or(!systemd) {
        arguments.push("--syslog".to_owned());
    }
    if let Some(user) = &args.user {
        arguments.extend(["--user".to_owned(), user.clone()]);
    }
    Ok(Definition {
        name: args.service.service.clone(),
        executable,
        arguments,
        working_directory,
        init_user: args.init_user.clone(),
    })
}

/// The `--config` value of a definition.
fn config_path(definition: &Definition) -> PathBuf {
    definition
        .arguments
        .iter()
        .position(|argument| argument == "--config")
        .and_then(|index| definition.arguments.get(index + 1))
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn home_of(user: &str) -> Result<PathBuf, String> {
    match nix::unistd::User::from_name(user) {
        Ok(Some(entry)) => Ok(entry.dir),
        Ok(None) => Err(format!(
            "Failed to get home for user {user:?}: unknown user"
        )),
        Err(error) => Err(format!("Failed to get home for user {user:?}: {error}")),
    }
}

/// A missing config file is created with the defaults; an existing one must load.
fn ensure_config(path: &Path) -> Result<(), String> {
    if path.exists() {
        return config_file::load(path)
            .map(|_| ())
            .map_err(|error| error.to_string());
    }
    ConfigDocument::new(path)
        .save()
        .map_err(|error| error.to_string())
}

/// Runs a service-manager command with the output going to ours; a failure names it.
fn run_command(program: &Path, arguments: &[&str]) -> Result<(), String> {
    let shown = std::iter::once(program.to_string_lossy().into_owned())
        .chain(arguments.iter().map(|argument| (*argument).to_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let status = Command::new(program)
        .args(arguments)
        .status()
        .map_err(|error| format!("\"{shown}\" failed: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("\"{shown}\" failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_user_is_read_from_a_unit_or_an_init_script() {
        let unit =
            r#"ExecStart=/usr/bin/r "run" "--service" "gitlab-runner" "--user" "gitlab-runner""#;
        assert_eq!(job_user(unit).as_deref(), Some("gitlab-runner"));
        let script = "exec '/usr/bin/r' 'run' '--service' 'x' '--user' 'ci-user'\n";
        assert_eq!(job_user(script).as_deref(), Some("ci-user"));
        let nested = r"su -s /bin/sh -c 'exec '\''/bin/r'\'' '\''--user'\'' '\''ci'\''' 'svc'";
        assert_eq!(job_user(nested).as_deref(), Some("ci"));
        assert_eq!(job_user(r#"ExecStart=/usr/bin/r "run""#), None);
    }

    fn install_args(user: Option<&str>, syslog: Option<bool>) -> InstallArgs {
        InstallArgs {
            service: ServiceArgs {
                service: "gitlab-runner".to_owned(),
                user_service: false,
            },
            working_directory: Some(PathBuf::from("/home/gitlab-runner")),
            config: crate::cli::ConfigArgs {
                config: Some(PathBuf::from("/etc/gitlab-runner/config.toml")),
            },
            syslog,
            user: user.map(str::to_owned),
            init_user: None,
        }
    }

    #[test]
    fn run_arguments_follow_upstreams_order() {
        let definition = definition(&install_args(Some("gitlab-runner"), None), true).unwrap();
        assert_eq!(
            definition.arguments,
            [
                "run",
                "--config",
                "/etc/gitlab-runner/config.toml",
                "--working-directory",
                "/home/gitlab-runner",
                "--service",
                "gitlab-runner",
                "--user",
                "gitlab-runner",
            ]
        );
        assert_eq!(
            config_path(&definition),
            PathBuf::from("/etc/gitlab-runner/config.toml")
        );
    }

    #[test]
    fn syslog_is_on_without_systemd_and_when_asked_for() {
        let with = |syslog, systemd| {
            definition(&install_args(None, syslog), systemd)
                .unwrap()
                .arguments
                .contains(&"--syslog".to_owned())
        };
        assert!(!with(None, true));
        assert!(with(None, false));
        assert!(with(Some(true), true));
        assert!(!with(Some(false), false));
    }

    #[test]
    fn the_root_prefix_places_system_paths() {
        let system = System {
            root: PathBuf::from("/tmp/root"),
        };
        assert_eq!(
            system.path("/etc/init.d/gitlab-runner"),
            PathBuf::from("/tmp/root/etc/init.d/gitlab-runner")
        );
    }
}
