//! [`Engine`]: a checked connection to a Docker engine from `host`, `tls_verify` and
//! `tls_cert_path` (executors.md §7.1 step 2), with errors users can act on (D3).

use std::path::Path;

use bollard::Docker;

use crate::error::{Error, Result};
use crate::settings::DockerSettings;

/// Seconds bollard waits for the response headers of one request. Streams (exec output, pulls)
/// are not bounded by it; stages are bounded by the job's cancellation token instead.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// A connection to one Docker engine, version-negotiated and known to answer.
///
/// Cheap to clone: clones share the HTTP client.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    host: String,
    api_version: String,
    os_type: String,
}

impl Engine {
    /// Connects to the daemon `settings` names and asks for its version.
    ///
    /// Errors: [`Error::PermissionDenied`] when the socket exists but may not be opened,
    /// [`Error::Unreachable`] when nothing answers, [`Error::Connection`] for a malformed
    /// `host`, unreadable certificates or an unsupported engine.
    pub async fn connect(settings: &DockerSettings) -> Result<Self> {
        let host = settings.host_or_default().to_owned();
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            probe_socket(&host, path).await?;
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(|source| unreachable(&host, source))?
        } else if host.starts_with("tcp://")
            || host.starts_with("http://")
            || host.starts_with("https://")
        {
            let tls = settings.tls_verify
                || settings.tls_cert_path.is_some()
                || host.starts_with("https://");
            if tls {
                let Some(dir) = settings.tls_cert_path.as_deref() else {
                    return Err(Error::Connection {
                        message: format!("tls_verify is set for {host} but tls_cert_path is empty"),
                    });
                };
                for file in ["ca.pem", "cert.pem", "key.pem"] {
                    if !dir.join(file).is_file() {
                        return Err(Error::Connection {
                            message: format!("tls_cert_path {}: {file} is missing", dir.display()),
                        });
                    }
                }
                connect_tls(&host, dir)?
            } else {
                Docker::connect_with_http(&host, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                    .map_err(|source| unreachable(&host, source))?
            }
        } else {
            return Err(Error::Connection {
                message: format!("unsupported host {host:?}: use unix:///path or tcp://host:port"),
            });
        };
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|source| classify_connect(&host, source))?;
        let version = docker
            .version()
            .await
            .map_err(|source| classify_connect(&host, source))?;
        let os_type = version.os.unwrap_or_default();
        if !matches!(os_type.as_str(), "linux" | "windows" | "freebsd") {
            return Err(Error::Connection {
                message: format!("unsupported os type: {os_type}"),
            });
        }
        let api_version = version.api_version.unwrap_or_default();
        tracing::debug!(host = %host, api_version = %api_version, "connected to docker");
        Ok(Self {
            docker,
            host,
            api_version,
            os_type,
        })
    }

    /// The daemon address in use.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The engine's API version, e.g. `1.41`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The engine's OS type: `linux`, `windows` or `freebsd`.
    pub fn os_type(&self) -> &str {
        &self.os_type
    }
}

/// Opens the socket once so that a permission problem is named as such rather than surfacing
/// as an opaque HTTP client error at the first request.
async fn probe_socket(host: &str, path: &str) -> Result<()> {
    match tokio::net::UnixStream::connect(path).await {
        Ok(_) => Ok(()),
        Err(source) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::PermissionDenied {
                socket: host.to_owned(),
                source,
            })
        }
        Err(source) => Err(Error::Unreachable {
            host: host.to_owned(),
            source: Box::new(source),
        }),
    }
}

fn connect_tls(host: &str, dir: &Path) -> Result<Docker> {
    Docker::connect_with_ssl(
        host,
        &dir.join("key.pem"),
        &dir.join("cert.pem"),
        &dir.join("ca.pem"),
        REQUEST_TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|source| Error::Connection {
        message: format!("tls_cert_path {}: {source}", dir.display()),
    })
}

fn unreachable(host: &str, source: bollard::errors::Error) -> Error {
    Error::Unreachable {
        host: host.to_owned(),
        source: Box::new(source),
    }
}

/// An error of the first requests: the daemon answering with an error is a connection problem,
/// anything below HTTP (refused, reset, timeout) means it is unreachable.
fn classify_connect(host: &str, source: bollard::errors::Error) -> Error {
    match source {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => Error::Connection {
            message: format!("{host} answered HTTP {status_code}: {message}"),
        },
        other => unreachable(host, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_socket_is_unreachable() {
        let dir = tempdir();
        let host = format!("unix://{}/docker.sock", dir.display());
        let settings = DockerSettings {
            host: Some(host.clone()),
            ..DockerSettings::default()
        };
        let error = Engine::connect(&settings).await.map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, Error::Unreachable { host: h, .. } if *h == host),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
        );
    }

    #[tokio::test]
    async fn tls_without_cert_path_is_a_connection_error() {
        let settings = DockerSettings {
            host: Some("tcp://127.0.0.1:1".to_owned()),
            tls_verify: true,
            ..DockerSettings::default()
        };
        let error = Engine::connect(&settings).await.map(|_| ()).unwrap_err();
        assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn unknown_scheme_is_rejected() {
        let settings = DockerSettings {
            host: Some("ssh://box".to_owned()),
            ..DockerSettings::default()
        };
        let error = Engine::connect(&settings).await.map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("ssh://box"), "{error}");
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rexd-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
