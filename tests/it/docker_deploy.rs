//! The Docker executor the way users deploy it (issue #15): a fresh daemon with no helper
//! image, our helper image (`scripts/build-images.sh`), a musl/busybox helper image that only
//! works with the injected static binary, and the runner image started with the host's Docker
//! socket. The images are built offline by `scripts/setup-docker.sh`; the static binary comes
//! from `scripts/build-static.sh` (`static_runner_binary`).
//!
//! The jobs reach the fake coordinator on the host's loopback through `network_mode = "host"`,
//! and keep their cache in a host directory bound at `/cache`, so nothing of theirs outlives
//! them (a reusable cache volume would, by design).

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::Signal;
use runner_api::fake::JobRecord;
use runner_e2e::{RunnerProcess, Workspace, static_runner_binary};
use serde_json::{Value, json};

use crate::docker::{BUILD_IMAGE, docker_job, labelled, system_id, with_variable, workspace};
use crate::{JOB_WAIT, final_record, start_runner, trace_text};

/// The musl/busybox helper image of setup-docker.sh: busybox-static, bash-static and musl's
/// loader, no glibc and no helper binary.
const BUSYBOX_HELPER_IMAGE: &str = "gitlab-runner-rs-test/busybox-helper:latest";

/// A config with one Docker runner on the host network, its cache in `<workspace>/cache`;
/// `docker_extra` are more lines of `[runners.docker]`.
fn deploy_config(workspace: &Workspace, docker_extra: &str) -> PathBuf {
    let cache = workspace.path().join("cache");
    std::fs::create_dir_all(&cache).expect("cache dir");
    let text = format!(
        "concurrent = 1\ncheck_interval = 1\n\n[[runners]]\n  name = \"e2e-deploy\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"docker\"\n  [runners.docker]\n    image = \"{BUILD_IMAGE}\"\n    pull_policy = \"never\"\n    network_mode = \"host\"\n    volumes = [\"{cache}:/cache\"]\n{docker_extra}\n",
        url = workspace.coordinator.url(),
        token = workspace.coordinator.runner_token(),
        cache = cache.display(),
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn start_static_runner(workspace: &Workspace, config: &Path) -> RunnerProcess {
    RunnerProcess::start_wrapped(
        workspace.path(),
        &[],
        &static_runner_binary(),
        &["run", "-c", &config.to_string_lossy()],
        &[],
    )
}

/// Files of a zip archive, listed by `unzip -Z1` (the same tool the shell tests use).
fn zip_entries(dir: &Path, data: &[u8]) -> Vec<String> {
    let path = dir.join("downloaded-artifacts.zip");
    std::fs::write(&path, data).expect("write zip");
    let output = Command::new("unzip")
        .arg("-Z1")
        .arg(&path)
        .output()
        .expect("unzip runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn cache_archives(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.file_name().is_some_and(|name| name == "cache.zip") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    found
}

/// A job that writes `vendor/dep.txt` (cached under `deploy-cache`) and `out/result.txt`
/// (its artifact).
fn producer_job() -> Value {
    let mut job = docker_job(&[
        "mkdir -p vendor out",
        "echo cached-dependency > vendor/dep.txt",
        "echo artifact-content > out/result.txt",
    ]);
    job["cache"] = json!([{"key": "deploy-cache", "paths": ["vendor/"], "policy": "pull-push",
        "when": "on_success"}]);
    job["artifacts"] = json!([{"paths": ["out/"], "when": "on_success", "name": "result"}]);
    job
}

/// A job that restores the producer's cache and downloads its artifacts.
fn consumer_job(producer: &JobRecord) -> Value {
    let mut job = docker_job(&["cat vendor/dep.txt", "cat out/result.txt"]);
    job["cache"] = json!([{"key": "deploy-cache", "paths": ["vendor/"], "policy": "pull"}]);
    job["dependencies"] = json!([{
        "id": producer.id,
        "token": producer.token,
        "name": "producer",
        "artifacts_file": {"filename": "artifacts.zip", "size": 1}
    }]);
    job
}

/// Runs the producer and the consumer on the runner started by `start` and checks the cache
/// and the artifacts made the round trip, and that no container, network or volume is left.
async fn cache_and_artifacts_round_trip(
    workspace: &Workspace,
    start: impl Fn() -> RunnerHandle,
    system_id_dir: &Path,
) {
    let runner = start();
    let producer_id = workspace.coordinator.enqueue_job(producer_job());
    let producer = runner.final_record(workspace, producer_id).await;
    let trace = trace_text(&producer);
    assert_eq!(producer.final_state.as_deref(), Some("success"), "{trace}");
    assert!(
        !trace.contains("Missing /usr/bin/gitlab-runner-helper"),
        "{trace}"
    );
    assert!(trace.contains("Created cache"), "{trace}");
    assert!(trace.contains("Uploading artifacts..."), "{trace}");
    assert_eq!(producer.artifacts.len(), 1, "{trace}");
    let entries = zip_entries(workspace.path(), &producer.artifacts[0].data);
    assert!(entries.iter().any(|e| e == "out/result.txt"), "{entries:?}");
    let archives = cache_archives(&workspace.path().join("cache"));
    assert!(
        archives
            .iter()
            .any(|p| p.ends_with("deploy-cache/cache.zip")),
        "{archives:?}\n{trace}"
    );

    let consumer_id = workspace.coordinator.enqueue_job(consumer_job(&producer));
    let consumer = runner.final_record(workspace, consumer_id).await;
    let trace = trace_text(&consumer);
    assert_eq!(consumer.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("Successfully extracted cache"), "{trace}");
    assert!(trace.contains("\ncached-dependency"), "{trace}");
    assert!(trace.contains("\nartifact-content"), "{trace}");

    // The final update is sent once the job's objects are gone.
    let system_id = std::fs::read_to_string(system_id_dir.join(".runner_system_id"))
        .expect("the runner saved its system id");
    let left = labelled(system_id.trim()).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    runner.stop().await;
}

/// A runner under test: a process of ours, or the runner image's container.
enum RunnerHandle {
    Process(RunnerProcess),
    Container(RunnerContainer),
}

impl RunnerHandle {
    async fn final_record(&self, workspace: &Workspace, job_id: u64) -> JobRecord {
        match self {
            RunnerHandle::Process(runner) => final_record(workspace, runner, job_id).await,
            RunnerHandle::Container(container) => match workspace
                .coordinator
                .wait_for_job_final_state(job_id, JOB_WAIT)
                .await
            {
                Some(record) => record,
                None => panic!(
                    "job {job_id} never finished; runner log:\n{}",
                    container.logs()
                ),
            },
        }
    }

    async fn stop(self) {
        match self {
            RunnerHandle::Process(mut runner) => {
                runner.signal(Signal::SIGQUIT);
                assert!(
                    runner.wait(JOB_WAIT).await.is_some_and(|s| s.success()),
                    "{}",
                    runner.log()
                );
            }
            RunnerHandle::Container(container) => container.stop(),
        }
    }
}

/// A container of the runner image, force-removed when dropped (a failed test leaves
/// nothing running).
struct RunnerContainer {
    name: String,
}

impl RunnerContainer {
    fn logs(&self) -> String {
        let output = Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .expect("docker logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// `docker stop` sends the image's STOPSIGNAL (SIGQUIT: finish jobs, then exit 0).
    fn stop(&self) {
        let stopped = Command::new("docker")
            .args(["stop", "-t", "60", &self.name])
            .output()
            .expect("docker stop");
        assert!(stopped.status.success(), "{stopped:?}");
        let code = Command::new("docker")
            .args(["inspect", "-f", "{{.State.ExitCode}}", &self.name])
            .output()
            .expect("docker inspect");
        assert_eq!(
            String::from_utf8_lossy(&code.stdout).trim(),
            "0",
            "the runner did not exit cleanly on SIGQUIT:\n{}",
            self.logs()
        );
    }
}

impl Drop for RunnerContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// The runner image's tag for this workspace version.
fn runner_image() -> String {
    format!("gitlab-runner-rs:v{}", env!("CARGO_PKG_VERSION"))
}

#[tokio::test]
#[ignore = "needs docker"]
async fn echo_job_passes_when_no_helper_image_exists_anywhere() {
    let workspace = workspace().await;
    // A helper image no daemon or registry has: the job must never need it.
    let config = deploy_config(
        &workspace,
        "    helper_image = \"gitlab-runner-rs-test/no-such-helper:never\"",
    );
    let job = with_variable(docker_job(&["echo hi"]), "GIT_STRATEGY", "none");
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("\nhi\n"), "{trace}");
    assert!(!trace.contains("no-such-helper"), "{trace}");
    let left = labelled(&system_id(&workspace)).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn artifacts_fail_the_job_when_the_helper_binary_is_missing() {
    let workspace = workspace().await;
    // The dynamically linked test binary cannot start in the musl/busybox image, so the
    // helper probe fails there: the upload must fail the job, not skip it.
    let config = deploy_config(
        &workspace,
        &format!("    helper_image = \"{BUSYBOX_HELPER_IMAGE}\""),
    );
    let job_id = workspace.coordinator.enqueue_job(producer_job());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    assert!(
        trace.contains("Missing /usr/bin/gitlab-runner-helper. Creating cache is disabled."),
        "{trace}"
    );
    assert!(
        trace.contains("Missing /usr/bin/gitlab-runner-helper. Uploading artifacts is disabled."),
        "{trace}"
    );
    assert!(record.artifacts.is_empty(), "{trace}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn cache_and_artifacts_round_trip_with_our_helper_image() {
    let workspace = workspace().await;
    // No helper_image: the default, gitlab-runner-rs-helper:<arch>-v<version>.
    let config = deploy_config(&workspace, "");
    cache_and_artifacts_round_trip(
        &workspace,
        || RunnerHandle::Process(start_static_runner(&workspace, &config)),
        workspace.path(),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs docker"]
async fn cache_and_artifacts_round_trip_with_a_busybox_musl_helper_and_the_injected_binary() {
    let workspace = workspace().await;
    let config = deploy_config(
        &workspace,
        &format!("    helper_image = \"{BUSYBOX_HELPER_IMAGE}\""),
    );
    cache_and_artifacts_round_trip(
        &workspace,
        || RunnerHandle::Process(start_static_runner(&workspace, &config)),
        workspace.path(),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs docker"]
async fn runner_image_with_the_docker_socket_runs_jobs_with_cache_and_artifacts() {
    let workspace = workspace().await;
    // The config directory is mounted at /etc/gitlab-runner, as users do.
    let config_dir = workspace.path().join("runner-config");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let written = deploy_config(&workspace, "");
    std::fs::rename(&written, config_dir.join("config.toml")).expect("move config");
    let name = format!("gitlab-runner-rs-e2e-{}", std::process::id());
    let image = runner_image();
    cache_and_artifacts_round_trip(
        &workspace,
        || {
            let volume = format!("{}:/etc/gitlab-runner", config_dir.display());
            // README "Deploy", container: the same command plus --network host, so the
            // runner reaches the fake coordinator on the host's loopback.
            let output = Command::new("docker")
                .args([
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--network",
                    "host",
                    "-v",
                    &volume,
                    "-v",
                    "/var/run/docker.sock:/var/run/docker.sock",
                    &image,
                ])
                .output()
                .expect("docker run");
            assert!(
                output.status.success(),
                "docker run {image}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            RunnerHandle::Container(RunnerContainer { name: name.clone() })
        },
        &config_dir,
    )
    .await;
}
