//! The job payload: a planned job rendered as the JSON body GitLab's `jobs/request` returns
//! (coordinator-api.md §6), so it can go through the same code path as a real job.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};

use crate::context::LocalContext;
use crate::image::Image;
use crate::plan::PlannedJob;
use crate::predefined::{self, JobFacts};
use crate::schedule::user_variables;
use crate::variables::{self, Variable};

/// GitLab's default job timeout (a project's default, 60 minutes), used without `timeout`.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;

impl PlannedJob {
    /// The job's full variable list, in precedence order (later wins): predefined, global YAML,
    /// job YAML, `rules:variables`, then `ctx.variables`; duplicates keep their last value.
    pub fn variables(&self, ctx: &LocalContext, job_id: i64) -> Vec<Variable> {
        self.variables_inheriting(ctx, job_id, &[])
    }

    /// [`variables`](Self::variables) with `inherited` (the `artifacts:reports:dotenv`
    /// variables of the jobs in [`dependencies`](Self::dependencies)) between the YAML
    /// variables and `ctx.variables`, which is where GitLab ranks dotenv variables.
    pub fn variables_inheriting(
        &self,
        ctx: &LocalContext,
        job_id: i64,
        inherited: &[Variable],
    ) -> Vec<Variable> {
        let facts = JobFacts {
            name: &self.name,
            stage: &self.stage,
            id: Some(job_id),
            node: self.node,
            manual: self.manual,
        };
        let predefined = predefined::predefined(ctx, &facts);
        let user = user_variables(ctx);
        // The environment's name and URL are expanded with the job's other variables.
        let environment = match &self.job.environment {
            Some(environment) => {
                let others = [
                    predefined.as_slice(),
                    &self.yaml_variables,
                    inherited,
                    &user,
                ]
                .concat();
                environment.variables(&variables::expand_all(&others))
            }
            None => Vec::new(),
        };
        let list = [
            predefined,
            environment,
            self.yaml_variables.clone(),
            inherited.to_vec(),
            user,
        ]
        .concat();
        variables::dedup(list)
    }

    /// The payload GitLab would send for this job. `dependency_ids` maps the names of jobs that
    /// already ran to their ids; each of [`dependencies`](Self::dependencies) found there is
    /// listed with an `artifacts.zip` to download, using the job token of `ctx`.
    pub fn to_job_payload(
        &self,
        ctx: &LocalContext,
        job_id: i64,
        dependency_ids: &HashMap<String, i64>,
    ) -> Json {
        self.to_job_payload_inheriting(ctx, job_id, dependency_ids, &[])
    }

    /// [`to_job_payload`](Self::to_job_payload) whose variables include `inherited`, as
    /// [`variables_inheriting`](Self::variables_inheriting) ranks them.
    pub fn to_job_payload_inheriting(
        &self,
        ctx: &LocalContext,
        job_id: i64,
        dependency_ids: &HashMap<String, i64>,
        inherited: &[Variable],
    ) -> Json {
        let job = &self.job;
        let variables = self.variables_inheriting(ctx, job_id, inherited);
        // Only `cache:key:files` reads the project's files.
        let files = (!ctx.project_dir.as_os_str().is_empty())
            .then(|| crate::files::ProjectFiles::new(&ctx.project_dir));
        let expanded = variables::expand_all(&variables);
        let timeout = job.timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        let mut payload = Map::new();
        payload.insert("id".into(), json!(job_id));
        payload.insert("token".into(), json!(ctx.job_token));
        payload.insert("allow_git_fetch".into(), json!(true));
        payload.insert("job_info".into(), self.job_info(ctx));
        payload.insert("git_info".into(), git_info(ctx, &expanded));
        payload.insert("runner_info".into(), json!({"timeout": timeout}));
        payload.insert(
            "variables".into(),
            Json::Array(variables.iter().map(Variable::to_json).collect()),
        );
        payload.insert("steps".into(), self.steps(timeout));
        if let Some(image) = &job.image {
            payload.insert("image".into(), image.to_json());
        }
        payload.insert(
            "services".into(),
            Json::Array(job.services.iter().map(Image::to_json).collect()),
        );
        let artifacts = job
            .artifacts
            .as_ref()
            .map(|artifacts| artifacts.to_json())
            .unwrap_or_default();
        payload.insert("artifacts".into(), Json::Array(artifacts));
        payload.insert(
            "cache".into(),
            Json::Array(
                job.caches
                    .iter()
                    .map(|cache| cache.to_json(files.as_ref()))
                    .collect(),
            ),
        );
        let dependencies: Vec<Json> = self
            .dependencies
            .iter()
            .filter_map(|name| dependency_ids.get(name).map(|id| (name, id)))
            .map(|(name, id)| {
                json!({"id": id, "token": ctx.job_token, "name": name,
                       "artifacts_file": {"filename": "artifacts.zip", "size": 0}})
            })
            .collect();
        payload.insert("dependencies".into(), Json::Array(dependencies));
        payload.insert("features".into(), json!({"trace_sections": true}));
        if !job.hooks.is_empty() {
            payload.insert("hooks".into(), Json::Array(job.hooks.clone()));
        }
        Json::Object(payload)
    }

    fn job_info(&self, ctx: &LocalContext) -> Json {
        json!({
            "name": self.name,
            "stage": self.stage,
            "pipeline_id": ctx.pipeline_id,
            "project_id": 0,
            "project_name": ctx.project_name,
            "project_full_path": ctx.project_path,
            "namespace_id": 0,
            "root_namespace_id": 0,
            "organization_id": 0,
            "user_id": 0,
            "instance_id": "",
            "instance_uuid": "",
            "time_in_queue_seconds": 0.0,
            "project_jobs_running_on_instance_runners_count": "0",
            "queue_size": 0,
            "queue_depth": 0,
        })
    }

    /// `script` is `before_script` followed by `script`, as the server merges them.
    fn steps(&self, timeout: u64) -> Json {
        let job = &self.job;
        let script: Vec<&String> = job.before_script.iter().chain(&job.script).collect();
        let mut steps = vec![json!({
            "name": "script", "script": script, "timeout": timeout, "when": "on_success", "allow_failure": false,
        })];
        if !job.after_script.is_empty() {
            steps.push(json!({
                "name": "after_script", "script": job.after_script, "timeout": timeout, "when": "always",
                "allow_failure": true,
            }));
        }
        Json::Array(steps)
    }
}

/// `git_info`: the checkout as the runner should fetch it. `GIT_DEPTH` becomes `depth`, as the
/// server does.
fn git_info(ctx: &LocalContext, expanded: &HashMap<String, String>) -> Json {
    let refspec = match ctx.ref_type {
        crate::RefType::Branch => format!("+refs/heads/{0}:refs/remotes/origin/{0}", ctx.ref_name),
        crate::RefType::Tag => format!("+refs/tags/{0}:refs/tags/{0}", ctx.ref_name),
    };
    let depth: u64 = expanded
        .get("GIT_DEPTH")
        .and_then(|depth| depth.trim().parse().ok())
        .unwrap_or(0);
    let before_sha = if ctx.before_sha.is_empty() {
        "0".repeat(40)
    } else {
        ctx.before_sha.clone()
    };
    json!({
        "repo_url": ctx.repo_url,
        "repo_object_format": "sha1",
        "ref": ctx.ref_name,
        "sha": ctx.commit_sha,
        "before_sha": before_sha,
        "ref_type": ctx.ref_type.as_str(),
        "refspecs": [refspec],
        "depth": depth,
        "protected": false,
    })
}
