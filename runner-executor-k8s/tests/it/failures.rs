//! Failures while preparing or running: K1 (poll timeout), K2 (API errors keep their cause),
//! and a pod evicted mid-job.

use std::time::Duration;

use runner_executor::{Cancellation, FailureReason, Variable};
use runner_executor_k8s::fake::{Fault, FaultAction, Scenario};

use crate::support::{Cluster, fast_settings, run};

#[tokio::test]
async fn pod_never_scheduled_times_out_with_the_seed_message() {
    let cluster = Cluster::start().await;
    cluster.fake.set_scenario(Scenario::NeverScheduled);
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["echo never"]).build(),
        Cancellation::default(),
    )
    .await;
    let failure = done.outcome.failure().expect("failed");
    assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
    assert_eq!(
        failure.trace_line(),
        "Job failed (system failure): timed out waiting for pod to start"
    );
    // poll_timeout / poll_interval = 10 extra polls after the first.
    let gets = cluster
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && !r.path.ends_with("/exec"))
        .count();
    assert_eq!(gets, 11);
    assert!(done.text.contains("status is Pending"), "{}", done.text);
    assert!(
        cluster.fake.pods().is_empty(),
        "the unscheduled pod is cleaned up"
    );
}

#[tokio::test]
async fn admission_webhook_error_on_pod_creation_keeps_its_cause() {
    let cluster = Cluster::start().await;
    let webhook = "Internal error occurred: failed calling webhook \"example.webhook.service\": failed to call webhook: Post \"https://webhook.svc:443/validate\": context deadline exceeded";
    cluster.fake.add_fault(Fault::status(
        "POST",
        "/pods",
        500,
        "InternalError",
        webhook,
    ));
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert_eq!(
        done.message(),
        format!(
            "Job failed (system failure): prepare environment: setting up build pod: {webhook}"
        )
    );
}

#[tokio::test]
async fn api_server_timeout_on_the_credentials_secret() {
    let cluster = Cluster::start().await;
    let timeout =
        "Timeout: request did not complete within requested timeout - context deadline exceeded";
    cluster
        .fake
        .add_fault(Fault::status("POST", "/secrets", 504, "Timeout", timeout));
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .variable(Variable::masked(
            "DOCKER_AUTH_CONFIG",
            r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#,
        ))
        .script(["true"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(
        done.message().starts_with(&format!(
            "Job failed (system failure): prepare environment: setting up credentials: {timeout}"
        )),
        "{}",
        done.message()
    );
    // kube's own 504 retry is off: exactly one POST reached the server.
    let posts = cluster
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/secrets"))
        .count();
    assert_eq!(posts, 1);
    assert!(
        cluster.fake.created_pods().is_empty(),
        "no pod without its pull secret"
    );
}

#[tokio::test]
async fn slow_pod_creation_hits_the_deadline() {
    let cluster = Cluster::start().await;
    cluster
        .fake
        .add_fault(Fault::delay("POST", "/pods", Duration::from_secs(30)));
    let settings = runner_executor_k8s::Settings {
        request_timeout: Duration::from_millis(200),
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert_eq!(
        done.message(),
        format!(
            "Job failed (system failure): prepare environment: setting up build pod: context deadline exceeded"
        )
    );
}

#[tokio::test]
async fn etcd_error_while_waiting_for_the_pod() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault::status(
        "GET",
        "/pods/runner-",
        500,
        "",
        "etcdserver: request timed out",
    ));
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert_eq!(
        done.message(),
        format!(
            "Job failed (system failure): prepare environment: waiting for pod running: etcdserver: request timed out"
        )
    );
}

#[tokio::test]
async fn evicted_pod_fails_the_job_with_the_disruption_reason() {
    let cluster = Cluster::start().await;
    cluster.fake.set_scenario(Scenario::EvictOnExec);
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["sleep 30"]).build(),
        Cancellation::default(),
    )
    .await;
    let failure = done.outcome.failure().expect("failed");
    assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
    let pod_name = cluster.fake.created_pods()[0]
        .metadata
        .name
        .clone()
        .unwrap();
    let expected = format!(
        "pod \"default/{pod_name}\" is disrupted: reason \"EvictionByEvictionAPI\", message \"Eviction API: evicting\""
    );
    assert!(failure.message.contains(&expected), "{}", failure.message);
    assert!(
        cluster.fake.pods().is_empty(),
        "the evicted pod is still deleted"
    );
}

#[tokio::test]
async fn missing_image_is_a_configuration_error() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .with(|job| job.image = None)
        .script(["true"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    let failure = done.outcome.failure().expect("failed");
    assert!(
        failure
            .message
            .contains("check defaults error: no image specified and no default set in config"),
        "{}",
        failure.message
    );
    assert!(
        cluster.fake.requests().is_empty(),
        "nothing is sent for a configuration error"
    );
}

#[tokio::test]
async fn exec_refused_before_starting_is_retried() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault {
        times: Some(2),
        ..Fault::status(
            "GET",
            "/exec",
            500,
            "InternalError",
            "error dialing backend: dial tcp 10.0.0.7:10250: connect: connection refused",
        )
    });
    let settings = runner_executor_k8s::Settings {
        retry_backoff_max: Duration::from_millis(5),
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let done = run(
        &executor,
        cluster.job().script(["echo after-retries"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.text.lines().any(|l| l == "after-retries"));
    let execs = cluster
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/exec"))
        .count();
    assert_eq!(execs, 4 + 2, "four stages plus two refused attempts");
}

#[tokio::test]
async fn exec_that_keeps_failing_gives_up_after_retry_limit() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault {
        action: FaultAction::Drop,
        ..Fault::delay("GET", "/exec", Duration::ZERO)
    });
    let settings = runner_executor_k8s::Settings {
        retry_limit: 2,
        retry_backoff_max: Duration::from_millis(5),
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    let failure = done.outcome.failure().expect("failed");
    assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
    let execs = cluster
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/exec"))
        .count();
    assert_eq!(
        execs, 3,
        "first attempt plus retry_limit retries, then prepare_script fails: {}",
        failure.message
    );
    assert!(cluster.fake.pods().is_empty());
}

#[tokio::test]
async fn api_server_down_keeps_the_transport_cause() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    cluster.fake.stop();
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    let message = done.message();
    assert!(
        message.starts_with(
            "Job failed (system failure): prepare environment: setting up build pod: "
        ),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
    let cleanup = done
        .text
        .lines()
        .find(|l| l.starts_with("ERROR: Error cleaning up pod: "))
        .expect("cleanup error");
    assert!(
        cleanup.to_lowercase().contains("connection refused"),
        "{cleanup}"
    );
}
