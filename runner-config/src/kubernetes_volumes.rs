//! [`KubernetesVolumes`]: `[runners.kubernetes.volumes]` and its seven kinds of volume.
//!
//! `name` and `mount_path` are required for every kind; `sub_path` mounts a sub-directory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::skip::is_false;

/// `[runners.kubernetes.volumes]`: each kind is an array of tables
/// (`[[runners.kubernetes.volumes.empty_dir]]`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesVolumes {
    /// Host directories. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_path: Vec<HostPathVolume>,
    /// Persistent volume claims. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pvc: Vec<PvcVolume>,
    /// Config maps. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map: Vec<ConfigMapVolume>,
    /// Secrets. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret: Vec<SecretVolume>,
    /// Empty directories (node disk or memory). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub empty_dir: Vec<EmptyDirVolume>,
    /// CSI volumes. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub csi: Vec<CsiVolume>,
    /// NFS shares; `server` and `path` are required (checked at load). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nfs: Vec<NfsVolume>,
}

/// `[[runners.kubernetes.volumes.host_path]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostPathVolume {
    /// Volume name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty, the volume root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Path on the host. Default: empty, which means `mount_path`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host_path: String,
    /// Mount propagation (`None`, `HostToContainer`, `Bidirectional`). Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
}

/// `[[runners.kubernetes.volumes.pvc]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PvcVolume {
    /// Volume and claim name; may contain variables such as `$CI_CONCURRENT_ID`. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Mount propagation. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
}

/// `[[runners.kubernetes.volumes.config_map]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigMapVolume {
    /// Volume and config map name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Keys to project, key to relative path. Default: none, every key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, String>,
}

/// `[[runners.kubernetes.volumes.secret]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretVolume {
    /// Volume and secret name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Keys to project, key to relative path. Default: none, every key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, String>,
}

/// `[[runners.kubernetes.volumes.empty_dir]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmptyDirVolume {
    /// Volume name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// `""` for node disk or `"Memory"` for tmpfs. Default: empty, node disk.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub medium: String,
    /// Size limit, a Kubernetes quantity (`"512Mi"`). Default: empty, none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub size_limit: String,
    /// Mount propagation. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
}

/// `[[runners.kubernetes.volumes.csi]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CsiVolume {
    /// Volume name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// CSI driver name. Required.
    pub driver: String,
    /// Filesystem type. Default: empty, the driver's choice.
    pub fs_type: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Driver-specific attributes. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_attributes: BTreeMap<String, String>,
}

/// `[[runners.kubernetes.volumes.nfs]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NfsVolume {
    /// Volume name. Required.
    pub name: String,
    /// Mount path in the containers. Required.
    pub mount_path: String,
    /// Sub-directory to mount. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    /// NFS server. Required.
    pub server: String,
    /// Exported path. Required.
    pub path: String,
    /// Mount read-only. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
}

impl NfsVolume {
    /// The required fields that are empty, in upstream's order (`name`, `mount_path`,
    /// `server`, `path`).
    pub fn missing_fields(&self) -> Vec<&'static str> {
        [
            ("name", &self.name),
            ("mount_path", &self.mount_path),
            ("server", &self.server),
            ("path", &self.path),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
        .collect()
    }
}
