//! Scraping the running binary's `/metrics` while it runs jobs (issue #8, M1–M3).

use std::time::Duration;

use runner_api::fake::{Endpoint, Fault};
use runner_e2e::{JobBuilder, RunnerProcess, Workspace, run_to_end};
use runner_metrics::test_util::{Dialect, Exposition, parse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{JOB_WAIT, final_record, start_runner};

/// GETs `path` from the runner's metrics server; the whole response, headers included.
pub(crate) async fn get(address: &str, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("metrics server reachable");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .expect("request sent");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("response read");
    String::from_utf8_lossy(&response).into_owned()
}

/// `GET /metrics`; returns the parsed exposition.
async fn scrape(address: &str) -> Exposition {
    let text = get(address, "/metrics").await;
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    parse(body, Dialect::Prometheus).unwrap_or_else(|error| panic!("{error}\n{body}"))
}

/// The address from the runner's `Metrics server listening` line, in the text log format
/// (`address=...`) or the JSON one (`"address": ...`).
pub(crate) async fn metrics_address(runner: &RunnerProcess) -> String {
    assert!(
        runner
            .wait_for_log("Metrics server listening", JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    let log = runner.log();
    let line = log
        .lines()
        .find(|line| line.contains("Metrics server listening"))
        .expect("the line");
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
        return value["address"].as_str().expect("address").to_owned();
    }
    let start = line.find("address").expect("address field") + "address".len();
    line[start..]
        .trim_start_matches("\x1b[0;m")
        .trim_start_matches('=')
        .split_whitespace()
        .next()
        .expect("an address")
        .to_owned()
}

fn sum(exposition: &Exposition, name: &str, subset: &[(&str, &str)]) -> f64 {
    exposition
        .samples(name, subset)
        .iter()
        .map(|sample| sample.value)
        .sum()
}

#[tokio::test]
async fn metrics_follow_requests_statuses_and_running_jobs() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let config = workspace.write_config(
        "concurrent = 2\ncheck_interval = 1\nlisten_address = \"127.0.0.1:0\"",
        &[""],
    );
    // One rate-limited answer first: it must show up as a 429 in the status counter.
    workspace.coordinator.inject_fault(
        Endpoint::RequestJob,
        1,
        Fault::status(429).header("Retry-After", "1"),
    );
    let gate = workspace.path().join("go");
    let started = workspace.path().join("started");
    let job = JobBuilder::script_only(&[
        &format!("touch {}", started.display()),
        &format!("while [ ! -e {} ]; do sleep 0.1; done", gate.display()),
    ])
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let address = metrics_address(&runner).await;

    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !started.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never started: {}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = scrape(&address).await;
    assert_eq!(sum(&during, "gitlab_runner_jobs_running_total", &[]), 1.0);
    assert_eq!(
        sum(&during, "gitlab_runner_jobs", &[("state", "running")]),
        1.0
    );
    assert_eq!(during.value("gitlab_runner_concurrent", &[]), 2.0);
    assert_eq!(sum(&during, "gitlab_runner_version_info", &[]), 1.0);
    assert!(
        sum(
            &during,
            "gitlab_runner_api_request_statuses_total",
            &[("endpoint", "request_job"), ("status", "429")]
        ) >= 1.0
    );
    assert!(
        sum(
            &during,
            "gitlab_runner_api_request_statuses_total",
            &[("endpoint", "request_job"), ("status", "201")]
        ) >= 1.0
    );
    // Seed M2 and upstream's types (metrics.md): jobs held is a gauge; the request
    // concurrency families exist for every runner.
    assert_eq!(during.family("gitlab_runner_jobs").kind, "gauge");
    assert_eq!(
        during.family("gitlab_runner_request_concurrency").kind,
        "gauge"
    );
    assert!(
        sum(&during, "gitlab_runner_request_concurrency", &[]) <= 1.0,
        "one request loop: at most one request in flight"
    );
    assert_eq!(
        sum(
            &during,
            "gitlab_runner_request_concurrency_exceeded_total",
            &[]
        ),
        0.0
    );
    assert_eq!(
        during.value("gitlab_runner_request_concurrency_hard_limit", &[]),
        1.0
    );
    assert!(during.value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(during.value("process_open_fds", &[]) > 0.0);
    assert!(during.value("process_start_time_seconds", &[]) > 1.6e9);

    std::fs::write(&gate, "").expect("release the job");
    final_record(&workspace, &runner, job_id).await;
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    loop {
        let after = scrape(&address).await;
        if sum(&after, "gitlab_runner_jobs_running_total", &[]) == 0.0 {
            assert!(
                sum(
                    &after,
                    "gitlab_runner_api_request_statuses_total",
                    &[("endpoint", "update_job")]
                ) >= 2.0
            );
            assert!(sum(&after, "gitlab_runner_job_duration_seconds_count", &[]) >= 1.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the running-jobs gauge never fell back to 0"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_invalid_listen_address_is_a_clear_start_up_error() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let config = workspace.write_config("concurrent = 1\nlisten_address = \"::1\"", &[""]);
    let (status, output) =
        run_to_end(workspace.path(), &["run", "-c", &config.to_string_lossy()]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("invalid listen address"), "{output}");
    assert!(output.contains("::1"), "{output}");
}

#[tokio::test]
async fn listen_address_flag_overrides_the_file_and_binds_loopback_by_name() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let config = workspace.write_config("concurrent = 1\nlisten_address = \"::1\"", &[""]);
    let runner = RunnerProcess::start(
        workspace.path(),
        &[
            "run",
            "-c",
            &config.to_string_lossy(),
            "--listen-address",
            "localhost:0",
        ],
    );
    let address = metrics_address(&runner).await;
    let exposition = scrape(&address).await;
    assert_eq!(exposition.value("gitlab_runner_concurrent", &[]), 1.0);
}
