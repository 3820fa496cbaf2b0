//! The pod manifest as the fake decoded it: the seed's read-only-root-filesystem setup (K5, K6),
//! services as host aliases (K8), scheduling metadata (K4), helper flavor (K7), pull policies (K9).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use runner_executor::{Cancellation, Image, Variable};
use runner_executor_k8s::{
    ContainerSecurityContext, EmptyDirVolume, Mount, Resources, Settings, Volumes,
};

use crate::support::{Cluster, fast_settings, run};

fn read_only() -> ContainerSecurityContext {
    ContainerSecurityContext {
        read_only_root_filesystem: Some(true),
        ..ContainerSecurityContext::default()
    }
}

fn empty_dir(name: &str, path: &str) -> EmptyDirVolume {
    EmptyDirVolume {
        mount: Mount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            ..Mount::default()
        },
        ..EmptyDirVolume::default()
    }
}

async fn pod_of(
    cluster: &Cluster,
    settings: Settings,
    job: runner_executor::JobSpec,
) -> (Pod, super::support::Finished) {
    let executor = cluster.executor(settings).await;
    let done = run(&executor, job, Cancellation::default()).await;
    let pods = cluster.fake.created_pods();
    assert_eq!(pods.len(), 1, "{}", done.text);
    (pods[0].clone(), done)
}

#[tokio::test]
async fn seed_read_only_root_filesystem_config() {
    let cluster = Cluster::start().await;
    let builds = cluster
        .dir
        .path()
        .join("builds")
        .to_string_lossy()
        .into_owned();
    let home = cluster
        .dir
        .path()
        .join("build_home")
        .to_string_lossy()
        .into_owned();
    // The fake runs the init container that copies dumb-init from the helper image: a shim
    // stands for it, and the pod's scripts directory lies in the temp dir.
    let shims = cluster.dir.path().join("shims");
    std::fs::create_dir_all(&shims).expect("test setup");
    std::fs::write(shims.join("dumb-init"), "#!/bin/sh\nexec \"$@\"\n").expect("test setup");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            shims.join("dumb-init"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("test setup");
    }
    let settings = Settings {
        scripts_base_dir: cluster.dir.path().to_string_lossy().into_owned(),
        poll_timeout: std::time::Duration::from_secs(120),
        build_container_security_context: read_only(),
        init_permissions_container_security_context: read_only(),
        helper_container_security_context: read_only(),
        service_container_security_context: read_only(),
        volumes: Volumes {
            empty_dir: vec![empty_dir("repo", &builds), empty_dir("build-home", &home)],
            ..Volumes::default()
        },
        ..fast_settings()
    };
    let job = cluster
        .job()
        .runner(|r| {
            r.environment = vec![format!("HOME={home}")];
            r.feature_flags
                .insert("FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR".to_owned(), true);
        })
        .with(|job| {
            job.services = vec![Image {
                name: "postgres:16".to_owned(),
                ..Image::default()
            }]
        })
        .script(["echo $HOME"])
        .build();
    let (pod, done) = pod_of(&cluster, settings, job).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text.lines().any(|l| l == home),
        "HOME reaches the script: {}",
        done.text
    );
    let spec = pod.spec.unwrap();
    let names: Vec<_> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["build", "helper", "svc-0"]);
    let init = spec.init_containers.as_ref().unwrap();
    assert_eq!(init[0].name, "init-permissions");
    for container in spec.containers.iter().chain(init) {
        let context = container.security_context.as_ref().unwrap();
        assert_eq!(
            context.read_only_root_filesystem,
            Some(true),
            "{}",
            container.name
        );
        assert_eq!(
            context.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["NET_RAW".to_owned()][..])
        );
        let mounts: Vec<_> = container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert!(
            mounts.contains(&("repo", builds.as_str())),
            "{}: {mounts:?}",
            container.name
        );
        assert!(
            mounts.contains(&("build-home", home.as_str())),
            "{}: {mounts:?}",
            container.name
        );
    }
    let volumes = spec.volumes.unwrap();
    assert_eq!(
        volumes.iter().filter(|v| v.name == "repo").count(),
        1,
        "no second repo volume"
    );
    assert!(volumes.iter().all(|v| v.empty_dir.is_some()));
    let build_env = spec.containers[0].env.as_ref().unwrap();
    assert!(
        build_env
            .iter()
            .any(|e| e.name == "HOME" && e.value.as_deref() == Some(home.as_str()))
    );
}

#[tokio::test]
async fn services_are_reached_through_host_aliases() {
    let cluster = Cluster::start().await;
    let services = vec![
        Image {
            name: "registry.example.com/db/postgres:16".to_owned(),
            alias: "db".to_owned(),
            ..Image::default()
        },
        Image {
            name: "docker:dind".to_owned(),
            command: vec!["--mtu=1450".to_owned()],
            ..Image::default()
        },
    ];
    let job = cluster
        .job()
        .with(|job| job.services = services)
        .script(["true"])
        .build();
    let (pod, _) = pod_of(&cluster, fast_settings(), job).await;
    let spec = pod.spec.unwrap();
    let names: Vec<_> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["build", "helper", "db", "svc-0"]);
    assert_eq!(
        spec.containers[3].args.as_deref(),
        Some(&["--mtu=1450".to_owned()][..])
    );
    let aliases = spec.host_aliases.unwrap();
    assert_eq!(aliases[0].ip, "127.0.0.1");
    assert_eq!(
        aliases[0].hostnames.as_deref().unwrap(),
        ["registry.example.com-db-postgres", "db", "docker"].map(str::to_owned)
    );
}

#[tokio::test]
async fn scheduling_labels_annotations_and_helper_flavor() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        node_selector: BTreeMap::from([("kubernetes.io/os".to_owned(), "linux".to_owned())]),
        node_tolerations: BTreeMap::from([("gpu=true".to_owned(), "NoSchedule".to_owned())]),
        pod_labels: BTreeMap::from([
            (
                "admission.datadoghq.com/enabled".to_owned(),
                "false".to_owned(),
            ),
            ("job.runner.gitlab.com/pod".to_owned(), "hijack".to_owned()),
        ]),
        pod_annotations: BTreeMap::from([("example.com/team".to_owned(), "ci".to_owned())]),
        helper_image_flavor: Some("ubuntu".to_owned()),
        service_account: Some("builder".to_owned()),
        build_resources: Resources {
            cpu_request: Some("500m".to_owned()),
            memory_limit: Some("1Gi".to_owned()),
            ..Resources::default()
        },
        affinity: Some(
            serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ci"]}]}]}}}),
        ),
        ..fast_settings()
    };
    let (pod, done) = pod_of(&cluster, settings, cluster.job().script(["true"]).build()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let labels = pod.metadata.labels.unwrap();
    assert_eq!(labels["admission.datadoghq.com/enabled"], "false");
    assert_eq!(
        labels["job.runner.gitlab.com/pod"],
        "runner-abcd1234-project-7-concurrent-0"
    );
    assert_eq!(labels["project.runner.gitlab.com/id"], "7");
    let annotations = pod.metadata.annotations.unwrap();
    assert_eq!(annotations["example.com/team"], "ci");
    assert_eq!(annotations["job.runner.gitlab.com/id"], "42");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.node_selector.unwrap()["kubernetes.io/os"], "linux");
    assert_eq!(
        spec.tolerations.unwrap()[0].operator.as_deref(),
        Some("Equal")
    );
    assert_eq!(spec.service_account_name.as_deref(), Some("builder"));
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.active_deadline_seconds, Some(7201));
    assert!(spec.affinity.unwrap().node_affinity.is_some());
    let helper_image = spec.containers[1].image.as_deref().unwrap();
    assert!(helper_image.contains(":ubuntu-"), "{helper_image}");
    let resources = spec.containers[0].resources.as_ref().unwrap();
    assert_eq!(resources.requests.as_ref().unwrap()["cpu"].0, "500m");
    assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "1Gi");
    let command = spec.containers[0].command.as_ref().unwrap();
    assert_eq!(command[..2], ["sh".to_owned(), "-c".to_owned()]);
    assert!(command[2].contains("/busybox/sh"));
}

#[tokio::test]
async fn pull_policy_outside_the_allowed_list_fails_before_any_request() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        allowed_pull_policies: vec!["if-not-present".to_owned()],
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job = cluster
        .job()
        .with(|job| {
            job.image = Some(Image {
                name: "image-name:latest".to_owned(),
                pull_policy: vec!["always".to_owned()],
                ..Image::default()
            });
        })
        .script(["true"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(
        done.message().contains("invalid pull policy for image 'image-name:latest': pull_policy ([Always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([IfNotPresent])"),
        "{}",
        done.message()
    );
    assert!(cluster.fake.requests().is_empty());
}

#[tokio::test]
async fn resource_overwrite_above_the_cap_is_refused() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        build_resources: Resources {
            cpu_limit_overwrite_max_allowed: Some("2".to_owned()),
            ..Resources::default()
        },
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job = cluster
        .job()
        .variable(Variable::new("KUBERNETES_CPU_LIMIT", "4"))
        .script(["true"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(
        done.message().contains("couldn't prepare overwrites: invalid build limits specified: the resource \"CPULimit\" requested \"4\" is higher than limit allowed \"2\""),
        "{}",
        done.message()
    );
}

#[tokio::test]
async fn credentials_become_a_dockercfg_pull_secret() {
    let cluster = Cluster::start().await;
    let auth = r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#;
    let job = cluster
        .job()
        .variable(Variable::masked("DOCKER_AUTH_CONFIG", auth))
        .script(["true"])
        .build();
    let (pod, _) = pod_of(&cluster, fast_settings(), job).await;
    let secret = &cluster.fake.created_secrets()[0];
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/dockercfg"));
    assert_eq!(secret.metadata.name, pod.metadata.name);
    let pulls = pod.spec.unwrap().image_pull_secrets.unwrap();
    assert_eq!(Some(pulls[0].name.clone()), secret.metadata.name);
}

#[tokio::test]
async fn allowed_job_overwrites_change_namespace_and_labels() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        namespace: "ci".to_owned(),
        namespace_overwrite_allowed: Some("^ci-.*$".to_owned()),
        pod_labels_overwrite_allowed: Some(".*".to_owned()),
        ..fast_settings()
    };
    let job = cluster
        .job()
        .variable(Variable::new("KUBERNETES_NAMESPACE_OVERWRITE", "ci-team"))
        .variable(Variable::new("KUBERNETES_POD_LABELS_1", "team=build"))
        .script(["true"])
        .build();
    let (pod, done) = pod_of(&cluster, settings, job).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .contains("\"Namespace\" overwritten with \"ci-team\""),
        "{}",
        done.text
    );
    assert!(
        cluster
            .fake
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v1/namespaces/ci-team/"))
    );
    assert_eq!(pod.metadata.namespace.as_deref(), Some("ci-team"));
    assert_eq!(pod.metadata.labels.unwrap()["team"], "build");
}

#[tokio::test]
async fn refused_namespace_overwrite_fails_preparation() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        namespace_overwrite_allowed: Some("^ci-.*$".to_owned()),
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job = cluster
        .job()
        .variable(Variable::new(
            "KUBERNETES_NAMESPACE_OVERWRITE",
            "kube-system",
        ))
        .script(["true"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(
        done.message().contains(
            "couldn't prepare overwrites: provided value \"kube-system\" does not match \"^ci-.*$\""
        ),
        "{}",
        done.message()
    );
    assert!(cluster.fake.requests().is_empty());
}

/// A `gitlab-runner-helper` shim for the fake's helper container: `health-check --port P ...`
/// dials 127.0.0.1 until every port answers, as the real helper command does.
fn install_helper_shim(cluster: &Cluster) {
    use std::os::unix::fs::PermissionsExt;
    let shims = cluster.dir.path().join("shims");
    std::fs::create_dir_all(&shims).expect("test setup");
    let shim = shims.join("gitlab-runner-helper");
    std::fs::write(
        &shim,
        r#"#!/bin/bash
[ "$1" = health-check ] || exit 2
shift
ports=()
while [ $# -gt 0 ]; do ports+=("$2"); shift 2; done
echo "waiting for TCP connection to localhost on [${ports[*]}]..."
for port in "${ports[@]}"; do
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
done
echo "services-answered"
"#,
    )
    .expect("test setup");
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("test setup");
}

fn service_with_health_port(alias: &str, port: u16) -> Image {
    Image {
        name: "registry.example.com/db/postgres:16".to_owned(),
        alias: alias.to_owned(),
        variables: vec![Variable::new("HEALTHCHECK_TCP_PORT", port.to_string())],
        ..Image::default()
    }
}

#[tokio::test]
async fn services_with_a_health_port_are_waited_for_in_the_helper() {
    let cluster = Cluster::start().await;
    install_helper_shim(&cluster);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test setup");
    let port = listener.local_addr().expect("address").port();
    let job = cluster
        .job()
        .with(|job| job.services = vec![service_with_health_port("db", port)])
        .script(["echo script-ran"])
        .build();
    let executor = cluster.executor(fast_settings()).await;
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let wait = done
        .text
        .find("services-answered")
        .expect("the wait ran and finished");
    assert!(
        wait < done.text.find("script-ran").unwrap(),
        "{}",
        done.text
    );
    // The helper was asked for exactly the service's port.
    assert!(
        done.text.contains(&format!(
            "waiting for TCP connection to localhost on [{port}]..."
        )),
        "{}",
        done.text
    );
    drop(listener);
}

#[tokio::test]
async fn a_failing_service_wait_fails_the_job_before_any_script() {
    let cluster = Cluster::start().await;
    let shims = cluster.dir.path().join("shims");
    std::fs::create_dir_all(&shims).expect("test setup");
    {
        use std::os::unix::fs::PermissionsExt;
        let shim = shims.join("gitlab-runner-helper");
        std::fs::write(&shim, "#!/bin/sh\necho service-unreachable\nexit 1\n").expect("test setup");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))
            .expect("test setup");
    }
    let job = cluster
        .job()
        .with(|job| job.services = vec![service_with_health_port("db", 5432)])
        .script(["echo script-ran"])
        .build();
    let executor = cluster.executor(fast_settings()).await;
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(done.text.contains("service-unreachable"), "{}", done.text);
    assert!(!done.text.contains("script-ran"), "{}", done.text);
}
