//! [`DockerSession`]: a job's containers between `prepare` and `cleanup`, and running a stage
//! in them (see the crate documentation, "Running a stage").

use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use runner_executor::{CancellationToken, StageExit, StageScript, Target, TraceWriter};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::{ExecEnd, run_script};
use crate::prepare::{create, create_and_start, start};
use crate::resources::{CleanupGuard, SharedResources};

/// A job's environment on the engine, between `prepare` and `cleanup`.
#[derive(Debug)]
pub struct DockerSession {
    pub(crate) engine: Engine,
    pub(crate) resources: SharedResources,
    pub(crate) guard: CleanupGuard,
    pub(crate) build: StageContainer,
    pub(crate) helper: StageContainer,
}

/// A long-running container stages are exec'd into; created at first use, re-created after a
/// stage was stopped (the stopped container is removed, as upstream does).
#[derive(Debug)]
pub(crate) struct StageContainer {
    pub(crate) name: String,
    pub(crate) body: ContainerCreateBody,
    pub(crate) id: Option<String>,
}

impl StageContainer {
    async fn ensure(&mut self, engine: &Engine, resources: &SharedResources) -> Result<String> {
        if let Some(id) = &self.id {
            return Ok(id.clone());
        }
        let id = create_and_start(engine, resources, &self.name, self.body.clone()).await?;
        self.id = Some(id.clone());
        Ok(id)
    }

    async fn discard(&mut self, engine: &Engine) {
        if let Some(id) = self.id.take() {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            if let Err(error) = engine.docker.remove_container(&id, Some(options)).await {
                tracing::warn!(%error, container = %self.name, "Failed to remove container");
            }
        }
    }
}

impl DockerSession {
    /// Runs `script` in its container, creating the containers at the first stage.
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
            ..
        } = self;
        // The helper lives in the build container's network namespace, so the build container
        // must run first.
        if build.id.is_none() && helper.id.is_none() {
            // First stage: overlap the helper's creation with the build container's start.
            let build_id = create(engine, resources, &build.name, build.body.clone()).await?;
            let (started, helper_id) = tokio::join!(
                start(engine, &build.name, &build_id),
                create(engine, resources, &helper.name, helper.body.clone())
            );
            started?;
            build.id = Some(build_id);
            let helper_id = helper_id?;
            start(engine, &helper.name, &helper_id).await?;
            helper.id = Some(helper_id);
        }
        let build_id = build.ensure(engine, resources).await?;
        let is_build = script.target == Target::Build;
        let id = if is_build {
            build_id
        } else {
            helper.ensure(engine, resources).await?
        };
        let ended = run_script(engine, &id, script.script.as_bytes(), trace, stop, grace).await;
        let lost = matches!(
            ended,
            Ok(ExecEnd::Stopped) | Err(Error::ContainerGone { .. })
        );
        if lost {
            // A stopped stage's container is removed (upstream); the helper goes with the
            // build container, whose network namespace it shares.
            helper.discard(engine).await;
            if is_build {
                build.discard(engine).await;
            }
        }
        match ended? {
            ExecEnd::Exited(0) => Ok(StageExit::Success),
            ExecEnd::Exited(code) => {
                let exit_code = i32::try_from(code).unwrap_or(-1);
                Ok(StageExit::Failed {
                    exit_code,
                    message: format!("exit code {exit_code}"),
                })
            }
            ExecEnd::Stopped => Ok(StageExit::Stopped),
        }
    }
}
