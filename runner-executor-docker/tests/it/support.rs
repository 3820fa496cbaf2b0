//! Shared helpers: executor settings for the local test images, running jobs, leftovers.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use runner_executor::test_util::strip_ansi;
use runner_executor::{
    CancellationToken, Executor, JobSpec, JobSpecBuilder, Outcome, TraceWriter, Variable,
};
use runner_executor_docker::{DockerExecutor, DockerSettings, RUNNER_ID_LABEL};
use tokio::sync::mpsc;

pub(crate) const BASH_IMAGE: &str = "gitlab-runner-rs-test/bash:latest";
pub(crate) const HELPER_IMAGE: &str = "gitlab-runner-rs-test/helper:latest";

/// Settings for the local images, never pulling.
pub(crate) fn settings() -> DockerSettings {
    DockerSettings {
        image: Some(BASH_IMAGE.to_owned()),
        helper_image: Some(HELPER_IMAGE.to_owned()),
        pull_policy: vec!["if-not-present".to_owned()],
        ..DockerSettings::default()
    }
}

/// A unique short token, so each test finds only its own objects by label.
pub(crate) fn short_token() -> String {
    format!("t{:08x}", rand::random::<u32>())
}

/// A job with `GIT_STRATEGY=none` (no repository needed) for runner `token`.
pub(crate) fn job(token: &str, script: &[&str]) -> JobSpecBuilder {
    let token = token.to_owned();
    JobSpec::builder(rand::random::<u32>().into(), "glcbt-test-token")
        .variable(Variable::new("GIT_STRATEGY", "none"))
        .script(script.iter().copied())
        .runner(move |runner| {
            runner.short_token = token;
            runner.prepare_retry_delay = std::time::Duration::ZERO;
        })
}

/// Runs `job`; cancels it as soon as the trace contains the trigger's text, if given.
pub(crate) async fn run(
    executor: &DockerExecutor,
    job: JobSpec,
    trigger: Option<(&str, CancellationToken)>,
) -> (Outcome, String) {
    let cancel = trigger
        .as_ref()
        .map(|(_, token)| token.clone())
        .unwrap_or_default();
    run_with(executor, job, cancel, trigger).await
}

/// Runs `job` with the abort token `cancel`; fires the trigger's token once its text appears.
pub(crate) async fn run_with(
    executor: &DockerExecutor,
    job: JobSpec,
    cancel: CancellationToken,
    trigger: Option<(&str, CancellationToken)>,
) -> (Outcome, String) {
    let (sender, mut receiver) = mpsc::channel(64);
    let trace = TraceWriter::builder(sender).job(&job).build();
    let job_future = executor.run(job, trace, cancel);
    let reader = async {
        let mut log = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            log.extend_from_slice(&chunk);
            if let Some((marker, token)) = &trigger
                && String::from_utf8_lossy(&log).contains(marker)
            {
                token.cancel();
            }
        }
        strip_ansi(&String::from_utf8_lossy(&log))
    };
    let (outcome, text) = tokio::join!(job_future, reader);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    };
    (outcome, text)
}

/// The engine for assertions, version-negotiated (the test engine speaks API 1.41).
pub(crate) async fn docker() -> Docker {
    Docker::connect_with_unix_defaults()
        .expect("docker socket")
        .negotiate_version()
        .await
        .expect("negotiate")
}

/// Containers, networks and volumes labelled with runner `token`: `(containers, networks, volumes)`.
pub(crate) async fn leftovers(token: &str) -> (usize, usize, usize) {
    let docker = docker().await;
    let label = format!("{RUNNER_ID_LABEL}={token}");
    let filters: HashMap<&str, Vec<&str>> = [("label", vec![label.as_str()])].into();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list containers");
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list networks");
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list volumes");
    (
        containers.len(),
        networks.len(),
        volumes.volumes.unwrap_or_default().len(),
    )
}
