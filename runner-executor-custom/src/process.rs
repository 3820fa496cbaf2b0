//! One driver call: an executable in its own process group, output routed as upstream does,
//! stopped with the kill sequence of upstream-details.md §1.9.
//!
//! The process is owned by a task on the job's tracker rather than by the caller's future: a
//! caller that is dropped (the driver gave up on a preparation attempt) fires the call's stop
//! token, and the task still terminates the group and reaps it before cleanup runs.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use runner_executor::{CancellationToken, TraceWriter};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::task::TaskTracker;

use crate::error::Error;

/// Where a stream of the call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sink {
    /// Into the job log.
    Trace,
    /// Kept in memory for the caller (`config_exec`'s stdout).
    Capture,
    /// Into the runner's own log (`cleanup_exec`): stdout at debug, stderr at warning level.
    Log,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) working_directory: std::path::PathBuf,
    /// The call's own deadline (`*_exec_timeout`).
    pub(crate) timeout: Option<Duration>,
    pub(crate) graceful_kill: Duration,
    pub(crate) force_kill: Duration,
    pub(crate) stdout: Sink,
    pub(crate) stderr: Sink,
    /// Kill what is left of the process group once the executable exits (J5: a stage ends
    /// when its script ends). Off for the other calls, whose drivers may start daemons.
    pub(crate) kill_leftovers: bool,
    /// How long output is still read after the executable exited.
    pub(crate) drain_grace: Duration,
}

/// How a call ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Whether the stop token or the call's deadline ended it.
    pub(crate) stopped: bool,
    /// Captured stdout ([`Sink::Capture`]).
    pub(crate) stdout: Vec<u8>,
}

enum Event {
    Output { stderr: bool, bytes: Vec<u8> },
    Done(Result<(ExitStatus, bool), Error>),
}

/// Runs `call` to its end; firing `stop` (or dropping this future) starts the kill sequence.
/// Without a `trace`, output meant for the job log is dropped.
pub(crate) async fn run(
    call: Call,
    mut trace: Option<&mut TraceWriter>,
    stop: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Finished, Error> {
    let local = stop.child_token();
    // Dropping the caller's future stops the call; the task finishes the kill sequence.
    let _guard = local.clone().drop_guard();
    let (sender, mut receiver) = mpsc::channel(64);
    let (stdout_sink, stderr_sink, program) = (call.stdout, call.stderr, call.program.clone());
    tasks.spawn(drive(call, local, sender));
    let mut captured = Vec::new();
    while let Some(event) = receiver.recv().await {
        match event {
            Event::Output { stderr, bytes } => {
                let sink = if stderr { stderr_sink } else { stdout_sink };
                match sink {
                    Sink::Trace => {
                        if let Some(trace) = trace.as_deref_mut() {
                            trace.write(&bytes).await;
                        }
                    }
                    Sink::Capture => captured.extend_from_slice(&bytes),
                    Sink::Log => log_cleanup_output(&program, stderr, &bytes),
                }
            }
            Event::Done(result) => {
                let (status, stopped) = result?;
                return Ok(Finished {
                    status,
                    stopped,
                    stdout: captured,
                });
            }
        }
    }
    // The task ended without a result: only possible if it panicked.
    Err(Error::Wait {
        pid: 0,
        source: std::io::Error::other("driver call task ended early"),
    })
}

fn log_cleanup_output(program: &str, stderr: bool, bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).lines() {
        if stderr {
            tracing::warn!(cleanup_std = "err", cleanup_exec = program, "{line}");
        } else {
            tracing::debug!(cleanup_std = "out", cleanup_exec = program, "{line}");
        }
    }
}

/// Where the stop sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopping {
    Running,
    Terminated { kill_at: Instant },
    Killed { give_up_at: Instant },
}

async fn drive(call: Call, stop: CancellationToken, events: mpsc::Sender<Event>) {
    let result = drive_process(&call, &stop, &events).await;
    let _ = events.send(Event::Done(result)).await;
}

async fn drive_process(
    call: &Call,
    stop: &CancellationToken,
    events: &mpsc::Sender<Event>,
) -> Result<(ExitStatus, bool), Error> {
    let mut child = Command::new(&call.program)
        .args(&call.args)
        .envs(call.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&call.working_directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: call.program.clone(),
            source,
        })?;
    let pid = child.id().unwrap_or(0);
    let group = Pid::from_raw(i32::try_from(pid).unwrap_or(0));
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let deadline = call.timeout.map(|timeout| Instant::now() + timeout);
    let mut stopping = Stopping::Running;
    let mut out_buffer = vec![0u8; 16 * 1024];
    let mut err_buffer = vec![0u8; 16 * 1024];
    let status = loop {
        let next_step = match stopping {
            Stopping::Running => None,
            Stopping::Terminated { kill_at } => Some(kill_at),
            Stopping::Killed { give_up_at } => Some(give_up_at),
        };
        tokio::select! {
            biased;
            () = stop.cancelled(), if stopping == Stopping::Running => {
                stopping = terminate(group, call.graceful_kill);
            }
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && stopping == Stopping::Running => {
                tracing::debug!(pid, program = %call.program, "driver call exceeded its timeout");
                stopping = terminate(group, call.graceful_kill);
            }
            () = sleep_until(next_step.unwrap_or_else(Instant::now)), if next_step.is_some() => {
                match stopping {
                    Stopping::Terminated { .. } => {
                        signal_group(group, Signal::SIGKILL);
                        stopping = Stopping::Killed { give_up_at: Instant::now() + call.force_kill };
                    }
                    _ => return Err(Error::Dormant { pid }),
                }
            }
            read = read_some(&mut stdout, &mut out_buffer) => forward(read, &mut stdout, &out_buffer, false, events).await,
            read = read_some(&mut stderr, &mut err_buffer) => forward(read, &mut stderr, &err_buffer, true, events).await,
            status = child.wait() => break status.map_err(|source| Error::Wait { pid, source })?,
        }
    };
    if call.kill_leftovers {
        signal_group(group, Signal::SIGKILL);
    }
    // Processes left behind may hold the pipes open: read what they hold for a short while,
    // then stop listening so the call ends with its executable.
    let drain_until = Instant::now() + call.drain_grace;
    while stdout.is_some() || stderr.is_some() {
        tokio::select! {
            biased;
            read = read_some(&mut stdout, &mut out_buffer) => forward(read, &mut stdout, &out_buffer, false, events).await,
            read = read_some(&mut stderr, &mut err_buffer) => forward(read, &mut stderr, &err_buffer, true, events).await,
            () = sleep_until(drain_until) => {
                tracing::debug!(pid, "driver output still open after the drain grace; stop reading");
                break;
            }
        }
    }
    Ok((status, stopping != Stopping::Running))
}

/// SIGTERM to the group, or SIGKILL at once when SIGTERM cannot be sent.
fn terminate(group: Pid, graceful: Duration) -> Stopping {
    if signal_group(group, Signal::SIGTERM) {
        Stopping::Terminated {
            kill_at: Instant::now() + graceful,
        }
    } else {
        signal_group(group, Signal::SIGKILL);
        Stopping::Killed {
            give_up_at: Instant::now() + graceful.min(Duration::from_secs(10)),
        }
    }
}

/// Reads from `pipe` if it is still open; pends forever once closed so `select!` ignores it.
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(reader) => reader.read(buffer).await,
        None => std::future::pending().await,
    }
}

async fn forward<R>(
    read: std::io::Result<usize>,
    pipe: &mut Option<R>,
    buffer: &[u8],
    stderr: bool,
    events: &mpsc::Sender<Event>,
) {
    match read {
        Ok(0) | Err(_) => *pipe = None,
        Ok(count) => {
            // A caller that went away no longer wants output; the process still runs down.
            let _ = events
                .send(Event::Output {
                    stderr,
                    bytes: buffer[..count].to_vec(),
                })
                .await;
        }
    }
}

/// Signals the whole group; `false` when that failed for another reason than "already gone".
fn signal_group(group: Pid, signal: Signal) -> bool {
    if group.as_raw() <= 0 {
        return false;
    }
    match killpg(group, signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => true,
        Err(error) => {
            tracing::debug!(%error, ?signal, "signalling driver process group");
            false
        }
    }
}
