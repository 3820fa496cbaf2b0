//! The bash lines of the cache and artifact stages (executors.md §4.4, §4.8, §5): this binary
//! calls itself in its helper modes (`cache-extractor`, `artifacts-downloader`,
//! `cache-archiver`, `artifacts-uploader`) where the job's files are, as upstream's helper.
//!
//! The runner decides keys, policies, fallbacks and pre-signed URLs here (through
//! `runner-artifacts`); the driver in `runner-executor` only runs the lines in upstream's stage
//! order. Paths that depend on the executor's layout come from variables the driver exports
//! (`$GITLAB_RUNNER_RS_HELPER`, `$GITLAB_RUNNER_RS_CACHE_DIR`, the tokens), so the lines do
//! not depend on where the job runs.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use runner_artifacts::{
    AzureSettings, CacheEntry, CacheJob, CachePlan, CacheSettings, CacheStep, GcsSettings,
    S3Settings, ScriptMessage, plan_archive, plan_restore,
};
use runner_config::{CacheConfig, RunnerConfig};
use runner_executor::script::{escape, notice_line, warning_line, warning_line_expanding};
use runner_executor::{
    CACHE_DIR_VARIABLE, HELPER_BINARY_VARIABLE, JOB_TOKEN_VARIABLE, JobSpec, TransferScripts,
    dependency_token_variable, expand,
};

/// Default `CACHE_REQUEST_TIMEOUT`, in minutes.
const DEFAULT_CACHE_REQUEST_TIMEOUT: u64 = 10;

/// The cache and artifact stage lines of `job` on `runner` (whose `url` is the coordinator).
pub(crate) fn transfer_scripts(
    job: &JobSpec,
    runner: &RunnerConfig,
    settings: &CacheSettings,
) -> TransferScripts {
    let variables = JobLookup::new(job);
    let timeout = variables
        .get("CACHE_REQUEST_TIMEOUT")
        .and_then(|raw| raw.trim().parse::<u64>().ok())
        .filter(|minutes| *minutes > 0)
        .unwrap_or(DEFAULT_CACHE_REQUEST_TIMEOUT);
    let fallback_key = variables.get("CACHE_FALLBACK_KEY");
    // The lines name the archive as `"$GITLAB_RUNNER_RS_CACHE_DIR"/<key>/cache.zip`, so the
    // plans are computed against a neutral root and their paths are relative to it.
    let root = Path::new("/");
    let cache_job = CacheJob {
        settings,
        short_token: runner.short_token(),
        project_id: u64::try_from(job.project_id).unwrap_or_default(),
        project_dir: root,
        cache_dir: root,
        job_name: &job.name,
        git_ref: &job.git.ref_name,
        cache_fallback_key: fallback_key.as_deref(),
        url_expiry: job.timeout,
        now: SystemTime::now(),
        hash_keys: job.feature_flag("FF_HASH_CACHE_KEYS").unwrap_or(false),
    };
    let entries: Vec<CacheEntry> = job
        .cache
        .iter()
        .map(|cache| CacheEntry {
            key: variables.expand(&cache.key),
            paths: cache.paths.clone(),
            untracked: cache.untracked,
            policy: variables.expand(&cache.policy),
            when: cache.when.as_str().to_owned(),
            fallback_keys: cache
                .fallback_keys
                .iter()
                .map(|key| variables.expand(key))
                .collect(),
        })
        .collect();
    let max_size = settings.max_uploaded_archive_size;
    TransferScripts {
        restore_cache: cache_stage(&entries, |entry| {
            plan_restore(&cache_job, entry)
                .map(|plan| plan.map(|plan| restore_lines(&plan, timeout)))
        }),
        download_artifacts: download_lines(job, &runner.url),
        archive_cache: cache_stage(&entries, |entry| {
            plan_archive(&cache_job, entry, true)
                .map(|plan| plan.map(|plan| archive_lines(&plan, entry, timeout, max_size)))
        }),
        archive_cache_on_failure: cache_stage(&entries, |entry| {
            plan_archive(&cache_job, entry, false)
                .map(|plan| plan.map(|plan| archive_lines(&plan, entry, timeout, max_size)))
        }),
        upload_artifacts_on_success: upload_lines(job, &runner.url, false),
        upload_artifacts_on_failure: upload_lines(job, &runner.url, true),
    }
}

/// The entry's `[runners.cache]` as `runner-artifacts` reads it (defaults without one).
pub(crate) fn runner_cache_settings(runner: &RunnerConfig) -> CacheSettings {
    runner
        .cache
        .as_ref()
        .map(cache_settings)
        .unwrap_or_default()
}

/// The credential provider of an entry whose S3 cache signs with IAM credentials; built once
/// per entry (start and reload) so its credentials are cached across jobs.
pub(crate) fn cache_credentials(
    runner: &RunnerConfig,
) -> Option<runner_artifacts::CredentialsProvider> {
    let settings = runner_cache_settings(runner);
    let s3 = settings.s3.as_ref().filter(|s3| s3.uses_iam())?;
    (settings.cache_type == "s3").then(|| {
        runner_artifacts::CredentialsProvider::for_settings(
            runner_artifacts::AwsEnvironment::from_lookup(|name| std::env::var(name).ok()),
            s3,
        )
    })
}

/// `[runners.cache]` as `runner-artifacts` reads it.
pub(crate) fn cache_settings(config: &CacheConfig) -> CacheSettings {
    CacheSettings {
        cache_type: config.cache_type.clone(),
        path: config.path.clone(),
        shared: config.shared,
        max_uploaded_archive_size: u64::try_from(config.max_uploaded_archive_size)
            .unwrap_or_default(),
        s3: config.s3.as_ref().map(|s3| S3Settings {
            server_address: s3.server_address.clone(),
            access_key: s3.access_key.expose().to_owned(),
            secret_key: s3.secret_key.clone(),
            session_token: s3.session_token.clone(),
            bucket_name: s3.bucket_name.clone(),
            bucket_location: s3.bucket_location.clone(),
            insecure: s3.insecure,
            path_style: s3.path_style,
            authentication_type: s3.authentication_type.clone(),
            // IAM credentials are filled in per job by `job_runner::cache_settings` from the
            // entry's `cache_credentials` provider; without them an `iam` cache gets no URL.
            role_arn: s3.role_arn.clone(),
            credentials: None,
            server_side_encryption: s3.server_side_encryption.clone(),
            server_side_encryption_key_id: s3.server_side_encryption_key_id.clone(),
        }),
        // Endpoint overrides (emulators) come from the runner's environment: Google SDKs'
        // `STORAGE_EMULATOR_HOST`, and the `BlobEndpoint` of an Azure connection string.
        // Without any key, GOOGLE_APPLICATION_CREDENTIALS is the first step of the
        // application default credentials upstream falls back to.
        gcs: config.gcs.as_ref().map(|gcs| GcsSettings {
            credentials_file: if gcs.credentials_file.is_empty()
                && gcs.access_id.is_empty()
                && gcs.private_key.is_empty()
            {
                std::env::var("GOOGLE_APPLICATION_CREDENTIALS").unwrap_or_default()
            } else {
                gcs.credentials_file.clone()
            },
            access_id: gcs.access_id.clone(),
            private_key: gcs.private_key.clone(),
            bucket_name: gcs.bucket_name.clone(),
            universe_domain: gcs.universe_domain.clone(),
            endpoint: std::env::var("STORAGE_EMULATOR_HOST").unwrap_or_default(),
        }),
        azure: config.azure.as_ref().map(|azure| AzureSettings {
            account_name: azure.account_name.clone(),
            account_key: azure.account_key.clone(),
            container_name: azure.container_name.clone(),
            storage_domain: azure.storage_domain.clone(),
            blob_endpoint: std::env::var("AZURE_STORAGE_BLOB_ENDPOINT").unwrap_or_default(),
        }),
    }
}

/// The job's payload variables, last definition winning, expanded once.
struct JobLookup<'a> {
    last: HashMap<&'a str, &'a str>,
}

impl<'a> JobLookup<'a> {
    fn new(job: &'a JobSpec) -> Self {
        let mut last = HashMap::new();
        for variable in &job.variables {
            last.insert(variable.key.as_str(), variable.value.as_str());
        }
        Self { last }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.last.get(key).map(|value| self.expand(value))
    }

    fn expand(&self, text: &str) -> String {
        expand(text, |name| self.last.get(name).map(|v| (*v).to_owned()))
    }
}

/// The lines of one cache stage: each entry's plan in order. An unknown policy fails the
/// stage, as upstream fails the script generation.
fn cache_stage<E: std::fmt::Display>(
    entries: &[CacheEntry],
    mut plan: impl FnMut(&CacheEntry) -> Result<Option<Vec<String>>, E>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in entries {
        match plan(entry) {
            Ok(Some(entry_lines)) => lines.extend(entry_lines),
            Ok(None) => {}
            Err(error) => {
                lines.push(warning_line(&format!("unknown cache policy {error}")));
                lines.push("exit 1".to_owned());
                return lines;
            }
        }
    }
    lines
}

fn messages(plan: &CachePlan, lines: &mut Vec<String>) {
    for message in &plan.messages {
        lines.push(match message {
            ScriptMessage::Notice(text) => notice_line(text),
            ScriptMessage::Warning(text) => warning_line(text),
        });
    }
}

/// `if "$GITLAB_RUNNER_RS_HELPER" --version ...; then <body> else <missing warning> fi`.
fn guarded(body: Vec<String>, disabled: &str, required: bool, lines: &mut Vec<String>) {
    lines.push(format!(
        "if \"${HELPER_BINARY_VARIABLE}\" --version >/dev/null 2>/dev/null; then"
    ));
    lines.extend(body);
    lines.push("else".to_owned());
    lines.push(warning_line_expanding(&format!(
        "Missing ${HELPER_BINARY_VARIABLE}. {disabled}"
    )));
    // Artifacts that cannot move fail the job (a job never passes without them); a cache
    // that cannot move is only a warning (issue #15).
    if required {
        lines.push("exit 1".to_owned());
    }
    lines.push("fi".to_owned());
}

/// A helper call: the binary, then `args` quoted; the value after `--file` is placed under
/// the cache directory variable.
fn helper_call(args: &[String]) -> String {
    let mut line = format!("\"${HELPER_BINARY_VARIABLE}\"");
    let mut file_next = false;
    for arg in args {
        line.push(' ');
        if file_next {
            let relative = arg.trim_start_matches('/');
            line.push_str(&format!("\"${CACHE_DIR_VARIABLE}\"/{}", escape(relative)));
        } else {
            line.push_str(&escape(arg));
        }
        file_next = arg == "--file";
    }
    line
}

fn restore_lines(plan: &CachePlan, timeout: u64) -> Vec<String> {
    let mut lines = Vec::new();
    messages(plan, &mut lines);
    if plan.steps.is_empty() {
        return lines;
    }
    guarded(
        restore_chain(&plan.steps, timeout),
        "Extracting cache is disabled.",
        false,
        &mut lines,
    );
    lines
}

/// `Checking cache for <key>...` then the extractor; on failure the next key, nested.
fn restore_chain(steps: &[CacheStep], timeout: u64) -> Vec<String> {
    let Some((step, rest)) = steps.split_first() else {
        return Vec::new();
    };
    let mut lines = vec![
        notice_line(&format!("Checking cache for {}...", step.key)),
        format!("if {}; then", helper_call(&step.extractor_args(timeout))),
        notice_line("Successfully extracted cache"),
        "else".to_owned(),
        warning_line("Failed to extract cache"),
    ];
    lines.extend(restore_chain(rest, timeout));
    lines.push("fi".to_owned());
    lines
}

fn archive_lines(
    plan: &CachePlan,
    entry: &CacheEntry,
    timeout: u64,
    max_uploaded_archive_size: u64,
) -> Vec<String> {
    let mut lines = Vec::new();
    messages(plan, &mut lines);
    for step in &plan.steps {
        let args = step.archiver_args(entry, timeout, max_uploaded_archive_size);
        let body = vec![
            notice_line(&format!("Creating cache {}...", step.key)),
            format!("if {}; then", helper_call(&args)),
            notice_line("Created cache"),
            "else".to_owned(),
            warning_line("Failed to create cache"),
            "fi".to_owned(),
        ];
        guarded(body, "Creating cache is disabled.", false, &mut lines);
    }
    lines
}

/// One `artifacts-downloader` per dependency with a file; the call is not guarded, so a
/// failed download fails the stage.
fn download_lines(job: &JobSpec, url: &str) -> Vec<String> {
    let direct = job.feature_flag("FF_USE_DIRECT_DOWNLOAD").unwrap_or(true);
    let mut lines = Vec::new();
    for dependency in job
        .dependencies
        .iter()
        .filter(|d| !d.artifacts_filename.is_empty())
    {
        let body = vec![
            notice_line(&format!(
                "Downloading artifacts for {} ({})...",
                dependency.name, dependency.id
            )),
            format!(
                "CI_JOB_TOKEN=\"${}\" {} artifacts-downloader --url {} --id {} --direct-download={direct}",
                dependency_token_variable(dependency.id),
                format_args!("\"${HELPER_BINARY_VARIABLE}\""),
                escape(url),
                dependency.id,
            ),
        ];
        guarded(body, "Artifacts downloading is disabled.", true, &mut lines);
    }
    lines
}

/// One `artifacts-uploader` per entry that applies and selects anything. The call itself is
/// not guarded, so a failed upload fails the stage (and the job, §1.3.7), and so does a
/// missing helper binary (a container executor without it), after upstream's warning.
fn upload_lines(job: &JobSpec, url: &str, failed: bool) -> Vec<String> {
    if url.is_empty() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for artifact in job
        .artifacts
        .iter()
        .filter(|a| a.has_content() && a.when.applies(!failed))
    {
        let mut args: Vec<String> = [
            "artifacts-uploader",
            "--url",
            url,
            "--id",
            &job.id.to_string(),
            "--timeout",
            "1h0m0s",
            "--response-header-timeout",
            "10m0s",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        for path in &artifact.paths {
            args.extend(["--path".to_owned(), path.clone()]);
        }
        for exclude in &artifact.exclude {
            args.extend(["--exclude".to_owned(), exclude.clone()]);
        }
        if artifact.untracked {
            args.push("--untracked".to_owned());
        }
        for (flag, value) in [
            ("--name", &artifact.name),
            ("--expire-in", &artifact.expire_in),
            ("--artifact-format", &artifact.artifact_format),
            ("--artifact-type", &artifact.artifact_type),
        ] {
            if !value.is_empty() {
                args.extend([flag.to_owned(), value.clone()]);
            }
        }
        let body = vec![
            notice_line("Uploading artifacts..."),
            format!(
                "CI_JOB_TOKEN=\"${JOB_TOKEN_VARIABLE}\" {}",
                helper_call(&args)
            ),
        ];
        guarded(body, "Uploading artifacts is disabled.", true, &mut lines);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_executor::{Artifact, Cache, Dependency, Secret, Variable, When};

    #[test]
    fn a_missing_helper_fails_artifact_transfers_and_only_warns_for_the_cache() {
        let mut artifacts = Vec::new();
        guarded(
            vec!["upload".to_owned()],
            "Uploading artifacts is disabled.",
            true,
            &mut artifacts,
        );
        assert!(
            artifacts[3].contains("Missing $GITLAB_RUNNER_RS_HELPER."),
            "{artifacts:?}"
        );
        assert_eq!(artifacts[4..], ["exit 1", "fi"]);
        let mut cache = Vec::new();
        guarded(
            vec!["save".to_owned()],
            "Creating cache is disabled.",
            false,
            &mut cache,
        );
        assert!(!cache.iter().any(|line| line == "exit 1"), "{cache:?}");
    }

    fn runner() -> RunnerConfig {
        RunnerConfig {
            url: "http://gitlab.example".to_owned(),
            token: "glrt-abcdefghijkl".into(),
            ..RunnerConfig::default()
        }
    }

    #[test]
    fn no_entries_no_stages() {
        let job = JobSpec::builder(1, "glcbt-t").build();
        assert_eq!(
            transfer_scripts(&job, &runner(), &runner_cache_settings(&runner())),
            TransferScripts::default()
        );
    }

    #[test]
    fn restore_nests_fallback_keys_and_archive_respects_policy() {
        let job = JobSpec::builder(1, "glcbt-t")
            .variable(Variable::new("BRANCH", "main"))
            .with(|job| {
                job.cache.push(Cache {
                    key: "deps-$BRANCH".into(),
                    paths: vec!["vendor/".into()],
                    policy: "pull".into(),
                    fallback_keys: vec!["deps-default".into()],
                    ..Cache::default()
                });
            })
            .build();
        let scripts = transfer_scripts(&job, &runner(), &runner_cache_settings(&runner()));
        let restore = scripts.restore_cache.join("\n");
        let first = restore
            .find("Checking cache for deps-main...")
            .expect(&restore);
        let fallback = restore
            .find("Checking cache for deps-default...")
            .expect(&restore);
        assert!(first < fallback, "{restore}");
        assert!(restore.contains(
            "cache-extractor --file \"$GITLAB_RUNNER_RS_CACHE_DIR\"/deps-main/cache.zip --timeout 10"
        ), "{restore}");
        assert_eq!(restore.matches("\nfi").count(), 3, "{restore}");
        let archive = scripts.archive_cache.join("\n");
        assert!(
            archive.contains("Not uploading cache deps-main due to policy"),
            "{archive}"
        );
        assert!(!archive.contains("cache-archiver"), "{archive}");
        assert!(scripts.archive_cache_on_failure.is_empty());
    }

    #[test]
    fn uploads_follow_when_and_downloads_use_the_token_variable() {
        let job = JobSpec::builder(7, "glcbt-t")
            .with(|job| {
                job.artifacts.push(Artifact {
                    paths: vec!["out/".into()],
                    exclude: vec!["out/*.tmp".into()],
                    when: When::OnFailure,
                    name: "my name".into(),
                    ..Artifact::default()
                });
                job.dependencies.push(Dependency {
                    id: 5,
                    token: Secret::new("glcbt-dependency-secret"),
                    name: "build".into(),
                    artifacts_filename: "artifacts.zip".into(),
                });
            })
            .build();
        let scripts = transfer_scripts(&job, &runner(), &runner_cache_settings(&runner()));
        assert!(scripts.upload_artifacts_on_success.is_empty());
        let upload = scripts.upload_artifacts_on_failure.join("\n");
        assert!(
            upload.contains(
                "artifacts-uploader --url $'http://gitlab.example' --id 7 --timeout 1h0m0s \
             --response-header-timeout 10m0s --path out/ --exclude $'out/*.tmp' --name $'my name'"
            ),
            "{upload}"
        );
        let download = scripts.download_artifacts.join("\n");
        assert!(
            download.contains("CI_JOB_TOKEN=\"$GITLAB_RUNNER_RS_DEPENDENCY_TOKEN_5\""),
            "{download}"
        );
        assert!(!download.contains("dependency-secret"), "{download}");
        assert!(
            download.contains("--id 5 --direct-download=true"),
            "{download}"
        );
    }
}
