//! Benchmark binary: API requests per job, and bytes of log relayed per second from an exec'd
//! process through the fake API server's WebSocket into the `TraceWriter`.
//!
//! Run with `cargo bench -p runner-executor-k8s --bench relay`. Figures, not assertions.

#![expect(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]

use std::time::{Duration, Instant};

use runner_executor::test_util::TraceCapture;
use runner_executor::{Cancellation, Image, JobSpec, Variable, run_job};
use runner_executor_k8s::fake::FakeCluster;
use runner_executor_k8s::{ClusterAccess, KubernetesExecutor, Settings};

const LOG_BYTES: u64 = 64 * 1024 * 1024;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = FakeCluster::start(dir.path()).await.expect("fake");
        let kubeconfig = dir.path().join("kubeconfig");
        fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let settings = Settings {
            namespace: "default".to_owned(),
            poll_interval: Duration::from_millis(50),
            ..Settings::default()
        };
        let access = ClusterAccess::Kubeconfig { path: kubeconfig, context: None };
        let executor = KubernetesExecutor::connect(&access, settings).await.expect("connect");
        let job = |script: &str| {
            JobSpec::builder(1, "glcbt-bench-token")
                .builds_dir(dir.path().join("builds").to_string_lossy().into_owned())
                .variable(Variable::new("GIT_STRATEGY", "none"))
                .runner(|r| r.output_limit_kib = 1024 * 1024)
                .with(|j| j.image = Some(Image { name: "alpine".to_owned(), ..Image::default() }))
                .script([script])
                .build()
        };

        let jobs = 5;
        let before = fake.requests().len();
        for _ in 0..jobs {
            let spec = job("echo hello");
            let (trace, capture) = TraceCapture::for_job(&spec);
            let outcome = run_job(&executor, spec, trace, Cancellation::default()).await;
            assert!(outcome.is_success(), "{}", capture.text().await);
        }
        let requests = fake.requests()[before..].to_vec();
        let count = |method: &str, suffix: &str| {
            requests.iter().filter(|r| r.method == method && r.path.ends_with(suffix)).count() as f64 / f64::from(jobs)
        };
        println!("API requests per job (trivial job, {jobs} jobs): {:.1}", requests.len() as f64 / f64::from(jobs));
        println!(
            "  POST pods {:.1}, GET pod {:.1}, exec {:.1}, DELETE {:.1}",
            count("POST", "/pods"),
            requests.iter().filter(|r| r.method == "GET" && !r.path.ends_with("/exec")).count() as f64 / f64::from(jobs),
            count("GET", "/exec"),
            requests.iter().filter(|r| r.method == "DELETE").count() as f64 / f64::from(jobs),
        );

        let spec = job(&format!("head -c {LOG_BYTES} /dev/zero | tr '\\\\0' 'a' | fold -w 100"));
        let (trace, capture) = TraceCapture::for_job(&spec);
        let relayed_before = fake.exec_output_bytes();
        let started = Instant::now();
        let outcome = run_job(&executor, spec, trace, Cancellation::default()).await;
        let elapsed = started.elapsed();
        let log = capture.bytes().await;
        assert!(outcome.is_success());
        let relayed = fake.exec_output_bytes() - relayed_before;
        println!(
            "log relay: {relayed} bytes through the WebSocket, {} bytes in the trace, {:.2?} for the whole job = {:.1} MiB/s",
            log.len(),
            elapsed,
            relayed as f64 / elapsed.as_secs_f64() / (1024.0 * 1024.0)
        );
    });
}
