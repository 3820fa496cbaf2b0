//! Overhead of a whole Docker job over a bare `docker run --rm`, measured side by side.
//!
//! Needs the engine and the images of `scripts/setup-docker.sh`. Run with
//! `cargo bench -p runner-executor-docker --bench job_overhead`. Each round runs, alternately,
//! `docker run --rm gitlab-runner-rs-test/bash:latest echo ok` and a job whose script is
//! `echo ok` (GIT_STRATEGY=none: prepare_script, get_sources, step_script and
//! cleanup_file_variables, all in the build container since none needs the helper's tools,
//! then cleanup), and prints the medians and their ratio.
//!
//! With `GITLAB_RUNNER_RS_STATIC_BIN` set (a static build, `scripts/build-static.sh`) it also
//! measures the helper path: a job whose script writes `vendor/a` and whose `archive_cache`
//! stage runs `cache-archiver` in our default helper image with the binary copied in through
//! the API, against the same two steps by hand (`docker run --rm` of the build image on a
//! volume, then `docker run --rm` of the helper image with the binary bind-mounted), and prints
//! the sizes of the helper and runner images (`scripts/build-images.sh`).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![expect(clippy::unwrap_used, reason = "a benchmark stops at the first failure")]

use std::process::Command;
use std::time::{Duration, Instant};

use runner_executor::{CancellationToken, Executor, JobSpec, TraceWriter, Variable};
use runner_executor_docker::{DockerExecutor, DockerSettings};

const IMAGE: &str = "gitlab-runner-rs-test/bash:latest";
const ROUNDS: usize = 15;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = DockerExecutor::new(DockerSettings {
        image: Some(IMAGE.to_owned()),
        helper_image: Some("gitlab-runner-rs-test/helper:latest".to_owned()),
        pull_policy: vec!["if-not-present".to_owned()],
        ..DockerSettings::default()
    });
    // One warm-up of each, so neither side pays for cold caches.
    docker_run();
    runtime.block_on(job(&executor));

    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        docker_run();
        bare.push(started.elapsed());
        let started = Instant::now();
        runtime.block_on(job(&executor));
        ours.push(started.elapsed());
    }
    let (bare_median, ours_median) = (median(&mut bare), median(&mut ours));
    println!("rounds: {ROUNDS}");
    println!(
        "docker run --rm (median): {:.1} ms",
        bare_median.as_secs_f64() * 1e3
    );
    println!(
        "gitlab-runner-rs job (median): {:.1} ms",
        ours_median.as_secs_f64() * 1e3
    );
    println!(
        "ratio job / docker run: {:.2}x",
        ours_median.as_secs_f64() / bare_median.as_secs_f64()
    );
    runtime.block_on(phases(&executor));
    if let Some(binary) = std::env::var_os("GITLAB_RUNNER_RS_STATIC_BIN") {
        helper_path(&runtime, std::path::Path::new(&binary));
    }
}

/// The cache job through our executor against the same steps by hand (see the module docs).
fn helper_path(runtime: &tokio::runtime::Runtime, binary: &std::path::Path) {
    let executor = DockerExecutor::new(DockerSettings {
        image: Some(IMAGE.to_owned()),
        helper_binary: Some(binary.to_owned()),
        pull_policy: vec!["if-not-present".to_owned()],
        ..DockerSettings::default()
    });
    let helper = runner_executor_docker::default_helper_image();
    cache_by_hand(binary, &helper);
    runtime.block_on(cache_job(&executor));
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        cache_by_hand(binary, &helper);
        bare.push(started.elapsed());
        let started = Instant::now();
        runtime.block_on(cache_job(&executor));
        ours.push(started.elapsed());
    }
    // The same job with the binary the image carries: what copying it in costs.
    let no_copy = DockerExecutor::new(DockerSettings {
        helper_binary: None,
        ..executor.settings().clone()
    });
    let mut carried = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        runtime.block_on(cache_job(&no_copy));
        carried.push(started.elapsed());
    }
    let (bare_median, ours_median) = (median(&mut bare), median(&mut ours));
    println!(
        "cache job through gitlab-runner-rs, binary from the image, no copy (median): {:.1} ms",
        median(&mut carried).as_secs_f64() * 1e3
    );
    println!(
        "cache job by hand, two docker run --rm (median): {:.1} ms",
        bare_median.as_secs_f64() * 1e3
    );
    println!(
        "cache job through gitlab-runner-rs (median): {:.1} ms",
        ours_median.as_secs_f64() * 1e3
    );
    println!(
        "ratio cache job / by hand: {:.2}x",
        ours_median.as_secs_f64() / bare_median.as_secs_f64()
    );
    let runner = format!("gitlab-runner-rs:v{}", env!("CARGO_PKG_VERSION"));
    for image in [helper.as_str(), runner.as_str()] {
        let output = Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Size}}", image])
            .output()
            .unwrap();
        let size = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        println!("image {image}: {size} bytes");
    }
}

const CACHE_SCRIPT: &str = "mkdir -p vendor && echo cached > vendor/a";

fn cache_by_hand(binary: &std::path::Path, helper: &str) {
    let volume = format!("gitlab-runner-rs-bench-{}", std::process::id());
    let mount = format!("{volume}:/builds");
    let step = format!("mkdir -p /builds/p && cd /builds/p && {CACHE_SCRIPT}");
    let bind = format!("{}:/usr/bin/gitlab-runner-helper:ro", binary.display());
    for args in [
        vec!["run", "--rm", "-v", &mount, IMAGE, "sh", "-c", &step],
        vec![
            "run",
            "--rm",
            "-v",
            &mount,
            "-v",
            &bind,
            "-w",
            "/builds/p",
            helper,
            "gitlab-runner-helper",
            "cache-archiver",
            "--file",
            "/tmp/cache.zip",
            "--path",
            "vendor",
        ],
        vec!["volume", "rm", &volume],
    ] {
        let output = Command::new("docker").args(&args).output().unwrap();
        assert!(output.status.success(), "docker {args:?}: {output:?}");
    }
}

async fn cache_job(executor: &DockerExecutor) {
    let spec = JobSpec::builder(1, "glcbt-bench")
        .variable(Variable::new("GIT_STRATEGY", "none"))
        .script([CACHE_SCRIPT])
        .with(|spec| {
            spec.transfer.archive_cache = vec![format!(
                "\"${}\" cache-archiver --file /tmp/cache.zip --path vendor",
                runner_executor::HELPER_BINARY_VARIABLE
            )];
        })
        .build();
    let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
    let trace = TraceWriter::builder(sender).job(&spec).build();
    let drain = async {
        let mut text = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            text.extend_from_slice(&chunk);
        }
        text
    };
    let (outcome, text) = tokio::join!(executor.run(spec, trace, CancellationToken::new()), drain);
    let text = String::from_utf8_lossy(&text);
    assert!(outcome.unwrap().is_success(), "{text}");
    assert!(text.contains("vendor: found"), "{text}");
}

/// One job through the `Backend` calls, timing each phase.
async fn phases(executor: &DockerExecutor) {
    use runner_executor::{Backend, Stage, StageScript, Target};
    let spec = JobSpec::builder(1, "glcbt-bench")
        .script(["echo ok"])
        .build();
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1024);
    let drain = tokio::spawn(async move { while receiver.recv().await.is_some() {} });
    let mut trace = TraceWriter::builder(sender).build();
    let started = Instant::now();
    let mut session = executor.prepare(&spec, &mut trace).await.unwrap();
    println!(
        "phase prepare: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for (stage, target) in [
        (Stage::PrepareScript, Target::Helper),
        (Stage::GetSources, Target::Helper),
        (Stage::Step("script".to_owned()), Target::Build),
        (Stage::CleanupFileVariables, Target::Helper),
    ] {
        let script = StageScript {
            stage: stage.clone(),
            target,
            script: "echo ok\n".to_owned(),
            plan: None,
            needs_helper_tools: false,
        };
        let started = Instant::now();
        executor
            .run_stage(&mut session, &script, &mut trace, CancellationToken::new())
            .await
            .unwrap();
        println!(
            "phase {}: {:.1} ms",
            stage.id(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let started = Instant::now();
    executor.cleanup(session, &mut trace).await;
    println!(
        "phase cleanup: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    drop(trace);
    drain.await.unwrap();
}

fn docker_run() {
    let output = Command::new("docker")
        .args(["run", "--rm", IMAGE, "echo", "ok"])
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "{output:?}"
    );
}

async fn job(executor: &DockerExecutor) {
    let spec = JobSpec::builder(1, "glcbt-bench")
        .variable(Variable::new("GIT_STRATEGY", "none"))
        .script(["echo ok"])
        .build();
    let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
    let trace = TraceWriter::builder(sender).job(&spec).build();
    let drain = async { while receiver.recv().await.is_some() {} };
    let (outcome, ()) = tokio::join!(executor.run(spec, trace, CancellationToken::new()), drain);
    assert!(outcome.unwrap().is_success());
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
