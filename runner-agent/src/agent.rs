//! The agent: the set of `[[runners]]` entries being polled, the capacity they share, reload
//! without touching running jobs (F4), and the shutdown of cli.md 2.3. `run` and `run-single`
//! are both an [`Agent`]; they differ only in how they are built.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use runner_config::{Config, ReloadEvent, Reloader, RunnerConfig};
use runner_metrics::{Metrics, ProcessState, RunnerLabels};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::coordinator;
use crate::executors::{JobExecutor, JobUser};
use crate::job_runner::JobContext;
use crate::limiter::Limiter;
use crate::poller::Poller;
use crate::shutdown::Shutdown;
use crate::slots::RunnerSlots;

/// Upstream checks the file for changes every 3 seconds (config-toml.md §1.4).
const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(3);

/// How often a bounded agent (`max_jobs`, `wait_timeout`) looks at its counters.
const BOUNDS_CHECK_INTERVAL: Duration = Duration::from_millis(200);

/// Why [`Agent::run`] did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Jobs were still running when the shutdown timeout (after an abort) passed.
    #[error("shutdown timed out")]
    ShutdownTimedOut,
}

/// When a bounded agent stops by itself (`run-single`'s `--max-builds` and `--wait-timeout`).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// Stop after this many jobs were taken and finished (0 = no limit).
    max_jobs: u32,
    /// Stop after this long without a job.
    wait_timeout: Option<Duration>,
}

/// Builds an [`Agent`]; see [`Agent::builder`].
#[must_use]
pub struct AgentBuilder {
    config: Config,
    metrics: Option<Metrics>,
    system_id: Option<String>,
    reload_from: Option<PathBuf>,
    shutdown_timeout: Option<Duration>,
    trace_dir: Option<PathBuf>,
    shell_user: Option<JobUser>,
    /// `run-single`'s bounds; `None` for `run`.
    single: Option<Bounds>,
}

impl AgentBuilder {
    /// Runs every stage of the shell executor's jobs as `user` (`run --user`), whatever the
    /// configuration's global `user` says: upstream replaces that value with the flag's on
    /// every load. Default: the runner's own user.
    pub fn shell_user(mut self, user: JobUser) -> Self {
        self.shell_user = Some(user);
        self
    }

    /// Records into these metrics families (requests, jobs, failure reasons, concurrency).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// This runner manager's `system_id` (`s_` + 12 hex). Default: a fresh random one, as
    /// upstream generates when it has no `.runner_system_id` file.
    pub fn system_id(mut self, system_id: impl Into<String>) -> Self {
        self.system_id = Some(system_id.into());
        self
    }

    /// Reloads the configuration from `path` when the file changes (checked every 3 s) and
    /// on [`Agent::reload_handle`]. Without it the configuration is fixed.
    pub fn reload_from(mut self, path: impl Into<PathBuf>) -> Self {
        self.reload_from = Some(path.into());
        self
    }

    /// How long aborted jobs may take to finish; default: the configuration's
    /// `shutdown_timeout`.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Where jobs keep the part of their log the coordinator acknowledged. Default: the
    /// system's temporary directory.
    pub fn trace_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.trace_dir = Some(dir.into());
        self
    }

    /// `run-single`: one job at a time, stop after `max_jobs` jobs (0 = no limit) or after
    /// `wait_timeout` without one.
    pub fn single(mut self, max_jobs: u32, wait_timeout: Option<Duration>) -> Self {
        self.single = Some(Bounds {
            max_jobs,
            wait_timeout,
        });
        self
    }

    /// The agent, ready to [`run`](Agent::run).
    pub fn build(self) -> Agent {
        let mut config = self.config;
        if self.single.is_some() {
            config.concurrent = 1;
        }
        let (updates, _) = watch::channel(Arc::new(config.clone()));
        Agent {
            system_id: self
                .system_id
                .unwrap_or_else(|| runner_api::generate_system_id(&mut rand::rng())),
            config,
            metrics: self.metrics,
            reload_from: self.reload_from,
            reload: Arc::new(Notify::new()),
            shutdown_timeout: self.shutdown_timeout,
            trace_dir: self.trace_dir.unwrap_or_else(std::env::temp_dir),
            shell_user: self.shell_user,
            single: self.single,
            updates,
        }
    }
}

/// The engine of a runner: polls the coordinator for every `[[runners]]` entry within
/// `concurrent`, `limit` and `request_concurrency`, runs each job with its executor to its final
/// update, and reloads and shuts down as the official runner does.
///
/// ```no_run
/// # async fn agent() -> Result<(), Box<dyn std::error::Error>> {
/// use runner_agent::{Agent, Shutdown};
///
/// let loaded = runner_config::load(std::path::Path::new("/etc/gitlab-runner/config.toml"))?;
/// let shutdown = Shutdown::new();
/// // Something (a signal handler, a control plane) calls `shutdown.stop("quit")` later.
/// Agent::builder(loaded.config).build().run(shutdown).await?;
/// # Ok(())
/// # }
/// ```
pub struct Agent {
    config: Config,
    system_id: String,
    metrics: Option<Metrics>,
    reload_from: Option<PathBuf>,
    reload: Arc<Notify>,
    shutdown_timeout: Option<Duration>,
    trace_dir: PathBuf,
    shell_user: Option<JobUser>,
    /// `run-single`'s bounds; `None` for `run`.
    single: Option<Bounds>,
    updates: watch::Sender<Arc<Config>>,
}

impl Agent {
    /// Starts building an agent for `config` (environment references in `url` and `token`
    /// should already be expanded: [`Config::expand_env`]).
    pub fn builder(config: Config) -> AgentBuilder {
        AgentBuilder {
            config,
            metrics: None,
            system_id: None,
            reload_from: None,
            shutdown_timeout: None,
            trace_dir: None,
            shell_user: None,
            single: None,
        }
    }

    /// A handle that asks for a reload now (upstream's SIGHUP), when built with
    /// [`AgentBuilder::reload_from`].
    pub fn reload_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.reload)
    }

    /// The configuration in force, updated on every accepted reload (e.g. to move the metrics
    /// server to a new `listen_address`).
    pub fn config_updates(&self) -> watch::Receiver<Arc<Config>> {
        self.updates.subscribe()
    }

    /// This runner manager's system id.
    pub fn system_id(&self) -> &str {
        &self.system_id
    }

    /// Runs until `shutdown.stop` (or, for a bounded agent, its bounds), then waits for the
    /// running jobs: without limit while only stopped, within the shutdown timeout once
    /// `shutdown.abort` fires.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), AgentError> {
        let metrics = self.metrics.clone();
        let mut runners = Runners::new(
            self.system_id.clone(),
            metrics.clone(),
            shutdown.clone(),
            self.trace_dir.clone(),
            self.shell_user.clone(),
            self.single,
        );
        // Before any poller starts: a sweep cannot tell a leftover from a running job (D6).
        runner_executor_docker::sweep_docker_leftovers(&self.config, &self.system_id).await;
        runners.apply(&self.config);
        if let Some(metrics) = &metrics {
            metrics.set_process_state(ProcessState::Running);
            metrics.set_ready(true);
        }
        let mut reloader = self
            .reload_from
            .clone()
            .map(|path| Reloader::with_config(path, self.config.clone()));
        // Tokens can only be rotated where the new one can be saved: a configuration file.
        let rotation = self.reload_from.clone().map(|path| {
            tokio::spawn(crate::token_rotation::rotate_tokens(
                path,
                self.updates.subscribe(),
                Arc::clone(&self.reload),
                self.system_id.clone(),
                shutdown.stop.clone(),
            ))
        });
        let mut bounds_check = tokio::time::interval(BOUNDS_CHECK_INTERVAL);
        let mut activity = Activity::default();
        loop {
            tokio::select! {
                biased;
                () = shutdown.stop.cancelled() => break,
                () = self.reload.notified(), if reloader.is_some() => {
                    if let Some(reloader) = &mut reloader {
                        self.reload(reloader, &mut runners, true);
                    }
                }
                () = tokio::time::sleep(RELOAD_CHECK_INTERVAL), if reloader.is_some() => {
                    if let Some(reloader) = &mut reloader {
                        self.reload(reloader, &mut runners, false);
                    }
                }
                _ = bounds_check.tick(), if self.single.is_some() => {
                    if let Some(bounds) = &self.single
                        && activity.bounds_reached(bounds, &runners)
                    {
                        shutdown.stop.cancel();
                        break;
                    }
                }
            }
        }
        if let Some(rotation) = rotation {
            rotation.abort();
        }
        if let Some(metrics) = &metrics {
            metrics.set_ready(false);
        }
        let timeout = self.shutdown_timeout.unwrap_or_else(|| {
            reloader
                .as_ref()
                .map_or(&self.config, Reloader::config)
                .effective_shutdown_timeout()
        });
        runners.shut_down(&shutdown, timeout).await
    }

    /// Reloads the file when it changed (or always, when `forced`) and applies what changed.
    fn reload(&self, reloader: &mut Reloader, runners: &mut Runners, forced: bool) {
        let event = if forced {
            reloader.reload()
        } else {
            reloader.poll()
        };
        match event {
            ReloadEvent::Unchanged => {}
            ReloadEvent::Reloaded(loaded) => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                if let Some(metrics) = &self.metrics {
                    metrics.workers().config_loaded();
                }
                let mut config = loaded.config;
                config.expand_env(|name| std::env::var(name).ok());
                runners.apply(&config);
                self.updates.send_replace(Arc::new(config));
            }
            ReloadEvent::Rejected(error) => {
                if let Some(metrics) = &self.metrics {
                    metrics.workers().config_loading_failed();
                }
                tracing::error!("Failed to load config {error}");
            }
        }
    }
}

/// When a bounded agent last saw a job, to stop after `max_jobs` or `wait_timeout`.
struct Activity {
    last: tokio::time::Instant,
    seen_jobs: u32,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            last: tokio::time::Instant::now(),
            seen_jobs: 0,
        }
    }
}

impl Activity {
    fn bounds_reached(&mut self, bounds: &Bounds, runners: &Runners) -> bool {
        let taken = runners.taken.load(Ordering::SeqCst);
        let idle = runners.jobs.is_empty();
        if taken != self.seen_jobs || !idle {
            self.seen_jobs = taken;
            self.last = tokio::time::Instant::now();
        }
        if bounds.max_jobs > 0 && taken >= bounds.max_jobs && idle {
            tracing::info!("This runner has processed its build limit, so now exiting");
            return true;
        }
        if let Some(timeout) = bounds.wait_timeout
            && idle
            && self.last.elapsed() >= timeout
        {
            tracing::info!(
                "This runner has not received a job in {} seconds, so now exiting",
                timeout.as_secs()
            );
            return true;
        }
        false
    }
}

/// The set of runner entries being polled, and the capacity they share.
struct Runners {
    system_id: String,
    metrics: Option<Metrics>,
    shutdown: Shutdown,
    trace_dir: PathBuf,
    shell_user: Option<JobUser>,
    /// `run-single`'s bounds; `None` for `run`.
    single: Option<Bounds>,
    concurrent: Limiter,
    jobs: TaskTracker,
    pollers: TaskTracker,
    /// Jobs taken by all pollers, for a bounded agent.
    taken: Arc<AtomicU32>,
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

impl Runners {
    fn new(
        system_id: String,
        metrics: Option<Metrics>,
        shutdown: Shutdown,
        trace_dir: PathBuf,
        shell_user: Option<JobUser>,
        single: Option<Bounds>,
    ) -> Self {
        Self {
            system_id,
            metrics,
            shutdown,
            trace_dir,
            shell_user,
            single,
            concurrent: Limiter::new(1),
            jobs: TaskTracker::new(),
            pollers: TaskTracker::new(),
            taken: Arc::new(AtomicU32::new(0)),
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
        if let Some(metrics) = &self.metrics {
            metrics.workers().set_concurrent(config.concurrent);
        }
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
            // `run-single` runs one job at a time whatever the entry's `limit`.
            let limit = if self.single.is_some() {
                1
            } else {
                runner.effective_limit().map_or(0, |limit| limit as usize)
            };
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
            if let Some(metrics) = &self.metrics {
                metrics.runner_seen(&labels);
                metrics.workers().set_limit(&labels, runner.limit);
            }
            let metrics = self.metrics.clone().map(|metrics| (metrics, labels));
            // Retry waits end with the process, not with a stop signal: during a SIGQUIT
            // drain the running jobs' updates still honour `Retry-After` (the pollers stop
            // their own pending requests).
            let client = match coordinator::client(
                runner,
                metrics.clone(),
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
            let executor = Arc::new(JobExecutor::for_runner_as(
                &runner,
                self.shell_user.as_ref(),
            ));
            if let Some(problem) = executor.configuration_problem() {
                tracing::error!(
                    runner = %runner.short_token(),
                    error = %problem,
                    "Runner's executor configuration is invalid; its jobs will fail until it is fixed"
                );
            }
            let poller = Poller {
                context: JobContext {
                    client,
                    info: coordinator::info(&runner),
                    runner: Arc::clone(&runner),
                    cache_credentials: crate::transfer_scripts::cache_credentials(&runner)
                        .map(Arc::new),
                    executor,
                    system_id: self.system_id.clone(),
                    abort: self.shutdown.abort.clone(),
                    interruption: self.shutdown.interruption.clone(),
                    trace_dir: Some(self.trace_dir.clone()),
                    metrics,
                },
                concurrent: self.concurrent.clone(),
                slots,
                check_interval,
                retire: retire.clone(),
                stop: self.shutdown.stop.clone(),
                jobs: self.jobs.clone(),
                taken: Arc::clone(&self.taken),
                // The poller stops asking once the bound is reached, before the agent's
                // periodic check notices (`run-single --max-builds`).
                max_jobs: self.single.map_or(0, |bounds| bounds.max_jobs),
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
        if self.single.is_none() {
            tracing::info!(
                builds = self.concurrent.in_use(),
                max_builds = config.concurrent,
                "Configuration loaded"
            );
        }
    }

    /// Waits for running jobs: without limit after a stop, within `timeout` once jobs were
    /// aborted (also when the abort arrives during a graceful wait).
    async fn shut_down(self, shutdown: &Shutdown, timeout: Duration) -> Result<(), AgentError> {
        self.pollers.close();
        self.jobs.close();
        if let Some(metrics) = &self.metrics {
            metrics.set_process_state(if shutdown.abort.is_cancelled() {
                ProcessState::ForcefulShutdown
            } else {
                ProcessState::GracefulShutdown
            });
        }
        let jobs = self.jobs.clone();
        let pollers = self.pollers.clone();
        let wait_all = async move {
            pollers.wait().await;
            jobs.wait().await;
        };
        tokio::pin!(wait_all);
        // Graceful phase: no deadline, but an abort moves on to the forceful one.
        if !shutdown.abort.is_cancelled() {
            if self.single.is_some() {
                tracing::warn!("Requested quit, waiting for builds to finish");
            }
            tokio::select! {
                biased;
                () = &mut wait_all => return Ok(()),
                () = shutdown.abort.cancelled() => {}
            }
        }
        tokio::select! {
            biased;
            () = &mut wait_all => Ok(()),
            () = tokio::time::sleep(timeout) => {
                tracing::warn!("shutdown timed out");
                Err(AgentError::ShutdownTimedOut)
            }
        }
    }
}
