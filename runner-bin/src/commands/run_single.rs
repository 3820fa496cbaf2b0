//! `run-single`: jobs of one runner given on the command line (or taken from the config by
//! `--runner NAME`), one at a time, without reload or metrics (cli.md §9).

use std::process::ExitCode;
use std::time::Duration;

use runner_agent::executors::JobExecutor;
use runner_agent::{Agent, Shutdown};
use runner_config::{Config, Executor, RunnerConfig, Secret};

use crate::cli::{RunSingleArgs, RunnerArgs};
use crate::config_file;
use crate::signals::{self, Request};

/// Upstream waits a fixed 3 s after an empty answer here, not `check_interval`.
const IDLE_PAUSE_SECONDS: i64 = 3;

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
    let mut builder = Agent::builder(Config {
        runners: vec![runner],
        check_interval: IDLE_PAUSE_SECONDS,
        ..Config::default()
    })
    .single(
        u32::try_from(args.max_builds).unwrap_or(u32::MAX),
        (args.wait_timeout > 0).then(|| Duration::from_secs(args.wait_timeout)),
    )
    .shutdown_timeout(Duration::from_secs(args.shutdown_timeout));
    if args.runner_name.is_some() {
        builder = builder.system_id(config_file::system_id(&config_file::resolve_path(
            &args.config,
        )));
    }
    let run = builder.build().run(shutdown);
    tokio::pin!(run);
    let mut signals_open = true;
    loop {
        tokio::select! {
            result = &mut run => return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            },
            request = requests.recv(), if signals_open => match request {
                Some(Request::ForceExit(signal)) => {
                    tracing::error!("forced exit: {signal}");
                    return ExitCode::FAILURE;
                }
                Some(Request::Reload) => {}
                None => signals_open = false,
            },
        }
    }
}

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
