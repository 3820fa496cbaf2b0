//! `run-single`: jobs of one runner given on the command line (or taken from the config by
//! `--runner NAME`), one at a time, without reload or metrics (cli.md §9).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use runner_config::{Executor, RunnerConfig, Secret};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{RunSingleArgs, RunnerArgs};
use crate::executors::JobExecutor;
use crate::job_runner::JobContext;
use crate::limiter::Limiter;
use crate::poller::Poller;
use crate::signals::{self, Request, Shutdown};
use crate::slots::RunnerSlots;
use crate::{config_file, coordinator};

/// Upstream waits a fixed 3 s after an empty answer here, not `check_interval`.
const IDLE_PAUSE: Duration = Duration::from_secs(3);

/// Runs `run-single` until `--max-builds`, `--wait-timeout` or a signal.
pub(crate) fn run(args: RunSingleArgs) -> ExitCode {
    let runner = match runner_from(&args) {
        Ok(runner) => runner,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_jobs(args, runner))
}

async fn run_jobs(args: RunSingleArgs, runner: RunnerConfig) -> ExitCode {
    tracing::info!(
        "Starting runner for {} with token {} ...",
        runner.url,
        runner.short_token()
    );
    let shutdown = Shutdown::new();
    let Ok(mut requests) = signals::listen(shutdown.clone()) else {
        tracing::error!("could not install signal handlers");
        return ExitCode::FAILURE;
    };
    let system_id = match &args.runner_name {
        Some(_) => config_file::system_id(&config_file::resolve_path(&args.config)),
        None => runner_api::generate_system_id(&mut rand::rng()),
    };
    // Not tied to the stop signal: a drained job's updates still retry (as in `run`).
    let client = match coordinator::client(
        &runner,
        None,
        CancellationToken::new(),
        runner_config::Config::default().effective_connection_max_age(),
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Checking for jobs... client error");
            return ExitCode::FAILURE;
        }
    };
    let runner = Arc::new(runner);
    let jobs = TaskTracker::new();
    let pollers = TaskTracker::new();
    let taken = Arc::new(AtomicU32::new(0));
    let max_jobs = u32::try_from(args.max_builds).unwrap_or(u32::MAX);
    Poller {
        context: JobContext {
            client,
            info: coordinator::info(&runner),
            runner: Arc::clone(&runner),
            system_id,
            abort: shutdown.abort.clone(),
            interruption: shutdown.interruption.clone(),
            trace_dir: Some(std::env::temp_dir()),
            metrics: None,
        },
        // One job at a time.
        concurrent: Limiter::new(1),
        slots: RunnerSlots::new(1),
        check_interval: IDLE_PAUSE,
        retire: shutdown.stop.child_token(),
        stop: shutdown.stop.clone(),
        jobs: jobs.clone(),
        taken: Arc::clone(&taken),
        max_jobs,
    }
    .spawn(&pollers);

    let wait_timeout = (args.wait_timeout > 0).then(|| Duration::from_secs(args.wait_timeout));
    let mut last_activity = Instant::now();
    let mut seen_jobs = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            biased;
            request = requests.recv() => match request {
                Some(Request::ForceExit(signal)) => {
                    tracing::error!("forced exit: {signal}");
                    return ExitCode::FAILURE;
                }
                Some(Request::Reload) => {}
                None => break,
            },
            () = shutdown.stop.cancelled() => break,
            _ = ticker.tick() => {
                let count = taken.load(Ordering::SeqCst);
                if count != seen_jobs || !jobs.is_empty() {
                    seen_jobs = count;
                    last_activity = Instant::now();
                }
                if max_jobs > 0 && count >= max_jobs && jobs.is_empty() {
                    tracing::info!("This runner has processed its build limit, so now exiting");
                    shutdown.stop.cancel();
                    break;
                }
                if let Some(timeout) = wait_timeout {
                    if jobs.is_empty() && last_activity.elapsed() >= timeout {
                        tracing::info!("This runner has not received a job in {} seconds, so now exiting", timeout.as_secs());
                        shutdown.stop.cancel();
                        break;
                    }
                }
            }
        }
    }
    pollers.close();
    jobs.close();
    let drained = async {
        pollers.wait().await;
        jobs.wait().await;
    };
    tokio::pin!(drained);
    if !shutdown.abort.is_cancelled() {
        tracing::warn!("Requested quit, waiting for builds to finish");
        tokio::select! {
            biased;
            () = &mut drained => return ExitCode::SUCCESS,
            () = shutdown.abort.cancelled() => {}
        }
    }
    tokio::select! {
        biased;
        () = &mut drained => ExitCode::SUCCESS,
        () = tokio::time::sleep(Duration::from_secs(args.shutdown_timeout)) => {
            tracing::error!("shutdown timed out");
            ExitCode::FAILURE
        }
    }
}

/// The runner entry: from the config file with `--runner`, else from the flags.
fn runner_from(args: &RunSingleArgs) -> Result<RunnerConfig, String> {
    if let Some(name) = &args.runner_name {
        let path = config_file::resolve_path(&args.config);
        let loaded =
            config_file::load(&path).map_err(|error| format!("Error loading config: {error}"))?;
        return loaded.config.runner_by_name(name).cloned().ok_or_else(|| {
            format!("Error loading runner by name: could not find a runner with the name '{name}'")
        });
    }
    from_flags(&args.runner)
}

fn from_flags(flags: &RunnerArgs) -> Result<RunnerConfig, String> {
    let url = flags
        .url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or("Missing URL")?;
    let token = flags
        .token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or("Missing Token")?;
    let executor_name = flags
        .executor
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or("Missing Executor")?;
    let executor: Executor = executor_name
        .parse()
        .map_err(|_| format!("Unknown executor: {executor_name}"))?;
    if !JobExecutor::supports(Some(executor)) {
        return Err(format!("Unknown executor: {executor_name}"));
    }
    Ok(RunnerConfig {
        name: flags.name.clone().unwrap_or_default(),
        url,
        token: Secret::new(token),
        executor: Some(executor),
        shell: flags.shell.clone().unwrap_or_default(),
        limit: flags.limit.unwrap_or(0),
        request_concurrency: flags.request_concurrency.unwrap_or(1),
        output_limit: flags.output_limit.unwrap_or(0),
        builds_dir: flags.builds_dir.clone().unwrap_or_default(),
        cache_dir: flags.cache_dir.clone().unwrap_or_default(),
        environment: flags.env.clone(),
        pre_get_sources_script: flags.pre_get_sources_script.clone().unwrap_or_default(),
        post_get_sources_script: flags.post_get_sources_script.clone().unwrap_or_default(),
        pre_build_script: flags.pre_build_script.clone().unwrap_or_default(),
        post_build_script: flags.post_build_script.clone().unwrap_or_default(),
        tls_ca_file: path_text(flags.tls_ca_file.as_deref()),
        tls_cert_file: path_text(flags.tls_cert_file.as_deref()),
        tls_key_file: path_text(flags.tls_key_file.as_deref()),
        clone_url: flags.clone_url.clone().unwrap_or_default(),
        feature_flags: flags
            .feature_flags
            .iter()
            .filter_map(|flag| flag.split_once(':'))
            .map(|(name, value)| (name.to_owned(), value.eq_ignore_ascii_case("true")))
            .collect(),
        // The executor sections a runner needs, from the few flags that fill them.
        docker: (executor == Executor::Docker).then(|| flags.docker.config()),
        kubernetes: (executor == Executor::Kubernetes).then(|| flags.kubernetes.config()),
        custom: (executor == Executor::Custom).then(|| flags.custom.config()),
        cache: flags.cache.config(),
        ..RunnerConfig::default()
    })
}

fn path_text(path: Option<&std::path::Path>) -> String {
    path.map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}
