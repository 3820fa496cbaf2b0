//! Artifacts and cache for gitlab-runner-rs: which files a job's `artifacts:` and `cache:`
//! entries select, archives that keep UNIX modes, symlinks, mtimes and ownership (J6),
//! artifact upload through `runner-api` with a `Content-Length` (C7), dependency download,
//! cache keys sanitised as upstream, and the local, S3, GCS and Azure (pre-signed URL) cache.
//!
//! As upstream, archiving runs where the files are: the job script calls the runner binary
//! in a helper mode (`gitlab-runner-rs artifacts-uploader`, `artifacts-downloader`,
//! `cache-archiver`, `cache-extractor`), on the host for the shell executor and inside the
//! helper container for Docker and Kubernetes. Those commands are thin wrappers over
//! [`upload_artifacts`], [`download_artifacts`], [`archive_cache`] and [`extract_cache`].
//! The runner itself computes cache keys ([`sanitize_cache_key`]) and pre-signed URLs
//! ([`CacheSettings::cache_urls`]) when it generates the job script.
//!
//! What this crate does *not* do: read environment variables or `config.toml` (callers pass
//! plain values, e.g. [`CacheSettings`] mapped from `[runners.cache]`), talk to the
//! coordinator itself (that is `runner-api`), or generate scripts. The distributed cache is
//! S3, GCS (V4 signed URLs, service-account keys) or Azure (service SAS with the account key);
//! `FF_HASH_CACHE_KEYS` ([`CacheJob::hash_keys`]) stores keys under their SHA-256. S3 IAM
//! roles, GCS application default credentials, Azure user delegation keys, the `zipzstd`
//! format and the migration of caches between plain and hashed key names are not
//! implemented.
//!
//! S3 with `AuthenticationType = "iam"`: keep one [`CredentialsProvider`] per
//! `[runners.cache.s3]` for the runner's lifetime (built from an [`AwsEnvironment`] the
//! binary captures from its process environment, see [`CredentialsProvider::for_settings`]),
//! and call [`CacheSettings::resolve_credentials`] before planning a job's cache; the
//! provider caches and refreshes.
//!
//! Start from [`PathSelector`] and [`create_archive`]:
//!
//! ```
//! use runner_artifacts::{ArchiveFormat, CompressionLevel, PathSelector, create_archive, extract_zip};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let project = tempfile::tempdir()?;
//! std::fs::create_dir(project.path().join("bin"))?;
//! std::fs::write(project.path().join("bin/app"), b"binary")?;
//! std::fs::write(project.path().join("bin/app.tmp"), b"scratch")?;
//!
//! let selector = PathSelector {
//!     paths: vec!["bin/".into()],
//!     exclude: vec!["bin/*.tmp".into()],
//!     untracked: false,
//! };
//! let selection = selector.select(project.path())?;
//! assert_eq!(selection.len(), 2); // bin and bin/app
//!
//! let archive = project.path().join("artifacts.zip");
//! create_archive(ArchiveFormat::Zip, CompressionLevel::Default, &selection, &archive)?;
//! let target = tempfile::tempdir()?;
//! extract_zip(&archive, target.path())?;
//! assert_eq!(std::fs::read(target.path().join("bin/app"))?, b"binary");
//! # Ok(())
//! # }
//! ```

mod archive;
mod artifacts;
mod aws_credentials;
mod aws_http;
mod azure;
mod cache;
mod civil;
mod error;
mod gcs;
mod key;
mod pattern;
mod plan;
mod secret;
mod select;
mod settings;
mod sigv4;
mod transfer;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use archive::{
    ArchiveFormat, CompressionLevel, ExtractStats, create_archive, extract_archive, extract_zip,
};
pub use artifacts::{
    ArtifactsDownload, ArtifactsUpload, ArtifactsUploaded, UploadRetry, download_artifacts,
    upload_artifacts,
};
pub use aws_credentials::{
    AwsCredentials, AwsEnvironment, CredentialsError, CredentialsProvider, DEFAULT_REFRESH_MARGIN,
};
pub use azure::{AzureSettings, SAS_VERSION};
pub use cache::{
    CacheArchive, CacheArchived, CacheExtract, NO_DOWNLOAD_URL_MESSAGE, NO_UPLOAD_URL_MESSAGE,
    RemoteCache, RetryPolicy, UploadTarget, archive_cache, extract_cache,
};
pub use error::{Error, Result, render};
pub use gcs::GcsSettings;
pub use key::{
    CachePolicy, UnknownPolicy, UnsanitizableKey, When, is_allowed_fallback_key, sanitize_cache_key,
};
pub use pattern::expand_variables;
pub use plan::{
    CacheEntry, CacheJob, CachePlan, CacheStep, ScriptMessage, plan_archive, plan_restore,
};
pub use secret::Secret;
pub use select::{PathSelector, Selected, Selection};
pub use settings::{CacheSettings, CacheUrls, NoUrlReason, S3Settings};
