//! From `runner-config`'s `[runners.kubernetes]` section to [`Settings`] and [`ClusterAccess`]:
//! defaults applied (`poll_interval` 3 s, `poll_timeout` 180 s, cleanup 5 min), empty strings
//! read as "unset", and the snake_case affinity tables turned into Kubernetes' JSON shape.

use std::path::PathBuf;

use runner_config::KubernetesConfig;

use crate::client::ClusterAccess;
use crate::settings::{
    ContainerSecurityContext, EmptyDirVolume, HostAlias, HostPathVolume, Mount, PodSecurityContext,
    Profile, ProjectedVolume, PvcVolume, Resources, Settings, Volumes,
};

impl Settings {
    /// The executor settings of a `[runners.kubernetes]` section.
    pub fn from_config(config: &KubernetesConfig) -> Self {
        let resources = |prefix: &str| -> Resources {
            let value = serde_json::to_value(config).unwrap_or_default();
            let get = |key: &str| {
                value
                    .get(format!("{prefix}{key}"))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            Resources {
                cpu_limit: get("cpu_limit"),
                cpu_request: get("cpu_request"),
                memory_limit: get("memory_limit"),
                memory_request: get("memory_request"),
                ephemeral_storage_limit: get("ephemeral_storage_limit"),
                ephemeral_storage_request: get("ephemeral_storage_request"),
                cpu_limit_overwrite_max_allowed: get("cpu_limit_overwrite_max_allowed"),
                cpu_request_overwrite_max_allowed: get("cpu_request_overwrite_max_allowed"),
                memory_limit_overwrite_max_allowed: get("memory_limit_overwrite_max_allowed"),
                memory_request_overwrite_max_allowed: get("memory_request_overwrite_max_allowed"),
                ephemeral_storage_limit_overwrite_max_allowed: get(
                    "ephemeral_storage_limit_overwrite_max_allowed",
                ),
                ephemeral_storage_request_overwrite_max_allowed: get(
                    "ephemeral_storage_request_overwrite_max_allowed",
                ),
            }
        };
        let affinity = serde_json::to_value(&config.affinity)
            .ok()
            .map(camel_case_keys)
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
        Self {
            namespace: config.namespace.clone(),
            namespace_per_job: config.namespace_per_job,
            service_account: non_empty(&config.service_account),
            namespace_overwrite_allowed: non_empty(&config.namespace_overwrite_allowed),
            service_account_overwrite_allowed: non_empty(&config.service_account_overwrite_allowed),
            pod_labels_overwrite_allowed: non_empty(&config.pod_labels_overwrite_allowed),
            pod_annotations_overwrite_allowed: non_empty(&config.pod_annotations_overwrite_allowed),
            node_selector_overwrite_allowed: non_empty(&config.node_selector_overwrite_allowed),
            node_tolerations_overwrite_allowed: non_empty(
                &config.node_tolerations_overwrite_allowed,
            ),
            automount_service_account_token: config.automount_service_account_token,
            image: non_empty(&config.image),
            image_pull_secrets: config.image_pull_secrets.clone(),
            use_service_account_image_pull_secrets: config.use_service_account_image_pull_secrets,
            node_selector: config.node_selector.clone(),
            node_tolerations: config.node_tolerations.clone(),
            affinity,
            pod_labels: config.pod_labels.clone(),
            pod_annotations: config.pod_annotations.clone(),
            host_aliases: config
                .host_aliases
                .iter()
                .map(|a| HostAlias {
                    ip: a.ip.clone(),
                    hostnames: a.hostnames.clone(),
                })
                .collect(),
            scheduler_name: non_empty(&config.scheduler_name),
            priority_class_name: non_empty(&config.priority_class_name),
            runtime_class_name: config.runtime_class_name.clone().filter(|s| !s.is_empty()),
            dns_policy: non_empty(&config.dns_policy),
            pull_policy: config.pull_policy.as_slice().to_vec(),
            allowed_pull_policies: config.allowed_pull_policies.clone(),
            allowed_images: config.allowed_images.clone(),
            allowed_services: config.allowed_services.clone(),
            allowed_users: config.allowed_users.clone(),
            allowed_groups: config.allowed_groups.clone(),
            helper_image: non_empty(&config.helper_image),
            helper_image_flavor: non_empty(&config.helper_image_flavor),
            privileged: config.privileged,
            allow_privilege_escalation: config.allow_privilege_escalation,
            cap_add: config.cap_add.clone(),
            cap_drop: config.cap_drop.clone(),
            pod_security_context: pod_context(&config.pod_security_context),
            build_container_security_context: container_context(
                &config.build_container_security_context,
            ),
            helper_container_security_context: container_context(
                &config.helper_container_security_context,
            ),
            service_container_security_context: container_context(
                &config.service_container_security_context,
            ),
            init_permissions_container_security_context: container_context(
                &config.init_permissions_container_security_context,
            ),
            build_resources: resources(""),
            helper_resources: resources("helper_"),
            service_resources: resources("service_"),
            volumes: volumes(&config.volumes),
            services: config
                .services
                .iter()
                .map(|s| runner_executor::Image {
                    name: s.name.clone(),
                    alias: s.alias.clone(),
                    command: s.command.clone(),
                    entrypoint: s.entrypoint.clone(),
                    variables: s
                        .environment
                        .iter()
                        .filter_map(|e| e.split_once('='))
                        .map(|(k, v)| runner_executor::Variable::new(k, v))
                        .collect(),
                    ..runner_executor::Image::default()
                })
                .collect(),
            poll_interval: config.effective_poll_interval(),
            poll_timeout: config.effective_poll_timeout(),
            pod_termination_grace_period_seconds: config.pod_termination_grace_period_seconds,
            cleanup_grace_period_seconds: config.cleanup_grace_period_seconds,
            cleanup_resources_timeout: config.effective_cleanup_resources_timeout(),
            retry_limit: config.effective_retry_limit(),
            retry_backoff_max: config.effective_retry_backoff_max(),
            logs_base_dir: config.logs_base_dir.clone(),
            scripts_base_dir: config.scripts_base_dir.clone(),
            ..Self::default()
        }
    }
}

impl ClusterAccess {
    /// `host` (with `ca_file`, `cert_file`, `key_file`, `bearer_token`) when set, otherwise the
    /// kubeconfig at `kubeconfig` with `context`. In-cluster access is the caller's choice
    /// ([`ClusterAccess::InCluster`]), since it depends on the process environment.
    pub fn from_config(config: &KubernetesConfig, kubeconfig: PathBuf) -> Self {
        if config.host.is_empty() {
            return Self::Kubeconfig {
                path: kubeconfig,
                context: non_empty(&config.context),
            };
        }
        let path = |value: &str| non_empty(value).map(PathBuf::from);
        Self::Explicit {
            host: config.host.clone(),
            ca_file: path(&config.ca_file),
            cert_file: path(&config.cert_file),
            key_file: path(&config.key_file),
            bearer_token: non_empty(config.bearer_token.expose()),
        }
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn profile(profile: Option<&runner_config::SecurityProfile>) -> Option<Profile> {
    profile.map(|p| Profile {
        profile_type: p.profile_type.clone(),
        localhost_profile: non_empty(&p.localhost_profile),
    })
}

fn pod_context(config: &runner_config::PodSecurityContext) -> PodSecurityContext {
    PodSecurityContext {
        fs_group: config.fs_group,
        run_as_group: config.run_as_group,
        run_as_user: config.run_as_user,
        run_as_non_root: config.run_as_non_root,
        supplemental_groups: config.supplemental_groups.clone(),
        selinux_type: non_empty(&config.selinux_type),
        seccomp_profile: profile(config.seccomp_profile.as_ref()),
    }
}

fn container_context(config: &runner_config::ContainerSecurityContext) -> ContainerSecurityContext {
    ContainerSecurityContext {
        privileged: config.privileged,
        run_as_user: config.run_as_user,
        run_as_group: config.run_as_group,
        run_as_non_root: config.run_as_non_root,
        read_only_root_filesystem: config.read_only_root_filesystem,
        allow_privilege_escalation: config.allow_privilege_escalation,
        selinux_type: non_empty(&config.selinux_type),
        proc_mount: non_empty(&config.proc_mount),
        capabilities_add: config.capabilities.as_ref().map(|c| c.add.clone()),
        capabilities_drop: config.capabilities.as_ref().map(|c| c.drop.clone()),
        seccomp_profile: profile(config.seccomp_profile.as_ref()),
        app_armor_profile: profile(config.app_armor_profile.as_ref()),
    }
}

fn mount(
    name: &str,
    mount_path: &str,
    sub_path: &str,
    read_only: bool,
    propagation: Option<&String>,
) -> Mount {
    Mount {
        name: name.to_owned(),
        mount_path: mount_path.to_owned(),
        sub_path: non_empty(sub_path),
        read_only,
        mount_propagation: propagation.cloned(),
    }
}

fn volumes(config: &runner_config::KubernetesVolumes) -> Volumes {
    Volumes {
        host_path: config
            .host_path
            .iter()
            .map(|v| HostPathVolume {
                mount: mount(
                    &v.name,
                    &v.mount_path,
                    &v.sub_path,
                    v.read_only,
                    v.mount_propagation.as_ref(),
                ),
                host_path: non_empty(&v.host_path),
            })
            .collect(),
        pvc: config
            .pvc
            .iter()
            .map(|v| PvcVolume {
                mount: mount(
                    &v.name,
                    &v.mount_path,
                    &v.sub_path,
                    v.read_only,
                    v.mount_propagation.as_ref(),
                ),
            })
            .collect(),
        config_map: config
            .config_map
            .iter()
            .map(|v| ProjectedVolume {
                mount: mount(&v.name, &v.mount_path, &v.sub_path, v.read_only, None),
                items: v.items.clone(),
            })
            .collect(),
        secret: config
            .secret
            .iter()
            .map(|v| ProjectedVolume {
                mount: mount(&v.name, &v.mount_path, &v.sub_path, v.read_only, None),
                items: v.items.clone(),
            })
            .collect(),
        empty_dir: config
            .empty_dir
            .iter()
            .map(|v| EmptyDirVolume {
                mount: mount(
                    &v.name,
                    &v.mount_path,
                    &v.sub_path,
                    false,
                    v.mount_propagation.as_ref(),
                ),
                medium: v.medium.clone(),
                size_limit: non_empty(&v.size_limit),
            })
            .collect(),
    }
}

/// `node_selector_terms` → `nodeSelectorTerms`, recursively; user label maps keep their keys.
fn camel_case_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(key, inner)| {
                    let inner = if key == "match_labels" {
                        inner
                    } else {
                        camel_case_keys(inner)
                    };
                    (camel(&key), inner)
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(camel_case_keys).collect())
        }
        other => other,
    }
}

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_config_maps_onto_settings() {
        let toml = r#"
            namespace = "ci"
            poll_timeout = 600
            cpu_limit = "2"
            helper_memory_request_overwrite_max_allowed = "1Gi"
            [build_container_security_context]
            read_only_root_filesystem = true
            [[volumes.empty_dir]]
            name = "repo"
            mount_path = "/builds"
            medium = "Memory"
            [affinity.node_affinity.required_during_scheduling_ignored_during_execution]
            [[affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms]]
            [[affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms.match_expressions]]
            key = "pool"
            operator = "In"
            values = ["ci"]
        "#;
        let config: KubernetesConfig = toml::from_str(toml).unwrap();
        let settings = Settings::from_config(&config);
        assert_eq!(settings.namespace, "ci");
        assert_eq!(settings.poll_timeout, std::time::Duration::from_secs(600));
        assert_eq!(settings.poll_interval, std::time::Duration::from_secs(3));
        assert_eq!(settings.build_resources.cpu_limit.as_deref(), Some("2"));
        assert_eq!(
            settings
                .helper_resources
                .memory_request_overwrite_max_allowed
                .as_deref(),
            Some("1Gi")
        );
        assert_eq!(
            settings
                .build_container_security_context
                .read_only_root_filesystem,
            Some(true)
        );
        assert_eq!(settings.volumes.empty_dir[0].medium, "Memory");
        let affinity: k8s_openapi::api::core::v1::Affinity =
            serde_json::from_value(settings.affinity.unwrap()).unwrap();
        let terms = affinity
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms;
        assert_eq!(terms[0].match_expressions.as_ref().unwrap()[0].key, "pool");
    }

    #[test]
    fn host_wins_over_kubeconfig() {
        let config = KubernetesConfig {
            host: "https://k8s:6443".to_owned(),
            ..KubernetesConfig::default()
        };
        assert!(matches!(
            ClusterAccess::from_config(&config, "/kube".into()),
            ClusterAccess::Explicit { .. }
        ));
        let config = KubernetesConfig {
            context: "ci".to_owned(),
            ..KubernetesConfig::default()
        };
        match ClusterAccess::from_config(&config, "/kube".into()) {
            ClusterAccess::Kubeconfig { context, .. } => assert_eq!(context.as_deref(), Some("ci")),
            other => panic!("{other:?}"),
        }
    }
}
