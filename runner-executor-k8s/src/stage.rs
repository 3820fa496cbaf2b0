//! One stage in the running pod: the exec, raced against cancellation and a pod health check
//! every `poll_interval` (an evicted or deleted pod fails the job with upstream's words).

use runner_executor::{StageExit, TraceWriter};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::executor::{Session, stage_exit};
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
        end = crate::exec::exec_script(&pods, &pod_name, container, script, trace) => end,
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
