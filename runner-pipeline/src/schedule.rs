//! Scheduling helpers of the planner: user variables, artifact dependencies, job order.

use std::collections::HashSet;

use crate::context::LocalContext;
use crate::plan::{PlannedJob, SkipReason};
use crate::variables::Variable;
use crate::warning::Warnings;

/// A job instance while planning.
pub(crate) struct Candidate {
    pub(crate) definition: String,
    pub(crate) stage_index: usize,
    pub(crate) excluded: Option<SkipReason>,
    pub(crate) job: PlannedJob,
}

/// `ctx.variables` as payload entries: not public, masked when named in `ctx.masked`.
pub(crate) fn user_variables(ctx: &LocalContext) -> Vec<Variable> {
    ctx.variables
        .iter()
        .map(|(key, value)| Variable {
            key: key.clone(),
            value: value.clone(),
            public: false,
            file: false,
            masked: ctx.masked.contains(key),
            raw: false,
        })
        .collect()
}

/// Instance names of the included job (or instance) called `name`.
fn expand_name<'a>(name: &str, included: &[&'a Candidate]) -> Vec<&'a Candidate> {
    included
        .iter()
        .copied()
        .filter(|c| c.job.name == name || c.definition == name)
        .collect()
}

/// The jobs whose artifacts `candidate` receives (see [`PlannedJob::dependencies`]).
pub(crate) fn dependencies_of(
    candidate: &Candidate,
    included: &[&Candidate],
    warnings: &mut Warnings,
) -> Vec<String> {
    let job = &candidate.job.job;
    let named =
        |names: Vec<(String, bool)>, keyword: &str, warnings: &mut Warnings| -> Vec<String> {
            let mut out = Vec::new();
            for (name, optional) in names {
                let found = expand_name(&name, included);
                if found.is_empty() && !optional {
                    warnings.push(
                        Some(&candidate.job.name),
                        keyword,
                        format!("job `{name}` is not in this pipeline"),
                    );
                }
                out.extend(found.into_iter().map(|c| c.job.name.clone()));
            }
            out
        };
    let needed = job.needs.as_ref().map(|needs| {
        let with_artifacts = needs
            .iter()
            .filter(|need| need.artifacts)
            .flat_map(|need| need.names().into_iter().map(|name| (name, need.optional)));
        named(with_artifacts.collect(), "needs", warnings)
    });
    if let Some(dependencies) = &job.dependencies {
        let listed = named(
            dependencies
                .iter()
                .map(|name| (name.clone(), false))
                .collect(),
            "dependencies",
            warnings,
        );
        // With `needs`, GitLab only passes artifacts of needed jobs whose `artifacts` is
        // not false, so `dependencies` narrows that set rather than widening it.
        return match needed {
            Some(needed) => listed
                .into_iter()
                .filter(|name| needed.contains(name))
                .collect(),
            None => listed,
        };
    }
    if let Some(needed) = needed {
        return needed;
    }
    included
        .iter()
        .filter(|other| other.stage_index < candidate.stage_index)
        .map(|other| other.job.name.clone())
        .collect()
}

/// Sorts by stage, keeping file order, then moves same-stage `needs` before their dependents.
pub(crate) fn order_jobs(jobs: &mut Vec<PlannedJob>, stages: &[String]) {
    for planned in jobs.iter_mut() {
        planned.needs = planned
            .job
            .needs
            .as_ref()
            .map(|needs| needs.iter().flat_map(|need| need.names()).collect());
    }
    let stage_of = |job: &PlannedJob| {
        stages
            .iter()
            .position(|stage| *stage == job.stage)
            .unwrap_or_default()
    };
    jobs.sort_by_key(stage_of);
    let mut remaining: Vec<PlannedJob> = std::mem::take(jobs);
    let mut placed: HashSet<String> = HashSet::new();
    // (instance name, definition name) in stage order, so expanded needs keep instance order.
    let names: Vec<(String, String)> = remaining
        .iter()
        .map(|job| (job.name.clone(), job.job.name.clone()))
        .collect();
    while !remaining.is_empty() {
        let ready = remaining
            .iter()
            .position(|job| {
                job.needs.iter().flatten().all(|need| {
                    names
                        .iter()
                        .filter(|(name, definition)| name == need || definition == need)
                        .all(|(instance, _)| placed.contains(instance))
                })
            })
            .unwrap_or(0);
        let job = remaining.remove(ready);
        placed.insert(job.name.clone());
        jobs.push(job);
    }
    // Report `needs` with parallel instances expanded.
    for job in jobs.iter_mut() {
        if let Some(needs) = &job.needs {
            let expanded = needs
                .iter()
                .flat_map(|need| {
                    let instances: Vec<String> = names
                        .iter()
                        .filter(|(name, definition)| name == need || definition == need)
                        .map(|(n, _)| n.clone())
                        .collect();
                    if instances.is_empty() {
                        vec![need.clone()]
                    } else {
                        instances
                    }
                })
                .collect();
            job.needs = Some(expanded);
        }
    }
}
