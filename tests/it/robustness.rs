//! The runner as users load it: parallel jobs of one project, logs of hundreds of MiB,
//! payloads that do not decode, absurd values, and shutdown while jobs report (issue #14).

use std::time::Duration;

use nix::sys::signal::Signal;
use runner_api::fake::{Endpoint, Fault};
use runner_e2e::{JobBuilder, Workspace};
use serde_json::json;

use crate::{JOB_WAIT, final_record, start_runner, trace_text};

async fn workspace() -> Workspace {
    Workspace::start(Duration::from_secs(1)).await
}

/// upstream-details.md §2: two running jobs of one project never share a directory. Each
/// job writes its shell's pid into the project directory, waits, and checks the file is
/// still its own; with a shared directory another job's write or cleanup breaks that.
#[tokio::test]
async fn twenty_jobs_of_one_project_each_get_their_own_directory() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 4\ncheck_interval = 1", &["  limit = 4"]);
    let script = [
        "echo \"numbers=$CI_CONCURRENT_ID/$CI_CONCURRENT_PROJECT_ID dir=$PWD\"",
        "echo \"$$\" > owner",
        "sleep 0.4",
        "test \"$(cat owner)\" = \"$$\"",
    ];
    let ids: Vec<u64> = (0..20)
        .map(|_| {
            workspace
                .coordinator
                .enqueue_job(JobBuilder::script_only(&script).build())
        })
        .collect();
    let runner = start_runner(&workspace, &config);
    let mut project_numbers = std::collections::BTreeSet::new();
    for id in ids {
        let record = final_record(&workspace, &runner, id).await;
        let trace = trace_text(&record);
        assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
        let line = trace
            .lines()
            .find(|line| line.starts_with("numbers="))
            .unwrap_or_else(|| panic!("no numbers line in {trace}"));
        let (numbers, dir) = line["numbers=".len()..]
            .split_once(" dir=")
            .expect("numbers and dir");
        let (concurrent, project) = numbers.split_once('/').expect("two numbers");
        let project: u32 = project.parse().expect("a project number");
        assert!(concurrent.parse::<u32>().expect("a number") < 4, "{line}");
        assert!(project < 4, "{line}");
        // `<builds>/<short token>/<project number>/<project>`.
        assert_eq!(
            dir.rsplit('/').nth(1),
            Some(project.to_string().as_str()),
            "the project directory is named by CI_CONCURRENT_PROJECT_ID: {line}"
        );
        project_numbers.insert(project);
    }
    assert!(
        project_numbers.len() > 1,
        "jobs ran side by side in different directories: {project_numbers:?}"
    );
}

/// Peak RSS of a process, from `VmHWM` in `/proc/<pid>/status`.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmHWM")
        * 1024
}

/// §3.1: the acknowledged log lives in a file, not in memory. A 200 MiB log arrives whole,
/// with its checksum, while the runner's peak RSS stays far below the log's size (the bound
/// is generous; the bench measures it precisely). The spill file is gone afterwards.
#[tokio::test]
async fn a_200_mib_log_arrives_whole_while_memory_stays_bounded() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let workspace = workspace().await;
    let temp = workspace.path().join("tmp");
    std::fs::create_dir_all(&temp).expect("temp dir");
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1",
        &["  output_limit = 400000"],
    );
    let lines = SIZE / 41 + 1;
    let script = format!(
        "awk 'BEGIN {{ for (i = 0; i < {lines}; i++) print \"a line of the big log, exactly 40 bytes.\" }}'"
    );
    let id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&[&script]).build());
    let runner = runner_e2e::RunnerProcess::start_with_env(
        workspace.path(),
        &["run", "-c", &config.to_string_lossy()],
        &[("TMPDIR", &temp.to_string_lossy())],
    );
    let pid = runner.pid().expect("the runner runs");
    let record = workspace
        .coordinator
        .wait_for_job_final_state(id, Duration::from_secs(600))
        .await
        .unwrap_or_else(|| panic!("the big job never finished:\n{}", runner.log()));
    let peak = peak_rss_bytes(pid);
    assert_eq!(record.final_state.as_deref(), Some("success"));
    assert!(record.trace.len() as u64 > SIZE, "{}", record.trace.len());
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.checksum.as_deref(),
        Some(runner_api::trace_checksum(&record.trace).as_str())
    );
    assert_eq!(update.bytesize, Some(record.trace.len() as u64));
    assert!(
        peak < 100 * 1024 * 1024,
        "peak RSS {peak} bytes for a {SIZE}-byte log"
    );
    let left: Vec<_> = std::fs::read_dir(&temp)
        .expect("temp dir")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "files left in the temp dir: {left:?}");
}

/// A timeout of i64::MAX seconds overflowed the deadline arithmetic and the panic left the
/// job running on GitLab; now it is clamped and the job runs.
#[tokio::test]
async fn an_absurd_job_timeout_neither_panics_nor_loses_the_job() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut job = JobBuilder::script_only(&["echo still-here"]).build();
    job["runner_info"]["timeout"] = json!(i64::MAX);
    let id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("still-here"), "{trace}");
}

/// A payload that names its job but does not decode is reported failed with a log that
/// says what did not decode, and never quotes the payload's values.
#[tokio::test]
async fn an_undecodable_payload_is_failed_with_the_reason_in_its_log() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut job = JobBuilder::script_only(&["echo never"]).build();
    job["id"] = json!(901);
    job["token"] = json!("glcbt-undecodable-901");
    job["variables"][0]["masked"] = json!("s3cr3t-value");
    let id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, id).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert!(
        trace.contains("variables[0].masked: invalid type: string, expected a boolean"),
        "{trace}"
    );
    assert!(!trace.contains("s3cr3t-value"), "{trace}");
    assert!(!runner.log().contains("s3cr3t-value"), "{}", runner.log());
    assert!(!trace.contains("never"), "{trace}");
}

/// Invalid UTF-8 used to make the payload "name no job"; read lossily, id and token are
/// intact, so the job is reported instead of staying `running`.
#[tokio::test]
async fn a_payload_with_invalid_utf8_is_still_reported() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut job = JobBuilder::script_only(&["echo never"]).build();
    job["id"] = json!(902);
    job["token"] = json!("glcbt-undecodable-902");
    job["job_info"]["name"] = json!("MARK");
    let text = job.to_string();
    let mut raw = Vec::new();
    let (before, after) = text.split_once("MARK").expect("the marker");
    raw.extend_from_slice(before.as_bytes());
    raw.extend_from_slice(b"bad \xff name");
    raw.extend_from_slice(after.as_bytes());
    let id = workspace.coordinator.enqueue_raw_job(job, raw);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    assert!(trace.contains("not valid UTF-8"), "{trace}");
}

/// Masked file variables hold secrets: they are removed when the job times out, as on
/// every other way out of a job.
#[tokio::test]
async fn file_variables_are_removed_after_a_job_timeout() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut job = JobBuilder::script_only(&["test -s \"$SECRET_FILE\"", "sleep 60"])
        .timeout(3)
        .build();
    job["variables"].as_array_mut().expect("variables").push(
        json!({"key": "SECRET_FILE", "value": "top-secret-contents", "file": true, "masked": true}),
    );
    let id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, id).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("job_execution_timeout"),
        "{}",
        trace_text(&record)
    );
    let leftovers = files_containing(&workspace.path().join("builds"), b"top-secret-contents");
    assert!(leftovers.is_empty(), "secrets left on disk: {leftovers:?}");
}

/// The same after SIGTERM aborted the job.
#[tokio::test]
async fn file_variables_are_removed_after_a_sigterm_abort() {
    let workspace = workspace().await;
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1\nshutdown_timeout = 30",
        &[""],
    );
    let started = workspace.path().join("started");
    let mut job = JobBuilder::script_only(&[
        "test -s \"$SECRET_FILE\"",
        &format!("touch {}", started.display()),
        "sleep 60",
    ])
    .build();
    job["variables"].as_array_mut().expect("variables").push(
        json!({"key": "SECRET_FILE", "value": "top-secret-contents", "file": true, "masked": true}),
    );
    let id = workspace.coordinator.enqueue_job(job);
    let mut runner = start_runner(&workspace, &config);
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !started.exists() {
        assert!(tokio::time::Instant::now() < deadline, "{}", runner.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.signal(Signal::SIGTERM);
    let record = final_record(&workspace, &runner, id).await;
    assert_eq!(record.final_state.as_deref(), Some("failed"));
    assert!(runner.wait(JOB_WAIT).await.is_some(), "{}", runner.log());
    let leftovers = files_containing(&workspace.path().join("builds"), b"top-secret-contents");
    assert!(leftovers.is_empty(), "secrets left on disk: {leftovers:?}");
}

/// Files under `dir` whose contents include `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

/// During a SIGQUIT drain the running job's final update is still retried after a 429's
/// `Retry-After`; it used to fail at once with "request cancelled by shutdown".
#[tokio::test]
async fn a_drained_job_retries_its_final_update_after_429() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let started = workspace.path().join("started");
    let go = workspace.path().join("go");
    let job = JobBuilder::script_only(&[
        &format!("touch {}", started.display()),
        &format!("while [ ! -e {} ]; do sleep 0.1; done", go.display()),
        "echo drained-job-done",
    ])
    .build();
    let id = workspace.coordinator.enqueue_job(job);
    let mut runner = start_runner(&workspace, &config);
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !started.exists() {
        assert!(tokio::time::Instant::now() < deadline, "{}", runner.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.signal(Signal::SIGQUIT);
    assert!(
        runner
            .wait_for_log("Starting graceful shutdown", JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    workspace.coordinator.inject_fault(
        Endpoint::UpdateJob,
        2,
        Fault::status(429).header("Retry-After", "1"),
    );
    std::fs::write(&go, "").expect("release the job");
    let record = final_record(&workspace, &runner, id).await;
    assert_eq!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        runner.log()
    );
    assert!(trace_text(&record).contains("drained-job-done"));
    let status = runner.wait(JOB_WAIT).await.expect("the runner exits");
    assert!(status.success(), "{}", runner.log());
}

/// The same-project scenario against gitlab-runner-mock, an independent fake GitLab that
/// hands out every job with project id 4, as a pipeline's jobs share a project.
#[tokio::test]
async fn jobs_of_one_project_from_gitlab_runner_mock_run_side_by_side() {
    use gitlab_runner_mock::{GitlabRunnerMock, MockJobState, MockJobStepName, MockJobStepWhen};

    let mock = GitlabRunnerMock::start().await;
    mock.set_update_interval(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "concurrent = 4\ncheck_interval = 1\n\n[[runners]]\n  name = \"mock\"\n  url = \"{}\"\n  token = \"{}\"\n  executor = \"shell\"\n  builds_dir = \"{}\"\n",
            mock.uri(),
            mock.runner_token(),
            dir.path().join("builds").display()
        ),
    )
    .expect("config");
    let script = [
        "echo \"numbers=$CI_CONCURRENT_PROJECT_ID dir=$PWD\"",
        "echo \"$$\" > owner",
        "sleep 0.4",
        "test \"$(cat owner)\" = \"$$\"",
    ];
    let jobs: Vec<_> = (0..12)
        .map(|n| {
            let mut builder = mock.job_builder(format!("parallel-{n}"));
            builder.add_variable("GIT_STRATEGY".to_owned(), "none".to_owned(), true, false);
            builder.add_step(
                MockJobStepName::Script,
                script.iter().map(|line| (*line).to_owned()).collect(),
                3600,
                MockJobStepWhen::OnSuccess,
                false,
            );
            let job = builder.build();
            mock.enqueue_job(job.clone());
            job
        })
        .collect();
    let runner =
        runner_e2e::RunnerProcess::start(dir.path(), &["run", "-c", &config.to_string_lossy()]);
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !jobs.iter().all(|job| job.finished()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs never finished; runner log:\n{}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut directories = std::collections::BTreeSet::new();
    for job in &jobs {
        let log = String::from_utf8_lossy(&job.log()).into_owned();
        assert_eq!(job.state(), MockJobState::Success, "{log}");
        let line = log
            .lines()
            .find(|line| line.starts_with("numbers="))
            .unwrap_or_else(|| panic!("no numbers line in {log}"));
        let (number, dir) = line["numbers=".len()..]
            .split_once(" dir=")
            .expect("number and dir");
        assert_eq!(dir.rsplit('/').nth(1), Some(number), "{line}");
        directories.insert(dir.to_owned());
    }
    assert!(directories.len() > 1, "{directories:?}");
}
