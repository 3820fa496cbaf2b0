//! The S3 cache: pre-signed URLs from `[runners.cache.s3]`, the `No URL provided` messages
//! when the configuration is incomplete, and round trips through a loopback object store and
//! a real moto_server.

use runner_artifacts::{
    ArchiveFormat, CacheSettings, Error, NoUrlReason, S3Settings, Secret, archive_cache,
    extract_cache, plan_archive, plan_restore,
};

use crate::cache::{archive_request, entry, extract_request, job, layout, remote_round_trip};
use crate::support::{Mode, Server, capture_logs, write};

pub(crate) fn s3_settings(address: &str) -> CacheSettings {
    CacheSettings {
        cache_type: "s3".into(),
        path: "ci".into(),
        s3: Some(S3Settings {
            server_address: address.into(),
            access_key: "testing".into(),
            secret_key: Secret::new("testing-secret"),
            bucket_name: "runner-cache".into(),
            bucket_location: "us-east-1".into(),
            insecure: true,
            ..S3Settings::default()
        }),
        ..CacheSettings::default()
    }
}

#[tokio::test]
async fn incomplete_s3_settings_give_no_url_and_the_helpers_say_so() {
    let layout = layout();
    let mut settings = s3_settings("127.0.0.1:1");
    if let Some(s3) = settings.s3.as_mut() {
        s3.bucket_name.clear();
    }
    let plan = plan_archive(&job(&layout, &settings, None), &entry("k", ""), true)
        .unwrap()
        .unwrap();
    assert_eq!(plan.steps[0].urls, Err(NoUrlReason::MissingBucket));
    let args = plan.steps[0].archiver_args(&entry("k", ""), 10, 0);
    assert!(!args.iter().any(|arg| arg == "--url"), "{args:?}");

    write(&layout.project, "vendor/x", "x");
    let (logs, _guard) = capture_logs();
    archive_cache(&archive_request(
        &layout.project,
        &plan.steps[0].archive_file,
        None,
    ))
    .await
    .unwrap();
    extract_cache(&extract_request(
        &layout.project,
        &plan.steps[0].archive_file,
        None,
    ))
    .await
    .unwrap();
    let text = logs.text();
    assert!(text.contains("No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally."), "{text}");
    assert!(text.contains("No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted."), "{text}");
}

#[tokio::test]
async fn s3_cache_round_trip_through_a_loopback_object_store() {
    let store = Server::start(Mode::ObjectStore).await;
    remote_round_trip(&s3_settings(&store.address.to_string()), ArchiveFormat::Zip).await;
    let paths: Vec<String> = store
        .recorded()
        .iter()
        .map(|request| {
            format!(
                "{} {}",
                request.method,
                request.path_and_query.split('?').next().unwrap()
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            "PUT /runner-cache/ci/runner/abcdefghi/project/12/gems",
            "GET /runner-cache/ci/runner/abcdefghi/project/12/gems"
        ]
    );

    // A key the store does not have: the extractor fails (the script then tries the next key).
    let settings = s3_settings(&store.address.to_string());
    let fresh = layout();
    let plan = plan_restore(&job(&fresh, &settings, None), &entry("absent", ""))
        .unwrap()
        .unwrap();
    let download = plan.steps[0].urls.as_ref().unwrap().download.clone();
    let error = extract_cache(&extract_request(
        &fresh.project,
        &plan.steps[0].archive_file,
        Some(download),
    ))
    .await
    .unwrap_err();
    assert!(matches!(error, Error::CacheFileMissing { .. }), "{error}");
}

#[tokio::test]
#[ignore = "needs moto_server"]
async fn s3_cache_round_trip_against_moto() {
    let moto = crate::moto::Moto::start().await;
    moto.create_bucket("runner-cache").await;
    remote_round_trip(&s3_settings(&moto.address()), ArchiveFormat::Zip).await;
}
