//! The checks GitLab makes on the job graph before it creates a pipeline, with GitLab's
//! messages (`lib/gitlab/ci/yaml_processor.rb`, `Entry::Job`, the needs seed):
//! `needs` and `dependencies` name existing jobs of the same or earlier stages,
//! `dependencies` are part of `needs`, `needs` make no cycle, and (after rules) every
//! non-optional need is in the pipeline.

use std::collections::HashMap;

use crate::error::Problem;
use crate::job::Job;
use crate::pipeline::JobEntry;
use crate::schedule::Candidate;

/// GitLab's message for a `needs` cycle, a job needing itself included.
const CYCLE: &str = "The pipeline has circular dependencies.";

/// Problems of the defined jobs (`other_jobs`: `(name, stage)` of jobs that exist but are
/// not run locally, such as trigger jobs), before any rule is evaluated.
pub(crate) fn job_graph(
    jobs: &[JobEntry],
    other_jobs: &[(String, String)],
    stages: &[String],
) -> Vec<Problem> {
    let stage_index = |stage: &str| stages.iter().position(|known| known == stage);
    // Every name a need may use: definitions and their `parallel` instances.
    let mut known: HashMap<String, Option<usize>> = HashMap::new();
    for entry in jobs {
        let job = &entry.job;
        let index = stage_index(&job.stage);
        known.insert(job.name.clone(), index);
        if job.parallel > 1 || job.matrix.is_some() {
            for (name, _, _) in job.instances() {
                known.insert(name, index);
            }
        }
    }
    for (name, stage) in other_jobs {
        known.entry(name.clone()).or_insert(stage_index(stage));
    }
    let mut problems = Vec::new();
    for entry in jobs {
        let job = &entry.job;
        let own = stage_index(&job.stage);
        let mut check = |name: &str, keyword: &str, kind: &str| match known.get(name) {
            None => problems.push(Problem::new(
                &[&job.name, keyword],
                Some(name),
                format!("{} job: undefined {kind}: {name}", job.name),
            )),
            Some(index) if index.is_none_or(|index| Some(index) > own) => {
                problems.push(Problem::new(
                    &[&job.name, keyword],
                    Some(name),
                    format!(
                        "{} job: {kind} {name} is not defined in current or prior stages",
                        job.name
                    ),
                ))
            }
            Some(_) => {}
        };
        for need in job.needs.iter().flatten() {
            for name in need.names() {
                check(&name, "needs", "need");
            }
        }
        for dependency in job.dependencies.iter().flatten() {
            check(dependency, "dependencies", "dependency");
        }
        if let Some(missing) = dependencies_outside_needs(job) {
            problems.push(Problem::new(
                &[&job.name, "dependencies"],
                None,
                format!(
                    "jobs:{} dependencies the {} should be part of needs",
                    job.name,
                    missing.join(", ")
                ),
            ));
        }
    }
    for entry in jobs {
        if let Some(message) = on_stop_problem(&entry.job, jobs) {
            problems.push(Problem::new(
                &[&entry.job.name, "environment"],
                Some("on_stop"),
                message,
            ));
        }
    }
    if problems.is_empty() {
        if let Some(job) = job_in_cycle(jobs) {
            problems.push(Problem::new(&[job, "needs"], None, CYCLE));
        }
    }
    problems
}

/// After rules: a job of the pipeline needing a job that rules left out (unless the need is
/// `optional`) makes GitLab refuse the pipeline.
pub(crate) fn needs_in_pipeline(included: &[&Candidate]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for candidate in included {
        let job = &candidate.job.job;
        for need in job.needs.iter().flatten().filter(|need| !need.optional) {
            for name in need.names() {
                let present = included
                    .iter()
                    .any(|other| other.job.name == name || other.definition == name);
                if !present {
                    let message = format!(
                        "'{}' job needs '{name}' job, but '{name}' is not in any previous stage",
                        candidate.job.name
                    );
                    let problem = Problem::new(&[&job.name, "needs"], Some(&name), message);
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
    }
    problems
}

/// `environment:on_stop` names a job of the same environment whose action is `stop`, as
/// `YamlProcessor#validate_on_stop_job!` checks it.
fn on_stop_problem(job: &Job, jobs: &[JobEntry]) -> Option<String> {
    let environment = job.environment.as_ref()?;
    let on_stop = environment.on_stop()?;
    let name = &job.name;
    let Some(stop_job) = jobs.iter().find(|entry| entry.job.name == on_stop) else {
        return Some(format!("{name} job: on_stop job {on_stop} is not defined"));
    };
    let Some(stop_environment) = &stop_job.job.environment else {
        return Some(format!(
            "{name} job: on_stop job {on_stop} does not have environment defined"
        ));
    };
    if stop_environment.name() != environment.name() {
        return Some(format!(
            "{name} job: on_stop job {on_stop} have different environment name"
        ));
    }
    if stop_environment.action() != "stop" {
        return Some(format!(
            "{name} job: on_stop job {on_stop} needs to have action stop defined"
        ));
    }
    None
}

/// `dependencies` not listed in a non-empty `needs`, as `Entry::Job` checks them.
fn dependencies_outside_needs(job: &Job) -> Option<Vec<&str>> {
    let (dependencies, needs) = (job.dependencies.as_ref()?, job.needs.as_ref()?);
    if dependencies.is_empty() || needs.is_empty() {
        return None;
    }
    let missing: Vec<&str> = dependencies
        .iter()
        .filter(|dependency| !needs.iter().any(|need| need.job == **dependency))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then_some(missing)
}

/// A job on a `needs` cycle (a job needing itself counts), if any.
fn job_in_cycle(jobs: &[JobEntry]) -> Option<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(position, entry)| (entry.job.name.as_str(), position))
        .collect();
    let edges: Vec<Vec<usize>> = jobs
        .iter()
        .map(|entry| {
            entry
                .job
                .needs
                .iter()
                .flatten()
                .filter_map(|need| index.get(need.job.as_str()).copied())
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::New; jobs.len()];
    for start in 0..jobs.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (node, next edge to follow).
        let mut stack = vec![(start, 0)];
        marks[start] = Mark::Open;
        while let Some((node, edge)) = stack.pop() {
            let Some(&next) = edges[node].get(edge) else {
                marks[node] = Mark::Done;
                continue;
            };
            stack.push((node, edge + 1));
            match marks[next] {
                Mark::Open => return Some(&jobs[next].job.name),
                Mark::New => {
                    marks[next] = Mark::Open;
                    stack.push((next, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
