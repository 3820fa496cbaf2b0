//! Every `listen_address` form binds or fails as specified; the exposure warning; rebinding
//! to a new address and shutting down.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed start is a test failure"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use runner_metrics::{
    BuildInfo, Error, ListenAddress, Metrics, MetricsServer, Registry, ServerState,
};
use tokio_util::sync::CancellationToken;

use crate::common::scrape;

fn state() -> ServerState {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
    ServerState::new(registry, &metrics)
}

async fn start(address: &str) -> Result<MetricsServer, Error> {
    let address = ListenAddress::parse(address)?;
    MetricsServer::start(&address, None, state(), CancellationToken::new()).await
}

fn ipv6_loopback_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test]
async fn loopback_forms_bind_and_serve() {
    let mut forms = vec!["127.0.0.1:0", "localhost:0"];
    if ipv6_loopback_available() {
        forms.push("[::1]:0");
    }
    for form in forms {
        let server = start(form).await.unwrap();
        let local = server.local_addr();
        assert!(local.ip().is_loopback(), "{form} bound {local}");
        assert_ne!(local.port(), 0);
        let scraped = scrape(local).await;
        assert_eq!(
            scraped.value("gitlab_runner_concurrent", &[]),
            0.0,
            "{form}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn all_interfaces_forms_bind_the_unspecified_address() {
    for form in [":0", "0.0.0.0:0"] {
        let server = start(form).await.unwrap();
        assert!(server.local_addr().ip().is_unspecified(), "{form}");
        let port = server.local_addr().port();
        // Reachable through loopback, as every interface is.
        let scraped = scrape(([127, 0, 0, 1], port).into()).await;
        assert!(scraped.families.contains_key("gitlab_runner_version_info"));
        server.shutdown().await;
    }
}

#[tokio::test]
async fn invalid_addresses_are_start_up_errors() {
    for form in ["::1", "host:", "[::1", "localhost:nosuchservice", ""] {
        let error = start(form).await.unwrap_err();
        assert!(matches!(error, Error::Address(_)), "{form}: {error:?}");
        assert!(error.is_config());
        assert!(
            error.to_string().contains("invalid listen address"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_port_in_use_is_a_bind_error_naming_the_address() {
    let first = start("127.0.0.1:0").await.unwrap();
    let port = first.local_addr().port();
    let error = start(&format!("127.0.0.1:{port}")).await.unwrap_err();
    assert!(
        matches!(&error, Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
    );
    assert_eq!(
        error.to_string(),
        format!("failed to create listener for metrics server on 127.0.0.1:{port}")
    );
    assert!(!error.is_config());
    first.shutdown().await;
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn logs_of_start(address: &str) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let server = start(address).await.unwrap();
    drop(guard);
    server.shutdown().await;
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn non_loopback_binding_logs_a_warning() {
    let exposed = logs_of_start(":0").await;
    assert!(exposed.contains("WARN"), "{exposed}");
    assert!(
        exposed.contains("non-loopback address without authentication"),
        "{exposed}"
    );
    assert!(exposed.contains("Metrics server listening"), "{exposed}");

    let loopback = logs_of_start("127.0.0.1:0").await;
    assert!(loopback.contains("Metrics server listening"), "{loopback}");
    assert!(!loopback.contains("WARN"), "{loopback}");
}

#[tokio::test]
async fn rebind_moves_the_server_to_a_new_address() {
    let mut server = start("127.0.0.1:0").await.unwrap();
    let old = server.local_addr();
    scrape(old).await;

    // Same settings: nothing changes.
    let same = server.address().clone();
    server.rebind(&same, None).await.unwrap();
    assert_eq!(server.local_addr(), old);

    let new_address = ListenAddress::parse("localhost:0").unwrap();
    server.rebind(&new_address, None).await.unwrap();
    let new = server.local_addr();
    assert_ne!(new, old);
    assert_eq!(server.address(), &new_address);
    scrape(new).await;
    assert!(
        tokio::net::TcpStream::connect(old).await.is_err(),
        "old socket still open"
    );
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(new).await.is_err(),
        "socket open after shutdown"
    );
}

#[tokio::test]
async fn failed_rebind_keeps_serving_on_the_old_address() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let mut server = start("127.0.0.1:0").await.unwrap();
    let old = server.local_addr();
    let target = ListenAddress::parse(&format!("127.0.0.1:{taken}")).unwrap();
    let error = server.rebind(&target, None).await.unwrap_err();
    assert!(matches!(error, Error::Bind { .. }), "{error:?}");
    assert_ne!(server.address(), &target);
    scrape(server.local_addr()).await;
    assert_eq!(server.local_addr(), old);
    server.shutdown().await;
}

#[tokio::test]
async fn cancelling_the_shutdown_token_stops_the_server() {
    let token = CancellationToken::new();
    let address = ListenAddress::parse("127.0.0.1:0").unwrap();
    let server = MetricsServer::start(&address, None, state(), token.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    scrape(addr).await;
    token.cancel();
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
