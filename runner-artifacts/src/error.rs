//! Failures of archiving, extracting and transferring artifacts and caches.

use std::path::PathBuf;

/// A boxed foreign error, hiding the dependency's type.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Failures of archiving, extracting and transferring artifacts and caches.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a local file failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `paths` or `exclude` pattern is not a valid glob.
    #[error("invalid glob pattern {pattern:?}")]
    Glob {
        /// The pattern as given.
        pattern: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The archive could not be read: truncated, corrupt or not an archive at all.
    #[error("corrupt archive {}", path.display())]
    CorruptArchive {
        /// The archive.
        path: PathBuf,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// An archive could not be written.
    #[error("could not write archive {}", path.display())]
    WriteArchive {
        /// The archive.
        path: PathBuf,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// An archive entry would land outside the target directory or go through a symlink.
    #[error("archive entry {name:?} escapes the target directory")]
    UnsafeEntry {
        /// The entry's name as stored.
        name: String,
    },
    /// The local cache archive does not exist (upstream: `Cache file does not exist`).
    #[error("cache file does not exist: {}", path.display())]
    CacheFileMissing {
        /// The expected archive.
        path: PathBuf,
    },
    /// The raw artifact format takes exactly one file.
    #[error("only one file can be sent as raw")]
    TooManyRawFiles,
    /// The archive format is not supported here.
    #[error("unsupported archive format {format:?}")]
    UnsupportedFormat {
        /// The format name.
        format: String,
    },
    /// A pre-signed URL transfer could not be executed (DNS, refused, TLS, reset).
    #[error("{method} {url} failed")]
    Transfer {
        /// HTTP method.
        method: &'static str,
        /// URL without its query (pre-signed signatures are never shown).
        url: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A pre-signed URL transfer got an unexpected status.
    #[error("{method} {url}: {status}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// URL without its query.
        url: String,
        /// Status code.
        status: u16,
    },
    /// A pre-signed URL transfer did not finish within its timeout.
    #[error("{method} {url} timed out")]
    Timeout {
        /// HTTP method.
        method: &'static str,
        /// URL without its query.
        url: String,
    },
    /// A URL given to a helper is not usable.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL without its query.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The coordinator refused or failed an artifact transfer.
    #[error("artifacts transfer failed")]
    Api(#[source] runner_api::Error),
}

impl Error {
    /// Whether the archive was unreadable or unsafe (a corrupt cache only warns).
    pub fn is_corrupt_archive(&self) -> bool {
        matches!(self, Self::CorruptArchive { .. } | Self::UnsafeEntry { .. })
    }

    /// Whether the coordinator answered 413: the instance's size limit must be raised.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::Api(error) if error.status() == Some(413))
    }

    /// Whether trying again may succeed (transport failures, timeouts, 5xx, 408, 429).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transfer { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Api(error) => error.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `error: cause: cause`, the whole source chain on one line (for logs and FATAL lines).
pub fn render(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
