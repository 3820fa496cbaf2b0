//! Whole jobs through the fake: output streams into the trace and the exit code is real.

use runner_executor::{Cancellation, FailureReason, Variable};

use crate::support::{Cluster, fast_settings, run};

#[tokio::test]
async fn successful_job_streams_output_and_leaves_nothing_behind() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .variable(Variable::new("GREETING", "hello-from-pod"))
        .script(["echo $GREETING", "echo to-stderr >&2"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text.lines().any(|l| l == "hello-from-pod"),
        "{}",
        done.text
    );
    assert!(done.text.lines().any(|l| l == "to-stderr"), "{}", done.text);
    assert!(
        done.text.contains("Using Kubernetes namespace: default"),
        "{}",
        done.text
    );
    assert!(
        done.text
            .contains("Using Kubernetes executor with image alpine:3.20 ..."),
        "{}",
        done.text
    );
    assert!(
        done.text
            .contains("Waiting for pod default/runner-abcd1234-project-7-concurrent-0-"),
        "{}",
        done.text
    );
    assert_eq!(cluster.fake.created_pods().len(), 1);
    assert!(cluster.fake.pods().is_empty(), "the pod was deleted");
    let deletes: Vec<_> = cluster
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert!(
        deletes[0]
            .body
            .contains("\"propagationPolicy\":\"Background\""),
        "{:?}",
        deletes[0]
    );
}

#[tokio::test]
async fn failing_script_reports_the_kubernetes_exit_wording_and_code() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .script(["echo before-failure", "exit 3", "echo never-printed"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    let failure = done.outcome.failure().expect("failed");
    assert_eq!(failure.message, "command terminated with exit code 3");
    assert_eq!(failure.exit_code, Some(3));
    assert_eq!(failure.reason, FailureReason::ScriptFailure);
    assert!(done.text.contains("before-failure"));
    assert!(!done.text.contains("never-printed"));
    assert!(cluster.fake.pods().is_empty());
}

#[tokio::test]
async fn masked_variables_reach_the_script_but_not_the_pod_spec() {
    let cluster = Cluster::start().await;
    let executor = cluster.executor(fast_settings()).await;
    let job = cluster
        .job()
        .variable(Variable::masked("TOP_SECRET", "hunter2-hunter2"))
        .variable(Variable::new("PLAIN", "visible"))
        .script(["test \"$TOP_SECRET\" = hunter2-hunter2", "echo $TOP_SECRET"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.text.contains("[MASKED]"));
    assert!(!done.text.contains("hunter2-hunter2"));
    let pod = &cluster.fake.created_pods()[0];
    let build = &pod.spec.as_ref().unwrap().containers[0];
    let env = build.env.as_ref().unwrap();
    assert!(
        env.iter()
            .any(|e| e.name == "PLAIN" && e.value.as_deref() == Some("visible"))
    );
    assert!(!env.iter().any(|e| e.name == "TOP_SECRET"));
}

#[tokio::test]
async fn a_v4_session_reports_its_status_too() {
    // v4 has no way to close stdin alone; the script ends with `exit`, so none is needed.
    let cluster = Cluster::start().await;
    cluster.fake.force_v4(true);
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["echo on-v4", "exit 4"]).build(),
        Cancellation::default(),
    )
    .await;
    let failure = done.outcome.failure().expect("exit 4 fails the job");
    assert_eq!(failure.exit_code, Some(4), "{}", done.text);
    assert!(done.text.lines().any(|l| l == "on-v4"), "{}", done.text);
    assert!(cluster.fake.pods().is_empty());
}

#[tokio::test]
async fn a_session_without_exit_status_is_never_success() {
    // The session ends (its connection lost) before the channel-3 status arrives.
    let cluster = Cluster::start().await;
    cluster.fake.drop_exec_status(true);
    let executor = cluster.executor(fast_settings()).await;
    let done = run(
        &executor,
        cluster.job().script(["true"]).build(),
        Cancellation::default(),
    )
    .await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(
        done.message()
            .contains("exec session ended without an exit status"),
        "{}",
        done.message()
    );
    assert!(cluster.fake.pods().is_empty());
}
