//! Reaching the API server: `host` + `bearer_token` from config, kubeconfig errors, and a
//! `[runners.kubernetes]` section from `config.toml` driving a whole job.

use runner_config::KubernetesConfig;
use runner_executor::Cancellation;
use runner_executor_k8s::{ClusterAccess, KubernetesExecutor, Settings};

use crate::support::{Cluster, fast_settings, run};

#[tokio::test]
async fn host_and_bearer_token_from_config_authenticate_every_request() {
    let cluster = Cluster::start().await;
    let config = KubernetesConfig {
        host: cluster.fake.url(),
        bearer_token: "s3cr3t-bearer".into(),
        ..KubernetesConfig::default()
    };
    let access = ClusterAccess::from_config(&config, cluster.kubeconfig.clone());
    assert!(!format!("{access:?}").contains("s3cr3t-bearer"));
    let executor = KubernetesExecutor::connect(&access, fast_settings())
        .await
        .expect("connect");
    let done = run(
        &executor,
        cluster.job().script(["echo authenticated"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let requests = cluster.fake.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer s3cr3t-bearer")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn unreadable_kubeconfig_is_a_config_error() {
    let access = ClusterAccess::Kubeconfig {
        path: "/nonexistent/kubeconfig".into(),
        context: None,
    };
    let error = KubernetesExecutor::connect(&access, Settings::default())
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("getting Kubernetes config: "),
        "{error}"
    );
    assert!(error.is_configuration());
}

#[tokio::test]
async fn config_toml_section_drives_the_pod() {
    let cluster = Cluster::start().await;
    let toml = r#"
        namespace = "default"
        poll_interval = 1
        poll_timeout = 10
        pull_policy = ["if-not-present"]
        [node_selector]
        "kubernetes.io/os" = "linux"
        [pod_labels]
        "admission.datadoghq.com/enabled" = "false"
        [helper_container_security_context]
        read_only_root_filesystem = true
        [[volumes.host_path]]
        name = "docker"
        mount_path = "/var/run/docker.sock"
        [[volumes.secret]]
        name = "ca-bundle"
        mount_path = "/etc/ca"
        read_only = true
        [[volumes.config_map]]
        name = "tools"
        mount_path = "/tools"
        [[volumes.pvc]]
        name = "cache-claim"
        mount_path = "/cache"
    "#;
    let config: KubernetesConfig = toml::from_str(toml).expect("valid section");
    let executor = cluster.executor(Settings::from_config(&config)).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .contains("Using effective pull policy of [IfNotPresent] for container build"),
        "{}",
        done.text
    );
    let pod = &cluster.fake.created_pods()[0];
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(
        spec.node_selector.as_ref().unwrap()["kubernetes.io/os"],
        "linux"
    );
    assert_eq!(
        pod.metadata.labels.as_ref().unwrap()["admission.datadoghq.com/enabled"],
        "false"
    );
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    let helper = &spec.containers[1];
    assert_eq!(
        helper
            .security_context
            .as_ref()
            .unwrap()
            .read_only_root_filesystem,
        Some(true)
    );
    let volumes = spec.volumes.as_ref().unwrap();
    let find = |name: &str| volumes.iter().find(|v| v.name == name).expect(name);
    assert_eq!(
        find("docker").host_path.as_ref().unwrap().path,
        "/var/run/docker.sock"
    );
    assert_eq!(
        find("ca-bundle")
            .secret
            .as_ref()
            .unwrap()
            .secret_name
            .as_deref(),
        Some("ca-bundle")
    );
    assert_eq!(find("tools").config_map.as_ref().unwrap().name, "tools");
    assert_eq!(
        find("cache-claim")
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        "cache-claim"
    );
    assert!(find("repo").empty_dir.is_some());
    let mounts = helper.volume_mounts.as_ref().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == "ca-bundle" && m.read_only == Some(true))
    );
}
