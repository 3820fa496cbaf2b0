//! Unix signals of `run` and `run-single` mapped onto the two shutdown tokens
//! (cli.md 2.3): SIGQUIT stops taking jobs, SIGTERM/SIGINT also abort running ones,
//! a signal during a forceful shutdown exits at once, SIGHUP asks for a reload.

use runner_executor::Interruption;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the process has been asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Reload the configuration now (SIGHUP).
    Reload,
    /// A signal arrived while a forceful shutdown was already under way: exit now.
    ForceExit(&'static str),
}

/// The two tokens every part of the runner watches.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shutdown {
    /// Cancelled on any stop signal: take no new jobs, cancel pending job requests.
    pub(crate) stop: CancellationToken,
    /// Cancelled on SIGTERM/SIGINT: abort running jobs (each job holds a child token).
    pub(crate) abort: CancellationToken,
    /// The signal behind `abort`, recorded before it fires: jobs fail `aborted: <signal>`.
    pub(crate) interruption: Interruption,
}

impl Shutdown {
    /// Creates the tokens, both live.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Graceful shutdown (SIGQUIT): no new jobs, running ones finish.
    pub(crate) fn stop(&self, signal_name: &str) {
        if !self.stop.is_cancelled() {
            tracing::warn!(
                stop_signal = signal_name,
                "Starting graceful shutdown, waiting for builds to finish"
            );
        }
        self.stop.cancel();
    }

    /// Forceful shutdown (SIGTERM/SIGINT): no new jobs, running ones are aborted.
    pub(crate) fn abort(&self, signal_name: &'static str) {
        if !self.abort.is_cancelled() {
            tracing::warn!(
                error = format!("received stop signal: {signal_name}"),
                "Graceful shutdown not finished properly. To gracefully clean up running plugins please use SIGQUIT (ctrl-\\) instead of SIGINT (ctrl-c)"
            );
            tracing::warn!(stop_signal = signal_name, "Starting forceful shutdown");
        }
        self.interruption.record(signal_name);
        self.stop.cancel();
        self.abort.cancel();
    }
}

/// Installs the handlers and returns the channel of requests the main loop acts on.
///
/// The handler task lives as long as the process: it is owned by the runtime and
/// ends with it, which is the lifetime a signal handler has to have.
pub(crate) fn listen(shutdown: Shutdown) -> std::io::Result<mpsc::UnboundedReceiver<Request>> {
    let mut quit = signal(SignalKind::quit())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = quit.recv() => "quit",
                _ = terminate.recv() => "terminated",
                _ = interrupt.recv() => "interrupt",
                _ = hangup.recv() => {
                    if sender.send(Request::Reload).is_err() { return; }
                    continue;
                }
            };
            tracing::warn!(stop_signal = name, "[runWait] received stop signal");
            if shutdown.abort.is_cancelled() {
                // A second signal during a forceful shutdown: upstream exits at once.
                let _ = sender.send(Request::ForceExit(name));
                return;
            }
            if name == "quit" {
                shutdown.stop(name);
            } else {
                shutdown.abort(name);
            }
        }
    });
    Ok(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_leaves_running_jobs_alone() {
        let shutdown = Shutdown::new();
        shutdown.stop("quit");
        assert!(shutdown.stop.is_cancelled());
        assert!(!shutdown.abort.is_cancelled());
    }

    #[test]
    fn abort_also_stops_and_reaches_job_tokens() {
        let shutdown = Shutdown::new();
        let job_token = shutdown.abort.child_token();
        shutdown.abort("terminated");
        assert!(shutdown.stop.is_cancelled());
        assert!(job_token.is_cancelled());
    }
}
