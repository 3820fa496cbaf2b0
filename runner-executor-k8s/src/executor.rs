//! [`KubernetesExecutor`]: the [`Backend`] that prepares the pod plan, creates the secret and pod
//! at the first stage, runs stages over exec and always cleans up.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::Api;
use runner_executor::{
    Backend, BackendDefaults, FailureReason, JobSpec, StageExit, StageScript, Target, TraceWriter,
};
use tokio_util::sync::CancellationToken;

use crate::client::ClusterAccess;
use crate::error::{Error, Result};
use crate::resources::Family;
use crate::settings::Settings;

/// Default builds root inside the pod.
const DEFAULT_BUILDS_DIR: &str = "/builds";

use crate::helper_binary::DEFAULT_HELPER_IMAGE_REPOSITORY as HELPER_IMAGE_REPOSITORY;

/// The Kubernetes executor: one client per runner, one pod per job.
#[derive(Clone)]
pub struct KubernetesExecutor {
    client: kube::Client,
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
    pub(crate) pods: Api<Pod>,
    pub(crate) secrets: Api<Secret>,
    /// Set with `namespace_per_job`: the job's namespace is created with the pod and deleted
    /// at cleanup.
    pub(crate) own_namespace: Option<Api<Namespace>>,
    pub(crate) namespace: String,
    pub(crate) pod: Pod,
    pub(crate) secret: Option<Secret>,
    pub(crate) pod_name: String,
    pub(crate) started: bool,
    /// The helper's wait for services, run once the pod is running (before the first stage).
    pub(crate) health_check: Option<String>,
    pub(crate) settings: Arc<Settings>,
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
        // Upstream takes the namespace from `config.toml` only, never from the kubeconfig context.
        let (client, _kubeconfig_namespace) = crate::client::build_client(access).await?;
        Ok(Self {
            client,
            settings: Arc::new(settings),
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn namespace_for(settings: &Settings, job: &JobSpec) -> (String, bool) {
        if settings.namespace_per_job {
            return (format!("ci-job-{}", job.id), false);
        }
        if !settings.namespace.is_empty() {
            return (settings.namespace.clone(), false);
        }
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
        let mut notes = Vec::new();
        let overwritten = crate::overwrites::evaluate(&self.settings, job, &mut notes)
            .map_err(Error::Overwrite)?;
        let mut effective = Settings::clone(&self.settings);
        effective.namespace = overwritten.namespace;
        effective.service_account = overwritten.service_account;
        effective.pod_labels = overwritten.pod_labels;
        effective.pod_annotations = overwritten.pod_annotations;
        effective.node_selector = overwritten.node_selector;
        effective.node_tolerations = overwritten.node_tolerations;
        let settings = &Arc::new(effective);
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
        verify_allowed(settings, job, &image, trace).await?;
        let mut warnings = Vec::new();
        let job_user = crate::users::job_user(
            job.image
                .as_ref()
                .map(|i| i.kubernetes_user.as_str())
                .unwrap_or(""),
            &settings.allowed_users,
            &settings.allowed_groups,
            &mut warnings,
        );
        for warning in warnings {
            trace.warning(&warning).await;
        }
        let job_user = job_user.map_err(Error::Configuration)?;
        let (namespace, assumed) = Self::namespace_for(settings, job);
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
        let health_check = crate::services::health_check_command(&services);

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
            job_user,
        };
        let pod = crate::manifest::build_pod(&inputs).map_err(Error::Configuration)?;
        trace
            .plain(&format!("Using Kubernetes executor with image {image} ..."))
            .await;
        Ok(Session {
            pods: Api::namespaced(self.client.clone(), &namespace),
            secrets: Api::namespaced(self.client.clone(), &namespace),
            own_namespace: settings
                .namespace_per_job
                .then(|| Api::all(self.client.clone())),
            namespace,
            pod,
            secret,
            pod_name,
            started: false,
            health_check,
            settings: Arc::clone(settings),
        })
    }
}

/// `allowed_images` for the job's image and `allowed_services` for the job's services, with
/// the Docker executor's lines; the runner's own default image and configured services are
/// always allowed.
async fn verify_allowed(
    settings: &Settings,
    job: &JobSpec,
    image: &str,
    trace: &mut TraceWriter,
) -> Result<()> {
    use runner_executor::allow_list::{AllowList, check};
    let job_image = job.image.as_ref().map(|i| i.name.as_str()).unwrap_or("");
    if !job_image.is_empty() {
        let default = settings.image.as_deref().unwrap_or_default();
        if !check(
            AllowList::Images,
            image,
            &settings.allowed_images,
            &[default],
            trace,
        )
        .await
        {
            return Err(Error::DisallowedImage);
        }
    }
    let configured: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    for service in &job.services {
        if !check(
            AllowList::Services,
            &service.name,
            &settings.allowed_services,
            &configured,
            trace,
        )
        .await
        {
            return Err(Error::DisallowedImage);
        }
    }
    Ok(())
}

/// The seed's K1 text for a pod that is not running within `poll_timeout`.
const POD_START_TIMEOUT: &str = "timed out waiting for pod to start";

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

    /// The copy the `init-permissions` container installs in the shared scripts directory.
    fn helper_binary(&self, job: &JobSpec) -> String {
        crate::helper_binary::installed_path(&self.settings, job)
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
                started = crate::start::start_pod(session, trace) => started?,
            }
            // Services that name a health-check port must answer before any stage runs; a
            // failed wait fails this first stage with the helper's exit code, as upstream's
            // failed preparation fails the job.
            if let Some(command) = session.health_check.take() {
                match crate::stage::run(session, "helper", &command, trace, &stop).await? {
                    StageExit::Success => {}
                    other => return Ok(other),
                }
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

    fn bare_message(&self, error: &Error) -> Option<String> {
        // Upstream reports a pod that never started bare, and users search for that line
        // word for word (seed K1); API errors while waiting keep their chain (K2).
        match error {
            Error::WaitPodRunning(cause) if cause.starts_with(POD_START_TIMEOUT) => {
                Some(POD_START_TIMEOUT.to_owned())
            }
            _ => None,
        }
    }

    fn failure_reason(&self, error: &Error) -> Option<FailureReason> {
        error.failure_reason()
    }
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

    pub(crate) fn own_namespace(&self) -> Option<&Api<Namespace>> {
        self.own_namespace.as_ref()
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}
