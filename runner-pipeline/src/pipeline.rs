//! `Pipeline`: a whole `.gitlab-ci.yml` (with includes) resolved into stages, global variables,
//! workflow rules and job definitions.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::context::LocalContext;
use crate::error::{Error, Result};
use crate::files::Refs;
use crate::job::{self, Job};
use crate::predefined::{self, JobFacts};
use crate::rules::{self, Rule};
use crate::schedule::user_variables;
use crate::source::SourceMap;
use crate::variables::{self, Variable};
use crate::warning::{Warning, Warnings};
use crate::{artifacts, extends, load, reference, validate, yaml};

/// A parsed pipeline definition: start here with [`Pipeline::load`] or [`Pipeline::parse`].
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub(crate) stages: Vec<String>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) workflow_rules: Option<Vec<Rule>>,
    pub(crate) jobs: Vec<JobEntry>,
    warnings: Vec<Warning>,
    /// The loaded files, to put `file:line` on validation problems.
    pub(crate) sources: SourceMap,
}

/// A job plus the global variables it inherits (`inherit:variables`).
#[derive(Debug, Clone)]
pub(crate) struct JobEntry {
    pub(crate) job: Job,
    pub(crate) global_variables: Vec<Variable>,
}

/// Top-level keywords that are not jobs.
const RESERVED: [&str; 12] = [
    "stages",
    "types",
    "default",
    "variables",
    "include",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "spec",
];

/// Keywords a job may inherit from `default` (and from their deprecated top-level forms).
const DEFAULTABLE: [&str; 12] = [
    "after_script",
    "artifacts",
    "before_script",
    "cache",
    "hooks",
    "id_tokens",
    "image",
    "interruptible",
    "retry",
    "services",
    "tags",
    "timeout",
];

/// Defaultable keywords without any local effect: warned about once, not inherited.
const NO_LOCAL_EFFECT_DEFAULTS: [&str; 4] = ["id_tokens", "interruptible", "retry", "tags"];

/// The default file name.
const CONFIG_FILE: &str = ".gitlab-ci.yml";

impl Pipeline {
    /// Reads `<project_dir>/.gitlab-ci.yml` and its local includes.
    pub fn load(project_dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_file(project_dir, CONFIG_FILE)
    }

    /// Reads the configuration at `config_path` (relative to `project_dir` unless absolute);
    /// `include: local` paths are relative to `project_dir`.
    pub fn load_file(project_dir: impl AsRef<Path>, config_path: impl AsRef<Path>) -> Result<Self> {
        let mut warnings = Warnings::default();
        let mut sources = SourceMap::default();
        let config = load::load_file(
            project_dir.as_ref(),
            config_path.as_ref(),
            &mut warnings,
            &mut sources,
            None,
        )?;
        Self::from_config(config, warnings, sources)
    }

    /// Reads `config_path` in `ctx.project_dir` as GitLab would for the pipeline `ctx`
    /// describes: `$VAR` in `include` paths and `include:rules` see the predefined variables
    /// of `ctx` and `ctx.variables` (not the YAML `variables`, as on GitLab).
    pub fn load_for(ctx: &LocalContext, config_path: impl AsRef<Path>) -> Result<Self> {
        let facts = JobFacts {
            name: "",
            stage: "",
            id: None,
            node: None,
            manual: false,
        };
        let list = [predefined::predefined(ctx, &facts), user_variables(ctx)].concat();
        let variables = variables::expand_all(&list);
        let mut warnings = Warnings::default();
        let mut sources = SourceMap::default();
        let config = load::load_file(
            &ctx.project_dir,
            config_path.as_ref(),
            &mut warnings,
            &mut sources,
            Some((&variables, Refs::of(ctx))),
        )?;
        Self::from_config(config, warnings, sources)
    }

    /// Parses `text` as `<project_dir>/.gitlab-ci.yml`; local includes are read from `project_dir`.
    pub fn parse(project_dir: impl AsRef<Path>, text: &str) -> Result<Self> {
        let project_dir = project_dir.as_ref();
        let mut warnings = Warnings::default();
        let mut sources = SourceMap::default();
        let config = load::load_str(
            project_dir,
            &project_dir.join(CONFIG_FILE),
            text,
            &mut warnings,
            &mut sources,
            None,
        )?;
        Self::from_config(config, warnings, sources)
    }

    /// Every unknown or unsupported keyword found while loading, in file order.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The stages in order, `.pre` first and `.post` last.
    pub fn stages(&self) -> &[String] {
        &self.stages
    }

    /// The names of the visible (non-hidden) jobs, in file order, before rules and `parallel`.
    pub fn job_names(&self) -> impl Iterator<Item = &str> {
        self.jobs.iter().map(|entry| entry.job.name.as_str())
    }

    fn from_config(config: Mapping, warnings: Warnings, sources: SourceMap) -> Result<Self> {
        match Self::build(config, warnings) {
            Ok(pipeline) => Ok(Self {
                sources,
                ..pipeline
            }),
            Err(error) => Err(locate(error, &sources)),
        }
    }

    fn build(mut config: Mapping, mut warnings: Warnings) -> Result<Self> {
        extends::resolve_extends(&mut config)?;
        reference::resolve_references(&mut config)?;
        let stages = parse_stages(&config)?;
        let variables = match config.get("variables") {
            Some(value) => variables::parse_yaml(value, None, "variables", &mut warnings)?,
            None => Vec::new(),
        };
        let workflow_rules = parse_workflow(config.get("workflow"), &mut warnings)?;
        let defaults = collect_defaults(&config, &mut warnings)?;
        if config.contains_key("spec") {
            warnings.unsupported(None, "spec");
        }
        let mut jobs = Vec::new();
        // Trigger and `run` jobs are not run locally but exist: `needs` may name them.
        let mut other_jobs = Vec::new();
        for (key, value) in &config {
            let name = yaml::key_str(key);
            if RESERVED.contains(&name.as_str()) || name.starts_with('.') {
                continue;
            }
            let Some(fields) = value.as_mapping() else {
                return Err(Error::invalid(
                    format!("jobs:{name}"),
                    "config should be a hash",
                ));
            };
            if let Some(other) = ["trigger", "run"]
                .into_iter()
                .find(|key| fields.contains_key(*key))
            {
                let reason = if other == "trigger" {
                    "downstream pipelines"
                } else {
                    "GitLab Steps jobs"
                };
                warnings.push(
                    Some(&name),
                    other,
                    format!("{reason} are not supported locally, the job is skipped"),
                );
                let stage = fields
                    .get("stage")
                    .and_then(yaml::scalar_string)
                    .unwrap_or_else(|| "test".to_owned());
                other_jobs.push((name, stage));
                continue;
            }
            let (fields, global_variables) = apply_inherit(&name, fields, &defaults, &variables)?;
            let job = job::parse(&name, &fields, &mut warnings)?;
            if !stages.contains(&job.stage) {
                return Err(Error::gitlab(
                    &[&name, "stage"],
                    format!(
                        "{name} job: chosen stage does not exist; available stages are {}",
                        stages.join(", ")
                    ),
                ));
            }
            jobs.push(JobEntry {
                job,
                global_variables,
            });
        }
        let problems = validate::job_graph(&jobs, &other_jobs, &stages);
        if !problems.is_empty() {
            return Err(Error::Validation { problems });
        }
        Ok(Self {
            stages,
            variables,
            workflow_rules,
            jobs,
            warnings: warnings.0,
            sources: SourceMap::default(),
        })
    }
}

/// Puts `file:line` on the problems of a validation error.
pub(crate) fn locate(error: Error, sources: &SourceMap) -> Error {
    match error {
        Error::Validation { mut problems } => {
            for problem in &mut problems {
                problem.locate(sources);
            }
            Error::Validation { problems }
        }
        other => other,
    }
}

fn parse_stages(config: &Mapping) -> Result<Vec<String>> {
    let declared = match config.get("stages").or_else(|| config.get("types")) {
        // GitLab wants a list (nested lists are flattened), never a single string.
        Some(value @ Value::Sequence(_)) => yaml::string_list(value, "stages")
            .ok()
            .filter(|_| yaml::flat_items(value).iter().all(|item| item.is_string()))
            .ok_or_else(|| {
                Error::gitlab(&["stages"], "stages config should be an array of strings")
            })?,
        Some(_) => {
            return Err(Error::gitlab(
                &["stages"],
                "stages config should be an array of strings",
            ));
        }
        None => ["build", "test", "deploy"].map(str::to_owned).to_vec(),
    };
    let mut stages = vec![".pre".to_owned()];
    stages.extend(
        declared
            .into_iter()
            .filter(|stage| stage != ".pre" && stage != ".post"),
    );
    stages.push(".post".to_owned());
    Ok(stages)
}

fn parse_workflow(workflow: Option<&Value>, warnings: &mut Warnings) -> Result<Option<Vec<Rule>>> {
    let Some(workflow) = workflow else {
        return Ok(None);
    };
    let Some(fields) = workflow.as_mapping() else {
        return Err(Error::invalid("workflow", "should be a mapping"));
    };
    let mut rules = None;
    for (key, value) in fields {
        match yaml::key_str(key).as_str() {
            "rules" => rules = Some(rules::parse(value, None, "workflow:rules", warnings)?),
            "name" | "auto_cancel" => {
                warnings.no_local_effect(None, format!("workflow:{}", yaml::key_str(key)))
            }
            other => warnings.push(
                None,
                format!("workflow:{other}"),
                "unknown keyword, ignored",
            ),
        }
    }
    Ok(rules)
}

/// `default:` merged over the deprecated top-level forms of the same keywords.
fn collect_defaults(config: &Mapping, warnings: &mut Warnings) -> Result<Mapping> {
    let mut defaults = Mapping::new();
    let global_caches = [
        (config.get("cache"), "cache", &["cache"][..]),
        (
            config
                .get("default")
                .and_then(|default| default.get("cache")),
            "default:cache",
            &["default", "cache"][..],
        ),
    ];
    for (cache, location, key_path) in global_caches {
        if let Some(cache) = cache {
            // Checked here as well as in each job, so the message names the global keyword.
            artifacts::parse_caches(cache, None, location, key_path, &mut Warnings::default())?;
        }
    }
    for key in [
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
    ] {
        if let Some(value) = config.get(key) {
            defaults.insert(Value::from(key), value.clone());
        }
    }
    match config.get("default") {
        None => {}
        Some(Value::Mapping(fields)) => {
            for (key, value) in fields {
                let name = yaml::key_str(key);
                if NO_LOCAL_EFFECT_DEFAULTS.contains(&name.as_str()) {
                    // Warned about once here rather than once per inheriting job.
                    warnings.no_local_effect(None, format!("default:{name}"));
                } else if DEFAULTABLE.contains(&name.as_str()) {
                    defaults.insert(key.clone(), value.clone());
                } else {
                    warnings.push(
                        None,
                        format!("default:{name}"),
                        "cannot be set in `default`, ignored",
                    );
                }
            }
        }
        Some(_) => return Err(Error::invalid("default", "should be a mapping")),
    }
    Ok(defaults)
}

/// The job's keywords with inherited defaults added, and the global variables it inherits.
fn apply_inherit(
    name: &str,
    fields: &Mapping,
    defaults: &Mapping,
    globals: &[Variable],
) -> Result<(Mapping, Vec<Variable>)> {
    let mut fields = fields.clone();
    let inherit = fields.shift_remove("inherit");
    let selector = |key: &str| -> Result<Option<Vec<String>>> {
        let location = format!("jobs:{name}:inherit:{key}");
        match inherit.as_ref().and_then(|inherit| inherit.get(key)) {
            None | Some(Value::Bool(true)) => Ok(None),
            Some(Value::Bool(false)) => Ok(Some(Vec::new())),
            Some(list) => yaml::string_list(list, &location).map(Some),
        }
    };
    let allowed_defaults = selector("default")?;
    for (key, value) in defaults {
        let keyword = yaml::key_str(key);
        let inherited = allowed_defaults
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&keyword));
        if inherited && !fields.contains_key(key) {
            fields.insert(key.clone(), value.clone());
        }
    }
    let allowed_variables = selector("variables")?;
    let variables = globals
        .iter()
        .filter(|variable| {
            allowed_variables
                .as_ref()
                .is_none_or(|allowed| allowed.contains(&variable.key))
        })
        .cloned()
        .collect();
    Ok((fields, variables))
}
