//! AWS Signature Version 4, written on `sha2` so the runner needs no AWS SDK: query-string
//! pre-signing of S3 URLs (the `X-Amz-*` parameters; the helper only does plain HTTP
//! GET/HEAD/PUT on them) and `Authorization` headers for the STS calls of
//! `aws_credentials` (`AssumeRole`).

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::civil::{Civil, unix_seconds};

/// What to sign.
#[derive(Debug, Clone)]
pub(crate) struct PresignInput<'a> {
    pub(crate) method: &'a str,
    /// `http` or `https`.
    pub(crate) scheme: &'a str,
    /// Host header value (with a non-default port).
    pub(crate) host: &'a str,
    /// The already URI-encoded absolute path.
    pub(crate) encoded_path: &'a str,
    pub(crate) region: &'a str,
    pub(crate) access_key: &'a str,
    pub(crate) secret_key: &'a str,
    pub(crate) session_token: Option<&'a str>,
    pub(crate) expires_seconds: u64,
    /// Extra headers the client must send, lowercase names; signed along with `host`.
    pub(crate) headers: &'a [(String, String)],
    pub(crate) now: SystemTime,
}

/// The pre-signed URL.
pub(crate) fn presign(input: &PresignInput<'_>) -> String {
    let (date, amz_date) = timestamps(input.now);
    let scope = format!("{date}/{}/s3/aws4_request", input.region);
    let (canonical_headers, signed_header_names) =
        canonical_headers(input.host, input.headers.iter());

    let mut query: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        (
            "X-Amz-Credential".to_owned(),
            format!("{}/{scope}", input.access_key),
        ),
        ("X-Amz-Date".to_owned(), amz_date.clone()),
        (
            "X-Amz-Expires".to_owned(),
            input.expires_seconds.to_string(),
        ),
        (
            "X-Amz-SignedHeaders".to_owned(),
            signed_header_names.clone(),
        ),
    ];
    if let Some(token) = input.session_token {
        query.push(("X-Amz-Security-Token".to_owned(), token.to_owned()));
    }
    let canonical_query = canonical_query(
        query
            .iter()
            .map(|(key, value)| (uri_encode(key, true), uri_encode(value, true)))
            .collect(),
    );
    let canonical_request = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_header_names}\nUNSIGNED-PAYLOAD",
        input.method, input.encoded_path
    );
    let signature = signature(
        &canonical_request,
        &amz_date,
        &scope,
        &signing_key(input.secret_key, &date, input.region, "s3"),
    );
    format!(
        "{}://{}{}?{canonical_query}&X-Amz-Signature={signature}",
        input.scheme, input.host, input.encoded_path
    )
}

/// A request to sign with an `Authorization` header (STS's Query API).
#[derive(Debug, Clone)]
pub(crate) struct HeaderSignInput<'a> {
    pub(crate) method: &'a str,
    /// Host header value (with a non-default port).
    pub(crate) host: &'a str,
    /// The already URI-encoded absolute path.
    pub(crate) encoded_path: &'a str,
    /// The already encoded query pairs, in any order.
    pub(crate) encoded_query: &'a [(String, String)],
    /// Headers sent besides `host` and the `x-amz-*` ones this adds, lowercase names.
    pub(crate) headers: &'a [(String, String)],
    pub(crate) payload: &'a [u8],
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) access_key: &'a str,
    pub(crate) secret_key: &'a str,
    pub(crate) session_token: Option<&'a str>,
    pub(crate) now: SystemTime,
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` (temporary
/// credentials only) and `authorization`.
pub(crate) fn sign_headers(input: &HeaderSignInput<'_>) -> Vec<(String, String)> {
    let (date, amz_date) = timestamps(input.now);
    let scope = format!("{date}/{}/{}/aws4_request", input.region, input.service);
    let mut added = vec![("x-amz-date".to_owned(), amz_date.clone())];
    if let Some(token) = input.session_token {
        added.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    let (canonical_headers, signed_header_names) =
        canonical_headers(input.host, input.headers.iter().chain(&added));
    let canonical_query = canonical_query(input.encoded_query.to_vec());
    let canonical_request = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_header_names}\n{}",
        input.method,
        input.encoded_path,
        hex::encode(Sha256::digest(input.payload))
    );
    let signature = signature(
        &canonical_request,
        &amz_date,
        &scope,
        &signing_key(input.secret_key, &date, input.region, input.service),
    );
    added.push((
        "authorization".to_owned(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_header_names}, Signature={signature}",
            input.access_key
        ),
    ));
    added
}

/// The request's day (`YYYYMMDD`, the scope's) and time (`YYYYMMDDTHHMMSSZ`).
fn timestamps(now: SystemTime) -> (String, String) {
    let civil = Civil::from_unix(unix_seconds(now));
    let date = format!("{:04}{:02}{:02}", civil.year, civil.month, civil.day);
    let amz_date = format!(
        "{date}T{:02}{:02}{:02}Z",
        civil.hour, civil.minute, civil.second
    );
    (date, amz_date)
}

/// The canonical header block (`name:value\n` each) and the signed header names (`a;b`) of
/// `host` and `headers`: names lowercased, values trimmed, sorted by name.
fn canonical_headers<'h>(
    host: &str,
    headers: impl Iterator<Item = &'h (String, String)>,
) -> (String, String) {
    let mut signed: Vec<(String, String)> = vec![("host".to_owned(), host.to_owned())];
    signed
        .extend(headers.map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned())));
    signed.sort();
    let block = signed
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let names = signed
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (block, names)
}

/// Already encoded query pairs, sorted and joined (`a=1&b=2`).
fn canonical_query(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The hex signature of `canonical_request` with the day's `signing_key`.
fn signature(canonical_request: &str, amz_date: &str, scope: &str, signing_key: &[u8]) -> String {
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// The key of one day, region and service.
fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let date_key = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let region_key = hmac_sha256(&date_key, region.as_bytes());
    let service_key = hmac_sha256(&region_key, service.as_bytes());
    hmac_sha256(&service_key, b"aws4_request")
}

/// RFC 3986 encoding as S3 wants it: unreserved characters stay, `/` stays unless
/// `encode_slash`, everything else becomes `%XX`.
pub(crate) fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (byte == b'/' && !encode_slash)
        {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block_key.map(|byte| byte ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block_key.map(|byte| byte ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::from_unix_seconds;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn aws_documented_header_signature_example() {
        // The IAM `ListUsers` example of AWS's "Create a signed AWS API request" page
        // (signature version 4 test suite credentials, 2015-08-30T12:36:00Z).
        let headers = sign_headers(&HeaderSignInput {
            method: "GET",
            host: "iam.amazonaws.com",
            encoded_path: "/",
            encoded_query: &[
                ("Action".to_owned(), "ListUsers".to_owned()),
                ("Version".to_owned(), "2010-05-08".to_owned()),
            ],
            headers: &[(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            )],
            payload: b"",
            region: "us-east-1",
            service: "iam",
            access_key: "AKIDEXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
            now: from_unix_seconds(1_440_938_160),
        });
        assert_eq!(
            headers,
            [
                ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
                (
                    "authorization".to_owned(),
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                     SignedHeaders=content-type;host;x-amz-date, \
                     Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
                        .to_owned()
                )
            ]
        );
    }

    #[test]
    fn aws_documented_presigned_get_example() {
        // The example of AWS's "Authenticating Requests: Using Query Parameters" page.
        let url = presign(&PresignInput {
            method: "GET",
            scheme: "https",
            host: "examplebucket.s3.amazonaws.com",
            encoded_path: "/test.txt",
            region: "us-east-1",
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
            expires_seconds: 86_400,
            headers: &[],
            now: from_unix_seconds(1_369_353_600),
        });
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }
}
