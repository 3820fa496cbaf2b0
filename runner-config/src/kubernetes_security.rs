//! Security contexts of `[runners.kubernetes]`: the pod's and the four containers'.

use serde::{Deserialize, Serialize};

/// `[runners.kubernetes.pod_security_context]`. When every field is unset no pod security
/// context is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodSecurityContext {
    /// `fsGroup`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<i64>,
    /// `runAsGroup`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// `supplementalGroups`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supplemental_groups: Vec<i64>,
    /// SELinux type. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub selinux_type: String,
    /// `[...seccomp_profile]`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SecurityProfile>,
    /// `[...app_armor_profile]` (Kubernetes 1.30 or later). Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_armor_profile: Option<SecurityProfile>,
}

/// The shape shared by `build_container_security_context`,
/// `helper_container_security_context`, `service_container_security_context` and
/// `init_permissions_container_security_context`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSecurityContext {
    /// `[...capabilities]`: replaces the executor's `cap_add`/`cap_drop` lists.
    /// Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// `privileged`, wins over the executor-wide flag. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `runAsUser`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// `runAsGroup`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// `readOnlyRootFilesystem`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    /// `allowPrivilegeEscalation`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// SELinux type. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub selinux_type: String,
    /// `default` or `unmasked` (case-insensitive; other values are ignored with a log line
    /// when the pod is built). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub proc_mount: String,
    /// `[...seccomp_profile]`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SecurityProfile>,
    /// `[...app_armor_profile]`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_armor_profile: Option<SecurityProfile>,
}

/// `[...capabilities]` of a container security context.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Added capabilities. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Dropped capabilities. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// A seccomp or AppArmor profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityProfile {
    /// `RuntimeDefault`, `Localhost` or `Unconfined`. Default: empty.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub profile_type: String,
    /// Profile on the node, required for `Localhost`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub localhost_profile: String,
}
