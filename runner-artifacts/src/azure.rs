//! The Azure cache (upstream-details.md §7.8): blob URLs with a service SAS signed with the
//! account's shared key, `r` for GET and HEAD and `w` for PUT (which needs
//! `x-ms-blob-type: BlockBlob`), valid from an hour ago (clock skew) until the job timeout.
//!
//! The SAS is signed as of service version `2022-11-02` ([`SAS_VERSION`]): the sixteen-field
//! string-to-sign of versions 2020-12-06 and later (permissions, start, expiry,
//! `/blob/<account>/<container>/<blob>`, identifier, IP, protocol, version, resource `b`,
//! snapshot time, encryption scope, then five empty response-header overrides), HMAC-SHA256
//! with the base64-decoded account key.
//!
//! Upstream hands the helper a GoCloud `azblob://` URL plus the SAS in an env file; this
//! runner's helper only speaks plain HTTP, so it gets the same SAS inside ordinary blob URLs.
//! User delegation keys (no `AccountKey`: workload or managed identity) are not implemented.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use url::Url;

use crate::civil::{Civil, unix_seconds};
use crate::secret::Secret;
use crate::settings::{CacheUrls, NoUrlReason};
use crate::sigv4::uri_encode;

/// The storage service version the SAS is signed for (`sv`).
pub const SAS_VERSION: &str = "2022-11-02";

/// `[runners.cache.azure]`, plus the endpoint override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureSettings {
    /// `AccountName`.
    pub account_name: String,
    /// `AccountKey`: base64, as the portal shows it.
    pub account_key: Secret,
    /// `ContainerName`.
    pub container_name: String,
    /// `StorageDomain`; empty means `blob.core.windows.net`.
    pub storage_domain: String,
    /// The blob service URL to use instead of `https://<AccountName>.<StorageDomain>`, e.g.
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1`. Upstream has no such setting;
    /// the binary fills it from `AZURE_STORAGE_BLOB_ENDPOINT` (the `BlobEndpoint` of an Azure
    /// connection string). Empty means the real service.
    pub blob_endpoint: String,
}

/// Blob URLs of `object` carrying a service SAS: read for GET and HEAD, write for PUT.
/// `metadata` becomes `x-ms-meta-<name>` upload headers (not signed: a SAS signs no
/// headers).
pub(crate) fn cache_urls(
    azure: &AzureSettings,
    object: &str,
    metadata: &[(&str, &str)],
    expires: Duration,
    now: SystemTime,
) -> Result<CacheUrls, NoUrlReason> {
    if azure.container_name.is_empty() {
        return Err(NoUrlReason::Azure(
            "ContainerName can't be empty".to_owned(),
        ));
    }
    if azure.account_name.is_empty() {
        return Err(NoUrlReason::Azure(
            "config for Azure present, but account name is not configured".to_owned(),
        ));
    }
    if azure.account_key.is_empty() {
        return Err(NoUrlReason::Azure(
            "error resolving Azure credentials: AccountKey is empty (user delegation keys are \
             not supported)"
                .to_owned(),
        ));
    }
    let key = BASE64
        .decode(azure.account_key.expose().trim())
        .map_err(|_| {
            NoUrlReason::Azure(
                "error creating Azure SAS signer: AccountKey is not base64".to_owned(),
            )
        })?;
    let service = service_url(azure)?;
    let blob_url = format!(
        "{}/{}/{}",
        service.as_str().trim_end_matches('/'),
        uri_encode(&azure.container_name, true),
        uri_encode(object, false)
    );
    let start = now
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let expiry = now + expires;
    let sas = Sas {
        account: &azure.account_name,
        container: &azure.container_name,
        blob: object,
        start: iso8601(start),
        expiry: iso8601(expiry),
        // HTTPS only, as upstream; `https,http` only for a plain-HTTP endpoint override.
        protocol: if service.scheme() == "https" {
            "https"
        } else {
            "https,http"
        },
        key: &key,
    };
    let signed = |permissions: &str| -> Result<Url, NoUrlReason> {
        let text = format!("{blob_url}?{}", sas.query(permissions));
        Url::parse(&text).map_err(|error| {
            NoUrlReason::Azure(format!("error generating Azure SAS token: {error}"))
        })
    };
    let mut upload_headers = vec![("x-ms-blob-type".to_owned(), "BlockBlob".to_owned())];
    for (name, value) in metadata {
        upload_headers.push((
            format!("x-ms-meta-{}", name.to_ascii_lowercase()),
            (*value).to_owned(),
        ));
    }
    Ok(CacheUrls {
        download: signed("r")?,
        head: signed("r")?,
        upload: signed("w")?,
        upload_headers,
    })
}

/// `https://<account>.<domain>`, or the override.
fn service_url(azure: &AzureSettings) -> Result<Url, NoUrlReason> {
    let text = if azure.blob_endpoint.is_empty() {
        let domain = if azure.storage_domain.is_empty() {
            "blob.core.windows.net"
        } else {
            azure.storage_domain.as_str()
        };
        format!("https://{}.{domain}", azure.account_name)
    } else {
        azure.blob_endpoint.clone()
    };
    Url::parse(&text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .ok_or_else(|| NoUrlReason::Azure(format!("invalid Azure blob service URL {text:?}")))
}

/// `YYYY-MM-DDThh:mm:ssZ`.
fn iso8601(time: SystemTime) -> String {
    let civil = Civil::from_unix(unix_seconds(time));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second
    )
}

/// A blob-scoped service SAS.
struct Sas<'a> {
    account: &'a str,
    container: &'a str,
    blob: &'a str,
    start: String,
    expiry: String,
    protocol: &'static str,
    key: &'a [u8],
}

impl Sas<'_> {
    fn string_to_sign(&self, permissions: &str) -> String {
        [
            permissions,
            &self.start,
            &self.expiry,
            &format!("/blob/{}/{}/{}", self.account, self.container, self.blob),
            "", // signed identifier
            "", // signed IP
            self.protocol,
            SAS_VERSION,
            "b", // signed resource: blob
            "",  // snapshot time
            "",  // encryption scope
            "",  // rscc
            "",  // rscd
            "",  // rsce
            "",  // rscl
            "",  // rsct
        ]
        .join("\n")
    }

    fn signature(&self, permissions: &str) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.key);
        let tag = ring::hmac::sign(&key, self.string_to_sign(permissions).as_bytes());
        BASE64.encode(tag.as_ref())
    }

    fn query(&self, permissions: &str) -> String {
        [
            ("sv", SAS_VERSION.to_owned()),
            ("sr", "b".to_owned()),
            ("sp", permissions.to_owned()),
            ("st", self.start.clone()),
            ("se", self.expiry.clone()),
            ("spr", self.protocol.to_owned()),
            ("sig", self.signature(permissions)),
        ]
        .iter()
        .map(|(name, value)| format!("{name}={}", uri_encode(value, true)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Azurite's published development account key.
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn settings() -> AzureSettings {
        AzureSettings {
            account_name: "devstoreaccount1".into(),
            account_key: Secret::new(DEV_KEY),
            container_name: "runner-cache".into(),
            ..AzureSettings::default()
        }
    }

    #[test]
    fn sas_matches_an_independent_computation() {
        // Reference: azure-storage-blob 12.x's `generate_blob_sas` (its `sts_hook`) printed
        // the same sixteen-field string-to-sign for these inputs at its own `sv`; Python's
        // hmac/hashlib/base64 then signed it with sv=2022-11-02:
        //   base64(hmac.new(b64decode(DEV_KEY), sts, sha256).digest())
        let now = crate::civil::from_unix_seconds(1_704_164_645); // 2024-01-02T03:04:05Z
        let urls = cache_urls(
            &settings(),
            "ci/project/7/main",
            &[("cachekey", "main")],
            Duration::from_secs(3600),
            now,
        )
        .unwrap();
        let expected = |permissions: &str, signature: &str| {
            format!(
                "https://devstoreaccount1.blob.core.windows.net/runner-cache/ci/project/7/main\
                 ?sv=2022-11-02&sr=b&sp={permissions}&st=2024-01-02T02%3A04%3A05Z\
                 &se=2024-01-02T04%3A04%3A05Z&spr=https&sig={signature}"
            )
        };
        assert_eq!(
            urls.upload.as_str(),
            expected("w", "L2HVxmY1ARnSPzZixea0wuburtbdzoLtDtzC5TpPUwY%3D")
        );
        assert_eq!(
            urls.download.as_str(),
            expected("r", "GbLVZZeu1dqyuvr563DmrWG%2BmfdFnuJDWXtLc79b2Ao%3D")
        );
        assert_eq!(
            urls.upload_headers,
            [
                ("x-ms-blob-type".into(), "BlockBlob".into()),
                ("x-ms-meta-cachekey".into(), "main".into())
            ]
        );
    }

    #[test]
    fn endpoint_override_and_domain() {
        let check = |azure: AzureSettings, prefix: &str| {
            let urls = cache_urls(
                &azure,
                "a b",
                &[],
                Duration::from_secs(60),
                SystemTime::UNIX_EPOCH + Duration::from_secs(7200),
            )
            .unwrap();
            assert!(
                urls.download.as_str().starts_with(prefix),
                "{}",
                urls.download
            );
        };
        check(
            AzureSettings {
                storage_domain: "blob.core.chinacloudapi.cn".into(),
                ..settings()
            },
            "https://devstoreaccount1.blob.core.chinacloudapi.cn/runner-cache/a%20b?",
        );
        check(
            AzureSettings {
                blob_endpoint: "http://127.0.0.1:10000/devstoreaccount1".into(),
                ..settings()
            },
            "http://127.0.0.1:10000/devstoreaccount1/runner-cache/a%20b?",
        );
    }

    #[test]
    fn incomplete_settings_give_upstream_reasons() {
        let check = |azure: AzureSettings, expected: &str| {
            let reason = cache_urls(
                &azure,
                "o",
                &[],
                Duration::from_secs(60),
                SystemTime::UNIX_EPOCH,
            )
            .unwrap_err();
            assert!(reason.to_string().contains(expected), "{reason}");
        };
        check(
            AzureSettings {
                container_name: String::new(),
                ..settings()
            },
            "ContainerName can't be empty",
        );
        check(
            AzureSettings {
                account_name: String::new(),
                ..settings()
            },
            "config for Azure present, but account name is not configured",
        );
        check(
            AzureSettings {
                account_key: Secret::default(),
                ..settings()
            },
            "error resolving Azure credentials",
        );
        check(
            AzureSettings {
                account_key: Secret::new("not base64!"),
                ..settings()
            },
            "error creating Azure SAS signer",
        );
    }
}
