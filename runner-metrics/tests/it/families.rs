//! The catalogue: every family of a Linux runner exists with its type, pre-initialised series,
//! configuration and concurrency gauges, version and process metrics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use runner_metrics::{
    ApiEndpoint, ErrorLevel, FailureReason, ProcessState, QueueInfo, RunnerLabels,
};

use crate::common::{scrape, start};

fn runner() -> RunnerLabels {
    RunnerLabels::new("abcdefghi", "docker-1", "s_0123456789ab")
}

#[tokio::test]
async fn configuration_concurrency_errors_and_version() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    let m = &harness.metrics;
    let r = runner();
    let other = RunnerLabels::new("zzzzzzzzz", "shell-2", "s_ffffffffffff");

    let scraped = scrape(addr).await;
    for level in ["panic", "fatal", "error", "warning"] {
        assert_eq!(
            scraped.value("gitlab_runner_errors_total", &[("level", level)]),
            0.0
        );
    }
    assert_eq!(
        scraped.value("gitlab_runner_process_state_info", &[("state", "starting")]),
        1.0
    );
    let version = scraped.samples("gitlab_runner_version_info", &[])[0].clone();
    assert_eq!(version.value, 1.0);
    for (key, value) in [
        ("name", "gitlab-runner"),
        ("version", "0.1.0"),
        ("revision", "1a2b3c4d"),
        ("branch", "main"),
    ] {
        assert_eq!(version.labels[key], value);
    }
    for key in ["go_version", "built_at", "os", "architecture"] {
        assert!(!version.labels[key].is_empty(), "{key}");
    }

    m.workers().set_concurrent(8);
    m.workers().set_limits([(&r, 2), (&other, 0)]);
    m.workers().error(ErrorLevel::Warning);
    m.workers().error(ErrorLevel::Warning);
    m.workers().config_loaded();
    m.api().set_request_concurrency(&r, 3);
    m.api().request_concurrency_exceeded(&r);
    m.api().set_request_concurrency_limits(&r, 4, 2.5, 2.5);
    m.set_process_state(ProcessState::Running);
    let scraped = scrape(addr).await;
    assert_eq!(scraped.value("gitlab_runner_concurrent", &[]), 8.0);
    assert_eq!(
        scraped.value(
            "gitlab_runner_limit",
            &[("runner", "abcdefghi"), ("runner_name", "docker-1")]
        ),
        2.0
    );
    assert_eq!(
        scraped.value("gitlab_runner_limit", &[("runner", "zzzzzzzzz")]),
        0.0
    );
    assert_eq!(
        scraped.value("gitlab_runner_errors_total", &[("level", "warning")]),
        2.0
    );
    assert_eq!(
        scraped.value("gitlab_runner_configuration_loaded_total", &[]),
        1.0
    );
    let id = [("runner", "abcdefghi"), ("system_id", "s_0123456789ab")];
    assert_eq!(scraped.value("gitlab_runner_request_concurrency", &id), 3.0);
    assert_eq!(
        scraped.value("gitlab_runner_request_concurrency_exceeded_total", &id),
        1.0
    );
    assert_eq!(
        scraped.value("gitlab_runner_request_concurrency_adaptive_limit", &id),
        2.5
    );
    assert_eq!(
        scraped
            .samples("gitlab_runner_process_state_info", &[])
            .len(),
        1
    );
    assert_eq!(
        scraped.value("gitlab_runner_process_state_info", &[("state", "running")]),
        1.0
    );

    m.workers().set_limits([(&other, 5)]);
    let scraped = scrape(addr).await;
    assert!(
        scraped
            .samples("gitlab_runner_limit", &[("runner", "abcdefghi")])
            .is_empty()
    );
    assert_eq!(
        scraped.value("gitlab_runner_limit", &[("runner", "zzzzzzzzz")]),
        5.0
    );
    harness.server.shutdown().await;
}

#[tokio::test]
async fn every_upstream_family_of_a_linux_runner_is_exported() {
    let harness = start().await;
    let r = runner();
    let m = &harness.metrics;
    // Labelled families appear once a series exists, as in upstream; touch each one.
    m.runner_seen(&r);
    m.workers().set_limit(&r, 1);
    m.jobs()
        .execution_mode(runner_metrics::ExecutionMode::Traditional, "");
    m.jobs().job_received(&r, &QueueInfo::default());
    m.jobs().input_interpolation_failed("parse");
    let job = m.jobs().job_started(&r, "u");
    job.observe_stage("get_sources", Duration::from_secs(2));
    job.finish(
        Some(FailureReason::RunnerSystemFailure),
        Duration::from_secs(1),
    );
    m.api().set_request_concurrency(&r, 0);
    m.api().request_concurrency_exceeded(&r);
    m.api().set_request_concurrency_limits(&r, 1, 0.0, 1.0);
    m.api().api_request(
        &r,
        ApiEndpoint::ResetToken,
        &Method::POST,
        201,
        Duration::ZERO,
    );
    m.api().api_request_attempt("/api/v4/jobs/77", &Method::PUT);
    let scraped = scrape(harness.server.local_addr()).await;
    assert_eq!(
        scraped.value(
            "gitlab_runner_api_request_retries_total",
            &[("path", "/api/v4/jobs/{id}"), ("method", "put")]
        ),
        1.0
    );
    assert_eq!(
        scraped.value(
            "gitlab_runner_job_execution_mode_total",
            &[("executor", "unknown")]
        ),
        1.0
    );
    let expected = [
        ("gitlab_runner_concurrent", "gauge"),
        ("gitlab_runner_limit", "gauge"),
        ("gitlab_runner_worker_slots_number", "gauge"),
        ("gitlab_runner_worker_slot_operations_total", "counter"),
        ("gitlab_runner_worker_feeds_total", "counter"),
        ("gitlab_runner_worker_feed_failures_total", "counter"),
        ("gitlab_runner_worker_processing_failures_total", "counter"),
        (
            "gitlab_runner_worker_health_check_failures_total",
            "counter",
        ),
        ("gitlab_runner_configuration_loaded_total", "counter"),
        ("gitlab_runner_configuration_loading_error_total", "counter"),
        ("gitlab_runner_configuration_saved_total", "counter"),
        ("gitlab_runner_configuration_saving_error_total", "counter"),
        ("gitlab_runner_jobs", "gauge"),
        ("gitlab_runner_jobs_running_total", "gauge"),
        ("gitlab_runner_jobs_total", "counter"),
        ("gitlab_runner_failed_jobs_total", "counter"),
        ("gitlab_runner_job_execution_mode_total", "counter"),
        ("gitlab_runner_job_duration_seconds", "histogram"),
        ("gitlab_runner_job_queue_duration_seconds", "histogram"),
        ("gitlab_runner_job_queue_size", "gauge"),
        ("gitlab_runner_job_queue_depth", "gauge"),
        (
            "gitlab_runner_acceptable_job_queuing_duration_exceeded_total",
            "counter",
        ),
        ("gitlab_runner_job_stage_duration_seconds", "histogram"),
        ("gitlab_runner_job_inputs_interpolations_total", "counter"),
        (
            "gitlab_runner_job_inputs_interpolation_failures_total",
            "counter",
        ),
        ("gitlab_runner_request_concurrency", "gauge"),
        (
            "gitlab_runner_request_concurrency_exceeded_total",
            "counter",
        ),
        ("gitlab_runner_request_concurrency_hard_limit", "gauge"),
        ("gitlab_runner_request_concurrency_adaptive_limit", "gauge"),
        ("gitlab_runner_request_concurrency_used_limit", "gauge"),
        ("gitlab_runner_api_request_statuses_total", "counter"),
        ("gitlab_runner_api_request_duration_seconds", "histogram"),
        ("gitlab_runner_api_request_retries_total", "counter"),
        ("gitlab_runner_process_state_info", "gauge"),
        ("gitlab_runner_errors_total", "counter"),
        ("gitlab_runner_version_info", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_virtual_memory_max_bytes", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ];
    for (name, kind) in expected {
        assert_eq!(scraped.family(name).kind, kind, "{name}");
        assert!(!scraped.family(name).help.is_empty(), "{name} has no HELP");
    }
    assert!(!scraped.families.keys().any(|name| name.starts_with("go_")));
    for failure_type in ["other", "no_free_executor", "job_failure"] {
        let labels = [("failure_type", failure_type), ("runner", "abcdefghi")];
        assert_eq!(
            scraped.value("gitlab_runner_worker_processing_failures_total", &labels),
            0.0
        );
    }
    harness.server.shutdown().await;
}

#[tokio::test]
async fn process_metrics_are_present_and_sane() {
    let harness = start().await;
    let scraped = scrape(harness.server.local_addr()).await;
    let resident = scraped.value("process_resident_memory_bytes", &[]);
    let virtual_memory = scraped.value("process_virtual_memory_bytes", &[]);
    let open_fds = scraped.value("process_open_fds", &[]);
    let max_fds = scraped.value("process_max_fds", &[]);
    assert!(resident > 0.0);
    assert!(virtual_memory >= resident);
    assert!(open_fds > 0.0 && max_fds >= open_fds);
    assert!(scraped.value("process_cpu_seconds_total", &[]) >= 0.0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start_time = scraped.value("process_start_time_seconds", &[]);
    // The test process started before this line and, on any sane machine, today.
    assert!(start_time <= now + 1.0, "{start_time} > {now}");
    assert!(
        now - start_time < 86_400.0,
        "{start_time} is not near {now}"
    );
    harness.server.shutdown().await;
}
