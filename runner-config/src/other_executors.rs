//! The sections of the other executors: `[runners.ssh]`, `[runners.custom]`,
//! `[runners.parallels]`, `[runners.virtualbox]`, `[runners.instance]`, `[runners.machine]`
//! and `[runners.autoscaler]`.
//!
//! gitlab-runner-rs runs shell, Docker and Kubernetes jobs only; these sections are modelled
//! so that configurations written for upstream load without warnings and survive edits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::secret::Secret;
use crate::skip::{is_default, is_false, is_zero};

/// `[runners.ssh]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SshConfig {
    /// User name. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Password. Default: empty.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// Remote host. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// Remote port, as a string. Default: empty, 22.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub port: String,
    /// Identity file. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identity_file: String,
    /// Disable strict host key checking. Default: unset, `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_strict_host_key_checking: Option<bool>,
    /// known_hosts file. Default: empty, `~/.ssh/known_hosts`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub known_hosts_file: String,
}

/// `[runners.custom]`: user-provided executor drivers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomConfig {
    /// Config stage executable. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub config_exec: String,
    /// Its arguments. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_args: Vec<String>,
    /// Its timeout in seconds. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_exec_timeout: Option<i64>,
    /// Prepare stage executable. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prepare_exec: String,
    /// Its arguments. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prepare_args: Vec<String>,
    /// Its timeout in seconds. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepare_exec_timeout: Option<i64>,
    /// Run stage executable. Required.
    pub run_exec: String,
    /// Its arguments. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run_args: Vec<String>,
    /// Cleanup stage executable. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cleanup_exec: String,
    /// Its arguments. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleanup_args: Vec<String>,
    /// Its timeout in seconds. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_exec_timeout: Option<i64>,
    /// Seconds between SIGTERM and the forceful kill. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graceful_kill_timeout: Option<i64>,
    /// Seconds to wait after the forceful kill. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_kill_timeout: Option<i64>,
}

/// `[runners.parallels]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParallelsConfig {
    /// VM to clone. Default: empty.
    pub base_name: String,
    /// Template name. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template_name: String,
    /// Do not use snapshots. Default: `false`.
    pub disable_snapshots: bool,
    /// Time server. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time_server: String,
    /// Allowed images. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
}

/// `[runners.virtualbox]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VirtualBoxConfig {
    /// VM to clone. Default: empty.
    pub base_name: String,
    /// Snapshot to clone from. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub base_snapshot: String,
    /// Folder of new VMs. Default: empty.
    pub base_folder: String,
    /// Do not use snapshots. Default: `false`.
    pub disable_snapshots: bool,
    /// Allowed images. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
    /// VM start type. Default: empty.
    pub start_type: String,
}

/// `[runners.instance]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConfig {
    /// Allowed images. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_images: Vec<String>,
    /// Share one build directory between jobs. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub use_common_build_dir: bool,
}

/// `[runners.machine]`: the docker+machine provider. Keys are CamelCase upstream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerMachine {
    /// Machines provisioned concurrently. Default: `0`, unlimited.
    #[serde(rename = "MaxGrowthRate", skip_serializing_if = "is_zero")]
    pub max_growth_rate: i64,
    /// Maximum idle machines. Default: `0`.
    #[serde(rename = "IdleCount")]
    pub idle_count: i64,
    /// Idle machines as a factor of machines in use. Default: `0.0`, static `IdleCount`.
    #[serde(rename = "IdleScaleFactor")]
    pub idle_scale_factor: f64,
    /// Minimum idle machines with `IdleScaleFactor`. Default: `0`, which means 1.
    #[serde(rename = "IdleCountMin")]
    pub idle_count_min: i64,
    /// Seconds before an idle machine is removed. Default: `0`.
    #[serde(rename = "IdleTime", skip_serializing_if = "is_zero")]
    pub idle_time: i64,
    /// Jobs per machine before it is removed. Default: `0`, unlimited.
    #[serde(rename = "MaxBuilds", skip_serializing_if = "is_zero")]
    pub max_builds: i64,
    /// docker-machine driver. Default: empty.
    #[serde(rename = "MachineDriver")]
    pub machine_driver: String,
    /// Machine name template, must contain `%s`. Default: empty.
    #[serde(rename = "MachineName")]
    pub machine_name: String,
    /// Machine creation options. Default: none.
    #[serde(rename = "MachineOptions", skip_serializing_if = "Vec::is_empty")]
    pub machine_options: Vec<String>,
    /// Options that reference the machine name; each must contain `%s` (checked at load).
    /// Default: none.
    #[serde(
        rename = "MachineOptionsWithName",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub machine_options_with_name: Vec<String>,
    /// Removal attempts before giving up. Default: `0`, which means 30.
    #[serde(rename = "MaxRemovalAttempts", skip_serializing_if = "is_zero")]
    pub max_removal_attempts: i64,
    /// Deprecated: off-peak periods. Default: none.
    #[serde(rename = "OffPeakPeriods", skip_serializing_if = "Vec::is_empty")]
    pub off_peak_periods: Vec<String>,
    /// Deprecated: off-peak time zone. Default: empty.
    #[serde(rename = "OffPeakTimezone", skip_serializing_if = "String::is_empty")]
    pub off_peak_timezone: String,
    /// Deprecated: off-peak idle count. Default: `0`.
    #[serde(rename = "OffPeakIdleCount", skip_serializing_if = "is_zero")]
    pub off_peak_idle_count: i64,
    /// Deprecated: off-peak idle time. Default: `0`.
    #[serde(rename = "OffPeakIdleTime", skip_serializing_if = "is_zero")]
    pub off_peak_idle_time: i64,
    /// `[[runners.machine.autoscaling]]`; the last matching entry wins. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub autoscaling: Vec<MachineAutoscaling>,
}

/// `[[runners.machine.autoscaling]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MachineAutoscaling {
    /// Cron expressions of the period. Default: none.
    #[serde(rename = "Periods", skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<String>,
    /// Time zone of the periods. Default: empty, local time.
    #[serde(rename = "Timezone")]
    pub timezone: String,
    /// Maximum idle machines. Default: `0`.
    #[serde(rename = "IdleCount")]
    pub idle_count: i64,
    /// Idle machines as a factor of machines in use. Default: `0.0`.
    #[serde(rename = "IdleScaleFactor")]
    pub idle_scale_factor: f64,
    /// Minimum idle machines. Default: `0`.
    #[serde(rename = "IdleCountMin")]
    pub idle_count_min: i64,
    /// Seconds before an idle machine is removed. Default: `0`.
    #[serde(rename = "IdleTime")]
    pub idle_time: i64,
}

/// `[runners.autoscaler]`: the fleeting-based autoscaler (`docker-autoscaler`, `instance`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoscalerConfig {
    /// Jobs per instance at once. Default: `0`.
    pub capacity_per_instance: i64,
    /// Jobs per instance before it is removed. Default: `0`, unlimited.
    pub max_use_count: i64,
    /// Maximum instances. Default: `0`.
    pub max_instances: i64,
    /// Fleeting plugin. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub plugin: String,
    /// `[runners.autoscaler.plugin_config]`: passed to the plugin as is. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plugin_config: BTreeMap<String, toml::Value>,
    /// `[runners.autoscaler.connector_config]`. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub connector_config: ConnectorConfig,
    /// `[[runners.autoscaler.policy]]`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<AutoscalerPolicy>,
    /// Command that tells an instance is ready. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instance_ready_command: String,
    /// Bound of acquiring an instance. Default: zero.
    pub instance_acquire_timeout: GoDuration,
    /// Provider refresh interval. Default: zero.
    pub update_interval: GoDuration,
    /// Refresh interval while instances are expected. Default: zero.
    pub update_interval_when_expecting: GoDuration,
    /// Interval between deletion retries. Default: zero.
    pub deletion_retry_interval: GoDuration,
    /// Interval between deletions at shutdown. Default: zero.
    pub shutdown_deletion_interval: GoDuration,
    /// Deletion retries at shutdown. Default: `0`.
    pub shutdown_deletion_retries: i64,
    /// Failures before an instance is removed. Default: `0`.
    pub failure_threshold: i64,
    /// `[runners.autoscaler.scale_throttle]`. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub scale_throttle: ScaleThrottle,
    /// Throttle reservations. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_throttling: Option<bool>,
    /// Log the internal IP of instances. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub log_internal_ip: bool,
    /// Log the external IP of instances. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub log_external_ip: bool,
    /// Delete instances at shutdown. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub delete_instances_on_shutdown: bool,
    /// `[runners.autoscaler.vm_isolation]`. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub vm_isolation: VmIsolation,
    /// `[runners.autoscaler.state_storage]`. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub state_storage: StateStorage,
    /// Histogram buckets of instance operations. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_operation_time_buckets: Vec<f64>,
    /// Histogram buckets of instance creation. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_creation_time_buckets: Vec<f64>,
    /// Histogram buckets of instance running checks. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_is_running_time_buckets: Vec<f64>,
    /// Histogram buckets of instance deletion. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_deletion_time_buckets: Vec<f64>,
    /// Histogram buckets of instance readiness. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_readiness_time_buckets: Vec<f64>,
    /// Histogram buckets of instance lifetimes. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_life_duration_buckets: Vec<f64>,
}

/// `[runners.autoscaler.connector_config]`: how the runner reaches an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectorConfig {
    /// Instance OS. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// Instance architecture. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// `ssh` or `winrm`. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Port of the protocol. Default: `0`, the protocol's default.
    pub protocol_port: i64,
    /// User name. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password. Default: empty.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// Private key file. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_path: String,
    /// Use the static credentials above. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub use_static_credentials: bool,
    /// Keep-alive interval. Default: zero.
    pub keepalive: GoDuration,
    /// Connection timeout. Default: zero.
    pub timeout: GoDuration,
    /// Connect to the external address. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub use_external_addr: bool,
}

/// `[[runners.autoscaler.policy]]` (also `[[runners.kubernetes.autoscaler.policy]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoscalerPolicy {
    /// Cron expressions of the period. Default: none, always.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<String>,
    /// Time zone of the periods. Default: empty, local time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    /// Idle capacity to keep. Default: `0`.
    pub idle_count: i64,
    /// How long idle capacity is kept. Default: zero.
    pub idle_time: GoDuration,
    /// Idle capacity as a factor of capacity in use. Default: `0.0`.
    pub scale_factor: f64,
    /// Upper bound of the scaled idle capacity. Default: `0`.
    pub scale_factor_limit: i64,
    /// Only accept jobs when idle capacity exists. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptive_mode: Option<bool>,
}

/// `[runners.autoscaler.scale_throttle]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleThrottle {
    /// Instances created per second. Default: `0`.
    pub limit: i64,
    /// Burst of instance creations. Default: `0`.
    pub burst: i64,
}

/// `[runners.autoscaler.vm_isolation]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmIsolation {
    /// Run jobs in nested VMs. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Nesting daemon address. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nesting_host: String,
    /// Nesting settings, passed as is. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nesting_config: BTreeMap<String, toml::Value>,
    /// VM image. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// How to reach the nested VM. Default: unset.
    #[serde(skip_serializing_if = "is_default")]
    pub connector_config: ConnectorConfig,
}

/// `[runners.autoscaler.state_storage]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateStorage {
    /// Persist instance state. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    /// Directory of the state. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// Keep instances that still have acquisitions. Default: `false`.
    #[serde(skip_serializing_if = "is_false")]
    pub keep_instance_with_acquisitions: bool,
}
