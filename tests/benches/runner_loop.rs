//! Bench binary (prints figures, asserts nothing about speed): the real `gitlab-runner-rs`
//! against the fake coordinator on loopback, measuring what issue #4 asks for.
//!
//! - pickup latency: job queued → its script running, with long polling (target ≤ 20 ms);
//! - trivial jobs per second: `GIT_STRATEGY=none`, `echo ok`, `concurrent = 8` (target ≥ 200/s);
//! - idle RSS of `run` (target ≤ 6 MB), and how much of the start-up order file the binary
//!   still matches (the figure depends on it; see runner-bin/build.rs).
//!
//! Run it against the release binary (without `GITLAB_RUNNER_RS_BIN` it builds and measures
//! a debug one):
//!
//! ```sh
//! cargo build --release -p runner-bin
//! GITLAB_RUNNER_RS_BIN=$PWD/target/release/gitlab-runner-rs cargo bench --profile dev -p runner-e2e --bench runner_loop
//! ```

#![expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use runner_e2e::{JobBuilder, RunnerProcess, Workspace, runner_binary, startup_order};

const PICKUP_SAMPLES: usize = 20;
const THROUGHPUT_JOBS: usize = 200;

fn samples(default: usize, variable: &str) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let workspace = Workspace::start(Duration::from_secs(30)).await;
    let config = workspace.write_config(
        "concurrent = 8\ncheck_interval = 3",
        &["  request_concurrency = 4"],
    );
    let config_arg = config.to_string_lossy().into_owned();
    // RUNNER_BENCH_DEBUG=1 keeps a timestamped debug log of the runner next to the workspace.
    let args: Vec<&str> = if std::env::var_os("RUNNER_BENCH_DEBUG").is_some() {
        vec!["--debug", "--log-format", "json", "run", "-c", &config_arg]
    } else {
        vec!["run", "-c", &config_arg]
    };
    // Jobs run `bash -l`, which reads the runner user's profile: measure the runner with the
    // plain home of a dedicated runner user, not the heavy profile of this build machine.
    let home = workspace.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let home = home.to_string_lossy().into_owned();
    let runner = RunnerProcess::start_with_env(workspace.path(), &args, &[("HOME", &home)]);
    assert!(
        runner
            .wait_for_log("Configuration loaded", Duration::from_secs(60))
            .await
    );
    // Let the runner settle into its long poll before measuring memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = runner_pid(&workspace);
    let idle_rss_kib = status_kib(pid, "VmRSS:");
    let idle_anon_kib = status_kib(pid, "RssAnon:");

    let mut latencies = Vec::new();
    for sample in 0..samples(PICKUP_SAMPLES, "RUNNER_BENCH_PICKUPS") {
        let stamp = workspace.path().join(format!("picked-{sample}"));
        let job = JobBuilder::script_only(&[&format!("date +%s%N > {}", stamp.display())]).build();
        let queued = now_nanos();
        let id = workspace.coordinator.enqueue_job(job);
        workspace
            .coordinator
            .wait_for_job_final_state(id, Duration::from_secs(60))
            .await
            .expect("job finishes");
        let started: u128 = std::fs::read_to_string(&stamp)
            .expect("stamp")
            .trim()
            .parse()
            .expect("nanoseconds");
        latencies.push(Duration::from_nanos(
            u64::try_from(started.saturating_sub(queued)).unwrap_or(u64::MAX),
        ));
    }
    latencies.sort();

    let started = Instant::now();
    let throughput_jobs = samples(THROUGHPUT_JOBS, "RUNNER_BENCH_JOBS");
    let ids: Vec<u64> = (0..throughput_jobs)
        .map(|_| {
            workspace
                .coordinator
                .enqueue_job(JobBuilder::script_only(&["echo ok"]).build())
        })
        .collect();
    for id in ids {
        workspace
            .coordinator
            .wait_for_job_final_state(id, Duration::from_secs(300))
            .await
            .expect("job finishes");
    }
    let elapsed = started.elapsed();

    println!("(jobs run as a runner user with an empty home, so `bash -l` reads no heavy profile)");
    println!(
        "idle RSS of `run`:            {:.1} MB ({:.1} MB anonymous; the rest is pages of the binary and libc)",
        idle_rss_kib as f64 / 1024.0,
        idle_anon_kib as f64 / 1024.0
    );
    // The idle figure depends on the release binary's start-up order file still matching.
    let order_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../runner-bin/link/startup.order"
    );
    let order = std::fs::read_to_string(order_path).unwrap_or_default();
    match startup_order::coverage(&runner_binary(), &order) {
        Some((found, listed)) => println!(
            "start-up order file:          {found} of {listed} functions found in this binary{}",
            if found * 10 < listed * 9 {
                " (stale: regenerate it, see runner-bin/build.rs)"
            } else {
                ""
            }
        ),
        None => println!("start-up order file:          not checked (nm cannot read the binary)"),
    }
    println!(
        "pickup latency (queued → script): median {:.1} ms, p90 {:.1} ms, min {:.1} ms ({} jobs)",
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 9 / 10]),
        ms(latencies[0]),
        latencies.len(),
    );
    println!(
        "trivial jobs: {throughput_jobs} in {:.2} s = {:.1} jobs/s (concurrent = 8)",
        elapsed.as_secs_f64(),
        throughput_jobs as f64 / elapsed.as_secs_f64()
    );
    if std::env::var_os("RUNNER_BENCH_DEBUG").is_some() {
        let _ = std::fs::write("/tmp/runner-bench-debug.log", runner.log());
    }
    runner.signal(nix::sys::signal::Signal::SIGQUIT);
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The runner's pid, from its lock file (`<config>.lock` holds it).
fn runner_pid(workspace: &Workspace) -> u32 {
    let lock = std::fs::read_dir(workspace.path())
        .expect("workspace dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "lock"))
        .expect("the config lock file");
    std::fs::read_to_string(lock)
        .expect("lock")
        .trim()
        .parse()
        .expect("a pid")
}

/// A `kB` field of `/proc/<pid>/status`, e.g. `VmRSS:`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
