//! What a job created on the engine, and its removal (executors.md §7.8, D6).
//!
//! Every object is recorded *before* the call that creates it returns to the job flow, so a
//! preparation that fails or is dropped halfway still has everything listed. A [`CleanupGuard`]
//! that is dropped while armed (the job future was dropped, a panic) hands the list to a task
//! on the executor's [`TaskTracker`], so removal still happens and has an owner that awaits it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder};
use futures_util::future::join_all;
use tokio_util::task::TaskTracker;

use crate::engine::Engine;

/// Objects to remove when the job ends.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    /// Container names or ids.
    pub(crate) containers: Vec<String>,
    /// Temporary volumes (reusable cache volumes are not listed).
    pub(crate) volumes: Vec<String>,
    /// The per-job network.
    pub(crate) network: Option<String>,
}

/// Shared, lock-briefly list (never held across an `.await`).
pub(crate) type SharedResources = Arc<Mutex<Resources>>;

pub(crate) fn record(resources: &SharedResources, change: impl FnOnce(&mut Resources)) {
    let mut guard = resources
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    change(&mut guard);
}

fn take(resources: &SharedResources) -> Resources {
    let mut guard = resources
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *guard)
}

/// Removes everything listed in `resources` within `deadline`: containers in parallel (force,
/// with their anonymous volumes unless `volume_keep`), then temporary volumes, then the network.
/// Failures are logged, never returned: cleanup must not change a job's result.
pub(crate) async fn remove_all(
    engine: &Engine,
    resources: &SharedResources,
    volume_keep: bool,
    deadline: Duration,
) {
    let listed = take(resources);
    let work = async {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(!volume_keep)
            .build();
        let removals = listed.containers.iter().map(|container| {
            let options = options.clone();
            async move {
                match engine
                    .docker
                    .remove_container(container, Some(options))
                    .await
                {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(error) => tracing::warn!(%error, container, "Failed to remove container"),
                }
            }
        });
        join_all(removals).await;
        if !volume_keep {
            for volume in &listed.volumes {
                let options = RemoveVolumeOptionsBuilder::default().force(true).build();
                match engine.docker.remove_volume(volume, Some(options)).await {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(error) => tracing::warn!(%error, volume, "Failed to cleanup volumes"),
                }
            }
        }
        if let Some(network) = &listed.network {
            match engine.docker.remove_network(network).await {
                Ok(())
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(error) => tracing::warn!(%error, network, "Failed to remove network for build"),
            }
        }
    };
    if tokio::time::timeout(deadline, work).await.is_err() {
        tracing::warn!(?deadline, "cleanup of docker resources timed out");
    }
}

/// Removes the job's objects on drop unless [`CleanupGuard::disarm`] was called.
#[derive(Debug)]
pub(crate) struct CleanupGuard {
    engine: Engine,
    resources: SharedResources,
    tracker: TaskTracker,
    volume_keep: bool,
    deadline: Duration,
    armed: bool,
}

impl CleanupGuard {
    pub(crate) fn new(
        engine: Engine,
        resources: SharedResources,
        tracker: TaskTracker,
        volume_keep: bool,
        deadline: Duration,
    ) -> Self {
        Self {
            engine,
            resources,
            tracker,
            volume_keep,
            deadline,
            armed: true,
        }
    }

    /// The regular path: the caller removes the resources itself.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "docker resources of a job could not be removed: no runtime; the next start sweeps them"
            );
            return;
        };
        let (engine, resources) = (self.engine.clone(), Arc::clone(&self.resources));
        let (volume_keep, deadline) = (self.volume_keep, self.deadline);
        self.tracker.spawn_on(
            async move { remove_all(&engine, &resources, volume_keep, deadline).await },
            &handle,
        );
    }
}
