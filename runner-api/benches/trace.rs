//! Bench binary: trace sender throughput to the loopback fake coordinator, and the CPU
//! cost of an idle long-poll cycle. Prints its figures; run with `cargo bench -p runner-api`.

#![expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]
#![expect(clippy::unwrap_used, reason = "a bench aborts on any failure")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use runner_api::fake::{FakeConfig, FakeCoordinator};
use runner_api::{
    ClientBuilder, Features, JobRequest, JobResponse, JobResult, JobTrace, RunnerInfo, Token,
    TraceOptions, trace_checksum,
};

const TOTAL: usize = 512 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn info() -> RunnerInfo {
    RunnerInfo::new("shell", "bash", Features::network_client())
}

async fn trace_throughput() {
    let fake = FakeCoordinator::start().await.unwrap();
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let job =
        JobResponse::from_json(&serde_json::to_vec(&fake.job(job_id).unwrap().payload).unwrap())
            .unwrap();
    let client = ClientBuilder::new(fake.url()).build().unwrap();
    // 1 MiB of varied bytes, sent 512 times in 64 KiB chunks without copying.
    let pattern = Bytes::from(
        (0..1024 * 1024u32)
            .map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>(),
    );
    let mut hasher = crc32fast::Hasher::new();
    for _ in 0..TOTAL / pattern.len() {
        hasher.update(&pattern);
    }
    let expected_checksum = format!("crc32:{:08x}", hasher.finalize());
    let (output, receiver) = tokio::sync::mpsc::channel(64);
    let started = Instant::now();
    let trace = JobTrace::start(client, &job, info(), receiver, TraceOptions::default());
    let producer = tokio::spawn(async move {
        for index in 0..TOTAL / CHUNK {
            let offset = (index * CHUNK) % pattern.len();
            output
                .send(pattern.slice(offset..offset + CHUNK))
                .await
                .unwrap();
        }
    });
    producer.await.unwrap();
    trace.finish(JobResult::success()).await.unwrap();
    let elapsed = started.elapsed();
    let record = fake.job(job_id).unwrap();
    let update = record.last_update().unwrap();
    assert_eq!(record.trace.len(), TOTAL);
    assert_eq!(update.checksum.as_deref(), Some(expected_checksum.as_str()));
    assert_eq!(trace_checksum(&record.trace), expected_checksum);
    let megabytes = TOTAL as f64 / 1_000_000.0;
    println!(
        "trace sender: {} MiB in {:.3} s = {:.0} MB/s ({} PATCHes), checksum {} matches",
        TOTAL / (1024 * 1024),
        elapsed.as_secs_f64(),
        megabytes / elapsed.as_secs_f64(),
        record.patches.len(),
        expected_checksum
    );
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux, 10 ms ticks).
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

async fn idle_long_poll() {
    let hold = Duration::from_secs(2);
    let fake = FakeCoordinator::start_with(FakeConfig {
        long_poll: hold,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = ClientBuilder::new(fake.url()).build().unwrap();
    let request = || JobRequest {
        info: info(),
        token: Token::new(fake.runner_token()),
        system_id: "s_0123456789ab".to_owned(),
        last_update: None,
        session: None,
    };
    client.request_job(request()).await.unwrap();
    let cycles = 5;
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    for _ in 0..cycles {
        client.request_job(request()).await.unwrap();
    }
    let wall = started.elapsed();
    match (cpu_before, process_cpu_time()) {
        (Some(before), Some(after)) => println!(
            "idle long poll: {cycles} cycles held {:.1} s each ({:.1} s wall), CPU {} ms in total = {:.1} ms per cycle (client and fake together, 10 ms resolution)",
            hold.as_secs_f64(),
            wall.as_secs_f64(),
            (after - before).as_millis(),
            (after - before).as_secs_f64() * 1000.0 / f64::from(cycles)
        ),
        _ => println!(
            "idle long poll: {cycles} cycles in {:.1} s (no /proc CPU figures on this OS)",
            wall.as_secs_f64()
        ),
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: keep that quick.
    if !std::env::args().any(|argument| argument == "--bench") {
        println!("trace bench: pass --bench (cargo bench) to run");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(trace_throughput());
    runtime.block_on(idle_long_poll());
}
