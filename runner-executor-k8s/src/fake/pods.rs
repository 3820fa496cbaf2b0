//! Pod handlers of the fake: create (decoded, validated), get (with the scenario's phase
//! changes), delete, and eviction.

use std::sync::Arc;

use hyper::StatusCode;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio_util::sync::CancellationToken;

use super::http::{Answer, decode, json, key, not_found, status_answer};
use super::{Scenario, State, StoredPod};

pub(crate) fn create_pod(state: &Arc<State>, namespace: &str, body: &[u8]) -> Answer {
    let mut pod: Pod = match decode(body) {
        Ok(pod) => pod,
        Err(answer) => return *answer,
    };
    if let Err(message) = validate_pod(&pod) {
        return status_answer(422, "Invalid", &message);
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut inner = state.lock();
    if inner.pods.contains_key(&key(namespace, &name)) {
        return super::http::already_exists("pods", &name);
    }
    inner.created_pods.push(pod.clone());
    inner.resource_version += 1;
    pod.metadata.namespace = Some(namespace.to_owned());
    pod.metadata.uid = Some(format!("uid-{}", inner.resource_version));
    pod.metadata.resource_version = Some(inner.resource_version.to_string());
    pod.status = Some(pending_status(inner.scenario));
    let scenario = inner.scenario;
    let init_containers = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.clone())
        .unwrap_or_default();
    let killed = CancellationToken::new();
    inner.pods.insert(
        key(namespace, &name),
        StoredPod {
            pod: pod.clone(),
            scenario,
            gets: 0,
            init_done: init_containers.is_empty(),
            killed: killed.clone(),
        },
    );
    drop(inner);
    if !init_containers.is_empty() {
        let task_state = Arc::clone(state);
        let namespace = namespace.to_owned();
        state
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .spawn(async move {
                tokio::select! {
                    () = killed.cancelled() => {}
                    () = run_init_containers(&task_state, &namespace, &name, init_containers) => {}
                }
            });
    }
    json(StatusCode::CREATED, &pod)
}

/// Runs the init containers in order as local processes, as a kubelet would before the
/// containers start: the pod runs only once all have succeeded; the first failure fails the
/// pod (`restartPolicy: Never`) with its exit code and, as `FallbackToLogsOnError` does, the
/// end of its output as the termination message.
async fn run_init_containers(
    state: &Arc<State>,
    namespace: &str,
    name: &str,
    containers: Vec<Container>,
) {
    let mut statuses = Vec::new();
    for container in containers {
        let argv: Vec<String> = container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .cloned()
            .collect();
        let env = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        let (code, message) = if argv.is_empty() {
            (0, String::new())
        } else {
            match super::exec::container_command(&argv, env, &state.work_dir)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
            {
                Ok(output) => {
                    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
                    text.push_str(&String::from_utf8_lossy(&output.stderr));
                    (output.status.code().unwrap_or(137), text)
                }
                Err(error) => (128, error.to_string()),
            }
        };
        statuses.push(ContainerStatus {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    reason: Some(if code == 0 { "Completed" } else { "Error" }.to_owned()),
                    message: (code != 0).then_some(message),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        });
        if code != 0 {
            break;
        }
    }
    let failed = statuses
        .last()
        .and_then(|s| s.state.as_ref()?.terminated.as_ref())
        .is_some_and(|t| t.exit_code != 0);
    let mut inner = state.lock();
    let Some(stored) = inner.pods.get_mut(&key(namespace, name)) else {
        return;
    };
    let status = stored.pod.status.get_or_insert_with(PodStatus::default);
    status.init_container_statuses = Some(statuses);
    if failed {
        status.phase = Some("Failed".to_owned());
    } else {
        stored.init_done = true;
    }
}

/// The checks the real API server makes that k8s-openapi's lenient types do not.
fn validate_pod(pod: &Pod) -> Result<(), String> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    if !is_dns_label(name) {
        return Err(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
        ));
    }
    let spec = pod.spec.as_ref().ok_or("spec: Required value")?;
    if spec.restart_policy.as_deref() != Some("Never") {
        return Err("spec.restartPolicy: the runner must use Never".to_owned());
    }
    let volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    let mut names = Vec::new();
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        if !is_dns_label(&container.name) || names.contains(&container.name) {
            return Err(format!(
                "spec.containers: Invalid value: {:?}: name empty, invalid or duplicated",
                container.name
            ));
        }
        names.push(container.name.clone());
        if container.image.as_deref().is_none_or(str::is_empty) {
            return Err(format!(
                "spec.containers[{}].image: Required value",
                container.name
            ));
        }
        for mount in container.volume_mounts.iter().flatten() {
            if !volumes.contains(&mount.name.as_str()) {
                return Err(format!(
                    "spec.containers[{}].volumeMounts.name: Not found: {:?}",
                    container.name, mount.name
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

fn pending_status(scenario: Scenario) -> PodStatus {
    let scheduled = match scenario {
        Scenario::NeverScheduled => PodCondition {
            type_: "PodScheduled".to_owned(),
            status: "False".to_owned(),
            reason: Some("Unschedulable".to_owned()),
            message: Some("0/3 nodes are available: 3 Insufficient cpu.".to_owned()),
            ..PodCondition::default()
        },
        _ => PodCondition {
            type_: "PodScheduled".to_owned(),
            status: "True".to_owned(),
            ..PodCondition::default()
        },
    };
    PodStatus {
        phase: Some("Pending".to_owned()),
        conditions: Some(vec![scheduled]),
        ..PodStatus::default()
    }
}

pub(crate) fn get_pod(state: &State, namespace: &str, name: &str) -> Answer {
    let mut inner = state.lock();
    let Some(stored) = inner.pods.get_mut(&key(namespace, name)) else {
        return not_found("pods", name);
    };
    stored.gets += 1;
    let pending = stored.pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
    if pending
        && stored.init_done
        && stored.gets >= 2
        && stored.scenario != Scenario::NeverScheduled
    {
        let init = stored
            .pod
            .status
            .as_mut()
            .and_then(|s| s.init_container_statuses.take());
        stored.pod.status = Some(PodStatus {
            init_container_statuses: init,
            ..running_status(&stored.pod)
        });
        if let Some(spec) = stored.pod.spec.as_mut() {
            spec.node_name = Some("fake-node".to_owned());
        }
    }
    json(StatusCode::OK, &stored.pod)
}

fn running_status(pod: &Pod) -> PodStatus {
    let conditions = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
        .map(|t| PodCondition {
            type_: t.to_owned(),
            status: "True".to_owned(),
            ..PodCondition::default()
        })
        .to_vec();
    let statuses = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            ready: true,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(Default::default())),
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        })
        .collect();
    PodStatus {
        phase: Some("Running".to_owned()),
        conditions: Some(conditions),
        container_statuses: Some(statuses),
        ..PodStatus::default()
    }
}

/// Marks a pod evicted and kills its execs.
pub(crate) fn evict(stored: &mut StoredPod) {
    let status = stored.pod.status.get_or_insert_with(PodStatus::default);
    status.phase = Some("Failed".to_owned());
    status.reason = Some("Evicted".to_owned());
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(PodCondition {
            type_: "DisruptionTarget".to_owned(),
            status: "True".to_owned(),
            reason: Some("EvictionByEvictionAPI".to_owned()),
            message: Some("Eviction API: evicting".to_owned()),
            ..PodCondition::default()
        });
    stored.killed.cancel();
}

pub(crate) fn delete_pod(state: &State, namespace: &str, name: &str) -> Answer {
    let mut inner = state.lock();
    let Some(stored) = inner.pods.remove(&key(namespace, name)) else {
        return not_found("pods", name);
    };
    stored.killed.cancel();
    let mut pod = stored.pod;
    pod.metadata.deletion_timestamp = Some(Time(Default::default()));
    json(StatusCode::OK, &pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_are_validated_like_the_api_server_does() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "build", "image": "a", "volumeMounts": [{"name": "repo", "mountPath": "/builds"}]}]}
        }))
        .unwrap();
        assert!(
            validate_pod(&pod)
                .unwrap_err()
                .contains("volumeMounts.name: Not found")
        );
        let bad_name: Pod = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}),
        )
        .unwrap();
        assert!(validate_pod(&bad_name).is_err());
    }
}
