//! The artifact helper's two halves: `artifacts-uploader` selects files, archives them to a
//! staging file and uploads it through `runner-api` with an exact `Content-Length` (C7),
//! retrying as upstream (§13.2); `artifacts-downloader` fetches a dependency's archive and
//! extracts it into the project directory.

use std::path::PathBuf;
use std::time::Duration;

use runner_api::{ArtifactUpload, Client, Token};

use crate::archive::{
    ArchiveFormat, CompressionLevel, ExtractStats, create_archive, extract_archive,
};
use crate::cache::{RetryPolicy, join_error};
use crate::error::{Error, Result};
use crate::select::PathSelector;

/// Upload retries (§13.2): `tries` in total, `unavailable_tries` when the last answer was
/// 503, waits doubling from `min_wait` up to `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRetry {
    /// Tries in total after ordinary failures (upstream: 3).
    pub tries: u32,
    /// Tries in total when the coordinator answers 503 (upstream: 6).
    pub unavailable_tries: u32,
    /// The first wait (upstream: 1 s).
    pub min_wait: Duration,
    /// The largest wait (upstream: 5 s).
    pub max_wait: Duration,
}

impl Default for UploadRetry {
    fn default() -> Self {
        Self {
            tries: 3,
            unavailable_tries: 6,
            min_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// What `artifacts-uploader` does.
#[derive(Debug, Clone)]
pub struct ArtifactsUpload {
    /// The working directory: the project directory.
    pub project_dir: PathBuf,
    /// `--id`.
    pub job_id: u64,
    /// `--token` (the job token).
    pub job_token: Token,
    /// `--path`, `--exclude`, `--untracked`.
    pub selector: PathSelector,
    /// `--name` (default `artifacts`; the uploaded file is `<base name><ext>`).
    pub name: String,
    /// `--artifact-format`, as given (empty means zip and sends no `artifact_format`).
    pub format: String,
    /// `--artifact-type`.
    pub artifact_type: String,
    /// `--expire-in`, passed through.
    pub expire_in: String,
    /// `ARTIFACT_COMPRESSION_LEVEL`.
    pub compression: CompressionLevel,
    /// Where the archive is staged before the upload (the system temp dir by default).
    pub staging_dir: PathBuf,
    /// Retries.
    pub retry: UploadRetry,
}

/// What `artifacts-uploader` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactsUploaded {
    /// Nothing matched: `ERROR: No files to upload`, and still a success.
    NoFiles,
    /// The coordinator answered 201.
    Uploaded {
        /// Archive size in bytes.
        size: u64,
    },
}

/// Runs `artifacts-uploader` against `client` (built for the coordinator URL `--url`).
/// Fails on 403 and 413 at once ([`Error::is_too_large`]), after the retries otherwise.
pub async fn upload_artifacts(
    client: &Client,
    request: &ArtifactsUpload,
) -> Result<ArtifactsUploaded> {
    let format: ArchiveFormat = request.format.parse()?;
    let project_dir = request.project_dir.clone();
    let selector = request.selector.clone();
    let selection = tokio::task::spawn_blocking(move || selector.select(&project_dir))
        .await
        .map_err(join_error)??;
    if selection.is_empty() {
        tracing::error!("No files to upload");
        return Ok(ArtifactsUploaded::NoFiles);
    }
    std::fs::create_dir_all(&request.staging_dir).map_err(Error::io(&request.staging_dir))?;
    let staged = tempfile::Builder::new()
        .prefix("artifacts")
        .tempfile_in(&request.staging_dir)
        .map_err(Error::io(&request.staging_dir))?;
    let compression = request.compression;
    let (staged, size) = tokio::task::spawn_blocking(move || {
        create_archive(format, compression, &selection, staged.path()).map(|size| (staged, size))
    })
    .await
    .map_err(join_error)??;
    let upload = ArtifactUpload {
        path: staged.path().to_path_buf(),
        name: request.name.clone(),
        format: request.format.clone(),
        artifact_type: request.artifact_type.clone(),
        expire_in: request.expire_in.clone(),
    };
    let mut tries = 0u32;
    let mut wait = request.retry.min_wait;
    loop {
        tries += 1;
        let error = match client
            .upload_artifacts(request.job_id, &request.job_token, &upload)
            .await
        {
            Ok(()) => return Ok(ArtifactsUploaded::Uploaded { size }),
            Err(error) => error,
        };
        let limit = match error.status() {
            Some(403 | 413) => return Err(Error::Api(error)),
            Some(503) => request.retry.unavailable_tries,
            _ if error.is_cancelled() => return Err(Error::Api(error)),
            _ => request.retry.tries,
        };
        if tries >= limit {
            return Err(Error::Api(error));
        }
        tracing::warn!(error = %crate::render(&error), "Retrying...");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(request.retry.max_wait);
    }
}

/// What `artifacts-downloader` does.
#[derive(Debug, Clone)]
pub struct ArtifactsDownload {
    /// The working directory: the project directory, where the files land.
    pub project_dir: PathBuf,
    /// `--id` of the dependency.
    pub job_id: u64,
    /// `--token` of the dependency.
    pub job_token: Token,
    /// `--direct-download` (`FF_USE_DIRECT_DOWNLOAD`): ask for object-storage redirects on the
    /// first attempt.
    pub direct_download: bool,
    /// Where the archive is staged before extraction.
    pub staging_dir: PathBuf,
    /// Retries of generic failures (upstream: 3 attempts, 1 s apart; never 401/403/404).
    pub retry: RetryPolicy,
}

/// Runs `artifacts-downloader`: downloads the dependency's archive and extracts it.
pub async fn download_artifacts(
    client: &Client,
    request: &ArtifactsDownload,
) -> Result<ExtractStats> {
    std::fs::create_dir_all(&request.staging_dir).map_err(Error::io(&request.staging_dir))?;
    let staged = tempfile::Builder::new()
        .prefix("artifacts")
        .suffix(".zip")
        .tempfile_in(&request.staging_dir)
        .map_err(Error::io(&request.staging_dir))?;
    let mut attempt = 1u32;
    loop {
        let direct = request.direct_download && attempt == 1;
        match client
            .download_artifacts(request.job_id, &request.job_token, staged.path(), direct)
            .await
        {
            Ok(_) => break,
            Err(error) => {
                let permanent =
                    matches!(error.status(), Some(401 | 403 | 404)) || error.is_cancelled();
                if permanent || attempt >= request.retry.attempts.max(1) {
                    return Err(Error::Api(error));
                }
                tracing::warn!(error = %crate::render(&error), "Retrying...");
                tokio::time::sleep(request.retry.pause).await;
                attempt += 1;
            }
        }
    }
    tracing::info!(
        job = request.job_id,
        "Downloading artifacts from coordinator... ok"
    );
    let project_dir = request.project_dir.clone();
    tokio::task::spawn_blocking(move || extract_archive(staged.path(), &project_dir))
        .await
        .map_err(join_error)?
}
