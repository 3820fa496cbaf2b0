//! Pod-level tables of `[runners.kubernetes]`: affinity, host aliases, DNS, container
//! lifecycle hooks, pod spec patches and the pause-pod autoscaler.
//!
//! The affinity tables mirror the Kubernetes API in snake_case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::other_executors::AutoscalerPolicy;

/// `[runners.kubernetes.affinity]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesAffinity {
    /// `[...affinity.node_affinity]`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// `[...affinity.pod_affinity]`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    /// `[...affinity.pod_anti_affinity]`, same shape as `pod_affinity`. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAffinity>,
}

/// Node affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeAffinity {
    /// Hard requirement. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Weighted preferences. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

/// A node selector: the terms are ORed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeSelector {
    /// `[[...node_selector_terms]]`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

/// A weighted node selector term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreferredSchedulingTerm {
    /// Weight, 1 to 100. Default: `0`.
    pub weight: i32,
    /// The term. Default: empty.
    pub preference: NodeSelectorTerm,
}

/// A node selector term: the requirements are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
    /// Requirements on node fields. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<SelectorRequirement>,
}

/// `key`, `operator` (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`) and `values`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectorRequirement {
    /// Label or field key. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Operator. Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operator: String,
    /// Values. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Pod affinity or anti-affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodAffinity {
    /// Hard requirements. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Weighted preferences. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// A pod affinity term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodAffinityTerm {
    /// Pods the term applies to. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Namespaces of those pods. Default: none, the pod's namespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Topology key (`kubernetes.io/hostname`). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology_key: String,
    /// Namespaces selected by label. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Label keys whose values must match the incoming pod's. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
    /// Label keys whose values must differ from the incoming pod's. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatch_label_keys: Vec<String>,
}

/// A weighted pod affinity term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightedPodAffinityTerm {
    /// Weight, 1 to 100. Default: `0`.
    pub weight: i32,
    /// The term. Default: empty.
    pub pod_affinity_term: PodAffinityTerm,
}

/// A label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelSelector {
    /// Exact label matches. Default: none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// `[[runners.kubernetes.host_aliases]]`: an `/etc/hosts` entry of the job pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostAlias {
    /// IP address. Default: empty.
    pub ip: String,
    /// Host names of that address. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
}

/// `[runners.kubernetes.dns_config]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    /// Name servers. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// `[[...dns_config.options]]`: resolver options. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<DnsConfigOption>,
    /// Search domains. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<String>,
}

/// A resolver option (`ndots = 2`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfigOption {
    /// Option name. Default: empty.
    pub name: String,
    /// Option value. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `[runners.kubernetes.container_lifecycle]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerLifecycle {
    /// Hook run after a container starts. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_start: Option<LifecycleHandler>,
    /// Hook run before a container stops. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<LifecycleHandler>,
}

/// A lifecycle hook: one of `exec`, `http_get`, `tcp_socket`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleHandler {
    /// Run a command. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Send an HTTP GET. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// Open a TCP connection. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
}

/// `exec` hook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecAction {
    /// Command and arguments. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

/// `http_get` hook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpGetAction {
    /// Host. Default: empty, the pod IP.
    pub host: String,
    /// `[[...http_headers]]`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
    /// Path. Default: empty.
    pub path: String,
    /// Port, 1 to 65535. Default: `0`.
    pub port: i64,
    /// `HTTP` or `HTTPS`. Default: empty, HTTP.
    pub scheme: String,
}

/// An HTTP header of an `http_get` hook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpHeader {
    /// Header name. Default: empty.
    pub name: String,
    /// Header value. Default: empty.
    pub value: String,
}

/// `tcp_socket` hook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpSocketAction {
    /// Host. Default: empty, the pod IP.
    pub host: String,
    /// Port. Default: `0`.
    pub port: i64,
}

/// `[[runners.kubernetes.pod_spec]]`: a patch of the generated pod spec (needs
/// `FF_USE_ADVANCED_POD_SPEC_CONFIGURATION`). Exactly one of `patch` and `patch_path`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodSpecPatch {
    /// Name of the patch, used in messages. Default: empty.
    pub name: String,
    /// File holding the patch. Default: empty.
    pub patch_path: String,
    /// The patch itself (YAML or JSON). Default: empty.
    pub patch: String,
    /// `strategic`, `merge` or `json`. Default: empty, which means `strategic`.
    pub patch_type: String,
}

/// `[runners.kubernetes.autoscaler]`: pause pods that keep nodes warm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesAutoscaler {
    /// Maximum pause pods. Default: `0`, unlimited.
    pub max_pause_pods: i64,
    /// Pause pod image. Default: empty, which means `registry.k8s.io/pause:3.10`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pause_pod_image: String,
    /// Priority class of pause pods (lower than job pods). Default: empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pause_pod_priority_class_name: String,
    /// `[[...autoscaler.policy]]`, as `[[runners.autoscaler.policy]]`. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<AutoscalerPolicy>,
    /// Image pull secrets of the pause image. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pause_pod_image_pull_secrets: Vec<String>,
}
