//! Loading files: `include: local` in its forms, YAML errors with file:line:column.

use runner_pipeline::{Error, Pipeline};

use crate::{fixture, webapp};

#[test]
fn include_local_string_and_mapping_forms_are_merged() {
    let pipeline = webapp();
    // `.node-job` comes from ci/templates.yml (mapping form), `.rules` from ci/rules.yml (string form):
    // both are used by jobs of the main file, so their presence shows the includes were merged.
    let names: Vec<&str> = pipeline.job_names().collect();
    assert_eq!(
        names,
        [
            "prepare",
            "build",
            "lint",
            "unit",
            "e2e",
            "deploy",
            "notify-failure"
        ]
    );
}

#[test]
fn include_string_form_with_a_single_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("jobs.yml"),
        "job:\n  script: echo from include\n  stage: build\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("main.yml"),
        "include: '/jobs.yml'\njob:\n  stage: test\n",
    )
    .expect("write");
    let pipeline = Pipeline::load_file(dir.path(), "main.yml").expect("loads");
    let plan = pipeline.plan(&crate::context("main"), &[]).expect("plans");
    // The including file wins key by key; the included file provides the script.
    assert_eq!(plan.jobs()[0].stage(), "test");
}

#[test]
fn remote_includes_warn_and_are_skipped() {
    let pipeline = crate::parse(
        "include:\n  - remote: https://example.com/ci.yml\n  - template: Auto-DevOps.gitlab-ci.yml\n  \
         - 'https://example.com/x.yml'\n  - {project: acme/ci, file: /a.yml, ref: main}\n  \
         - {local: ci/rules.yml, rules: [{if: $X}]}\n  - ci/*.yml\njob: {script: x}\n",
    );
    let found: Vec<String> = pipeline
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "`include:remote`: `https://example.com/ci.yml` is not supported when running locally, skipped",
            "`include:template`: `Auto-DevOps.gitlab-ci.yml` is not supported when running locally, skipped",
            "`include:remote`: `https://example.com/x.yml` is not supported when running locally, skipped",
            "`include:project`: `acme/ci` is not supported when running locally, skipped",
        ]
    );
}

#[test]
fn a_missing_include_is_a_read_error_naming_the_file() {
    let error = Pipeline::parse(
        fixture("webapp"),
        "include: ci/nope.yml\njob: {script: x}\n",
    )
    .expect_err("missing");
    assert!(
        matches!(&error, Error::Read { path, .. } if path.ends_with("ci/nope.yml")),
        "{error:?}"
    );
}

#[test]
fn a_file_included_twice_is_merged_once_and_counts_towards_the_limit() {
    let pipeline = crate::parse("include: [ci/rules.yml, ci/rules.yml]\njob: {script: x}\n");
    assert_eq!(pipeline.job_names().collect::<Vec<_>>(), ["job"]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yml"), ".a: {script: x}\n").expect("write");
    let many = |count: usize| {
        let list = vec!["a.yml"; count].join(", ");
        format!("include: [{list}]\njob: {{script: x}}\n")
    };
    assert!(Pipeline::parse(dir.path(), &many(150)).is_ok());
    let error = Pipeline::parse(dir.path(), &many(151)).expect_err("too many");
    assert!(
        error
            .to_string()
            .contains("Maximum of 150 nested includes are allowed!"),
        "{error}"
    );
}

#[test]
fn include_paths_expand_variables_and_wildcards_and_rules_decide() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in [
        ("configs/a.yml", "a: {script: x}\n"),
        ("configs/b.yml", "b: {script: x}\n"),
        ("configs/deep/c.yml", "c: {script: x}\n"),
        ("env/main.yml", "on-main: {script: x}\n"),
        ("env/feature.yml", "on-feature: {script: x}\n"),
        ("ruled.yml", "ruled: {script: x}\n"),
    ] {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }
    let load = |main: &str, branch: &str| -> Vec<String> {
        std::fs::write(dir.path().join(".gitlab-ci.yml"), main).expect("write");
        let mut ctx = crate::context(branch);
        ctx.project_dir = dir.path().to_owned();
        ctx.variables.push(("FLAVOUR".into(), "main".into()));
        let pipeline = Pipeline::load_for(&ctx, ".gitlab-ci.yml").expect("loads");
        pipeline.job_names().map(str::to_owned).collect()
    };
    assert_eq!(load("include: 'configs/*.yml'\n", "main"), ["a", "b"]);
    assert_eq!(load("include: 'configs/**.yml'\n", "main"), ["a", "b", "c"]);
    assert_eq!(load("include: 'configs/**/*.yml'\n", "main"), ["c"]);
    assert_eq!(load("include: env/$FLAVOUR.yml\n", "main"), ["on-main"]);
    let ruled = "include:\n  - local: ruled.yml\n    rules:\n      - if: $CI_COMMIT_BRANCH == \"main\"\n\
                 x: {script: x}\n";
    assert_eq!(load(ruled, "main"), ["ruled", "x"]);
    assert_eq!(load(ruled, "feature"), ["x"]);
    let exists = "include:\n  - local: ruled.yml\n    rules: [{exists: ['env/*.yml']}]\n  \
                  - local: configs/a.yml\n    rules: [{exists: [Dockerfile]}]\n";
    assert_eq!(load(exists, "main"), ["ruled"]);
}

#[test]
fn yaml_error_names_file_line_and_column() {
    let error = Pipeline::load(fixture("broken")).expect_err("invalid yaml");
    let (path, line, column) = error.yaml_location().expect("a yaml error");
    assert!(
        path.ends_with("broken/.gitlab-ci.yml"),
        "{}",
        path.display()
    );
    // The flow mapping opened on line 7 is never closed: the parser notices at the end.
    assert_eq!((line, column), (8, 1), "{error}");
    assert!(
        error
            .to_string()
            .ends_with("broken/.gitlab-ci.yml:8:1: invalid yaml"),
        "{error}"
    );
}

#[test]
fn yaml_error_in_an_included_file_names_that_file() {
    let error = Pipeline::load(fixture("broken-include")).expect_err("invalid yaml");
    let (path, line, column) = error.yaml_location().expect("a yaml error");
    assert!(
        path.ends_with("broken-include/ci/jobs.yml"),
        "{}",
        path.display()
    );
    assert_eq!((line, column), (5, 4), "{error}");
}

#[test]
fn a_spec_header_document_is_warned_about_and_skipped() {
    let pipeline =
        crate::parse("spec:\n  inputs:\n    stage: {default: test}\n---\njob: {script: x}\n");
    assert_eq!(pipeline.job_names().collect::<Vec<_>>(), ["job"]);
    assert_eq!(pipeline.warnings()[0].keyword(), "spec:inputs");
    let error = Pipeline::parse(fixture("webapp"), "a: {script: x}\n---\nb: {script: y}\n")
        .expect_err("two configs");
    assert!(
        error.to_string().contains("only a `spec` header document"),
        "{error}"
    );
}

#[test]
fn a_duplicate_key_is_a_warning_and_the_last_definition_wins() {
    let pipeline =
        crate::parse("job:\n  script: a\nother: {script: b}\njob:\n  script: c\n  stage: build\n");
    assert_eq!(pipeline.warnings()[0].keyword(), "job");
    assert!(
        pipeline.warnings()[0]
            .message()
            .starts_with("defined more than once in"),
        "{}",
        pipeline.warnings()[0]
    );
    let plan = pipeline
        .plan(&crate::context("main"), &["job".to_owned()])
        .expect("plans");
    assert_eq!(plan.jobs()[0].stage(), "build");
}
