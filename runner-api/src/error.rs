//! Failures while talking to the GitLab coordinator.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed foreign error, hiding the dependency's type.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Failures while talking to the GitLab coordinator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured URL cannot be used (bad syntax or a scheme other than http/https).
    #[error("invalid coordinator url {url}: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// Why it was rejected, e.g. `only http or https scheme supported`.
        reason: String,
    },
    /// A TLS file could not be read or parsed.
    #[error("could not load tls file {}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The TLS client could not be configured.
    #[error("could not configure tls")]
    TlsConfig(#[source] BoxError),
    /// The request could not be executed (DNS, refused, TLS, reset).
    #[error("couldn't execute {method} against {url}")]
    Connect {
        /// HTTP method.
        method: String,
        /// URL without credentials.
        url: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// No response within the per-request timeout.
    #[error("{method} {url} timed out after {after:?}")]
    Timeout {
        /// HTTP method.
        method: String,
        /// URL.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The coordinator rejected the runner token (403 on verify or job request).
    #[error(
        "{endpoint}: 403 Forbidden: the runner token is invalid or expired, or the runner was removed from GitLab; re-register the runner"
    )]
    InvalidRunnerToken {
        /// Endpoint name, e.g. `verify_runner`.
        endpoint: &'static str,
    },
    /// 403 elsewhere (registration token rejected, job token no longer valid).
    #[error("{endpoint}: 403 Forbidden{}", message_suffix(message))]
    Forbidden {
        /// Endpoint name.
        endpoint: &'static str,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// 404.
    #[error("{endpoint}: 404 Not Found{}", message_suffix(message))]
    NotFound {
        /// Endpoint name.
        endpoint: &'static str,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// 413 on artifact upload: the instance's maximum artifacts size must be raised.
    #[error(
        "uploading artifacts to {url}: 413 Request Entity Too Large (raise the maximum artifacts size of the GitLab instance)"
    )]
    TooLarge {
        /// Upload URL.
        url: String,
    },
    /// Any other unexpected status (after retries for retriable ones).
    #[error("{endpoint}: {}{}", status_line(*status), message_suffix(message))]
    Status {
        /// Endpoint name.
        endpoint: &'static str,
        /// HTTP status code.
        status: u16,
        /// The server's message, rendered as the reference runner does.
        message: Option<String>,
    },
    /// A success response whose body is not the expected JSON.
    #[error("{endpoint}: could not decode the response")]
    Decode {
        /// Endpoint name.
        endpoint: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Reading or writing a local file failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Redirect limit (10) exceeded or a redirect without a usable `Location`.
    #[error("bad or too many redirects from {url}")]
    Redirect {
        /// The last URL.
        url: String,
    },
    /// Shutdown was requested while the request or its retry wait was pending.
    #[error("request cancelled by shutdown")]
    Cancelled,
}

/// `429 Too Many Requests`: the code and its canonical reason.
pub(crate) fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn message_suffix(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|text| format!(" ({text})"))
        .unwrap_or_default()
}

impl Error {
    /// Whether trying the same operation again later may succeed
    /// (transport failures, timeouts, 408/429/5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => crate::retry::is_retriable_status(*status),
            _ => false,
        }
    }

    /// Whether a token was rejected (403 anywhere).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::InvalidRunnerToken { .. } | Self::Forbidden { .. }
        )
    }

    /// Whether the resource was not found (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether the coordinator said it is unavailable (503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Status { status: 503, .. })
    }

    /// Whether the failure happened before any I/O (bad URL, TLS files): the
    /// reference counts these as "client error" and unhealthy.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::InvalidUrl { .. } | Self::TlsFile { .. } | Self::TlsConfig(_)
        )
    }

    /// Whether shutdown interrupted the request.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// The HTTP status, when the failure is a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InvalidRunnerToken { .. } | Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::TooLarge { .. } => Some(413),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
