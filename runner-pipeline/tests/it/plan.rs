//! Planning: rules and `when`, selection, `parallel`, dependencies and order.

use std::collections::HashMap;

use runner_pipeline::{LocalContext, Plan, PlannedJob, RefType, SkipReason, When};

use runner_pipeline::Pipeline;

use crate::{context, fixture, parse, webapp};

fn names(plan: &Plan) -> Vec<&str> {
    plan.jobs().iter().map(PlannedJob::name).collect()
}

fn skipped(plan: &Plan) -> Vec<(&str, SkipReason)> {
    plan.skipped()
        .iter()
        .map(|job| (job.name.as_str(), job.reason))
        .collect()
}

fn job<'a>(plan: &'a Plan, name: &str) -> &'a PlannedJob {
    plan.jobs()
        .iter()
        .find(|job| job.name() == name)
        .unwrap_or_else(|| panic!("{name} planned"))
}

#[test]
fn default_branch_runs_everything_in_stage_order() {
    let plan = webapp().plan(&context("main"), &[]).expect("plans");
    assert_eq!(
        names(&plan),
        [
            "prepare",
            "build",
            "lint",
            "unit 1/3",
            "unit 2/3",
            "unit 3/3",
            "e2e",
            "deploy",
            "notify-failure"
        ]
    );
    assert!(plan.skipped().is_empty());
    assert_eq!(job(&plan, "notify-failure").when(), When::OnFailure);
}

#[test]
fn feature_branch_skips_manual_and_never_jobs() {
    let plan = webapp()
        .plan(&context("feature/login"), &[])
        .expect("plans");
    assert!(!names(&plan).contains(&"e2e") && !names(&plan).contains(&"deploy"));
    assert_eq!(
        skipped(&plan),
        [("e2e", SkipReason::Manual), ("deploy", SkipReason::Rules)]
    );
}

#[test]
fn regex_rules_with_flags_exclude_jobs() {
    // `/^docs\//i` matches `Docs/...` only thanks to the `i` flag.
    let plan = webapp().plan(&context("Docs/readme"), &[]).expect("plans");
    assert!(
        skipped(&plan).contains(&("e2e", SkipReason::Rules)),
        "{:?}",
        skipped(&plan)
    );
}

#[test]
fn tag_pipelines_see_ci_commit_tag_and_no_branch() {
    let ctx = LocalContext {
        ref_type: RefType::Tag,
        ..context("v1.2.0")
    };
    let plan = webapp().plan(&ctx, &[]).expect("plans");
    assert!(names(&plan).contains(&"e2e"));
    assert_eq!(skipped(&plan), [("deploy", SkipReason::Rules)]);
}

#[test]
fn named_jobs_run_even_when_manual_or_excluded_by_rules() {
    let plan = webapp()
        .plan(
            &context("feature/login"),
            &["e2e".to_owned(), "deploy".to_owned()],
        )
        .expect("plans");
    assert_eq!(names(&plan), ["e2e", "deploy"]);
    assert_eq!(job(&plan, "e2e").when(), When::Manual);
    let warned: Vec<(Option<&str>, &str)> = plan
        .warnings()
        .iter()
        .map(|w| (w.job(), w.keyword()))
        .collect();
    assert_eq!(warned, [(Some("deploy"), "rules")]);
}

#[test]
fn parallel_jobs_are_selected_by_name_or_instance() {
    let pipeline = webapp();
    let all = pipeline
        .plan(&context("main"), &["unit".to_owned()])
        .expect("plans");
    assert_eq!(names(&all), ["unit 1/3", "unit 2/3", "unit 3/3"]);
    assert_eq!(all.jobs()[1].node(), Some((2, 3)));
    let one = pipeline
        .plan(&context("main"), &["unit 3/3".to_owned()])
        .expect("plans");
    assert_eq!(names(&one), ["unit 3/3"]);
    let payload = one.jobs()[0].to_job_payload(&context("main"), 5, &HashMap::new());
    let value = |key: &str| {
        payload["variables"]
            .as_array()
            .and_then(|l| l.iter().find(|v| v["key"] == key))
            .map(|v| v["value"].clone())
    };
    assert_eq!(value("CI_NODE_INDEX"), Some("3".into()));
    assert_eq!(value("CI_NODE_TOTAL"), Some("3".into()));
    assert_eq!(value("CI_JOB_NAME"), Some("unit 3/3".into()));
    assert_eq!(value("CI_JOB_NAME_SLUG"), Some("unit-3-3".into()));
}

#[test]
fn dependencies_follow_gitlab_precedence() {
    let plan = webapp().plan(&context("main"), &[]).expect("plans");
    // `dependencies` given.
    assert_eq!(job(&plan, "deploy").dependencies(), ["build"]);
    // `needs` with artifacts.
    assert_eq!(job(&plan, "lint").dependencies(), ["build"]);
    assert_eq!(job(&plan, "lint").needs(), Some(&["build".to_owned()][..]));
    // Neither: every job of earlier stages.
    assert_eq!(job(&plan, "unit 1/3").dependencies(), ["prepare", "build"]);
    assert_eq!(job(&plan, "notify-failure").dependencies().len(), 8);
}

#[test]
fn needs_without_artifacts_and_on_parallel_jobs() {
    let pipeline = parse(
        "gen: {stage: build, script: x, parallel: 2}\nother: {stage: build, script: x}\n\
         job: {stage: test, script: x, needs: [gen, {job: other, artifacts: false}]}\n\
         solo: {stage: test, script: x, needs: []}\n",
    );
    let plan = pipeline.plan(&context("main"), &[]).expect("plans");
    assert_eq!(job(&plan, "job").dependencies(), ["gen 1/2", "gen 2/2"]);
    assert_eq!(
        job(&plan, "job").needs(),
        Some(
            &[
                "gen 1/2".to_owned(),
                "gen 2/2".to_owned(),
                "other".to_owned()
            ][..]
        )
    );
    assert!(job(&plan, "solo").dependencies().is_empty());
}

#[test]
fn same_stage_needs_run_first() {
    let pipeline = parse("b: {script: x, needs: [a]}\na: {script: x}\nc: {script: x}\n");
    let plan = pipeline.plan(&context("main"), &[]).expect("plans");
    assert_eq!(names(&plan), ["a", "b", "c"]);
}

#[test]
fn allow_failure_defaults_depend_on_manual_and_rules() {
    let pipeline = parse(
        "plain: {script: x}\nallowed: {script: x, allow_failure: true}\nmanual: {script: x, when: manual}\n\
         rules-manual: {script: x, rules: [{when: manual}]}\n\
         rule-allowed: {script: x, rules: [{allow_failure: true}]}\n\
         codes: {script: x, allow_failure: {exit_codes: 42}}\n",
    );
    let names: Vec<String> = [
        "plain",
        "allowed",
        "manual",
        "rules-manual",
        "rule-allowed",
        "codes",
    ]
    .map(str::to_owned)
    .to_vec();
    let plan = pipeline.plan(&context("main"), &names).expect("plans");
    let flags: Vec<bool> = plan.jobs().iter().map(PlannedJob::allow_failure).collect();
    assert_eq!(flags, [false, true, true, false, true, false]);
    assert_eq!(job(&plan, "codes").allow_failure_exit_codes(), [42]);
}

#[test]
fn rules_see_user_variables_and_and_binds_tighter_than_or() {
    let yaml = "job:\n  script: x\n  rules:\n    - if: $RELEASE == \"yes\" || $CI_COMMIT_BRANCH == \"main\" && $FORCE\n";
    let pipeline = parse(yaml);
    let check = |branch: &str, variables: &[(&str, &str)], expected: bool| {
        let mut ctx = context(branch);
        ctx.variables = variables
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let planned = !pipeline.plan(&ctx, &[]).expect("plans").jobs().is_empty();
        assert_eq!(planned, expected, "{branch} {variables:?}");
    };
    check("dev", &[("RELEASE", "yes")], true);
    check("main", &[], false);
    check("main", &[("FORCE", "1")], true);
    check("dev", &[("FORCE", "1")], false);
}

#[test]
fn when_never_and_rule_variables() {
    let pipeline = parse(
        "variables: {MODE: quick}\nnever: {script: x, when: never}\n\
         job:\n  script: x\n  variables: {MODE: job}\n  rules:\n    - if: $MODE == \"job\"\n      variables: {MODE: rule}\n",
    );
    let ctx = context("main");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    assert_eq!(skipped(&plan), [("never", SkipReason::Rules)]);
    let variables = plan.jobs()[0].variables(&ctx, 1);
    let mode: Vec<&str> = variables
        .iter()
        .filter(|v| v.key == "MODE")
        .map(|v| v.value.as_str())
        .collect();
    assert_eq!(mode, ["rule"]);
}

#[test]
fn workflow_rules_can_exclude_the_pipeline_or_add_variables() {
    let yaml = "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\n      when: never\n    - if: $CI_COMMIT_BRANCH\n      variables: {FLOW: branch}\n\
                job: {script: x}\n";
    let pipeline = parse(yaml);
    let ctx = context("main");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let flow = plan.jobs()[0]
        .variables(&ctx, 1)
        .into_iter()
        .find(|v| v.key == "FLOW")
        .map(|v| v.value);
    assert_eq!(flow.as_deref(), Some("branch"));
    let tag = LocalContext {
        ref_type: RefType::Tag,
        ..context("v1")
    };
    let plan = pipeline.plan(&tag, &[]).expect("plans");
    assert!(plan.jobs().is_empty());
    assert_eq!(skipped(&plan), [("job", SkipReason::Workflow)]);
    assert_eq!(plan.warnings()[0].keyword(), "workflow:rules");
}

#[test]
fn rule_expressions_that_fail_at_evaluation_are_errors() {
    let pipeline =
        parse("job: {script: x, rules: [{if: '$CI_COMMIT_BRANCH =~ $NOT_A_PATTERN'}]}\n");
    let mut ctx = context("main");
    ctx.variables.push(("NOT_A_PATTERN".into(), "main".into()));
    let error = pipeline.plan(&ctx, &[]).expect_err("not a regex");
    assert!(
        error.to_string().starts_with("jobs:job:rules:if:"),
        "{error}"
    );
}

/// The value of `key` in the payload variables of `job` (job id 1).
fn value_of(job: &PlannedJob, key: &str) -> Option<String> {
    job.variables(&context("main"), 1)
        .iter()
        .rev()
        .find(|variable| variable.key == key)
        .map(|variable| variable.value.clone())
}

const MATRIX: &str = "deploy:\n  stage: deploy\n  script: x\n  parallel:\n    matrix:\n      \
     - PROVIDER: aws\n        STACK: [monitoring, app1]\n      - PROVIDER: [gcp, vultr]\n        \
     STACK: data\n";

#[test]
fn matrix_instances_are_named_by_their_values_and_get_them_as_variables() {
    let plan = parse(MATRIX).plan(&context("main"), &[]).expect("plans");
    assert_eq!(
        names(&plan),
        [
            "deploy: [aws, monitoring]",
            "deploy: [aws, app1]",
            "deploy: [gcp, data]",
            "deploy: [vultr, data]"
        ]
    );
    let app1 = job(&plan, "deploy: [aws, app1]");
    assert_eq!(value_of(app1, "PROVIDER").as_deref(), Some("aws"));
    assert_eq!(value_of(app1, "STACK").as_deref(), Some("app1"));
    assert_eq!(value_of(app1, "CI_NODE_INDEX").as_deref(), Some("2"));
    assert_eq!(value_of(app1, "CI_NODE_TOTAL").as_deref(), Some("4"));
    assert_eq!(
        value_of(app1, "CI_JOB_NAME").as_deref(),
        Some("deploy: [aws, app1]")
    );
    // The definition's name selects every instance.
    let selected = parse(MATRIX)
        .plan(&context("main"), &["deploy".to_owned()])
        .expect("plans");
    assert_eq!(selected.jobs().len(), 4);
}

#[test]
fn matrix_variables_are_visible_to_rules() {
    let yaml = format!(
        "{MATRIX}  rules:\n    - if: $PROVIDER == \"gcp\"\n      when: never\n    - when: on_success\n"
    );
    let plan = parse(&yaml).plan(&context("main"), &[]).expect("plans");
    assert_eq!(skipped(&plan), [("deploy: [gcp, data]", SkipReason::Rules)]);
}

#[test]
fn needs_with_parallel_matrix_name_only_those_instances() {
    let yaml = "build:\n  stage: build\n  script: x\n  parallel:\n    matrix:\n      - OS: [linux, mac]\n        \
                ARCH: [amd64, arm64]\n\
                test:\n  script: x\n  needs:\n    - job: build\n      parallel:\n        matrix:\n          \
                - OS: linux\n            ARCH: [amd64, arm64]\n\
                all: {script: x, needs: [build]}\n";
    let plan = parse(yaml).plan(&context("main"), &[]).expect("plans");
    let linux = ["build: [linux, amd64]", "build: [linux, arm64]"];
    assert_eq!(
        job(&plan, "test").needs(),
        Some(&linux.map(str::to_owned)[..])
    );
    assert_eq!(job(&plan, "test").dependencies(), linux);
    assert_eq!(job(&plan, "all").dependencies().len(), 4);
    let undefined = Pipeline::parse(
        fixture("webapp"),
        &yaml.replace("- OS: linux", "- OS: windows"),
    )
    .expect_err("no windows instance");
    assert_eq!(
        undefined.problems()[0].message(),
        "test job: undefined need: build: [windows, amd64]"
    );
}

#[test]
fn dependencies_with_needs_receive_only_needed_artifacts() {
    let pipeline = parse(
        "a: {stage: build, script: x}\nb: {stage: build, script: x}\n\
         job:\n  script: x\n  needs: [a, {job: b, artifacts: false}]\n  dependencies: [a, b]\n",
    );
    let plan = pipeline.plan(&context("main"), &[]).expect("plans");
    assert_eq!(job(&plan, "job").dependencies(), ["a"]);
}

#[test]
fn a_rule_setting_allow_failure_drops_the_exit_codes() {
    let pipeline = parse(
        "kept:\n  script: x\n  allow_failure: {exit_codes: [3]}\n  rules: [{when: on_success}]\n\
         decided:\n  script: x\n  allow_failure: {exit_codes: [3]}\n  rules: [{allow_failure: false}]\n",
    );
    let plan = pipeline.plan(&context("main"), &[]).expect("plans");
    assert_eq!(job(&plan, "kept").allow_failure_exit_codes(), [3]);
    assert!(!job(&plan, "decided").allow_failure());
    assert!(job(&plan, "decided").allow_failure_exit_codes().is_empty());
}

#[test]
fn inherited_dotenv_variables_rank_above_yaml_and_below_user_variables() {
    let plan = parse("test:\n  script: x\n  variables: {VERSION: yaml, MODE: yaml}\n")
        .plan(&context("main"), &[])
        .expect("plans");
    let mut ctx = context("main");
    ctx.variables.push(("MODE".into(), "user".into()));
    let inherited = [
        runner_pipeline::Variable::public("VERSION", "dotenv"),
        runner_pipeline::Variable::public("MODE", "dotenv"),
    ];
    let variables = plan.jobs()[0].variables_inheriting(&ctx, 1, &inherited);
    let value = |key: &str| {
        variables
            .iter()
            .find(|variable| variable.key == key)
            .map(|variable| variable.value.as_str())
    };
    assert_eq!(value("VERSION"), Some("dotenv"));
    assert_eq!(value("MODE"), Some("user"));
}

/// A context whose project directory is `dir`.
fn context_in(dir: &std::path::Path) -> LocalContext {
    LocalContext {
        project_dir: dir.to_owned(),
        ..context("main")
    }
}

#[test]
fn rules_exists_matches_globs_against_the_project_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src/deep")).expect("dirs");
    std::fs::write(dir.path().join("src/deep/main.rs"), "fn main() {}\n").expect("write");
    std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").expect("write");
    let yaml = "docker:\n  script: x\n  rules: [{exists: [Dockerfile]}]\n\
                rust:\n  script: x\n  rules: [{exists: ['**/*.rs']}]\n\
                top-rust:\n  script: x\n  rules: [{exists: ['*.rs']}]\n\
                node:\n  script: x\n  rules: [{exists: {paths: [package.json, '*.{js,ts}']}}]\n";
    let pipeline = Pipeline::parse(dir.path(), yaml).expect("parses");
    let plan = pipeline.plan(&context_in(dir.path()), &[]).expect("plans");
    assert_eq!(names(&plan), ["docker", "rust"]);
}

#[test]
fn cache_key_files_is_the_sha1_of_the_files_blob_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Gemfile.lock"), "GEM\n  specs:\n").expect("write");
    let yaml = "job:\n  script: x\n  cache:\n    - key: {files: [Gemfile.lock, missing.lock], prefix: gems}\n      paths: [vendor/]\n    \
                - key: {files: [nothing.lock]}\n      paths: [x/]\n";
    let pipeline = Pipeline::parse(dir.path(), yaml).expect("parses");
    let ctx = context_in(dir.path());
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let payload = plan.jobs()[0].to_job_payload(&ctx, 1, &HashMap::new());
    // GitLab: SHA-1 of the sorted blob ids joined with `-` (one file here).
    let blob = std::process::Command::new("git")
        .args(["hash-object", "Gemfile.lock"])
        .current_dir(dir.path())
        .output()
        .expect("git runs");
    let blob = String::from_utf8_lossy(&blob.stdout).trim().to_owned();
    let digest = std::process::Command::new("sh")
        .args(["-c", &format!("printf %s {blob} | sha1sum")])
        .output()
        .expect("sha1sum runs");
    let digest = String::from_utf8_lossy(&digest.stdout)[..40].to_owned();
    assert_eq!(payload["cache"][0]["key"], format!("gems-{digest}"));
    assert_eq!(payload["cache"][1]["key"], "default");
}
