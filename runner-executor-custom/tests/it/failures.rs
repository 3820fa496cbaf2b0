//! Exit codes and the failure mapping (upstream-details.md §1.7), preparation retries
//! (§1.10) and configuration errors (§1.1), with test vectors of §1.11.

use runner_config::CustomConfig;

use crate::support::World;

/// A `run_exec` that runs `body` instead of the script during the user's step.
fn run_failing_in_build_script(world: &World, body: &str) -> String {
    world.driver(
        "run",
        &format!(
            "if [ \"${{@: -1}}\" = build_script ]; then {body}; fi\nexec bash \"${{@: -2:1}}\""
        ),
    )
}

#[tokio::test]
async fn build_failure_with_exit_code_file_is_a_script_failure_with_that_code() {
    // Test vector 4.
    let world = World::new();
    let config = CustomConfig {
        run_exec: run_failing_in_build_script(
            &world,
            "echo 3 > \"$BUILD_EXIT_CODE_FILE\"; exit \"$BUILD_FAILURE_EXIT_CODE\"",
        ),
        ..world.config()
    };
    let job = world
        .job()
        .script(["true"])
        .after_script(["echo after-script-ran"])
        .build();
    let done = world.run(&config, job).await;
    assert_eq!(done.reason(), "script_failure", "{}", done.text);
    assert_eq!(done.exit_code(), Some(3));
    assert_eq!(done.last_line(), "ERROR: Job failed: exit status 3");
    assert!(done.text.contains("after-script-ran"), "{}", done.text);
    assert_eq!(world.calls().last().map(String::as_str), Some("cleanup "));
}

#[tokio::test]
async fn build_failure_without_a_file_is_exit_status_1() {
    let world = World::new();
    let config = CustomConfig {
        run_exec: run_failing_in_build_script(&world, "exit 1"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(done.reason(), "script_failure");
    assert_eq!(done.exit_code(), Some(1));
    assert_eq!(done.last_line(), "ERROR: Job failed: exit status 1");
}

#[tokio::test]
async fn a_script_exit_code_reaches_the_job_through_a_host_driver() {
    let world = World::new();
    let config = CustomConfig {
        // A real driver's translation: the script's status becomes BUILD_EXIT_CODE_FILE.
        run_exec: world.driver(
            "run",
            "bash \"${@: -2:1}\" || { echo $? > \"$BUILD_EXIT_CODE_FILE\"; exit \"$BUILD_FAILURE_EXIT_CODE\"; }",
        ),
        ..world.config()
    };
    let done = world
        .run(
            &config,
            world.job().script(["echo before", "exit 42"]).build(),
        )
        .await;
    assert_eq!(done.exit_code(), Some(42), "{}", done.text);
    assert_eq!(done.last_line(), "ERROR: Job failed: exit status 42");
}

#[tokio::test]
async fn system_failure_exit_code_is_a_runner_system_failure() {
    let world = World::new();
    let config = CustomConfig {
        run_exec: run_failing_in_build_script(&world, "exit \"$SYSTEM_FAILURE_EXIT_CODE\""),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(done.reason(), "runner_system_failure", "{}", done.text);
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed (system failure): exit status 2"
    );
    assert_eq!(world.calls().last().map(String::as_str), Some("cleanup "));
}

#[tokio::test]
async fn any_other_exit_code_is_an_unknown_exit_code_system_failure() {
    // Test vector 6.
    let world = World::new();
    let config = CustomConfig {
        run_exec: run_failing_in_build_script(&world, "exit 7"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(done.reason(), "runner_system_failure");
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed (system failure): unknown Custom executor executable exit code 7; executable execution terminated with: exit status 7"
    );
}

#[tokio::test]
async fn prepare_system_failures_are_retried_three_times_with_cleanup_each_time() {
    // Test vector 5.
    let world = World::new();
    let config = CustomConfig {
        prepare_exec: world.driver("prepare", "exit 2"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(
        done.count("ERROR: Preparation failed: exit status 2"),
        3,
        "{}",
        done.text
    );
    assert_eq!(
        done.count("Will be retried in 10ms ..."),
        3,
        "{}",
        done.text
    );
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed (system failure): exit status 2"
    );
    assert_eq!(
        world.calls(),
        [
            "prepare ", "cleanup ", "prepare ", "cleanup ", "prepare ", "cleanup "
        ]
    );
    assert_eq!(world.leftover_temp_dirs(), 0);
}

#[tokio::test]
async fn a_crashing_prepare_is_retried_and_may_succeed() {
    let world = World::new();
    let attempts = world.path().join("attempts");
    let config = CustomConfig {
        // Crashes (killed by a signal) on the first attempt only.
        prepare_exec: world.driver(
            "prepare",
            &format!(
                "if [ ! -e {0} ]; then touch {0}; kill -SEGV $$; fi",
                attempts.display()
            ),
        ),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["echo second-try"]).build())
        .await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert!(
        done.text.contains("ERROR: Preparation failed: unknown Custom executor executable exit code -1; executable execution terminated with: signal: segmentation fault"),
        "{}",
        done.text
    );
    assert_eq!(done.count("Preparation failed"), 1);
}

#[tokio::test]
async fn a_build_failure_in_prepare_is_not_retried() {
    let world = World::new();
    let config = CustomConfig {
        prepare_exec: world.driver("prepare", "exit 1"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(done.reason(), "script_failure", "{}", done.text);
    assert_eq!(done.last_line(), "ERROR: Job failed: exit status 1");
    assert_eq!(done.count("Preparation failed"), 0);
    assert_eq!(world.calls(), ["prepare ", "cleanup "]);
}

#[tokio::test]
async fn invalid_config_exec_output_is_retried() {
    // Test vector 7 (the decoder's words are serde's, not Go's).
    let world = World::new();
    let config = CustomConfig {
        config_exec: world.driver("config", "echo not json"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(
        done.count("ERROR: Preparation failed: error while parsing JSON output: "),
        3,
        "{}",
        done.text
    );
    assert_eq!(done.reason(), "runner_system_failure");
    assert_eq!(world.calls().iter().filter(|c| *c == "cleanup ").count(), 3);
}

#[tokio::test]
async fn without_a_builds_dir_the_job_fails_with_a_configuration_error() {
    let world = World::new();
    let job = world
        .job()
        .script(["true"])
        .runner(|runner| runner.builds_dir = None)
        .build();
    let done = world.run(&world.config(), job).await;
    assert_eq!(
        done.outcome.failure().map(|f| f.reason),
        Some(runner_executor::FailureReason::RunnerConfigurationError)
    );
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed: the builds_dir is not configured"
    );
    assert_eq!(world.calls(), ["cleanup "], "no retry, cleanup ran");
}

#[tokio::test]
async fn missing_section_and_missing_run_exec_are_configuration_errors() {
    let world = World::new();
    let executor = runner_executor_custom::CustomExecutor::new(None, world.path().join("tmp"));
    let done = world
        .run_with(
            &executor,
            world.job().script(["true"]).build(),
            runner_executor::Cancellation::default(),
        )
        .await;
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed: custom executor not configured"
    );
    let config = CustomConfig {
        run_exec: String::new(),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed: custom executor is missing RunExec"
    );
}

#[tokio::test]
async fn an_unknown_shell_is_a_system_failure() {
    let world = World::new();
    let job = world
        .job()
        .script(["true"])
        .runner(|runner| runner.shell = "fish".to_owned())
        .build();
    let done = world.run(&world.config(), job).await;
    assert_eq!(
        done.count("ERROR: Preparation failed: shell fish not found"),
        3,
        "{}",
        done.text
    );
    assert_eq!(
        done.last_line(),
        "ERROR: Job failed (system failure): shell fish not found"
    );
}

#[tokio::test]
async fn a_failing_cleanup_is_a_warning_only() {
    let world = World::new();
    let config = CustomConfig {
        cleanup_exec: world.driver("cleanup", "echo cleanup-stderr >&2; exit 2"),
        ..world.config()
    };
    let done = world
        .run(&config, world.job().script(["true"]).build())
        .await;
    assert_eq!(done.reason(), "success", "{}", done.text);
    assert!(
        done.text
            .contains("WARNING: Cleanup script failed: exit status 2"),
        "{}",
        done.text
    );
    assert!(
        !done.text.contains("cleanup-stderr"),
        "cleanup output goes to the runner's log"
    );
}
