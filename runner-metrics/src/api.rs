//! Job-request concurrency and coordinator API families (spec 4.3).

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::labels::{ApiEndpoint, RunnerLabels, runner_id_labels};
use crate::rendered_labels::RenderedLabels;

/// Upstream's buckets of `gitlab_runner_api_request_duration_seconds`.
pub const API_REQUEST_DURATION_BUCKETS: [f64; 9] =
    [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Handles of the request-concurrency and API families; cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    // The request-concurrency families are keyed by `runner_id_labels`.
    in_flight: Family<RenderedLabels, Gauge>,
    exceeded: Family<RenderedLabels, Counter>,
    hard_limit: Family<RenderedLabels, Gauge>,
    adaptive_limit: Family<RenderedLabels, Gauge<f64, AtomicU64>>,
    used_limit: Family<RenderedLabels, Gauge<f64, AtomicU64>>,
    /// Keyed by `status_labels`.
    statuses: Family<RenderedLabels, Counter>,
    /// Keyed by `duration_labels`.
    durations: HistogramFamily<RenderedLabels>,
    /// Keyed by `path_labels`.
    attempts: Family<RenderedLabels, Counter>,
}

impl ApiMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            in_flight: Family::default(),
            exceeded: Family::default(),
            hard_limit: Family::default(),
            adaptive_limit: Family::default(),
            used_limit: Family::default(),
            statuses: Family::default(),
            durations: Family::new_with_constructor(api_duration_histogram),
            attempts: Family::default(),
        };
        let r = registry;
        r.register(
            "gitlab_runner_request_concurrency",
            "The current number of concurrent requests for a new job",
            metrics.in_flight.clone(),
        );
        r.register(
            "gitlab_runner_request_concurrency_exceeded",
            "Count of excess requests above the configured request_concurrency limit",
            metrics.exceeded.clone(),
        );
        r.register(
            "gitlab_runner_request_concurrency_hard_limit",
            "The configured request_concurrency of the runner",
            metrics.hard_limit.clone(),
        );
        r.register(
            "gitlab_runner_request_concurrency_adaptive_limit",
            "The adaptive limit of concurrent job requests",
            metrics.adaptive_limit.clone(),
        );
        r.register(
            "gitlab_runner_request_concurrency_used_limit",
            "The limit of concurrent job requests applied at the last attempt",
            metrics.used_limit.clone(),
        );
        r.register(
            "gitlab_runner_api_request_statuses",
            "The total number of api requests, partitioned by runner, endpoint and status",
            metrics.statuses.clone(),
        );
        r.register(
            "gitlab_runner_api_request_duration_seconds",
            "Latency histogram of API requests made by GitLab Runner",
            metrics.durations.clone(),
        );
        r.register(
            "gitlab_runner_api_request_retries",
            "Attempts (the first one included) of requests through the rate-limit and retry layer",
            metrics.attempts.clone(),
        );
        metrics
    }

    /// Records a completed coordinator call: its status in
    /// `gitlab_runner_api_request_statuses_total` and its latency in
    /// `gitlab_runner_api_request_duration_seconds`. Transport errors are not counted.
    pub fn api_request(
        &self,
        runner: &RunnerLabels,
        endpoint: ApiEndpoint,
        method: &http::Method,
        status: u16,
        duration: Duration,
    ) {
        let method = lowercase_method(method);
        let mut digits = [0; 5];
        self.statuses
            .get_or_create(&status_labels(
                runner,
                endpoint,
                decimal(status, &mut digits),
                &method,
            ))
            .inc();
        self.durations
            .get_or_create(&duration_labels(
                runner,
                endpoint,
                status_class(status),
                &method,
            ))
            .observe(duration.as_secs_f64());
    }

    /// Counts one attempt of a request through the retry layer; digit-only path segments
    /// become `{id}` so job ids do not create series.
    pub fn api_request_attempt(&self, path: &str, method: &http::Method) {
        self.attempts
            .get_or_create(&path_labels(
                &normalize_path(path),
                &lowercase_method(method),
            ))
            .inc();
    }

    /// Sets the number of job requests in flight for the runner.
    pub fn set_request_concurrency(&self, runner: &RunnerLabels, in_flight: i64) {
        self.in_flight
            .get_or_create(&runner_id_labels(runner))
            .set(in_flight);
    }

    /// Counts a request skipped because `request_concurrency` requests were in flight.
    pub fn request_concurrency_exceeded(&self, runner: &RunnerLabels) {
        self.request_concurrency_exceeded_by(runner, 1);
    }

    /// Adds `skipped` requests to the runner's exceeded count; with 0 it only makes sure
    /// the series exists.
    pub fn request_concurrency_exceeded_by(&self, runner: &RunnerLabels, skipped: u64) {
        self.exceeded
            .get_or_create(&runner_id_labels(runner))
            .inc_by(skipped);
    }

    /// Sets the configured, adaptive and applied request-concurrency limits of the runner.
    pub fn set_request_concurrency_limits(
        &self,
        runner: &RunnerLabels,
        hard_limit: i64,
        adaptive_limit: f64,
        used_limit: f64,
    ) {
        let labels = runner_id_labels(runner);
        self.hard_limit.get_or_create(&labels).set(hard_limit);
        self.adaptive_limit
            .get_or_create(&labels)
            .set(adaptive_limit);
        self.used_limit.get_or_create(&labels).set(used_limit);
    }
}

fn api_duration_histogram() -> Histogram {
    Histogram::new(API_REQUEST_DURATION_BUCKETS)
}

/// `2xx`-style class of a status code; `unknown` outside 100..=599.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "unknown",
    }
}

fn normalize_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The method as upstream labels it: lower case. The common methods need no allocation.
fn lowercase_method(method: &http::Method) -> Cow<'static, str> {
    Cow::Borrowed(match method.as_str() {
        "GET" => "get",
        "POST" => "post",
        "PUT" => "put",
        "PATCH" => "patch",
        "DELETE" => "delete",
        "HEAD" => "head",
        other => return Cow::Owned(other.to_ascii_lowercase()),
    })
}

/// `status` in decimal, written into `digits` so recording a request allocates no string.
fn decimal(status: u16, digits: &mut [u8; 5]) -> &str {
    let mut start = digits.len();
    let mut rest = status;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    std::str::from_utf8(&digits[start..]).unwrap_or_default()
}

/// Labels of `gitlab_runner_api_request_statuses_total`.
fn status_labels(
    runner: &RunnerLabels,
    endpoint: ApiEndpoint,
    status: &str,
    method: &str,
) -> RenderedLabels {
    RenderedLabels::new(&[
        ("runner", &runner.runner),
        ("system_id", &runner.system_id),
        ("endpoint", endpoint.as_str()),
        ("status", status),
        ("method", method),
    ])
}

/// Labels of `gitlab_runner_api_request_duration_seconds`.
fn duration_labels(
    runner: &RunnerLabels,
    endpoint: ApiEndpoint,
    status_class: &str,
    method: &str,
) -> RenderedLabels {
    RenderedLabels::new(&[
        ("runner", &runner.runner),
        ("system_id", &runner.system_id),
        ("endpoint", endpoint.as_str()),
        ("status_class", status_class),
        ("method", method),
    ])
}

/// Labels of `gitlab_runner_api_request_retries_total`.
fn path_labels(path: &str, method: &str) -> RenderedLabels {
    RenderedLabels::new(&[("path", path), ("method", method)])
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;

    use super::*;
    use crate::rendered_labels::testing::{AWKWARD, exposition};

    /// The label sets as they were derived before they were rendered: the reference.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct StatusLabels {
        runner: String,
        system_id: String,
        endpoint: &'static str,
        status: String,
        method: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct DurationLabels {
        runner: String,
        system_id: String,
        endpoint: &'static str,
        status_class: &'static str,
        method: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct PathLabels {
        path: String,
        method: String,
    }

    #[test]
    fn rendered_label_sets_match_the_derived_ones() {
        for (i, value) in AWKWARD.iter().enumerate() {
            let runner = RunnerLabels::new(*value, "name", AWKWARD[(i + 2) % AWKWARD.len()]);
            let method = AWKWARD[(i + 5) % AWKWARD.len()];
            assert_eq!(
                exposition(status_labels(
                    &runner,
                    ApiEndpoint::UpdateJob,
                    "429",
                    method
                )),
                exposition(StatusLabels {
                    runner: runner.runner.clone(),
                    system_id: runner.system_id.clone(),
                    endpoint: "update_job",
                    status: "429".into(),
                    method: method.into(),
                })
            );
            assert_eq!(
                exposition(duration_labels(
                    &runner,
                    ApiEndpoint::Discovery,
                    "4xx",
                    method
                )),
                exposition(DurationLabels {
                    runner: runner.runner.clone(),
                    system_id: runner.system_id.clone(),
                    endpoint: "discovery",
                    status_class: "4xx",
                    method: method.into(),
                })
            );
            assert_eq!(
                exposition(path_labels(value, method)),
                exposition(PathLabels {
                    path: (*value).into(),
                    method: method.into(),
                })
            );
        }
    }

    #[test]
    fn digit_segments_become_id() {
        assert_eq!(
            normalize_path("/api/v4/jobs/123/trace"),
            "/api/v4/jobs/{id}/trace"
        );
        assert_eq!(
            normalize_path("/api/v4/jobs/request"),
            "/api/v4/jobs/request"
        );
        assert_eq!(normalize_path("/a/1b/22/"), "/a/1b/{id}/");
    }

    #[test]
    fn methods_and_statuses_as_labelled() {
        assert_eq!(lowercase_method(&http::Method::PATCH), "patch");
        let custom = http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(lowercase_method(&custom), "purge");
        let mut digits = [0; 5];
        for status in [0, 7, 42, 200, 429, 9999, u16::MAX] {
            assert_eq!(decimal(status, &mut digits), status.to_string());
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(0), "unknown");
        assert_eq!(status_class(600), "unknown");
    }
}
