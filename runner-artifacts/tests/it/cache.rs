//! Cache: planning (keys, policy, fallbacks), local save and restore, remote round trips on
//! pre-signed URLs (a loopback object store, and moto_server when installed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use runner_artifacts::{
    ArchiveFormat, CacheArchive, CacheArchived, CacheEntry, CacheExtract, CacheJob, CachePlan,
    CacheSettings, CompressionLevel, Error, NO_DOWNLOAD_URL_MESSAGE, NO_UPLOAD_URL_MESSAGE,
    NoUrlReason, PathSelector, RemoteCache, RetryPolicy, ScriptMessage, UploadTarget,
    archive_cache, extract_cache, plan_archive, plan_restore,
};

use crate::s3::s3_settings;
use crate::support::{Mode, Server, capture_logs, write};

/// A builds root and a cache root side by side, as on a shell runner.
pub(crate) struct Layout {
    _root: tempfile::TempDir,
    pub(crate) project: PathBuf,
    pub(crate) cache_dir: PathBuf,
}

pub(crate) fn layout() -> Layout {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("builds/group/project");
    let cache_dir = root.path().join("cache/group/project");
    std::fs::create_dir_all(&project).unwrap();
    Layout {
        project,
        cache_dir,
        _root: root,
    }
}

pub(crate) fn job<'a>(
    layout: &'a Layout,
    settings: &'a CacheSettings,
    fallback: Option<&'a str>,
) -> CacheJob<'a> {
    CacheJob {
        settings,
        short_token: "abcdefghi",
        project_id: 12,
        project_dir: &layout.project,
        cache_dir: &layout.cache_dir,
        job_name: "build",
        git_ref: "main",
        cache_fallback_key: fallback,
        url_expiry: Duration::from_secs(3600),
        now: SystemTime::now(),
        hash_keys: false,
    }
}

pub(crate) fn entry(key: &str, policy: &str) -> CacheEntry {
    CacheEntry {
        key: key.into(),
        paths: vec!["vendor/".into()],
        policy: policy.into(),
        ..CacheEntry::default()
    }
}

pub(crate) fn archive_request(
    project: &Path,
    file: &Path,
    upload: Option<UploadTarget>,
) -> CacheArchive {
    CacheArchive {
        project_dir: project.to_path_buf(),
        file: file.to_path_buf(),
        selector: PathSelector {
            paths: vec!["vendor/".into()],
            ..PathSelector::default()
        },
        upload,
        max_uploaded_archive_size: 0,
        metadata: BTreeMap::from([("cachekey".to_owned(), "k".to_owned())]),
        timeout: Duration::from_secs(60),
        compression: CompressionLevel::Default,
        format: ArchiveFormat::Zip,
        retry: RetryPolicy {
            attempts: 2,
            pause: Duration::ZERO,
        },
    }
}

pub(crate) fn extract_request(
    project: &Path,
    file: &Path,
    download: Option<url::Url>,
) -> CacheExtract {
    CacheExtract {
        project_dir: project.to_path_buf(),
        file: file.to_path_buf(),
        download,
        timeout: Duration::from_secs(60),
        retry: RetryPolicy {
            attempts: 2,
            pause: Duration::ZERO,
        },
    }
}

fn steps(plan: &CachePlan) -> Vec<&str> {
    plan.steps.iter().map(|step| step.key.as_str()).collect()
}

#[tokio::test]
async fn cache_saved_by_one_job_is_restored_by_the_next() {
    let layout = layout();
    let settings = CacheSettings::default();
    let plan = plan_archive(
        &job(&layout, &settings, None),
        &entry("deps-protected", ""),
        true,
    )
    .unwrap()
    .unwrap();
    let step = &plan.steps[0];
    assert_eq!(
        step.archive_file,
        Path::new("../../../cache/group/project/deps-protected/cache.zip")
    );
    assert_eq!(step.urls, Err(NoUrlReason::NotConfigured));
    write(&layout.project, "vendor/lib/a.rb", "a");

    let (logs, _guard) = capture_logs();
    let outcome = archive_cache(&archive_request(&layout.project, &step.archive_file, None))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            CacheArchived::Created {
                remote: RemoteCache::NoUrl,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(
        logs.text().contains(NO_UPLOAD_URL_MESSAGE),
        "{}",
        logs.text()
    );
    let archive = layout.cache_dir.join("deps-protected/cache.zip");
    assert!(archive.is_file());
    let metadata =
        std::fs::read_to_string(layout.cache_dir.join("deps-protected/metadata.json")).unwrap();
    assert_eq!(metadata, r#"{"cachekey":"k"}"#);

    let again = archive_cache(&archive_request(&layout.project, &step.archive_file, None))
        .await
        .unwrap();
    assert_eq!(again, CacheArchived::UpToDate);

    std::fs::remove_dir_all(layout.project.join("vendor")).unwrap();
    let stats = extract_cache(&extract_request(&layout.project, &step.archive_file, None))
        .await
        .unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(
        std::fs::read_to_string(layout.project.join("vendor/lib/a.rb")).unwrap(),
        "a"
    );
    assert!(
        logs.text().contains(NO_DOWNLOAD_URL_MESSAGE),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn policy_pull_never_uploads_and_policy_push_never_downloads() {
    let store = Server::start(Mode::ObjectStore).await;
    let layout = layout();
    let settings = s3_settings(&store.address.to_string());
    let job = job(&layout, &settings, None);

    let archive = plan_archive(&job, &entry("k", "pull"), true)
        .unwrap()
        .unwrap();
    assert!(archive.steps.is_empty());
    assert_eq!(
        archive.messages,
        [ScriptMessage::Notice(
            "Not uploading cache k due to policy".into()
        )]
    );
    let restore = plan_restore(&job, &entry("k", "push")).unwrap().unwrap();
    assert!(restore.steps.is_empty());
    assert_eq!(
        restore.messages,
        [ScriptMessage::Notice(
            "Not downloading cache k due to policy".into()
        )]
    );
    assert_eq!(
        plan_restore(&job, &entry("k", "bogus"))
            .unwrap_err()
            .to_string(),
        "unknown cache policy bogus for k"
    );

    // pull-push: one step with a signed PUT, and the archiver does upload.
    write(&layout.project, "vendor/x", "x");
    let archive = plan_archive(&job, &entry("k", "pull-push"), true)
        .unwrap()
        .unwrap();
    let urls = archive.steps[0].urls.clone().unwrap();
    let target = UploadTarget {
        url: urls.upload.clone(),
        headers: urls.upload_headers.clone(),
    };
    archive_cache(&archive_request(
        &layout.project,
        &archive.steps[0].archive_file,
        Some(target),
    ))
    .await
    .unwrap();
    let puts = store
        .recorded()
        .iter()
        .filter(|request| request.method == "PUT")
        .count();
    assert_eq!(puts, 1, "only the pull-push entry uploads");
    assert_eq!(store.recorded()[0].headers["x-amz-meta-cachekey"], "k");
}

#[tokio::test]
async fn fallback_keys_are_tried_in_order_and_a_corrupt_cache_only_warns() {
    let layout = layout();
    let settings = CacheSettings::default();
    let mut cache_entry = entry("primary", "");
    cache_entry.fallback_keys = vec!["fallback-1".into(), "fallback-2".into()];
    let plan = plan_restore(&job(&layout, &settings, Some("global")), &cache_entry)
        .unwrap()
        .unwrap();
    assert_eq!(
        steps(&plan),
        ["primary", "fallback-1", "fallback-2", "global"]
    );
    let protected = plan_restore(
        &job(&layout, &settings, Some("main-protected")),
        &cache_entry,
    )
    .unwrap()
    .unwrap();
    assert_eq!(steps(&protected), ["primary", "fallback-1", "fallback-2"]);
    assert_eq!(
        protected.messages,
        [ScriptMessage::Warning(
            "CACHE_FALLBACK_KEY \"main-protected\" not allowed to end in \"-protected\"".into()
        )]
    );

    // primary is corrupt, fallback-1 is missing, fallback-2 is good.
    std::fs::create_dir_all(layout.cache_dir.join("primary")).unwrap();
    std::fs::write(
        layout.cache_dir.join("primary/cache.zip"),
        b"not a zip at all",
    )
    .unwrap();
    let producer = tempfile::tempdir().unwrap();
    write(producer.path(), "vendor/from-fallback-2", "ok");
    let good = layout.cache_dir.join("fallback-2/cache.zip");
    archive_cache(&archive_request(producer.path(), &good, None))
        .await
        .unwrap();

    let mut errors = Vec::new();
    let mut restored_from = None;
    for step in &plan.steps {
        match extract_cache(&extract_request(&layout.project, &step.archive_file, None)).await {
            Ok(_) => {
                restored_from = Some(step.key.clone());
                break;
            }
            Err(error) => errors.push(error),
        }
    }
    assert_eq!(restored_from.as_deref(), Some("fallback-2"));
    assert!(errors[0].is_corrupt_archive(), "{}", errors[0]);
    assert!(
        matches!(errors[1], Error::CacheFileMissing { .. }),
        "{}",
        errors[1]
    );
    assert_eq!(
        std::fs::read_to_string(layout.project.join("vendor/from-fallback-2")).unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn keys_are_sanitised_with_upstreams_warnings() {
    let layout = layout();
    let settings = CacheSettings::default();
    let plan = plan_restore(
        &job(&layout, &settings, None),
        &entry("..%2F..%2Fescape ", ""),
    )
    .unwrap()
    .unwrap();
    assert_eq!(steps(&plan), ["escape"]);
    assert_eq!(
        plan.messages,
        [ScriptMessage::Warning(
            "cache key \"..%2F..%2Fescape \" sanitized to \"escape\"".into()
        )]
    );
    let empty = plan_archive(&job(&layout, &settings, None), &entry("../..", ""), true)
        .unwrap()
        .unwrap();
    assert!(empty.steps.is_empty());
    assert_eq!(
        empty.messages,
        [
            ScriptMessage::Warning("cache key \"../..\" could not be sanitized".into()),
            ScriptMessage::Notice("Skipping cache archiving due to empty cache key".into()),
        ]
    );
    let default_key = plan_restore(&job(&layout, &settings, None), &entry("", ""))
        .unwrap()
        .unwrap();
    assert_eq!(steps(&default_key), ["build/main"]);
}

#[tokio::test]
async fn tarzstd_cache_is_saved_as_cache_zip_and_restored_by_sniffing() {
    use std::os::unix::fs::PermissionsExt;
    let first = layout();
    write(&first.project, "vendor/bin/tool", "#!/bin/sh\n");
    std::fs::set_permissions(
        first.project.join("vendor/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("bin/tool", first.project.join("vendor/tool")).unwrap();
    let archive = first.cache_dir.join("k/cache.zip");
    let (logs, _guard) = capture_logs();
    let mut request = archive_request(&first.project, &archive, None);
    // CACHE_COMPRESSION_FORMAT=TarZstd, CACHE_COMPRESSION_LEVEL=Fast (spec §7.9 vectors 1, 2).
    request.format = ArchiveFormat::for_cache("TarZstd");
    request.compression = CompressionLevel::parse("Fast");
    archive_cache(&request).await.unwrap();
    assert!(
        logs.text()
            .contains(r#"compression level "Fast" is invalid, falling back to default"#),
        "{}",
        logs.text()
    );
    assert_eq!(
        std::fs::read(&archive).unwrap()[..4],
        [0x28, 0xB5, 0x2F, 0xFD]
    );

    let second = layout();
    let stats = extract_cache(&extract_request(&second.project, &archive, None))
        .await
        .unwrap();
    assert_eq!((stats.files, stats.symlinks), (1, 1));
    let tool = second.project.join("vendor/bin/tool");
    assert_eq!(
        std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read_link(second.project.join("vendor/tool")).unwrap(),
        PathBuf::from("bin/tool")
    );
}

/// Saves `vendor/` in `format` through the pre-signed PUT, then restores it into a fresh
/// project through the GET; a symlink and a mode survive.
pub(crate) async fn remote_round_trip(settings: &CacheSettings, format: ArchiveFormat) {
    use std::os::unix::fs::PermissionsExt;
    let first = layout();
    write(&first.project, "vendor/gems/rake.gem", "rake");
    std::fs::set_permissions(
        first.project.join("vendor/gems/rake.gem"),
        std::fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    std::os::unix::fs::symlink("gems/rake.gem", first.project.join("vendor/link")).unwrap();
    let cache_entry = entry("gems", "");
    let plan = plan_archive(&job(&first, settings, None), &cache_entry, true)
        .unwrap()
        .unwrap();
    let urls = plan.steps[0].urls.clone().unwrap();
    let mut request = archive_request(
        &first.project,
        &plan.steps[0].archive_file,
        Some(UploadTarget {
            url: urls.upload.clone(),
            headers: urls.upload_headers.clone(),
        }),
    );
    request.format = format;
    let outcome = archive_cache(&request).await.unwrap();
    assert!(
        matches!(
            outcome,
            CacheArchived::Created {
                remote: RemoteCache::Uploaded,
                ..
            }
        ),
        "{outcome:?}"
    );

    let second = layout();
    let plan = plan_restore(&job(&second, settings, None), &cache_entry)
        .unwrap()
        .unwrap();
    let download = plan.steps[0].urls.as_ref().unwrap().download.clone();
    extract_cache(&extract_request(
        &second.project,
        &plan.steps[0].archive_file,
        Some(download),
    ))
    .await
    .unwrap();
    let restored = second.project.join("vendor/gems/rake.gem");
    assert_eq!(std::fs::read_to_string(&restored).unwrap(), "rake");
    assert_eq!(
        std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777,
        0o751
    );
    assert_eq!(
        std::fs::read_link(second.project.join("vendor/link")).unwrap(),
        std::path::PathBuf::from("gems/rake.gem")
    );
}
