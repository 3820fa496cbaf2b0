//! The model: `extends`, `!reference`, `default`, hidden jobs, stages and warnings, observed
//! through plans and payloads.

use std::collections::HashMap;

use runner_pipeline::{Error, Pipeline, PlannedJob};
use serde_json::{Value, json};

use crate::{context, parse, webapp};

fn job<'a>(jobs: &'a [PlannedJob], name: &str) -> &'a PlannedJob {
    jobs.iter()
        .find(|job| job.name() == name)
        .unwrap_or_else(|| panic!("job {name} planned"))
}

fn payload_of(pipeline: &Pipeline, name: &str) -> Value {
    let ctx = context("main");
    let plan = pipeline.plan(&ctx, &[name.to_owned()]).expect("plans");
    plan.jobs()[0].to_job_payload(&ctx, 10, &HashMap::new())
}

fn variable(payload: &Value, key: &str) -> Option<String> {
    payload["variables"]
        .as_array()
        .and_then(|list| list.iter().rev().find(|v| v["key"] == key))
        .and_then(|v| v["value"].as_str().map(str::to_owned))
}

#[test]
fn extends_is_multi_level_with_deep_merged_variables() {
    let payload = payload_of(&webapp(), "unit");
    // unit -> .tested -> .node-job: hashes merge, the nearer definition wins.
    assert_eq!(
        variable(&payload, "NODE_OPTIONS").as_deref(),
        Some("--max-old-space-size=2048")
    );
    assert_eq!(
        variable(&payload, "NPM_CONFIG_LOGLEVEL").as_deref(),
        Some("error")
    );
    assert_eq!(
        variable(&payload, "POSTGRES_PASSWORD").as_deref(),
        Some("secret")
    );
    // `timeout` from .tested beats `default: timeout`.
    assert_eq!(payload["runner_info"]["timeout"], 5400);
}

#[test]
fn extends_replaces_lists_instead_of_merging_them() {
    let pipeline = parse(
        ".base: {script: [a, b], variables: {A: '1'}}\n.mid: {extends: .base, script: [c]}\n\
         job: {extends: .mid, variables: {B: '2'}}\n",
    );
    let payload = payload_of(&pipeline, "job");
    assert_eq!(payload["steps"][0]["script"], json!(["c"]));
    assert_eq!(variable(&payload, "A").as_deref(), Some("1"));
    assert_eq!(variable(&payload, "B").as_deref(), Some("2"));
}

#[test]
fn reference_tags_resolve_nested_scripts_after_includes() {
    let payload = payload_of(&webapp(), "lint");
    assert_eq!(
        payload["steps"][0]["script"],
        json!([
            "npm ci --cache .npm",
            "echo \"node $NODE_VERSION\"",
            "npm run db:migrate",
            "npm run lint"
        ])
    );
}

#[test]
fn reference_tags_resolve_variables_and_single_values() {
    let pipeline = parse(
        ".vars: {variables: {A: one, B: two}}\n.more: {variables: {C: !reference [.vars, variables, B]}}\n\
         job:\n  variables: !reference [.vars, variables]\n  script: [echo, !reference [.more, variables, C]]\n",
    );
    let payload = payload_of(&pipeline, "job");
    assert_eq!(variable(&payload, "A").as_deref(), Some("one"));
    assert_eq!(payload["steps"][0]["script"], json!(["echo", "two"]));
}

#[test]
fn default_keywords_are_inherited_unless_overridden_or_disinherited() {
    let pipeline = webapp();
    let build = payload_of(&pipeline, "build");
    assert_eq!(build["image"]["name"], "node:${NODE_VERSION}-alpine");
    assert_eq!(build["steps"][0]["script"][0], "npm ci --cache .npm");
    assert_eq!(build["cache"][0]["key"], "npm-$CI_COMMIT_REF_SLUG");
    assert_eq!(build["runner_info"]["timeout"], 1800);
    let prepare = payload_of(&pipeline, "prepare");
    assert_eq!(prepare["image"]["name"], "alpine:3.20");
    assert_eq!(
        prepare["steps"][0]["script"],
        json!(["echo \"preparing $CI_PIPELINE_SOURCE pipeline\""])
    );
    // `inherit: variables: false` drops the global variables only.
    let notify = payload_of(&pipeline, "notify-failure");
    assert_eq!(variable(&notify, "NODE_VERSION"), None);
    assert_eq!(
        variable(&notify, "CI_JOB_NAME").as_deref(),
        Some("notify-failure")
    );
    let pipeline =
        parse("default: {image: ruby, tags: [x]}\njob: {script: x, inherit: {default: [tags]}}\n");
    assert!(payload_of(&pipeline, "job").get("image").is_none());
}

#[test]
fn hidden_jobs_never_run_and_cannot_be_selected() {
    let pipeline = webapp();
    assert!(!pipeline.job_names().any(|name| name.starts_with('.')));
    let error = pipeline
        .plan(
            &context("main"),
            &[".hidden-job".to_owned(), "nope".to_owned()],
        )
        .expect_err("unknown");
    assert!(
        matches!(&error, Error::UnknownJobs { names } if names == &[".hidden-job", "nope"]),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "unknown job(s): .hidden-job, nope");
}

#[test]
fn stages_default_and_edge_stages_are_added() {
    assert_eq!(
        parse("job: {script: x}\n").stages(),
        [".pre", "build", "test", "deploy", ".post"]
    );
    assert_eq!(
        webapp().stages(),
        [".pre", "build", "test", "deploy", ".post"]
    );
    let plan = webapp().plan(&context("main"), &[]).expect("plans");
    let jobs = plan.jobs();
    assert_eq!(jobs.first().map(PlannedJob::name), Some("prepare"));
    assert_eq!(jobs.last().map(PlannedJob::name), Some("notify-failure"));
    assert_eq!(job(jobs, "notify-failure").stage(), ".post");
}

#[test]
fn an_unknown_stage_is_an_error() {
    let error = Pipeline::parse(".", "stages: [build]\njob: {stage: test, script: x}\n")
        .expect_err("unknown stage");
    let problem = &error.problems()[0];
    assert_eq!(
        problem.message(),
        "job job: chosen stage does not exist; available stages are .pre, build, .post"
    );
    assert_eq!(problem.line(), Some(2), "{error}");
}

#[test]
fn unsupported_keywords_produce_warnings_naming_job_and_keyword() {
    let pipeline = parse(
        "job:\n  script: x\n  only: [main]\n  except: [tags]\n  parallel: {matrix: [{A: [1, 2]}]}\n  retry: 2\n  \
         frobnicate: true\n  cache: {key: {files: [Gemfile.lock]}}\n\
         trigger-job:\n  trigger: {project: a/b}\n",
    );
    let found: Vec<String> = pipeline
        .warnings()
        .iter()
        .map(|w| format!("{}|{}", w.job().unwrap_or("-"), w.keyword()))
        .collect();
    for expected in [
        "job|only",
        "job|except",
        "job|retry",
        "job|frobnicate",
        "trigger-job|trigger",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "missing {expected} in {found:?}"
        );
    }
    let only = pipeline
        .warnings()
        .iter()
        .find(|w| w.keyword() == "only")
        .expect("only");
    assert_eq!(
        only.to_string(),
        "job `job`: `only`: not supported locally (use rules), ignored: the job is kept"
    );
    // `only` does not drop the job (two instances of its matrix).
    assert_eq!(
        pipeline
            .plan(&context("main"), &[])
            .expect("plans")
            .jobs()
            .len(),
        2
    );
}

#[test]
fn webapp_warnings_cover_inherited_keywords() {
    let warnings: Vec<String> = webapp()
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        warnings.contains(
            &"job `build`: `tags`: accepted, has no effect when running locally".to_owned()
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("job `unit`: `retry`")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("job `deploy`: `environment`")),
        "{warnings:?}"
    );
}

#[test]
fn invalid_values_are_errors_naming_the_keyword() {
    for (yaml, expected) in [
        (
            "job: {script: x, timeout: soon}\n",
            "jobs:job:timeout: `soon` is not a duration",
        ),
        (
            "job: {script: x, when: sometimes}\n",
            "jobs:job:when: unknown value `sometimes`",
        ),
        ("job: {script: x, parallel: 500}\n", "jobs:job:parallel"),
        (
            "job: {script: {a: b}}\n",
            "jobs:job:script: should be a string or a list of strings",
        ),
        (
            "job: {stage: build}\n",
            "jobs:job: config should implement the script: keyword",
        ),
        ("job: echo\n", "jobs:job: config should be a hash"),
        (
            "job: {extends: .x, script: y}\n",
            "jobs:job:extends: unknown job `.x`",
        ),
    ] {
        let error = Pipeline::parse(".", yaml).expect_err(yaml);
        assert!(error.to_string().starts_with(expected), "{yaml}: {error}");
    }
}

#[test]
fn yaml_anchors_and_merge_keys_work() {
    let pipeline = parse(
        ".defaults: &defaults\n  image: ruby:3.3\n  script: [rake]\njob:\n  <<: *defaults\n  script: [rspec]\n",
    );
    let payload = payload_of(&pipeline, "job");
    assert_eq!(payload["image"]["name"], "ruby:3.3");
    assert_eq!(payload["steps"][0]["script"], json!(["rspec"]));
}

#[test]
fn defaults_without_local_effect_warn_once() {
    let pipeline =
        parse("default: {tags: [docker], retry: 2, image: ruby}\na: {script: x}\nb: {script: y}\n");
    let warnings: Vec<(Option<&str>, &str)> = pipeline
        .warnings()
        .iter()
        .map(|w| (w.job(), w.keyword()))
        .collect();
    assert_eq!(warnings, [(None, "default:tags"), (None, "default:retry")]);
    assert_eq!(payload_of(&pipeline, "b")["image"]["name"], "ruby");
}
