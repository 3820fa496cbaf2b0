//! The plain-data job model every executor receives: [`JobSpec`] and its parts.
//!
//! `runner-bin` fills it from the coordinator's job payload (coordinator-api.md §6) and the
//! `[[runners]]` section of `config.toml`; field names follow the payload where one exists.

use std::fmt;
use std::time::Duration;

pub use crate::runner_settings::RunnerSettings;
use crate::secret::Secret;

/// Default job timeout when the payload's `runner_info.timeout` is `<= 0`.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(7200);

/// Everything an executor needs to run one job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// Job id (`id`).
    pub id: i64,
    /// Job token (`token`), used for git credentials; always masked in the trace.
    pub token: Secret,
    /// Job name (`job_info.name`).
    pub name: String,
    /// Project id (`job_info.project_id`).
    pub project_id: i64,
    /// Pipeline id (`job_info.pipeline_id`).
    pub pipeline_id: i64,
    /// Project path such as `group/project` (`job_info.project_full_path`), for the `clone_url` rewrite.
    pub project_path: String,
    /// `allow_git_fetch`: the default `GIT_STRATEGY` is `fetch` when true, `clone` otherwise.
    pub allow_git_fetch: bool,
    /// `git_info`.
    pub git: GitSource,
    /// Job timeout (`runner_info.timeout`; use [`DEFAULT_JOB_TIMEOUT`] when the payload has `<= 0`).
    pub timeout: Duration,
    /// The payload's `variables`, in payload order. The driver adds the runner-provided ones
    /// (feature flags, `environment`, `CI_PROJECT_DIR`...) around them as executors.md §2.1 says.
    pub variables: Vec<Variable>,
    /// The payload's `steps`, in payload order (`script`, `after_script`, `release`...).
    pub steps: Vec<Step>,
    /// The job image (Docker, Kubernetes); the shell executor ignores it.
    pub image: Option<Image>,
    /// Service images (Docker, Kubernetes).
    pub services: Vec<Image>,
    /// `artifacts[]`.
    pub artifacts: Vec<Artifact>,
    /// `cache[]`.
    pub cache: Vec<Cache>,
    /// `dependencies[]`.
    pub dependencies: Vec<Dependency>,
    /// Job hooks `pre_get_sources_script` / `post_get_sources_script` (`hooks[]`).
    pub hooks: JobHooks,
    /// Server capabilities from the payload's `features`.
    pub features: ServerFeatures,
    /// Settings from the runner's own configuration.
    pub runner: RunnerSettings,
}

/// `git_info` of the payload.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitSource {
    /// Clone URL, possibly with `gitlab-ci-token:<token>@` userinfo (never printed).
    pub repo_url: String,
    /// `sha1` (also when empty) or `sha256`.
    pub repo_object_format: String,
    /// Branch or tag name (`ref`).
    pub ref_name: String,
    /// Commit to check out.
    pub sha: String,
    /// Previous commit of the push.
    pub before_sha: String,
    /// `branch` or `tag`.
    pub ref_type: String,
    /// Refspecs to fetch, e.g. `+refs/heads/main:refs/remotes/origin/main`.
    pub refspecs: Vec<String>,
    /// Shallow-clone depth; 0 is the full history.
    pub depth: u32,
    /// Whether the ref is protected, when GitLab says so.
    pub protected: Option<bool>,
}

impl fmt::Debug for GitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitSource")
            .field("repo_url", &crate::layout::strip_userinfo(&self.repo_url))
            .field("ref_name", &self.ref_name)
            .field("sha", &self.sha)
            .field("refspecs", &self.refspecs)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// One job variable (`variables[]`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Variable {
    /// Name.
    pub key: String,
    /// Value, unexpanded.
    pub value: String,
    /// Not secret: may reach service containers and helper processes.
    pub public: bool,
    /// Written to a file; the variable then holds the file's path.
    pub file: bool,
    /// Replaced by `[MASKED]` in the trace.
    pub masked: bool,
    /// Never `$`-expanded.
    pub raw: bool,
}

impl Variable {
    /// A public, plain variable.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            public: true,
            ..Self::default()
        }
    }

    /// A masked, non-public variable.
    pub fn masked(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            masked: true,
            ..Self::default()
        }
    }

    /// A file-type variable.
    pub fn file(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            file: true,
            ..Self::default()
        }
    }

    /// The same variable with `raw: true`.
    #[must_use]
    pub fn into_raw(mut self) -> Self {
        self.raw = true;
        self
    }
}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.public && !self.masked {
            &self.value
        } else {
            &"[REDACTED]"
        };
        f.debug_struct("Variable")
            .field("key", &self.key)
            .field("value", value)
            .field("public", &self.public)
            .field("file", &self.file)
            .field("masked", &self.masked)
            .field("raw", &self.raw)
            .finish()
    }
}

/// When a step, artifact or cache entry applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum When {
    /// Only when the job succeeded so far (`on_success`, also the empty string).
    #[default]
    OnSuccess,
    /// Only when the job failed.
    OnFailure,
    /// Always.
    Always,
}

impl When {
    /// Parses the payload value; unknown values read as `on_success`.
    pub fn parse(value: &str) -> Self {
        match value {
            "on_failure" => Self::OnFailure,
            "always" => Self::Always,
            _ => Self::OnSuccess,
        }
    }

    /// Whether an entry with this `when` applies to a job that `failed` so far.
    pub fn applies(self, failed: bool) -> bool {
        match self {
            Self::Always => true,
            Self::OnSuccess => !failed,
            Self::OnFailure => failed,
        }
    }
}

/// One entry of `steps[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// `script`, `after_script`, `release` or another name (run as stage `step_<name>`).
    pub name: String,
    /// Command lines.
    pub script: Vec<String>,
    /// Per-step timeout from the payload (not used by the runner for ordinary steps).
    pub timeout: Option<Duration>,
    /// `when`.
    pub when: When,
    /// `allow_failure` (GitLab applies it; the runner only reports the exit code).
    pub allow_failure: bool,
}

impl Step {
    /// A step named `name` with `lines`.
    pub fn new(
        name: impl Into<String>,
        lines: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            script: lines.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// `image` and `services[]` entries (used by container executors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// Image reference.
    pub name: String,
    /// Service host name(s).
    pub alias: String,
    /// CMD override.
    pub command: Vec<String>,
    /// ENTRYPOINT override.
    pub entrypoint: Vec<String>,
    /// Requested pull policies.
    pub pull_policy: Vec<String>,
    /// Service-specific variables.
    pub variables: Vec<Variable>,
}

/// One `artifacts[]` entry (issue #5 implements uploads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    /// Archive name.
    pub name: String,
    /// Include untracked files.
    pub untracked: bool,
    /// Paths (globs).
    pub paths: Vec<String>,
    /// Exclude patterns.
    pub exclude: Vec<String>,
    /// When to upload.
    pub when: When,
    /// `archive`, `junit`, ...
    pub artifact_type: String,
    /// `zip`, `gzip`, ...
    pub artifact_format: String,
    /// Expiry, verbatim.
    pub expire_in: String,
}

impl Artifact {
    /// Whether the entry would upload anything at all.
    pub fn has_content(&self) -> bool {
        !self.paths.is_empty() || !self.exclude.is_empty() || self.untracked
    }
}

/// One `cache[]` entry (issue #5 implements caching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cache {
    /// Key, unexpanded.
    pub key: String,
    /// Include untracked files.
    pub untracked: bool,
    /// `pull-push` (also empty), `pull` or `push`.
    pub policy: String,
    /// Paths.
    pub paths: Vec<String>,
    /// When to archive.
    pub when: When,
    /// Fallback keys.
    pub fallback_keys: Vec<String>,
}

impl Cache {
    /// Whether the entry has anything to restore or archive.
    pub fn has_content(&self) -> bool {
        !self.paths.is_empty() || self.untracked
    }
}

/// One `dependencies[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependency {
    /// Job id of the dependency.
    pub id: i64,
    /// Its own token.
    pub token: Secret,
    /// Its job name.
    pub name: String,
    /// `artifacts_file.filename`; empty means nothing to download.
    pub artifacts_filename: String,
}

/// The payload's `hooks[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobHooks {
    /// `pre_get_sources_script` lines.
    pub pre_get_sources_script: Vec<String>,
    /// `post_get_sources_script` lines.
    pub post_get_sources_script: Vec<String>,
}

/// The payload's `features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFeatures {
    /// Emit `section_start` / `section_end` markers (default true).
    pub trace_sections: bool,
    /// Extra token prefixes to mask.
    pub token_mask_prefixes: Vec<String>,
    /// Failure reasons GitLab accepts (see [`crate::FailureReason::to_wire`]).
    pub failure_reasons: Vec<String>,
}

impl Default for ServerFeatures {
    fn default() -> Self {
        Self {
            trace_sections: true,
            token_mask_prefixes: Vec::new(),
            failure_reasons: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let job = JobSpec::builder(1, "glcbt-topsecret")
            .repo(
                "https://gitlab-ci-token:glcbt-topsecret@h/g/p.git",
                "abc",
                "main",
            )
            .variable(Variable::masked("PASSWORD", "hunter22"))
            .variable(Variable::new("VISIBLE", "shown"))
            .build();
        let debug = format!("{job:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(!debug.contains("hunter22"), "{debug}");
        assert!(debug.contains("shown"));
    }
}
