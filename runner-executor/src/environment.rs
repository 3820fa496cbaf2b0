//! The job's layout, variables and control settings, computed once before `prepare_executor`
//! and, for a backend whose preparation decides part of the layout (the custom executor's
//! `config_exec`), again after it from a [`PreparedJob`].

use crate::backend::BackendDefaults;
use crate::job::{JobSpec, Variable};
use crate::layout::Layout;
use crate::outcome::JobFailure;
use crate::settings::{GitStrategy, Settings};
use crate::variables::JobVariables;

/// What preparing decided about the job's environment: each value that is set replaces the
/// runner's setting for this job (upstream's custom executor takes them from `config_exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreparedJob {
    /// Replaces `[[runners]] builds_dir` (an empty string: "not configured").
    pub builds_dir: Option<String>,
    /// Replaces `[[runners]] cache_dir` (an empty string: "not configured").
    pub cache_dir: Option<String>,
    /// Whether the project directory includes `<short>/<concurrent project id>`.
    pub shared_builds_dir: Option<bool>,
    /// The build hostname: `prepare_script` prints `Running on <host> via <hostname>...`.
    pub hostname: Option<String>,
    /// Replaces `[[runners]] shell` for script generation.
    pub shell: Option<String>,
}

impl PreparedJob {
    /// `job` and `defaults` with the values that are set applied.
    pub fn apply(&self, job: &JobSpec, defaults: &BackendDefaults) -> (JobSpec, BackendDefaults) {
        let mut job = job.clone();
        let mut defaults = defaults.clone();
        if let Some(builds_dir) = &self.builds_dir {
            job.runner.builds_dir = Some(builds_dir.clone());
        }
        if let Some(cache_dir) = &self.cache_dir {
            job.runner.cache_dir = Some(cache_dir.clone());
        }
        if let Some(shell) = self.shell.as_ref().filter(|shell| !shell.is_empty()) {
            job.runner.shell = shell.clone();
        }
        if let Some(shared) = self.shared_builds_dir {
            defaults.shared_builds_dir = shared;
        }
        (job, defaults)
    }
}

/// The job's layout and its variables as the stage scripts see them.
#[derive(Debug, Clone)]
pub struct JobEnvironment {
    /// Where the job lives.
    pub layout: Layout,
    /// Every variable in upstream's assembly order (executors.md §2.1), expanded once; a
    /// file-type variable carries its content. Holds secrets: never log it.
    pub variables: Vec<Variable>,
}

impl JobEnvironment {
    /// Computes what the driver computes for `job` on a backend with `defaults`, or the
    /// configuration error upstream reports (`the builds_dir is not configured`, ...).
    pub fn new(job: &JobSpec, defaults: &BackendDefaults) -> Result<Self, JobFailure> {
        let computed = Computed::new(job, defaults)?;
        Ok(Self {
            layout: computed.layout,
            variables: computed.variables.iter().cloned().collect(),
        })
    }
}

/// The driver's view: layout, variables and the settings read from them.
#[derive(Debug, Clone)]
pub(crate) struct Computed {
    pub(crate) layout: Layout,
    pub(crate) variables: JobVariables,
    pub(crate) settings: Settings,
}

impl Computed {
    pub(crate) fn new(job: &JobSpec, defaults: &BackendDefaults) -> Result<Self, JobFailure> {
        let read = |variables: &JobVariables| {
            Settings::read(
                variables,
                job.allow_git_fetch,
                job.git.depth,
                job.timeout,
                job.runner.debug_trace_disabled,
            )
        };
        // `GIT_CLONE_PATH` and `GIT_STRATEGY=empty` shape the layout, and the variables that
        // name them may refer to the layout: read them from a provisional one first.
        let provisional = Layout::new(job, defaults, None, false)?;
        let provisional_variables = JobVariables::assemble(job, &provisional, defaults);
        let first = read(&provisional_variables);
        let empty = first.git_strategy == GitStrategy::Empty;
        let layout = Layout::new(job, defaults, first.git_clone_path.as_deref(), empty)?;
        let variables = JobVariables::assemble(job, &layout, defaults);
        variables.check_names()?;
        let settings = read(&variables);
        Ok(Self {
            layout,
            variables,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::FailureReason;

    fn defaults() -> BackendDefaults {
        BackendDefaults {
            name: "custom".to_owned(),
            builds_dir: String::new(),
            cache_dir: String::new(),
            shared_builds_dir: false,
            custom_build_dir: false,
            shared_environment: true,
            scrub_git_config: false,
        }
    }

    #[test]
    fn an_unconfigured_builds_dir_is_a_configuration_error() {
        let job = JobSpec::builder(1, "token").build();
        let error = JobEnvironment::new(&job, &defaults()).unwrap_err();
        assert_eq!(error.reason, FailureReason::RunnerConfigurationError);
        assert_eq!(error.message, "the builds_dir is not configured");
    }

    #[test]
    fn prepared_values_replace_the_runner_settings() {
        // Test vector 2 of upstream-details.md §1.11.
        let job = JobSpec::builder(1, "token").build();
        let prepared = PreparedJob {
            builds_dir: Some("/x".to_owned()),
            cache_dir: Some("/c".to_owned()),
            shared_builds_dir: Some(true),
            ..PreparedJob::default()
        };
        let (job, defaults) = prepared.apply(&job, &defaults());
        let environment = JobEnvironment::new(&job, &defaults).unwrap();
        assert_eq!(
            environment.layout.project_dir,
            "/x/abcdefghi/0/group/project"
        );
        let project_dir = environment
            .variables
            .iter()
            .rfind(|v| v.key == "CI_PROJECT_DIR")
            .map(|v| v.value.as_str());
        assert_eq!(project_dir, Some("/x/abcdefghi/0/group/project"));
    }
}
