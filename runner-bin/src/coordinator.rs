//! Building the coordinator client and the `info` object for one `[[runners]]` entry.
//!
//! Environment look-ups for proxies happen here, in the binary, because libraries read no
//! environment (STYLE 2.6); `runner-api` receives the resolved values.

use std::sync::Arc;
use std::time::Duration;

use runner_api::{Client, ClientBuilder, Features, ProxySettings, ResponseEvent, RunnerInfo};
use runner_config::RunnerConfig;
use runner_metrics::{ApiEndpoint, Metrics, RunnerLabels};
use tokio_util::sync::CancellationToken;

use crate::version;

/// A client for `runner`'s coordinator, with TLS files, proxies from the environment (C5),
/// our User-Agent (C11), and request statuses counted into `metrics` when given.
/// Connections are renewed after `connection_max_age` (the global setting; `None` keeps them).
pub(crate) fn client(
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
pub(crate) fn info(runner: &RunnerConfig) -> RunnerInfo {
    let executor = runner.executor.map(|e| e.as_str()).unwrap_or("shell");
    let shell = if runner.shell.is_empty() {
        "bash"
    } else {
        runner.shell.as_str()
    };
    let mut info = RunnerInfo::new(executor, shell, features());
    info.name = "gitlab-runner-rs".to_owned();
    info.version = version::VERSION.to_owned();
    info.revision = version::REVISION.to_owned();
    info
}

/// The features this build really implements (§4.2): the server relies on each `true`.
pub(crate) fn features() -> Features {
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
