//! Nothing leaks: cancellation, timeout and a killed runner's leftovers; connection errors.

use std::time::Duration;

use runner_executor::{Backend, CancellationToken, FailureReason, TraceWriter};
use runner_executor_docker::{
    DockerExecutor, DockerSettings, Engine, Error, ServiceSettings, sweep_leftovers,
};

use crate::support::{BASH_IMAGE, job, leftovers, run, settings, short_token};

/// A service, so the job also has a network, a builds volume and a cache volume.
fn busy_settings() -> DockerSettings {
    DockerSettings {
        disable_cache: true,
        volumes: vec!["/cache".to_owned()],
        services: vec![ServiceSettings {
            name: BASH_IMAGE.to_owned(),
            alias: "svc".to_owned(),
            command: vec!["sleep".to_owned(), "600".to_owned()],
            ..ServiceSettings::default()
        }],
        // The service listens on nothing; these tests are about what is left behind.
        wait_for_services_timeout: None,
        ..settings()
    }
}

#[tokio::test]
#[ignore = "needs docker"]
async fn cancel_during_the_script_removes_everything() {
    let token = short_token();
    let executor = DockerExecutor::new(busy_settings());
    let cancel = CancellationToken::new();
    let spec = job(&token, &["echo started-sleeping", "sleep 600"]).build();
    let (outcome, trace) = run(&executor, spec, Some(("started-sleeping", cancel))).await;
    let failure = outcome.failure().expect("job is canceled");
    assert_eq!(failure.message, "canceled", "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0), "{trace}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn job_timeout_removes_everything() {
    let token = short_token();
    let executor = DockerExecutor::new(busy_settings());
    let spec = job(&token, &["sleep 600"])
        .timeout(Duration::from_secs(8))
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    let failure = outcome.failure().expect("job times out");
    assert_eq!(
        failure.reason,
        FailureReason::JobExecutionTimeout,
        "{trace}"
    );
    assert_eq!(leftovers(&token).await, (0, 0, 0), "{trace}");
}

#[tokio::test]
#[ignore = "needs docker"]
async fn sweep_removes_what_a_killed_runner_left() {
    let token = short_token();
    let executor = DockerExecutor::new(busy_settings());
    let spec = job(&token, &["true"]).build();
    let (sender, _receiver) = tokio::sync::mpsc::channel(1024);
    let mut trace = TraceWriter::builder(sender).build();
    let session = executor.prepare(&spec, &mut trace).await.expect("prepare");
    // A SIGKILL runs no destructor: forget the session and its cleanup guard.
    std::mem::forget(session);
    let (containers, networks, volumes) = leftovers(&token).await;
    assert!(
        containers >= 1 && networks == 1 && volumes >= 2,
        "{containers} {networks} {volumes}"
    );

    let engine = Engine::connect(&settings()).await.expect("engine");
    let report = sweep_leftovers(&engine, &token, None).await.expect("sweep");
    assert_eq!(report.containers, containers);
    assert_eq!(report.networks, 1);
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn dropped_job_future_is_cleaned_up_in_the_background() {
    let token = short_token();
    let executor = DockerExecutor::new(busy_settings());
    let spec = job(&token, &["true"]).build();
    let (sender, _receiver) = tokio::sync::mpsc::channel(1024);
    let mut trace = TraceWriter::builder(sender).build();
    let session = executor.prepare(&spec, &mut trace).await.expect("prepare");
    drop(session);
    executor.wait_for_background_cleanups().await;
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
async fn unreachable_daemon_is_retried_then_a_system_failure() {
    let token = short_token();
    let settings = DockerSettings {
        host: Some("unix:///nonexistent/docker.sock".to_owned()),
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let (outcome, trace) = run(&executor, job(&token, &["true"]).build(), None).await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
    assert!(
        failure.message.starts_with(
            "Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?"
        ),
        "{}",
        failure.message
    );
    assert_eq!(
        trace
            .matches("Preparation failed: Cannot connect to the Docker daemon")
            .count(),
        3,
        "{trace}"
    );
    assert_eq!(
        trace.matches("Will be retried in 0s ...").count(),
        3,
        "{trace}"
    );
    assert!(
        trace.contains("ERROR: Job failed (system failure): Cannot connect to the Docker daemon"),
        "{trace}"
    );
}

#[tokio::test]
async fn engine_errors_are_distinct() {
    let settings = DockerSettings {
        host: Some("unix:///nonexistent/docker.sock".to_owned()),
        ..settings()
    };
    let error = Engine::connect(&settings)
        .await
        .map(|_| ())
        .expect_err("no daemon");
    assert!(matches!(error, Error::Unreachable { .. }));
    assert!(error.is_unreachable());
}

#[tokio::test]
#[ignore = "needs docker"]
async fn container_start_failure_reads_prepare_environment() {
    let token = short_token();
    let settings = DockerSettings {
        devices: vec!["/dev/gitlab-runner-rs-missing".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let (outcome, trace) = run(&executor, job(&token, &["true"]).build(), None).await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(
        failure.reason,
        FailureReason::RunnerSystemFailure,
        "{trace}"
    );
    assert!(
        failure
            .message
            .starts_with("prepare environment: starting container runner-"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("Error response from daemon: "),
        "{}",
        failure.message
    );
    assert!(
        trace.contains("ERROR: Job failed (system failure): prepare environment: "),
        "{trace}"
    );
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}
