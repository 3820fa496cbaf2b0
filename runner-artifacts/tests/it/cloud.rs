//! The GCS and Azure caches end to end: URLs from `CacheSettings` through `plan_archive` /
//! `plan_restore`, then `archive_cache` and `extract_cache` against a real emulator
//! (`gcp-storage-emulator`, Azurite), and what a denied credential does to a job: warnings,
//! no panic, the local cache kept.

use runner_artifacts::{
    ArchiveFormat, AzureSettings, CacheSettings, Error, GcsSettings, NoUrlReason, Secret,
    UploadTarget, archive_cache, extract_cache, plan_archive,
};

use crate::cache::{archive_request, entry, extract_request, job, layout, remote_round_trip};
use crate::support::{capture_logs, write};
use runner_artifacts::test_util::{AZURITE_ACCOUNT, AZURITE_KEY, Emulator};

fn gcs_settings(endpoint: &str) -> CacheSettings {
    CacheSettings {
        cache_type: "gcs".into(),
        path: "ci".into(),
        gcs: Some(GcsSettings {
            credentials_file: concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testdata/gcs-service-account.json"
            )
            .into(),
            bucket_name: "runner-cache".into(),
            endpoint: endpoint.into(),
            ..GcsSettings::default()
        }),
        ..CacheSettings::default()
    }
}

fn azure_settings(endpoint: &str, key: &str) -> CacheSettings {
    CacheSettings {
        cache_type: "azure".into(),
        path: "ci".into(),
        azure: Some(AzureSettings {
            account_name: AZURITE_ACCOUNT.into(),
            account_key: Secret::new(key),
            container_name: "runner-cache".into(),
            blob_endpoint: endpoint.into(),
            ..AzureSettings::default()
        }),
        ..CacheSettings::default()
    }
}

#[tokio::test]
#[ignore = "needs gcp-storage-emulator (scripts/setup-gcs.sh)"]
async fn gcs_cache_round_trip_against_the_emulator() {
    let emulator = Emulator::gcs("runner-cache").await;
    let settings = gcs_settings(&format!("127.0.0.1:{}", emulator.port));
    remote_round_trip(&settings, ArchiveFormat::Zip).await;
    remote_round_trip(&settings, ArchiveFormat::TarZstd).await;
    // The object sits under upstream's name: <Path>/runner/<short token>/project/<id>/<key>.
    let response = emulator
        .raw("GET /runner-cache/ci/runner/abcdefghi/project/12/gems")
        .await;
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
#[ignore = "needs azurite-blob (scripts/setup-azurite.sh)"]
async fn azure_cache_round_trip_against_azurite() {
    let azurite = Emulator::azurite().await;
    azurite.create_container("runner-cache").await;
    let settings = azure_settings(&azurite.azurite_endpoint(), AZURITE_KEY);
    remote_round_trip(&settings, ArchiveFormat::TarZstd).await;
    remote_round_trip(&settings, ArchiveFormat::Zip).await;
}

#[tokio::test]
#[ignore = "needs azurite-blob (scripts/setup-azurite.sh)"]
async fn azure_wrong_key_is_a_warning_and_the_cache_stays_local() {
    let azurite = Emulator::azurite().await;
    azurite.create_container("runner-cache").await;
    // A well-formed key that is not the account's: Azurite refuses the SAS with 403.
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let settings = azure_settings(&azurite.azurite_endpoint(), wrong);
    let layout = layout();
    write(&layout.project, "vendor/x", "x");
    let cache_entry = entry("denied", "");
    let (logs, _guard) = capture_logs();
    let plan = plan_archive(&job(&layout, &settings, None), &cache_entry, true)
        .unwrap()
        .unwrap();
    let urls = plan.steps[0].urls.clone().unwrap();
    let error = archive_cache(&archive_request(
        &layout.project,
        &plan.steps[0].archive_file,
        Some(UploadTarget {
            url: urls.upload.clone(),
            headers: urls.upload_headers.clone(),
        }),
    ))
    .await
    .unwrap_err();
    // Not retried (a 4xx), and the script turns the helper's failure into the
    // `Failed to create cache` warning; the archive stays for the local cache.
    assert!(
        matches!(error, Error::Status { status: 403, .. }),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(layout.project.join(&plan.steps[0].archive_file).exists());
    let error = extract_cache(&extract_request(
        &layout.project,
        &plan.steps[0].archive_file,
        Some(urls.download.clone()),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 403, .. }),
        "{error}"
    );
    let text = logs.text();
    assert!(text.contains("WARN") && text.contains("403"), "{text}");
    assert!(!text.contains("sig="), "no signature in logs: {text}");
}

#[tokio::test]
async fn unusable_cloud_credentials_give_no_url_and_a_local_cache() {
    let directory = tempfile::tempdir().unwrap();
    let not_a_key = directory.path().join("key.json");
    std::fs::write(
        &not_a_key,
        r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    let mut gcs = gcs_settings("127.0.0.1:1");
    if let Some(settings) = gcs.gcs.as_mut() {
        settings.credentials_file = not_a_key.to_string_lossy().into_owned();
    }
    let azure = azure_settings("http://127.0.0.1:1/devstoreaccount1", "");
    for settings in [gcs, azure] {
        let layout = layout();
        write(&layout.project, "vendor/x", "x");
        let (logs, _guard) = capture_logs();
        let plan = plan_archive(&job(&layout, &settings, None), &entry("k", ""), true)
            .unwrap()
            .unwrap();
        let reason = plan.steps[0].urls.clone().unwrap_err();
        assert!(
            matches!(reason, NoUrlReason::Gcs(_) | NoUrlReason::Azure(_)),
            "{reason:?}"
        );
        archive_cache(&archive_request(
            &layout.project,
            &plan.steps[0].archive_file,
            None,
        ))
        .await
        .unwrap();
        let text = logs.text();
        assert!(text.contains("cache URL not generated"), "{text}");
        assert!(text.contains("No URL provided"), "{text}");
    }
}
