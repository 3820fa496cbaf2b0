//! The corpus files taken from the spec and the seeds load, with their values checked.

use std::time::Duration;

use runner_config::{Executor, GoDuration, LogFormat, LogLevel, Timestamp};

use crate::{load_corpus, load_corpus_fragment, map};

#[test]
fn spec_install_header_gives_upstream_defaults() {
    let config = load_corpus("spec-install.toml").config;
    assert_eq!(config.concurrent, 1);
    assert_eq!(config.check_interval, 0);
    assert_eq!(config.effective_check_interval(), Duration::from_secs(3));
    assert_eq!(config.shutdown_timeout, 0);
    assert_eq!(config.effective_shutdown_timeout(), Duration::from_secs(30));
    assert_eq!(config.session_server.session_timeout, 1800);
    assert!(config.runners.is_empty());
    assert_eq!(
        config.effective_connection_max_age(),
        Some(Duration::from_secs(900))
    );
}

#[test]
fn spec_register_output_loads() {
    let loaded = load_corpus("spec-register-docker.toml");
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.connection_max_age, Some(GoDuration::from_mins(15)));
    let runner = &config.runners[0];
    assert_eq!(runner.name, "build-host-01");
    assert_eq!(runner.url, "https://gitlab.example.com");
    assert_eq!(runner.id, 4711);
    assert_eq!(runner.token.expose(), "glrt-REDACTED");
    assert_eq!(runner.short_token(), "REDACTED");
    assert_eq!(
        runner.token_obtained_at,
        Timestamp::from_unix(1_772_360_100, 0)
    );
    assert!(runner.token_expires_at.is_zero());
    assert_eq!(runner.executor, Some(Executor::Docker));
    let cache = runner.cache.as_ref().unwrap();
    assert_eq!(cache.max_uploaded_archive_size, 0);
    assert_eq!(cache.s3.as_ref().unwrap().assume_role_max_concurrency, 0);
    assert!(cache.gcs.is_some() && cache.azure.is_some());
    let docker = runner.docker.as_ref().unwrap();
    assert_eq!(docker.image, "alpine:latest");
    assert!(!docker.tls_verify && !docker.privileged && !docker.disable_cache);
    assert_eq!(docker.volumes, ["/cache"]);
    assert_eq!(docker.shm_size, 0);
    assert_eq!(docker.effective_pull_policies(), ["always"]);
    assert_eq!(
        docker.effective_wait_for_services_timeout(),
        Some(Duration::from_secs(30))
    );
}

#[test]
fn spec_realistic_example_has_three_runners() {
    let loaded = load_corpus("spec-realistic.toml");
    let config = &loaded.config;
    assert_eq!(config.concurrent, 8);
    assert_eq!(config.check_interval, 5);
    assert_eq!(config.log_level, Some(LogLevel::Info));
    assert_eq!(config.log_format, Some(LogFormat::Json));
    assert_eq!(config.listen_address, "127.0.0.1:9252");
    assert_eq!(config.shutdown_timeout, 120);
    assert_eq!(config.connection_max_age, Some(GoDuration::from_mins(10)));
    assert_eq!(
        config.labels,
        map(&[("site", "fra1"), ("team", "platform")])
    );
    assert_eq!(config.session_server.listen_address, "0.0.0.0:8093");
    assert_eq!(
        config.session_server.advertise_address,
        "ci-fra1.example.net:8093"
    );
    assert_eq!(config.session_server.session_timeout, 900);
    assert_eq!(config.runners.len(), 3);

    let shell = &config.runners[0];
    assert_eq!(shell.name, "fra1-shell");
    assert_eq!(shell.token.expose(), "${RUNNER_TOKEN_SHELL}");
    assert_eq!(shell.executor, Some(Executor::Shell));
    assert_eq!(shell.shell, "bash");
    assert_eq!(shell.limit, 2);
    assert_eq!(shell.builds_dir, "/srv/ci/builds");
    assert_eq!(shell.environment, ["GIT_DEPTH=20", "LC_ALL=C.UTF-8"]);
    assert_eq!(
        shell.pre_get_sources_script,
        "git config --global http.lowSpeedLimit 1000\ngit config --global http.lowSpeedTime 60\n"
    );
    assert_eq!(
        config.computed_labels(shell),
        map(&[
            ("kind", "bare-metal"),
            ("site", "fra1"),
            ("team", "platform")
        ])
    );

    let docker_runner = &config.runners[1];
    assert_eq!(docker_runner.request_concurrency, 3);
    assert_eq!(docker_runner.output_limit, 16384);
    assert_eq!(docker_runner.effective_output_limit_bytes(), 16384 * 1024);
    assert_eq!(docker_runner.unhealthy_requests_limit, 5);
    assert_eq!(
        docker_runner.unhealthy_interval,
        Some(GoDuration::from_mins(15))
    );
    assert_eq!(
        docker_runner.get_sources_timeout,
        Some(GoDuration::from_mins(10))
    );
    assert_eq!(
        docker_runner.token_expires_at.to_string(),
        "2026-05-11T08:05:00Z"
    );
    assert_eq!(
        docker_runner.feature_flag("FF_NETWORK_PER_BUILD"),
        Some(true)
    );
    assert_eq!(docker_runner.feature_flag("FF_SCRIPT_SECTIONS"), None);
    let cache = docker_runner.cache.as_ref().unwrap();
    assert_eq!(cache.cache_type, "s3");
    assert!(cache.shared);
    let s3 = cache.s3.as_ref().unwrap();
    assert_eq!(s3.server_address, "minio.example.net:9000");
    assert_eq!(s3.secret_key.expose(), "not-a-real-secret");
    assert!(!format!("{s3:?}").contains("not-a-real-secret"));
    let docker = docker_runner.docker.as_ref().unwrap();
    assert_eq!(docker.pull_policy.as_slice(), ["if-not-present", "always"]);
    assert_eq!(docker.allowed_pull_policies, ["always", "if-not-present"]);
    assert_eq!(docker.memory, "4g");
    assert_eq!(docker.cpus, "2");
    assert_eq!(docker.shm_size, 268_435_456);
    assert_eq!(docker.dns, ["10.0.0.53"]);
    assert_eq!(docker.wait_for_services_timeout, 60);
    assert_eq!(docker.services[0].name, "postgres:16");
    assert_eq!(docker.services[0].aliases().collect::<Vec<_>>(), ["db"]);

    let k8s = config.runners[2].kubernetes.as_ref().unwrap();
    assert_eq!(k8s.namespace, "ci-jobs");
    assert_eq!(k8s.pull_policy.as_slice(), ["if-not-present"]);
    assert_eq!(k8s.effective_poll_interval(), Duration::from_secs(5));
    assert_eq!(k8s.effective_poll_timeout(), Duration::from_secs(600));
    assert_eq!(k8s.poll_attempts(), 120);
    assert_eq!(k8s.cleanup_grace_period_seconds, Some(10));
    assert_eq!(
        k8s.effective_cleanup_resources_timeout(),
        Duration::from_secs(600)
    );
    assert_eq!(k8s.memory_limit_overwrite_max_allowed, "8Gi");
    assert_eq!(k8s.cap_drop, ["NET_RAW", "SYS_ADMIN"]);
    assert_eq!(k8s.node_selector, map(&[("kubernetes.io/os", "linux")]));
    assert_eq!(k8s.node_tolerations, map(&[("dedicated=ci", "NoSchedule")]));
    assert_eq!(k8s.pod_security_context.run_as_non_root, Some(true));
    assert_eq!(k8s.pod_security_context.fs_group, Some(1000));
    let build = &k8s.build_container_security_context;
    assert_eq!(build.allow_privilege_escalation, Some(false));
    assert_eq!(build.read_only_root_filesystem, Some(false));
    assert_eq!(build.capabilities.as_ref().unwrap().drop, ["ALL"]);
    assert_eq!(
        k8s.init_permissions_container_security_context.run_as_user,
        Some(0)
    );
    assert_eq!(
        k8s.service_container_security_context.run_as_user,
        Some(999)
    );
    let volumes = &k8s.volumes;
    assert_eq!(volumes.empty_dir[0].medium, "Memory");
    assert_eq!(volumes.empty_dir[0].size_limit, "512Mi");
    assert!(volumes.secret[0].read_only);
    assert_eq!(volumes.pvc[0].name, "ci-cache-$CI_CONCURRENT_ID");
    assert_eq!(volumes.host_path[0].host_path, "/srv/docker-certs");
}

#[test]
fn seed_debug_log_level() {
    let config = load_corpus("seed-debug-log-level.toml").config;
    assert_eq!(config.log_level, Some(LogLevel::Debug));
    assert_eq!(config.effective_log_level(), LogLevel::Debug);
    assert_eq!(config.concurrent, 2);
}

#[test]
fn seed_docker_dns_reaches_the_model() {
    let config = load_corpus("seed-docker-dns.toml").config;
    let docker = config.runners[0].docker.as_ref().unwrap();
    assert_eq!(docker.dns, ["192.168.xxx.xxx", "192.168.xxx.xxx"]);
}

#[test]
fn seed_kubernetes_read_only_root_filesystems() {
    let config = load_corpus_fragment("seed-k8s-read-only-rootfs.toml").config;
    let k8s = config.runners[0].kubernetes.as_ref().unwrap();
    for context in [
        &k8s.build_container_security_context,
        &k8s.init_permissions_container_security_context,
        &k8s.helper_container_security_context,
        &k8s.service_container_security_context,
    ] {
        assert_eq!(context.read_only_root_filesystem, Some(true));
    }
}

#[test]
fn seed_kubernetes_writable_home() {
    let config = load_corpus_fragment("seed-k8s-build-home.toml").config;
    let runner = &config.runners[0];
    assert_eq!(
        runner.environment_pairs().collect::<Vec<_>>(),
        [("HOME", "/build_home")]
    );
    let empty_dirs = &runner.kubernetes.as_ref().unwrap().volumes.empty_dir;
    assert_eq!(empty_dirs.len(), 2);
    assert_eq!(
        (
            empty_dirs[0].name.as_str(),
            empty_dirs[0].mount_path.as_str()
        ),
        ("repo", "/builds")
    );
    assert_eq!(
        (
            empty_dirs[1].name.as_str(),
            empty_dirs[1].mount_path.as_str()
        ),
        ("build-home", "/build_home")
    );
    assert_eq!(empty_dirs[1].medium, "");
}

#[test]
fn seed_proxy_environment() {
    let config = load_corpus("seed-proxy-environment.toml").config;
    let runner = &config.runners[0];
    assert!(
        runner
            .pre_get_sources_script
            .starts_with("git config --global http.proxy $HTTP_PROXY;")
    );
    assert_eq!(runner.environment.len(), 4);
    assert_eq!(
        runner.environment[3],
        "HTTP_PROXY=docker0_interface_ip:3128"
    );
}

#[test]
fn seed_proxy_docker_config_keeps_escapes() {
    let config = load_corpus_fragment("seed-proxy-docker-config.toml").config;
    assert_eq!(
        config.runners[0].pre_build_script,
        r#"mkdir -p $HOME/.docker/ && echo "{ \"proxies\": { \"default\": { \"httpProxy\": \"$HTTP_PROXY\", \"httpsProxy\": \"$HTTPS_PROXY\", \"noProxy\": \"$NO_PROXY\" } } }" > $HOME/.docker/config.json"#
    );
}

#[test]
fn seed_tls_verify_disabled() {
    let config = load_corpus("seed-tls-verify.toml").config;
    let runner = &config.runners[0];
    assert_eq!(runner.name, "My Runner");
    assert_eq!(runner.url, "https://gitlab.example.com/");
    assert!(!runner.docker.as_ref().unwrap().tls_verify);
}
