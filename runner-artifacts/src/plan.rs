//! What the runner decides per cache entry when it writes the `restore_cache` and
//! `archive_cache` stages (executors.md §5.4–§5.6): the sanitised keys, fallbacks in order,
//! the policy and `when` checks with upstream's notices, the archive path relative to the
//! project directory, the pre-signed URLs, and the helper arguments.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::key::{CachePolicy, UnknownPolicy, When, is_allowed_fallback_key, sanitize_cache_key};
use crate::settings::{CacheSettings, CacheUrls, NoUrlReason};

/// The job-wide inputs of cache planning.
#[derive(Debug, Clone)]
pub struct CacheJob<'a> {
    /// `[runners.cache]`.
    pub settings: &'a CacheSettings,
    /// The runner's short token (object names of unshared caches).
    pub short_token: &'a str,
    /// `CI_PROJECT_ID`.
    pub project_id: u64,
    /// `CI_PROJECT_DIR` (absolute).
    pub project_dir: &'a Path,
    /// The job's local cache directory: `<cache root>/<project slug>`.
    pub cache_dir: &'a Path,
    /// Job name and git ref, for the default key `<job name>/<git ref>`.
    pub job_name: &'a str,
    /// The git ref.
    pub git_ref: &'a str,
    /// The job variable `CACHE_FALLBACK_KEY`, if set.
    pub cache_fallback_key: Option<&'a str>,
    /// How long pre-signed URLs stay valid (upstream: the job timeout).
    pub url_expiry: Duration,
    /// The signing time.
    pub now: SystemTime,
    /// `FF_HASH_CACHE_KEYS`: store each key under its SHA-256 (lower-case hex), locally as
    /// `<cache dir>/<sha256>/cache.zip` and remotely as `.../project/<id>/<first 2>/<sha256>`,
    /// without sanitising it; logs and `CACHE_METADATA` keep the human key.
    pub hash_keys: bool,
}

/// A payload `cache[]` entry with its strings already expanded with job variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheEntry {
    /// `key`.
    pub key: String,
    /// `paths`.
    pub paths: Vec<String>,
    /// `untracked`.
    pub untracked: bool,
    /// `policy`.
    pub policy: String,
    /// `when`.
    pub when: String,
    /// `fallback_keys`.
    pub fallback_keys: Vec<String>,
}

/// A line the generated script prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptMessage {
    /// Bold green notice.
    Notice(String),
    /// Yellow warning.
    Warning(String),
}

/// One key to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStep {
    /// The key as shown to users and stored in `CACHE_METADATA`: sanitised, or with
    /// `FF_HASH_CACHE_KEYS` the expanded key as given.
    pub key: String,
    /// `--file`: `<cache dir>/<key>/cache.zip` relative to the project directory.
    pub archive_file: PathBuf,
    /// Pre-signed URLs, or why there are none (the runner logs the reason).
    pub urls: Result<CacheUrls, NoUrlReason>,
}

/// What one cache entry needs in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CachePlan {
    /// Messages printed before the helper calls, in order.
    pub messages: Vec<ScriptMessage>,
    /// Restore: the primary key then the fallbacks, tried in order until one extracts.
    /// Archive: at most the one key to save.
    pub steps: Vec<CacheStep>,
}

impl CacheEntry {
    fn has_files(&self) -> bool {
        !self.paths.is_empty() || self.untracked
    }

    fn selection_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for path in &self.paths {
            args.extend(["--path".to_owned(), path.clone()]);
        }
        if self.untracked {
            args.push("--untracked".to_owned());
        }
        args
    }
}

/// Plans `restore_cache` for one entry; `Ok(None)` when the entry has no paths (no stage).
pub fn plan_restore(
    job: &CacheJob<'_>,
    entry: &CacheEntry,
) -> Result<Option<CachePlan>, UnknownPolicy> {
    if !entry.has_files() {
        return Ok(None);
    }
    let mut plan = CachePlan::default();
    let Some(primary) = step(job, &entry.key, &mut plan.messages, "extraction") else {
        return Ok(Some(plan));
    };
    let policy: CachePolicy = entry
        .policy
        .parse()
        .map_err(|UnknownPolicy(policy)| UnknownPolicy(format!("{policy} for {}", primary.key)))?;
    if !policy.allows_pull() {
        plan.messages.push(ScriptMessage::Notice(format!(
            "Not downloading cache {} due to policy",
            primary.key
        )));
        return Ok(Some(plan));
    }
    plan.steps.push(primary);
    for fallback in entry.fallback_keys.iter().filter(|key| !key.is_empty()) {
        if let Some(fallback) = step(job, fallback, &mut plan.messages, "extraction") {
            plan.steps.push(fallback);
        }
    }
    if let Some(key) = job.cache_fallback_key.filter(|key| !key.is_empty()) {
        if is_allowed_fallback_key(key) {
            if let Some(fallback) = step(job, key, &mut plan.messages, "extraction") {
                plan.steps.push(fallback);
            }
        } else {
            plan.messages.push(ScriptMessage::Warning(format!(
                "CACHE_FALLBACK_KEY {key:?} not allowed to end in \"-protected\""
            )));
        }
    }
    Ok(Some(plan))
}

/// Plans `archive_cache` / `archive_cache_on_failure` for one entry; `Ok(None)` when the
/// entry does not apply (`when`, no paths).
pub fn plan_archive(
    job: &CacheJob<'_>,
    entry: &CacheEntry,
    job_succeeded: bool,
) -> Result<Option<CachePlan>, UnknownPolicy> {
    if !When::parse(&entry.when)
        .unwrap_or_default()
        .applies(job_succeeded)
        || !entry.has_files()
    {
        return Ok(None);
    }
    let mut plan = CachePlan::default();
    let Some(primary) = step(job, &entry.key, &mut plan.messages, "archiving") else {
        return Ok(Some(plan));
    };
    let policy: CachePolicy = entry
        .policy
        .parse()
        .map_err(|UnknownPolicy(policy)| UnknownPolicy(format!("{policy} for {}", primary.key)))?;
    if !policy.allows_push() {
        plan.messages.push(ScriptMessage::Notice(format!(
            "Not uploading cache {} due to policy",
            primary.key
        )));
        return Ok(Some(plan));
    }
    plan.steps.push(primary);
    Ok(Some(plan))
}

impl CacheStep {
    /// `cache-extractor` arguments: `--file <f> --timeout <minutes> [--url <GET>]`.
    pub fn extractor_args(&self, timeout_minutes: u64) -> Vec<String> {
        let mut args = vec![
            "cache-extractor".to_owned(),
            "--file".to_owned(),
            self.archive_file.to_string_lossy().into_owned(),
            "--timeout".to_owned(),
            timeout_minutes.to_string(),
        ];
        if let Ok(urls) = &self.urls {
            args.extend(["--url".to_owned(), urls.download.to_string()]);
        }
        args
    }

    /// `cache-archiver` arguments: `--file`, `--timeout`, `--max-uploaded-archive-size` when
    /// set, the entry's `--path`/`--untracked`, `--metadata {"cachekey":...}`, and `--url` and
    /// `--header` when there is a URL.
    pub fn archiver_args(
        &self,
        entry: &CacheEntry,
        timeout_minutes: u64,
        max_uploaded_archive_size: u64,
    ) -> Vec<String> {
        let mut args = vec![
            "cache-archiver".to_owned(),
            "--file".to_owned(),
            self.archive_file.to_string_lossy().into_owned(),
            "--timeout".to_owned(),
            timeout_minutes.to_string(),
        ];
        if max_uploaded_archive_size > 0 {
            args.extend([
                "--max-uploaded-archive-size".to_owned(),
                max_uploaded_archive_size.to_string(),
            ]);
        }
        args.extend(entry.selection_args());
        let metadata = serde_json::json!({ "cachekey": self.key }).to_string();
        args.extend(["--metadata".to_owned(), metadata]);
        if let Ok(urls) = &self.urls {
            args.extend(["--url".to_owned(), urls.upload.to_string()]);
            for (name, value) in &urls.upload_headers {
                args.extend(["--header".to_owned(), format!("{name}: {value}")]);
            }
        }
        args
    }
}

/// One key: sanitised (with upstream's warnings), its archive path and URLs.
fn step(
    job: &CacheJob<'_>,
    raw_key: &str,
    messages: &mut Vec<ScriptMessage>,
    action: &str,
) -> Option<CacheStep> {
    let raw = if raw_key.is_empty() {
        [job.job_name, job.git_ref]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    } else {
        raw_key.to_owned()
    };
    let (key, stored) = if job.hash_keys {
        if raw.is_empty() {
            messages.push(ScriptMessage::Notice(format!(
                "Skipping cache {action} due to empty cache key"
            )));
            return None;
        }
        let hash = hash_key(&raw);
        (raw, hash)
    } else {
        let key = match sanitize_cache_key(&raw) {
            Ok(key) => key,
            Err(error) => {
                messages.push(ScriptMessage::Warning(error.to_string()));
                String::new()
            }
        };
        if !key.is_empty() && key != raw {
            messages.push(ScriptMessage::Warning(format!(
                "cache key {raw:?} sanitized to {key:?}"
            )));
        }
        if key.is_empty() {
            messages.push(ScriptMessage::Notice(format!(
                "Skipping cache {action} due to empty cache key"
            )));
            return None;
        }
        (key.clone(), key)
    };
    let archive_file = relative_path(
        job.project_dir,
        &job.cache_dir.join(&stored).join("cache.zip"),
    );
    // Remote objects of hashed keys are sharded by their first two hex digits.
    let object_key = if job.hash_keys {
        format!("{}/{stored}", &stored[..2])
    } else {
        stored
    };
    let metadata = [("cachekey", key.as_str())];
    let urls = job.settings.cache_urls(
        job.short_token,
        job.project_id,
        &object_key,
        &metadata,
        job.url_expiry,
        job.now,
    );
    if let Err(reason) = &urls {
        if *reason != NoUrlReason::NotConfigured {
            tracing::warn!(key = %key, reason = %reason, "cache URL not generated");
        }
    }
    Some(CacheStep {
        key,
        archive_file,
        urls,
    })
}

/// The SHA-256 of a cache key, lower-case hex (64 characters).
fn hash_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `to` relative to `from`, lexically (both absolute), like Go's `filepath.Rel`.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from_clean = crate::pattern::clean(from);
    let to_clean = crate::pattern::clean(to);
    let from_parts: Vec<Component<'_>> = from_clean.components().collect();
    let to_parts: Vec<Component<'_>> = to_clean.components().collect();
    let common = from_parts
        .iter()
        .zip(&to_parts)
        .take_while(|(left, right)| left == right)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..from_parts.len() {
        relative.push("..");
    }
    for part in &to_parts[common..] {
        relative.push(part);
    }
    if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Job `build` of project `project_id` on `main`, in `/builds/g/p` with `/cache/g/p`.
    fn test_job<'a>(
        settings: &'a CacheSettings,
        short_token: &'a str,
        project_id: u64,
        hash_keys: bool,
    ) -> CacheJob<'a> {
        CacheJob {
            settings,
            short_token,
            project_id,
            project_dir: Path::new("/builds/g/p"),
            cache_dir: Path::new("/cache/g/p"),
            job_name: "build",
            git_ref: "main",
            cache_fallback_key: None,
            url_expiry: Duration::from_secs(60),
            now: SystemTime::UNIX_EPOCH,
            hash_keys,
        }
    }

    #[test]
    fn helper_arguments_follow_upstream() {
        let settings = CacheSettings::default();
        let job = test_job(&settings, "abc", 1, false);
        let entry = CacheEntry {
            key: "k".into(),
            paths: vec!["vendor/".into()],
            untracked: true,
            ..CacheEntry::default()
        };
        let plan = plan_archive(&job, &entry, true).unwrap().unwrap();
        assert_eq!(
            plan.steps[0].archiver_args(&entry, 10, 0),
            [
                "cache-archiver",
                "--file",
                "../../../cache/g/p/k/cache.zip",
                "--timeout",
                "10",
                "--path",
                "vendor/",
                "--untracked",
                "--metadata",
                r#"{"cachekey":"k"}"#,
            ]
        );
        assert_eq!(
            plan.steps[0].extractor_args(10),
            [
                "cache-extractor",
                "--file",
                "../../../cache/g/p/k/cache.zip",
                "--timeout",
                "10"
            ]
        );
        assert!(
            plan_archive(&job, &entry, false).unwrap().is_none(),
            "on_success entries skip failed jobs"
        );
    }

    #[test]
    fn archive_paths_are_relative_to_the_project() {
        assert_eq!(
            relative_path(
                Path::new("/builds/group/project"),
                Path::new("/cache/group/project/default/cache.zip")
            ),
            PathBuf::from("../../../cache/group/project/default/cache.zip")
        );
    }

    #[test]
    fn hashed_keys_follow_upstream_vector() {
        // upstream-details.md §7.9, vector 3.
        let settings = CacheSettings {
            cache_type: "s3".into(),
            path: "c".into(),
            s3: Some(crate::S3Settings {
                server_address: "127.0.0.1:9000".into(),
                access_key: "AKIA".into(),
                secret_key: crate::Secret::new("secret"),
                bucket_name: "bucket".into(),
                insecure: true,
                ..crate::S3Settings::default()
            }),
            ..CacheSettings::default()
        };
        let check = |hash_keys: bool, file: &str, object: &str| {
            let job = test_job(&settings, "abcdefghi", 7, hash_keys);
            let entry = CacheEntry {
                key: "main".into(),
                paths: vec!["vendor/".into()],
                ..CacheEntry::default()
            };
            let plan = plan_archive(&job, &entry, true).unwrap().unwrap();
            let step = &plan.steps[0];
            assert_eq!(step.key, "main", "the human key is shown");
            assert_eq!(step.archive_file, PathBuf::from(file));
            let upload = step.urls.as_ref().unwrap().upload.clone();
            assert_eq!(upload.path(), format!("/bucket/{object}"));
            let args = step.archiver_args(&entry, 10, 0);
            assert!(
                args.contains(&r#"{"cachekey":"main"}"#.to_owned()),
                "{args:?}"
            );
        };
        let hash = "0d6e4079e36703ebd37c00722f5891d28b0e2811dc114b129215123adcce3605";
        check(
            true,
            &format!("../../../cache/g/p/{hash}/cache.zip"),
            &format!("c/runner/abcdefghi/project/7/0d/{hash}"),
        );
        check(
            false,
            "../../../cache/g/p/main/cache.zip",
            "c/runner/abcdefghi/project/7/main",
        );
    }

    #[test]
    fn hashed_keys_are_not_sanitised() {
        let settings = CacheSettings::default();
        let job = test_job(&settings, "abc", 1, true);
        let entry = CacheEntry {
            key: "../a b ".into(),
            paths: vec!["vendor/".into()],
            ..CacheEntry::default()
        };
        let plan = plan_restore(&job, &entry).unwrap().unwrap();
        assert!(plan.messages.is_empty(), "{:?}", plan.messages);
        assert_eq!(plan.steps[0].key, "../a b ");
        assert_eq!(
            plan.steps[0].archive_file,
            PathBuf::from(format!(
                "../../../cache/g/p/{}/cache.zip",
                hash_key("../a b ")
            ))
        );
    }
}
