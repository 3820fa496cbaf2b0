//! Running one stage script in a container over the exec subresource (WebSocket, v5 channels):
//! the detect-shell program reads the script from stdin, stdout and stderr stream into the
//! trace, and the exit code comes from the channel-3 status.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Api;
use kube::api::AttachParams;
use runner_executor::TraceWriter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExecEnd {
    /// The process exited with this code.
    Exited(i32),
    /// The session failed or ended without a status (connection lost, internal error).
    Failed(String),
}

/// Retries of an exec that failed before the script could start (`retry_limit`,
/// `retry_backoff_max`; backoff from 500 ms, doubling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    pub(crate) limit: u32,
    pub(crate) backoff_max: std::time::Duration,
}

impl Retry {
    /// Delay before retry `attempt` (1-based): 500 ms doubling, never above `backoff_max`.
    pub(crate) fn delay(&self, attempt: u32) -> std::time::Duration {
        let base = std::time::Duration::from_millis(500)
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        base.min(self.backoff_max)
    }
}

/// Upstream's list of network errors worth retrying (executors.md §8.5).
const NETWORK_ERRORS: [&str; 9] = [
    "error dialing backend",
    "TLS handshake timeout",
    "connection refused",
    "http2: client connection lost",
    "unexpected EOF",
    "connection reset by peer",
    "broken pipe",
    "i/o timeout",
    "IncompleteMessage",
];

/// Whether `error` is a transport failure or an API error naming one.
fn is_network_error(error: &crate::error::ApiError) -> bool {
    error.code == 0 && error.reason.is_empty()
        || NETWORK_ERRORS.iter().any(|needle| {
            error
                .message
                .to_lowercase()
                .contains(&needle.to_lowercase())
        })
}

/// Output buffer per stream; the pipes of kube's attach loop must be drained concurrently.
const STREAM_BUFFER: usize = 64 * 1024;

/// How long output may still arrive after the exit status.
const DRAIN_AFTER_STATUS: std::time::Duration = std::time::Duration::from_secs(5);

/// Execs the detect shell in `container`, feeds `script` on stdin and streams the output.
pub(crate) async fn exec_script(
    pods: &Api<Pod>,
    pod_name: &str,
    container: &str,
    script: &str,
    trace: &mut TraceWriter,
    retry: &Retry,
) -> ExecEnd {
    let params = AttachParams {
        container: Some(container.to_owned()),
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
        max_stdin_buf_size: Some(STREAM_BUFFER),
        max_stdout_buf_size: Some(STREAM_BUFFER),
        max_stderr_buf_size: Some(STREAM_BUFFER),
    };
    let mut attempt = 0;
    let mut process = loop {
        // Failing before the upgrade means the script never started, so a retry is safe.
        match pods
            .exec(pod_name, crate::shell::detect_shell_command(), &params)
            .await
        {
            Ok(process) => break process,
            Err(error) => {
                let error = crate::error::ApiError::from_kube(error);
                attempt += 1;
                if attempt > retry.limit || !is_network_error(&error) {
                    return ExecEnd::Failed(error.message);
                }
                tracing::warn!(attempt, error = %error, "exec failed before starting, retrying");
                tokio::time::sleep(retry.delay(attempt)).await;
            }
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr), Some(status)) = (
        process.stdin(),
        process.stdout(),
        process.stderr(),
        process.take_status(),
    ) else {
        return ExecEnd::Failed("exec session without its streams".to_owned());
    };
    // The script is followed by an `exit`, so the shell never waits for the end of its input,
    // and stdin stays open until the status arrived: closing it makes kube send the v5 CLOSE,
    // and when that send meets a session the server already ended (the shell was quick), kube
    // ends with an error and drops the status it had not read yet.
    let write_script = async {
        stdin.write_all(script.as_bytes()).await?;
        stdin.write_all(b"\nexit\n").await?;
        stdin.flush().await
    };
    let output_and_status = async {
        let relay = relay_output(&mut stdout, &mut stderr, trace);
        tokio::pin!(relay, status);
        tokio::select! {
            relayed = &mut relay => (relayed, status.await),
            // A dropped connection can leave the readers without EOF (k8s-api-surface.md §3.5):
            // once the status (or its absence) is known, the rest is drained with a deadline.
            end = &mut status => {
                let relayed = tokio::time::timeout(DRAIN_AFTER_STATUS, relay).await.unwrap_or(Ok(()));
                (relayed, end)
            }
        }
    };
    let (written, (relayed, status)) = tokio::join!(write_script, output_and_status);
    drop(stdin);
    if let Err(error) = relayed {
        return ExecEnd::Failed(format!("reading output: {error}"));
    }
    let end = exit_from_status(status);
    if let (Err(error), ExecEnd::Failed(_)) = (written, &end) {
        return ExecEnd::Failed(format!("writing script: {error}"));
    }
    process.abort();
    end
}

/// Copies stdout and stderr into the trace until both end.
async fn relay_output(
    stdout: &mut (impl tokio::io::AsyncRead + Unpin),
    stderr: &mut (impl tokio::io::AsyncRead + Unpin),
    trace: &mut TraceWriter,
) -> std::io::Result<()> {
    let mut out_buffer = vec![0u8; STREAM_BUFFER];
    let mut err_buffer = vec![0u8; STREAM_BUFFER];
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            read = stdout.read(&mut out_buffer), if out_open => match read? {
                0 => out_open = false,
                n => trace.write(&out_buffer[..n]).await,
            },
            read = stderr.read(&mut err_buffer), if err_open => match read? {
                0 => err_open = false,
                n => trace.write(&err_buffer[..n]).await,
            },
        }
    }
    Ok(())
}

/// The channel-3 status as an exit code (k8s-api-surface.md §3.4). `None` means the session
/// ended without a status, which is never success.
pub(crate) fn exit_from_status(status: Option<Status>) -> ExecEnd {
    let Some(status) = status else {
        return ExecEnd::Failed(
            "unexpected EOF: exec session ended without an exit status".to_owned(),
        );
    };
    if status.status.as_deref() == Some("Success") {
        return ExecEnd::Exited(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|causes| {
                causes
                    .iter()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
            })
            .and_then(|cause| cause.message.as_deref())
            .and_then(|text| text.trim().parse::<i32>().ok());
        if let Some(code) = code {
            return ExecEnd::Exited(code);
        }
    }
    ExecEnd::Failed(
        status
            .message
            .unwrap_or_else(|| "exec failed without a message".to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_up_to_the_ceiling() {
        let retry = Retry {
            limit: 5,
            backoff_max: std::time::Duration::from_secs(2),
        };
        let delays: Vec<u128> = (1..=5).map(|a| retry.delay(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 2000, 2000]);
        assert_eq!(retry.delay(u32::MAX), std::time::Duration::from_secs(2));
    }

    #[test]
    fn network_errors_are_recognised() {
        let dial = crate::error::ApiError {
            message: "error dialing backend: dial tcp 10.0.0.1:10250: connect: connection refused"
                .to_owned(),
            code: 500,
            reason: "InternalError".to_owned(),
        };
        assert!(is_network_error(&dial));
        let not_found = crate::error::ApiError {
            message: "pods \"p\" not found".to_owned(),
            code: 404,
            reason: "NotFound".to_owned(),
        };
        assert!(!is_network_error(&not_found));
    }
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(
            exit_from_status(Some(Status {
                status: Some("Success".to_owned()),
                ..Status::default()
            })),
            ExecEnd::Exited(0)
        );
        let failure = Status {
            status: Some("Failure".to_owned()),
            reason: Some("NonZeroExitCode".to_owned()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".to_owned()),
                    message: Some("3".to_owned()),
                    field: None,
                }]),
                ..StatusDetails::default()
            }),
            ..Status::default()
        };
        assert_eq!(exit_from_status(Some(failure)), ExecEnd::Exited(3));
        assert!(matches!(exit_from_status(None), ExecEnd::Failed(_)));
        let internal = Status {
            message: Some("Internal error occurred: boom".to_owned()),
            ..Status::default()
        };
        assert_eq!(
            exit_from_status(Some(internal)),
            ExecEnd::Failed("Internal error occurred: boom".to_owned())
        );
    }
}
