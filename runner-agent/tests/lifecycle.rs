//! The job lifecycle in process: an `Agent` against `runner_api::fake` on loopback, running
//! real shell jobs. Request → commit → trace → final update; a cancel from the coordinator; an
//! abort; a drain; a reload with a job in flight; a payload that does not decode; and each
//! failure reason reaching its `failure_reason` metric label.
//!
//! Real time, not tokio's paused clock: the jobs are real `bash` processes, and a paused clock
//! would jump every timer (job timeouts included) while the runtime waits on them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use runner_agent::{Agent, Shutdown};
use runner_api::fake::{FakeConfig, FakeCoordinator, JobRecord};
use runner_config::{Config, Executor, RunnerConfig, Secret};
use runner_metrics::{BuildInfo, Format, Metrics, Registry};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A job of project 42 that runs `script` without fetching sources.
fn job(script: &[&str]) -> Value {
    json!({
        "job_info": {"name": "agent", "stage": "test", "project_id": 42, "project_full_path": "group/project"},
        "git_info": {"repo_url": "http://127.0.0.1:9/none.git", "ref": "main", "sha": "0000000000000000000000000000000000000000", "ref_type": "branch"},
        "runner_info": {"timeout": 3600},
        "variables": [{"key": "GIT_STRATEGY", "value": "none", "public": true}],
        "steps": [{"name": "script", "script": script, "timeout": 3600, "when": "on_success", "allow_failure": false}],
        "features": {"trace_sections": true, "failure_reasons": ["script_failure", "runner_system_failure",
            "job_execution_timeout", "unknown_failure", "runner_interrupted", "job_canceled",
            "runner_configuration_error"]}
    })
}

fn runner(fake: &FakeCoordinator, builds: &Path) -> RunnerConfig {
    RunnerConfig {
        name: "agent-test".to_owned(),
        url: fake.url(),
        token: Secret::new(fake.runner_token()),
        executor: Some(Executor::Shell),
        builds_dir: builds.join("builds").display().to_string(),
        ..RunnerConfig::default()
    }
}

fn config(fake: &FakeCoordinator, builds: &Path) -> Config {
    Config {
        concurrent: 4,
        check_interval: 1,
        runners: vec![runner(fake, builds)],
        ..Config::default()
    }
}

/// An agent running on its own task, with its metrics registry.
struct Running {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), runner_agent::AgentError>>,
    registry: Arc<Registry>,
    reload: Arc<tokio::sync::Notify>,
}

fn start(config: Config, reload_from: Option<PathBuf>, temp: &Path) -> Running {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry, BuildInfo::new("test"));
    let mut builder = Agent::builder(config)
        .metrics(metrics)
        .system_id("s_0123456789ab")
        .trace_dir(temp);
    if let Some(path) = reload_from {
        builder = builder.reload_from(path);
    }
    let agent = builder.build();
    let reload = agent.reload_handle();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(agent.run(shutdown.clone()));
    Running {
        shutdown,
        task,
        registry: Arc::new(registry),
        reload,
    }
}

impl Running {
    async fn stop(self) -> String {
        self.shutdown.stop("quit");
        let result = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the agent stops")
            .expect("the agent task does not panic");
        assert!(result.is_ok(), "{result:?}");
        runner_metrics::encode(&self.registry, Format::Prometheus).expect("metrics encode")
    }
}

async fn final_state(fake: &FakeCoordinator, id: u64) -> JobRecord {
    fake.wait_for_job_final_state(id, WAIT)
        .await
        .unwrap_or_else(|| panic!("job {id} got no final update"))
}

/// Waits until the job's log contains `text` (the script is running).
async fn wait_for_log(fake: &FakeCoordinator, id: u64, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(record) = fake.job(id)
            && String::from_utf8_lossy(&record.trace).contains(text)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} never printed {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn trace(record: &JobRecord) -> String {
    String::from_utf8_lossy(&record.trace).into_owned()
}

fn failed_total(metrics: &str, reason: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("gitlab_runner_failed_jobs_total{"))
        .filter(|line| line.contains(&format!("failure_reason=\"{reason}\"")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_goes_from_request_to_its_final_update() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(job(&["echo hello from the agent"]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    let metrics = agent.stop().await;

    assert_eq!(record.updates[0].state, "running", "committed first");
    let last = record.last_update().expect("final update");
    assert_eq!(last.state, "success");
    assert_eq!(last.bytesize, Some(record.trace.len() as u64));
    assert!(last.checksum.is_some(), "{last:?}");
    assert!(trace(&record).contains("hello from the agent"));
    assert!(
        metrics.contains("gitlab_runner_jobs_total{"),
        "the job is counted: {metrics}"
    );
    assert_eq!(failed_total(&metrics, "script_failure"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_script_is_a_script_failure_in_the_update_and_the_metric() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(job(&["exit 3"]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    let metrics = agent.stop().await;

    let last = record.last_update().expect("final update");
    assert_eq!(last.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(last.exit_code, Some(3));
    assert_eq!(failed_total(&metrics, "script_failure"), 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_the_coordinator_stops_the_job_and_counts_as_job_canceled() {
    let temp = tempfile::tempdir().expect("tempdir");
    // The runner learns of the cancel from the answer to its next trace update.
    let fake = FakeCoordinator::start_with(FakeConfig {
        update_interval: Some(1),
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    // Output keeps the trace updates (and their `Job-Status` answers) coming.
    let id = fake.enqueue_job(job(&[
        "echo started",
        "for i in $(seq 600); do echo tick; sleep 0.1; done",
    ]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    wait_for_log(&fake, id, "started").await;
    fake.request_cancel(id);
    let record = final_state(&fake, id).await;
    let metrics = agent.stop().await;

    assert_eq!(record.final_state.as_deref(), Some("failed"));
    assert_eq!(failed_total(&metrics, "job_canceled"), 1.0, "{metrics}");
    assert_eq!(failed_total(&metrics, "unknown_failure"), 0.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_interrupts_running_jobs_which_are_still_reported() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(job(&["echo started", "sleep 60"]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    wait_for_log(&fake, id, "started").await;
    agent.shutdown.abort("terminated");
    let record = final_state(&fake, id).await;
    let metrics = agent.stop().await;

    let last = record.last_update().expect("final update");
    assert_eq!(last.failure_reason.as_deref(), Some("runner_interrupted"));
    assert!(trace(&record).contains("terminated"), "{}", trace(&record));
    assert_eq!(
        failed_total(&metrics, "runner_interrupted"),
        1.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_drains_running_jobs_and_takes_no_new_ones() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(job(&["echo started", "sleep 2", "echo finished"]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    wait_for_log(&fake, id, "started").await;
    agent.shutdown.stop("quit");
    let later = fake.enqueue_job(job(&["echo too late"]));
    // `stop` returns only once the running job has finished.
    agent.stop().await;

    let record = fake.job(id).expect("job");
    assert_eq!(record.final_state.as_deref(), Some("success"));
    assert!(trace(&record).contains("finished"));
    let untouched = fake.job(later).expect("job");
    assert!(untouched.updates.is_empty(), "a stopped agent took a job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_job_in_flight_and_applies_to_the_next() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let path = temp.path().join("config.toml");
    let write = |environment: &str| {
        let text = format!(
            "concurrent = 4\ncheck_interval = 1\n\n[[runners]]\n  name = \"agent-test\"\n  url = \"{}\"\n  token = \"{}\"\n  executor = \"shell\"\n  builds_dir = \"{}\"\n  environment = [{environment}]\n",
            fake.url(),
            fake.runner_token(),
            temp.path().join("builds").display()
        );
        std::fs::write(&path, text).expect("write config");
    };
    write("\"GENERATION=first\"");
    let loaded = runner_config::load(&path).expect("config loads");
    let first = fake.enqueue_job(job(&[
        "echo \"started $GENERATION\"",
        "sleep 2",
        "echo \"finished $GENERATION\"",
    ]));
    let agent = start(loaded.config, Some(path.clone()), temp.path());

    wait_for_log(&fake, first, "started first").await;
    write("\"GENERATION=second\"");
    agent.reload.notify_one();
    let first = final_state(&fake, first).await;
    let second = fake.enqueue_job(job(&["echo \"now $GENERATION\""]));
    let second = final_state(&fake, second).await;
    agent.stop().await;

    assert_eq!(first.final_state.as_deref(), Some("success"));
    assert!(
        trace(&first).contains("finished first"),
        "{}",
        trace(&first)
    );
    assert!(trace(&second).contains("now second"), "{}", trace(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_does_not_decode_is_failed_with_what_and_where() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let mut payload = job(&["echo never"]);
    payload["variables"][0]["masked"] = json!("not-a-boolean");
    let id = fake.enqueue_job(payload);
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    agent.stop().await;

    assert_eq!(record.final_state.as_deref(), Some("failed"));
    let log = trace(&record);
    assert!(log.contains("variables[0].masked"), "{log}");
    assert!(!log.contains("not-a-boolean"), "no payload value: {log}");
    assert!(!log.contains("never\n"), "nothing ran: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_job_counts_as_a_configuration_error() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let mut payload = job(&[]);
    payload["suspend_options"] = json!({"suspend_on_success": true});
    let id = fake.enqueue_job(payload);
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    let metrics = agent.stop().await;

    let last = record.last_update().expect("final update");
    assert_eq!(
        last.failure_reason.as_deref(),
        Some("runner_configuration_error")
    );
    assert_eq!(
        failed_total(&metrics, "runner_configuration_error"),
        1.0,
        "{metrics}"
    );
}

/// A job whose `secrets:` read `kv/ops/db` from `vault` with the job's id token: `DB_PASSWORD`
/// as a file-type variable (upstream's default) and `DB_USER` as a plain one.
fn vault_job(vault_url: &str, script: &[&str]) -> Value {
    let secret = |field: &str, file: bool| {
        json!({"vault": {
            "server": {"url": vault_url, "auth": {"name": "jwt", "path": "jwt",
                "data": {"jwt": "$VAULT_ID_TOKEN", "role": "ci"}}},
            "engine": {"name": "kv-v2", "path": "kv"}, "path": "ops/db", "field": field},
            "file": file})
    };
    let mut payload = job(script);
    payload["secrets"] =
        json!({"DB_PASSWORD": secret("password", true), "DB_USER": secret("user", false)});
    payload["variables"]
        .as_array_mut()
        .expect("variables")
        .push(json!({"key": "VAULT_ID_TOKEN", "value": "canary-id-token", "public": false, "masked": true}));
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_secrets_reach_the_job_as_a_file_and_a_variable_and_are_masked() {
    let temp = tempfile::tempdir().expect("tempdir");
    let vault = runner_secrets::fake::FakeVault::start()
        .await
        .expect("vault");
    vault.allow_login("jwt", "ci", "canary-id-token");
    vault.put_kv2(
        "kv",
        "ops/db",
        json!({"password": "canary-db-password", "user": "canary-db-user"}),
    );
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(vault_job(
        &vault.url(),
        &[
            "echo \"password file: $(cat \"$DB_PASSWORD\")\"",
            "echo \"user: $DB_USER\"",
            "test -f \"$DB_PASSWORD\" && echo password-is-a-file",
        ],
    ));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    agent.stop().await;

    let log = trace(&record);
    assert_eq!(record.final_state.as_deref(), Some("success"), "{log}");
    assert!(log.contains("Resolving secrets"), "{log}");
    // Upstream's order: the header once, then the secrets, then the executor.
    let header = log.find("Running with gitlab-runner-rs").expect("header");
    let secrets = log.find("Resolving secrets").expect("secrets section");
    let prepare = log
        .find("Preparing the \"shell\" executor")
        .expect("prepare");
    assert!(header < secrets && secrets < prepare, "{log}");
    assert_eq!(
        log.matches("Running with gitlab-runner-rs").count(),
        1,
        "{log}"
    );
    assert!(log.contains("Resolving secret \"DB_PASSWORD\"..."), "{log}");
    assert!(log.contains("Using \"vault\" secret resolver..."), "{log}");
    assert!(log.contains("password file: [MASKED]"), "{log}");
    assert!(log.contains("user: [MASKED]"), "{log}");
    assert!(log.contains("password-is-a-file"), "{log}");
    for canary in ["canary-db-password", "canary-db-user", "canary-id-token"] {
        assert!(!log.contains(canary), "{canary} in the log: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_vault_secret_fails_the_job_before_its_script() {
    let temp = tempfile::tempdir().expect("tempdir");
    let vault = runner_secrets::fake::FakeVault::start()
        .await
        .expect("vault");
    vault.allow_login("jwt", "ci", "canary-id-token");
    vault.put_kv2("kv", "ops/db", json!({"user": "canary-db-user"}));
    let fake = FakeCoordinator::start().await.expect("fake");
    let id = fake.enqueue_job(vault_job(&vault.url(), &["echo SCRIPT-RAN"]));
    let agent = start(config(&fake, temp.path()), None, temp.path());

    let record = final_state(&fake, id).await;
    agent.stop().await;

    let log = trace(&record);
    assert_eq!(record.final_state.as_deref(), Some("failed"), "{log}");
    assert!(
        log.contains(
            "ERROR: Job failed (system failure): resolving secrets: secret not found: DB_PASSWORD"
        ),
        "{log}"
    );
    assert!(!log.contains("SCRIPT-RAN"), "{log}");
    assert_eq!(
        record
            .last_update()
            .and_then(|u| u.failure_reason.as_deref()),
        Some("runner_system_failure")
    );
}

/// Issue #16: a token that is three quarters through its life is rotated through the
/// coordinator, saved into `config.toml` with its comments kept, and polling carries on with
/// the new one; jobs taken before and after both finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_rotated_saved_and_used_without_dropping_jobs() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let path = temp.path().join("config.toml");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let toml_time = |unix: u64| {
        runner_config::Timestamp::from_unix(i64::try_from(unix).expect("time"), 0).to_string()
    };
    std::fs::write(
        &path,
        format!(
            "# the runners of this host\nconcurrent = 2\ncheck_interval = 1\n\n[[runners]]\n  # keep this comment\n  name = \"rotating\"\n  url = \"{}\"\n  token = \"{}\"\n  token_obtained_at = {}\n  token_expires_at = {}\n  executor = \"shell\"\n  builds_dir = \"{}\"\n",
            fake.url(),
            fake.runner_token(),
            toml_time(now - 10 * 86_400),
            toml_time(now + 86_400),
            temp.path().join("builds").display()
        ),
    )
    .expect("write config");
    let old_token = fake.runner_token();
    let before = fake.enqueue_job(job(&["echo before", "sleep 1", "echo before-done"]));
    let loaded = runner_config::load(&path).expect("config loads");
    let agent = start(loaded.config, Some(path.clone()), temp.path());

    let before = final_state(&fake, before).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let text = loop {
        let text = std::fs::read_to_string(&path).expect("config");
        if text.contains("glrt-fake-rotated-1") {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token was never rotated: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let after = fake.enqueue_job(job(&["echo after"]));
    let after = final_state(&fake, after).await;
    agent.stop().await;

    assert_eq!(before.final_state.as_deref(), Some("success"));
    assert_eq!(
        after.final_state.as_deref(),
        Some("success"),
        "{}",
        trace(&after)
    );
    assert!(text.contains("# the runners of this host\n"), "{text}");
    assert!(text.contains("  # keep this comment\n"), "{text}");
    assert!(!text.contains(&old_token), "the old token is gone: {text}");
    // The coordinator answered `token_expires_at: null`: never again.
    assert!(
        text.contains("token_expires_at = 0001-01-01T00:00:00Z"),
        "{text}"
    );
    assert_eq!(
        fake.request_count(runner_api::fake::Endpoint::ResetToken),
        1,
        "rotated once"
    );
}

/// `run-single --max-builds 1` with two jobs waiting: the agent takes one, stops by itself,
/// and never asks for the second (the poller stops at the bound, not only the agent's check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_agent_takes_no_more_than_its_build_limit() {
    let temp = tempfile::tempdir().expect("tempdir");
    let fake = FakeCoordinator::start().await.expect("fake");
    let first = fake.enqueue_job(job(&["echo first"]));
    let second = fake.enqueue_job(job(&["echo second"]));
    let agent = Agent::builder(config(&fake, temp.path()))
        .single(1, None)
        .trace_dir(temp.path())
        .build();
    let result = tokio::time::timeout(WAIT, agent.run(Shutdown::new()))
        .await
        .expect("a single agent stops after its build limit");
    assert!(result.is_ok(), "{result:?}");

    let first = fake.job(first).expect("job");
    assert_eq!(first.final_state.as_deref(), Some("success"));
    let second = fake.job(second).expect("job");
    assert!(second.updates.is_empty(), "the second job was taken");
}
