//! [`Settings`]: the `[runners.kubernetes]` values the executor uses, already resolved to plain
//! data (durations, lists). `runner-bin` fills it from `runner-config`'s section.

use std::collections::BTreeMap;
use std::time::Duration;

/// How the pod is built and watched. Field names follow `config.toml` (`[runners.kubernetes]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `namespace`; empty means `default` with a trace warning.
    pub namespace: String,
    /// `namespace_per_job`: use `ci-job-<job id>`, created with the pod and deleted at cleanup.
    pub namespace_per_job: bool,
    /// `service_account`.
    pub service_account: Option<String>,
    /// `namespace_overwrite_allowed`: regex for `KUBERNETES_NAMESPACE_OVERWRITE`; `None` disables it.
    pub namespace_overwrite_allowed: Option<String>,
    /// `service_account_overwrite_allowed`: regex for `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE`.
    pub service_account_overwrite_allowed: Option<String>,
    /// `pod_labels_overwrite_allowed`: regex for `KUBERNETES_POD_LABELS_*` (`k=v`).
    pub pod_labels_overwrite_allowed: Option<String>,
    /// `pod_annotations_overwrite_allowed`: regex for `KUBERNETES_POD_ANNOTATIONS_*` (`k=v`).
    pub pod_annotations_overwrite_allowed: Option<String>,
    /// `node_selector_overwrite_allowed`: regex for `KUBERNETES_NODE_SELECTOR_*` (`k=v`).
    pub node_selector_overwrite_allowed: Option<String>,
    /// `node_tolerations_overwrite_allowed`: regex for `KUBERNETES_NODE_TOLERATIONS_*` (`key[=value]:effect`).
    pub node_tolerations_overwrite_allowed: Option<String>,
    /// `automount_service_account_token`.
    pub automount_service_account_token: Option<bool>,
    /// `image`: default job image.
    pub image: Option<String>,
    /// `image_pull_secrets`.
    pub image_pull_secrets: Vec<String>,
    /// `use_service_account_image_pull_secrets`.
    pub use_service_account_image_pull_secrets: bool,
    /// `node_selector` (K4).
    pub node_selector: BTreeMap<String, String>,
    /// `node_tolerations`: `key=value` → `Equal`, `key` → `Exists`; the value is the effect.
    pub node_tolerations: BTreeMap<String, String>,
    /// `affinity`, in Kubernetes' JSON shape (camelCase), validated when the pod is built.
    pub affinity: Option<serde_json::Value>,
    /// `pod_labels` (K4).
    pub pod_labels: BTreeMap<String, String>,
    /// `pod_annotations` (K4).
    pub pod_annotations: BTreeMap<String, String>,
    /// `host_aliases`, appended after the services' entry.
    pub host_aliases: Vec<HostAlias>,
    /// `scheduler_name`.
    pub scheduler_name: Option<String>,
    /// `priority_class_name`.
    pub priority_class_name: Option<String>,
    /// `runtime_class_name`.
    pub runtime_class_name: Option<String>,
    /// `dns_policy` in config spelling (`cluster-first`...).
    pub dns_policy: Option<String>,
    /// `pull_policy` in config spelling (`always`, `if-not-present`, `never`).
    pub pull_policy: Vec<String>,
    /// `allowed_pull_policies`; empty means "= `pull_policy`".
    pub allowed_pull_policies: Vec<String>,
    /// `allowed_images`: doublestar patterns a job's image must match (empty: any image).
    pub allowed_images: Vec<String>,
    /// `allowed_services`: doublestar patterns a job's services must match (empty: any).
    pub allowed_services: Vec<String>,
    /// `allowed_users`: numeric UIDs a job may ask for (empty: any but 0).
    pub allowed_users: Vec<String>,
    /// `allowed_groups`: numeric GIDs a job may ask for (empty: any but 0).
    pub allowed_groups: Vec<String>,
    /// `helper_image`: full override.
    pub helper_image: Option<String>,
    /// `helper_image_flavor` (K7): `alpine` (default), `alpine3.21`, `alpine-latest`, `ubuntu`.
    pub helper_image_flavor: Option<String>,
    /// Tag of the default helper image (`gitlab-runner-rs-helper`), `<arch>-v<version>` of this
    /// build by default; a flavor other than `alpine` is put in front (`<flavor>-<tag>`).
    pub helper_image_tag: String,
    /// `privileged` for every container (a container context's own value wins).
    pub privileged: Option<bool>,
    /// `allow_privilege_escalation` for every container (same precedence).
    pub allow_privilege_escalation: Option<bool>,
    /// `cap_add`.
    pub cap_add: Vec<String>,
    /// `cap_drop`; `NET_RAW` is dropped unless added.
    pub cap_drop: Vec<String>,
    /// `[runners.kubernetes.pod_security_context]`.
    pub pod_security_context: PodSecurityContext,
    /// `build_container_security_context` (K5).
    pub build_container_security_context: ContainerSecurityContext,
    /// `helper_container_security_context` (K5).
    pub helper_container_security_context: ContainerSecurityContext,
    /// `service_container_security_context` (K5).
    pub service_container_security_context: ContainerSecurityContext,
    /// `init_permissions_container_security_context` (K5).
    pub init_permissions_container_security_context: ContainerSecurityContext,
    /// Build container resources (`cpu_limit`, ...).
    pub build_resources: Resources,
    /// Helper container resources (`helper_cpu_limit`, ...).
    pub helper_resources: Resources,
    /// Service container resources (`service_cpu_limit`, ...).
    pub service_resources: Resources,
    /// `[runners.kubernetes.volumes]` (K6).
    pub volumes: Volumes,
    /// `[[runners.kubernetes.services]]`, run before the job's own services.
    pub services: Vec<runner_executor::Image>,
    /// `poll_interval` (default 3 s).
    pub poll_interval: Duration,
    /// `poll_timeout` (default 180 s).
    pub poll_timeout: Duration,
    /// `pod_termination_grace_period_seconds`.
    pub pod_termination_grace_period_seconds: Option<i64>,
    /// `cleanup_grace_period_seconds`.
    pub cleanup_grace_period_seconds: Option<i64>,
    /// `cleanup_resources_timeout` (default 5 min).
    pub cleanup_resources_timeout: Duration,
    /// Deadline of each API call while setting up the pod (not an upstream key; upstream bounds
    /// them by the prepare context). Expiry reads `context deadline exceeded`.
    pub request_timeout: Duration,
    /// `retry_limit`: retries of an exec that failed with a network error before starting (default 5).
    pub retry_limit: u32,
    /// `retry_backoff_max`: ceiling of the retry backoff, which starts at 500 ms (default 2 s).
    pub retry_backoff_max: Duration,
    /// `logs_base_dir`, prefix of `/logs-<project>-<job>` (init-permissions with dumb-init).
    pub logs_base_dir: String,
    /// `scripts_base_dir`, prefix of `/scripts-<project>-<job>`.
    pub scripts_base_dir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            namespace_per_job: false,
            service_account: None,
            namespace_overwrite_allowed: None,
            service_account_overwrite_allowed: None,
            pod_labels_overwrite_allowed: None,
            pod_annotations_overwrite_allowed: None,
            node_selector_overwrite_allowed: None,
            node_tolerations_overwrite_allowed: None,
            automount_service_account_token: None,
            image: None,
            image_pull_secrets: Vec::new(),
            use_service_account_image_pull_secrets: false,
            node_selector: BTreeMap::new(),
            node_tolerations: BTreeMap::new(),
            affinity: None,
            pod_labels: BTreeMap::new(),
            pod_annotations: BTreeMap::new(),
            host_aliases: Vec::new(),
            scheduler_name: None,
            priority_class_name: None,
            runtime_class_name: None,
            dns_policy: None,
            pull_policy: Vec::new(),
            allowed_pull_policies: Vec::new(),
            allowed_images: Vec::new(),
            allowed_services: Vec::new(),
            allowed_users: Vec::new(),
            allowed_groups: Vec::new(),
            helper_image: None,
            helper_image_flavor: None,
            helper_image_tag: crate::helper_binary::default_helper_image_tag(),
            privileged: None,
            allow_privilege_escalation: None,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            pod_security_context: PodSecurityContext::default(),
            build_container_security_context: ContainerSecurityContext::default(),
            helper_container_security_context: ContainerSecurityContext::default(),
            service_container_security_context: ContainerSecurityContext::default(),
            init_permissions_container_security_context: ContainerSecurityContext::default(),
            build_resources: Resources::default(),
            helper_resources: Resources::default(),
            service_resources: Resources::default(),
            volumes: Volumes::default(),
            services: Vec::new(),
            poll_interval: Duration::from_secs(3),
            poll_timeout: Duration::from_secs(180),
            pod_termination_grace_period_seconds: None,
            cleanup_grace_period_seconds: None,
            cleanup_resources_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
            retry_limit: 5,
            retry_backoff_max: Duration::from_millis(2000),
            logs_base_dir: String::new(),
            scripts_base_dir: String::new(),
        }
    }
}

/// `[[runners.kubernetes.host_aliases]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAlias {
    /// `ip`.
    pub ip: String,
    /// `hostnames`.
    pub hostnames: Vec<String>,
}

/// `[runners.kubernetes.pod_security_context]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSecurityContext {
    /// `fs_group`.
    pub fs_group: Option<i64>,
    /// `run_as_group`.
    pub run_as_group: Option<i64>,
    /// `run_as_user`.
    pub run_as_user: Option<i64>,
    /// `run_as_non_root`.
    pub run_as_non_root: Option<bool>,
    /// `supplemental_groups`.
    pub supplemental_groups: Vec<i64>,
    /// `selinux_type`.
    pub selinux_type: Option<String>,
    /// `seccomp_profile`.
    pub seccomp_profile: Option<Profile>,
}

/// The shape shared by the four container security contexts (K5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSecurityContext {
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `run_as_user`.
    pub run_as_user: Option<i64>,
    /// `run_as_group`.
    pub run_as_group: Option<i64>,
    /// `run_as_non_root`.
    pub run_as_non_root: Option<bool>,
    /// `read_only_root_filesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `allow_privilege_escalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `selinux_type`.
    pub selinux_type: Option<String>,
    /// `proc_mount`: `default` or `unmasked` (case-insensitive; others ignored).
    pub proc_mount: Option<String>,
    /// `capabilities.add`; `None` means "use `cap_add`".
    pub capabilities_add: Option<Vec<String>>,
    /// `capabilities.drop`; `None` means "use `cap_drop`".
    pub capabilities_drop: Option<Vec<String>>,
    /// `seccomp_profile`.
    pub seccomp_profile: Option<Profile>,
    /// `app_armor_profile`.
    pub app_armor_profile: Option<Profile>,
}

/// A seccomp or AppArmor profile: `type` plus `localhost_profile`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// `RuntimeDefault`, `Localhost` or `Unconfined`.
    pub profile_type: String,
    /// Required for `Localhost`.
    pub localhost_profile: Option<String>,
}

/// Requests and limits of one container family, with the caps on job overwrites (§8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `*cpu_limit`.
    pub cpu_limit: Option<String>,
    /// `*cpu_request`.
    pub cpu_request: Option<String>,
    /// `*memory_limit`.
    pub memory_limit: Option<String>,
    /// `*memory_request`.
    pub memory_request: Option<String>,
    /// `*ephemeral_storage_limit`.
    pub ephemeral_storage_limit: Option<String>,
    /// `*ephemeral_storage_request`.
    pub ephemeral_storage_request: Option<String>,
    /// `*cpu_limit_overwrite_max_allowed`; `None` disables the job overwrite.
    pub cpu_limit_overwrite_max_allowed: Option<String>,
    /// `*cpu_request_overwrite_max_allowed`.
    pub cpu_request_overwrite_max_allowed: Option<String>,
    /// `*memory_limit_overwrite_max_allowed`.
    pub memory_limit_overwrite_max_allowed: Option<String>,
    /// `*memory_request_overwrite_max_allowed`.
    pub memory_request_overwrite_max_allowed: Option<String>,
    /// `*ephemeral_storage_limit_overwrite_max_allowed`.
    pub ephemeral_storage_limit_overwrite_max_allowed: Option<String>,
    /// `*ephemeral_storage_request_overwrite_max_allowed`.
    pub ephemeral_storage_request_overwrite_max_allowed: Option<String>,
}

/// `[runners.kubernetes.volumes]` (K6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volumes {
    /// `[[...host_path]]`.
    pub host_path: Vec<HostPathVolume>,
    /// `[[...pvc]]`.
    pub pvc: Vec<PvcVolume>,
    /// `[[...config_map]]`.
    pub config_map: Vec<ProjectedVolume>,
    /// `[[...secret]]`.
    pub secret: Vec<ProjectedVolume>,
    /// `[[...empty_dir]]`.
    pub empty_dir: Vec<EmptyDirVolume>,
}

/// Where a volume is mounted in every container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    /// `name`.
    pub name: String,
    /// `mount_path`.
    pub mount_path: String,
    /// `sub_path`.
    pub sub_path: Option<String>,
    /// `read_only`.
    pub read_only: bool,
    /// `mount_propagation`.
    pub mount_propagation: Option<String>,
}

/// `[[runners.kubernetes.volumes.host_path]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPathVolume {
    /// Name, mount path and options.
    pub mount: Mount,
    /// `host_path`; defaults to the mount path.
    pub host_path: Option<String>,
}

/// `[[runners.kubernetes.volumes.pvc]]`: the name is also the claim name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvcVolume {
    /// Name, mount path and options.
    pub mount: Mount,
}

/// `[[runners.kubernetes.volumes.config_map]]` and `[[...secret]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectedVolume {
    /// Name (also the object's name), mount path and options.
    pub mount: Mount,
    /// `items`: key → relative path; empty projects every key.
    pub items: BTreeMap<String, String>,
}

/// `[[runners.kubernetes.volumes.empty_dir]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmptyDirVolume {
    /// Name, mount path and options.
    pub mount: Mount,
    /// `medium`: `""` (node disk) or `Memory`.
    pub medium: String,
    /// `size_limit` quantity.
    pub size_limit: Option<String>,
}
