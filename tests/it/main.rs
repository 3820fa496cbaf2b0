//! End-to-end tests: the real `gitlab-runner-rs` binary against the fake coordinator,
//! real git over smart HTTP, and real bash.

// Jobs through `run` on the shell executor: scripts, exit codes, masking, git strategies.
mod shell_jobs;
// Shell jobs as another user (`run --user`): su, ownership, a missing user, masking, cancel.
mod shell_user;
// The service: concurrency, signals, reload, the config lock.
mod service;
// Commands that only read or edit the config file: list, lint, --version.
mod config_commands;
// `exec`: .gitlab-ci.yml pipelines run locally through the local coordinator.
mod exec;
// Scraping /metrics of the running binary.
mod metrics;
// `run-single`: one runner from flags, build limit, wait timeout.
mod run_single;
// register, verify, unregister and reset-token against the fake coordinator.
mod registration;
// Jobs on the Docker executor against a real dockerd (ignored unless Docker is set up).
mod docker;
// Docker deployments: no helper image, our helper image, a musl/busybox helper with the
// injected static binary, and the runner image with the host's socket.
mod docker_deploy;
// install/uninstall/start/stop/restart/status with an init script under a temporary root.
mod service_control;
// Artifacts and cache moving through the helper modes: uploads, dependencies, local and S3 cache.
mod artifacts;
// Under load and attack: one project's parallel jobs, huge logs, undecodable payloads, drains.
mod robustness;
// Jobs on the Kubernetes executor against the fake API server: artifacts and cache through our
// helper binary installed by the init container, and a job failing without it.
mod kubernetes;
// Jobs on the custom executor: host and Docker drivers, call order, failures, timeouts.
mod custom_executor;
// Canary secrets of every kind against logs, traces, endpoints and leftover files (#16).
mod secrets_audit;

use std::time::Duration;

use runner_api::fake::JobRecord;
use runner_e2e::{RunnerProcess, Workspace};

/// Generous bound for a job to finish on a loaded 2-core CI machine. Tests never assert
/// that anything is fast; this only stops a broken runner from hanging the suite.
const JOB_WAIT: Duration = Duration::from_secs(90);

/// Starts `run` on `config` in the workspace.
fn start_runner(workspace: &Workspace, config: &std::path::Path) -> RunnerProcess {
    RunnerProcess::start(workspace.path(), &["run", "-c", &config.to_string_lossy()])
}

/// Waits for the final state of `job_id`, panicking with the runner's log if it never comes.
async fn final_record(workspace: &Workspace, runner: &RunnerProcess, job_id: u64) -> JobRecord {
    match workspace
        .coordinator
        .wait_for_job_final_state(job_id, JOB_WAIT)
        .await
    {
        Some(record) => record,
        None => panic!("job {job_id} never finished; runner log:\n{}", runner.log()),
    }
}

/// Stops `runner` gracefully (SIGQUIT) and waits until the fake holds no long poll of it, so
/// that a job queued next cannot be handed to a request of a process that is gone.
async fn stop_runner(workspace: &Workspace, mut runner: RunnerProcess) {
    runner.signal(nix::sys::signal::Signal::SIGQUIT);
    assert!(
        runner.wait(JOB_WAIT).await.is_some(),
        "the runner did not stop on SIGQUIT; log:\n{}",
        runner.log()
    );
    assert!(
        workspace
            .coordinator
            .wait_for_no_waiting_job_requests(JOB_WAIT)
            .await,
        "a job request of the stopped runner is still waiting"
    );
}

/// The job's trace as text.
fn trace_text(record: &JobRecord) -> String {
    String::from_utf8_lossy(&record.trace).into_owned()
}
