//! [`DockerSession`]: a job's containers between `prepare` and `cleanup`, and running a stage
//! in them (see the crate documentation, "Running a stage").

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use runner_executor::{CancellationToken, StageExit, StageScript, Target, TraceWriter};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::helper::{BinaryDigest, image_carries, inject_binary, resolve_image};
use crate::prepare::{create, start};
use crate::resources::{CleanupGuard, SharedResources};
use crate::settings::{DockerSettings, RegistryAuth};
use crate::stage_channel::{StageChannel, StageEnd};

/// A job's environment on the engine, between `prepare` and `cleanup`.
#[derive(Debug)]
pub struct DockerSession {
    pub(crate) engine: Engine,
    pub(crate) resources: SharedResources,
    pub(crate) guard: CleanupGuard,
    pub(crate) build: StageContainer,
    pub(crate) helper: StageContainer,
    /// What resolving the helper image at its first use needs.
    pub(crate) settings: Arc<DockerSettings>,
    pub(crate) auth: RegistryAuth,
    pub(crate) helper_digest: BinaryDigest,
}

/// A long-running container stages run in through its attached stdin; created at first use,
/// re-created after a stage was stopped (the stopped container is removed, as upstream does).
#[derive(Debug)]
pub(crate) struct StageContainer {
    pub(crate) name: String,
    pub(crate) body: ContainerCreateBody,
    /// A binary on the runner's filesystem copied into the container before it starts.
    pub(crate) inject: Option<PathBuf>,
    pub(crate) running: Option<Running>,
}

/// A started stage container and its channel.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) id: String,
    channel: StageChannel,
}

impl StageContainer {
    /// Creates, attaches and starts the container unless it runs already.
    async fn ensure(
        &mut self,
        engine: &Engine,
        resources: &SharedResources,
    ) -> Result<&mut Running> {
        let running = match self.running.take() {
            Some(running) => running,
            None => {
                let id = create(engine, resources, &self.name, self.body.clone()).await?;
                if let Some(binary) = &self.inject {
                    inject_binary(engine, &self.name, &id, binary).await?;
                }
                let channel = StageChannel::attach(engine, &id).await?;
                start(engine, &self.name, &id).await?;
                Running { id, channel }
            }
        };
        Ok(self.running.insert(running))
    }

    async fn discard(&mut self, engine: &Engine) {
        if let Some(running) = self.running.take() {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            if let Err(error) = engine
                .docker
                .remove_container(&running.id, Some(options))
                .await
            {
                tracing::warn!(%error, container = %self.name, "Failed to remove container");
            }
        }
    }
}

impl DockerSession {
    /// Runs `script` in its container, creating the container at its first stage.
    ///
    /// Helper stages that need no helper tools (`prepare_script`, `get_sources` without git,
    /// `cleanup_file_variables`) run in the build container while no helper container exists,
    /// so a job that never needs git or the helper binary starts one container, like
    /// `docker run`.
    pub(crate) async fn run_stage(
        &mut self,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: &CancellationToken,
        grace: Duration,
    ) -> Result<StageExit> {
        let DockerSession {
            engine,
            resources,
            build,
            helper,
            settings,
            auth,
            helper_digest,
            ..
        } = self;
        // The helper lives in the build container's network namespace, so the build container
        // must run first.
        build.ensure(engine, resources).await?;
        let in_helper = script.target == Target::Helper
            && (script.needs_helper_tools || helper.running.is_some());
        if in_helper && helper.body.image.is_none() {
            let id = resolve_image(engine, settings, auth, trace).await?;
            if let Some(binary) = &helper.inject
                && image_carries(engine, &id, binary, helper_digest).await
            {
                helper.inject = None;
            }
            helper.body.image = Some(id);
        }
        let container = if in_helper { &mut *helper } else { &mut *build };
        let running = container.ensure(engine, resources).await?;
        let ended = running
            .channel
            .run_script(
                engine,
                &running.id,
                script.script.as_bytes(),
                trace,
                stop,
                grace,
            )
            .await;
        let lost = matches!(
            ended,
            Ok(StageEnd::Stopped) | Err(Error::ContainerGone { .. })
        );
        if lost {
            // A stopped stage's container is removed (upstream); the helper goes with the
            // build container, whose network namespace it shares.
            helper.discard(engine).await;
            if !in_helper {
                build.discard(engine).await;
            }
        }
        match ended? {
            StageEnd::Exited(0) => Ok(StageExit::Success),
            StageEnd::Exited(code) => {
                let exit_code = i32::try_from(code).unwrap_or(-1);
                Ok(StageExit::Failed {
                    exit_code,
                    message: format!("exit code {exit_code}"),
                })
            }
            StageEnd::Stopped => Ok(StageExit::Stopped),
        }
    }
}
