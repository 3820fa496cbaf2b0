//! Shared helpers: a metrics server on 127.0.0.1:0 and a minimal HTTP/1.1 client over a real
//! TCP socket.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed request or a malformed answer is a test failure"
)]

use std::net::SocketAddr;

use runner_metrics::{BuildInfo, ListenAddress, Metrics, MetricsServer, Registry, ServerState};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use runner_metrics::test_util::{self as prom_text, Dialect, Exposition};

pub(crate) struct Harness {
    pub(crate) metrics: Metrics,
    pub(crate) server: MetricsServer,
}

pub(crate) fn build_info() -> BuildInfo {
    BuildInfo {
        revision: "1a2b3c4d".into(),
        branch: "main".into(),
        go_version: "rustc 1.95.0".into(),
        built_at: "2026-11-23T00:00:00+0000".into(),
        ..BuildInfo::new("0.1.0")
    }
}

pub(crate) async fn start() -> Harness {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, build_info());
    let state = ServerState::new(registry, &metrics);
    let address = ListenAddress::parse("127.0.0.1:0").unwrap();
    let server = MetricsServer::start(&address, None, state, CancellationToken::new())
        .await
        .unwrap();
    Harness { metrics, server }
}

#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
pub(crate) async fn request_on<S>(
    mut stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the response; keep what was read.
    let _ = stream.read_to_end(&mut raw).await;
    parse_response(&raw)
}

pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let stream = TcpStream::connect(addr).await.unwrap();
    request_on(stream, method, path, headers).await
}

pub(crate) async fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path, &[]).await
}

/// GET /metrics in the Prometheus text format, parsed strictly.
pub(crate) async fn scrape(addr: SocketAddr) -> Exposition {
    let response = get(addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    prom_text::parse(&response.text(), Dialect::Prometheus).unwrap()
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (k, v) = line.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let body = raw[split + 4..].to_vec();
    let response = HttpResponse {
        status,
        headers,
        body,
    };
    if let Some(length) = response.header("content-length") {
        assert_eq!(length.parse::<usize>().unwrap(), response.body.len());
    }
    response
}
