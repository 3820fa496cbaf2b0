//! Shared setup for the integration tests.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runner_api::fake::{FakeConfig, FakeCoordinator, RecordingClock};
use runner_api::{Client, ClientBuilder, Features, JobRequest, RunnerInfo, Token};

pub(crate) const SYSTEM_ID: &str = "s_0123456789ab";

pub(crate) fn info() -> RunnerInfo {
    RunnerInfo::new(
        "shell",
        "bash",
        Features {
            variables: true,
            refspecs: true,
            ..Features::network_client()
        },
    )
}

pub(crate) async fn fake() -> FakeCoordinator {
    FakeCoordinator::start().await.unwrap()
}

pub(crate) async fn fake_with(config: FakeConfig) -> FakeCoordinator {
    FakeCoordinator::start_with(config).await.unwrap()
}

/// Wall time at which recording clocks start.
pub(crate) fn base_time() -> SystemTime {
    httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:58 GMT").unwrap()
}

pub(crate) fn builder(fake: &FakeCoordinator, clock: &RecordingClock) -> ClientBuilder {
    ClientBuilder::new(fake.url())
        .clock(Arc::new(clock.clone()))
        .jitter(Arc::new(|| 0.5))
}

pub(crate) fn client(fake: &FakeCoordinator) -> (Client, RecordingClock) {
    let clock = RecordingClock::new(base_time());
    (builder(fake, &clock).build().unwrap(), clock)
}

pub(crate) fn job_request(fake: &FakeCoordinator) -> JobRequest {
    JobRequest {
        info: info(),
        token: Token::new(fake.runner_token()),
        system_id: SYSTEM_ID.to_owned(),
        last_update: None,
        session: None,
    }
}

pub(crate) fn millis(values: &[u64]) -> Vec<Duration> {
    values
        .iter()
        .map(|value| Duration::from_millis(*value))
        .collect()
}

pub(crate) fn body_json(request: &runner_api::fake::RecordedRequest) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// A forward proxy for plain HTTP: records the request line and relays to `target`.
pub(crate) async fn forward_proxy(
    target: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (lines, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let read = inbound.read(&mut head).await.unwrap();
                let text = String::from_utf8_lossy(&head[..read]).to_string();
                lines
                    .send(text.lines().next().unwrap_or("").to_owned())
                    .unwrap();
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                outbound.write_all(&head[..read]).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (address, receiver)
}

/// A proxy that answers `CONNECT host:port` with 200 and then relays to 127.0.0.1:port
/// (any host name is this machine); records each CONNECT line.
pub(crate) async fn connect_proxy() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (lines, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                // Read the request head byte by byte: nothing past it may be consumed.
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    head.push(inbound.read_u8().await.unwrap());
                }
                let head = String::from_utf8(head).unwrap();
                let line = head.lines().next().unwrap_or("").to_owned();
                let port: u16 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|authority| authority.rsplit_once(':'))
                    .and_then(|(_, port)| port.parse().ok())
                    .unwrap();
                lines.send(line).unwrap();
                let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                inbound
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (address, receiver)
}
