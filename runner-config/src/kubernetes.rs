//! [`KubernetesConfig`]: `[runners.kubernetes]`.
//!
//! The nested tables live in `kubernetes_pod.rs` (scheduling, DNS, lifecycle, pod spec,
//! autoscaler), `kubernetes_security.rs` (security contexts) and `kubernetes_volumes.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::docker::Service;
use crate::duration::GoDuration;
use crate::kubernetes_pod::{
    ContainerLifecycle, DnsConfig, HostAlias, KubernetesAffinity, KubernetesAutoscaler,
    PodSpecPatch,
};
use crate::kubernetes_security::{ContainerSecurityContext, PodSecurityContext};
use crate::kubernetes_volumes::KubernetesVolumes;
use crate::seconds::{positive_millis, positive_seconds};
use crate::secret::Secret;
use crate::skip::{is_default, is_false, is_zero};
use crate::string_or_array::StringOrArray;

/// `[runners.kubernetes]`: the Kubernetes executor.
///
/// Resource keys are strings in Kubernetes quantity syntax (`"500m"`, `"1Gi"`), checked when
/// a pod is built; each has an `*_overwrite_max_allowed` companion that caps what a job may
/// request through the matching `KUBERNETES_*` variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesConfig {
    /// API server URL. Default: empty, in-cluster configuration or kubeconfig.
    pub host: String,
    /// kubeconfig context used when `host` is empty. Default: empty, the current context.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context: String,
    /// Client certificate for the API server. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Client key for the API server. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// CA bundle of the API server. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// Let a job supply its own token through `KUBERNETES_BEARER_TOKEN`. Default: `false`.
    pub bearer_token_overwrite_allowed: bool,
    /// Token used to create job resources. Default: empty.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub bearer_token: Secret,
    /// Default job image. Default: empty.
    pub image: String,
    /// Namespace of job pods. Default: empty, which means `default`.
    pub namespace: String,
    /// Regex a job's `KUBERNETES_NAMESPACE_OVERWRITE` must match. Default: empty, overwrite disabled.
    pub namespace_overwrite_allowed: String,
    /// Use namespace `ci-job-<job id>`. Default: `false`.
    pub namespace_per_job: bool,
    /// Privileged flag of all containers (a container security context wins). Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// RuntimeClass of job pods. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// `allowPrivilegeEscalation` of all containers (a container security context wins). Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// CPU limit of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpu_limit: String,
    /// Largest value a job may set through `KUBERNETES_CPU_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpu_limit_overwrite_max_allowed: String,
    /// CPU request of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpu_request: String,
    /// Largest value a job may set through `KUBERNETES_CPU_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpu_request_overwrite_max_allowed: String,
    /// Memory limit of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_limit: String,
    /// Largest value a job may set through `KUBERNETES_MEMORY_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_limit_overwrite_max_allowed: String,
    /// Memory request of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_request: String,
    /// Largest value a job may set through `KUBERNETES_MEMORY_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory_request_overwrite_max_allowed: String,
    /// Ephemeral storage limit of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ephemeral_storage_limit: String,
    /// Largest value a job may set through `KUBERNETES_EPHEMERAL_STORAGE_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ephemeral_storage_limit_overwrite_max_allowed: String,
    /// Ephemeral storage request of the build container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ephemeral_storage_request: String,
    /// Largest value a job may set through `KUBERNETES_EPHEMERAL_STORAGE_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ephemeral_storage_request_overwrite_max_allowed: String,
    /// CPU limit of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpu_limit: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_CPU_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpu_limit_overwrite_max_allowed: String,
    /// CPU request of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpu_request: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_CPU_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_cpu_request_overwrite_max_allowed: String,
    /// Memory limit of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_limit: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_MEMORY_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_limit_overwrite_max_allowed: String,
    /// Memory request of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_request: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_MEMORY_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_memory_request_overwrite_max_allowed: String,
    /// Ephemeral storage limit of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_ephemeral_storage_limit: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_EPHEMERAL_STORAGE_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_ephemeral_storage_limit_overwrite_max_allowed: String,
    /// Ephemeral storage request of service containers (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_ephemeral_storage_request: String,
    /// Largest value a job may set through `KUBERNETES_SERVICE_EPHEMERAL_STORAGE_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_ephemeral_storage_request_overwrite_max_allowed: String,
    /// CPU limit of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_cpu_limit: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_CPU_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_cpu_limit_overwrite_max_allowed: String,
    /// CPU request of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_cpu_request: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_CPU_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_cpu_request_overwrite_max_allowed: String,
    /// Memory limit of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_memory_limit: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_MEMORY_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_memory_limit_overwrite_max_allowed: String,
    /// Memory request of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_memory_request: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_MEMORY_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_memory_request_overwrite_max_allowed: String,
    /// Ephemeral storage limit of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_ephemeral_storage_limit: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_EPHEMERAL_STORAGE_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_ephemeral_storage_limit_overwrite_max_allowed: String,
    /// Ephemeral storage request of the helper container (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_ephemeral_storage_request: String,
    /// Largest value a job may set through `KUBERNETES_HELPER_EPHEMERAL_STORAGE_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_ephemeral_storage_request_overwrite_max_allowed: String,
    /// CPU limit of the whole pod (Kubernetes 1.32 or later) (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_cpu_limit: String,
    /// Largest value a job may set through `KUBERNETES_POD_CPU_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_cpu_limit_overwrite_max_allowed: String,
    /// CPU request of the whole pod (Kubernetes 1.32 or later) (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_cpu_request: String,
    /// Largest value a job may set through `KUBERNETES_POD_CPU_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_cpu_request_overwrite_max_allowed: String,
    /// Memory limit of the whole pod (Kubernetes 1.32 or later) (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_memory_limit: String,
    /// Largest value a job may set through `KUBERNETES_POD_MEMORY_LIMIT`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_memory_limit_overwrite_max_allowed: String,
    /// Memory request of the whole pod (Kubernetes 1.32 or later) (a Kubernetes quantity such as `"500m"` or `"1Gi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_memory_request: String,
    /// Largest value a job may set through `KUBERNETES_POD_MEMORY_REQUEST`. Default: empty, job overwrite disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_memory_request_overwrite_max_allowed: String,
    /// Doublestar globs of allowed job images. Default: none, any image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
    /// Pull policies a job may request. Default: none, which means `pull_policy`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_pull_policies: Vec<String>,
    /// Globs of allowed services. Default: none, any service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_services: Vec<String>,
    /// Numeric UIDs a job may request (`"0"` must be explicit). Default: none, any non-root UID.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_users: Vec<String>,
    /// Numeric GIDs a job may request. Default: none, any non-root GID.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_groups: Vec<String>,
    /// `always`, `if-not-present`, `never`, one string or an array tried in order. Default: empty, the cluster's default.
    #[serde(skip_serializing_if = "StringOrArray::is_empty")]
    pub pull_policy: StringOrArray,
    /// Pod node selector. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Regex that validates `KUBERNETES_NODE_SELECTOR_*` job variables. Default: empty, disabled.
    pub node_selector_overwrite_allowed: String,
    /// `"key=value"` (operator `Equal`) or `"key"` (operator `Exists`) to taint effect (`NoSchedule`, `PreferNoSchedule`, `NoExecute`, or `""` for any). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_tolerations: BTreeMap<String, String>,
    /// Regex that validates `KUBERNETES_NODE_TOLERATIONS_*` job variables. Default: empty, disabled.
    pub node_tolerations_overwrite_allowed: String,
    /// `[runners.kubernetes.affinity]`: node, pod and anti-pod affinity. Default: none.
    #[serde(skip_serializing_if = "is_default")]
    pub affinity: KubernetesAffinity,
    /// Names of docker-registry secrets. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
    /// Omit `imagePullSecrets` so the service account's are used. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub use_service_account_image_pull_secrets: bool,
    /// Helper image override. Default: empty, the registry image of this version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_image: String,
    /// `alpine`, `alpine3.21`, `alpine-latest`, `ubuntu` or `ubi-fips`. Default: empty, which means `alpine`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub helper_image_flavor: String,
    /// Pick the helper image's OS and architecture from the node. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub helper_image_autoset_arch_and_os: bool,
    /// Pod `terminationGracePeriodSeconds`. Default: unset, Kubernetes' 30.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_termination_grace_period_seconds: Option<i64>,
    /// Grace period when deleting the job pod. Default: unset, Kubernetes' default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_grace_period_seconds: Option<i64>,
    /// Total time for deleting job resources. Default: unset, which means 5 minutes (as do zero and negative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_resources_timeout: Option<GoDuration>,
    /// Seconds between checks of a new pod's status. Default: `0`, which means 3 (as do negative values).
    #[serde(skip_serializing_if = "is_zero")]
    pub poll_interval: i64,
    /// Seconds to wait for the pod to run. Default: `0`, which means 180 (as do negative values).
    #[serde(skip_serializing_if = "is_zero")]
    pub poll_timeout: i64,
    /// Attempts, 5 s apart, to wait for the service account and pull secrets. Default: `0`, check disabled.
    #[serde(skip_serializing_if = "is_zero")]
    pub resource_availability_check_max_attempts: i64,
    /// Attempts for retryable API errors. Default: `0`, which means 5.
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_limit: i64,
    /// Backoff ceiling in milliseconds. Default: `0`, which means 2000; values up to 500 mean 500.
    #[serde(skip_serializing_if = "is_zero")]
    pub retry_backoff_max: i64,
    /// Per-error-substring retry counts; wins over `retry_limit`. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub retry_limits: BTreeMap<String, i64>,
    /// Labels on job pods (`$VAR` expanded). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Regex that validates `KUBERNETES_POD_LABELS_*` job variables. Default: empty, disabled.
    pub pod_labels_overwrite_allowed: String,
    /// Scheduler of job pods. Default: empty, the cluster's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scheduler_name: String,
    /// Service account of job pods. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// Regex that validates `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE`. Default: empty, disabled.
    pub service_account_overwrite_allowed: String,
    /// Mount the service account token in the pod. Default: unset, Kubernetes' default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// Annotations on job pods (`$VAR` expanded). Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Regex that validates `KUBERNETES_POD_ANNOTATIONS_*` job variables. Default: empty, disabled.
    pub pod_annotations_overwrite_allowed: String,
    /// `[runners.kubernetes.pod_security_context]`. Default: all unset, no pod security context is sent.
    #[serde(skip_serializing_if = "is_default")]
    pub pod_security_context: PodSecurityContext,
    /// `[runners.kubernetes.init_permissions_container_security_context]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub init_permissions_container_security_context: ContainerSecurityContext,
    /// `[runners.kubernetes.build_container_security_context]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub build_container_security_context: ContainerSecurityContext,
    /// `[runners.kubernetes.helper_container_security_context]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub helper_container_security_context: ContainerSecurityContext,
    /// `[runners.kubernetes.service_container_security_context]`. Default: all unset.
    #[serde(skip_serializing_if = "is_default")]
    pub service_container_security_context: ContainerSecurityContext,
    /// `[runners.kubernetes.volumes]`: volumes of every kind. Default: none.
    pub volumes: KubernetesVolumes,
    /// `[[runners.kubernetes.host_aliases]]`: extra `/etc/hosts` entries. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_aliases: Vec<HostAlias>,
    /// `[[runners.kubernetes.services]]`: services of every job, in the build pod. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Added capabilities, without the `CAP_` prefix. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Dropped capabilities. Default: none; `NET_RAW` is dropped anyway unless added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// PVC size of suspendable environments. Default: empty, which means `20Gi`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub suspend_pvc_size: String,
    /// PVC storage class of suspendable environments. Default: empty, the cluster's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub suspend_pvc_storage_class: String,
    /// `none`, `default`, `cluster-first` or `cluster-first-with-host-net`. Default: empty, Kubernetes' `ClusterFirst`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dns_policy: String,
    /// `[runners.kubernetes.dns_config]`: pod DNS settings. Default: empty.
    pub dns_config: DnsConfig,
    /// `[runners.kubernetes.container_lifecycle]`: post-start and pre-stop hooks. Default: none.
    #[serde(skip_serializing_if = "is_default")]
    pub container_lifecycle: ContainerLifecycle,
    /// Priority class of job pods. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority_class_name: String,
    /// `[[runners.kubernetes.pod_spec]]`: experimental pod spec patches. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pod_spec: Vec<PodSpecPatch>,
    /// Prefix of `<dir>/logs-<project>-<job>`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub logs_base_dir: String,
    /// Prefix of `<dir>/scripts-<project>-<job>`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scripts_base_dir: String,
    /// Print pod warning events while starting and after a failure. Default: unset, which means `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub print_pod_warning_events: Option<bool>,
    /// Create a PodDisruptionBudget per job pod. Default: unset, `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<bool>,
    /// `[runners.kubernetes.autoscaler]`: pause-pod pre-warming. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<KubernetesAutoscaler>,
}

impl KubernetesConfig {
    /// Fallback of `poll_interval` when it is zero or negative.
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(3);
    /// Fallback of `poll_timeout` when it is zero or negative.
    pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(180);
    /// Fallback of `cleanup_resources_timeout` when it is absent, zero or negative.
    pub const DEFAULT_CLEANUP_RESOURCES_TIMEOUT: Duration = Duration::from_secs(300);
    /// Fallback of `retry_limit` when it is zero or negative.
    pub const DEFAULT_RETRY_LIMIT: u32 = 5;
    /// Fallback of `retry_backoff_max` when it is zero or negative.
    pub const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(2000);
    /// Smallest effective `retry_backoff_max`.
    pub const MIN_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(500);

    /// How often the new pod's status is checked: `poll_interval` seconds, 3 s when zero or
    /// negative.
    pub fn effective_poll_interval(&self) -> Duration {
        positive_seconds(self.poll_interval).unwrap_or(Self::DEFAULT_POLL_INTERVAL)
    }

    /// How long to wait for the pod to run: `poll_timeout` seconds, 180 s when zero or
    /// negative.
    pub fn effective_poll_timeout(&self) -> Duration {
        positive_seconds(self.poll_timeout).unwrap_or(Self::DEFAULT_POLL_TIMEOUT)
    }

    /// Upstream's number of status checks: `poll_timeout / poll_interval` (integer division).
    pub fn poll_attempts(&self) -> u64 {
        self.effective_poll_timeout().as_secs() / self.effective_poll_interval().as_secs().max(1)
    }

    /// Total time for deleting job resources: 5 minutes when absent, zero or negative.
    pub fn effective_cleanup_resources_timeout(&self) -> Duration {
        self.cleanup_resources_timeout
            .and_then(GoDuration::to_std)
            .filter(|timeout| !timeout.is_zero())
            .unwrap_or(Self::DEFAULT_CLEANUP_RESOURCES_TIMEOUT)
    }

    /// Attempts for retryable API errors: 5 when zero or negative.
    pub fn effective_retry_limit(&self) -> u32 {
        u32::try_from(self.retry_limit)
            .ok()
            .filter(|limit| *limit > 0)
            .unwrap_or(Self::DEFAULT_RETRY_LIMIT)
    }

    /// Backoff ceiling of API retries: 2 s when zero or negative, never below 500 ms.
    pub fn effective_retry_backoff_max(&self) -> Duration {
        positive_millis(self.retry_backoff_max).map_or(Self::DEFAULT_RETRY_BACKOFF_MAX, |backoff| {
            backoff.max(Self::MIN_RETRY_BACKOFF_MAX)
        })
    }

    /// The namespace of job pods, `default` when empty.
    pub fn effective_namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// Whether pod warning events are printed (`true` unless set to `false`).
    pub fn effective_print_pod_warning_events(&self) -> bool {
        self.print_pod_warning_events.unwrap_or(true)
    }
}
