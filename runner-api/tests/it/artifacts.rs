//! Vectors 55–59: artifacts upload (with Content-Length) and download.

use std::time::Duration;

use runner_api::fake::{Endpoint, FakeConfig, Fault};
use runner_api::{ArtifactUpload, Error, Token};

use crate::support::*;

fn archive(directory: &tempfile::TempDir, content: &[u8]) -> std::path::PathBuf {
    let path = directory.path().join("archive.bin");
    std::fs::write(&path, content).unwrap();
    path
}

fn upload(path: std::path::PathBuf) -> ArtifactUpload {
    ArtifactUpload {
        path,
        name: "report".into(),
        format: "gzip".into(),
        artifact_type: "junit".into(),
        expire_in: "7d".into(),
    }
}

#[tokio::test]
async fn vector_55_upload_is_multipart_with_content_length() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({"id": 10}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    let directory = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|index| (index % 256) as u8).collect();
    let (client, _) = client(&fake);
    client
        .upload_artifacts(10, &token, &upload(archive(&directory, &content)))
        .await
        .unwrap();
    let request = &fake.requests_to(Endpoint::UploadArtifacts)[0];
    assert_eq!(
        request.path_and_query,
        "/api/v4/jobs/10/artifacts?artifact_format=gzip&artifact_type=junit&expire_in=7d"
    );
    assert!(request.headers.get("transfer-encoding").is_none());
    assert_eq!(
        request.headers["content-length"].to_str().unwrap(),
        request.body.len().to_string()
    );
    let stored = &fake.job(10).unwrap().artifacts[0];
    assert_eq!(stored.filename, "report.gz");
    assert_eq!(stored.data, content);
    assert_eq!(stored.query["artifact_type"], "junit");
}

#[tokio::test]
async fn fake_rejects_chunked_uploads_with_411() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let url = format!("{}api/v4/jobs/{job_id}/artifacts", fake.url());
    let body =
        http_body_util::StreamBody::new(futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
            hyper::body::Frame::data(bytes::Bytes::from_static(b"x")),
        )]));
    let request = http::Request::post(url)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::StreamBody<_>>();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 411);
}

#[tokio::test]
async fn vector_56_too_large_is_its_own_error_after_one_attempt() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    fake.inject_fault(Endpoint::UploadArtifacts, 3, Fault::status(413));
    let directory = tempfile::tempdir().unwrap();
    let (client, _) = client(&fake);
    let error = client
        .upload_artifacts(job_id, &token, &upload(archive(&directory, b"zip")))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    assert!(error.to_string().contains("413 Request Entity Too Large"));
    assert_eq!(fake.request_count(Endpoint::UploadArtifacts), 1);
}

#[tokio::test(start_paused = true)]
async fn vector_57_unavailable_upload_is_retried_by_the_http_layer() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    fake.inject_fault(
        Endpoint::UploadArtifacts,
        100,
        Fault::status(503).header("Retry-After", "1"),
    );
    let directory = tempfile::tempdir().unwrap();
    let (client, clock) = client(&fake);
    let error = client
        .upload_artifacts(job_id, &token, &upload(archive(&directory, b"zip")))
        .await
        .unwrap_err();
    assert!(error.is_unavailable());
    assert_eq!(fake.request_count(Endpoint::UploadArtifacts), 5);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1); 4]);
    // The archive is streamed again for every attempt.
    assert!(
        fake.requests_to(Endpoint::UploadArtifacts)
            .iter()
            .all(|request| request.body.windows(3).any(|window| window == b"zip"))
    );
}

#[tokio::test]
async fn vector_58_redirect_to_storage_does_not_leak_the_job_token() {
    let storage_files = tempfile::tempdir().unwrap();
    std::fs::write(storage_files.path().join("object"), b"artifact bytes").unwrap();
    let storage = fake_with(FakeConfig {
        static_dir: Some(storage_files.path().to_owned()),
        ..FakeConfig::default()
    })
    .await;
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    let location = format!("{}repo/object?X-Amz-Signature=abc", storage.url());
    fake.inject_fault(
        Endpoint::DownloadArtifacts,
        1,
        Fault::status(302).header("Location", &location),
    );
    let directory = tempfile::tempdir().unwrap();
    let destination = directory.path().join("artifacts.zip");
    let (client, _) = client(&fake);
    let written = client
        .download_artifacts(job_id, &token, &destination, true)
        .await
        .unwrap();
    assert_eq!(written, 14);
    assert_eq!(std::fs::read(&destination).unwrap(), b"artifact bytes");
    let first = &fake.requests_to(Endpoint::DownloadArtifacts)[0];
    assert_eq!(
        first.path_and_query,
        format!("/api/v4/jobs/{job_id}/artifacts?direct_download=true")
    );
    assert_eq!(first.headers["job-token"], token.expose());
    let storage_request = &storage.requests_to(Endpoint::Repo)[0];
    assert!(storage_request.headers.get("job-token").is_none());
}

#[tokio::test]
async fn upload_then_download_round_trips() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    let directory = tempfile::tempdir().unwrap();
    let (client, _) = client(&fake);
    client
        .upload_artifacts(
            job_id,
            &token,
            &upload(archive(&directory, b"PK\x03\x04data")),
        )
        .await
        .unwrap();
    let destination = directory.path().join("downloaded");
    client
        .download_artifacts(job_id, &token, &destination, false)
        .await
        .unwrap();
    assert_eq!(std::fs::read(destination).unwrap(), b"PK\x03\x04data");
}

#[tokio::test]
async fn vector_59_not_found_and_forbidden_downloads() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    let directory = tempfile::tempdir().unwrap();
    let destination = directory.path().join("artifacts.zip");
    let (client, _) = client(&fake);
    let error = client
        .download_artifacts(job_id, &token, &destination, false)
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(fake.request_count(Endpoint::DownloadArtifacts), 1);
    let xml = "<Error><Code>SecurityPolicyViolated</Code><Message>Request violates VPC Service Controls</Message></Error>";
    let mut fault = Fault::status(403);
    fault.body = xml.to_owned();
    fake.inject_fault(Endpoint::DownloadArtifacts, 1, fault);
    let error = client
        .download_artifacts(job_id, &token, &destination, false)
        .await
        .unwrap_err();
    assert!(error.is_auth());
    assert!(
        error
            .to_string()
            .contains("SecurityPolicyViolated: Request violates VPC Service Controls"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn vector_57_helper_retries_unavailable_uploads_six_times() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    fake.inject_fault(
        Endpoint::UploadArtifacts,
        1000,
        Fault::status(503).header("Retry-After", "1"),
    );
    let directory = tempfile::tempdir().unwrap();
    let (client, clock) = client(&fake);
    let error = client
        .upload_artifacts_with_retries(job_id, &token, &upload(archive(&directory, b"zip")))
        .await
        .unwrap_err();
    assert!(error.is_unavailable());
    assert_eq!(fake.request_count(Endpoint::UploadArtifacts), 30);
    let pauses: Vec<_> = clock
        .sleeps()
        .into_iter()
        .filter(|sleep| *sleep != Duration::from_secs(1))
        .collect();
    assert_eq!(
        pauses,
        vec![
            Duration::from_secs(2),
            Duration::from_secs(4),
            Duration::from_secs(5),
            Duration::from_secs(5)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn helper_does_not_retry_a_too_large_upload() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    fake.inject_fault(Endpoint::UploadArtifacts, 10, Fault::status(413));
    let directory = tempfile::tempdir().unwrap();
    let (client, _) = client(&fake);
    let error = client
        .upload_artifacts_with_retries(job_id, &token, &upload(archive(&directory, b"zip")))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }));
    assert_eq!(fake.request_count(Endpoint::UploadArtifacts), 1);
}

#[tokio::test(start_paused = true)]
async fn vector_60_download_is_tried_three_times_direct_only_first() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    // 500 is also retried by the HTTP layer (5 attempts) except on the direct-download request.
    fake.inject_fault(Endpoint::DownloadArtifacts, 1000, Fault::status(500));
    let directory = tempfile::tempdir().unwrap();
    let (client, _) = client(&fake);
    let error = client
        .download_artifacts_with_retries(job_id, &token, &directory.path().join("a.zip"), true)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    let requests = fake.requests_to(Endpoint::DownloadArtifacts);
    assert_eq!(requests.len(), 1 + 5 + 5);
    assert!(
        requests[0]
            .path_and_query
            .ends_with("?direct_download=true")
    );
    assert!(
        requests[1..]
            .iter()
            .all(|request| !request.path_and_query.contains("direct_download"))
    );
}
