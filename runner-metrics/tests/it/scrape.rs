//! Values of the families after the binary records events, read back through /metrics.

use std::time::Duration;

use http::Method;
use runner_metrics::{ApiEndpoint, FailureReason, JobState, QueueInfo, RunnerLabels};

use crate::common::{scrape, start};

fn runner() -> RunnerLabels {
    RunnerLabels::new("abcdefghi", "docker-1", "s_0123456789ab")
}

#[tokio::test]
async fn api_status_counters_follow_recorded_requests_including_429() {
    let harness = start().await;
    let api = harness.metrics.api();
    let r = runner();
    let ms = Duration::from_millis(20);
    for _ in 0..3 {
        api.api_request(&r, ApiEndpoint::RequestJob, &Method::POST, 201, ms);
    }
    for _ in 0..2 {
        api.api_request(&r, ApiEndpoint::RequestJob, &Method::POST, 429, ms);
    }
    api.api_request(
        &r,
        ApiEndpoint::UpdateJob,
        &Method::PUT,
        200,
        Duration::from_secs(3),
    );

    let addr = harness.server.local_addr();
    let scraped = scrape(addr).await;
    let statuses = "gitlab_runner_api_request_statuses_total";
    let base = [("runner", "abcdefghi"), ("system_id", "s_0123456789ab")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut labels = base.to_vec();
        labels.extend_from_slice(extra);
        labels
    };
    let request_job = |status| {
        with(&[
            ("endpoint", "request_job"),
            ("status", status),
            ("method", "post"),
        ])
    };
    assert_eq!(scraped.value(statuses, &request_job("201")), 3.0);
    assert_eq!(scraped.value(statuses, &request_job("429")), 2.0);
    assert_eq!(
        scraped.value(
            statuses,
            &with(&[("endpoint", "update_job"), ("method", "put")])
        ),
        1.0
    );
    let family = scraped.family(statuses);
    assert_eq!(family.kind, "counter");
    let sample = &family.samples[0];
    let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["endpoint", "method", "runner", "status", "system_id"]
    );

    let durations = "gitlab_runner_api_request_duration_seconds_count";
    assert_eq!(scraped.value(durations, &[("status_class", "4xx")]), 2.0);
    assert_eq!(
        scraped.value(
            durations,
            &[("status_class", "2xx"), ("endpoint", "request_job")]
        ),
        3.0
    );
    let buckets: Vec<String> = scraped
        .samples(
            "gitlab_runner_api_request_duration_seconds_bucket",
            &[("status_class", "4xx")],
        )
        .iter()
        .map(|s| s.labels["le"].clone())
        .collect();
    assert_eq!(
        buckets,
        [
            "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "+Inf"
        ]
    );

    api.api_request(&r, ApiEndpoint::RequestJob, &Method::POST, 429, ms);
    let scraped = scrape(addr).await;
    assert_eq!(scraped.value(statuses, &request_job("429")), 3.0);
    harness.server.shutdown().await;
}

#[tokio::test]
async fn running_job_gauges_rise_and_fall() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    let r = runner();
    harness.metrics.runner_seen(&r);
    let scraped = scrape(addr).await;
    assert_eq!(
        scraped.value(
            "gitlab_runner_jobs_running_total",
            &[("runner", "abcdefghi")]
        ),
        0.0
    );
    assert_eq!(
        scraped.value(
            "gitlab_runner_jobs",
            &[
                ("state", "idle"),
                ("stage", "idle"),
                ("executor_stage", "idle")
            ]
        ),
        0.0
    );
    assert_eq!(
        scraped.value("gitlab_runner_jobs_total", &[("runner_name", "docker-1")]),
        0.0
    );

    let jobs = harness.metrics.jobs();
    jobs.job_received(
        &r,
        &QueueInfo {
            time_in_queue: Duration::from_secs(4),
            project_jobs_running: "0".into(),
            queue_size: 7,
            queue_depth: 2,
            acceptable_duration_exceeded: true,
        },
    );
    let first = jobs.job_started(&r, "https://gitlab.example.com/g/p/-/jobs/1");
    let second = jobs.job_started(&r, "https://gitlab.example.com/g/p/-/jobs/2");
    first.set_stage("step_script");
    first.set_executor_stage("docker_run");
    second.set_stage("step_script");
    second.set_executor_stage("docker_run");
    let scraped = scrape(addr).await;
    assert_eq!(
        scraped.value(
            "gitlab_runner_jobs_running_total",
            &[("runner", "abcdefghi")]
        ),
        2.0
    );
    let running = [
        ("state", "running"),
        ("stage", "step_script"),
        ("executor_stage", "docker_run"),
    ];
    assert_eq!(scraped.value("gitlab_runner_jobs", &running), 2.0);
    assert_eq!(
        scraped.value("gitlab_runner_jobs_total", &[("runner", "abcdefghi")]),
        2.0
    );
    assert_eq!(scraped.value("gitlab_runner_job_queue_size", &[]), 7.0);
    assert_eq!(
        scraped.value(
            "gitlab_runner_job_queue_duration_seconds_count",
            &[("project_jobs_running", "0")]
        ),
        1.0
    );
    assert_eq!(
        scraped.value(
            "gitlab_runner_acceptable_job_queuing_duration_exceeded_total",
            &[]
        ),
        1.0
    );

    second.set_state(JobState::Failed);
    let scraped = scrape(addr).await;
    assert_eq!(scraped.value("gitlab_runner_jobs_running_total", &[]), 1.0);
    assert_eq!(
        scraped.value("gitlab_runner_jobs", &[("state", "failed")]),
        1.0
    );

    second.finish(Some(FailureReason::ScriptFailure), Duration::from_secs(45));
    first.finish(None, Duration::from_secs(700));
    let scraped = scrape(addr).await;
    assert_eq!(scraped.value("gitlab_runner_jobs_running_total", &[]), 0.0);
    assert_eq!(
        scraped.samples("gitlab_runner_jobs", &[]).len(),
        1,
        "only the idle series is left"
    );
    assert_eq!(
        scraped.value(
            "gitlab_runner_failed_jobs_total",
            &[
                ("failure_reason", "script_failure"),
                ("mode", "traditional")
            ]
        ),
        1.0
    );
    let duration = "gitlab_runner_job_duration_seconds";
    assert_eq!(
        scraped.value(&format!("{duration}_count"), &[("runner", "abcdefghi")]),
        2.0
    );
    assert_eq!(scraped.value(&format!("{duration}_sum"), &[]), 745.0);
    assert_eq!(
        scraped.value(&format!("{duration}_bucket"), &[("le", "60.0")]),
        1.0
    );
    assert_eq!(
        scraped.value(&format!("{duration}_bucket"), &[("le", "1800.0")]),
        2.0
    );
    let les: Vec<String> = scraped
        .samples(&format!("{duration}_bucket"), &[])
        .iter()
        .map(|s| s.labels["le"].clone())
        .collect();
    assert_eq!(
        les,
        [
            "30.0", "60.0", "300.0", "600.0", "1800.0", "3600.0", "7200.0", "10800.0", "18000.0",
            "36000.0", "+Inf"
        ]
    );
    harness.server.shutdown().await;
}

#[tokio::test]
async fn dropping_an_unfinished_job_removes_it_from_the_gauges() {
    let harness = start().await;
    let job = harness.metrics.jobs().job_started(&runner(), "u");
    assert_eq!(
        scrape(harness.server.local_addr())
            .await
            .value("gitlab_runner_jobs_running_total", &[]),
        1.0
    );
    drop(job);
    let scraped = scrape(harness.server.local_addr()).await;
    assert_eq!(scraped.value("gitlab_runner_jobs_running_total", &[]), 0.0);
    assert!(
        scraped
            .samples("gitlab_runner_job_duration_seconds_count", &[])
            .is_empty()
    );
    harness.server.shutdown().await;
}
