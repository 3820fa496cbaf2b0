//! The build pod (executors.md §8.3): metadata, the `build`, `helper` and service containers, the
//! optional `init-permissions` init container, volumes, scheduling and security settings.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, HostAlias as K8sHostAlias, LocalObjectReference, Pod, PodSpec,
    ResourceRequirements, SecurityContext, Toleration, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runner_executor::JobSpec;

use crate::services::{PodService, host_alias_names};
use crate::settings::Settings;

/// Everything decided during `prepare` that the pod needs.
#[derive(Debug, Clone)]
pub(crate) struct PodInputs<'a> {
    pub(crate) job: &'a JobSpec,
    pub(crate) settings: &'a Settings,
    pub(crate) pod_name: String,
    pub(crate) namespace: String,
    pub(crate) image: String,
    pub(crate) helper_image: String,
    pub(crate) builds_dir: String,
    pub(crate) services: Vec<PodService>,
    /// First effective pull policy per container name (empty = cluster default).
    pub(crate) pull_policies: BTreeMap<String, String>,
    pub(crate) pull_secret: Option<String>,
    pub(crate) build_resources: Option<ResourceRequirements>,
    pub(crate) helper_resources: Option<ResourceRequirements>,
    pub(crate) service_resources: Option<ResourceRequirements>,
    pub(crate) service_account: Option<String>,
    /// The user the job asked its build container to run as, already allowed.
    pub(crate) job_user: Option<crate::users::JobUser>,
}

/// Builds the pod; errors are configuration errors (bad affinity, alias, DNS policy).
pub(crate) fn build_pod(inputs: &PodInputs<'_>) -> Result<Pod, String> {
    let job = inputs.job;
    let settings = inputs.settings;
    let (volumes, mounts) = crate::volumes::volumes(&settings.volumes, &inputs.builds_dir)?;
    let dumb_init = job
        .feature_flag("FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR")
        .unwrap_or(false);
    let scripts_dir = crate::helper_binary::scripts_dir(settings, job);
    let helper_binary = crate::helper_binary::needed(job);
    let mut mounts = mounts;
    let mut volumes = volumes;
    if dumb_init || helper_binary {
        // Shared by the init container that installs dumb-init and our helper binary, and by
        // the containers that run them.
        volumes.push(k8s_openapi::api::core::v1::Volume {
            name: "scripts".to_owned(),
            empty_dir: Some(Default::default()),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "scripts".to_owned(),
            mount_path: scripts_dir.clone(),
            ..Default::default()
        });
    }
    let shell_command = if dumb_init {
        let mut command = vec![format!("{scripts_dir}/dumb-init"), "--".to_owned()];
        command.extend(crate::shell::detect_shell_command());
        command
    } else {
        crate::shell::detect_shell_command()
    };

    let mut containers = vec![
        Container {
            name: "build".to_owned(),
            image: Some(inputs.image.clone()),
            image_pull_policy: policy(inputs, "build"),
            command: Some(shell_command.clone()),
            args: job
                .image
                .as_ref()
                .filter(|i| !i.command.is_empty())
                .map(|i| i.command.clone()),
            env: Some(pod_env(job, &[])),
            resources: inputs.build_resources.clone(),
            security_context: with_job_user(
                crate::security::container_context(
                    settings,
                    &settings.build_container_security_context,
                ),
                inputs.job_user,
            ),
            stdin: Some(true),
            volume_mounts: Some(mounts.clone()),
            ..Container::default()
        },
        Container {
            name: "helper".to_owned(),
            image: Some(inputs.helper_image.clone()),
            image_pull_policy: policy(inputs, "helper"),
            command: Some(shell_command),
            resources: inputs.helper_resources.clone(),
            security_context: crate::security::container_context(
                settings,
                &settings.helper_container_security_context,
            ),
            stdin: Some(true),
            volume_mounts: Some(mounts.clone()),
            ..Container::default()
        },
    ];
    for service in &inputs.services {
        let image = &service.image;
        containers.push(Container {
            name: service.container_name.clone(),
            image: Some(image.name.clone()),
            image_pull_policy: policy(inputs, &service.container_name),
            command: (!image.entrypoint.is_empty()).then(|| image.entrypoint.clone()),
            args: (!image.command.is_empty()).then(|| image.command.clone()),
            env: Some(pod_env(job, &image.variables)),
            resources: inputs.service_resources.clone(),
            security_context: crate::security::container_context(
                settings,
                &settings.service_container_security_context,
            ),
            volume_mounts: Some(mounts.clone()),
            ..Container::default()
        });
    }
    let init_containers = crate::helper_binary::init_container(
        Container {
            image: Some(inputs.helper_image.clone()),
            image_pull_policy: policy(inputs, "helper"),
            resources: inputs.helper_resources.clone(),
            security_context: init_context(settings),
            volume_mounts: Some(mounts.clone()),
            ..Container::default()
        },
        &scripts_dir,
        helper_binary,
        dumb_init,
    )
    .map(|container| vec![container]);

    let mut host_aliases = Vec::new();
    let service_names = host_alias_names(&inputs.services)?;
    if !service_names.is_empty() {
        host_aliases.push(K8sHostAlias {
            ip: "127.0.0.1".to_owned(),
            hostnames: Some(service_names),
        });
    }
    for alias in &settings.host_aliases {
        host_aliases.push(K8sHostAlias {
            ip: alias.ip.clone(),
            hostnames: Some(alias.hostnames.clone()),
        });
    }

    let affinity = match &settings.affinity {
        Some(value) => Some(
            serde_json::from_value::<Affinity>(value.clone())
                .map_err(|e| format!("invalid affinity: {e}"))?,
        ),
        None => None,
    };
    let mut image_pull_secrets: Vec<LocalObjectReference> = settings
        .image_pull_secrets
        .iter()
        .map(|name| LocalObjectReference { name: name.clone() })
        .collect();
    if let Some(secret) = &inputs.pull_secret {
        image_pull_secrets.push(LocalObjectReference {
            name: secret.clone(),
        });
    }
    let active_deadline = job
        .feature_flag("FF_USE_POD_ACTIVE_DEADLINE_SECONDS")
        .unwrap_or(true)
        .then(|| {
            i64::try_from(job.timeout.as_secs())
                .unwrap_or(i64::MAX)
                .saturating_add(1)
        });

    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(inputs.pod_name.clone()),
            namespace: Some(inputs.namespace.clone()),
            labels: Some(crate::metadata::labels(job, settings)),
            annotations: Some(crate::metadata::annotations(job, settings)),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_owned()),
            volumes: Some(volumes),
            scheduler_name: settings.scheduler_name.clone(),
            service_account_name: inputs.service_account.clone(),
            automount_service_account_token: settings.automount_service_account_token,
            node_selector: (!settings.node_selector.is_empty())
                .then(|| settings.node_selector.clone()),
            tolerations: tolerations(&settings.node_tolerations),
            init_containers,
            containers,
            termination_grace_period_seconds: settings.pod_termination_grace_period_seconds,
            active_deadline_seconds: active_deadline,
            image_pull_secrets: (!settings.use_service_account_image_pull_secrets
                && !image_pull_secrets.is_empty())
            .then_some(image_pull_secrets),
            security_context: crate::security::pod_context(&settings.pod_security_context),
            host_aliases: (!host_aliases.is_empty()).then_some(host_aliases),
            affinity,
            dns_policy: dns_policy(settings.dns_policy.as_deref())?,
            priority_class_name: settings.priority_class_name.clone(),
            runtime_class_name: settings.runtime_class_name.clone(),
            ..PodSpec::default()
        }),
        status: None,
    })
}

fn policy(inputs: &PodInputs<'_>, container: &str) -> Option<String> {
    inputs
        .pull_policies
        .get(container)
        .filter(|p| !p.is_empty())
        .cloned()
}

/// The job's `image: kubernetes: user` wins over the configured build context's IDs.
fn with_job_user(
    context: Option<SecurityContext>,
    user: Option<crate::users::JobUser>,
) -> Option<SecurityContext> {
    let Some(user) = user else {
        return context;
    };
    let mut context = context.unwrap_or_default();
    context.run_as_user = Some(user.uid);
    if let Some(gid) = user.gid {
        context.run_as_group = Some(gid);
    }
    Some(context)
}

fn init_context(settings: &Settings) -> Option<SecurityContext> {
    crate::security::container_context(
        settings,
        &settings.init_permissions_container_security_context,
    )
}

/// Public job variables, runner `environment` and service variables; masked or non-public
/// values stay out of the pod spec (the scripts export them).
fn pod_env(job: &JobSpec, extra: &[runner_executor::Variable]) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = Vec::new();
    let mut push = |key: &str, value: &str| {
        env.retain(|e| e.name != key);
        env.push(EnvVar {
            name: key.to_owned(),
            value: Some(value.to_owned()),
            value_from: None,
        });
    };
    for variable in job
        .variables
        .iter()
        .chain(extra)
        .filter(|v| v.public && !v.masked && !v.file)
    {
        push(&variable.key, &variable.value);
    }
    for entry in &job.runner.environment {
        if let Some((key, value)) = entry.split_once('=') {
            push(key, value);
        }
    }
    env
}

/// `node_tolerations`: `key=value` → `Equal`, `key` → `Exists`; the value is the effect.
fn tolerations(config: &BTreeMap<String, String>) -> Option<Vec<Toleration>> {
    let list: Vec<Toleration> = config
        .iter()
        .map(|(key, effect)| {
            let effect = (!effect.is_empty()).then(|| effect.clone());
            match key.split_once('=') {
                Some((key, value)) => Toleration {
                    key: Some(key.to_owned()),
                    operator: Some("Equal".to_owned()),
                    value: Some(value.to_owned()),
                    effect,
                    ..Toleration::default()
                },
                None => Toleration {
                    key: (!key.is_empty()).then(|| key.clone()),
                    operator: Some("Exists".to_owned()),
                    effect,
                    ..Toleration::default()
                },
            }
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

fn dns_policy(value: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let policy = match value {
        "none" => "None",
        "default" => "Default",
        "cluster-first" => "ClusterFirst",
        "cluster-first-with-host-net" => "ClusterFirstWithHostNet",
        other => return Err(format!("unsupported kubernetes-dns-policy: {other:?}")),
    };
    Ok(Some(policy.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_follow_the_key_shape() {
        let config = BTreeMap::from([
            ("gpu=true".to_owned(), "NoSchedule".to_owned()),
            ("spot".to_owned(), String::new()),
        ]);
        let list = tolerations(&config).unwrap();
        assert_eq!(list[0].operator.as_deref(), Some("Equal"));
        assert_eq!(list[0].value.as_deref(), Some("true"));
        assert_eq!(list[1].operator.as_deref(), Some("Exists"));
        assert_eq!(list[1].effect, None);
    }

    #[test]
    fn dns_policies() {
        assert_eq!(
            dns_policy(Some("cluster-first")).unwrap().as_deref(),
            Some("ClusterFirst")
        );
        assert_eq!(
            dns_policy(Some("bogus")).unwrap_err(),
            "unsupported kubernetes-dns-policy: \"bogus\""
        );
    }
}
