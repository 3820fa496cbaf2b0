//! Jobs through `run` on the shell executor (executors.md §9 conformance scenarios).

use std::time::Duration;

use runner_e2e::{JobBuilder, Workspace};

use crate::{final_record, start_runner, trace_text};

async fn workspace() -> Workspace {
    Workspace::start(Duration::from_secs(2)).await
}

#[tokio::test]
async fn successful_job_reports_success_with_its_output_and_checksum() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo hello-from-the-job"]).build());
    let mut runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    assert_eq!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&record)
    );
    let trace = trace_text(&record);
    assert!(trace.contains("hello-from-the-job"), "{trace}");
    assert!(trace.contains("Job succeeded"), "{trace}");
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.checksum.as_deref(),
        Some(runner_api::trace_checksum(&record.trace).as_str())
    );
    assert_eq!(update.bytesize, Some(record.trace.len() as u64));
    assert!(
        record.updates.iter().any(|u| u.state == "running"),
        "the job was committed first"
    );
    runner.signal(nix::sys::signal::Signal::SIGQUIT);
    assert!(
        runner
            .wait(Duration::from_secs(30))
            .await
            .is_some_and(|status| status.success())
    );
}

#[tokio::test]
async fn exit_code_3_fails_with_script_failure_and_exit_code() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo before", "exit 3", "echo never"]).build());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed");
    assert_eq!(update.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(update.exit_code, Some(3));
    let trace = trace_text(&record);
    // The shell executor's wording (executors.md §1.8); Docker says `exit code 3`.
    assert!(
        trace.contains("ERROR: Job failed: exit status 3"),
        "{trace}"
    );
    assert!(!trace.contains("\nnever"), "{trace}");
}

#[tokio::test]
async fn after_script_runs_after_a_failure_and_does_not_change_the_result() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job = JobBuilder::script_only(&["false"])
        .after_script(&["echo cleaning-up", "exit 7"])
        .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert!(trace.contains("cleaning-up"), "{trace}");
    let update = record.last_update().expect("a final update");
    assert_eq!(update.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(update.exit_code, Some(1));
}

#[tokio::test]
async fn masked_values_and_token_prefixes_never_reach_the_trace_even_split_across_writes() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let secret = "s3cr3t-Value-4242";
    let job = JobBuilder::script_only(&[
        "echo \"plain: $MY_SECRET\"",
        // The secret leaves bash in two writes with a pause between them; the command line
        // itself only names the variable, so any half in the trace came from the output.
        "printf \"split: ${MY_SECRET:0:9}\"; sleep 0.3; printf \"${MY_SECRET:9}\\n\"",
        "echo 'pat: glpat-AbCdEfGhIjKlMnOpQrSt'",
    ])
    .masked_variable("MY_SECRET", secret)
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(!trace.contains(secret), "{trace}");
    assert!(
        !trace.contains("s3cr3t-Va"),
        "the first half of a split secret leaked: {trace}"
    );
    assert!(!trace.contains("AbCdEfGhIjKlMnOpQrSt"), "{trace}");
    assert!(trace.contains("plain: [MASKED]"), "{trace}");
    assert!(trace.contains("split: [MASKED]"), "{trace}");
    assert!(
        !runner.log().contains(secret),
        "the runner's own log leaked the secret"
    );
    assert!(
        !runner.log().contains(&workspace.coordinator.runner_token()),
        "the runner's log leaked its token"
    );
}

#[tokio::test]
async fn job_timeout_fails_with_job_execution_timeout() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["sleep 600"]).timeout(2).build());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let update = record.last_update().expect("a final update");
    assert_eq!(update.state, "failed");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("job_execution_timeout"),
        "{}",
        trace_text(&record)
    );
}

#[tokio::test]
async fn canceling_mid_script_stops_the_job_and_reports_it() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let marker = workspace.path().join("still-running");
    let job = JobBuilder::script_only(&[
        "echo started",
        &format!("sleep 600; touch {}", marker.display()),
    ])
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    assert!(
        runner
            .wait_for_log("Added job to processing list", crate::JOB_WAIT)
            .await,
        "{}",
        runner.log()
    );
    // Wait until the script has produced output, then cancel from the coordinator side.
    let deadline = tokio::time::Instant::now() + crate::JOB_WAIT;
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
    assert!(!marker.exists());
}

#[tokio::test]
async fn git_strategy_clone_checks_out_the_commit_over_http() {
    let workspace = workspace().await;
    let sha = workspace.create_repo(
        "project",
        &[
            &[("README.md", "first\n")],
            &[("README.md", "second\n"), ("src/a.txt", "a\n")],
        ],
    );
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job = JobBuilder::new(
        &workspace.git.repo_url("project", "job-token-123"),
        &sha,
        &["cat README.md", "git rev-parse HEAD", "ls src"],
    )
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("second"), "{trace}");
    assert!(trace.contains(&sha), "{trace}");
    assert!(trace.contains("a.txt"), "{trace}");
    assert!(
        !trace.contains("job-token-123"),
        "the clone URL's credentials leaked: {trace}"
    );
}

#[tokio::test]
async fn git_depth_1_gives_a_shallow_clone() {
    let workspace = workspace().await;
    let sha = workspace.create_repo("shallow", &[&[("a", "1")], &[("a", "2")], &[("a", "3")]]);
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job = JobBuilder::new(
        &workspace.git.repo_url("shallow", "tok"),
        &sha,
        &["echo commits=$(git rev-list --count HEAD)"],
    )
    .depth(1)
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert!(trace.contains("commits=1"), "{trace}");
}

#[tokio::test]
async fn git_strategy_fetch_reuses_the_previous_checkout() {
    let workspace = workspace().await;
    let sha = workspace.create_repo("fetched", &[&[("a", "1")]]);
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let url = workspace.git.repo_url("fetched", "tok");
    let first = workspace.coordinator.enqueue_job(
        JobBuilder::new(&url, &sha, &["touch untracked-marker"])
            .allow_git_fetch()
            .build(),
    );
    let runner = start_runner(&workspace, &config);
    assert_eq!(
        final_record(&workspace, &runner, first)
            .await
            .final_state
            .as_deref(),
        Some("success")
    );
    let second = workspace.coordinator.enqueue_job(
        JobBuilder::new(&url, &sha, &["test -d .git && echo reused-git-dir"])
            .allow_git_fetch()
            .build(),
    );
    let record = final_record(&workspace, &runner, second).await;
    let trace = trace_text(&record);
    assert!(trace.contains("reused-git-dir"), "{trace}");
    assert!(trace.contains("Fetching changes"), "{trace}");
}

#[tokio::test]
async fn git_strategy_none_skips_sources() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo no-sources-needed"]).build());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("Skipping Git repository setup"), "{trace}");
}

#[tokio::test]
async fn a_background_process_holding_the_pipes_does_not_hang_the_job() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["sleep 1000 &", "echo left-it-running"]).build());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    assert_eq!(
        record.final_state.as_deref(),
        Some("success"),
        "{}",
        trace_text(&record)
    );
}

#[tokio::test]
async fn runner_environment_and_pre_build_script_reach_the_job() {
    let workspace = workspace().await;
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1",
        &["  environment = [\"FROM_CONFIG=config-value\"]\n  pre_build_script = \"echo pre-build-ran\""],
    );
    let job_id = workspace
        .coordinator
        .enqueue_job(JobBuilder::script_only(&["echo env=$FROM_CONFIG"]).build());
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert!(trace.contains("env=config-value"), "{trace}");
    assert!(trace.contains("pre-build-ran"), "{trace}");
}

#[tokio::test]
async fn predefined_variables_describe_the_job() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let job_id = workspace.coordinator.enqueue_job(
        JobBuilder::script_only(&[
            "echo \"dir=$CI_PROJECT_DIR server=$CI_SERVER concurrent=$CI_CONCURRENT_ID\"",
        ])
        .build(),
    );
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert!(trace.contains("server=yes"), "{trace}");
    assert!(
        trace.contains(&format!(
            "dir={}",
            workspace.path().join("builds").display()
        )),
        "{trace}"
    );
    assert!(trace.contains("concurrent=0"), "{trace}");
}

#[tokio::test]
async fn output_limit_truncates_the_trace_but_the_job_goes_on() {
    let workspace = workspace().await;
    let config = workspace.write_config(
        "concurrent = 1\ncheck_interval = 1",
        &["  output_limit = 1"],
    );
    let job = JobBuilder::script_only(&[
        "for i in $(seq 1 200); do echo line-$i-padding-padding-padding; done",
        "echo finished-ok > /dev/null",
    ])
    .build();
    let job_id = workspace.coordinator.enqueue_job(job);
    let runner = start_runner(&workspace, &config);
    let record = final_record(&workspace, &runner, job_id).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("Job's log exceeded limit"), "{trace}");
    assert!(!trace.contains("line-200-"), "{trace}");
    assert!(record.trace.len() < 4096, "{} bytes", record.trace.len());
}

/// Issue #16: a payload field that changes what a job does and that this runner does not
/// implement fails the job with a message naming it; the job never runs without it.
#[tokio::test]
async fn jobs_using_unimplemented_payload_fields_fail_with_a_message_instead_of_running() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut secrets = JobBuilder::script_only(&["echo SECRETS-JOB-RAN"]).build();
    secrets["secrets"] = serde_json::json!({"DATABASE_PASSWORD": {"vault": {
        "server": {"url": "http://127.0.0.1:9", "auth": {"name": "jwt", "path": "jwt",
            "data": {"jwt": "canary-vault-jwt"}}},
        "engine": {"name": "kv-v2", "path": "kv"}, "path": "ops/db", "field": "password"}}});
    let secrets_job = workspace.coordinator.enqueue_job(secrets);
    let mut inputs = JobBuilder::script_only(&["echo INPUTS-JOB-RAN"]).build();
    inputs["inputs"] = serde_json::json!([
        {"key": "environment", "value": {"type": "string", "content": "production"}}
    ]);
    let inputs_job = workspace.coordinator.enqueue_job(inputs);
    let mut opts = JobBuilder::script_only(&["echo OPTS-JOB-RAN"]).build();
    opts["image"] =
        serde_json::json!({"name": "alpine", "executor_opts": {"docker": {"blammo": "x"}}});
    let opts_job = workspace.coordinator.enqueue_job(opts);
    // A field that is honoured: the suspend key comes back in the final update.
    let mut plain = JobBuilder::script_only(&["echo PLAIN-JOB-RAN"]).build();
    plain["suspend_options"] = serde_json::json!({"runtime_environment_key": "env-key-1"});
    let plain_job = workspace.coordinator.enqueue_job(plain);
    let runner = start_runner(&workspace, &config);

    let record = final_record(&workspace, &runner, secrets_job).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    // Vault secrets are resolved now (tests in runner-agent): an unreachable Vault fails the
    // job before its script, with upstream's prefix and as a system failure.
    assert!(
        trace.contains("ERROR: Job failed (system failure): resolving secrets: "),
        "{trace}"
    );
    assert!(!trace.contains("SECRETS-JOB-RAN\n"), "{trace}");
    assert!(!trace.contains("canary-vault-jwt"), "{trace}");

    let record = final_record(&workspace, &runner, inputs_job).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    assert!(
        trace.contains("the job's `inputs:` (environment) are not supported"),
        "{trace}"
    );
    assert!(!trace.contains("INPUTS-JOB-RAN\n"), "{trace}");

    // Upstream's pick-up validation of executor_opts: raw line, system failure, exit code 3.
    let record = final_record(&workspace, &runner, opts_job).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(update.exit_code, Some(3));
    assert!(
        trace.contains(
            "Unsupported \"image\" options [blammo] for \"docker executor\"; supported options are [platform user]"
        ),
        "{trace}"
    );
    assert!(!trace.contains("OPTS-JOB-RAN\n"), "{trace}");
    // coordinator-api.md §13 vector 25: refused at pick-up, so never committed as running.
    assert!(
        !record
            .updates
            .iter()
            .any(|update| update.state == "running"),
        "{:?}",
        record.updates
    );

    let record = final_record(&workspace, &runner, plain_job).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{trace}");
    assert!(trace.contains("PLAIN-JOB-RAN\n"), "{trace}");
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.body["runtime_environment_key"], "env-key-1",
        "{}",
        update.body
    );
}

/// upstream-details.md §5: a job using GitLab's `run:` keyword (CI steps) must never pass
/// having run nothing; this runner has no step-runner, so it fails naming the keyword.
#[tokio::test]
async fn a_run_keyword_job_fails_with_a_message_instead_of_passing() {
    let workspace = workspace().await;
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let mut job = JobBuilder::script_only(&[]).build();
    job["steps"] = serde_json::json!([]);
    job["run"] = serde_json::json!(r#"[{"name":"hello","script":"echo hello world"}]"#);
    let steps_job = workspace.coordinator.enqueue_job(job);
    let mut both = JobBuilder::script_only(&["echo also-a-script"]).build();
    both["run"] = serde_json::json!(r#"[{"name":"hello","script":"echo hello"}]"#);
    let both_job = workspace.coordinator.enqueue_job(both);
    let runner = start_runner(&workspace, &config);

    let record = final_record(&workspace, &runner, steps_job).await;
    let trace = trace_text(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{trace}");
    assert!(
        trace.contains("the `run:` keyword (GitLab CI steps) is not supported"),
        "{trace}"
    );
    assert!(!trace.contains("hello world\n"), "{trace}");

    // Upstream's pick-up validation: raw line, system failure, exit code 3.
    let record = final_record(&workspace, &runner, both_job).await;
    let trace = trace_text(&record);
    let update = record.last_update().expect("a final update");
    assert_eq!(
        update.failure_reason.as_deref(),
        Some("runner_system_failure")
    );
    assert_eq!(update.exit_code, Some(3));
    assert!(
        trace.contains("the `run` and `script` keywords cannot be used together"),
        "{trace}"
    );
    assert!(!trace.contains("also-a-script\n"), "{trace}");
}
