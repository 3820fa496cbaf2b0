//! [`sweep_leftovers`]: removal, at start-up, of what a runner killed with SIGKILL left behind.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::names::{MANAGED_LABEL, REUSABLE_LABEL, RUNNER_ID_LABEL, SYSTEM_ID_LABEL};
use crate::pull::daemon_message;

/// What [`sweep_leftovers`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
    /// Temporary volumes removed (reusable cache and builds volumes are kept).
    pub volumes: usize,
}

/// Removes every container, network and temporary volume labelled as created by the runner
/// whose short token is `runner_id` (label `com.gitlab.gitlab-runner.runner.id`) and, when
/// given, whose system id is `system_id`, so that runners on other machines sharing the engine
/// are left alone. Call it once at start-up, before the first job of that runner starts: it
/// cannot tell a leftover from a job running right now.
pub async fn sweep_leftovers(
    engine: &Engine,
    runner_id: &str,
    system_id: Option<&str>,
) -> Result<SweepReport> {
    let mut label_filters = vec![
        format!("{MANAGED_LABEL}=true"),
        format!("{RUNNER_ID_LABEL}={runner_id}"),
    ];
    if let Some(system_id) = system_id {
        label_filters.push(format!("{SYSTEM_ID_LABEL}={system_id}"));
    }
    let filters: HashMap<&str, Vec<&str>> =
        [("label", label_filters.iter().map(String::as_str).collect())].into();
    let docker = &engine.docker;
    let mut report = SweepReport::default();

    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api("listing leftover containers", &e))?;
    for container in containers {
        let Some(id) = container.id else { continue };
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => report.containers += 1,
            Err(error) => {
                tracing::warn!(%error, container = %id, "Failed to remove leftover container")
            }
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api("listing leftover networks", &e))?;
    for network in networks {
        let Some(id) = network.id else { continue };
        match docker.remove_network(&id).await {
            Ok(()) => report.networks += 1,
            Err(error) => {
                tracing::warn!(%error, network = %id, "Failed to remove leftover network")
            }
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api("listing leftover volumes", &e))?;
    for volume in volumes.volumes.unwrap_or_default() {
        if volume.labels.get(REUSABLE_LABEL).map(String::as_str) == Some("true") {
            continue;
        }
        let options = RemoveVolumeOptionsBuilder::default().force(true).build();
        match docker.remove_volume(&volume.name, Some(options)).await {
            Ok(()) => report.volumes += 1,
            Err(error) => {
                tracing::warn!(%error, volume = %volume.name, "Failed to remove leftover volume")
            }
        }
    }
    if report != SweepReport::default() {
        tracing::info!(
            ?report,
            runner = runner_id,
            "removed docker leftovers of an earlier run"
        );
    }
    Ok(report)
}

fn api(operation: &str, error: &bollard::errors::Error) -> Error {
    Error::Api {
        operation: operation.to_owned(),
        message: daemon_message(error),
        invalid_request: false,
    }
}
