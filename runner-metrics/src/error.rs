//! The crate's error type.

use std::path::PathBuf;

use crate::address::AddressError;

/// Failures of the metrics exporter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `listen_address` is malformed.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The host name of the listen address could not be resolved.
    #[error("could not resolve listen address {address}")]
    Resolve {
        /// The address as configured.
        address: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// No socket could be bound; `source` is the error of the last address tried.
    #[error("failed to create listener for metrics server on {address}")]
    Bind {
        /// The address as configured.
        address: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CA file could not be read or holds no usable item.
    #[error("could not load TLS file {}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// rustls rejected the certificate, key or client CA.
    #[error("invalid TLS configuration for the metrics server")]
    TlsConfig {
        /// rustls' error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry could not be written as text.
    #[error("could not encode the metrics registry")]
    Encode(#[source] std::fmt::Error),
}

impl Error {
    /// True for problems of the configuration (address or TLS files) rather than of the
    /// machine (port in use, resolver down).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::Address(_) | Self::TlsFile { .. } | Self::TlsConfig { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
