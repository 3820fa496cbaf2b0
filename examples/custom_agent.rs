//! A custom agent in about fifty lines: poll a coordinator with `runner-api`, run each job
//! with `runner-executor-shell`, stream its log back, report how it ended.
//!
//! `cargo run -p runner-examples --example custom_agent -- <GITLAB_URL> <RUNNER_TOKEN>`
//! polls a real GitLab. Without arguments it starts the fake coordinator of `runner-api`
//! on loopback with one demo job, so it runs anywhere.

#![expect(
    clippy::print_stdout,
    reason = "an example program shows the job log on stdout"
)]

use runner_api::{
    ClientBuilder, CommitOutcome, Features, JobRequest, JobRequestOutcome, JobResult, JobTrace,
};
use runner_api::{RunnerInfo, Token, TraceOptions};
use runner_executor::{Executor, JobSpec, TraceWriter, Variable};
use runner_executor_shell::ShellExecutor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fake = runner_api::fake::FakeCoordinator::start().await?;
    let (url, token) = match args.as_slice() {
        [url, token] => (url.clone(), token.clone()),
        _ => {
            let script = [
                "echo \"hello from $(uname -s) in $CI_PROJECT_DIR\"",
                "echo secret is $SECRET",
            ];
            fake.enqueue_job(
                serde_json::json!({"steps": [{"name": "script", "script": script}],
                "variables": [{"key": "GIT_STRATEGY", "value": "none"},
                              {"key": "SECRET", "value": "hunter22", "masked": true}]}),
            );
            (fake.url(), fake.runner_token())
        }
    };
    let client = ClientBuilder::new(url).build()?;
    let info = RunnerInfo::new(
        "shell",
        "bash",
        Features {
            variables: true,
            masking: true,
            ..Features::network_client()
        },
    );
    let request = JobRequest {
        info: info.clone(),
        token: Token::new(token),
        system_id: "s_0123456789ab".into(),
        last_update: None,
        session: None,
    };
    let JobRequestOutcome::Job(job) = client.request_job(request).await? else {
        eprintln!("no job waiting");
        return Ok(());
    };
    if client.commit_job(job.id, &job.token, &info).await != CommitOutcome::Run {
        return Ok(());
    }
    // The smallest mapping of a coordinator job into the executor's model.
    let mut builder = JobSpec::builder(i64::try_from(job.id)?, job.token.expose()).script(
        job.steps
            .iter()
            .filter(|step| step.name == "script")
            .flat_map(|step| step.script.clone()),
    );
    for variable in &job.variables {
        let value = variable.value.expose();
        builder = builder.variable(if variable.masked {
            Variable::masked(&variable.key, value)
        } else {
            Variable::new(&variable.key, value)
        });
    }
    let spec = builder
        .builds_dir(
            std::env::temp_dir()
                .join("custom-agent-builds")
                .to_string_lossy(),
        )
        .build();
    let (output, log) = tokio::sync::mpsc::channel(64);
    let trace = JobTrace::start(client.clone(), &job, info, log, TraceOptions::default());
    let writer = TraceWriter::builder(output).job(&spec).build();
    let outcome = ShellExecutor::new(std::env::temp_dir())
        .run(spec, writer, trace.abort_token())
        .await?;
    let result = match outcome.failure() {
        None => JobResult::success(),
        Some(failure) => JobResult::failed(failure.reason.as_str(), failure.exit_code),
    };
    trace.finish(result).await?;
    if let Some(record) = fake.job(job.id) {
        print!("{}", String::from_utf8_lossy(&record.trace));
    }
    Ok(())
}
