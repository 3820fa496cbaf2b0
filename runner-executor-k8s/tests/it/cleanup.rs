//! Cleanup (K3): failures are reported in the trace and never change the result; a pod that is
//! already gone is fine; cancellation still deletes the pod and the secret.

use std::time::Duration;

use runner_executor::{Cancellation, Variable};
use runner_executor_k8s::fake::Fault;
use tokio_util::sync::CancellationToken;

use crate::support::{Cluster, fast_settings, run};

const AUTH: &str = r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#;

#[tokio::test]
async fn failing_deletes_are_reported_in_upstream_words() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault::status(
        "DELETE",
        "/pods/",
        500,
        "",
        "etcdserver: request timed out",
    ));
    cluster.fake.add_fault(Fault::status(
        "DELETE",
        "/secrets/",
        500,
        "",
        "etcdserver: leader changed",
    ));
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .variable(Variable::masked("DOCKER_AUTH_CONFIG", AUTH))
        .script(["echo ok"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(
        done.outcome.is_success(),
        "cleanup errors never change the result: {}",
        done.text
    );
    assert!(
        done.text
            .lines()
            .any(|l| l == "ERROR: Error cleaning up pod: etcdserver: request timed out"),
        "{}",
        done.text
    );
    assert!(
        done.text
            .lines()
            .any(|l| l == "ERROR: Error cleaning up secrets: etcdserver: leader changed"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn a_pod_already_gone_is_not_an_error() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault::status(
        "DELETE",
        "/pods/",
        404,
        "NotFound",
        "pods \"x\" not found",
    ));
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["echo ok"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(!done.text.contains("Error cleaning up"), "{}", done.text);
}

#[tokio::test]
async fn a_hanging_delete_ends_at_the_cleanup_timeout() {
    let cluster = Cluster::start().await;
    cluster
        .fake
        .add_fault(Fault::delay("DELETE", "/pods/", Duration::from_secs(30)));
    let settings = runner_executor_k8s::Settings {
        cleanup_resources_timeout: Duration::from_millis(200),
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let done = run(
        &executor,
        cluster.job().script(["echo ok"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .lines()
            .any(|l| l == "ERROR: Error cleaning up pod: context deadline exceeded"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn cancellation_deletes_the_pod_and_the_secret() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    // A FIFO: the test's read blocks until the user script has really started in the "pod".
    let marker = cluster.dir.path().join("stage-started");
    let made = std::process::Command::new("mkfifo")
        .arg(&marker)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let job = cluster
        .job()
        .variable(Variable::masked("DOCKER_AUTH_CONFIG", AUTH))
        .script([
            format!("echo started > {}", marker.display()),
            "sleep 60".to_owned(),
        ])
        .build();
    let abort = CancellationToken::new();
    let trigger = {
        let abort = abort.clone();
        async move {
            let started = tokio::fs::read_to_string(&marker).await.expect("read fifo");
            assert_eq!(started, "started\n");
            abort.cancel();
        }
    };
    let (done, ()) = tokio::join!(
        run(&executor, job, Cancellation::abort_only(abort)),
        trigger
    );
    assert!(done.message().contains("canceled"), "{}", done.message());
    assert_eq!(cluster.fake.created_pods().len(), 1);
    assert_eq!(cluster.fake.created_secrets().len(), 1);
    assert!(cluster.fake.pods().is_empty(), "pod deleted");
    assert!(cluster.fake.secrets().is_empty(), "secret deleted");
}

#[tokio::test]
async fn namespace_per_job_creates_the_namespace_first_and_deletes_it_last() {
    let cluster = Cluster::start().await;
    let settings = runner_executor_k8s::Settings {
        namespace_per_job: true,
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job = cluster
        .job()
        .variable(Variable::masked("DOCKER_AUTH_CONFIG", AUTH))
        .script(["echo in-own-namespace"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text.contains("Using Kubernetes namespace: ci-job-42"),
        "{}",
        done.text
    );
    let requests = cluster.fake.requests();
    let position = |method: &str, path: &str| {
        requests
            .iter()
            .position(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("no {method} {path} in {requests:#?}"))
    };
    let created = position("POST", "/api/v1/namespaces");
    let secret = position("POST", "/api/v1/namespaces/ci-job-42/secrets");
    let pod = position("POST", "/api/v1/namespaces/ci-job-42/pods");
    let deleted = position("DELETE", "/api/v1/namespaces/ci-job-42");
    assert!(
        created < secret && secret < pod && pod < deleted,
        "{requests:#?}"
    );
    assert!(cluster.fake.namespaces().is_empty());
    assert!(cluster.fake.pods().is_empty());
}

#[tokio::test]
async fn a_failing_namespace_delete_is_reported_and_the_job_still_succeeds() {
    let cluster = Cluster::start().await;
    cluster.fake.add_fault(Fault::status(
        "DELETE",
        "/api/v1/namespaces/ci-job-42",
        500,
        "",
        "etcdserver: request timed out",
    ));
    let settings = runner_executor_k8s::Settings {
        namespace_per_job: true,
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .contains("Error tearing down namespace: etcdserver: request timed out"),
        "{}",
        done.text
    );
}
