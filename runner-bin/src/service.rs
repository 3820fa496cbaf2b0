//! `run`: the multi-runner service (cli.md 2). Loads and locks the config, serves metrics,
//! and drives a `runner_agent::Agent` with the signals of cli.md 2.3 (SIGHUP reloads, a
//! signal during a forceful shutdown exits at once).

use std::process::ExitCode;
use std::sync::Arc;

use runner_agent::executors::JobUser;
use runner_agent::{Agent, AgentError, Shutdown, version};
use runner_config::{Config, ConfigLock};
use runner_metrics::{
    BuildInfo, ErrorLevel, ListenAddress, Metrics, MetricsServer, Registry, ServerState,
};
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::config_file;
use crate::logging::FATAL;
use crate::signals::{self, Request};

/// Runs the service until a stop signal; the exit status follows cli.md 1.4.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(error = %error, "Service run failed");
            return ExitCode::FAILURE;
        }
    };
    // Boxed: the service future is tens of kilobytes, and a main-thread stack page touched
    // once stays resident for the life of the process (idle RSS, issue #4).
    runtime.block_on(Box::pin(run_service(args)))
}

async fn run_service(args: RunArgs) -> ExitCode {
    if let Some(directory) = &args.working_directory {
        if let Err(error) = std::env::set_current_dir(directory) {
            tracing::error!(error = %error, directory = %directory.display(), "Service run failed");
            return ExitCode::FAILURE;
        }
    }
    let config_path = config_file::resolve_path(&args.config);
    tracing::info!("Starting multi-runner from {}...", config_path.display());
    log_mode_banner();
    let _lock = match ConfigLock::acquire(&config_path) {
        Ok(lock) => lock,
        Err(error) => {
            tracing::error!(error = %error, "Service run failed");
            return ExitCode::FAILURE;
        }
    };
    let loaded = match config_file::load_or_default(&config_path) {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!(error = %error, "Service run failed");
            return ExitCode::FAILURE;
        }
    };
    let mut config = loaded.config;
    config.expand_env(|name| std::env::var(name).ok());
    let shell_user = match job_user(args.user.as_deref(), &config.user, config_file::is_root()) {
        Ok(user) => user,
        Err(message) => {
            tracing::error!(target: FATAL, "{message}");
            return ExitCode::FAILURE;
        }
    };

    let shutdown = Shutdown::new();
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, build_info());
    let counted = metrics.clone();
    crate::logging::count_problems_with(move |level| {
        let level = if level == tracing::Level::ERROR {
            ErrorLevel::Error
        } else {
            ErrorLevel::Warning
        };
        counted.workers().error(level);
    });
    let listen_override = args.listen_address.clone();
    let metrics_server = match start_metrics(
        &config,
        listen_override.as_deref(),
        registry,
        &metrics,
        &shutdown,
    )
    .await
    {
        Ok(server) => server,
        Err(message) => {
            tracing::error!(error = %message, "Service run failed");
            return ExitCode::FAILURE;
        }
    };
    let mut requests = match signals::listen(shutdown.clone()) {
        Ok(requests) => requests,
        Err(error) => {
            tracing::error!(error = %error, "Service run failed");
            return ExitCode::FAILURE;
        }
    };

    let mut builder = Agent::builder(config)
        .metrics(metrics)
        .system_id(config_file::system_id(&config_path))
        .reload_from(config_path);
    if let Some(user) = shell_user {
        builder = builder.shell_user(user);
    }
    let agent = builder.build();
    let reload = agent.reload_handle();
    let rebind = tokio::spawn(follow_listen_address(
        agent.config_updates(),
        metrics_server,
        listen_override,
    ));
    let run = agent.run(shutdown);
    tokio::pin!(run);
    let mut signals_open = true;
    let status = loop {
        tokio::select! {
            result = &mut run => break match result {
                Ok(()) => finished(),
                Err(AgentError::ShutdownTimedOut) => {
                    tracing::warn!("Forceful shutdown not finished properly");
                    tracing::error!("Service run failed");
                    ExitCode::FAILURE
                }
            },
            request = requests.recv(), if signals_open => match request {
                Some(Request::Reload) => reload.notify_one(),
                Some(Request::ForceExit(signal)) => return forced_exit(signal),
                // The handler task ended: no more signals will come; the agent goes on.
                None => signals_open = false,
            },
        }
    };
    // The agent is gone, so is its configuration channel: the task returns the server.
    if let Ok(Some(server)) = rebind.await {
        server.shutdown().await;
    }
    status
}

/// Moves the metrics server to the `listen_address` of each reloaded configuration (unless
/// `--listen-address` fixed it); returns the server when the agent is done.
async fn follow_listen_address(
    mut updates: watch::Receiver<Arc<Config>>,
    mut server: Option<MetricsServer>,
    listen_override: Option<String>,
) -> Option<MetricsServer> {
    while updates.changed().await.is_ok() {
        let config = Arc::clone(&updates.borrow_and_update());
        let Some(server) = &mut server else { continue };
        if let Some(address) = listen_override
            .as_deref()
            .or(Some(config.listen_address.as_str()))
            .filter(|a| !a.is_empty())
            .and_then(|a| ListenAddress::parse(a).ok())
            && let Err(error) = server.rebind(&address, None).await
        {
            tracing::error!(error = %error, "could not apply the new listen_address; metrics stay on the old one");
        }
    }
    server
}

/// Starts the metrics server when `listen_address` (or `--listen-address`) is set. An
/// invalid address is an error at start-up (the seed wins over upstream here, M3).
async fn start_metrics(
    config: &Config,
    listen_override: Option<&str>,
    registry: Registry,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<Option<MetricsServer>, String> {
    let Some(address) = listen_override
        .or(Some(config.listen_address.as_str()))
        .filter(|a| !a.is_empty())
    else {
        tracing::info!("listen_address not defined, metrics & debug endpoints disabled");
        return Ok(None);
    };
    let address = ListenAddress::parse(address)
        .map_err(|error| format!("invalid listen address: {error}"))?;
    let state = ServerState::new(registry, metrics);
    let server = MetricsServer::start(&address, None, state, shutdown.stop.child_token())
        .await
        .map_err(|error| format!("Failed to create listener for metrics server: {error}"))?;
    tracing::info!(address = %server.local_addr(), "Metrics server listening");
    Ok(Some(server))
}

/// The user shell jobs run as (`run --user`, upstream-details.md §8.1), checked before any job
/// is requested: a user that does not exist is fatal. Only the flag counts, as upstream replaces
/// config.toml's global `user` with it on every load; without root `su` would ask for a
/// password, so the flag is ignored (upstream lets every job fail instead).
fn job_user(
    flag: Option<&str>,
    config_user: &str,
    is_root: bool,
) -> Result<Option<JobUser>, String> {
    let Some(name) = flag.filter(|name| !name.is_empty()) else {
        if !config_user.is_empty() {
            tracing::warn!(
                user = config_user,
                "The global user in config.toml is ignored: shell jobs run as the user given to run --user"
            );
        }
        return Ok(None);
    };
    if !is_root {
        tracing::warn!(
            user = name,
            "Not running as root: --user is ignored and shell jobs run as the runner's own user"
        );
        return Ok(None);
    }
    match JobUser::lookup(name) {
        Ok(user) => {
            tracing::info!(user = name, "Shell executor jobs run as this user");
            Ok(Some(user))
        }
        Err(error) => Err(format!("Service run failed: --user {name}: {error}")),
    }
}

fn build_info() -> BuildInfo {
    let mut info = BuildInfo::new(version::VERSION);
    info.name = "gitlab-runner-rs".to_owned();
    info.revision = version::REVISION.to_owned();
    info.branch = version::BRANCH.to_owned();
    info
}

fn log_mode_banner() {
    if config_file::is_root() {
        tracing::info!("Running in system-mode.");
    } else {
        tracing::warn!("Running in user-mode.");
        tracing::warn!("Use sudo for system-mode:");
        tracing::warn!("$ sudo gitlab-runner-rs...");
    }
    tracing::info!("");
}

fn finished() -> ExitCode {
    tracing::info!("All workers stopped.");
    tracing::info!("Can exit now!");
    ExitCode::SUCCESS
}

fn forced_exit(signal: &str) -> ExitCode {
    tracing::warn!("forced exit with stop signal: {signal}");
    tracing::warn!("Forceful shutdown not finished properly");
    tracing::error!("Service run failed");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::job_user;

    #[test]
    fn only_the_flag_names_the_job_user_and_only_as_root() {
        assert_eq!(job_user(None, "", true), Ok(None));
        // config.toml's `user` alone: upstream overwrites it with the (absent) flag.
        assert_eq!(job_user(None, "root", true), Ok(None));
        assert_eq!(job_user(Some(""), "root", true), Ok(None));
        // Not root: `su` would ask for a password, the flag is ignored.
        assert_eq!(job_user(Some("no-such-user-anywhere"), "", false), Ok(None));
        let root = job_user(Some("root"), "", true).unwrap().unwrap();
        assert_eq!((root.name(), root.uid()), ("root", 0));
    }

    #[test]
    fn a_missing_user_is_an_error_naming_it() {
        assert_eq!(
            job_user(Some("no-such-user-anywhere"), "", true).unwrap_err(),
            "Service run failed: --user no-such-user-anywhere: user \"no-such-user-anywhere\" does not exist"
        );
    }
}
