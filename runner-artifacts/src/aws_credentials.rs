//! AWS credentials for the S3 cache with `AuthenticationType = "iam"` (upstream-details.md
//! §7.6): the default chain of the runner process, as the official runner's S3 client uses it,
//! then the `[runners.cache.s3] RoleARN` assumed with what the chain found.
//!
//! The chain, first match wins:
//! 1. static environment keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`);
//! 2. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, optional
//!    `AWS_ROLE_SESSION_NAME`), exchanged with STS `AssumeRoleWithWebIdentity` (EKS IRSA);
//! 3. the EC2 instance profile through IMDSv2 (a token `PUT`, then credential `GET`s; IMDSv1
//!    when the token request is refused with 403, 404 or 405, as the SDKs), at
//!    `AWS_EC2_METADATA_SERVICE_ENDPOINT` as AWS SDKs allow, unless
//!    `AWS_EC2_METADATA_DISABLED=true`.
//!
//! Shared config files, `credential_process`, SSO and container credentials are not read.
//! With `RoleARN` set, STS `AssumeRole` (SigV4-signed with the chain's credentials) gives
//! the credentials that sign the URLs. Results are cached and fetched again
//! [`DEFAULT_REFRESH_MARGIN`] before they expire.
//!
//! Why no AWS SDK: `aws-config` + `aws-sdk-sts` bring the smithy runtime, their own HTTP
//! stack and dozens of crates to a binary that is kept small on purpose (its code pages are
//! its idle memory, ARCHITECTURE.md). The calls are three: two STS Query API `POST`s whose
//! answers we read five elements from, and two IMDS requests. The SigV4 code was already
//! here for pre-signing; no XML crate is in the dependency tree, so `aws_http` reads those
//! elements with a minimal, escaping-aware extractor.
//!
//! As everything in this crate, nothing here reads the process environment: the caller
//! passes it as an [`AwsEnvironment`].

use std::time::{Duration, SystemTime};

use crate::aws_http;
use crate::secret::Secret;
use crate::settings::{CacheSettings, S3Settings};

/// Credentials are fetched again this long before they expire (as the AWS SDKs do).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A set of AWS credentials; `session_token` is empty for long-term keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCredentials {
    /// `AccessKeyId` (an identifier, not a secret).
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: Secret,
    /// `SessionToken` of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Secret,
    /// When temporary credentials expire; `None` for long-term keys.
    pub expires_at: Option<SystemTime>,
}

/// The environment variables the chain reads, captured by the caller (the binary reads the
/// process environment; tests pass their own). Empty strings mean unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsEnvironment {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Secret,
    /// `AWS_ROLE_ARN`: the role of the web identity.
    pub role_arn: String,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`.
    pub web_identity_token_file: String,
    /// `AWS_ROLE_SESSION_NAME`; a generated name when empty.
    pub role_session_name: String,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`: the STS region.
    pub region: String,
    /// `AWS_ENDPOINT_URL`: base endpoint of every service.
    pub endpoint_url: String,
    /// `AWS_ENDPOINT_URL_STS`: the STS endpoint, before `AWS_ENDPOINT_URL`.
    pub endpoint_url_sts: String,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`; `http://169.254.169.254` when empty.
    pub ec2_metadata_service_endpoint: String,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`: `IPv6` selects `http://[fd00:ec2::254]`.
    pub ec2_metadata_service_endpoint_mode: String,
    /// `AWS_EC2_METADATA_DISABLED=true` skips the instance profile.
    pub ec2_metadata_disabled: bool,
}

impl AwsEnvironment {
    /// Reads the variables through `lookup` (e.g. `|name| std::env::var(name).ok()`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).unwrap_or_default();
        let region = match get("AWS_REGION") {
            region if region.is_empty() => get("AWS_DEFAULT_REGION"),
            region => region,
        };
        Self {
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: Secret::new(get("AWS_SECRET_ACCESS_KEY")),
            session_token: Secret::new(get("AWS_SESSION_TOKEN")),
            role_arn: get("AWS_ROLE_ARN"),
            web_identity_token_file: get("AWS_WEB_IDENTITY_TOKEN_FILE"),
            role_session_name: get("AWS_ROLE_SESSION_NAME"),
            region,
            endpoint_url: get("AWS_ENDPOINT_URL"),
            endpoint_url_sts: get("AWS_ENDPOINT_URL_STS"),
            ec2_metadata_service_endpoint: get("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
            ec2_metadata_service_endpoint_mode: get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"),
            ec2_metadata_disabled: get("AWS_EC2_METADATA_DISABLED").eq_ignore_ascii_case("true"),
        }
    }
}

/// Why no credentials could be obtained. Messages never contain a key, token or JWT.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Nothing in the chain had credentials (no keys, no web identity, IMDS disabled).
    #[error(
        "no AWS credentials: no keys in the environment, no web identity token file, and the instance metadata service is disabled"
    )]
    NoCredentials,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` could not be read.
    #[error("reading the web identity token file {path}")]
    WebIdentityTokenFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// STS refused a call.
    #[error("STS {action} at {endpoint}: HTTP {status}: {code}: {message}")]
    Sts {
        /// `AssumeRoleWithWebIdentity` or `AssumeRole`.
        action: &'static str,
        /// The endpoint, without credentials.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The AWS error code (`AccessDenied`, `InvalidIdentityToken`).
        code: String,
        /// The AWS error message.
        message: String,
    },
    /// The instance metadata service answered with an error status.
    #[error("instance metadata service {endpoint}: HTTP {status} for {path}")]
    Imds {
        /// The IMDS base endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// HTTP status.
        status: u16,
    },
    /// A request could not be sent or answered in time.
    #[error("{service} request to {endpoint} failed")]
    Transfer {
        /// `STS` or `instance metadata service`.
        service: &'static str,
        /// The endpoint.
        endpoint: String,
        /// The cause.
        #[source]
        source: crate::error::BoxError,
    },
    /// An answer could not be understood.
    #[error("invalid {service} response: {reason}")]
    InvalidResponse {
        /// `STS` or `instance metadata service`.
        service: &'static str,
        /// What was wrong (never the response itself).
        reason: &'static str,
    },
}

/// The credential chain plus `RoleARN`, with a cache: one per `[runners.cache.s3]`, kept for
/// the runner's lifetime so jobs share credentials until they near expiry.
#[derive(Debug)]
pub struct CredentialsProvider {
    environment: AwsEnvironment,
    role_arn: String,
    fallback_region: String,
    refresh_margin: Duration,
    cached: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl CredentialsProvider {
    /// A provider for `environment` that assumes `role_arn` (`RoleARN`; empty: none).
    /// `fallback_region` (`BucketLocation`) names the STS region when the environment
    /// names none; `us-east-1` when both are empty.
    pub fn new(
        environment: AwsEnvironment,
        role_arn: impl Into<String>,
        fallback_region: impl Into<String>,
    ) -> Self {
        Self {
            environment,
            role_arn: role_arn.into(),
            fallback_region: fallback_region.into(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Fetches again this long before expiry instead of [`DEFAULT_REFRESH_MARGIN`].
    #[must_use]
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Credentials valid at `now` for at least the refresh margin: the cached ones, or a
    /// new walk of the chain (one at a time: concurrent callers wait for the same fetch).
    pub async fn credentials(&self, now: SystemTime) -> Result<AwsCredentials, CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref() {
            let fresh = credentials.expires_at.is_none_or(|expires_at| {
                expires_at
                    .checked_sub(self.refresh_margin)
                    .is_some_and(|refresh_at| now < refresh_at)
            });
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let credentials = self.fetch(now).await?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    async fn fetch(&self, now: SystemTime) -> Result<AwsCredentials, CredentialsError> {
        let base = self.chain(now).await?;
        if self.role_arn.is_empty() {
            return Ok(base);
        }
        let session_name = format!("gitlab-runner-cache-{}", session_suffix(now));
        aws_http::assume_role(&self.sts(), &self.role_arn, &session_name, &base, now).await
    }

    async fn chain(&self, now: SystemTime) -> Result<AwsCredentials, CredentialsError> {
        let environment = &self.environment;
        if !environment.access_key_id.is_empty() && !environment.secret_access_key.is_empty() {
            tracing::debug!("S3 cache credentials from the environment");
            return Ok(AwsCredentials {
                access_key_id: environment.access_key_id.clone(),
                secret_access_key: environment.secret_access_key.clone(),
                session_token: environment.session_token.clone(),
                expires_at: None,
            });
        }
        if !environment.web_identity_token_file.is_empty() && !environment.role_arn.is_empty() {
            tracing::debug!("S3 cache credentials from a web identity");
            let path = &environment.web_identity_token_file;
            let token = tokio::fs::read_to_string(path).await.map_err(|source| {
                CredentialsError::WebIdentityTokenFile {
                    path: path.clone(),
                    source,
                }
            })?;
            let session_name = if environment.role_session_name.is_empty() {
                format!("gitlab-runner-rs-{}", session_suffix(now))
            } else {
                environment.role_session_name.clone()
            };
            return aws_http::assume_role_with_web_identity(
                &self.sts(),
                &environment.role_arn,
                &session_name,
                &Secret::new(token.trim()),
            )
            .await;
        }
        if environment.ec2_metadata_disabled {
            return Err(CredentialsError::NoCredentials);
        }
        tracing::debug!("S3 cache credentials from the instance metadata service");
        aws_http::instance_profile(&self.imds_endpoint()).await
    }

    fn sts(&self) -> aws_http::StsEndpoint {
        let environment = &self.environment;
        let region = [&environment.region, &self.fallback_region]
            .into_iter()
            .find(|region| !region.is_empty())
            .map_or("us-east-1", String::as_str)
            .to_owned();
        let url = [&environment.endpoint_url_sts, &environment.endpoint_url]
            .into_iter()
            .find(|url| !url.is_empty())
            .cloned()
            .unwrap_or_else(|| {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://sts.{region}.{suffix}")
            });
        aws_http::StsEndpoint { url, region }
    }

    fn imds_endpoint(&self) -> String {
        let environment = &self.environment;
        if !environment.ec2_metadata_service_endpoint.is_empty() {
            environment.ec2_metadata_service_endpoint.clone()
        } else if environment
            .ec2_metadata_service_endpoint_mode
            .eq_ignore_ascii_case("ipv6")
        {
            "http://[fd00:ec2::254]".to_owned()
        } else {
            "http://169.254.169.254".to_owned()
        }
    }
}

impl CacheSettings {
    /// For `[runners.cache.s3]` with IAM authentication ([`S3Settings::uses_iam`]): sets
    /// `S3Settings::credentials` from `provider` (cached, or fetched again near expiry), so
    /// the synchronous [`CacheSettings::cache_urls`] can sign. Does nothing for other
    /// configurations. On an error the credentials stay unset and the cache gets no URL.
    pub async fn resolve_credentials(
        &mut self,
        provider: &CredentialsProvider,
        now: SystemTime,
    ) -> Result<(), CredentialsError> {
        let Some(s3) = self.s3.as_mut().filter(|s3| s3.uses_iam()) else {
            return Ok(());
        };
        s3.credentials = None;
        s3.credentials = Some(provider.credentials(now).await?);
        Ok(())
    }
}

impl CredentialsProvider {
    /// The provider for `s3`: its `RoleARN`, with `BucketLocation` as the STS region when
    /// `environment` names none. Keep it as long as the configuration, to share its cache.
    pub fn for_settings(environment: AwsEnvironment, s3: &S3Settings) -> Self {
        Self::new(environment, s3.role_arn.clone(), s3.bucket_location.clone())
    }
}

/// A session-name suffix unique enough per runner process: the time in hex nanoseconds.
fn session_suffix(now: SystemTime) -> String {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_reads_the_sdk_variables() {
        let environment = AwsEnvironment::from_lookup(|name| match name {
            "AWS_DEFAULT_REGION" => Some("eu-west-1".into()),
            "AWS_ROLE_ARN" => Some("arn:aws:iam::1:role/r".into()),
            "AWS_EC2_METADATA_DISABLED" => Some("TRUE".into()),
            _ => None,
        });
        assert_eq!(environment.region, "eu-west-1");
        assert_eq!(environment.role_arn, "arn:aws:iam::1:role/r");
        assert!(environment.ec2_metadata_disabled);
        assert!(environment.access_key_id.is_empty());
    }

    #[test]
    fn sts_endpoint_prefers_the_service_override() {
        let provider = |environment: AwsEnvironment| CredentialsProvider::new(environment, "", "");
        let sts = provider(AwsEnvironment::default()).sts();
        assert_eq!(
            (sts.url.as_str(), sts.region.as_str()),
            ("https://sts.us-east-1.amazonaws.com", "us-east-1")
        );
        let sts = CredentialsProvider::new(AwsEnvironment::default(), "", "cn-north-1").sts();
        assert_eq!(sts.url, "https://sts.cn-north-1.amazonaws.com.cn");
        let sts = provider(AwsEnvironment {
            endpoint_url: "http://all:1".into(),
            endpoint_url_sts: "http://sts:2".into(),
            ..AwsEnvironment::default()
        })
        .sts();
        assert_eq!(sts.url, "http://sts:2");
        let sts = provider(AwsEnvironment {
            endpoint_url: "http://all:1".into(),
            ..AwsEnvironment::default()
        })
        .sts();
        assert_eq!(sts.url, "http://all:1");
    }

    #[tokio::test]
    async fn environment_keys_win_and_never_expire() {
        let provider = CredentialsProvider::new(
            AwsEnvironment {
                access_key_id: "AKIA".into(),
                secret_access_key: Secret::new("secret"),
                web_identity_token_file: "/nonexistent".into(),
                role_arn: "arn:aws:iam::1:role/r".into(),
                ..AwsEnvironment::default()
            },
            "",
            "",
        );
        let credentials = provider.credentials(SystemTime::now()).await.unwrap();
        assert_eq!(credentials.access_key_id, "AKIA");
        assert_eq!(credentials.expires_at, None);
        assert!(!format!("{credentials:?}").contains("secret\""));
    }

    #[tokio::test]
    async fn cache_settings_get_credentials_only_under_iam() {
        let environment = AwsEnvironment {
            access_key_id: "AKIAENV".into(),
            secret_access_key: Secret::new("secret"),
            ..AwsEnvironment::default()
        };
        let mut settings = CacheSettings {
            cache_type: "s3".into(),
            s3: Some(S3Settings {
                authentication_type: "iam".into(),
                bucket_name: "b".into(),
                ..S3Settings::default()
            }),
            ..CacheSettings::default()
        };
        let provider =
            CredentialsProvider::for_settings(environment, settings.s3.as_ref().unwrap());
        settings
            .resolve_credentials(&provider, SystemTime::now())
            .await
            .unwrap();
        let signed = settings
            .cache_urls("t", 1, "k", &[], Duration::from_secs(60), SystemTime::now())
            .unwrap();
        assert!(
            signed
                .download
                .as_str()
                .contains("X-Amz-Credential=AKIAENV%2F")
        );

        let mut static_keys = settings.clone();
        if let Some(s3) = static_keys.s3.as_mut() {
            s3.authentication_type = "access-key".into();
            s3.credentials = None;
        }
        static_keys
            .resolve_credentials(&provider, SystemTime::now())
            .await
            .unwrap();
        assert_eq!(static_keys.s3.unwrap().credentials, None);
    }

    #[tokio::test]
    async fn disabled_metadata_ends_the_chain() {
        let provider = CredentialsProvider::new(
            AwsEnvironment {
                ec2_metadata_disabled: true,
                ..AwsEnvironment::default()
            },
            "",
            "",
        );
        let error = provider.credentials(SystemTime::now()).await.unwrap_err();
        assert!(matches!(error, CredentialsError::NoCredentials), "{error}");
    }

    #[tokio::test]
    async fn unreadable_token_file_is_named() {
        let provider = CredentialsProvider::new(
            AwsEnvironment {
                web_identity_token_file: "/nonexistent/token".into(),
                role_arn: "arn:aws:iam::1:role/r".into(),
                ..AwsEnvironment::default()
            },
            "",
            "",
        );
        let error = provider.credentials(SystemTime::now()).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "reading the web identity token file /nonexistent/token"
        );
    }
}
