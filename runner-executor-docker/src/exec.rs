//! Stopping a stage: an `exec` of a kill script, the one thing a stage's own channel cannot do
//! while the stage's shell holds it.

use std::time::Duration;

use bollard::exec::CreateExecOptions;

use crate::engine::Engine;

/// SIGTERM to every process of the container except PID 1 (the main shell) and itself.
const KILL_SCRIPT: &str = "for d in /proc/[0-9]*; do p=${d#/proc/}; [ \"$p\" = 1 ] || [ \"$p\" = $$ ] || kill -TERM \"$p\" 2>/dev/null; done";

/// Sends SIGTERM to the stage's processes; best effort, bounded.
pub(crate) async fn terminate_processes(engine: &Engine, container: &str) {
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
