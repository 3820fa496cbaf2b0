//! `run --user` (upstream-details.md §8): every shell stage runs through `su` as that user, the
//! builds and cache roots are created for it, a user that does not exist stops `run` before
//! any job, masking and cancellation work as without it. As root only; skipped otherwise.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_api::fake::Endpoint;
use runner_e2e::{JobBuilder, RunnerProcess, TEST_USER, Workspace, run_to_end, test_user};

use crate::{JOB_WAIT, final_record, stop_runner, trace_text};

/// A workspace the test user can reach: temp directories are 0700.
async fn workspace() -> Workspace {
    let workspace = Workspace::start(Duration::from_secs(2)).await;
    std::fs::set_permissions(workspace.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the workspace");
    workspace
}

fn start_runner_as(workspace: &Workspace, config: &Path, user: &str) -> RunnerProcess {
    RunnerProcess::start(
        workspace.path(),
        &["run", "-c", &config.to_string_lossy(), "--user", user],
    )
}

#[tokio::test]
async fn shell_job_runs_as_the_run_user_owns_its_files_and_keeps_secrets_masked() {
    let Some(user) = test_user() else { return };
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let secret = "u5er-s3cret-Value-77";
    let job = JobBuilder::script_only(&[
        "echo \"whoami=$(id -un)\"",
        "echo data > created-by-job.txt",
        "echo \"secret=$MY_SECRET\"",
    ])
    .masked_variable("MY_SECRET", secret)
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner_as(&workspace, &config, TEST_USER);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(
        trace.lines().any(|l| l == format!("whoami={TEST_USER}")),
        "{trace}"
    );
    assert!(trace.contains("secret=[MASKED]"), "{trace}");
    assert!(!trace.contains(secret), "{trace}");
    assert!(!runner.log().contains(secret), "{}", runner.log());
    assert!(runner.log().contains(TEST_USER), "{}", runner.log());
    let builds = workspace.path().join("builds");
    let created = find(&builds, "created-by-job.txt").expect("the job's file");
    for path in [&builds, &created, &workspace.path().join("cache")] {
        let owner = std::fs::metadata(path).expect("exists").uid();
        assert_eq!(owner, user.uid.as_raw(), "{}", path.display());
    }
    stop_runner(&workspace, runner).await;
}

#[tokio::test]
async fn git_cache_and_artifact_helpers_run_as_the_user() {
    let Some(user) = test_user() else { return };
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let sha = workspace.create_repo("owned", &[&[("README.md", "tracked\n")]]);
    let url = workspace.git.repo_url("owned", "glcbt-anything");
    let mut job = JobBuilder::new(
        &url,
        &sha,
        &[
            "cat README.md",
            "mkdir -p vendor",
            "echo lib > vendor/lib.txt",
        ],
    )
    .build();
    job["cache"] = serde_json::json!([{"key": "deps", "paths": ["vendor/"]}]);
    job["artifacts"] = serde_json::json!([{"paths": ["vendor/"], "when": "on_success"}]);
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner_as(&workspace, &config, TEST_USER);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("Created cache"), "{trace}");
    assert_eq!(record.artifacts.len(), 1, "{trace}");
    let archive = find(&workspace.path().join("cache"), "cache.zip").expect("the cache archive");
    let readme = find(&workspace.path().join("builds"), "README.md").expect("the checkout");
    for path in [&archive, &readme] {
        let owner = std::fs::metadata(path).expect("exists").uid();
        assert_eq!(owner, user.uid.as_raw(), "{}", path.display());
    }
    stop_runner(&workspace, runner).await;
}

#[tokio::test]
async fn a_user_that_does_not_exist_stops_run_before_any_job() {
    if test_user().is_none() {
        return;
    }
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let missing = "gitlab-runner-rs-no-such-user";
    let (status, output) = run_to_end(
        workspace.path(),
        &["run", "-c", &config.to_string_lossy(), "--user", missing],
    )
    .await;
    assert!(!status.success(), "{output}");
    assert!(
        output.contains(&format!(
            "FATAL: Service run failed: --user {missing}: user \"{missing}\" does not exist"
        )),
        "{output}"
    );
    assert_eq!(
        workspace.coordinator.request_count(Endpoint::RequestJob),
        0,
        "{output}"
    );
}

#[tokio::test]
async fn config_toml_user_alone_is_ignored_as_upstream_does() {
    if test_user().is_none() {
        return;
    }
    let workspace = workspace().await;
    let config = workspace.write_config(
        &format!("concurrent = 1\ncheck_interval = 1\nuser = \"{TEST_USER}\""),
        &[""],
    );
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo \"whoami=$(id -un)\""]).build());
    let runner = crate::start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert!(trace.lines().any(|l| l == "whoami=root"), "{trace}");
    assert!(
        runner
            .log()
            .contains("The global user in config.toml is ignored"),
        "{}",
        runner.log()
    );
    stop_runner(&workspace, runner).await;
}

#[tokio::test]
async fn canceling_a_job_kills_its_processes_under_su() {
    if test_user().is_none() {
        return;
    }
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job = JobBuilder::script_only(&["sleep 600 & echo \"sleep-pid=$!\"", "wait"]).build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner_as(&workspace, &config, TEST_USER);
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    let pid: i32 = loop {
        let trace = workspace
            .coordinator
            .job(job_id)
            .map(|r| String::from_utf8_lossy(&r.trace).into_owned())
            .unwrap_or_default();
        if let Some(pid) = trace
            .lines()
            .find_map(|l| l.strip_prefix("sleep-pid="))
            .and_then(|p| p.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the script never started: {}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        process_owner(pid),
        Some(test_user().map(|u| u.uid.as_raw()))
    );
    workspace.coordinator.cancel_job(job_id);
    let record = final_record(&workspace, &runner, job_id).await;
    assert_ne!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&record)
    );
    assert!(
        !trace_text(&record).contains("Session terminated"),
        "su was signalled instead of the job's processes: {}",
        trace_text(&record)
    );
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while process_owner(pid).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sleep {pid} under su survived the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_runner(&workspace, runner).await;
}

#[tokio::test]
async fn exit_codes_and_job_timeouts_are_unchanged_under_su() {
    if test_user().is_none() {
        return;
    }
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let failing = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo before", "exit 3"]).build());
    let timed_out = workspace.coordinator.enqueue_job(
        JobBuilder::script_only(&["sleep 600 & echo \"sleep-pid=$!\"", "wait"])
            .timeout(2)
            .build(),
    );
    let runner = start_runner_as(&workspace, &config, TEST_USER);
    let record = final_record(&workspace, &runner, failing).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(update.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(update.exit_code, Some(3), "{}", trace_text(&record));
    assert!(trace_text(&record).contains("ERROR: Job failed: exit status 3"));
    let record = final_record(&workspace, &runner, timed_out).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("job_execution_timeout"),
        "{trace}"
    );
    let pid: i32 = trace
        .lines()
        .find_map(|l| l.strip_prefix("sleep-pid="))
        .and_then(|p| p.trim().parse().ok())
        .expect("the script printed its pid");
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while process_owner(pid).is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sleep {pid} under su survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_runner(&workspace, runner).await;
}

/// The owner of a live (not zombie) process `pid`.
fn process_owner(pid: i32) -> Option<Option<u32>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit(')').next()?.split_whitespace().next()?;
    if state == "Z" {
        return None;
    }
    Some(
        std::fs::metadata(format!("/proc/{pid}"))
            .ok()
            .map(|m| m.uid()),
    )
}

/// The first file named `name` under `root`.
fn find(root: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}
