//! `exec shell`: `.gitlab-ci.yml` pipelines run locally through the local coordinator, in
//! temporary git repositories made by each test.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use runner_e2e::{RunnerProcess, runner_binary};

/// A temporary git repository with `files` committed on branch `main`.
fn repository(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
        std::fs::write(path, contents).expect("file");
    }
    for args in [
        &["init", "--quiet", "--initial-branch=main"][..],
        &["add", "--all"],
        &["commit", "--quiet", "--message", "initial"],
    ] {
        git(dir.path(), args);
    }
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// Runs `gitlab-runner-rs exec shell <args>` in `dir`; its status and its output, stdout
/// and stderr interleaved as on a terminal.
async fn exec(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    exec_with(dir, &[&["shell"], args].concat()).await
}

/// Runs `gitlab-runner-rs exec docker` in `dir` with the locally imported test images.
async fn exec_docker(dir: &Path) -> (ExitStatus, String) {
    let images = [
        "docker",
        "--docker-image",
        "gitlab-runner-rs-test/bash:latest",
        "--docker-helper-image",
        "gitlab-runner-rs-test/helper:latest",
        "--docker-pull-policy",
        "never",
    ];
    exec_with(dir, &images).await
}

/// Runs `gitlab-runner-rs exec <args>` in `dir`; its status and its output, stdout and
/// stderr interleaved as on a terminal.
async fn exec_with(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    let log = tempfile::NamedTempFile::new().expect("log file");
    let stdout = log.reopen().expect("log file");
    // One open file description for both, so their writes share the offset.
    let stderr = stdout.try_clone().expect("log file");
    let status = tokio::process::Command::new(runner_binary())
        .arg("exec")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .status()
        .await
        .expect("gitlab-runner-rs runs");
    let output = std::fs::read(log.path()).expect("log");
    (status, String::from_utf8_lossy(&output).into_owned())
}

/// The STATUS column of `job` in the summary table.
fn status_of(output: &str, job: &str) -> Option<String> {
    let table = &output[output.rfind("\nJOB ")?..];
    table.lines().find_map(|line| {
        let columns: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|column| !column.is_empty())
            .collect();
        (columns.first() == Some(&job)).then(|| columns.get(2).copied().unwrap_or("").to_owned())
    })
}

fn assert_status(output: &str, job: &str, expected: &str) {
    assert_eq!(
        status_of(output, job).as_deref(),
        Some(expected),
        "status of {job}:\n{output}"
    );
}

/// The example project's files, as they are in the workspace.
fn example_files() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/pipeline");
    [
        ".gitlab-ci.yml",
        ".gitignore",
        "README.md",
        "ci/templates.yml",
        "src/greet.sh",
    ]
    .iter()
    .map(|path| {
        let contents = std::fs::read_to_string(root.join(path)).expect("example file");
        (format!("examples/pipeline/{path}"), contents)
    })
    .collect()
}

/// The example inside a bigger repository, as in the workspace: the project is a subdirectory.
fn example_repository() -> tempfile::TempDir {
    let files = example_files();
    let mut all: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, contents)| (path.as_str(), contents.as_str()))
        .collect();
    all.push(("README.md", "the enclosing repository\n"));
    repository(&all)
}

#[tokio::test]
async fn example_pipeline_jobs_run_from_a_subdirectory_with_expected_statuses() {
    let repo = example_repository();
    let project = repo.path().join("examples/pipeline");
    let (status, output) = exec(&project, &["show-environment", "build", "lint"]).await;
    assert!(status.success(), "{output}");
    assert_status(&output, "show-environment", "passed");
    assert_status(&output, "build", "passed");
    assert_status(&output, "lint", "failed (allowed)");
    assert!(output.contains("pipeline local on main"), "{output}");
    // The hidden template of the included file, and the global variable expanded.
    assert!(output.contains("job build in stage build"), "{output}");
    assert!(output.contains("Hello from greeter"), "{output}");
    assert!(
        project.join(".gitlab-runner-rs/builds").is_dir(),
        "builds default to the project's .gitlab-runner-rs"
    );
}

#[tokio::test]
async fn example_pipeline_hands_the_artifact_to_test_and_keeps_the_cache() {
    let repo = example_repository();
    let project = repo.path().join("examples/pipeline");
    let builds = tempfile::tempdir().expect("builds dir");
    let builds_dir = builds.path().to_string_lossy().into_owned();
    let (status, output) = exec(&project, &["--builds-dir", &builds_dir]).await;
    assert!(status.success(), "{output}");
    for job in ["show-environment", "build", "test", "deploy"] {
        assert_status(&output, job, "passed");
    }
    assert_status(&output, "lint", "failed (allowed)");
    assert!(
        output.contains("the artifact of build says: Hello from greeter"),
        "{output}"
    );
    assert!(output.contains("announcing greeter"), "{output}");
    assert!(
        output.contains("builds recorded in the cache: 1"),
        "{output}"
    );

    // The cache lives in the builds directory and survives the run.
    let (status, output) = exec(&project, &["--builds-dir", &builds_dir, "build"]).await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains("builds recorded in the cache: 2"),
        "{output}"
    );
}

#[tokio::test]
async fn a_failure_skips_later_stages_but_not_on_failure_or_always_jobs() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        r#"
stages: [build, test]
broken:
  stage: build
  script: [echo broken-ran, exit 3]
sibling:
  stage: build
  script: echo sibling-ran
later:
  stage: test
  script: echo later-ran
rescue:
  stage: test
  when: on_failure
  script: echo rescue-ran
report:
  stage: test
  when: always
  script: echo report-ran
by-hand:
  stage: test
  when: manual
  script: echo by-hand-ran
"#,
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert_status(&output, "broken", "failed");
    assert_status(&output, "sibling", "passed");
    assert_status(&output, "later", "skipped");
    assert_status(&output, "rescue", "passed");
    assert_status(&output, "report", "passed");
    assert_status(&output, "by-hand", "manual");
    assert!(
        output.contains("ERROR: Job failed: exit status 3"),
        "{output}"
    );
    assert!(!output.contains("later-ran"), "{output}");
    assert!(!output.contains("by-hand-ran"), "{output}");
}

#[tokio::test]
async fn extends_reference_rules_and_local_include_shape_the_jobs() {
    let repo = repository(&[
        (
            ".gitlab-ci.yml",
            r#"
include:
  - local: ci/common.yml
variables:
  GLOBAL: global-value
chosen:
  extends: .base
  script:
    - !reference [.snippets, script]
    - echo "chosen sees $BASE_VAR, $GLOBAL and $RULE_VAR"
  rules:
    - if: $CHOICE == "yes" && $CI_PIPELINE_SOURCE == "local"
      variables:
        RULE_VAR: from-rule
    - when: never
not-chosen:
  script: echo not-chosen-ran
  rules:
    - if: $CHOICE != "yes"
"#,
        ),
        (
            "ci/common.yml",
            r#"
.base:
  variables:
    BASE_VAR: from-base
  before_script:
    - echo before-from-base
.snippets:
  script:
    - echo snippet-line
"#,
        ),
    ]);
    let (status, output) = exec(repo.path(), &["--env", "CHOICE=yes"]).await;
    assert!(status.success(), "{output}");
    assert_status(&output, "chosen", "passed");
    assert!(output.contains("\nbefore-from-base"), "{output}");
    assert!(output.contains("\nsnippet-line"), "{output}");
    assert!(
        output.contains("chosen sees from-base, global-value and from-rule"),
        "{output}"
    );
    assert!(status_of(&output, "not-chosen").is_none(), "{output}");
    assert!(
        output.contains("Not in this pipeline (rules): not-chosen"),
        "{output}"
    );

    let (status, output) = exec(repo.path(), &["--env", "CHOICE=no"]).await;
    assert!(status.success(), "{output}");
    assert_status(&output, "not-chosen", "passed");
    assert!(status_of(&output, "chosen").is_none(), "{output}");
}

#[tokio::test]
async fn uncommitted_changes_are_what_jobs_see() {
    let repo = repository(&[
        (".gitlab-ci.yml", "job:\n  script: cat note.txt\n"),
        ("note.txt", "committed-note\n"),
    ]);
    std::fs::write(repo.path().join("note.txt"), "edited-note\n").expect("edit");
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("\nedited-note"), "{output}");
}

#[tokio::test]
async fn unsupported_keyword_is_named_in_a_warning() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "job:\n  secrets:\n    TOKEN:\n      vault: prod/token@ci\n  script: echo fine\n",
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains("WARNING: job `job`: `secrets`: not supported"),
        "{output}"
    );
    let warning = output.find("WARNING: job `job`").expect("warning");
    let first_job = output.find("=== Job 1/1").expect("job header");
    assert!(warning < first_job, "warnings come first:\n{output}");
}

#[tokio::test]
async fn yaml_error_names_file_line_and_column() {
    let repo = repository(&[
        (".gitlab-ci.yml", "include:\n  - local: ci/jobs.yml\n"),
        (
            "ci/jobs.yml",
            "job:\n  script:\n    - echo one\n   - echo misindented\n",
        ),
    ]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    let location = format!(
        "{}:4:4: invalid yaml",
        repo.path()
            .canonicalize()
            .expect("path")
            .join("ci/jobs.yml")
            .display()
    );
    assert!(output.contains(&location), "{location} in:\n{output}");
    assert!(output.contains("invalid yaml"), "{output}");
}

#[tokio::test]
async fn an_invalid_pipeline_is_refused_with_gitlab_messages_and_runs_nothing() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "build:\n  stage: build\n  script: echo BUILD-RAN\n\
         test:\n  script: echo TEST-RAN\n  needs: [build, lint]\n\
         deploy:\n  stage: deploy\n  script: echo x\n  needs: [deploy]\n",
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    let config = repo
        .path()
        .canonicalize()
        .expect("path")
        .join(".gitlab-ci.yml");
    let expected = format!(
        "ERROR: {}:6: test job: undefined need: lint",
        config.display()
    );
    assert!(output.contains(&expected), "{expected} in:\n{output}");
    assert!(!output.contains("BUILD-RAN"), "no job runs:\n{output}");
    assert!(!output.contains("=== Job"), "no job runs:\n{output}");
}

#[tokio::test]
async fn a_need_that_rules_exclude_refuses_the_pipeline() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "build:\n  stage: build\n  script: echo BUILD-RAN\n  rules: [{if: $CI_COMMIT_TAG}]\n\
         test:\n  script: echo TEST-RAN\n  needs: [build]\n",
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output
            .contains(":7: 'test' job needs 'build' job, but 'build' is not in any previous stage"),
        "{output}"
    );
    assert!(!output.contains("TEST-RAN"), "no job runs:\n{output}");
}

#[tokio::test]
async fn matrix_and_parallel_jobs_run_per_instance_and_hand_over_their_artifacts() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        r#"build:
  stage: build
  script:
    - echo "$OS-$ARCH" > "out-$OS-$ARCH.txt"
    - echo "BUILT $CI_JOB_NAME node $CI_NODE_INDEX/$CI_NODE_TOTAL"
  parallel:
    matrix:
      - OS: [linux, mac]
        ARCH: amd64
  artifacts: {paths: [out-*.txt]}
test:
  script:
    - echo "GOT $(cat out-*.txt)"
  needs:
    - job: build
      parallel:
        matrix:
          - OS: mac
            ARCH: amd64
shard:
  script: echo "SHARD $CI_NODE_INDEX of $CI_NODE_TOTAL named $CI_JOB_NAME"
  parallel: 2
"#,
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains("BUILT build: [linux, amd64] node 1/2"),
        "{output}"
    );
    assert!(
        output.contains("BUILT build: [mac, amd64] node 2/2"),
        "{output}"
    );
    assert!(
        output.contains("GOT mac-amd64\n"),
        "only the needed instance's artifacts:\n{output}"
    );
    assert!(output.contains("SHARD 2 of 2 named shard 2/2"), "{output}");
    assert_status(&output, "build: [mac, amd64]", "passed");
    assert_status(&output, "test", "passed");
}

#[tokio::test]
async fn dotenv_report_variables_reach_the_jobs_that_depend_on_it() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        r#"build:
  stage: build
  script:
    - echo "VERSION=1.2.3" > build.env
    - echo "BUILD_URL = https://example.invalid/?a=b " >> build.env
    - echo archived > file.txt
  artifacts:
    paths: [file.txt]
    reports:
      dotenv: build.env
test:
  variables: {VERSION: from-yaml}
  script:
    - echo "GOT VERSION=$VERSION URL=$BUILD_URL FILE=$(cat file.txt)"
no-artifacts:
  needs: [{job: build, artifacts: false}]
  script: echo "NONE VERSION=${VERSION:-unset}"
"#,
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(!output.contains("unsupported archive format"), "{output}");
    assert!(
        output.contains("GOT VERSION=1.2.3 URL=https://example.invalid/?a=b FILE=archived"),
        "{output}"
    );
    assert!(output.contains("NONE VERSION=unset"), "{output}");
}

#[tokio::test]
async fn an_invalid_dotenv_report_fails_the_upload_like_gitlab() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "build:\n  script: printf '# comment\\nA=1\\n' > build.env\n  artifacts:\n    reports:\n      dotenv: build.env\n",
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("Invalid Format"), "{output}");
}

#[tokio::test]
async fn environment_variables_and_rules_allow_failure_over_exit_codes() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        r#"deploy:
  script:
    - echo "ENV $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_SLUG $CI_ENVIRONMENT_TIER $CI_ENVIRONMENT_ACTION"
  environment: {name: review/$CI_COMMIT_REF_NAME}
strict:
  script: exit 3
  allow_failure: {exit_codes: [3]}
  rules: [{allow_failure: false}]
lenient:
  script: exit 3
  allow_failure: {exit_codes: [3]}
"#,
    )]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("ENV review/main review-main-"), "{output}");
    assert!(output.contains(" development start"), "{output}");
    assert_status(&output, "strict", "failed");
    assert_status(&output, "lenient", "failed (allowed)");
}

#[tokio::test]
async fn include_paths_see_pipeline_variables_and_wildcards() {
    let repo = repository(&[
        (
            ".gitlab-ci.yml",
            "include:\n  - local: ci/$CI_COMMIT_REF_NAME.yml\n  - local: 'jobs/*.yml'\n    rules:\n      - if: $WITH_JOBS\n",
        ),
        (
            "ci/main.yml",
            "from-branch-file:\n  script: echo FROM-MAIN-FILE\n",
        ),
        ("jobs/extra.yml", "extra:\n  script: echo EXTRA-RAN\n"),
    ]);
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("FROM-MAIN-FILE"), "{output}");
    assert!(
        !output.contains("EXTRA-RAN"),
        "include:rules exclude it:\n{output}"
    );
    let (status, output) = exec(repo.path(), &["--env", "WITH_JOBS=1"]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("EXTRA-RAN"), "{output}");
}

#[tokio::test]
async fn rules_changes_and_exists_see_the_repository() {
    let repo = repository(&[
        (
            ".gitlab-ci.yml",
            "src-changed:\n  script: echo SRC-RAN\n  rules: [{changes: ['src/*']}]\n\
             docs-changed:\n  script: echo DOCS-RAN\n  rules: [{changes: ['docs/*']}]\n\
             has-docker:\n  script: echo DOCKER-RAN\n  rules: [{exists: ['**/Dockerfile']}]\n",
        ),
        ("src/a.txt", "one\n"),
        ("docs/a.md", "one\n"),
    ]);
    std::fs::write(repo.path().join("src/a.txt"), "two\n").expect("write");
    git(
        repo.path(),
        &["commit", "--quiet", "--all", "--message", "change src"],
    );
    let (status, output) = exec(repo.path(), &[]).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("SRC-RAN"), "{output}");
    assert!(!output.contains("DOCS-RAN"), "{output}");
    assert!(!output.contains("DOCKER-RAN"), "{output}");
}

#[tokio::test]
async fn masked_env_value_never_reaches_the_terminal() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "job:\n  script:\n    - echo \"token=$DEPLOY_TOKEN plain=$PLAIN_VALUE\"\n",
    )]);
    let secret = "s3cr3t-deploy-value-42";
    let token = format!("DEPLOY_TOKEN={secret}");
    let args = [
        "--env",
        &token,
        "--mask",
        "DEPLOY_TOKEN",
        "--env",
        "PLAIN_VALUE=visible-value",
    ];
    let (status, output) = exec(repo.path(), &args).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("plain=visible-value"), "{output}");
    assert!(output.contains("token=[MASKED]"), "{output}");
    assert!(!output.contains(secret), "{output}");
}

#[tokio::test]
async fn unknown_job_name_is_a_clear_error() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "build:\n  script: echo b\ntest:\n  script: echo t\n",
    )]);
    let (status, output) = exec(repo.path(), &["deploy"]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("unknown job(s): deploy"), "{output}");
    assert!(output.contains("build, test"), "{output}");
    assert!(!output.contains("=== Job"), "nothing ran:\n{output}");
}

#[tokio::test]
async fn ctrl_c_aborts_the_running_job_reports_it_and_skips_the_rest() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "slow:\n  script:\n    - echo slow-started\n    - sleep 600\nnext:\n  stage: deploy\n  script: echo next-ran\n",
    )]);
    let mut runner = RunnerProcess::start(repo.path(), &["exec", "shell"]);
    assert!(
        runner.wait_for_log("\nslow-started", crate::JOB_WAIT).await,
        "{}",
        runner.log()
    );
    runner.signal(nix::sys::signal::Signal::SIGINT);
    let status = runner.wait(crate::JOB_WAIT).await;
    let output = runner.log();
    assert_eq!(status.and_then(|status| status.code()), Some(1), "{output}");
    assert!(
        output.contains("Interrupted: aborting the running job"),
        "{output}"
    );
    assert_status(&output, "slow", "failed");
    assert_status(&output, "next", "skipped");
    assert!(!output.contains("next-ran"), "{output}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn exec_docker_runs_jobs_in_containers_on_the_snapshot() {
    let repo = repository(&[
        (
            ".gitlab-ci.yml",
            "stages: [build, test]\nfirst:\n  stage: build\n  script:\n    - cat note.txt\n    - test -f /.dockerenv && echo inside-a-container\nsecond:\n  stage: test\n  script: exit 4\n  allow_failure: true\n",
        ),
        ("note.txt", "committed-note\n"),
    ]);
    std::fs::write(repo.path().join("note.txt"), "edited-note\n").expect("edit");
    let (status, output) = exec_docker(repo.path()).await;
    assert!(status.success(), "{output}");
    assert!(output.contains("\nedited-note"), "{output}");
    assert!(output.contains("\ninside-a-container"), "{output}");
    assert_status(&output, "first", "passed");
    assert_status(&output, "second", "failed (allowed)");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn exec_docker_hands_artifacts_and_cache_between_containers() {
    let repo = repository(&[(
        ".gitlab-ci.yml",
        "stages: [build, test]\n\
         build:\n  stage: build\n  cache:\n    key: shared\n    paths: [.cache/]\n  script:\n    - mkdir -p out .cache\n    - echo made-in-container > out/result.txt\n    - chmod 750 out/result.txt\n    - echo cached >> .cache/runs\n  artifacts:\n    paths: [out/]\n\
         test:\n  stage: test\n  cache:\n    key: shared\n    paths: [.cache/]\n    policy: pull\n  script:\n    - cat out/result.txt\n    - stat -c mode=%a out/result.txt\n    - echo runs=$(wc -l < .cache/runs)\n",
    )]);
    let (status, text) = exec_docker(repo.path()).await;
    assert!(status.success(), "{text}");
    // The artifact crossed from one job's containers to the next, mode included (J6).
    assert!(text.contains("\nmade-in-container"), "{text}");
    assert!(text.contains("\nmode=750"), "{text}");
    // The cache archived in the first job's helper container was restored in the second.
    assert!(text.contains("\nruns=1"), "{text}");
    assert_status(&text, "build", "passed");
    assert_status(&text, "test", "passed");
}
