//! The cache helper's two halves (executors.md §5.5, §5.6): `cache-archiver` selects files,
//! writes `cache.zip` through a temp file and rename with `metadata.json` beside it, and
//! uploads it to a pre-signed URL; `cache-extractor` downloads (when given a URL) and
//! extracts. Both print upstream's messages; a missing or corrupt cache is an error the job
//! script only warns about.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::archive::{
    ArchiveFormat, CompressionLevel, ExtractStats, create_archive, extract_archive,
};
use crate::error::{Error, Result};
use crate::select::PathSelector;
use crate::transfer::{Download, clean_url, download, upload};

/// Upstream's message when the archiver has no upload URL.
pub const NO_UPLOAD_URL_MESSAGE: &str = "No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally.";
/// Upstream's message when the extractor has no download URL.
pub const NO_DOWNLOAD_URL_MESSAGE: &str = "No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted.";

/// A pre-signed upload: the PUT URL and the headers signed into it.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The pre-signed PUT URL.
    pub url: Url,
    /// Headers to send (`--header "name: value"`).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for UploadTarget {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UploadTarget")
            .field("url", &clean_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// How transfers retry: `attempts` in total, `pause` between them (upstream: 3 and 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub attempts: u32,
    /// Pause between attempts.
    pub pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            pause: Duration::from_secs(1),
        }
    }
}

/// What `cache-archiver` does.
#[derive(Debug, Clone)]
pub struct CacheArchive {
    /// The working directory: the project directory.
    pub project_dir: PathBuf,
    /// `--file`: the local archive, relative to `project_dir` or absolute.
    pub file: PathBuf,
    /// `--path`, `--exclude`, `--untracked`.
    pub selector: PathSelector,
    /// `--url` and `--header`; `None` keeps the cache local only.
    pub upload: Option<UploadTarget>,
    /// `--max-uploaded-archive-size`; 0 is unlimited.
    pub max_uploaded_archive_size: u64,
    /// `CACHE_METADATA`, written to `metadata.json`.
    pub metadata: BTreeMap<String, String>,
    /// `--timeout` for each upload attempt.
    pub timeout: Duration,
    /// `CACHE_COMPRESSION_LEVEL`.
    pub compression: CompressionLevel,
    /// `CACHE_COMPRESSION_FORMAT` ([`ArchiveFormat::for_cache`]): zip or tar+zstd. The file
    /// keeps its name (`cache.zip`) whatever the format, as upstream's.
    pub format: ArchiveFormat,
    /// Upload retries.
    pub retry: RetryPolicy,
}

/// What `cache-archiver` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheArchived {
    /// Nothing matched: `No files to cache.`
    NoFiles,
    /// The archive is newer than every selected file: `Archive is up to date!`
    UpToDate,
    /// A new archive of `size` bytes was written; what happened remotely.
    Created {
        /// Archive size in bytes.
        size: u64,
        /// The remote side.
        remote: RemoteCache,
    },
}

/// The remote side of a cache archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteCache {
    /// Uploaded to the pre-signed URL.
    Uploaded,
    /// No URL: stored only locally.
    NoUrl,
    /// Larger than `max_uploaded_archive_size`: stored only locally.
    TooBig,
}

/// Runs `cache-archiver`.
pub async fn archive_cache(request: &CacheArchive) -> Result<CacheArchived> {
    let project_dir = request.project_dir.clone();
    let selector = request.selector.clone();
    let selection = tokio::task::spawn_blocking(move || selector.select(&project_dir))
        .await
        .map_err(join_error)??;
    if selection.is_empty() {
        tracing::warn!("No files to cache.");
        return Ok(CacheArchived::NoFiles);
    }
    let archive_path = request.project_dir.join(&request.file);
    let archive_modified = std::fs::metadata(&archive_path)
        .and_then(|metadata| metadata.modified())
        .ok();
    if archive_modified.is_some_and(|modified| !selection.has_changed_since(modified)) {
        tracing::info!("Archive is up to date!");
        return Ok(CacheArchived::UpToDate);
    }
    let directory = archive_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&directory).map_err(Error::io(&directory))?;
    let temporary = tempfile::Builder::new()
        .prefix("archive_")
        .tempfile_in(&directory)
        .map_err(Error::io(&directory))?;
    let compression = request.compression;
    let format = match request.format {
        ArchiveFormat::TarZstd => ArchiveFormat::TarZstd,
        _ => ArchiveFormat::Zip,
    };
    let (temporary, size) = tokio::task::spawn_blocking(move || {
        create_archive(format, compression, &selection, temporary.path())
            .map(|size| (temporary, size))
    })
    .await
    .map_err(join_error)??;
    temporary
        .persist(&archive_path)
        .map_err(|error| Error::Io {
            path: archive_path.clone(),
            source: error.error,
        })?;
    write_metadata(&directory, &request.metadata)?;

    let Some(target) = &request.upload else {
        tracing::info!("{NO_UPLOAD_URL_MESSAGE}");
        return Ok(CacheArchived::Created {
            size,
            remote: RemoteCache::NoUrl,
        });
    };
    if request.max_uploaded_archive_size != 0 && size > request.max_uploaded_archive_size {
        tracing::info!(
            "Cache archive size ({size}) is too big (Limit is set to {}). Cache will be stored only locally.",
            request.max_uploaded_archive_size
        );
        return Ok(CacheArchived::Created {
            size,
            remote: RemoteCache::TooBig,
        });
    }
    let file_name = archive_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    retry(request.retry, || async {
        tracing::info!("Uploading {file_name} to {}", clean_url(&target.url));
        upload(&target.url, &target.headers, &archive_path, request.timeout).await
    })
    .await?;
    Ok(CacheArchived::Created {
        size,
        remote: RemoteCache::Uploaded,
    })
}

/// What `cache-extractor` does.
#[derive(Debug, Clone)]
pub struct CacheExtract {
    /// The working directory: the project directory, where files are restored.
    pub project_dir: PathBuf,
    /// `--file`: the local archive, relative to `project_dir` or absolute.
    pub file: PathBuf,
    /// `--url`: the pre-signed GET; `None` extracts the local copy only.
    pub download: Option<Url>,
    /// `--timeout` for each download attempt.
    pub timeout: Duration,
    /// Download retries.
    pub retry: RetryPolicy,
}

/// Runs `cache-extractor`. A failed or missing download, or a missing archive, is
/// [`Error::CacheFileMissing`] or the transfer error (upstream warns and exits 1); a corrupt
/// archive is [`Error::CorruptArchive`]. The job script only warns about any of them. The
/// archive's first bytes say whether it is zip or tar+zstd.
pub async fn extract_cache(request: &CacheExtract) -> Result<ExtractStats> {
    let archive_path = request.project_dir.join(&request.file);
    match &request.download {
        Some(url) => {
            let outcome = retry(request.retry, || {
                download(url, &archive_path, request.timeout)
            })
            .await;
            let file_name = archive_path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            // As upstream, a failed download ends the extractor (exit 1, so the script tries
            // the next fallback key) instead of extracting a possibly stale local copy.
            match outcome {
                Ok(Download::UpToDate) => tracing::info!("{file_name} is up to date"),
                Ok(Download::Written(bytes)) => tracing::info!(bytes, "Downloaded {file_name}"),
                Ok(Download::NotFound) => {
                    tracing::warn!("file does not exist");
                    return Err(Error::CacheFileMissing { path: archive_path });
                }
                Err(error) => {
                    tracing::warn!("{}", crate::render(&error));
                    return Err(error);
                }
            }
        }
        None => tracing::info!("{NO_DOWNLOAD_URL_MESSAGE}"),
    }
    if !archive_path.exists() {
        tracing::warn!("Cache file does not exist");
        return Err(Error::CacheFileMissing { path: archive_path });
    }
    let project_dir = request.project_dir.clone();
    tokio::task::spawn_blocking(move || extract_archive(&archive_path, &project_dir))
        .await
        .map_err(join_error)?
}

fn write_metadata(directory: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
    let normalized: BTreeMap<String, &String> = metadata
        .iter()
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    let path = directory.join("metadata.json");
    let text = serde_json::to_vec(&normalized).map_err(|error| Error::Io {
        path: path.clone(),
        source: error.into(),
    })?;
    std::fs::write(&path, text).map_err(Error::io(&path))
}

/// Runs `operation` up to `policy.attempts` times while it fails with a retryable error,
/// logging `Retrying...` between attempts as upstream's helper does.
pub(crate) async fn retry<T, F, Fut>(policy: RetryPolicy, mut operation: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(error) if error.is_retryable() && attempt < policy.attempts.max(1) => {
                tracing::warn!(error = %crate::render(&error), "Retrying...");
                tokio::time::sleep(policy.pause).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

pub(crate) fn join_error(error: tokio::task::JoinError) -> Error {
    Error::Io {
        path: PathBuf::from("."),
        source: std::io::Error::other(error),
    }
}
