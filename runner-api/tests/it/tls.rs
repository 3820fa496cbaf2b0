//! TLS to the coordinator (C6): a private CA through `tls-ca-file`, and client certificates.
//! A rustls terminator on 127.0.0.1 forwards to the plain-HTTP fake.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use runner_api::{ClientBuilder, Error, JobRequestOutcome};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::*;

struct Pki {
    directory: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
}

impl Pki {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.directory.path().join(name)
    }
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "runner-api test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    // `gitlab.test` reaches 127.0.0.1 only through the test proxies, which connect every
    // name there; not being a loopback name, it is sent through a configured proxy.
    let server = CertificateParams::new(vec!["localhost".to_owned(), "gitlab.test".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params
        .distinguished_name
        .push(DnType::CommonName, "runner");
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(directory.path().join("client.crt"), client.pem()).unwrap();
    std::fs::write(
        directory.path().join("client.key"),
        client_key.serialize_pem(),
    )
    .unwrap();
    Pki {
        directory,
        ca_der: ca.der().clone(),
        server_der: server.der().clone(),
        server_key_der: server_key.serialize_der(),
    }
}

/// Terminates TLS on 127.0.0.1 and relays to `target`; optionally requires a client certificate.
async fn tls_front(target: SocketAddr, pki: &Pki, require_client_certificate: bool) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_certificate {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::try_from(pki.server_key_der.clone()).unwrap();
    let config = builder
        .with_single_cert(vec![pki.server_der.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn tls_ca_file_makes_a_private_ca_trusted() {
    let fake = fake().await;
    let pki = pki();
    let front = tls_front(fake.address(), &pki, false).await;
    let url = format!("https://localhost:{}/", front.port());
    let trusted = ClientBuilder::new(&url)
        .tls_ca_file(pki.path("ca.crt"))
        .build()
        .unwrap();
    assert!(matches!(
        trusted.request_job(job_request(&fake)).await.unwrap(),
        JobRequestOutcome::NoJob
    ));
    let untrusted = ClientBuilder::new(&url).build().unwrap();
    let error = untrusted.request_job(job_request(&fake)).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error}");
    assert_eq!(
        fake.request_count(runner_api::fake::Endpoint::RequestJob),
        1
    );
}

#[tokio::test]
async fn client_certificate_is_presented_when_configured() {
    let fake = fake().await;
    let pki = pki();
    let front = tls_front(fake.address(), &pki, true).await;
    let url = format!("https://localhost:{}/", front.port());
    let with_certificate = ClientBuilder::new(&url)
        .tls_ca_file(pki.path("ca.crt"))
        .tls_cert_file(pki.path("client.crt"))
        .tls_key_file(pki.path("client.key"))
        .build()
        .unwrap();
    assert!(
        with_certificate
            .request_job(job_request(&fake))
            .await
            .is_ok()
    );
    let without_certificate = ClientBuilder::new(&url)
        .tls_ca_file(pki.path("ca.crt"))
        .build()
        .unwrap();
    assert!(
        without_certificate
            .request_job(job_request(&fake))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn https_proxy_carries_plain_requests_inside_tls() {
    let fake = fake().await;
    let pki = pki();
    let (forward, mut lines) = forward_proxy(fake.address()).await;
    let proxy = tls_front(forward, &pki, false).await;
    let settings = runner_api::ProxySettings::from_lookup(|name| {
        (name == "http_proxy").then(|| format!("https://localhost:{}", proxy.port()))
    });
    let url = format!("http://gitlab.test:{}/", fake.address().port());
    let client = ClientBuilder::new(url)
        .proxy(settings)
        .tls_ca_file(pki.path("ca.crt"))
        .build()
        .unwrap();
    assert!(matches!(
        client.request_job(job_request(&fake)).await.unwrap(),
        JobRequestOutcome::NoJob
    ));
    assert_eq!(
        lines.recv().await.unwrap(),
        format!(
            "POST http://gitlab.test:{}/api/v4/jobs/request HTTP/1.1",
            fake.address().port()
        )
    );
}

#[tokio::test]
async fn https_proxy_tunnels_tls_to_an_https_coordinator() {
    let fake = fake().await;
    let pki = pki();
    let coordinator = tls_front(fake.address(), &pki, false).await;
    let (tunnel, mut connects) = connect_proxy().await;
    let proxy = tls_front(tunnel, &pki, false).await;
    let settings = runner_api::ProxySettings::from_lookup(|name| {
        (name == "HTTPS_PROXY").then(|| format!("https://u:p@localhost:{}", proxy.port()))
    });
    let url = format!("https://gitlab.test:{}/", coordinator.port());
    let client = ClientBuilder::new(url)
        .proxy(settings)
        .tls_ca_file(pki.path("ca.crt"))
        .build()
        .unwrap();
    assert!(matches!(
        client.request_job(job_request(&fake)).await.unwrap(),
        JobRequestOutcome::NoJob
    ));
    assert_eq!(
        connects.recv().await.unwrap(),
        format!("CONNECT gitlab.test:{} HTTP/1.1", coordinator.port())
    );
    assert_eq!(
        fake.request_count(runner_api::fake::Endpoint::RequestJob),
        1
    );
}
