//! The `run` service: concurrency, signals, reload and the one-process-per-file lock.

use std::time::Duration;

use nix::sys::signal::Signal;
use runner_e2e::{JobBuilder, Workspace};

use crate::{JOB_WAIT, final_record, start_runner, trace_text};

/// A job that announces itself by creating `<dir>/started-<n>`, then waits for `<dir>/go`.
fn gated_job(workspace: &Workspace, n: usize) -> serde_json::Value {
    let dir = workspace.path().display().to_string();
    JobBuilder::script_only(&[
        &format!("touch {dir}/started-{n}"),
        &format!("while [ ! -e {dir}/go ]; do sleep 0.1; done"),
        "echo released",
    ])
    .build()
}

fn started_count(workspace: &Workspace, jobs: usize) -> usize {
    (0..jobs)
        .filter(|n| workspace.path().join(format!("started-{n}")).exists())
        .count()
}

async fn wait_until(
    what: &str,
    runner: &runner_e2e::RunnerProcess,
    mut condition: impl FnMut() -> bool,
) {
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn concurrent_4_runs_four_jobs_at_once_and_no_more() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config(
        "concurrent = 4\ncheck_interval = 1",
        &["  request_concurrency = 2"],
    );
    let ids: Vec<u64> = (0..5)
        .map(|n| workspace.coordinator.enqueue_job(gated_job(&workspace, n)))
        .collect();
    let runner = start_runner(&workspace, &config);
    wait_until("four jobs running", &runner, || {
        started_count(&workspace, 5) == 4
    })
    .await;
    // The fifth cannot start while four hold every slot.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        started_count(&workspace, 5),
        4,
        "concurrent = 4 was exceeded"
    );
    std::fs::write(workspace.path().join("go"), "").expect("release the jobs");
    for id in ids {
        assert_eq!(
            final_record(&workspace, &runner, id)
                .await
                .final_state
                .as_deref(),
            Some("success")
        );
    }
}

#[tokio::test]
async fn sigquit_lets_the_running_job_finish_then_exits_0() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let id = workspace.coordinator.enqueue_job(gated_job(&workspace, 0));
    let mut runner = start_runner(&workspace, &config);
    wait_until("the job to start", &runner, || {
        started_count(&workspace, 1) == 1
    })
    .await;
    runner.signal(Signal::SIGQUIT);
    assert!(
        runner
            .wait_for_log("Starting graceful shutdown", JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    let queued_later = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo too-late"]).build());
    assert!(
        runner.wait(Duration::from_secs(1)).await.is_none(),
        "exited before its job finished"
    );
    std::fs::write(workspace.path().join("go"), "").expect("release the job");
    let record = final_record(&workspace, &runner, id).await;
    assert_eq!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&record)
    );
    let status = runner
        .wait(JOB_WAIT)
        .await
        .expect("the runner exits after its job");
    assert!(status.success(), "{}", runner.log());
    assert!(
        workspace
            .coordinator
            .job(queued_later)
            .is_some_and(|r| r.updates.is_empty()),
        "a job was taken after SIGQUIT"
    );
}

#[tokio::test]
async fn sigterm_aborts_the_running_job_reports_it_and_exits() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1\nshutdown_timeout = 30",
        &[""],
    );
    let id = workspace.coordinator.enqueue_job(gated_job(&workspace, 0));
    let mut runner = start_runner(&workspace, &config);
    wait_until("the job to start", &runner, || {
        started_count(&workspace, 1) == 1
    })
    .await;
    runner.signal(Signal::SIGTERM);
    let record = final_record(&workspace, &runner, id).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_interrupted"),
        "{}",
        trace_text(&record)
    );
    // cli.md §2.3: upstream's wording for a job aborted by SIGTERM.
    let trace = trace_text(&record);
    assert!(
        trace.contains("ERROR: Job failed: aborted: terminated"),
        "{trace}"
    );
    let status = runner.wait(JOB_WAIT).await.expect("the runner exits");
    assert!(status.success(), "{}", runner.log());
    assert!(
        runner.log().contains("Starting forceful shutdown"),
        "{}",
        runner.log()
    );
}

#[tokio::test]
async fn a_config_edit_during_a_job_is_applied_without_dropping_it() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let first = workspace.coordinator.enqueue_job(gated_job(&workspace, 0));
    let runner = start_runner(&workspace, &config);
    wait_until("the job to start", &runner, || {
        started_count(&workspace, 1) == 1
    })
    .await;
    // Raise concurrent while the first job runs: the second must start next to it.
    workspace.write_config(
        "concurrent = 2\ncheck_interval = 1",
        &["  environment = [\"RELOADED=yes\"]"],
    );
    let second = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo reloaded=$RELOADED"]).build());
    let record = final_record(&workspace, &runner, second).await;
    assert!(
        trace_text(&record).contains("reloaded=yes"),
        "{}",
        trace_text(&record)
    );
    std::fs::write(workspace.path().join("go"), "").expect("release the first job");
    let first_record = final_record(&workspace, &runner, first).await;
    assert_eq!(
        first_record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&first_record)
    );
}

#[tokio::test]
async fn a_second_runner_on_the_same_config_is_refused_with_the_holders_pid() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let first = start_runner(&workspace, &config);
    assert!(
        first.wait_for_log("Configuration loaded", JOB_WAIT).await,
        "{}",
        first.log()
    );
    let mut second = start_runner(&workspace, &config);
    let status = second
        .wait(JOB_WAIT)
        .await
        .expect("the second runner exits");
    assert!(!status.success());
    let log = second.log();
    assert!(log.contains(&config.display().to_string()), "{log}");
    assert!(log.contains("pid"), "{log}");
}

#[tokio::test]
async fn an_invalid_token_is_reported_as_forbidden_and_pauses_the_runner() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let text = std::fs::read_to_string(
        workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]),
    )
    .expect("config");
    let config = workspace.path().join("bad-token.toml");
    std::fs::write(
        &config,
        text.replace(
            &workspace.coordinator.runner_token(),
            "glrt-not-the-right-token",
        ),
    )
    .expect("config");
    let runner = start_runner(&workspace, &config);
    assert!(
        runner
            .wait_for_log("Checking for jobs... forbidden", JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    assert!(
        runner
            .wait_for_log(
                "is unhealthy and will be disabled for 1h0m0s seconds!",
                JOB_WAIT
            )
            .await,
        "{}",
        runner.log()
    );
    assert!(
        !runner.log().contains("glrt-not-the-right-token"),
        "the token leaked into the log"
    );
}
