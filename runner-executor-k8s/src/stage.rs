//! One stage in the running pod: the exec, raced against cancellation and a pod health check
//! every `poll_interval` (an evicted or deleted pod fails the job with upstream's words).

use runner_executor::{StageExit, TraceWriter};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::exec::ExecEnd;
use crate::executor::Session;
use crate::pod_status::check_pod;

/// Runs `script` in `container` of the session's pod.
pub(crate) async fn run(
    session: &Session,
    container: &str,
    script: &str,
    trace: &mut TraceWriter,
    stop: &CancellationToken,
) -> Result<StageExit> {
    let pods = session.pods().clone();
    let namespace = session.namespace().to_owned();
    let pod_name = session.pod_name().to_owned();
    let interval = session
        .settings()
        .poll_interval
        .max(std::time::Duration::from_millis(1));
    let timeout = session.settings().request_timeout;
    let retry = crate::exec::Retry {
        limit: session.settings().retry_limit,
        backoff_max: session.settings().retry_backoff_max,
    };
    let health = async {
        loop {
            tokio::time::sleep(interval).await;
            if let Some(problem) = check_pod(&pods, &namespace, &pod_name, timeout).await {
                return problem;
            }
        }
    };
    let end = tokio::select! {
        biased;
        () = stop.cancelled() => return Ok(StageExit::Stopped),
        problem = health => return Err(Error::PodLost(problem)),
        end = crate::exec::exec_script(&pods, &pod_name, container, script, trace, &retry) => end,
    };
    match stage_exit(end) {
        Ok(StageExit::Success) => Ok(StageExit::Success),
        result => {
            // A failing exec may be the pod dying under it: report the pod's state instead.
            if let Some(problem) = check_pod(&pods, &namespace, &pod_name, timeout).await {
                return Err(Error::PodLost(problem));
            }
            result.map_err(Error::Exec)
        }
    }
}

/// Maps an exec ending to the stage result, preferring the pod's own problem when there is one.
pub(crate) fn stage_exit(end: ExecEnd) -> std::result::Result<StageExit, String> {
    match end {
        ExecEnd::Exited(0) => Ok(StageExit::Success),
        ExecEnd::Exited(code) => Ok(StageExit::Failed {
            exit_code: code,
            message: format!("command terminated with exit code {code}"),
        }),
        ExecEnd::Failed(message) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_use_kubernetes_wording() {
        assert_eq!(
            stage_exit(ExecEnd::Exited(3)).unwrap(),
            StageExit::Failed {
                exit_code: 3,
                message: "command terminated with exit code 3".to_owned()
            }
        );
        assert_eq!(stage_exit(ExecEnd::Exited(0)).unwrap(), StageExit::Success);
        assert!(stage_exit(ExecEnd::Failed("x".to_owned())).is_err());
    }
}
