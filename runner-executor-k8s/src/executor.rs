//! [`KubernetesExecutor`]: the [`Backend`] that prepares the pod plan, creates the secret and pod
//! at the first stage, runs stages over exec and always cleans up.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use runner_executor::{
    Backend, BackendDefaults, FailureReason, JobSpec, StageExit, StageScript, Target, TraceWriter,
};
use tokio_util::sync::CancellationToken;

use crate::client::ClusterAccess;
use crate::error::{Error, Result};
use crate::exec::ExecEnd;
use crate::resources::Family;
use crate::settings::Settings;

/// Default builds root inside the pod.
const DEFAULT_BUILDS_DIR: &str = "/builds";

/// Registry path of the official helper image.
const HELPER_IMAGE_REPOSITORY: &str =
    "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper";

/// The Kubernetes executor: one client per runner, one pod per job.
#[derive(Clone)]
pub struct KubernetesExecutor {
    client: kube::Client,
    client_namespace: String,
    settings: Arc<Settings>,
}

impl std::fmt::Debug for KubernetesExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesExecutor")
            .field("namespace", &self.settings.namespace)
            .finish_non_exhaustive()
    }
}

/// One job's pod, between `prepare` and `cleanup`.
pub struct Session {
    pods: Api<Pod>,
    secrets: Api<Secret>,
    namespace: String,
    pod: Pod,
    secret: Option<Secret>,
    pod_name: String,
    started: bool,
    settings: Arc<Settings>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("namespace", &self.namespace)
            .field("pod_name", &self.pod_name)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The build pod's name.
    pub fn pod_name(&self) -> &str {
        &self.pod_name
    }

    /// The namespace of the pod.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

impl KubernetesExecutor {
    /// Builds the client from `access` (errors: `getting Kubernetes config: ...`,
    /// `creating Kubernetes client: ...`). No request is sent yet.
    pub async fn connect(access: &ClusterAccess, settings: Settings) -> Result<Self> {
        let (client, client_namespace) = crate::client::build_client(access).await?;
        Ok(Self {
            client,
            client_namespace,
            settings: Arc::new(settings),
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn namespace_for(&self, job: &JobSpec) -> (String, bool) {
        if self.settings.namespace_per_job {
            return (format!("ci-job-{}", job.id), false);
        }
        if !self.settings.namespace.is_empty() {
            return (self.settings.namespace.clone(), false);
        }
        let _ = &self.client_namespace;
        ("default".to_owned(), true)
    }

    fn helper_image(&self) -> String {
        if let Some(image) = self
            .settings
            .helper_image
            .as_ref()
            .filter(|i| !i.is_empty())
        {
            return image.clone();
        }
        let tag = &self.settings.helper_image_tag;
        match self.settings.helper_image_flavor.as_deref() {
            None | Some("" | "alpine") => format!("{HELPER_IMAGE_REPOSITORY}:{tag}"),
            Some(flavor) => format!("{HELPER_IMAGE_REPOSITORY}:{flavor}-{tag}"),
        }
    }

    async fn plan(&self, job: &JobSpec, trace: &mut TraceWriter) -> Result<Session> {
        let settings = &self.settings;
        let image = job
            .image
            .as_ref()
            .map(|i| i.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| settings.image.clone().filter(|n| !n.is_empty()))
            .ok_or_else(|| {
                Error::Configuration(
                    "check defaults error: no image specified and no default set in config"
                        .to_owned(),
                )
            })?;
        let (namespace, assumed) = self.namespace_for(job);
        if assumed {
            trace
                .warning("Namespace is empty, therefore assuming 'default'.")
                .await;
        }
        trace
            .plain(&format!("Using Kubernetes namespace: {namespace}"))
            .await;

        let lookup = |key: &str| {
            job.variables
                .iter()
                .rev()
                .find(|v| v.key == key)
                .map(|v| v.value.clone())
        };
        let mut notes = Vec::new();
        let build_resources = crate::resources::requirements(
            Family::Build,
            &settings.build_resources,
            &lookup,
            &mut notes,
        )
        .map_err(Error::Overwrite)?;
        let helper_resources = crate::resources::requirements(
            Family::Helper,
            &settings.helper_resources,
            &lookup,
            &mut notes,
        )
        .map_err(Error::Overwrite)?;
        let service_resources = crate::resources::requirements(
            Family::Service,
            &settings.service_resources,
            &lookup,
            &mut notes,
        )
        .map_err(Error::Overwrite)?;
        for note in notes {
            trace.plain(&note).await;
        }

        let mut all_services = settings.services.clone();
        all_services.extend(job.services.iter().cloned());
        let services = crate::services::name_services(&all_services);

        let job_policies = job
            .image
            .as_ref()
            .map(|i| i.pull_policy.clone())
            .unwrap_or_default();
        let mut pull_policies = BTreeMap::new();
        let build_policies = crate::pull_policy::effective_pull_policies(
            &image,
            &job_policies,
            &settings.pull_policy,
            &settings.allowed_pull_policies,
        )
        .map_err(|e| Error::Configuration(e.to_string()))?;
        for container in ["build", "helper"] {
            trace
                .plain(&format!(
                    "Using effective pull policy of [{}] for container {container}",
                    build_policies.join(" ")
                ))
                .await;
            pull_policies.insert(container.to_owned(), build_policies[0].clone());
        }
        for service in &services {
            let policies = crate::pull_policy::effective_pull_policies(
                &service.image.name,
                &service.image.pull_policy,
                &settings.pull_policy,
                &settings.allowed_pull_policies,
            )?;
            trace
                .plain(&format!(
                    "Using effective pull policy of [{}] for container {}",
                    policies.join(" "),
                    service.container_name
                ))
                .await;
            pull_policies.insert(service.container_name.clone(), policies[0].clone());
        }

        let prefix = crate::names::pod_prefix(
            &job.runner.short_token,
            job.project_id,
            job.runner.concurrent_project_id,
        );
        let pod_name = crate::names::object_name(&prefix, &mut rand::rng());
        let secret = crate::credentials::pull_secret(job, &pod_name, &namespace)
            .map_err(Error::Configuration)?;
        let builds_dir = job
            .runner
            .builds_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_BUILDS_DIR.to_owned());
        let inputs = crate::manifest::PodInputs {
            job,
            settings,
            pod_name: pod_name.clone(),
            namespace: namespace.clone(),
            image: image.clone(),
            helper_image: self.helper_image(),
            builds_dir,
            services,
            pull_policies,
            pull_secret: secret.as_ref().and_then(|s| s.metadata.name.clone()),
            build_resources,
            helper_resources,
            service_resources,
            service_account: settings.service_account.clone().filter(|s| !s.is_empty()),
        };
        let pod = crate::manifest::build_pod(&inputs).map_err(Error::Configuration)?;
        trace
            .plain(&format!("Using Kubernetes executor with image {image} ..."))
            .await;
        Ok(Session {
            pods: Api::namespaced(self.client.clone(), &namespace),
            secrets: Api::namespaced(self.client.clone(), &namespace),
            namespace,
            pod,
            secret,
            pod_name,
            started: false,
            settings: Arc::clone(settings),
        })
    }
}

impl Backend for KubernetesExecutor {
    type Error = Error;
    type Session = Session;

    fn defaults(&self, job: &JobSpec) -> BackendDefaults {
        let builds_dir = job
            .runner
            .builds_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_BUILDS_DIR.to_owned());
        BackendDefaults {
            name: "kubernetes".to_owned(),
            shared_builds_dir: crate::volumes::is_builds_dir_shared(
                &self.settings.volumes,
                &builds_dir,
            ),
            builds_dir: DEFAULT_BUILDS_DIR.to_owned(),
            cache_dir: "/cache".to_owned(),
            custom_build_dir: true,
            shared_environment: false,
            scrub_git_config: true,
        }
    }

    async fn prepare(&self, job: &JobSpec, trace: &mut TraceWriter) -> Result<Session> {
        self.plan(job, trace).await
    }

    async fn run_stage(
        &self,
        session: &mut Session,
        script: &StageScript,
        trace: &mut TraceWriter,
        stop: CancellationToken,
    ) -> Result<StageExit> {
        if !session.started {
            session.started = true;
            tokio::select! {
                biased;
                () = stop.cancelled() => return Ok(StageExit::Stopped),
                started = start_pod(session, trace) => started?,
            }
        }
        let container = match script.target {
            Target::Build => "build",
            Target::Helper => "helper",
        };
        crate::stage::run(session, container, &script.script, trace, &stop).await
    }

    async fn cleanup(&self, session: Session, trace: &mut TraceWriter) {
        crate::cleanup::cleanup(&session, trace).await;
    }

    fn failure_reason(&self, error: &Error) -> Option<FailureReason> {
        error.failure_reason()
    }
}

/// Creates the secret and the pod (409 resolved by GET), then waits for it to run.
async fn start_pod(session: &mut Session, trace: &mut TraceWriter) -> Result<()> {
    let timeout = session.settings.request_timeout;
    if let Some(secret) = &session.secret {
        let created =
            crate::deadline(timeout, session.secrets.create(&Default::default(), secret)).await;
        match created {
            Ok(_) => {}
            Err(error) if error.is_already_exists() => {
                let name = session.pod_name.clone();
                crate::deadline(timeout, session.secrets.get(&name))
                    .await
                    .map_err(Error::Credentials)?;
            }
            Err(error) => return Err(Error::Credentials(error)),
        }
    }
    match crate::deadline(
        timeout,
        session.pods.create(&Default::default(), &session.pod),
    )
    .await
    {
        Ok(_) => {}
        Err(error) if error.is_already_exists() => {
            let name = session.pod_name.clone();
            crate::deadline(timeout, session.pods.get(&name))
                .await
                .map_err(Error::BuildPod)?;
        }
        Err(error) => return Err(Error::BuildPod(error)),
    }
    let settings = Arc::clone(&session.settings);
    crate::pod_status::wait_for_running(
        &session.pods,
        &session.namespace,
        &session.pod_name,
        settings.poll_interval,
        settings.poll_timeout,
        settings.request_timeout,
        trace,
    )
    .await
    .map_err(Error::WaitPodRunning)
}

impl Session {
    pub(crate) fn pods(&self) -> &Api<Pod> {
        &self.pods
    }

    pub(crate) fn secrets(&self) -> &Api<Secret> {
        &self.secrets
    }

    pub(crate) fn secret_name(&self) -> Option<&str> {
        self.secret
            .as_ref()
            .and_then(|s| s.metadata.name.as_deref())
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// Maps an exec ending to the stage result, preferring the pod's own problem when there is one.
pub(crate) fn stage_exit(end: ExecEnd) -> std::result::Result<StageExit, String> {
    match end {
        ExecEnd::Exited(0) => Ok(StageExit::Success),
        ExecEnd::Exited(code) => Ok(StageExit::Failed {
            exit_code: code,
            message: format!("command terminated with exit code {code}"),
        }),
        ExecEnd::Failed(message) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_use_kubernetes_wording() {
        assert_eq!(
            stage_exit(ExecEnd::Exited(3)).unwrap(),
            StageExit::Failed {
                exit_code: 3,
                message: "command terminated with exit code 3".to_owned()
            }
        );
        assert_eq!(stage_exit(ExecEnd::Exited(0)).unwrap(), StageExit::Success);
        assert!(stage_exit(ExecEnd::Failed("x".to_owned())).is_err());
    }
}
