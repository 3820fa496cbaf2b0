//! Artifact upload and download against a loopback coordinator that refuses chunked bodies.

use std::time::Duration;

use runner_api::{ClientBuilder, Token};
use runner_artifacts::{
    ArtifactsDownload, ArtifactsUpload, ArtifactsUploaded, CompressionLevel, PathSelector,
    RetryPolicy, UploadRetry, download_artifacts, upload_artifacts,
};

use crate::support::{Mode, Server, write};

fn request(project: &std::path::Path, staging: &std::path::Path) -> ArtifactsUpload {
    ArtifactsUpload {
        project_dir: project.to_path_buf(),
        job_id: 42,
        job_token: Token::new("glcbt-64_secretJobToken"),
        selector: PathSelector {
            paths: vec!["bin/".into()],
            exclude: vec!["bin/*.tmp".into()],
            untracked: false,
        },
        name: "binaries".into(),
        format: "zip".into(),
        artifact_type: "archive".into(),
        expire_in: "7 days".into(),
        compression: CompressionLevel::Fast,
        staging_dir: staging.to_path_buf(),
        retry: UploadRetry {
            min_wait: Duration::ZERO,
            max_wait: Duration::ZERO,
            ..UploadRetry::default()
        },
    }
}

#[tokio::test]
async fn upload_sends_a_content_length_and_succeeds_where_chunked_gets_411() {
    let server = Server::start(Mode::Coordinator { upload_status: 201 }).await;
    let client = ClientBuilder::new(server.url()).build().unwrap();
    let project = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    write(project.path(), "bin/app", &"x".repeat(100_000));
    write(project.path(), "bin/app.tmp", "scratch");

    let outcome = upload_artifacts(&client, &request(project.path(), staging.path()))
        .await
        .unwrap();
    let ArtifactsUploaded::Uploaded { size } = outcome else {
        panic!("expected an upload, got {outcome:?}")
    };
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let post = &recorded[0];
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.path_and_query,
        "/api/v4/jobs/42/artifacts?artifact_format=zip&artifact_type=archive&expire_in=7+days"
    );
    assert!(post.headers.get("transfer-encoding").is_none());
    let declared: u64 = post.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(declared, post.body_len);
    assert!(
        post.body_len > size,
        "multipart envelope around the {size}-byte archive"
    );
    assert_eq!(post.headers["job-token"], "glcbt-64_secretJobToken");
    assert_eq!(
        std::fs::read_dir(staging.path()).unwrap().count(),
        0,
        "the staged archive is removed"
    );
}

#[tokio::test]
async fn a_413_answer_fails_at_once_with_a_clear_error() {
    let server = Server::start(Mode::Coordinator { upload_status: 413 }).await;
    let client = ClientBuilder::new(server.url()).build().unwrap();
    let project = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    write(project.path(), "bin/app", "app");

    let error = upload_artifacts(&client, &request(project.path(), staging.path()))
        .await
        .unwrap_err();
    assert!(error.is_too_large(), "{error}");
    let rendered = runner_artifacts::render(&error);
    assert!(
        rendered.contains("413 Request Entity Too Large"),
        "{rendered}"
    );
    assert!(!rendered.contains("secretJobToken"), "{rendered}");
    assert_eq!(server.recorded().len(), 1, "413 is not retried");
}

#[tokio::test]
async fn no_files_is_not_an_error_and_uploads_nothing() {
    let server = Server::start(Mode::Coordinator { upload_status: 201 }).await;
    let client = ClientBuilder::new(server.url()).build().unwrap();
    let project = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let outcome = upload_artifacts(&client, &request(project.path(), staging.path()))
        .await
        .unwrap();
    assert_eq!(outcome, ArtifactsUploaded::NoFiles);
    assert!(server.recorded().is_empty());
}

#[tokio::test]
async fn a_dependency_is_downloaded_and_extracted_into_the_project() {
    let server = Server::start(Mode::Coordinator { upload_status: 201 }).await;
    let client = ClientBuilder::new(server.url()).build().unwrap();
    let producer = tempfile::tempdir().unwrap();
    write(producer.path(), "bin/app", "built by the first job");
    let archive = producer.path().join("artifacts.zip");
    let selection = PathSelector {
        paths: vec!["bin".into()],
        ..PathSelector::default()
    }
    .select(producer.path())
    .unwrap();
    runner_artifacts::create_archive(
        runner_artifacts::ArchiveFormat::Zip,
        CompressionLevel::Default,
        &selection,
        &archive,
    )
    .unwrap();
    server.objects.lock().unwrap().insert(
        "/api/v4/jobs/7/artifacts".into(),
        std::fs::read(&archive).unwrap().into(),
    );

    let consumer = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let download = ArtifactsDownload {
        project_dir: consumer.path().to_path_buf(),
        job_id: 7,
        job_token: Token::new("dependency-token"),
        direct_download: false,
        staging_dir: staging.path().to_path_buf(),
        retry: RetryPolicy {
            attempts: 3,
            pause: Duration::ZERO,
        },
    };
    let stats = download_artifacts(&client, &download).await.unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(
        std::fs::read_to_string(consumer.path().join("bin/app")).unwrap(),
        "built by the first job"
    );

    let missing = ArtifactsDownload {
        job_id: 8,
        ..download
    };
    let error = download_artifacts(&client, &missing).await.unwrap_err();
    assert!(
        matches!(&error, runner_artifacts::Error::Api(api) if api.is_not_found()),
        "{error}"
    );
    let gets = server
        .recorded()
        .iter()
        .filter(|request| request.path_and_query == "/api/v4/jobs/8/artifacts")
        .count();
    assert_eq!(gets, 1, "404 is not retried");
}
