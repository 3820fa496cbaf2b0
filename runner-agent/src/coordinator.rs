//! Building the coordinator client and the `info` object for one `[[runners]]` entry.
//!
//! Environment look-ups for proxies happen here, in the binary, because libraries read no
//! environment (STYLE 2.6); `runner-api` receives the resolved values.

use std::sync::Arc;
use std::time::Duration;

use runner_api::{Client, ClientBuilder, Features, ProxySettings, ResponseEvent, RunnerInfo};
use runner_config::{Executor, RunnerConfig};
use runner_metrics::{ApiEndpoint, Metrics, RunnerLabels};
use tokio_util::sync::CancellationToken;

use crate::version;

/// A client for `runner`'s coordinator, with TLS files, proxies from the environment (C5),
/// our User-Agent (C11), and request statuses counted into `metrics` when given.
/// Connections are renewed after `connection_max_age` (the global setting; `None` keeps them).
pub fn client(
    runner: &RunnerConfig,
    labels: Option<(Metrics, RunnerLabels)>,
    shutdown: CancellationToken,
    connection_max_age: Option<Duration>,
) -> runner_api::Result<Client> {
    let mut builder = ClientBuilder::new(runner.url.clone())
        .proxy(ProxySettings::from_lookup(|name| std::env::var(name).ok()))
        .connection_max_age(connection_max_age)
        .user_agent(runner_api::user_agent())
        .shutdown(shutdown);
    if !runner.tls_ca_file.is_empty() {
        builder = builder.tls_ca_file(&runner.tls_ca_file);
    }
    if !runner.tls_cert_file.is_empty() {
        builder = builder.tls_cert_file(&runner.tls_cert_file);
    }
    if !runner.tls_key_file.is_empty() {
        builder = builder.tls_key_file(&runner.tls_key_file);
    }
    if let Some((metrics, labels)) = labels {
        builder = builder.on_response(Arc::new(move |event: &ResponseEvent| {
            record(&metrics, &labels, event)
        }));
    }
    builder.build()
}

/// The `info` object sent with every request of `runner` (coordinator-api.md §4).
pub fn info(runner: &RunnerConfig) -> RunnerInfo {
    let executor = runner.executor.map(|e| e.as_str()).unwrap_or("shell");
    let shell = if runner.shell.is_empty() {
        "bash"
    } else {
        runner.shell.as_str()
    };
    let mut info = RunnerInfo::new(executor, shell, features(runner.executor));
    info.name = "gitlab-runner-rs".to_owned();
    info.version = version::VERSION.to_owned();
    info.revision = version::REVISION.to_owned();
    info
}

/// The features this build really implements on `executor` (§4.2): the server relies on each
/// `true`. Payload fields behind a `false` (`job_inputs`, `native_steps_integration`, docker
/// `executor_opts`) fail the job before it runs (`job_refusal`), in case a server sends them
/// anyway. `vault_secrets` is true for every executor, as upstream: `job_secrets` resolves them.
pub fn features(executor: Option<Executor>) -> Features {
    let containers = matches!(executor, Some(Executor::Docker | Executor::Kubernetes));
    Features {
        variables: true,
        refspecs: true,
        masking: true,
        raw_variables: true,
        multi_build_steps: true,
        return_exit_code: true,
        artifacts: true,
        artifacts_exclude: true,
        upload_multiple_artifacts: true,
        upload_raw_artifacts: true,
        cache: true,
        fallback_cache_keys: true,
        // Jobs of these executors run on the runner's host (or the driver's machine).
        shared: matches!(executor, None | Some(Executor::Shell | Executor::Custom)),
        image: containers,
        services: containers,
        service_multiple_aliases: containers,
        // Docker and Kubernetes start services with their variables; the custom executor hands
        // them to the driver in CUSTOM_ENV_CI_JOB_SERVICES.
        service_variables: containers || executor == Some(Executor::Custom),
        // Only `image: kubernetes: user` is honoured; docker's platform/user are refused.
        image_executor_opts: executor == Some(Executor::Kubernetes),
        vault_secrets: true,
        ..Features::network_client()
    }
}

/// Counts one coordinator exchange in `gitlab_runner_api_request_statuses_total`.
fn record(metrics: &Metrics, labels: &RunnerLabels, event: &ResponseEvent) {
    let Some(status) = event.status else { return };
    let endpoint = match event.endpoint {
        "request_job" => ApiEndpoint::RequestJob,
        "update_job" => ApiEndpoint::UpdateJob,
        "patch_trace" => ApiEndpoint::PatchTrace,
        "reset_token" => ApiEndpoint::ResetToken,
        // Upstream labels only these endpoints; the others are not exported.
        _ => return,
    };
    let method = http::Method::from_bytes(event.method.as_bytes()).unwrap_or(http::Method::POST);
    metrics
        .api()
        .api_request(labels, endpoint, &method, status, event.elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_promise_only_what_the_executor_honours() {
        for executor in [
            None,
            Some(Executor::Shell),
            Some(Executor::Docker),
            Some(Executor::Kubernetes),
            Some(Executor::Custom),
        ] {
            let features = features(executor);
            assert!(features.vault_secrets, "{executor:?}");
            // Refused before they run (job_refusal), so never promised.
            assert!(!features.job_inputs, "{executor:?}");
            assert!(!features.native_steps_integration, "{executor:?}");
            assert!(!features.service_executor_opts, "{executor:?}");
            // No session server in this build.
            assert!(!features.session && !features.terminal && !features.proxy);
            assert!(features.two_phase_job_commit && features.upload_multiple_artifacts);
        }
        let docker = features(Some(Executor::Docker));
        assert!(docker.image && docker.services && docker.service_variables);
        assert!(!docker.image_executor_opts && !docker.shared);
        let kubernetes = features(Some(Executor::Kubernetes));
        assert!(kubernetes.image_executor_opts && kubernetes.service_multiple_aliases);
        let shell = features(Some(Executor::Shell));
        assert!(shell.shared && !shell.image && !shell.services && !shell.service_variables);
        let custom = features(Some(Executor::Custom));
        assert!(custom.shared && custom.service_variables && !custom.image);
    }
}
