//! S3 IAM credentials (`AuthenticationType = "iam"`): the IMDSv2 flow and the credential
//! cache against a loopback instance-metadata fake, and web identity / `RoleARN` through a
//! real STS (moto_server) followed by a cache round trip on moto's S3.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runner_artifacts::{
    AwsEnvironment, CacheSettings, CredentialsError, CredentialsProvider, plan_restore,
};
use tokio::task::JoinSet;

use crate::cache::{entry, job, layout};

/// The expiry the fake hands out: 2030-01-01T00:00:00Z.
const EXPIRY: &str = "2030-01-01T00:00:00Z";
const EXPIRY_UNIX: u64 = 1_893_456_000;
const IMDS_TOKEN: &str = "imds-session-token";

fn at_minutes_before_expiry(minutes: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EXPIRY_UNIX - minutes * 60)
}

/// A loopback IMDSv2: `PUT /latest/api/token` with a TTL header gives a token, which every
/// `GET` must carry (401 otherwise, as IMDS with `HttpTokens=required`).
struct FakeImds {
    address: std::net::SocketAddr,
    v1_only: Arc<AtomicBool>,
    credential_fetches: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    _tasks: JoinSet<()>,
}

impl FakeImds {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let credential_fetches = Arc::new(AtomicUsize::new(0));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let v1_only = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        let (fetches, recorded, v1) = (
            credential_fetches.clone(),
            requests.clone(),
            v1_only.clone(),
        );
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (fetches, recorded, v1) = (fetches.clone(), recorded.clone(), v1.clone());
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let answer =
                            answer(&request, &fetches, &recorded, v1.load(Ordering::SeqCst));
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            v1_only,
            credential_fetches,
            requests,
            _tasks: tasks,
        }
    }

    fn environment(&self) -> AwsEnvironment {
        AwsEnvironment {
            ec2_metadata_service_endpoint: format!("http://{}", self.address),
            ..AwsEnvironment::default()
        }
    }
}

fn answer(
    request: &http::Request<Incoming>,
    fetches: &AtomicUsize,
    recorded: &Mutex<Vec<String>>,
    v1_only: bool,
) -> http::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let has_token = header("x-aws-ec2-metadata-token").as_deref() == Some(IMDS_TOKEN);
    recorded.lock().unwrap().push(format!(
        "{} {path}{}",
        request.method(),
        if has_token { " (token)" } else { "" }
    ));
    let reply = |status: u16, body: String| {
        http::Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if request.method() == http::Method::PUT && path == "/latest/api/token" {
        if v1_only {
            return reply(405, String::new());
        }
        return match header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(_) => reply(200, IMDS_TOKEN.to_owned()),
            None => reply(400, String::new()),
        };
    }
    if !has_token && !v1_only {
        return reply(401, String::new());
    }
    match path.as_str() {
        "/latest/meta-data/iam/security-credentials/" => reply(200, "runner-role\n".to_owned()),
        "/latest/meta-data/iam/security-credentials/runner-role" => {
            let fetch = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            reply(
                200,
                serde_json::json!({
                    "Code": "Success",
                    "Type": "AWS-HMAC",
                    "AccessKeyId": format!("ASIAIMDS{fetch}"),
                    "SecretAccessKey": "imds-secret",
                    "Token": format!("imds-session-{fetch}"),
                    "Expiration": EXPIRY,
                })
                .to_string(),
            )
        }
        _ => reply(404, String::new()),
    }
}

#[tokio::test]
async fn imdsv2_flow_sends_the_session_token() {
    let imds = FakeImds::start().await;
    let provider = CredentialsProvider::new(imds.environment(), "", "");
    let credentials = provider
        .credentials(at_minutes_before_expiry(60))
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id, "ASIAIMDS1");
    assert_eq!(credentials.session_token.expose(), "imds-session-1");
    assert_eq!(
        credentials.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(EXPIRY_UNIX))
    );
    assert_eq!(
        *imds.requests.lock().unwrap(),
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/ (token)",
            "GET /latest/meta-data/iam/security-credentials/runner-role (token)",
        ]
    );
}

#[tokio::test]
async fn a_metadata_service_without_tokens_falls_back_to_imdsv1() {
    let imds = FakeImds::start().await;
    imds.v1_only.store(true, Ordering::SeqCst);
    let provider = CredentialsProvider::new(imds.environment(), "", "");
    let credentials = provider
        .credentials(at_minutes_before_expiry(60))
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id, "ASIAIMDS1");
    assert_eq!(
        *imds.requests.lock().unwrap(),
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/runner-role",
        ]
    );
}

#[tokio::test]
async fn credentials_are_cached_and_refreshed_five_minutes_before_expiry() {
    let imds = FakeImds::start().await;
    let provider = CredentialsProvider::new(imds.environment(), "", "");
    let first = provider
        .credentials(at_minutes_before_expiry(60))
        .await
        .unwrap();
    let cached = provider
        .credentials(at_minutes_before_expiry(6))
        .await
        .unwrap();
    assert_eq!(imds.credential_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(first, cached);
    let refreshed = provider
        .credentials(at_minutes_before_expiry(4))
        .await
        .unwrap();
    assert_eq!(imds.credential_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(refreshed.access_key_id, "ASIAIMDS2");
}

#[tokio::test]
async fn unreachable_metadata_service_is_a_transfer_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let provider = CredentialsProvider::new(
        AwsEnvironment {
            ec2_metadata_service_endpoint: format!("http://{address}"),
            ..AwsEnvironment::default()
        },
        "",
        "",
    );
    let error = provider.credentials(SystemTime::now()).await.unwrap_err();
    assert!(
        matches!(error, CredentialsError::Transfer { .. }),
        "{error:?}"
    );
}

fn iam_settings(address: &str) -> CacheSettings {
    let mut settings = crate::s3::s3_settings(address);
    if let Some(s3) = settings.s3.as_mut() {
        s3.authentication_type = "iam".into();
        s3.access_key.clear();
        s3.secret_key = runner_artifacts::Secret::default();
    }
    settings
}

#[tokio::test]
#[ignore = "needs moto_server"]
async fn web_identity_credentials_from_moto_sts_round_trip_the_cache() {
    let moto = crate::moto::Moto::start().await;
    moto.create_bucket("runner-cache").await;
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n").unwrap();
    let environment = AwsEnvironment::from_lookup(|name| {
        match name {
            "AWS_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/runner-cache".to_owned()),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some(token_file.display().to_string()),
            "AWS_ROLE_SESSION_NAME" => Some("runner-test".to_owned()),
            "AWS_REGION" => Some("us-east-1".to_owned()),
            "AWS_ENDPOINT_URL_STS" => Some(format!("http://{}", moto.address())),
            // Never reached: web identity comes first.
            "AWS_EC2_METADATA_DISABLED" => Some("true".to_owned()),
            _ => None,
        }
    });
    let provider = CredentialsProvider::new(environment, "", "us-east-1");
    let credentials = provider.credentials(SystemTime::now()).await.unwrap();
    assert!(
        credentials.access_key_id.starts_with("ASIA"),
        "{credentials:?}"
    );
    assert!(!credentials.session_token.is_empty());
    assert!(
        credentials
            .expires_at
            .is_some_and(|at| at > SystemTime::now())
    );

    let mut settings = iam_settings(&moto.address());
    if let Some(s3) = settings.s3.as_mut() {
        s3.credentials = Some(credentials.clone());
    }
    let plan = plan_restore(&job(&layout(), &settings, None), &entry("gems", ""))
        .unwrap()
        .unwrap();
    let download = plan.steps[0].urls.as_ref().unwrap().download.clone();
    assert!(
        download
            .query_pairs()
            .any(|(name, value)| name == "X-Amz-Security-Token"
                && value == credentials.session_token.expose()),
        "{download}"
    );
    crate::cache::remote_round_trip(&settings, runner_artifacts::ArchiveFormat::Zip).await;
}

#[tokio::test]
#[ignore = "needs moto_server"]
async fn role_arn_is_assumed_with_the_chain_credentials() {
    let moto = crate::moto::Moto::start().await;
    let environment = AwsEnvironment {
        access_key_id: "AKIAENVIRONMENT".into(),
        secret_access_key: runner_artifacts::Secret::new("environment-secret"),
        endpoint_url: format!("http://{}", moto.address()),
        ec2_metadata_disabled: true,
        ..AwsEnvironment::default()
    };
    let provider = CredentialsProvider::new(
        environment,
        "arn:aws:iam::123456789012:role/cache-role",
        "eu-west-1",
    );
    let now = SystemTime::now();
    let credentials = provider.credentials(now).await.unwrap();
    assert!(
        credentials.access_key_id.starts_with("ASIA"),
        "{credentials:?}"
    );
    assert_ne!(credentials.access_key_id, "AKIAENVIRONMENT");
    let lifetime = credentials
        .expires_at
        .unwrap()
        .duration_since(now)
        .unwrap_or_default();
    assert!(
        lifetime > Duration::from_secs(3000) && lifetime <= Duration::from_secs(3700),
        "{lifetime:?}"
    );
}

/// A loopback STS that refuses every call as AWS does (403 with an `ErrorResponse`) and
/// keeps the request it got.
async fn refusing_sts() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&request).contains("RoleSessionName") {
            let read = stream.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
            <Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to \
            perform: sts:AssumeRole &amp; more</Message></Error></ErrorResponse>";
        let response = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    (url, task)
}

#[tokio::test]
async fn assume_role_is_signed_and_sts_errors_carry_the_aws_code() {
    let (url, sts) = refusing_sts().await;
    let provider = CredentialsProvider::new(
        AwsEnvironment {
            access_key_id: "AKIAENVIRONMENT".into(),
            secret_access_key: runner_artifacts::Secret::new("environment-secret"),
            session_token: runner_artifacts::Secret::new("environment-session"),
            endpoint_url_sts: url.clone(),
            region: "eu-central-1".into(),
            ..AwsEnvironment::default()
        },
        "arn:aws:iam::123456789012:role/cache-role",
        "",
    );
    let error = provider.credentials(SystemTime::now()).await.unwrap_err();
    let text = runner_artifacts::render(&error);
    assert_eq!(
        text,
        format!(
            "STS AssumeRole at {url}/: HTTP 403: AccessDenied: User is not authorized to perform: sts:AssumeRole & more"
        )
    );
    let request = sts.await.unwrap().to_ascii_lowercase();
    assert!(request.starts_with("post / http/1.1"), "{request}");
    assert!(
        request.contains("authorization: aws4-hmac-sha256 credential=akiaenvironment/")
            && request.contains("/eu-central-1/sts/aws4_request"),
        "{request}"
    );
    assert!(
        request.contains("x-amz-security-token: environment-session"),
        "{request}"
    );
    assert!(request.contains("action=assumerole&version=2011-06-15&rolearn=arn%3aaws%3aiam%3a%3a123456789012%3arole%2fcache-role"), "{request}");
    assert!(!request.contains("environment-secret"), "{request}");
}
