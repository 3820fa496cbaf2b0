//! One job definition: every per-job keyword parsed into plain data, with a warning for each
//! keyword that is unknown or has no effect when running locally.

use serde_json::{Value as Json, json};
use serde_yaml_ng::{Mapping, Value};

use crate::artifacts::{self, Artifacts, Cache};
use crate::duration;
use crate::environment::{self, Environment};
use crate::error::{Error, Result};
use crate::image::{self, Image, ImageKind};
use crate::matrix::{self, Instance};
use crate::rules::{self, Rule};
use crate::variables::{self, Variable};
use crate::warning::Warnings;
use crate::when::When;
use crate::yaml;

/// A job as defined (after `extends`, `!reference` and `default`), before rules are evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) stage: String,
    pub(crate) image: Option<Image>,
    pub(crate) services: Vec<Image>,
    pub(crate) before_script: Vec<String>,
    pub(crate) script: Vec<String>,
    pub(crate) after_script: Vec<String>,
    pub(crate) hooks: Vec<Json>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) rules: Option<Vec<Rule>>,
    /// `when` as written; `None` means the default (`on_success`).
    pub(crate) when: Option<When>,
    /// `allow_failure` as written; `None` means the default (depends on `when`).
    pub(crate) allow_failure: Option<bool>,
    pub(crate) allow_failure_exit_codes: Vec<i32>,
    pub(crate) needs: Option<Vec<Need>>,
    pub(crate) dependencies: Option<Vec<String>>,
    pub(crate) artifacts: Option<Artifacts>,
    pub(crate) caches: Vec<Cache>,
    pub(crate) timeout: Option<u64>,
    pub(crate) parallel: u32,
    /// `parallel:matrix` instances; `None` without a matrix.
    pub(crate) matrix: Option<Vec<Instance>>,
    pub(crate) environment: Option<Environment>,
}

/// One `needs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    pub(crate) job: String,
    pub(crate) artifacts: bool,
    pub(crate) optional: bool,
    /// `parallel:matrix` of the need: only these instances of `job`.
    pub(crate) matrix: Option<Vec<Instance>>,
}

impl Need {
    /// The job names this need designates: the definition, or the named matrix instances.
    pub(crate) fn names(&self) -> Vec<String> {
        match &self.matrix {
            Some(instances) => instances
                .iter()
                .map(|instance| matrix::instance_name(&self.job, instance))
                .collect(),
            None => vec![self.job.clone()],
        }
    }
}

/// One job instance of `parallel`: its name, `(CI_NODE_INDEX, CI_NODE_TOTAL)` and matrix
/// variables.
pub(crate) type JobInstance = (String, Option<(u32, u32)>, Instance);

impl Job {
    /// The instances `parallel` makes of this job: `(name, (CI_NODE_INDEX, CI_NODE_TOTAL),
    /// matrix variables)`; one unnamed-suffix instance without `parallel`.
    pub(crate) fn instances(&self) -> Vec<JobInstance> {
        match &self.matrix {
            Some(instances) => {
                let total = u32::try_from(instances.len()).unwrap_or(u32::MAX);
                (1..)
                    .zip(instances)
                    .map(|(index, variables)| {
                        (
                            matrix::instance_name(&self.name, variables),
                            Some((index, total)),
                            variables.clone(),
                        )
                    })
                    .collect()
            }
            None if self.parallel > 1 => {
                let total = self.parallel;
                (1..=total)
                    .map(|index| {
                        (
                            format!("{} {index}/{total}", self.name),
                            Some((index, total)),
                            Vec::new(),
                        )
                    })
                    .collect()
            }
            None => vec![(self.name.clone(), None, Vec::new())],
        }
    }
}

/// GitLab's limit for `parallel`.
const MAX_PARALLEL: u64 = 200;

/// Parses a job mapping whose defaults are already merged in.
pub(crate) fn parse(name: &str, fields: &Mapping, warnings: &mut Warnings) -> Result<Job> {
    let mut job = Job {
        name: name.to_owned(),
        stage: "test".to_owned(),
        image: None,
        services: Vec::new(),
        before_script: Vec::new(),
        script: Vec::new(),
        after_script: Vec::new(),
        hooks: Vec::new(),
        variables: Vec::new(),
        rules: None,
        when: None,
        allow_failure: None,
        allow_failure_exit_codes: Vec::new(),
        needs: None,
        dependencies: None,
        artifacts: None,
        caches: Vec::new(),
        timeout: None,
        parallel: 1,
        matrix: None,
        environment: None,
    };
    let warn_job = Some(name);
    for (key, value) in fields {
        let key = yaml::key_str(key);
        let at = format!("jobs:{name}:{key}");
        match key.as_str() {
            "stage" => job.stage = yaml::string(value, &at)?,
            "image" => {
                job.image = Some(image::parse(
                    value,
                    ImageKind::Image,
                    warn_job,
                    &at,
                    warnings,
                )?)
            }
            "services" => job.services = image::parse_services(value, warn_job, &at, warnings)?,
            "before_script" => job.before_script = yaml::string_list(value, &at)?,
            "script" => job.script = yaml::string_list(value, &at)?,
            "after_script" => job.after_script = yaml::string_list(value, &at)?,
            "hooks" => job.hooks = parse_hooks(value, &at)?,
            "variables" => job.variables = variables::parse_yaml(value, warn_job, &at, warnings)?,
            "rules" => job.rules = Some(rules::parse(value, warn_job, &at, warnings)?),
            "when" => job.when = Some(When::parse(value, &at)?),
            "allow_failure" => parse_allow_failure(value, &at, &mut job)?,
            "needs" => job.needs = Some(parse_needs(value, name, &at, warnings)?),
            "dependencies" => {
                if !(value.is_sequence()
                    && yaml::flat_items(value).iter().all(|item| item.is_string()))
                {
                    return Err(Error::gitlab(
                        &[name, "dependencies"],
                        format!("jobs:{name} dependencies should be an array of strings"),
                    ));
                }
                job.dependencies = Some(yaml::string_list(value, &at)?)
            }
            "artifacts" => {
                job.artifacts = Some(artifacts::parse_artifacts(value, warn_job, &at, warnings)?)
            }
            "cache" => {
                job.caches =
                    artifacts::parse_caches(value, warn_job, &at, &[name, "cache"], warnings)?
            }
            "timeout" => {
                let text = yaml::string(value, &at)?;
                let seconds = duration::parse_seconds(&text)
                    .ok_or_else(|| Error::invalid(&at, format!("`{text}` is not a duration")))?;
                job.timeout = Some(seconds);
            }
            "parallel" => match value.get("matrix") {
                Some(matrix) if value.is_mapping() => {
                    let instances = matrix::parse(matrix, name, &at)?;
                    job.parallel = u32::try_from(instances.len()).unwrap_or(1);
                    job.matrix = Some(instances);
                }
                _ => job.parallel = parse_parallel(value, &at)?,
            },
            "environment" => {
                job.environment = Some(environment::parse(value, &at)?);
                warnings.push(
                    warn_job,
                    "environment",
                    "only sets CI_ENVIRONMENT_* variables locally, no deployment is recorded",
                );
            }
            "start_in" => warnings.push(
                warn_job,
                "start_in",
                "delayed jobs run without waiting locally",
            ),
            "only" | "except" => warnings.push(
                warn_job,
                key.as_str(),
                "not supported locally (use rules), ignored: the job is kept",
            ),
            "tags"
            | "retry"
            | "interruptible"
            | "coverage"
            | "resource_group"
            | "release"
            | "pages"
            | "identity"
            | "manual_confirmation"
            | "dast_configuration" => warnings.no_local_effect(warn_job, key.as_str()),
            "id_tokens" | "secrets" | "run" | "inputs" => {
                warnings.unsupported(warn_job, key.as_str())
            }
            _ => warnings.push(warn_job, key.as_str(), "unknown keyword, ignored"),
        }
    }
    if job.script.is_empty() {
        return Err(Error::invalid(
            format!("jobs:{name}"),
            "config should implement the script: keyword",
        ));
    }
    if job.when == Some(When::Delayed) && !fields.contains_key("start_in") {
        return Err(Error::invalid(
            format!("jobs:{name}"),
            "`when: delayed` needs `start_in`",
        ));
    }
    Ok(job)
}

fn parse_allow_failure(value: &Value, location: &str, job: &mut Job) -> Result<()> {
    match value {
        Value::Bool(flag) => job.allow_failure = Some(*flag),
        Value::Mapping(fields) => {
            let codes = fields
                .get("exit_codes")
                .ok_or_else(|| Error::invalid(location, "expects `exit_codes`"))?;
            job.allow_failure_exit_codes = yaml::flat_items(codes)
                .into_iter()
                .map(|code| {
                    code.as_i64()
                        .and_then(|code| i32::try_from(code).ok())
                        .ok_or_else(|| {
                            Error::invalid(format!("{location}:exit_codes"), "should be integers")
                        })
                })
                .collect::<Result<_>>()?;
            job.allow_failure = Some(false);
        }
        _ => {
            return Err(Error::invalid(
                location,
                "should be a boolean or {exit_codes}",
            ));
        }
    }
    Ok(())
}

fn parse_needs(
    value: &Value,
    job: &str,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Vec<Need>> {
    let unsupported = || {
        Error::gitlab(
            &[job, "needs"],
            format!("{location}:need has an unsupported type"),
        )
    };
    let items = match value {
        Value::Sequence(_) => yaml::flat_items(value),
        Value::Mapping(_) => vec![value],
        _ => {
            return Err(Error::gitlab(
                &[job, "needs"],
                format!("{location} config can only be a Hash or an Array"),
            ));
        }
    };
    let mut needs = Vec::new();
    for item in items {
        match item {
            Value::Mapping(fields) => {
                if let Some(key) = ["pipeline", "project"]
                    .into_iter()
                    .find(|key| fields.contains_key(*key))
                {
                    warnings.push(
                        Some(job),
                        format!("needs:{key}"),
                        "cross-pipeline needs are not supported locally, ignored",
                    );
                    continue;
                }
                let name = fields
                    .get("job")
                    .and_then(Value::as_str)
                    .ok_or_else(unsupported)?;
                let artifacts = fields
                    .get("artifacts")
                    .map(|flag| yaml::boolean(flag, location))
                    .transpose()?;
                let optional = fields
                    .get("optional")
                    .map(|flag| yaml::boolean(flag, location))
                    .transpose()?;
                let matrix = match fields.get("parallel") {
                    Some(parallel) => Some(matrix::parse_need(parallel, job, location)?),
                    None => None,
                };
                needs.push(Need {
                    job: name.to_owned(),
                    artifacts: artifacts.unwrap_or(true),
                    optional: optional.unwrap_or(false),
                    matrix,
                });
            }
            Value::String(name) => needs.push(Need {
                job: name.clone(),
                artifacts: true,
                optional: false,
                matrix: None,
            }),
            _ => return Err(unsupported()),
        }
    }
    Ok(needs)
}

fn parse_parallel(value: &Value, location: &str) -> Result<u32> {
    match value.as_u64() {
        Some(count @ 1..=MAX_PARALLEL) => Ok(u32::try_from(count).unwrap_or(1)),
        _ => Err(Error::invalid(
            location,
            format!("should be an integer from 1 to {MAX_PARALLEL} or {{matrix}}"),
        )),
    }
}

fn parse_hooks(value: &Value, location: &str) -> Result<Vec<Json>> {
    let Some(fields) = value.as_mapping() else {
        return Err(Error::invalid(location, "should be a mapping"));
    };
    fields
        .iter()
        .map(|(key, script)| {
            let name = yaml::key_str(key);
            if name != "pre_get_sources_script" && name != "post_get_sources_script" {
                return Err(Error::invalid(location, format!("unknown hook `{name}`")));
            }
            Ok(json!({"name": name, "script": yaml::string_list(script, location)?}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn job(text: &str) -> (Result<Job>, Warnings) {
        let value = yaml::parse(Path::new("t.yml"), text).expect("yaml");
        let mut warnings = Warnings::default();
        (
            parse("build", value.as_mapping().expect("mapping"), &mut warnings),
            warnings,
        )
    }

    #[test]
    fn keywords_parse() {
        let (parsed, warnings) = job(
            "script: [make]\nstage: build\ntimeout: 1h 30m\nparallel: 3\nallow_failure: {exit_codes: [137, 255]}\n\
             needs: [lint, {job: gen, artifacts: false}]\nwhen: manual\n",
        );
        let parsed = parsed.expect("job");
        assert!(warnings.0.is_empty(), "{:?}", warnings.0);
        assert_eq!(parsed.timeout, Some(5400));
        assert_eq!(parsed.parallel, 3);
        assert_eq!(parsed.allow_failure_exit_codes, [137, 255]);
        assert_eq!(parsed.when, Some(When::Manual));
        let needs = parsed.needs.expect("needs");
        assert_eq!((needs[1].job.as_str(), needs[1].artifacts), ("gen", false));
    }

    #[test]
    fn unsupported_keywords_warn_with_job_and_keyword() {
        let (parsed, warnings) = job(
            "script: x\nonly: [main]\ntags: [docker]\nparallel: {matrix: [{A: [1, 2]}]}\nfoo: 1\n",
        );
        assert_eq!(parsed.expect("job").parallel, 2);
        let keywords: Vec<&str> = warnings.0.iter().map(|w| w.keyword()).collect();
        assert_eq!(keywords, ["only", "tags", "foo"]);
        assert!(warnings.0.iter().all(|w| w.job() == Some("build")));
    }

    #[test]
    fn a_script_is_required() {
        let (parsed, _) = job("stage: build\n");
        assert!(
            parsed
                .expect_err("no script")
                .to_string()
                .contains("jobs:build")
        );
    }
}
