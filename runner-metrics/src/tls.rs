//! Optional TLS for scraping, with client-certificate verification (seed M5, beyond
//! upstream, which serves plain HTTP only).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::error::{Error, Result};

/// PEM files of the metrics server's TLS identity and, optionally, of the CA that signs the
/// scrapers' client certificates. With a client CA, connections without a certificate signed
/// by it are refused during the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA bundle that client certificates must chain to; `None` accepts any client.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsOptions {
    /// Reads the files and builds the rustls server configuration (HTTP/1.1 only).
    pub(crate) fn load(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = read_certs(&self.cert_file)?;
        let key = read_key(&self.key_file)?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(config_error)?;
        let builder = match &self.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(path)? {
                    roots.add(cert).map_err(config_error)?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(config_error)?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(certs, key).map_err(config_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn config_error(source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::TlsConfig {
        source: Box::new(source),
    }
}

fn file_error(path: &Path, source: std::io::Error) -> Error {
    Error::TlsFile {
        path: path.to_owned(),
        source,
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        let missing = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificate");
        return Err(file_error(path, missing));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).map_err(|e| file_error(path, e))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| file_error(path, e))?
        .ok_or_else(|| {
            let missing =
                std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM private key");
            file_error(path, missing)
        })
}
