//! The one place where a coordinator job (`runner_api::JobResponse`) and a `[[runners]]`
//! entry (`runner_config::RunnerConfig`) become the executor's plain job model
//! (`runner_executor::JobSpec`). `run`, `run-single` and `exec` all go through here, so
//! every executor sees jobs the same way whatever brought them.

use std::time::Duration;

use runner_api::wire;
use runner_config::RunnerConfig;
use runner_executor::{
    Artifact, Cache, Dependency, GitSource, Image, JobHooks, JobSpec, RegistryCredential,
    RunnerSettings, Secret, ServerFeatures, Step, TransferScripts, Variable, When,
};

use crate::version;

/// Facts about this runner process that every job shows (header, `CI_RUNNER_*`).
#[derive(Debug, Clone)]
pub struct RunnerIdentity {
    /// The system id (`s_` + 12 hex) of this runner manager.
    pub system_id: String,
    /// The slot of the job within its runner (`CI_CONCURRENT_ID`).
    pub concurrent_id: u32,
    /// The slot of the job among its runner's jobs of the same project
    /// (`CI_CONCURRENT_PROJECT_ID`), which names its project directory.
    pub concurrent_project_id: u32,
}

/// Builds the executor's job model from the coordinator's job and the runner's config,
/// including the cache and artifact stage lines (cache URLs signed with the static keys of
/// `[runners.cache]`; see [`from_wire_with_cache`] for IAM credentials).
pub fn from_wire(
    job: &wire::JobResponse,
    runner: &RunnerConfig,
    identity: &RunnerIdentity,
) -> JobSpec {
    let cache_settings = crate::transfer_scripts::runner_cache_settings(runner);
    from_wire_with_cache(job, runner, identity, &cache_settings)
}

/// [`from_wire`] with the cache settings given, e.g. with IAM credentials already resolved
/// (`runner_artifacts::CacheSettings::resolve_credentials`).
pub fn from_wire_with_cache(
    job: &wire::JobResponse,
    runner: &RunnerConfig,
    identity: &RunnerIdentity,
    cache_settings: &runner_artifacts::CacheSettings,
) -> JobSpec {
    let mut spec = JobSpec {
        id: i64::try_from(job.id).unwrap_or(i64::MAX),
        token: Secret::new(job.token.expose()),
        name: job.job_info.name.clone(),
        project_id: job.job_info.project_id,
        pipeline_id: job.job_info.pipeline_id,
        project_path: job.job_info.project_full_path.clone(),
        allow_git_fetch: job.allow_git_fetch,
        git: GitSource {
            repo_url: job.git_info.repo_url.clone(),
            repo_object_format: job.git_info.repo_object_format.clone(),
            ref_name: job.git_info.git_ref.clone(),
            sha: job.git_info.sha.clone(),
            before_sha: job.git_info.before_sha.clone(),
            ref_type: job.git_info.ref_type.clone(),
            refspecs: job.git_info.refspecs.clone(),
            depth: u32::try_from(job.git_info.depth.max(0)).unwrap_or(u32::MAX),
            protected: job.git_info.protected,
        },
        timeout: job.timeout(),
        variables: job.variables.iter().map(variable).collect(),
        steps: job.steps.iter().map(step).collect(),
        image: (!job.image.name.is_empty()).then(|| image(&job.image)),
        services: job.services.iter().map(image).collect(),
        artifacts: job.artifacts.iter().map(artifact).collect(),
        cache: job.cache.iter().map(cache).collect(),
        dependencies: job.dependencies.iter().map(dependency).collect(),
        registry_credentials: job
            .credentials
            .iter()
            .filter(|credential| credential.kind == "registry")
            .map(|credential| RegistryCredential {
                registry: credential.url.clone(),
                username: credential.username.clone(),
                password: Secret::new(credential.password.expose()),
            })
            .collect(),
        hooks: hooks(&job.hooks),
        features: ServerFeatures {
            trace_sections: job.features.trace_sections,
            token_mask_prefixes: job.features.token_mask_prefixes.clone(),
            failure_reasons: job.features.failure_reasons.clone(),
        },
        runner: runner_settings(runner, identity),
        transfer: TransferScripts::default(),
    };
    spec.transfer = crate::transfer_scripts::transfer_scripts(&spec, runner, cache_settings);
    spec
}

/// The runner-side half of a job: what `config.toml` says about how jobs run.
pub fn runner_settings(runner: &RunnerConfig, identity: &RunnerIdentity) -> RunnerSettings {
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    RunnerSettings {
        name: runner.name.clone(),
        short_token: runner.short_token().to_owned(),
        system_id: identity.system_id.clone(),
        version: version::VERSION.to_owned(),
        revision: version::REVISION.to_owned(),
        executable_arch: format!("{}/{}", version::os(), version::arch()),
        user_agent: runner_api::user_agent(),
        builds_dir: non_empty(&runner.builds_dir),
        cache_dir: non_empty(&runner.cache_dir),
        concurrent_id: identity.concurrent_id,
        concurrent_project_id: identity.concurrent_project_id,
        environment: runner.environment.clone(),
        pre_get_sources_script: non_empty(&runner.pre_get_sources_script),
        post_get_sources_script: non_empty(&runner.post_get_sources_script),
        pre_build_script: non_empty(&runner.pre_build_script),
        post_build_script: non_empty(&runner.post_build_script),
        output_limit_kib: if runner.output_limit > 0 {
            u64::try_from(runner.output_limit).unwrap_or(4096)
        } else {
            4096
        },
        shell: non_empty(&runner.shell).unwrap_or_else(|| "bash".to_owned()),
        clone_url: non_empty(&runner.clone_url),
        feature_flags: runner.feature_flags.clone(),
        prepare_timeout: runner.prepare_timeout.and_then(|d| d.to_std()),
        get_sources_timeout: runner.get_sources_timeout.and_then(|d| d.to_std()),
        debug_trace_disabled: runner.debug_trace_disabled,
        prepare_retry_delay: Duration::from_secs(3),
    }
}

fn variable(variable: &wire::Variable) -> Variable {
    Variable {
        key: variable.key.clone(),
        value: variable.value.expose().to_owned(),
        public: variable.public,
        file: variable.file,
        masked: variable.masked,
        raw: variable.raw,
    }
}

fn step(step: &wire::Step) -> Step {
    Step {
        name: step.name.clone(),
        script: step.script.clone(),
        timeout: u64::try_from(step.timeout)
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        when: When::from_payload(&step.when),
        allow_failure: step.allow_failure,
    }
}

fn image(image: &wire::Image) -> Image {
    Image {
        name: image.name.clone(),
        alias: image.alias.clone(),
        command: image.command.clone(),
        entrypoint: image.entrypoint.clone(),
        pull_policy: image.pull_policy.clone(),
        variables: image.variables.iter().map(variable).collect(),
        kubernetes_user: executor_user(&image.executor_opts, "kubernetes"),
    }
}

/// `executor_opts.<executor>.user`, a JSON string or number; empty when absent.
fn executor_user(opts: &serde_json::Map<String, serde_json::Value>, executor: &str) -> String {
    match opts.get(executor).and_then(|o| o.get("user")) {
        Some(serde_json::Value::String(user)) => user.clone(),
        Some(serde_json::Value::Number(user)) => user.to_string(),
        _ => String::new(),
    }
}

fn artifact(artifact: &wire::Artifact) -> Artifact {
    Artifact {
        name: artifact.name.clone(),
        untracked: artifact.untracked,
        paths: artifact.paths.clone(),
        exclude: artifact.exclude.clone(),
        when: When::from_payload(&artifact.when),
        artifact_type: artifact.artifact_type.clone(),
        artifact_format: artifact.artifact_format.clone(),
        expire_in: artifact.expire_in.clone(),
    }
}

fn cache(cache: &wire::Cache) -> Cache {
    Cache {
        key: cache.key.clone(),
        untracked: cache.untracked,
        policy: cache.policy.clone(),
        paths: cache.paths.clone(),
        when: When::from_payload(&cache.when),
        fallback_keys: cache.fallback_keys.clone(),
    }
}

fn dependency(dependency: &wire::Dependency) -> Dependency {
    Dependency {
        id: i64::try_from(dependency.id).unwrap_or(i64::MAX),
        token: Secret::new(dependency.token.expose()),
        name: dependency.name.clone(),
        artifacts_filename: dependency.artifacts_file.filename.clone(),
    }
}

fn hooks(hooks: &[wire::Hook]) -> JobHooks {
    let mut result = JobHooks::default();
    for hook in hooks {
        match hook.name.as_str() {
            "pre_get_sources_script" => result
                .pre_get_sources_script
                .extend(hook.script.iter().cloned()),
            "post_get_sources_script" => result
                .post_get_sources_script
                .extend(hook.script.iter().cloned()),
            other => tracing::debug!(hook = other, "ignoring unknown job hook"),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubernetes_user_of_executor_opts_reaches_the_image() {
        let opts = |value: serde_json::Value| {
            let wire_image: wire::Image = serde_json::from_value(serde_json::json!({
                "name": "alpine:3", "executor_opts": value
            }))
            .expect("image");
            image(&wire_image).kubernetes_user
        };
        assert_eq!(
            opts(serde_json::json!({"kubernetes": {"user": "1000:1000"}})),
            "1000:1000"
        );
        assert_eq!(
            opts(serde_json::json!({"kubernetes": {"user": 1000}})),
            "1000"
        );
        assert_eq!(opts(serde_json::json!({"docker": {"user": "1000"}})), "");
    }

    #[test]
    fn registry_credentials_reach_the_spec_and_are_masked() {
        let credential = |kind: &str, url: &str| wire::Credential {
            kind: kind.to_owned(),
            url: url.to_owned(),
            username: "gitlab-ci-token".to_owned(),
            password: "glcbt-registry-secret".into(),
        };
        let job = wire::JobResponse {
            credentials: vec![
                credential("registry", "registry.example.com:5050"),
                credential("other", "ignored.example.com"),
            ],
            ..wire::JobResponse::default()
        };
        let identity = RunnerIdentity {
            system_id: "s_0123456789ab".to_owned(),
            concurrent_id: 0,
            concurrent_project_id: 0,
        };
        let spec = from_wire(&job, &RunnerConfig::default(), &identity);
        assert_eq!(spec.registry_credentials.len(), 1);
        let only = &spec.registry_credentials[0];
        assert_eq!(only.registry, "registry.example.com:5050");
        assert_eq!(only.username, "gitlab-ci-token");
        assert_eq!(only.password.expose(), "glcbt-registry-secret");
        assert!(
            spec.masked_values()
                .contains(&"glcbt-registry-secret".to_owned())
        );
    }
}
