//! Running one stage script inside a running container with `exec` (the script is written to
//! the exec's stdin, output is streamed into the trace, the exit code read with `inspect_exec`).

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use runner_executor::{CancellationToken, TraceWriter};
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, sleep, sleep_until};

use crate::containers::shell_command;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pull::daemon_message;

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecEnd {
    /// The shell exited with this code.
    Exited(i64),
    /// `stop` fired: the stage's processes were sent SIGTERM; the caller removes the container.
    Stopped,
}

/// SIGTERM to every process of the container except PID 1 (the keep-alive shell) and itself.
const KILL_SCRIPT: &str = "for d in /proc/[0-9]*; do p=${d#/proc/}; [ \"$p\" = 1 ] || [ \"$p\" = $$ ] || kill -TERM \"$p\" 2>/dev/null; done";

/// Runs `script` with the detected shell in `container`, streaming output into `trace`.
pub(crate) async fn run_script(
    engine: &Engine,
    container: &str,
    script: &[u8],
    trace: &mut TraceWriter,
    stop: &CancellationToken,
    grace: Duration,
) -> Result<ExecEnd> {
    let options = CreateExecOptions {
        cmd: Some(shell_command()),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        ..CreateExecOptions::default()
    };
    let created = engine
        .docker
        .create_exec(container, options)
        .await
        .map_err(|error| gone_or(container, &error))?;
    let started = engine
        .docker
        .start_exec(&created.id, None)
        .await
        .map_err(|error| gone_or(container, &error))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(api(
            "starting exec",
            container,
            "the engine detached the exec".to_owned(),
        ));
    };
    let script = script.to_vec();
    let writer = async move {
        input.write_all(&script).await?;
        input.flush().await?;
        input.shutdown().await
    };
    tokio::pin!(writer);
    let mut writing = true;
    let mut stop_deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled(), if stop_deadline.is_none() => {
                stop_deadline = Some(Instant::now() + grace);
                terminate_processes(engine, container).await;
            }
            () = sleep_until(stop_deadline.unwrap_or_else(Instant::now)), if stop_deadline.is_some() => {
                return Ok(ExecEnd::Stopped);
            }
            written = &mut writer, if writing => {
                writing = false;
                if let Err(error) = written {
                    // The shell may exit before reading all of its input (`exit 1` early).
                    tracing::debug!(%error, container, "writing the stage script stopped early");
                }
            }
            chunk = output.next() => match chunk {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message })) => {
                    trace.write(&message).await;
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(error)) => return Err(api("reading stage output", container, daemon_message(&error))),
                None => break,
            },
        }
    }
    trace.flush().await;
    if stop_deadline.is_some() {
        return Ok(ExecEnd::Stopped);
    }
    exit_code(engine, container, &created.id)
        .await
        .map(ExecEnd::Exited)
}

/// Waits for the engine to record the exec's exit code; it may lag the end of the output.
async fn exit_code(engine: &Engine, container: &str, exec_id: &str) -> Result<i64> {
    let mut delay = Duration::from_millis(2);
    for _ in 0..40 {
        let inspected = engine
            .docker
            .inspect_exec(exec_id)
            .await
            .map_err(|error| gone_or(container, &error))?;
        if inspected.running != Some(true)
            && let Some(code) = inspected.exit_code
        {
            return Ok(code);
        }
        sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    Err(api(
        "reading the stage's exit code",
        container,
        "the exec is still running after its output ended".to_owned(),
    ))
}

/// Sends SIGTERM to the stage's processes; best effort, bounded.
async fn terminate_processes(engine: &Engine, container: &str) {
    let options = CreateExecOptions {
        cmd: Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            KILL_SCRIPT.to_owned(),
        ]),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        ..CreateExecOptions::default()
    };
    let kill = async {
        let created = engine.docker.create_exec(container, options).await?;
        engine
            .docker
            .start_exec(
                &created.id,
                Some(bollard::exec::StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await
            .map(|_| ())
    };
    match tokio::time::timeout(Duration::from_secs(10), kill).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, container, "kill script failed"),
        Err(_) => tracing::debug!(container, "kill script timed out"),
    }
}

fn gone_or(container: &str, error: &bollard::errors::Error) -> Error {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        } => Error::ContainerGone {
            container: container.to_owned(),
        },
        other => api("running a stage", container, daemon_message(other)),
    }
}

fn api(operation: &str, container: &str, message: String) -> Error {
    Error::Api {
        operation: format!("{operation} in container {container}"),
        message,
        invalid_request: false,
    }
}
