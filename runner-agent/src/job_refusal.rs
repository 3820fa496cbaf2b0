//! Jobs refused before they run: payload fields that change what a job does and that this
//! runner does not implement. Such a job must fail with a message naming the field, never run
//! without it and pass (issue #16; the audit of every decoded field is the table "Payload
//! fields" in ARCHITECTURE.md).
//!
//! Two kinds of refusal:
//! - upstream's own pick-up validation (`run:` conflicts, unknown `executor_opts` keys), with
//!   its words, written raw, `runner_system_failure`, exit code 3 (upstream-details.md §5.3);
//! - fields upstream honours and we do not: `runner_configuration_error` with a
//!   `Job failed: ...` line that names the field.
//!
//! Messages name keys and variable names, never values: a value may be a secret and nothing
//! masks these lines but token prefixes.

use runner_api::JobResponse;
use runner_api::wire::Image;
use runner_config::Executor;
use runner_executor::{FailureReason, JobFailure};

/// A job refused before it starts.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) failure: JobFailure,
    /// Upstream writes its pick-up validation messages raw: no `ERROR: Job failed` prefix.
    pub(crate) raw: bool,
}

impl Refusal {
    /// Upstream's pick-up validation failure: raw line, system failure, exit code 3.
    fn validation(message: impl Into<String>) -> Self {
        let mut failure = JobFailure::new(FailureReason::RunnerSystemFailure, message);
        failure.exit_code = Some(3);
        Self { failure, raw: true }
    }

    /// A field upstream honours that this runner does not implement.
    fn unsupported(message: impl Into<String>) -> Self {
        Self {
            failure: JobFailure::new(FailureReason::RunnerConfigurationError, message),
            raw: false,
        }
    }
}

/// Why `job` must not run on `executor`, or `None` when every field it uses is honoured.
pub(crate) fn refusal(job: &JobResponse, executor: Option<Executor>) -> Option<Refusal> {
    steps_refusal(job)
        .or_else(|| executor_opts_refusal(job))
        .or_else(|| unsupported_field(job, executor).map(Refusal::unsupported))
}

/// Why a job using GitLab's `run:` keyword (CI steps, upstream-details.md §5) cannot run
/// here. Upstream's pick-up checks come first, with their words; any other `run:` job is
/// refused as well, because this runner has no step-runner: it must never pass having run
/// nothing.
fn steps_refusal(job: &JobResponse) -> Option<Refusal> {
    if job.run.trim().is_empty() || job.run.trim() == "[]" {
        return None;
    }
    if job.steps.iter().any(|step| !step.script.is_empty()) {
        return Some(Refusal::validation(
            "the `run` and `script` keywords cannot be used together",
        ));
    }
    if job
        .variable("STEPS")
        .is_some_and(|steps| !steps.value.expose().is_empty())
    {
        return Some(Refusal::validation(
            "the `run` keyword requires the exclusive use of the variable STEPS",
        ));
    }
    Some(Refusal::unsupported(
        "the `run:` keyword (GitLab CI steps) is not supported: gitlab-runner-rs has no step-runner; use `script:` for this job",
    ))
}

/// Upstream's check of `executor_opts` keys (coordinator-api.md §6.6, vector 25): keys
/// outside `docker`/`kubernetes`, `docker.{platform,user}` and `kubernetes.user` fail the job
/// whatever the executor; all problems of the job, one line each.
fn executor_opts_refusal(job: &JobResponse) -> Option<Refusal> {
    let lines: Vec<String> = std::iter::once(("image", &job.image))
        .chain(job.services.iter().map(|service| ("services", service)))
        .flat_map(|(kind, image)| unknown_executor_opts(kind, image))
        .collect();
    (!lines.is_empty()).then(|| Refusal::validation(lines.join("\n")))
}

fn unknown_executor_opts(kind: &str, image: &Image) -> Vec<String> {
    let mut lines = Vec::new();
    let mut check = |scope: &str, keys: Vec<&String>, supported: &[&str]| {
        let mut unknown: Vec<&str> = keys
            .into_iter()
            .map(String::as_str)
            .filter(|key| !supported.contains(key))
            .collect();
        unknown.sort_unstable();
        if !unknown.is_empty() {
            lines.push(format!(
                "Unsupported \"{kind}\" options [{}] for \"{scope}\"; supported options are [{}]",
                unknown.join(" "),
                supported.join(" ")
            ));
        }
    };
    let opts = &image.executor_opts;
    check(
        "executor_opts",
        opts.keys().collect(),
        &["docker", "kubernetes"],
    );
    for (key, scope, supported) in [
        ("docker", "docker executor", &["platform", "user"][..]),
        ("kubernetes", "kubernetes executor", &["user"][..]),
    ] {
        if let Some(serde_json::Value::Object(section)) = opts.get(key) {
            check(scope, section.keys().collect(), supported);
        }
    }
    lines
}

/// The first field of `job` that upstream honours and this runner, on `executor`, does not.
fn unsupported_field(job: &JobResponse, executor: Option<Executor>) -> Option<String> {
    if !job.inputs.is_empty() {
        let keys: Vec<&str> = job.inputs.iter().map(|input| input.key.as_str()).collect();
        return Some(format!(
            "the job's `inputs:` ({}) are not supported: gitlab-runner-rs does not interpolate job inputs into the job",
            keys.join(", ")
        ));
    }
    if executor == Some(Executor::Docker) {
        let images = std::iter::once(("image", &job.image))
            .chain(job.services.iter().map(|service| ("services", service)));
        for (kind, image) in images {
            for option in ["platform", "user"] {
                if image
                    .executor_opts
                    .get("docker")
                    .and_then(|docker| docker.get(option))
                    .is_some()
                {
                    let name = if kind == "image" {
                        "the job image"
                    } else {
                        "a service"
                    };
                    return Some(format!(
                        "`{kind}: docker: {option}` (set for {name} `{}`) is not supported by gitlab-runner-rs's docker executor; remove it or use another runner",
                        image.name
                    ));
                }
            }
        }
    }
    if executor == Some(Executor::Kubernetes)
        && job.image.entrypoint.iter().any(|part| !part.is_empty())
    {
        return Some(
            "`image: entrypoint` is not supported by gitlab-runner-rs's kubernetes executor: the build container's command is the runner's shell; remove it or use another runner"
                .to_owned(),
        );
    }
    let suspend = &job.suspend_options;
    if suspend.suspend_on_success || suspend.suspend_on_failure {
        return Some(
            "suspending the job's environment (`suspend_options`) is not supported by gitlab-runner-rs"
                .to_owned(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(payload: serde_json::Value) -> JobResponse {
        JobResponse::from_json(payload.to_string().as_bytes()).expect("payload decodes")
    }

    fn message(
        job: &JobResponse,
        executor: Option<Executor>,
    ) -> Option<(String, bool, FailureReason)> {
        refusal(job, executor)
            .map(|refusal| (refusal.failure.message, refusal.raw, refusal.failure.reason))
    }

    const SCRIPT: &str = r#"[{"name":"script","script":["echo hi"]}]"#;

    #[test]
    fn an_ordinary_job_on_any_executor_is_not_refused() {
        let ordinary = job(serde_json::json!({
            "id": 1, "steps": serde_json::from_str::<serde_json::Value>(SCRIPT).unwrap(),
            "image": {"name": "alpine", "entrypoint": [""], "pull_policy": ["if-not-present"],
                      "executor_opts": {"kubernetes": {"user": "1000"}}},
            "services": [{"name": "postgres", "alias": "db,pg", "variables": [{"key": "A", "value": "b"}]}],
            "artifacts": [{"paths": ["r.xml"], "artifact_type": "junit", "artifact_format": "gzip"}],
            "hooks": [{"name": "pre_get_sources_script", "script": ["true"]}],
            "policy_options": {"execution_policy_job": true, "policy_name": "p"},
            "suspend_options": {"runtime_environment_key": "k"}
        }));
        for executor in [
            None,
            Some(Executor::Shell),
            Some(Executor::Docker),
            Some(Executor::Kubernetes),
            Some(Executor::Custom),
        ] {
            assert!(refusal(&ordinary, executor).is_none(), "{executor:?}");
        }
    }

    #[test]
    fn run_jobs_keep_upstreams_validation_and_are_refused_otherwise() {
        let both = job(serde_json::json!({
            "id": 1, "run": r#"[{"name":"a","script":"echo"}]"#,
            "steps": serde_json::from_str::<serde_json::Value>(SCRIPT).unwrap()
        }));
        let (text, raw, reason) = message(&both, None).unwrap();
        assert_eq!(
            text,
            "the `run` and `script` keywords cannot be used together"
        );
        assert!(raw);
        assert_eq!(reason, FailureReason::RunnerSystemFailure);
        assert_eq!(refusal(&both, None).unwrap().failure.exit_code, Some(3));
        let only_run =
            job(serde_json::json!({"id": 1, "run": r#"[{"name":"a","script":"echo"}]"#}));
        let (text, raw, reason) = message(&only_run, None).unwrap();
        assert!(text.contains("`run:` keyword"), "{text}");
        assert!(!raw);
        assert_eq!(reason, FailureReason::RunnerConfigurationError);
    }

    #[test]
    fn unknown_executor_opts_use_upstreams_words_one_line_each() {
        let unknown = job(serde_json::json!({
            "id": 1,
            "image": {"name": "alpine", "executor_opts": {"docker": {"blammo": "x", "user": 1}, "podman": {}}},
            "services": [{"name": "redis", "executor_opts": {"kubernetes": {"user": 1, "fsgroup": 2}}}]
        }));
        let (text, raw, reason) = message(&unknown, Some(Executor::Shell)).unwrap();
        assert_eq!(
            text,
            "Unsupported \"image\" options [podman] for \"executor_opts\"; supported options are [docker kubernetes]\n\
             Unsupported \"image\" options [blammo] for \"docker executor\"; supported options are [platform user]\n\
             Unsupported \"services\" options [fsgroup] for \"kubernetes executor\"; supported options are [user]"
        );
        assert!(raw);
        assert_eq!(reason, FailureReason::RunnerSystemFailure);
    }

    #[test]
    fn inputs_are_refused_naming_their_keys() {
        let with_inputs = job(serde_json::json!({
            "id": 1,
            "inputs": [{"key": "environment", "value": {"type": "string", "content": "production"}}]
        }));
        let (text, _, reason) = message(&with_inputs, Some(Executor::Shell)).unwrap();
        assert!(text.contains("`inputs:` (environment)"), "{text}");
        assert!(!text.contains("production"), "{text}");
        assert_eq!(reason, FailureReason::RunnerConfigurationError);
    }

    #[test]
    fn docker_platform_and_user_are_refused_on_the_docker_executor_only() {
        let platform = job(serde_json::json!({
            "id": 1, "image": {"name": "alpine", "executor_opts": {"docker": {"platform": "linux/arm64"}}}
        }));
        let (text, _, reason) = message(&platform, Some(Executor::Docker)).unwrap();
        assert_eq!(
            text,
            "`image: docker: platform` (set for the job image `alpine`) is not supported by gitlab-runner-rs's docker executor; remove it or use another runner"
        );
        assert_eq!(reason, FailureReason::RunnerConfigurationError);
        let service_user = job(serde_json::json!({
            "id": 1, "services": [{"name": "redis", "executor_opts": {"docker": {"user": 1000}}}]
        }));
        let (text, _, _) = message(&service_user, Some(Executor::Docker)).unwrap();
        assert!(
            text.starts_with("`services: docker: user` (set for a service `redis`)"),
            "{text}"
        );
        // Other executors ignore docker options, as upstream's do.
        for executor in [
            Some(Executor::Shell),
            Some(Executor::Kubernetes),
            Some(Executor::Custom),
        ] {
            assert!(refusal(&platform, executor).is_none());
            assert!(refusal(&service_user, executor).is_none());
        }
    }

    #[test]
    fn a_kubernetes_job_image_entrypoint_is_refused_but_an_empty_one_is_not() {
        let entrypoint = job(serde_json::json!({
            "id": 1, "image": {"name": "alpine", "entrypoint": ["/bin/init", "--"]}
        }));
        let (text, _, _) = message(&entrypoint, Some(Executor::Kubernetes)).unwrap();
        assert!(
            text.starts_with("`image: entrypoint` is not supported"),
            "{text}"
        );
        assert!(refusal(&entrypoint, Some(Executor::Docker)).is_none());
        let cleared =
            job(serde_json::json!({"id": 1, "image": {"name": "alpine", "entrypoint": [""]}}));
        assert!(refusal(&cleared, Some(Executor::Kubernetes)).is_none());
    }

    #[test]
    fn suspending_the_environment_is_refused() {
        let suspend = job(serde_json::json!({
            "id": 1, "suspend_options": {"suspend_on_failure": true, "runtime_environment_key": "k"}
        }));
        let (text, _, _) = message(&suspend, Some(Executor::Shell)).unwrap();
        assert!(text.contains("`suspend_options`"), "{text}");
    }
}
