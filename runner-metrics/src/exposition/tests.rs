//! The fast path against a reference: prometheus-client's encoder into a plain `String`, with
//! no size hint, then the line conversion. Any byte of difference fails. The conversion's one
//! optimised piece, the segmenter, is checked against the straightforward `str::find` version
//! in `segments.rs`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::*;
use crate::api::ApiMetrics;
use crate::job_tracker::JobTracker;
use crate::jobs::{JobMetrics, QueueInfo, RunningJob};
use crate::labels::{ApiEndpoint, FailureReason, JobState, RunnerLabels, WorkerFailure};
use crate::worker::WorkerMetrics;

/// What `encode` returns without its buffer tricks.
fn reference_encode(registry: &Registry, format: Format) -> String {
    let mut openmetrics = String::new();
    prometheus_client::encoding::text::encode(&mut openmetrics, registry).unwrap();
    match format {
        Format::OpenMetrics => rename_colliding_counters(openmetrics),
        Format::Prometheus => to_prometheus_text(&openmetrics),
    }
}

fn assert_same_as_reference(registry: &Registry) {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let fast = encode(registry, format).unwrap();
        let expected = reference_encode(registry, format);
        assert!(
            fast == expected,
            "{format:?} differs from the reference\n--- fast\n{fast}\n--- reference\n{expected}"
        );
    }
}

/// Every family of the crate except the `/proc` collector, whose values change between two
/// encodings, filled with awkward label values.
fn runner_registry() -> (Registry, Vec<RunningJob>) {
    let mut registry = Registry::default();
    let workers = WorkerMetrics::register(&mut registry);
    let api = ApiMetrics::register(&mut registry);
    let jobs = JobMetrics::register(&mut registry, Arc::new(JobTracker::default()));
    let runners = [
        RunnerLabels::new("tok000001", "runner-1", "s_000000000001"),
        RunnerLabels::new("q\"uo\\te", "multi\nline", ""),
        RunnerLabels::new("λ#x", "# HELP fake", "s_\"#\n#"),
    ];
    let mut running = Vec::new();
    for (i, runner) in runners.iter().enumerate() {
        workers.runner_seen(runner);
        jobs.runner_seen(runner);
        workers.set_limit(runner, 4);
        workers.worker_processing_failed(runner, WorkerFailure::JobFailure);
        api.set_request_concurrency_limits(runner, 2, 1.5, 0.25);
        api.set_request_concurrency(runner, 1);
        api.request_concurrency_exceeded(runner);
        for (status, millis) in [(201, 30), (429, 1200), (599, 90_000), (42, 7)] {
            let duration = Duration::from_millis(millis);
            let method = &http::Method::POST;
            api.api_request(runner, ApiEndpoint::RequestJob, method, status, duration);
        }
        api.api_request_attempt("/api/v4/jobs/12/trace", &http::Method::PATCH);
        let queue = QueueInfo {
            time_in_queue: Duration::from_millis(1500),
            project_jobs_running: format!("{i}\"x\""),
            queue_size: 3,
            queue_depth: 1,
            acceptable_duration_exceeded: true,
        };
        jobs.job_received(runner, &queue);
        let job = jobs.job_started(runner, "https://gitlab.example.com/p/-/jobs/1");
        job.observe_stage("step_\"script\"", Duration::from_secs(3));
        job.finish(Some(FailureReason::ALL[i]), Duration::from_secs(100));
        let job = jobs.job_started(runner, "https://gitlab.example.com/p/-/jobs/2");
        job.set_state(JobState::Running);
        job.set_stage("get_sources");
        running.push(job);
    }
    jobs.execution_mode(Default::default(), "");
    jobs.input_interpolated();
    jobs.input_interpolation_failed("parse");
    // Jobs still held show up in the `gitlab_runner_jobs` collector.
    (registry, running)
}

#[test]
fn runner_families_match_reference() {
    let (registry, _running) = runner_registry();
    assert_same_as_reference(&registry);
}

#[test]
fn units_info_prefixes_and_collisions_match_reference() {
    let mut registry = Registry::default();
    let seconds = Gauge::<i64>::default();
    seconds.set(3);
    registry.register_with_unit("wait", "Waiting", Unit::Seconds, seconds);
    registry.register("build", "Build", Info::new(vec![("v", "1\"2")]));
    let colliding = Counter::<u64>::default();
    colliding.inc();
    registry.register("jobs", "Jobs", colliding);
    registry.register("jobs", "Running", Gauge::<i64>::default());
    let sub = registry.sub_registry_with_prefix("sub");
    let family = Family::<Vec<(String, String)>, Counter>::default();
    family
        .get_or_create(&vec![("k".into(), "v\n".into())])
        .inc();
    sub.register("events", "Events\nwith # newline", family);
    assert_same_as_reference(&registry);
    assert_same_as_reference(&Registry::default());
}

#[test]
fn accept_header_negotiation() {
    assert_eq!(Format::negotiate(None), Format::Prometheus);
    assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
    assert_eq!(
        Format::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
        Format::Prometheus
    );
}
