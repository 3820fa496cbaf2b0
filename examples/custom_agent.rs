//! A custom agent in a page: a runner entry built in code, run by `runner-agent` with the same
//! engine as `gitlab-runner-rs run`: the job loop, executor dispatch (shell, Docker,
//! Kubernetes, custom), cache and artifacts, masking, metrics, drain and abort.
//!
//! `cargo run -p runner-examples --example custom_agent -- <GITLAB_URL> <RUNNER_TOKEN> [docker]`
//! polls a real GitLab with the shell executor, or with Docker (`alpine:3` by default) and a
//! local cache volume; Ctrl-C stops taking jobs and lets the running ones finish. Without
//! arguments it starts the fake coordinator of `runner-api` on loopback with one demo job,
//! runs it with the shell executor and prints its (masked) log, so it runs anywhere.

#![expect(
    clippy::print_stdout,
    reason = "an example program shows the job log on stdout"
)]

use std::time::Duration;

use runner_agent::{Agent, Shutdown};
use runner_config::{CacheConfig, Config, DockerConfig, Executor, RunnerConfig, Secret};
use runner_metrics::{BuildInfo, Metrics, Registry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fake = runner_api::fake::FakeCoordinator::start().await?;
    let mut demo_job = None;
    let (url, token, docker) = match args.as_slice() {
        [url, token, rest @ ..] => (
            url.clone(),
            token.clone(),
            rest.first().is_some_and(|a| a == "docker"),
        ),
        _ => {
            let script = [
                "echo \"hello from $(uname -s) in $CI_PROJECT_DIR\"",
                "echo secret is $SECRET",
            ];
            demo_job = Some(fake.enqueue_job(serde_json::json!({
                "job_info": {"name": "demo", "project_id": 1, "project_full_path": "demo/agent"},
                "steps": [{"name": "script", "script": script, "when": "on_success"}],
                "variables": [{"key": "GIT_STRATEGY", "value": "none"},
                              {"key": "SECRET", "value": "hunter22", "masked": true}]})));
            (fake.url(), fake.runner_token(), false)
        }
    };

    // The `[[runners]]` entry a config.toml would hold; every key of it works here.
    let workdir = std::env::temp_dir().join("custom-agent");
    let runner = RunnerConfig {
        name: "custom-agent".to_owned(),
        url: url.clone(),
        token: Secret::new(token),
        executor: Some(if docker {
            Executor::Docker
        } else {
            Executor::Shell
        }),
        builds_dir: workdir.join("builds").display().to_string(),
        cache_dir: workdir.join("cache").display().to_string(),
        docker: docker.then(|| DockerConfig {
            image: "alpine:3".to_owned(),
            ..DockerConfig::default()
        }),
        cache: Some(CacheConfig::default()),
        ..RunnerConfig::default()
    };
    let config = Config {
        concurrent: 2,
        runners: vec![runner],
        ..Config::default()
    };

    // Metrics are optional; a real agent would serve `registry` with runner_metrics::MetricsServer.
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("custom-agent"));
    let agent = Agent::builder(config).metrics(metrics).build();
    let shutdown = Shutdown::new();
    let running = tokio::spawn(agent.run(shutdown.clone()));

    if let Some(id) = demo_job {
        // Demo: wait for the one job, show its log, then drain.
        let job = fake
            .wait_for_job_final_state(id, Duration::from_secs(60))
            .await
            .ok_or("the demo job did not finish")?;
        print!("{}", String::from_utf8_lossy(&job.trace));
        println!(
            "job {} ended: {}",
            job.id,
            job.final_state.unwrap_or_default()
        );
        shutdown.stop("demo done");
    } else {
        tokio::signal::ctrl_c().await?;
        shutdown.stop("interrupt");
    }
    running.await??;
    Ok(())
}
