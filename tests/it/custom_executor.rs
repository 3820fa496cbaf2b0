//! Jobs through `run` and `exec custom` on the custom executor (upstream-details.md §1):
//! real driver scripts, a trivial one running stages with bash on this host, and the Docker
//! driver of `examples/custom-executor`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_e2e::{JobBuilder, RunnerProcess, Workspace, runner_binary};
use serde_json::json;

use crate::{JOB_WAIT, final_record, trace_text};

async fn workspace() -> Workspace {
    Workspace::start(Duration::from_secs(2)).await
}

/// Writes an executable driver script `name` in the workspace that logs `<name> <args>` to
/// `calls.log`, then runs `body`.
fn driver(workspace: &Workspace, name: &str, body: &str) -> String {
    let path = workspace.path().join(format!("driver-{name}"));
    let text = format!(
        "#!/usr/bin/env bash\necho \"{name} $*\" >> {log}\n{body}\n",
        log = calls_log(workspace).display()
    );
    std::fs::write(&path, text).expect("driver");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

fn calls_log(workspace: &Workspace) -> PathBuf {
    workspace.path().join("calls.log")
}

/// The calls log with the script paths of `run` calls dropped: `run <stage>`.
fn calls(workspace: &Workspace) -> Vec<String> {
    std::fs::read_to_string(calls_log(workspace))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            if words[0] == "run" && words.len() >= 3 {
                format!("run {}", words[words.len() - 1])
            } else {
                line.trim_end().to_owned()
            }
        })
        .collect()
}

/// A `run_exec` running the stage script with bash on this host; a failing script becomes
/// `BUILD_FAILURE_EXIT_CODE` with its status in `BUILD_EXIT_CODE_FILE`.
const HOST_RUN: &str = "bash \"${@: -2:1}\" || { echo $? > \"$BUILD_EXIT_CODE_FILE\"; exit \"$BUILD_FAILURE_EXIT_CODE\"; }";

/// `config.toml` with one custom runner; `custom` holds the `[runners.custom]` lines.
fn write_config(workspace: &Workspace, runner_extra: &str, custom: &str) -> PathBuf {
    let text = format!(
        "concurrent = 1\ncheck_interval = 1\n\n[[runners]]\n  name = \"e2e-custom\"\n  url = \"{url}\"\n  token = \"{token}\"\n  executor = \"custom\"\n{runner_extra}\n  [runners.custom]\n{custom}\n",
        url = workspace.coordinator.url(),
        token = workspace.coordinator.runner_token(),
    );
    let path = workspace.path().join("config.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// The usual host driver: logging prepare and cleanup, [`HOST_RUN`].
fn host_driver_config(workspace: &Workspace, prepare_body: &str, run_body: &str) -> String {
    format!(
        "    prepare_exec = \"{}\"\n    run_exec = \"{}\"\n    cleanup_exec = \"{}\"\n",
        driver(workspace, "prepare", prepare_body),
        driver(workspace, "run", run_body),
        driver(workspace, "cleanup", ""),
    )
}

fn dirs(workspace: &Workspace) -> String {
    format!(
        "  builds_dir = \"{}\"\n  cache_dir = \"{}\"",
        workspace.path().join("builds").display(),
        workspace.path().join("cache").display()
    )
}

/// Starts `run`, with the runner binary's directory first on `PATH` so stages find
/// `gitlab-runner-rs` for the helper commands.
fn start(workspace: &Workspace, config: &Path) -> RunnerProcess {
    let binary = runner_binary();
    let path = format!(
        "{}:{}",
        binary.parent().expect("binary dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    RunnerProcess::start_with_env(
        workspace.path(),
        &["run", "-c", &config.to_string_lossy()],
        &[
            ("PATH", &path),
            ("GITLAB_RUNNER_RS_BINARY", &binary.to_string_lossy()),
        ],
    )
}

#[tokio::test]
async fn successful_job_calls_the_driver_in_order_with_config_exec_dirs_and_env() {
    let workspace = workspace().await;
    let elsewhere = workspace.path().join("from-config-exec");
    let env_file = workspace.path().join("prepare-env");
    let config_exec = driver(
        &workspace,
        "config",
        &format!(
            "echo '{{\"builds_dir\":\"{}\",\"cache_dir\":\"{}\",\"driver\":{{\"name\":\"e2e\",\"version\":\"v0\"}},\"job_env\":{{\"FROM_CONFIG\":\"yes\"}}}}'",
            elsewhere.join("builds").display(),
            elsewhere.join("cache").display()
        ),
    );
    let custom = format!(
        "    config_exec = \"{config_exec}\"\n{}",
        host_driver_config(
            &workspace,
            &format!(
                "echo \"$FROM_CONFIG $CUSTOM_ENV_CI_SERVER $CUSTOM_ENV_MY_VAR $CUSTOM_ENV_CI_PROJECT_DIR\" > {}",
                env_file.display()
            ),
            HOST_RUN
        )
    );
    let config = write_config(&workspace, "", &custom);
    let job_id = workspace.coordinator.enqueue_job(
        JobBuilder::script_only(&["echo \"hello from $CI_PROJECT_DIR\""])
            .variable("MY_VAR", "my-value")
            .after_script(&["echo after"])
            .build(),
    );
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(
        trace.contains("Preparing the \"custom\" executor"),
        "{trace}"
    );
    assert!(
        trace.contains("Using Custom executor with driver e2e v0..."),
        "{trace}"
    );
    // `script_only` jobs clone nothing from `http://127.0.0.1:9/none.git`: slug `none`.
    let project = elsewhere.join("builds/none");
    assert!(
        trace.contains(&format!("hello from {}", project.display())),
        "{trace}"
    );
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap().trim(),
        format!("yes yes my-value {}", project.display())
    );
    assert_eq!(
        calls(&workspace),
        [
            "config",
            "prepare",
            "run prepare_script",
            "run get_sources",
            "run build_script",
            "run after_script",
            "run cleanup_file_variables",
            "cleanup",
        ]
    );
}

#[tokio::test]
async fn build_failure_exit_code_is_reported_with_the_job_exit_code() {
    let workspace = workspace().await;
    let custom = host_driver_config(&workspace, "", HOST_RUN);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo before", "exit 3"]).build());
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed");
    assert_eq!(update.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(update.exit_code, Some(3));
    assert!(
        trace.contains("ERROR: Job failed: exit status 3"),
        "{trace}"
    );
    assert_eq!(
        calls(&workspace).last().map(String::as_str),
        Some("cleanup")
    );
}

#[tokio::test]
async fn system_failure_exit_code_is_a_runner_system_failure() {
    let workspace = workspace().await;
    let run = "if [ \"${@: -1}\" = build_script ]; then exit \"$SYSTEM_FAILURE_EXIT_CODE\"; fi\nbash \"${@: -2:1}\"";
    let custom = host_driver_config(&workspace, "", run);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["true"]).build());
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert!(
        trace.contains("ERROR: Job failed (system failure): exit status 2"),
        "{trace}"
    );
    assert_eq!(
        calls(&workspace).last().map(String::as_str),
        Some("cleanup")
    );
}

#[tokio::test]
async fn a_crashing_prepare_is_retried_three_times_then_fails_as_a_system_failure() {
    let workspace = workspace().await;
    let custom = host_driver_config(&workspace, "kill -SEGV $$", HOST_RUN);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["true"]).build());
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    let crash = "unknown Custom executor executable exit code -1; executable execution terminated with: signal: segmentation fault";
    assert_eq!(
        trace
            .matches(&format!("ERROR: Preparation failed: {crash}"))
            .count(),
        3,
        "{trace}"
    );
    assert_eq!(
        trace.matches("Will be retried in 3s ...").count(),
        3,
        "{trace}"
    );
    assert!(
        trace.contains(&format!("ERROR: Job failed (system failure): {crash}")),
        "{trace}"
    );
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(
        calls(&workspace),
        [
            "prepare", "cleanup", "prepare", "cleanup", "prepare", "cleanup"
        ]
    );
}

#[tokio::test]
async fn job_timeout_reaches_the_driver_and_cleanup_runs() {
    let workspace = workspace().await;
    let term = workspace.path().join("driver-got-term");
    let run = format!(
        "trap 'touch {}; exit 1' TERM\nbash \"${{@: -2:1}}\" & wait $!",
        term.display()
    );
    let custom = host_driver_config(&workspace, "", &run);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["sleep 600"]).timeout(3).build());
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("job_execution_timeout"),
        "{}",
        trace_text(&record)
    );
    assert!(term.exists(), "the driver's process group got SIGTERM");
    assert_eq!(
        calls(&workspace).last().map(String::as_str),
        Some("cleanup")
    );
}

#[tokio::test]
async fn cancel_from_the_coordinator_reaches_the_driver_and_cleanup_runs() {
    let workspace = workspace().await;
    let term = workspace.path().join("driver-got-term");
    let run = format!(
        "trap 'touch {}; exit 1' TERM\nbash \"${{@: -2:1}}\" & wait $!",
        term.display()
    );
    let custom = host_driver_config(&workspace, "", &run);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo started", "sleep 600"]).build());
    let runner = start(&workspace, &config);
    let deadline = tokio::time::Instant::now() + JOB_WAIT;
    while !workspace
        .coordinator
        .job(job_id)
        .is_some_and(|r| String::from_utf8_lossy(&r.trace).contains("started"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the script never started: {}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workspace.coordinator.cancel_job(job_id);
    let record = final_record(&workspace, &runner, job_id).await;
    assert_ne!(record.final_state.as_deref(), Some("success"));
    assert!(term.exists(), "the driver's process group got SIGTERM");
    assert_eq!(
        calls(&workspace).last().map(String::as_str),
        Some("cleanup")
    );
}

#[tokio::test]
async fn artifacts_and_cache_go_through_the_helper_commands_where_the_driver_runs() {
    let workspace = workspace().await;
    let custom = host_driver_config(&workspace, "", HOST_RUN);
    let config = write_config(&workspace, &dirs(&workspace), &custom);
    let mut job = JobBuilder::script_only(&[
        "mkdir -p out .cached",
        "echo made > out/file.txt",
        "echo kept > .cached/c.txt",
    ])
    .build();
    job["artifacts"] = json!([{"name": "out", "untracked": false, "paths": ["out/"], "when": "on_success", "artifact_type": "archive", "artifact_format": "zip"}]);
    job["cache"] = json!([{"key": "k1", "untracked": false, "policy": "pull-push", "paths": [".cached/"], "when": "on_success"}]);
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert_eq!(record.artifacts.len(), 1, "{trace}");
    let stages = calls(&workspace);
    assert!(
        stages.contains(&"run archive_cache".to_owned()),
        "{stages:?}"
    );
    assert!(
        stages.contains(&"run upload_artifacts_on_success".to_owned()),
        "{stages:?}"
    );
    assert!(trace.contains("Uploading artifacts..."), "{trace}");
}

/// The example driver's section, for `config.toml`.
fn example_driver_section() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/custom-executor");
    let dir = std::fs::canonicalize(dir).expect("example driver");
    ["config", "prepare", "run", "cleanup"]
        .iter()
        .map(|stage| {
            format!(
                "    {stage}_exec = \"{}\"\n",
                dir.join(format!("{stage}.sh")).display()
            )
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs docker"]
async fn example_docker_driver_runs_a_job_with_sources_and_artifacts_in_a_container() {
    let workspace = workspace().await;
    let sha = workspace.create_repo("project", &[&[("README.md", "tracked\n")]]);
    let url = workspace.git.repo_url("project", "glcbt-anything");
    let mut job = JobBuilder::new(
        &url,
        &sha,
        &[
            "cat README.md",
            "test -f /.dockerenv && echo in-a-container",
            "echo \"pwd=$PWD\"",
            "mkdir -p out && echo made > out/file.txt",
        ],
    )
    .build();
    job["artifacts"] = json!([{"name": "out", "untracked": false, "paths": ["out/"], "when": "on_success", "artifact_type": "archive", "artifact_format": "zip"}]);
    let config = write_config(&workspace, "", &example_driver_section());
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(
        trace.contains("Using Custom executor with driver docker-cli example v1.0.0..."),
        "{trace}"
    );
    assert!(trace.contains("tracked"), "{trace}");
    assert!(trace.contains("in-a-container"), "{trace}");
    // config.sh's builds dir, not shared: `<builds_dir>/<slug>`.
    assert!(trace.contains("pwd=/builds/project"), "{trace}");
    assert_eq!(record.artifacts.len(), 1, "{trace}");
    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=gitlab-runner-rs-custom-example=1",
        ])
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "cleanup removed the job's container"
    );
}

#[tokio::test]
#[ignore = "needs docker"]
async fn example_docker_driver_runs_the_example_pipeline_with_exec_custom() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = tempfile::tempdir().expect("temp dir");
    for path in [
        ".gitlab-ci.yml",
        ".gitignore",
        "README.md",
        "ci/templates.yml",
        "src/greet.sh",
    ] {
        let target = repo.path().join("examples/pipeline").join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::copy(root.join("examples/pipeline").join(path), target).expect("copy");
    }
    for args in [
        &["init", "--quiet", "--initial-branch=main"][..],
        &["add", "--all"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "--quiet",
            "-m",
            "initial",
        ],
    ] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .status()
            .expect("git");
        assert!(status.success());
    }
    let driver = std::fs::canonicalize(root.join("examples/custom-executor")).expect("driver");
    let flag = |stage: &str| {
        [
            format!("--custom-{stage}-exec"),
            driver
                .join(format!("{stage}.sh"))
                .to_string_lossy()
                .into_owned(),
        ]
    };
    let mut args = vec!["exec".to_owned(), "custom".to_owned()];
    for stage in ["config", "prepare", "run", "cleanup"] {
        args.extend(flag(stage));
    }
    let output = tokio::process::Command::new(runner_binary())
        .args(&args)
        .current_dir(repo.path().join("examples/pipeline"))
        .env("GITLAB_RUNNER_RS_BINARY", runner_binary())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("exec custom runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("Using Custom executor with driver docker-cli example"),
        "{text}"
    );
    assert!(text.contains("Hello from greeter"), "{text}");
    assert!(text.contains("the artifact of build says"), "{text}");
}

#[tokio::test]
async fn register_with_custom_flags_writes_the_custom_section() {
    let workspace = Workspace::start(Duration::ZERO).await;
    let path = workspace.path().join("config.toml");
    let url = workspace.coordinator.url();
    let token = workspace.coordinator.runner_token();
    let output = tokio::process::Command::new(runner_binary())
        .args([
            "register",
            "-n",
            "-c",
            &path.to_string_lossy(),
            "--url",
            &url,
            "--token",
            &token,
            "--name",
            "custom-runner",
            "--executor",
            "custom",
            "--builds-dir",
            "/builds",
            "--cache-dir",
            "/cache",
            "--custom-config-exec",
            "/opt/driver/config.sh",
            "--custom-prepare-exec",
            "/opt/driver/prepare.sh",
            "--custom-prepare-args",
            "p1",
            "--custom-prepare-args",
            "p2",
            "--custom-run-exec",
            "/opt/driver/run.sh",
            "--custom-cleanup-exec",
            "/opt/driver/cleanup.sh",
            "--custom-cleanup-exec-timeout",
            "60",
            "--custom-graceful-kill-timeout",
            "30",
        ])
        .env("CUSTOM_FORCE_KILL_TIMEOUT", "5")
        .env_remove("CI_SERVER_URL")
        .env_remove("CI_SERVER_TOKEN")
        .env_remove("RUNNER_EXECUTOR")
        .current_dir(workspace.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("register runs");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{text}");
    let written = std::fs::read_to_string(&path).expect("config written");
    let section = &written[written
        .find("[runners.custom]")
        .unwrap_or_else(|| panic!("{written}"))..];
    for line in [
        "config_exec = \"/opt/driver/config.sh\"",
        "prepare_exec = \"/opt/driver/prepare.sh\"",
        "prepare_args = [\"p1\", \"p2\"]",
        "run_exec = \"/opt/driver/run.sh\"",
        "cleanup_exec = \"/opt/driver/cleanup.sh\"",
        "cleanup_exec_timeout = 60",
        "graceful_kill_timeout = 30",
        "force_kill_timeout = 5",
    ] {
        assert!(section.contains(line), "{line} missing:\n{written}");
    }
    assert!(written.contains("executor = \"custom\""), "{written}");
}
