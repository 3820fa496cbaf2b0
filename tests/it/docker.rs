//! Jobs through `run` and `run-single` on the Docker executor, against a real `dockerd` with
//! the local test images of `scripts/setup-docker.sh` (nothing is pulled). Leaks are checked
//! with the docker CLI, by the labels every object of a job carries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use runner_e2e::{JobBuilder, RunnerProcess, Workspace, run_to_end};
use serde_json::{Value, json};

use crate::{JOB_WAIT, final_record, start_runner, trace_text};

pub(crate) const BUILD_IMAGE: &str = "gitlab-runner-rs-test/bash:latest";
const HELPER_IMAGE: &str = "gitlab-runner-rs-test/helper:latest";
const SYSTEM_ID_LABEL: &str = "com.gitlab.gitlab-runner.runner.system_id";

/// Failure reasons the payloads accept, so the runner reports the precise one.
const FAILURE_REASONS: &[&str] = &[
    "script_failure",
    "runner_system_failure",
    "job_execution_timeout",
    "unknown_failure",
    "runner_interrupted",
    "job_canceled",
    "runner_configuration_error",
    "image_pull_failure",
];

pub(crate) async fn workspace() -> Workspace {
    Workspace::start(Duration::from_secs(2)).await
}

/// Writes a config with one Docker runner named `e2e-docker`; `docker_extra` are more lines
/// of `[runners.docker]`.
fn write_docker_config(workspace: &Workspace, docker_extra: &str) -> PathBuf {
    let text = format!(
        "concurrent = 1\ncheck_interval = 1\n\n[[runners]]\n  name = \"e2e-docker\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"docker\"\n  [runners.docker]\n    image = \"{BUILD_IMAGE}\"\n    helper_image = \"{HELPER_IMAGE}\"\n    pull_policy = \"never\"\n{docker_extra}\n",
        url = workspace.coordinator.url(),
        token = workspace.coordinator.runner_token(),
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A script-only job whose project id is unique to this test: parallel tests share the fake's
/// runner token, and the per-job network is named after token, project and job id.
pub(crate) fn docker_job(script: &[&str]) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut job = JobBuilder::script_only(script).build();
    job["job_info"]["project_id"] =
        json!(u64::from(std::process::id()) * 1000 + NEXT.fetch_add(1, Ordering::SeqCst));
    job["features"]["failure_reasons"] = json!(FAILURE_REASONS);
    job
}

/// Adds a public variable to a payload.
pub(crate) fn with_variable(mut job: Value, key: &str, value: &str) -> Value {
    if let Some(variables) = job["variables"].as_array_mut() {
        variables.push(json!({"key": key, "value": value, "public": true}));
    }
    job
}

/// The system id the runner started in `workspace` saved next to its config.
pub(crate) fn system_id(workspace: &Workspace) -> String {
    let path = workspace.path().join(".runner_system_id");
    let text = std::fs::read_to_string(&path).expect("the runner saved its system id");
    text.trim().to_owned()
}

/// Docker objects labelled with `system_id`: containers, networks, volumes (ids).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Labelled {
    pub(crate) containers: Vec<String>,
    pub(crate) networks: Vec<String>,
    pub(crate) volumes: Vec<String>,
}

impl Labelled {
    pub(crate) fn is_empty(&self) -> bool {
        self == &Labelled::default()
    }
}

pub(crate) async fn labelled(system_id: &str) -> Labelled {
    let filter = format!("label={SYSTEM_ID_LABEL}={system_id}");
    Labelled {
        containers: docker_ids(&["ps", "-aq", "--filter", &filter]).await,
        networks: docker_ids(&["network", "ls", "-q", "--filter", &filter]).await,
        volumes: docker_ids(&["volume", "ls", "-q", "--filter", &filter]).await,
    }
}

pub(crate) async fn docker_ids(args: &[&str]) -> Vec<String> {
    let output = tokio::process::Command::new("docker")
        .args(args)
        .output()
        .await
        .expect("the docker CLI runs");
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until the job's trace contains `needle`.
async fn wait_for_trace(workspace: &Workspace, runner: &RunnerProcess, job_id: u64, needle: &str) {
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !workspace
        .coordinator
        .job(job_id)
        .is_some_and(|record| String::from_utf8_lossy(&record.trace).contains(needle))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trace never showed {needle:?}; runner log:\n{}",
            runner.log()
        );
        // The trace arrives by PATCH from another process; there is no event to wait on.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs docker"]
async fn job_in_a_local_image_succeeds_and_leaves_nothing_behind() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job = with_variable(
        docker_job(&["echo \"hello-from-$(hostname)\"", "uname -s"]),
        "FF_NETWORK_PER_BUILD",
        "true",
    );
    let job_id = workspace.coordinator.enqueue_job(job);
    let mut runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(
        trace.contains(&format!("Using Docker executor with image {BUILD_IMAGE}")),
        "{trace}"
    );
    // The host name is the container's (`runner-...`), so the script ran inside it.
    assert!(trace.contains("hello-from-runner"), "{trace}");
    assert!(trace.contains("\nLinux"), "{trace}");
    assert!(trace.contains("Job succeeded"), "{trace}");
    // The final update is sent once the job's objects are gone.
    let left = labelled(&system_id(&workspace)).await;
    assert!(left.is_empty(), "left behind after success: {left:?}");
    runner.signal(Signal::SIGQUIT);
    assert!(
        runner
            .wait(Duration::from_secs(30))
            .await
            .is_some_and(|status| status.success()),
        "{}",
        runner.log()
    );
}

#[tokio::test]
#[ignore = "needs docker"]
async fn exit_3_fails_with_script_failure_and_exit_code_3() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job_id =
        workspace
            .coordinator
            .enqueue_job(docker_job(&["echo before", "exit 3", "echo never"]));
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed", "{trace}");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("script_failure"),
        "{trace}"
    );
    assert_eq!(update.exit_code, Some(3), "{trace}");
    assert!(trace.contains("ERROR: Job failed: exit code 3"), "{trace}");
    assert!(!trace.contains("\nnever"), "{trace}");
    let left = labelled(&system_id(&workspace)).await;
    assert!(left.is_empty(), "left behind after a failure: {left:?}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn pull_policy_the_runner_does_not_allow_fails_with_the_seed_message() {
    let workspace = workspace().await;
    let config = write_docker_config(
        &workspace,
        "    allowed_pull_policies = [\"if-not-present\", \"never\"]",
    );
    let mut job = docker_job(&["echo never-runs"]);
    job["image"] = json!({"name": BUILD_IMAGE, "pull_policy": ["always"]});
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed", "{trace}");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_configuration_error"),
        "{trace}"
    );
    assert!(
        trace.contains(&format!(
            "invalid pull policy for image '{BUILD_IMAGE}': pull_policy ([always]) defined in \
             GitLab pipeline config is not one of the allowed_pull_policies ([if-not-present never])"
        )),
        "{trace}"
    );
    assert!(!trace.contains("never-runs\n"), "{trace}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn dns_from_the_config_is_in_the_jobs_resolv_conf() {
    let workspace = workspace().await;
    let config = write_docker_config(
        &workspace,
        "    dns = [\"192.0.2.53\"]\n    dns_search = [\"e2e.example\"]",
    );
    let job_id = workspace
        .coordinator
        .enqueue_job(docker_job(&["cat /etc/resolv.conf"]));
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("nameserver 192.0.2.53"), "{trace}");
    assert!(trace.contains("search e2e.example"), "{trace}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn canceled_job_stops_and_its_containers_network_and_volumes_are_removed() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job = with_variable(
        docker_job(&["echo started", "sleep 600", "echo never"]),
        "FF_NETWORK_PER_BUILD",
        "true",
    );
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    wait_for_trace(&workspace, &runner, job_id, "started\n").await;
    // While the job runs its objects exist under the label the leak check filters on.
    let running = labelled(&system_id(&workspace)).await;
    assert!(!running.containers.is_empty(), "{running:?}");
    assert_eq!(running.networks.len(), 1, "{running:?}");
    assert!(!running.volumes.is_empty(), "{running:?}");

    workspace.coordinator.cancel_job(job_id);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    assert!(!trace.contains("\nnever"), "{trace}");
    let left = labelled(&system_id(&workspace)).await;
    assert!(left.is_empty(), "left behind after a cancel: {left:?}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn sigterm_during_a_job_removes_its_objects_before_the_runner_exits() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job = with_variable(
        docker_job(&["echo started", "sleep 600"]),
        "FF_NETWORK_PER_BUILD",
        "true",
    );
    let job_id = workspace.coordinator.enqueue_job(job);
    let mut runner = start_runner(&workspace, &config);
    wait_for_trace(&workspace, &runner, job_id, "started\n").await;
    let system_id = system_id(&workspace);
    let running = labelled(&system_id).await;
    assert!(!running.containers.is_empty(), "{running:?}");

    runner.signal(Signal::SIGTERM);
    assert!(
        runner.wait(JOB_WAIT).await.is_some(),
        "the runner did not exit: {}",
        runner.log()
    );
    let record = workspace.coordinator.job(job_id).expect("the job exists");
    assert_eq!(
        record.final_state.as_deref(),
        Some("failed"),
        "{}",
        runner.log()
    );
    let left = labelled(&system_id).await;
    assert!(left.is_empty(), "left behind after SIGTERM: {left:?}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn restart_after_sigkill_removes_what_the_killed_runner_left() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job = with_variable(
        docker_job(&["echo started", "sleep 600"]),
        "FF_NETWORK_PER_BUILD",
        "true",
    );
    let job_id = workspace.coordinator.enqueue_job(job);
    let mut killed = start_runner(&workspace, &config);
    wait_for_trace(&workspace, &killed, job_id, "started\n").await;
    killed.signal(Signal::SIGKILL);
    assert!(killed.wait(Duration::from_secs(30)).await.is_some());
    let system_id = system_id(&workspace);
    let orphans = labelled(&system_id).await;
    assert!(!orphans.containers.is_empty(), "{orphans:?}");
    assert_eq!(orphans.networks.len(), 1, "{orphans:?}");

    let restarted = start_runner(&workspace, &config);
    assert!(
        restarted
            .wait_for_log("Removed Docker objects left behind", JOB_WAIT)
            .await,
        "{}",
        restarted.log()
    );
    let left = labelled(&system_id).await;
    assert!(left.is_empty(), "left behind after the restart: {left:?}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn run_single_runs_a_docker_runner_from_the_config() {
    let workspace = workspace().await;
    let config = write_docker_config(&workspace, "");
    let job_id = workspace
        .coordinator
        .enqueue_job(docker_job(&["echo from-run-single"]));
    let config_text = config.to_string_lossy().into_owned();
    let args = [
        "run-single",
        "-c",
        &config_text,
        "--runner",
        "e2e-docker",
        "--max-builds",
        "1",
    ];
    let run = run_to_end(workspace.path(), &args);
    let (status, output) = tokio::time::timeout(JOB_WAIT, run)
        .await
        .expect("run-single exits after its one job");
    assert!(status.success(), "{output}");
    let record = workspace.coordinator.job(job_id).expect("the job exists");
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("from-run-single"), "{trace}");
    assert!(
        trace.contains(&format!("Using Docker executor with image {BUILD_IMAGE}")),
        "{trace}"
    );
}
