//! Preparation of a job's environment: network, volumes, images, services (executors.md §7.1,
//! §7.3–§7.5). The build and helper containers are only planned here; they are created at the
//! first stage, as upstream does, so their failures read `prepare environment: <cause>`.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use runner_executor::{JobSpec, TraceWriter};

use crate::containers::{Role, SharedHost, host_config, networking, service_identity};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::names::{JobNames, labels, path_digest};
use crate::policy::effective_policies;
use crate::pull::{daemon_message, ensure_image};
use crate::resources::{SharedResources, record};
use crate::service_health::StartedService;
use crate::settings::{DockerSettings, RegistryAuth};

/// Builds root inside the containers.
pub(crate) const BUILDS_DIR: &str = "/builds";
/// Cache root inside the containers.
pub(crate) const CACHE_DIR: &str = "/cache";

/// Inputs of one preparation.
pub(crate) struct PrepareContext<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) settings: &'a DockerSettings,
    pub(crate) job: &'a JobSpec,
    pub(crate) names: &'a JobNames,
    pub(crate) auth: &'a RegistryAuth,
    pub(crate) resources: &'a SharedResources,
}

/// The per-job network, if one is needed: `network_mode` wins; otherwise one is created when the
/// job has services (so they are reachable by alias, D5) or `FF_NETWORK_PER_BUILD` is on.
pub(crate) async fn network(
    ctx: &PrepareContext<'_>,
    has_services: bool,
) -> Result<Option<String>> {
    if let Some(mode) = ctx
        .settings
        .network_mode
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        return Ok(Some(mode.to_owned()));
    }
    if !has_services && ctx.job.feature_flag("FF_NETWORK_PER_BUILD") != Some(true) {
        return Ok(None);
    }
    let name = ctx.names.network.clone();
    let mut options = HashMap::new();
    if ctx.settings.network_mtu > 0 {
        options.insert(
            "com.docker.network.driver.mtu".to_owned(),
            ctx.settings.network_mtu.to_string(),
        );
    }
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".to_owned()),
        enable_ipv6: ctx.settings.enable_ipv6.then_some(true),
        options: Some(options),
        labels: Some(labels(ctx.job, "", &[], &Default::default())),
        ..NetworkCreateRequest::default()
    };
    // Recorded by name while the call is in flight (a dropped future still removes it), then
    // by id: a failed attempt's background cleanup must not remove the next attempt's network,
    // which has the same name.
    record(ctx.resources, |r| r.network = Some(name.clone()));
    let created = match ctx.engine.docker.create_network(request.clone()).await {
        Ok(created) => created,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            // A leftover of a killed runner with the same job: replace it.
            let _ = ctx.engine.docker.remove_network(&name).await;
            ctx.engine
                .docker
                .create_network(request)
                .await
                .map_err(|e| api(format!("creating network {name}"), &e))?
        }
        Err(error) => return Err(api(format!("creating network {name}"), &error)),
    };
    record(ctx.resources, |r| r.network = Some(created.id));
    Ok(Some(name))
}

/// Binds for `volumes`, cache volumes and the builds volume (§7.4).
pub(crate) async fn volumes(ctx: &PrepareContext<'_>) -> Result<Vec<String>> {
    let mut binds = Vec::new();
    let mut destinations: Vec<String> = Vec::new();
    for spec in &ctx.settings.volumes {
        let parts: Vec<&str> = spec.split(':').collect();
        let destination = if parts.len() >= 2 { parts[1] } else { parts[0] };
        if destination == "/" {
            return Err(Error::config("build directory needs to be a non-root path"));
        }
        if destinations.iter().any(|d| d == destination) {
            return Err(Error::config(format!(
                "volume for container path \"{destination}\" is already defined"
            )));
        }
        destinations.push(destination.to_owned());
        if parts.len() >= 2 {
            binds.push(spec.clone());
            continue;
        }
        let digest = path_digest(destination);
        if ctx.settings.disable_cache {
            let name = format!("{}-cache-{digest}", ctx.names.unique);
            create_volume(ctx, &name, "cache", false).await?;
            binds.push(format!("{name}:{destination}"));
        } else if let Some(dir) = ctx.settings.cache_dir.as_deref().filter(|d| !d.is_empty()) {
            binds.push(format!(
                "{}/{}/{digest}:{destination}",
                dir.trim_end_matches('/'),
                ctx.names.reusable
            ));
        } else {
            let name = format!("{}-cache-{digest}", ctx.names.reusable);
            create_volume(ctx, &name, "cache", true).await?;
            binds.push(format!("{name}:{destination}"));
        }
    }
    let builds_root = ctx
        .job
        .runner
        .builds_dir
        .clone()
        .unwrap_or_else(|| BUILDS_DIR.to_owned());
    let covered = destinations
        .iter()
        .any(|d| builds_root == *d || builds_root.starts_with(&format!("{d}/")));
    if !covered {
        let reusable = git_strategy(ctx.job) == "fetch";
        let name = if reusable {
            format!("{}-builds", ctx.names.reusable)
        } else {
            format!("{}-builds", ctx.names.unique)
        };
        create_volume(ctx, &name, "builds", reusable).await?;
        binds.push(format!("{name}:{builds_root}"));
    }
    Ok(binds)
}

fn git_strategy(job: &JobSpec) -> String {
    job.variables
        .iter()
        .rev()
        .find(|v| v.key == "GIT_STRATEGY")
        .map(|v| v.value.clone())
        .unwrap_or_else(|| {
            if job.allow_git_fetch {
                "fetch".to_owned()
            } else {
                "clone".to_owned()
            }
        })
}

async fn create_volume(
    ctx: &PrepareContext<'_>,
    name: &str,
    kind: &str,
    reusable: bool,
) -> Result<()> {
    let reusable_text = if reusable { "true" } else { "false" };
    let request = VolumeCreateRequest {
        name: Some(name.to_owned()),
        labels: Some(labels(
            ctx.job,
            kind,
            &[("reusable", reusable_text)],
            &Default::default(),
        )),
        ..VolumeCreateRequest::default()
    };
    if !reusable {
        record(ctx.resources, |r| r.volumes.push(name.to_owned()));
    }
    ctx.engine
        .docker
        .create_volume(request)
        .await
        .map_err(|e| api(format!("creating volume {name}"), &e))?;
    Ok(())
}

/// One service to start: from `[[runners.docker.services]]` or the job.
pub(crate) struct ServiceRequest {
    pub(crate) image: String,
    pub(crate) alias: String,
    pub(crate) command: Vec<String>,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) pull_policy: Vec<String>,
}

/// Pulls and starts every service on the job's network under its aliases (§7.5).
pub(crate) async fn services(
    ctx: &PrepareContext<'_>,
    requests: Vec<ServiceRequest>,
    shared: &SharedHost,
    trace: &mut TraceWriter,
) -> Result<Vec<StartedService>> {
    if let Some(limit) = ctx.settings.services_limit
        && requests.len() > limit
    {
        return Err(Error::config(format!(
            "too many services requested: {}, only {limit} allowed",
            requests.len()
        )));
    }
    let mut used_aliases: Vec<String> = Vec::new();
    let mut started = Vec::new();
    for (index, request) in requests.into_iter().enumerate() {
        let (service, version, aliases) = service_identity(&request.image, &request.alias);
        let mut kept = Vec::new();
        for alias in aliases {
            if used_aliases.contains(&alias) {
                trace
                    .warning(&format!(
                        "Skipping alias \"{alias}\" for service \"{}\" (services[{index}]): alias is already in use by another service.",
                        request.image
                    ))
                    .await;
            } else {
                used_aliases.push(alias.clone());
                kept.push(alias);
            }
        }
        trace
            .plain(&format!("Starting service {service}:{version}..."))
            .await;
        let policies = effective_policies(
            &request.image,
            &request.pull_policy,
            &ctx.settings.pull_policy,
            &ctx.settings.allowed_pull_policies,
        )?;
        let image_id = ensure_image(ctx.engine, &request.image, &policies, ctx.auth, trace).await?;
        let name = format!(
            "{}-{}-{index}",
            ctx.names.unique,
            service.replace('/', "__").replace(':', "-")
        );
        let labels = labels(
            ctx.job,
            "service",
            &[
                ("service", service.as_str()),
                ("service.version", version.as_str()),
            ],
            &ctx.settings.container_labels,
        );
        let env = request.env;
        let body = ContainerCreateBody {
            image: Some(image_id),
            cmd: (!request.command.is_empty()).then_some(request.command),
            entrypoint: (!request.entrypoint.is_empty()).then_some(request.entrypoint),
            env: Some(env.clone()),
            labels: Some(labels),
            host_config: Some(host_config(
                ctx.settings,
                shared,
                Role::Service,
                &request.image,
            )?),
            networking_config: networking(shared.network.as_deref(), kept),
            ..ContainerCreateBody::default()
        };
        let id = create_and_start(ctx.engine, ctx.resources, &name, body).await?;
        started.push(StartedService::new(name, id, &env));
    }
    Ok(started)
}

/// Creates and starts a container; recorded for cleanup before the create call.
pub(crate) async fn create_and_start(
    engine: &Engine,
    resources: &SharedResources,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String> {
    let id = create(engine, resources, name, body).await?;
    start(engine, name, &id).await?;
    Ok(id)
}

/// Creates a container, recorded for cleanup before the call. Names carry 16 random hex
/// digits, so unlike upstream there is no same-name leftover to remove first.
pub(crate) async fn create(
    engine: &Engine,
    resources: &SharedResources,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String> {
    record(resources, |r| r.containers.push(name.to_owned()));
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = engine
        .docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| api(format!("creating container {name}"), &e))?;
    Ok(created.id)
}

/// Starts a created container.
pub(crate) async fn start(engine: &Engine, name: &str, id: &str) -> Result<()> {
    engine
        .docker
        .start_container(id, None)
        .await
        .map_err(|e| api(format!("starting container {name}"), &e))
}

pub(crate) fn api(operation: String, error: &bollard::errors::Error) -> Error {
    let invalid_request = matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            ..
        }
    );
    Error::Api {
        operation,
        message: daemon_message(error),
        invalid_request,
    }
}
