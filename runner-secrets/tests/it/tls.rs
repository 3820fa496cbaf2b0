//! HTTPS to Vault: a rustls terminator on 127.0.0.1 with a certificate from a private CA
//! relays to the plain-HTTP fake; the CA is trusted only through
//! `ResolveOptions::extra_ca_pem` (upstream: `VAULT_CACERT`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use runner_secrets::fake::FakeVault;
use runner_secrets::{FailureClass, JobSecrets, JobVariables, ResolveOptions, resolve};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

struct Pki {
    ca_pem: String,
    server_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "runner-secrets test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_der: server.der().clone(),
        server_key_der: server_key.serialize_der(),
    }
}

/// Terminates TLS on 127.0.0.1 and relays to `target`.
async fn tls_front(target: SocketAddr, pki: &Pki) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::try_from(pki.server_key_der.clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
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
async fn https_vault_with_a_private_ca_needs_the_ca_bundle() {
    let vault = FakeVault::start().await.unwrap();
    vault.allow_login("jwt", "ci", "jwt-value");
    vault.put_kv2("kv", "app", json!({"key": "v"}));
    let target: SocketAddr = vault.url().trim_start_matches("http://").parse().unwrap();
    let pki = pki();
    let front = tls_front(target, &pki).await;
    let payload: BTreeMap<String, Value> = serde_json::from_value(json!({
        "APP_KEY": {"vault": {
            "server": {"url": format!("https://localhost:{}", front.port()),
                       "auth": {"name": "jwt", "path": "jwt", "data": {"jwt": "jwt-value", "role": "ci"}}},
            "engine": {"name": "kv-v2", "path": "kv"}, "path": "app", "field": "key"
        }}
    }))
    .unwrap();
    let secrets = JobSecrets::from_payload(&payload).unwrap();
    let variables = JobVariables::default();

    let trusted = ResolveOptions {
        extra_ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        ..ResolveOptions::default()
    };
    let resolved = resolve(&secrets, &variables, &trusted).await.unwrap();
    assert_eq!(resolved[0].value.expose(), "v");

    let error = resolve(&secrets, &variables, &ResolveOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: writing to Vault: POST https://localhost:"),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    assert!(!text.contains("jwt-value"), "{text}");
    assert_eq!(error.failure_class(), FailureClass::System);
}
