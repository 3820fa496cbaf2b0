//! The members of the job payload (§6.2–§6.11).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::Token;

/// `job_info`: metadata used only for logs, metrics and usage records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInfo {
    /// Job name.
    pub name: String,
    /// Stage name.
    pub stage: String,
    /// Pipeline id.
    pub pipeline_id: i64,
    /// Project id.
    pub project_id: i64,
    /// Project name.
    pub project_name: String,
    /// Project path with namespace.
    pub project_full_path: String,
    /// Namespace id.
    pub namespace_id: i64,
    /// Root namespace id.
    pub root_namespace_id: i64,
    /// Organization id.
    pub organization_id: i64,
    /// User id.
    pub user_id: i64,
    /// Scoped user id, when present.
    pub scoped_user_id: Option<i64>,
    /// Instance id.
    pub instance_id: String,
    /// Instance uuid.
    pub instance_uuid: String,
    /// Seconds the job waited in the queue.
    pub time_in_queue_seconds: f64,
    /// A number sent as a string by GitLab.
    pub project_jobs_running_on_instance_runners_count: String,
    /// Queue size.
    pub queue_size: i64,
    /// Queue depth.
    pub queue_depth: i64,
}

/// `git_info`: what to check out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GitInfo {
    /// Clone URL, normally with the job token embedded; never log it whole.
    pub repo_url: String,
    /// `sha1` (also when empty) or `sha256`.
    pub repo_object_format: String,
    /// Branch or tag name.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Commit to check out.
    pub sha: String,
    /// Previous commit of the push.
    pub before_sha: String,
    /// `branch` or `tag`.
    pub ref_type: String,
    /// Refspecs to fetch.
    pub refspecs: Vec<String>,
    /// Shallow-clone depth; 0 = full history.
    pub depth: i64,
    /// Whether the ref is protected (GitLab 18.3+).
    pub protected: Option<bool>,
}

impl fmt::Debug for GitInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted_url = match url::Url::parse(&self.repo_url) {
            Ok(mut parsed) => {
                // Credentials in the clone URL are the job token: strip them.
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
                parsed.to_string()
            }
            Err(_) => "[unparsable]".to_owned(),
        };
        formatter
            .debug_struct("GitInfo")
            .field("repo_url", &redacted_url)
            .field("ref", &self.git_ref)
            .field("sha", &self.sha)
            .field("ref_type", &self.ref_type)
            .field("refspecs", &self.refspecs)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// `runner_info` of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRunnerInfo {
    /// Runner uuid.
    pub uuid: String,
    /// Job timeout in seconds; ≤ 0 means 7200.
    pub timeout: i64,
}

/// A job variable (§6.4). `Debug` hides the value unless the variable is public.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Variable {
    /// Name.
    pub key: String,
    /// Value (secret unless `public`).
    pub value: Token,
    /// Not secret.
    pub public: bool,
    /// Exposed as a file path.
    pub file: bool,
    /// Masked in the log.
    pub masked: bool,
    /// Not expanded.
    pub raw: bool,
}

impl fmt::Debug for Variable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.public && !self.masked {
            self.value.expose()
        } else {
            "[REDACTED]"
        };
        formatter
            .debug_struct("Variable")
            .field("key", &self.key)
            .field("value", &value)
            .field("public", &self.public)
            .field("file", &self.file)
            .field("masked", &self.masked)
            .field("raw", &self.raw)
            .finish()
    }
}

/// A script step (§6.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    /// `script`, `after_script`, `release`, ...
    pub name: String,
    /// Script lines.
    pub script: Vec<String>,
    /// Timeout in seconds.
    pub timeout: i64,
    /// `on_success` (also empty), `on_failure`, `always`.
    pub when: String,
    /// Whether failure is allowed.
    pub allow_failure: bool,
}

/// An exposed service port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    /// Port number.
    pub number: i64,
    /// `http` or `https`.
    pub protocol: String,
    /// Port name.
    pub name: String,
}

/// The job image or a service (§6.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    /// Image reference.
    pub name: String,
    /// Service hostname(s).
    pub alias: String,
    /// CMD override.
    pub command: Vec<String>,
    /// ENTRYPOINT override.
    pub entrypoint: Vec<String>,
    /// Exposed ports.
    pub ports: Vec<Port>,
    /// Service variables.
    pub variables: Vec<Variable>,
    /// Pull policies.
    pub pull_policy: Vec<String>,
    /// Executor options, kept as JSON: unknown keys fail the job before execution, not decoding.
    pub executor_opts: serde_json::Map<String, serde_json::Value>,
}

/// An artifacts entry (§6.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Artifact {
    /// Archive name.
    pub name: String,
    /// Include untracked files.
    pub untracked: bool,
    /// Paths.
    pub paths: Vec<String>,
    /// Excluded paths.
    pub exclude: Vec<String>,
    /// `on_success` (also empty), `on_failure`, `always`.
    pub when: String,
    /// `archive`, `junit`, ...
    pub artifact_type: String,
    /// `zip` (also empty), `gzip`, `raw`, `zipzstd`, `tarzstd`.
    pub artifact_format: String,
    /// Expiry, passed through verbatim.
    pub expire_in: String,
}

/// A cache entry (§6.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cache {
    /// Cache key.
    pub key: String,
    /// Include untracked files.
    pub untracked: bool,
    /// `pull-push` (also empty), `pull`, `push`.
    pub policy: String,
    /// Paths.
    pub paths: Vec<String>,
    /// When to save.
    pub when: String,
    /// Fallback keys.
    pub fallback_keys: Vec<String>,
}

/// Registry credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Credential {
    /// Only `registry` is used.
    #[serde(rename = "type")]
    pub kind: String,
    /// Registry URL.
    pub url: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: Token,
}

/// A job whose artifacts this job downloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependency {
    /// The dependency's job id.
    pub id: u64,
    /// The dependency's job token, used for its download.
    pub token: Token,
    /// Job name.
    pub name: String,
    /// The archive; skipped when the filename is empty.
    pub artifacts_file: ArtifactsFile,
}

/// `artifacts_file` of a dependency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArtifactsFile {
    /// File name.
    pub filename: String,
    /// Size in bytes.
    pub size: i64,
}

/// `features` sent by the server (§6.11).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerFeatures {
    /// Emit section markers.
    pub trace_sections: bool,
    /// Extra token prefixes to mask.
    pub token_mask_prefixes: Vec<String>,
    /// Failure reasons this GitLab accepts.
    pub failure_reasons: Vec<String>,
    /// OpenTelemetry hints.
    pub tracing: Option<serde_json::Value>,
}

/// A `pre_get_sources_script` / `post_get_sources_script` hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hook {
    /// Hook name.
    pub name: String,
    /// Script lines.
    pub script: Vec<String>,
}

/// `policy_options`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyOptions {
    /// Whether the job comes from an execution policy.
    pub execution_policy_job: bool,
    /// Policy name.
    pub policy_name: String,
    /// Whether variables may override the policy.
    pub policy_variables_override_allowed: Option<bool>,
    /// Exceptions to the override rule.
    pub policy_variables_override_exceptions: Option<Vec<String>>,
}

/// `suspend_options`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuspendOptions {
    /// Suspend when the job succeeds.
    pub suspend_on_success: bool,
    /// Suspend when the job fails.
    pub suspend_on_failure: bool,
    /// Environment key, sent back in the final update.
    pub runtime_environment_key: String,
}

/// A job input (§6.9); invalid entries fail the whole payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawInput")]
pub struct Input {
    /// Input name, never empty.
    pub key: String,
    /// Typed value.
    pub value: InputValue,
}

/// The value of a job input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputValue {
    /// `string`, `number`, `boolean`, `array` or `struct`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Content matching `kind`.
    pub content: serde_json::Value,
    /// Sensitive inputs cannot be interpolated.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Deserialize)]
struct RawInput {
    #[serde(default)]
    key: String,
    value: InputValue,
}

impl TryFrom<RawInput> for Input {
    type Error = String;

    fn try_from(raw: RawInput) -> Result<Self, Self::Error> {
        if raw.key.is_empty() {
            return Err("job input has an empty key".to_owned());
        }
        let content = &raw.value.content;
        let matches = match raw.value.kind.as_str() {
            "string" => content.is_string(),
            "number" => content.is_number(),
            "boolean" => content.is_boolean(),
            "array" => content.is_array(),
            "struct" => content.is_object(),
            other => return Err(format!("job input {} has unknown type {other}", raw.key)),
        };
        if !matches {
            return Err(format!(
                "job input {} does not hold a {}",
                raw.key, raw.value.kind
            ));
        }
        Ok(Self {
            key: raw.key,
            value: raw.value,
        })
    }
}
