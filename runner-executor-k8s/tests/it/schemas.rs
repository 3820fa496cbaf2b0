//! The pods this executor builds and the deployment files in `deploy/kubernetes`, checked
//! against the real Kubernetes schemas (issue #15): pods from a few jobs (default, with
//! services and artifacts, `namespace_per_job`) are dumped as the fake received them and
//! handed with the manifests to `scripts/validate-k8s.sh` (`kubectl kustomize` +
//! `kubernetes-validate --strict`, installed by `scripts/setup-test-deps.sh`).

use std::path::PathBuf;
use std::process::Command;

use runner_executor::{Cancellation, Image, TransferScripts, Variable};
use runner_executor_k8s::Settings;

use crate::support::{Cluster, fast_settings, run};

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The pod the fake received for `job`, as JSON (with `apiVersion` and `kind`).
async fn pod_json(
    settings: Settings,
    job: impl FnOnce(&Cluster) -> runner_executor::JobSpec,
) -> String {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(settings).await;
    // The outcome does not matter here (the fake has no helper shim); the manifest does.
    let _done = run(&executor, job(&cluster), Cancellation::default()).await;
    let pods = cluster.fake.created_pods();
    assert_eq!(pods.len(), 1);
    serde_json::to_string_pretty(&pods[0]).expect("pod JSON")
}

#[tokio::test]
#[ignore = "needs kubectl and kubernetes-validate (scripts/setup-test-deps.sh)"]
async fn generated_pods_and_manifests_validate_against_the_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();

    let default = pod_json(fast_settings(), |c| c.job().script(["true"]).build()).await;

    let services = pod_json(
        Settings {
            scripts_base_dir: "/tmp".to_owned(),
            ..fast_settings()
        },
        |c| {
            c.job()
                .with(|job| {
                    job.services = vec![Image {
                        name: "postgres:16".to_owned(),
                        alias: "db".to_owned(),
                        variables: vec![Variable::new("HEALTHCHECK_TCP_PORT", "5432")],
                        ..Image::default()
                    }];
                    job.transfer = TransferScripts {
                        upload_artifacts_on_success: vec![
                            "\"$GITLAB_RUNNER_RS_HELPER\" artifacts-uploader --path a".to_owned(),
                        ],
                        ..TransferScripts::default()
                    };
                })
                .script(["true"])
                .build()
        },
    )
    .await;
    assert!(services.contains("\"initContainers\""), "{services}");

    let per_job = pod_json(
        Settings {
            namespace_per_job: true,
            ..fast_settings()
        },
        |c| c.job().script(["true"]).build(),
    )
    .await;
    assert!(
        per_job.contains("\"namespace\": \"ci-job-42\""),
        "{per_job}"
    );

    for (name, pod) in [
        ("default", default),
        ("services", services),
        ("namespace-per-job", per_job),
    ] {
        let path = dir.path().join(format!("pod-{name}.json"));
        std::fs::write(&path, pod).expect("dump");
        files.push(path);
    }
    let output = Command::new(repository_root().join("scripts/validate-k8s.sh"))
        .args(&files)
        .output()
        .expect("scripts/validate-k8s.sh runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("5 files valid"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_shipped_config_toml_loads_and_runs_jobs_in_the_runners_namespace() {
    let path = repository_root().join("deploy/kubernetes/base/config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    let config: runner_config::Config = toml::from_str(&text).expect("valid config.toml");
    assert_eq!(config.listen_address, ":9252");
    let runner = &config.runners[0];
    assert_eq!(runner.token.expose(), "$RUNNER_TOKEN");
    let kubernetes = runner.kubernetes.as_ref().expect("[runners.kubernetes]");
    let settings = Settings::from_config(kubernetes);
    assert_eq!(settings.namespace, "gitlab-runner");
    // The Role is granted in the namespace kustomize deploys into.
    let kustomization = std::fs::read_to_string(
        repository_root().join("deploy/kubernetes/base/kustomization.yaml"),
    )
    .expect("kustomization");
    assert!(kustomization.contains("namespace: gitlab-runner"));
}
