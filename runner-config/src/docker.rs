//! [`DockerConfig`]: `[runners.docker]`, and [`Service`], shared with Kubernetes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::seconds::positive_seconds;
use crate::skip::{is_false, is_zero};
use crate::string_or_array::StringOrArray;

/// `[runners.docker]`: the Docker executor.
///
/// Memory sizes are strings (`"4g"`, `<number>[b|k|m|g]`), CPU counts are strings that may be
/// fractional (`"1.5"`), `shm_size` is an integer of bytes; all are checked when a job is
/// prepared, not at load, as upstream does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerConfig {
    /// Docker daemon endpoint. Default: empty, `DOCKER_HOST` or the local socket.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// Directory with `ca.pem`, `cert.pem`, `key.pem`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_cert_path: String,
    /// Verify the daemon's TLS certificate. Default: `false`.
    pub tls_verify: bool,
    /// Container host name. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Image used when the job names none. Default: empty.
    pub image: String,
    /// OCI runtime. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    /// Memory limit of the build container. Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory: String,
    /// Memory plus swap limit. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_swap: String,
    /// Memory soft limit. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_reservation: String,
    /// Parent cgroup. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// Cpuset CPUs. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset_cpus: String,
    /// Cpuset memory nodes. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset_mems: String,
    /// Number of CPUs, a rational (`"1.5"`, `"3/2"`). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpus: String,
    /// Relative CPU weight. Default: `0`, Docker's 1024.
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_shares: i64,
    /// DNS servers of every container of the job (IP addresses). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// DNS search domains. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// Privileged build and service containers. Default: `false`.
    pub privileged: bool,
    /// Privileged service containers. Default: unset, same as `privileged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services_privileged: Option<bool>,
    /// Forbid jobs from overriding the image entrypoint. Default: `false`.
    pub disable_entrypoint_overwrite: bool,
    /// User that runs job commands. Default: empty, the image's user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Users a job may request. Default: none (see upstream's rule on `user`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_users: Vec<String>,
    /// Extra groups. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// User-namespace mode. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    /// Added Linux capabilities. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Dropped Linux capabilities. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Do not OOM-kill the containers. Default: `false`.
    pub oom_kill_disable: bool,
    /// OOM score adjustment. Default: `0`.
    #[serde(skip_serializing_if = "is_zero")]
    pub oom_score_adjust: i64,
    /// `--security-opt` values of the build container. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// `--security-opt` values of service containers. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services_security_opt: Vec<String>,
    /// Device mappings, `host[:container[:perms]]`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Device cgroup rules. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// GPUs, as `docker run --gpus` (`"all"`). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpus: String,
    /// Image-name glob to device list, for services. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services_devices: BTreeMap<String, Vec<String>>,
    /// Do not create the automatic cache volume. Default: `false`.
    pub disable_cache: bool,
    /// Volumes in `docker -v` syntax. Default: none (`register` adds `"/cache"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Keep job volumes at cleanup. Default: `false`.
    pub volume_keep: bool,
    /// Volume driver. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub volume_driver: String,
    /// Volume driver options. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_driver_ops: BTreeMap<String, String>,
    /// Host directory of cache volumes. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cache_dir: String,
    /// `"host:ip"` entries. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// `<container>[:ro|rw]` volume sources. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// Custom network. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// PID namespace. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pid_mode: String,
    /// IPC namespace. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipcmode: String,
    /// MAC address of the build container. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// Legacy container links. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// `[[runners.docker.services]]`: services started for every job. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Maximum services per job. Default: unset, which means `-1`, unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services_limit: Option<i64>,
    /// Memory limit of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory: String,
    /// Memory plus swap limit of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_swap: String,
    /// Memory soft limit of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_reservation: String,
    /// Parent cgroup of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cgroup_parent: String,
    /// Slot cgroup template of services. Default: empty, `slot_cgroup_template`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_slot_cgroup_template: String,
    /// Cpuset CPUs of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpuset_cpus: String,
    /// CPUs of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpus: String,
    /// CPU weight of service containers. Default: `0`.
    #[serde(skip_serializing_if = "is_zero")]
    pub service_cpu_shares: i64,
    /// GPUs of service containers. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_gpus: String,
    /// Seconds to wait for services to be healthy. Default: `0`, which means 30; `-1`
    /// disables waiting.
    #[serde(skip_serializing_if = "is_zero")]
    pub wait_for_services_timeout: i64,
    /// Doublestar globs of allowed job images. Default: none, any image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
    /// Images that really get privileged mode. Default: none, all (when `privileged`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_privileged_images: Vec<String>,
    /// Services that really get privileged mode. Default: none, all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_privileged_services: Vec<String>,
    /// Pull policies a job may request. Default: none, which means `pull_policy`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_pull_policies: Vec<String>,
    /// Globs of allowed services. Default: none, any service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_services: Vec<String>,
    /// `always`, `if-not-present`, `never`, one string or an array tried in order.
    /// Default: empty, which means `["always"]`.
    #[serde(skip_serializing_if = "StringOrArray::is_empty")]
    pub pull_policy: StringOrArray,
    /// Windows isolation. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    /// `/dev/shm` size in bytes. Default: `0`, Docker's default.
    pub shm_size: i64,
    /// tmpfs mounts of the build container, path to options. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// tmpfs mounts of service containers. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services_tmpfs: BTreeMap<String, String>,
    /// Kernel parameters. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// Helper image override. Default: empty, the registry image of this version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_image: String,
    /// `alpine`, `alpine3.21`, `alpine-latest`, `ubi-fips` or `ubuntu`. Default: empty,
    /// which means `alpine`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_image_flavor: String,
    /// Labels on every container (`$VAR` expanded). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub container_labels: BTreeMap<String, String>,
    /// IPv6 on the per-job network. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_ipv6: bool,
    /// Ulimits, `name = "soft[:hard]"`. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimit: BTreeMap<String, String>,
    /// MTU of the per-job network. Default: `0`, Docker's default.
    pub network_mtu: i64,
    /// Options of the `json-file` log driver (only `env` and `labels`). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub log_options: BTreeMap<String, String>,
}

impl DockerConfig {
    /// Fallback of `wait_for_services_timeout` when it is zero.
    pub const DEFAULT_WAIT_FOR_SERVICES_TIMEOUT: Duration = Duration::from_secs(30);

    /// How long to wait for services: `None` when waiting is disabled (a negative value),
    /// 30 s when zero, at most 100 years (so that no deadline overflows).
    pub fn effective_wait_for_services_timeout(&self) -> Option<Duration> {
        match self.wait_for_services_timeout {
            0 => Some(Self::DEFAULT_WAIT_FOR_SERVICES_TIMEOUT),
            seconds => positive_seconds(seconds),
        }
    }

    /// The pull policies, `["always"]` when none is configured.
    pub fn effective_pull_policies(&self) -> Vec<String> {
        if self.pull_policy.is_empty() {
            vec!["always".to_owned()]
        } else {
            self.pull_policy.0.clone()
        }
    }
}

/// A service container (`[[runners.docker.services]]`, `[[runners.kubernetes.services]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Image of the service (expanded against job variables). Default: empty.
    pub name: String,
    /// Space- or comma-separated aliases. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// Command of the container. Default: none, the image's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Entrypoint of the container. Default: none, the image's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// `"KEY=VALUE"` variables of the service. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<String>,
    /// Data path kept across suspend and resume (suspendable Kubernetes jobs). Default:
    /// empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub suspend_data_path: String,
}

impl Service {
    /// The aliases: `alias` split on spaces and commas.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.alias
            .split(|character: char| character == ',' || character.is_whitespace())
            .filter(|alias| !alias.is_empty())
    }
}
