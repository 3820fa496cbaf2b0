//! [`CacheConfig`]: `[runners.cache]` and its S3, GCS and Azure sub-tables.
//!
//! Upstream spells these keys in CamelCase (`Type`, `BucketName`); the names are kept.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::skip::is_false;

/// `[runners.cache]`: the distributed cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// `s3`, `gcs` or `azure`. Default: empty, local cache only.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub cache_type: String,
    /// Prefix prepended to object names. Default: empty.
    #[serde(rename = "Path", skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Share objects between runners (otherwise they live under `runner/<short token>/`).
    /// Default: `false`.
    #[serde(rename = "Shared", skip_serializing_if = "is_false")]
    pub shared: bool,
    /// Upper bound of an uploaded archive, in bytes. Default: `0`, unlimited.
    #[serde(rename = "MaxUploadedArchiveSize")]
    pub max_uploaded_archive_size: i64,
    /// `[runners.cache.s3]`. Default: none.
    #[serde(rename = "s3", skip_serializing_if = "Option::is_none")]
    pub s3: Option<CacheS3Config>,
    /// `[runners.cache.gcs]`. Default: none.
    #[serde(rename = "gcs", skip_serializing_if = "Option::is_none")]
    pub gcs: Option<CacheGcsConfig>,
    /// `[runners.cache.azure]`. Default: none.
    #[serde(rename = "azure", skip_serializing_if = "Option::is_none")]
    pub azure: Option<CacheAzureConfig>,
}

/// `[runners.cache.s3]`: an S3 or S3-compatible bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheS3Config {
    /// `host[:port]` of an S3-compatible server; the scheme comes from `Insecure`.
    /// Default: empty, the AWS endpoint.
    #[serde(rename = "ServerAddress", skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    /// Static access key. Default: empty.
    #[serde(rename = "AccessKey", skip_serializing_if = "Secret::is_empty")]
    pub access_key: Secret,
    /// Static secret key. Default: empty.
    #[serde(rename = "SecretKey", skip_serializing_if = "Secret::is_empty")]
    pub secret_key: Secret,
    /// Session token of temporary credentials. Default: empty.
    #[serde(rename = "SessionToken", skip_serializing_if = "Secret::is_empty")]
    pub session_token: Secret,
    /// Bucket name. Default: empty.
    #[serde(rename = "BucketName", skip_serializing_if = "String::is_empty")]
    pub bucket_name: String,
    /// Region. Default: empty, which falls back to `us-east-1`.
    #[serde(rename = "BucketLocation", skip_serializing_if = "String::is_empty")]
    pub bucket_location: String,
    /// Use `http://`. Default: `false`.
    #[serde(rename = "Insecure", skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// `iam` or `access-key` (case-insensitive). Default: empty, derived: `access-key`
    /// when server, access key and secret key are all set, else `iam`.
    #[serde(
        rename = "AuthenticationType",
        skip_serializing_if = "String::is_empty"
    )]
    pub authentication_type: String,
    /// `S3`/`AES256`, `KMS`/`aws:kms` or `DSSE-KMS`/`aws:kms:dsse`. Default: empty, none.
    #[serde(
        rename = "ServerSideEncryption",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_side_encryption: String,
    /// KMS key alias, ID or ARN. Default: empty.
    #[serde(
        rename = "ServerSideEncryptionKeyID",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_side_encryption_key_id: String,
    /// IPv4+IPv6 endpoints. Default: unset, which means `true`.
    #[serde(rename = "DualStack", skip_serializing_if = "Option::is_none")]
    pub dual_stack: Option<bool>,
    /// Force path-style addressing. Default: unset, detected from the endpoint.
    #[serde(rename = "PathStyle", skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Transfer acceleration. Default: `false`.
    #[serde(rename = "Accelerate", skip_serializing_if = "is_false")]
    pub accelerate: bool,
    /// Role assumed for time-limited transfers. Default: empty.
    #[serde(rename = "RoleARN", skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    /// Deprecated predecessor of `RoleARN`, uploads only. Default: empty.
    #[serde(rename = "UploadRoleARN", skip_serializing_if = "String::is_empty")]
    pub upload_role_arn: String,
    /// Concurrent STS AssumeRole calls. Default: `0`, which means 5; `-1` is unlimited.
    #[serde(rename = "AssumeRoleMaxConcurrency")]
    pub assume_role_max_concurrency: i64,
    /// Turn off the in-process credential cache. Default: `false`.
    #[serde(
        rename = "DisableAssumeRoleCredentialsCaching",
        skip_serializing_if = "is_false"
    )]
    pub disable_assume_role_credentials_caching: bool,
}

/// `[runners.cache.gcs]`: a Google Cloud Storage bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheGcsConfig {
    /// Service account ID. Default: empty.
    #[serde(rename = "AccessID", skip_serializing_if = "String::is_empty")]
    pub access_id: String,
    /// Private key that signs requests. Default: empty.
    #[serde(rename = "PrivateKey", skip_serializing_if = "Secret::is_empty")]
    pub private_key: Secret,
    /// Service-account JSON key file; wins over the two keys above. Default: empty.
    #[serde(rename = "CredentialsFile", skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
    /// Bucket name. Default: empty.
    #[serde(rename = "BucketName", skip_serializing_if = "String::is_empty")]
    pub bucket_name: String,
    /// Universe domain. Default: empty, which means `googleapis.com`.
    #[serde(rename = "UniverseDomain", skip_serializing_if = "String::is_empty")]
    pub universe_domain: String,
}

/// `[runners.cache.azure]`: an Azure Blob Storage container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheAzureConfig {
    /// Storage account name. Default: empty.
    #[serde(rename = "AccountName", skip_serializing_if = "String::is_empty")]
    pub account_name: String,
    /// Storage account key; may be omitted with workload or managed identity. Default: empty.
    #[serde(rename = "AccountKey", skip_serializing_if = "Secret::is_empty")]
    pub account_key: Secret,
    /// Container name. Default: empty.
    #[serde(rename = "ContainerName", skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    /// Storage domain. Default: empty, which means `blob.core.windows.net`.
    #[serde(rename = "StorageDomain", skip_serializing_if = "String::is_empty")]
    pub storage_domain: String,
}
