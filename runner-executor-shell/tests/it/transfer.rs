//! The cache and artifact stages of `JobSpec::transfer`: upstream's order, failure rules and
//! the variables the driver exports to them (executors.md §1.3, §4.4, §4.8).

use runner_executor::{Dependency, Secret, TransferScripts};
use runner_executor_shell::ShellExecutor;

use crate::support::{job, run, run_with, workdir};

fn lines(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|text| (*text).to_owned()).collect()
}

/// Every stage prints its name, so the trace shows which ran and in which order.
fn echoing() -> TransferScripts {
    TransferScripts {
        restore_cache: lines(&["echo ran-restore"]),
        download_artifacts: lines(&["echo ran-download"]),
        archive_cache: lines(&["echo ran-archive-ok"]),
        archive_cache_on_failure: lines(&["echo ran-archive-failed"]),
        upload_artifacts_on_success: lines(&["echo ran-upload-ok"]),
        upload_artifacts_on_failure: lines(&["echo ran-upload-failed"]),
    }
}

fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|needle| {
            text.find(&format!("\n{needle}\n"))
                .unwrap_or_else(|| panic!("{needle} missing: {text}"))
        })
        .collect()
}

#[tokio::test]
async fn green_job_runs_the_success_stages_in_upstream_order() {
    let dir = workdir();
    let spec = job(dir.path())
        .script(["echo ran-script"])
        .with(|job| job.transfer = echoing())
        .build();
    let done = run(dir.path(), spec).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let order = positions(
        &done.text,
        &[
            "ran-restore",
            "ran-download",
            "ran-script",
            "ran-archive-ok",
            "ran-upload-ok",
        ],
    );
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "{}",
        done.text
    );
    for header in [
        "Restoring cache",
        "Downloading artifacts",
        "Saving cache for successful job",
        "Uploading artifacts for successful job",
    ] {
        assert!(done.text.contains(header), "{header}: {}", done.text);
    }
    assert!(!done.text.contains("ran-archive-failed"), "{}", done.text);
    assert!(!done.text.contains("ran-upload-failed"), "{}", done.text);
}

#[tokio::test]
async fn failed_download_skips_the_script_and_runs_the_failure_stages() {
    let dir = workdir();
    let mut transfer = echoing();
    transfer.download_artifacts = lines(&["echo ran-download", "exit 4"]);
    let spec = job(dir.path())
        .script(["echo ran-script"])
        .with(|job| job.transfer = transfer)
        .build();
    let done = run(dir.path(), spec).await;
    assert_eq!(done.exit_code(), Some(4), "{}", done.text);
    assert!(!done.text.contains("\nran-script\n"), "{}", done.text);
    positions(&done.text, &["ran-archive-failed", "ran-upload-failed"]);
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: exit status 4"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn failed_upload_fails_a_green_job_but_the_script_error_wins() {
    let dir = workdir();
    let mut transfer = echoing();
    transfer.upload_artifacts_on_success = lines(&["exit 5"]);
    transfer.upload_artifacts_on_failure = lines(&["exit 6"]);
    let green = job(dir.path())
        .script(["true"])
        .with(|job| job.transfer = transfer.clone())
        .build();
    let done = run(dir.path(), green).await;
    assert_eq!(done.exit_code(), Some(5), "{}", done.text);

    let red = job(dir.path())
        .script(["exit 2"])
        .with(|job| job.transfer = transfer)
        .build();
    let done = run(dir.path(), red).await;
    assert_eq!(done.exit_code(), Some(2), "{}", done.text);
    assert!(
        done.text.contains("Uploading artifacts for failed job"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn stages_see_the_helper_cache_dir_and_masked_dependency_tokens() {
    let dir = workdir();
    let spec = job(dir.path())
        .script(["true"])
        .with(|job| {
            job.dependencies.push(Dependency {
                id: 9,
                token: Secret::new("glcbt-dependency-secret-token"),
                name: "build".to_owned(),
                artifacts_filename: "artifacts.zip".to_owned(),
            });
            job.transfer.download_artifacts = lines(&[
                "echo \"helper=$GITLAB_RUNNER_RS_HELPER\"",
                "echo \"cache=$GITLAB_RUNNER_RS_CACHE_DIR\"",
                "echo \"token=$GITLAB_RUNNER_RS_DEPENDENCY_TOKEN_9\"",
                "echo \"pwd=$PWD\"",
            ]);
        })
        .build();
    let executor = ShellExecutor::new(dir.path()).with_helper_binary("/opt/helper/bin");
    let done = run_with(executor, spec, Default::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    assert!(done.has_line("helper=/opt/helper/bin"), "{}", done.text);
    let cache_root = std::path::absolute(dir.path().join("cache")).expect("absolute");
    let expected = format!("cache={}/group/project", cache_root.display());
    assert!(done.has_line(&expected), "{expected}: {}", done.text);
    assert!(done.has_line("token=[MASKED]"), "{}", done.text);
    assert!(!done.text.contains("dependency-secret"), "{}", done.text);
    assert!(
        done.text
            .lines()
            .any(|l| l.starts_with("pwd=") && l.ends_with("/0/group/project")),
        "stages run in the project directory: {}",
        done.text
    );
}
