//! Scrape latency: encoding the registry with 50 runners and 10,000 finished jobs recorded,
//! in both text formats. Target: under 1 ms per scrape.
//!
//! Also printed, without assertions: the CPU cost of the recording calls on a runner's hot
//! path, and the share of one core that metrics take on a busy runner (recording plus a
//! Prometheus scrape every 15 s). Target: under 1%.

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

/// CPU seconds per call of `work`, over `rounds` calls; `None` without `/proc`.
fn cpu_seconds_per_call(rounds: u32, mut work: impl FnMut()) -> Option<f64> {
    let before = cpu_seconds()?;
    for _ in 0..rounds {
        work();
    }
    Some((cpu_seconds()? - before) / f64::from(rounds))
}

fn report_cpu_time_per_scrape(registry: &Registry) -> Option<f64> {
    const ROUNDS: u32 = 500;
    let per_scrape = cpu_seconds_per_call(ROUNDS, || {
        black_box(runner_metrics::encode(registry, Format::Prometheus).map(|text| text.len()))
            .unwrap_or_default();
    })?;
    let per_scrape_ms = per_scrape * 1000.0;
    eprintln!("cpu time per Prometheus-text scrape: {per_scrape_ms:.3} ms ({ROUNDS} rounds)");
    Some(per_scrape)
}

/// Busy runner: jobs per second, each with this many coordinator requests (request, trace
/// patches, updates), scraped at Prometheus' default interval.
const JOBS_PER_SECOND: f64 = 200.0;
const API_REQUESTS_PER_JOB: f64 = 10.0;
const SCRAPE_INTERVAL_SECONDS: f64 = 15.0;

/// Recording costs on existing series (the steady state of a runner), then the share of one
/// core the busy runner above spends on metrics.
fn report_recording_cost(metrics: &Metrics, scrape_seconds: Option<f64>) {
    let runner = RunnerLabels::new("tok000007", "runner-7", "s_000000000007");
    let api = metrics.api();
    let patch = &http::Method::PATCH;
    let millis = Duration::from_millis(120);
    let api_request = cpu_seconds_per_call(1_000_000, || {
        api.api_request(
            black_box(&runner),
            ApiEndpoint::PatchTrace,
            patch,
            202,
            millis,
        );
    });
    let jobs = metrics.jobs();
    let queue = QueueInfo::default();
    let job = cpu_seconds_per_call(200_000, || {
        jobs.job_received(black_box(&runner), &queue);
        let running = jobs.job_started(&runner, "https://gitlab.example.com/p/-/jobs/1");
        running.finish(None, Duration::from_secs(90));
    });
    let (Some(api_request), Some(job), Some(scrape)) = (api_request, job, scrape_seconds) else {
        return;
    };
    eprintln!("cpu time per api_request: {:.0} ns", api_request * 1e9);
    eprintln!(
        "cpu time per job (job_received + job_started + finish): {:.0} ns",
        job * 1e9
    );
    let recording = JOBS_PER_SECOND * (job + API_REQUESTS_PER_JOB * api_request);
    let scraping = scrape / SCRAPE_INTERVAL_SECONDS;
    eprintln!(
        "busy runner ({JOBS_PER_SECOND} jobs/s x {API_REQUESTS_PER_JOB} api requests, scrape every \
         {SCRAPE_INTERVAL_SECONDS} s): metrics use {:.3}% of one core \
         (recording {:.3}%, scraping {:.4}%)",
        (recording + scraping) * 100.0,
        recording * 100.0,
        scraping * 100.0
    );
}

fn scrape(c: &mut Criterion) {
    let (registry, _metrics, _running) = populated_registry();
    let scrape_seconds = report_cpu_time_per_scrape(&registry);
    {
        // A registry of its own, so the recording leaves the scraped one as it was.
        let (_registry, metrics, _running) = populated_registry();
        report_recording_cost(&metrics, scrape_seconds);
    }
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
