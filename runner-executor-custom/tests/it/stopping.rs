//! Timeouts and cancellation reach the driver's process group, with the kill sequence of
//! upstream-details.md §1.9; cleanup runs after each; leftovers never hang a stage (J5).

use std::time::Duration;

use runner_config::CustomConfig;
use runner_executor::{Cancellation, CancellationToken};

use crate::support::{World, dies, read_pid, wait_for_file};

#[tokio::test]
async fn prepare_exec_timeout_terminates_the_driver_group_and_retries() {
    let world = World::new();
    let pid_file = world.path().join("sleep.pid");
    let config = CustomConfig {
        prepare_exec: world.driver(
            "prepare",
            &format!("sleep 1000 & echo $! > {}; wait", pid_file.display()),
        ),
        prepare_exec_timeout: Some(1),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(
        done.count("ERROR: Preparation failed: unknown Custom executor executable exit code -1; executable execution terminated with: signal: terminated"),
        3,
        "{}",
        done.text
    );
    assert_eq!(done.reason(), "runner_system_failure");
    let pid = read_pid(&pid_file).await;
    assert!(dies(pid).await, "the driver's child {pid} got SIGTERM too");
    assert_eq!(world.calls().iter().filter(|c| *c == "cleanup ").count(), 3);
}

#[tokio::test]
async fn a_driver_ignoring_sigterm_is_killed_after_graceful_kill_timeout() {
    let world = World::new();
    let config = CustomConfig {
        prepare_exec: world.driver(
            "prepare",
            "trap 'echo got-term' TERM; while true; do sleep 0.1; done",
        ),
        prepare_exec_timeout: Some(1),
        graceful_kill_timeout: Some(1),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert!(done.text.contains("got-term"), "{}", done.text);
    assert!(
        done.text
            .contains("executable execution terminated with: signal: killed"),
        "{}",
        done.text
    );
}

#[tokio::test]
async fn job_timeout_stops_run_exec_and_cleanup_still_runs() {
    let world = World::new();
    let term_file = world.path().join("term");
    let config = CustomConfig {
        run_exec: world.driver(
            "run",
            &format!(
                "trap 'echo term > {}; exit 1' TERM\nbash \"${{@: -2:1}}\" & wait",
                term_file.display()
            ),
        ),
        ..world.config()
    };
    let job = world
        .job()
        .script(["sleep 1000"])
        .timeout(Duration::from_secs(2))
        .build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "job_execution_timeout", "{}", done.text);
    assert!(
        done.last_line()
            .starts_with("ERROR: Job failed: execution took longer than")
    );
    assert!(term_file.exists(), "the driver got SIGTERM");
    assert_eq!(world.calls().last().map(String::as_str), Some("cleanup "));
    assert_eq!(world.leftover_temp_dirs(), 0);
}

#[tokio::test]
async fn abort_during_run_exec_kills_the_group_and_runs_cleanup() {
    let world = World::new();
    let pid_file = world.path().join("script-sleep.pid");
    let job = world
        .job()
        .script([format!(
            "sleep 1000 & echo $! > {}; wait",
            pid_file.display()
        )])
        .after_script(["echo after-script-ran"])
        .build();
    let abort = CancellationToken::new();
    let executor = world.executor(&world.config());
    let running = {
        let abort = abort.clone();
        async move {
            let pid = read_pid(&pid_file).await;
            abort.cancel();
            pid
        }
    };
    let (done, pid) = tokio::join!(
        world.run_with(&executor, job, Cancellation::abort_only(abort.clone())),
        running
    );
    assert_eq!(done.reason(), "job_canceled", "{}", done.text);
    assert_eq!(done.last_line(), "ERROR: Job failed: canceled");
    assert!(!done.text.contains("after-script-ran"));
    assert!(
        dies(pid).await,
        "sleep {pid} in the driver's group survived"
    );
    assert_eq!(world.calls().last().map(String::as_str), Some("cleanup "));
}

#[tokio::test]
async fn abort_during_prepare_exec_still_runs_cleanup_exec() {
    let world = World::new();
    let started = world.path().join("prepare-started");
    let config = CustomConfig {
        prepare_exec: world.driver(
            "prepare",
            &format!("touch {}; sleep 1000 & wait", started.display()),
        ),
        ..world.config()
    };
    let abort = CancellationToken::new();
    let executor = world.executor(&config);
    let cancel_when_started = {
        let abort = abort.clone();
        let started = started.clone();
        async move {
            wait_for_file(&started).await;
            abort.cancel();
        }
    };
    let (done, ()) = tokio::join!(
        world.run_with(
            &executor,
            world.job().script(["true"]).build(),
            Cancellation::abort_only(abort.clone())
        ),
        cancel_when_started
    );
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed: canceled",
        "{}",
        done.text
    );
    executor.wait_for_background_cleanups().await;
    assert_eq!(world.calls(), ["prepare ", "cleanup "]);
    assert_eq!(world.leftover_temp_dirs(), 0);
}

#[tokio::test]
async fn background_processes_of_a_stage_do_not_hang_the_job() {
    let world = World::new();
    let pid_file = world.path().join("bg.pid");
    // The background sleep keeps the driver's stdout open after the script ends.
    let job = world
        .job()
        .script([
            format!("sleep 1000 & echo $! > {}", pid_file.display()),
            "echo script-done".to_owned(),
        ])
        .build();
    let done = world.run(&world.config(), job).await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert!(done.text.contains("script-done"));
    let pid = read_pid(&pid_file).await;
    assert!(dies(pid).await, "the leftover {pid} was killed");
}
