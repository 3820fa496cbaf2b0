//! The HTTP calls behind `aws_credentials`: STS's Query API (`AssumeRoleWithWebIdentity`,
//! unsigned; `AssumeRole`, SigV4-signed) and IMDSv2, on the crate's one-connection-per-request
//! client, with a minimal reader for the few XML elements STS answers carry.
//!
//! References: STS API reference, `AssumeRoleWithWebIdentity` and `AssumeRole`
//! (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>),
//! and "Use the Instance Metadata Service to access instance metadata"
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use url::Url;

use crate::aws_credentials::{AwsCredentials, CredentialsError};
use crate::civil::{Civil, from_unix_seconds};
use crate::secret::Secret;
use crate::sigv4::{HeaderSignInput, sign_headers};

const STS: &str = "STS";
const IMDS: &str = "instance metadata service";
/// STS calls get this long, like the SDKs' default operation timeouts.
const STS_TIMEOUT: Duration = Duration::from_secs(30);
/// IMDS is link-local: the SDKs give up after one second, so hosts outside EC2 fail fast.
const IMDS_TIMEOUT: Duration = Duration::from_secs(1);
/// The IMDSv2 session token lifetime the SDKs ask for (6 hours).
const IMDS_TOKEN_TTL_SECONDS: &str = "21600";
/// Lifetime asked for assumed roles, as upstream's `RoleARN` (one hour).
const ASSUME_ROLE_DURATION_SECONDS: &str = "3600";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Where STS is and which region signs for it.
#[derive(Debug, Clone)]
pub(crate) struct StsEndpoint {
    pub(crate) url: String,
    pub(crate) region: String,
}

/// `AssumeRoleWithWebIdentity`: the token file's JWT for temporary credentials (unsigned).
pub(crate) async fn assume_role_with_web_identity(
    sts: &StsEndpoint,
    role_arn: &str,
    session_name: &str,
    token: &Secret,
) -> Result<AwsCredentials, CredentialsError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRoleWithWebIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .append_pair("WebIdentityToken", token.expose())
        .finish();
    let headers = [("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned())];
    sts_call(sts, "AssumeRoleWithWebIdentity", &headers, body).await
}

/// `AssumeRole` of `role_arn`, signed with `base`.
pub(crate) async fn assume_role(
    sts: &StsEndpoint,
    role_arn: &str,
    session_name: &str,
    base: &AwsCredentials,
    now: SystemTime,
) -> Result<AwsCredentials, CredentialsError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRole")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .append_pair("DurationSeconds", ASSUME_ROLE_DURATION_SECONDS)
        .finish();
    let url = parse_url(STS, &sts.url)?;
    let host = host_header(&url);
    let mut headers = vec![("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned())];
    let signed = sign_headers(&HeaderSignInput {
        method: "POST",
        host: &host,
        encoded_path: if url.path().is_empty() {
            "/"
        } else {
            url.path()
        },
        encoded_query: &[],
        headers: &headers,
        payload: body.as_bytes(),
        region: &sts.region,
        service: "sts",
        access_key: &base.access_key_id,
        secret_key: base.secret_access_key.expose(),
        session_token: (!base.session_token.is_empty()).then(|| base.session_token.expose()),
        now,
    });
    headers.extend(signed);
    sts_call(sts, "AssumeRole", &headers, body).await
}

/// IMDSv2: a session token, the instance profile's role name, then its credentials. As the
/// SDKs, a token request answered 403, 404 or 405 (a proxy or an old IMDS without v2) falls
/// back to IMDSv1: the same requests without a token.
pub(crate) async fn instance_profile(endpoint: &str) -> Result<AwsCredentials, CredentialsError> {
    let base = endpoint.trim_end_matches('/');
    let token = imds_call(
        base,
        "PUT",
        "/latest/api/token",
        &[(
            "x-aws-ec2-metadata-token-ttl-seconds".to_owned(),
            IMDS_TOKEN_TTL_SECONDS.to_owned(),
        )],
    )
    .await;
    let token_header: Vec<(String, String)> = match token {
        Ok(token) => vec![(
            "x-aws-ec2-metadata-token".to_owned(),
            token.trim().to_owned(),
        )],
        Err(CredentialsError::Imds {
            status: 403..=405, ..
        }) => {
            tracing::warn!("falling back to IMDSv1: the metadata service refused a token");
            Vec::new()
        }
        Err(error) => return Err(error),
    };
    let roles = imds_call(
        base,
        "GET",
        "/latest/meta-data/iam/security-credentials/",
        &token_header,
    )
    .await?;
    let role = roles
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .ok_or(CredentialsError::InvalidResponse {
            service: IMDS,
            reason: "the instance has no IAM role",
        })?;
    let path = format!("/latest/meta-data/iam/security-credentials/{role}");
    let document = imds_call(base, "GET", &path, &token_header).await?;
    let invalid = |reason| CredentialsError::InvalidResponse {
        service: IMDS,
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_str(&document).map_err(|_| invalid("credentials are not JSON"))?;
    let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str);
    if field("Code").is_some_and(|code| code != "Success") {
        return Err(invalid("credentials code is not Success"));
    }
    let (Some(access_key_id), Some(secret), Some(token)) = (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("Token"),
    ) else {
        return Err(invalid(
            "credentials lack AccessKeyId, SecretAccessKey or Token",
        ));
    };
    Ok(AwsCredentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: Secret::new(secret),
        session_token: Secret::new(token),
        expires_at: field("Expiration").and_then(parse_timestamp),
    })
}

async fn sts_call(
    sts: &StsEndpoint,
    action: &'static str,
    headers: &[(String, String)],
    body: String,
) -> Result<AwsCredentials, CredentialsError> {
    let url = parse_url(STS, &sts.url)?;
    let (status, text) = exchange(STS, "POST", &url, headers, body, STS_TIMEOUT).await?;
    if !(200..300).contains(&status) {
        return Err(CredentialsError::Sts {
            action,
            endpoint: crate::transfer::clean_url(&url),
            status,
            code: xml_element(&text, "Code").unwrap_or_default(),
            message: xml_element(&text, "Message").unwrap_or_default(),
        });
    }
    let invalid = |reason| CredentialsError::InvalidResponse {
        service: STS,
        reason,
    };
    let credentials =
        xml_element_raw(&text, "Credentials").ok_or_else(|| invalid("no Credentials element"))?;
    let (Some(access_key_id), Some(secret), Some(token)) = (
        xml_element(credentials, "AccessKeyId"),
        xml_element(credentials, "SecretAccessKey"),
        xml_element(credentials, "SessionToken"),
    ) else {
        return Err(invalid(
            "Credentials lack AccessKeyId, SecretAccessKey or SessionToken",
        ));
    };
    Ok(AwsCredentials {
        access_key_id,
        secret_access_key: Secret::new(secret),
        session_token: Secret::new(token),
        expires_at: xml_element(credentials, "Expiration")
            .as_deref()
            .and_then(parse_timestamp),
    })
}

async fn imds_call(
    base: &str,
    method: &'static str,
    path: &str,
    headers: &[(String, String)],
) -> Result<String, CredentialsError> {
    let url = parse_url(IMDS, &format!("{base}{path}"))?;
    let (status, text) = exchange(IMDS, method, &url, headers, String::new(), IMDS_TIMEOUT).await?;
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(CredentialsError::Imds {
            endpoint: base.to_owned(),
            path: path.to_owned(),
            status,
        })
    }
}

/// One request with a small text body; the answer's status and text.
async fn exchange(
    service: &'static str,
    method: &'static str,
    url: &Url,
    headers: &[(String, String)],
    body: String,
    timeout: Duration,
) -> Result<(u16, String), CredentialsError> {
    let transfer = |source: crate::error::BoxError| CredentialsError::Transfer {
        service,
        endpoint: crate::transfer::clean_url(url),
        source,
    };
    let work = async {
        let length = body.len() as u64;
        let body = Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        let (response, connection) =
            crate::transfer::send(method, url, headers, body, Some(length))
                .await
                .map_err(|error| transfer(Box::new(error)))?;
        let status = response.status().as_u16();
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|error| transfer(Box::new(error)))?;
        crate::transfer::finish(connection).await;
        Ok((
            status,
            String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        ))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|elapsed| transfer(Box::new(elapsed)))?
}

fn parse_url(service: &'static str, text: &str) -> Result<Url, CredentialsError> {
    Url::parse(text).map_err(|_| CredentialsError::InvalidResponse {
        service,
        reason: "the endpoint is not a URL",
    })
}

fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The text inside the first `<name>...</name>`, entities decoded. STS answers are flat,
/// attribute-free and never use CDATA for these elements, which is all this supports.
fn xml_element(document: &str, name: &str) -> Option<String> {
    xml_element_raw(document, name).map(xml_unescape)
}

fn xml_element_raw<'a>(document: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = document.find(&open)? + open.len();
    let end = document[start..].find(&close)? + start;
    Some(&document[start..end])
}

fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('&') {
        out.push_str(&rest[..position]);
        rest = &rest[position..];
        let entity_end = rest.find(';').unwrap_or(0);
        let replacement = match &rest[..=entity_end] {
            "&amp;" => Some('&'),
            "&lt;" => Some('<'),
            "&gt;" => Some('>'),
            "&quot;" => Some('"'),
            "&apos;" => Some('\''),
            _ => None,
        };
        match replacement {
            Some(character) => {
                out.push(character);
                rest = &rest[entity_end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `2026-12-07T15:26:14Z` or `2026-12-07T15:26:14.802547Z` (UTC only, as STS and IMDS
/// send); fractions are dropped.
fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[10] != b'T' {
        return None;
    }
    if !(text.ends_with('Z') || text.ends_with("+00:00")) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let civil = Civil {
        year: i64::from(number(0..4)?),
        month: number(5..7)?,
        day: number(8..10)?,
        hour: number(11..13)?,
        minute: number(14..16)?,
        second: number(17..19)?,
    };
    Some(from_unix_seconds(civil.to_unix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_elements_are_found_and_decoded() {
        let document = "<R><Credentials><AccessKeyId>ASIA</AccessKeyId>\
            <SessionToken>a&amp;b&lt;c&#x1;</SessionToken></Credentials></R>";
        let credentials = xml_element_raw(document, "Credentials").unwrap();
        assert_eq!(xml_element(credentials, "AccessKeyId").unwrap(), "ASIA");
        assert_eq!(
            xml_element(credentials, "SessionToken").unwrap(),
            "a&b<c&#x1;"
        );
        assert_eq!(xml_element(document, "Missing"), None);
    }

    #[test]
    fn timestamps_parse_with_and_without_fractions() {
        let expected = from_unix_seconds(1_893_456_000);
        assert_eq!(parse_timestamp("2030-01-01T00:00:00Z"), Some(expected));
        assert_eq!(
            parse_timestamp("2030-01-01T00:00:00.802547Z"),
            Some(expected)
        );
        assert_eq!(parse_timestamp("2030-01-01 00:00:00"), None);
        assert_eq!(parse_timestamp("2030-01-01T00:00:00+02:00"), None);
    }
}
