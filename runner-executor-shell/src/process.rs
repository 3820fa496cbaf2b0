//! One stage as a `bash -l` process group: feed the script, stream output, stop on request, and
//! kill leftovers once bash exits (J5).
//!
//! With `run --user` the group leader is `su`, whose child starts a session (and so a process
//! group) of its own (util-linux `su -c` calls `setsid`): the stage's processes are then two
//! groups, found through `/proc/<su>/task/<su>/children`. A stop sends SIGTERM to the inner group
//! only, as it would to bash's own group without `su`; signalling `su` would make it print
//! `Session terminated, killing shell...` and SIGKILL bash two seconds later, cutting the
//! graceful wait short.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use runner_executor::{CancellationToken, StageExit, TraceWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep_until};

use crate::error::Error;

/// What to run.
#[derive(Debug)]
pub(crate) struct StageProcess<'a> {
    pub(crate) program: &'a Path,
    /// `["-l"]`, or `su`'s arguments.
    pub(crate) arguments: Vec<OsString>,
    /// Whether `program` is `su`, whose child leads a process group of its own.
    pub(crate) switches_user: bool,
    pub(crate) working_directory: &'a Path,
    pub(crate) script: &'a [u8],
    pub(crate) kill_grace: Duration,
    pub(crate) force_kill_wait: Duration,
    pub(crate) drain_grace: Duration,
}

/// How often a stage under `su` looks for `su`'s child until it has found it.
const INNER_GROUP_POLL: Duration = Duration::from_millis(10);

/// How many looks (about five seconds' worth) before concluding that this `su` keeps its
/// child in the stage's group (busybox `su` execs the shell; util-linux forks at once).
const INNER_GROUP_SEARCHES: u32 = 500;

/// Where the stop sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopping {
    Running,
    Terminated { kill_at: Instant },
    Killed { give_up_at: Instant },
}

/// Runs the stage and reports how it ended.
pub(crate) async fn run_stage_process(
    process: StageProcess<'_>,
    trace: &mut TraceWriter,
    stop: CancellationToken,
) -> Result<StageExit, Error> {
    let mut child = Command::new(process.program)
        .args(&process.arguments)
        .current_dir(process.working_directory)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: process.program.to_path_buf(),
            source,
        })?;
    let pid = child.id().unwrap_or(0);
    let group = Pid::from_raw(i32::try_from(pid).unwrap_or(0));
    let mut groups = StageGroups {
        leader: group,
        inner: None,
        searches_left: if process.switches_user {
            INNER_GROUP_SEARCHES
        } else {
            0
        },
    };
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let script = process.script;
    let feed = async move {
        if let Some(mut stdin) = stdin.take() {
            // Bash may exit before reading everything (errexit in a profile): a broken pipe is fine.
            let _ = stdin.write_all(script).await;
        }
    };
    tokio::pin!(feed);
    let mut fed = false;
    let mut stopping = Stopping::Running;
    let mut out_buffer = ReadBuffer::default();
    let mut err_buffer = ReadBuffer::default();
    let status: ExitStatus = loop {
        groups.find_inner();
        let deadline = match stopping {
            Stopping::Running => None,
            Stopping::Terminated { kill_at } => Some(kill_at),
            Stopping::Killed { give_up_at } => Some(give_up_at),
        };
        tokio::select! {
            biased;
            () = stop.cancelled(), if stopping == Stopping::Running => {
                groups.terminate();
                stopping = Stopping::Terminated { kill_at: Instant::now() + process.kill_grace };
            }
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                match stopping {
                    Stopping::Terminated { .. } => {
                        groups.kill();
                        stopping = Stopping::Killed { give_up_at: Instant::now() + process.force_kill_wait };
                    }
                    _ => return Err(Error::Dormant { pid }),
                }
            }
            // Wakes the loop, whose first step looks for `su`'s child again.
            () = tokio::time::sleep(INNER_GROUP_POLL), if groups.is_searching() => {}
            () = &mut feed, if !fed => fed = true,
            read = read_some(&mut stdout, &mut out_buffer) => forward(read, &mut stdout, &mut out_buffer, trace).await,
            read = read_some(&mut stderr, &mut err_buffer) => forward(read, &mut stderr, &mut err_buffer, trace).await,
            status = child.wait() => break status.map_err(|source| Error::Wait { pid, source })?,
        }
    };
    // The stage is over when bash is. Leftover background processes may still hold the pipes:
    // kill the whole group, then read what is buffered until the pipes close or a short grace ends.
    groups.kill();
    let drain_until = Instant::now() + process.drain_grace;
    while stdout.is_some() || stderr.is_some() {
        tokio::select! {
            biased;
            read = read_some(&mut stdout, &mut out_buffer) => forward(read, &mut stdout, &mut out_buffer, trace).await,
            read = read_some(&mut stderr, &mut err_buffer) => forward(read, &mut stderr, &mut err_buffer, trace).await,
            () = sleep_until(drain_until) => {
                tracing::debug!(pid, "stage output still open after the drain grace; stop reading");
                break;
            }
        }
    }
    if stopping != Stopping::Running {
        return Ok(StageExit::Stopped);
    }
    Ok(exit_of(status))
}

/// Reads from `pipe` if it is still open; pends forever once closed so `select!` ignores it.
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buffer: &mut ReadBuffer,
) -> std::io::Result<usize> {
    match pipe {
        Some(reader) => reader.read(&mut buffer.bytes).await,
        None => std::future::pending().await,
    }
}

/// Writes a read chunk to the trace, or closes the pipe on EOF or error.
async fn forward<R>(
    read: std::io::Result<usize>,
    pipe: &mut Option<R>,
    buffer: &mut ReadBuffer,
    trace: &mut TraceWriter,
) {
    match read {
        Ok(0) | Err(_) => *pipe = None,
        Ok(count) => {
            trace.write(&buffer.bytes[..count]).await;
            buffer.filled(count);
        }
    }
}

/// A pipe's read buffer that starts small and doubles while reads fill it: a job that
/// prints little (most of them, and every job sleeping or waiting) holds 1 KiB per stream,
/// one printing a lot reads 64 KiB at a time, a whole pipe buffer per system call.
struct ReadBuffer {
    bytes: Vec<u8>,
}

impl ReadBuffer {
    const INITIAL: usize = 1024;
    const MAX: usize = 64 * 1024;

    fn filled(&mut self, count: usize) {
        if count == self.bytes.len() && self.bytes.len() < Self::MAX {
            self.bytes.resize(self.bytes.len() * 2, 0);
        }
    }
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self {
            bytes: vec![0; Self::INITIAL],
        }
    }
}

/// The process groups of one stage: the one it was started in and, under `su`, the session
/// `su`'s child leads.
#[derive(Debug)]
struct StageGroups {
    leader: Pid,
    /// `su`'s child, once it leads a group other than `leader`.
    inner: Option<Pid>,
    searches_left: u32,
}

impl StageGroups {
    /// Whether `su`'s child is still to be found.
    fn is_searching(&self) -> bool {
        self.searches_left > 0 && self.inner.is_none()
    }

    fn find_inner(&mut self) {
        if !self.is_searching() {
            return;
        }
        self.searches_left -= 1;
        // Until the child has called `setsid` it is still in the stage's group, which the
        // signals to `leader` reach.
        self.inner = first_child(self.leader)
            .filter(|child| nix::unistd::getpgid(Some(*child)).is_ok_and(|g| g != self.leader));
    }

    /// SIGTERM to the processes running the script.
    fn terminate(&mut self) {
        self.find_inner();
        match self.inner {
            Some(inner) => signal_inner(self.leader, inner, Signal::SIGTERM),
            // `su`'s child is still in this group (or there is none yet: `su` passes the
            // signal on to it).
            None => signal_group(self.leader, Signal::SIGTERM),
        }
    }

    /// SIGKILL to every process of the stage.
    fn kill(&mut self) {
        self.find_inner();
        if let Some(inner) = self.inner {
            signal_inner(self.leader, inner, Signal::SIGKILL);
        }
        signal_group(self.leader, Signal::SIGKILL);
    }
}

/// The first child of `parent`, from `/proc` (Linux); `None` before it forked or elsewhere.
fn first_child(parent: Pid) -> Option<Pid> {
    let raw = parent.as_raw();
    if raw <= 0 {
        return None;
    }
    let children = std::fs::read_to_string(format!("/proc/{raw}/task/{raw}/children")).ok()?;
    let child = children.split_whitespace().next()?.parse::<i32>().ok()?;
    Some(Pid::from_raw(child))
}

/// Signals the group `su`'s child leads, or the child alone while it has not called `setsid`
/// yet. The child is signalled by pid only while `su` has not reaped it, so the pid cannot
/// belong to another process by then.
fn signal_inner(leader: Pid, inner: Pid, signal: Signal) {
    if killpg(inner, signal).is_err() && first_child(leader) == Some(inner) {
        if let Err(error) = nix::sys::signal::kill(inner, signal) {
            tracing::trace!(%error, ?signal, "signalling the stage's shell under su");
        }
    }
}

fn signal_group(group: Pid, signal: Signal) {
    if group.as_raw() <= 0 {
        return;
    }
    if let Err(error) = killpg(group, signal) {
        // ESRCH: the group is already gone, which is what we want.
        tracing::trace!(%error, ?signal, "signalling stage process group");
    }
}

/// Upstream's wording: `exit status <n>`, or `signal: <name>` with code -1.
fn exit_of(status: ExitStatus) -> StageExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => StageExit::Success,
        (Some(code), _) => StageExit::Failed {
            exit_code: code,
            message: format!("exit status {code}"),
        },
        (None, signal) => {
            let name = match signal.and_then(|s| Signal::try_from(s).ok()) {
                Some(Signal::SIGKILL) => "killed".to_owned(),
                Some(Signal::SIGTERM) => "terminated".to_owned(),
                Some(Signal::SIGINT) => "interrupt".to_owned(),
                Some(Signal::SIGHUP) => "hangup".to_owned(),
                Some(Signal::SIGQUIT) => "quit".to_owned(),
                Some(Signal::SIGABRT) => "aborted".to_owned(),
                Some(Signal::SIGSEGV) => "segmentation fault".to_owned(),
                Some(other) => other.as_str().to_lowercase(),
                None => "unknown".to_owned(),
            };
            StageExit::Failed {
                exit_code: -1,
                message: format!("signal: {name}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReadBuffer;

    #[test]
    fn read_buffer_grows_only_while_reads_fill_it() {
        let mut buffer = ReadBuffer::default();
        buffer.filled(10);
        assert_eq!(buffer.bytes.len(), ReadBuffer::INITIAL);
        for _ in 0..20 {
            let full = buffer.bytes.len();
            buffer.filled(full);
        }
        assert_eq!(buffer.bytes.len(), ReadBuffer::MAX);
    }
}
