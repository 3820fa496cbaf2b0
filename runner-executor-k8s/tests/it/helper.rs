//! Our helper binary in the pod (issue #15): with the default helper configuration the
//! `init-permissions` init container copies it into the shared scripts directory, the cache and
//! artifact stages call that copy, and a helper image without it fails the job (never passes).
//!
//! The fake runs the init container's real script with `<work dir>/shims` first on `PATH`, as
//! it runs exec'd commands; the shim stands for `/usr/bin/gitlab-runner-helper` of the helper
//! image and does what the transfer subcommands do with local files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use runner_executor::{Cancellation, FailureReason, TransferScripts};
use runner_executor_k8s::Settings;

use crate::support::{Cluster, fast_settings, run};

/// A helper shim: `--version` answers like our binary; `cache-archiver` and
/// `artifacts-uploader` copy `--path` into `--file` / the upload directory; `cache-extractor`
/// copies the cached file back. Each call logs its program path.
fn install_helper(cluster: &Cluster, version_line: &str) {
    let shims = cluster.dir.path().join("shims");
    std::fs::create_dir_all(&shims).expect("test setup");
    let shim = shims.join("gitlab-runner-helper");
    let log = cluster.dir.path().join("helper-calls.log");
    let uploads = cluster.dir.path().join("uploaded");
    std::fs::write(
        &shim,
        format!(
            r#"#!/bin/bash
set -e
echo "$0 $1" >> '{log}'
case "$1" in
--version) echo 'Version:      0.1.0'; echo '{version_line}' ;;
cache-archiver) mkdir -p "$(dirname "$3")"; cp "$5" "$3"; echo "Created cache" ;;
cache-extractor) if [ -f "$3" ]; then cp "$3" restored-from-cache.txt; echo "Successfully extracted cache"; fi ;;
artifacts-uploader) mkdir -p '{uploads}'; cp "$3" '{uploads}/'; echo "Uploading artifacts... ok" ;;
*) exit 2 ;;
esac
"#,
            log = log.display(),
            uploads = uploads.display(),
        ),
    )
    .expect("test setup");
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("test setup");
}

fn settings(dir: &Path) -> Settings {
    Settings {
        // The pod's scripts emptyDir is a host directory in the fake.
        scripts_base_dir: dir.join("pod").to_string_lossy().into_owned(),
        // The init container is a real process: give it time on a loaded machine.
        poll_timeout: std::time::Duration::from_secs(120),
        ..fast_settings()
    }
}

fn transfer() -> TransferScripts {
    let helper = "\"$GITLAB_RUNNER_RS_HELPER\"";
    let file = "\"$GITLAB_RUNNER_RS_CACHE_DIR\"/main/cache.zip";
    TransferScripts {
        restore_cache: vec![format!("{helper} cache-extractor --file {file}")],
        archive_cache: vec![format!(
            "{helper} cache-archiver --file {file} --path cached.txt"
        )],
        upload_artifacts_on_success: vec![format!(
            "{helper} artifacts-uploader --path artifact.txt"
        )],
        ..TransferScripts::default()
    }
}

fn job(cluster: &Cluster) -> runner_executor::JobSpec {
    let cache = cluster
        .dir
        .path()
        .join("cache")
        .to_string_lossy()
        .into_owned();
    cluster
        .job()
        .runner(|r| r.cache_dir = Some(cache))
        .script([
            "echo artifact-content > artifact.txt",
            "echo cache-content > cached.txt",
        ])
        .with(|job| job.transfer = transfer())
        .build()
}

#[tokio::test]
async fn artifacts_and_cache_go_through_the_installed_helper_binary() {
    let cluster = Cluster::start().await;
    install_helper(&cluster, "Rust version: 1.95.0");
    let executor = cluster.executor(settings(cluster.dir.path())).await;

    let done = run(&executor, job(&cluster), Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(!done.text.contains("Missing"), "{}", done.text);
    let uploaded = cluster.dir.path().join("uploaded/artifact.txt");
    assert_eq!(
        std::fs::read_to_string(&uploaded).expect("artifact uploaded"),
        "artifact-content\n"
    );
    let cached = cluster
        .dir
        .path()
        .join("cache/group/project/main/cache.zip");
    assert_eq!(
        std::fs::read_to_string(&cached).expect("cache archived"),
        "cache-content\n"
    );

    // The stages called the copy the init container installed, not the image's own path.
    let pod = &cluster.fake.created_pods()[0];
    let spec = pod.spec.as_ref().unwrap();
    let init = &spec.init_containers.as_ref().expect("init container")[0];
    assert_eq!(init.name, "init-permissions");
    assert_eq!(
        init.image, spec.containers[1].image,
        "from the helper image"
    );
    let installed = format!(
        "{}/pod/scripts-7-42/gitlab-runner-helper",
        cluster.dir.path().display()
    );
    let calls = std::fs::read_to_string(cluster.dir.path().join("helper-calls.log")).unwrap();
    assert!(
        calls.contains(&format!("{installed} artifacts-uploader")),
        "{calls}"
    );
    assert!(
        calls.contains(&format!("{installed} cache-archiver")),
        "{calls}"
    );
    let helper_mounts: Vec<_> = spec.containers[1]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.clone())
        .collect();
    assert!(
        helper_mounts.contains(&format!(
            "{}/pod/scripts-7-42",
            cluster.dir.path().display()
        )),
        "{helper_mounts:?}"
    );

    // The next job restores the cache through the same route.
    let done = run(&executor, job(&cluster), Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text.contains("Successfully extracted cache"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn default_helper_image_is_ours_by_version_and_arch() {
    let cluster = Cluster::start().await;
    install_helper(&cluster, "Rust version: 1.95.0");
    let executor = cluster.executor(settings(cluster.dir.path())).await;
    let done = run(&executor, job(&cluster), Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let pod = &cluster.fake.created_pods()[0];
    let helper = pod.spec.as_ref().unwrap().containers[1]
        .image
        .clone()
        .unwrap();
    assert_eq!(
        helper,
        format!(
            "gitlab-runner-rs-helper:{}",
            runner_executor_k8s::default_helper_image_tag()
        )
    );
}

#[tokio::test]
async fn a_job_without_the_helper_binary_fails_and_says_what_to_set() {
    let cluster = Cluster::start().await;
    // No shim: the helper image has no gitlab-runner-helper at all.
    let executor = cluster.executor(settings(cluster.dir.path())).await;
    let done = run(&executor, job(&cluster), Cancellation::default()).await;
    let failure = done.outcome.failure().expect("the job must fail");
    assert_eq!(
        failure.reason,
        FailureReason::RunnerSystemFailure,
        "{}",
        done.text
    );
    let message = done.message();
    assert!(
        message.contains("installing the helper tools failed: init container init-permissions"),
        "{message}"
    );
    assert!(
        message.contains("/usr/bin/gitlab-runner-helper not found in the helper image"),
        "{message}"
    );
    assert!(
        message.contains(
            "set helper_image in [runners.kubernetes] to an image that has gitlab-runner-rs at /usr/bin/gitlab-runner-helper (the gitlab-runner-rs-helper image"
        ),
        "{message}"
    );
    assert!(
        !done.text.contains("artifact-content"),
        "no script ran: {}",
        done.text
    );
    assert!(!cluster.dir.path().join("uploaded").exists());
    assert!(cluster.fake.pods().is_empty(), "the pod was deleted");
}

#[tokio::test]
async fn upstreams_go_helper_is_refused() {
    let cluster = Cluster::start().await;
    install_helper(&cluster, "Go version:   go1.24.4");
    let executor = cluster.executor(settings(cluster.dir.path())).await;
    let done = run(&executor, job(&cluster), Cancellation::default()).await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(
        done.message()
            .contains("is not the gitlab-runner-rs helper binary"),
        "{}",
        done.message()
    );
    assert!(!cluster.dir.path().join("uploaded").exists());
}

#[tokio::test]
async fn jobs_without_cache_or_artifacts_get_no_init_container() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(settings(cluster.dir.path())).await;
    let job = cluster.job().script(["echo plain"]).build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let pod = &cluster.fake.created_pods()[0];
    assert!(pod.spec.as_ref().unwrap().init_containers.is_none());
}
