//! `[runners.cache]` as plain values, remote object names and the pre-signed URLs the
//! runner hands to the cache helper; [`NoUrlReason`] says why there is no URL when the
//! configuration cannot produce one (the helper then prints `No URL provided, ...`).

use std::fmt;
use std::time::{Duration, SystemTime};

use url::Url;

use crate::aws_credentials::AwsCredentials;
use crate::azure::AzureSettings;
use crate::gcs::GcsSettings;
use crate::secret::Secret;
use crate::sigv4::{PresignInput, presign, uri_encode};

/// `[runners.cache]`, mapped from config.toml by the binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSettings {
    /// `Type`: empty (local cache only), `s3`, `gcs` or `azure`.
    pub cache_type: String,
    /// `Path`: prefix of object names.
    pub path: String,
    /// `Shared`: when false, objects live under `runner/<short token>/`.
    pub shared: bool,
    /// `MaxUploadedArchiveSize` in bytes; 0 is unlimited.
    pub max_uploaded_archive_size: u64,
    /// `[runners.cache.s3]`.
    pub s3: Option<S3Settings>,
    /// `[runners.cache.gcs]`.
    pub gcs: Option<GcsSettings>,
    /// `[runners.cache.azure]`.
    pub azure: Option<AzureSettings>,
}

/// `[runners.cache.s3]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `ServerAddress`: `host[:port]`; empty means AWS.
    pub server_address: String,
    /// `AccessKey`.
    pub access_key: String,
    /// `SecretKey`.
    pub secret_key: Secret,
    /// `SessionToken`.
    pub session_token: Secret,
    /// `BucketName`.
    pub bucket_name: String,
    /// `BucketLocation`; empty means `us-east-1`.
    pub bucket_location: String,
    /// `Insecure`: use `http://`.
    pub insecure: bool,
    /// `PathStyle`; `None` auto-detects (virtual-host style only for AWS endpoints).
    pub path_style: Option<bool>,
    /// `AuthenticationType`: `access-key`, `iam` or empty (derived, see
    /// [`S3Settings::uses_iam`]).
    pub authentication_type: String,
    /// `RoleARN`: assumed by [`crate::CredentialsProvider`] for the IAM credentials.
    pub role_arn: String,
    /// The IAM credentials that sign URLs when [`S3Settings::uses_iam`]: filled by the caller
    /// from a long-lived [`crate::CredentialsProvider`] before planning (the signing itself
    /// stays synchronous). `None` under IAM gives [`NoUrlReason::IamCredentialsUnavailable`].
    pub credentials: Option<AwsCredentials>,
    /// `ServerSideEncryption`: `S3`/`AES256`, `KMS`/`aws:kms`, `DSSE-KMS`/`aws:kms:dsse`, or
    /// empty.
    pub server_side_encryption: String,
    /// `ServerSideEncryptionKeyID`.
    pub server_side_encryption_key_id: String,
}

/// Why the configuration produces no pre-signed URL. Logged by the runner; the helper then
/// says `No URL provided, cache will not be downloaded/uploaded ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoUrlReason {
    /// No `[runners.cache]` `Type`: local cache only.
    #[error("no distributed cache is configured ([runners.cache] Type is empty)")]
    NotConfigured,
    /// `Type` names a backend this runner does not implement.
    #[error("cache factory not found: unsupported cache Type {0:?}")]
    UnsupportedType(String),
    /// `Type = "s3"` without `[runners.cache.s3]`.
    #[error("missing S3 configuration")]
    MissingS3Section,
    /// No `BucketName`.
    #[error("error while generating S3 pre-signed URL: bucket name cannot be empty")]
    MissingBucket,
    /// `AuthenticationType = "access-key"` without `AccessKey` and `SecretKey`.
    #[error("S3 credentials are missing: set AccessKey and SecretKey")]
    MissingCredentials,
    /// IAM authentication, but the caller resolved no credentials (see
    /// [`S3Settings::credentials`]).
    #[error("S3 IAM credentials are not available (AuthenticationType iam)")]
    IamCredentialsUnavailable,
    /// `ServerAddress` is not `host[:port]`.
    #[error("invalid S3 ServerAddress {0:?}")]
    InvalidServerAddress(String),
    /// The key is empty.
    #[error("empty cache key")]
    EmptyKey,
    /// `Type = "gcs"` without `[runners.cache.gcs]`.
    #[error("missing GCS configuration")]
    MissingGcsSection,
    /// `Type = "azure"` without `[runners.cache.azure]`.
    #[error("missing Azure configuration")]
    MissingAzureSection,
    /// The GCS settings cannot sign (bucket, credentials file, key).
    #[error("error while generating GCS pre-signed URL: {0}")]
    Gcs(String),
    /// The Azure settings cannot sign; the text is upstream's where it has one.
    #[error("{0}")]
    Azure(String),
    /// The object name would leave the project's prefix.
    #[error("computed cache path outside of project bucket. Please remove `../` from cache key")]
    OutsideProject,
}

/// The pre-signed requests for one cache key.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheUrls {
    /// GET, for `cache-extractor --url`.
    pub download: Url,
    /// HEAD, for `--head-url` / `--check-url`.
    pub head: Url,
    /// PUT, for `cache-archiver --url`.
    pub upload: Url,
    /// Headers the PUT must carry (`--header "name: value"`), signed into `upload`.
    pub upload_headers: Vec<(String, String)>,
}

impl fmt::Debug for CacheUrls {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CacheUrls")
            .field("download", &crate::transfer::clean_url(&self.download))
            .field("upload", &crate::transfer::clean_url(&self.upload))
            .finish_non_exhaustive()
    }
}

impl CacheSettings {
    /// The remote object name: `[<Path>/][runner/<short token>/]project/<id>/<key>`.
    pub fn object_name(
        &self,
        short_token: &str,
        project_id: u64,
        key: &str,
    ) -> Result<String, NoUrlReason> {
        if key.is_empty() {
            return Err(NoUrlReason::EmptyKey);
        }
        let mut base: Vec<&str> = self
            .path
            .split('/')
            .filter(|part| !part.is_empty())
            .collect();
        if !self.shared {
            base.extend(["runner", short_token]);
        }
        let project = project_id.to_string();
        base.extend(["project", project.as_str()]);
        let base = base.join("/");
        let full = crate::key::sanitize_cache_key(&format!("{base}/{key}"))
            .map_err(|_| NoUrlReason::OutsideProject)?;
        if !full.starts_with(&format!("{base}/")) {
            return Err(NoUrlReason::OutsideProject);
        }
        Ok(full)
    }

    /// Pre-signed GET, HEAD and PUT URLs for `key`, valid for `expires` from `now`
    /// (upstream uses the job timeout). `metadata` becomes `x-amz-meta-*` upload headers.
    pub fn cache_urls(
        &self,
        short_token: &str,
        project_id: u64,
        key: &str,
        metadata: &[(&str, &str)],
        expires: Duration,
        now: SystemTime,
    ) -> Result<CacheUrls, NoUrlReason> {
        let s3 = match self.cache_type.as_str() {
            "" => return Err(NoUrlReason::NotConfigured),
            "s3" => self.s3.as_ref().ok_or(NoUrlReason::MissingS3Section)?,
            "gcs" | "azure" => {
                return self.cloud_urls(short_token, project_id, key, metadata, expires, now);
            }
            other => return Err(NoUrlReason::UnsupportedType(other.to_owned())),
        };
        let object = self.object_name(short_token, project_id, key)?;
        if s3.bucket_name.is_empty() {
            return Err(NoUrlReason::MissingBucket);
        }
        let has_keys = !s3.access_key.is_empty() && !s3.secret_key.is_empty();
        // Transitional: until the binary resolves IAM credentials (TODO(#20)), a derived
        // (not explicit) `iam` with complete keys keeps signing with the keys, as before.
        let derived_with_keys = s3.authentication_type.is_empty() && has_keys;
        let (access_key, secret_key, session_token) = match &s3.credentials {
            Some(credentials) if s3.uses_iam() => (
                credentials.access_key_id.as_str(),
                &credentials.secret_access_key,
                &credentials.session_token,
            ),
            None if s3.uses_iam() && !derived_with_keys => {
                return Err(NoUrlReason::IamCredentialsUnavailable);
            }
            _ if !has_keys => return Err(NoUrlReason::MissingCredentials),
            _ => (s3.access_key.as_str(), &s3.secret_key, &s3.session_token),
        };
        let endpoint = Endpoint::resolve(s3)?;
        let mut upload_headers = s3.encryption_headers();
        for (name, value) in metadata {
            upload_headers.push((
                format!("x-amz-meta-{}", name.to_ascii_lowercase()),
                (*value).to_owned(),
            ));
        }
        let sign = |method: &str, headers: &[(String, String)]| -> Result<Url, NoUrlReason> {
            let (host, path) = endpoint.host_and_path(&s3.bucket_name, &object);
            let text = presign(&PresignInput {
                method,
                scheme: endpoint.scheme,
                host: &host,
                encoded_path: &path,
                region: &endpoint.region,
                access_key,
                secret_key: secret_key.expose(),
                session_token: (!session_token.is_empty()).then(|| session_token.expose()),
                expires_seconds: expires.as_secs().clamp(1, 604_800),
                headers,
                now,
            });
            Url::parse(&text)
                .map_err(|_| NoUrlReason::InvalidServerAddress(s3.server_address.clone()))
        };
        Ok(CacheUrls {
            download: sign("GET", &[])?,
            head: sign("HEAD", &[])?,
            upload: sign("PUT", &upload_headers)?,
            upload_headers,
        })
    }
}

impl CacheSettings {
    /// The GCS and Azure URLs (`gcs.rs`, `azure.rs`), for the same object names as S3.
    fn cloud_urls(
        &self,
        short_token: &str,
        project_id: u64,
        key: &str,
        metadata: &[(&str, &str)],
        expires: Duration,
        now: SystemTime,
    ) -> Result<CacheUrls, NoUrlReason> {
        if self.cache_type == "gcs" {
            let gcs = self.gcs.as_ref().ok_or(NoUrlReason::MissingGcsSection)?;
            let object = self.object_name(short_token, project_id, key)?;
            let max_size = self.max_uploaded_archive_size;
            crate::gcs::cache_urls(gcs, &object, metadata, max_size, expires, now)
        } else {
            let azure = self
                .azure
                .as_ref()
                .ok_or(NoUrlReason::MissingAzureSection)?;
            let object = self.object_name(short_token, project_id, key)?;
            crate::azure::cache_urls(azure, &object, metadata, expires, now)
        }
    }
}

impl S3Settings {
    /// Whether URLs are signed with IAM credentials (the chain of the runner process) rather
    /// than `AccessKey`/`SecretKey`: `AuthenticationType` `iam` (or any value other than
    /// `access-key`), or, when it is empty, whenever one of `ServerAddress`, `AccessKey` and
    /// `SecretKey` is empty (upstream's rule, quirk included: on AWS without a
    /// `ServerAddress`, keys are ignored unless `access-key` is explicit).
    pub fn uses_iam(&self) -> bool {
        if self.authentication_type.is_empty() {
            self.server_address.is_empty()
                || self.access_key.is_empty()
                || self.secret_key.is_empty()
        } else {
            !self.authentication_type.eq_ignore_ascii_case("access-key")
        }
    }

    /// Upstream's `ServerSideEncryption` values: `S3`/`AES256`, `KMS`/`AWS:KMS` and
    /// `DSSE-KMS`/`AWS:KMS:DSSE` (with `ServerSideEncryptionKeyID` when set); anything else
    /// is warned about and ignored.
    fn encryption_headers(&self) -> Vec<(String, String)> {
        let algorithm = match self.server_side_encryption.to_ascii_uppercase().as_str() {
            "" => return Vec::new(),
            "S3" | "AES256" => "AES256",
            "KMS" | "AWS:KMS" => "aws:kms",
            "DSSE-KMS" | "AWS:KMS:DSSE" => "aws:kms:dsse",
            _ => {
                tracing::warn!(
                    "unknown ServerSideEncryption value: {}",
                    self.server_side_encryption
                );
                return Vec::new();
            }
        };
        let mut headers = vec![(
            "x-amz-server-side-encryption".to_owned(),
            algorithm.to_owned(),
        )];
        if algorithm != "AES256" && !self.server_side_encryption_key_id.is_empty() {
            headers.push((
                "x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
                self.server_side_encryption_key_id.clone(),
            ));
        }
        headers
    }
}

/// Where requests go.
struct Endpoint {
    scheme: &'static str,
    host: String,
    region: String,
    path_style: bool,
}

impl Endpoint {
    fn resolve(s3: &S3Settings) -> Result<Self, NoUrlReason> {
        let scheme = if s3.insecure { "http" } else { "https" };
        let region = if s3.bucket_location.is_empty() {
            "us-east-1".to_owned()
        } else {
            s3.bucket_location.clone()
        };
        let mut host = if s3.server_address.is_empty() {
            if region == "us-east-1" {
                "s3.amazonaws.com".to_owned()
            } else {
                format!("s3.{region}.amazonaws.com")
            }
        } else {
            s3.server_address.clone()
        };
        let default_port = if s3.insecure { ":80" } else { ":443" };
        if let Some(stripped) = host.strip_suffix(default_port) {
            host = stripped.to_owned();
        }
        let valid = !host.is_empty()
            && Url::parse(&format!("{scheme}://{host}/"))
                .is_ok_and(|url| url.path() == "/" && url.username().is_empty());
        if !valid || host.contains('/') {
            return Err(NoUrlReason::InvalidServerAddress(s3.server_address.clone()));
        }
        let is_aws = host.ends_with("amazonaws.com");
        let path_style = s3.path_style.unwrap_or(!is_aws) || s3.bucket_name.contains('.');
        Ok(Self {
            scheme,
            host,
            region,
            path_style,
        })
    }

    fn host_and_path(&self, bucket: &str, object: &str) -> (String, String) {
        let object = uri_encode(object, false);
        if self.path_style {
            (
                self.host.clone(),
                format!("/{}/{object}", uri_encode(bucket, true)),
            )
        } else {
            (format!("{bucket}.{}", self.host), format!("/{object}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CacheSettings {
        CacheSettings {
            cache_type: "s3".into(),
            path: "prefix".into(),
            s3: Some(S3Settings {
                server_address: "127.0.0.1:9000".into(),
                access_key: "AKIA".into(),
                secret_key: Secret::new("very-secret"),
                bucket_name: "runner".into(),
                insecure: true,
                ..S3Settings::default()
            }),
            ..CacheSettings::default()
        }
    }

    #[test]
    fn object_names_follow_upstream_layout() {
        let mut cache = settings();
        assert_eq!(
            cache.object_name("abc", 7, "main").unwrap(),
            "prefix/runner/abc/project/7/main"
        );
        cache.shared = true;
        cache.path.clear();
        assert_eq!(cache.object_name("abc", 7, "a/b").unwrap(), "project/7/a/b");
        assert_eq!(
            cache.object_name("abc", 7, "../../x"),
            Err(NoUrlReason::OutsideProject)
        );
    }

    #[test]
    fn urls_are_path_style_for_custom_endpoints() {
        let urls = settings()
            .cache_urls(
                "abc",
                7,
                "main",
                &[("cachekey", "main")],
                Duration::from_secs(3600),
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        assert!(
            urls.download
                .as_str()
                .starts_with("http://127.0.0.1:9000/runner/prefix/runner/abc/project/7/main?")
        );
        assert!(
            urls.upload
                .as_str()
                .contains("X-Amz-SignedHeaders=host%3Bx-amz-meta-cachekey")
        );
        assert!(!format!("{urls:?}").contains("X-Amz-Signature"));
    }

    #[test]
    fn presigned_put_matches_botocore() {
        // Reference: botocore's S3SigV4QueryAuth for the same request at 2024-01-02T03:04:05Z.
        let now = crate::civil::from_unix_seconds(1_704_164_645);
        let urls = settings()
            .cache_urls(
                "abc",
                7,
                "main",
                &[("cachekey", "main")],
                Duration::from_secs(3600),
                now,
            )
            .unwrap();
        assert_eq!(
            urls.upload.as_str(),
            "http://127.0.0.1:9000/runner/prefix/runner/abc/project/7/main?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIA%2F20240102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240102T030405Z\
             &X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bx-amz-meta-cachekey\
             &X-Amz-Signature=a49798a5bb097c7ddd252db599dc5619a8c3bcb64836a7cf2cff2c448dd5d685"
        );
        assert_eq!(
            urls.upload_headers,
            [("x-amz-meta-cachekey".to_owned(), "main".to_owned())]
        );
    }

    #[test]
    fn incomplete_configurations_give_reasons() {
        let check = |cache: CacheSettings, reason: NoUrlReason| {
            let result = cache.cache_urls(
                "abc",
                1,
                "k",
                &[],
                Duration::from_secs(60),
                SystemTime::UNIX_EPOCH,
            );
            assert_eq!(result.unwrap_err(), reason);
        };
        check(CacheSettings::default(), NoUrlReason::NotConfigured);
        check(
            CacheSettings {
                s3: None,
                ..settings()
            },
            NoUrlReason::MissingS3Section,
        );
        let mut no_bucket = settings();
        if let Some(s3) = no_bucket.s3.as_mut() {
            s3.bucket_name.clear();
        }
        check(no_bucket, NoUrlReason::MissingBucket);
        let mut no_keys = settings();
        if let Some(s3) = no_keys.s3.as_mut() {
            s3.secret_key = Secret::default();
        }
        check(no_keys.clone(), NoUrlReason::IamCredentialsUnavailable);
        if let Some(s3) = no_keys.s3.as_mut() {
            s3.authentication_type = "access-key".into();
        }
        check(no_keys, NoUrlReason::MissingCredentials);
        check(
            CacheSettings {
                cache_type: "gcs".into(),
                ..settings()
            },
            NoUrlReason::MissingGcsSection,
        );
        check(
            CacheSettings {
                cache_type: "azure".into(),
                ..settings()
            },
            NoUrlReason::MissingAzureSection,
        );
        check(
            CacheSettings {
                cache_type: "ftp".into(),
                ..settings()
            },
            NoUrlReason::UnsupportedType("ftp".into()),
        );
    }

    #[test]
    fn iam_credentials_sign_with_a_security_token() {
        let mut cache = settings();
        if let Some(s3) = cache.s3.as_mut() {
            s3.authentication_type = "IAM".into();
            s3.server_side_encryption = "KMS".into();
            s3.server_side_encryption_key_id = "key-1".into();
            s3.credentials = Some(AwsCredentials {
                access_key_id: "ASIATEMP".into(),
                secret_access_key: Secret::new("temp-secret"),
                session_token: Secret::new("token/with+chars"),
                expires_at: None,
            });
        }
        let urls = cache
            .cache_urls(
                "abc",
                7,
                "main",
                &[],
                Duration::from_secs(60),
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        for url in [&urls.download, &urls.head, &urls.upload] {
            let query = url.query().unwrap();
            assert!(query.contains("X-Amz-Credential=ASIATEMP%2F"), "{query}");
            assert!(
                query.contains("X-Amz-Security-Token=token%2Fwith%2Bchars"),
                "{query}"
            );
        }
        assert_eq!(
            urls.upload_headers,
            [
                (
                    "x-amz-server-side-encryption".to_owned(),
                    "aws:kms".to_owned()
                ),
                (
                    "x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
                    "key-1".to_owned()
                )
            ]
        );
    }

    #[test]
    fn server_side_encryption_values_follow_upstream() {
        let headers = |value: &str, key_id: &str| {
            S3Settings {
                server_side_encryption: value.into(),
                server_side_encryption_key_id: key_id.into(),
                ..S3Settings::default()
            }
            .encryption_headers()
        };
        let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        assert_eq!(
            headers("s3", "ignored"),
            [pair("x-amz-server-side-encryption", "AES256")]
        );
        assert_eq!(
            headers("DSSE-KMS", "k"),
            [
                pair("x-amz-server-side-encryption", "aws:kms:dsse"),
                pair("x-amz-server-side-encryption-aws-kms-key-id", "k")
            ]
        );
        assert_eq!(
            headers("aws:kms", ""),
            [pair("x-amz-server-side-encryption", "aws:kms")]
        );
        assert!(headers("rot13", "").is_empty());
        assert!(headers("", "k").is_empty());
    }

    #[test]
    fn authentication_type_follows_upstream() {
        let s3 = |authentication_type: &str, server_address: &str| S3Settings {
            authentication_type: authentication_type.into(),
            server_address: server_address.into(),
            access_key: "AKIA".into(),
            secret_key: Secret::new("secret"),
            ..S3Settings::default()
        };
        assert!(!s3("", "minio:9000").uses_iam());
        assert!(s3("", "").uses_iam());
        assert!(!s3("access-key", "").uses_iam());
        assert!(s3("iam", "minio:9000").uses_iam());
        assert!(s3("other", "minio:9000").uses_iam());
    }

    #[test]
    fn secrets_are_redacted() {
        assert!(!format!("{:?}", settings()).contains("very-secret"));
    }
}
