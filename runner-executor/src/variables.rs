//! Variable assembly (executors.md §2.1), one-level `$VAR` expansion (§2.5) and file variables (§2.6).

use std::collections::HashMap;

use crate::backend::BackendDefaults;
use crate::job::{JobSpec, Variable};
use crate::layout::Layout;
use crate::outcome::{FailureReason, JobFailure};
use crate::settings::parse_bool;

pub use runner_core::expand_variables as expand;

/// The job's variables in assembly order, values expanded once.
#[derive(Debug, Clone)]
pub(crate) struct JobVariables {
    list: Vec<Variable>,
    /// For each file variable (same index as `list`), the path its content is written to.
    paths: Vec<Option<String>>,
    tmp_dir: String,
}

impl JobVariables {
    /// Assembles the list in upstream's order (§2.1) and expands it.
    pub(crate) fn assemble(job: &JobSpec, layout: &Layout, defaults: &BackendDefaults) -> Self {
        let mut list = Vec::new();
        let public = |key: &str, value: String| Variable::new(key, value);
        for (key, value) in job.feature_flags() {
            list.push(public(&key, value.to_string()));
        }
        if let Some(image) = job.image.as_ref().filter(|i| !i.name.is_empty()) {
            list.push(public("CI_JOB_IMAGE", image.name.clone()));
        }
        list.push(public(
            "CI_RUNNER_SHORT_TOKEN",
            job.runner.short_token.clone(),
        ));
        list.extend(environment_variables(job));
        list.push(public("CI_BUILDS_DIR", layout.builds_dir.clone()));
        list.push(public("CI_PROJECT_DIR", layout.project_dir.clone()));
        list.push(public(
            "CI_CONCURRENT_ID",
            job.runner.concurrent_id.to_string(),
        ));
        list.push(public(
            "CI_CONCURRENT_PROJECT_ID",
            job.runner.concurrent_project_id.to_string(),
        ));
        list.push(public("CI_SERVER", "yes".to_owned()));
        list.push(public("CI_JOB_STATUS", "running".to_owned()));
        list.push(public("CI_JOB_TIMEOUT", job.timeout.as_secs().to_string()));
        list.extend(
            job.variables
                .iter()
                .filter(|v| !v.key.starts_with("FF_"))
                .cloned(),
        );
        if defaults.shared_environment {
            list.push(public("CI_SHARED_ENVIRONMENT", "true".to_owned()));
        } else {
            list.push(public("CI_DISPOSABLE_ENVIRONMENT", "true".to_owned()));
        }
        list.push(public("CI_RUNNER_VERSION", job.runner.version.clone()));
        list.push(public("CI_RUNNER_REVISION", job.runner.revision.clone()));
        list.push(public(
            "CI_RUNNER_EXECUTABLE_ARCH",
            job.runner.executable_arch.clone(),
        ));
        list.push(public("RUNNER_TEMP_PROJECT_DIR", layout.tmp_dir.clone()));
        let tmp_dir = layout.tmp_dir.clone();
        let list = expand_all(&list, &tmp_dir);
        let paths = list
            .iter()
            .map(|v| v.file.then(|| format!("{tmp_dir}/{}", v.key)))
            .collect();
        Self {
            list,
            paths,
            tmp_dir,
        }
    }

    /// The value of `key` (last definition wins); for file variables, the file's path.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        let index = self.list.iter().rposition(|v| v.key == key)?;
        Some(
            self.paths[index]
                .as_deref()
                .unwrap_or(&self.list[index].value),
        )
    }

    /// Every variable, in order (file variables carry their content).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Variable> {
        self.list.iter()
    }

    /// Where a file variable's content is written.
    pub(crate) fn file_path(&self, key: &str) -> String {
        format!("{}/{key}", self.tmp_dir)
    }

    /// The job's failure when a variable's name is not one a shell can export.
    ///
    /// Every variable is exported by the stage scripts (and a file variable's name is a file
    /// name under the temp dir), so such a name could only fail the job later: upstream
    /// writes it quoted and bash stops the first stage with `not a valid identifier`. Failing
    /// before any stage runs says which name is at fault, and GitLab itself only accepts
    /// `[A-Za-z0-9_]+` for CI/CD variable keys, so no valid job depends on such a name. Names
    /// starting with a digit pass GitLab's check but no shell can export them either.
    pub(crate) fn check_names(&self) -> Result<(), JobFailure> {
        match self.list.iter().find(|v| !is_shell_name(&v.key)) {
            None => Ok(()),
            Some(variable) => Err(JobFailure::new(
                FailureReason::ScriptFailure,
                format!(
                    "invalid variable name {:?}: a name starts with a letter or \"_\" and \
                     contains only letters, digits and \"_\"",
                    variable.key
                ),
            )),
        }
    }

    /// Overwrites every definition of `key`.
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        for variable in self.list.iter_mut().filter(|v| v.key == key) {
            variable.value = value.to_owned();
        }
    }
}

/// Whether `key` is a POSIX shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_shell_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Expands every non-raw value once against the raw list (file variables expand to their path).
fn expand_all(list: &[Variable], tmp_dir: &str) -> Vec<Variable> {
    let mut last: HashMap<&str, &Variable> = HashMap::new();
    for variable in list {
        last.insert(variable.key.as_str(), variable);
    }
    let lookup = |name: &str| {
        last.get(name).map(|v| {
            if v.file {
                format!("{tmp_dir}/{}", v.key)
            } else {
                v.value.clone()
            }
        })
    };
    list.iter()
        .map(|v| {
            let mut copy = v.clone();
            if !v.raw {
                copy.value = expand(&v.value, lookup);
            }
            copy
        })
        .collect()
}

fn environment_variables(job: &JobSpec) -> impl Iterator<Item = Variable> + '_ {
    job.runner.environment.iter().filter_map(|entry| {
        let (key, value) = entry.split_once('=')?;
        Some(Variable::new(key, value))
    })
}

impl JobSpec {
    /// A feature flag's value: `[runners.feature_flags]` beats a job variable of the same name.
    pub fn feature_flag(&self, name: &str) -> Option<bool> {
        if let Some(value) = self.runner.feature_flags.get(name) {
            return Some(*value);
        }
        self.variables
            .iter()
            .rev()
            .find(|v| v.key == name)
            .and_then(|v| parse_bool(&v.value))
    }

    /// Every value the trace must mask: masked variables (raw and expanded against the job's
    /// own variables and `environment`), the job token, the dependencies' tokens and the
    /// registry passwords.
    pub fn masked_values(&self) -> Vec<String> {
        let mut last: HashMap<&str, &str> = HashMap::new();
        for variable in &self.variables {
            last.insert(&variable.key, &variable.value);
        }
        let mut values: Vec<String> = Vec::new();
        for variable in self.variables.iter().filter(|v| v.masked) {
            values.push(variable.value.clone());
            if !variable.raw && variable.value.contains('$') {
                values.push(expand(&variable.value, |name| {
                    last.get(name).map(|v| (*v).to_owned())
                }));
            }
        }
        values.push(self.token.expose().to_owned());
        values.extend(
            self.dependencies
                .iter()
                .map(|d| d.token.expose().to_owned()),
        );
        values.extend(
            self.registry_credentials
                .iter()
                .map(|c| c.password.expose().to_owned()),
        );
        values.retain(|v| !v.trim().is_empty());
        values
    }

    /// Feature flags for the variable list: config entries, then job `FF_*` variables not in the config.
    fn feature_flags(&self) -> Vec<(String, bool)> {
        let mut flags: Vec<(String, bool)> = self
            .runner
            .feature_flags
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for variable in self.variables.iter().filter(|v| v.key.starts_with("FF_")) {
            if self.runner.feature_flags.contains_key(&variable.key) {
                continue;
            }
            if let Some(value) = parse_bool(&variable.value) {
                flags.retain(|(k, _)| k != &variable.key);
                flags.push((variable.key.clone(), value));
            }
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some("$B".to_owned()),
            "X" => Some("x".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn shell_names_are_posix_identifiers() {
        for good in ["A", "_", "a_1", "CI_JOB_ID", "_9"] {
            assert!(is_shell_name(good), "{good}");
        }
        for bad in ["", "1A", "MY-VAR", "A B", "X$(id)", "é", "A=B", "a.b"] {
            assert!(!is_shell_name(bad), "{bad}");
        }
    }

    #[test]
    fn expansion_is_one_level() {
        assert_eq!(expand("$A", lookup), "$B");
        assert_eq!(expand("${X}_y $X $1 $? ${", lookup), "x_y x   ${");
        assert_eq!(expand("cost: $", lookup), "cost: $");
        assert_eq!(expand("a$-b", lookup), "ab");
    }
}
