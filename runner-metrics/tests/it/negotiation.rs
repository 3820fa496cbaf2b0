//! Content negotiation and methods of /metrics.

use std::io::Read;

use crate::common::{request, start};
use runner_metrics::test_util::{self as prom_text, Dialect};

#[tokio::test]
async fn openmetrics_is_served_when_asked_for() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    harness.metrics.workers().set_concurrent(3);
    harness
        .metrics
        .runner_seen(&runner_metrics::RunnerLabels::new("abcdefghi", "r", "s_1"));
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let response = request(addr, "GET", "/metrics", &[("Accept", accept)]).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = response.text();
    let parsed = prom_text::parse(&text, Dialect::OpenMetrics).unwrap();
    assert_eq!(parsed.family("gitlab_runner_errors").kind, "counter");
    assert_eq!(
        parsed.value("gitlab_runner_errors_total", &[("level", "error")]),
        0.0
    );
    assert_eq!(parsed.value("gitlab_runner_concurrent", &[]), 3.0);
    // The gauge keeps its name; the colliding jobs counter keeps its sample name.
    assert_eq!(parsed.family("gitlab_runner_jobs").kind, "gauge");
    assert_eq!(parsed.family("gitlab_runner_jobs_total").kind, "unknown");

    let plain = request(addr, "GET", "/metrics", &[("Accept", "text/plain")]).await;
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(prom_text::parse(&plain.text(), Dialect::OpenMetrics).is_err());
    prom_text::parse(&plain.text(), Dialect::Prometheus).unwrap();
    harness.server.shutdown().await;
}

#[tokio::test]
async fn gzip_when_the_scraper_accepts_it() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    let response = request(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(response.body.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    let parsed = prom_text::parse(&text, Dialect::Prometheus).unwrap();
    assert_eq!(parsed.value("gitlab_runner_concurrent", &[]), 0.0);

    let identity = request(addr, "GET", "/metrics", &[("Accept-Encoding", "identity")]).await;
    assert_eq!(identity.header("content-encoding"), None);
    harness.server.shutdown().await;
}

#[tokio::test]
async fn metrics_answers_405_to_other_methods() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    for method in ["POST", "PUT", "DELETE"] {
        let response = request(addr, method, "/metrics", &[("Content-Length", "0")]).await;
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.text(), "Method Not Allowed");
    }
    harness.server.shutdown().await;
}
