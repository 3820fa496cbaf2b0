//! Building the kube client: from a kubeconfig file, from in-cluster facts, or from the
//! `host`/`cert_file`/`key_file`/`ca_file`/`bearer_token` settings. No environment is read here:
//! `runner-bin` resolves `KUBECONFIG`, `KUBERNETES_SERVICE_HOST` and friends and passes values.

use std::fmt;
use std::path::PathBuf;

use kube::config::{AuthInfo, Config, KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};

/// Where the API server is and how to authenticate.
#[derive(Clone)]
pub enum ClusterAccess {
    /// A kubeconfig file, optionally with a context (`[runners.kubernetes] context`).
    Kubeconfig {
        /// Path of the file.
        path: PathBuf,
        /// Context to use; `None` is the file's current context.
        context: Option<String>,
    },
    /// Running inside a pod: the service-account token and CA at their standard paths.
    InCluster {
        /// `https://<KUBERNETES_SERVICE_HOST>:<KUBERNETES_SERVICE_PORT>`.
        host: String,
        /// Directory holding `token` and `ca.crt` (normally `/var/run/secrets/kubernetes.io/serviceaccount`).
        service_account_dir: PathBuf,
    },
    /// `host` with `cert_file`/`key_file`/`ca_file`/`bearer_token` from `config.toml`.
    Explicit {
        /// `host`: API server URL.
        host: String,
        /// `ca_file`.
        ca_file: Option<PathBuf>,
        /// `cert_file` (with `key_file`: client certificate).
        cert_file: Option<PathBuf>,
        /// `key_file`.
        key_file: Option<PathBuf>,
        /// `bearer_token`; never printed.
        bearer_token: Option<String>,
    },
}

impl fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kubeconfig { path, context } => f
                .debug_struct("Kubeconfig")
                .field("path", path)
                .field("context", context)
                .finish(),
            Self::InCluster {
                host,
                service_account_dir,
            } => f
                .debug_struct("InCluster")
                .field("host", host)
                .field("service_account_dir", service_account_dir)
                .finish(),
            Self::Explicit {
                host,
                ca_file,
                cert_file,
                key_file,
                bearer_token,
            } => f
                .debug_struct("Explicit")
                .field("host", host)
                .field("ca_file", ca_file)
                .field("cert_file", cert_file)
                .field("key_file", key_file)
                .field("bearer_token", &bearer_token.as_ref().map(|_| "[REDACTED]"))
                .finish(),
        }
    }
}

/// Builds the client. kube's own retry of 429/503/504 is switched off: it can hide a failing API
/// server for minutes, and the executor bounds every call with its own deadlines instead.
pub(crate) async fn build_client(access: &ClusterAccess) -> Result<(kube::Client, String)> {
    install_crypto_provider();
    let mut config = match access {
        ClusterAccess::Kubeconfig { path, context } => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| Error::Config(crate::error::error_chain(&e)))?;
            let options = KubeConfigOptions {
                context: context.clone(),
                ..KubeConfigOptions::default()
            };
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| Error::Config(crate::error::error_chain(&e)))?
        }
        ClusterAccess::InCluster {
            host,
            service_account_dir,
        } => {
            let token_file = service_account_dir.join("token");
            let ca_file = service_account_dir.join("ca.crt");
            explicit_config(host, Some(&ca_file), None, None, None, Some(&token_file))?
        }
        ClusterAccess::Explicit {
            host,
            ca_file,
            cert_file,
            key_file,
            bearer_token,
        } => explicit_config(
            host,
            ca_file.as_ref(),
            cert_file.as_ref(),
            key_file.as_ref(),
            bearer_token.as_deref(),
            None,
        )?,
    };
    config.default_retry = false;
    let namespace = config.default_namespace.clone();
    let client =
        kube::Client::try_from(config).map_err(|e| Error::Client(crate::error::error_chain(&e)))?;
    Ok((client, namespace))
}

/// A kubeconfig in memory for the explicit settings, so kube's own loader handles the files.
fn explicit_config(
    host: &str,
    ca_file: Option<&PathBuf>,
    cert_file: Option<&PathBuf>,
    key_file: Option<&PathBuf>,
    bearer_token: Option<&str>,
    token_file: Option<&PathBuf>,
) -> Result<Config> {
    let uri: http::Uri = host
        .parse()
        .map_err(|e| Error::Config(format!("invalid host {host:?}: {e}")))?;
    let mut config = Config::new(uri);
    if let Some(ca_file) = ca_file {
        let pem = std::fs::read(ca_file)
            .map_err(|e| Error::Config(format!("reading {}: {e}", ca_file.display())))?;
        let certs = pem_certificates(&pem);
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "no certificate in {}",
                ca_file.display()
            )));
        }
        config.root_cert = Some(certs);
    }
    let auth = AuthInfo {
        client_certificate: cert_file.map(|p| p.display().to_string()),
        client_key: key_file.map(|p| p.display().to_string()),
        token: bearer_token.map(|t| t.to_owned().into()),
        token_file: token_file.map(|p| p.display().to_string()),
        ..AuthInfo::default()
    };
    config.auth_info = auth;
    Ok(config)
}

/// DER blocks of every `CERTIFICATE` in a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut certs = Vec::new();
    let mut inside = false;
    let mut body = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            inside = true;
            body.clear();
        } else if line == "-----END CERTIFICATE-----" {
            inside = false;
            if let Some(der) = base64_decode(&body) {
                certs.push(der);
            }
        } else if inside {
            body.push_str(line);
        }
    }
    certs
}

/// Standard base64 (with padding) to bytes.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// kube uses rustls with *ring*; if another crate in the build enables aws-lc-rs as well, rustls
/// cannot choose a process default and panics. Installing *ring* explicitly avoids that (an
/// already installed provider is fine).
fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_bearer_token() {
        let access = ClusterAccess::Explicit {
            host: "https://k8s".to_owned(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            bearer_token: Some("s3cr3t-token".to_owned()),
        };
        let text = format!("{access:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("REDACTED"));
    }

    #[test]
    fn base64_roundtrip_of_known_value() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("a$b"), None);
    }

    #[test]
    fn pem_blocks_are_found() {
        let pem = b"-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![b"hello".to_vec()]);
    }
}
