//! `[runners.docker]` plus the process environment → the Docker executor's settings.
//!
//! The executor itself reads neither `config.toml` nor environment variables; this module is
//! where both are resolved, once per runner entry: `DOCKER_HOST`, `DOCKER_CERT_PATH` and `DOCKER_TLS_VERIFY` when
//! `host` is empty (config-toml.md §5.2), the runner-level `DOCKER_AUTH_CONFIG` (the runner's
//! `environment` entries, else the process environment), and the path of this binary, which
//! the executor copies into the helper container for the artifacts and cache commands.
//!
//! Keys the executor does not implement are handled in two ways. Restrictions that would
//! widen what a job may do if ignored (the privileged allow-lists when containers are
//! privileged) make every job of the runner fail before anything starts: failing closed is the
//! only safe reading of an allow-list we cannot enforce. Everything else is named in a warning
//! of the runner's log and ignored. (`allowed_images` and `allowed_services` are enforced by
//! the executor.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{
    ContainerOptions, DockerExecutor, DockerSettings, Engine, ServiceSettings, sweep_leftovers,
};
use runner_config::{Config, DockerConfig, Executor, RunnerConfig};

/// How long the start-up sweep may take in total: an unreachable `tcp://` daemon must not
/// hold up the runner for bollard's two-minute request timeout.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The process environment, as the functions below read it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The Docker executor for `runner`, or why its jobs must not run. `env` reads the process
/// environment (a parameter so tests need not change the real one).
pub fn docker_executor(
    runner: &RunnerConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<DockerExecutor, String> {
    let Some(config) = &runner.docker else {
        return Err("missing docker configuration".to_owned());
    };
    let ignored = ignored_keys(config);
    if !ignored.is_empty() {
        tracing::warn!(
            runner = %runner.short_token(),
            keys = %ignored.join(", "),
            "[runners.docker] keys not supported by this build are ignored"
        );
    }
    let mut settings = docker_settings(config, &env);
    // The helper container gets this very binary (copied through the Docker API) and, when
    // the daemon lacks the default helper image, the archive shipped next to it.
    settings.helper_binary = std::env::current_exe().ok();
    if let Some(executable) = &settings.helper_binary {
        settings.helper_archive_dirs = crate::helper_archive_dirs(executable);
    }
    Ok(DockerExecutor::new(settings).with_docker_auth_config(docker_auth_config(runner, &env)))
}

impl DockerSettings {
    /// Maps `[runners.docker]` to the executor's settings; `env` reads the process environment
    /// (`DOCKER_HOST`, `DOCKER_CERT_PATH`, `DOCKER_TLS_VERIFY` when `host` is empty).
    /// `helper_binary` stays unset.
    pub fn from_config(config: &DockerConfig, env: impl Fn(&str) -> Option<String>) -> Self {
        docker_settings(config, env)
    }
}

/// Maps `config` to the executor's settings. `helper_binary` stays unset.
fn docker_settings(config: &DockerConfig, env: impl Fn(&str) -> Option<String>) -> DockerSettings {
    let from_env = |name: &str| env(name).filter(|value| !value.is_empty());
    // As the Docker client upstream uses: with no `host` in the file, the whole connection
    // (address and TLS) may come from the environment.
    let (host, tls_cert_path, tls_verify) = if config.host.is_empty() {
        (
            from_env("DOCKER_HOST"),
            non_empty(&config.tls_cert_path).or_else(|| from_env("DOCKER_CERT_PATH")),
            config.tls_verify || from_env("DOCKER_TLS_VERIFY").is_some(),
        )
    } else {
        (
            Some(config.host.clone()),
            non_empty(&config.tls_cert_path),
            config.tls_verify,
        )
    };
    let defaults = DockerSettings::default();
    DockerSettings {
        host,
        tls_verify,
        tls_cert_path: tls_cert_path.map(PathBuf::from),
        image: non_empty(&config.image),
        pull_policy: config.pull_policy.0.clone(),
        allowed_pull_policies: config.allowed_pull_policies.clone(),
        allowed_images: config.allowed_images.clone(),
        allowed_services: config.allowed_services.clone(),
        helper_image: non_empty(&config.helper_image),
        helper_binary: None,
        helper_archive_dirs: Vec::new(),
        privileged: config.privileged,
        services_privileged: config.services_privileged,
        allowed_privileged_images: config.allowed_privileged_images.clone(),
        allowed_privileged_services: config.allowed_privileged_services.clone(),
        user: non_empty(&config.user),
        cap_add: config.cap_add.clone(),
        cap_drop: config.cap_drop.clone(),
        security_opt: config.security_opt.clone(),
        devices: config.devices.clone(),
        cpus: non_empty(&config.cpus),
        memory: non_empty(&config.memory),
        memory_swap: non_empty(&config.memory_swap),
        memory_reservation: non_empty(&config.memory_reservation),
        shm_size: config.shm_size,
        oom_kill_disable: config.oom_kill_disable,
        volumes: config.volumes.clone(),
        volume_keep: config.volume_keep,
        disable_cache: config.disable_cache,
        // Relative to the working directory (config-toml.md §5.2); Docker binds need it absolute.
        cache_dir: non_empty(&config.cache_dir).map(|dir| absolute(&dir)),
        dns: config.dns.clone(),
        dns_search: config.dns_search.clone(),
        extra_hosts: config.extra_hosts.clone(),
        network_mode: non_empty(&config.network_mode),
        // Negative is not a valid MTU; like zero it leaves Docker's default.
        network_mtu: u32::try_from(config.network_mtu).unwrap_or(0),
        enable_ipv6: config.enable_ipv6,
        hostname: non_empty(&config.hostname),
        container_labels: config.container_labels.clone(),
        disable_entrypoint_overwrite: config.disable_entrypoint_overwrite,
        services: config
            .services
            .iter()
            .map(|service| ServiceSettings {
                name: service.name.clone(),
                alias: service.alias.clone(),
                command: service.command.clone(),
                entrypoint: service.entrypoint.clone(),
                environment: service.environment.clone(),
            })
            .collect(),
        // Unset or negative (upstream's `-1`) is unlimited.
        services_limit: config
            .services_limit
            .and_then(|limit| usize::try_from(limit).ok()),
        build_options: build_options(config),
        service_options: service_options(config),
        // 0 is upstream's 30 s; negative turns the wait off.
        wait_for_services_timeout: config.effective_wait_for_services_timeout(),
        cleanup_timeout: defaults.cleanup_timeout,
        stop_grace: defaults.stop_grace,
    }
}

/// Removes, once at start-up, what Docker runners of `config` left behind when this process
/// was killed (SIGKILL, power loss): objects labelled with a runner's short token and
/// `system_id`. Errors are logged; the runner starts anyway.
pub async fn sweep_docker_leftovers(config: &Config, system_id: &str) {
    let mut sweeps = tokio::task::JoinSet::new();
    for runner in &config.runners {
        if runner.executor != Some(Executor::Docker) || runner.token.is_empty() {
            continue;
        }
        let settings = docker_settings(&runner.docker.clone().unwrap_or_default(), process_env);
        let (runner_id, system_id) = (runner.short_token().to_owned(), system_id.to_owned());
        sweeps.spawn(async move {
            let result = match Engine::connect(&settings).await {
                Ok(engine) => sweep_leftovers(&engine, &runner_id, Some(&system_id)).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(report) if report == Default::default() => {}
                Ok(report) => tracing::info!(
                    runner = %runner_id,
                    containers = report.containers,
                    networks = report.networks,
                    volumes = report.volumes,
                    "Removed Docker objects left behind by an earlier run"
                ),
                Err(error) => tracing::error!(
                    runner = %runner_id,
                    error = %error,
                    "Could not remove Docker objects left behind by an earlier run"
                ),
            }
        });
    }
    if tokio::time::timeout(SWEEP_TIMEOUT, sweeps.join_all())
        .await
        .is_err()
    {
        tracing::error!(
            "Removing Docker objects left behind by an earlier run did not finish in {}s; continuing",
            SWEEP_TIMEOUT.as_secs()
        );
    }
}

/// The runner-level `DOCKER_AUTH_CONFIG`: the last entry of the runner's `environment`, else
/// the process environment. A job's own variable of that name wins (the executor decides).
fn docker_auth_config(
    runner: &RunnerConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    runner
        .environment
        .iter()
        .rev()
        .find_map(|entry| entry.strip_prefix("DOCKER_AUTH_CONFIG="))
        .map(str::to_owned)
        .or_else(|| env("DOCKER_AUTH_CONFIG"))
        .filter(|value| !value.is_empty())
}

/// Host options of the build container that Docker applies as given.
fn build_options(config: &DockerConfig) -> ContainerOptions {
    ContainerOptions {
        runtime: non_empty(&config.runtime),
        cgroup_parent: non_empty(&config.cgroup_parent),
        cpuset_cpus: non_empty(&config.cpuset_cpus),
        cpuset_mems: non_empty(&config.cpuset_mems),
        cpu_shares: (config.cpu_shares != 0).then_some(config.cpu_shares),
        group_add: config.group_add.clone(),
        userns_mode: non_empty(&config.userns_mode),
        oom_score_adj: (config.oom_score_adjust != 0).then_some(config.oom_score_adjust),
        device_cgroup_rules: config.device_cgroup_rules.clone(),
        pid_mode: non_empty(&config.pid_mode),
        ipc_mode: non_empty(&config.ipcmode),
        sysctls: config.sysctls.clone(),
        tmpfs: config.tmpfs.clone(),
        ulimits: config.ulimit.clone(),
        gpus: non_empty(&config.gpus),
        volumes_from: config.volumes_from.clone(),
        links: config.links.clone(),
        log_options: config.log_options.clone(),
        ..ContainerOptions::default()
    }
}

/// Host options of service containers (the `service_*` and `services_*` keys).
fn service_options(config: &DockerConfig) -> ContainerOptions {
    ContainerOptions {
        runtime: non_empty(&config.runtime),
        cgroup_parent: non_empty(&config.service_cgroup_parent),
        cpuset_cpus: non_empty(&config.service_cpuset_cpus),
        cpu_shares: (config.service_cpu_shares != 0).then_some(config.service_cpu_shares),
        cpus: non_empty(&config.service_cpus),
        memory: non_empty(&config.service_memory),
        memory_swap: non_empty(&config.service_memory_swap),
        memory_reservation: non_empty(&config.service_memory_reservation),
        security_opt: config.services_security_opt.clone(),
        userns_mode: non_empty(&config.userns_mode),
        tmpfs: config.services_tmpfs.clone(),
        gpus: non_empty(&config.service_gpus),
        log_options: config.log_options.clone(),
        ..ContainerOptions::default()
    }
}

/// Keys set in `config` that the executor does not implement and that are safe to ignore.
fn ignored_keys(config: &DockerConfig) -> Vec<&'static str> {
    let text = |value: &String| !value.is_empty();
    let list = |value: &Vec<String>| !value.is_empty();
    [
        ("allowed_users", list(&config.allowed_users)),
        ("services_devices", !config.services_devices.is_empty()),
        ("volume_driver", text(&config.volume_driver)),
        ("volume_driver_ops", !config.volume_driver_ops.is_empty()),
        ("mac_address", text(&config.mac_address)),
        (
            "service_slot_cgroup_template",
            text(&config.service_slot_cgroup_template),
        ),
        ("isolation", text(&config.isolation)),
        ("helper_image_flavor", text(&config.helper_image_flavor)),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect()
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// `path` made absolute against the current directory (unchanged if that is unreadable).
fn absolute(path: &str) -> String {
    if Path::new(path).is_absolute() {
        return path.to_owned();
    }
    std::env::current_dir()
        .map(|dir| dir.join(path).to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use runner_config::{Service, StringOrArray};

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn docker_runner(config: DockerConfig) -> RunnerConfig {
        RunnerConfig {
            token: "glrt-abcdefghijklmnop".into(),
            executor: Some(Executor::Docker),
            docker: Some(config),
            ..RunnerConfig::default()
        }
    }

    #[test]
    fn empty_section_gives_the_executor_defaults() {
        let settings = docker_settings(&DockerConfig::default(), env_of(&[]));
        assert_eq!(settings, DockerSettings::default());
        assert_eq!(settings.host_or_default(), "unix:///var/run/docker.sock");
    }

    #[test]
    fn connection_comes_from_the_environment_when_host_is_empty() {
        let env = env_of(&[
            ("DOCKER_HOST", "tcp://10.0.0.5:2376"),
            ("DOCKER_CERT_PATH", "/certs"),
            ("DOCKER_TLS_VERIFY", "1"),
        ]);
        let settings = docker_settings(&DockerConfig::default(), &env);
        assert_eq!(settings.host.as_deref(), Some("tcp://10.0.0.5:2376"));
        assert_eq!(settings.tls_cert_path, Some(PathBuf::from("/certs")));
        assert!(settings.tls_verify);

        // An empty DOCKER_TLS_VERIFY means off, as for the docker CLI.
        let settings = docker_settings(
            &DockerConfig::default(),
            env_of(&[("DOCKER_TLS_VERIFY", "")]),
        );
        assert!(!settings.tls_verify);
        assert_eq!(settings.host, None);
    }

    #[test]
    fn host_in_the_file_wins_over_the_whole_environment() {
        let env = env_of(&[
            ("DOCKER_HOST", "tcp://10.0.0.5:2376"),
            ("DOCKER_CERT_PATH", "/certs"),
            ("DOCKER_TLS_VERIFY", "1"),
        ]);
        let config = DockerConfig {
            host: "unix:///run/other.sock".to_owned(),
            ..DockerConfig::default()
        };
        let settings = docker_settings(&config, env);
        assert_eq!(settings.host.as_deref(), Some("unix:///run/other.sock"));
        assert_eq!(settings.tls_cert_path, None);
        assert!(!settings.tls_verify);
    }

    #[test]
    fn section_values_are_carried_over() {
        let config = DockerConfig {
            image: "alpine:3".to_owned(),
            pull_policy: StringOrArray(vec!["if-not-present".to_owned(), "always".to_owned()]),
            allowed_pull_policies: vec!["if-not-present".to_owned()],
            helper_image: "helper:1".to_owned(),
            dns: vec!["192.0.2.53".to_owned()],
            memory: "128m".to_owned(),
            network_mtu: 1450,
            services_limit: Some(-1),
            cache_dir: "relative/cache".to_owned(),
            services: vec![Service {
                name: "postgres:16".to_owned(),
                alias: "db".to_owned(),
                command: vec!["postgres".to_owned()],
                ..Service::default()
            }],
            ..DockerConfig::default()
        };
        let settings = docker_settings(&config, env_of(&[]));
        assert_eq!(settings.image.as_deref(), Some("alpine:3"));
        assert_eq!(settings.pull_policy, ["if-not-present", "always"]);
        assert_eq!(settings.allowed_pull_policies, ["if-not-present"]);
        assert_eq!(settings.helper_image.as_deref(), Some("helper:1"));
        assert_eq!(settings.dns, ["192.0.2.53"]);
        assert_eq!(settings.memory.as_deref(), Some("128m"));
        assert_eq!(settings.network_mtu, 1450);
        assert_eq!(settings.services_limit, None);
        let cache_dir = settings.cache_dir.expect("cache_dir");
        assert!(Path::new(&cache_dir).is_absolute(), "{cache_dir}");
        assert!(cache_dir.ends_with("relative/cache"), "{cache_dir}");
        assert_eq!(settings.services.len(), 1);
        assert_eq!(settings.services[0].alias, "db");
        assert_eq!(settings.services[0].command, ["postgres"]);

        let limited = DockerConfig {
            services_limit: Some(2),
            ..DockerConfig::default()
        };
        assert_eq!(
            docker_settings(&limited, env_of(&[])).services_limit,
            Some(2)
        );
    }

    #[test]
    fn executor_mounts_this_binary_and_takes_the_runner_auth_config() {
        let mut runner = docker_runner(DockerConfig::default());
        runner.environment = vec![
            "DOCKER_AUTH_CONFIG={\"old\":1}".to_owned(),
            "OTHER=1".to_owned(),
            "DOCKER_AUTH_CONFIG={\"auths\":{}}".to_owned(),
        ];
        let executor = docker_executor(&runner, env_of(&[("DOCKER_AUTH_CONFIG", "{\"env\":1}")]))
            .expect("an executor");
        assert_eq!(
            executor.settings().helper_binary,
            std::env::current_exe().ok()
        );
        assert_eq!(
            docker_auth_config(&runner, env_of(&[("DOCKER_AUTH_CONFIG", "{\"env\":1}")]))
                .as_deref(),
            Some("{\"auths\":{}}")
        );
        runner.environment.clear();
        assert_eq!(
            docker_auth_config(&runner, env_of(&[("DOCKER_AUTH_CONFIG", "{\"env\":1}")]))
                .as_deref(),
            Some("{\"env\":1}")
        );
        assert_eq!(docker_auth_config(&runner, env_of(&[])), None);
    }

    #[test]
    fn a_runner_without_a_docker_section_cannot_run_jobs() {
        let runner = RunnerConfig {
            docker: None,
            ..docker_runner(DockerConfig::default())
        };
        let error = docker_executor(&runner, env_of(&[])).expect_err("no section");
        assert_eq!(error, "missing docker configuration");
    }

    #[test]
    fn allow_lists_that_cannot_be_enforced_fail_closed() {
        let images = docker_runner(DockerConfig {
            allowed_images: vec!["ruby:*".to_owned()],
            allowed_services: vec!["postgres:*".to_owned()],
            ..DockerConfig::default()
        });
        let executor = docker_executor(&images, env_of(&[])).expect("enforced by the executor");
        let settings = executor.settings();
        assert_eq!(settings.allowed_images, ["ruby:*"]);
        assert_eq!(settings.allowed_services, ["postgres:*"]);

        // The privileged allow-lists reach the executor, which applies them per image.
        let config = DockerConfig {
            privileged: true,
            allowed_privileged_images: vec!["docker:*".to_owned()],
            allowed_privileged_services: vec!["docker:*-dind".to_owned()],
            ..DockerConfig::default()
        };
        let executor = docker_executor(&docker_runner(config), env_of(&[])).expect("enforced");
        assert_eq!(executor.settings().allowed_privileged_images, ["docker:*"]);
        assert_eq!(
            executor.settings().allowed_privileged_services,
            ["docker:*-dind"]
        );
    }

    #[test]
    fn unimplemented_keys_are_named() {
        assert!(ignored_keys(&DockerConfig::default()).is_empty());
        let config = DockerConfig {
            runtime: "runsc".to_owned(),
            enable_ipv6: true,
            mac_address: "02:42:ac:11:00:02".to_owned(),
            isolation: "process".to_owned(),
            ..DockerConfig::default()
        };
        assert_eq!(ignored_keys(&config), ["mac_address", "isolation"]);
    }

    #[test]
    fn pass_through_keys_reach_their_containers() {
        let config = DockerConfig {
            runtime: "runsc".to_owned(),
            cpuset_cpus: "0-1".to_owned(),
            cpu_shares: 512,
            ulimit: [("nofile".to_owned(), "1024:2048".to_owned())].into(),
            service_memory: "128m".to_owned(),
            service_cpus: "0.5".to_owned(),
            services_tmpfs: [("/var/lib/db".to_owned(), "rw".to_owned())].into(),
            ..DockerConfig::default()
        };
        let settings = docker_settings(&config, env_of(&[]));
        let build = &settings.build_options;
        assert_eq!(build.runtime.as_deref(), Some("runsc"));
        assert_eq!(build.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(build.cpu_shares, Some(512));
        assert_eq!(build.ulimits["nofile"], "1024:2048");
        assert_eq!(
            build.memory, None,
            "the build's memory is DockerSettings::memory"
        );
        let service = &settings.service_options;
        assert_eq!(service.memory.as_deref(), Some("128m"));
        assert_eq!(service.cpus.as_deref(), Some("0.5"));
        assert_eq!(service.tmpfs["/var/lib/db"], "rw");
        assert_eq!(service.cpu_shares, None);
    }
}
