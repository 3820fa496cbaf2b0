//! `run-single`: one runner from flags, `--max-builds`, `--wait-timeout`.

use std::time::Duration;

use runner_e2e::{JobBuilder, RunnerProcess, Workspace, run_to_end};

use crate::{JOB_WAIT, trace_text};

fn flags(workspace: &Workspace) -> Vec<String> {
    vec![
        "run-single".into(),
        "--url".into(),
        workspace.coordinator.url(),
        "--token".into(),
        workspace.coordinator.runner_token(),
        "--executor".into(),
        "shell".into(),
        "--builds-dir".into(),
        workspace.path().join("builds").display().to_string(),
    ]
}

#[tokio::test]
async fn max_builds_1_runs_one_job_then_exits_0() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let first = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo single-job"]).build());
    let mut args = flags(&workspace);
    args.extend(["--max-builds".into(), "1".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut runner = RunnerProcess::start(workspace.path(), &args);
    let status = runner
        .wait(JOB_WAIT)
        .await
        .expect("run-single exits after its build limit");
    assert!(status.success(), "{}", runner.log());
    let record = workspace.coordinator.job(first).expect("the job");
    assert_eq!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&record)
    );
    assert!(trace_text(&record).contains("single-job"));
    assert!(
        runner
            .log()
            .contains("This runner has processed its build limit, so now exiting"),
        "{}",
        runner.log()
    );
    assert!(
        !runner.log().contains(&workspace.coordinator.runner_token()),
        "the token leaked into the log"
    );
}

#[tokio::test]
async fn wait_timeout_exits_when_no_job_arrives() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let mut args = flags(&workspace);
    args.extend(["--wait-timeout".into(), "1".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, output) = run_to_end(workspace.path(), &args).await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains("This runner has not received a job in 1 seconds, so now exiting"),
        "{output}"
    );
}

#[tokio::test]
async fn a_missing_url_is_fatal() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let (status, output) = run_to_end(
        workspace.path(),
        &["run-single", "--token", "x", "--executor", "shell"],
    )
    .await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("Missing URL"), "{output}");
}
