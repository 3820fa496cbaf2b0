//! Running stage scripts through a container's attached stdin and output (see the crate
//! documentation, "Running a stage").
//!
//! The container's main process is the detected shell reading commands from its stdin. For each
//! stage the runner writes a child of the same shell with the stage script as a here-document,
//! then a line printing the child's exit status after the stage's nonce:
//!
//! ```text
//! "$0" <<'GLR_<nonce>' 2>&1
//! <script>
//! GLR_<nonce>
//! printf '%s\n' "<nonce>:$?"
//! ```
//!
//! The main shell consumes the whole here-document whatever the child does, so a stage that
//! exits early leaves nothing unread for the next one, any script works (it needs no final
//! `exit`), and shells that read their input in blocks (dash) behave like bash.

use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use futures_util::{Stream, StreamExt};
use runner_executor::{CancellationToken, TraceWriter};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::terminate_processes;
use crate::pull::daemon_message;
use crate::stage_end::StageEndScanner;

type Output =
    Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StageEnd {
    /// The stage's shell exited with this code.
    Exited(i64),
    /// `stop` fired: the stage's processes were sent SIGTERM; the caller removes the container.
    Stopped,
}

/// The attached stdin and output of a stage container.
pub(crate) struct StageChannel {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
}

impl std::fmt::Debug for StageChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StageChannel")
    }
}

impl StageChannel {
    /// Attaches to `container` (before it starts, so nothing its entrypoint prints is lost:
    /// that output appears in the first stage, as with upstream's attach).
    pub(crate) async fn attach(engine: &Engine, container: &str) -> Result<Self> {
        let options = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .logs(false)
            .build();
        let attached = engine
            .docker
            .attach_container(container, Some(options))
            .await
            .map_err(|error| api("attaching to", container, daemon_message(&error)))?;
        Ok(Self {
            input: attached.input,
            output: attached.output,
        })
    }

    /// Runs `script` as one stage, streaming its output into `trace`.
    pub(crate) async fn run_script(
        &mut self,
        engine: &Engine,
        container: &str,
        script: &[u8],
        trace: &mut TraceWriter,
        stop: &CancellationToken,
        grace: Duration,
    ) -> Result<StageEnd> {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut wrapper = format!("\"$0\" <<'GLR_{nonce}' 2>&1\n").into_bytes();
        wrapper.extend_from_slice(script);
        if !script.ends_with(b"\n") {
            wrapper.push(b'\n');
        }
        wrapper
            .extend_from_slice(format!("GLR_{nonce}\nprintf '%s\\n' \"{nonce}:$?\"\n").as_bytes());
        self.write(container, &wrapper).await?;
        let mut scanner = StageEndScanner::new(&nonce);
        let mut stop_deadline: Option<Instant> = None;
        loop {
            let chunk = tokio::select! {
                biased;
                () = stop.cancelled(), if stop_deadline.is_none() => {
                    stop_deadline = Some(Instant::now() + grace);
                    terminate_processes(engine, container).await;
                    continue;
                }
                () = sleep_until(stop_deadline.unwrap_or_else(Instant::now)), if stop_deadline.is_some() => {
                    return Ok(StageEnd::Stopped);
                }
                chunk = self.output.next() => chunk,
            };
            let message = match chunk {
                Some(Ok(
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message },
                )) => message,
                Some(Ok(LogOutput::StdIn { .. })) => continue,
                Some(Err(error)) => {
                    return Err(api(
                        "reading stage output of",
                        container,
                        daemon_message(&error),
                    ));
                }
                // The main shell is gone, and with it the container.
                None => {
                    trace.flush().await;
                    return Err(Error::ContainerGone {
                        container: container.to_owned(),
                    });
                }
            };
            let scanned = scanner.push(&message);
            trace.write(&scanned.output).await;
            if let Some(code) = scanned.exit_code {
                trace.flush().await;
                if stop_deadline.is_some() {
                    return Ok(StageEnd::Stopped);
                }
                return Ok(StageEnd::Exited(code));
            }
        }
    }

    async fn write(&mut self, container: &str, bytes: &[u8]) -> Result<()> {
        let written = async {
            self.input.write_all(bytes).await?;
            self.input.flush().await
        };
        written.await.map_err(|error| {
            tracing::debug!(%error, container, "writing to the container's stdin failed");
            Error::ContainerGone {
                container: container.to_owned(),
            }
        })
    }
}

fn api(operation: &str, container: &str, message: String) -> Error {
    Error::Api {
        operation: format!("{operation} container {container}"),
        message,
        invalid_request: false,
    }
}
