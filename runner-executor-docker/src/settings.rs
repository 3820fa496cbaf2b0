//! [`DockerSettings`]: the `[runners.docker]` values this executor uses, as plain data.
//!
//! `runner-bin` fills it from `runner-config`'s section (executors depend on `runner-executor`
//! only, ARCHITECTURE.md), after resolving `DOCKER_HOST` and friends: this crate reads no
//! environment variable. Field names and defaults follow config-toml.md §5.2.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the Docker executor. `Default` is upstream's default for every key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSettings {
    /// `host`: `unix:///path` or `tcp://host:port`; `None` is `unix:///var/run/docker.sock`.
    pub host: Option<String>,
    /// `tls_verify`: use TLS with the certificates in `tls_cert_path` (tcp only).
    pub tls_verify: bool,
    /// `tls_cert_path`: directory with `ca.pem`, `cert.pem`, `key.pem`; setting it enables TLS.
    pub tls_cert_path: Option<PathBuf>,
    /// `image`: used when the job names none.
    pub image: Option<String>,
    /// `pull_policy` (default `["always"]` when empty).
    pub pull_policy: Vec<String>,
    /// `allowed_pull_policies` (empty: the `pull_policy` list).
    pub allowed_pull_policies: Vec<String>,
    /// `allowed_images`: doublestar patterns a job's image must match (empty: any image).
    pub allowed_images: Vec<String>,
    /// `allowed_services`: doublestar patterns a job's services must match (empty: any).
    pub allowed_services: Vec<String>,
    /// `helper_image`: image of the helper (`predefined`) container, which must have bash and
    /// git; `None` is our own helper image, [`crate::default_helper_image`].
    pub helper_image: Option<String>,
    /// Path, on the runner's own filesystem, of the `gitlab-runner-rs` binary copied through
    /// the Docker API to `/usr/bin/gitlab-runner-helper` in every helper container (not an
    /// upstream key; see the crate documentation, "Helper container"). `None`: the helper
    /// image must carry the binary itself.
    pub helper_binary: Option<PathBuf>,
    /// Directories searched, in order, for the archive of the default helper image when the
    /// daemon does not have it (not an upstream key; [`crate::helper_archive_dirs`] computes
    /// the usual ones from the runner's executable).
    pub helper_archive_dirs: Vec<PathBuf>,
    /// `privileged`.
    pub privileged: bool,
    /// `allowed_privileged_images`: with `privileged`, only matching build images get it
    /// (empty: all).
    pub allowed_privileged_images: Vec<String>,
    /// `allowed_privileged_services`: the same for services.
    pub allowed_privileged_services: Vec<String>,
    /// `services_privileged` (`None`: same as `privileged`).
    pub services_privileged: Option<bool>,
    /// `user`: user of the build container.
    pub user: Option<String>,
    /// `cap_add`.
    pub cap_add: Vec<String>,
    /// `cap_drop`.
    pub cap_drop: Vec<String>,
    /// `security_opt`.
    pub security_opt: Vec<String>,
    /// `devices`: `host[:container[:perms]]`.
    pub devices: Vec<String>,
    /// `cpus`: decimal (`"1.5"`) or rational (`"3/2"`).
    pub cpus: Option<String>,
    /// `memory`: `<number>[b|k|m|g]`.
    pub memory: Option<String>,
    /// `memory_swap`.
    pub memory_swap: Option<String>,
    /// `memory_reservation`.
    pub memory_reservation: Option<String>,
    /// `shm_size` in bytes (0: Docker's default).
    pub shm_size: i64,
    /// `oom_kill_disable`.
    pub oom_kill_disable: bool,
    /// `volumes`: `docker -v` syntax.
    pub volumes: Vec<String>,
    /// `volume_keep`: keep job volumes at cleanup.
    pub volume_keep: bool,
    /// `disable_cache`: cache volumes become temporary.
    pub disable_cache: bool,
    /// `cache_dir`: host directory for cache volumes.
    pub cache_dir: Option<String>,
    /// `dns` servers, applied to every container of the job (D2).
    pub dns: Vec<String>,
    /// `dns_search`.
    pub dns_search: Vec<String>,
    /// `extra_hosts`: `host:ip`.
    pub extra_hosts: Vec<String>,
    /// `network_mode`: used as-is instead of a per-job network.
    pub network_mode: Option<String>,
    /// `enable_ipv6`: the per-job network gets IPv6 too.
    pub enable_ipv6: bool,
    /// `network_mtu` of the per-job network (0: Docker's default).
    pub network_mtu: u32,
    /// `hostname` of the build container.
    pub hostname: Option<String>,
    /// `container_labels`, added to every container.
    pub container_labels: BTreeMap<String, String>,
    /// `disable_entrypoint_overwrite`.
    pub disable_entrypoint_overwrite: bool,
    /// `[[runners.docker.services]]`, started before the job's own services.
    pub services: Vec<ServiceSettings>,
    /// `services_limit` (`None`: unlimited).
    pub services_limit: Option<usize>,
    /// Options of the build container Docker applies as given (`runtime`, `cgroup_parent`,
    /// `cpuset_cpus`, `sysctls`, `ulimit`, ...).
    pub build_options: ContainerOptions,
    /// The same for service containers (`service_memory`, `service_cpus`, `services_tmpfs`,
    /// `services_security_opt`, ...).
    pub service_options: ContainerOptions,
    /// `wait_for_services_timeout`: how long each service may take to answer on a port before
    /// the trace warns about it; `None` (`-1` in the file) skips the wait.
    pub wait_for_services_timeout: Option<Duration>,
    /// Deadline of the cleanup, which runs on its own even after a cancel (upstream: 5 min).
    pub cleanup_timeout: Duration,
    /// How long a canceled stage's processes get after SIGTERM before the container is removed.
    pub stop_grace: Duration,
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            host: None,
            tls_verify: false,
            tls_cert_path: None,
            image: None,
            pull_policy: Vec::new(),
            allowed_pull_policies: Vec::new(),
            allowed_images: Vec::new(),
            allowed_services: Vec::new(),
            helper_image: None,
            helper_binary: None,
            helper_archive_dirs: Vec::new(),
            privileged: false,
            services_privileged: None,
            allowed_privileged_images: Vec::new(),
            allowed_privileged_services: Vec::new(),
            user: None,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            security_opt: Vec::new(),
            devices: Vec::new(),
            cpus: None,
            memory: None,
            memory_swap: None,
            memory_reservation: None,
            shm_size: 0,
            oom_kill_disable: false,
            volumes: Vec::new(),
            volume_keep: false,
            disable_cache: false,
            cache_dir: None,
            dns: Vec::new(),
            dns_search: Vec::new(),
            extra_hosts: Vec::new(),
            network_mode: None,
            enable_ipv6: false,
            network_mtu: 0,
            hostname: None,
            container_labels: BTreeMap::new(),
            disable_entrypoint_overwrite: false,
            services: Vec::new(),
            services_limit: None,
            build_options: ContainerOptions::default(),
            service_options: ContainerOptions::default(),
            wait_for_services_timeout: Some(Duration::from_secs(30)),
            cleanup_timeout: Duration::from_secs(5 * 60),
            stop_grace: Duration::from_secs(10),
        }
    }
}

impl DockerSettings {
    /// The daemon address, with upstream's default socket.
    pub fn host_or_default(&self) -> &str {
        self.host
            .as_deref()
            .filter(|host| !host.is_empty())
            .unwrap_or(DEFAULT_HOST)
    }
}

/// Upstream's default daemon address.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// One `[[runners.docker.services]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    /// `name`: the image.
    pub name: String,
    /// `alias`: space- or comma-separated host names.
    pub alias: String,
    /// `command`: the container's CMD.
    pub command: Vec<String>,
    /// `entrypoint`: the container's ENTRYPOINT.
    pub entrypoint: Vec<String>,
    /// `environment`: `KEY=VALUE` entries.
    pub environment: Vec<String>,
}

/// `[runners.docker]` options that go to Docker's host config as they are, for one kind of
/// container. Empty values leave Docker's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerOptions {
    /// `runtime` (e.g. `runsc`).
    pub runtime: Option<String>,
    /// `cgroup_parent` / `service_cgroup_parent`.
    pub cgroup_parent: Option<String>,
    /// `cpuset_cpus` / `service_cpuset_cpus`.
    pub cpuset_cpus: Option<String>,
    /// `cpuset_mems`.
    pub cpuset_mems: Option<String>,
    /// `cpu_shares` / `service_cpu_shares`.
    pub cpu_shares: Option<i64>,
    /// `cpus` for services (`service_cpus`); the build container's is [`DockerSettings::cpus`].
    pub cpus: Option<String>,
    /// `service_memory`; the build container's is [`DockerSettings::memory`].
    pub memory: Option<String>,
    /// `service_memory_swap`.
    pub memory_swap: Option<String>,
    /// `service_memory_reservation`.
    pub memory_reservation: Option<String>,
    /// `services_security_opt`; the build container's is [`DockerSettings::security_opt`].
    pub security_opt: Vec<String>,
    /// `group_add`.
    pub group_add: Vec<String>,
    /// `userns_mode`.
    pub userns_mode: Option<String>,
    /// `oom_score_adjust`.
    pub oom_score_adj: Option<i64>,
    /// `device_cgroup_rules`.
    pub device_cgroup_rules: Vec<String>,
    /// `pid_mode`.
    pub pid_mode: Option<String>,
    /// `ipcmode`.
    pub ipc_mode: Option<String>,
    /// `sysctls`.
    pub sysctls: BTreeMap<String, String>,
    /// `tmpfs` / `services_tmpfs`: mount point → options.
    pub tmpfs: BTreeMap<String, String>,
    /// `ulimit`: name → `soft[:hard]`.
    pub ulimits: BTreeMap<String, String>,
    /// `gpus` / `service_gpus`: `all`, a count, or `device=0,1`.
    pub gpus: Option<String>,
    /// `volumes_from`.
    pub volumes_from: Vec<String>,
    /// `links` (legacy container links).
    pub links: Vec<String>,
    /// `log_options`: options of the `json-file` log driver.
    pub log_options: BTreeMap<String, String>,
}

/// A registry login from the job payload's `credentials[]` (type `registry`).
pub use runner_executor::RegistryCredential;

/// Registry logins available to one job: the payload's credentials and the value of the job's
/// (or the runner's) `DOCKER_AUTH_CONFIG`, passed in rather than read from the environment.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The payload's `credentials[]` of type `registry`.
    pub job_credentials: Vec<RegistryCredential>,
    /// The JSON text of `DOCKER_AUTH_CONFIG`, if any.
    pub docker_auth_config: Option<String>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("job_credentials", &self.job_credentials)
            .field(
                "docker_auth_config",
                &self.docker_auth_config.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let auth = RegistryAuth {
            job_credentials: vec![RegistryCredential {
                registry: "r.example".to_owned(),
                username: "u".to_owned(),
                password: "hunter22".into(),
            }],
            docker_auth_config: Some("{\"auths\":{\"r\":{\"auth\":\"c2VjcmV0\"}}}".to_owned()),
        };
        let text = format!("{auth:?}");
        assert!(!text.contains("hunter22"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }

    #[test]
    fn default_host_is_the_local_socket() {
        assert_eq!(
            DockerSettings::default().host_or_default(),
            "unix:///var/run/docker.sock"
        );
        let settings = DockerSettings {
            host: Some("tcp://10.0.0.1:2376".to_owned()),
            ..DockerSettings::default()
        };
        assert_eq!(settings.host_or_default(), "tcp://10.0.0.1:2376");
    }
}
