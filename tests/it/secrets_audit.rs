//! Issue #16: canary secrets of every kind appear nowhere they must not: the runner's own log
//! (text and JSON, with `--debug`), the job's trace, the `/metrics` and `/debug/*` endpoints,
//! and the files left in the builds directory after the job.

use std::path::Path;
use std::time::Duration;

use crate::metrics::{get, metrics_address};
use runner_e2e::{JobBuilder, RunnerProcess, Workspace};

use crate::{JOB_WAIT, final_record, trace_text};

const MASKED: &str = "canary-masked-value-7a1";
const MASKED_FILE: &str = "canary-masked-file-9c3";
const JOB_TOKEN: &str = "glcbt-canary-job-token-5d2";
const REGISTRY_PASSWORD: &str = "canary-registry-password-4e8";
const S3_SECRET: &str = "canary-s3-secret-key-b6f";
const DOCKER_AUTH: &str = "canary-docker-auth-0f4";

/// Every file under `dir` (recursively) whose content or name contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.to_string_lossy().contains(needle) {
            found.push(path.display().to_string());
        }
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test]
async fn canary_secrets_appear_in_no_log_trace_endpoint_or_leftover_file() {
    let workspace = Workspace::start(Duration::from_secs(2)).await;
    let runner_token = workspace.coordinator.runner_token();
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1\nlisten_address = \"127.0.0.1:0\"",
        &[&format!(
            "  environment = [\"DOCKER_AUTH_CONFIG={{\\\"auths\\\":{{\\\"r.example\\\":{{\\\"auth\\\":\\\"{DOCKER_AUTH}\\\"}}}}}}\"]\n  [runners.cache]\n    Type = \"s3\"\n    [runners.cache.s3]\n      ServerAddress = \"127.0.0.1:9\"\n      AccessKey = \"CANARYACCESSKEY\"\n      SecretKey = \"{S3_SECRET}\"\n      BucketName = \"cache\"\n      Insecure = true"
        )],
    );
    let mut job = JobBuilder::script_only(&[
        "echo \"started\"",
        "echo \"masked: $CANARY_MASKED\"",
        "echo \"file: $(cat \"$CANARY_FILE\")\"",
        "echo \"job token: $CI_JOB_TOKEN\"",
        "env | sort",
        "sleep 2",
    ])
    .masked_variable("CANARY_MASKED", MASKED)
    .build();
    job["token"] = serde_json::json!(JOB_TOKEN);
    job["variables"].as_array_mut().expect("variables").push(
        serde_json::json!({"key": "CANARY_FILE", "value": MASKED_FILE,
            "public": false, "masked": true, "file": true}),
    );
    job["credentials"] = serde_json::json!([{"type": "registry", "url": "registry.example",
        "username": "canary-user", "password": REGISTRY_PASSWORD}]);
    job["cache"] = serde_json::json!([{"key": "canary-cache", "paths": ["vendor"],
        "policy": "pull-push", "when": "on_success"}]);
    let job_id = workspace.coordinator.enqueue_job(job);
    let mut runner = RunnerProcess::start(
        workspace.path(),
        &[
            "--debug",
            "--log-format",
            "json",
            "run",
            "-c",
            &config.to_string_lossy(),
        ],
    );
    let address = metrics_address(&runner).await;

    // While the job runs: the debug endpoints list it.
    assert!(
        runner
            .wait_for_log("Added job to processing list", JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    let mut endpoints = String::new();
    for path in [
        "/metrics",
        "/debug/jobs/list",
        "/debug/process/state",
        "/debug/pprof/",
    ] {
        endpoints.push_str(&get(&address, path).await);
    }
    let record = final_record(&workspace, &runner, job_id).await;
    for path in ["/metrics", "/debug/jobs/list"] {
        endpoints.push_str(&get(&address, path).await);
    }
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("masked: [MASKED]"), "{trace}");
    runner.signal(nix::sys::signal::Signal::SIGQUIT);
    assert!(runner.wait(JOB_WAIT).await.is_some(), "{}", runner.log());
    let log = runner.log();

    let everywhere = [MASKED, MASKED_FILE, JOB_TOKEN, REGISTRY_PASSWORD, S3_SECRET];
    for canary in everywhere {
        assert!(!trace.contains(canary), "{canary} in the trace:\n{trace}");
    }
    // The runner's token is the runner's own: never in a job's trace either.
    assert!(!trace.contains(&runner_token), "runner token in the trace");
    for canary in everywhere
        .iter()
        .chain([&DOCKER_AUTH, &runner_token.as_str()])
    {
        assert!(
            !log.contains(canary),
            "{canary} in the runner's log:\n{log}"
        );
        assert!(
            !endpoints.contains(canary),
            "{canary} in a metrics or debug endpoint:\n{endpoints}"
        );
        let leftovers = files_containing(&workspace.path().join("builds"), canary);
        assert!(
            leftovers.is_empty(),
            "{canary} left in the builds directory: {leftovers:?}"
        );
    }
}
