//! The fast path against a reference: prometheus-client's encoder into a plain `String` and the
//! original, straightforward line conversion. Any byte of difference fails.

use std::collections::HashMap;
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

/// What `encode` returned before the fast path: kept verbatim as the oracle.
fn reference_encode(registry: &Registry, format: Format) -> String {
    let mut openmetrics = String::new();
    prometheus_client::encoding::text::encode(&mut openmetrics, registry).unwrap();
    match format {
        Format::OpenMetrics => reference::rename_colliding_counters(openmetrics),
        Format::Prometheus => reference::to_prometheus_text(&openmetrics),
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

/// The conversion as it was before the fast path, unchanged but for its scope.
mod reference {
    use super::HashMap;

    pub(super) fn rename_colliding_counters(openmetrics: String) -> String {
        let mut kinds: HashMap<&str, Vec<&str>> = HashMap::new();
        for segment in segments(&openmetrics) {
            let typed = match segment {
                Segment::Comment(line) => {
                    line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' '))
                }
                Segment::Samples(_) => None,
            };
            if let Some((name, kind)) = typed {
                kinds.entry(name).or_default().push(kind);
            }
        }
        let colliding: Vec<&str> = kinds
            .iter()
            .filter(|(_, kinds)| kinds.len() > 1 && kinds.contains(&"counter"))
            .map(|(name, _)| *name)
            .collect();
        if colliding.is_empty() {
            return openmetrics;
        }
        let mut out = String::with_capacity(openmetrics.len() + 64);
        let mut held_help: Option<(&str, &str)> = None;
        for segment in segments(&openmetrics) {
            let line = match segment {
                Segment::Samples(samples) => {
                    out.push_str(samples);
                    continue;
                }
                Segment::Comment(line) => line,
            };
            let help = line
                .strip_prefix("# HELP ")
                .and_then(|rest| rest.split_once(' '));
            if let Some((name, text)) = help.filter(|(name, _)| colliding.contains(name)) {
                held_help = Some((name, text));
                continue;
            }
            let typed = line.strip_prefix("# TYPE ").and_then(|r| r.split_once(' '));
            match (held_help.take(), typed) {
                (Some((_, text)), Some((name, "counter"))) if colliding.contains(&name) => {
                    push_line(&mut out, &["# HELP ", name, "_total ", text]);
                    push_line(&mut out, &["# TYPE ", name, "_total unknown"]);
                }
                (held, _) => {
                    if let Some((name, text)) = held {
                        push_line(&mut out, &["# HELP ", name, " ", text]);
                    }
                    push_line(&mut out, &[line]);
                }
            }
        }
        out
    }

    pub(super) fn to_prometheus_text(openmetrics: &str) -> String {
        let mut out = String::with_capacity(openmetrics.len());
        let mut pending_help: Option<(&str, &str)> = None;
        for segment in segments(openmetrics) {
            let line = match segment {
                Segment::Samples(samples) => {
                    flush_help(&mut out, pending_help.take(), None);
                    out.push_str(samples);
                    continue;
                }
                Segment::Comment(line) => line,
            };
            if let Some(rest) = line.strip_prefix("# HELP ") {
                flush_help(&mut out, pending_help.take(), None);
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                pending_help = Some((name, help));
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
                let (suffix, kind) = match kind {
                    "counter" => ("_total", "counter"),
                    "info" => ("_info", "gauge"),
                    "unknown" => ("", "untyped"),
                    other => ("", other),
                };
                let help = pending_help
                    .take()
                    .filter(|(help_name, _)| *help_name == name);
                flush_help(&mut out, help, Some(suffix));
                push_line(&mut out, &["# TYPE ", name, suffix, " ", kind]);
            } else if !(line.starts_with("# UNIT ") || line == "# EOF") {
                flush_help(&mut out, pending_help.take(), None);
                push_line(&mut out, &[line]);
            }
        }
        flush_help(&mut out, pending_help, None);
        out
    }

    enum Segment<'a> {
        Comment(&'a str),
        Samples(&'a str),
    }

    fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> {
        let mut position = 0;
        std::iter::from_fn(move || {
            let rest = text.get(position..).filter(|rest| !rest.is_empty())?;
            if rest.starts_with('#') {
                let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                position += end;
                Some(Segment::Comment(rest[..end].trim_end_matches('\n')))
            } else {
                let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
                position += end;
                Some(Segment::Samples(&rest[..end]))
            }
        })
    }

    fn flush_help(out: &mut String, help: Option<(&str, &str)>, suffix: Option<&str>) {
        if let Some((name, text)) = help {
            push_line(out, &["# HELP ", name, suffix.unwrap_or(""), " ", text]);
        }
    }

    fn push_line(out: &mut String, parts: &[&str]) {
        for part in parts {
            out.push_str(part);
        }
        out.push('\n');
    }
}
