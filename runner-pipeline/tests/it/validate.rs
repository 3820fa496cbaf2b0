//! Validation GitLab does before any job runs: each invalid configuration is refused with
//! GitLab's message and, where the YAML has one, the line of the keyword.

use runner_pipeline::{Error, Pipeline};

use crate::{context, fixture, parse};

/// The problems of `yaml` as `line: message` (line 0 when there is none), from loading or,
/// when loading succeeds, from planning on `main`.
fn problems(yaml: &str) -> Vec<String> {
    let error = match Pipeline::parse(fixture("webapp"), yaml) {
        Ok(pipeline) => pipeline
            .plan(&context("main"), &[])
            .expect_err("the plan should be refused"),
        Err(error) => error,
    };
    assert!(
        matches!(error, Error::Validation { .. }),
        "not a validation error: {error:?}"
    );
    error
        .problems()
        .iter()
        .map(|problem| format!("{}: {}", problem.line().unwrap_or(0), problem.message()))
        .collect()
}

/// `yaml` is refused with exactly `expected` (`line: message`).
fn check(yaml: &str, expected: &[&str]) {
    assert_eq!(problems(yaml), expected, "for:\n{yaml}");
}

#[test]
fn unknown_needs_and_dependencies_are_undefined() {
    check(
        "build: {stage: build, script: x}\ntest:\n  script: x\n  needs: [build, unknown_job]\n",
        &["4: test job: undefined need: unknown_job"],
    );
    check(
        "build: {stage: build, script: x}\ntest:\n  script: x\n  dependencies:\n    - nope\n",
        &["5: test job: undefined dependency: nope"],
    );
}

#[test]
fn needs_and_dependencies_on_later_stages_are_refused() {
    check(
        "build:\n  stage: build\n  script: x\n  needs: [test]\ntest: {script: x}\n",
        &["4: build job: need test is not defined in current or prior stages"],
    );
    check(
        "build:\n  stage: build\n  script: x\n  dependencies: [test]\ntest: {script: x}\n",
        &["4: build job: dependency test is not defined in current or prior stages"],
    );
}

#[test]
fn a_job_needing_itself_or_a_cycle_is_circular() {
    check(
        "test:\n  script: x\n  needs: [test]\n",
        &["3: The pipeline has circular dependencies."],
    );
    check(
        "a: {script: x, needs: [c]}\nb: {script: x, needs: [a]}\nc: {script: x, needs: [b]}\n",
        &["1: The pipeline has circular dependencies."],
    );
}

#[test]
fn a_need_excluded_by_rules_refuses_the_pipeline_unless_optional() {
    let yaml = "build:\n  stage: build\n  script: x\n  rules: [{if: $CI_COMMIT_TAG}]\n\
                test:\n  script: x\n  needs: [build]\n";
    check(
        yaml,
        &["7: 'test' job needs 'build' job, but 'build' is not in any previous stage"],
    );
    let optional = yaml.replace("needs: [build]", "needs: [{job: build, optional: true}]");
    let plan = parse(&optional)
        .plan(&context("main"), &[])
        .expect("an optional need may be missing");
    assert_eq!(plan.jobs().len(), 1);
}

#[test]
fn dependencies_must_be_part_of_needs() {
    check(
        "build: {stage: build, script: x}\nlint: {stage: build, script: x}\n\
         test:\n  script: x\n  needs: [build]\n  dependencies: [build, lint]\n",
        &["6: jobs:test dependencies the lint should be part of needs"],
    );
}

#[test]
fn needs_of_the_wrong_type_are_refused() {
    check(
        "build: {stage: build, script: x}\ntest:\n  script: x\n  needs: build\n",
        &["4: jobs:test:needs config can only be a Hash or an Array"],
    );
    check(
        "test:\n  script: x\n  needs: [1]\n",
        &["3: jobs:test:needs:need has an unsupported type"],
    );
    check(
        "test:\n  script: x\n  dependencies: build\n",
        &["3: jobs:test dependencies should be an array of strings"],
    );
}

#[test]
fn stages_and_cache_paths_must_be_lists() {
    check(
        "stages: build\nbuild: {script: x}\n",
        &["1: stages config should be an array of strings"],
    );
    check(
        "stages: [true, test]\nbuild: {script: x}\n",
        &["1: stages config should be an array of strings"],
    );
    check(
        "build:\n  script: x\n  cache:\n    paths: vendor/\n",
        &["4: jobs:build:cache:paths config should be an array of strings"],
    );
    check(
        "cache:\n  key: k\n  paths: vendor/\nbuild: {script: x}\n",
        &["3: cache:paths config should be an array of strings"],
    );
}

#[test]
fn rules_must_be_a_non_empty_list() {
    check(
        "build:\n  script: x\n  rules: []\n",
        &["3: jobs:build:rules config can't be blank"],
    );
    check(
        "build:\n  script: x\n  rules: {if: $A}\n",
        &["3: jobs:build rules should be an array containing hashes and arrays of hashes"],
    );
}

#[test]
fn braced_variables_in_rules_if_are_invalid_syntax() {
    let found =
        problems("build:\n  script: x\n  rules:\n    - if: ${CI_COMMIT_BRANCH} == \"main\"\n");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("3: jobs:build:rules:rule if invalid expression syntax"),
        "{found:?}"
    );
    let found = problems("workflow:\n  rules:\n    - if: '${A}'\nbuild: {script: x}\n");
    assert!(
        found[0].starts_with("2: workflow:rules:rule if invalid expression syntax"),
        "{found:?}"
    );
}

#[test]
fn cache_key_files_needs_one_or_two_files() {
    check(
        "build:\n  script: x\n  cache:\n    key:\n      files: []\n",
        &["5: jobs:build:cache:key:files config requires at least 1 item"],
    );
    check(
        "build:\n  script: x\n  cache:\n    key:\n      files: [a, b, c]\n",
        &["5: jobs:build:cache:key:files config has too many items (maximum is 2)"],
    );
    check(
        "build:\n  script: x\n  cache:\n    key:\n      prefix: p\n",
        &["4: jobs:build:cache:key config missing required keys: files"],
    );
}

#[test]
fn problems_in_included_files_name_that_file_and_line() {
    let error = Pipeline::load(fixture("invalid-include")).expect_err("lint is undefined");
    let problem = &error.problems()[0];
    assert_eq!(problem.message(), "test job: undefined need: lint");
    assert!(
        problem
            .file()
            .is_some_and(|file| file.ends_with("ci/jobs.yml")),
        "{problem}"
    );
    assert_eq!(problem.line(), Some(6));
    assert!(
        error
            .to_string()
            .ends_with("ci/jobs.yml:6: test job: undefined need: lint")
    );
}

#[test]
fn environment_on_stop_must_name_a_stop_job_of_the_same_environment() {
    let deploy = "deploy:\n  script: x\n  environment:\n    name: review/$CI_COMMIT_REF_SLUG\n    on_stop: stop\n";
    check(deploy, &["5: deploy job: on_stop job stop is not defined"]);
    check(
        &format!("{deploy}stop: {{script: x}}\n"),
        &["5: deploy job: on_stop job stop does not have environment defined"],
    );
    check(
        &format!("{deploy}stop: {{script: x, environment: {{name: other, action: stop}}}}\n"),
        &["5: deploy job: on_stop job stop have different environment name"],
    );
    check(
        &format!(
            "{deploy}stop: {{script: x, environment: {{name: review/$CI_COMMIT_REF_SLUG}}}}\n"
        ),
        &["5: deploy job: on_stop job stop needs to have action stop defined"],
    );
    let valid = format!(
        "{deploy}stop: {{script: x, when: manual, environment: {{name: review/$CI_COMMIT_REF_SLUG, action: stop}}}}\n"
    );
    assert!(Pipeline::parse(fixture("webapp"), &valid).is_ok());
}
