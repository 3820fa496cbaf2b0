//! `run`: the multi-runner service (cli.md 2). Loads and locks the config, serves metrics,
//! keeps one poller per `[[runners]]` entry, reloads on change or SIGHUP without touching
//! running jobs (F4), and shuts down as the signals of cli.md 2.3 ask.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use runner_config::{Config, ConfigLock, ReloadEvent, Reloader, RunnerConfig};
use runner_metrics::{
    BuildInfo, ErrorLevel, ListenAddress, Metrics, MetricsServer, ProcessState, Registry,
    RunnerLabels, ServerState,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::RunArgs;
use crate::executors::JobExecutor;
use crate::job_runner::JobContext;
use crate::limiter::Limiter;
use crate::poller::Poller;
use crate::signals::{self, Request, Shutdown};
use crate::slots::RunnerSlots;
use crate::{config_file, coordinator, version};

/// Upstream checks the file for changes every 3 seconds (config-toml.md §1.4).
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(3);

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
    expand_env(&mut config);

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
    let mut metrics_server = match start_metrics(
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

    let mut service = Service::new(
        config_file::system_id(&config_path),
        metrics.clone(),
        shutdown.clone(),
    );
    // Before any poller starts: a sweep cannot tell a leftover from a running job (D6).
    crate::docker_settings::sweep_docker_leftovers(&config, &service.system_id).await;
    service.apply(&config);
    metrics.set_process_state(ProcessState::Running);
    metrics.set_ready(true);
    let mut reloader = Reloader::with_config(config_path.clone(), config);

    // The main loop: reload on change or SIGHUP until a stop signal.
    loop {
        tokio::select! {
            biased;
            request = requests.recv() => match request {
                Some(Request::Reload) => reload(&mut reloader, &mut service, &mut metrics_server, listen_override.as_deref(), true).await,
                Some(Request::ForceExit(signal)) => return forced_exit(signal),
                None => break,
            },
            () = shutdown.stop.cancelled() => break,
            () = tokio::time::sleep(RELOAD_CHECK_INTERVAL) => {
                reload(&mut reloader, &mut service, &mut metrics_server, listen_override.as_deref(), false).await;
            }
        }
    }

    metrics.set_ready(false);
    let timeout = reloader.config().effective_shutdown_timeout();
    let status = service.shut_down(&shutdown, &mut requests, timeout).await;
    if let Some(server) = metrics_server {
        server.shutdown().await;
    }
    status
}

/// The set of runner entries being polled, and the capacity they share.
struct Service {
    system_id: String,
    metrics: Metrics,
    shutdown: Shutdown,
    concurrent: Limiter,
    jobs: TaskTracker,
    pollers: TaskTracker,
    /// Per token: the entry being polled and the token that retires its pollers.
    active: HashMap<String, ActiveRunner>,
    /// Per token: limits and slot numbers, kept across reloads.
    slots: HashMap<String, RunnerSlots>,
}

struct ActiveRunner {
    /// Shared with the pollers: a `RunnerConfig` is several kilobytes.
    runner: Arc<RunnerConfig>,
    check_interval: Duration,
    connection_max_age: Option<Duration>,
    retire: CancellationToken,
}

impl Service {
    fn new(system_id: String, metrics: Metrics, shutdown: Shutdown) -> Self {
        Self {
            system_id,
            metrics,
            shutdown,
            concurrent: Limiter::new(1),
            jobs: TaskTracker::new(),
            pollers: TaskTracker::new(),
            active: HashMap::new(),
            slots: HashMap::new(),
        }
    }

    /// Makes the pollers match `config`: new entries start, removed or changed ones are
    /// retired after their current request, unchanged ones keep running. Jobs already
    /// running keep the settings they started with.
    fn apply(&mut self, config: &Config) {
        let check_interval = config.effective_check_interval();
        let connection_max_age = config.effective_connection_max_age();
        let wanted: HashMap<String, &RunnerConfig> = config
            .runners
            .iter()
            .filter(|runner| !runner.token.is_empty())
            .map(|runner| (runner.token.expose().to_owned(), runner))
            .collect();
        self.active.retain(|token, active| {
            let keep = wanted.get(token).is_some_and(|runner| {
                **runner == *active.runner
                    && active.check_interval == check_interval
                    && active.connection_max_age == connection_max_age
            });
            if !keep {
                active.retire.cancel();
            }
            keep
        });
        // Capacity grows only after changed pollers are retired: a retired poller waiting for
        // a permit must not take the new one and run a job with the settings it replaces.
        self.concurrent.resize(config.effective_concurrent());
        self.metrics.workers().set_concurrent(config.concurrent);
        for (token, runner) in wanted {
            if self.active.contains_key(&token) {
                continue;
            }
            if !JobExecutor::supports(runner.executor) {
                tracing::error!(
                    runner = %runner.short_token(),
                    executor = runner.executor.map(|e| e.as_str()).unwrap_or(""),
                    "Runner's executor is not supported by this build; not requesting jobs for it"
                );
                continue;
            }
            let limit = runner.effective_limit().map_or(0, |limit| limit as usize);
            let slots = self
                .slots
                .entry(token.clone())
                .or_insert_with(|| RunnerSlots::new(limit))
                .clone();
            slots.resize(limit);
            let labels = RunnerLabels::new(
                runner.short_token(),
                runner.name.clone(),
                self.system_id.clone(),
            );
            self.metrics.runner_seen(&labels);
            self.metrics.workers().set_limit(&labels, runner.limit);
            // Retry waits end with the process, not with a stop signal: during a SIGQUIT
            // drain the running jobs' updates still honour `Retry-After` (the pollers stop
            // their own pending requests).
            let client = match coordinator::client(
                runner,
                Some((self.metrics.clone(), labels.clone())),
                CancellationToken::new(),
                connection_max_age,
            ) {
                Ok(client) => client,
                Err(error) => {
                    tracing::error!(runner = %runner.short_token(), error = %error, "Checking for jobs... client error");
                    continue;
                }
            };
            let retire = CancellationToken::new();
            let runner = Arc::new(runner.clone());
            let poller = Poller {
                context: JobContext {
                    client,
                    info: coordinator::info(&runner),
                    runner: Arc::clone(&runner),
                    system_id: self.system_id.clone(),
                    abort: self.shutdown.abort.clone(),
                    interruption: self.shutdown.interruption.clone(),
                    trace_dir: Some(std::env::temp_dir()),
                    metrics: Some((self.metrics.clone(), labels)),
                },
                concurrent: self.concurrent.clone(),
                slots,
                check_interval,
                retire: retire.clone(),
                stop: self.shutdown.stop.clone(),
                jobs: self.jobs.clone(),
                taken: Arc::new(AtomicU32::new(0)),
                max_jobs: 0,
            };
            poller.spawn(&self.pollers);
            self.active.insert(
                token,
                ActiveRunner {
                    runner,
                    check_interval,
                    connection_max_age,
                    retire,
                },
            );
        }
        tracing::info!(
            builds = self.concurrent.in_use(),
            max_builds = config.concurrent,
            "Configuration loaded"
        );
    }

    /// Waits for running jobs: without limit after SIGQUIT, within `shutdown_timeout`
    /// once jobs were aborted (SIGTERM/SIGINT, also arriving during a graceful wait).
    async fn shut_down(
        self,
        shutdown: &Shutdown,
        requests: &mut tokio::sync::mpsc::UnboundedReceiver<Request>,
        timeout: Duration,
    ) -> ExitCode {
        self.pollers.close();
        self.jobs.close();
        self.metrics
            .set_process_state(if shutdown.abort.is_cancelled() {
                ProcessState::ForcefulShutdown
            } else {
                ProcessState::GracefulShutdown
            });
        let jobs = self.jobs.clone();
        let wait_all = async move {
            self.pollers.wait().await;
            jobs.wait().await;
        };
        tokio::pin!(wait_all);
        // Graceful phase: no deadline, but a SIGTERM/SIGINT moves on to the forceful one.
        if !shutdown.abort.is_cancelled() {
            loop {
                tokio::select! {
                    biased;
                    () = &mut wait_all => return finished(),
                    request = requests.recv() => {
                        if let Some(Request::ForceExit(signal)) = request { return forced_exit(signal); }
                    }
                    () = shutdown.abort.cancelled() => break,
                }
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                () = &mut wait_all => return finished(),
                request = requests.recv() => {
                    if let Some(Request::ForceExit(signal)) = request { return forced_exit(signal); }
                }
                () = &mut deadline => {
                    tracing::warn!("shutdown timed out");
                    tracing::warn!("Forceful shutdown not finished properly");
                    tracing::error!("Service run failed");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
}

/// Reloads the file when it changed (or always, after SIGHUP) and applies what changed.
async fn reload(
    reloader: &mut Reloader,
    service: &mut Service,
    metrics_server: &mut Option<MetricsServer>,
    listen_override: Option<&str>,
    forced: bool,
) {
    let event = if forced {
        reloader.reload()
    } else {
        reloader.poll()
    };
    match event {
        ReloadEvent::Unchanged => {}
        ReloadEvent::Reloaded(loaded) => {
            config_file::log_warnings(&loaded);
            service.metrics.workers().config_loaded();
            let mut config = loaded.config;
            expand_env(&mut config);
            service.apply(&config);
            if let Some(server) = metrics_server {
                if let Some(address) = listen_override
                    .or(Some(config.listen_address.as_str()))
                    .filter(|a| !a.is_empty())
                    .and_then(|a| ListenAddress::parse(a).ok())
                {
                    match server.rebind(&address, None).await {
                        Ok(()) => {}
                        Err(error) => {
                            tracing::error!(error = %error, "could not apply the new listen_address; metrics stay on the old one")
                        }
                    }
                }
            }
        }
        ReloadEvent::Rejected(error) => {
            service.metrics.workers().config_loading_failed();
            tracing::error!("Failed to load config {error}");
        }
    }
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

/// `url` and `token` may reference environment variables (`$VAR`), as upstream allows.
fn expand_env(config: &mut Config) {
    config.expand_env(|name| std::env::var(name).ok());
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
