//! Artifacts and cache moving during jobs (executors.md §4.4, §4.8, §5): the runner calls
//! itself in its helper modes from the job's stages, against the fake coordinator, a local
//! cache under `cache_dir` and (ignored unless installed) a real `moto_server` for S3.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use runner_api::fake::{Endpoint, Fault, JobRecord};
use runner_e2e::{JobBuilder, RunnerProcess, Workspace};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::{final_record, start_runner, stop_runner, trace_text};

async fn workspace() -> Workspace {
    Workspace::start(Duration::from_secs(2)).await
}

/// A job cloning repository `repo` (one tracked `README.md`) and running `script`.
fn repo_job(workspace: &Workspace, repo: &str, script: &[&str]) -> Value {
    let sha = workspace.create_repo(repo, &[&[("README.md", "tracked\n")]]);
    let url = workspace.git.repo_url(repo, "glcbt-anything");
    JobBuilder::new(&url, &sha, script).build()
}

fn with_artifacts(mut job: Value, artifacts: Value) -> Value {
    job["artifacts"] = artifacts;
    job
}

fn with_cache(mut job: Value, cache: Value) -> Value {
    job["cache"] = cache;
    job
}

/// Adds `record`'s job as a dependency whose artifacts the job downloads.
fn with_dependency(mut job: Value, record: &JobRecord) -> Value {
    job["dependencies"] = json!([{
        "id": record.id,
        "token": record.token,
        "name": "producer",
        "artifacts_file": {"filename": "artifacts.zip", "size": 1}
    }]);
    job
}

/// Runs `jobs` one after the other on one runner and returns their final records.
async fn run_jobs(workspace: &Workspace, config: &Path, jobs: Vec<Value>) -> Vec<JobRecord> {
    let runner = start_runner(workspace, config);
    let mut records = Vec::new();
    for job in jobs {
        let id = workspace.coordinator.enqueue_job(job);
        records.push(final_record(workspace, &runner, id).await);
    }
    // The next call starts another runner on the same coordinator.
    stop_runner(workspace, runner).await;
    records
}

fn assert_state(record: &JobRecord, state: &str) {
    assert_eq!(
        record.final_state.as_deref(),
        Some(state),
        "{}",
        trace_text(record)
    );
}

/// `unzip -Z1` of `data`: the archive's entry names.
fn zip_entries(dir: &Path, data: &[u8]) -> Vec<String> {
    let file = dir.join("uploaded.zip");
    std::fs::write(&file, data).expect("write zip");
    let output = std::process::Command::new("unzip")
        .arg("-Z1")
        .arg(&file)
        .output()
        .expect("unzip runs");
    assert!(output.status.success(), "not a zip archive");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every `cache.zip` under the workspace's cache root.
fn cache_archives(workspace: &Workspace) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.file_name().is_some_and(|name| name == "cache.zip") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&workspace.path().join("cache"), &mut found);
    found
}

#[tokio::test]
async fn artifacts_with_exclude_and_untracked_reach_a_dependent_job_with_their_modes() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let producer = with_artifacts(
        repo_job(
            &workspace,
            "producer",
            &[
                "mkdir -p out",
                "echo kept > out/keep.txt",
                "echo scratch > out/skip.tmp",
                "printf '#!/bin/sh\\necho run\\n' > out/run.sh",
                "chmod 750 out/run.sh",
                "ln -s keep.txt out/link",
                "echo log > untracked.log",
            ],
        ),
        json!([{"paths": ["out/"], "exclude": ["out/*.tmp"], "untracked": true,
            "when": "on_success", "expire_in": "1 day"}]),
    );
    let records = run_jobs(&workspace, &config, vec![producer]).await;
    let producer = &records[0];
    assert_state(producer, "success");
    let trace = trace_text(producer);
    assert!(trace.contains("Uploading artifacts..."), "{trace}");
    assert_eq!(producer.artifacts.len(), 1, "{trace}");
    let stored = &producer.artifacts[0];
    assert_eq!(
        stored.query.get("expire_in").map(String::as_str),
        Some("1 day")
    );
    let entries = zip_entries(workspace.path(), &stored.data);
    for expected in ["out/keep.txt", "out/run.sh", "out/link", "untracked.log"] {
        assert!(
            entries.iter().any(|e| e == expected),
            "{expected} missing: {entries:?}"
        );
    }
    assert!(
        !entries.iter().any(|e| e.ends_with("skip.tmp")),
        "excluded: {entries:?}"
    );
    assert!(
        !entries.iter().any(|e| e == "README.md"),
        "tracked file: {entries:?}"
    );

    let consumer = with_dependency(
        JobBuilder::script_only(&[
            "cat out/keep.txt",
            "echo \"mode=$(stat -c %a out/run.sh)\"",
            "echo \"link=$(readlink out/link)\"",
            "test ! -e out/skip.tmp",
        ])
        .build(),
        producer,
    );
    let records = run_jobs(&workspace, &config, vec![consumer]).await;
    let consumer = &records[0];
    assert_state(consumer, "success");
    let trace = trace_text(consumer);
    assert!(
        trace.contains(&format!(
            "Downloading artifacts for producer ({})...",
            producer.id
        )),
        "{trace}"
    );
    assert!(trace.contains("\nkept"), "{trace}");
    assert!(trace.contains("mode=750"), "{trace}");
    assert!(trace.contains("link=keep.txt"), "{trace}");
    assert!(
        !trace.contains(&producer.token),
        "dependency token leaked: {trace}"
    );
}

#[tokio::test]
async fn on_failure_artifacts_upload_only_after_a_failure() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let entries = json!([
        {"name": "failure-logs", "paths": ["fail.log"], "when": "on_failure"},
        {"name": "success-logs", "paths": ["ok.log"], "when": "on_success"}
    ]);
    let failing = with_artifacts(
        JobBuilder::script_only(&["echo f > fail.log", "echo o > ok.log", "exit 1"]).build(),
        entries.clone(),
    );
    let passing = with_artifacts(
        JobBuilder::script_only(&["echo f > fail.log", "echo o > ok.log"]).build(),
        entries,
    );
    let records = run_jobs(&workspace, &config, vec![failing, passing]).await;
    assert_state(&records[0], "failed");
    let trace = trace_text(&records[0]);
    assert!(
        trace.contains("Uploading artifacts for failed job"),
        "{trace}"
    );
    let names: Vec<&str> = records[0]
        .artifacts
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, ["failure-logs.zip"], "{trace}");
    assert_state(&records[1], "success");
    let names: Vec<&str> = records[1]
        .artifacts
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, ["success-logs.zip"], "{}", trace_text(&records[1]));
}

#[tokio::test]
async fn a_413_answer_fails_the_job_with_a_clear_message() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    workspace
        .coordinator
        .inject_fault(Endpoint::UploadArtifacts, 1, Fault::status(413));
    let job = with_artifacts(
        JobBuilder::script_only(&["echo big > big.bin"]).build(),
        json!([{"paths": ["big.bin"]}]),
    );
    let records = run_jobs(&workspace, &config, vec![job]).await;
    assert_state(&records[0], "failed");
    let trace = trace_text(&records[0]);
    assert!(trace.contains("413 Request Entity Too Large"), "{trace}");
    assert!(
        trace.contains("ERROR: Job failed: exit status 1"),
        "{trace}"
    );
    assert!(records[0].artifacts.is_empty());
}

#[tokio::test]
async fn cache_saved_by_one_job_is_restored_by_the_next() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let cache = json!([{"key": "deps-$CI_COMMIT_REF_NAME", "paths": ["vendor/"]}]);
    let mut first = with_cache(
        repo_job(
            &workspace,
            "cached",
            &["mkdir -p vendor", "echo cached-lib > vendor/lib.txt"],
        ),
        cache,
    );
    first["variables"]
        .as_array_mut()
        .expect("variables")
        .push(json!({"key": "CI_COMMIT_REF_NAME", "value": "main", "public": true}));
    let mut second = first.clone();
    second["steps"][0]["script"] = json!(["cat vendor/lib.txt"]);
    let records = run_jobs(&workspace, &config, vec![first, second]).await;
    assert_state(&records[0], "success");
    let trace = trace_text(&records[0]);
    assert!(trace.contains("Creating cache deps-main..."), "{trace}");
    assert!(trace.contains("Created cache"), "{trace}");
    let archives = cache_archives(&workspace);
    assert!(
        archives.iter().any(|p| p.ends_with("deps-main/cache.zip")),
        "{archives:?}"
    );
    assert_state(&records[1], "success");
    let trace = trace_text(&records[1]);
    assert!(trace.contains("Checking cache for deps-main..."), "{trace}");
    assert!(trace.contains("Successfully extracted cache"), "{trace}");
    assert!(trace.contains("\ncached-lib"), "{trace}");
}

#[tokio::test]
async fn pull_policy_restores_through_fallback_keys_and_never_uploads() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let base = repo_job(
        &workspace,
        "fallback",
        &["mkdir -p vendor", "echo from-main > vendor/lib.txt"],
    );
    let seed = with_cache(
        base.clone(),
        json!([{"key": "main-branch", "paths": ["vendor/"]}]),
    );
    let mut feature = with_cache(
        base,
        json!([{"key": "feature-x", "paths": ["vendor/"], "policy": "pull",
            "fallback_keys": ["main-branch"]}]),
    );
    feature["steps"][0]["script"] = json!(["cat vendor/lib.txt", "echo changed > vendor/lib.txt"]);
    let records = run_jobs(&workspace, &config, vec![seed, feature]).await;
    assert_state(&records[0], "success");
    assert_state(&records[1], "success");
    let trace = trace_text(&records[1]);
    let primary = trace.find("Checking cache for feature-x...").expect(&trace);
    let failed = trace.find("Failed to extract cache").expect(&trace);
    let fallback = trace
        .find("Checking cache for main-branch...")
        .expect(&trace);
    let extracted = trace.find("Successfully extracted cache").expect(&trace);
    assert!(
        primary < failed && failed < fallback && fallback < extracted,
        "{trace}"
    );
    assert!(trace.contains("\nfrom-main"), "{trace}");
    assert!(
        trace.contains("Not uploading cache feature-x due to policy"),
        "{trace}"
    );
    assert!(!trace.contains("Creating cache"), "{trace}");
    let archives = cache_archives(&workspace);
    assert!(
        !archives
            .iter()
            .any(|p| p.to_string_lossy().contains("feature-x")),
        "{archives:?}"
    );
}

/// A real S3-compatible server: `moto_server` on a free loopback port, stopped on drop.
struct Moto {
    child: tokio::process::Child,
    port: u16,
}

impl Moto {
    async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let mut child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server is installed (scripts/setup-s3.sh)");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            let line = lines
                .next_line()
                .await
                .expect("moto_server log")
                .expect("moto_server exited before listening");
            if line.contains("Running on") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Moto { child, port }
    }

    /// One unsigned request (moto accepts them); returns the whole response.
    async fn request(&self, method: &str, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("moto_server answers");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[tokio::test]
#[ignore = "needs moto_server"]
async fn s3_cache_round_trip_through_moto_server() {
    let moto = Moto::start().await;
    let created = moto.request("PUT", "/runner-cache").await;
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let s3 = format!(
        "  [runners.cache]\n    Type = \"s3\"\n    Shared = true\n    [runners.cache.s3]\n      \
         ServerAddress = \"127.0.0.1:{}\"\n      AccessKey = \"test-access\"\n      \
         SecretKey = \"test-secret\"\n      BucketName = \"runner-cache\"\n      Insecure = true\n",
        moto.port
    );
    remote_cache_round_trip(&s3, &[], "s3").await;
    let listing = moto.request("GET", "/runner-cache?list-type=2").await;
    assert!(listing.contains("project/42/s3-key"), "{listing}");
}

/// Issue #20: `AuthenticationType = "iam"` with web identity (the EKS/IRSA setup): the runner
/// gets temporary credentials from moto's STS through `AWS_ROLE_ARN` and
/// `AWS_WEB_IDENTITY_TOKEN_FILE`, signs the cache URLs with them (session token included),
/// and a second job restores what the first saved.
#[tokio::test]
#[ignore = "needs moto_server"]
async fn s3_cache_with_iam_web_identity_round_trips_through_moto() {
    let moto = Moto::start().await;
    let created = moto.request("PUT", "/runner-cache").await;
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let token_dir = tempfile::tempdir().expect("token dir");
    let token_file = token_dir.path().join("web-identity-token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n").expect("token file");
    let s3 = format!(
        "  [runners.cache]\n    Type = \"s3\"\n    Shared = true\n    [runners.cache.s3]\n      \
         ServerAddress = \"127.0.0.1:{}\"\n      AuthenticationType = \"iam\"\n      \
         BucketName = \"runner-cache\"\n      BucketLocation = \"us-east-1\"\n      Insecure = true\n",
        moto.port
    );
    let sts = format!("http://127.0.0.1:{}", moto.port);
    let token_path = token_file.display().to_string();
    remote_cache_round_trip(
        &s3,
        &[
            (
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/runner-cache",
            ),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &token_path),
            ("AWS_ROLE_SESSION_NAME", "e2e"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_STS", &sts),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        "iam",
    )
    .await;
    let listing = moto.request("GET", "/runner-cache?list-type=2").await;
    assert!(listing.contains("project/42/iam-key"), "{listing}");
}

/// Runs a job that saves `vendor/` in the cache, removes the local copy, and runs a second job
/// that can only get it back from the remote cache `section` (extra `[runners.cache]` lines);
/// `env` points the runner at the emulator. Asserts both succeed and the second extracted it.
async fn remote_cache_round_trip(section: &str, env: &[(&str, &str)], name: &str) {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[section]);
    let base = repo_job(
        &workspace,
        name,
        &[
            "mkdir -p vendor",
            &format!("echo from-{name} > vendor/lib.txt"),
        ],
    );
    let job = with_cache(
        base,
        json!([{"key": format!("{name}-key"), "paths": ["vendor/"]}]),
    );
    let runner = RunnerProcess::start_with_env(
        workspace.path(),
        &["run", "-c", &config.to_string_lossy()],
        env,
    );
    let first = workspace.coordinator.enqueue_job(job.clone());
    let record = final_record(&workspace, &runner, first).await;
    assert_state(&record, "success");
    std::fs::remove_dir_all(workspace.path().join("cache")).expect("drop local cache");
    let mut second = job;
    second["steps"][0]["script"] = json!(["cat vendor/lib.txt"]);
    let id = workspace.coordinator.enqueue_job(second);
    let record = final_record(&workspace, &runner, id).await;
    assert_state(&record, "success");
    let trace = trace_text(&record);
    assert!(trace.contains("Successfully extracted cache"), "{trace}");
    assert!(trace.contains(&format!("\nfrom-{name}")), "{trace}");
}

/// Issue #20: `[runners.cache.gcs]` with a service account's `CredentialsFile` through the
/// binary, against `gcp-storage-emulator` (`STORAGE_EMULATOR_HOST`).
#[tokio::test]
#[ignore = "needs gcp-storage-emulator (scripts/setup-gcs.sh)"]
async fn gcs_cache_round_trips_through_the_binary() {
    let emulator = runner_artifacts::test_util::Emulator::gcs("runner-cache").await;
    let credentials = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../runner-artifacts/testdata/gcs-service-account.json"
    );
    let section = format!(
        "  [runners.cache]\n    Type = \"gcs\"\n    Shared = true\n    [runners.cache.gcs]\n      \
         CredentialsFile = \"{credentials}\"\n      BucketName = \"runner-cache\"\n"
    );
    let host = format!("127.0.0.1:{}", emulator.port);
    remote_cache_round_trip(&section, &[("STORAGE_EMULATOR_HOST", &host)], "gcs").await;
    let listing = emulator.raw("GET /storage/v1/b/runner-cache/o").await;
    assert!(listing.contains("project/42/gcs-key"), "{listing}");
}

/// Issue #20: `[runners.cache.azure]` with `AccountName` + `AccountKey` (SAS URLs) through the
/// binary, against Azurite (`AZURE_STORAGE_BLOB_ENDPOINT`).
#[tokio::test]
#[ignore = "needs azurite-blob (scripts/setup-azurite.sh)"]
async fn azure_cache_round_trips_through_the_binary() {
    use runner_artifacts::test_util::{AZURITE_ACCOUNT, AZURITE_KEY, Emulator};
    let azurite = Emulator::azurite().await;
    azurite.create_container("runner-cache").await;
    let section = format!(
        "  [runners.cache]\n    Type = \"azure\"\n    Shared = true\n    [runners.cache.azure]\n      \
         AccountName = \"{AZURITE_ACCOUNT}\"\n      AccountKey = \"{AZURITE_KEY}\"\n      \
         ContainerName = \"runner-cache\"\n"
    );
    let endpoint = azurite.azurite_endpoint();
    remote_cache_round_trip(
        &section,
        &[("AZURE_STORAGE_BLOB_ENDPOINT", &endpoint)],
        "azure",
    )
    .await;
}
