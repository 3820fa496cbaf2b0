//! /debug/jobs/list, /debug/process/state, /health/ready, the pprof index and 404s.

use runner_metrics::{JobLister, JobState, ListedJob, ProcessState, RunnerLabels};

use crate::common::{get, start};

#[tokio::test]
async fn jobs_list_shows_running_jobs_in_upstream_format() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    let empty = get(addr, "/debug/jobs/list").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.header("x-list-version"), Some("2"));
    assert!(
        empty
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(empty.text(), "");

    let runner = RunnerLabels::new("abcdefghi", "docker-1", "s_1");
    let job = harness
        .metrics
        .jobs()
        .job_started(&runner, "https://gitlab.example.com/g/p/-/jobs/42");
    job.set_stage("get_sources");
    job.set_executor_stage("docker_prepare");
    let listed = get(addr, "/debug/jobs/list").await.text();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1);
    let fields: Vec<(&str, &str)> = lines[0]
        .split(' ')
        .map(|field| field.split_once('=').unwrap())
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["url", "state", "stage", "executor_stage", "duration"]
    );
    assert_eq!(fields[0].1, "https://gitlab.example.com/g/p/-/jobs/42");
    assert_eq!(fields[1].1, "running");
    assert_eq!(fields[2].1, "get_sources");
    assert_eq!(fields[3].1, "docker_prepare");
    let duration = fields[4].1;
    assert!(
        ["ns", "µs", "ms", "s"]
            .iter()
            .any(|unit| duration.ends_with(unit)),
        "{duration} is not a Go duration"
    );
    drop(job);
    assert_eq!(get(addr, "/debug/jobs/list").await.text(), "");
    harness.server.shutdown().await;
}

struct FixedJobs;

impl JobLister for FixedJobs {
    fn list_jobs(&self) -> Vec<ListedJob> {
        vec![ListedJob {
            url: "https://x/-/jobs/1".into(),
            state: JobState::Pending,
            stage: String::new(),
            executor_stage: "created".into(),
            duration: std::time::Duration::from_secs(90),
        }]
    }
}

#[tokio::test]
async fn a_job_lister_of_the_binary_replaces_the_default() {
    use runner_metrics::{BuildInfo, ListenAddress, Metrics, MetricsServer, Registry, ServerState};
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
    let state = ServerState::new(registry, &metrics).with_job_lister(FixedJobs);
    let address = ListenAddress::parse("127.0.0.1:0").unwrap();
    let server = MetricsServer::start(&address, None, state, Default::default())
        .await
        .unwrap();
    let body = get(server.local_addr(), "/debug/jobs/list").await.text();
    assert_eq!(
        body,
        "url=https://x/-/jobs/1 state=pending stage= executor_stage=created duration=1m30s\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn process_state_and_readiness() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    assert_eq!(get(addr, "/debug/process/state").await.text(), "starting\n");
    let not_ready = get(addr, "/health/ready").await;
    assert_eq!(not_ready.status, 503);
    assert_eq!(not_ready.text(), "boot-verify pending\n");

    harness.metrics.set_ready(true);
    harness
        .metrics
        .set_process_state(ProcessState::GracefulShutdown);
    let ready = get(addr, "/health/ready").await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    assert_eq!(
        get(addr, "/debug/process/state").await.text(),
        "graceful-shutdown\n"
    );
    harness.server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_go_only_profiles_are_404() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    for path in [
        "/",
        "/nope",
        "/debug/pprof/heap",
        "/debug/pprof/goroutine",
        "/metrics/x",
    ] {
        let response = get(addr, path).await;
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.text(), "404 page not found\n");
    }
    let index = get(addr, "/debug/pprof/").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("href=\"profile?seconds=30\""));
    let bad = get(addr, "/debug/pprof/profile?seconds=0").await;
    assert_eq!(bad.status, 400);
    harness.server.shutdown().await;
}
