//! `exec <shell|docker> [JOB...]`: runs a project's `.gitlab-ci.yml` jobs locally, with no
//! GitLab, through the same `job_runner::process` as `run` (issue #9).
//!
//! `runner-pipeline` turns the file into the job payloads GitLab would send; an in-process
//! [`LocalCoordinator`] plays GitLab's part for the job-scoped API calls (state, trace,
//! artifacts), so commit, trace streaming, the final update and the artifact helpers all
//! run exactly as with a real coordinator.
//!
//! Jobs clone what is in the project directory *now*, uncommitted changes included, also
//! when the project is a subdirectory of a bigger repository (`examples/pipeline`): see
//! `local_coordinator::prepare_sources` for how and why.
//!
//! `exec docker` runs the same way on the Docker executor (see `docker_runner_config`).
//!
//! Builds live in `<project>/.gitlab-runner-rs/builds` (and the local cache in
//! `.gitlab-runner-rs/cache`) unless `--builds-dir` says otherwise, so a finished job's
//! directory can be inspected and the cache survives between runs; `exec` never copies
//! that directory into a snapshot. Artifacts and the snapshot repository live in a
//! temporary directory removed at exit.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use runner_api::{ClientBuilder, JobResponse};
use runner_config::{Executor, RunnerConfig};
use runner_pipeline::{LocalContext, Pipeline, PlannedJob, SkipReason, Variable, When};
use tokio_util::sync::CancellationToken;

use crate::cli::ExecArgs;
use crate::local_coordinator::{LocalCoordinator, TraceOutput, prepare_sources};
use runner_agent::executors::JobExecutor;
use runner_agent::job_runner::{self, JobContext, JobEnd};

mod report;

use report::{Row, Status, print_job_header, print_summary};

/// The directory, inside the project, for `exec`'s builds and cache.
const STATE_DIR: &str = ".gitlab-runner-rs";

/// Runs `exec`; exit status 0 when every job passed or was allowed to fail, 1 otherwise.
pub(crate) fn run(args: ExecArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ERROR: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The runner's lifecycle lines (`Added job to processing list`, `Updating job...`) are
    // noise next to the trace: at the default level `exec` shows errors only. The runtime
    // is single-threaded so this thread's subscriber sees every task; `--debug` or
    // `--log-level` keep the global subscriber.
    let quiet =
        tracing::level_filters::LevelFilter::current() == tracing::level_filters::LevelFilter::INFO;
    let result = if quiet {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || runtime.block_on(exec(args)))
    } else {
        runtime.block_on(exec(args))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            // An invalid pipeline lists one problem per line (`file:line: message`).
            for line in format!("{error:#}").lines() {
                eprintln!("ERROR: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Loads, plans and runs the pipeline; `Ok(true)` when it succeeded.
async fn exec(args: ExecArgs) -> anyhow::Result<bool> {
    let executor = check_executor(&args.executor)?;
    let project_dir = match &args.directory {
        Some(directory) => directory.clone(),
        None => std::env::current_dir().context("could not read the current directory")?,
    };
    let project_dir = std::fs::canonicalize(&project_dir)
        .with_context(|| format!("project directory {}", project_dir.display()))?;
    let mut ctx = LocalContext::from_checkout(&project_dir)?;
    if args.file != Path::new(".gitlab-ci.yml") {
        ctx.config_path = args.file.to_string_lossy().into_owned();
    }
    add_user_variables(&mut ctx, &args)?;
    // After the context: `include` paths and `include:rules` see its variables.
    let pipeline = Pipeline::load_for(&ctx, &args.file)?;
    ctx.job_token = format!("local-{:032x}", rand::random::<u128>());

    let state_dir = project_dir.join(STATE_DIR);
    let (builds_dir, cache_dir) = match &args.builds_dir {
        Some(builds_dir) => (absolute(builds_dir)?, absolute(builds_dir)?.join("cache")),
        None => (state_dir.join("builds"), state_dir.join("cache")),
    };
    for directory in [&builds_dir, &cache_dir] {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("could not create {}", directory.display()))?;
    }
    let scratch = tempfile::Builder::new()
        .prefix("gitlab-runner-rs-exec-")
        .tempdir()
        .context("could not create a temporary directory")?;
    let snapshot_excludes = [state_dir.as_path(), builds_dir.as_path()];
    let source_dirs = prepare_sources(&mut ctx, scratch.path(), &snapshot_excludes)?;

    let stdout_is_terminal = std::io::stdout().is_terminal();
    let coordinator = LocalCoordinator::start(
        ctx.job_token.clone(),
        scratch.path().to_owned(),
        TraceOutput::new(Box::new(std::io::stdout()), stdout_is_terminal),
    )
    .await
    .context("could not start the local coordinator")?;
    // Jobs reach the coordinator through `CI_SERVER_URL` (the artifact helpers use it).
    ctx.server_url = coordinator.url().to_owned();

    let plan = pipeline
        .plan(&ctx, &args.jobs)
        .map_err(|error| match error {
            runner_pipeline::Error::UnknownJobs { .. } => {
                let known: Vec<&str> = pipeline.job_names().collect();
                anyhow::anyhow!("{error}; the pipeline's jobs are: {}", known.join(", "))
            }
            other => other.into(),
        })?;
    for warning in pipeline.warnings().iter().chain(plan.warnings()) {
        eprintln!("WARNING: {warning}");
    }

    let runner = match executor {
        Executor::Docker => docker_runner_config(coordinator.url(), &args, &source_dirs),
        // The drivers decide where jobs run; builds and cache default to exec's own dirs.
        Executor::Custom => RunnerConfig {
            executor: Some(Executor::Custom),
            custom: Some(args.custom.config()),
            ..shell_runner_config(coordinator.url(), &builds_dir, &cache_dir)
        },
        _ => shell_runner_config(coordinator.url(), &builds_dir, &cache_dir),
    };
    let abort = CancellationToken::new();
    let context = JobContext {
        client: ClientBuilder::new(coordinator.url())
            .user_agent(runner_api::user_agent())
            .build()
            .context("could not build the coordinator client")?,
        info: runner_agent::coordinator::info(&runner),
        executor: Arc::new(JobExecutor::for_runner(&runner)),
        cache_credentials: None,
        runner: Arc::new(runner),
        system_id: runner_api::generate_system_id(&mut rand::rng()),
        abort: abort.clone(),
        interruption: Default::default(),
        trace_dir: Some(std::env::temp_dir()),
        metrics: None,
    };

    let mut rows = Vec::new();
    let finished = {
        let jobs = run_jobs(&coordinator, &context, &ctx, plan.jobs(), &mut rows);
        let interrupts = interrupts(&abort);
        tokio::pin!(jobs, interrupts);
        tokio::select! {
            biased;
            () = &mut jobs => true,
            () = &mut interrupts => false,
        }
    };
    coordinator.shutdown().await;
    if !finished {
        bail!("interrupted again: stopped without waiting for the job's cleanup");
    }
    for skipped in plan.skipped() {
        if skipped.reason == SkipReason::Manual {
            rows.push(Row {
                name: skipped.name.clone(),
                stage: skipped.stage.clone(),
                status: Status::Manual,
                duration: None,
            });
        }
    }
    let excluded: Vec<&str> = plan
        .skipped()
        .iter()
        .filter(|skipped| skipped.reason != SkipReason::Manual)
        .map(|skipped| skipped.name.as_str())
        .collect();
    print_summary(&rows, &excluded, stdout_is_terminal);
    if abort.is_cancelled() {
        eprintln!("ERROR: interrupted");
        return Ok(false);
    }
    Ok(!rows.iter().any(|row| row.status == Status::Failed))
}

/// Runs the planned jobs in order, one at a time, appending a row per job to `rows`.
///
/// As on GitLab, a failure (not allowed to fail) decides what runs after it: a job with
/// `needs` looks only at the jobs it needs (a skipped one counts as failed), any other job
/// at the jobs of earlier stages, so jobs of the failing job's own stage still run.
/// `when: on_failure` jobs run only after such a failure, `always` jobs in any case.
async fn run_jobs(
    coordinator: &LocalCoordinator,
    context: &JobContext,
    ctx: &LocalContext,
    jobs: &[PlannedJob],
    rows: &mut Vec<Row>,
) {
    let mut dependency_ids: HashMap<String, i64> = HashMap::new();
    // `artifacts:reports:dotenv` variables by job name, for the jobs that depend on it.
    let mut dotenv: HashMap<String, Vec<Variable>> = HashMap::new();
    let mut failed_jobs: Vec<&str> = Vec::new();
    let mut failed_stages: Vec<&str> = Vec::new();
    let total = jobs.len();
    for (index, job) in jobs.iter().enumerate() {
        let job_id = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let upstream_failed = match job.needs() {
            Some(needs) => needs
                .iter()
                .any(|need| failed_jobs.contains(&need.as_str())),
            None => failed_stages.iter().any(|stage| *stage != job.stage()),
        };
        let runs = match job.when() {
            When::OnFailure => upstream_failed,
            When::Always => true,
            _ => !upstream_failed,
        };
        if !runs || context.abort.is_cancelled() {
            failed_jobs.push(job.name());
            rows.push(Row {
                name: job.name().to_owned(),
                stage: job.stage().to_owned(),
                status: Status::Skipped,
                duration: None,
            });
            continue;
        }
        print_job_header(index + 1, total, job);
        let started = Instant::now();
        let inherited: Vec<Variable> = job
            .dependencies()
            .iter()
            .filter_map(|name| dotenv.get(name))
            .flatten()
            .cloned()
            .collect();
        let status = run_one(
            coordinator,
            context,
            ctx,
            job,
            job_id,
            &dependency_ids,
            &inherited,
        )
        .await;
        if status == Status::Failed {
            failed_jobs.push(job.name());
            if !failed_stages.contains(&job.stage()) {
                failed_stages.push(job.stage());
            }
        }
        if coordinator.has_artifacts(job_id.unsigned_abs()) {
            dependency_ids.insert(job.name().to_owned(), job_id);
        }
        let variables = coordinator.dotenv(job_id.unsigned_abs());
        if !variables.is_empty() {
            let variables = variables
                .into_iter()
                .map(|(key, value)| Variable {
                    public: false,
                    ..Variable::public(key, value)
                })
                .collect();
            dotenv.insert(job.name().to_owned(), variables);
        }
        rows.push(Row {
            name: job.name().to_owned(),
            stage: job.stage().to_owned(),
            status,
            duration: Some(started.elapsed()),
        });
    }
}

/// Runs one job through `job_runner::process` and classifies how it ended.
async fn run_one(
    coordinator: &LocalCoordinator,
    context: &JobContext,
    ctx: &LocalContext,
    job: &PlannedJob,
    job_id: i64,
    dependency_ids: &HashMap<String, i64>,
    inherited: &[Variable],
) -> Status {
    let wire_id = job_id.unsigned_abs();
    let payload = job.to_job_payload_inheriting(ctx, job_id, dependency_ids, inherited);
    let response = match serde_json::to_vec(&payload)
        .map_err(anyhow::Error::from)
        .and_then(|bytes| JobResponse::from_json(&bytes).map_err(anyhow::Error::from))
    {
        Ok(response) => response,
        Err(error) => {
            eprintln!(
                "ERROR: job `{}`: its payload does not decode: {error:#}",
                job.name()
            );
            return Status::Failed;
        }
    };
    coordinator.add_job(wire_id);
    let numbers = job_runner::JobNumbers {
        concurrent_id: 1,
        concurrent_project_id: 0,
    };
    let end = job_runner::process_contained(context, response, numbers).await;
    coordinator.flush_trace(wire_id);
    match end {
        JobEnd::Succeeded => Status::Passed,
        JobEnd::Failed(_) | JobEnd::Dropped => {
            let exit_code = coordinator
                .final_state(wire_id)
                .and_then(|state| state.exit_code)
                .and_then(|code| i32::try_from(code).ok());
            let allowed = job.allow_failure()
                || exit_code.is_some_and(|code| job.allow_failure_exit_codes().contains(&code));
            if allowed && !context.abort.is_cancelled() {
                Status::FailedAllowed
            } else {
                Status::Failed
            }
        }
    }
}

/// Completes after the second Ctrl-C; the first one aborts the running job, which is then
/// reported and cleaned up like any aborted job.
async fn interrupts(abort: &CancellationToken) {
    if tokio::signal::ctrl_c().await.is_err() {
        // Without a signal handler Ctrl-C keeps its default effect; never complete.
        std::future::pending::<()>().await;
    }
    eprintln!("\nInterrupted: aborting the running job (press Ctrl-C again to stop at once)");
    abort.cancel();
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn check_executor(name: &str) -> anyhow::Result<Executor> {
    let executor = match name {
        "shell" => Executor::Shell,
        "docker" => Executor::Docker,
        "custom" => Executor::Custom,
        other => bail!("unknown executor `{other}`: exec supports shell, docker and custom"),
    };
    if !JobExecutor::supports(Some(executor)) {
        bail!(
            "the {name} executor is not available in this build of gitlab-runner-rs; use `exec shell`"
        );
    }
    Ok(executor)
}

/// `--var-file`s, then `--env` (later wins), then `--mask` on the names they define.
fn add_user_variables(ctx: &mut LocalContext, args: &ExecArgs) -> anyhow::Result<()> {
    for path in &args.var_file {
        let contents = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        ctx.add_var_file(&contents)
            .with_context(|| format!("variables file {}", path.display()))?;
    }
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            bail!("--env {pair:?}: expected KEY=VALUE");
        };
        ctx.variables.push((key.to_owned(), value.to_owned()));
    }
    for name in &args.mask {
        if !ctx.variables.iter().any(|(key, _)| key == name) {
            bail!("--mask {name}: no --env or --var-file variable has that name");
        }
        ctx.masked.push(name.clone());
    }
    Ok(())
}

/// The in-memory `[[runners]]` entry every job of `exec shell` runs with.
fn shell_runner_config(url: &str, builds_dir: &Path, cache_dir: &Path) -> RunnerConfig {
    RunnerConfig {
        name: "gitlab-runner-rs exec".to_owned(),
        url: url.to_owned(),
        token: "glrt-localexec".into(),
        executor: Some(Executor::Shell),
        builds_dir: builds_dir.to_string_lossy().into_owned(),
        cache_dir: cache_dir.to_string_lossy().into_owned(),
        ..RunnerConfig::default()
    }
}

/// The in-memory `[[runners]]` entry of `exec docker`. Builds and the cache stay in the
/// executor's volumes (`--builds-dir` is for the shell executor). Job containers use the
/// host's network so they reach the local coordinator at `127.0.0.1` (a consequence:
/// `services` are not linked by alias), and the directories the clone reads are mounted
/// read-only at their host paths, so the `file://` URL means the same inside.
fn docker_runner_config(url: &str, args: &ExecArgs, source_dirs: &[PathBuf]) -> RunnerConfig {
    // `/cache` as a volume, as `register` writes for Docker runners: the cache then
    // outlives each job's containers and reaches the next job of the pipeline.
    let volumes = source_dirs
        .iter()
        .map(|dir| format!("{0}:{0}:ro", dir.display()))
        .chain(std::iter::once("/cache".to_owned()))
        .collect();
    RunnerConfig {
        executor: Some(Executor::Docker),
        builds_dir: String::new(),
        cache_dir: String::new(),
        docker: Some(runner_config::DockerConfig {
            image: args.docker_image.clone(),
            helper_image: args.docker_helper_image.clone().unwrap_or_default(),
            pull_policy: vec![args.docker_pull_policy.clone()].into(),
            network_mode: "host".to_owned(),
            volumes,
            ..runner_config::DockerConfig::default()
        }),
        ..shell_runner_config(url, Path::new(""), Path::new(""))
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    Ok(std::env::current_dir()
        .context("could not read the current directory")?
        .join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_executors_are_accepted() {
        assert!(check_executor("shell").is_ok());
        let error = check_executor("podman").unwrap_err().to_string();
        assert!(error.contains("unknown executor `podman`"), "{error}");
        if !JobExecutor::supports(Some(Executor::Docker)) {
            let error = check_executor("docker").unwrap_err().to_string();
            assert!(error.contains("not available in this build"), "{error}");
        }
    }
}
