//! Planning: which jobs of a pipeline run, in which order, and whose artifacts each receives.

use crate::context::LocalContext;
use crate::error::{Error, Result};
use crate::files::{ProjectFiles, Refs};
use crate::job::Job;
use crate::pipeline::{self, JobEntry, Pipeline};
use crate::predefined::{self, JobFacts};
use crate::schedule::{Candidate, dependencies_of, order_jobs, user_variables};
use crate::variables::{self, Variable};
use crate::warning::{Warning, Warnings};
use crate::when::When;
use crate::{rules, validate};

/// The jobs to run, in order, and those left out.
#[derive(Debug, Clone)]
pub struct Plan {
    jobs: Vec<PlannedJob>,
    skipped: Vec<SkippedJob>,
    warnings: Vec<Warning>,
}

/// A job that will run (one per `parallel` instance).
///
/// Run the jobs of [`Plan::jobs`] in order: a job whose [`when`](Self::when) is
/// [`When::OnFailure`] runs only if an earlier job failed (without `allow_failure`),
/// [`When::Always`] runs anyway, every other value runs only if none failed.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub(crate) name: String,
    pub(crate) stage: String,
    pub(crate) when: When,
    pub(crate) allow_failure: bool,
    pub(crate) allow_failure_exit_codes: Vec<i32>,
    pub(crate) needs: Option<Vec<String>>,
    pub(crate) dependencies: Vec<String>,
    pub(crate) node: Option<(u32, u32)>,
    pub(crate) manual: bool,
    pub(crate) job: Job,
    /// Global, job and rules variables, in that order (the YAML part of the variable list).
    pub(crate) yaml_variables: Vec<Variable>,
}

/// A job of the pipeline that will not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedJob {
    /// The job's name (with ` i/N` for `parallel` instances).
    pub name: String,
    /// Its stage.
    pub stage: String,
    /// Why it does not run.
    pub reason: SkipReason,
}

/// Why a job is not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// `when: manual`: it runs only when named explicitly.
    Manual,
    /// Its `rules` (or `when: never`) exclude it from this pipeline.
    Rules,
    /// `workflow:rules` exclude the whole pipeline.
    Workflow,
}

impl Plan {
    /// The jobs to run, in stage order (then file order, `needs` within a stage first).
    pub fn jobs(&self) -> &[PlannedJob] {
        &self.jobs
    }

    /// Jobs of the pipeline left out, with the reason.
    pub fn skipped(&self) -> &[SkippedJob] {
        &self.skipped
    }

    /// Warnings from planning (rules excluding a named job, missing needs...).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

impl PlannedJob {
    /// The job's name; `parallel` instances are named `name i/N`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its stage.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// When it runs relative to earlier failures (after `rules`).
    pub fn when(&self) -> When {
        self.when
    }

    /// Whether a failure of this job leaves the pipeline successful.
    pub fn allow_failure(&self) -> bool {
        self.allow_failure
    }

    /// Exit codes that are allowed to fail (`allow_failure: {exit_codes}`); empty when none,
    /// and when a matching rule sets `allow_failure` (GitLab then drops the exit codes).
    pub fn allow_failure_exit_codes(&self) -> &[i32] {
        &self.allow_failure_exit_codes
    }

    /// The `needs` job names (parallel jobs expanded), or `None` without `needs`.
    pub fn needs(&self) -> Option<&[String]> {
        self.needs.as_deref()
    }

    /// Names of the jobs whose artifacts this job receives: `dependencies` if given, else
    /// `needs` with artifacts, else every job of earlier stages.
    pub fn dependencies(&self) -> &[String] {
        &self.dependencies
    }

    /// `(CI_NODE_INDEX, CI_NODE_TOTAL)` for `parallel` jobs.
    pub fn node(&self) -> Option<(u32, u32)> {
        self.node
    }

    /// The job timeout in seconds, if the job (or `default`) sets one.
    pub fn timeout(&self) -> Option<u64> {
        self.job.timeout
    }
}

impl Pipeline {
    /// Plans the pipeline: every job that `workflow`, `rules` and `when` let run, in stage
    /// order, when `selection` is empty; else exactly the named jobs (a `parallel` job's name
    /// selects all its instances), even manual ones or ones rules exclude (with a warning).
    ///
    /// `rules:if` sees the predefined variables of `ctx`, the YAML variables and `ctx.variables`.
    pub fn plan(&self, ctx: &LocalContext, selection: &[String]) -> Result<Plan> {
        let mut warnings = Warnings::default();
        let user = user_variables(ctx);
        // Listed on first use only: most pipelines have no `rules:exists`.
        let files = (!ctx.project_dir.as_os_str().is_empty())
            .then(|| ProjectFiles::new(&ctx.project_dir).with_refs(Refs::of(ctx)));
        let mut workflow_variables = Vec::new();
        let mut workflow_excluded = false;
        if let Some(workflow_rules) = &self.workflow_rules {
            let facts = JobFacts {
                name: "",
                stage: "",
                id: None,
                node: None,
                manual: false,
            };
            let list = [
                predefined::predefined(ctx, &facts),
                self.variables.clone(),
                user.clone(),
            ]
            .concat();
            match rules::evaluate(
                workflow_rules,
                &variables::expand_all(&list),
                files.as_ref(),
                "workflow:rules",
            )? {
                Some(outcome) if outcome.when != Some(When::Never) => {
                    workflow_variables = outcome.variables
                }
                _ => workflow_excluded = true,
            }
        }
        if workflow_excluded && selection.is_empty() {
            warnings.push(None, "workflow:rules", "exclude this pipeline: no job runs");
            let skipped = self
                .jobs
                .iter()
                .map(|entry| SkippedJob {
                    name: entry.job.name.clone(),
                    stage: entry.job.stage.clone(),
                    reason: SkipReason::Workflow,
                })
                .collect();
            return Ok(Plan {
                jobs: Vec::new(),
                skipped,
                warnings: warnings.0,
            });
        }
        let mut candidates = Vec::new();
        for entry in &self.jobs {
            candidates.extend(self.evaluate_job(
                entry,
                ctx,
                &workflow_variables,
                &user,
                files.as_ref(),
            )?);
        }
        let included: Vec<&Candidate> =
            candidates.iter().filter(|c| c.excluded.is_none()).collect();
        let problems = validate::needs_in_pipeline(&included);
        if !problems.is_empty() {
            return Err(pipeline::locate(
                Error::Validation { problems },
                &self.sources,
            ));
        }
        let mut planned = Vec::new();
        let mut skipped = Vec::new();
        if selection.is_empty() {
            for candidate in &candidates {
                match candidate
                    .excluded
                    .or((candidate.job.when == When::Manual).then_some(SkipReason::Manual))
                {
                    Some(reason) => skipped.push(SkippedJob {
                        name: candidate.job.name.clone(),
                        stage: candidate.job.stage.clone(),
                        reason,
                    }),
                    None => planned.push(candidate),
                }
            }
        } else {
            let unknown: Vec<String> = selection
                .iter()
                .filter(|name| {
                    !candidates
                        .iter()
                        .any(|c| c.job.name == **name || c.definition == **name)
                })
                .cloned()
                .collect();
            if !unknown.is_empty() {
                return Err(Error::UnknownJobs { names: unknown });
            }
            if workflow_excluded {
                warnings.push(
                    None,
                    "workflow:rules",
                    "exclude this pipeline; running the named jobs anyway",
                );
            }
            for candidate in &candidates {
                if selection
                    .iter()
                    .any(|name| candidate.job.name == *name || candidate.definition == *name)
                {
                    if candidate.excluded.is_some() {
                        warnings.push(
                            Some(&candidate.job.name),
                            "rules",
                            "exclude this job; running it because it was named",
                        );
                    }
                    planned.push(candidate);
                }
            }
        }
        let mut jobs: Vec<PlannedJob> = planned
            .into_iter()
            .map(|candidate| {
                let mut job = candidate.job.clone();
                job.dependencies = dependencies_of(candidate, &included, &mut warnings);
                job
            })
            .collect();
        order_jobs(&mut jobs, &self.stages);
        Ok(Plan {
            jobs,
            skipped,
            warnings: warnings.0,
        })
    }

    /// Expands `parallel` and evaluates the rules of each instance (matrix variables are
    /// visible to `rules:if`, as on GitLab).
    fn evaluate_job(
        &self,
        entry: &JobEntry,
        ctx: &LocalContext,
        workflow_variables: &[Variable],
        user: &[Variable],
        files: Option<&ProjectFiles>,
    ) -> Result<Vec<Candidate>> {
        let job = &entry.job;
        let stage_index = self
            .stages
            .iter()
            .position(|stage| *stage == job.stage)
            .unwrap_or_default();
        let mut candidates = Vec::new();
        for (name, node, matrix_variables) in job.instances() {
            let matrix_variables: Vec<Variable> = matrix_variables
                .into_iter()
                .map(|(key, value)| Variable::public(key, value))
                .collect();
            // Matrix values are job variables of the instance, after the job's own.
            let base = [
                entry.global_variables.as_slice(),
                workflow_variables,
                &job.variables,
                &matrix_variables,
            ]
            .concat();
            let mut when = job.when.unwrap_or(When::OnSuccess);
            let mut allow_failure = job.allow_failure;
            let mut exit_codes = job.allow_failure_exit_codes.clone();
            let mut rule_variables = Vec::new();
            let mut excluded = None;
            if let Some(job_rules) = &job.rules {
                let facts = JobFacts {
                    name: &name,
                    stage: &job.stage,
                    id: None,
                    node: None,
                    manual: false,
                };
                let list = [
                    predefined::predefined(ctx, &facts),
                    base.clone(),
                    user.to_vec(),
                ]
                .concat();
                let mut expanded = variables::expand_all(&list);
                if let Some(environment) = &job.environment {
                    let environment_variables = environment.variables(&expanded);
                    for variable in environment_variables {
                        expanded.entry(variable.key).or_insert(variable.value);
                    }
                }
                let location = format!("jobs:{}:rules", job.name);
                match rules::evaluate(job_rules, &expanded, files, &location)? {
                    Some(outcome) => {
                        when = outcome.when.unwrap_or(when);
                        if outcome.allow_failure.is_some() {
                            // GitLab drops `allow_failure:exit_codes` when a rule decides.
                            allow_failure = outcome.allow_failure;
                            exit_codes.clear();
                        }
                        rule_variables = outcome.variables;
                    }
                    None => excluded = Some(SkipReason::Rules),
                }
            }
            if when == When::Never {
                excluded = Some(SkipReason::Rules);
            }
            // Manual jobs outside `rules` may fail by default; inside `rules` they may not.
            let allow_failure =
                allow_failure.unwrap_or(when == When::Manual && job.rules.is_none());
            candidates.push(Candidate {
                definition: job.name.clone(),
                stage_index,
                excluded,
                job: PlannedJob {
                    name,
                    stage: job.stage.clone(),
                    when,
                    allow_failure,
                    allow_failure_exit_codes: exit_codes,
                    needs: None,
                    dependencies: Vec::new(),
                    node,
                    manual: when == When::Manual,
                    job: job.clone(),
                    yaml_variables: [base, rule_variables].concat(),
                },
            });
        }
        Ok(candidates)
    }
}
