//! Reading a pod's status: waiting for it to run (K1/K2) and noticing when it breaks mid-job
//! (evicted, deleted, a container died).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use runner_executor::TraceWriter;

use crate::error::ApiError;

/// Polls the pod every `poll_interval` until it runs, up to `poll_timeout / poll_interval` extra
/// polls (integer division, as upstream). The error text is the cause after
/// `waiting for pod running: `.
pub(crate) async fn wait_for_running(
    pods: &Api<Pod>,
    namespace: &str,
    name: &str,
    poll_interval: Duration,
    poll_timeout: Duration,
    request_timeout: Duration,
    trace: &mut TraceWriter,
) -> Result<(), String> {
    let interval = poll_interval.max(Duration::from_millis(1));
    let attempts = poll_timeout.as_millis() / interval.as_millis();
    let mut last_phase = String::from("Unknown");
    for attempt in 0..=attempts {
        let pod = crate::error::deadline(request_timeout, pods.get(name))
            .await
            .map_err(|e| e.to_string())?;
        // A failed helper-binary install is the one init failure with its own advice.
        if let Some(problem) = crate::helper_binary::init_failure(&pod) {
            return Err(problem);
        }
        let status = pod.status.clone().unwrap_or_default();
        last_phase = status.phase.clone().unwrap_or_else(|| "Unknown".to_owned());
        match last_phase.as_str() {
            "Running" if container_ready(&pod, "build") => return Ok(()),
            "Succeeded" => return Err("pod already succeeded before it begins running".to_owned()),
            "Failed" => return Err("pod status is failed".to_owned()),
            _ => {}
        }
        if let Some(problem) = terminal_waiting_state(&pod) {
            return Err(problem);
        }
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<unknown>".to_owned());
        trace
            .plain(&format!("Waiting for pod {namespace}/{name} to be running on the node {node}, status is {last_phase}"))
            .await;
        if attempt < attempts {
            tokio::time::sleep(interval).await;
        }
    }
    Err(format!(
        "timed out waiting for pod to start (last phase: {last_phase})"
    ))
}

/// Why a pod can no longer run the job, if it cannot (upstream's informer and health checks).
pub(crate) fn pod_problem(pod: Option<&Pod>, namespace: &str, name: &str) -> Option<String> {
    let Some(pod) = pod else {
        return Some(format!("pod \"{namespace}/{name}\" is deleted"));
    };
    let status = pod.status.clone().unwrap_or_default();
    let disruption = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True");
    if let Some(condition) = disruption {
        return Some(format!(
            "pod \"{namespace}/{name}\" is disrupted: reason \"{}\", message \"{}\"",
            condition.reason.clone().unwrap_or_default(),
            condition.message.clone().unwrap_or_default()
        ));
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Some(format!("pod \"{namespace}/{name}\" is being deleted"));
    }
    for container in status.container_statuses.iter().flatten() {
        if container.name != "build" && container.name != "helper" {
            continue;
        }
        if let Some(terminated) = container.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return Some(format!(
                "Error in container {}: exit code: {}, reason: '{}'",
                container.name,
                terminated.exit_code,
                terminated.reason.clone().unwrap_or_default()
            ));
        }
    }
    let phase = status.phase.unwrap_or_default();
    if phase != "Running" {
        if let Some(reason) = status.reason.filter(|r| !r.is_empty()) {
            return Some(format!("pod \"{name}\" status is \"{phase}\" ({reason})"));
        }
        return Some(format!("pod \"{name}\" status is \"{phase}\""));
    }
    None
}

/// Fetches the pod (404 → `None`) and reports a problem; API errors are not problems by themselves.
pub(crate) async fn check_pod(
    pods: &Api<Pod>,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Option<String> {
    match crate::error::deadline(timeout, pods.get_opt(name)).await {
        Ok(pod) => pod_problem(pod.as_ref(), namespace, name),
        Err(ApiError { .. }) => None,
    }
}

fn container_ready(pod: &Pod, container: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|list| list.iter().any(|c| c.name == container && c.ready))
}

/// Container states upstream treats as final while waiting (executors.md §8.5).
fn terminal_waiting_state(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    for container in status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
    {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let message = waiting.message.clone().unwrap_or_default();
        match waiting.reason.as_deref() {
            Some("InvalidImageName") => return Some(format!("image pull failed: {message}")),
            Some("ErrImagePull" | "ImagePullBackOff") => {
                return Some(format!(
                    "pulling image {:?} for container {}: image pull failed: {message}",
                    container.image, container.name
                ));
            }
            Some("CrashLoopBackOff") => {
                return Some(format!(
                    "container {:?} is in CrashLoopBackOff: {message}",
                    container.name
                ));
            }
            Some("CreateContainerConfigError") => {
                return Some(format!("container configuration error: {message}"));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    fn pod_with(status: PodStatus) -> Pod {
        Pod {
            status: Some(status),
            ..Pod::default()
        }
    }

    #[test]
    fn disruption_is_reported_with_reason_and_message() {
        let pod = pod_with(PodStatus {
            phase: Some("Failed".to_owned()),
            conditions: Some(vec![PodCondition {
                type_: "DisruptionTarget".to_owned(),
                status: "True".to_owned(),
                reason: Some("EvictionByEvictionAPI".to_owned()),
                message: Some("Eviction API: evicting".to_owned()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        assert_eq!(
            pod_problem(Some(&pod), "ns", "p").unwrap(),
            "pod \"ns/p\" is disrupted: reason \"EvictionByEvictionAPI\", message \"Eviction API: evicting\""
        );
        assert_eq!(
            pod_problem(None, "ns", "p").unwrap(),
            "pod \"ns/p\" is deleted"
        );
    }

    #[test]
    fn running_pod_has_no_problem() {
        let pod = pod_with(PodStatus {
            phase: Some("Running".to_owned()),
            ..PodStatus::default()
        });
        assert!(pod_problem(Some(&pod), "ns", "p").is_none());
        let failed = pod_with(PodStatus {
            phase: Some("Failed".to_owned()),
            ..PodStatus::default()
        });
        assert_eq!(
            pod_problem(Some(&failed), "ns", "p").unwrap(),
            "pod \"p\" status is \"Failed\""
        );
    }
}
