//! HTTPS scraping with client-certificate verification (beyond upstream).

#![expect(
    clippy::unwrap_used,
    reason = "test set-up: certificate generation failing is a test failure"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use runner_metrics::{
    BuildInfo, Error, ListenAddress, Metrics, MetricsServer, Registry, ServerState, TlsOptions,
};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_util::sync::CancellationToken;

use crate::common::request_on;
use runner_metrics::test_util::{self as prom_text, Dialect};

struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    client_cert: rcgen::Certificate,
    client_key: KeyPair,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_params = CertificateParams::new(vec!["prometheus".to_owned()]).unwrap();
    let client_cert = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();

    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.pem"), server_cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca,
        client_cert,
        client_key,
    }
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn options(&self) -> TlsOptions {
        TlsOptions {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: Some(self.path("ca.pem")),
        }
    }

    fn connector(&self, with_client_cert: bool) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let chain = vec![CertificateDer::from(self.client_cert.der().to_vec())];
            let key = PrivateKeyDer::try_from(self.client_key.serialize_der()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

async fn start(options: &TlsOptions) -> Result<MetricsServer, Error> {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("0.1.0"));
    metrics.workers().set_concurrent(5);
    let state = ServerState::new(registry, &metrics);
    let address = ListenAddress::parse("127.0.0.1:0").unwrap();
    MetricsServer::start(&address, Some(options), state, CancellationToken::new()).await
}

/// Connects with TLS and sends GET /metrics; `None` when the server refuses the client
/// (handshake error, or the connection closes without an HTTP answer).
async fn tls_scrape(addr: SocketAddr, connector: &TlsConnector) -> Option<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, tcp).await.ok()?;
    // The helper panics when no response arrives; run it as a task to observe that.
    let response = tokio::spawn(request_on(stream, "GET", "/metrics", &[]))
        .await
        .ok()?;
    (response.status == 200).then(|| response.text())
}

#[tokio::test]
async fn scrape_over_tls_with_a_client_certificate() {
    let pki = pki();
    let server = start(&pki.options()).await.unwrap();
    let addr = server.local_addr();
    let text = tls_scrape(addr, &pki.connector(true))
        .await
        .expect("trusted client refused");
    let parsed = prom_text::parse(&text, Dialect::Prometheus).unwrap();
    assert_eq!(parsed.value("gitlab_runner_concurrent", &[]), 5.0);

    assert_eq!(
        tls_scrape(addr, &pki.connector(false)).await,
        None,
        "client without certificate served"
    );
    // Plain HTTP on the TLS port gets no metrics either.
    let plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    let plain_response = tokio::spawn(request_on(plain, "GET", "/metrics", &[])).await;
    assert!(plain_response.map(|r| r.status != 200).unwrap_or(true));
    server.shutdown().await;
}

#[tokio::test]
async fn missing_or_bad_tls_files_are_config_errors() {
    let pki = pki();
    let mut missing = pki.options();
    missing.key_file = pki.path("nope.key");
    let error = start(&missing).await.unwrap_err();
    assert!(
        matches!(&error, Error::TlsFile { path, .. } if path.ends_with("nope.key")),
        "{error:?}"
    );
    assert!(error.is_config());

    let mut not_a_cert = pki.options();
    not_a_cert.cert_file = pki.path("server.key");
    let error = start(&not_a_cert).await.unwrap_err();
    assert!(matches!(error, Error::TlsFile { .. }), "{error:?}");
}
