//! The two tokens every part of the agent watches, and the signal behind an abort
//! (cli.md 2.3): *stop* (SIGQUIT) stops taking jobs, *abort* (SIGINT/SIGTERM) also cancels the
//! running ones. Whoever owns the process (a binary's signal handler, a custom agent's own
//! control plane) cancels them; the agent and every job only watch.

use runner_executor::Interruption;
use tokio_util::sync::CancellationToken;

/// The two tokens every part of the runner watches.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Cancelled on any stop signal: take no new jobs, cancel pending job requests.
    pub stop: CancellationToken,
    /// Cancelled on SIGTERM/SIGINT: abort running jobs (each job holds a child token).
    pub abort: CancellationToken,
    /// The signal behind `abort`, recorded before it fires: jobs fail `aborted: <signal>`.
    pub interruption: Interruption,
}

impl Shutdown {
    /// Creates the tokens, both live.
    pub fn new() -> Self {
        Self::default()
    }

    /// Graceful shutdown (SIGQUIT): no new jobs, running ones finish.
    pub fn stop(&self, signal_name: &str) {
        if !self.stop.is_cancelled() {
            tracing::warn!(
                stop_signal = signal_name,
                "Starting graceful shutdown, waiting for builds to finish"
            );
        }
        self.stop.cancel();
    }

    /// Forceful shutdown (SIGTERM/SIGINT): no new jobs, running ones are aborted.
    pub fn abort(&self, signal_name: &'static str) {
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
