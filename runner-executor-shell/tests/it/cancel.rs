//! Cancellation: abort stops the stage's process group; graceful cancel still runs after_script.

use runner_executor::{Cancellation, CancellationToken};
use runner_executor_shell::ShellExecutor;

use crate::support::{job, run_with, workdir};

/// Waits (by polling the file the script writes, not by sleeping a fixed time) until `path` exists.
async fn wait_for_file(path: &std::path::Path) {
    while !path.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn abort_mid_script_kills_the_process_group_and_skips_after_script() {
    let dir = workdir();
    let pid_file = dir.path().join("child.pid");
    let spec = job(dir.path())
        .script([format!(
            "sleep 1000 & echo $! > {}; wait",
            pid_file.display()
        )])
        .after_script(["echo after-script-ran"])
        .build();
    let abort = CancellationToken::new();
    let cancel = Cancellation::abort_only(abort.clone());
    let executor = ShellExecutor::new(dir.path());
    let running = tokio::spawn(run_with(executor, spec, cancel));
    wait_for_file(&pid_file).await;
    let pid: i32 = loop {
        if let Ok(pid) = std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            break pid;
        }
        tokio::task::yield_now().await;
    };
    abort.cancel();
    let done = running.await.unwrap();
    assert_eq!(done.reason(), "job_canceled");
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: canceled")
    );
    assert!(!done.text.contains("after-script-ran"));
    assert!(
        crate::jobs::dies_soon(pid).await,
        "sleep {pid} in the stage's group survived"
    );
}

#[tokio::test]
async fn graceful_cancel_runs_after_script_with_canceled_status() {
    let dir = workdir();
    let marker = dir.path().join("started");
    let spec = job(dir.path())
        .script([format!("touch {}; sleep 1000", marker.display())])
        .after_script(["echo status=$CI_JOB_STATUS"])
        .build();
    let cancel = Cancellation::default();
    let graceful = cancel.graceful.clone();
    let running = tokio::spawn(run_with(ShellExecutor::new(dir.path()), spec, cancel));
    wait_for_file(&marker).await;
    graceful.cancel();
    let done = running.await.unwrap();
    assert_eq!(done.reason(), "job_canceled");
    assert!(
        done.has_line("WARNING: script canceled externally (UI, API)"),
        "{}",
        done.text
    );
    assert!(done.has_line("status=canceled"), "{}", done.text);
    assert!(done.text.contains("Cleaning up project directory"));
    assert_eq!(
        done.text.lines().last(),
        Some("ERROR: Job failed: canceled")
    );
}
