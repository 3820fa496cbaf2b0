//! A mirror of coordinator-api.md §6 (the job payload), strict about unknown fields, so a
//! payload that decodes carries nothing GitLab would not send.

use serde::Deserialize;
use serde_json::Value;

/// §6.1, strictly: unknown fields are rejected so the payload carries nothing GitLab would not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobPayload {
    pub(crate) id: i64,
    pub(crate) token: String,
    pub(crate) allow_git_fetch: bool,
    pub(crate) job_info: JobInfo,
    pub(crate) git_info: GitInfo,
    pub(crate) runner_info: RunnerInfo,
    pub(crate) variables: Vec<PayloadVariable>,
    pub(crate) steps: Vec<Step>,
    #[serde(default)]
    pub(crate) image: Option<Image>,
    pub(crate) services: Vec<Image>,
    pub(crate) artifacts: Vec<Artifact>,
    pub(crate) cache: Vec<Cache>,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) features: Features,
}

/// §6.2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobInfo {
    pub(crate) name: String,
    pub(crate) stage: String,
    pub(crate) pipeline_id: i64,
    pub(crate) project_id: i64,
    pub(crate) project_name: String,
    pub(crate) project_full_path: String,
    pub(crate) namespace_id: i64,
    pub(crate) root_namespace_id: i64,
    pub(crate) organization_id: i64,
    pub(crate) user_id: i64,
    pub(crate) instance_id: String,
    pub(crate) instance_uuid: String,
    pub(crate) time_in_queue_seconds: f64,
    pub(crate) project_jobs_running_on_instance_runners_count: String,
    pub(crate) queue_size: i64,
    pub(crate) queue_depth: i64,
}

/// §6.3.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GitInfo {
    pub(crate) repo_url: String,
    pub(crate) repo_object_format: String,
    #[serde(rename = "ref")]
    pub(crate) ref_name: String,
    pub(crate) sha: String,
    pub(crate) before_sha: String,
    pub(crate) ref_type: String,
    pub(crate) refspecs: Vec<String>,
    pub(crate) depth: i64,
    pub(crate) protected: Option<bool>,
}

/// §6.1 `runner_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunnerInfo {
    pub(crate) timeout: i64,
}

/// §6.4.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadVariable {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) public: bool,
    pub(crate) file: bool,
    pub(crate) masked: bool,
    pub(crate) raw: bool,
}

/// §6.5.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) script: Vec<String>,
    pub(crate) timeout: i64,
    pub(crate) when: String,
    pub(crate) allow_failure: bool,
}

/// §6.6.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Image {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) alias: String,
    #[serde(default)]
    pub(crate) command: Vec<String>,
    #[serde(default)]
    pub(crate) entrypoint: Vec<String>,
    #[serde(default)]
    pub(crate) ports: Vec<Value>,
    #[serde(default)]
    pub(crate) variables: Vec<PayloadVariable>,
    #[serde(default)]
    pub(crate) pull_policy: Vec<String>,
    #[serde(default)]
    pub(crate) executor_opts: Option<Value>,
}

/// §6.7.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Artifact {
    pub(crate) name: String,
    pub(crate) untracked: bool,
    pub(crate) paths: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    pub(crate) when: String,
    pub(crate) artifact_type: String,
    pub(crate) artifact_format: String,
    pub(crate) expire_in: String,
}

/// §6.8.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cache {
    pub(crate) key: String,
    pub(crate) untracked: bool,
    pub(crate) policy: String,
    pub(crate) paths: Vec<String>,
    pub(crate) when: String,
    pub(crate) fallback_keys: Vec<String>,
}

/// §6.1 `dependencies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Dependency {
    pub(crate) id: i64,
    pub(crate) token: String,
    pub(crate) name: String,
    pub(crate) artifacts_file: ArtifactsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArtifactsFile {
    pub(crate) filename: String,
    pub(crate) size: i64,
}

/// §6.11.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Features {
    pub(crate) trace_sections: bool,
}
