//! The Kubernetes executor through the real binary (issue #15): `run` with
//! `executor = "kubernetes"` against runner-executor-k8s's fake API server, which runs the
//! pod's init container and every stage as local processes. `<workspace>/shims` stands for the
//! helper image's `PATH`; its `gitlab-runner-helper` is this very binary, as in our helper image,
//! so the default helper configuration (no `helper_image`) moves real artifacts and cache.

use std::path::{Path, PathBuf};

use runner_api::fake::JobRecord;
use runner_e2e::{JobBuilder, Workspace};
use runner_executor_k8s::fake::FakeCluster;
use serde_json::{Value, json};

use crate::{final_record, start_runner, stop_runner, trace_text};

/// `config.toml` with one Kubernetes runner reaching `cluster`; the pod's directories lie in
/// the workspace, since the fake's containers are local processes.
fn write_config(workspace: &Workspace, cluster: &FakeCluster) -> PathBuf {
    let dir = workspace.path();
    let text = format!(
        "concurrent = 1\ncheck_interval = 1\n\n[[runners]]\n  name = \"k8s\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"kubernetes\"\n  builds_dir = \"{builds}\"\n  cache_dir = \"{cache}\"\n  [runners.kubernetes]\n    host = \"{host}\"\n    namespace = \"default\"\n    image = \"alpine:3.20\"\n    scripts_base_dir = \"{pod}\"\n    poll_interval = 1\n",
        url = workspace.coordinator.url(),
        token = workspace.coordinator.runner_token(),
        builds = dir.join("builds").display(),
        cache = dir.join("cache").display(),
        host = cluster.url(),
        pod = dir.join("pod").display(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Puts this binary on the fake helper container's `PATH` as `gitlab-runner-helper`.
fn install_helper(workspace: &Workspace) {
    let shims = workspace.path().join("shims");
    std::fs::create_dir_all(&shims).expect("test setup");
    std::os::unix::fs::symlink(
        runner_e2e::runner_binary(),
        shims.join("gitlab-runner-helper"),
    )
    .expect("test setup");
}

fn job(script: &[&str]) -> Value {
    let mut job = JobBuilder::script_only(script).build();
    job["artifacts"] = json!([{"paths": ["out.txt"], "when": "on_success"}]);
    job["cache"] = json!([{"key": "k8s", "paths": ["cached.txt"], "policy": "pull-push",
        "when": "on_success"}]);
    job
}

async fn run_one(workspace: &Workspace, config: &Path, job: Value) -> JobRecord {
    let runner = start_runner(workspace, config);
    let id = workspace.coordinator.enqueue_job(job);
    let record = final_record(workspace, &runner, id).await;
    stop_runner(workspace, runner).await;
    record
}

fn zip_entries(dir: &Path, data: &[u8]) -> Vec<String> {
    let file = dir.join("uploaded.zip");
    std::fs::write(&file, data).expect("write zip");
    let output = std::process::Command::new("unzip")
        .arg("-Z1")
        .arg(&file)
        .output()
        .expect("unzip runs");
    assert!(output.status.success(), "not a zip archive");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn artifacts_and_cache_work_with_the_default_helper_configuration() {
    let workspace = Workspace::start(std::time::Duration::from_secs(2)).await;
    let cluster = FakeCluster::start(workspace.path())
        .await
        .expect("fake API server");
    install_helper(&workspace);
    let config = write_config(&workspace, &cluster);

    let record = run_one(
        &workspace,
        &config,
        job(&[
            "echo artifact-content > out.txt",
            "echo cache-content > cached.txt",
        ]),
    )
    .await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(!trace.contains("Missing"), "{trace}");
    assert_eq!(record.artifacts.len(), 1, "{trace}");
    assert_eq!(
        zip_entries(workspace.path(), &record.artifacts[0].data),
        ["out.txt"]
    );
    let pod = &cluster.created_pods()[0];
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(
        spec.containers[1].image.as_deref(),
        Some(
            format!(
                "gitlab-runner-rs-helper:{}",
                runner_executor_k8s::default_helper_image_tag()
            )
            .as_str()
        ),
        "the default helper image"
    );
    assert_eq!(
        spec.init_containers.as_ref().expect("init container")[0].name,
        "init-permissions"
    );

    // The next job restores the cache the first one saved.
    let record = run_one(
        &workspace,
        &config,
        job(&["cat cached.txt", "echo x > out.txt"]),
    )
    .await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("\ncache-content"), "{trace}");
    assert!(cluster.pods().is_empty(), "every pod was deleted");
}

#[tokio::test]
async fn a_job_with_artifacts_fails_without_the_helper_binary() {
    let workspace = Workspace::start(std::time::Duration::from_secs(2)).await;
    let cluster = FakeCluster::start(workspace.path())
        .await
        .expect("fake API server");
    // No shim: the helper image lacks gitlab-runner-helper.
    let config = write_config(&workspace, &cluster);
    let record = run_one(
        &workspace,
        &config,
        job(&["echo artifact-content > out.txt"]),
    )
    .await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    let last = record.updates.last().expect("final update");
    assert_eq!(
        last.failure_reason.as_deref(),
        Some("runner_system_failure"),
        "{trace}"
    );
    assert!(
        trace.contains("set helper_image in [runners.kubernetes]"),
        "{trace}"
    );
    assert!(record.artifacts.is_empty());
}
