//! Whole jobs without git: results, after_script, masking, variables, hooks, limits, J5.

use std::time::Duration;

use runner_executor::{Step, Variable};

use crate::support::{job, run, workdir};

#[tokio::test]
async fn green_job_succeeds_with_sections_in_order() {
    let dir = workdir();
    let done = run(dir.path(), job(dir.path()).script(["echo hello"]).build()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("$ echo hello"), "{}", done.text);
    assert!(done.has_line("hello"));
    assert_eq!(done.text.lines().last(), Some("Job succeeded"));
    assert!(done.text.starts_with("Running with gitlab-runner-rs "));
    let order = [
        "Preparing the \"shell\" executor",
        "Using Shell (bash) executor...",
        "Preparing environment",
        "Getting source from Git repository",
        "Executing \"step_script\" stage of the job script",
        "Cleaning up project directory and file based variables",
    ];
    let mut position = 0;
    for header in order {
        let found = done.text[position..]
            .find(header)
            .unwrap_or_else(|| panic!("{header} missing: {}", done.text));
        position += found;
    }
    assert!(!done.text.contains("after_script"));
}

#[tokio::test]
async fn exit_3_is_a_script_failure_with_exit_code() {
    let dir = workdir();
    let done = run(
        dir.path(),
        job(dir.path())
            .script(["echo before", "exit 3", "echo after"])
            .build(),
    )
    .await;
    assert_eq!(done.reason(), "script_failure");
    assert_eq!(done.exit_code(), Some(3));
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: exit status 3")
    );
    assert!(!done.has_line("after"));
}

#[tokio::test]
async fn pipefail_and_errexit_apply() {
    let dir = workdir();
    let done = run(
        dir.path(),
        job(dir.path())
            .script(["false | true", "echo after"])
            .build(),
    )
    .await;
    assert_eq!(done.exit_code(), Some(1));
    assert!(!done.has_line("after"));
}

#[tokio::test]
async fn after_script_runs_after_failure_and_its_failure_is_ignored() {
    let dir = workdir();
    let spec = job(dir.path())
        .script(["export FOO=1", "echo BAR=2 >> $GITLAB_ENV", "exit 1"])
        .after_script([
            "echo \"status=$CI_JOB_STATUS foo=${FOO:-} bar=$BAR pwd=$PWD\"",
            "exit 7",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.reason(), "script_failure");
    assert_eq!(done.exit_code(), Some(1));
    assert!(done.has_line("Running after script..."), "{}", done.text);
    let status_line = done
        .text
        .lines()
        .find(|l| l.starts_with("status="))
        .expect("after_script output");
    assert!(
        status_line.starts_with("status=failed foo= bar=2 pwd="),
        "{status_line}"
    );
    assert!(
        status_line.ends_with("/builds/abcdefghi/0/group/project"),
        "{status_line}"
    );
    assert!(
        done.has_line(
            "WARNING: after_script failed, but job will continue unaffected: exit status 7"
        )
    );
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: exit status 1")
    );
}

#[tokio::test]
async fn after_script_failure_does_not_fail_a_green_job() {
    let dir = workdir();
    let spec = job(dir.path())
        .script(["true"])
        .after_script(["echo status=$CI_JOB_STATUS", "exit 7"])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("status=success"));
}

#[tokio::test]
async fn masked_values_and_tokens_never_reach_the_trace() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::masked("SECRET", "supersecret123"))
        .script([
            "echo $SECRET",
            "echo \"x${SECRET}y\"",
            "printf 'super'; sleep 0.3; printf 'secret123\\n'",
            "printf 'glpat-abcd'; sleep 0.3; printf 'efghijklmnop end\\n'",
            "echo https://x/?private_token=abc\\&b=1",
            "echo $CI_JOB_TOKEN",
            "exit 1",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(!done.text.contains("supersecret123"), "{}", done.text);
    assert!(!done.text.contains("abcdefghijklmnop"), "{}", done.text);
    assert!(!done.text.contains("jobtoken"), "{}", done.text);
    assert!(done.has_line("[MASKED]"));
    assert!(done.has_line("x[MASKED]y"));
    assert!(done.has_line("glpat-[MASKED] end"), "{}", done.text);
    assert!(done.has_line("https://x/?private_token=[MASKED]&b=1"));
}

#[tokio::test]
async fn job_timeout_is_job_execution_timeout_and_skips_after_script() {
    let dir = workdir();
    let spec = job(dir.path())
        .timeout(Duration::from_secs(3))
        .script(["sleep 600"])
        .after_script(["echo after-script-ran"])
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.reason(), "job_execution_timeout");
    assert!(done.text.contains(
        "WARNING: step_script could not run to completion because the timeout was exceeded."
    ));
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: execution took longer than 3s seconds")
    );
    assert!(!done.text.contains("after-script-ran"));
    assert!(!done.text.contains("Cleaning up project directory"));
}

#[tokio::test]
async fn script_timeout_still_runs_after_script() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::new("RUNNER_SCRIPT_TIMEOUT", "2s"))
        .script(["sleep 600"])
        .after_script(["echo status=$CI_JOB_STATUS"])
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.reason(), "job_execution_timeout");
    assert!(done.has_line("status=timedout"), "{}", done.text);
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: script timeout: context deadline exceeded")
    );
}

#[tokio::test]
async fn background_process_does_not_hang_the_job_and_is_killed() {
    let dir = workdir();
    let pid_file = dir.path().join("bg.pid");
    let spec = job(dir.path())
        .script([
            format!("sleep 1000 & echo $! > {}", pid_file.display()),
            "echo started".to_owned(),
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        dies_soon(pid).await,
        "background sleep {pid} survived the stage"
    );
}

/// Whether `pid` is gone (or a zombie) within 10 s. The kernel closes a killed process's pipes
/// slightly before it marks the process dead, so the check polls instead of looking once.
pub(crate) async fn dies_soon(pid: i32) -> bool {
    for _ in 0..1000 {
        if !is_alive(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// Alive and not a zombie waiting to be reaped.
fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
    }
}

#[tokio::test]
async fn runner_hooks_and_environment_reach_the_job() {
    let dir = workdir();
    let spec = job(dir.path())
        .runner(|r| {
            r.environment = vec![
                "FROM_CONFIG=cfg-value".to_owned(),
                "HTTPS_PROXY=http://proxy:3128".to_owned(),
            ];
            r.pre_build_script = Some("echo pre-$FROM_CONFIG".to_owned());
            r.post_build_script = Some("echo post".to_owned());
        })
        .script(["echo proxy=$HTTPS_PROXY"])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let lines: Vec<&str> = done.text.lines().collect();
    let pre = lines
        .iter()
        .position(|l| *l == "pre-cfg-value")
        .expect("pre_build_script output");
    let user = lines
        .iter()
        .position(|l| *l == "proxy=http://proxy:3128")
        .expect("environment");
    let post = lines
        .iter()
        .position(|l| *l == "post")
        .expect("post_build_script output");
    assert!(pre < user && user < post);
}

#[tokio::test]
async fn file_variable_holds_a_path_to_its_content() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::file("MY_FILE", "file-content"))
        .variable(Variable::new("DERIVED", "${MY_FILE}_x"))
        .script([
            "echo path=$MY_FILE",
            "cat $MY_FILE; echo",
            "echo derived=$DERIVED",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let project = dir.path().join("builds/abcdefghi/0/group/project");
    let file = format!("{}.tmp/MY_FILE", project.display());
    assert!(done.has_line(&format!("path={file}")), "{}", done.text);
    assert!(done.has_line("file-content"));
    assert!(done.has_line(&format!("derived={file}_x")));
    assert!(
        !std::path::Path::new(&file).exists(),
        "cleanup removes the file"
    );
}

#[tokio::test]
async fn predefined_variables_are_present() {
    let dir = workdir();
    let spec = job(dir.path())
        .variable(Variable::new("A", "$B"))
        .variable(Variable::new("B", "$C"))
        .variable(Variable::new("C", "c"))
        .script(["echo \"$CI_SERVER|$CI_PROJECT_DIR|$CI_BUILDS_DIR|$CI_RUNNER_SHORT_TOKEN|$CI_JOB_STATUS|$CI_SHARED_ENVIRONMENT|$CI_JOB_TIMEOUT|$A\""])
        .build();
    let done = run(dir.path(), spec).await;
    let builds = dir.path().join("builds");
    let expected = format!(
        "yes|{0}/abcdefghi/0/group/project|{0}|abcdefghi|running|true|7200|$C",
        builds.display()
    );
    assert!(done.has_line(&expected), "{}", done.text);
}

#[tokio::test]
async fn output_limit_truncates_and_the_job_still_succeeds() {
    let dir = workdir();
    let spec = job(dir.path())
        .runner(|r| r.output_limit_kib = 1)
        .script([
            "head -c 4096 /dev/zero | tr '\\0' 'a'; echo",
            "echo still-running > marker",
        ])
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success());
    assert!(done.text.contains("Job's log exceeded limit of 1024 bytes.\nJob execution will continue but no more output will be collected."));
    assert!(
        !done.text.contains("Job succeeded"),
        "output after the limit is dropped"
    );
    let marker = dir.path().join("builds/abcdefghi/0/group/project/marker");
    assert_eq!(std::fs::read_to_string(marker).unwrap(), "still-running\n");
}

#[tokio::test]
async fn missing_bash_is_a_system_failure_naming_the_stage() {
    let dir = workdir();
    let executor =
        runner_executor_shell::ShellExecutor::new(dir.path()).with_bash("/nonexistent/bash");
    let spec = job(dir.path()).script(["true"]).build();
    let done = crate::support::run_with(executor, spec, Default::default()).await;
    assert_eq!(done.reason(), "runner_system_failure");
    let last = done.text.lines().last().unwrap();
    assert!(
        last.starts_with(
            "ERROR: Job failed (system failure): prepare environment: failed to start process: "
        ),
        "{last}"
    );
    assert!(last.ends_with(
        "Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information"
    ));
    assert!(!done.text.contains("Getting source"));
}

#[tokio::test]
async fn steps_run_in_payload_order_and_first_failure_stops() {
    let dir = workdir();
    let spec = job(dir.path())
        .step(Step::new("script", ["echo one", "false"]))
        .step(Step::new("release", ["echo release-ran"]))
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.exit_code(), Some(1));
    assert!(!done.text.contains("release-ran"));
    assert!(!done.text.contains("step_release"));
}

#[tokio::test]
async fn failing_shell_profile_fails_prepare_environment_only() {
    let dir = workdir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".bash_logout"), "exit 1\n").unwrap();
    let wrapper = dir.path().join("bash-with-home");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nHOME={} exec bash \"$@\"\n", home.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let executor = runner_executor_shell::ShellExecutor::new(dir.path()).with_bash(&wrapper);
    let done = crate::support::run_with(
        executor,
        job(dir.path()).script(["echo step-ran"]).build(),
        Default::default(),
    )
    .await;
    assert_eq!(done.reason(), "script_failure");
    assert_eq!(
        done.text.lines().last(),
        Some(
            "ERROR: Job failed: prepare environment: exit status 1. Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information"
        )
    );
    assert!(!done.text.contains("Getting source"));
    assert!(!done.text.contains("Cleaning up project directory"));
}
