//! The corpus files of realistic deployments load, with their values checked field by field.

use std::time::Duration;

use runner_config::{Executor, GoDuration, LogFormat, LogLevel, WarningKind};

use crate::{corpus_path, load_corpus, map};

#[test]
fn helm_kubernetes_basic() {
    let config = load_corpus("helm-kubernetes-basic.toml").config;
    assert_eq!(config.concurrent, 10);
    assert_eq!(config.listen_address, ":9252");
    let runner = &config.runners[0];
    assert_eq!(runner.short_token(), "helm-char");
    let k8s = runner.kubernetes.as_ref().unwrap();
    assert_eq!(k8s.namespace, "gitlab-runner");
    assert_eq!(k8s.privileged, Some(false));
    assert_eq!(k8s.poll_timeout, 3600);
    assert_eq!(k8s.helper_image_flavor, "ubuntu");
    assert_eq!(
        k8s.pod_labels["app.kubernetes.io/managed-by"],
        "gitlab-runner"
    );
    assert_eq!(
        k8s.pod_annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "false"
    );
    let s3 = runner.cache.as_ref().unwrap().s3.as_ref().unwrap();
    assert_eq!(s3.authentication_type, "iam");
    assert_eq!(s3.bucket_location, "eu-west-1");
}

#[test]
fn helm_kubernetes_advanced() {
    let config = load_corpus("helm-kubernetes-advanced.toml").config;
    let runner = &config.runners[0];
    assert_eq!(runner.custom_build_dir.enabled, Some(true));
    assert_eq!(runner.feature_flag("FF_PRINT_POD_EVENTS"), Some(true));
    let k8s = runner.kubernetes.as_ref().unwrap();
    assert_eq!(
        k8s.bearer_token.expose(),
        "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.secret"
    );
    assert!(!format!("{k8s:?}").contains("eyJhbGci"));
    assert_eq!(k8s.pull_policy.as_slice(), ["if-not-present", "always"]);
    assert_eq!(k8s.allowed_users, ["1000", "0"]);
    assert_eq!(k8s.cpu_limit_overwrite_max_allowed, "4");
    assert_eq!(k8s.ephemeral_storage_limit, "10Gi");
    assert_eq!(k8s.helper_memory_limit, "256Mi");
    assert_eq!(k8s.service_memory_request_overwrite_max_allowed, "2Gi");
    assert_eq!(k8s.pod_cpu_limit, "6");
    assert_eq!(k8s.pod_termination_grace_period_seconds, Some(30));
    assert_eq!(k8s.effective_retry_limit(), 7);
    assert_eq!(
        k8s.effective_retry_backoff_max(),
        Duration::from_millis(4000)
    );
    assert_eq!(k8s.retry_limits["etcdserver: request timed out"], 10);
    assert_eq!(k8s.node_tolerations["spot"], "");
    assert!(!k8s.effective_print_pod_warning_events());
    assert_eq!(k8s.pod_security_context.supplemental_groups, [2000, 3000]);
    assert_eq!(
        k8s.pod_security_context
            .seccomp_profile
            .as_ref()
            .unwrap()
            .profile_type,
        "RuntimeDefault"
    );
    let build = &k8s.build_container_security_context;
    assert_eq!(build.proc_mount, "default");
    assert_eq!(
        build.capabilities.as_ref().unwrap().add,
        ["NET_BIND_SERVICE"]
    );
    let apparmor = k8s
        .init_permissions_container_security_context
        .app_armor_profile
        .as_ref()
        .unwrap();
    assert_eq!(
        (
            apparmor.profile_type.as_str(),
            apparmor.localhost_profile.as_str()
        ),
        ("Localhost", "k8s-init")
    );

    let node_affinity = k8s.affinity.node_affinity.as_ref().unwrap();
    let required = node_affinity
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap();
    let expression = &required.node_selector_terms[0].match_expressions[0];
    assert_eq!(expression.key, "topology.kubernetes.io/zone");
    assert_eq!(expression.operator, "In");
    assert_eq!(expression.values, ["eu-west-1a", "eu-west-1b"]);
    let preferred = &node_affinity.preferred_during_scheduling_ignored_during_execution[0];
    assert_eq!(preferred.weight, 100);
    assert_eq!(preferred.preference.match_expressions[0].operator, "Exists");
    let anti = &k8s
        .affinity
        .pod_anti_affinity
        .as_ref()
        .unwrap()
        .preferred_during_scheduling_ignored_during_execution[0];
    assert_eq!(anti.weight, 50);
    assert_eq!(
        anti.pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    assert_eq!(
        anti.pod_affinity_term
            .label_selector
            .as_ref()
            .unwrap()
            .match_labels["app"],
        "ci-job"
    );

    let volumes = &k8s.volumes;
    assert_eq!(
        volumes.host_path[0].mount_propagation.as_deref(),
        Some("HostToContainer")
    );
    assert_eq!(volumes.pvc[0].mount_path, "/cache");
    assert_eq!(
        volumes.config_map[0].items["settings.xml"],
        "maven/settings.xml"
    );
    assert_eq!(volumes.secret[0].sub_path, "ca.crt");
    assert_eq!(volumes.empty_dir[0].size_limit, "1Gi");
    assert_eq!(volumes.csi[0].driver, "secrets-store.csi.k8s.io");
    assert_eq!(
        volumes.csi[0].volume_attributes["secretProviderClass"],
        "ci-secrets"
    );
    assert_eq!(volumes.nfs[0].server, "nfs.example.com");

    assert_eq!(k8s.host_aliases[0].hostnames, ["db", "cache"]);
    assert_eq!(k8s.services[0].environment, ["POSTGRES_PASSWORD=ci"]);
    assert_eq!(k8s.dns_config.nameservers, ["10.0.0.10"]);
    assert_eq!(k8s.dns_config.options[0].value.as_deref(), Some("2"));
    assert_eq!(k8s.dns_config.options[1].value, None);
    let lifecycle = &k8s.container_lifecycle;
    assert_eq!(
        lifecycle
            .pre_stop
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command,
        ["sh", "-c", "sleep 5"]
    );
    let http_get = lifecycle
        .post_start
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(
        (http_get.port, http_get.http_headers[0].name.as_str()),
        (8080, "X-CI")
    );
    assert_eq!(k8s.pod_spec[0].name, "hostname");
    assert!(k8s.pod_spec[0].patch.contains("hostname: \"ci-job\""));
}

#[test]
fn docker_with_s3_cache_and_services() {
    let config = load_corpus("docker-s3-services.toml").config;
    let runner = &config.runners[0];
    assert_eq!(runner.token_obtained_at.to_string(), "2026-02-01T11:00:00Z");
    assert_eq!(runner.effective_limit(), Some(4));
    let docker = runner.docker.as_ref().unwrap();
    assert!(docker.privileged);
    assert_eq!(docker.pull_policy.as_slice(), ["if-not-present"]);
    assert_eq!(docker.allowed_services, ["docker:*-dind", "postgres:*"]);
    assert_eq!(docker.memory_swap, "6g");
    assert_eq!(docker.cpus, "1.5");
    assert_eq!(docker.sysctls["net.ipv4.ip_forward"], "1");
    assert_eq!(docker.ulimit["nofile"], "10240:40960");
    assert_eq!(docker.services.len(), 2);
    assert_eq!(docker.services[0].command, ["--mtu=1450"]);
    assert_eq!(docker.services[0].entrypoint, ["dockerd-entrypoint.sh"]);
    assert_eq!(
        docker.services[1].aliases().collect::<Vec<_>>(),
        ["db", "postgres"]
    );
    let cache = runner.cache.as_ref().unwrap();
    assert_eq!(cache.max_uploaded_archive_size, 1 << 30);
    let s3 = cache.s3.as_ref().unwrap();
    assert_eq!(s3.access_key.expose(), "ci-cache-writer");
    assert!(s3.insecure);
    assert_eq!(s3.path_style, Some(true));
    assert_eq!(s3.dual_stack, None);
    assert_eq!(s3.server_side_encryption, "S3");
}

#[test]
fn several_runners_in_one_file() {
    let loaded = load_corpus("many-runners.toml");
    let config = &loaded.config;
    assert_eq!(config.log_format, Some(LogFormat::Text));
    let names: Vec<&str> = config
        .runners
        .iter()
        .map(|runner| runner.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["ams1-shell", "ams1-docker", "ams1-k8s", "ams1-custom"]
    );
    let executors: Vec<_> = config
        .runners
        .iter()
        .map(|runner| runner.executor.unwrap())
        .collect();
    assert_eq!(
        executors,
        [
            Executor::Shell,
            Executor::Docker,
            Executor::Kubernetes,
            Executor::Custom
        ]
    );
    let shell = config.runner_by_name("ams1-shell").unwrap();
    assert_eq!(shell.clean_git_config, Some(false));
    assert!(shell.debug_trace_disabled);
    assert_eq!(
        config.computed_labels(shell),
        map(&[("kind", "shell"), ("site", "ams1")])
    );
    let gcs = config.runners[1]
        .cache
        .as_ref()
        .unwrap()
        .gcs
        .as_ref()
        .unwrap();
    assert_eq!(gcs.credentials_file, "/etc/gitlab-runner/gcs.json");
    let azure = config.runners[2]
        .cache
        .as_ref()
        .unwrap()
        .azure
        .as_ref()
        .unwrap();
    assert_eq!(azure.account_key.expose(), "azure-key-not-real");
    let custom = config.runners[3].custom.as_ref().unwrap();
    assert_eq!(custom.prepare_exec_timeout, Some(600));
    assert_eq!(custom.run_args, ["--verbose"]);
    assert_eq!(custom.graceful_kill_timeout, Some(30));
    assert_eq!(custom.config_exec_timeout, None);
}

#[test]
fn docker_machine_autoscaling() {
    let config = load_corpus("docker-machine.toml").config;
    let drain = config
        .machine
        .as_ref()
        .unwrap()
        .shutdown_drain
        .as_ref()
        .unwrap();
    assert!(drain.enabled);
    assert_eq!(drain.concurrency, 5);
    assert_eq!(drain.retry_backoff, GoDuration::from_secs(10));
    let machine = config.runners[0].machine.as_ref().unwrap();
    assert_eq!(machine.idle_count, 2);
    assert_eq!(machine.idle_scale_factor, 0.5);
    assert_eq!(machine.machine_name, "ci-%s");
    assert_eq!(
        machine.machine_options_with_name,
        ["amazonec2-tags=Name,%s"]
    );
    assert_eq!(machine.autoscaling[0].idle_count, 10);
    assert_eq!(machine.autoscaling[0].timezone, "Europe/Amsterdam");
    let referee = config.runners[0]
        .referees
        .as_ref()
        .unwrap()
        .metrics
        .as_ref()
        .unwrap();
    assert_eq!(referee.query_interval, 10);
    assert_eq!(referee.queries.len(), 1);
}

#[test]
fn fleeting_autoscaler() {
    let config = load_corpus("autoscaler.toml").config;
    let runner = &config.runners[0];
    assert_eq!(runner.executor, Some(Executor::DockerAutoscaler));
    let boot = runner
        .experimental
        .as_ref()
        .unwrap()
        .boot_verify
        .as_ref()
        .unwrap();
    assert!(boot.enabled);
    assert_eq!(boot.timeout, GoDuration::from_mins(2));
    let autoscaler = runner.autoscaler.as_ref().unwrap();
    assert_eq!(autoscaler.plugin, "aws:latest");
    assert_eq!(autoscaler.max_instances, 20);
    assert_eq!(
        autoscaler.instance_acquire_timeout,
        GoDuration::from_mins(15)
    );
    assert_eq!(autoscaler.plugin_config["name"].as_str(), Some("ci-asg"));
    assert_eq!(
        autoscaler.plugin_config["max_retries"].as_integer(),
        Some(3)
    );
    assert!(autoscaler.connector_config.use_external_addr);
    assert_eq!(autoscaler.policy.len(), 2);
    assert_eq!(autoscaler.policy[0].idle_time, GoDuration::from_mins(20));
    assert_eq!(autoscaler.policy[0].scale_factor, 0.25);
    assert_eq!(autoscaler.policy[1].periods, ["* * * * sat,sun"]);
}

#[test]
fn every_global_key() {
    let config = load_corpus("global-full.toml").config;
    assert_eq!(config.log_level, Some(LogLevel::Warning));
    assert_eq!(config.listen_address, "[::]:9252");
    assert_eq!(config.effective_shutdown_timeout(), Duration::from_secs(45));
    assert_eq!(
        config.sentry_dsn.as_ref().unwrap().expose(),
        "https://public@sentry.example.com/1"
    );
    assert_eq!(config.connection_max_age, Some(GoDuration::from_mins(90)));
    assert_eq!(config.user, "gitlab-runner");
    assert_eq!(
        config.session_server.effective_session_timeout(),
        Duration::from_secs(600)
    );
    let usage = &config.experimental.as_ref().unwrap().usage_logger;
    assert!(usage.enabled);
    assert_eq!(usage.logrotate.max_backup_files, Some(14));
    assert_eq!(
        usage.logrotate.max_rotation_age,
        Some(GoDuration::from_secs(86_400))
    );
}

#[test]
fn ssh_and_virtualization_executors() {
    let config = load_corpus("ssh-and-virtualization.toml").config;
    let ssh = config.runners[0].ssh.as_ref().unwrap();
    assert_eq!(ssh.port, "2222");
    assert_eq!(ssh.password.expose(), "not-a-real-password");
    assert_eq!(ssh.disable_strict_host_key_checking, Some(false));
    assert!(
        config.runners[1]
            .parallels
            .as_ref()
            .unwrap()
            .disable_snapshots
    );
    assert_eq!(
        config.runners[2].virtualbox.as_ref().unwrap().start_type,
        "headless"
    );
    assert_eq!(config.runners[2].executor, Some(Executor::Virtualbox));
}

#[test]
fn keys_match_ignoring_case_with_a_warning() {
    let loaded = load_corpus("case-insensitive-keys.toml");
    assert_eq!(loaded.config.concurrent, 6);
    let runner = &loaded.config.runners[0];
    assert_eq!(runner.name, "mixed-case");
    assert_eq!(runner.url, "https://gitlab.example.com");
    let cache = runner.cache.as_ref().unwrap();
    assert_eq!(cache.cache_type, "s3");
    assert!(cache.shared);
    assert_eq!(cache.s3.as_ref().unwrap().bucket_name, "lowercase-bucket");
    let folded: Vec<String> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.kind() == WarningKind::KeyCase)
        .map(|warning| {
            format!(
                "{}:{} {}",
                warning.location().line(),
                warning.location().column(),
                warning.key()
            )
        })
        .collect();
    assert_eq!(
        folded,
        [
            "2:1 Concurrent",
            "5:3 runners[0].Name",
            "6:3 runners[0].URL",
            "10:5 runners[0].cache.type",
            "11:5 runners[0].cache.shared",
            "13:7 runners[0].cache.s3.bucketname",
        ]
    );
}

#[test]
fn durations_as_strings_and_integers() {
    let config = load_corpus("durations-and-integers.toml").config;
    assert_eq!(config.connection_max_age, Some(GoDuration::ZERO));
    assert_eq!(config.effective_connection_max_age(), None);
    let runner = &config.runners[0];
    assert_eq!(
        runner.unhealthy_interval,
        Some(GoDuration::from_nanos(3600))
    );
    assert_eq!(runner.effective_unhealthy_requests_limit(), 5);
    assert_eq!(runner.prepare_timeout, Some(GoDuration::from_secs(150)));
    assert_eq!(runner.get_sources_timeout.unwrap().to_string(), "1h2m3s");
    assert_eq!(runner.effective_job_status_final_update_retry_limit(), 20);
    assert_eq!(
        runner.artifact.upload_timeout,
        Some(GoDuration::from_mins(90))
    );
    assert_eq!(
        runner.artifact.response_header_timeout,
        Some(GoDuration::from_secs(45))
    );
    let monitoring = &runner.monitoring.as_ref().unwrap().job_queuing_durations[0];
    assert_eq!(monitoring.threshold, GoDuration::from_mins(5));
    assert_eq!(monitoring.jobs_running_for_project, "^[0-9]$");
}

#[test]
fn corpus_has_at_least_fifteen_files() {
    let count = std::fs::read_dir(corpus_path(""))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "toml")
        })
        .count();
    assert!(count >= 15, "{count}");
}
