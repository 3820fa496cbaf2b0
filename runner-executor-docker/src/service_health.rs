//! Waiting for services (executors.md §7.5, scenarios 49 and 50): before the first stage, one
//! container per service, from the helper image and on the job's network, dials the service's
//! ports until one answers. A service that never answers is not fatal: the trace gets a
//! warning block with the error and both containers' logs, and the job goes on.

use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{LogsOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;
use futures_util::future::join_all;
use runner_executor::TraceWriter;

use crate::names::labels;
use crate::prepare::{PrepareContext, create, start};

/// The most ports dialled per service, lowest first, as upstream.
const MAX_PORTS: usize = 20;
/// How much of a service container's log the warning block shows.
const SERVICE_LOG_LIMIT: usize = 64 * 1024;
/// After a failed check, how long the service may still take to log something useful.
const LOG_GRACE: Duration = Duration::from_secs(10);

/// A started service container.
#[derive(Debug, Clone)]
pub(crate) struct StartedService {
    pub(crate) name: String,
    pub(crate) id: String,
    /// `HEALTHCHECK_TCP_PORT` from the service's environment, which replaces its exposed ports.
    pub(crate) healthcheck_port: Option<u16>,
}

impl StartedService {
    pub(crate) fn new(name: String, id: String, env: &[String]) -> Self {
        let healthcheck_port = env
            .iter()
            .rev()
            .find_map(|entry| entry.strip_prefix("HEALTHCHECK_TCP_PORT="))
            .and_then(|port| port.trim().parse().ok());
        Self {
            name,
            id,
            healthcheck_port,
        }
    }
}

/// Waits, in parallel and for at most `timeout` each, until every service answers on a port;
/// writes a warning block for each one that does not.
pub(crate) async fn wait_for_services(
    ctx: &PrepareContext<'_>,
    services: &[StartedService],
    helper_image_id: &str,
    network: Option<&str>,
    timeout: Duration,
    trace: &mut TraceWriter,
) {
    if services.is_empty() {
        return;
    }
    trace
        .plain(&format!(
            "Waiting for services to be up and running (timeout {} seconds)...",
            timeout.as_secs()
        ))
        .await;
    let checks = services
        .iter()
        .map(|service| check(ctx, service, helper_image_id, network, timeout));
    for warning in join_all(checks).await.into_iter().flatten() {
        trace.write(warning.as_bytes()).await;
    }
}

/// Why a service did not pass: the error line and, when a check container ran, its log.
struct Unhealthy {
    error: String,
    check_log: Option<String>,
}

/// The warning block for `service`, or `None` when it answered in time.
async fn check(
    ctx: &PrepareContext<'_>,
    service: &StartedService,
    helper_image_id: &str,
    network: Option<&str>,
    timeout: Duration,
) -> Option<String> {
    let started = Instant::now();
    let unhealthy = run_check(ctx, service, helper_image_id, network, timeout)
        .await
        .err()?;
    // A service with no ports, or one that failed fast, gets a moment to log why.
    tokio::time::sleep(timeout.saturating_sub(started.elapsed()).min(LOG_GRACE)).await;
    let service_log = container_log(ctx, &service.id, SERVICE_LOG_LIMIT).await;
    Some(warning_block(&service.name, &unhealthy, &service_log))
}

/// Upstream's block: blank line, the yellow warning, the error, the logs, a closing rule.
fn warning_block(name: &str, unhealthy: &Unhealthy, service_log: &str) -> String {
    const YELLOW: &str = "\x1b[0;33m";
    const RESET: &str = "\x1b[0;m";
    let mut block = format!(
        "\n{YELLOW}*** WARNING:{RESET} Service {name} probably didn't start properly.\n\n\
         Health check error:\n{}\n",
        unhealthy.error.trim()
    );
    if let Some(log) = &unhealthy.check_log {
        block.push_str(&format!("\nHealth check container logs:\n{log}\n"));
    }
    block.push_str(&format!(
        "\nService container logs:\n{service_log}\n\n{YELLOW}*********{RESET}\n\n"
    ));
    block
}

async fn run_check(
    ctx: &PrepareContext<'_>,
    service: &StartedService,
    helper_image_id: &str,
    network: Option<&str>,
    timeout: Duration,
) -> Result<(), Unhealthy> {
    let plain = |error: String| Unhealthy {
        error,
        check_log: None,
    };
    let inspected = ctx
        .engine
        .docker
        .inspect_container(&service.id, None)
        .await
        .map_err(|error| plain(format!("inspecting service \"{}\": {error}", service.name)))?;
    let ports = match service.healthcheck_port {
        Some(port) => vec![port],
        None => exposed_tcp_ports(
            inspected
                .config
                .and_then(|config| config.exposed_ports)
                .unwrap_or_default(),
        ),
    };
    if ports.is_empty() {
        return Err(plain(format!(
            "service \"{}\" has no exposed ports",
            service.name
        )));
    }
    let address = inspected
        .network_settings
        .and_then(|settings| settings.networks)
        .and_then(|networks| {
            // The job's network first, else any network the service has an address on.
            let addresses: Vec<(String, String)> = networks
                .into_iter()
                .filter_map(|(name, endpoint)| Some((name, endpoint.ip_address?)))
                .filter(|(_, address)| !address.is_empty())
                .collect();
            let on_job_network = addresses
                .iter()
                .find(|(name, _)| Some(name.as_str()) == network);
            on_job_network
                .or(addresses.first())
                .map(|(_, address)| address.clone())
        })
        .ok_or_else(|| plain(format!("service \"{}\" has no IP address", service.name)))?;

    let name = format!("{}-wait-for-service", service.name);
    let mut env = vec![format!("WAIT_FOR_SERVICE_TCP_ADDR={address}")];
    env.extend(
        ports
            .iter()
            .map(|port| format!("WAIT_FOR_SERVICE_{port}_TCP_PORT={port}")),
    );
    let body = ContainerCreateBody {
        image: Some(helper_image_id.to_owned()),
        cmd: Some(vec![
            "bash".to_owned(),
            "-c".to_owned(),
            DIAL_SCRIPT.to_owned(),
        ]),
        entrypoint: Some(Vec::new()),
        env: Some(env),
        labels: Some(labels(
            ctx.job,
            "wait",
            &[("wait", service.id.as_str())],
            &ctx.settings.container_labels,
        )),
        host_config: Some(HostConfig {
            network_mode: network.map(str::to_owned),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let id = create(ctx.engine, ctx.resources, &name, body)
        .await
        .map_err(|error| plain(format!("create service container: {error}")))?;
    let outcome = async {
        start(ctx.engine, &name, &id)
            .await
            .map_err(|error| plain(format!("start service container: {error}")))?;
        let mut waits = ctx.engine.docker.wait_container(&id, None);
        let ended = tokio::time::timeout(timeout, waits.next()).await;
        let failure = match ended {
            Err(_) => format!("service \"{name}\" timeout"),
            Ok(Some(Ok(response))) if response.status_code == 0 => return Ok(()),
            Ok(Some(Ok(response))) => format!(
                "service \"{name}\" health check: exit code {}",
                response.status_code
            ),
            // bollard reports a non-zero exit of the waited container as an error.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                format!("service \"{name}\" health check: exit code {code}")
            }
            Ok(Some(Err(error))) => format!("service \"{name}\" health check: {error}"),
            Ok(None) => format!("service \"{name}\" health check: the wait ended without a status"),
        };
        Err(Unhealthy {
            error: failure,
            check_log: Some(container_log(ctx, &id, SERVICE_LOG_LIMIT).await),
        })
    }
    .await;
    // Removed now rather than at cleanup: it has done its work either way.
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = ctx.engine.docker.remove_container(&id, Some(options)).await;
    outcome
}

/// `5432/tcp` entries → TCP ports, lowest first, at most [`MAX_PORTS`].
fn exposed_tcp_ports(exposed: Vec<String>) -> Vec<u16> {
    let mut ports: Vec<u16> = exposed
        .iter()
        .filter_map(|entry| {
            let (port, protocol) = entry.split_once('/').unwrap_or((entry, "tcp"));
            (protocol == "tcp").then(|| port.parse().ok()).flatten()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports.truncate(MAX_PORTS);
    ports
}

/// A container's output (stdout and stderr), at most `limit` bytes, lossy UTF-8.
async fn container_log(ctx: &PrepareContext<'_>, id: &str, limit: usize) -> String {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut stream = ctx.engine.docker.logs(id, Some(options));
    let mut collected = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        collected.extend_from_slice(&chunk.into_bytes());
        if collected.len() >= limit {
            collected.truncate(limit);
            break;
        }
    }
    String::from_utf8_lossy(&collected).trim_end().to_owned()
}

/// Run by bash in the check container: dial each port of `WAIT_FOR_SERVICE_TCP_ADDR` once a
/// second until one accepts, as upstream's `health-check` helper command does.
const DIAL_SCRIPT: &str = r#"address="$WAIT_FOR_SERVICE_TCP_ADDR"
ports=""
for name in $(compgen -e); do
    case "$name" in WAIT_FOR_SERVICE_*_TCP_PORT) ports="$ports ${!name}" ;; esac
done
ports="${ports# }"
if [ -z "$address" ] || [ -z "$ports" ]; then
    echo "No HOST or PORT found" >&2
    exit 1
fi
echo "waiting for TCP connection to $address on [$ports]..."
while :; do
    for port in $ports; do
        echo "dialing $address:$port..."
        if (exec 3<>"/dev/tcp/$address/$port") 2>/dev/null; then
            exit 0
        fi
    done
    sleep 1
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_are_tcp_lowest_first_and_capped() {
        let exposed = ["8080/tcp", "53/udp", "5432/tcp", "80/tcp", "5432/tcp"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(exposed_tcp_ports(exposed), [80, 5432, 8080]);
        let many: Vec<String> = (1000..1030).map(|port| format!("{port}/tcp")).collect();
        assert_eq!(exposed_tcp_ports(many).len(), MAX_PORTS);
    }

    #[test]
    fn healthcheck_port_comes_from_the_service_environment() {
        let service = StartedService::new(
            "s".to_owned(),
            "id".to_owned(),
            &["A=1".to_owned(), "HEALTHCHECK_TCP_PORT=6379".to_owned()],
        );
        assert_eq!(service.healthcheck_port, Some(6379));
    }

    #[test]
    fn the_warning_block_is_upstreams() {
        let block = warning_block(
            "runner-x-svc-0",
            &Unhealthy {
                error: "service \"runner-x-svc-0-wait-for-service\" timeout".to_owned(),
                check_log: Some("dialing 10.0.0.2:1234...".to_owned()),
            },
            "svc log",
        );
        assert!(block.starts_with(
            "\n\x1b[0;33m*** WARNING:\x1b[0;m Service runner-x-svc-0 probably didn't start properly.\n\nHealth check error:\nservice \"runner-x-svc-0-wait-for-service\" timeout\n"
        ));
        assert!(block.contains("\nHealth check container logs:\ndialing 10.0.0.2:1234...\n"));
        assert!(
            block
                .ends_with("\nService container logs:\nsvc log\n\n\x1b[0;33m*********\x1b[0;m\n\n")
        );
    }

    #[test]
    fn the_dial_script_is_valid_bash() {
        let checked = std::process::Command::new("bash")
            .args(["-n", "-c", DIAL_SCRIPT])
            .status()
            .unwrap();
        assert!(checked.success());
    }
}
