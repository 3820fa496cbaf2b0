//! [`DockerExecutor`]: the [`Backend`] that runs a job's stages in containers.

use std::sync::{Arc, Mutex};

use bollard::models::ContainerCreateBody;
use runner_executor::{
    Backend, BackendDefaults, CancellationToken, FailureReason, JobSpec, StageExit, StageScript,
    TraceWriter, expand,
};
use tokio_util::task::TaskTracker;

use crate::allowed::{AllowList, verify as verify_allowed};
use crate::containers::{Role, SharedHost, host_config, networking, stage_container_body};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::helper::{BinaryDigest, HELPER_BINARY_PATH, image_carries, resolve_image};
use crate::names::{JobNames, labels};
use crate::policy::effective_policies;
use crate::prepare::{
    BUILDS_DIR, CACHE_DIR, PrepareContext, ServiceRequest, network, services, volumes,
};
use crate::pull::ensure_image;
use crate::resources::{CleanupGuard, SharedResources, remove_all};
use crate::service_health::wait_for_services;
use crate::session::{DockerSession, StageContainer};
use crate::settings::{DockerSettings, RegistryAuth};

/// Runs jobs on a Docker engine. Implements [`Backend`], so it is also an
/// [`runner_executor::Executor`].
#[derive(Debug, Clone)]
pub struct DockerExecutor {
    settings: Arc<DockerSettings>,
    runner_auth_config: Option<String>,
    tracker: TaskTracker,
    helper_digest: BinaryDigest,
}

impl DockerExecutor {
    /// An executor for one `[[runners]]` entry's `[runners.docker]` settings.
    pub fn new(settings: DockerSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            runner_auth_config: None,
            tracker: TaskTracker::new(),
            helper_digest: BinaryDigest::default(),
        }
    }

    /// The runner-level `DOCKER_AUTH_CONFIG` (from the runner's `environment` or process
    /// environment, resolved by the caller); a job's own `DOCKER_AUTH_CONFIG` variable wins.
    #[must_use]
    pub fn with_docker_auth_config(mut self, value: Option<String>) -> Self {
        self.runner_auth_config = value;
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &DockerSettings {
        &self.settings
    }

    /// Waits until every cleanup that was handed to the background (a job future dropped
    /// before its cleanup ran) has finished. Call it before the process exits.
    pub async fn wait_for_background_cleanups(&self) {
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }

    fn registry_auth(&self, job: &JobSpec) -> RegistryAuth {
        let from_job = job
            .variables
            .iter()
            .rev()
            .find(|v| v.key == "DOCKER_AUTH_CONFIG")
            .map(|v| v.value.clone());
        RegistryAuth {
            job_credentials: job.registry_credentials.clone(),
            docker_auth_config: from_job.or_else(|| self.runner_auth_config.clone()),
        }
    }

    async fn prepare_session(
        &self,
        job: &JobSpec,
        trace: &mut TraceWriter,
    ) -> Result<DockerSession> {
        let settings = &*self.settings;
        let engine = Engine::connect(settings).await?;
        let resources: SharedResources = Arc::new(Mutex::new(Default::default()));
        // Armed while preparing: if this future is dropped (cancel, prepare timeout), the
        // objects created so far are removed in the background.
        let mut guard = CleanupGuard::new(
            engine.clone(),
            Arc::clone(&resources),
            self.tracker.clone(),
            settings.volume_keep,
            settings.cleanup_timeout,
        );
        match self.plan(job, trace, &engine, &resources).await {
            Ok((build, helper, auth)) => Ok(DockerSession {
                engine,
                resources,
                guard,
                build,
                helper,
                settings: Arc::clone(&self.settings),
                auth,
                helper_digest: Arc::clone(&self.helper_digest),
            }),
            Err(error) => {
                // A failed attempt removes its objects before the driver retries or reports.
                guard.disarm();
                remove_all(
                    &engine,
                    &resources,
                    settings.volume_keep,
                    settings.cleanup_timeout,
                )
                .await;
                Err(error)
            }
        }
    }

    /// Network, volumes, images and services; returns the build and helper containers to create.
    async fn plan(
        &self,
        job: &JobSpec,
        trace: &mut TraceWriter,
        engine: &Engine,
        resources: &SharedResources,
    ) -> Result<(StageContainer, StageContainer, RegistryAuth)> {
        let settings = &*self.settings;
        let names = JobNames::new(job);
        let lookup = |name: &str| {
            job.variables
                .iter()
                .rev()
                .find(|v| v.key == name)
                .map(|v| v.value.clone())
        };
        let job_image = job
            .image
            .as_ref()
            .map(|image| expand(&image.name, lookup))
            .filter(|name| !name.is_empty());
        if let Some(name) = &job_image {
            // The runner's own default image is always allowed.
            let default = settings.image.as_deref().unwrap_or_default();
            verify_allowed(
                AllowList::Images,
                name,
                &settings.allowed_images,
                &[default],
                trace,
            )
            .await?;
        }
        let image = job_image
            .or_else(|| settings.image.clone().filter(|name| !name.is_empty()))
            .ok_or(Error::NoImage)?;
        trace
            .plain(&format!("Using Docker executor with image {image} ..."))
            .await;
        let job_policies = job
            .image
            .as_ref()
            .map(|image| image.pull_policy.clone())
            .unwrap_or_default();
        let policies = effective_policies(
            &image,
            &job_policies,
            &settings.pull_policy,
            &settings.allowed_pull_policies,
        )?;
        let auth = self.registry_auth(job);
        let ctx = PrepareContext {
            engine,
            settings,
            job,
            names: &names,
            auth: &auth,
            resources,
        };
        let service_requests = service_requests(settings, job, lookup);
        // Services of `[[runners.docker.services]]` (the first requests) are the runner's own:
        // always allowed, and so is a job service naming one of their images.
        let (configured, from_job) = service_requests.split_at(settings.services.len());
        let configured: Vec<&str> = configured.iter().map(|r| r.image.as_str()).collect();
        for request in from_job {
            verify_allowed(
                AllowList::Services,
                &request.image,
                &settings.allowed_services,
                &configured,
                trace,
            )
            .await?;
        }
        let network = network(&ctx, !service_requests.is_empty()).await?;
        let binds = volumes(&ctx).await?;
        let build_image = ensure_image(engine, &image, &policies, &auth, trace).await?;
        let shared = SharedHost {
            binds: binds.clone(),
            network: network.clone(),
            extra_hosts: settings.extra_hosts.clone(),
        };
        let started = services(&ctx, service_requests, &shared, trace).await?;
        // The helper image is resolved here only when services need its health check;
        // otherwise at the first stage that needs the helper container (session.rs).
        let mut helper_image_id = None;
        let mut inject = settings.helper_binary.clone();
        if let Some(timeout) = settings
            .wait_for_services_timeout
            .filter(|_| !started.is_empty())
        {
            let id = resolve_image(engine, settings, &auth, trace).await?;
            wait_for_services(
                &ctx,
                &started,
                &id,
                shared.network.as_deref(),
                timeout,
                trace,
            )
            .await;
            if let Some(binary) = &inject
                && image_carries(engine, &id, binary, &self.helper_digest).await
            {
                inject = None;
            }
            helper_image_id = Some(id);
        }

        let env: Vec<String> = job
            .variables
            .iter()
            .map(|v| format!("{}={}", v.key, v.value))
            .collect();
        let hostname = settings
            .hostname
            .clone()
            .unwrap_or_else(|| names.hostname.clone());
        let build_name = format!("{}-build", names.unique);
        let entrypoint = job
            .image
            .as_ref()
            .map(|image| image.entrypoint.clone())
            .filter(|entrypoint| !entrypoint.is_empty() && !settings.disable_entrypoint_overwrite);
        let build = stage_container_body(ContainerCreateBody {
            image: Some(build_image),
            entrypoint,
            env: Some(env.clone()),
            user: settings.user.clone().filter(|u| !u.is_empty()),
            hostname: Some(hostname.clone()),
            labels: Some(labels(job, "build", &[], &settings.container_labels)),
            host_config: Some(host_config(settings, &shared, Role::Build, &image)?),
            networking_config: networking(
                network.as_deref(),
                vec!["build".to_owned(), build_name.clone()],
            ),
            ..ContainerCreateBody::default()
        });
        let helper_name = format!("{}-predefined", names.unique);
        // The helper joins the build container's network namespace: one network sandbox per
        // job instead of two (it is the slowest part of starting a container), the same
        // hostname, /etc/hosts and /etc/resolv.conf (so `dns` applies to it too, D2).
        let helper_shared = SharedHost {
            binds: binds.clone(),
            network: Some(format!("container:{build_name}")),
            extra_hosts: Vec::new(),
        };
        let helper = stage_container_body(ContainerCreateBody {
            // `None` until a stage needs the helper (session.rs resolves it then).
            image: helper_image_id,
            // The helper image's own entrypoint is not trusted to exec its arguments.
            entrypoint: Some(Vec::new()),
            env: Some(env),
            labels: Some(labels(job, "predefined", &[], &settings.container_labels)),
            host_config: Some(host_config(settings, &helper_shared, Role::Helper, "")?),
            ..ContainerCreateBody::default()
        });
        Ok((
            StageContainer {
                name: build_name,
                body: build,
                inject: None,
                running: None,
            },
            StageContainer {
                name: helper_name,
                body: helper,
                inject,
                running: None,
            },
            auth,
        ))
    }
}

/// Config services first, then the job's, with names and aliases expanded (§1.1 step 4, §7.5).
fn service_requests(
    settings: &DockerSettings,
    job: &JobSpec,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<ServiceRequest> {
    let public_env: Vec<String> = job
        .variables
        .iter()
        .filter(|v| v.public)
        .map(|v| format!("{}={}", v.key, v.value))
        .collect();
    let mut requests: Vec<ServiceRequest> = settings
        .services
        .iter()
        .map(|service| ServiceRequest {
            image: expand(&service.name, &lookup),
            alias: expand(&service.alias, &lookup),
            command: service.command.clone(),
            entrypoint: service.entrypoint.clone(),
            env: public_env
                .iter()
                .cloned()
                .chain(service.environment.iter().cloned())
                .collect(),
            pull_policy: Vec::new(),
        })
        .collect();
    requests.extend(job.services.iter().map(|service| {
        ServiceRequest {
            image: expand(&service.name, &lookup),
            alias: expand(&service.alias, &lookup),
            command: service.command.clone(),
            entrypoint: service.entrypoint.clone(),
            env: public_env
                .iter()
                .cloned()
                .chain(
                    service
                        .variables
                        .iter()
                        .map(|v| format!("{}={}", v.key, expand(&v.value, &lookup))),
                )
                .collect(),
            pull_policy: service.pull_policy.clone(),
        }
    }));
    requests
}

impl Backend for DockerExecutor {
    type Error = Error;
    type Session = DockerSession;

    /// Inside the helper container our binary is at [`HELPER_BINARY_PATH`]: copied there
    /// when the runner was given one, else carried by the helper image (as upstream's).
    fn helper_binary(&self, _job: &JobSpec) -> String {
        HELPER_BINARY_PATH.to_owned()
    }

    fn defaults(&self, _job: &JobSpec) -> BackendDefaults {
        BackendDefaults {
            name: "docker".to_owned(),
            builds_dir: BUILDS_DIR.to_owned(),
            cache_dir: CACHE_DIR.to_owned(),
            shared_builds_dir: false,
            custom_build_dir: true,
            shared_environment: false,
            scrub_git_config: true,
        }
    }

    async fn prepare(&self, job: &JobSpec, trace: &mut TraceWriter) -> Result<DockerSession> {
        // On an error the session's guard is dropped armed and removes what was created.
        self.prepare_session(job, trace).await
    }

    async fn run_stage(
        &self,
        session: &mut DockerSession,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> Result<StageExit> {
        session
            .run_stage(script, trace, &stop, self.settings.stop_grace)
            .await
    }

    async fn cleanup(&self, mut session: DockerSession, _trace: &mut TraceWriter) {
        session.guard.disarm();
        // A task of our own, so the removal completes even if the caller stops waiting.
        let (engine, resources) = (session.engine.clone(), Arc::clone(&session.resources));
        let (volume_keep, deadline) = (self.settings.volume_keep, self.settings.cleanup_timeout);
        let removal = self
            .tracker
            .spawn(async move { remove_all(&engine, &resources, volume_keep, deadline).await });
        if let Err(error) = removal.await {
            tracing::error!(%error, "docker cleanup task failed");
        }
    }

    fn failure_reason(&self, error: &Error) -> Option<FailureReason> {
        error.is_build_error().then(|| error.failure_reason())
    }
}
