//! The rustls client configuration: system roots plus `tls-ca-file`, and a client certificate (C6).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// TLS files of one `[[runners]]` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFiles {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any TLS file is configured (then the configuration is built, and its files
    /// checked, when the client is built).
    pub(crate) fn any(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// The system's root certificates, loaded and parsed once per process and shared by every
/// client that adds no CA file of its own.
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        Arc::new(roots)
    }))
}

/// A client's TLS configuration, built when it is first needed: at the first `https`
/// connection, or when the client is built if TLS files are configured (so a bad file is
/// reported at once). A runner whose coordinator is `http://` never loads the system roots
/// or touches the TLS code, which keeps an idle runner a few megabytes smaller.
pub(crate) struct LazyTls {
    files: TlsFiles,
    config: OnceLock<Arc<rustls::ClientConfig>>,
}

impl LazyTls {
    pub(crate) fn new(files: TlsFiles) -> Result<Self> {
        let lazy = Self {
            files,
            config: OnceLock::new(),
        };
        if lazy.files.any() {
            let config = build_tls_config(&lazy.files)?;
            let _ = lazy.config.set(config);
        }
        Ok(lazy)
    }

    /// The configuration, built now if it was not yet.
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>> {
        if let Some(config) = self.config.get() {
            return Ok(Arc::clone(config));
        }
        let config = build_tls_config(&self.files)?;
        Ok(Arc::clone(self.config.get_or_init(|| config)))
    }
}

/// Builds the client configuration: HTTP/1.1 only, TLS 1.2 minimum, ring provider.
///
/// The CA file is *added* to the system roots (rustls-native-certs, or webpki-roots when
/// the system store is empty). A missing CA file is ignored as the reference does; an
/// unparsable one is an error here (the reference only logs), so a typo is noticed.
pub(crate) fn build_tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = system_roots();
    if let Some(ca_file) = &files.ca_file {
        if ca_file.exists() {
            let roots = Arc::make_mut(&mut roots);
            for certificate in read_certificates(ca_file)? {
                roots
                    .add(certificate)
                    .map_err(|source| tls_file_error(ca_file, source))?;
            }
        } else {
            tracing::debug!(path = %ca_file.display(), "tls-ca-file does not exist, using system roots");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::TlsConfig(Box::new(source)))?
        .with_root_certificates(roots);
    let mut config = match (&files.cert_file, &files.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = read_certificates(cert_file)?;
            let key = read_private_key(key_file)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| Error::TlsConfig(Box::new(source)))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn tls_file_error(path: &Path, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::TlsFile {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|source| tls_file_error(path, source))?;
    let certificates = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|source| tls_file_error(path, source))?;
    if certificates.is_empty() {
        return Err(tls_file_error(
            path,
            std::io::Error::other("no PEM certificate found"),
        ));
    }
    Ok(certificates)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).map_err(|source| tls_file_error(path, source))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| tls_file_error(path, source))?
        .ok_or_else(|| tls_file_error(path, std::io::Error::other("no PEM private key found")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_load_without_files() {
        assert!(build_tls_config(&TlsFiles::default()).is_ok());
    }

    #[test]
    fn missing_ca_file_is_ignored_and_garbage_is_an_error() {
        let missing = TlsFiles {
            ca_file: Some("/nonexistent/ca.crt".into()),
            ..TlsFiles::default()
        };
        assert!(build_tls_config(&missing).is_ok());
        let directory = tempfile::tempdir().unwrap();
        let garbage = directory.path().join("ca.crt");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let files = TlsFiles {
            ca_file: Some(garbage),
            ..TlsFiles::default()
        };
        assert!(matches!(
            build_tls_config(&files),
            Err(Error::TlsFile { .. })
        ));
    }

    #[test]
    fn configuration_waits_for_tls_unless_files_are_configured() {
        let lazy = LazyTls::new(TlsFiles::default()).unwrap();
        assert!(lazy.config.get().is_none(), "nothing built for plain http");
        let first = lazy.config().unwrap();
        assert!(Arc::ptr_eq(&first, &lazy.config().unwrap()), "built once");

        let directory = tempfile::tempdir().unwrap();
        let garbage = directory.path().join("ca.crt");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let bad = TlsFiles {
            ca_file: Some(garbage),
            ..TlsFiles::default()
        };
        assert!(
            matches!(LazyTls::new(bad), Err(Error::TlsFile { .. })),
            "a configured file is checked when the client is built"
        );
    }
}
