//! Scrape latency: encoding the registry with 50 runners and 10,000 finished jobs recorded,
//! in both text formats. Target: under 1 ms per scrape.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runner_metrics::{
    ApiEndpoint, BuildInfo, FailureReason, Format, Metrics, QueueInfo, Registry, RunnerLabels,
};

fn populated_registry() -> (Registry, Metrics, Vec<runner_metrics::RunningJob>) {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
    let runners: Vec<RunnerLabels> = (0..50)
        .map(|i| {
            RunnerLabels::new(
                format!("tok{i:06}"),
                format!("runner-{i}"),
                format!("s_{i:012}"),
            )
        })
        .collect();
    for runner in &runners {
        metrics.runner_seen(runner);
        metrics.workers().set_limit(runner, 4);
        metrics
            .api()
            .set_request_concurrency_limits(runner, 1, 1.0, 1.0);
    }
    for job in 0..10_000_u64 {
        let runner = &runners[(job % 50) as usize];
        let post = &http::Method::POST;
        let put = &http::Method::PUT;
        let patch = &http::Method::PATCH;
        let millis = Duration::from_millis(job % 900);
        metrics
            .api()
            .api_request(runner, ApiEndpoint::RequestJob, post, 201, millis);
        if job % 10 == 0 {
            metrics
                .api()
                .api_request(runner, ApiEndpoint::RequestJob, post, 429, millis);
        }
        metrics
            .api()
            .api_request(runner, ApiEndpoint::PatchTrace, patch, 202, millis);
        metrics
            .api()
            .api_request(runner, ApiEndpoint::UpdateJob, put, 200, millis);
        metrics.jobs().job_received(runner, &QueueInfo::default());
        let running = metrics
            .jobs()
            .job_started(runner, format!("https://gitlab.example.com/p/-/jobs/{job}"));
        let failure = (job % 7 == 0).then_some(FailureReason::ALL[(job % 9) as usize]);
        running.finish(failure, Duration::from_secs(job % 4000));
    }
    // A realistic number of jobs still running at scrape time.
    let running = runners
        .iter()
        .map(|runner| {
            metrics
                .jobs()
                .job_started(runner, "https://gitlab.example.com/p/-/jobs/x")
        })
        .collect();
    (registry, metrics, running)
}

/// User plus system CPU time of this process in seconds, from `/proc/self/stat` (clock ticks
/// of 100 Hz). Wall-clock figures on a shared machine include time other processes ran; this
/// one does not.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn report_cpu_time_per_scrape(registry: &Registry) {
    const ROUNDS: u32 = 500;
    let before = cpu_seconds();
    for _ in 0..ROUNDS {
        black_box(runner_metrics::encode(registry, Format::Prometheus).map(|text| text.len()))
            .unwrap_or_default();
    }
    if let (Some(before), Some(after)) = (before, cpu_seconds()) {
        let per_scrape_ms = (after - before) * 1000.0 / f64::from(ROUNDS);
        eprintln!("cpu time per Prometheus-text scrape: {per_scrape_ms:.3} ms ({ROUNDS} rounds)");
    }
}

fn scrape(c: &mut Criterion) {
    let (registry, _metrics, _running) = populated_registry();
    report_cpu_time_per_scrape(&registry);
    let text = runner_metrics::encode(&registry, Format::Prometheus).unwrap_or_default();
    eprintln!(
        "exposition: {} bytes, {} lines",
        text.len(),
        text.lines().count()
    );
    c.bench_function("scrape_prometheus_text_50_runners_10k_jobs", |b| {
        b.iter(|| black_box(runner_metrics::encode(&registry, Format::Prometheus)))
    });
    c.bench_function("scrape_openmetrics_50_runners_10k_jobs", |b| {
        b.iter(|| black_box(runner_metrics::encode(&registry, Format::OpenMetrics)))
    });
}

criterion_group!(benches, scrape);
criterion_main!(benches);
