//! [`JobSpecBuilder`]: a `JobSpec` with sensible defaults, for tests, examples and local runs.

use std::time::Duration;

use crate::job::{
    DEFAULT_JOB_TIMEOUT, GitSource, JobHooks, JobSpec, RegistryCredential, RunnerSettings,
    ServerFeatures, Step, TransferScripts, Variable,
};
use crate::secret::Secret;

impl JobSpec {
    /// Starts a job with id `id` and job token `token`; see [`JobSpecBuilder`] for the defaults.
    pub fn builder(id: i64, token: impl Into<Secret>) -> JobSpecBuilder {
        JobSpecBuilder {
            spec: JobSpec {
                id,
                token: token.into(),
                name: "test".to_owned(),
                project_id: 1,
                pipeline_id: 1,
                project_path: "group/project".to_owned(),
                allow_git_fetch: false,
                git: GitSource {
                    repo_url: "https://gitlab.example.com/group/project.git".to_owned(),
                    ref_name: "main".to_owned(),
                    ..GitSource::default()
                },
                timeout: DEFAULT_JOB_TIMEOUT,
                variables: Vec::new(),
                steps: Vec::new(),
                image: None,
                services: Vec::new(),
                artifacts: Vec::new(),
                cache: Vec::new(),
                dependencies: Vec::new(),
                registry_credentials: Vec::new(),
                transfer: TransferScripts::default(),
                hooks: JobHooks::default(),
                features: ServerFeatures::default(),
                runner: RunnerSettings {
                    name: "local".to_owned(),
                    short_token: "abcdefghi".to_owned(),
                    ..RunnerSettings::default()
                },
            },
        }
    }
}

/// Builds a [`JobSpec`]. Defaults: project `group/project` (id 1), repository
/// `https://gitlab.example.com/group/project.git` at ref `main`, timeout 7200 s, no steps,
/// runner `local` with short token `abcdefghi`, trace sections on.
///
/// ```
/// use runner_executor::{JobSpec, Variable};
/// let job = JobSpec::builder(42, "glcbt-token")
///     .script(["echo hello"])
///     .variable(Variable::new("GIT_STRATEGY", "none"))
///     .build();
/// assert_eq!(job.steps[0].name, "script");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct JobSpecBuilder {
    spec: JobSpec,
}

impl JobSpecBuilder {
    /// Adds the `script` step.
    pub fn script(self, lines: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.step(Step::new("script", lines))
    }

    /// Adds the `after_script` step.
    pub fn after_script(self, lines: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.step(Step::new("after_script", lines))
    }

    /// Adds any step.
    pub fn step(mut self, step: Step) -> Self {
        self.spec.steps.push(step);
        self
    }

    /// Appends a job variable.
    pub fn variable(mut self, variable: Variable) -> Self {
        self.spec.variables.push(variable);
        self
    }

    /// Adds registry credentials from the payload (`credentials` of type `registry`).
    pub fn registry_credential(mut self, credential: RegistryCredential) -> Self {
        self.spec.registry_credentials.push(credential);
        self
    }

    /// Sets the project id and path (`group/project`).
    pub fn project(mut self, id: i64, path: impl Into<String>) -> Self {
        self.spec.project_id = id;
        self.spec.project_path = path.into();
        self
    }

    /// Sets the repository URL, commit and ref.
    pub fn repo(
        mut self,
        url: impl Into<String>,
        sha: impl Into<String>,
        ref_name: impl Into<String>,
    ) -> Self {
        self.spec.git.repo_url = url.into();
        self.spec.git.sha = sha.into();
        self.spec.git.ref_name = ref_name.into();
        self
    }

    /// Sets the refspecs to fetch.
    pub fn refspecs(mut self, refspecs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.spec.git.refspecs = refspecs.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the fetch depth (0: full history).
    pub fn depth(mut self, depth: u32) -> Self {
        self.spec.git.depth = depth;
        self
    }

    /// Sets the job timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = timeout;
        self
    }

    /// Sets the builds root.
    pub fn builds_dir(mut self, dir: impl Into<String>) -> Self {
        self.spec.runner.builds_dir = Some(dir.into());
        self
    }

    /// Changes the runner settings in place.
    pub fn runner(mut self, change: impl FnOnce(&mut RunnerSettings)) -> Self {
        change(&mut self.spec.runner);
        self
    }

    /// Changes anything else in place.
    pub fn with(mut self, change: impl FnOnce(&mut JobSpec)) -> Self {
        change(&mut self.spec);
        self
    }

    /// The finished spec.
    pub fn build(self) -> JobSpec {
        self.spec
    }
}
