//! The helper modes of the binary, called by generated job scripts where the files are (on
//! the host for the shell executor, in the helper container for Docker and Kubernetes), as
//! upstream's `gitlab-runner artifacts-uploader` and friends: `artifacts-uploader`,
//! `artifacts-downloader`, `cache-archiver`, `cache-extractor`. Flag names and environment
//! variables follow upstream's helper; all the work is in `runner-artifacts`.
//!
//! Each command works in the current directory (the project directory) and exits 1 on
//! failure. Secrets (`--token`, `CI_JOB_TOKEN`) are never printed; prefer the environment
//! variable over the flag so the token stays out of `ps`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use runner_api::{ClientBuilder, Token};
use runner_artifacts::{
    ArtifactsDownload, ArtifactsUpload, CacheArchive, CacheExtract, CompressionLevel, PathSelector,
    RetryPolicy, UploadRetry, UploadTarget, expand_variables,
};

/// Credentials of the job whose artifacts move (`common.JobCredentials` upstream).
#[derive(Debug, clap::Args)]
pub(crate) struct JobCredentialsArgs {
    /// GitLab URL.
    #[arg(long, env = "CI_SERVER_URL")]
    url: String,
    /// Job token.
    #[arg(long, env = "CI_JOB_TOKEN", hide_env_values = true)]
    token: String,
    /// Job id.
    #[arg(long, env = "CI_JOB_ID")]
    id: u64,
    /// CA bundle for the GitLab TLS certificate.
    #[arg(long = "tls-ca-file", env = "CI_SERVER_TLS_CA_FILE")]
    tls_ca_file: Option<PathBuf>,
    /// Client certificate for TLS.
    #[arg(long = "tls-cert-file", env = "CI_SERVER_TLS_CERT_FILE")]
    tls_cert_file: Option<PathBuf>,
    /// Client key for TLS.
    #[arg(long = "tls-key-file", env = "CI_SERVER_TLS_KEY_FILE")]
    tls_key_file: Option<PathBuf>,
}

/// `--path`, `--exclude`, `--untracked` (upstream's `fileArchiver`).
#[derive(Debug, clap::Args)]
pub(crate) struct FileArchiverArgs {
    /// Add paths to archive.
    #[arg(long = "path")]
    paths: Vec<String>,
    /// Exclude paths from the archive.
    #[arg(long = "exclude")]
    exclude: Vec<String>,
    /// Add git untracked files.
    #[arg(long)]
    untracked: bool,
    /// Detailed information.
    #[arg(long)]
    verbose: bool,
}

/// `artifacts-uploader`: create and upload build artifacts (internal).
#[derive(Debug, clap::Args)]
pub(crate) struct ArtifactsUploaderArgs {
    #[command(flatten)]
    credentials: JobCredentialsArgs,
    #[command(flatten)]
    files: FileArchiverArgs,
    /// The name of the archive.
    #[arg(long, default_value = "artifacts")]
    name: String,
    /// When to expire artifacts.
    #[arg(long = "expire-in", default_value = "")]
    expire_in: String,
    /// Format of generated artifacts (zip, gzip, raw).
    #[arg(long = "artifact-format", default_value = "")]
    artifact_format: String,
    /// Type of generated artifacts.
    #[arg(long = "artifact-type", default_value = "")]
    artifact_type: String,
    /// Compression level (fastest, fast, default, slow, slowest).
    #[arg(
        long = "compression-level",
        env = "ARTIFACT_COMPRESSION_LEVEL",
        default_value = ""
    )]
    compression_level: String,
    /// Timeout for the upload operation (Go duration).
    #[arg(long, default_value = "1h0m0s")]
    timeout: String,
    /// Timeout for response headers (Go duration; accepted for compatibility).
    #[arg(long = "response-header-timeout", default_value = "10m0s")]
    response_header_timeout: String,
    /// Directory to stage the archive in.
    #[arg(long = "archiver-staging-dir", env = "ARCHIVER_STAGING_DIR")]
    staging_dir: Option<PathBuf>,
}

/// `artifacts-downloader`: download and extract build artifacts (internal).
#[derive(Debug, clap::Args)]
pub(crate) struct ArtifactsDownloaderArgs {
    #[command(flatten)]
    credentials: JobCredentialsArgs,
    /// Support direct download for data stored externally to GitLab.
    #[arg(long = "direct-download", env = "FF_USE_DIRECT_DOWNLOAD", value_parser = BoolishValueParser::new(),
        num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    direct_download: bool,
    /// Directory to stage the archive in.
    #[arg(long = "archiver-staging-dir", env = "ARCHIVER_STAGING_DIR")]
    staging_dir: Option<PathBuf>,
}

/// `cache-archiver`: create and upload cache artifacts (internal).
#[derive(Debug, clap::Args)]
pub(crate) struct CacheArchiverArgs {
    #[command(flatten)]
    files: FileArchiverArgs,
    /// The path to file.
    #[arg(long)]
    file: PathBuf,
    /// Alternate local cache file, renamed to --file when --file does not exist.
    #[arg(long = "alternate-file")]
    alternate_file: Option<PathBuf>,
    /// URL of remote cache resource (pre-signed URL).
    #[arg(long)]
    url: Option<String>,
    /// Pre-signed HEAD URL (accepted for compatibility).
    #[arg(long = "check-url")]
    check_url: Option<String>,
    /// HTTP headers to send with the PUT request (`key: value`).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Overall timeout for the upload (minutes).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Limit the size of the uploaded archive, in bytes.
    #[arg(
        long = "max-uploaded-archive-size",
        env = "CACHE_MAX_UPLOADED_ARCHIVE_SIZE",
        default_value_t = 0
    )]
    max_uploaded_archive_size: u64,
    /// Metadata for the cache archive (JSON object of strings).
    #[arg(long, env = "CACHE_METADATA")]
    metadata: Option<String>,
    /// Compression level (fastest, fast, default, slow, slowest).
    #[arg(
        long = "compression-level",
        env = "CACHE_COMPRESSION_LEVEL",
        default_value = ""
    )]
    compression_level: String,
    /// Compression format: zip (default) or tarzstd.
    #[arg(
        long = "compression-format",
        env = "CACHE_COMPRESSION_FORMAT",
        default_value = "zip"
    )]
    compression_format: String,
    /// File of `KEY=VALUE` lines (`CACHE_METADATA`).
    #[arg(long = "env-file")]
    env_file: Option<PathBuf>,
}

/// `cache-extractor`: download and extract cache artifacts (internal).
#[derive(Debug, clap::Args)]
pub(crate) struct CacheExtractorArgs {
    /// The file containing your cache artifacts.
    #[arg(long)]
    file: PathBuf,
    /// URL of remote cache resource (pre-signed GET).
    #[arg(long)]
    url: Option<String>,
    /// Pre-signed HEAD URL (accepted for compatibility).
    #[arg(long = "head-url")]
    head_url: Option<String>,
    /// Alternate pre-signed URL (accepted for compatibility).
    #[arg(long = "alternate-url")]
    alternate_url: Option<String>,
    /// Overall timeout for the download (minutes).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// File of `KEY=VALUE` lines (accepted for compatibility).
    #[arg(long = "env-file")]
    env_file: Option<PathBuf>,
}

/// Runs `artifacts-uploader`.
pub(crate) async fn run_artifacts_uploader(args: ArtifactsUploaderArgs) -> anyhow::Result<()> {
    let timeout = parse_go_duration(&args.timeout)
        .with_context(|| format!("invalid --timeout {:?}", args.timeout))?;
    let client = client(&args.credentials, timeout)?;
    let request = ArtifactsUpload {
        project_dir: std::env::current_dir().context("unable to get working directory")?,
        job_id: require_id(&args.credentials)?,
        job_token: Token::new(args.credentials.token.clone()),
        selector: selector(&args.files),
        name: expand_variables(&args.name, env_lookup),
        format: args.artifact_format.clone(),
        artifact_type: args.artifact_type.clone(),
        expire_in: args.expire_in.clone(),
        compression: CompressionLevel::parse(&args.compression_level),
        staging_dir: args.staging_dir.clone().unwrap_or_else(std::env::temp_dir),
        retry: UploadRetry::default(),
    };
    runner_artifacts::upload_artifacts(&client, &request)
        .await
        .map_err(flatten)?;
    Ok(())
}

/// Runs `artifacts-downloader`.
pub(crate) async fn run_artifacts_downloader(args: ArtifactsDownloaderArgs) -> anyhow::Result<()> {
    let client = client(&args.credentials, Duration::from_secs(3600))?;
    let request = ArtifactsDownload {
        project_dir: std::env::current_dir().context("unable to get working directory")?,
        job_id: require_id(&args.credentials)?,
        job_token: Token::new(args.credentials.token.clone()),
        direct_download: args.direct_download,
        staging_dir: args.staging_dir.clone().unwrap_or_else(std::env::temp_dir),
        retry: RetryPolicy::default(),
    };
    runner_artifacts::download_artifacts(&client, &request)
        .await
        .map_err(flatten)?;
    Ok(())
}

/// Runs `cache-archiver`.
pub(crate) async fn run_cache_archiver(args: CacheArchiverArgs) -> anyhow::Result<()> {
    if args.file.as_os_str().is_empty() {
        bail!("Missing --file");
    }
    let project_dir = std::env::current_dir().context("unable to get working directory")?;
    rename_alternate(&project_dir, &args.file, args.alternate_file.as_deref());
    let env_file = read_env_file(args.env_file.as_deref())?;
    let metadata_json = args
        .metadata
        .clone()
        .or_else(|| env_file.get("CACHE_METADATA").cloned());
    let metadata: BTreeMap<String, String> = match metadata_json.as_deref() {
        Some(text) if !text.is_empty() => {
            serde_json::from_str(text).context("invalid CACHE_METADATA")?
        }
        _ => BTreeMap::new(),
    };
    let upload = match args.url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => Some(UploadTarget {
            url: url::Url::parse(url).context("invalid --url")?,
            headers: args
                .headers
                .iter()
                .filter_map(|header| header.split_once(':'))
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .collect(),
        }),
        None => None,
    };
    let request = CacheArchive {
        project_dir,
        file: args.file.clone(),
        selector: selector(&args.files),
        upload,
        max_uploaded_archive_size: args.max_uploaded_archive_size,
        metadata,
        timeout: cache_timeout(args.timeout),
        compression: CompressionLevel::parse(&args.compression_level),
        format: runner_artifacts::ArchiveFormat::for_cache(&args.compression_format),
        retry: RetryPolicy::default(),
    };
    runner_artifacts::archive_cache(&request)
        .await
        .map_err(flatten)?;
    Ok(())
}

/// Runs `cache-extractor`.
pub(crate) async fn run_cache_extractor(args: CacheExtractorArgs) -> anyhow::Result<()> {
    if args.file.as_os_str().is_empty() {
        tracing::warn!("Missing cache file");
        bail!("Missing cache file");
    }
    let download = match args.url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => Some(url::Url::parse(url).context("invalid --url")?),
        None => None,
    };
    let request = CacheExtract {
        project_dir: std::env::current_dir().context("unable to get working directory")?,
        file: args.file.clone(),
        download,
        timeout: cache_timeout(args.timeout),
        retry: RetryPolicy::default(),
    };
    runner_artifacts::extract_cache(&request)
        .await
        .map_err(flatten)?;
    Ok(())
}

fn client(
    credentials: &JobCredentialsArgs,
    timeout: Duration,
) -> anyhow::Result<runner_api::Client> {
    if credentials.url.is_empty() || credentials.token.is_empty() {
        bail!("Missing runner credentials");
    }
    let mut builder = ClientBuilder::new(credentials.url.clone()).transfer_timeout(timeout);
    if let Some(path) = &credentials.tls_ca_file {
        builder = builder.tls_ca_file(path);
    }
    if let (Some(cert), Some(key)) = (&credentials.tls_cert_file, &credentials.tls_key_file) {
        builder = builder.tls_cert_file(cert).tls_key_file(key);
    }
    builder
        .build()
        .context("could not create the GitLab client")
}

fn require_id(credentials: &JobCredentialsArgs) -> anyhow::Result<u64> {
    if credentials.id == 0 {
        bail!("Missing build ID");
    }
    Ok(credentials.id)
}

fn selector(files: &FileArchiverArgs) -> PathSelector {
    PathSelector {
        paths: files
            .paths
            .iter()
            .map(|path| expand_variables(path, env_lookup))
            .collect(),
        exclude: files
            .exclude
            .iter()
            .map(|path| expand_variables(path, env_lookup))
            .collect(),
        untracked: files.untracked,
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Upstream's cache client uses 10 minutes when `--timeout` is 0.
fn cache_timeout(minutes: u64) -> Duration {
    Duration::from_secs(if minutes == 0 { 10 } else { minutes } * 60)
}

/// One line with the whole cause chain, as upstream's `FATAL: <err>`.
fn flatten(error: runner_artifacts::Error) -> anyhow::Error {
    anyhow::anyhow!(runner_artifacts::render(&error))
}

/// Moves a cache archive saved under the other naming scheme into place.
fn rename_alternate(project_dir: &Path, file: &Path, alternate: Option<&Path>) {
    let Some(alternate) = alternate.filter(|alternate| *alternate != file) else {
        return;
    };
    let (primary, alternate) = (project_dir.join(file), project_dir.join(alternate));
    if primary.exists() || !alternate.exists() {
        return;
    }
    if let Some(parent) = primary.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::rename(&alternate, &primary) {
        Ok(()) => tracing::info!("Renamed alternate cache file to primary"),
        Err(error) => tracing::warn!(%error, "Failed to rename alternate cache file to primary"),
    }
}

/// Reads `KEY=VALUE` lines (no shell evaluation); a missing file is an error.
fn read_env_file(path: Option<&Path>) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(path) = path else {
        return Ok(BTreeMap::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading env file {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().trim_start_matches("export ").to_owned(),
                value.to_owned(),
            )
        })
        .collect())
}

/// Parses a Go duration such as `1h0m0s`, `10m`, `90s`, `1.5h`, `500ms` (a negative one is
/// zero).
fn parse_go_duration(text: &str) -> anyhow::Result<Duration> {
    let nanos = runner_core::parse_go_duration(text.trim())
        .map_err(|reason| anyhow::anyhow!("invalid duration {text:?}: {reason}"))?;
    Ok(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() -> anyhow::Result<()> {
        assert_eq!(parse_go_duration("1h0m0s")?, Duration::from_secs(3600));
        assert_eq!(parse_go_duration("10m0s")?, Duration::from_secs(600));
        assert_eq!(parse_go_duration("1.5h")?, Duration::from_secs(5400));
        assert!(parse_go_duration("5 minutes").is_err());
        Ok(())
    }

    #[test]
    fn env_files_are_read_verbatim() -> anyhow::Result<()> {
        let directory = tempfile::tempdir()?;
        let path = directory.path().join("env");
        std::fs::write(&path, "CACHE_METADATA={\"cachekey\":\"k\"}\n")?;
        let values = read_env_file(Some(&path))?;
        assert_eq!(values["CACHE_METADATA"], "{\"cachekey\":\"k\"}");
        Ok(())
    }
}
